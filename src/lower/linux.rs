//! The Linux realisation of a site: packet marks, routing tables, rule
//! priorities, multipath pools, and the routes and `ip rule`s they make.
//! The script back end renders these as text and the agent applies them
//! through netlink, so both put the kernel in the same state.
//!
//! How traffic is steered:
//! - each uplink has a routing table holding its default route;
//! - `ip rule`s send traffic from an uplink's address to its table (replies
//!   and the router's own traffic leave by the uplink that owns the source);
//! - nftables marks new connections from the lans per routing choice
//!   (pinned: the uplink's mark; balance: a weighted random pick among the
//!   healthy uplinks' marks; multipath: the mark of a pool table holding a
//!   multipath route), stores the mark in the connection, and restores it on
//!   every later packet, so a connection stays on its uplink;
//! - connections arriving on an uplink are marked with it, so replies to
//!   them (forwarded services included) leave by that uplink, the Linux
//!   counterpart of pf's `reply-to`;
//! - a rule of highest priority consults the main table for everything but
//!   default routes, so lan and link routes always win over marks.

use super::{effective, Choice, NextHop, Plan, StateId};
use crate::ir::{self, Family, Routing, Site, UplinkId, ViaMode};
use ipnet::IpNet;
use std::net::IpAddr;

/// Marks live in bits 8–15, leaving the others to the rest of the system.
pub const MARK_MASK: u32 = 0xff00;
const MARK_SHIFT: u32 = 8;
/// Mark slots: one per uplink and one per multipath pool.
pub const MAX_SLOTS: usize = 255;
/// The kernel's largest nexthop weight in a multipath route.
pub const MAX_NEXTHOP_WEIGHT: u32 = 256;

/// Kernel settings wanc needs, as sysctl keys and values. With marks
/// choosing the uplink, strict reverse-path filtering (`rp_filter=1`, the
/// default of several distributions) must look the route back up with the
/// packet's mark (`src_valid_mark`), or it drops the replies and the new
/// connections that arrive by an uplink other than the main table's
/// default. wanc leaves `rp_filter` itself as the system has it. Setup
/// saves the values before it, teardown restores them.
pub const SYSCTLS: &[(&str, &str)] = &[("net.ipv4.conf.all.src_valid_mark", "1")];

/// The routing protocol number of wanc's routes (`proto 250` in `ip
/// route`): a learned gateway is read from the routes others installed (the
/// DHCP client's, the kernel's from router advertisements), never from
/// wanc's own, which would keep an old lease's gateway alive.
pub const PROTOCOL: u8 = 250;

/// Rule priorities: the kernel's own are 0 (local), 32766 (main) and 32767
/// (default); wanc stays in 10000–12999, clear of both and of the low
/// numbers hand-written setups use.
pub const PRIO_MAIN: u32 = 10_000;
pub const PRIO_SOURCE: u32 = 10_100;
pub const PRIO_MARK: u32 = 11_000;
pub const PRIO_SERVE: u32 = 12_000;
/// How many serve rules fit between PRIO_SERVE and the end of wanc's range.
pub const MAX_SERVE: usize = 999;
/// Source rules, one per address of an uplink (given or learned), fit
/// below PRIO_MARK.
pub const MAX_SOURCES: usize = (PRIO_MARK - PRIO_SOURCE) as usize;

/// A multipath pool: a routing table whose default route spreads over its
/// uplinks, selected by the pool's mark.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub uplinks: Vec<UplinkId>,
    pub table: u32,
    pub mark: u32,
}

/// The numbers of one site on Linux.
#[derive(Clone, Debug, PartialEq)]
pub struct Numbers {
    pub uplink_marks: Vec<u32>,
    pub pools: Vec<Pool>,
    /// Per choice, the pool its multipath route lives in.
    pub choice_pools: Vec<Option<usize>>,
}

/// Why a site does not fit the kernel's numbers.
#[derive(Clone, Debug, PartialEq)]
pub enum Overflow {
    Marks(usize),
    Sources(usize),
    Serves(usize),
    /// A multipath member's weight, reduced, is still above the kernel's.
    Weight {
        uplink: UplinkId,
        reduced: u32,
    },
}

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Overflow::Marks(n) => write!(f, "{n} uplinks and multipath pools need marks, {MAX_SLOTS} fit"),
            Overflow::Sources(n) => write!(f, "{n} uplink addresses, {MAX_SOURCES} fit in wanc's rule priorities"),
            Overflow::Serves(n) => write!(f, "{n} serve rules, {MAX_SERVE} fit in wanc's rule priorities"),
            Overflow::Weight { reduced, .. } => {
                write!(
                    f,
                    "a multipath weight of {reduced} (after reducing the shares), {MAX_NEXTHOP_WEIGHT} is the kernel's largest"
                )
            }
        }
    }
}

/// Allocates marks and pool tables. Pools are the distinct uplink lists of
/// `multipath(…)` choices, numbered after the highest uplink table.
pub fn allocate(site: &Site, choices: &[Choice]) -> Result<Numbers, Overflow> {
    let sources: usize = site.uplinks.iter().map(|u| u.addresses.len() + u.learned.len()).sum();
    if sources > MAX_SOURCES {
        return Err(Overflow::Sources(sources));
    }
    let serves = site.rules.iter().filter(|r| matches!(r.kind, ir::RuleKind::Serve { .. })).count();
    if serves > MAX_SERVE {
        return Err(Overflow::Serves(serves));
    }
    let mut lists: Vec<&[UplinkId]> = Vec::new();
    let mut choice_pools = Vec::with_capacity(choices.len());
    for choice in choices {
        let via = &site.vias[choice.via];
        if via.mode != ViaMode::Multipath {
            choice_pools.push(None);
            continue;
        }
        let pool = match lists.iter().position(|l| *l == via.uplinks.as_slice()) {
            Some(p) => p,
            None => {
                lists.push(&via.uplinks);
                lists.len() - 1
            }
        };
        choice_pools.push(Some(pool));
    }
    let slots = site.uplinks.len() + lists.len();
    if slots > MAX_SLOTS {
        return Err(Overflow::Marks(slots));
    }
    // The kernel takes nexthop weights up to 256, and shares, not absolute
    // weights, matter: a route's weights are divided by their greatest
    // common divisor (1000:500 is 2:1). Any subset of a pool divides by a
    // multiple of the whole pool's divisor, so the whole pool bounds them.
    for list in &lists {
        let divisor = list.iter().map(|&u| site.uplinks[u].weight).fold(0, gcd).max(1);
        if let Some(&uplink) = list.iter().find(|&&u| site.uplinks[u].weight / divisor > MAX_NEXTHOP_WEIGHT) {
            return Err(Overflow::Weight { uplink, reduced: site.uplinks[uplink].weight / divisor });
        }
    }
    // Marks by name, not position: a live connection keeps its uplink's
    // mark across a reload that reorders, adds or removes uplinks.
    let mut keys: Vec<String> = site.uplinks.iter().map(|u| u.name.clone()).collect();
    keys.extend(lists.iter().map(|l| {
        let names: Vec<&str> = l.iter().map(|&u| site.uplinks[u].name.as_str()).collect();
        format!("multipath({})", names.join(", "))
    }));
    let slots = stable_slots(&keys);
    let mark = |i: usize| slots[i] << MARK_SHIFT;
    let uplink_marks = (0..site.uplinks.len()).map(mark).collect();
    let used: Vec<u32> = site.uplinks.iter().map(|u| u.table).collect();
    let mut next = used.iter().copied().max().unwrap_or(100) + 1;
    let mut pools = Vec::new();
    for (i, uplinks) in lists.into_iter().enumerate() {
        while used.contains(&next) || (253..=255).contains(&next) {
            next += 1;
        }
        pools.push(Pool { uplinks: uplinks.to_vec(), table: next, mark: mark(site.uplinks.len() + i) });
        next += 1;
    }
    Ok(Numbers { uplink_marks, pools, choice_pools })
}

/// A mark slot (1 to 255) per key, the same for a key whatever the others
/// and their order: each key's preferred slot comes from a hash of it (FNV-1a,
/// stable across builds and machines), and keys that want a taken slot,
/// taken in name order, get the next free one. Adding a key can move only
/// one that collides with it.
fn stable_slots(keys: &[String]) -> Vec<u32> {
    let preferred = |key: &str| {
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        (hash % MAX_SLOTS as u64) as u32
    };
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    let mut taken = [false; MAX_SLOTS];
    let mut slots = vec![0; keys.len()];
    for i in order {
        let mut slot = preferred(&keys[i]) as usize;
        while taken[slot] {
            slot = (slot + 1) % MAX_SLOTS;
        }
        taken[slot] = true;
        slots[i] = slot as u32 + 1;
    }
    slots
}

pub fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Family {
    /// The `ip` option selecting the family.
    pub fn flag(self) -> &'static str {
        match self {
            Family::V4 => "-4",
            Family::V6 => "-6",
        }
    }
}

/// An address in a route or rule: known when the site is built, or one the
/// router learns for an uplink, filled in where the kernel is changed (by
/// the agent from its table of [`Learned`] values, by the scripts from the
/// interface when they run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    Known(IpAddr),
    Address(UplinkId, Family),
    Gateway(UplinkId, Family),
}

impl Value {
    pub fn known(&self) -> Option<IpAddr> {
        match self {
            Value::Known(a) => Some(*a),
            _ => None,
        }
    }

    /// The shell variable a script holds a learned value in: named by
    /// position, never by the site's words, so nothing of the source
    /// reaches the shell unquoted.
    pub fn variable(&self) -> Option<String> {
        match self {
            Value::Known(_) => None,
            Value::Address(u, f) => Some(format!("wanc_u{u}_address{}", f.digit())),
            Value::Gateway(u, f) => Some(format!("wanc_u{u}_gateway{}", f.digit())),
        }
    }
}

impl std::str::FromStr for Value {
    type Err = std::net::AddrParseError;

    /// A known address, as written.
    fn from_str(s: &str) -> Result<Value, Self::Err> {
        s.parse().map(Value::Known)
    }
}

impl std::fmt::Display for Value {
    /// Known addresses as they are; learned ones as the script's variable.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self, self.variable()) {
            (Value::Known(a), _) => write!(f, "{a}"),
            (_, Some(var)) => write!(f, "\"${var}\""),
            (_, None) => Ok(()),
        }
    }
}

/// What the router has learned of its uplinks: per uplink and family (by
/// [`Family::index`]), the interface's address and the gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Learned {
    pub uplinks: Vec<[Lease; 2]>,
    /// Interfaces that do not exist now (a PPP session or tunnel not up
    /// yet) or are down (the kernel refuses routes through them, and drops
    /// those it had): routes through them wait for them.
    pub missing: Vec<String>,
}

/// One uplink's learned values in one family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lease {
    pub address: Option<IpAddr>,
    pub gateway: Option<IpAddr>,
}

impl Learned {
    pub fn new(uplinks: usize) -> Learned {
        Learned { uplinks: vec![[Lease::default(); 2]; uplinks], missing: Vec::new() }
    }

    pub fn lease(&self, uplink: UplinkId, family: Family) -> Lease {
        self.uplinks.get(uplink).map(|l| l[family.index()]).unwrap_or_default()
    }

    /// The value's address, if known.
    pub fn resolve(&self, value: Value) -> Option<IpAddr> {
        match value {
            Value::Known(a) => Some(a),
            Value::Address(u, f) => self.lease(u, f).address,
            Value::Gateway(u, f) => self.lease(u, f).gateway,
        }
    }
}

impl Family {
    /// `4` or `6`, as in variable names.
    fn digit(self) -> char {
        match self {
            Family::V4 => '4',
            Family::V6 => '6',
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Selector {
    /// `lookup main suppress_prefixlength 0`: main-table routes other than
    /// the default win over every mark.
    SuppressMain,
    From(IpNet),
    /// Traffic from an uplink's learned address.
    FromLearned(UplinkId, Family),
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
            Selector::FromLearned(u, f) => format!("from {} lookup {}", Value::Address(*u, *f), self.table),
            Selector::Fwmark(mark) => format!("fwmark {mark:#x}/{MARK_MASK:#x} lookup {}", self.table),
        };
        format!("priority {} {what}", self.priority)
    }

    /// The rule with its learned value filled in; `None` while unknown.
    pub fn resolve(&self, learned: &Learned) -> Option<IpRule> {
        let selector = match self.selector {
            Selector::FromLearned(u, f) => Selector::From(IpNet::from(learned.lease(u, f).address?)),
            ref other => other.clone(),
        };
        Some(IpRule { selector, ..self.clone() })
    }

    /// The learned value the rule depends on, if any.
    pub fn learned(&self) -> Option<Value> {
        match self.selector {
            Selector::FromLearned(u, f) => Some(Value::Address(u, f)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Nexthop {
    /// `None` for a point-to-point link (`gateway dev`).
    pub gateway: Option<Value>,
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
    /// The route with learned gateways filled in; nexthops whose gateway is
    /// not known, or whose interface does not exist, are left out (their
    /// uplink cannot carry traffic yet).
    pub fn resolve(&self, learned: &Learned) -> Route {
        let nexthops = self
            .nexthops
            .iter()
            .filter(|h| !learned.missing.contains(&h.dev))
            .filter_map(|h| match h.gateway {
                Some(v) => Some(Nexthop { gateway: Some(Value::Known(learned.resolve(v)?)), ..h.clone() }),
                None => Some(h.clone()),
            })
            .collect();
        Route { nexthops, ..self.clone() }
    }

    /// The learned gateways the route depends on.
    pub fn learned(&self) -> impl Iterator<Item = Value> + '_ {
        self.nexthops.iter().filter_map(|h| h.gateway).filter(|v| v.variable().is_some())
    }

    /// The `ip` command (without `ip -4`) that puts this route in place.
    pub fn command(&self) -> String {
        let table = self.table.map(|t| format!(" table {t}")).unwrap_or_default();
        match self.nexthops.as_slice() {
            // Only wanc's own: a DHCP client's default route (what a learned
            // gateway is read from) stays.
            [] if self.table.is_none() => format!("route flush exact default proto {PROTOCOL}"),
            // `throw` sends the lookup on to the next rule, so traffic of an
            // unrouted pool falls back to the main table, and replacing it is
            // idempotent where a flush of a missing table fails.
            [] => format!("route replace throw default{table} proto {PROTOCOL}"),
            [one] => format!("route replace default{}{table} proto {PROTOCOL}", hop(one, false)),
            many => {
                let hops: String = many.iter().map(|h| format!(" nexthop{}", hop(h, true))).collect();
                format!("route replace default{table} proto {PROTOCOL}{hops}")
            }
        }
    }
}

impl Nexthop {
    /// `nexthop via … dev … weight … onlink`, as one hop of `ip route`.
    pub fn args(&self) -> String {
        format!("nexthop{}", hop(self, true))
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

/// An uplink's next hop in one family as Linux names it, if it has one.
fn nexthop(plan: &Plan, up: UplinkId, family: Family, weight: u32) -> Option<Nexthop> {
    let gateway = match plan.hop(up, family)? {
        NextHop::Gateway { address, .. } => Some(Value::Known(*address)),
        NextHop::Learned => Some(Value::Gateway(up, family)),
        NextHop::Peer => None,
    };
    Some(Nexthop { gateway, dev: plan.site.uplinks[up].interface.clone(), weight })
}

/// Each uplink's table: its default route, per family it has a next hop in.
pub fn uplink_routes(plan: &Plan) -> Vec<Route> {
    let mut out = Vec::new();
    for (u, up) in plan.site.uplinks.iter().enumerate() {
        for family in Family::BOTH {
            if let Some(hop) = nexthop(plan, u, family, 1) {
                out.push(Route { family, table: Some(up.table), nexthops: vec![hop] });
            }
        }
    }
    out
}

pub fn ip_rules(plan: &Plan, numbers: &Numbers) -> Vec<IpRule> {
    let site = &plan.site;
    let mut out: Vec<IpRule> = plan
        .families
        .iter()
        .map(|&family| IpRule { family, priority: PRIO_MAIN, selector: Selector::SuppressMain, table: 254 })
        .collect();
    let sources = site.uplinks.iter().enumerate().flat_map(|(i, up)| {
        let given = up.addresses.iter().map(|a| (Family::of(&a.addr()), Selector::From(IpNet::from(a.addr()))));
        let learned = up.learned.iter().map(move |&f| (f, Selector::FromLearned(i, f)));
        given.chain(learned).map(|(family, selector)| (family, selector, up.table))
    });
    for (k, (family, selector, table)) in sources.enumerate() {
        out.push(IpRule { family, priority: PRIO_SOURCE + k as u32, selector, table });
    }
    let marks = site.uplinks.iter().zip(&numbers.uplink_marks).map(|(u, m)| (*m, u.table));
    let pools = numbers.pools.iter().map(|p| (p.mark, p.table));
    for (slot, (mark, table)) in marks.chain(pools).enumerate() {
        for &family in &plan.families {
            out.push(IpRule { family, priority: PRIO_MARK + slot as u32, selector: Selector::Fwmark(mark), table });
        }
    }
    let serves = site.rules.iter().filter_map(|r| match &r.kind {
        ir::RuleKind::Serve { host, via, .. } => Some((*host, *via)),
        _ => None,
    });
    for (k, (host, via)) in serves.enumerate() {
        out.push(IpRule {
            family: Family::of(&host),
            priority: PRIO_SERVE + k as u32,
            selector: Selector::From(IpNet::from(host)),
            table: site.uplinks[via].table,
        });
    }
    out
}

/// What a state moves: the main default route (when the site has a default
/// rule) and every multipath pool table, per family.
pub fn state_routes(plan: &Plan, numbers: &Numbers, state: StateId, live: Option<&[bool]>) -> Vec<Route> {
    let mut out = Vec::new();
    let sp = &plan.states[state];
    if let Some(routing) = &sp.default {
        let routing = effective(routing, live);
        for &family in &plan.families {
            let mut nexthops = hops(plan, &routing, family);
            if nexthops.is_empty() {
                // None of them is up: the first that can carry one (see
                // `StatePlan::fallback`).
                nexthops.extend(sp.fallback.iter().find_map(|&u| nexthop(plan, u, family, 1)));
            }
            out.push(Route { family, table: None, nexthops });
        }
    }
    for (p, pool) in numbers.pools.iter().enumerate() {
        // The pool's route follows the first choice of it in force here.
        let routing = (0..plan.choices.len())
            .filter(|&c| numbers.choice_pools[c] == Some(p))
            .find_map(|c| sp.choices[c].as_ref())
            .map(|r| effective(r, live))
            .unwrap_or(Routing::Unrouted);
        for &family in &plan.families {
            out.push(Route { family, table: Some(pool.table), nexthops: hops(plan, &routing, family) });
        }
    }
    out
}

/// The nexthops of a routing in one family, weights reduced to their shares.
fn hops(plan: &Plan, routing: &Routing, family: Family) -> Vec<Nexthop> {
    match routing {
        Routing::Uplinks { members, .. } => {
            let shares = super::shares(members);
            members.iter().zip(shares).filter_map(|(m, share)| nexthop(plan, m.uplink, family, share)).collect()
        }
        Routing::Pinned { uplink, .. } => nexthop(plan, *uplink, family, 1).into_iter().collect(),
        Routing::Unrouted => Vec::new(),
    }
}
