//! The nftables ruleset: one `inet` table of wanc's own holding connection
//! marks, the per-state steering chain, NAT and the forwards. (Chain names
//! avoid nft's keywords: `policy`, `snat` and `dnat` would need quoting.)

use super::{effective, Ids, MARK_MASK};
use crate::ir::ViaMode;
use crate::ir::{self, Ports, Proto, Routing, Site, State};
use ipnet::IpNet;
use std::fmt::Write;

/// `wanc_SITE`, with anything but letters, digits and `_` made `_`: site
/// names are free text, table names are not.
pub fn nft_table_name(site: &Site) -> String {
    let clean: String = site.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    format!("wanc_{clean}")
}

/// The table's static part, as nft commands loaded in one transaction:
/// chains are created if missing and their rules rewritten, except the
/// steering chain (the policy marks), which is created empty if missing and
/// otherwise kept: the state's policy owns it. Loading it twice leaves the same ruleset.
pub fn nft_setup(site: &Site, ids: &Ids) -> String {
    let t = nft_table_name(site);
    // The steering chain first: prerouting jumps to it.
    let mut s = format!("add table inet {t}\nadd chain inet {t} steering\n");
    let mut chain = |name: &str, hook: &str, rules: Vec<String>| {
        let _ = writeln!(s, "add chain inet {t} {name} {{ {hook}; policy accept; }}\nflush chain inet {t} {name}");
        for rule in rules {
            let _ = writeln!(s, "add rule inet {t} {name} {rule}");
        }
    };
    let mut pre = vec![
        // A connection keeps the uplink it started on.
        format!("ct mark & {MARK_MASK:#x} != 0 meta mark set ct mark return"),
    ];
    // Connections that arrive on an uplink answer through it.
    for (up, mark) in site.uplinks.iter().zip(&ids.uplink_marks) {
        pre.push(format!("iifname \"{}\" ct state new ct mark set {mark:#x} return", up.interface));
    }
    pre.push("ct state new jump steering".into());
    pre.push(format!("meta mark & {MARK_MASK:#x} != 0 ct mark set meta mark"));
    chain("prerouting", "type filter hook prerouting priority mangle", pre);
    chain(
        "output",
        "type route hook output priority mangle",
        vec![format!("ct mark & {MARK_MASK:#x} != 0 meta mark set ct mark")],
    );
    chain("forwards", "type nat hook prerouting priority dstnat", forwards(site));
    chain("translate", "type nat hook postrouting priority srcnat", nats(site));
    s
}

/// The commands that replace the steering chain with a state's rules.
pub fn nft_policy_load(site: &Site, rules: &[String]) -> String {
    let t = nft_table_name(site);
    let mut s = format!("flush chain inet {t} steering\n");
    for rule in rules {
        let _ = writeln!(s, "add rule inet {t} steering {rule}");
    }
    s
}

/// The policy chain of a state: per route rule the match and the mark it
/// sets. Policy rules are last-match-wins (as in pf: general rules first,
/// exceptions after), so the chain lists them in reverse and the first
/// match decides (`return`).
pub fn nft_policy(site: &Site, ids: &Ids, state: &State, live: Option<&[bool]>) -> Vec<String> {
    let mut out = Vec::new();
    for (&rule, routing) in state.rules.iter().zip(&state.routing).rev() {
        let ir::RuleKind::Route { from, to, proto, ports, via } = &site.rules[rule].kind else { continue };
        let action = match (via.mode, effective(routing, live)) {
            (_, Routing::Unrouted | Routing::Pinned { .. }) => "return".to_string(),
            (ViaMode::Multipath, _) => match ids.pool_of(&via.uplinks) {
                Some(pool) => format!("meta mark set {:#x} return", pool.mark),
                None => "return".to_string(),
            },
            (_, Routing::Uplinks { members, .. }) => mark_members(ids, &members),
        };
        for matched in matches(from, to, *proto, ports) {
            out.push(format!("{matched}{action}  # {}", site.rules[rule].text.replace('\n', " ")));
        }
    }
    out
}

/// One uplink's mark, or a weighted random pick among several.
fn mark_members(ids: &Ids, members: &[ir::Member]) -> String {
    if let [one] = members {
        return format!("meta mark set {:#x} return", ids.uplink_marks[one.uplink]);
    }
    // Shares, not absolute weights, matter: 1000:1000 is a two-entry map.
    let gcd = members.iter().map(|m| m.weight.max(1)).fold(0, gcd);
    let mut slots = Vec::new();
    for m in members {
        for _ in 0..m.weight.max(1) / gcd.max(1) {
            slots.push(ids.uplink_marks[m.uplink]);
        }
    }
    let map: Vec<String> = slots.iter().enumerate().map(|(i, mark)| format!("{i} : {mark:#x}")).collect();
    format!("meta mark set numgen random mod {} map {{ {} }} return", slots.len(), map.join(", "))
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The match part of a rule, one per address family it spans.
fn matches(from: &[IpNet], to: &[IpNet], proto: Option<Proto>, ports: &[Ports]) -> Vec<String> {
    let l4 = match proto {
        Some(p) if !ports.is_empty() => format!("{} dport {} ", p.as_str(), port_set(ports)),
        Some(Proto::Icmp6) => "meta l4proto ipv6-icmp ".into(),
        Some(p) => format!("meta l4proto {} ", p.as_str()),
        None => String::new(),
    };
    let mut out = Vec::new();
    for (v6, word) in [(false, "ip"), (true, "ip6")] {
        let f: Vec<&IpNet> = from.iter().filter(|n| n.addr().is_ipv6() == v6).collect();
        let t: Vec<&IpNet> = to.iter().filter(|n| n.addr().is_ipv6() == v6).collect();
        // A side given only in the other family rules this family out.
        if (!from.is_empty() && f.is_empty()) || (!to.is_empty() && t.is_empty()) {
            continue;
        }
        let mut m = String::new();
        if !f.is_empty() {
            let _ = write!(m, "{word} saddr {} ", net_set(&f));
        }
        if !t.is_empty() {
            let _ = write!(m, "{word} daddr {} ", net_set(&t));
        }
        if f.is_empty() && t.is_empty() {
            // Neither side names an address: one rule for both families.
            if !v6 {
                out.push(l4.clone());
            }
            continue;
        }
        out.push(m + &l4);
    }
    out
}

fn net_set(nets: &[&IpNet]) -> String {
    match nets {
        [one] => one.to_string(),
        many => format!("{{ {} }}", many.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

fn port_set(ports: &[Ports]) -> String {
    let items: Vec<String> =
        ports.iter().map(|p| if p.first == p.last { p.first.to_string() } else { format!("{}-{}", p.first, p.last) }).collect();
    match items.as_slice() {
        [one] => one.clone(),
        many => format!("{{ {} }}", many.join(", ")),
    }
}

fn forwards(site: &Site) -> Vec<String> {
    let mut out = Vec::new();
    for rule in &site.rules {
        let ir::RuleKind::Forward { proto, ports, on, to, to_port } = &rule.kind else { continue };
        let up = &site.uplinks[*on];
        let (word, family_v6) = if to.is_ipv6() { ("ip6", true) } else { ("ip", false) };
        let Some(addr) = up.address(family_v6) else { continue };
        let target = match (to_port, family_v6) {
            (Some(p), true) => format!("[{to}]:{p}"),
            (Some(p), false) => format!("{to}:{p}"),
            (None, _) => to.to_string(),
        };
        out.push(format!(
            "iifname \"{}\" {word} daddr {addr} {} dport {} dnat {word} to {target}",
            up.interface,
            proto.as_str(),
            port_set(ports)
        ));
    }
    out
}

fn nats(site: &Site) -> Vec<String> {
    let mut out = Vec::new();
    for up in &site.uplinks {
        for nat in &up.nat {
            let word = if nat.is_ipv6() { "ip6" } else { "ip" };
            let lan_nets: Vec<&IpNet> =
                site.lans.iter().flat_map(|l| &l.networks).filter(|n| n.addr().is_ipv6() == nat.is_ipv6()).collect();
            let from = if lan_nets.is_empty() {
                format!("{word} saddr != {nat}")
            } else {
                format!("{word} saddr {}", net_set(&lan_nets))
            };
            out.push(format!("oifname \"{}\" {from} snat {word} to {nat}", up.interface));
        }
    }
    out
}
