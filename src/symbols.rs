//! Where each name of a site is defined and where it is used, read from the
//! syntax trees of all its files: what an editor asks for (the definition
//! of the name under the cursor, its references, the names to complete).
//!
//! A site has one namespace (uplinks, lans, hosts, constants, plugins and
//! states, `check::names`): a name refers to its first definition wherever
//! it is used, so an index of the uses by name is the whole resolution. A
//! use is any name in a reference position (a `via` list, a condition, a
//! `flush states`, a `check plugin`, a value that is a name); keywords,
//! protocols and option names are not uses.

use crate::ast::{self, ActionKind, CheckKind, Expr, ExprKind, Item, Kind, Match, RuleKind, Value, ValueKind};
use crate::source::{FileId, Span};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    pub name: String,
    pub kind: Kind,
    /// The name where it is defined.
    pub span: Span,
    /// The whole item.
    pub item: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Use {
    pub name: String,
    pub span: Span,
}

/// A name under the cursor: where it is, and what it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence<'a> {
    pub name: &'a str,
    pub span: Span,
}

#[derive(Default, Debug)]
pub struct Index {
    /// Every definition in declaration order, duplicates included.
    pub definitions: Vec<Definition>,
    pub uses: Vec<Use>,
    /// Where each policy rule is written, in the order of the checked
    /// site's rule table (`ir::Site::rules`): the site's policies in the
    /// order of the files, then each state's own. A clean check keeps every
    /// rule, so the n-th span here is rule n there.
    pub rules: Vec<Span>,
}

impl Index {
    /// The index of a site's files, given in the order they are checked.
    pub fn build(files: &[ast::File]) -> Index {
        let mut index = Index::default();
        let mut state_rules = Vec::new();
        for item in files.iter().flat_map(|f| &f.items) {
            index.item(item, &mut state_rules);
        }
        index.rules.extend(state_rules);
        index
    }

    /// The definition a name refers to: the first (a later one is a
    /// duplicate, which the checker reports).
    pub fn definition(&self, name: &str) -> Option<&Definition> {
        self.definitions.iter().find(|d| d.name == name)
    }

    /// The places that use `name`, wherever its definition is.
    pub fn uses_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Span> + 'a {
        self.uses.iter().filter(move |u| u.name == name).map(|u| u.span)
    }

    /// The name at a byte offset of a file, defined or used there. An
    /// offset just past a name counts, where a cursor stands after typing.
    pub fn at(&self, file: FileId, offset: usize) -> Option<Occurrence<'_>> {
        let hit = |span: &Span| span.file == file && span.start <= offset && offset <= span.end;
        let defined = self.definitions.iter().find(|d| hit(&d.span)).map(|d| Occurrence { name: &d.name, span: d.span });
        defined.or_else(|| self.uses.iter().find(|u| hit(&u.span)).map(|u| Occurrence { name: &u.name, span: u.span }))
    }

    /// The number of the rule written at a byte offset, in the checked
    /// site's rule table.
    pub fn rule_at(&self, file: FileId, offset: usize) -> Option<usize> {
        self.rules.iter().position(|s| s.file == file && s.start <= offset && offset <= s.end)
    }

    /// The names defined of one kind, first definitions only, in order.
    pub fn names(&self, kind: Kind) -> impl Iterator<Item = &str> {
        self.definitions
            .iter()
            .enumerate()
            .filter(move |(i, d)| d.kind == kind && !self.definitions[..*i].iter().any(|e| e.name == d.name))
            .map(|(_, d)| d.name.as_str())
    }

    fn define(&mut self, kind: Kind, ident: &ast::Ident, item: Span) {
        self.definitions.push(Definition { name: ident.name.clone(), kind, span: ident.span, item });
    }

    fn name(&mut self, ident: &ast::Ident) {
        self.uses.push(Use { name: ident.name.clone(), span: ident.span });
    }

    fn value(&mut self, value: &Value) {
        match &value.kind {
            ValueKind::Name(ident) => self.name(ident),
            ValueKind::Set(values) => values.iter().for_each(|v| self.value(v)),
            _ => {}
        }
    }

    fn item(&mut self, item: &Item, state_rules: &mut Vec<Span>) {
        match item {
            Item::Site { .. } | Item::Import { .. } => {}
            Item::Const { name, value } => {
                self.define(Kind::Const, name, name.span.to(value.span));
                self.value(value);
            }
            Item::Host { name, value } => {
                self.define(Kind::Host, name, name.span.to(value.span));
                self.value(value);
            }
            Item::Plugin { name, path_span, .. } => self.define(Kind::Plugin, name, name.span.to(*path_span)),
            Item::Lan(lan) => {
                self.define(Kind::Lan, &lan.name, lan.span);
                lan.networks.iter().for_each(|v| self.value(v));
            }
            Item::Uplink(up) => self.uplink(up),
            Item::Policy(policy) => {
                for rule in &policy.rules {
                    self.rule(rule);
                    self.rules.push(rule.span);
                }
            }
            Item::State(state) => {
                self.define(Kind::State, &state.name, state.span);
                if let ast::When::Expr(expr) = &state.when {
                    self.expr(expr);
                }
                state.events.iter().flat_map(|e| &e.actions).for_each(|a| self.action(a));
                for rule in state.policies.iter().flat_map(|p| &p.rules) {
                    self.rule(rule);
                    state_rules.push(rule.span);
                }
            }
        }
    }

    fn uplink(&mut self, up: &ast::Uplink) {
        self.define(Kind::Uplink, &up.name, up.span);
        for address in &up.addresses {
            if let ast::Address::Value(v) = address {
                self.value(v);
            }
        }
        for gateway in &up.gateways {
            if let ast::Gateway::Value(v) = gateway {
                self.value(v);
            }
        }
        for nat in &up.nats {
            nat.from.iter().chain(&nat.to).for_each(|v| self.value(v));
        }
        up.networks.iter().chain(&up.weights).chain(&up.tables).for_each(|v| self.value(v));
        for check in &up.checks {
            match &check.kind {
                CheckKind::Ping(v) | CheckKind::Dns(v) => self.value(v),
                CheckKind::Tcp { host, port } => {
                    self.value(host);
                    self.value(port);
                }
                CheckKind::Http { .. } => {}
                CheckKind::Plugin(ident) => self.name(ident),
            }
            check.options.iter().for_each(|o| self.value(&o.value));
        }
        for healthy in &up.healthy {
            if let ast::HealthyRule::AtLeast(v) = &healthy.rule {
                self.value(v);
            }
        }
        up.events.iter().flat_map(|e| &e.actions).for_each(|a| self.action(a));
    }

    fn action(&mut self, action: &ast::Action) {
        if let ActionKind::FlushStates(uplinks) = &action.kind {
            uplinks.iter().for_each(|u| self.name(u));
        }
    }

    fn rule(&mut self, rule: &ast::Rule) {
        match &rule.kind {
            RuleKind::Default(via) => via.uplinks.iter().for_each(|u| self.name(u)),
            RuleKind::Route { matches, via } => {
                for m in matches {
                    match m {
                        Match::From(v) | Match::To(v) | Match::Port(v) => self.value(v),
                        Match::Proto(_) => {}
                    }
                }
                via.uplinks.iter().for_each(|u| self.name(u));
            }
            RuleKind::Forward { ports, on, to, to_port, .. } => {
                [ports, on, to].into_iter().chain(to_port).for_each(|v| self.value(v));
            }
            RuleKind::Serve { ports, on, via, .. } => {
                self.value(ports);
                self.value(on);
                self.name(via);
            }
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Uplink(ident) => self.name(ident),
            ExprKind::Not(inner) => self.expr(inner),
            ExprKind::And(parts) | ExprKind::Or(parts) => parts.iter().for_each(|p| self.expr(p)),
            ExprKind::Any(uplinks) | ExprKind::All(uplinks) => uplinks.iter().for_each(|u| self.name(u)),
            ExprKind::Count { uplinks, n, .. } => {
                uplinks.iter().for_each(|u| self.name(u));
                self.value(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Diagnostics;

    fn index(texts: &[&str]) -> Index {
        let mut diags = Diagnostics::default();
        let files: Vec<ast::File> = texts.iter().enumerate().map(|(i, t)| crate::syntax::parse(i, t, &mut diags)).collect();
        Index::build(&files)
    }

    const LIB: &str =
        "uplink isp1 {\n  interface vr0\n  gateway 192.0.2.1\n}\nlan inside {\n  interface vr1\n  network 10.0.0.0/24\n}\n";
    const SITE: &str = "import \"lib.wan\"\nconst dns = 9.9.9.9\nuplink isp2 {\n  interface vr2\n  check ping dns\n}\npolicy {\n  default via isp1, isp2\n  route from inside via balance(isp1, isp2)\n}\nstate one when isp1 && !isp2 {\n  policy { default via isp1 }\n}\nstate two when any(isp1, isp2)\n";

    #[test]
    fn uses_resolve_across_files() {
        let idx = index(&[LIB, SITE]);
        let isp1 = idx.definition("isp1").expect("defined");
        assert_eq!((isp1.kind, isp1.span.file), (Kind::Uplink, 0));
        // default, route, `when`, the state's policy, `any(…)`.
        assert_eq!(idx.uses_of("isp1").count(), 5);
        assert!(idx.uses_of("isp1").all(|s| s.file == 1 && &SITE[s.range()] == "isp1"));
        assert_eq!(idx.uses_of("dns").count(), 1);
        assert_eq!(idx.uses_of("inside").count(), 1);
        assert_eq!(idx.names(Kind::Uplink).collect::<Vec<_>>(), ["isp1", "isp2"]);
    }

    #[test]
    fn the_name_and_rule_at_an_offset() {
        let idx = index(&[LIB, SITE]);
        let at = SITE.find("isp1, isp2").unwrap();
        for offset in [at, at + 2, at + 4] {
            assert_eq!(idx.at(1, offset).map(|o| o.name), Some("isp1"));
        }
        assert_eq!(idx.at(1, at - 1), None);
        assert_eq!(idx.at(0, LIB.find("isp1").unwrap()).map(|o| o.name), Some("isp1"));
        assert_eq!(idx.at(1, usize::MAX), None);
        // Site rules first, then the state's own.
        assert_eq!(idx.rule_at(1, SITE.find("route").unwrap()), Some(1));
        assert_eq!(idx.rule_at(1, SITE.find("policy { default").unwrap() + 10), Some(2));
        assert_eq!(idx.rule_at(1, 0), None);
    }

    #[test]
    fn a_duplicate_refers_to_the_first() {
        let idx = index(&["lan a { interface x }\nuplink a { interface y }\n"]);
        assert_eq!(idx.definition("a").map(|d| d.kind), Some(Kind::Lan));
        assert_eq!(idx.names(Kind::Uplink).count(), 0);
    }
}
