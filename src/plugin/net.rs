//! The sockets of one probe: opened only to allowed targets, bound to the
//! request's source address, every blocking call bounded by the probe's
//! deadline. Results are ABI codes: a count or handle, or a negative error.

use super::abi::code;
use super::sys;
use super::targets::AllowedTarget;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// Open sockets per probe; a probe needs one or two.
const MAX_SOCKETS: usize = 16;

enum Socket {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

pub struct Sockets {
    /// Handles are indices; a closed socket leaves `None` for reuse.
    slots: Vec<Option<Socket>>,
    source: Option<IpAddr>,
    targets: Vec<AllowedTarget>,
    deadline: Instant,
}

impl Sockets {
    pub fn new(source: Option<IpAddr>, targets: Vec<AllowedTarget>, deadline: Instant) -> Sockets {
        Sockets { slots: Vec::new(), source, targets, deadline }
    }

    pub fn tcp_connect(&mut self, addr: &[u8]) -> i32 {
        self.open(addr, |addr, source, timeout| sys::connect_tcp(addr, source, timeout).map(Socket::Tcp))
    }

    /// A UDP socket connected to the target: it sends there and receives
    /// only from there.
    pub fn udp_connect(&mut self, addr: &[u8]) -> i32 {
        self.open(addr, |addr, source, _| {
            let local =
                source.unwrap_or(if addr.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() });
            let socket = UdpSocket::bind(SocketAddr::new(local, 0))?;
            socket.connect(addr)?;
            Ok(Socket::Udp(socket))
        })
    }

    fn open(&mut self, addr: &[u8], connect: impl FnOnce(SocketAddr, Option<IpAddr>, Duration) -> io::Result<Socket>) -> i32 {
        let Some(addr) = std::str::from_utf8(addr).ok().and_then(|t| t.parse::<SocketAddr>().ok()).filter(|a| a.port() != 0)
        else {
            return code::INVALID;
        };
        if !self.targets.iter().any(|t| t.permits(addr)) {
            return code::DENIED;
        }
        if self.source.is_some_and(|s| s.is_ipv4() != addr.is_ipv4()) {
            return code::UNREACHABLE;
        }
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None if self.slots.len() < MAX_SOCKETS => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            None => return code::LIMIT,
        };
        let Some(timeout) = self.remaining() else { return code::TIMEOUT };
        match connect(addr, self.source, timeout) {
            Ok(socket) => {
                self.slots[slot] = Some(socket);
                slot as i32
            }
            Err(e) => error_code(&e),
        }
    }

    pub fn send(&mut self, handle: i32, data: &[u8]) -> i32 {
        let Some(timeout) = self.remaining() else { return code::TIMEOUT };
        let result = match self.socket(handle) {
            Some(Socket::Tcp(s)) => s.set_write_timeout(Some(timeout)).and_then(|()| s.write(data)),
            Some(Socket::Udp(s)) => s.set_write_timeout(Some(timeout)).and_then(|()| s.send(data)),
            None => return code::INVALID,
        };
        count_or_code(result)
    }

    pub fn recv(&mut self, handle: i32, buf: &mut [u8]) -> i32 {
        let Some(timeout) = self.remaining() else { return code::TIMEOUT };
        let result = match self.socket(handle) {
            Some(Socket::Tcp(s)) => s.set_read_timeout(Some(timeout)).and_then(|()| s.read(buf)),
            Some(Socket::Udp(s)) => s.set_read_timeout(Some(timeout)).and_then(|()| s.recv(buf)),
            None => return code::INVALID,
        };
        count_or_code(result)
    }

    pub fn close(&mut self, handle: i32) -> i32 {
        match usize::try_from(handle).ok().and_then(|i| self.slots.get_mut(i)).and_then(Option::take) {
            Some(_) => 0,
            None => code::INVALID,
        }
    }

    fn socket(&mut self, handle: i32) -> Option<&mut Socket> {
        self.slots.get_mut(usize::try_from(handle).ok()?)?.as_mut()
    }

    /// Time left before the deadline; `None` once it passed (a zero socket
    /// timeout would mean "wait forever").
    fn remaining(&self) -> Option<Duration> {
        Some(self.deadline.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero())
    }
}

fn count_or_code(result: io::Result<usize>) -> i32 {
    match result {
        // Counts are bounded by the plugin's buffer, itself under 4 GiB;
        // the cap keeps a count from turning into an error code.
        Ok(n) => i32::try_from(n).unwrap_or(i32::MAX),
        Err(e) => error_code(&e),
    }
}

fn error_code(e: &io::Error) -> i32 {
    use io::ErrorKind::*;
    match e.kind() {
        WouldBlock | TimedOut => code::TIMEOUT,
        ConnectionRefused => code::REFUSED,
        ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected => code::RESET,
        HostUnreachable | NetworkUnreachable | AddrNotAvailable | NetworkDown => code::UNREACHABLE,
        _ => code::IO,
    }
}
