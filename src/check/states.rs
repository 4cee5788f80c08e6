//! States: conditions over uplink health, decided exactly with a BDD.
//!
//! States are tried in order; state i is current on the combinations where
//! its condition holds and no earlier one's does: reach_i = c_i ∧ ¬(c_1 ∨ … ∨
//! c_{i-1}). reach_i = false means unreachable (W0302); a non-false
//! ¬(c_1 ∨ … ∨ c_n) holds a combination no state covers (E0301). No step
//! enumerates the 2^n combinations.

use super::names::Kind;
use super::Checker;
use crate::ast::{self, CmpOp, ExprKind, When};
use crate::bdd::{Bdd, TooLarge, FALSE, TRUE};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::ir::ViaMode;
use crate::ir::{self, Cond, Health};
use crate::source::Span;

/// Nodes the checker may build before giving up with E0303.
const BDD_BUDGET: usize = 1_000_000;

/// A declared state before routing: its name, condition and actions.
pub struct Declared {
    pub name: String,
    pub when_text: String,
    pub when: Cond,
    pub health: Vec<Health>,
    pub on_enter: Vec<ir::Action>,
    pub on_exit: Vec<ir::Action>,
}

impl<'a> Checker<'a, '_> {
    /// The declared states with the health each implies, or `None` when a
    /// condition did not resolve (already reported).
    pub fn declared_states(&mut self, uplinks: usize) -> Option<Vec<Declared>> {
        let items = self.items;
        let mut conds = Vec::new();
        let mut ok = true;
        for state in &items.states {
            let cond = match &state.when {
                When::Default(_) => Some(Cond::True),
                When::Expr(e) => self.cond(e),
            };
            ok &= cond.is_some();
            conds.push(cond.unwrap_or(Cond::True));
        }
        let mut out = Vec::new();
        for (state, cond) in items.states.iter().zip(&conds) {
            let (on_enter, on_exit) = self.state_events(&state.events);
            out.push(Declared {
                name: state.name.name.clone(),
                when_text: when_text(self.sources.snippet(when_span(state))),
                when: cond.clone(),
                health: vec![Health::Either; uplinks],
                on_enter,
                on_exit,
            });
        }
        if !ok || self.syntax_errors {
            return None;
        }
        match self.decide(&conds, uplinks) {
            Ok(healths) => {
                for (d, h) in out.iter_mut().zip(healths) {
                    d.health = h;
                }
            }
            Err(TooLarge) => {
                let span = items.states.first().map(|s| s.name.span).unwrap_or_default();
                self.diags.push(
                    Diagnostic::new(Code::StatesTooComplex, span, "state conditions are too complex to check")
                        .label("the decision diagram grew past its budget")
                        .help("simplify the conditions, for example with `count(…) >= N`"),
                );
                return None;
            }
        }
        Some(out)
    }

    /// Exhaustiveness, reachability and the health each state implies.
    fn decide(&mut self, conds: &[Cond], uplinks: usize) -> Result<Vec<Vec<Health>>, TooLarge> {
        let items = self.items;
        let mut bdd = Bdd::new(BDD_BUDGET);
        let mut built = Vec::new();
        for c in conds {
            built.push(c.bdd(&mut bdd)?);
        }
        let mut covered = FALSE;
        let mut healths = Vec::new();
        for (i, &c) in built.iter().enumerate() {
            let not_covered = bdd.not(covered)?;
            let reach = bdd.and(c, not_covered)?;
            let state = items.states[i];
            if reach == FALSE {
                let mut d = Diagnostic::new(
                    Code::UnreachableState,
                    state.name.span,
                    format!("state `{}` can never be current", state.name.name),
                );
                let takers: Vec<usize> = (0..i).filter(|&j| bdd.and(c, built[j]).map(|x| x != FALSE).unwrap_or(false)).collect();
                if c == FALSE {
                    d = d.label("its condition never holds").help("no combination of uplink health satisfies this condition");
                } else {
                    d = d.label("every combination it matches is taken earlier");
                    for &j in takers.iter().take(3) {
                        d = d.with(items.states[j].name.span, format!("`{}` comes first", items.states[j].name.name));
                    }
                    d = d.help("states are tried in order; move this one up, or remove it");
                }
                self.diags.push(d);
            }
            let health = bdd
                .implied(reach, uplinks)
                .into_iter()
                .map(|lit| match lit {
                    Some(true) => Health::Up,
                    Some(false) => Health::Down,
                    None => Health::Either,
                })
                .collect();
            healths.push(health);
            covered = bdd.or(covered, c)?;
        }
        if covered != TRUE {
            let uncovered = bdd.not(covered)?;
            let combo = bdd.any_sat(uncovered, uplinks).unwrap_or_default();
            self.non_exhaustive(&combo);
        }
        Ok(healths)
    }

    fn non_exhaustive(&mut self, combo: &[Option<bool>]) {
        let items = self.items;
        let names: Vec<&str> = items.uplinks.iter().map(|u| u.name.name.as_str()).collect();
        let words: Vec<String> = combo
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|up| format!("`{}` {}", names[i], if up { "up" } else { "down" })))
            .collect();
        let when: Vec<String> = combo
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|up| format!("{}{}", if up { "" } else { "!" }, names[i])))
            .collect();
        let last = items.states.last().map(|s| s.span).unwrap_or_default();
        let described = if words.is_empty() { "every combination".to_string() } else { words.join(", ") };
        let rest = if combo.iter().any(|v| v.is_none()) && !words.is_empty() { " (the others in any health)" } else { "" };
        self.diags.push(
            Diagnostic::new(Code::NonExhaustive, last, format!("no state covers {described}{rest}"))
                .label("the states end here")
                .help(format!(
                    "add `state NAME when {}`, or a catch-all `state NAME default` at the end",
                    if when.is_empty() { "…".to_string() } else { when.join(" && ") }
                )),
        );
    }

    fn cond(&mut self, e: &'a ast::Expr) -> Option<Cond> {
        Some(match &e.kind {
            ExprKind::Uplink(ident) => Cond::Up(self.names.expect(ident, &[Kind::Uplink], self.diags)?.index),
            ExprKind::Not(inner) => Cond::Not(Box::new(self.cond(inner)?)),
            ExprKind::And(parts) => Cond::And(self.conds(parts)?),
            ExprKind::Or(parts) => Cond::Or(self.conds(parts)?),
            ExprKind::Any(names) => Cond::Or(self.members(names)?.into_iter().map(Cond::Up).collect()),
            ExprKind::All(names) => Cond::And(self.members(names)?.into_iter().map(Cond::Up).collect()),
            ExprKind::Count { uplinks, op, n } => {
                let members = self.members(uplinks);
                let n = self.integer(n, 0..=u64::from(u32::MAX), "a count")? as u32;
                let members = members?;
                let total = members.len() as u32;
                let range = |min: u32, max: u32| Cond::CountIn { members: members.clone(), min, max };
                match op {
                    CmpOp::Ge => range(n, total),
                    CmpOp::Gt => range(n.saturating_add(1), total),
                    CmpOp::Le => range(0, n),
                    CmpOp::Lt if n == 0 => Cond::Not(Box::new(Cond::True)),
                    CmpOp::Lt => range(0, n - 1),
                    CmpOp::Eq => range(n, n),
                    CmpOp::Ne => Cond::Not(Box::new(range(n, n))),
                }
            }
        })
    }

    fn conds(&mut self, parts: &'a [ast::Expr]) -> Option<Vec<Cond>> {
        let all: Vec<Option<Cond>> = parts.iter().map(|p| self.cond(p)).collect();
        all.into_iter().collect()
    }

    fn members(&mut self, names: &[ast::Ident]) -> Option<Vec<usize>> {
        let mut out = Vec::new();
        let mut ok = true;
        for ident in names {
            match self.names.expect(ident, &[Kind::Uplink], self.diags) {
                Some(sym) if out.contains(&sym.index) => {
                    self.diags.push(
                        Diagnostic::new(Code::RepeatedUplink, ident.span, format!("`{}` is named twice", ident.name))
                            .label("named again")
                            .help("name each uplink once"),
                    );
                }
                Some(sym) => out.push(sym.index),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn state_events(&mut self, blocks: &'a [ast::EventBlock]) -> (Vec<ir::Action>, Vec<ir::Action>) {
        let (mut on_enter, mut on_exit) = (Vec::new(), Vec::new());
        for (i, block) in blocks.iter().enumerate() {
            if !matches!(block.event, ast::Event::Enter | ast::Event::Exit) {
                self.wrong_event(block, "states have `on enter` and `on exit`; `on up`/`on down` belong to uplinks");
                continue;
            }
            if self.repeated_event(blocks, i) {
                continue;
            }
            for action in &block.actions {
                if matches!(action.kind, ast::ActionKind::FlushStates(_)) {
                    self.diags.push(
                        Diagnostic::new(Code::WrongEvent, action.span, "`flush states` in a state block")
                            .label("which uplink's connections?")
                            .help("`flush states` belongs to an uplink's `on down`, where the failed uplink is known"),
                    );
                }
            }
            let actions = self.actions(block, None);
            if block.event == ast::Event::Enter {
                on_enter = actions;
            } else {
                on_exit = actions;
            }
        }
        (on_enter, on_exit)
    }
}

/// States derived from the failover order of the default route (or the
/// uplinks' order): one state per uplink that can carry the default route,
/// plus one for none. n + 1 states for n uplinks, never 2^n; uplinks after the
/// first healthy one stay `Either` and are followed live inside the state.
pub fn derived(uplinks: &[ir::Uplink], default: Option<&ir::Via>) -> Vec<Declared> {
    let order: Vec<usize> = match default {
        Some(via) => via.uplinks.clone(),
        None => (0..uplinks.len()).collect(),
    };
    let mut out = Vec::new();
    let mut earlier: Vec<usize> = Vec::new();
    for &u in &order {
        let mut parts: Vec<Cond> = earlier.iter().map(|&e| Cond::Not(Box::new(Cond::Up(e)))).collect();
        parts.push(Cond::Up(u));
        let mut text: Vec<String> = earlier.iter().map(|&e| format!("!{}", uplinks[e].name)).collect();
        text.push(uplinks[u].name.clone());
        let mut health = vec![Health::Either; uplinks.len()];
        for &e in &earlier {
            health[e] = Health::Down;
        }
        health[u] = Health::Up;
        out.push(Declared {
            name: format!("via_{}", uplinks[u].name),
            when_text: text.join(" && "),
            when: Cond::And(parts),
            health,
            on_enter: Vec::new(),
            on_exit: Vec::new(),
        });
        earlier.push(u);
    }
    let mut health = vec![Health::Either; uplinks.len()];
    for &e in &earlier {
        health[e] = Health::Down;
    }
    let text: Vec<String> = earlier.iter().map(|&e| format!("!{}", uplinks[e].name)).collect();
    out.push(Declared {
        name: "unrouted".into(),
        when_text: if text.is_empty() { "default".into() } else { text.join(" && ") },
        when: Cond::True,
        health,
        on_enter: Vec::new(),
        on_exit: Vec::new(),
    });
    out
}

/// The routing of one rule's `via` under a state's health.
pub fn route(via: &ir::Via, health: &[Health], uplinks: &[ir::Uplink]) -> ir::Routing {
    let mut members = Vec::new();
    for &u in &via.uplinks {
        match health[u] {
            Health::Down => continue,
            h => members.push(ir::Member { uplink: u, weight: uplinks[u].weight, certain: h == Health::Up }),
        }
        if via.mode == ViaMode::Failover && health[u] == Health::Up {
            break;
        }
    }
    if members.is_empty() {
        ir::Routing::Unrouted
    } else {
        ir::Routing::Uplinks { mode: via.mode, members }
    }
}

fn when_span(state: &ast::State) -> Span {
    match &state.when {
        When::Default(span) => *span,
        When::Expr(e) => e.span,
    }
}

fn when_text(text: &str) -> String {
    super::source_text(text)
}
