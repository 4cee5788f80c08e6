//! `Site` → bytes. Each section is encoded into its own buffer while its
//! strings are interned; the pool, complete only then, is written first.
//! Everything is visited in vector order (and `BTreeMap` order), so one
//! site always gives the same bytes.
//!
//! The encoder writes what it is given, checking nothing: a site that breaks
//! the model's invariants (an uplink index past the end, say) encodes, and
//! `decode` refuses the result. That keeps this side total and simple.

use super::cond;
use super::format::{crc32, tag, Section, Tagged, CHECKSUM_FROM, HEADER_LEN, MAGIC, MAJOR, MINOR};
use crate::ir::{
    Action, Address, Check, Family, Gateway, Healthy, Probe, Routing, Rule, RuleKind, Site, State, Target, Uplink, Via,
};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Appends `value` as unsigned LEB128: seven bits a byte, low bits first,
/// the high bit set on every byte but the last.
pub fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Strings in order of first use, each once.
#[derive(Default)]
struct Pool {
    index: BTreeMap<String, u64>,
    strings: Vec<String>,
}

impl Pool {
    fn intern(&mut self, s: &str) -> u64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.strings.len() as u64;
        self.index.insert(s.to_string(), i);
        self.strings.push(s.to_string());
        i
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        varint(&mut out, self.strings.len() as u64);
        for s in &self.strings {
            varint(&mut out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        out
    }
}

/// One section's payload being written.
struct Out<'p> {
    buf: Vec<u8>,
    pool: &'p mut Pool,
}

impl Out<'_> {
    fn u8(&mut self, b: u8) {
        self.buf.push(b);
    }

    fn int(&mut self, value: impl Into<u64>) {
        varint(&mut self.buf, value.into());
    }

    /// Indices and counts: `usize` is at most 64 bits wide.
    fn index(&mut self, value: usize) {
        varint(&mut self.buf, value as u64);
    }

    fn bool(&mut self, b: bool) {
        self.buf.push(u8::from(b));
    }

    fn str(&mut self, s: &str) {
        let i = self.pool.intern(s);
        varint(&mut self.buf, i);
    }

    fn tagged<T: Tagged>(&mut self, value: T) {
        self.buf.push(value.tag());
    }

    fn list<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.index(items.len());
        for i in items {
            item(self, i);
        }
    }

    fn option<T>(&mut self, value: &Option<T>, item: impl FnOnce(&mut Self, &T)) {
        match value {
            None => self.u8(tag::ABSENT),
            Some(v) => {
                self.u8(tag::PRESENT);
                item(self, v);
            }
        }
    }

    fn f64(&mut self, value: f64) {
        self.buf.extend_from_slice(&value.to_bits().to_le_bytes());
    }

    fn family(&mut self, family: Family) {
        self.u8(match family {
            Family::V4 => tag::IPV4,
            Family::V6 => tag::IPV6,
        });
    }

    fn address(&mut self, address: &Address) {
        match address {
            Address::Known(ip) => {
                self.u8(tag::ADDRESS_KNOWN);
                self.ip(ip);
            }
            Address::Learned(f) => {
                self.u8(tag::ADDRESS_LEARNED);
                self.family(*f);
            }
        }
    }

    fn ip(&mut self, addr: &IpAddr) {
        match addr {
            IpAddr::V4(a) => {
                self.u8(tag::IPV4);
                self.buf.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                self.u8(tag::IPV6);
                self.buf.extend_from_slice(&a.octets());
            }
        }
    }

    fn net(&mut self, net: &IpNet) {
        self.ip(&net.addr());
        self.u8(net.prefix_len());
    }

    fn actions(&mut self, actions: &[Action]) {
        self.list(actions, |o, a| match a {
            Action::Run(cmd) => {
                o.u8(tag::ACTION_RUN);
                o.str(cmd);
            }
            Action::Notify(text) => {
                o.u8(tag::ACTION_NOTIFY);
                o.str(text);
            }
            Action::FlushStates(uplinks) => {
                o.u8(tag::ACTION_FLUSH_STATES);
                o.list(uplinks, |o, &u| o.index(u));
            }
        });
    }

    fn ports(&mut self, ports: &[crate::ir::Ports]) {
        self.list(ports, |o, p| {
            o.int(p.first);
            o.int(p.last);
        });
    }

    fn via(&mut self, via: &Via) {
        self.tagged(via.mode);
        self.list(&via.uplinks, |o, &u| o.index(u));
    }
}

pub fn encode(site: &Site) -> Vec<u8> {
    let mut pool = Pool::default();
    let mut sections = Vec::new();
    for section in Section::ALL.into_iter().filter(|&s| s != Section::Strings) {
        let mut out = Out { buf: Vec::new(), pool: &mut pool };
        write_section(&mut out, section, site);
        sections.push((section, out.buf));
    }
    sections.insert(0, (Section::Strings, pool.encode()));

    let mut file = Vec::with_capacity(HEADER_LEN + sections.iter().map(|(_, b)| b.len() + 5).sum::<usize>());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&[0; 4]); // the checksum, filled in last
    file.extend_from_slice(&MAJOR.to_le_bytes());
    file.extend_from_slice(&MINOR.to_le_bytes());
    file.extend_from_slice(&0u32.to_le_bytes()); // flags: none defined
    for (section, body) in sections {
        file.push(section.id());
        // Policies are kilobytes; a section past 4 GiB saturates here and
        // the decoder refuses the file as truncated.
        file.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
        file.extend_from_slice(&body);
    }
    let crc = crc32(&file[CHECKSUM_FROM..]);
    file[4..CHECKSUM_FROM].copy_from_slice(&crc.to_le_bytes());
    file
}

fn write_section(o: &mut Out, section: Section, site: &Site) {
    match section {
        // Written from the pool once every other section is done.
        Section::Strings => {}
        Section::Site => {
            o.str(&site.name);
            o.list(&site.sources, |o, s| o.str(s));
            o.bool(site.derived_states);
        }
        Section::Lans => o.list(&site.lans, |o, lan| {
            o.str(&lan.name);
            o.str(&lan.interface);
            o.list(&lan.networks, Out::net);
        }),
        Section::Hosts => o.list(&site.hosts, |o, host| {
            o.str(&host.name);
            o.ip(&host.address);
        }),
        Section::Plugins => o.list(&site.plugins, |o, plugin| {
            o.str(&plugin.name);
            o.str(&plugin.path);
            o.list(&plugin.settings, |o, s| {
                o.str(&s.name);
                o.bool(s.required);
            });
        }),
        Section::Uplinks => o.list(&site.uplinks, uplink),
        Section::Checks => {
            let checks: Vec<(usize, &Check)> =
                site.uplinks.iter().enumerate().flat_map(|(i, u)| u.checks.iter().map(move |c| (i, c))).collect();
            o.list(&checks, |o, &(owner, c)| check(o, owner, c));
        }
        Section::Rules => {
            o.list(&site.vias, Out::via);
            o.index(site.site_rules);
            o.list(&site.rules, rule);
        }
        Section::States => o.list(&site.states, state),
    }
}

fn uplink(o: &mut Out, up: &Uplink) {
    o.str(&up.name);
    o.str(&up.interface);
    o.list(&up.addresses, Out::net);
    o.list(&up.learned, |o, f| o.family(*f));
    o.list(&up.networks, Out::net);
    o.list(&up.gateways, |o, g| match g {
        Gateway::Dev => o.u8(tag::GATEWAY_DEV),
        Gateway::Learned { family } => {
            o.u8(tag::GATEWAY_LEARNED);
            o.family(*family);
        }
        Gateway::Address { address, zone } => {
            o.u8(tag::GATEWAY_ADDRESS);
            o.ip(address);
            o.option(zone, |o, z| o.str(z));
        }
    });
    o.list(&up.nat, |o, n| {
        o.option(&n.from, |o, nets| o.list(nets, Out::net));
        o.address(&n.to);
    });
    o.int(up.weight);
    o.int(up.table);
    match up.healthy {
        Healthy::All => o.u8(tag::HEALTHY_ALL),
        Healthy::Any => o.u8(tag::HEALTHY_ANY),
        Healthy::AtLeast(n) => {
            o.u8(tag::HEALTHY_AT_LEAST);
            o.int(n);
        }
    }
    o.actions(&up.on_up);
    o.actions(&up.on_down);
}

fn check(o: &mut Out, owner: usize, c: &Check) {
    o.index(owner);
    let target = |o: &mut Out, t: &Target| match t {
        Target::Address(a) => {
            o.u8(tag::TARGET_ADDRESS);
            o.ip(a);
        }
        Target::Hostname(h) => {
            o.u8(tag::TARGET_HOSTNAME);
            o.str(h);
        }
    };
    match &c.probe {
        Probe::Ping { target: t } => {
            o.u8(tag::PROBE_PING);
            target(o, t);
        }
        Probe::Tcp { target: t, port } => {
            o.u8(tag::PROBE_TCP);
            target(o, t);
            o.int(*port);
        }
        Probe::Http { url, expect } => {
            o.u8(tag::PROBE_HTTP);
            o.bool(url.tls);
            target(o, &url.host);
            o.int(url.port);
            o.str(&url.path);
            o.int(*expect);
        }
        Probe::Dns { server, query } => {
            o.u8(tag::PROBE_DNS);
            o.ip(server);
            o.str(query);
        }
        Probe::Plugin { plugin, settings } => {
            o.u8(tag::PROBE_PLUGIN);
            o.str(plugin);
            let settings: Vec<(&String, &String)> = settings.iter().collect();
            o.list(&settings, |o, (k, v)| {
                o.str(k);
                o.str(v);
            });
        }
    }
    o.int(c.every_ms);
    o.int(c.timeout_ms);
    o.int(c.count);
    o.int(c.rise);
    o.int(c.fall);
    o.option(&c.max_loss_percent, |o, p| o.f64(*p));
    o.option(&c.max_latency_ms, |o, ms| o.int(*ms));
}

fn rule(o: &mut Out, rule: &Rule) {
    o.str(&rule.text);
    o.index(rule.line);
    match &rule.kind {
        RuleKind::Default { via } => {
            o.u8(tag::RULE_DEFAULT);
            o.index(*via);
        }
        RuleKind::Route { from, to, proto, ports, via } => {
            o.u8(tag::RULE_ROUTE);
            o.list(from, Out::net);
            o.list(to, Out::net);
            o.option(proto, |o, p| o.tagged(*p));
            o.ports(ports);
            o.index(*via);
        }
        RuleKind::Forward { proto, ports, on, at, to, to_port } => {
            o.u8(tag::RULE_FORWARD);
            o.tagged(*proto);
            o.ports(ports);
            o.index(*on);
            o.address(at);
            o.ip(to);
            o.option(to_port, |o, p| o.int(*p));
        }
        RuleKind::Serve { proto, ports, host, via, stateless } => {
            o.u8(tag::RULE_SERVE);
            o.tagged(*proto);
            o.ports(ports);
            o.ip(host);
            o.index(*via);
            o.bool(*stateless);
        }
    }
}

fn state(o: &mut Out, state: &State) {
    o.str(&state.name);
    o.str(&state.when_text);
    let mut code = Vec::new();
    for op in cond::compile(&state.when) {
        op.write(&mut code);
    }
    o.index(code.len());
    o.buf.extend_from_slice(&code);
    o.list(&state.health, |o, h| o.tagged(*h));
    o.actions(&state.on_enter);
    o.actions(&state.on_exit);
    o.list(&state.replaced, |o, &r| o.index(r));
    o.list(&state.own, |o, &r| o.index(r));
    o.list(&state.routing, |o, r| match r {
        Routing::Unrouted => o.u8(tag::ROUTING_UNROUTED),
        Routing::Uplinks { mode, members } => {
            o.u8(tag::ROUTING_UPLINKS);
            o.tagged(*mode);
            o.list(members, |o, m| {
                o.index(m.uplink);
                o.int(m.weight);
                o.bool(m.certain);
            });
        }
        Routing::Pinned { uplink, health } => {
            o.u8(tag::ROUTING_PINNED);
            o.index(*uplink);
            o.tagged(*health);
        }
    });
}
