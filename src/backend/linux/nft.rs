//! The nftables ruleset: one `inet` table of wanc's own holding connection
//! marks, the steering of new connections, NAT and the forwards. (Chain
//! names avoid nft's keywords: `policy`, `snat` and `dnat` would need
//! quoting.)
//!
//! Steering is in two parts, so that a state change rewrites little:
//! - the chain `steering`, written once by setup, holds every route rule,
//!   last to first (policy rules are last-match-wins, the chain's first
//!   match decides), each jumping to the chain of its routing choice;
//! - one chain per choice, `choice_N`, which a state fills: where to (the
//!   chain of an uplink or pool, or `accept` for the main table). A choice
//!   absent from the state is an empty chain: the jump returns and the next
//!   rule of `steering` is tried, as if its rules were not there.
//!
//! Marks use only the bits wanc owns ([`MARK_MASK`]): each uplink and pool
//! has a chain (`uplink_N`, `pool_N`) that sets its bits in the packet's
//! and the connection's mark, keeping every other bit, and accepts, which
//! ends wanc's part of the hook. Restoring a connection's mark goes through
//! the same chains, chosen by a map from the connection's bits, since nft
//! cannot combine two marks in one expression. A connection a multipath
//! pool routes takes the mark of the uplink it left by (`remember`).

use crate::ir::RuleId;
use crate::ir::{self, Address, Family, Ports, Proto, Routing, RuleKind};
use crate::lower::linux::{Numbers, MARK_MASK};
use crate::lower::{effective, shares, ChoiceId, Plan, StateId};
use ipnet::IpNet;
use std::fmt::Write;

/// `wanc_SITE`, with anything but letters, digits and `_` made `_`: site
/// names are free text, table names are not.
pub fn table_name(site: &ir::Site) -> String {
    let clean: String = site.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    format!("wanc_{clean}")
}

fn choice_chain(c: ChoiceId) -> String {
    format!("choice_{c}")
}

fn uplink_chain(u: usize) -> String {
    format!("uplink_{u}")
}

fn pool_chain(p: usize) -> String {
    format!("pool_{p}")
}

/// Every mark wanc sets, with the chain that sets it.
fn slots(numbers: &Numbers) -> Vec<(String, u32)> {
    let uplinks = numbers.uplink_marks.iter().enumerate().map(|(u, &mark)| (uplink_chain(u), mark));
    uplinks.chain(numbers.pools.iter().enumerate().map(|(p, pool)| (pool_chain(p), pool.mark))).collect()
}

/// The table's static part, as nft commands loaded in one transaction:
/// chains are created if missing and their rules rewritten, except the
/// choice chains, which are created empty if missing and otherwise kept:
/// the state owns them. Loading it twice leaves the same ruleset.
pub fn setup(plan: &Plan, numbers: &Numbers) -> String {
    let t = table_name(&plan.site);
    let mut s = format!("add table inet {t}\n");
    for c in 0..plan.choices.len() {
        let _ = writeln!(s, "add chain inet {t} {}", choice_chain(c));
    }
    if has_state_forwards(plan) {
        let _ = writeln!(s, "add chain inet {t} {STATE_FORWARDS}");
    }
    let slots = slots(numbers);
    let mut chain = |name: &str, hook: Option<&str>, rules: Vec<String>| {
        let hook = hook.map(|h| format!(" {{ {h}; policy accept; }}")).unwrap_or_default();
        let _ = writeln!(s, "add chain inet {t} {name}{hook}\nflush chain inet {t} {name}");
        for rule in rules {
            let _ = writeln!(s, "add rule inet {t} {name} {rule}");
        }
    };
    // The mark chains, then the steering chain: the chains that jump to
    // them come after.
    let keep = !MARK_MASK;
    for (name, mark) in &slots {
        chain(
            name,
            None,
            vec![format!(
                "meta mark set meta mark and {keep:#x} or {mark:#x} ct mark set ct mark and {keep:#x} or {mark:#x} accept"
            )],
        );
    }
    chain("steering", None, steering(plan));
    // A connection keeps the uplink it started on.
    let restore: Vec<String> = (!slots.is_empty())
        .then(|| {
            let map: Vec<String> = slots.iter().map(|(name, mark)| format!("{mark:#x} : goto {name}")).collect();
            format!("ct mark and {MARK_MASK:#x} vmap {{ {} }}", map.join(", "))
        })
        .into_iter()
        .collect();
    let mut pre = restore.clone();
    // Connections that arrive on an uplink answer through it. The packet is
    // marked too, so the reverse-path filter checks its source against the
    // uplink's table, where it arrived.
    for (u, up) in plan.site.uplinks.iter().enumerate() {
        pre.push(format!("iifname \"{}\" ct state new goto {}", up.interface, uplink_chain(u)));
    }
    pre.push("ct state new jump steering".into());
    chain("prerouting", Some("type filter hook prerouting priority mangle"), pre);
    chain("output", Some("type route hook output priority mangle"), restore);
    chain("remember", Some("type filter hook postrouting priority mangle"), remember(plan, numbers));
    chain("forwards", Some("type nat hook prerouting priority dstnat"), forwards(plan));
    chain("translate", Some("type nat hook postrouting priority srcnat"), nats(plan));
    s
}

/// A connection a multipath pool routed keeps the uplink the kernel picked
/// for its first packet: its mark becomes that uplink's, so its later
/// packets go by the uplink's table and not through the pool again, where a
/// member joining or leaving would re-hash it onto another uplink (with the
/// other uplink's NAT address, which kills it).
fn remember(plan: &Plan, numbers: &Numbers) -> Vec<String> {
    let mut out = Vec::new();
    for (p, pool) in numbers.pools.iter().enumerate() {
        let members: Vec<String> =
            pool.uplinks.iter().map(|&u| format!("\"{}\" : goto {}", plan.site.uplinks[u].interface, uplink_chain(u))).collect();
        out.push(format!("ct mark and {MARK_MASK:#x} == {:#x} oifname vmap {{ {} }}  # pool_{p}", pool.mark, members.join(", ")));
    }
    out
}

/// Every route rule, last to first, jumping to its choice's chain.
fn steering(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for &(rule, choice) in plan.routes.iter().rev() {
        let RuleKind::Route { from, to, proto, ports, .. } = &plan.site.rules[rule].kind else { continue };
        for matched in matches(from, to, *proto, ports) {
            out.push(format!("{matched}jump {}  # {}", choice_chain(choice), plan.site.rules[rule].text.replace('\n', " ")));
        }
    }
    out
}

/// What each choice's chain holds in a state, under live health when it is
/// known; `None` for a choice absent from the state (an empty chain).
pub fn choices(plan: &Plan, numbers: &Numbers, state: StateId, live: Option<&[bool]>) -> Vec<Option<String>> {
    plan.states[state]
        .choices
        .iter()
        .enumerate()
        .map(|(c, routing)| {
            let routing = effective(routing.as_ref()?, live);
            Some(match (&routing, numbers.choice_pools[c]) {
                (Routing::Unrouted | Routing::Pinned { .. }, _) => "accept".to_string(),
                (Routing::Uplinks { .. }, Some(pool)) => format!("goto {}", pool_chain(pool)),
                (Routing::Uplinks { members, .. }, None) => to_members(members),
            })
        })
        .collect()
}

/// The commands that give the choice chains `contents` (one per choice,
/// `None` to leave that chain as it is, `Some(None)` for an empty chain).
pub fn load_choices(plan: &Plan, contents: &[(ChoiceId, Option<String>)]) -> String {
    let t = table_name(&plan.site);
    let mut s = String::new();
    for (c, rule) in contents {
        let chain = choice_chain(*c);
        let _ = writeln!(s, "flush chain inet {t} {chain}");
        if let Some(rule) = rule {
            let _ = writeln!(s, "add rule inet {t} {chain} {rule}");
        }
    }
    s
}

/// One uplink's chain, or a weighted random pick among several.
fn to_members(members: &[ir::Member]) -> String {
    if let [one] = members {
        return format!("goto {}", uplink_chain(one.uplink));
    }
    let mut slots = Vec::new();
    for (m, share) in members.iter().zip(shares(members)) {
        for _ in 0..share {
            slots.push(m.uplink);
        }
    }
    let map: Vec<String> = slots.iter().enumerate().map(|(i, &u)| format!("{i} : goto {}", uplink_chain(u))).collect();
    format!("numgen random mod {} vmap {{ {} }}", slots.len(), map.join(", "))
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

/// The forwards in force in every state, then a jump to the chain of the
/// current state's own (when some state has forwards of its own).
fn forwards(plan: &Plan) -> Vec<String> {
    let mut out = forward_rules(plan, &plan.pinned);
    if has_state_forwards(plan) {
        out.push(format!("jump {STATE_FORWARDS}"));
    }
    out
}

/// The chain of the forwards in force in the current state only, which a
/// state fills, as it fills the choice chains.
const STATE_FORWARDS: &str = "state_forwards";

fn has_state_forwards(plan: &Plan) -> bool {
    plan.states.iter().any(|s| s.pinned.iter().any(|&r| matches!(plan.site.rules[r].kind, RuleKind::Forward { .. })))
}

/// The commands that fill the chain of a state's own forwards; `None` when
/// no state has forwards of its own.
pub fn load_state_forwards(plan: &Plan, state: StateId) -> Option<String> {
    if !has_state_forwards(plan) {
        return None;
    }
    let t = table_name(&plan.site);
    let mut s = format!("flush chain inet {t} {STATE_FORWARDS}\n");
    for rule in forward_rules(plan, &plan.states[state].pinned) {
        let _ = writeln!(s, "add rule inet {t} {STATE_FORWARDS} {rule}");
    }
    Some(s)
}

/// The DNAT rules of the `forward` rules among `rules`.
fn forward_rules(plan: &Plan, rules: &[RuleId]) -> Vec<String> {
    let mut out = Vec::new();
    for &id in rules {
        let RuleKind::Forward { proto, ports, on, at, to, to_port } = &plan.site.rules[id].kind else { continue };
        let up = &plan.site.uplinks[*on];
        let (word, family_v6) = if to.is_ipv6() { ("ip6", true) } else { ("ip", false) };
        // A learned address is whichever the interface has: the router's own.
        let daddr = match at {
            Address::Known(addr) => format!("{word} daddr {addr}"),
            Address::Learned(_) => "fib daddr type local".to_string(),
        };
        let target = match (to_port, family_v6) {
            (Some(p), true) => format!("[{to}]:{p}"),
            (Some(p), false) => format!("{to}:{p}"),
            (None, _) => to.to_string(),
        };
        out.push(format!(
            "iifname \"{}\" {daddr} {} dport {} dnat {word} to {target}",
            up.interface,
            proto.as_str(),
            port_set(ports)
        ));
    }
    out
}

/// The `nat` lines in the order the uplink tries them; the first that
/// matches translates (snat and masquerade end the chain for the packet).
fn nats(plan: &Plan) -> Vec<String> {
    let site = &plan.site;
    let mut out = Vec::new();
    for up in &site.uplinks {
        for nat in &up.nat {
            let family = nat.to.family();
            let word = if family == Family::V6 { "ip6" } else { "ip" };
            let lan_nets: Vec<&IpNet> = match &nat.from {
                Some(from) => from.iter().collect(),
                None => site.lans.iter().flat_map(|l| &l.networks).filter(|n| Family::of(&n.addr()) == family).collect(),
            };
            let from = match (lan_nets.is_empty(), nat.to) {
                (false, _) => format!("{word} saddr {}", net_set(&lan_nets)),
                (true, Address::Known(a)) => format!("{word} saddr != {a}"),
                (true, Address::Learned(_)) => format!("meta nfproto {} fib saddr type != local", family.word()),
            };
            // A learned address is translated to whatever the interface
            // has when the packet leaves: a new lease needs no reload.
            let to = match nat.to {
                Address::Known(a) => format!("snat {word} to {a}"),
                Address::Learned(_) => "masquerade".to_string(),
            };
            out.push(format!("oifname \"{}\" {from} {to}", up.interface));
        }
    }
    out
}
