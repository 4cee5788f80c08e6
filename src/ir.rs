//! The resolved policy model: what every back end and the agent consume.
//! Names are resolved to indices, defaults applied, and for each state the
//! routing of every rule is decided as far as the state's condition allows.

use crate::bdd::{self, Bdd, NodeId, TooLarge};
use ipnet::IpNet;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub type UplinkId = usize;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Site {
    pub name: String,
    pub sources: Vec<String>,
    pub lans: Vec<Lan>,
    pub hosts: Vec<Host>,
    pub uplinks: Vec<Uplink>,
    pub plugins: Vec<Plugin>,
    /// True when the site declares no states and they were derived from the
    /// failover order of the default route.
    pub derived_states: bool,
    /// Every rule once: the site policy first (`site_rules` of them), then
    /// the rules that states bring in their own `policy { }`. States refer
    /// to them by index.
    pub rules: Vec<Rule>,
    pub site_rules: usize,
    /// Every distinct `via` of the rules, once: rules refer to them by
    /// index, and a state decides the routing of each once, whatever the
    /// number of rules that share it.
    pub vias: Vec<Via>,
    pub states: Vec<State>,
}

pub type RuleId = usize;
pub type ViaId = usize;

impl Site {
    /// The rules in force in a state, in the order they are matched (last
    /// match wins): the site rules its own do not replace, then its own.
    pub fn rules_of<'a>(&'a self, state: &'a State) -> impl Iterator<Item = RuleId> + 'a {
        (0..self.site_rules).filter(|r| !state.replaced.contains(r)).chain(state.own.iter().copied())
    }

    /// The state the agent selects for a health: the first whose condition
    /// holds (`None` when none does; the agent then keeps its state).
    pub fn state_for(&self, up: &dyn Fn(UplinkId) -> bool) -> Option<usize> {
        self.states.iter().position(|s| s.when.eval(up))
    }

    /// The routing a rule has in a state.
    pub fn routing(&self, state: &State, rule: RuleId) -> Routing {
        match &self.rules[rule].kind {
            RuleKind::Default { via } | RuleKind::Route { via, .. } => state.routing[*via].clone(),
            RuleKind::Forward { on: uplink, .. } | RuleKind::Serve { via: uplink, .. } => {
                Routing::Pinned { uplink: *uplink, health: state.health[*uplink] }
            }
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Lan {
    pub name: String,
    pub interface: String,
    pub networks: Vec<IpNet>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Host {
    pub name: String,
    pub address: IpAddr,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Uplink {
    pub name: String,
    pub interface: String,
    /// The given addresses, in the order written; the first of a family is
    /// the uplink's address in it (probes' source, plain `nat`, `forward …
    /// on UPLINK`). The prefix length is the one written, or the full
    /// length when none was.
    pub addresses: Vec<IpNet>,
    /// The families whose address the router learns at run time (`address
    /// auto`): never one that `addresses` has.
    pub learned: Vec<Family>,
    /// Where a learned address may lie (`network` lines); empty: anywhere.
    /// A learned address outside them is not taken.
    pub networks: Vec<IpNet>,
    pub gateways: Vec<Gateway>,
    /// The `nat` lines, one per family each applies to, in the order
    /// they are tried: those naming sources first, as written, then the
    /// one for every lan.
    pub nat: Vec<Nat>,
    pub weight: u32,
    pub table: u32,
    pub checks: Vec<Check>,
    pub healthy: Healthy,
    pub on_up: Vec<Action>,
    pub on_down: Vec<Action>,
}

impl Uplink {
    /// The uplink's address in a family, when the site gives it.
    pub fn address(&self, v6: bool) -> Option<IpAddr> {
        self.addresses.iter().map(|n| n.addr()).find(|a| a.is_ipv6() == v6)
    }

    /// The uplink's address in a family, given or learned.
    pub fn source(&self, family: Family) -> Option<Address> {
        match self.address(family == Family::V6) {
            Some(addr) => Some(Address::Known(addr)),
            None => self.learned.contains(&family).then_some(Address::Learned(family)),
        }
    }

    /// Whether anything of the uplink is learned at run time.
    pub fn learns(&self) -> bool {
        !self.learned.is_empty() || self.gateways.iter().any(|g| matches!(g, Gateway::Learned { .. }))
    }
}

/// Lan traffic leaving by an uplink translated to one of its addresses.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Nat {
    /// The sources translated, all of `to`'s family; `None`: every lan.
    pub from: Option<Vec<IpNet>>,
    pub to: Address,
}

/// An address the site gives, or the one the router learns for a family
/// of an uplink (DHCP, SLAAC, a PPP session).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Address {
    Known(IpAddr),
    Learned(Family),
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Known(a) => write!(f, "{a}"),
            Address::Learned(family) => write!(f, "auto {}", family.word()),
        }
    }
}

impl Address {
    pub fn family(&self) -> Family {
        match self {
            Address::Known(a) => Family::of(a),
            Address::Learned(f) => *f,
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Gateway {
    /// A point-to-point link: routes name the interface.
    Dev,
    /// Learned at run time: the default route the DHCP client, the
    /// kernel's router-advertisement handling or a PPP daemon installs
    /// through the interface.
    Learned {
        family: Family,
    },
    Address {
        address: IpAddr,
        zone: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "rule", content = "n", rename_all = "snake_case")]
pub enum Healthy {
    All,
    Any,
    AtLeast(u32),
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Check {
    pub probe: Probe,
    pub every_ms: u64,
    pub timeout_ms: u64,
    pub count: u32,
    pub rise: u32,
    pub fall: u32,
    pub max_loss_percent: Option<f64>,
    pub max_latency_ms: Option<u64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Probe {
    Ping { target: Target },
    Tcp { target: Target, port: u16 },
    Http { url: HttpUrl, expect: u16 },
    Dns { server: IpAddr, query: String },
    Plugin { plugin: String, settings: BTreeMap<String, String> },
}

/// Where a probe goes. Hostnames are allowed (with warning W0502).
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Target {
    Address(IpAddr),
    Hostname(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Address(a) => a.fmt(f),
            Target::Hostname(h) => f.write_str(h),
        }
    }
}

/// An http check's URL, parsed once (`validate::http_url`): the agent and
/// the back ends use its parts and never read URL text again. It serializes
/// as its canonical text, `Display`'s.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpUrl {
    /// `https`: the agent verifies the server's certificate for `host`.
    pub tls: bool,
    /// An address, or a name resolved when probing (warning W0502).
    pub host: Target,
    pub port: u16,
    /// What the request asks for: the path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    pub fn default_port(tls: bool) -> u16 {
        if tls {
            443
        } else {
            80
        }
    }

    /// `host`, `host:port`, `[v6]` or `[v6]:port`, the port only when it is
    /// not the scheme's: the URL's authority and the `Host:` header.
    pub fn authority(&self) -> String {
        let host = match &self.host {
            Target::Address(IpAddr::V6(a)) => format!("[{a}]"),
            other => other.to_string(),
        };
        match self.port == HttpUrl::default_port(self.tls) {
            true => host,
            false => format!("{host}:{}", self.port),
        }
    }
}

impl std::fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority(), self.path)
    }
}

impl Serialize for HttpUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Plugin {
    pub name: String,
    /// The path as resolved against the declaring file.
    pub path: String,
    pub settings: Vec<PluginSetting>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PluginSetting {
    pub name: String,
    pub required: bool,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "action", content = "arg", rename_all = "snake_case")]
pub enum Action {
    Run(String),
    Notify(String),
    /// Drops the connections of these uplinks.
    FlushStates(Vec<UplinkId>),
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    Icmp6,
    Gre,
    Esp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Icmp6 => "icmp6",
            Proto::Gre => "gre",
            Proto::Esp => "esp",
        }
    }

    pub const ALL: &'static [Proto] = &[Proto::Tcp, Proto::Udp, Proto::Icmp, Proto::Icmp6, Proto::Gre, Proto::Esp];

    pub fn has_ports(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Udp)
    }
}

/// An inclusive port range; a single port has `first == last`.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ports {
    pub first: u16,
    pub last: u16,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Rule {
    /// The rule as written, for listings and comments in generated files.
    pub text: String,
    pub line: usize,
    pub kind: RuleKind,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "rule", rename_all = "lowercase")]
pub enum RuleKind {
    Default {
        via: ViaId,
    },
    Route {
        from: Vec<IpNet>,
        to: Vec<IpNet>,
        proto: Option<Proto>,
        ports: Vec<Ports>,
        via: ViaId,
    },
    /// `at`: the address of `on` the connections arrive at, of `to`'s family.
    Forward {
        proto: Proto,
        ports: Vec<Ports>,
        on: UplinkId,
        at: Address,
        to: IpAddr,
        to_port: Option<u16>,
    },
    Serve {
        proto: Proto,
        ports: Vec<Ports>,
        host: IpAddr,
        via: UplinkId,
        stateless: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ViaMode {
    /// First healthy uplink of the list.
    Failover,
    /// Every healthy member, by weight, chosen per connection by the firewall.
    Balance,
    /// Every healthy member as one multipath route, left to the kernel.
    Multipath,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq, Hash)]
pub struct Via {
    pub mode: ViaMode,
    pub uplinks: Vec<UplinkId>,
}

/// A state's condition over uplink health, with uplinks as indices.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "op", content = "args", rename_all = "snake_case")]
pub enum Cond {
    True,
    Up(UplinkId),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    /// `count(members) >= n` and friends, normalised to a range of counts.
    CountIn {
        members: Vec<UplinkId>,
        min: u32,
        max: u32,
    },
}

impl Cond {
    /// The condition as a decision diagram over the uplinks (variable `u`
    /// is uplink `u`'s health).
    pub fn bdd(&self, bdd: &mut Bdd) -> Result<NodeId, TooLarge> {
        match self {
            Cond::True => Ok(bdd::TRUE),
            Cond::Up(u) => bdd.var(*u as u32),
            Cond::Not(inner) => {
                let x = inner.bdd(bdd)?;
                bdd.not(x)
            }
            Cond::And(parts) => {
                let mut acc = bdd::TRUE;
                for p in parts {
                    let x = p.bdd(bdd)?;
                    acc = bdd.and(acc, x)?;
                }
                Ok(acc)
            }
            Cond::Or(parts) => {
                let mut acc = bdd::FALSE;
                for p in parts {
                    let x = p.bdd(bdd)?;
                    acc = bdd.or(acc, x)?;
                }
                Ok(acc)
            }
            Cond::CountIn { members, min, max } => {
                let vars: Vec<u32> = members.iter().map(|&m| m as u32).collect();
                let at_least_min = bdd.at_least(&vars, *min as usize)?;
                let above_max = bdd.at_least(&vars, *max as usize + 1)?;
                let not_above = bdd.not(above_max)?;
                bdd.and(at_least_min, not_above)
            }
        }
    }

    pub fn eval(&self, up: &dyn Fn(UplinkId) -> bool) -> bool {
        match self {
            Cond::True => true,
            Cond::Up(u) => up(*u),
            Cond::Not(c) => !c.eval(up),
            Cond::And(cs) => cs.iter().all(|c| c.eval(up)),
            Cond::Or(cs) => cs.iter().any(|c| c.eval(up)),
            Cond::CountIn { members, min, max } => {
                let n = members.iter().filter(|m| up(**m)).count() as u32;
                *min <= n && n <= *max
            }
        }
    }
}

/// An address family.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const BOTH: [Family; 2] = [Family::V4, Family::V6];

    /// As the language writes it: `address auto ipv4`.
    pub fn word(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }

    pub fn of(addr: &IpAddr) -> Family {
        if addr.is_ipv6() {
            Family::V6
        } else {
            Family::V4
        }
    }
}

/// What a state's condition says about one uplink.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Up,
    Down,
    /// The condition does not decide it: the back end follows the uplink's
    /// live health inside the state.
    Either,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Down => "down",
            Health::Either => "either",
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct State {
    pub name: String,
    /// The condition as written (or generated, for derived states).
    pub when_text: String,
    pub when: Cond,
    /// Per uplink, what holds whenever this state is current.
    pub health: Vec<Health>,
    pub on_enter: Vec<Action>,
    pub on_exit: Vec<Action>,
    /// Site rules that a rule of the state's own policy replaces (same kind
    /// and traffic), as indices into `Site::rules`, ascending.
    pub replaced: Vec<RuleId>,
    /// The state's own rules, as indices into `Site::rules`, in written order.
    pub own: Vec<RuleId>,
    /// Per via of the site (`Site::vias`), its routing in this state.
    pub routing: Vec<Routing>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "route", rename_all = "lowercase")]
pub enum Routing {
    /// Nothing it names can be healthy: traffic falls back to the main table.
    Unrouted,
    Uplinks {
        mode: ViaMode,
        members: Vec<Member>,
    },
    /// `forward` and `serve` are fixed to one uplink; `up` tells whether it
    /// is known healthy in the state.
    Pinned {
        uplink: UplinkId,
        health: Health,
    },
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Member {
    pub uplink: UplinkId,
    pub weight: u32,
    /// Known up in the state; otherwise used only while it is live-healthy.
    pub certain: bool,
}
