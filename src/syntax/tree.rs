//! Pest pairs to the typed syntax tree. The grammar guarantees the shape of
//! every pair it produced, so a missing child means a grammar/builder
//! mismatch; even then the builder degrades to "nothing here", never panics.

use super::{explain_skipped, literal, slips, Rule};
use crate::ast::*;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ir::ViaMode;
use crate::source::{FileId, Span};
use pest::iterators::{Pair, Pairs};

pub struct Builder<'d> {
    pub file: FileId,
    pub diags: &'d mut Diagnostics,
}

type P<'i> = Pair<'i, Rule>;
type Kids<'i> = std::iter::Filter<Pairs<'i, Rule>, fn(&P<'i>) -> bool>;

/// Keyword pairs (`kw_via`, …) only mark words; the builder reads the pairs
/// around them. Named by prefix so a keyword added to the grammar needs no
/// change here. Line breaks read for recovery were reported already
/// (`Builder::file`).
fn content(pair: &P) -> bool {
    pair.as_rule() != Rule::line_break && !format!("{:?}", pair.as_rule()).starts_with("kw_")
}

fn kids(pair: P) -> Kids {
    pair.into_inner().filter(content as fn(&P) -> bool)
}

impl Builder<'_> {
    fn span(&self, pair: &P) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    fn skipped(&mut self, pair: &P, entry: Rule) {
        explain_skipped(entry, self.file, pair.as_span().start(), pair.as_str(), self.diags);
    }

    pub fn file(&mut self, root: P) -> Vec<Item> {
        // Wherever they are: the tree is walked flat, without recursion.
        for pair in root.clone().into_inner().flatten().filter(|p| p.as_rule() == Rule::line_break) {
            let span = pair.as_span();
            self.diags.push(slips::line_break(self.file, span.get_input(), span.start(), span.end()));
        }
        let mut items = Vec::new();
        for pair in kids(root) {
            match pair.as_rule() {
                Rule::bad_item => self.skipped(&pair, Rule::just_item),
                Rule::EOI => {}
                _ => items.extend(self.item(pair)),
            }
        }
        items
    }

    fn item(&mut self, pair: P) -> Option<Item> {
        let span = self.span(&pair);
        let r = pair.as_rule();
        let mut inner = kids(pair);
        Some(match r {
            Rule::site => Item::Site { name: self.string(inner.next()?).0, span },
            Rule::import => Item::Import { path: self.string(inner.next()?).0, span },
            Rule::const_def => Item::Const { name: self.ident(inner.next()?), value: self.value(inner.next()?) },
            Rule::host_def => Item::Host { name: self.ident(inner.next()?), value: self.value(inner.next()?) },
            Rule::plugin_def => {
                let name = self.ident(inner.next()?);
                let (path, path_span) = self.string(inner.next()?);
                Item::Plugin { name, path, path_span }
            }
            Rule::lan => Item::Lan(self.lan(inner, span)?),
            Rule::uplink => Item::Uplink(self.uplink(inner, span)?),
            Rule::policy => Item::Policy(self.policy(inner, span)),
            Rule::state => Item::State(self.state(inner, span)?),
            _ => return None,
        })
    }

    fn ident(&self, pair: P) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(&pair) }
    }

    fn word(&self, pair: P) -> Word {
        Word { text: pair.as_str().to_string(), span: self.span(&pair) }
    }

    /// An interface name; one in quotes is reported and read without them.
    fn interface(&mut self, pair: P) -> Word {
        let span = self.span(&pair);
        match slips::quoted_interface(self.file, pair.as_str(), span.start) {
            Some((text, diagnostic)) => {
                self.diags.push(diagnostic);
                Word { text, span }
            }
            None => self.word(pair),
        }
    }

    /// `auto ipv4` / `auto ipv6`.
    fn learned(&self, pair: P) -> Learned {
        let span = self.span(&pair);
        let v6 = kids(pair).any(|p| p.as_str() == "ipv6");
        Learned { family: if v6 { crate::ir::Family::V6 } else { crate::ir::Family::V4 }, span }
    }

    /// A string literal's contents and the span of the whole literal.
    fn string(&mut self, pair: P) -> (String, Span) {
        let span = self.span(&pair);
        let text = match kids(pair).next() {
            Some(inner) => literal::string(inner.as_str(), inner.as_span().start(), self.file, self.diags),
            None => String::new(),
        };
        (text, span)
    }

    fn value(&mut self, pair: P) -> Value {
        self.value_at(pair, 0)
    }

    fn value_at(&mut self, pair: P, depth: usize) -> Value {
        let span = self.span(&pair);
        let text = pair.as_str();
        if depth > Self::MAX_DEPTH {
            self.too_deep(span, "list");
            return Value { kind: ValueKind::Invalid, span };
        }
        let kind = match pair.as_rule() {
            Rule::prefix => literal::prefix(text, span, self.diags),
            Rule::addr6 | Rule::addr4 => literal::address(text, span, self.diags),
            Rule::duration => literal::duration(text, span, self.diags),
            Rule::percent => literal::percent(text, span, self.diags),
            Rule::port_range => literal::port_range(text, span, self.diags),
            Rule::integer => literal::integer(text, span, self.diags),
            Rule::string => ValueKind::Str(self.string(pair).0),
            Rule::set => ValueKind::Set(kids(pair).map(|v| self.value_at(v, depth + 1)).collect()),
            Rule::hostname => ValueKind::Hostname(text.trim_end_matches('.').to_string()),
            Rule::ident => ValueKind::Name(self.ident(pair)),
            _ => ValueKind::Invalid,
        };
        Value { kind, span }
    }

    fn lan(&mut self, mut inner: Kids<'_>, span: Span) -> Option<Lan> {
        let name = self.ident(inner.next()?);
        let mut lan = Lan { name, interfaces: Vec::new(), networks: Vec::new(), recovered: false, span };
        for stmt in inner {
            match stmt.as_rule() {
                Rule::interface_stmt => lan.interfaces.extend(kids(stmt).next().map(|w| self.interface(w))),
                Rule::network_stmt => lan.networks.extend(kids(stmt).next().map(|v| self.value(v))),
                Rule::bad_stmt => {
                    lan.recovered = true;
                    self.skipped(&stmt, Rule::just_lan)
                }
                _ => {}
            }
        }
        Some(lan)
    }

    fn uplink(&mut self, mut inner: Kids<'_>, span: Span) -> Option<Uplink> {
        let name = self.ident(inner.next()?);
        let mut up = Uplink {
            name,
            interfaces: Vec::new(),
            addresses: Vec::new(),
            networks: Vec::new(),
            gateways: Vec::new(),
            nats: Vec::new(),
            weights: Vec::new(),
            tables: Vec::new(),
            checks: Vec::new(),
            healthy: Vec::new(),
            events: Vec::new(),
            recovered: false,
            span,
        };
        for stmt in inner {
            let stmt_span = self.span(&stmt);
            let r = stmt.as_rule();
            if r == Rule::bad_stmt {
                up.recovered = true;
                self.skipped(&stmt, Rule::just_uplink);
                continue;
            }
            let first = kids(stmt.clone()).next();
            match (r, first) {
                (Rule::interface_stmt, Some(w)) => up.interfaces.push(self.interface(w)),
                (Rule::address_stmt, Some(v)) if v.as_rule() == Rule::learned => {
                    up.addresses.push(Address::Learned(self.learned(v)))
                }
                (Rule::address_stmt, Some(v)) => up.addresses.push(Address::Value(self.value(v))),
                (Rule::gateway_stmt, Some(v)) if v.as_rule() == Rule::gateway_dev => {
                    up.gateways.push(Gateway::Dev(self.span(&v)))
                }
                (Rule::gateway_stmt, Some(v)) if v.as_rule() == Rule::learned => {
                    up.gateways.push(Gateway::Learned(self.learned(v)))
                }
                (Rule::gateway_stmt, Some(v)) => up.gateways.push(Gateway::Value(self.value(v))),
                (Rule::network_stmt, Some(v)) => up.networks.push(self.value(v)),
                (Rule::nat_stmt, _) => {
                    let mut nat = Nat { from: None, to: None, span: stmt_span };
                    for part in kids(stmt) {
                        let value = kids(part.clone()).next().map(|v| self.value(v));
                        match part.as_rule() {
                            Rule::nat_from => nat.from = value,
                            _ => nat.to = value,
                        }
                    }
                    up.nats.push(nat)
                }
                (Rule::weight_stmt, Some(v)) => up.weights.push(self.value(v)),
                (Rule::table_stmt, Some(v)) => up.tables.push(self.value(v)),
                (Rule::healthy_stmt, Some(v)) => {
                    let kind = match v.as_rule() {
                        Rule::healthy_all => HealthyRule::All,
                        Rule::healthy_any => HealthyRule::Any,
                        _ => HealthyRule::AtLeast(self.value(v)),
                    };
                    up.healthy.push(Healthy { rule: kind, span: stmt_span });
                }
                (Rule::check, _) => up.checks.extend(self.check(stmt)),
                (Rule::on_block, _) => up.events.extend(self.event_block(stmt)),
                _ => {}
            }
        }
        Some(up)
    }

    fn check(&mut self, pair: P) -> Option<Check> {
        let span = self.span(&pair);
        let mut inner = kids(pair);
        let kind_pair = inner.next()?;
        let kind = match kind_pair.as_rule() {
            Rule::ping_check => CheckKind::Ping(self.value(kids(kind_pair).next()?)),
            Rule::dns_check => CheckKind::Dns(self.value(kids(kind_pair).next()?)),
            Rule::plugin_check => CheckKind::Plugin(self.ident(kids(kind_pair).next()?)),
            Rule::http_check => {
                let (url, url_span) = self.string(kids(kind_pair).next()?);
                CheckKind::Http { url, url_span }
            }
            Rule::tcp_check => {
                let mut target = kids(kids(kind_pair).next()?);
                let host = self.value(target.next()?);
                let port = self.value(target.next()?);
                CheckKind::Tcp { host, port }
            }
            _ => return None,
        };
        let mut options = Vec::new();
        if let Some(opts) = inner.next() {
            for opt in kids(opts) {
                let opt_span = self.span(&opt);
                let mut parts = kids(opt);
                let Some(name) = parts.next().map(|n| self.ident(n)) else { continue };
                let mut less_than = false;
                let mut next = parts.next();
                if next.as_ref().map(|p| p.as_rule()) == Some(Rule::less_than) {
                    less_than = true;
                    next = parts.next();
                }
                if let Some(v) = next {
                    options.push(CheckOption { name, less_than, value: self.value(v), span: opt_span });
                }
            }
        }
        Some(Check { kind, options, span })
    }

    fn event_block(&mut self, pair: P) -> Option<EventBlock> {
        let mut inner = kids(pair);
        let event_pair = inner.next()?;
        let event = match event_pair.as_str() {
            "up" => Event::Up,
            "down" => Event::Down,
            "enter" => Event::Enter,
            _ => Event::Exit,
        };
        let event_span = self.span(&event_pair);
        let mut actions = Vec::new();
        for stmt in inner {
            // Up to its last word: pest skips the blank before the optional
            // uplink list of `flush states` even when there is none.
            let end = stmt.clone().into_inner().last().map_or(stmt.as_span().end(), |k| k.as_span().end());
            let span = Span::new(self.file, stmt.as_span().start(), end);
            let kind = match stmt.as_rule() {
                Rule::bad_stmt => {
                    self.skipped(&stmt, Rule::just_action);
                    continue;
                }
                Rule::run_action => ActionKind::Run(self.string(kids(stmt).next()?).0),
                Rule::notify_action => ActionKind::Notify(self.string(kids(stmt).next()?).0),
                Rule::flush_action => {
                    ActionKind::FlushStates(kids(stmt).filter(|k| k.as_rule() == Rule::ident).map(|k| self.ident(k)).collect())
                }
                _ => continue,
            };
            actions.push(Action { kind, span });
        }
        Some(EventBlock { event, event_span, actions })
    }

    fn policy(&mut self, inner: Kids<'_>, span: Span) -> Policy {
        let mut rules = Vec::new();
        for stmt in inner {
            if stmt.as_rule() == Rule::bad_stmt {
                self.skipped(&stmt, Rule::just_rule);
                continue;
            }
            rules.extend(self.rule(stmt));
        }
        Policy { rules, span }
    }

    fn rule(&mut self, pair: P) -> Option<Rule_> {
        let span = self.span(&pair);
        let r = pair.as_rule();
        let mut inner = kids(pair);
        let kind = match r {
            Rule::default_rule => RuleKind::Default(self.via(inner.next()?)),
            Rule::route_rule => {
                let mut matches = Vec::new();
                let mut via = None;
                for part in inner {
                    let pr = part.as_rule();
                    match pr {
                        Rule::balance | Rule::multipath | Rule::via_list => via = Some(self.via(part)),
                        _ => {
                            let Some(v) = kids(part).next() else { continue };
                            matches.push(match pr {
                                Rule::from_match => Match::From(self.value(v)),
                                Rule::to_match => Match::To(self.value(v)),
                                Rule::port_match => Match::Port(self.value(v)),
                                _ => Match::Proto(self.ident(v)),
                            });
                        }
                    }
                }
                RuleKind::Route { matches, via: via? }
            }
            Rule::forward_rule => RuleKind::Forward {
                proto: self.ident(inner.next()?),
                ports: self.value(inner.next()?),
                on: self.value(inner.next()?),
                to: self.value(inner.next()?),
                to_port: inner.next().map(|p| self.value(p)),
            },
            Rule::serve_rule => RuleKind::Serve {
                proto: self.ident(inner.next()?),
                ports: self.value(inner.next()?),
                on: self.value(inner.next()?),
                via: self.ident(inner.next()?),
                stateless: inner.next().is_some(),
            },
            _ => return None,
        };
        Some(Rule_ { kind, span })
    }

    fn via(&mut self, pair: P) -> Via {
        let span = self.span(&pair);
        let mode = match pair.as_rule() {
            Rule::balance => ViaMode::Balance,
            Rule::multipath => ViaMode::Multipath,
            _ => ViaMode::Failover,
        };
        Via { mode, uplinks: kids(pair).map(|p| self.ident(p)).collect(), span }
    }

    fn state(&mut self, mut inner: Kids<'_>, span: Span) -> Option<State> {
        let name = self.ident(inner.next()?);
        let cond = inner.next()?;
        let when = match cond.as_rule() {
            Rule::state_default => When::Default(self.span(&cond)),
            _ => When::Expr(self.expr(cond)?),
        };
        let mut state = State { name, when, events: Vec::new(), policies: Vec::new(), span };
        if let Some(body) = inner.next() {
            for stmt in kids(body) {
                let stmt_span = self.span(&stmt);
                match stmt.as_rule() {
                    Rule::bad_stmt => self.skipped(&stmt, Rule::just_state),
                    Rule::on_block => state.events.extend(self.event_block(stmt)),
                    Rule::policy => {
                        let policy = self.policy(kids(stmt), stmt_span);
                        state.policies.push(policy);
                    }
                    _ => {}
                }
            }
        }
        Some(state)
    }

    /// Conditions and lists deeper than this are refused: the tree, the
    /// checker and the decision diagrams recurse over them, and no site needs
    /// it.
    const MAX_DEPTH: usize = 64;

    fn too_deep(&mut self, span: Span, what: &str) {
        self.diags.push(
            Diagnostic::new(Code::Syntax, span, format!("{what} is nested more than {} levels deep", Self::MAX_DEPTH))
                .label("too deep")
                .help("write it flatter; conditions have `any(…)`, `all(…)` and `count(…)`"),
        );
    }

    fn expr(&mut self, pair: P) -> Option<Expr> {
        self.expr_at(pair, 0)
    }

    fn expr_at(&mut self, pair: P, depth: usize) -> Option<Expr> {
        let span = self.span(&pair);
        if depth > Self::MAX_DEPTH {
            self.too_deep(span, "condition");
            return None;
        }
        let r = pair.as_rule();
        if r == Rule::ident {
            return Some(Expr { kind: ExprKind::Uplink(self.ident(pair)), span });
        }
        let inner = kids(pair);
        let kind = match r {
            Rule::expr | Rule::conj => {
                let mut parts: Vec<Expr> = inner.filter_map(|p| self.expr_at(p, depth)).collect();
                if parts.len() == 1 {
                    return parts.pop();
                }
                if r == Rule::expr {
                    ExprKind::Or(parts)
                } else {
                    ExprKind::And(parts)
                }
            }
            Rule::unary => {
                let parts: Vec<P> = inner.collect();
                let (nots, primary) = parts.split_at(parts.len().saturating_sub(1));
                let mut e = self.expr_at(primary.first()?.clone(), depth + nots.len() + 1)?;
                for not in nots.iter().rev() {
                    let s = self.span(not).to(e.span);
                    e = Expr { kind: ExprKind::Not(Box::new(e)), span: s };
                }
                return Some(e);
            }
            Rule::any_call => ExprKind::Any(inner.map(|p| self.ident(p)).collect()),
            Rule::all_call => ExprKind::All(inner.map(|p| self.ident(p)).collect()),
            Rule::count_cmp => {
                let parts: Vec<P> = inner.collect();
                let (names, rest) = parts.split_at(parts.len().saturating_sub(2));
                let op = match rest.first()?.as_str() {
                    ">=" => CmpOp::Ge,
                    "<=" => CmpOp::Le,
                    "==" => CmpOp::Eq,
                    "!=" => CmpOp::Ne,
                    ">" => CmpOp::Gt,
                    _ => CmpOp::Lt,
                };
                ExprKind::Count {
                    uplinks: names.iter().map(|p| self.ident(p.clone())).collect(),
                    op,
                    n: self.value(rest.get(1)?.clone()),
                }
            }
            _ => return None,
        };
        Some(Expr { kind, span })
    }
}

type Rule_ = crate::ast::Rule;
