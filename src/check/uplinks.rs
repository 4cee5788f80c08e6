//! Lans, hosts and uplinks: addresses, gateways, NAT, weights and events.

use super::names::Kind;
use super::Checker;
use crate::ast::{self, Address, Event, EventBlock, Gateway, HealthyRule};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::ir::{self, Family};
use ipnet::IpNet;
use std::net::IpAddr;

impl<'a> Checker<'a, '_> {
    pub fn hosts(&mut self) {
        for &(_, value) in &self.items.hosts {
            let addr = self.plain_address(value, "a host's address").map(|a| a.addr);
            self.host_addrs.push(addr);
        }
    }

    pub fn lans(&mut self) -> Vec<ir::Lan> {
        let mut out = Vec::new();
        for &lan in &self.items.lans {
            let interface = self.interface(&lan.interfaces, &lan.name, "lan", lan.recovered);
            let networks: Vec<IpNet> = lan.networks.iter().filter_map(|n| self.network(n)).collect();
            if lan.networks.is_empty() && !lan.recovered {
                self.diags.push(
                    Diagnostic::new(Code::MissingSetting, lan.name.span, format!("lan `{}` has no network", lan.name.name))
                        .label("needs `network PREFIX`")
                        .help("add a line such as `network 192.168.1.0/24`"),
                );
            }
            self.lan_networks.push(networks.clone());
            out.push(ir::Lan { name: lan.name.name.clone(), interface: interface.unwrap_or_default(), networks });
        }
        out
    }

    pub fn uplinks(&mut self) -> Vec<ir::Uplink> {
        let items = self.items;
        items.uplinks.iter().map(|up| self.uplink(up)).collect()
    }

    fn uplink(&mut self, up: &'a ast::Uplink) -> ir::Uplink {
        let interface = self.interface(&up.interfaces, &up.name, "uplink", up.recovered).unwrap_or_default();
        let (addresses, learned) = self.uplink_addresses(up);
        self.uplink_addrs.push((addresses.clone(), learned.clone()));
        let networks: Vec<IpNet> = up.networks.iter().filter_map(|n| self.network(n)).collect();
        // The families the uplink has an address in, given or learned.
        let mut families: Vec<Family> = addresses.iter().map(|n| Family::of(&n.addr())).chain(learned.iter().copied()).collect();
        families.sort();
        let gateways = self.gateways(up, &interface, &addresses, &families);
        let nat = self.nat(up, &addresses, &learned);
        let weight =
            self.single(&up.weights, "weight").and_then(|w| self.integer(w, crate::validate::WEIGHTS, "a weight")).unwrap_or(1)
                as u32;
        let checks: Vec<ir::Check> = up.checks.iter().filter_map(|c| self.check(c, up, &families)).collect();
        let healthy = self.healthy(up);
        let (on_up, on_down) = self.uplink_events(up);
        ir::Uplink {
            name: up.name.name.clone(),
            interface,
            addresses,
            learned,
            networks,
            gateways,
            nat,
            weight,
            table: 0,
            checks,
            healthy,
            on_up,
            on_down,
        }
    }

    /// The first of a setting that may be given once; E0104 for the others.
    pub fn single<T>(&mut self, values: &'a [T], what: &str) -> Option<&'a T>
    where
        T: HasSpan,
    {
        let first = values.first()?;
        for extra in &values[1..] {
            self.twice(extra.span_of(), first.span_of(), what);
        }
        Some(first)
    }

    /// The given addresses and the learned families. A family has any
    /// number of given addresses, each once, or one learned address alone
    /// (E0104).
    fn uplink_addresses(&mut self, up: &'a ast::Uplink) -> (Vec<IpNet>, Vec<Family>) {
        let mut given: Vec<(IpNet, crate::source::Span)> = Vec::new();
        let mut learned: Vec<(Family, crate::source::Span)> = Vec::new();
        for address in &up.addresses {
            let span = address.span();
            match address {
                Address::Learned(l) => {
                    let mut other = learned.iter().copied().chain(given.iter().map(|(n, s)| (Family::of(&n.addr()), *s)));
                    if let Some((_, first)) = other.find(|(f, _)| *f == l.family) {
                        self.learned_alone(span, first);
                        continue;
                    }
                    learned.push((l.family, span));
                }
                Address::Value(value) if self.learned_without_family(value, "address") => {}
                Address::Value(value) => {
                    let Some(net) = self.interface_address(value) else { continue };
                    if let Some(&(_, first)) = learned.iter().find(|(f, _)| *f == Family::of(&net.addr())) {
                        self.learned_alone(span, first);
                    } else if let Some(&(_, first)) = given.iter().find(|(n, _)| n.addr() == net.addr()) {
                        self.diags.push(
                            Diagnostic::new(Code::DuplicateSetting, span, format!("address `{}` is given twice", net.addr()))
                                .label("given again here")
                                .with(first, "first given here")
                                .help("keep one line per address"),
                        );
                    } else {
                        given.push((net, span));
                    }
                }
            }
        }
        (given.into_iter().map(|(n, _)| n).collect(), learned.into_iter().map(|(f, _)| f).collect())
    }

    /// E0104: a learned address next to another address of its family.
    fn learned_alone(&mut self, again: crate::source::Span, first: crate::source::Span) {
        self.diags.push(
            Diagnostic::new(Code::DuplicateSetting, again, "a learned address is the only one of its family")
                .label("another address of this family")
                .with(first, "first given here")
                .help("the router learns one address per family (`address auto`); give fixed addresses instead, or only `auto`"),
        );
    }

    /// `address auto` or `gateway auto` without a family reads as the name
    /// `auto`: say what is missing, in words, instead of "unknown name".
    /// True when it was that (and a constant named `auto` does not exist).
    fn learned_without_family(&mut self, value: &ast::Value, setting: &str) -> bool {
        let bare = matches!(&value.kind, ast::ValueKind::Name(n) if n.name == "auto" && self.names.get("auto").is_none());
        if bare {
            self.diags.push(
                Diagnostic::new(Code::TypeMismatch, value.span, format!("`{setting} auto` needs a family"))
                    .label("which family is learned?")
                    .help(format!(
                        "write `{setting} auto ipv4` for DHCP, `{setting} auto ipv6` for SLAAC or DHCPv6; give both lines for both"
                    )),
            );
        }
        bare
    }

    fn gateways(&mut self, up: &'a ast::Uplink, interface: &str, addresses: &[IpNet], families: &[Family]) -> Vec<ir::Gateway> {
        let mut out: Vec<(ir::Gateway, crate::source::Span)> = Vec::new();
        if up.gateways.is_empty() && !up.recovered {
            self.diags.push(
                Diagnostic::new(Code::MissingSetting, up.name.span, format!("uplink `{}` has no gateway", up.name.name))
                    .label("needs `gateway`")
                    .help("add `gateway ADDRESS`, or `gateway dev` for a point-to-point link"),
            );
        }
        for gw in &up.gateways {
            let span = gw.span();
            if let Some((_, first)) = out.iter().find(|(g, _)| same_family_slot(g, gw)) {
                let first = *first;
                self.twice(span, first, "gateway");
                continue;
            }
            let value = match gw {
                Gateway::Dev(_) => {
                    out.push((ir::Gateway::Dev, span));
                    continue;
                }
                Gateway::Learned(l) => {
                    self.gateway_family(l.family, span, families);
                    out.push((ir::Gateway::Learned { family: l.family }, span));
                    continue;
                }
                Gateway::Value(value) if self.learned_without_family(value, "gateway") => continue,
                Gateway::Value(value) => value,
            };
            let Some(addr) = self.address(value) else { continue };
            self.gateway_family(Family::of(&addr.addr), span, families);
            // A link-local next hop is on the link by definition, whatever
            // prefix the uplink's own addresses have. Otherwise it lies in
            // one of the links the addresses with a length put it on.
            let links: Vec<&IpNet> = addresses
                .iter()
                .filter(|n| n.addr().is_ipv4() == addr.addr.is_ipv4() && n.prefix_len() < n.max_prefix_len())
                .collect();
            if let (false, Some(net)) = (is_link_local(addr.addr), links.first()) {
                if !links.iter().any(|n| n.contains(&addr.addr)) {
                    self.diags.push(
                        Diagnostic::new(
                            Code::GatewayOutsidePrefix,
                            span,
                            format!("gateway `{}` is outside `{}`", addr.addr, net.trunc()),
                        )
                        .label("not on the uplink's link")
                        .help(format!(
                            "the uplink's address `{net}` puts its link at `{}`; the gateway must lie inside it",
                            net.trunc()
                        )),
                    );
                }
            }
            self.link_local_zone(&addr, interface, span);
            out.push((ir::Gateway::Address { address: addr.addr, zone: addr.zone }, span));
        }
        out.into_iter().map(|(g, _)| g).collect()
    }

    /// E0202 for a gateway of a family the uplink has no address in (given
    /// or learned); true when the family is fine.
    fn gateway_family(&mut self, family: Family, span: crate::source::Span, families: &[Family]) -> bool {
        if families.is_empty() || families.contains(&family) {
            return true;
        }
        let (fam, other) = if family == Family::V4 { ("IPv4", "IPv6") } else { ("IPv6", "IPv4") };
        self.diags.push(
            Diagnostic::new(Code::FamilyMismatch, span, format!("{fam} gateway on an {other}-only uplink"))
                .label(format!("an {fam} gateway"))
                .help(format!(
                    "give the uplink an {fam} `address` too (or `address auto {}`), or use an {other} gateway",
                    family.word()
                )),
        );
        false
    }

    fn link_local_zone(&mut self, addr: &super::values::Addr, interface: &str, span: crate::source::Span) {
        if addr.addr.is_ipv4() {
            return;
        }
        match (&addr.zone, is_link_local(addr.addr)) {
            (None, true) => self.diags.push(
                Diagnostic::new(Code::LinkLocalZone, span, format!("link-local gateway `{}` names no interface", addr.addr))
                    .label("which link?")
                    .help(format!("write `{}%{interface}`", addr.addr)),
            ),
            (Some(zone), _) if zone != interface && !interface.is_empty() => self.diags.push(
                Diagnostic::new(
                    Code::LinkLocalZone,
                    span,
                    format!("gateway names interface `{zone}`, not the uplink's `{interface}`"),
                )
                .label("another interface")
                .help(format!("write `{}%{interface}`", addr.addr)),
            ),
            _ => {}
        }
    }

    /// The `nat` lines, per family, in the order they are tried: those
    /// naming sources first, as written, then the one for every lan.
    fn nat(&mut self, up: &'a ast::Uplink, addresses: &[IpNet], learned: &[Family]) -> Vec<ir::Nat> {
        if up.nats.is_empty() {
            return Vec::new();
        }
        if addresses.is_empty() && learned.is_empty() {
            self.needs_address(up, up.nats[0].span, "NAT translates to the uplink's address");
            return Vec::new();
        }
        // Plain `nat`: the uplink's address in each family, given or learned.
        let primary: Vec<ir::Address> = [Family::V4, Family::V6]
            .into_iter()
            .filter_map(|f| match addresses.iter().find(|n| Family::of(&n.addr()) == f) {
                Some(n) => Some(ir::Address::Known(n.addr())),
                None => learned.contains(&f).then_some(ir::Address::Learned(f)),
            })
            .collect();
        let (mut named, mut every) = (Vec::new(), Vec::new());
        let mut every_at = None;
        for nat in &up.nats {
            let from = nat.from.as_ref().map(|v| {
                let mut nets = Vec::new();
                self.address_set(v, &mut nets);
                nets
            });
            if from.is_none() {
                if let Some(first) = every_at {
                    self.twice(nat.span, first, "nat");
                    continue;
                }
                every_at = Some(nat.span);
            }
            let to = match &nat.to {
                Some(to) => match self.nat_to(up, to, addresses, learned) {
                    Some(addr) => Some(ir::Address::Known(addr)),
                    None => continue,
                },
                None => None,
            };
            // `to` sets its family's address; the other keeps the plain one.
            let targets = primary.iter().filter(|p| to.is_none_or(|t| t.family() != p.family())).copied().chain(to);
            for to in targets {
                let Some(from) = &from else {
                    every.push(ir::Nat { from: None, to });
                    continue;
                };
                let nets: Vec<IpNet> = from.iter().filter(|n| Family::of(&n.addr()) == to.family()).copied().collect();
                if !nets.is_empty() {
                    named.push(ir::Nat { from: Some(nets), to });
                }
            }
            if let (Some(from), Some(v), Some(to)) = (&from, &nat.from, to) {
                if !from.is_empty() && !from.iter().any(|n| Family::of(&n.addr()) == to.family()) {
                    self.nat_family(v.span, to.family());
                }
            }
        }
        named.extend(every);
        named
    }

    /// E0202: `nat from … to A` whose sources have none of `A`'s family.
    fn nat_family(&mut self, span: crate::source::Span, family: Family) {
        let fam = if family == Family::V4 { "IPv4" } else { "IPv6" };
        self.diags.push(
            Diagnostic::new(Code::FamilyMismatch, span, format!("no {fam} source to translate"))
                .label(format!("no {fam} network or host here"))
                .help(format!(
                    "`nat to` an {fam} address translates {fam} sources; name some, or translate to an address of theirs"
                )),
        );
    }

    /// The address of `nat to`: one of the uplink's or inside one of its
    /// prefixes, not a network or broadcast address (E0207).
    fn nat_to(&mut self, up: &'a ast::Uplink, to: &'a ast::Value, addresses: &[IpNet], learned: &[Family]) -> Option<IpAddr> {
        let addr = self.plain_address(to, "`nat to`")?;
        if learned.contains(&Family::of(&addr.addr)) {
            self.diags.push(
                Diagnostic::new(
                    Code::NatAddress,
                    to.span,
                    format!("`{}` cannot be checked against a learned address", addr.addr),
                )
                .label("the uplink's address of this family is `auto`")
                .help("write plain `nat`: it translates to whatever address the interface has at the time"),
            );
            return None;
        }
        let owned =
            addresses.iter().any(|n| n.addr() == addr.addr || (n.prefix_len() < n.max_prefix_len() && n.contains(&addr.addr)));
        if let Some((net, what)) = addresses.iter().find_map(|n| reserved_in(n, addr.addr).map(|what| (n, what))) {
            self.diags.push(
                Diagnostic::new(Code::NatAddress, to.span, format!("`{}` is the {what} of `{}`", addr.addr, net.trunc()))
                    .label("no host has this address")
                    .help(format!(
                        "translate to the uplink's address `{}` (plain `nat`) or to another address inside `{}`",
                        net.addr(),
                        net.trunc()
                    )),
            );
            return None;
        }
        if !owned {
            let list = addresses.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
            self.diags.push(
                Diagnostic::new(
                    Code::NatAddress,
                    to.span,
                    format!("`{}` is not an address of uplink `{}`", addr.addr, up.name.name),
                )
                .label("not the uplink's")
                .help(format!("the uplink has {list}; write plain `nat` to use it")),
            );
            return None;
        }
        Some(addr.addr)
    }

    pub fn needs_address(&mut self, up: &ast::Uplink, span: crate::source::Span, why: &str) {
        self.diags.push(
            Diagnostic::new(Code::MissingSetting, span, format!("uplink `{}` has no address", up.name.name))
                .label("needs the uplink's address")
                .with(up.name.span, "uplink declared here")
                .help(format!("{why}; add `address ADDRESS` to the uplink")),
        );
    }

    fn healthy(&mut self, up: &'a ast::Uplink) -> ir::Healthy {
        let Some(h) = self.single(&up.healthy, "healthy") else { return ir::Healthy::All };
        match &h.rule {
            HealthyRule::All => ir::Healthy::All,
            HealthyRule::Any => ir::Healthy::Any,
            HealthyRule::AtLeast(v) => {
                let max = up.checks.len().max(1) as u64;
                match self.integer(v, 1..=max, "the number of passing checks") {
                    Some(n) => ir::Healthy::AtLeast(n as u32),
                    None => ir::Healthy::All,
                }
            }
        }
    }

    fn uplink_events(&mut self, up: &'a ast::Uplink) -> (Vec<ir::Action>, Vec<ir::Action>) {
        let blocks = &up.events;
        let (mut on_up, mut on_down) = (Vec::new(), Vec::new());
        for (i, block) in blocks.iter().enumerate() {
            if !matches!(block.event, Event::Up | Event::Down) {
                self.wrong_event(block, "uplinks have `on up` and `on down`");
                continue;
            }
            if self.repeated_event(blocks, i) {
                continue;
            }
            let actions = self.actions(block, Some(&up.name));
            if block.event == Event::Up {
                for action in &block.actions {
                    if action.kind == ast::ActionKind::FlushStates(Vec::new()) {
                        self.diags.push(
                            Diagnostic::new(Code::WrongEvent, action.span, "`flush states` in `on up` names no uplink")
                                .label("nothing of its own to flush when an uplink comes back")
                                .help(format!(
                                    "name the uplinks whose connections go back to `{}` (failback), such as `flush states lte`; `on down {{ flush states }}` drops its own",
                                    up.name.name
                                )),
                        );
                    }
                }
                on_up = actions;
            } else {
                on_down = actions;
            }
        }
        (on_up, on_down)
    }

    pub fn wrong_event(&mut self, block: &EventBlock, help: &str) {
        self.diags.push(
            Diagnostic::new(Code::WrongEvent, block.event_span, format!("`on {}` is not valid here", block.event.as_str()))
                .label("wrong event")
                .help(help.to_string()),
        );
    }

    /// E0210 when `blocks[i]` repeats an earlier block's event.
    pub fn repeated_event(&mut self, blocks: &[EventBlock], i: usize) -> bool {
        let block = &blocks[i];
        let Some(first) = blocks[..i].iter().find(|b| b.event == block.event) else { return false };
        self.diags.push(
            Diagnostic::new(Code::WrongEvent, block.event_span, format!("`on {}` is given twice", block.event.as_str()))
                .label("second block for this event")
                .with(first.event_span, "first block here")
                .help("put all actions for one event into one block"),
        );
        true
    }

    /// The actions of a block; `owner` is the uplink whose block it is
    /// (`flush states` without names flushes it), `None` in a state.
    pub fn actions(&mut self, block: &EventBlock, owner: Option<&ast::Ident>) -> Vec<ir::Action> {
        let mut out = Vec::new();
        for a in &block.actions {
            if let ast::ActionKind::Run(text) | ast::ActionKind::Notify(text) = &a.kind {
                if text.len() > crate::validate::ACTION_TEXT {
                    self.out_of_range(
                        a.span,
                        format!("the action's text is {} bytes, more than {}", text.len(), crate::validate::ACTION_TEXT),
                        "ifstated reads a command line of at most 8,096 bytes, which wanc's quoting may make four times as long; \
                         put a long command in a script and `run` the script"
                            .into(),
                    );
                }
            }
            out.push(match &a.kind {
                ast::ActionKind::Run(cmd) => ir::Action::Run(cmd.clone()),
                ast::ActionKind::Notify(text) => ir::Action::Notify(text.clone()),
                ast::ActionKind::FlushStates(names) => {
                    let names: Vec<&ast::Ident> =
                        if names.is_empty() { owner.into_iter().collect() } else { names.iter().collect() };
                    let uplinks: Vec<usize> =
                        names.iter().filter_map(|n| self.names.expect(n, &[Kind::Uplink], self.diags).map(|s| s.index)).collect();
                    ir::Action::FlushStates(uplinks)
                }
            });
        }
        out
    }
}

/// IPv6 link-local, `fe80::/10`: on the link by definition.
fn is_link_local(addr: IpAddr) -> bool {
    matches!(addr, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

/// Whether `addr` is an address of `net`'s link that no host can own (and
/// not the uplink's own address): the network address, or the IPv4
/// broadcast address. Links of two addresses (/31, /127) have neither.
fn reserved_in(net: &IpNet, addr: IpAddr) -> Option<&'static str> {
    if addr == net.addr() || !net.contains(&addr) || net.prefix_len() + 1 >= net.max_prefix_len() {
        return None;
    }
    if addr == net.network() {
        Some("network address")
    } else if addr.is_ipv4() && addr == net.broadcast() {
        Some("broadcast address")
    } else {
        None
    }
}

fn same_family_slot(existing: &ir::Gateway, new: &Gateway) -> bool {
    let family = match existing {
        ir::Gateway::Dev => return true,
        ir::Gateway::Learned { family } => *family,
        ir::Gateway::Address { address, .. } => Family::of(address),
    };
    match new {
        Gateway::Dev(_) => true,
        Gateway::Learned(l) => l.family == family,
        Gateway::Value(v) => match &v.kind {
            ast::ValueKind::Address { addr, .. } => Family::of(addr) == family,
            _ => false,
        },
    }
}

pub trait HasSpan {
    fn span_of(&self) -> crate::source::Span;
}

impl HasSpan for ast::Value {
    fn span_of(&self) -> crate::source::Span {
        self.span
    }
}

impl HasSpan for ast::Nat {
    fn span_of(&self) -> crate::source::Span {
        self.span
    }
}

impl HasSpan for ast::Healthy {
    fn span_of(&self) -> crate::source::Span {
        self.span
    }
}
