//! A small synchronous rtnetlink client: what the agent needs to put the
//! routes and rules of `crate::lower::linux` in place without starting `ip`,
//! to read the kernel's links, addresses and routes, and (`events`) to hear
//! of their changes. The messages are netlink-packet-route's; the socket is
//! netlink-sys's.
//!
//! The messages are those `ip route replace …` / `ip rule add …` send for
//! `Route::command()` and `IpRule::args()`, so the kernel ends up in the
//! same state as after the Linux back end's scripts (with the route
//! protocol as the only difference: `static` here, `boot` from `ip`, see
//! [`Netlink::set_protocol`]).
//!
//! Requests go out in batches: several messages in one `sendto`, each with
//! `NLM_F_ACK`, then every ACK is read and checked. The kernel carries on
//! after a failed message, so a batch applies everything it can and the
//! error names every object that failed.
//!
//! Interfaces are looked up by name over the same socket (`RTM_GETLINK`),
//! so a socket opened in another network namespace works there whole.

mod dump;
pub mod events;
mod objects;
mod requests;
mod socket;
#[cfg(not(target_os = "linux"))]
mod unsupported;

pub use events::{KernelEvent, Watcher};
pub use objects::{Address, Link, RouteEntry, RouteHop};

use crate::ir::Family;
use crate::lower::linux::{IpRule, Route};
use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP_INTR, NLM_F_REQUEST};
use netlink_packet_route::link::LinkFlags;
use netlink_packet_route::RouteNetlinkMessage;
use requests::{delete_default, delete_rules, link_request, route_request, rule_request, RT_TABLE_MAIN};
use socket::Message;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::time::Duration;

/// `proto static`: routes an administrator (or a daemon for one) installed.
pub const RTPROT_STATIC: u8 = 4;
/// `proto boot`: what `ip route` uses when given no protocol.
pub const RTPROT_BOOT: u8 = 3;

/// Messages per batch: each ACK takes room in the socket's receive buffer
/// until read, and the kernel drops what does not fit.
const BATCH: usize = 32;
/// How long to wait for the kernel's answer before giving up.
const TIMEOUT: Duration = Duration::from_secs(5);
/// A bound on "delete until none is left".
const MAX_DELETES: usize = 1024;

const EINVAL: i32 = libc::EINVAL;

/// One object the kernel (or the request's validation) refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The object, as the `ip` command that does the same.
    pub object: String,
    /// The errno (positive).
    pub errno: i32,
    /// The kernel's extended-ack message, or what was wrong with the object.
    pub detail: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, io::Error::from_raw_os_error(self.errno))?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// The objects of one call that failed, inside the `io::Error` the calls
/// return (reach it with `err.get_ref()` and `downcast_ref::<Error>()`).
/// The error's kind is that of the first failure's errno.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub failures: Vec<Failure>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, fail) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{fail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl Error {
    fn into_io(self) -> io::Error {
        let kind = self.failures.first().map(|f| io::Error::from_raw_os_error(f.errno).kind()).unwrap_or(io::ErrorKind::Other);
        io::Error::new(kind, self)
    }
}

fn check(failures: Vec<Failure>) -> io::Result<()> {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error { failures }.into_io())
    }
}

fn invalid(object: &str, detail: impl Into<String>) -> Failure {
    Failure { object: object.to_string(), errno: EINVAL, detail: Some(detail.into()) }
}

/// One request of a batch.
#[derive(Clone)]
struct Request {
    object: String,
    /// `NLM_F_*` besides `NLM_F_REQUEST`.
    flags: u16,
    message: RouteNetlinkMessage,
    /// Errnos that count as success (ENOENT for a delete, EEXIST for an add).
    tolerated: &'static [i32],
}

impl Request {
    /// The message on the wire, with its sequence number.
    fn bytes(&self, seq: u32) -> Vec<u8> {
        let mut header = NetlinkHeader::default();
        header.flags = self.flags | NLM_F_REQUEST;
        header.sequence_number = seq;
        let mut message = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(self.message.clone()));
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        bytes
    }
}

/// The kernel's answer to one request.
#[derive(Debug, Default)]
struct Reply {
    /// 0 when acknowledged (or the errno was tolerated).
    errno: i32,
    /// The errno before toleration, to tell "deleted" from "nothing there".
    raw_errno: i32,
    detail: Option<String>,
    /// Messages before the ACK (or a dump's NLMSG_DONE).
    data: Vec<RouteNetlinkMessage>,
    /// A dump changed while it was read (NLM_F_DUMP_INTR): it may be
    /// inconsistent.
    interrupted: bool,
}

/// An `AF_NETLINK`/`NETLINK_ROUTE` socket.
pub struct Netlink {
    socket: socket::Socket,
    seq: u32,
    protocol: u8,
    buf: Vec<u8>,
}

impl fmt::Debug for Netlink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Netlink").field("seq", &self.seq).field("protocol", &self.protocol).finish()
    }
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Self> {
        let socket = socket::open(&[])?;
        // Best effort: older kernels lack these, and then errors just come
        // without the kernel's message (and with the request echoed).
        let _ = socket.set_cap_ack(true);
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_rx_buf_sz(1 << 20);
        socket2::SockRef::from(&socket).set_read_timeout(Some(TIMEOUT))?;
        Ok(Netlink { socket, seq: 0, protocol: RTPROT_STATIC, buf: Vec::with_capacity(32 * 1024) })
    }

    /// The protocol routes are installed with; `RTPROT_STATIC` unless set.
    /// `RTPROT_BOOT` gives exactly what `ip route replace` gives.
    pub fn set_protocol(&mut self, protocol: u8) {
        self.protocol = protocol;
    }

    /// Puts routes in place, as `Route::command()` would: a default route
    /// (single or multipath) is replaced; no nexthops removes every default
    /// route of the main table, or makes another table's default `throw`.
    ///
    /// The interfaces are looked up in one batch and the routes sent in
    /// another. Every route that can be applied is; the error names each
    /// one that could not.
    pub fn apply(&mut self, routes: &[Route]) -> io::Result<()> {
        // (index in `routes`, failure), reported in the order of `routes`.
        let mut failures = Vec::new();
        let devs: Vec<&str> = routes.iter().flat_map(|r| r.nexthops.iter().map(|h| h.dev.as_str())).collect();
        let indices = self.indices(&devs)?;
        let mut requests = Vec::new();
        // Which route each request is for.
        let mut owners = Vec::new();
        for (k, route) in routes.iter().enumerate() {
            let object = format!("ip {} {}", route.family.flag(), route.command());
            if route.table.is_none() && route.nexthops.is_empty() {
                // Twice: the second finds nothing in the usual case of one
                // default route, and no further round trip is needed.
                let request = delete_default(route.family, RT_TABLE_MAIN, self.protocol, object);
                requests.extend([request.clone(), request]);
                owners.extend([k, k]);
                continue;
            }
            match route_request(route, self.protocol, &indices, &object) {
                Ok(request) => {
                    requests.push(request);
                    owners.push(k);
                }
                Err(f) => failures.push((k, f)),
            }
        }
        let replies = self.transact(&requests)?;
        // Per removal, how many of its deletions deleted something.
        let mut deleted: HashMap<usize, usize> = HashMap::new();
        for ((request, reply), &k) in requests.iter().zip(&replies).zip(&owners) {
            if reply.errno != 0 {
                failures.push((k, failure(request, reply)));
            } else if routes.get(k).is_some_and(|r| r.table.is_none() && r.nexthops.is_empty()) {
                *deleted.entry(k).or_default() += usize::from(reply.raw_errno == 0);
            }
        }
        // Both deletions deleted a route: there may be more.
        for (k, _) in deleted.into_iter().filter(|(_, n)| *n == 2) {
            if let Some(removal) = routes.get(k) {
                if let Err(e) = self.delete_route(removal.family, RT_TABLE_MAIN) {
                    failures.extend(failures_of(e).into_iter().map(|f| (k, f)));
                }
            }
        }
        failures.sort_by_key(|(k, _)| *k);
        failures.dedup();
        check(failures.into_iter().map(|(_, f)| f).collect())
    }

    /// Deletes every default route of a table (254 is main); none being
    /// there, or no such table, is success.
    pub fn delete_route(&mut self, family: Family, table: u32) -> io::Result<()> {
        let object = format!("ip {} route del default table {table}", family.flag());
        self.drain(vec![delete_default(family, table, self.protocol, object)])
    }

    /// Adds a rule; the same rule being there already is success.
    pub fn add_rule(&mut self, rule: &IpRule) -> io::Result<()> {
        self.add_rules(std::slice::from_ref(rule))
    }

    /// Adds rules in one batch; the error names each one that failed.
    pub fn add_rules(&mut self, rules: &[IpRule]) -> io::Result<()> {
        let mut failures = Vec::new();
        let mut requests = Vec::new();
        for rule in rules {
            let object = format!("ip {} rule add {}", rule.family.flag(), rule.args());
            match rule_request(rule, &object) {
                Ok(request) => requests.push(request),
                Err(f) => failures.push(f),
            }
        }
        let replies = self.transact(&requests)?;
        failures.extend(requests.iter().zip(&replies).filter(|(_, r)| r.errno != 0).map(|(q, r)| failure(q, r)));
        check(failures)
    }

    /// Deletes every rule of a family at a priority (`ip rule del priority
    /// N` until none is left). Priority 0 is refused: the kernel reads it as
    /// "any priority" and would delete the `local` rule.
    pub fn delete_rules_at(&mut self, family: Family, priority: u32) -> io::Result<()> {
        if priority == 0 {
            let object = format!("ip {} rule del priority 0", family.flag());
            return check(vec![invalid(&object, "priority 0 matches every rule")]);
        }
        self.drain(vec![delete_rules(family, priority)])
    }

    /// What `setup.sh` does with rules: clears each rule's priority, then
    /// adds the rules.
    pub fn set_rules(&mut self, rules: &[IpRule]) -> io::Result<()> {
        let mut slots: Vec<(Family, u32)> = rules.iter().map(|r| (r.family, r.priority)).collect();
        slots.sort();
        slots.dedup();
        let mut failures = Vec::new();
        if slots.iter().any(|(_, p)| *p == 0) {
            failures.push(invalid("ip rule", "priority 0 is the local rule's"));
            return check(failures);
        }
        if let Err(e) = self.drain(slots.into_iter().map(|(f, p)| delete_rules(f, p)).collect()) {
            failures.extend(failures_of(e));
        }
        if let Err(e) = self.add_rules(rules) {
            failures.extend(failures_of(e));
        }
        check(failures)
    }

    /// Whether an interface has carrier (`IFF_LOWER_UP`; an interface that
    /// is administratively down has none). The same as reading
    /// `/sys/class/net/DEV/carrier`, but in this socket's namespace.
    pub fn link_up(&mut self, dev: &str) -> io::Result<bool> {
        let (_, flags) = self.link(dev)?;
        Ok(flags.contains(LinkFlags::LowerUp))
    }

    fn link(&mut self, dev: &str) -> io::Result<(u32, LinkFlags)> {
        let requests = [link_request(dev)?];
        let reply = self.transact(&requests)?.into_iter().next().unwrap_or_default();
        if reply.errno != 0 {
            return Err(Error { failures: vec![failure(&requests[0], &reply)] }.into_io());
        }
        parse_link(&reply).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("link {dev}: malformed reply")))
    }

    /// The indices of interfaces, looked up in one batch; a name that
    /// cannot be resolved maps to its failure.
    fn indices(&mut self, devs: &[&str]) -> io::Result<HashMap<String, Result<u32, Failure>>> {
        let mut out = HashMap::new();
        let mut names: Vec<&str> = devs.to_vec();
        names.sort_unstable();
        names.dedup();
        let mut requests = Vec::new();
        let mut asked = Vec::new();
        for name in names {
            match link_request(name) {
                Ok(r) => {
                    requests.push(r);
                    asked.push(name);
                }
                Err(e) => {
                    out.insert(name.to_string(), Err(invalid(&format!("link {name}"), e.to_string())));
                }
            }
        }
        let replies = self.transact(&requests)?;
        for ((name, request), reply) in asked.into_iter().zip(&requests).zip(&replies) {
            let index = if reply.errno != 0 {
                Err(failure(request, reply))
            } else {
                parse_link(reply).map(|(i, _)| i).ok_or_else(|| invalid(&request.object, "malformed reply"))
            };
            out.insert(name.to_string(), index);
        }
        Ok(out)
    }

    /// Sends each request again and again until the kernel answers that
    /// nothing is left, every request twice per batch (two are enough when
    /// there was one object, the usual case).
    fn drain(&mut self, templates: Vec<Request>) -> io::Result<()> {
        const COPIES: usize = 2;
        let mut failures = Vec::new();
        let mut active = templates;
        for _ in 0..MAX_DELETES / COPIES {
            if active.is_empty() {
                break;
            }
            let requests: Vec<Request> = active.iter().flat_map(|t| std::iter::repeat_n(t.clone(), COPIES)).collect();
            let replies = self.transact(&requests)?;
            let mut still = Vec::new();
            for (template, replies) in active.into_iter().zip(replies.chunks(COPIES)) {
                if let Some(bad) = replies.iter().find(|r| r.errno != 0) {
                    failures.push(failure(&template, bad));
                } else if replies.iter().all(|r| r.raw_errno == 0) {
                    still.push(template);
                }
            }
            active = still;
        }
        for template in active {
            let detail = Some(format!("still there after {MAX_DELETES} deletions"));
            failures.push(Failure { object: template.object, errno: libc::EAGAIN, detail });
        }
        check(failures)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == 0 {
            self.seq = 1;
        }
        self.seq
    }

    /// Sends requests in batches and collects one reply per request, in
    /// order. An `Err` is a failure of the socket itself (or a timeout),
    /// after which the state of the requests is unknown.
    fn transact(&mut self, requests: &[Request]) -> io::Result<Vec<Reply>> {
        let mut replies = Vec::with_capacity(requests.len());
        for chunk in requests.chunks(BATCH) {
            let mut batch = Vec::new();
            let mut pending: HashMap<u32, usize> = HashMap::new();
            for (i, request) in chunk.iter().enumerate() {
                let seq = self.next_seq();
                batch.extend(request.bytes(seq));
                pending.insert(seq, i);
            }
            self.send(&batch)?;
            let mut got: Vec<Reply> = (0..chunk.len()).map(|_| Reply::default()).collect();
            while !pending.is_empty() {
                socket::receive(&self.socket, &mut self.buf, 0).map_err(|e| {
                    let mut waiting: Vec<usize> = pending.values().copied().collect();
                    waiting.sort_unstable();
                    let objects: Vec<&str> = waiting.iter().filter_map(|&i| chunk.get(i)).map(|r| r.object.as_str()).collect();
                    io::Error::new(e.kind(), format!("netlink: {e}; no answer for: {}", objects.join(", ")))
                })?;
                for message in socket::messages(&self.buf) {
                    let (header, payload) = match message? {
                        Message::Parsed(m) => m.into_parts(),
                        Message::Unparsed { header, error } => {
                            if pending.contains_key(&header.sequence_number) {
                                tracing::warn!(kind = header.message_type, "netlink: skipped a reply: {error}");
                            }
                            continue;
                        }
                    };
                    let seq = header.sequence_number;
                    let Some(&i) = pending.get(&seq) else { continue };
                    let Some(reply) = got.get_mut(i) else { continue };
                    reply.interrupted |= header.flags & NLM_F_DUMP_INTR != 0;
                    let (errno, detail) = match payload {
                        NetlinkPayload::InnerMessage(m) => {
                            reply.data.push(m);
                            continue;
                        }
                        NetlinkPayload::Overrun(_) => return Err(io::Error::other("netlink: overrun")),
                        NetlinkPayload::Done(done) => (done.code.checked_neg().unwrap_or(0), None),
                        NetlinkPayload::Error(e) => {
                            (e.raw_code().checked_neg().unwrap_or(0), socket::ack_text(header.flags, &e.header))
                        }
                        _ => continue,
                    };
                    reply.raw_errno = errno;
                    let tolerated = chunk.get(i).is_some_and(|r| r.tolerated.contains(&errno));
                    reply.errno = if tolerated { 0 } else { errno };
                    reply.detail = detail;
                    pending.remove(&seq);
                }
            }
            replies.extend(got);
        }
        Ok(replies)
    }

    fn send(&mut self, batch: &[u8]) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let kernel = socket::SocketAddr::new(0, 0);
        loop {
            match self.socket.send_to(batch, &kernel, 0) {
                Ok(n) if n == batch.len() => return Ok(()),
                Ok(_) => return Err(io::Error::new(io::ErrorKind::WriteZero, "netlink: short send")),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

fn failure(request: &Request, reply: &Reply) -> Failure {
    Failure { object: request.object.clone(), errno: reply.errno, detail: reply.detail.clone() }
}

fn failures_of(e: io::Error) -> Vec<Failure> {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        Some(err) => err.failures.clone(),
        None => {
            vec![Failure { object: "netlink".into(), errno: e.raw_os_error().unwrap_or(libc::EIO), detail: Some(e.to_string()) }]
        }
    }
}

/// The index and flags of the link in a GETLINK reply.
fn parse_link(reply: &Reply) -> Option<(u32, LinkFlags)> {
    let link = reply.data.iter().find_map(|m| match m {
        RouteNetlinkMessage::NewLink(link) => Some(link),
        _ => None,
    })?;
    Some((link.header.index, link.header.flags)).filter(|(index, _)| *index > 0)
}
