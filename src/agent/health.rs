//! Verdicts: a check's with rise/fall hysteresis, an uplink's from its
//! checks by its `healthy when` rule.

use super::probe::Outcome;
use crate::ir::{Check, Healthy};
use std::collections::VecDeque;
use std::time::SystemTime;

/// How many recent results `wanc status` shows.
const HISTORY: usize = 8;

/// A check's memory: what carries over a reload when the check is unchanged.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CheckState {
    /// `None` until the first result: the first result decides at once, so
    /// the agent does not wait rise × every before routing anything.
    pub verdict: Option<bool>,
    pub consecutive_ok: u32,
    pub consecutive_fail: u32,
    pub last: VecDeque<Outcome>,
    #[serde(skip)]
    pub changed_at: Option<SystemTime>,
}

impl CheckState {
    pub fn new() -> CheckState {
        CheckState { verdict: None, consecutive_ok: 0, consecutive_fail: 0, last: VecDeque::new(), changed_at: None }
    }

    /// Records a result; returns the new verdict when it changed.
    pub fn record(&mut self, check: &Check, outcome: Outcome) -> Option<bool> {
        // Shown, but no sample: the router, not the uplink, failed it.
        if outcome.local {
            self.last.push_back(outcome);
            if self.last.len() > HISTORY {
                self.last.pop_front();
            }
            return None;
        }
        if outcome.ok {
            self.consecutive_ok += 1;
            self.consecutive_fail = 0;
        } else {
            self.consecutive_fail += 1;
            self.consecutive_ok = 0;
        }
        let ok = outcome.ok;
        self.last.push_back(outcome);
        if self.last.len() > HISTORY {
            self.last.pop_front();
        }
        let next = match self.verdict {
            None => Some(ok),
            Some(true) if self.consecutive_fail >= check.fall => Some(false),
            Some(false) if self.consecutive_ok >= check.rise => Some(true),
            _ => return None,
        };
        self.verdict = next;
        self.changed_at = Some(SystemTime::now());
        next
    }
}

impl Default for CheckState {
    fn default() -> Self {
        CheckState::new()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Probe, Target};

    fn check(rise: u32, fall: u32) -> Check {
        Check {
            probe: Probe::Ping { target: Target::Address("192.0.2.1".parse().unwrap()) },
            every_ms: 1000,
            timeout_ms: 100,
            count: 1,
            rise,
            fall,
            max_loss_percent: None,
            max_latency_ms: None,
        }
    }

    fn result(ok: bool) -> Outcome {
        Outcome { ok, detail: String::new(), rtt_ms: None, loss_percent: None, local: false }
    }

    #[test]
    fn hysteresis_needs_fall_failures_and_rise_successes() {
        let c = check(2, 3);
        let mut s = CheckState::new();
        assert_eq!(s.record(&c, result(true)), Some(true));
        assert_eq!(s.record(&c, result(false)), None);
        assert_eq!(s.record(&c, result(false)), None);
        assert_eq!(s.record(&c, result(true)), None);
        assert_eq!(s.record(&c, result(false)), None);
        assert_eq!(s.record(&c, result(false)), None);
        assert_eq!(s.record(&c, result(false)), Some(false));
        assert_eq!(s.record(&c, result(true)), None);
        assert_eq!(s.record(&c, result(true)), Some(true));
    }

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
