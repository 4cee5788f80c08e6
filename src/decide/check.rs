//! A check's verdict from its rounds, with rise/fall hysteresis.

use super::Outcome;
use crate::ir::{Check, Probe};
use std::collections::VecDeque;

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
}

impl CheckState {
    pub fn new() -> CheckState {
        CheckState { verdict: None, consecutive_ok: 0, consecutive_fail: 0, last: VecDeque::new() }
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
        next
    }
}

impl Default for CheckState {
    fn default() -> Self {
        CheckState::new()
    }
}

/// A check in a few words, as logs, status and the simulation name it.
pub fn describe(check: &Check) -> String {
    match &check.probe {
        Probe::Ping { target } => format!("ping {target}"),
        Probe::Tcp { target, port } => format!("tcp {target}:{port}"),
        Probe::Http { url, .. } => format!("http {url}"),
        Probe::Dns { server, query } => format!("dns {server} {query}"),
        Probe::Plugin { plugin, .. } => format!("plugin {plugin}"),
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
}
