//! `dns_answer`: one DNS query over the host's UDP; up when the server
//! answers the name with an address of the asked type (and, with `expect`,
//! that address among them).
//!
//! Settings:
//!   server  the DNS server: `IP`, `IP:PORT` or `[IPv6]:PORT` (port 53 if
//!           not given); the host allows this address only
//!   name    the name to ask for, such as `example.com`
//!   type    `A` (default) or `AAAA`
//!   expect  an address the answer must contain
//!
//! Replies whose ID, question or direction do not match the query are
//! ignored, as a stale or spoofed reply would be. CNAME chains in the answer
//! section are followed. The measurement is the round-trip time in
//! microseconds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use wanc_sdk::{clock_us, Error, Outcome, Settings, UdpSocket};

wanc_sdk::plugin! {
    settings: ["server", "name", "type?", "expect?"],
    probe: probe,
}

const CLASS_IN: u16 = 1;
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
/// Unrelated datagrams tolerated before giving up on a reply.
const MAX_DATAGRAMS: usize = 16;
/// Longest CNAME chain followed.
const MAX_CHAIN: usize = 8;

fn probe(settings: &Settings) -> Result<Outcome, Error> {
    let server = parse_server(settings.require("server")?)?;
    let name = settings.require("name")?;
    let qtype = match settings.get("type").unwrap_or("A").trim() {
        t if t.eq_ignore_ascii_case("A") => TYPE_A,
        t if t.eq_ignore_ascii_case("AAAA") => TYPE_AAAA,
        other => return Err(Error::new(format!("`type` is `{}`; use A or AAAA", other))),
    };
    let type_name = if qtype == TYPE_A { "A" } else { "AAAA" };
    let expect: Option<IpAddr> = match settings.get("expect") {
        Some(text) => Some(text.trim().parse().map_err(|_| Error::new(format!("`expect` is not an address: `{}`", text)))?),
        None => None,
    };
    if let Some(addr) = expect {
        if addr.is_ipv4() != (qtype == TYPE_A) {
            return Err(Error::new(format!("`expect` {} can never be an {} record", addr, type_name)));
        }
    }

    let qname = encode_name(name)?;
    let id = query_id(&qname);
    let query = build_query(id, &qname, qtype);
    let mut socket = UdpSocket::connect(server).map_err(|e| Error::new(format!("cannot reach {}: {}", server, e)))?;
    let start = clock_us();
    socket.send(&query).map_err(|e| Error::new(format!("cannot send to {}: {}", server, e)))?;

    let mut buf = [0u8; 4096];
    for _ in 0..MAX_DATAGRAMS {
        let n = socket.recv(&mut buf).map_err(|e| Error::new(format!("no answer from {}: {}", server, e)))?;
        let rtt = clock_us().saturating_sub(start);
        let reply = match parse_reply(&buf[..n], id, &qname, qtype) {
            Some(reply) => reply,
            None => continue,
        };
        let shown = display_name(&qname);
        if reply.rcode != 0 {
            return Ok(Outcome::down(format!("{} answered {} for {}", server, rcode_name(reply.rcode), shown)).measurement(rtt));
        }
        let addresses = reply.addresses;
        let list = addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
        let outcome = match expect {
            _ if addresses.is_empty() => Outcome::down(format!("{} has no {} record at {}", shown, type_name, server)),
            Some(wanted) if !addresses.contains(&wanted) => {
                Outcome::down(format!("{} {} is {} at {}, expected {}", shown, type_name, list, server, wanted))
            }
            _ => Outcome::up(format!("{} {} {} from {}", shown, type_name, list, server)),
        };
        return Ok(outcome.measurement(rtt));
    }
    Err(Error::new(format!("no reply from {} matched the query", server)))
}

fn parse_server(text: &str) -> Result<SocketAddr, Error> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| Error::new(format!("`server` is not an address: `{}`", text)))
}

/// The name in wire format: length-prefixed labels ending with the root.
fn encode_name(name: &str) -> Result<Vec<u8>, Error> {
    let trimmed = name.trim().trim_end_matches('.');
    let mut out = Vec::new();
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(Error::new(format!("`{}` is not a valid DNS name", name)));
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    if out.len() > 255 {
        return Err(Error::new(format!("`{}` is longer than a DNS name can be", name)));
    }
    Ok(out)
}

/// A query ID from the clock and the name: plugins have no random source,
/// and the ID only has to tell this query's reply from stale ones.
fn query_id(qname: &[u8]) -> u16 {
    let mut h = clock_us() ^ 0x9e37_79b9_7f4a_7c15;
    for &b in qname {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48)) as u16
}

fn build_query(id: u16, qname: &[u8], qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(12 + qname.len() + 4);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0100u16.to_be_bytes()); // standard query, recursion desired
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question, no records
    q.extend_from_slice(qname);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    q
}

struct Reply {
    rcode: u8,
    addresses: Vec<IpAddr>,
}

/// The reply to this query, or `None` for a datagram that is not one
/// (wrong ID, not a response, another question, malformed).
fn parse_reply(msg: &[u8], id: u16, qname: &[u8], qtype: u16) -> Option<Reply> {
    let header = msg.get(..12)?;
    let flags = u16_at(header, 2)?;
    if u16_at(header, 0)? != id || flags & 0x8000 == 0 || u16_at(header, 4)? != 1 {
        return None;
    }
    let rcode = (flags & 0x000f) as u8;
    let (asked, mut pos) = read_name(msg, 12)?;
    if asked != display_name(qname) || u16_at(msg, pos)? != qtype || u16_at(msg, pos + 2)? != CLASS_IN {
        return None;
    }
    pos += 4;

    let mut records = Vec::new();
    for _ in 0..u16_at(header, 6)? {
        let (owner, after) = read_name(msg, pos)?;
        let rtype = u16_at(msg, after)?;
        let class = u16_at(msg, after + 2)?;
        let rdlen = usize::from(u16_at(msg, after + 8)?);
        let rdata_at = after + 10;
        let rdata = msg.get(rdata_at..rdata_at.checked_add(rdlen)?)?;
        pos = rdata_at + rdlen;
        if class != CLASS_IN {
            continue;
        }
        let record = match rtype {
            TYPE_A if rdlen == 4 => Record::Addr(IpAddr::V4(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]))),
            TYPE_AAAA if rdlen == 16 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(rdata);
                Record::Addr(IpAddr::V6(Ipv6Addr::from(octets)))
            }
            TYPE_CNAME => Record::Alias(read_name(msg, rdata_at)?.0),
            _ => continue,
        };
        records.push((owner, record));
    }
    Some(Reply { rcode, addresses: resolve_chain(asked, &records, qtype) })
}

enum Record {
    Addr(IpAddr),
    Alias(String),
}

/// The addresses of `name`, following CNAMEs through the answer section.
fn resolve_chain(mut name: String, records: &[(String, Record)], qtype: u16) -> Vec<IpAddr> {
    for _ in 0..=MAX_CHAIN {
        let addresses: Vec<IpAddr> = records
            .iter()
            .filter(|(owner, _)| *owner == name)
            .filter_map(|(_, r)| match r {
                Record::Addr(a) if a.is_ipv4() == (qtype == TYPE_A) => Some(*a),
                _ => None,
            })
            .collect();
        if !addresses.is_empty() {
            return addresses;
        }
        match records.iter().find_map(|(owner, r)| match r {
            Record::Alias(target) if *owner == name => Some(target.clone()),
            _ => None,
        }) {
            Some(target) => name = target,
            None => break,
        }
    }
    Vec::new()
}

/// Reads a possibly compressed name at `pos`: the name in lowercase dotted
/// form and the position after it. Pointer loops and overlong names are
/// malformed.
fn read_name(msg: &[u8], start: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut pos = start;
    let mut after = None;
    let mut jumps = 0;
    loop {
        let len = usize::from(*msg.get(pos)?);
        match len & 0xc0 {
            0x00 if len == 0 => {
                pos += 1;
                break;
            }
            0x00 => {
                let label = msg.get(pos + 1..pos + 1 + len)?;
                for &b in label {
                    match b {
                        b'!'..=b'~' if b != b'.' && b != b'\\' => name.push(char::from(b.to_ascii_lowercase())),
                        _ => name.push_str(&format!("\\{:03}", b)),
                    }
                }
                name.push('.');
                if name.len() > 1024 {
                    return None;
                }
                pos += 1 + len;
            }
            0xc0 => {
                let low = usize::from(*msg.get(pos + 1)?);
                after.get_or_insert(pos + 2);
                jumps += 1;
                if jumps > 64 {
                    return None;
                }
                pos = ((len & 0x3f) << 8) | low;
            }
            _ => return None,
        }
    }
    if name.is_empty() {
        name.push('.');
    }
    Some((name, after.unwrap_or(pos)))
}

/// The dotted form of a wire-format name we built ourselves.
fn display_name(qname: &[u8]) -> String {
    read_name(qname, 0).map(|(n, _)| n).unwrap_or_default()
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn rcode_name(rcode: u8) -> String {
    match rcode {
        1 => "formerr".to_string(),
        2 => "servfail".to_string(),
        3 => "nxdomain".to_string(),
        4 => "notimp".to_string(),
        5 => "refused".to_string(),
        other => format!("rcode {}", other),
    }
}
