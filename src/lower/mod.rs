//! Lowering: the checked model (`ir::Site`) to the facts the targets need,
//! computed once, here, and read by every emitter and by the agent.
//!
//! - **Next hops** per uplink and family ([`NextHop`]), one rule for
//!   `gateway dev` on both targets.
//! - **Routing choices.** Route rules that send traffic the same way (the
//!   same `via`) and are in force in the same states share one [`Choice`]:
//!   one nftables chain on Linux, one pf anchor on OpenBSD. The rules
//!   themselves are written once, each pointing at its choice; a state is
//!   only what each choice does in it ([`StatePlan`]). Output and build cost
//!   so grow as rules + states × choices, not rules × states.
//! - **Linux numbers** ([`linux`]): marks, tables, multipath pools, rule
//!   priorities, routes, and weights the kernel accepts; or why the site
//!   does not fit.
//! - **OpenBSD numbers** ([`openbsd`]): each check as ifstated runs it, in
//!   whole seconds, and how long its round can take there.

pub mod linux;
pub mod openbsd;

use crate::ir::{Address, Family, Gateway, Routing, RuleId, RuleKind, Site, UplinkId, ViaId, ViaMode};
use std::collections::HashMap;
use std::net::IpAddr;

/// What `wanc build` writes for; the agent's platforms follow the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// nftables, ip rules and routes: sh scripts
    Linux,
    /// pf and ifstated
    Openbsd,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::Linux, Target::Openbsd];
}

pub type ChoiceId = usize;
pub type StateId = usize;

/// A site lowered for its targets. It owns the site, so that every consumer
/// holds one value with both the model and what was computed from it.
#[derive(Debug)]
pub struct Plan {
    pub site: Site,
    /// Per uplink, its next hop in each family (indexed by [`Family::index`]).
    pub hops: Vec<[Option<NextHop>; 2]>,
    /// The families some uplink has a next hop in: wanc routes those and
    /// leaves the others' default routes alone.
    pub families: Vec<Family>,
    pub choices: Vec<Choice>,
    /// Every route rule, in the order rules are matched (last match wins:
    /// site rules, then the states' own, each in written order), with the
    /// choice it belongs to.
    pub routes: Vec<(RuleId, ChoiceId)>,
    /// `forward` and `serve` rules in force in every state.
    pub pinned: Vec<RuleId>,
    pub states: Vec<StatePlan>,
    /// The Linux realisation, or why the site does not fit Linux's numbers.
    pub linux: Result<linux::Numbers, linux::Overflow>,
}

/// How an uplink reaches its next hop in one family.
#[derive(Clone, Debug, PartialEq)]
pub enum NextHop {
    Gateway {
        address: IpAddr,
        zone: Option<String>,
    },
    /// `gateway dev`: a point-to-point link, whose peer is the next hop.
    Peer,
    /// `gateway auto`: the gateway the router learns for the uplink's
    /// interface (DHCP, router advertisements, a PPP session).
    Learned,
}

/// Route rules that share a `via` and the states they are in force in.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub via: ViaId,
    /// The states in which no rule of this choice is in force (a state's
    /// own rule replaced it, or it is a state's own rule), ascending.
    pub absent: Vec<StateId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StatePlan {
    /// The routing of the site's default route, if it has one.
    pub default: Option<Routing>,
    /// The uplinks the default route names, in order. When none of them is
    /// up, the router keeps a default route by the first of them that can
    /// carry one (in each family), on every target: OpenBSD needs one for
    /// ifstated's probes to leave at all, and a site means one thing
    /// everywhere. Traffic then still tries the preferred uplink.
    pub fallback: Vec<UplinkId>,
    /// Per choice, its routing in this state; `None` where it is absent.
    pub choices: Vec<Option<Routing>>,
    /// `forward` and `serve` rules in force in this state but not in every
    /// state, in written order.
    pub pinned: Vec<RuleId>,
}

impl Family {
    pub fn index(self) -> usize {
        match self {
            Family::V4 => 0,
            Family::V6 => 1,
        }
    }
}

impl Plan {
    pub fn hop(&self, uplink: usize, family: Family) -> Option<&NextHop> {
        self.hops[uplink][family.index()].as_ref()
    }

    /// The uplink's own address in a family, given or learned.
    pub fn address(&self, uplink: usize, family: Family) -> Option<Address> {
        self.site.uplinks[uplink].source(family)
    }
}

pub fn lower(site: Site) -> Plan {
    let hops: Vec<[Option<NextHop>; 2]> = site.uplinks.iter().map(|u| Family::BOTH.map(|f| next_hop(u, f))).collect();
    let families = Family::BOTH.into_iter().filter(|f| hops.iter().any(|h| h[f.index()].is_some())).collect();

    // The states each rule is absent from: a site rule from the states
    // whose own rules replace it, a state's own rule from every other state.
    let mut absent: Vec<Vec<StateId>> = vec![Vec::new(); site.rules.len()];
    for (s, state) in site.states.iter().enumerate() {
        for &r in &state.replaced {
            absent[r].push(s);
        }
        for &r in &state.own {
            absent[r] = (0..site.states.len()).filter(|&other| other != s).collect();
        }
    }

    let mut choices: Vec<Choice> = Vec::new();
    let mut index: HashMap<(ViaId, &[StateId]), ChoiceId> = HashMap::new();
    let mut routes = Vec::new();
    let mut pinned = Vec::new();
    let mut default = None;
    for (r, rule) in site.rules.iter().enumerate() {
        match &rule.kind {
            RuleKind::Route { via, .. } => {
                let c = *index.entry((*via, &absent[r])).or_insert_with(|| {
                    choices.push(Choice { via: *via, absent: absent[r].clone() });
                    choices.len() - 1
                });
                routes.push((r, c));
            }
            RuleKind::Forward { .. } | RuleKind::Serve { .. } if absent[r].is_empty() => pinned.push(r),
            RuleKind::Default { .. } if r < site.site_rules => default = Some(r),
            _ => {}
        }
    }
    // Forward and serve rules in force in some states only.
    let partly: Vec<RuleId> = (0..site.site_rules)
        .filter(|&r| !absent[r].is_empty() && matches!(site.rules[r].kind, RuleKind::Forward { .. } | RuleKind::Serve { .. }))
        .collect();

    let states = site
        .states
        .iter()
        .enumerate()
        .map(|(s, state)| {
            let choices =
                choices.iter().map(|c| (c.absent.binary_search(&s).is_err()).then(|| state.routing[c.via].clone())).collect();
            let own_default = state.own.iter().copied().find(|&r| matches!(site.rules[r].kind, RuleKind::Default { .. }));
            let default_rule = own_default.or(default.filter(|r| !state.replaced.contains(r)));
            let fallback = match default_rule.map(|r| &site.rules[r].kind) {
                Some(RuleKind::Default { via }) => site.vias[*via].uplinks.clone(),
                _ => Vec::new(),
            };
            let default = default_rule.map(|r| site.routing(state, r));
            let mut pinned: Vec<RuleId> = partly.iter().copied().filter(|r| !state.replaced.contains(r)).collect();
            pinned.extend(
                state
                    .own
                    .iter()
                    .copied()
                    .filter(|&r| matches!(site.rules[r].kind, RuleKind::Forward { .. } | RuleKind::Serve { .. })),
            );
            StatePlan { default, fallback, choices, pinned }
        })
        .collect();
    let linux = linux::allocate(&site, &choices);
    Plan { site, hops, families, choices, routes, pinned, states, linux }
}

/// An uplink's next hop in one family: its gateway of that family (given or
/// learned), or for `gateway dev` the link's peer, in the families the
/// uplink has an address in (in both when it has none).
fn next_hop(up: &crate::ir::Uplink, family: Family) -> Option<NextHop> {
    up.gateways.iter().find_map(|g| match g {
        Gateway::Address { address, zone } if Family::of(address) == family => {
            Some(NextHop::Gateway { address: *address, zone: zone.clone() })
        }
        Gateway::Learned { family: f } if *f == family => Some(NextHop::Learned),
        Gateway::Dev if (up.addresses.is_empty() && up.learned.is_empty()) || up.source(family).is_some() => Some(NextHop::Peer),
        _ => None,
    })
}

/// Each member's share: the weights divided by their greatest common
/// divisor (1000:500 is 2:1), as the kernel's nexthop weights (at most 256)
/// and nftables' random maps want them.
pub fn shares(members: &[crate::ir::Member]) -> Vec<u32> {
    let divisor = members.iter().map(|m| m.weight.max(1)).fold(0, linux::gcd).max(1);
    members.iter().map(|m| m.weight.max(1) / divisor).collect()
}

/// The routing a choice has in a state, with the members the state leaves
/// open decided by live health when it is known (the agent) or taken as up
/// when it is not (the scripts, which have no health of their own).
pub fn effective(routing: &Routing, live: Option<&[bool]>) -> Routing {
    let Routing::Uplinks { mode, members } = routing else { return routing.clone() };
    let usable = |m: &&crate::ir::Member| m.certain || live.is_none_or(|l| l.get(m.uplink).copied().unwrap_or(false));
    let mut chosen: Vec<crate::ir::Member> = members.iter().filter(usable).cloned().collect();
    if *mode == ViaMode::Failover {
        chosen.truncate(1);
    }
    if chosen.is_empty() {
        Routing::Unrouted
    } else {
        Routing::Uplinks { mode: *mode, members: chosen }
    }
}
