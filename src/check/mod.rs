//! The checker: the typed syntax tree of all files to the resolved policy
//! model (`ir::Site`), reporting every problem it finds on the way.

mod interfaces;
mod names;
mod overlaps;
mod plugins;
mod policy;
mod probes;
mod services;
mod states;
mod tables;
mod uplinks;
mod values;

use crate::ast;
use crate::diagnostic::Diagnostics;
use crate::ir;
use crate::source::{SourceMap, Span};
use ipnet::IpNet;
use names::{Items, Names};
use std::collections::HashMap;
use std::net::IpAddr;

pub struct Checker<'a, 'd> {
    names: &'a Names,
    items: &'a Items<'a>,
    sources: &'a SourceMap,
    diags: &'d mut Diagnostics,
    host_addrs: Vec<Option<IpAddr>>,
    lan_networks: Vec<Vec<IpNet>>,
    /// Per uplink, its given addresses and learned families.
    uplink_addrs: Vec<(Vec<IpNet>, Vec<ir::Family>)>,
    /// Per plugin, the settings it declares; `None` if it did not load.
    plugin_infos: Vec<Option<Vec<ir::PluginSetting>>>,
    /// Interface name → where it was claimed and by whom.
    interfaces: HashMap<String, (Span, String)>,
    /// Where each rule of the site's rule table was written.
    rule_spans: Vec<Span>,
    /// The distinct vias of the rules, and each one's index.
    vias: Vec<ir::Via>,
    via_ids: HashMap<ir::Via, ir::ViaId>,
    /// Whether the parser skipped anything. Whole-site properties (state
    /// coverage) are not judged then: a dropped line would make them lie.
    syntax_errors: bool,
}

/// Checks a site made of `files` (the root first, then its imports). Returns
/// the model only when there are no errors; warnings do not stop it.
pub fn check(files: &[ast::File], sources: &SourceMap, diags: &mut Diagnostics) -> Option<ir::Site> {
    let syntax_errors = diags.iter().any(|d| d.code == crate::codes::Code::Syntax);
    let (names, items) = Names::collect(files, diags);
    let mut c = Checker {
        names: &names,
        items: &items,
        sources,
        diags,
        host_addrs: Vec::new(),
        lan_networks: Vec::new(),
        uplink_addrs: Vec::new(),
        plugin_infos: Vec::new(),
        interfaces: HashMap::new(),
        rule_spans: Vec::new(),
        vias: Vec::new(),
        via_ids: HashMap::new(),
        syntax_errors,
    };
    c.hosts();
    let lans = c.lans();
    let plugins = c.plugins();
    let mut uplinks = c.uplinks();
    c.tables(&mut uplinks);

    let mut first_default = None;
    let mut base = Vec::new();
    for policy in &items.policies {
        base.extend(c.policy(policy, &mut first_default));
    }
    let derived_states = items.states.is_empty();
    let declared = if derived_states {
        let default = base.iter().find_map(|r| match &r.kind {
            ir::RuleKind::Default { via } => Some(&c.vias[*via]),
            _ => None,
        });
        Some(states::derived(&uplinks, default))
    } else {
        c.declared_states(uplinks.len())
    };
    let mut site_states = Vec::new();
    let site_rules = base.len();
    let mut rules = base;
    for (i, state) in declared.into_iter().flatten().enumerate() {
        let own: Vec<ir::Rule> = match items.states.get(i) {
            Some(s) if !derived_states => {
                let mut own_default = None;
                s.policies.iter().flat_map(|p| c.policy(p, &mut own_default)).collect()
            }
            _ => Vec::new(),
        };
        let replaced = (0..site_rules).filter(|&b| own.iter().any(|o| policy::same_selector(&o.kind, &rules[b].kind))).collect();
        let first = rules.len();
        rules.extend(own);
        site_states.push(ir::State {
            name: state.name,
            when_text: state.when_text,
            when: state.when,
            health: state.health,
            on_enter: state.on_enter,
            on_exit: state.on_exit,
            replaced,
            own: (first..rules.len()).collect(),
            routing: Vec::new(),
        });
    }
    // Forwards that overlap in the site's policy, or in a state's.
    let mut reported = std::collections::BTreeSet::new();
    c.overlapping_forwards(&rules, &uplinks, &(0..site_rules).collect::<Vec<_>>(), &mut reported);
    for state in site_states.iter().filter(|s| !s.own.is_empty()) {
        let policy: Vec<ir::RuleId> =
            (0..site_rules).filter(|r| !state.replaced.contains(r)).chain(state.own.iter().copied()).collect();
        c.overlapping_forwards(&rules, &uplinks, &policy, &mut reported);
    }
    // Every via is known once every state's own policy is read.
    for state in &mut site_states {
        state.routing = c.vias.iter().map(|via| states::route(via, &state.health, &uplinks)).collect();
    }
    if c.diags.has_errors() {
        return None;
    }
    let hosts = items
        .hosts
        .iter()
        .zip(&c.host_addrs)
        .filter_map(|((name, _), addr)| addr.map(|address| ir::Host { name: name.name.clone(), address }))
        .collect();
    let name = match items.site {
        Some((name, _)) => name.to_string(),
        None => default_site_name(sources),
    };
    let sources_list = (0..sources.len()).map(|f| sources.name(f).to_string()).collect();
    let vias = std::mem::take(&mut c.vias);
    let site = ir::Site {
        name,
        sources: sources_list,
        lans,
        hosts,
        uplinks,
        plugins,
        derived_states,
        rules,
        site_rules,
        vias,
        states: site_states,
    };
    Some(site)
}

/// Source text as one tidy line, for rule and condition texts: comments and
/// `\` line continuations dropped, whitespace runs made one space. Pest's
/// span of a rule with an optional tail can take in the whitespace and
/// comment after the rule's last token; this cuts them off. A `#` inside a
/// string is not a comment.
fn source_text(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len());
    let mut chars = snippet.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_string = !in_string;
                out.push(c);
            }
            '\\' if in_string => {
                out.push(c);
                out.extend(chars.next());
            }
            '#' if !in_string => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            '\\' if matches!(chars.peek(), Some('\n' | '\r')) => out.push(' '),
            _ => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Without a `site` line the site is named after its file.
fn default_site_name(sources: &SourceMap) -> String {
    let path = std::path::Path::new(sources.name(0));
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("site");
    let name: String = stem.chars().take(64).map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    if name.is_empty() {
        "site".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::source_text;

    #[test]
    fn source_text_drops_comments_and_continuations() {
        assert_eq!(source_text("route from 10.0.0.0/8 via a   # c2\n"), "route from 10.0.0.0/8 via a");
        assert_eq!(
            source_text("route to {\n  10.1.0.0/16, # one\n  10.2.0.0/16,\n} via b"),
            "route to { 10.1.0.0/16, 10.2.0.0/16, } via b"
        );
        assert_eq!(source_text("a && \\\n    b"), "a && b");
        assert_eq!(source_text("a && \\\r\n b # x"), "a && b");
        assert_eq!(source_text("to \"x # y\\\" # z\" # c"), "to \"x # y\\\" # z\"");
    }
}
