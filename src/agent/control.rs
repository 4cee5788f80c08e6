//! The control socket: one JSON request per line, one JSON reply per line.
//! Private to root (mode 0600) unless configured otherwise. Whatever the
//! mode, only root (or the agent's own user) may reload: a policy's actions
//! run as the agent. Anyone who can connect may ask for the status.
//!
//! Each client is served on a thread of its own, so a slow one delays only
//! itself; the main loop never waits for a client. Clients are bounded:
//! at most `CLIENTS` at once besides root and the agent's own user (the
//! next is told so and closed: others may not crowd root out), and one that
//! sends no request for `IDLE`, or does not take its reply within `IDLE`,
//! is closed, so idle connections cannot pile up threads and descriptors.

use super::status::{Answer, Reply};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::time::Duration;

/// The most clients served at once.
const CLIENTS: usize = 64;
/// How long a client may take to send a request or to read its reply.
const IDLE: Duration = Duration::from_secs(5);

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
        let clients = Arc::new(AtomicUsize::new(0));
        for stream in listener.incoming() {
            // The peer's credentials are asked for once, here.
            let stream = stream.map(|s| (trusted(&s), s));
            match stream {
                Ok((false, mut stream)) if clients.load(Ordering::Acquire) >= CLIENTS => {
                    let _ = stream.set_write_timeout(Some(IDLE));
                    answer(&mut stream, Err(format!("busy: {CLIENTS} clients are connected already; try again")));
                }
                // Out of threads: this client is turned away, the next one
                // may be served; the listener itself goes on.
                Ok((may_reload, stream)) => {
                    let (to_agent, counted) = (to_agent.clone(), Client::count(&clients));
                    let spawned = std::thread::Builder::new().name("control".into()).spawn(move || {
                        let _counted = counted;
                        serve(stream, may_reload, to_agent)
                    });
                    if let Err(e) = spawned {
                        tracing::warn!("control socket: cannot serve a client: {e}");
                    }
                }
                // Out of descriptors, accept fails at once and would spin:
                // wait for some to be freed.
                Err(e) => {
                    tracing::warn!("control socket: cannot accept: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            }
        }
    });
    Ok(())
}

/// The longest request line read; a longer one is refused unread.
const MAX_REQUEST: u64 = 64 << 10;

/// A client being served, counted while it lives.
struct Client(Arc<AtomicUsize>);

impl Client {
    fn count(clients: &Arc<AtomicUsize>) -> Client {
        clients.fetch_add(1, Ordering::AcqRel);
        Client(clients.clone())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Writes one reply line; false when the client is gone or too slow.
fn answer(writer: &mut UnixStream, reply: Result<Answer, String>) -> bool {
    let Ok(line) = serde_json::to_string(&Reply::new(reply)) else { return false };
    writeln!(writer, "{line}").is_ok()
}

/// Root or the agent's own user: may reload, and is never turned away.
fn trusted(stream: &UnixStream) -> bool {
    peer_uid(stream).is_some_and(|uid| uid == 0 || uid == own_uid())
}

/// Serves one client; `may_reload` when it is trusted (see `trusted`).
fn serve(stream: UnixStream, may_reload: bool, to_agent: Sender<super::Event>) {
    if stream.set_read_timeout(Some(IDLE)).is_err() || stream.set_write_timeout(Some(IDLE)).is_err() {
        return;
    }
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        match reader.by_ref().take(MAX_REQUEST).read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with('\n') && line.len() as u64 >= MAX_REQUEST => {
                answer(&mut writer, Err(format!("request longer than {MAX_REQUEST} bytes")));
                return;
            }
            Ok(_) => {}
        }
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(Request::Reload { .. }) if !may_reload => Err("reloading is for root only".to_string()),
            Ok(request) => {
                let (tx, rx) = channel();
                if to_agent.send(super::Event::Control(Incoming { request, reply: tx })).is_err() {
                    return;
                }
                rx.recv().unwrap_or_else(|_| Err("agent is stopping".into()))
            }
            Err(e) => Err(format!("bad request: {e}")),
        };
        if !answer(&mut writer, reply) {
            return;
        }
    }
}

/// The user id of the process at the other end of `stream`.
#[cfg(target_os = "linux")]
fn peer_uid(stream: &UnixStream) -> Option<u32> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED fills a `ucred` of the given length on a socket
    // this stream owns.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred.uid)
}

/// The user id of the process at the other end of `stream`.
#[cfg(not(target_os = "linux"))]
fn peer_uid(stream: &UnixStream) -> Option<u32> {
    use std::os::fd::AsRawFd;
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: getpeereid(2) writes the two ids of a connected socket.
    let rc = unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) };
    (rc == 0).then_some(uid)
}

fn own_uid() -> u32 {
    // SAFETY: geteuid(2) cannot fail.
    unsafe { libc::geteuid() }
}

/// Client side: one request, one reply; `Err` when there is no agent to
/// ask or its reply does not decode as `T`'s.
pub fn ask<T: DeserializeOwned>(path: &Path, request: &Request) -> Result<Reply<T>, String> {
    let mut stream = UnixStream::connect(path).map_err(|e| format!("cannot connect to `{}`: {e}", path.display()))?;
    let line = serde_json::to_string(request).map_err(|e| e.to_string())?;
    // A busy agent answers and closes before reading: then the request
    // cannot be written, and the reply says why.
    let sent = writeln!(stream, "{line}");
    let mut reply = String::new();
    match (sent, BufReader::new(stream).read_line(&mut reply)) {
        (_, Ok(n)) if n > 0 => serde_json::from_str(&reply).map_err(|e| format!("bad reply: {e}")),
        (Err(e), _) | (Ok(()), Err(e)) => Err(e.to_string()),
        (Ok(()), Ok(_)) => Err("the agent closed the connection without a reply".into()),
    }
}
