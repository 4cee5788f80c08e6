//! The pf side: `pf/macros.conf`, `pf/wanc.conf` and a ruleset per state.
//!
//! Every rule of `wanc.conf` is `quick` (its anchor rules too: pf ends the
//! evaluation when a rule inside the anchor matched): the first of them
//! that matches decides, and keeps its `route-to` or `reply-to`, wherever
//! the user's own rules are and whatever they are, as long as `wanc.conf`
//! is included before the user's `pass` rules. A `pass` of the user's
//! before it would create the state first, without route-to, and pf's state
//! tracker would then send the connection by the routing table (the
//! multihomed seed's trap); so the include goes after the user's `block
//! quick` rules and before everything else. The rules come in this order:
//!
//! - NAT (`match … nat-to`, which sticks whichever rule then passes);
//! - forward and serve rules, so that a server's replies follow its own
//!   rule and not a route rule for its lan, and forwarded ports are not
//!   taken for the router's own;
//! - traffic to an uplink's own address (the router's services), passed
//!   with `reply-to` its gateway: the state is created here, so the replies
//!   leave by the uplink the connection came in on;
//! - traffic from an uplink's address leaving by another uplink, sent by
//!   `route-to` to its own (the router's own connections and probes);
//! - the route rules, the one that must win first (site rules, then the
//!   states' own, last written first, so a later, more specific rule wins),
//!   each as an anchor rule with the rule's criteria that hands the traffic
//!   to the anchor of its routing choice, `wanc/policy/choiceN`. A state's
//!   ruleset only fills those anchors: per choice, the `pass … route-to`
//!   rules of its members, a plain pass when nothing routes it, or a rule
//!   that never matches where the choice is not in force (so the traffic
//!   falls to the route rules after it, and then to the user's rules).
//!
//! Every rule that passes traffic by an uplink carries `label "UPLINK"`, so
//! that `pfctl -k label -k UPLINK` drops that uplink's connections alone.
//! This is why a balance is a chain of one rule per member and not a
//! `route-to { … } round-robin` pool: a pool rule has a single label for all
//! its members. pf's `probability` then carries the weights: inside the
//! choice's anchor the rules are not quick, so the last match wins (the
//! anchor rule's `quick` ends the evaluation after it), and member i of
//! weight wᵢ gets `probability wᵢ / (w₁ + … + wᵢ)`
//! (the first none), which gives it exactly wᵢ / (w₁ + … + wₙ) of the
//! connections, chosen per connection like a weighted round robin.
//!
//! `route-to`, `reply-to` and NAT name next hops and addresses, as current
//! pf wants them; a `gateway dev` uplink routes to `(IF:peer)`, a learned
//! gateway is a table ifstated refreshes and a learned address `(IF:0)`
//! (see `learned`).

use super::{address, comment, health_summary, learned, live, policy_file, Ctx, Family, ANCHOR, PREFIX};
use crate::backend::header;
use crate::ir::{Address, Health, Member, Ports, Proto, Routing, RuleId, RuleKind, UplinkId, Via, ViaMode};
use crate::lower::{ChoiceId, NextHop, StateId};
use crate::output::OutputFile;
use ipnet::IpNet;
use std::fmt::Write;
use std::net::IpAddr;

pub fn emit(ctx: &Ctx) -> Vec<OutputFile> {
    let mut out = vec![file("pf/macros.conf", macros(ctx)), file("pf/wanc.conf", main(ctx))];
    for (id, state) in ctx.site.states.iter().enumerate() {
        out.push(file(&policy_file(&state.name), policy(ctx, id)));
    }
    out
}

fn file(path: &str, contents: String) -> OutputFile {
    OutputFile { path: path.into(), contents: contents.into_bytes() }
}

/// The include line every wanc ruleset starts with.
pub fn include_macros() -> String {
    format!("include \"{PREFIX}/pf/macros.conf\"")
}

fn macros(ctx: &Ctx) -> String {
    let mut s = header(ctx.site, "#");
    s.push_str(
        "# The site's interfaces, addresses and gateways, named once for every wanc\n# ruleset (each one includes this file).\n",
    );
    for (u, up) in ctx.site.uplinks.iter().enumerate() {
        let id = &ctx.names.uplinks[u];
        let _ = writeln!(s, "\n# uplink {}\n{id}_if = \"{}\"", up.name, up.interface);
        for f in Family::BOTH {
            match up.source(f) {
                Some(Address::Known(a)) => {
                    let _ = writeln!(s, "{id}_addr{} = \"{a}\"", f.suffix());
                }
                Some(Address::Learned(_)) => {
                    let _ = writeln!(
                        s,
                        "# learned: the interface's address of the moment\n{id}_addr{} = \"{}\"",
                        f.suffix(),
                        learned::pf_address(&up.interface, f)
                    );
                }
                None => {}
            }
            if let Some(NextHop::Gateway { address, zone }) = ctx.plan.hop(u, f) {
                let zone = zone.as_ref().map(|z| format!("%{z}")).unwrap_or_default();
                let _ = writeln!(s, "{id}_gw{} = \"{address}{zone}\"", f.suffix());
            }
        }
    }
    for (l, lan) in ctx.site.lans.iter().enumerate() {
        let _ = writeln!(s, "\n# lan {}\n{}_if = \"{}\"", lan.name, ctx.names.lans[l], lan.interface);
    }
    if !ctx.site.hosts.is_empty() {
        s.push_str("\n# hosts\n");
    }
    for (h, host) in ctx.site.hosts.iter().enumerate() {
        let _ = writeln!(s, "{}_host = \"{}\"", ctx.names.hosts[h], host.address);
    }
    s
}

fn main(ctx: &Ctx) -> String {
    let mut s = header(ctx.site, "#");
    let _ = write!(
        s,
        "# Include from /etc/pf.conf after your `block quick` rules and before all your\n\
         # other rules (see docs/deploy-openbsd.md):\n\
         #     include \"{PREFIX}/pf/wanc.conf\"\n\
         # Every rule here is quick: the first that matches decides and keeps its\n\
         # route-to or reply-to; a pass rule of yours before it would create the\n\
         # state without them. It passes the traffic wanc routes, forwards and\n\
         # serves, and the traffic to the uplinks' own addresses (the router's own\n\
         # services, whose replies must leave by the uplink they came in on): block\n\
         # what must never pass with `block quick` before the include.\n\
         # ifstated (see ifstated.conf) loads the current state's policy into the\n\
         # anchor {ANCHOR} and sets the default route.\n\
         {}\n",
        include_macros()
    );
    let lan_nets: Vec<String> = ctx.site.lans.iter().flat_map(|l| &l.networks).map(|n| n.to_string()).collect();
    if !lan_nets.is_empty() {
        let _ = writeln!(
            s,
            "\n# The networks behind the lans; with the router's own addresses, what\n\
             # route rules never send out by an uplink.\n\
             table <wanc_lan> const {{ {nets} }}\n\
             table <wanc_local> const {{ self, {nets} }}",
            nets = lan_nets.join(", ")
        );
    }
    let tables = gateway_tables(ctx);
    if !tables.is_empty() {
        let _ = write!(
            s,
            "\n# Learned gateways, one table per uplink and family: ifstated.conf keeps\n\
             # each one holding the default route's gateway that the DHCP client (or\n\
             # slaacd, a PPP daemon) installed through the uplink's interface, and empty\n\
             # while there is none.\n{tables}"
        );
    }
    let mut nat = String::new();
    for (u, up) in ctx.site.uplinks.iter().enumerate() {
        // A later `match` rule's `nat-to` replaces an earlier one's, so the
        // lines go last tried first: the ones for every lan, then the named
        // sources from the last written to the first.
        let (named, every): (Vec<_>, Vec<_>) = up.nat.iter().partition(|n| n.from.is_some());
        for n in every.into_iter().chain(named.into_iter().rev()) {
            let f = n.to.family();
            let from = match &n.from {
                Some(nets) => set(&nets.iter().map(|n| n.to_string()).collect::<Vec<_>>()),
                None if ctx.site.lans.iter().flat_map(|l| &l.networks).any(|n| Family::of(&n.addr()) == f) => {
                    "<wanc_lan>".to_string()
                }
                None => continue,
            };
            let to = own_address(ctx, u, n.to);
            let _ = writeln!(nat, "match out on ${}_if {} from {from} nat-to {to}", ctx.names.uplinks[u], f.pf());
        }
    }
    if !nat.is_empty() {
        let _ = write!(s, "\n# NAT: lan traffic leaving by an uplink takes that uplink's address.\n{nat}");
    }
    // Forward and serve rules first, so that a server's replies follow its
    // own rule and not a route rule for its lan, and a forwarded port is
    // not taken for the router's own service.
    if !ctx.plan.pinned.is_empty() {
        s.push_str("\n# forward and serve rules\n");
        for &r in &ctx.plan.pinned {
            let _ = writeln!(s, "# {}", comment(&ctx.site.rules[r].text));
            pinned_lines(ctx, r).iter().for_each(|l| {
                let _ = writeln!(s, "{l}");
            });
        }
    }
    if ctx.plan.states.iter().any(|p| !p.pinned.is_empty()) {
        let _ = writeln!(s, "\n# forward and serve rules of the current state only\nanchor \"{ANCHOR}/{PINNED}\" quick");
    }
    let (to_self, from_self) = (self_replies(ctx), source_replies(ctx));
    if !to_self.is_empty() {
        s.push_str(
            "\n# Traffic to an uplink's own address (the router's own services): created\n\
             # here, its state sends the replies back by that uplink, not by the default\n\
             # route.\n",
        );
        s.push_str(&to_self);
    }
    if !from_self.is_empty() {
        s.push_str(
            "\n# Traffic sourced from an uplink's address leaves by that uplink, also where\n\
             # the routing table would send it out by another one: the router's own\n\
             # connections from that address, and the uplink's own probes.\n",
        );
        s.push_str(&from_self);
    }
    let anchors = route_anchors(ctx);
    if !anchors.is_empty() {
        let _ = write!(
            s,
            "\n# Route rules, the one that decides first (the first match decides: a\n\
             # state's own rules, then the site's, each last written first). Each hands\n\
             # its traffic to the anchor of its routing choice, which holds what the\n\
             # choice does in the current state (see pf/policy.STATE.conf).\n{anchors}"
        );
    }
    s
}

/// Per uplink with another one to leave by, traffic coming in to its own
/// address passes with `reply-to` its next hop; not from the uplink's own
/// networks, which the routing table reaches by the uplink's interface
/// anyway, and whose hosts' replies must not go by way of the gateway.
fn self_replies(ctx: &Ctx) -> String {
    let mut s = String::new();
    for u in 0..ctx.site.uplinks.len() {
        if !has_other_exit(ctx, u) {
            continue;
        }
        for f in Family::BOTH {
            if let (Some(to), Some(next)) = (uplink_addresses(ctx, u, f), next_hop(ctx, u, f)) {
                let on = format!("${}_if", ctx.names.uplinks[u]);
                let _ = writeln!(
                    s,
                    "pass in quick on {on} {} from ! ({on}:network) to {to} reply-to {next} {}",
                    f.pf(),
                    label(ctx, u)
                );
            }
        }
    }
    s
}

/// Whether another uplink leaves by another interface, where the routing
/// table could send an uplink's traffic.
fn has_other_exit(ctx: &Ctx, u: UplinkId) -> bool {
    let up = &ctx.site.uplinks[u];
    ctx.site.uplinks.iter().enumerate().any(|(v, other)| v != u && other.interface != up.interface)
}

fn source_replies(ctx: &Ctx) -> String {
    let mut s = String::new();
    for (u, up) in ctx.site.uplinks.iter().enumerate() {
        let others: Vec<String> = ctx
            .site
            .uplinks
            .iter()
            .enumerate()
            .filter(|(v, other)| *v != u && other.interface != up.interface)
            .map(|(v, _)| format!("${}_if", ctx.names.uplinks[v]))
            .collect();
        if others.is_empty() {
            continue;
        }
        for f in Family::BOTH {
            if let (Some(from), Some(next)) = (uplink_addresses(ctx, u, f), next_hop(ctx, u, f)) {
                let _ =
                    writeln!(s, "pass out quick on {} {} from {from} route-to {next} {}", set(&others), f.pf(), label(ctx, u));
            }
        }
    }
    s
}

/// The route rules, the one that decides first (`Plan::routes` is in
/// last-match order), each handing its traffic to the anchor of its
/// routing choice.
fn route_anchors(ctx: &Ctx) -> String {
    let mut s = String::new();
    for &(id, choice) in ctx.plan.routes.iter().rev() {
        let RuleKind::Route { from, to, proto, ports, .. } = &ctx.site.rules[id].kind else { continue };
        let sel = Selector { from, to, proto: *proto, ports };
        let _ = writeln!(s, "# {}", comment(&ctx.site.rules[id].text));
        if ctx.site.lans.is_empty() {
            s.push_str("# not emitted: route rules apply to traffic arriving on a lan's interface, and the site has no lan\n");
            continue;
        }
        for f in Family::BOTH {
            if let Some(criteria) = sel.criteria(ctx, f) {
                let _ = writeln!(s, "anchor \"{}\" {criteria}", choice_anchor(choice));
            }
        }
    }
    s
}

/// The anchor a choice's rules are loaded into.
pub fn choice_anchor(choice: ChoiceId) -> String {
    format!("{ANCHOR}/{}", choice_name(choice))
}

pub fn choice_name(choice: ChoiceId) -> String {
    format!("choice{choice}")
}

/// The anchor of the `forward` and `serve` rules in force in some states
/// only (those in force in every state are in pf/wanc.conf).
const PINNED: &str = "pinned";

/// A rule that never matches, for an anchor that must hold nothing: pf does
/// not load an empty inline anchor, which would keep its old rules.
const NOTHING: &str = "match in tagged \"wanc-nothing\"";

fn policy(ctx: &Ctx, id: StateId) -> String {
    let state = &ctx.site.states[id];
    let plan = &ctx.plan.states[id];
    let mut s = header(ctx.site, "#");
    let _ = write!(
        s,
        "# State `{}` when {}: {}.\n\
         # ifstated loads it with: pfctl -a {ANCHOR} -f {PREFIX}/{}\n\
         # Each anchor below holds what a routing choice of pf/wanc.conf does in\n\
         # this state; a choice followed live is loaded by ifstated as health changes.\n\
         {}\n",
        state.name,
        comment(&state.when_text),
        health_summary(ctx, state),
        policy_file(&state.name),
        include_macros()
    );
    for (c, routing) in plan.choices.iter().enumerate() {
        let via = via_text(ctx, &ctx.site.vias[ctx.plan.choices[c].via]);
        match routing {
            None => {
                let _ = writeln!(s, "\n# {via}: no rule of it is in force in this state");
            }
            Some(routing) => {
                let _ = writeln!(s, "\n# {via} -> {}", describe(ctx, routing));
                if live::is_live(routing) {
                    let _ = writeln!(s, "# members used only while live-healthy: ifstated loads {}", choice_anchor(c));
                    continue;
                }
            }
        }
        s.push_str(&inline(&choice_name(c), &choice_block(ctx, c, routing.as_ref())));
    }
    if ctx.plan.states.iter().any(|p| !p.pinned.is_empty()) {
        let mut rules = Vec::new();
        for &r in &plan.pinned {
            rules.push(format!("# {}", comment(&ctx.site.rules[r].text)));
            rules.extend(pinned_lines(ctx, r));
        }
        if plan.pinned.is_empty() {
            rules.push(NOTHING.into());
        }
        let _ = write!(s, "\n# forward and serve rules of this state\n{}", inline(PINNED, &rules));
    }
    s
}

/// What a choice's anchor holds: its rules for a routing whose members are
/// all known, or for a choice not in force (`None`) a rule that never
/// matches.
pub fn choice_block(ctx: &Ctx, choice: ChoiceId, routing: Option<&Routing>) -> Vec<String> {
    match routing {
        Some(routing) => choice_rules(ctx, choice, routing),
        None => vec![NOTHING.into()],
    }
}

/// An inline anchor holding `rules`.
pub fn inline(name: &str, rules: &[String]) -> String {
    let body: String = rules.iter().map(|r| format!("\t{r}\n")).collect();
    format!("anchor \"{name}\" {{\n{body}}}\n")
}

/// What a choice's anchor holds for a routing whose members are all known:
/// per family its traffic comes in, the one failover member, the balance
/// chain, or a plain pass when nothing routes it (so that no earlier rule's
/// route-to applies, and the main routing table decides).
fn choice_rules(ctx: &Ctx, choice: ChoiceId, routing: &Routing) -> Vec<String> {
    let mut out = Vec::new();
    for f in ctx.choice_families(choice) {
        match routing {
            Routing::Uplinks { mode: ViaMode::Failover, members } => {
                out.push(member_rule(ctx, f, members.first().map(|m| m.uplink)))
            }
            Routing::Uplinks { members, .. } => {
                let reach: Vec<&Member> = members.iter().filter(|m| next_hop(ctx, m.uplink, f).is_some()).collect();
                if reach.is_empty() {
                    out.push(member_rule(ctx, f, None));
                }
                let mut total = 0;
                for m in reach {
                    total += m.weight;
                    let line = member_rule(ctx, f, Some(m.uplink));
                    out.push(match probability(m.weight, total) {
                        Some(p) => format!("{line} {p}"),
                        None => line,
                    });
                }
            }
            Routing::Unrouted | Routing::Pinned { .. } => out.push(member_rule(ctx, f, None)),
        }
    }
    out
}

/// The rule of a choice's anchor that routes one family by `via` (unless
/// it has no next hop there), or a plain pass.
pub fn member_rule(ctx: &Ctx, f: Family, via: Option<UplinkId>) -> String {
    match via.and_then(|u| Some((u, next_hop(ctx, u, f)?))) {
        Some((u, next)) => format!("pass in {} route-to {next} {}", f.pf(), label(ctx, u)),
        None => format!("pass in {}", f.pf()),
    }
}

/// The lines of a `forward` or `serve` rule.
fn pinned_lines(ctx: &Ctx, id: RuleId) -> Vec<String> {
    match &ctx.site.rules[id].kind {
        RuleKind::Forward { proto, ports, on, at, to, to_port } => forward(ctx, *proto, ports, *on, *at, *to, *to_port),
        RuleKind::Serve { proto, ports, host, via, stateless } => serve(ctx, *proto, ports, *host, *via, *stateless),
        _ => Vec::new(),
    }
}

/// A `via` as written, for comments.
fn via_text(ctx: &Ctx, via: &Via) -> String {
    let names: Vec<&str> = via.uplinks.iter().map(|&u| ctx.site.uplinks[u].name.as_str()).collect();
    match via.mode {
        ViaMode::Failover => format!("via {}", names.join(", ")),
        ViaMode::Balance => format!("via balance({})", names.join(", ")),
        ViaMode::Multipath => format!("via multipath({})", names.join(", ")),
    }
}

/// `probability P%` for a chain member of `weight` whose chain, up to and
/// including it, weighs `total`; none for 100%. Thousandths of a percent,
/// rounded down, as the live chains in ifstated.conf compute them.
pub fn probability(weight: u32, total: u32) -> Option<String> {
    let q = 100_000 * u64::from(weight) / u64::from(total.max(1));
    if q >= 100_000 {
        return None;
    }
    let frac = format!("{:03}", q % 1000);
    let frac = frac.trim_end_matches('0');
    Some(if frac.is_empty() { format!("probability {}%", q / 1000) } else { format!("probability {}.{frac}%", q / 1000) })
}

/// The traffic a `route` rule selects.
pub struct Selector<'a> {
    pub from: &'a [IpNet],
    pub to: &'a [IpNet],
    pub proto: Option<Proto>,
    pub ports: &'a [Ports],
}

impl Selector<'_> {
    /// Whether the rule selects traffic of family `f`.
    pub fn fits(&self, f: Family) -> bool {
        let proto = match self.proto {
            Some(Proto::Icmp) => f == Family::V4,
            Some(Proto::Icmp6) => f == Family::V6,
            _ => true,
        };
        proto && nets(self.from, f).is_some() && (self.to.is_empty() || nets(self.to, f).is_some())
    }

    /// `in quick on LANS FAMILY … from … to … port …`: the traffic entering from
    /// the lans; `None` when the rule selects nothing of this family.
    fn criteria(&self, ctx: &Ctx, f: Family) -> Option<String> {
        let on = lan_interfaces(ctx)?;
        if !self.fits(f) {
            return None;
        }
        // Without a destination, everything but the router and the lans:
        // route-to would send traffic for them out by an uplink too.
        let to = if self.to.is_empty() { "! <wanc_local>".to_string() } else { nets(self.to, f)? };
        let from = nets(self.from, f)?;
        let mut s = format!("in quick on {on} {}", f.pf());
        if let Some(p) = self.proto {
            let _ = write!(s, " proto {}", p.as_str());
        }
        let _ = write!(s, " from {from} to {to}");
        if !self.ports.is_empty() {
            let _ = write!(s, " port {}", ports(self.ports));
        }
        Some(s)
    }
}

fn forward(
    ctx: &Ctx,
    proto: Proto,
    port_list: &[Ports],
    on: UplinkId,
    at: Address,
    to: IpAddr,
    to_port: Option<u16>,
) -> Vec<String> {
    let f = Family::of(&to);
    let up = &ctx.site.uplinks[on];
    let Some(next) = next_hop(ctx, on, f) else {
        return vec![missing(&up.name, f)];
    };
    let at = own_address(ctx, on, at);
    let rdr = match to_port {
        Some(p) => format!("rdr-to {} port {p}", host_ref(ctx, &to)),
        None => format!("rdr-to {}", host_ref(ctx, &to)),
    };
    vec![format!(
        "pass in quick on ${}_if {} proto {} from any to {at} port {} {rdr} reply-to {next} {}",
        ctx.names.uplinks[on],
        f.pf(),
        proto.as_str(),
        ports(port_list),
        label(ctx, on)
    )]
}

/// `serve`: replies from the server leave by the uplink. Stateless, every
/// hop passes with `no state` except the one that routes the replies: pf
/// refuses `route-to` without state ("route-to, reply-to and dup-to require
/// keep state" in pfctl), so that rule keeps a sloppy state, created by
/// the first reply (`flags any`) and checking no sequence numbers, which is
/// what tracking one direction of a connection needs.
fn serve(ctx: &Ctx, proto: Proto, port_list: &[Ports], host: IpAddr, via: UplinkId, stateless: bool) -> Vec<String> {
    let f = Family::of(&host);
    let up = &ctx.site.uplinks[via];
    let Some(next) = next_hop(ctx, via, f) else {
        return vec![missing(&up.name, f)];
    };
    let on = format!("${}_if", ctx.names.uplinks[via]);
    let what = format!("{} proto {}", f.pf(), proto.as_str());
    let (server, port, label) = (host_ref(ctx, &host), ports(port_list), label(ctx, via));
    if !stateless {
        return vec![format!("pass in quick on {on} {what} from any to {server} port {port} reply-to {next} {label}")];
    }
    let lan = server_lans(ctx, &host).map(|l| format!(" on {l}")).unwrap_or_default();
    let flags = if proto == Proto::Tcp { " flags any" } else { "" };
    vec![
        format!("pass in quick on {on} {what} from any to {server} port {port} no state {label}"),
        format!("pass out quick{lan} {what} from any to {server} port {port} no state {label}"),
        format!("pass in quick{lan} {what} from {server} port {port} to any{flags} route-to {next} keep state (sloppy) {label}"),
        format!("pass out quick on {on} {what} from {server} port {port} to any no state {label}"),
    ]
}

fn missing(uplink: &str, f: Family) -> String {
    format!("# not emitted: `{uplink}` has no {} address and gateway", f.pf())
}

/// The interfaces of the lans whose networks hold `host`, else of all lans;
/// `None` without lans.
fn server_lans(ctx: &Ctx, host: &IpAddr) -> Option<String> {
    let holding: Vec<String> = (0..ctx.site.lans.len())
        .filter(|&l| ctx.site.lans[l].networks.iter().any(|n| n.contains(host)))
        .map(|l| format!("${}_if", ctx.names.lans[l]))
        .collect();
    if holding.is_empty() {
        lan_interfaces(ctx)
    } else {
        Some(set(&holding))
    }
}

fn lan_interfaces(ctx: &Ctx) -> Option<String> {
    let ifs: Vec<String> = ctx.names.lans.iter().map(|l| format!("${l}_if")).collect();
    (!ifs.is_empty()).then(|| set(&ifs))
}

/// The networks of one family, `any` for none given; `None` when networks
/// are given but none of this family.
fn nets(nets: &[IpNet], f: Family) -> Option<String> {
    if nets.is_empty() {
        return Some("any".into());
    }
    let of: Vec<String> = nets.iter().filter(|n| Family::of(&n.addr()) == f).map(|n| n.to_string()).collect();
    (!of.is_empty()).then(|| set(&of))
}

fn ports(list: &[Ports]) -> String {
    let items: Vec<String> =
        list.iter().map(|p| if p.first == p.last { p.first.to_string() } else { format!("{}:{}", p.first, p.last) }).collect();
    set(&items)
}

/// One item as is, several as a pf list.
fn set(items: &[String]) -> String {
    match items {
        [one] => one.clone(),
        _ => format!("{{ {} }}", items.join(", ")),
    }
}

/// An address of the uplink: its macro for its address of the family
/// (given or learned), others as written.
fn own_address(ctx: &Ctx, u: UplinkId, a: Address) -> String {
    match a {
        Address::Known(a) if address(&ctx.site.uplinks[u], Family::of(&a)) != Some(a) => a.to_string(),
        _ => uplink_macro(ctx, u, "addr", a.family()),
    }
}

/// The uplink's addresses of a family: its macro for the first (given or
/// learned), the others as written.
fn uplink_addresses(ctx: &Ctx, u: UplinkId, f: Family) -> Option<String> {
    let up = &ctx.site.uplinks[u];
    up.source(f)?;
    let others = up.addresses.iter().map(|n| n.addr()).filter(|a| Family::of(a) == f).skip(1).map(|a| a.to_string());
    Some(set(&std::iter::once(uplink_macro(ctx, u, "addr", f)).chain(others).collect::<Vec<_>>()))
}

fn uplink_macro(ctx: &Ctx, u: UplinkId, what: &str, f: Family) -> String {
    format!("${}_{what}{}", ctx.names.uplinks[u], f.suffix())
}

/// The next hop of `route-to` and `reply-to`.
fn next_hop(ctx: &Ctx, u: UplinkId, f: Family) -> Option<String> {
    Some(match ctx.plan.hop(u, f)? {
        NextHop::Gateway { .. } => uplink_macro(ctx, u, "gw", f),
        NextHop::Peer => format!("(${}_if:peer)", ctx.names.uplinks[u]),
        NextHop::Learned => format!("<{}>", learned::table(ctx, u, f)),
    })
}

/// The declarations of the learned gateways' tables: `persist`, so that
/// they stay while empty and ifstated can fill them.
fn gateway_tables(ctx: &Ctx) -> String {
    let mut s = String::new();
    for u in 0..ctx.site.uplinks.len() {
        for f in Family::BOTH {
            if ctx.plan.hop(u, f) == Some(&NextHop::Learned) {
                let _ = writeln!(s, "table <{}> persist", learned::table(ctx, u, f));
            }
        }
    }
    s
}

fn label(ctx: &Ctx, u: UplinkId) -> String {
    format!("label \"{}\"", ctx.site.uplinks[u].name)
}

fn host_ref(ctx: &Ctx, addr: &IpAddr) -> String {
    match ctx.site.hosts.iter().position(|h| h.address == *addr) {
        Some(h) => format!("${}_host", ctx.names.hosts[h]),
        None => addr.to_string(),
    }
}

/// A routing in words, for the comment above its rules.
fn describe(ctx: &Ctx, routing: &Routing) -> String {
    let name = |u: UplinkId| ctx.site.uplinks[u].name.as_str();
    match routing {
        Routing::Unrouted => "unrouted: the main routing table decides".into(),
        Routing::Pinned { uplink, health } => format!(
            "{}{}",
            name(*uplink),
            match health {
                Health::Up => "",
                Health::Down => " (down in this state)",
                Health::Either => " (while up)",
            }
        ),
        Routing::Uplinks { mode, members } => {
            let list: Vec<String> = members
                .iter()
                .map(|m| {
                    let weight = if *mode == ViaMode::Failover { String::new() } else { format!(" ×{}", m.weight) };
                    format!("{}{weight}{}", name(m.uplink), if m.certain { "" } else { " (while up)" })
                })
                .collect();
            match mode {
                ViaMode::Failover => list.join(", else "),
                ViaMode::Balance => format!("balance {}", list.join(", ")),
                ViaMode::Multipath => format!("multipath {}, spread per connection like balance", list.join(", ")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::probability;

    #[test]
    fn chain_probabilities_give_each_member_its_weight() {
        assert_eq!(probability(1, 1), None);
        assert_eq!(probability(1, 2).as_deref(), Some("probability 50%"));
        assert_eq!(probability(1, 3).as_deref(), Some("probability 33.333%"));
        assert_eq!(probability(2, 3).as_deref(), Some("probability 66.666%"));
        assert_eq!(probability(1, 8).as_deref(), Some("probability 12.5%"));
        assert_eq!(probability(1, 100_000).as_deref(), Some("probability 0.001%"));
    }
}
