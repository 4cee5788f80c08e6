//! The wanc plugin SDK: write a probe plugin (ABI version 1, see
//! `plugins/ABI.md`) as ordinary Rust.
//!
//! ```ignore
//! use wanc_sdk::{Error, Outcome, Settings};
//!
//! wanc_sdk::plugin! {
//!     settings: ["server", "port?"],
//!     probe: probe,
//! }
//!
//! fn probe(settings: &Settings) -> Result<Outcome, Error> {
//!     let server = settings.require("server")?;
//!     Ok(Outcome::up(format!("{server} is fine")))
//! }
//! ```
//!
//! Built with Debian's rustc 1.63 for `wasm32-unknown-unknown` (see
//! `plugins/build.sh`). A plugin instance lives for one probe only, so what
//! the SDK hands to the host is simply leaked: the host drops the instance.

use std::fmt;
use std::net::SocketAddr;

/// The ABI version this SDK speaks.
pub const ABI_VERSION: i32 = 1;

/// Declares the plugin: the settings it accepts (`"name"` required,
/// `"name?"` optional; string literals) and the function that probes, of type
/// `fn(&Settings) -> Result<Outcome, Error>`. Generates the five exports of
/// ABI version 1; an `Err` becomes a `down` outcome with the error as reason.
#[macro_export]
macro_rules! plugin {
    (settings: [$($setting:literal),* $(,)?], probe: $probe:path $(,)?) => {
        #[no_mangle]
        pub extern "C" fn wanc_abi_version() -> i32 {
            $crate::ABI_VERSION
        }

        #[no_mangle]
        pub extern "C" fn wanc_settings() -> i64 {
            $crate::__export::settings(concat!($($setting, "\n",)*))
        }

        #[no_mangle]
        pub extern "C" fn wanc_alloc(len: i32) -> i32 {
            $crate::__export::alloc(len)
        }

        #[no_mangle]
        pub extern "C" fn wanc_probe(ptr: i32, len: i32) -> i64 {
            $crate::__export::probe(ptr, len, $probe)
        }
    };
}

/// The glue behind `plugin!`; not for direct use.
#[doc(hidden)]
pub mod __export {
    use super::{Error, Outcome, Settings};

    pub fn settings(text: &'static str) -> i64 {
        pack(text.as_ptr(), text.len())
    }

    /// A buffer of `len` bytes for the host to write the settings into;
    /// 0 tells the host the allocation failed.
    pub fn alloc(len: i32) -> i32 {
        let mut buf: Vec<u8> = Vec::new();
        if len < 0 || buf.try_reserve_exact(len as usize).is_err() {
            return 0;
        }
        let ptr = buf.as_mut_ptr();
        std::mem::forget(buf);
        ptr as i32
    }

    pub fn probe(ptr: i32, len: i32, f: fn(&Settings) -> Result<Outcome, Error>) -> i64 {
        // SAFETY: the host wrote `len` bytes at `ptr`, a buffer it obtained
        // from `wanc_alloc(len)` above.
        let bytes = unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len.max(0) as usize) };
        let outcome = match Settings::decode(bytes) {
            Some(settings) => f(&settings).unwrap_or_else(|e| Outcome::down(e.0)),
            None => Outcome::down("the host passed malformed settings"),
        };
        let record = outcome.encode();
        let packed = pack(record.as_ptr(), record.len());
        std::mem::forget(record);
        packed
    }

    fn pack(ptr: *const u8, len: usize) -> i64 {
        (((ptr as usize as u64) << 32) | (len as u64 & 0xffff_ffff)) as i64
    }
}

/// The settings the check gives the plugin, by name.
pub struct Settings {
    pairs: Vec<(String, String)>,
}

impl Settings {
    /// Decodes the settings block: u32 count, then per setting u32 key
    /// length, key, u32 value length, value (little-endian, UTF-8).
    fn decode(bytes: &[u8]) -> Option<Settings> {
        let mut cursor = Cursor(bytes);
        let count = cursor.u32()?;
        let mut pairs = Vec::new();
        for _ in 0..count {
            let key = cursor.text()?;
            let value = cursor.text()?;
            pairs.push((key, value));
        }
        Some(Settings { pairs })
    }

    /// The value of a setting, if the check gives it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The value of a setting, or an error naming it.
    pub fn require(&self, name: &str) -> Result<&str, Error> {
        self.get(name).ok_or_else(|| Error::new(format!("setting `{}` is missing", name)))
    }
}

/// Reads the settings block front to back; `None` past its end.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u32(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn text(&mut self) -> Option<String> {
        let len = self.u32()?;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

/// What a probe found: up or down, why, and optionally a measurement
/// (by convention a round-trip time in microseconds).
pub struct Outcome {
    up: bool,
    reason: String,
    measurement: Option<u64>,
}

impl Outcome {
    pub fn up(reason: impl Into<String>) -> Outcome {
        Outcome { up: true, reason: reason.into(), measurement: None }
    }

    pub fn down(reason: impl Into<String>) -> Outcome {
        Outcome { up: false, reason: reason.into(), measurement: None }
    }

    pub fn measurement(mut self, value: u64) -> Outcome {
        self.measurement = Some(value);
        self
    }

    /// The result record: status, flags, two reserved bytes, the u64
    /// measurement, then the reason.
    fn encode(&self) -> Vec<u8> {
        let mut record = Vec::with_capacity(12 + self.reason.len());
        record.push(self.up as u8);
        record.push(self.measurement.is_some() as u8);
        record.extend_from_slice(&[0, 0]);
        record.extend_from_slice(&self.measurement.unwrap_or(0).to_le_bytes());
        record.extend_from_slice(self.reason.as_bytes());
        record
    }
}

/// Why a probe failed; becomes the reason of a `down` outcome.
#[derive(Debug)]
pub struct Error(String);

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<NetError> for Error {
    fn from(e: NetError) -> Error {
        Error(e.to_string())
    }
}

/// An error code from a host network function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    /// The address is not among the check's targets.
    Denied,
    /// A bad argument: address text, pointer, length or handle.
    Invalid,
    /// The probe's deadline passed.
    Timeout,
    Refused,
    Unreachable,
    Reset,
    /// Too many open sockets.
    Limit,
    Io,
    Unknown(i32),
}

impl NetError {
    fn from_code(code: i32) -> NetError {
        match code {
            -1 => NetError::Denied,
            -2 => NetError::Invalid,
            -3 => NetError::Timeout,
            -4 => NetError::Refused,
            -5 => NetError::Unreachable,
            -6 => NetError::Reset,
            -7 => NetError::Limit,
            -8 => NetError::Io,
            other => NetError::Unknown(other),
        }
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Denied => f.write_str("the address is not a target of this check"),
            NetError::Invalid => f.write_str("invalid argument"),
            NetError::Timeout => f.write_str("timed out"),
            NetError::Refused => f.write_str("connection refused"),
            NetError::Unreachable => f.write_str("unreachable"),
            NetError::Reset => f.write_str("connection reset"),
            NetError::Limit => f.write_str("too many open sockets"),
            NetError::Io => f.write_str("i/o error"),
            NetError::Unknown(code) => write!(f, "unknown error {}", code),
        }
    }
}

/// The host functions of ABI version 1 (module `wanc`).
mod host {
    #[link(wasm_import_module = "wanc")]
    extern "C" {
        pub fn clock_us() -> i64;
        pub fn tcp_connect(addr: *const u8, addr_len: usize) -> i32;
        pub fn udp_connect(addr: *const u8, addr_len: usize) -> i32;
        pub fn send(handle: i32, data: *const u8, len: usize) -> i32;
        pub fn recv(handle: i32, buf: *mut u8, cap: usize) -> i32;
        pub fn close(handle: i32) -> i32;
    }
}

/// Microseconds since the probe started, from the host's monotonic clock.
pub fn clock_us() -> u64 {
    // SAFETY: a host function without arguments.
    unsafe { host::clock_us() }.max(0) as u64
}

fn check(code: i32) -> Result<usize, NetError> {
    if code < 0 {
        Err(NetError::from_code(code))
    } else {
        Ok(code as usize)
    }
}

fn connect(addr: SocketAddr, udp: bool) -> Result<i32, NetError> {
    let text = addr.to_string();
    // SAFETY: pointer and length of a live string.
    let code = unsafe {
        if udp {
            host::udp_connect(text.as_ptr(), text.len())
        } else {
            host::tcp_connect(text.as_ptr(), text.len())
        }
    };
    check(code).map(|h| h as i32)
}

fn send(handle: i32, data: &[u8]) -> Result<usize, NetError> {
    // SAFETY: pointer and length of a live slice.
    check(unsafe { host::send(handle, data.as_ptr(), data.len()) })
}

fn recv(handle: i32, buf: &mut [u8]) -> Result<usize, NetError> {
    // SAFETY: pointer and length of a live, writable slice.
    check(unsafe { host::recv(handle, buf.as_mut_ptr(), buf.len()) })
}

/// A TCP connection from the check's source address; closed on drop.
pub struct TcpStream {
    handle: i32,
}

impl TcpStream {
    /// Connects to one of the check's targets, waiting at most until the
    /// probe's deadline.
    pub fn connect(addr: SocketAddr) -> Result<TcpStream, NetError> {
        connect(addr, false).map(|handle| TcpStream { handle })
    }

    pub fn send(&mut self, data: &[u8]) -> Result<usize, NetError> {
        send(self.handle, data)
    }

    pub fn send_all(&mut self, mut data: &[u8]) -> Result<(), NetError> {
        while !data.is_empty() {
            match self.send(data)? {
                0 => return Err(NetError::Io),
                n => data = &data[n.min(data.len())..],
            }
        }
        Ok(())
    }

    /// Reads some bytes; 0 means the peer closed the connection.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        recv(self.handle, buf)
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        // SAFETY: a handle the host gave us; closing twice is harmless.
        unsafe { host::close(self.handle) };
    }
}

/// A UDP socket from the check's source address, connected to one of the
/// check's targets; closed on drop.
pub struct UdpSocket {
    handle: i32,
}

impl UdpSocket {
    /// Opens the socket; sends nothing yet.
    pub fn connect(addr: SocketAddr) -> Result<UdpSocket, NetError> {
        connect(addr, true).map(|handle| UdpSocket { handle })
    }

    /// Sends one datagram.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, NetError> {
        send(self.handle, data)
    }

    /// Receives one datagram from the connected address, truncated to
    /// `buf.len()`.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        recv(self.handle, buf)
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        // SAFETY: a handle the host gave us; closing twice is harmless.
        unsafe { host::close(self.handle) };
    }
}
