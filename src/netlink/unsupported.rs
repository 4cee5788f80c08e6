//! Netlink is Linux's. Elsewhere (OpenBSD) no socket can be opened, so
//! every use of one is unreachable: this stand-in for netlink-sys has the
//! few items the client and the watcher call, so that the module, and the
//! agent holding an `Option<Netlink>` that stays `None` there, compile
//! unchanged; [`Socket::new`] says why not.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// A netlink socket, which cannot exist here.
pub enum Socket {}

/// The kernel's netlink address.
pub struct SocketAddr;

pub const NETLINK_ROUTE: isize = 0;

impl SocketAddr {
    pub fn new(_port_number: u32, _multicast_groups: u32) -> SocketAddr {
        SocketAddr
    }

    pub fn port_number(&self) -> u32 {
        0
    }
}

impl Socket {
    pub fn new(_protocol: isize) -> io::Result<Socket> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "netlink exists on Linux only"))
    }

    pub fn bind(&mut self, _addr: &SocketAddr) -> io::Result<()> {
        match *self {}
    }

    pub fn add_membership(&self, _group: u32) -> io::Result<()> {
        match *self {}
    }

    pub fn set_non_blocking(&self, _non_blocking: bool) -> io::Result<()> {
        match *self {}
    }

    pub fn set_cap_ack(&self, _value: bool) -> io::Result<()> {
        match *self {}
    }

    pub fn set_ext_ack(&self, _value: bool) -> io::Result<()> {
        match *self {}
    }

    pub fn set_rx_buf_sz<T>(&self, _size: T) -> io::Result<()> {
        match *self {}
    }

    pub fn send_to(&self, _buf: &[u8], _addr: &SocketAddr, _flags: libc::c_int) -> io::Result<usize> {
        match *self {}
    }

    pub fn recv_from(&self, _buf: &mut Vec<u8>, _flags: libc::c_int) -> io::Result<(usize, SocketAddr)> {
        match *self {}
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        match *self {}
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match *self {}
    }
}
