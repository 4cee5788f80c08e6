//! Hover: on a name, what it names (an uplink's summary, as `wanc inspect`
//! gives it); on a policy rule, which uplink it uses in each state, in
//! `wanc inspect`'s words.

use super::position::Lines;
use super::workspace::Analysis;
use crate::ast::Kind;
use crate::inspect;
use crate::ir::Site;
use crate::source::FileId;
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};
use std::fmt::Write;

pub fn hover(analysis: &Analysis, file: FileId, offset: usize) -> Option<Hover> {
    let lines = Lines::new(analysis.text(file));
    let site = analysis.compilation.site();
    let index = &analysis.index;
    let (text, span) = if let Some(at) = index.at(file, offset) {
        let def = index.definition(at.name)?;
        let mut text = format!("{} {} `{}`", def.kind.article(), def.kind.noun(), def.name);
        let uplink = site.and_then(|s| s.uplinks.iter().find(|u| u.name == def.name));
        match uplink {
            Some(up) if def.kind == Kind::Uplink => {
                for line in inspect::uplink(up) {
                    let _ = write!(text, "\n- {line}");
                }
            }
            // Without a checked site, or for other kinds, the definition
            // as written.
            _ => {
                let written = analysis.compilation.sources.snippet(def.item);
                let _ = write!(text, "\n\n```wan\n{}\n```", first_lines(written, 12));
            }
        }
        (text, at.span)
    } else {
        let site = site?;
        let rule = index.rule_at(file, offset)?;
        let span = *index.rules.get(rule)?;
        (per_state(site, rule)?, span)
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }),
        range: Some(lines.range(span.start, span.end)),
    })
}

/// A rule's routing in every state it is in force in. A rule of the
/// site's policy that a state's own replaces is said to be so there; a
/// state's own rule is in force in that state only.
fn per_state(site: &Site, rule: usize) -> Option<String> {
    let written = site.rules.get(rule)?;
    let mut text = format!("`{}`", written.text);
    for state in &site.states {
        if site.rules_of(state).any(|r| r == rule) {
            let _ = write!(text, "\n- state `{}`: {}", state.name, inspect::describe(&site.routing(state, rule), site));
        } else if state.replaced.contains(&rule) {
            let _ = write!(text, "\n- state `{}`: replaced by the state's own policy", state.name);
        }
    }
    Some(text)
}

fn first_lines(text: &str, n: usize) -> String {
    let mut lines: Vec<&str> = text.lines().take(n + 1).collect();
    if lines.len() > n {
        lines[n] = "…";
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::super::workspace::{path_of, Workspace};
    use lsp_types::{HoverContents, Url};

    /// The n-th rule of the rule table is the n-th written, states' own
    /// rules after the site's, whatever the order of the items.
    #[test]
    fn a_rule_hover_is_its_own_routing() {
        let text = "uplink a { interface x\n gateway 192.0.2.1 }\nuplink b { interface y\n gateway 192.0.2.2 }\n\
                    state only_b when !a && b {\n  policy { route to 10.0.0.0/8 via b, a }\n}\n\
                    state other default\npolicy {\n  default via a, b\n  route to 10.0.0.0/8 via a\n}\n";
        let uri = Url::parse("file:///nowhere/site.wan").unwrap();
        let mut workspace = Workspace::default();
        workspace.open(uri.clone(), text.to_string(), 1);
        let analysis = workspace.analysis(&uri).unwrap();
        assert!(analysis.compilation.site().is_some(), "{:?}", analysis.compilation.diagnostics);
        let file = analysis.file_of(&path_of(&uri)).unwrap();
        let hover = |needle: &str| {
            let offset = text.find(needle).unwrap();
            match super::hover(analysis, file, offset).map(|h| h.contents) {
                Some(HoverContents::Markup(m)) => m.value,
                other => panic!("{needle:?} at {offset}: {other:?}; rules {:?}", analysis.index.rules),
            }
        };
        assert_eq!(hover("route to 10.0.0.0/8 via b"), "`route to 10.0.0.0/8 via b, a`\n- state `only_b`: b");
        assert_eq!(
            hover("route to 10.0.0.0/8 via a\n"),
            "`route to 10.0.0.0/8 via a`\n- state `only_b`: replaced by the state's own policy\n- state `other`: a (if up)"
        );
        assert!(hover("b {").starts_with("an uplink `b`\n- interface y\n"), "{}", hover("b {"));
    }
}
