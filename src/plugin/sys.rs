//! A TCP connection from a chosen source address. std binds UDP sockets but
//! cannot bind a TCP socket before it connects, and the crate has no libc
//! binding, so this declares the three C library calls it needs.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Connects to `addr` from `source` (kernel's choice when `None`), giving up
/// after `timeout` with `ErrorKind::TimedOut`.
pub fn connect_tcp(addr: SocketAddr, source: Option<IpAddr>, timeout: Duration) -> io::Result<TcpStream> {
    match source {
        None => TcpStream::connect_timeout(&addr, timeout),
        Some(source) => bound::connect_from(source, addr, timeout),
    }
}

#[cfg(target_os = "linux")]
mod bound {
    use super::*;
    use std::ffi::c_int;
    use std::os::fd::FromRawFd;

    extern "C" {
        fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int;
        fn bind(fd: c_int, addr: *const SockAddr, len: u32) -> c_int;
        fn connect(fd: c_int, addr: *const SockAddr, len: u32) -> c_int;
    }

    // Linux values; the families are the same on every architecture, the
    // socket type and O_CLOEXEC are not.
    const AF_INET: u16 = 2;
    const AF_INET6: u16 = 10;
    #[cfg(any(target_arch = "mips", target_arch = "mips32r6", target_arch = "mips64", target_arch = "mips64r6"))]
    const SOCK_STREAM: c_int = 2;
    #[cfg(not(any(target_arch = "mips", target_arch = "mips32r6", target_arch = "mips64", target_arch = "mips64r6")))]
    const SOCK_STREAM: c_int = 1;
    #[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
    const SOCK_CLOEXEC: c_int = 0x40_0000;
    #[cfg(not(any(target_arch = "sparc", target_arch = "sparc64")))]
    const SOCK_CLOEXEC: c_int = 0o200_0000;

    /// `struct sockaddr_in` or `sockaddr_in6`, byte for byte.
    #[repr(C, align(4))]
    pub struct SockAddr([u8; 28]);

    fn sockaddr(addr: SocketAddr) -> (SockAddr, u32) {
        let mut b = [0u8; 28];
        b[2..4].copy_from_slice(&addr.port().to_be_bytes());
        match addr {
            SocketAddr::V4(a) => {
                b[0..2].copy_from_slice(&AF_INET.to_ne_bytes());
                b[4..8].copy_from_slice(&a.ip().octets());
                (SockAddr(b), 16)
            }
            SocketAddr::V6(a) => {
                b[0..2].copy_from_slice(&AF_INET6.to_ne_bytes());
                b[4..8].copy_from_slice(&a.flowinfo().to_be_bytes());
                b[8..24].copy_from_slice(&a.ip().octets());
                b[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
                (SockAddr(b), 28)
            }
        }
    }

    pub fn connect_from(source: IpAddr, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let family = if addr.is_ipv4() { AF_INET } else { AF_INET6 };
        // SAFETY: plain system call; the result is checked.
        let fd = unsafe { socket(c_int::from(family), SOCK_STREAM | SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new socket that nothing else owns; the stream
        // closes it on every path below.
        let stream = unsafe { TcpStream::from_raw_fd(fd) };
        let (local, len) = sockaddr(SocketAddr::new(source, 0));
        // SAFETY: `local` is a valid sockaddr of `len` bytes.
        if unsafe { bind(fd, &local, len) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // Linux bounds a blocking connect by the send timeout (socket(7)).
        stream.set_write_timeout(Some(timeout))?;
        let (remote, len) = sockaddr(addr);
        let started = Instant::now();
        // SAFETY: `remote` is a valid sockaddr of `len` bytes.
        if unsafe { connect(fd, &remote, len) } != 0 {
            let error = io::Error::last_os_error();
            // The timeout surfaces as EINPROGRESS, whose number differs
            // between architectures; the clock tells it apart.
            return Err(if started.elapsed() >= timeout { io::ErrorKind::TimedOut.into() } else { error });
        }
        Ok(stream)
    }
}

#[cfg(not(target_os = "linux"))]
mod bound {
    use super::*;

    pub fn connect_from(_: IpAddr, _: SocketAddr, _: Duration) -> io::Result<TcpStream> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "binding to a source address needs linux"))
    }
}
