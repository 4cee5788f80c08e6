//! The typed syntax tree: what the source says, with a span on every node.
//! Literals are already typed (an address is an `IpAddr`, a duration is
//! milliseconds); names are not resolved yet, that is the checker's job.

use crate::ir::ViaMode;
use crate::source::Span;
use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    Address {
        addr: IpAddr,
        zone: Option<String>,
    },
    /// The prefix as written (host bits kept, so the checker can warn).
    Prefix(IpNet),
    DurationMs(u64),
    Percent(f64),
    Integer(u64),
    PortRange(u16, u16),
    Str(String),
    Set(Vec<Value>),
    Hostname(String),
    Name(Ident),
    /// A literal that was already reported as invalid; checks stay quiet on it.
    Invalid,
}

impl ValueKind {
    /// What the user wrote, for "expected X, found Y".
    pub fn describe(&self) -> &'static str {
        match self {
            ValueKind::Address { addr: IpAddr::V4(_), .. } => "an IPv4 address",
            ValueKind::Address { .. } => "an IPv6 address",
            ValueKind::Prefix(_) => "a prefix",
            ValueKind::DurationMs(_) => "a duration",
            ValueKind::Percent(_) => "a percentage",
            ValueKind::Integer(_) => "a number",
            ValueKind::PortRange(..) => "a port range",
            ValueKind::Str(_) => "a string",
            ValueKind::Set(_) => "a list",
            ValueKind::Hostname(_) => "a hostname",
            ValueKind::Name(_) => "a name",
            ValueKind::Invalid => "an invalid literal",
        }
    }
}

/// The kinds of item that share a site's namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Const,
    Host,
    Lan,
    Uplink,
    Plugin,
    State,
}

impl Kind {
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Const => "constant",
            Kind::Host => "host",
            Kind::Lan => "lan",
            Kind::Uplink => "uplink",
            Kind::Plugin => "plugin",
            Kind::State => "state",
        }
    }

    pub fn article(self) -> &'static str {
        match self {
            Kind::Uplink => "an",
            _ => "a",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Site { name: String, span: Span },
    Import { path: String, span: Span },
    Const { name: Ident, value: Value },
    Host { name: Ident, value: Value },
    Lan(Lan),
    Uplink(Uplink),
    Plugin { name: Ident, path: String, path_span: Span },
    Policy(Policy),
    State(State),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Lan {
    pub name: Ident,
    pub interfaces: Vec<Word>,
    pub networks: Vec<Value>,
    /// A statement of the block did not parse: "missing setting" checks stay
    /// quiet, since the setting may be on the broken line.
    pub recovered: bool,
    pub span: Span,
}

/// A bare word, such as an interface name, checked later.
#[derive(Clone, Debug, PartialEq)]
pub struct Word {
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Uplink {
    pub name: Ident,
    pub interfaces: Vec<Word>,
    pub addresses: Vec<Address>,
    pub gateways: Vec<Gateway>,
    /// Where a learned address may lie (`network PREFIX` in an uplink).
    pub networks: Vec<Value>,
    pub nats: Vec<Nat>,
    pub weights: Vec<Value>,
    pub tables: Vec<Value>,
    pub checks: Vec<Check>,
    pub healthy: Vec<Healthy>,
    pub events: Vec<EventBlock>,
    /// As for `Lan::recovered`.
    pub recovered: bool,
    pub span: Span,
}

/// `auto ipv4` / `auto ipv6`: a value the router learns at run time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Learned {
    pub family: crate::ir::Family,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Address {
    Learned(Learned),
    Value(Value),
}

impl Address {
    pub fn span(&self) -> Span {
        match self {
            Address::Learned(l) => l.span,
            Address::Value(v) => v.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Gateway {
    Dev(Span),
    Learned(Learned),
    Value(Value),
}

impl Gateway {
    pub fn span(&self) -> Span {
        match self {
            Gateway::Dev(span) => *span,
            Gateway::Learned(l) => l.span,
            Gateway::Value(v) => v.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Nat {
    /// The lans, hosts or prefixes translated; `None`: every lan.
    pub from: Option<Value>,
    pub to: Option<Value>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum HealthyRule {
    All,
    Any,
    AtLeast(Value),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Healthy {
    pub rule: HealthyRule,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CheckKind {
    Ping(Value),
    Tcp { host: Value, port: Value },
    Http { url: String, url_span: Span },
    Dns(Value),
    Plugin(Ident),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub kind: CheckKind,
    pub options: Vec<CheckOption>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CheckOption {
    pub name: Ident,
    pub less_than: bool,
    pub value: Value,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Up,
    Down,
    Enter,
    Exit,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Up => "up",
            Event::Down => "down",
            Event::Enter => "enter",
            Event::Exit => "exit",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventBlock {
    pub event: Event,
    pub event_span: Span,
    pub actions: Vec<Action>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    Run(String),
    Notify(String),
    /// The connections of the uplinks named; of the uplink itself when none
    /// are.
    FlushStates(Vec<Ident>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    pub kind: ActionKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub rules: Vec<Rule>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub kind: RuleKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RuleKind {
    Default(Via),
    Route { matches: Vec<Match>, via: Via },
    Forward { proto: Ident, ports: Value, on: Value, to: Value, to_port: Option<Value> },
    Serve { proto: Ident, ports: Value, on: Value, via: Ident, stateless: bool },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Match {
    From(Value),
    To(Value),
    Port(Value),
    Proto(Ident),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Via {
    pub mode: ViaMode,
    pub uplinks: Vec<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub name: Ident,
    pub when: When,
    pub events: Vec<EventBlock>,
    pub policies: Vec<Policy>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum When {
    Default(Span),
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Ge,
    Le,
    Eq,
    Ne,
    Gt,
    Lt,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Uplink(Ident),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Any(Vec<Ident>),
    All(Vec<Ident>),
    Count { uplinks: Vec<Ident>, op: CmpOp, n: Value },
}
