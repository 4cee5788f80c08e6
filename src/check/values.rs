//! Typed expectations on values: "this place takes an address", with
//! constants and hosts followed, and E0201/E0103/E0101 when it does not fit.

use super::names::Kind;
use super::services;
use super::Checker;
use crate::ast::{Value, ValueKind};
use crate::codes::Code;
use crate::diagnostic::{suggest, Diagnostic};
use crate::ir::Ports;
use crate::source::Span;
use ipnet::IpNet;
use std::net::IpAddr;

/// A value with constants followed to what they stand for.
pub enum Target<'a> {
    Literal(&'a ValueKind),
    Host(usize),
    Lan(usize),
    /// Reported already (unknown name, invalid literal).
    Nothing,
}

#[derive(Clone, Debug)]
pub struct Addr {
    pub addr: IpAddr,
    pub zone: Option<String>,
    pub span: Span,
}

impl<'a> Checker<'a, '_> {
    /// Follows constants. Names of kinds other than `kinds` (plus constants)
    /// are E0103; unknown names E0101.
    pub fn deref(&mut self, value: &'a Value, kinds: &[Kind]) -> Target<'a> {
        let mut value = value;
        for _ in 0..16 {
            let ValueKind::Name(ident) = &value.kind else {
                return match value.kind {
                    ValueKind::Invalid => Target::Nothing,
                    _ => Target::Literal(&value.kind),
                };
            };
            let mut allowed = vec![Kind::Const];
            allowed.extend_from_slice(kinds);
            let Some(sym) = self.names.expect(ident, &allowed, self.diags) else { return Target::Nothing };
            match sym.kind {
                Kind::Const => value = self.items.consts[sym.index].1,
                Kind::Host => return Target::Host(sym.index),
                Kind::Lan => return Target::Lan(sym.index),
                _ => return Target::Nothing,
            }
        }
        self.diags.push(
            Diagnostic::new(Code::TypeMismatch, value.span, "constant refers to itself")
                .label("this chain of constants never reaches a value")
                .help("give one of the constants a literal value"),
        );
        Target::Nothing
    }

    pub fn mismatch(&mut self, span: Span, expected: &str, found: &str, help: &str) {
        self.diags.push(
            Diagnostic::new(Code::TypeMismatch, span, format!("expected {expected}, found {found}"))
                .label(format!("this is {found}"))
                .help(help.to_string()),
        );
    }

    pub fn address(&mut self, value: &'a Value) -> Option<Addr> {
        match self.deref(value, &[Kind::Host]) {
            Target::Literal(ValueKind::Address { addr, zone }) => {
                Some(Addr { addr: *addr, zone: zone.clone(), span: value.span })
            }
            Target::Host(i) => self.host_addrs[i].map(|addr| Addr { addr, zone: None, span: value.span }),
            Target::Literal(ValueKind::Prefix(net)) => {
                let help = format!("an address has no length: write `{}`", net.addr());
                self.mismatch(value.span, "an address", "a prefix", &help);
                None
            }
            Target::Literal(other) => {
                let help = "write an IPv4 or IPv6 address, such as `192.0.2.1` or `2001:db8::1`, or a host name";
                self.mismatch(value.span, "an address", other.describe(), help);
                None
            }
            Target::Lan(_) | Target::Nothing => None,
        }
    }

    /// An address that may carry a prefix length (an uplink's own address).
    pub fn interface_address(&mut self, value: &'a Value) -> Option<IpNet> {
        match self.deref(value, &[]) {
            Target::Literal(ValueKind::Prefix(net)) => Some(*net),
            Target::Literal(ValueKind::Address { addr, zone }) => {
                if let Some(zone) = zone {
                    let help = format!("the uplink's link is its `interface`; write `address {addr}`");
                    self.zone_refused(value.span, *addr, zone, "an uplink's address takes no zone", &help);
                }
                Some(IpNet::from(*addr))
            }
            Target::Literal(other) => {
                let help = "write the uplink's address, optionally with its prefix length: `198.51.100.199/24`";
                self.mismatch(value.span, "an address", other.describe(), help);
                None
            }
            _ => None,
        }
    }

    /// A network: a prefix, as in `network 192.168.1.0/24`.
    pub fn network(&mut self, value: &'a Value) -> Option<IpNet> {
        match self.deref(value, &[]) {
            Target::Literal(ValueKind::Prefix(net)) => Some(self.without_host_bits(net, value.span)),
            Target::Literal(ValueKind::Address { addr, .. }) => {
                let len = if addr.is_ipv4() { 24 } else { 64 };
                let example = IpNet::new(*addr, len).map(|n| n.trunc().to_string()).unwrap_or_default();
                let help = format!("a network carries its length, such as `{example}`");
                self.mismatch(value.span, "a prefix", "an address", &help);
                None
            }
            Target::Literal(other) => {
                self.mismatch(value.span, "a prefix", other.describe(), "write a prefix such as `192.168.1.0/24`");
                None
            }
            _ => None,
        }
    }

    /// The network of a prefix, with W0211 when host bits are set.
    fn without_host_bits(&mut self, net: &IpNet, span: Span) -> IpNet {
        if net.trunc() != *net {
            self.diags.push(
                Diagnostic::new(Code::HostBitsSet, span, format!("`{net}` has host bits set"))
                    .label(format!("taken as `{}`", net.trunc()))
                    .help(format!("write the network address `{}`", net.trunc())),
            );
        }
        net.trunc()
    }

    /// E0201 for a `%zone` where it would be dropped: only gateways use it.
    fn zone_refused(&mut self, span: Span, addr: IpAddr, zone: &str, message: &str, help: &str) {
        self.diags.push(
            Diagnostic::new(Code::TypeMismatch, span, message.to_string())
                .label(format!("`{addr}%{zone}` names interface `{zone}`"))
                .help(help.to_string()),
        );
    }

    /// An address that must not carry a zone (hosts, `nat to`, `forward … to`,
    /// `serve … on`, probe targets): E0201 otherwise, since the zone would be
    /// dropped without effect.
    pub fn plain_address(&mut self, value: &'a Value, what: &str) -> Option<Addr> {
        let addr = self.address(value)?;
        if let Some(zone) = &addr.zone {
            let link_local = matches!(addr.addr, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
            let help = if link_local {
                "only a gateway names the link of a link-local address (`gateway fe80::1%IF`); use a global address here"
                    .to_string()
            } else {
                format!("zones belong to link-local gateways; write `{}`", addr.addr)
            };
            let zone = zone.clone();
            self.zone_refused(value.span, addr.addr, &zone, &format!("{what} takes no zone"), &help);
        }
        Some(addr)
    }

    /// Addresses for `from`/`to`: prefixes, addresses, hosts, lans and lists.
    pub fn address_set(&mut self, value: &'a Value, out: &mut Vec<IpNet>) {
        match self.deref(value, &[Kind::Host, Kind::Lan]) {
            Target::Literal(ValueKind::Prefix(net)) => {
                let net = self.without_host_bits(net, value.span);
                out.push(net)
            }
            Target::Literal(ValueKind::Address { addr, zone }) => {
                if let Some(zone) = zone {
                    let help = format!("a rule matches addresses, whatever the link; write `{addr}`");
                    self.zone_refused(value.span, *addr, zone, "an address in `from` or `to` takes no zone", &help);
                }
                out.push(IpNet::from(*addr))
            }
            Target::Literal(ValueKind::Set(items)) => {
                for item in items {
                    self.address_set(item, out);
                }
            }
            Target::Host(i) => out.extend(self.host_addrs[i].map(IpNet::from)),
            Target::Lan(i) => out.extend(self.lan_networks[i].iter().copied()),
            Target::Literal(other) => {
                let help = "name a lan or a host, or write a prefix, an address or a list `{ … }` of them";
                self.mismatch(value.span, "addresses", other.describe(), help);
            }
            Target::Nothing => {}
        }
    }

    pub fn duration(&mut self, value: &'a Value) -> Option<u64> {
        match self.deref(value, &[]) {
            Target::Literal(ValueKind::DurationMs(ms)) => Some(*ms),
            Target::Literal(ValueKind::Integer(n)) => {
                let help = format!("durations carry a unit: `{n}s`, `{n}ms`, `{n}m` or `{n}h`");
                self.mismatch(value.span, "a duration", "a number", &help);
                None
            }
            Target::Literal(other) => {
                self.mismatch(value.span, "a duration", other.describe(), "write a duration such as `10s` or `250ms`");
                None
            }
            _ => None,
        }
    }

    pub fn integer(&mut self, value: &'a Value, range: std::ops::RangeInclusive<u64>, what: &str) -> Option<u64> {
        match self.deref(value, &[]) {
            Target::Literal(ValueKind::Integer(n)) if range.contains(n) => Some(*n),
            Target::Literal(ValueKind::Integer(n)) => {
                self.out_of_range(
                    value.span,
                    format!("`{n}` is out of range for {what}"),
                    format!("{what} is from {} to {}", range.start(), range.end()),
                );
                None
            }
            Target::Literal(other) => {
                self.mismatch(value.span, "a number", other.describe(), &format!("{what} is a whole number"));
                None
            }
            _ => None,
        }
    }

    pub fn percent(&mut self, value: &'a Value) -> Option<f64> {
        match self.deref(value, &[]) {
            Target::Literal(ValueKind::Percent(p)) => Some(*p),
            Target::Literal(other) => {
                self.mismatch(value.span, "a percentage", other.describe(), "write a percentage such as `20%`");
                None
            }
            _ => None,
        }
    }

    pub fn string(&mut self, value: &'a Value) -> Option<String> {
        match self.deref(value, &[]) {
            Target::Literal(ValueKind::Str(s)) => Some(s.clone()),
            Target::Literal(other) => {
                self.mismatch(value.span, "a string", other.describe(), "write the text in double quotes");
                None
            }
            _ => None,
        }
    }

    pub fn out_of_range(&mut self, span: Span, message: String, help: String) {
        self.diags.push(Diagnostic::new(Code::OutOfRange, span, message).label("out of range").help(help));
    }

    /// A name that no item defines, read as a service name. `Some(None)`:
    /// it is not a known service (reported, E0101); `None`: the value is not
    /// such a name, and constants are followed as usual.
    fn service(&mut self, value: &Value, fallback: &str) -> Option<Option<u16>> {
        let ValueKind::Name(ident) = &value.kind else { return None };
        if self.names.get(&ident.name).is_some() {
            return None;
        }
        let port = services::port_of(&ident.name);
        if port.is_none() {
            let names = services::SERVICES.iter().map(|(n, _)| *n);
            let help = match suggest(&ident.name, names) {
                Some(s) => format!("did you mean `{s}`?"),
                None => fallback.to_string(),
            };
            self.diags.push(
                Diagnostic::new(Code::UnknownName, value.span, format!("unknown service `{}`", ident.name))
                    .label("not a known service name")
                    .help(help),
            );
        }
        Some(port)
    }

    /// One port: a number or a service name (`check tcp HOST:PORT`,
    /// `forward … port PORT`).
    pub fn port(&mut self, value: &'a Value) -> Option<u16> {
        if let Some(port) = self.service(value, "write a port number from 1 to 65535, or a service name such as `https`") {
            return port;
        }
        match self.deref(value, &[]) {
            Target::Literal(ValueKind::Integer(n)) if (1..=65535).contains(n) => Some(*n as u16),
            Target::Literal(ValueKind::Integer(n)) => {
                self.out_of_range(value.span, format!("port `{n}` is out of range"), "ports are 1 to 65535".into());
                None
            }
            Target::Literal(other) => {
                let help = "one port goes here: a number from 1 to 65535, or a service name such as `https`";
                self.mismatch(value.span, "a port", other.describe(), help);
                None
            }
            _ => None,
        }
    }

    /// Ports: numbers, ranges, service names, and lists of them.
    pub fn ports(&mut self, value: &'a Value, out: &mut Vec<Ports>) {
        let fallback = "write a port number, a range `1024-2048`, or a service name such as `https`";
        if let Some(port) = self.service(value, fallback) {
            out.extend(port.map(|p| Ports { first: p, last: p }));
            return;
        }
        match self.deref(value, &[]) {
            Target::Literal(ValueKind::Integer(n)) if (1..=65535).contains(n) => {
                out.push(Ports { first: *n as u16, last: *n as u16 })
            }
            Target::Literal(ValueKind::Integer(n)) => {
                self.out_of_range(value.span, format!("port `{n}` is out of range"), "ports are 1 to 65535".into())
            }
            Target::Literal(ValueKind::PortRange(a, b)) => out.push(Ports { first: *a, last: *b }),
            Target::Literal(ValueKind::Set(items)) => {
                for item in items {
                    self.ports(item, out);
                }
            }
            Target::Literal(other) => {
                let help = "write a port number, a range `1024-2048`, a service name such as `https`, or a list `{ … }`";
                self.mismatch(value.span, "ports", other.describe(), help);
            }
            _ => {}
        }
    }
}
