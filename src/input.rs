//! Every file wanc reads whole (sources, imports, policies, plugins) is
//! read here: a regular file only, and at most a stated size. A device
//! (`/dev/zero`), a FIFO or a terminal would never end or block, and a file
//! far larger than any real one would only exhaust memory; both are refused
//! with an error that names the file and the limit (docs/limits.md).

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// What is read, and how much of it may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    /// Says what the file is, in errors: "source file", "plugin".
    pub noun: &'static str,
    pub limit: u64,
}

/// A `.wan` source or an imported one: the largest real sites are tens of
/// kilobytes.
pub const SOURCE: Kind = Kind { noun: "source file", limit: 4 << 20 };
/// A compiled policy (`SITE.wanc`): 64 uplinks and 256 states are about
/// 100 KB.
pub const POLICY: Kind = Kind { noun: "policy", limit: 16 << 20 };
/// A probe plugin (`.wasm`): a real probe compiles to tens of kilobytes.
pub const PLUGIN: Kind = Kind { noun: "plugin", limit: 16 << 20 };

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    /// Not a regular file: what it is instead.
    NotAFile(&'static str),
    TooLarge {
        limit: u64,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{}", e.to_string().to_lowercase()),
            ReadError::NotAFile(what) => write!(f, "it is {what}, not a regular file"),
            ReadError::TooLarge { limit } => write!(f, "it is larger than {} MiB, the limit", limit >> 20),
        }
    }
}

/// Reads `path` whole, if it is a regular file within `kind`'s limit.
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, ReadError> {
    // Opened without blocking, then examined through the descriptor: a
    // FIFO would block an ordinary open until a writer came, and a check
    // of the path before opening it could be outdated by the open.
    let file = open_nonblocking(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    let file_type = meta.file_type();
    if !file_type.is_file() {
        return Err(ReadError::NotAFile(describe(&file_type)));
    }
    if meta.len() > kind.limit {
        return Err(ReadError::TooLarge { limit: kind.limit });
    }
    // The file may have grown since: never read past the limit.
    read_bounded(file, kind)
}

/// Reads a stream to its end, refusing it past `kind`'s limit: standard
/// input for `wanc fmt -`, which is a pipe or a terminal, not a file.
pub fn read_stream(stream: impl Read, kind: Kind) -> Result<String, ReadError> {
    text(read_bounded(stream, kind)?)
}

fn read_bounded(stream: impl Read, kind: Kind) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    stream.take(kind.limit + 1).read_to_end(&mut bytes).map_err(ReadError::Io)?;
    if bytes.len() as u64 > kind.limit {
        return Err(ReadError::TooLarge { limit: kind.limit });
    }
    Ok(bytes)
}

/// `O_NONBLOCK` changes nothing for reading a regular file, the only kind
/// read on.
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)
}

/// Reads `path` as UTF-8 text, as [`read`] does.
pub fn read_text(path: &Path, kind: Kind) -> Result<String, ReadError> {
    text(read(path, kind)?)
}

fn text(bytes: Vec<u8>) -> Result<String, ReadError> {
    String::from_utf8(bytes)
        .map_err(|_| ReadError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8")))
}

fn describe(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_fifo() {
            return "a pipe";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}
