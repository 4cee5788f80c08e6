//! From the checks' verdicts to the site's health, and from a change of
//! health to what the agent does about it.

use crate::ir::{Healthy, Site};

/// An uplink's health from its checks' verdicts, when the known ones
/// decide it whatever the unknown ones (`None`) turn out to be.
pub fn uplink_healthy(rule: Healthy, verdicts: &[Option<bool>]) -> Option<bool> {
    let up = verdicts.iter().filter(|v| **v == Some(true)).count();
    let unknown = verdicts.iter().filter(|v| v.is_none()).count();
    let needed = match rule {
        Healthy::All => verdicts.len(),
        Healthy::Any => 1.min(verdicts.len()),
        Healthy::AtLeast(n) => n as usize,
    };
    match (up >= needed, up + unknown < needed) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// What is known of each uplink besides its checks' verdicts.
pub struct Knowledge<'a> {
    /// Whether the uplink can carry traffic at all: its link is up and it
    /// has learned what it needs. One that cannot is down whatever its
    /// checks say, at once.
    pub usable: &'a dyn Fn(usize) -> bool,
    /// Its checks' verdicts, in the order of its checks.
    pub verdicts: &'a dyn Fn(usize) -> Vec<Option<bool>>,
    /// The health last decided, if any.
    pub previous: Option<&'a [bool]>,
    /// After a reload, per uplink of the new policy, the health it had in
    /// the old one.
    pub carried: &'a [Option<bool>],
    /// A state is in force already (this is not the start).
    pub deciding: bool,
}

/// Every uplink's health, or `None` while it cannot be decided yet. Checks
/// still without a verdict (new ones, after a reload) hold up no decision
/// the others already make; otherwise the uplink keeps the health it had,
/// and an uplink new to the policy counts as down until its checks say.
/// Only at the start is every verdict waited for.
pub fn health(site: &Site, known: &Knowledge) -> Option<Vec<bool>> {
    let mut health = Vec::with_capacity(site.uplinks.len());
    for (u, up) in site.uplinks.iter().enumerate() {
        if !(known.usable)(u) {
            health.push(false);
            continue;
        }
        if up.checks.is_empty() {
            health.push(true);
            continue;
        }
        let healthy = uplink_healthy(up.healthy, &(known.verdicts)(u))
            .or_else(|| known.previous.and_then(|h| h.get(u).copied()))
            .or_else(|| known.carried.get(u).copied().flatten())
            .or_else(|| known.deciding.then_some(false))?;
        health.push(healthy);
    }
    Some(health)
}

/// One thing the agent does on a change of health, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// No state's condition holds: the state in force stays.
    NoState,
    /// A state is left: its `on exit` actions.
    Exit(usize),
    /// The state is put in place: newly `entered`, or again because the
    /// live health of members it leaves open moved (or the last apply
    /// failed).
    Apply { state: usize, entered: bool },
    /// A state is entered: its `on enter` actions.
    Enter(usize),
    /// An uplink's health changed: its `on up` or `on down` actions. They
    /// come after the new routes and marks are in place, so that a `flush
    /// states` cannot see connections re-marked for the uplink that just
    /// failed.
    Uplink { uplink: usize, up: bool },
}

/// What a new health does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The state in force afterwards.
    pub state: Option<usize>,
    /// Why, in words: the uplinks whose health moved, or all of them when
    /// the health is new (start, reload).
    pub reason: String,
    pub effects: Vec<Effect>,
}

/// The step from `previous` health (none at the start or after a reload)
/// in `current` state to `health`; `retry` when the last apply failed.
pub fn step(site: &Site, current: Option<usize>, previous: Option<&[bool]>, health: &[bool], retry: bool) -> Step {
    let changed: Vec<usize> = match previous {
        Some(prev) => (0..health.len()).filter(|&i| prev.get(i) != health.get(i)).collect(),
        None => Vec::new(),
    };
    let words = |i: usize| format!("{} {}", site.uplinks[i].name, if health[i] { "up" } else { "down" });
    let reason = match previous {
        Some(_) => changed.iter().map(|&i| words(i)).collect::<Vec<_>>().join(", "),
        None => format!("health {}", (0..health.len()).map(words).collect::<Vec<_>>().join(", ")),
    };
    let mut effects = Vec::new();
    let mut state = current;
    match site.state_for(&|u| health.get(u).copied().unwrap_or(false)) {
        None => effects.push(Effect::NoState),
        Some(next) if current != Some(next) => {
            effects.extend(current.map(Effect::Exit));
            effects.push(Effect::Apply { state: next, entered: true });
            effects.push(Effect::Enter(next));
            state = Some(next);
        }
        Some(next) if previous != Some(health) || retry => effects.push(Effect::Apply { state: next, entered: false }),
        Some(_) => {}
    }
    effects.extend(changed.into_iter().map(|uplink| Effect::Uplink { uplink, up: health[uplink] }));
    Step { state, reason, effects }
}

/// Whether a `flush states` of `target`, run for uplink `changed`'s health
/// change, may flush. Flushing the failed uplink's connections only helps
/// when another uplink can take them; with none healthy it would only cut
/// them. Another uplink's (failback, when this one comes up) go to this one.
pub fn may_flush(target: usize, changed: usize, health: &[bool]) -> bool {
    target != changed || health.iter().enumerate().any(|(j, h)| j != changed && *h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_rules() {
        let v = [Some(true), Some(false), None];
        assert_eq!(uplink_healthy(Healthy::All, &v), Some(false));
        assert_eq!(uplink_healthy(Healthy::Any, &v), Some(true));
        assert_eq!(uplink_healthy(Healthy::AtLeast(1), &v), Some(true));
        assert_eq!(uplink_healthy(Healthy::AtLeast(2), &v), None);
        assert_eq!(uplink_healthy(Healthy::All, &[]), Some(true));
        // Unknown verdicts leave open only what they could still change.
        let open = [Some(true), None];
        assert_eq!(uplink_healthy(Healthy::All, &open), None);
        assert_eq!(uplink_healthy(Healthy::Any, &open), Some(true));
        assert_eq!(uplink_healthy(Healthy::All, &[Some(false), None]), Some(false));
        assert_eq!(uplink_healthy(Healthy::AtLeast(2), &[Some(true), None, Some(false)]), None);
        assert_eq!(uplink_healthy(Healthy::AtLeast(3), &[Some(true), None, Some(false)]), Some(false));
    }
}
