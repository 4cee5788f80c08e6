//! `wanc disasm`: a verified file, readably. Shows the header, the section
//! table, the string pool, then every record with uplinks and rules by
//! number and name, and each state's condition code op by op together with
//! the expression the stack machine rebuilds from it.
//!
//! The file may come from anywhere, so every string from it is printed
//! escaped: a crafted name cannot put control characters on the terminal.

use super::cond::{self, Build, Leaf, Op};
use super::decode::Loaded;
use super::error::LoadError;
use super::format::{Section, MINOR};
use crate::ir::{Action, Check, Gateway, Healthy, Probe, Routing, RuleKind, Site, State, Target, Via};
use std::fmt::Write;

pub fn disasm(bytes: &[u8]) -> Result<String, LoadError> {
    let loaded = super::decode::load(bytes)?;
    super::ranges::check(&loaded.site)?;
    let mut out = String::new();
    header(&mut out, &loaded, bytes.len());
    let site = &loaded.site;
    site_records(&mut out, site);
    for (i, state) in site.states.iter().enumerate() {
        self::state(&mut out, site, i, state)?;
    }
    Ok(out)
}

/// A name from the file, escaped but unquoted.
fn name(s: &str) -> String {
    s.escape_debug().to_string()
}

fn uplink(site: &Site, i: usize) -> String {
    format!("#{i} {}", site.uplinks.get(i).map_or("?".into(), |u| name(&u.name)))
}

fn header(out: &mut String, loaded: &Loaded, len: usize) {
    let h = &loaded.header;
    let _ = writeln!(out, "wanc policy file, format {}.{}, {len} bytes", h.major, h.minor);
    let _ = writeln!(out, "checksum {:#010x} (crc-32, verified)", h.checksum);
    let _ = writeln!(out, "flags    none");
    let _ = writeln!(out, "\nsections");
    let _ = writeln!(out, "  {:>3}  {:<8}  {:>7}  {:>7}", "id", "name", "offset", "length");
    for e in &loaded.sections {
        let name = Section::from_id(e.id)
            .map_or(format!("(skipped: newer than {}.{MINOR})", super::format::MAJOR), |s| s.name().to_string());
        let _ = writeln!(out, "  {:>3}  {:<8}  {:>7}  {:>7}", e.id, name, e.offset, e.len);
    }
    let _ = writeln!(out, "\nstrings ({})", loaded.strings.len());
    for (i, s) in loaded.strings.iter().enumerate() {
        let _ = writeln!(out, "  #{i:<4} {s:?}");
    }
}

fn site_records(out: &mut String, site: &Site) {
    let _ = writeln!(out, "\nsite {:?}", site.name);
    for s in &site.sources {
        let _ = writeln!(out, "  source {s:?}");
    }
    let origin = if site.derived_states { "derived from the default route's failover order" } else { "declared" };
    let _ = writeln!(out, "  states {origin}");

    let _ = writeln!(out, "\nlans ({})", site.lans.len());
    for (i, lan) in site.lans.iter().enumerate() {
        let nets: Vec<String> = lan.networks.iter().map(|n| n.to_string()).collect();
        let _ = writeln!(out, "  #{i} {}  interface {}  networks {}", name(&lan.name), name(&lan.interface), list(&nets));
    }

    let _ = writeln!(out, "\nhosts ({})", site.hosts.len());
    for (i, host) in site.hosts.iter().enumerate() {
        let _ = writeln!(out, "  #{i} {} = {}", name(&host.name), host.address);
    }

    let _ = writeln!(out, "\nplugins ({})", site.plugins.len());
    for (i, plugin) in site.plugins.iter().enumerate() {
        let settings: Vec<String> =
            plugin.settings.iter().map(|s| format!("{}{}", name(&s.name), if s.required { "" } else { "?" })).collect();
        let _ = writeln!(out, "  #{i} {} {:?}  settings {}", name(&plugin.name), plugin.path, list(&settings));
    }

    let _ = writeln!(out, "\nuplinks ({})", site.uplinks.len());
    for (i, up) in site.uplinks.iter().enumerate() {
        let healthy = match up.healthy {
            Healthy::All => "all".to_string(),
            Healthy::Any => "any".to_string(),
            Healthy::AtLeast(n) => n.to_string(),
        };
        let _ = writeln!(
            out,
            "  #{i} {}  interface {}  weight {}  table {}  healthy when {healthy}",
            name(&up.name),
            name(&up.interface),
            up.weight,
            up.table
        );
        let addresses: Vec<String> =
            up.addresses.iter().map(|a| a.to_string()).chain(up.learned.iter().map(|f| format!("auto {}", f.word()))).collect();
        let gateways: Vec<String> = up
            .gateways
            .iter()
            .map(|g| match g {
                Gateway::Dev => "dev".to_string(),
                Gateway::Learned { family } => format!("auto {}", family.word()),
                Gateway::Address { address, zone: Some(z) } => format!("{address}%{}", name(z)),
                Gateway::Address { address, zone: None } => address.to_string(),
            })
            .collect();
        let nat: Vec<String> = up
            .nat
            .iter()
            .map(|n| match &n.from {
                Some(from) => format!("from {} to {}", list(&from.iter().map(|n| n.to_string()).collect::<Vec<_>>()), n.to),
                None => n.to.to_string(),
            })
            .collect();
        let _ = writeln!(out, "     addresses {}  gateways {}  nat {}", list(&addresses), list(&gateways), list(&nat));
        for c in &up.checks {
            let _ = writeln!(out, "     check {}", check(c));
        }
        actions(out, site, "     ", "on up", &up.on_up);
        actions(out, site, "     ", "on down", &up.on_down);
    }

    let _ = writeln!(out, "\nrules ({}, the first {} the site's)", site.rules.len(), site.site_rules);
    for (i, r) in site.rules.iter().enumerate() {
        let _ = writeln!(out, "  #{i} line {} {:?}", r.line, r.text);
        let _ = writeln!(out, "     {}", rule(site, &r.kind));
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

fn actions(out: &mut String, site: &Site, indent: &str, event: &str, actions: &[Action]) {
    for a in actions {
        let _ = match a {
            Action::Run(cmd) => writeln!(out, "{indent}{event}: run {cmd:?}"),
            Action::Notify(text) => writeln!(out, "{indent}{event}: notify {text:?}"),
            Action::FlushStates(uplinks) => {
                let names: Vec<String> = uplinks.iter().map(|&u| uplink(site, u)).collect();
                writeln!(out, "{indent}{event}: flush states {}", list(&names))
            }
        };
    }
}

fn check(c: &Check) -> String {
    let target = |t: &Target| match t {
        Target::Address(a) => a.to_string(),
        Target::Hostname(h) => name(h),
    };
    let mut s = match &c.probe {
        Probe::Ping { target: t } => format!("ping {}", target(t)),
        Probe::Tcp { target: t, port } => format!("tcp {} port {port}", target(t)),
        Probe::Http { url, expect } => format!("http {:?} expect {expect}", url.to_string()),
        Probe::Dns { server, query } => format!("dns {server} query {query:?}"),
        Probe::Plugin { plugin, settings } => {
            let settings: Vec<String> = settings.iter().map(|(k, v)| format!("{}={v:?}", name(k))).collect();
            format!("plugin {} {{{}}}", name(plugin), settings.join(", "))
        }
    };
    let _ = write!(s, "  every {}ms timeout {}ms count {} rise {} fall {}", c.every_ms, c.timeout_ms, c.count, c.rise, c.fall);
    if let Some(p) = c.max_loss_percent {
        let _ = write!(s, " loss < {p}%");
    }
    if let Some(ms) = c.max_latency_ms {
        let _ = write!(s, " latency < {ms}ms");
    }
    s
}

fn rule(site: &Site, kind: &RuleKind) -> String {
    let via = |&id: &usize| {
        let v: &Via = &site.vias[id];
        let ups: Vec<String> = v.uplinks.iter().map(|&u| uplink(site, u)).collect();
        format!("via #{id} {} {}", mode(v.mode), list(&ups))
    };
    let nets = |ns: &[ipnet::IpNet]| list(&ns.iter().map(|n| n.to_string()).collect::<Vec<_>>());
    let ports = |ps: &[crate::ir::Ports]| {
        let ps: Vec<String> =
            ps.iter().map(|p| if p.first == p.last { p.first.to_string() } else { format!("{}-{}", p.first, p.last) }).collect();
        list(&ps)
    };
    match kind {
        RuleKind::Default { via: v } => format!("default {}", via(v)),
        RuleKind::Route { from, to, proto, ports: ps, via: v } => {
            let mut s = "route".to_string();
            for (word, value) in [("from", nets(from)), ("to", nets(to)), ("port", ports(ps))] {
                if value != "-" {
                    let _ = write!(s, " {word} {value}");
                }
            }
            if let Some(p) = proto {
                let _ = write!(s, " proto {}", p.as_str());
            }
            format!("{s} {}", via(v))
        }
        RuleKind::Forward { proto, ports: ps, on, at, to, to_port } => format!(
            "forward {} port {} on {} at {at} to {to}{}",
            proto.as_str(),
            ports(ps),
            uplink(site, *on),
            to_port.map_or(String::new(), |p| format!(" port {p}"))
        ),
        RuleKind::Serve { proto, ports: ps, host, via: v, stateless } => format!(
            "serve {} port {} on {host} via {}{}",
            proto.as_str(),
            ports(ps),
            uplink(site, *v),
            if *stateless { " stateless" } else { "" }
        ),
    }
}

fn mode(mode: crate::ir::ViaMode) -> &'static str {
    match mode {
        crate::ir::ViaMode::Failover => "failover",
        crate::ir::ViaMode::Balance => "balance",
        crate::ir::ViaMode::Multipath => "multipath",
    }
}

fn health(h: crate::ir::Health) -> &'static str {
    match h {
        crate::ir::Health::Up => "up",
        crate::ir::Health::Down => "down",
        crate::ir::Health::Either => "either",
    }
}

fn state(out: &mut String, site: &Site, i: usize, state: &State) -> Result<(), LoadError> {
    let _ = writeln!(out, "\nstate #{i} {}", name(&state.name));
    let _ = writeln!(out, "  when {:?}", state.when_text);
    // The code as the file holds it: the encoding is canonical, so writing
    // the decoded condition back gives the file's bytes, offsets included.
    let ops = cond::compile(&state.when);
    let mut listing = String::new();
    let mut code = Vec::new();
    for op in &ops {
        let _ = writeln!(listing, "    {:04x}  {}", code.len(), describe(site, op));
        op.write(&mut code);
    }
    let _ = write!(out, "  code ({} byte{})\n{listing}", code.len(), if code.len() == 1 { "" } else { "s" });
    let text = cond::run(&Text { site }, &ops).map_err(|error| LoadError::BadCondition { state: state.name.clone(), error })?;
    let _ = writeln!(out, "  condition {}", text.0);
    let healths: Vec<String> =
        state.health.iter().enumerate().map(|(u, &h)| format!("{} {}", uplink(site, u), health(h))).collect();
    let _ = writeln!(out, "  health {}", list(&healths));
    actions(out, site, "  ", "on enter", &state.on_enter);
    actions(out, site, "  ", "on exit", &state.on_exit);
    let rules = |ids: &[usize]| list(&ids.iter().map(|r| format!("#{r}")).collect::<Vec<_>>());
    let _ = writeln!(out, "  replaces {}", rules(&state.replaced));
    let _ = writeln!(out, "  own rules {}", rules(&state.own));
    for (v, routing) in state.routing.iter().enumerate() {
        let routed = match routing {
            Routing::Unrouted => "unrouted".to_string(),
            Routing::Pinned { uplink: u, health: h } => format!("pinned {} {}", uplink(site, *u), health(*h)),
            Routing::Uplinks { mode: m, members } => {
                let members: Vec<String> = members
                    .iter()
                    .map(|m| format!("{} weight {}{}", uplink(site, m.uplink), m.weight, if m.certain { "" } else { " if up" }))
                    .collect();
                format!("{} {}", mode(*m), list(&members))
            }
        };
        let _ = writeln!(out, "  via #{v} -> {routed}");
    }
    Ok(())
}

fn describe(site: &Site, op: &Op) -> String {
    match op {
        Op::Push(Leaf::True) => "TRUE".into(),
        Op::Push(Leaf::Up(u)) => format!("UP {}", uplink(site, *u)),
        Op::Push(Leaf::CountIn { members, min, max }) => {
            let members: Vec<String> = members.iter().map(|&m| uplink(site, m)).collect();
            format!("COUNTIN [{}] {min} {max}", members.join(", "))
        }
        Op::Not => "NOT".into(),
        Op::And(n) => format!("AND {n}"),
        Op::Or(n) => format!("OR {n}"),
    }
}

/// Renders the condition in the source language's syntax, with the fewest
/// parentheses its precedence needs (`!` over `&&` over `||`).
struct Text<'a> {
    site: &'a Site,
}

const OR: u8 = 1;
const AND: u8 = 2;
const ATOM: u8 = 3;

impl Text<'_> {
    fn name(&self, u: usize) -> String {
        self.site.uplinks.get(u).map_or(format!("#{u}"), |up| name(&up.name))
    }
}

fn wrap((text, prec): (String, u8), at_least: u8) -> String {
    if prec < at_least {
        format!("({text})")
    } else {
        text
    }
}

impl Build for Text<'_> {
    type Value = (String, u8);

    fn leaf(&self, leaf: &Leaf) -> (String, u8) {
        match leaf {
            Leaf::True => ("true".into(), ATOM),
            Leaf::Up(u) => (self.name(*u), ATOM),
            Leaf::CountIn { members, min, max } => {
                let names: Vec<String> = members.iter().map(|&m| self.name(m)).collect();
                let count = format!("count({})", names.join(", "));
                if min == max {
                    (format!("{count} == {min}"), ATOM)
                } else if *max as usize >= members.len() {
                    (format!("{count} >= {min}"), ATOM)
                } else if *min == 0 {
                    (format!("{count} <= {max}"), ATOM)
                } else {
                    (format!("{count} >= {min} && {count} <= {max}"), AND)
                }
            }
        }
    }

    fn not(&self, value: (String, u8)) -> (String, u8) {
        (format!("!{}", wrap(value, ATOM)), ATOM)
    }

    fn join(&self, and: bool, parts: Vec<(String, u8)>) -> (String, u8) {
        let (word, prec, empty) = if and { (" && ", AND, "true") } else { (" || ", OR, "false") };
        if parts.is_empty() {
            return (empty.into(), ATOM);
        }
        let parts: Vec<String> = parts.into_iter().map(|p| wrap(p, prec)).collect();
        (parts.join(word), prec)
    }
}
