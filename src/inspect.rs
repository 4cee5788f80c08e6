//! `wanc inspect`: per state, which uplink each rule uses, so a user can see
//! what happens when a link dies.

use crate::duration;
use crate::ir::ViaMode;
use crate::ir::{Check, Gateway, Health, Member, Probe, Routing, Site, Uplink};
use std::fmt::Write;

pub fn inspect(site: &Site) -> String {
    let mut out = String::new();
    let origin = if site.derived_states { "derived from the default route's failover order" } else { "declared" };
    let _ = writeln!(out, "site {} ({} uplinks, {} states {origin})", site.name, site.uplinks.len(), site.states.len());
    let _ = writeln!(out);
    let _ = writeln!(out, "uplinks:");
    for up in &site.uplinks {
        let _ = writeln!(
            out,
            "  {:<12} interface {:<8} address {:<24} gateway {:<20} table {:<5} weight {}{}  checks {}",
            up.name,
            up.interface,
            addresses(up),
            gateways(up),
            up.table,
            up.weight,
            if up.nat.is_empty() { "" } else { "  nat" },
            up.checks.len()
        );
    }
    for state in &site.states {
        let _ = writeln!(out);
        let _ = writeln!(out, "state {}  when {}", state.name, state.when_text);
        let health: Vec<String> =
            site.uplinks.iter().zip(&state.health).map(|(u, h)| format!("{} {}", u.name, h.as_str())).collect();
        let _ = writeln!(out, "  health: {}", health.join(", "));
        let width = site.rules_of(state).map(|r| site.rules[r].text.len()).max().unwrap_or(0).min(60);
        for id in site.rules_of(state) {
            let routing = site.routing(state, id);
            let _ = writeln!(out, "  {:<width$}  -> {}", site.rules[id].text, describe(&routing, site));
        }
    }
    out
}

/// The same as JSON, for tools (`wanc inspect --format json`).
pub fn inspect_json(site: &Site) -> serde_json::Value {
    use serde_json::json;
    let uplinks: Vec<_> = site
        .uplinks
        .iter()
        .map(|up| {
            json!({
                "name": up.name,
                "interface": up.interface,
                "addresses": up.addresses,
                "gateways": up.gateways.iter().map(gateway).collect::<Vec<_>>(),
                "table": up.table,
                "weight": up.weight,
                "nat": !up.nat.is_empty(),
                "checks": up.checks.len(),
            })
        })
        .collect();
    let states: Vec<_> = site
        .states
        .iter()
        .map(|state| {
            let health: serde_json::Map<String, serde_json::Value> =
                site.uplinks.iter().zip(&state.health).map(|(u, h)| (u.name.clone(), h.as_str().into())).collect();
            let rules: Vec<_> = site
                .rules_of(state)
                .map(|id| json!({ "rule": site.rules[id].text, "routing": describe(&site.routing(state, id), site) }))
                .collect();
            json!({ "name": state.name, "when": state.when_text, "health": health, "rules": rules })
        })
        .collect();
    json!({ "site": site.name, "derived_states": site.derived_states, "uplinks": uplinks, "states": states })
}

/// An uplink in words, one fact a line: what the listing above says of
/// it, with each check in full (an editor's hover).
pub fn uplink(up: &Uplink) -> Vec<String> {
    let mut lines = vec![
        format!("interface {}", up.interface),
        format!("address {}", addresses(up)),
        format!("gateway {}", gateways(up)),
        format!("table {}, weight {}{}", up.table, up.weight, if up.nat.is_empty() { "" } else { ", nat" }),
    ];
    lines.extend(up.checks.iter().map(check));
    lines
}

/// A check as written, with every setting its defaults gave it.
fn check(c: &Check) -> String {
    let probe = match &c.probe {
        Probe::Ping { target } => format!("ping {target}"),
        Probe::Tcp { target, port } => format!("tcp {target}:{port}"),
        Probe::Http { url, expect } => format!("http \"{url}\" expect {expect}"),
        Probe::Dns { server, query } => format!("dns {server} query {query}"),
        Probe::Plugin { plugin, .. } => format!("plugin {plugin}"),
    };
    let mut line = format!(
        "check {probe} every {} timeout {} count {} rise {} fall {}",
        duration::format(c.every_ms),
        duration::format(c.timeout_ms),
        c.count,
        c.rise,
        c.fall
    );
    if let Some(loss) = c.max_loss_percent {
        let _ = write!(line, " loss < {loss}%");
    }
    if let Some(latency) = c.max_latency_ms {
        let _ = write!(line, " latency < {}", duration::format(latency));
    }
    line
}

fn addresses(up: &Uplink) -> String {
    let addrs: Vec<String> =
        up.addresses.iter().map(|a| a.to_string()).chain(up.learned.iter().map(|f| format!("auto {}", f.word()))).collect();
    if addrs.is_empty() {
        "-".into()
    } else {
        addrs.join(",")
    }
}

fn gateways(up: &Uplink) -> String {
    let gws: Vec<String> = up.gateways.iter().map(gateway).collect();
    if gws.is_empty() {
        "-".into()
    } else {
        gws.join(",")
    }
}

fn gateway(g: &Gateway) -> String {
    match g {
        Gateway::Dev => "dev".to_string(),
        Gateway::Learned { family } => format!("auto {}", family.word()),
        Gateway::Address { address, zone: Some(z) } => format!("{address}%{z}"),
        Gateway::Address { address, zone: None } => address.to_string(),
    }
}

/// A routing in words: `fibre (if up), else cable`, `balance isp1 ×1, isp2 ×1`.
pub fn describe(routing: &Routing, site: &Site) -> String {
    let name = |m: &Member| {
        let n = &site.uplinks[m.uplink].name;
        if m.certain {
            n.clone()
        } else {
            format!("{n} (if up)")
        }
    };
    match routing {
        Routing::Unrouted => "unrouted (main table)".into(),
        Routing::Pinned { uplink, health } => {
            let n = &site.uplinks[*uplink].name;
            match health {
                Health::Up => n.clone(),
                Health::Down => format!("{n} (down: no traffic)"),
                Health::Either => format!("{n} (if up)"),
            }
        }
        Routing::Uplinks { mode: ViaMode::Failover, members } => members.iter().map(name).collect::<Vec<_>>().join(", else "),
        Routing::Uplinks { mode, members } => {
            let word = if *mode == ViaMode::Balance { "balance" } else { "multipath" };
            let parts: Vec<String> = members.iter().map(|m| format!("{} ×{}", name(m), m.weight)).collect();
            format!("{word} {}", parts.join(", "))
        }
    }
}
