//! The kernel's notifications of link, address, route and rule changes
//! (the rtnetlink multicast groups), so the agent hears of a carrier loss or
//! a DHCP client's new default route when it happens instead of polling.
//!
//! A watcher's socket has a big receive buffer; when events come faster
//! than they are read the kernel drops them and says so (`ENOBUFS`), which
//! the watcher reports as [`KernelEvent::Lost`]: the reader then reads the
//! state again with the dumps of [`super::Netlink`].

use super::objects::{Address, Link, TableRoute};
use super::socket::{self, Message};
use super::RouteEntry;
use crate::ir::Family;
use ipnet::IpNet;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::rule::{RuleAttribute, RuleMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// The groups a watcher joins.
#[cfg(target_os = "linux")]
const GROUPS: [u32; 7] = [
    libc::RTNLGRP_LINK,
    libc::RTNLGRP_IPV4_IFADDR,
    libc::RTNLGRP_IPV6_IFADDR,
    libc::RTNLGRP_IPV4_ROUTE,
    libc::RTNLGRP_IPV6_ROUTE,
    libc::RTNLGRP_IPV4_RULE,
    libc::RTNLGRP_IPV6_RULE,
];
/// No netlink outside Linux (see `unsupported`): nothing to join.
#[cfg(not(target_os = "linux"))]
const GROUPS: [u32; 0] = [];

/// The receive buffer a watcher asks for: a full routing table's worth of
/// changes (a BGP feed's flap is not what wanc sees; a link going down with
/// a few thousand routes is).
pub const RECEIVE_BUFFER: usize = 8 << 20;

/// Datagrams read in one `recv` at most, so that a storm of events does not
/// keep the caller from acting on the first ones.
const MAX_DATAGRAMS: usize = 1024;

/// A change in the kernel's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelEvent {
    /// A link appeared or changed (`RTM_NEWLINK`, also for carrier
    /// changes); `up` as in [`Link`].
    Link { index: u32, name: String, up: bool },
    /// A link was deleted (`RTM_DELLINK`).
    LinkGone { index: u32, name: String },
    /// An address was added or removed (`RTM_NEWADDR` / `RTM_DELADDR`).
    Address { index: u32, address: IpNet, added: bool },
    /// A route was added (or replaced) or deleted (`RTM_NEWROUTE` /
    /// `RTM_DELROUTE`). IPv4 routes that go with their link are not
    /// announced one by one; the `LinkGone` or carrier loss says it.
    Route { added: bool, family: Family, table: u32, entry: RouteEntry },
    /// An ip rule was added or deleted (`RTM_NEWRULE` / `RTM_DELRULE`).
    Rule { added: bool, family: Family, priority: u32, table: u32 },
    /// The socket overflowed (ENOBUFS): events were lost; the reader must
    /// re-read the kernel's state with the dumps.
    Lost,
}

/// A socket subscribed to the kernel's notifications.
pub struct Watcher {
    socket: socket::Socket,
    buf: Vec<u8>,
    skipped: u64,
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher").field("skipped", &self.skipped).finish()
    }
}

impl Watcher {
    /// Subscribes in the calling thread's network namespace, with a receive
    /// buffer of [`RECEIVE_BUFFER`] bytes (as much of it as the system
    /// allows).
    pub fn open() -> io::Result<Watcher> {
        Watcher::with_receive_buffer(RECEIVE_BUFFER)
    }

    /// As [`Watcher::open`] with a receive buffer of `bytes` (the kernel
    /// doubles it, and keeps a minimum of its own): a small one loses
    /// events sooner, which is how the tests provoke [`KernelEvent::Lost`].
    pub fn with_receive_buffer(bytes: usize) -> io::Result<Watcher> {
        let socket = socket::open(&GROUPS)?;
        socket::set_receive_buffer(&socket, bytes)?;
        socket.set_non_blocking(true)?;
        Ok(Watcher { socket, buf: Vec::with_capacity(64 * 1024), skipped: 0 })
    }

    /// How many messages could not be read as an event so far (each is
    /// logged with its type when skipped).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The events that arrived, waiting up to `timeout` for the first;
    /// empty when none came. Blocks in `poll`, never spins.
    pub fn recv(&mut self, timeout: Duration) -> io::Result<Vec<KernelEvent>> {
        let mut events = Vec::new();
        if !self.wait(timeout)? {
            return Ok(events);
        }
        for _ in 0..MAX_DATAGRAMS {
            match socket::receive(&self.socket, &mut self.buf, 0) {
                Ok(()) => self.read_datagram(&mut events),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    if events.last() != Some(&KernelEvent::Lost) {
                        events.push(KernelEvent::Lost);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(events)
    }

    /// Whether the socket became readable (or has an error to report)
    /// within `timeout`.
    fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            // Rounded up to whole milliseconds: a shorter wait would return
            // at once and let a caller's loop spin.
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = left.as_micros().div_ceil(1000);
            let ms = libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX);
            let mut fds = [libc::pollfd { fd: self.socket.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
            // SAFETY: `fds` is a live array of one pollfd and the count
            // passed is its length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) };
            if n >= 0 {
                return Ok(n > 0);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    fn read_datagram(&mut self, events: &mut Vec<KernelEvent>) {
        for message in socket::messages(&self.buf) {
            match message {
                Ok(Message::Parsed(message)) => {
                    let kind = message.header.message_type;
                    let NetlinkPayload::InnerMessage(inner) = message.payload else { continue };
                    match event(inner) {
                        Converted::Event(e) => events.push(e),
                        Converted::Ignored => {}
                        Converted::Unreadable => {
                            self.skipped += 1;
                            tracing::warn!(kind, "netlink event skipped: not a link, address, route or rule wanc reads");
                        }
                    }
                }
                Ok(Message::Unparsed { header, error }) => {
                    self.skipped += 1;
                    tracing::warn!(kind = header.message_type, "netlink event skipped: {error}");
                }
                Err(e) => {
                    // The rest of the datagram cannot be framed.
                    self.skipped += 1;
                    tracing::warn!("netlink events skipped: {e}");
                }
            }
        }
    }
}

enum Converted {
    Event(KernelEvent),
    /// Not about anything the events describe (a bridge's port messages).
    Ignored,
    /// Meant to be read but could not be.
    Unreadable,
}

fn event(message: RouteNetlinkMessage) -> Converted {
    use RouteNetlinkMessage as M;
    let converted = match &message {
        M::NewLink(link) | M::DelLink(link) => {
            let Some(Link { index, name, up }) = Link::from_message(link) else { return Converted::Ignored };
            match message {
                M::NewLink(_) => Some(KernelEvent::Link { index, name, up }),
                _ => Some(KernelEvent::LinkGone { index, name }),
            }
        }
        M::NewAddress(a) | M::DelAddress(a) => Address::from_message(a).map(|a| KernelEvent::Address {
            index: a.index,
            address: a.address,
            added: matches!(message, M::NewAddress(_)),
        }),
        M::NewRoute(r) | M::DelRoute(r) => TableRoute::from_message(r).map(|r| KernelEvent::Route {
            added: matches!(message, M::NewRoute(_)),
            family: r.family,
            table: r.table,
            entry: r.entry,
        }),
        M::NewRule(r) | M::DelRule(r) => rule(r, matches!(message, M::NewRule(_))),
        _ => None,
    };
    converted.map_or(Converted::Unreadable, Converted::Event)
}

fn rule(message: &RuleMessage, added: bool) -> Option<KernelEvent> {
    let family = match message.header.family {
        AddressFamily::Inet => Family::V4,
        AddressFamily::Inet6 => Family::V6,
        _ => return None,
    };
    let mut priority = 0;
    let mut table = u32::from(message.header.table);
    for attribute in &message.attributes {
        match attribute {
            RuleAttribute::Priority(p) => priority = *p,
            RuleAttribute::Table(t) => table = *t,
            _ => {}
        }
    }
    Some(KernelEvent::Rule { added, family, priority, table })
}
