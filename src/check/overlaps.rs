//! Two `forward` rules for the same traffic (protocol, uplink address and
//! an overlapping port) in force together. Which one wins would depend on
//! the order each target writes and matches them in, so the targets could
//! send the traffic to different hosts: the site must say which one it means.

use super::Checker;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::ir::{self, RuleId, RuleKind};
use std::collections::BTreeSet;

impl Checker<'_, '_> {
    /// Reports each overlapping pair among `rules` once, however many
    /// policies (the site's, each state's) hold it.
    pub fn overlapping_forwards(
        &mut self,
        rules: &[ir::Rule],
        uplinks: &[ir::Uplink],
        policy: &[RuleId],
        reported: &mut BTreeSet<(RuleId, RuleId)>,
    ) {
        // Sorted by what a forward matches, then by its first port: an
        // overlap is with one of the forwards before it that reach this far.
        let mut forwards: Vec<(usize, ir::Address, u8, u16, u16, RuleId)> = policy
            .iter()
            .filter_map(|&r| match &rules[r].kind {
                RuleKind::Forward { proto, ports, on, at, .. } => {
                    Some(ports.iter().map(move |p| (*on, *at, *proto as u8, p.first, p.last, r)))
                }
                _ => None,
            })
            .flatten()
            .collect();
        forwards.sort_unstable();
        let mut open: Vec<(u16, RuleId)> = Vec::new();
        let mut key = None;
        for &(on, at, proto, first, last, r) in &forwards {
            if key != Some((on, at, proto)) {
                key = Some((on, at, proto));
                open.clear();
            }
            open.retain(|&(end, _)| end >= first);
            for &(_, other) in &open {
                if other != r && reported.insert((other.min(r), other.max(r))) {
                    // Sorted by first port: the overlap starts at this one's.
                    self.overlap(rules, uplinks, other.min(r), other.max(r), first);
                }
            }
            open.push((last, r));
        }
    }

    fn overlap(&mut self, rules: &[ir::Rule], uplinks: &[ir::Uplink], first: RuleId, second: RuleId, port: u16) {
        let (Some(&a), Some(&b)) = (self.rule_spans.get(first), self.rule_spans.get(second)) else { return };
        let RuleKind::Forward { proto, on, .. } = &rules[second].kind else { return };
        let uplink = uplinks.get(*on).map_or("?", |u| u.name.as_str());
        self.diags.push(
            Diagnostic::new(
                Code::OverlappingForwards,
                b,
                format!("two forwards take {} port {port} on `{uplink}`", proto.as_str()),
            )
            .label(format!("`{}`", rules[second].text))
            .with(a, format!("`{}` takes it too", rules[first].text))
            .help("forward each port to one host: pf would use the last of these rules and nftables the first"),
        );
    }
}
