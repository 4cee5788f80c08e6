//! Routes and `ip rule`s: the static ones set up once, and the ones a state
//! moves (the main default route and the multipath pool tables).

use super::{effective, Ids, PRIO_MAIN, PRIO_MARK, PRIO_SERVE, PRIO_SOURCE};
use crate::ir::ViaMode;
use crate::ir::{self, Gateway, Routing, Site, State};
use ipnet::IpNet;
use std::net::IpAddr;

pub use crate::ir::Family;

impl Family {
    /// The `ip` option selecting the family.
    pub fn flag(self) -> &'static str {
        match self {
            Family::V4 => "-4",
            Family::V6 => "-6",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Selector {
    /// `lookup main suppress_prefixlength 0`: main-table routes other than
    /// the default win over every mark.
    SuppressMain,
    From(IpNet),
    Fwmark(u32),
}

#[derive(Clone, Debug, PartialEq)]
pub struct IpRule {
    pub family: Family,
    pub priority: u32,
    pub selector: Selector,
    /// 254 is main.
    pub table: u32,
}

impl IpRule {
    /// The arguments after `ip -4 rule add`.
    pub fn args(&self) -> String {
        let what = match &self.selector {
            Selector::SuppressMain => "lookup main suppress_prefixlength 0".to_string(),
            Selector::From(net) => format!("from {net} lookup {}", self.table),
            Selector::Fwmark(mark) => format!("fwmark {mark:#x}/{:#x} lookup {}", super::MARK_MASK, self.table),
        };
        format!("priority {} {what}", self.priority)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Nexthop {
    /// `None` for a point-to-point link (`gateway dev`).
    pub gateway: Option<IpAddr>,
    pub dev: String,
    pub weight: u32,
}

/// A default route in one table; no nexthops means "no default route".
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub family: Family,
    /// `None` is the main table.
    pub table: Option<u32>,
    pub nexthops: Vec<Nexthop>,
}

impl Route {
    /// The `ip` command (without `ip -4`) that puts this route in place.
    pub fn command(&self) -> String {
        let table = self.table.map(|t| format!(" table {t}")).unwrap_or_default();
        match self.nexthops.as_slice() {
            [] if self.table.is_none() => "route flush exact default".to_string(),
            // `throw` sends the lookup on to the next rule, so traffic of an
            // unrouted pool falls back to the main table, and replacing it is
            // idempotent where a flush of a missing table fails.
            [] => format!("route replace throw default{table}"),
            [one] => format!("route replace default{}{table}", hop(one, false)),
            many => {
                let hops: String = many.iter().map(|h| format!(" nexthop{}", hop(h, true))).collect();
                format!("route replace default{table}{hops}")
            }
        }
    }
}

fn hop(h: &Nexthop, weighted: bool) -> String {
    let via = h.gateway.map(|g| format!(" via {g}")).unwrap_or_default();
    let weight = if weighted { format!(" weight {}", h.weight) } else { String::new() };
    // `onlink`: the gateway is on the uplink's link even where the table
    // holds no link route for it (uplink tables hold only the default).
    let onlink = if h.gateway.is_some() { " onlink" } else { "" };
    format!("{via} dev {}{weight}{onlink}", h.dev)
}

/// An uplink's next hop in one family, if it has one there.
fn nexthop(up: &ir::Uplink, family: Family, weight: u32) -> Option<Nexthop> {
    let gateway = up.gateways.iter().find_map(|g| match g {
        Gateway::Address { address, .. } if Family::of(address) == family => Some(Some(*address)),
        Gateway::Dev if up.addresses.is_empty() || up.addresses.iter().any(|a| Family::of(&a.addr()) == family) => Some(None),
        _ => None,
    })?;
    Some(Nexthop { gateway, dev: up.interface.clone(), weight })
}

/// Each uplink's table: its default route, per family it has a gateway in.
pub fn uplink_routes(site: &Site) -> Vec<Route> {
    let mut out = Vec::new();
    for up in &site.uplinks {
        for family in Family::BOTH {
            if let Some(hop) = nexthop(up, family, 1) {
                out.push(Route { family, table: Some(up.table), nexthops: vec![hop] });
            }
        }
    }
    out
}

pub fn ip_rules(site: &Site, ids: &Ids) -> Vec<IpRule> {
    let families = families(site);
    let mut out: Vec<IpRule> = families
        .iter()
        .map(|&family| IpRule { family, priority: PRIO_MAIN, selector: Selector::SuppressMain, table: 254 })
        .collect();
    for (i, up) in site.uplinks.iter().enumerate() {
        for (j, addr) in up.addresses.iter().enumerate() {
            let host = IpNet::from(addr.addr());
            let family = Family::of(&addr.addr());
            out.push(IpRule {
                family,
                priority: PRIO_SOURCE + 2 * i as u32 + j as u32,
                selector: Selector::From(host),
                table: up.table,
            });
        }
    }
    let marks = site.uplinks.iter().zip(&ids.uplink_marks).map(|(u, m)| (*m, u.table));
    let pools = ids.pools.iter().map(|p| (p.mark, p.table));
    for (slot, (mark, table)) in marks.chain(pools).enumerate() {
        for &family in &families {
            out.push(IpRule { family, priority: PRIO_MARK + slot as u32, selector: Selector::Fwmark(mark), table });
        }
    }
    let serves = site.rules.iter().filter_map(|r| match &r.kind {
        ir::RuleKind::Serve { host, via, .. } => Some((*host, *via)),
        _ => None,
    });
    for (k, (host, via)) in serves.enumerate() {
        let family = Family::of(&host);
        out.push(IpRule {
            family,
            priority: PRIO_SERVE + k as u32,
            selector: Selector::From(IpNet::from(host)),
            table: site.uplinks[via].table,
        });
    }
    out
}

/// The families some uplink has a next hop in: wanc leaves the others'
/// default routes alone.
pub fn families(site: &Site) -> Vec<Family> {
    Family::BOTH.into_iter().filter(|&f| site.uplinks.iter().any(|u| nexthop(u, f, 1).is_some())).collect()
}

/// What a state moves: the main default route (when the site has a default
/// rule) and every multipath pool table, per family.
pub fn state_routes(site: &Site, ids: &Ids, state: &State, live: Option<&[bool]>) -> Vec<Route> {
    let mut out = Vec::new();
    let families = families(site);
    for (&rule, routing) in state.rules.iter().zip(&state.routing) {
        if let ir::RuleKind::Default { .. } = site.rules[rule].kind {
            for &family in &families {
                out.push(Route { family, table: None, nexthops: hops(site, &effective(routing, live), family) });
            }
        }
    }
    for pool in &ids.pools {
        let routing = state.rules.iter().zip(&state.routing).find_map(|(&rule, routing)| match &site.rules[rule].kind {
            ir::RuleKind::Route { via, .. } if via.mode == ViaMode::Multipath && via.uplinks == pool.uplinks => Some(routing),
            _ => None,
        });
        let routing = routing.map(|r| effective(r, live)).unwrap_or(Routing::Unrouted);
        for &family in &families {
            out.push(Route { family, table: Some(pool.table), nexthops: hops(site, &routing, family) });
        }
    }
    out
}

fn hops(site: &Site, routing: &Routing, family: Family) -> Vec<Nexthop> {
    match routing {
        Routing::Uplinks { members, .. } => {
            members.iter().filter_map(|m| nexthop(&site.uplinks[m.uplink], family, m.weight)).collect()
        }
        Routing::Pinned { uplink, .. } => nexthop(&site.uplinks[*uplink], family, 1).into_iter().collect(),
        Routing::Unrouted => Vec::new(),
    }
}
