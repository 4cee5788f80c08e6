//! The server's stdio: LSP's `Content-Length` frames on stdin and stdout,
//! as `lsp_server::Connection::stdio` reads them, but bounded. That one
//! trusts the header: a `Content-Length` of a terabyte makes it allocate a
//! terabyte (and the process abort), and a header line without an end is
//! read without limit. Here a header line is at most `HEADER` bytes and a
//! message at most `MESSAGE`; past either, or at anything that is not a
//! frame of JSON-RPC, the reader stops with an error that `wanc lsp`
//! reports.

use crossbeam_channel::{bounded, Receiver, Sender};
use lsp_server::{Connection, Message};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::thread::JoinHandle;

/// Longest header line taken.
const HEADER: u64 = 1024;
/// Largest message taken: a document at the size limit of sources
/// (docs/limits.md), each byte escaped in JSON (`\u0000`), with room.
const MESSAGE: usize = 6 * (crate::input::SOURCE.limit as usize) + (1 << 20);

pub struct Threads {
    reader: JoinHandle<io::Result<()>>,
    writer: JoinHandle<io::Result<()>>,
}

impl Threads {
    /// Waits for both, the writer first (it ends when the connection is
    /// dropped); the reader's error, such as a broken frame, comes first.
    pub fn join(self) -> io::Result<()> {
        let joined = |t: JoinHandle<io::Result<()>>| t.join().unwrap_or_else(|_| Err(io::Error::other("a thread panicked")));
        let written = joined(self.writer);
        joined(self.reader).and(written)
    }
}

pub fn stdio() -> (Connection, Threads) {
    let (to_server, receiver) = bounded::<Message>(0);
    let (sender, to_client) = bounded::<Message>(0);
    let reader = std::thread::spawn(move || read(&mut BufReader::new(io::stdin().lock()), &to_server));
    let writer = std::thread::spawn(move || write(&mut io::stdout().lock(), &to_client));
    (Connection { sender, receiver }, Threads { reader, writer })
}

fn read(input: &mut impl BufRead, to_server: &Sender<Message>) -> io::Result<()> {
    while let Some(message) = next(input)? {
        // After `exit` the client sends nothing more that is read.
        let exit = matches!(&message, Message::Notification(n) if n.method == "exit");
        if to_server.send(message).is_err() || exit {
            break;
        }
    }
    Ok(())
}

fn write(output: &mut impl Write, to_client: &Receiver<Message>) -> io::Result<()> {
    to_client.iter().try_for_each(|message| message.write(output))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The next message, `None` at the end of the input.
fn next(input: &mut impl BufRead) -> io::Result<Option<Message>> {
    let mut length = None;
    loop {
        let mut line = Vec::new();
        if input.by_ref().take(HEADER).read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let Some(line) = line.strip_suffix(b"\r\n") else {
            return Err(invalid(format!("a header line longer than {HEADER} bytes or without its end")));
        };
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(line);
        let Some((name, value)) = line.split_once(": ") else { return Err(invalid(format!("malformed header `{line}`"))) };
        if name.eq_ignore_ascii_case("content-length") {
            let n = value.parse::<usize>().map_err(|_| invalid(format!("`{value}` is not a length")))?;
            if n > MESSAGE {
                return Err(invalid(format!("a message of {n} bytes, more than the {MESSAGE} taken")));
            }
            length = Some(n);
        }
    }
    let length = length.ok_or_else(|| invalid("a message without `Content-Length`".into()))?;
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
    serde_json::from_slice(&body).map(Some).map_err(|e| invalid(format!("a message that is not JSON-RPC: {e}")))
}
