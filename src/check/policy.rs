//! Policy rules: `default`, `route`, `forward` and `serve`, resolved to
//! uplink indices, address sets and port ranges.

use super::names::Kind;
use super::Checker;
use crate::ast::{self, Match, RuleKind};
use crate::codes::Code;
use crate::diagnostic::{suggest, Diagnostic};
use crate::ir::ViaMode;
use crate::ir::{self, Family, Proto};
use crate::source::Span;

impl<'a> Checker<'a, '_> {
    pub fn policy(&mut self, policy: &'a ast::Policy, first_default: &mut Option<Span>) -> Vec<ir::Rule> {
        let mut out = Vec::new();
        for rule in &policy.rules {
            if let RuleKind::Default(_) = rule.kind {
                if let Some(first) = *first_default {
                    self.diags.push(
                        Diagnostic::new(Code::DuplicateDefault, rule.span, "the policy has a second default route")
                            .label("second `default`")
                            .with(first, "first `default` here")
                            .help("keep one; an ordered list `default via a, b` says which uplink comes first"),
                    );
                    continue;
                }
                *first_default = Some(rule.span);
            }
            if let Some(kind) = self.rule(rule) {
                let text = super::source_text(self.sources.snippet(rule.span));
                let line = self.sources.line_col(rule.span.file, rule.span.start).line;
                out.push(ir::Rule { text, line, kind });
                self.rule_spans.push(rule.span);
            }
        }
        out
    }

    fn rule(&mut self, rule: &'a ast::Rule) -> Option<ir::RuleKind> {
        Some(match &rule.kind {
            RuleKind::Default(via) => ir::RuleKind::Default { via: self.via(via)? },
            RuleKind::Route { matches, via } => {
                let (mut from, mut to, mut ports) = (Vec::new(), Vec::new(), Vec::new());
                let mut proto = None;
                let mut seen: Vec<(&str, Span)> = Vec::new();
                let mut port_span = None;
                for m in matches {
                    let (word, span) = match m {
                        Match::From(v) => ("from", v.span),
                        Match::To(v) => ("to", v.span),
                        Match::Port(v) => ("port", v.span),
                        Match::Proto(i) => ("proto", i.span),
                    };
                    if let Some((_, first)) = seen.iter().find(|(w, _)| *w == word) {
                        let first = *first;
                        self.twice(span, first, word);
                        continue;
                    }
                    seen.push((word, span));
                    match m {
                        Match::From(v) => self.address_set(v, &mut from),
                        Match::To(v) => self.address_set(v, &mut to),
                        Match::Port(v) => {
                            port_span = Some(v.span);
                            self.ports(v, &mut ports)
                        }
                        Match::Proto(i) => proto = self.proto(i, false),
                    }
                }
                if let Some(span) = port_span {
                    if !proto.is_some_and(Proto::has_ports) && !seen.iter().any(|(w, _)| *w == "proto") {
                        self.diags.push(
                            Diagnostic::new(Code::MissingSetting, span, "a port match needs a protocol")
                                .label("port of which protocol?")
                                .help("add `proto tcp` or `proto udp` before `to port`"),
                        );
                    } else if proto.is_some_and(|p| !p.has_ports()) {
                        self.diags.push(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                span,
                                format!("protocol `{}` has no ports", proto.map(Proto::as_str).unwrap_or("")),
                            )
                            .label("ports need tcp or udp")
                            .help("use `proto tcp` or `proto udp`, or drop the port"),
                        );
                    }
                }
                ir::RuleKind::Route { from, to, proto, ports, via: self.via(via)? }
            }
            RuleKind::Forward { proto, ports, on, to, to_port } => {
                let proto = self.proto(proto, true);
                let mut port_list = Vec::new();
                self.ports(ports, &mut port_list);
                let to = self.plain_address(to, "the address of `forward … to`");
                let on = self.forward_on(on, to.as_ref().map(|a| Family::of(&a.addr)));
                let to_port = match to_port {
                    Some(p) => Some(self.port(p)?),
                    None => None,
                };
                let (on, at) = on?;
                ir::RuleKind::Forward { proto: proto?, ports: port_list, on, at, to: to?.addr, to_port }
            }
            RuleKind::Serve { proto, ports, on, via, stateless } => {
                let proto = self.proto(proto, true);
                let mut port_list = Vec::new();
                self.ports(ports, &mut port_list);
                let host = self.plain_address(on, "the address of `serve … on`");
                let via = self.uplink_ref(via, "replies leave from the uplink's address");
                ir::RuleKind::Serve { proto: proto?, ports: port_list, host: host?.addr, via: via?, stateless: *stateless }
            }
        })
    }

    /// Where `forward … on` listens: an uplink's address in `family` (the
    /// first given, or the learned one), or one of an uplink's addresses
    /// named (E0212 if it is no uplink's).
    fn forward_on(&mut self, on: &'a ast::Value, family: Option<Family>) -> Option<(usize, ir::Address)> {
        let sym = match &on.kind {
            ast::ValueKind::Name(ident) => Some(self.names.expect(ident, &[Kind::Uplink, Kind::Const], self.diags)?),
            _ => None,
        };
        if let Some(sym) = sym.filter(|s| s.kind == Kind::Uplink) {
            let up = self.items.uplinks[sym.index];
            if up.addresses.is_empty() {
                self.needs_address(up, on.span, "forwarded connections arrive on the uplink's address");
                return None;
            }
            let family = family?;
            let (given, learned) = &self.uplink_addrs[sym.index];
            let at = match given.iter().find(|n| Family::of(&n.addr()) == family) {
                Some(n) => ir::Address::Known(n.addr()),
                None if learned.contains(&family) => ir::Address::Learned(family),
                None => {
                    let fam = if family == Family::V4 { "IPv4" } else { "IPv6" };
                    self.diags.push(
                        Diagnostic::new(Code::FamilyMismatch, on.span, format!("uplink `{}` has no {fam} address", up.name.name))
                            .label(format!("an {fam} host is forwarded to"))
                            .with(up.name.span, "uplink declared here")
                            .help(format!("forward to an address of the uplink's family, or give the uplink an {fam} `address`")),
                    );
                    return None;
                }
            };
            return Some((sym.index, at));
        }
        let addr = self.plain_address(on, "the address of `forward … on`")?.addr;
        let Some(u) = self.uplink_addrs.iter().position(|(given, _)| given.iter().any(|n| n.addr() == addr)) else {
            let owned: Vec<String> =
                self.uplink_addrs.iter().flat_map(|(g, _)| g.iter().map(|n| format!("`{}`", n.addr()))).collect();
            let help = match owned.is_empty() {
                true => "name an uplink: connections arriving at its address are forwarded".to_string(),
                false => format!("name an uplink, or one of the uplinks' addresses: {}", owned.join(", ")),
            };
            self.diags.push(
                Diagnostic::new(Code::ForwardAddress, on.span, format!("`{addr}` is not an address of any uplink"))
                    .label("no uplink has this address")
                    .help(help),
            );
            return None;
        };
        if family.is_some_and(|f| f != Family::of(&addr)) {
            self.diags.push(
                Diagnostic::new(Code::FamilyMismatch, on.span, format!("`{addr}` and the forwarded host differ in family"))
                    .label("connections arrive at this address")
                    .help("forward from an address of the host's family: a firewall translates within one family"),
            );
            return None;
        }
        Some((u, ir::Address::Known(addr)))
    }

    /// An uplink that must own an address (`serve … via`).
    fn uplink_ref(&mut self, ident: &ast::Ident, why: &str) -> Option<usize> {
        let sym = self.names.expect(ident, &[Kind::Uplink], self.diags)?;
        let items = self.items;
        let up = items.uplinks[sym.index];
        if up.addresses.is_empty() {
            self.needs_address(up, ident.span, why);
        }
        Some(sym.index)
    }

    fn proto(&mut self, ident: &ast::Ident, ports: bool) -> Option<Proto> {
        if let Some(p) = Proto::ALL.iter().find(|p| p.as_str() == ident.name) {
            if ports && !p.has_ports() {
                self.diags.push(
                    Diagnostic::new(Code::TypeMismatch, ident.span, format!("protocol `{}` has no ports", ident.name))
                        .label("expected `tcp` or `udp`")
                        .help("forwarding and serving are per port: use `tcp` or `udp`"),
                );
                return None;
            }
            return Some(*p);
        }
        let help = match suggest(&ident.name, Proto::ALL.iter().map(|p| p.as_str())) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "protocols are `tcp`, `udp`, `icmp`, `icmp6`, `gre` and `esp`".into(),
        };
        self.diags.push(
            Diagnostic::new(Code::UnknownName, ident.span, format!("unknown protocol `{}`", ident.name))
                .label("not a protocol")
                .help(help),
        );
        None
    }

    fn via(&mut self, via: &ast::Via) -> Option<ir::ViaId> {
        let mut uplinks: Vec<(usize, Span)> = Vec::new();
        let mut ok = true;
        for ident in &via.uplinks {
            let Some(sym) = self.names.expect(ident, &[Kind::Uplink], self.diags) else {
                ok = false;
                continue;
            };
            if let Some((_, first)) = uplinks.iter().find(|(u, _)| *u == sym.index) {
                self.diags.push(
                    Diagnostic::new(Code::RepeatedUplink, ident.span, format!("`{}` is named twice", ident.name))
                        .label("named again")
                        .with(*first, "first named here")
                        .help("name each uplink once; use `weight` in the uplink for unequal shares"),
                );
                continue;
            }
            uplinks.push((sym.index, ident.span));
        }
        if via.mode != ViaMode::Failover && via.uplinks.len() == 1 {
            let word = if via.mode == ViaMode::Balance { "balance" } else { "multipath" };
            let name = &via.uplinks[0].name;
            self.diags.push(
                Diagnostic::new(Code::BalanceOfOne, via.span, format!("`{word}` over one uplink"))
                    .label("nothing to spread over")
                    .help(format!("name several uplinks, or write `via {name}`")),
            );
        }
        ok.then(|| self.intern(ir::Via { mode: via.mode, uplinks: uplinks.into_iter().map(|(u, _)| u).collect() }))
    }

    /// The index of `via` in the site's table of distinct vias.
    fn intern(&mut self, via: ir::Via) -> ir::ViaId {
        if let Some(&id) = self.via_ids.get(&via) {
            return id;
        }
        self.vias.push(via.clone());
        self.via_ids.insert(via, self.vias.len() - 1);
        self.vias.len() - 1
    }
}

/// Whether a state's rule replaces a site rule: same kind and same traffic.
pub fn same_selector(a: &ir::RuleKind, b: &ir::RuleKind) -> bool {
    use ir::RuleKind as K;
    match (a, b) {
        (K::Default { .. }, K::Default { .. }) => true,
        (K::Route { from, to, proto, ports, .. }, K::Route { from: f2, to: t2, proto: p2, ports: o2, .. }) => {
            same_set(from, f2) && same_set(to, t2) && proto == p2 && same_set(ports, o2)
        }
        (K::Forward { proto, ports, on, at, .. }, K::Forward { proto: p2, ports: o2, on: n2, at: a2, .. }) => {
            proto == p2 && same_set(ports, o2) && on == n2 && at == a2
        }
        (K::Serve { proto, ports, host, .. }, K::Serve { proto: p2, ports: o2, host: h2, .. }) => {
            proto == p2 && same_set(ports, o2) && host == h2
        }
        _ => false,
    }
}

/// Lists compared as sets: order and repetition do not change the traffic.
fn same_set<T: Ord + Clone>(a: &[T], b: &[T]) -> bool {
    let normal = |list: &[T]| {
        let mut list = list.to_vec();
        list.sort();
        list.dedup();
        list
    };
    normal(a) == normal(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Ports, RuleKind};

    fn route(from: &[&str], ports: &[u16]) -> RuleKind {
        RuleKind::Route {
            from: from.iter().map(|n| n.parse().unwrap()).collect(),
            to: Vec::new(),
            proto: Some(Proto::Tcp),
            ports: ports.iter().map(|&p| Ports { first: p, last: p }).collect(),
            via: 0,
        }
    }

    #[test]
    fn selectors_compare_lists_as_sets() {
        let a = route(&["10.1.0.0/16", "10.2.0.0/16"], &[80, 443]);
        let b = route(&["10.2.0.0/16", "10.1.0.0/16", "10.2.0.0/16"], &[443, 80]);
        assert!(same_selector(&a, &b));
        assert!(!same_selector(&a, &route(&["10.1.0.0/16"], &[80, 443])));
        assert!(!same_selector(&a, &route(&["10.1.0.0/16", "10.2.0.0/16"], &[80])));
    }
}
