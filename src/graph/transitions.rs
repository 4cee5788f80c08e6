//! The transitions of the state machine: for each state, each uplink and
//! each of its events (down, up), the state the agent selects once the
//! event has happened. Found by trying every health combination, with the
//! agent's own choice (`Site::state_for`), so the diagram cannot disagree
//! with the router.

use crate::ir::{Site, UplinkId};
use std::collections::{BTreeMap, BTreeSet};

/// Up to this many uplinks the combinations (2^n of them) are tried; above
/// it the diagram shows the states only.
pub const MAX_UPLINKS: usize = 12;

/// An uplink going down or coming up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Event {
    pub uplink: UplinkId,
    pub up: bool,
}

/// Every event that moves the agent from `from` to `to` (parallel edges
/// merged), in uplink order, down before up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: usize,
    pub to: usize,
    pub events: Vec<Event>,
}

/// The transitions between the states, ordered by their ends; `None` when
/// the site has more than `MAX_UPLINKS` uplinks.
pub fn transitions(site: &Site) -> Option<Vec<Transition>> {
    let n = site.uplinks.len();
    if n > MAX_UPLINKS {
        return None;
    }
    // Bit u of a combination: uplink u is up.
    let selected: Vec<Option<usize>> = (0..1usize << n).map(|health| site.state_for(&|u| health >> u & 1 == 1)).collect();
    let mut edges: BTreeMap<(usize, usize), BTreeSet<Event>> = BTreeMap::new();
    for (health, from) in selected.iter().enumerate() {
        let Some(from) = *from else { continue };
        for uplink in 0..n {
            let flipped = health ^ 1 << uplink;
            // No state matching: the agent keeps its state, so no edge.
            let Some(to) = selected[flipped] else { continue };
            if to != from {
                let up = flipped >> uplink & 1 == 1;
                edges.entry((from, to)).or_default().insert(Event { uplink, up });
            }
        }
    }
    Some(edges.into_iter().map(|((from, to), events)| Transition { from, to, events: events.into_iter().collect() }).collect())
}
