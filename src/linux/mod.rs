//! The Linux realisation of a site: routing tables, packet marks, rule
//! priorities, and per state the routes and the nftables policy chain.
//!
//! Shared by the Linux back end, which renders it as shell scripts, and the
//! agent, which applies it itself, so both put the kernel in the same state.
//!
//! How traffic is steered:
//! - each uplink has a routing table holding its default route;
//! - `ip rule`s send traffic from an uplink's address to its table (replies
//!   and the router's own traffic leave by the uplink that owns the source);
//! - nftables marks new connections from the lans per policy rule (pinned:
//!   the uplink's mark; balance: a weighted random pick among the healthy
//!   uplinks' marks; multipath: the mark of a pool table holding a multipath
//!   route), stores the mark in the connection, and restores it on every
//!   later packet, so a connection stays on its uplink;
//! - connections arriving on an uplink are marked with it, so replies to
//!   them (forwarded services included) leave by that uplink, the Linux
//!   counterpart of pf's `reply-to`;
//! - a rule of highest priority consults the main table for everything but
//!   default routes, so lan and link routes always win over marks.

mod nft;
mod routes;

pub use nft::{nft_policy, nft_policy_load, nft_setup, nft_table_name};
pub use routes::{families, ip_rules, state_routes, uplink_routes, Family, IpRule, Nexthop, Route, Selector};

use crate::ir::ViaMode;
use crate::ir::{self, Routing, Site, UplinkId};

/// Marks live in bits 8–15, leaving the others to the rest of the system.
pub const MARK_MASK: u32 = 0xff00;
const MARK_SHIFT: u32 = 8;
/// Mark slots: one per uplink and one per multipath pool.
pub const MAX_SLOTS: usize = 255;

/// Rule priorities: the kernel's own are 0 (local), 32766 (main) and 32767
/// (default); wanc stays in 10000–12999, clear of both and of the low
/// numbers hand-written setups use.
pub const PRIO_MAIN: u32 = 10_000;
pub const PRIO_SOURCE: u32 = 10_100;
pub const PRIO_MARK: u32 = 11_000;
pub const PRIO_SERVE: u32 = 12_000;
/// How many serve rules fit between PRIO_SERVE and the end of wanc's range.
pub const MAX_SERVE: usize = 999;
/// Source rules: two per uplink (one per family) fit below PRIO_MARK.
pub const MAX_UPLINKS: usize = 450;

/// A multipath pool: a routing table whose default route spreads over its
/// uplinks, selected by the pool's mark.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub uplinks: Vec<UplinkId>,
    pub table: u32,
    pub mark: u32,
}

/// The numbers of one site.
#[derive(Clone, Debug, PartialEq)]
pub struct Ids {
    pub uplink_marks: Vec<u32>,
    pub pools: Vec<Pool>,
}

impl Ids {
    pub fn pool_of(&self, uplinks: &[UplinkId]) -> Option<&Pool> {
        self.pools.iter().find(|p| p.uplinks == uplinks)
    }
}

/// Why a site does not fit the kernel's numbers.
#[derive(Debug, PartialEq)]
pub enum Overflow {
    Marks(usize),
    Uplinks(usize),
    Serves(usize),
}

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Overflow::Marks(n) => write!(f, "{n} uplinks and multipath pools need marks, {MAX_SLOTS} fit"),
            Overflow::Uplinks(n) => write!(f, "{n} uplinks, {MAX_UPLINKS} fit in wanc's rule priorities"),
            Overflow::Serves(n) => write!(f, "{n} serve rules, {MAX_SERVE} fit in wanc's rule priorities"),
        }
    }
}

/// Allocates marks and pool tables. Pools are the distinct uplink lists of
/// `multipath(…)` rules, numbered after the highest uplink table.
pub fn allocate(site: &Site) -> Result<Ids, Overflow> {
    if site.uplinks.len() > MAX_UPLINKS {
        return Err(Overflow::Uplinks(site.uplinks.len()));
    }
    let serves = site.rules.iter().filter(|r| matches!(r.kind, ir::RuleKind::Serve { .. })).count();
    if serves > MAX_SERVE {
        return Err(Overflow::Serves(serves));
    }
    let mut lists: Vec<Vec<UplinkId>> = Vec::new();
    for rule in &site.rules {
        if let ir::RuleKind::Route { via, .. } = &rule.kind {
            if via.mode == ViaMode::Multipath && !lists.contains(&via.uplinks) {
                lists.push(via.uplinks.clone());
            }
        }
    }
    let slots = site.uplinks.len() + lists.len();
    if slots > MAX_SLOTS {
        return Err(Overflow::Marks(slots));
    }
    let mark = |slot: usize| ((slot as u32) + 1) << MARK_SHIFT;
    let uplink_marks = (0..site.uplinks.len()).map(mark).collect();
    let used: Vec<u32> = site.uplinks.iter().map(|u| u.table).collect();
    let mut next = used.iter().copied().max().unwrap_or(100) + 1;
    let mut pools = Vec::new();
    for (i, uplinks) in lists.into_iter().enumerate() {
        while used.contains(&next) || (253..=255).contains(&next) {
            next += 1;
        }
        pools.push(Pool { uplinks, table: next, mark: mark(site.uplinks.len() + i) });
        next += 1;
    }
    Ok(Ids { uplink_marks, pools })
}

/// The routing a rule has in a state, with the members the state leaves
/// open decided by live health when it is known (the agent) or taken as up
/// when it is not (the scripts, which have no health of their own).
pub fn effective(routing: &Routing, live: Option<&[bool]>) -> Routing {
    let Routing::Uplinks { mode, members } = routing else { return routing.clone() };
    let usable = |m: &&ir::Member| m.certain || live.is_none_or(|l| l.get(m.uplink).copied().unwrap_or(false));
    let mut chosen: Vec<ir::Member> = members.iter().filter(usable).cloned().collect();
    if *mode == ViaMode::Failover {
        chosen.truncate(1);
    }
    if chosen.is_empty() {
        Routing::Unrouted
    } else {
        Routing::Uplinks { mode: *mode, members: chosen }
    }
}
