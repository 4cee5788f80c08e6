//! A small synchronous rtnetlink client: what the agent needs to put the
//! routes and rules of `crate::lower::linux` in place without starting `ip`.
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

mod msg;

use crate::ir::Family;
use crate::lower::linux::{IpRule, Route, Selector, MARK_MASK};
use msg::*;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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

const ENOENT: i32 = libc::ENOENT;
const ESRCH: i32 = libc::ESRCH;
const EEXIST: i32 = libc::EEXIST;
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
    bytes: Vec<u8>,
    /// Errnos that count as success (ENOENT for a delete, EEXIST for an add).
    tolerated: &'static [i32],
}

/// The kernel's answer to one request.
#[derive(Debug, Default)]
struct Reply {
    /// 0 when acknowledged (or the errno was tolerated).
    errno: i32,
    /// The errno before toleration, to tell "deleted" from "nothing there".
    raw_errno: i32,
    detail: Option<String>,
    /// Messages before the ACK: (type, payload).
    data: Vec<(u16, Vec<u8>)>,
}

/// An `AF_NETLINK`/`NETLINK_ROUTE` socket.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
    protocol: u8,
    buf: Vec<u8>,
}

impl fmt::Debug for Netlink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Netlink").field("fd", &self.fd.as_raw_fd()).field("seq", &self.seq).finish()
    }
}

fn setsockopt<T>(fd: &OwnedFd, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a live reference to a `T`, and the length passed is
    // exactly `size_of::<T>()`; the kernel only reads that many bytes.
    let r = unsafe {
        libc::setsockopt(fd.as_raw_fd(), level, name, (value as *const T).cast(), std::mem::size_of::<T>() as libc::socklen_t)
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn kernel_addr() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is a plain C struct for which all-zero bytes is a
    // valid value (and is what the kernel expects in the unused fields).
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain system call with constant arguments; the result is
        // checked before use.
        let raw = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a freshly created descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let addr = kernel_addr();
        // SAFETY: `addr` is a valid sockaddr_nl and the length is its size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // Best effort: older kernels lack these, and then errors just come
        // without the kernel's message (and with the request echoed).
        let one: libc::c_int = 1;
        let _ = setsockopt(&fd, SOL_NETLINK, NETLINK_CAP_ACK, &one);
        let _ = setsockopt(&fd, SOL_NETLINK, NETLINK_EXT_ACK, &one);
        let rcvbuf: libc::c_int = 1 << 20;
        let _ = setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &rcvbuf);
        let tv = libc::timeval { tv_sec: TIMEOUT.as_secs() as libc::time_t, tv_usec: 0 };
        setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)?;
        Ok(Netlink { fd, seq: 0, protocol: RTPROT_STATIC, buf: vec![0; 32 * 1024] })
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
                let request = delete_default(route.family, RT_TABLE_MAIN, object);
                requests.extend([request.clone(), request]);
                owners.extend([k, k]);
                continue;
            }
            match route_request(route, self.protocol, &indices, &object) {
                Ok(bytes) => {
                    requests.push(Request { object, bytes, tolerated: &[] });
                    owners.push(k);
                }
                Err(f) => failures.push((k, f)),
            }
        }
        let replies = self.transact(&mut requests)?;
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
        self.drain(vec![delete_default(family, table, object)])
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
                Ok(bytes) => requests.push(Request { object, bytes, tolerated: &[EEXIST] }),
                Err(f) => failures.push(f),
            }
        }
        let replies = self.transact(&mut requests)?;
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
        Ok(flags & IFF_LOWER_UP != 0)
    }

    fn link(&mut self, dev: &str) -> io::Result<(u32, u32)> {
        let mut requests = vec![link_request(dev)?];
        let replies = self.transact(&mut requests)?;
        let reply = replies.into_iter().next().unwrap_or_default();
        if reply.errno != 0 {
            return check(vec![failure(&requests[0], &reply)]).map(|_| (0, 0));
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
        let replies = self.transact(&mut requests)?;
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
            let mut requests: Vec<Request> = active.iter().flat_map(|t| std::iter::repeat_n(t.clone(), COPIES)).collect();
            let replies = self.transact(&mut requests)?;
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
    fn transact(&mut self, requests: &mut [Request]) -> io::Result<Vec<Reply>> {
        let mut replies = Vec::with_capacity(requests.len());
        for chunk in requests.chunks_mut(BATCH) {
            let mut batch = Vec::new();
            let mut pending: HashMap<u32, usize> = HashMap::new();
            for (i, request) in chunk.iter_mut().enumerate() {
                let seq = self.next_seq();
                set_seq(&mut request.bytes, seq);
                batch.extend_from_slice(&request.bytes);
                pending.insert(seq, i);
            }
            self.send(&batch)?;
            let mut got: Vec<Reply> = (0..chunk.len()).map(|_| Reply::default()).collect();
            while !pending.is_empty() {
                let n = self.recv().map_err(|e| {
                    let mut waiting: Vec<usize> = pending.values().copied().collect();
                    waiting.sort_unstable();
                    let objects: Vec<&str> = waiting.iter().filter_map(|&i| chunk.get(i)).map(|r| r.object.as_str()).collect();
                    io::Error::new(e.kind(), format!("netlink: {e}; no answer for: {}", objects.join(", ")))
                })?;
                let Some(data) = self.buf.get(..n) else { continue };
                for message in messages(data) {
                    let message = message.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("netlink: {e}")))?;
                    let Some(&i) = pending.get(&message.seq) else { continue };
                    let Some(reply) = got.get_mut(i) else { continue };
                    match message.kind {
                        NLMSG_NOOP => {}
                        NLMSG_OVERRUN => return Err(io::Error::other("netlink: overrun")),
                        NLMSG_ERROR | NLMSG_DONE => {
                            let (errno, detail) = if message.kind == NLMSG_DONE {
                                (ne_i32(message.payload, 0).and_then(i32::checked_neg).unwrap_or(0), None)
                            } else {
                                parse_error(message.flags, message.payload).ok_or_else(|| {
                                    io::Error::new(io::ErrorKind::InvalidData, "netlink: truncated error message")
                                })?
                            };
                            reply.raw_errno = errno;
                            let tolerated = chunk.get(i).is_some_and(|r| r.tolerated.contains(&errno));
                            reply.errno = if tolerated { 0 } else { errno };
                            reply.detail = detail;
                            pending.remove(&message.seq);
                        }
                        kind => reply.data.push((kind, message.payload.to_vec())),
                    }
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
        let addr = kernel_addr();
        loop {
            // SAFETY: `batch` is a live slice and the length passed is its
            // length; `addr` is a valid sockaddr_nl of the size passed.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    batch.as_ptr().cast(),
                    batch.len(),
                    0,
                    (&addr as *const libc::sockaddr_nl).cast(),
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n as usize != batch.len() {
                return Err(io::Error::new(io::ErrorKind::WriteZero, "netlink: short send"));
            }
            return Ok(());
        }
    }

    /// Receives one datagram from the kernel into `self.buf`, growing it to
    /// the datagram's size first; returns its length.
    fn recv(&mut self) -> io::Result<usize> {
        loop {
            // Peek with MSG_TRUNC for the datagram's full size.
            // SAFETY: the pointer and length describe `self.buf`, which is
            // live and writable for the duration of the call.
            let size = unsafe {
                libc::recv(self.fd.as_raw_fd(), self.buf.as_mut_ptr().cast(), self.buf.len(), libc::MSG_PEEK | libc::MSG_TRUNC)
            };
            if size < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let size = size as usize;
            if size > self.buf.len() {
                self.buf.resize(size, 0);
            }
            let mut from = kernel_addr();
            let mut from_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            // SAFETY: as above for the buffer; `from` and `from_len` are
            // live, and `from_len` holds the size of `from`.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    0,
                    (&mut from as *mut libc::sockaddr_nl).cast(),
                    &mut from_len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            // Only the kernel (port 0) answers; drop anything else.
            if from.nl_pid != 0 {
                continue;
            }
            return Ok((n as usize).min(self.buf.len()));
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

/// The table byte of a header: the table itself when it fits, else
/// RT_TABLE_UNSPEC with the table in an attribute.
fn table_byte(table: u32) -> u8 {
    u8::try_from(table).unwrap_or(RT_TABLE_UNSPEC)
}

fn delete_rules(family: Family, priority: u32) -> Request {
    let object = format!("ip {} rule del priority {priority}", family.flag());
    let mut b = Builder::new(RTM_DELRULE, NLM_F_ACK);
    b.header(&fib_rule_hdr(af(family), 0, RT_TABLE_UNSPEC, FR_ACT_UNSPEC)).u32(FRA_PRIORITY, priority);
    Request { object, bytes: b.finish(), tolerated: &[ENOENT, ESRCH] }
}

fn delete_default(family: Family, table: u32, object: String) -> Request {
    let mut b = Builder::new(RTM_DELROUTE, NLM_F_ACK);
    // Type, protocol 0 and scope "nowhere" match any route.
    b.header(&rtmsg(af(family), table_byte(table), 0, RT_SCOPE_NOWHERE, RTN_UNSPEC, 0)).u32(RTA_TABLE, table);
    Request { object, bytes: b.finish(), tolerated: &[ESRCH, ENOENT] }
}

fn addr_bytes(addr: &IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn route_request(
    route: &Route,
    protocol: u8,
    indices: &HashMap<String, Result<u32, Failure>>,
    object: &str,
) -> Result<Vec<u8>, Failure> {
    let table = route.table.unwrap_or(RT_TABLE_MAIN);
    let family = af(route.family);
    let mut hops = Vec::new();
    for hop in &route.nexthops {
        if let Some(value) = &hop.gateway {
            let gw = value.known().ok_or_else(|| invalid(object, "a learned gateway not filled in"))?;
            if Family::of(&gw) != route.family {
                return Err(invalid(object, format!("gateway {gw} is not {:?}", route.family)));
            }
        }
        let index = match indices.get(&hop.dev) {
            Some(Ok(i)) => *i,
            Some(Err(f)) => return Err(Failure { object: object.to_string(), errno: f.errno, detail: Some(f.to_string()) }),
            None => return Err(invalid(object, format!("interface {} not looked up", hop.dev))),
        };
        hops.push((hop, index));
    }
    let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    let mut b = Builder::new(RTM_NEWROUTE, flags);
    match hops.as_slice() {
        [] => {
            b.header(&rtmsg(family, table_byte(table), protocol, RT_SCOPE_UNIVERSE, RTN_THROW, 0)).u32(RTA_TABLE, table);
        }
        [(hop, index)] => {
            // As `ip`: a route without a gateway is a link route.
            let (scope, flags) = match hop.gateway {
                Some(_) => (RT_SCOPE_UNIVERSE, u32::from(RTNH_F_ONLINK)),
                None => (RT_SCOPE_LINK, 0),
            };
            b.header(&rtmsg(family, table_byte(table), protocol, scope, RTN_UNICAST, flags)).u32(RTA_TABLE, table);
            if let Some(gw) = hop.gateway.and_then(|v| v.known()) {
                b.attr(RTA_GATEWAY, &addr_bytes(&gw));
            }
            b.u32(RTA_OIF, *index);
        }
        many => {
            b.header(&rtmsg(family, table_byte(table), protocol, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)).u32(RTA_TABLE, table);
            b.begin(RTA_MULTIPATH);
            for (hop, index) in many {
                let hops = match hop.weight {
                    1..=256 => (hop.weight - 1) as u8,
                    w => return Err(invalid(object, format!("weight {w} is outside 1-256"))),
                };
                let flags = if hop.gateway.is_some() { RTNH_F_ONLINK } else { 0 };
                b.nexthop(flags, hops, *index, |b| {
                    if let Some(gw) = hop.gateway.and_then(|v| v.known()) {
                        b.attr(RTA_GATEWAY, &addr_bytes(&gw));
                    }
                });
            }
            b.end();
        }
    }
    Ok(b.finish())
}

fn rule_request(rule: &IpRule, object: &str) -> Result<Vec<u8>, Failure> {
    if rule.priority == 0 {
        return Err(invalid(object, "priority 0 is the local rule's"));
    }
    let family = af(rule.family);
    let table = match rule.selector {
        Selector::SuppressMain => RT_TABLE_MAIN,
        _ => rule.table,
    };
    let src_len = match &rule.selector {
        Selector::From(net) => {
            if Family::of(&net.addr()) != rule.family {
                return Err(invalid(object, format!("{net} is not {:?}", rule.family)));
            }
            net.prefix_len()
        }
        Selector::FromLearned(..) => return Err(invalid(object, "a learned address not filled in")),
        _ => 0,
    };
    let mut b = Builder::new(RTM_NEWRULE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    b.header(&fib_rule_hdr(family, src_len, table_byte(table), FR_ACT_TO_TBL))
        .u32(FRA_PRIORITY, rule.priority)
        .u32(FRA_TABLE, table);
    match &rule.selector {
        Selector::SuppressMain => {
            b.u32(FRA_SUPPRESS_PREFIXLEN, 0);
        }
        Selector::From(net) => {
            b.attr(FRA_SRC, &addr_bytes(&net.addr()));
        }
        Selector::FromLearned(..) => {}
        Selector::Fwmark(mark) => {
            b.u32(FRA_FWMARK, *mark).u32(FRA_FWMASK, MARK_MASK);
        }
    }
    Ok(b.finish())
}

fn link_request(dev: &str) -> io::Result<Request> {
    let object = format!("link {dev}");
    if dev.is_empty() || dev.len() >= 16 || dev.bytes().any(|c| c == 0 || c == b'/' || c.is_ascii_whitespace()) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{object}: not an interface name")));
    }
    let mut name = dev.as_bytes().to_vec();
    name.push(0);
    let mut b = Builder::new(RTM_GETLINK, NLM_F_ACK);
    b.header(&ifinfomsg()).attr(IFLA_IFNAME, &name).u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    Ok(Request { object, bytes: b.finish(), tolerated: &[] })
}

/// The index and flags of the link in a GETLINK reply.
fn parse_link(reply: &Reply) -> Option<(u32, u32)> {
    let (_, payload) = reply.data.iter().find(|(kind, _)| *kind == RTM_NEWLINK)?;
    let index = ne_i32(payload, 4)?;
    let flags = ne_u32(payload, 8)?;
    Some((u32::try_from(index).ok().filter(|i| *i > 0)?, flags))
}
