//! The control socket: one JSON request per line, one JSON reply per line.
//! Private to root (mode 0600) unless configured otherwise.

use super::status::{Answer, Reply};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    Status,
    /// `force` lets a policy of another site replace the running one.
    Reload {
        file: Option<PathBuf>,
        #[serde(default)]
        force: bool,
    },
}

pub struct Incoming {
    pub request: Request,
    pub reply: Sender<Result<Answer, String>>,
}

/// Listens on `path` (replacing a stale socket) and forwards requests.
pub fn listen(path: &Path, mode: u32, to_agent: Sender<super::Event>) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        // Only a dead socket is replaced: not a running agent's, not a file.
        if !meta.file_type().is_socket() {
            return Err(std::io::Error::other("the path exists and is not a socket"));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::other("another agent is listening there"));
        }
        std::fs::remove_file(path)?;
    }
    // Created with no permissions for others from the start: a chmod after
    // bind would leave a moment in which anyone could connect.
    // SAFETY: umask(2) only swaps the process's file-creation mask.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let listener = bound?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let to_agent = to_agent.clone();
            std::thread::spawn(move || serve(stream, to_agent));
        }
    });
    Ok(())
}

fn serve(stream: UnixStream, to_agent: Sender<super::Event>) {
    let Ok(mut writer) = stream.try_clone() else { return };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(request) => {
                let (tx, rx) = channel();
                if to_agent.send(super::Event::Control(Incoming { request, reply: tx })).is_err() {
                    return;
                }
                rx.recv().unwrap_or_else(|_| Err("agent is stopping".into()))
            }
            Err(e) => Err(format!("bad request: {e}")),
        };
        let Ok(line) = serde_json::to_string(&Reply::new(reply)) else { return };
        if writeln!(writer, "{line}").is_err() {
            return;
        }
    }
}

/// Client side: one request, one reply; `Err` when there is no agent to
/// ask or its reply does not decode as `T`'s.
pub fn ask<T: DeserializeOwned>(path: &Path, request: &Request) -> Result<Reply<T>, String> {
    let mut stream = UnixStream::connect(path).map_err(|e| format!("cannot connect to `{}`: {e}", path.display()))?;
    let line = serde_json::to_string(request).map_err(|e| e.to_string())?;
    writeln!(stream, "{line}").map_err(|e| e.to_string())?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).map_err(|e| e.to_string())?;
    serde_json::from_str(&reply).map_err(|e| format!("bad reply: {e}"))
}
