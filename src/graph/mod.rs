//! `wanc graph`: the state machine as a Graphviz diagram. Each state is a
//! node showing its name, its condition and what its rules route to; each
//! edge is labelled with the uplink events that move the agent along it.
//!
//! The DOT is written here rather than with a crate: it is a few lines of
//! one graph, and the only delicate part, quoting text from the source
//! (names, conditions, rules) into DOT strings, is `escape` below; the DOT
//! writer crates leave that quoting to the caller too. SVG comes from
//! Graphviz itself (`svg`).

pub mod svg;
pub mod transitions;

use crate::inspect::describe;
use crate::ir::{RuleKind, Site, State};
use std::fmt::Write;
use transitions::{transitions, Event, Given, MAX_UPLINKS};

/// The site's state machine in DOT.
pub fn dot(site: &Site) -> String {
    let edges = transitions(site);
    let mut out = String::new();
    let mut title = format!("site {}: {} uplinks, {} states", site.name, site.uplinks.len(), site.states.len());
    if site.derived_states {
        title.push_str(" (derived from the default route's failover order)");
    }
    if edges.is_none() {
        title.push_str(&format!("\ntransitions not drawn: more than {MAX_UPLINKS} uplinks"));
        let _ = writeln!(out, "// transitions not drawn: the site has more than {MAX_UPLINKS} uplinks");
    }
    let _ = writeln!(out, "digraph \"{}\" {{", escape(&site.name));
    let _ = writeln!(out, "  graph [label=\"{}\", labelloc=t, fontname=\"sans-serif\"];", escape(&title));
    let _ = writeln!(out, "  node [shape=box, style=rounded, fontname=\"sans-serif\", fontsize=10];");
    let _ = writeln!(out, "  edge [fontname=\"sans-serif\", fontsize=9];");
    for (i, state) in site.states.iter().enumerate() {
        let _ = writeln!(out, "  s{i} [label=\"{}\"];", node_label(site, state));
    }
    for t in edges.unwrap_or_default() {
        let events: Vec<String> = t.events.iter().map(|e| escape(&event(site, e))).collect();
        let _ = writeln!(out, "  s{} -> s{} [label=\"{}\"];", t.from, t.to, events.join("\\n"));
    }
    out.push_str("}\n");
    out
}

/// Name and condition centred, then one left-aligned line per rule in
/// force: what it matches and where it goes in the state.
fn node_label(site: &Site, state: &State) -> String {
    let mut label = format!("{}\\nwhen {}\\n", escape(&state.name), escape(&state.when_text));
    for id in site.rules_of(state) {
        let rule = &site.rules[id];
        let line = format!("{} → {}", rule_head(&rule.text, &rule.kind), describe(&site.routing(state, id), site));
        let _ = write!(label, "{}\\l", escape(&line));
    }
    label
}

/// A `default` or `route` rule without its `via`, which the routing shows
/// resolved (the grammar writes the via last in both); other rules whole.
fn rule_head<'a>(text: &'a str, kind: &RuleKind) -> &'a str {
    match kind {
        RuleKind::Default { .. } | RuleKind::Route { .. } => text.rfind(" via ").map_or(text, |at| &text[..at]),
        RuleKind::Forward { .. } | RuleKind::Serve { .. } => text,
    }
}

/// `isp1 down`, or `isp1 down (isp2 up)` when where it leads depends on
/// the other uplinks' health, or `isp1 down (5 of 11 healths)` when that
/// takes too many words.
fn event(site: &Site, e: &Event) -> String {
    let health = |u: usize, up: bool| format!("{} {}", site.uplinks[u].name, if up { "up" } else { "down" });
    let text = health(e.uplink, e.up);
    match &e.given {
        Given::Any => text,
        Given::Health(others) => {
            let others: Vec<String> = others.iter().map(|&(u, up)| health(u, up)).collect();
            format!("{text} ({})", others.join(", "))
        }
        Given::Share { taken, of } => format!("{text} ({taken} of {of} healths)"),
    }
}

/// Text for inside a DOT string: quotes and backslashes escaped (a
/// backslash would otherwise start one of Graphviz's label escapes, `\N`,
/// `\G`, `\l`), line breaks as `\n`, other control characters as spaces.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_dot_strings_closed_and_labels_literal() {
        assert_eq!(escape(r#"a "b" \N c"#), r#"a \"b\" \\N c"#);
        assert_eq!(escape("two\nlines\tand\u{7}"), "two\\nlines and ");
    }

    #[test]
    fn the_via_is_cut_from_route_rules_only() {
        let route = RuleKind::Default { via: 0 };
        assert_eq!(rule_head("default via isp1, isp2", &route), "default");
        let serve = RuleKind::Serve {
            proto: crate::ir::Proto::Tcp,
            ports: vec![],
            host: [192, 0, 2, 1].into(),
            via: 0,
            stateless: false,
        };
        assert_eq!(rule_head("serve tcp port https on www via he", &serve), "serve tcp port https on www via he");
    }
}
