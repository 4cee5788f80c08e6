//! The probes: ICMP echo, TCP connect, HTTP(S) GET, DNS query or a WASM
//! plugin, each sent from the uplink's address and bound to its interface,
//! so a failed uplink is still tested through itself. Echoes and connects
//! are pieces the scheduler's event loop drives without blocking; the rest
//! are whole blocking rounds for its worker pool.

use super::tls;
use crate::decide::{Outcome, SHORTAGE};
use crate::ir::{HttpUrl, Target};
use crate::plugin::{LoadedPlugin, PluginHost, ProbeRequest};
use rustls::ClientConfig;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where probes leave from.
#[derive(Clone, Debug)]
pub struct Source {
    pub interface: String,
    pub v4: Option<IpAddr>,
    pub v6: Option<IpAddr>,
}

/// The blocking probes (HTTP(S), DNS, plugins), run by the scheduler's
/// worker pool; ping and tcp are driven by its event loop with the pieces
/// below.
pub struct Prober<'a> {
    pub source: &'a Source,
    /// For https checks.
    pub tls: &'a Arc<ClientConfig>,
    pub plugins: &'a PluginHost,
}

impl Source {
    /// A socket bound to the uplink's interface (on Linux) and, when it has
    /// an address of the target's family, to that address; the error says
    /// which of them is missing.
    pub fn bind(&self, domain: Domain, ty: Type, proto: Option<Protocol>, target: &IpAddr) -> Result<Socket, String> {
        let socket = Socket::new(domain, ty, proto).map_err(|e| match e.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE) => format!("{SHORTAGE} descriptors: {e}"),
            Some(libc::ENOBUFS | libc::ENOMEM) => format!("{SHORTAGE} memory: {e}"),
            _ => format!("cannot open a socket: {e}"),
        })?;
        self.bind_interface(&socket)?;
        if let Some(src) = self.for_target(target) {
            socket.bind(&SockAddr::from(SocketAddr::new(src, 0))).map_err(|e| match e.raw_os_error() {
                // Also while the address is still tentative (IPv6 DAD) or
                // the interface has not got it yet (DHCP, PPP).
                Some(libc::EADDRNOTAVAIL) => format!("address `{src}` is not on interface `{}` (yet)", self.interface),
                _ => format!("cannot send from `{src}`: {e}"),
            })?;
        }
        Ok(socket)
    }

    /// Linux: `SO_BINDTODEVICE`, so the probe leaves by the uplink whatever
    /// the routing table says.
    #[cfg(target_os = "linux")]
    fn bind_interface(&self, socket: &Socket) -> Result<(), String> {
        socket.bind_device(Some(self.interface.as_bytes())).map_err(|e| match e.raw_os_error() {
            Some(libc::ENODEV) => format!("interface `{}` does not exist", self.interface),
            _ => format!("cannot bind to interface `{}`: {e}", self.interface),
        })
    }

    /// Elsewhere (OpenBSD) a socket cannot be bound to an interface: the
    /// source address it is bound to decides, since pf sends traffic from
    /// an uplink's address out by that uplink (`route-to` in pf/wanc.conf).
    #[cfg(not(target_os = "linux"))]
    fn bind_interface(&self, _socket: &Socket) -> Result<(), String> {
        Ok(())
    }

    fn for_target(&self, target: &IpAddr) -> Option<IpAddr> {
        if target.is_ipv4() {
            self.v4
        } else {
            self.v6
        }
    }

    /// A non-blocking raw ICMP (ICMPv6) socket for echoes to `target`.
    pub fn echo_socket(&self, target: IpAddr) -> Result<Socket, String> {
        let (domain, proto) = if target.is_ipv4() { (Domain::IPV4, Protocol::ICMPV4) } else { (Domain::IPV6, Protocol::ICMPV6) };
        let socket = self.bind(domain, Type::RAW, Some(proto), &target)?;
        socket.set_nonblocking(true).map_err(|e| format!("cannot open an ICMP socket: {e}"))?;
        Ok(socket)
    }

    /// A non-blocking TCP connection attempt to `to`, under way: it ended
    /// when the socket is writable (see [`connect_outcome`]).
    pub fn start_connect(&self, to: SocketAddr) -> Result<Socket, String> {
        let socket = self.bind(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP), &to.ip())?;
        socket.set_nonblocking(true).map_err(|e| e.to_string())?;
        match socket.connect(&SockAddr::from(to)) {
            Err(e) if e.raw_os_error() != Some(libc::EINPROGRESS) => Err(e.to_string()),
            _ => Ok(socket),
        }
    }
}

impl Prober<'_> {
    fn connect(&self, to: SocketAddr, timeout: Duration) -> Result<(TcpStream, Duration), String> {
        let start = Instant::now();
        let socket = self.source.bind(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP), &to.ip())?;
        let done = socket.connect_timeout(&SockAddr::from(to), timeout).and_then(|()| {
            let stream: TcpStream = socket.into();
            stream.set_read_timeout(Some(timeout))?;
            stream.set_write_timeout(Some(timeout))?;
            Ok(stream)
        });
        done.map(|stream| (stream, start.elapsed())).map_err(|e| e.to_string())
    }

    /// A plugin's round; `plugin` is the loaded module or why it did not load.
    pub fn plugin(
        &self,
        plugin: &Result<Arc<LoadedPlugin>, String>,
        settings: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Outcome {
        let plugin = match plugin {
            Ok(p) => p,
            Err(e) => return Outcome::fail(e.clone()),
        };
        let source = self.source.v4.or(self.source.v6);
        let request = ProbeRequest::new(settings.clone(), source, timeout);
        let out = self.plugins.probe(plugin, &request);
        Outcome {
            ok: out.up,
            detail: out.reason,
            rtt_ms: out.measurement.map(|us| us as f64 / 1000.0),
            loss_percent: None,
            local: false,
        }
    }

    /// An HTTP/1.0 GET, over TLS for https; up when the status is the
    /// one expected. The round trip is the connection's, as for tcp.
    pub fn http(&self, url: &HttpUrl, expect: u16, timeout: Duration) -> Outcome {
        let Some(addr) = resolve(&url.host) else { return Outcome::fail(format!("cannot resolve `{}`", url.host)) };
        let (mut stream, rtt) = match self.connect(SocketAddr::new(addr, url.port), timeout) {
            Ok(s) => s,
            Err(e) => return Outcome::fail(e),
        };
        let request = format!("GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: wanc-agent\r\n\r\n", url.path, url.authority());
        let line = if url.tls {
            match tls::connect(self.tls, &url.host, stream) {
                Ok(mut session) => status_line(&mut session, &request),
                Err(e) => return Outcome::fail(e),
            }
        } else {
            status_line(&mut stream, &request)
        };
        let line = match line {
            Ok(line) => line,
            Err(e) => return Outcome::fail(e.to_string()),
        };
        let status: Option<u16> = line.split_whitespace().nth(1).and_then(|s| s.parse().ok());
        match status {
            Some(s) => Outcome::answered(s == expect, format!("status {s}"), rtt),
            None => Outcome::fail("no HTTP status line"),
        }
    }

    pub fn dns(&self, server: IpAddr, query: &str, timeout: Duration) -> Outcome {
        let socket =
            match self.source.bind(Domain::for_address(SocketAddr::new(server, 53)), Type::DGRAM, Some(Protocol::UDP), &server) {
                Ok(s) => s,
                Err(e) => return Outcome::fail(e),
            };
        let id = random_u16();
        let packet = dns_query(id, query);
        let start = Instant::now();
        if let Err(e) = socket.send_to(&packet, &SockAddr::from(SocketAddr::new(server, 53))) {
            return Outcome::fail(e.to_string());
        }
        let deadline = start + timeout;
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 512];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if socket.set_read_timeout(Some(left.max(Duration::from_millis(1)))).is_err() {
                break;
            }
            let Ok((n, _)) = socket.recv_from(&mut buf) else { break };
            // SAFETY: recv_from initialised the first n bytes.
            let reply: Vec<u8> = buf[..n].iter().map(|b| unsafe { b.assume_init() }).collect();
            if reply.len() >= 4 && reply[0..2] == id.to_be_bytes() && reply[2] & 0x80 != 0 {
                let rcode = reply[3] & 0x0f;
                let ok = rcode == 0 || rcode == 3;
                return Outcome::answered(ok, format!("rcode {rcode}"), start.elapsed());
            }
        }
        Outcome::fail("no answer")
    }
}

/// Sends the request and reads the reply's first line (up to 256 bytes:
/// a status line is far shorter).
fn status_line(stream: &mut (impl Read + Write), request: &str) -> std::io::Result<String> {
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < buf.len() {
        match stream.read(&mut buf[..256 - head.len()])? {
            0 => break,
            n => head.extend_from_slice(&buf[..n]),
        }
    }
    Ok(String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string())
}

pub fn resolve(target: &Target) -> Option<IpAddr> {
    match target {
        Target::Address(a) => Some(*a),
        Target::Hostname(h) => (h.as_str(), 0).to_socket_addrs().ok()?.next().map(|s| s.ip()),
    }
}

/// An echo request (ICMP or ICMPv6) with this identifier and sequence.
pub fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(b"wanc-agent-probe");
    if !v6 {
        // The kernel fills in ICMPv6 checksums itself, not ICMP ones.
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// Whether a packet read from a raw ICMP socket is the target's reply to
/// the request with this identifier and sequence (a raw socket sees every
/// ICMP packet of the host: other pingers', other checks').
pub fn is_echo_reply(packet: &[u8], from: Option<IpAddr>, target: IpAddr, id: u16, seq: u16) -> bool {
    let v6 = target.is_ipv6();
    // Raw IPv4 sockets deliver the IP header; IPv6 ones do not.
    let header = if v6 { 0 } else { packet.first().map_or(0, |b| usize::from(b & 0x0f) * 4) };
    let Some(icmp) = packet.get(header..) else { return false };
    let reply_type = if v6 { 129 } else { 0 };
    from == Some(target)
        && icmp.len() >= 8
        && icmp[0] == reply_type
        && icmp[4..6] == id.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

/// The verdict of a tcp round whose connection attempt ended (the socket
/// became writable or failed) after `rtt`.
pub fn connect_outcome(socket: &Socket, rtt: Duration) -> Outcome {
    match socket.take_error() {
        Ok(None) => Outcome::answered(true, "connected", rtt),
        Ok(Some(e)) | Err(e) => Outcome::fail(e.to_string()),
    }
}

/// A random number from the standard library's per-process random keys,
/// so that identifiers cannot be guessed by other hosts.
pub fn random_u16() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish() as u16
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(32 + name.len());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // recursion desired, one question
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        let label = &label.as_bytes()[..label.len().min(63)];
        p.push(label.len() as u8);
        p.extend_from_slice(label);
    }
    p.push(0);
    p.extend_from_slice(&[0, 1, 0, 1]); // type A, class IN
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_checksum_of_a_known_packet() {
        // echo request id 1 seq 1, no payload: checksum 0xf7fd
        assert_eq!(checksum(&[8, 0, 0, 0, 0, 1, 0, 1]), 0xf7fd);
    }

    #[test]
    fn echo_replies_are_told_from_other_icmp() {
        let target: IpAddr = "192.0.2.1".parse().unwrap();
        let mut reply = vec![0x45; 1];
        reply.resize(20, 0);
        reply.extend_from_slice(&echo_request(false, 7, 2));
        reply[20] = 0; // echo reply
        assert!(is_echo_reply(&reply, Some(target), target, 7, 2));
        assert!(!is_echo_reply(&reply, Some(target), target, 7, 1), "another request's");
        assert!(!is_echo_reply(&reply, Some("192.0.2.9".parse().unwrap()), target, 7, 2), "another host's");
        assert!(!is_echo_reply(&reply[..24], Some(target), target, 7, 2), "truncated");
        assert!(!is_echo_reply(&[0x4f], Some(target), target, 7, 2), "a header longer than the packet");
    }

    #[test]
    fn dns_query_encodes_labels() {
        let q = dns_query(0x1234, "example.net.");
        assert_eq!(&q[..2], &[0x12, 0x34]);
        assert_eq!(&q[12..], b"\x07example\x03net\x00\x00\x01\x00\x01");
    }
}
