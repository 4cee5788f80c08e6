//! The transitions of the state machine: for each state, each uplink and
//! each of its events (down, up), the state the agent selects once the
//! event has happened. Found by trying every health combination with the
//! agent's own choice (`Site::state_for`), so the diagram cannot disagree
//! with the router.
//!
//! A state may hold several healths (a derived `via_fibre` holds the cable
//! up and down), and then one event may lead to different states: the
//! edges then say under which health of the other uplinks each is taken
//! (`fibre down (cable up)`), exactly: one condition per cube of healths.

use crate::ir::{Site, UplinkId};
use std::collections::{BTreeMap, BTreeSet};

/// Up to this many uplinks the combinations (2^n of them) are tried; above
/// it the diagram shows the states only.
pub const MAX_UPLINKS: usize = 12;

/// Beyond this many conditions for one event and edge, the edge only says
/// in how many of the healths it is taken: a `count(…)` state would
/// otherwise list dozens of them.
pub const MAX_CONDITIONS: usize = 3;

/// An uplink going down or coming up, under a condition on the others.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Event {
    pub uplink: UplinkId,
    pub up: bool,
    pub given: Given,
}

/// When an event leads along an edge, as far as the other uplinks decide.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Given {
    /// Whatever their health.
    Any,
    /// While these uplinks have this health.
    Health(Vec<(UplinkId, bool)>),
    /// In `taken` of the `of` healths the state holds before the event,
    /// more than `MAX_CONDITIONS` conditions to say which.
    Share { taken: usize, of: usize },
}

/// Every event that moves the agent from `from` to `to` (parallel edges
/// merged), in uplink order, down before up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: usize,
    pub to: usize,
    pub events: Vec<Event>,
}

/// A health combination: bit u set when uplink u is up.
type Health = usize;

fn is_up(health: Health, uplink: UplinkId) -> bool {
    health >> uplink & 1 == 1
}

/// The transitions between the states, ordered by their ends; `None` when
/// the site has more than `MAX_UPLINKS` uplinks.
pub fn transitions(site: &Site) -> Option<Vec<Transition>> {
    let n = site.uplinks.len();
    if n > MAX_UPLINKS {
        return None;
    }
    let selected: Vec<Option<usize>> = (0..1usize << n).map(|h| site.state_for(&|u| is_up(h, u))).collect();
    // Per state and event, each health of the state before the event and
    // the state after it (none matching: the agent keeps its state).
    let mut outcomes: BTreeMap<(usize, UplinkId, bool), Vec<(Health, usize)>> = BTreeMap::new();
    for (health, from) in selected.iter().enumerate() {
        let Some(from) = *from else { continue };
        for uplink in 0..n {
            let after = health ^ 1 << uplink;
            let to = selected[after].unwrap_or(from);
            outcomes.entry((from, uplink, is_up(after, uplink))).or_default().push((health, to));
        }
    }
    let mut edges: BTreeMap<(usize, usize), BTreeSet<Event>> = BTreeMap::new();
    for ((from, uplink, up), cases) in outcomes {
        let targets: BTreeSet<usize> = cases.iter().map(|&(_, to)| to).collect();
        let domain: Vec<Health> = cases.iter().map(|&(h, _)| h).collect();
        for &to in targets.iter().filter(|&&to| to != from) {
            let events = edges.entry((from, to)).or_default();
            if targets.len() == 1 {
                events.insert(Event { uplink, up, given: Given::Any });
                continue;
            }
            let taken: Vec<Health> = cases.iter().filter(|&&(_, t)| t == to).map(|&(h, _)| h).collect();
            let others: Vec<UplinkId> = (0..n).filter(|&u| u != uplink).collect();
            let conditions = cubes(&taken, &domain, &others, Vec::new());
            if conditions.len() > MAX_CONDITIONS {
                events.insert(Event { uplink, up, given: Given::Share { taken: taken.len(), of: domain.len() } });
                continue;
            }
            for health in conditions {
                events.insert(Event { uplink, up, given: Given::Health(health) });
            }
        }
    }
    Some(edges.into_iter().map(|((from, to), events)| Transition { from, to, events: events.into_iter().collect() }).collect())
}

/// Conditions on the `free` uplinks that together pick out exactly `taken`
/// among `domain` (which holds it): the uplinks whose health `taken` fixes,
/// when `domain` has nothing else of that health; otherwise split on the
/// first uplink `taken` does not fix, and again in each half.
fn cubes(taken: &[Health], domain: &[Health], free: &[UplinkId], fixed: Vec<(UplinkId, bool)>) -> Vec<Vec<(UplinkId, bool)>> {
    let Some(&first) = taken.first() else { return Vec::new() };
    let (constant, varying): (Vec<UplinkId>, Vec<UplinkId>) =
        free.iter().partition(|&&u| taken.iter().all(|&h| is_up(h, u) == is_up(first, u)));
    let matches = |h: &Health| constant.iter().all(|&u| is_up(*h, u) == is_up(first, u));
    if domain.iter().filter(|h| matches(h)).count() == taken.len() {
        let mut cube: Vec<(UplinkId, bool)> = fixed.into_iter().chain(constant.iter().map(|&u| (u, is_up(first, u)))).collect();
        cube.sort_unstable();
        return vec![cube];
    }
    // Not exact, so some uplink varies in `taken` (were all fixed, `taken`
    // would be the one health of `domain` that matches).
    let Some((&split, rest)) = varying.split_first() else { return vec![fixed] };
    let remaining: Vec<UplinkId> = constant.iter().chain(rest).copied().collect();
    [true, false]
        .into_iter()
        .flat_map(|value| {
            let half = |hs: &[Health]| hs.iter().copied().filter(|&h| is_up(h, split) == value).collect::<Vec<_>>();
            let mut fixed = fixed.clone();
            fixed.push((split, value));
            cubes(&half(taken), &half(domain), &remaining, fixed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cubes_describe_exactly_what_is_taken() {
        // Uplinks 0 and 1, every health possible.
        let domain = [0b00, 0b01, 0b10, 0b11];
        assert_eq!(cubes(&[0b01, 0b11], &domain, &[0, 1], Vec::new()), vec![vec![(0, true)]]);
        assert_eq!(cubes(&domain, &domain, &[0, 1], Vec::new()), vec![Vec::new()]);
        // One up and the other down, either way: no single cube says it.
        assert_eq!(
            cubes(&[0b01, 0b10], &domain, &[0, 1], Vec::new()),
            vec![vec![(0, true), (1, false)], vec![(0, false), (1, true)]]
        );
        // Every health the case fixes is said, even one the domain alone
        // would imply: the reader need not work the domain out.
        assert_eq!(cubes(&[0b11], &[0b00, 0b11], &[0, 1], Vec::new()), vec![vec![(0, true), (1, true)]]);
    }
}
