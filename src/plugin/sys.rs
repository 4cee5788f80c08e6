//! A TCP connection from a chosen source address. std cannot bind a TCP
//! socket before it connects; socket2 can, on every system wanc runs on
//! (Linux and OpenBSD alike: plugin checks on OpenBSD run `wanc probe
//! --source`, and pf sends traffic from an uplink's address by that uplink).

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// Connects to `addr` from `source` (kernel's choice when `None`), giving up
/// after `timeout` with `ErrorKind::TimedOut`.
pub fn connect_tcp(addr: SocketAddr, source: Option<IpAddr>, timeout: Duration) -> io::Result<TcpStream> {
    let Some(source) = source else { return TcpStream::connect_timeout(&addr, timeout) };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&SockAddr::from(SocketAddr::new(source, 0)))?;
    socket.connect_timeout(&SockAddr::from(addr), timeout)?;
    Ok(socket.into())
}
