//! OpenBSD numbers: a check as ifstated(8) runs it, with the tools it runs
//! counting in whole seconds, and how long one round can take there.
//!
//! ifstated runs an external test every N whole seconds and kills it
//! (SIGKILL) if it is still running when the next run is due
//! (`external_exec` in ifstated.c): the test then reports nothing and the
//! uplink's health freezes. So a round must end within the period as
//! ifstated has it, which the language's `count × timeout < every`
//! (E0501) does not ensure:
//!
//! - ping(8) (sbin/ping/ping.c) sends a request every `-i` seconds and,
//!   `-i` after the last one, waits `-w` whole seconds when no reply came,
//!   or twice the slowest round trip in whole seconds (at least one) when
//!   some did; it stops at once when every reply is in. wanc gives `-i` the
//!   timeout, so that each request has its timeout before the next, as the
//!   agent's probes do, and `-w` the timeout rounded up.
//! - nc(1) `-w` and dig(1) `+time=` take whole seconds: an attempt lasts
//!   up to the timeout rounded up; `wanc probe` takes milliseconds.

use crate::ir::{Check, Probe};

/// A check as ifstated runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// ifstated's `every N`: the period in whole seconds, rounded up.
    pub every_s: u64,
    /// One attempt's (or ping request's) timeout, in milliseconds: for
    /// probes that cannot measure latency, at most the latency threshold,
    /// since a slower answer must fail.
    pub timeout_ms: u64,
    /// The timeout in whole seconds, rounded up: ping's `-w`, nc's `-w`,
    /// dig's `+time`.
    pub timeout_s: u64,
    /// The longest one round can take, in milliseconds.
    pub round_ms: u64,
}

impl Timing {
    /// Whether a round can still be running when ifstated runs the test
    /// again, which kills it.
    pub fn overlaps(&self) -> bool {
        self.round_ms >= self.every_s.saturating_mul(1000)
    }
}

/// Whole seconds, rounded up, at least one.
pub fn secs(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

pub fn timing(check: &Check) -> Timing {
    let count = u64::from(check.count.max(1));
    let timeout_ms = match check.probe {
        // ping measures latency itself (its summary's average).
        Probe::Ping { .. } => check.timeout_ms,
        _ => check.max_latency_ms.map_or(check.timeout_ms, |l| l.min(check.timeout_ms)),
    };
    let timeout_s = secs(timeout_ms);
    let round_ms = match check.probe {
        Probe::Ping { .. } => {
            // After the last request's `-i`: `-w` with no reply; with some
            // (only possible with several requests), twice the slowest
            // round trip, here at most the timeout.
            let tail_s = if count == 1 { timeout_s } else { timeout_s.max(2 * timeout_ms / 1000).max(1) };
            count.saturating_mul(timeout_ms).saturating_add(tail_s.saturating_mul(1000))
        }
        Probe::Plugin { .. } => count.saturating_mul(timeout_ms),
        Probe::Tcp { .. } | Probe::Http { .. } | Probe::Dns { .. } => count.saturating_mul(timeout_s.saturating_mul(1000)),
    };
    Timing { every_s: secs(check.every_ms), timeout_ms, timeout_s, round_ms }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Target;

    fn ping(every_ms: u64, timeout_ms: u64, count: u32) -> Check {
        Check {
            probe: Probe::Ping { target: Target::Address("192.0.2.1".parse().expect("address")) },
            every_ms,
            timeout_ms,
            count,
            rise: 2,
            fall: 3,
            max_loss_percent: None,
            max_latency_ms: None,
        }
    }

    #[test]
    fn ping_rounds_as_openbsd_ping_takes_them() {
        // 5 requests 500 ms apart, then 1 s: 3.5 s, not 2.5 s.
        let t = timing(&ping(3_000, 500, 5));
        assert_eq!((t.round_ms, t.timeout_s, t.every_s), (3_500, 1, 3));
        assert!(t.overlaps());
        // One request: its second, then `-w 1`.
        assert_eq!(timing(&ping(10_000, 1_000, 1)).round_ms, 2_000);
        // Several of 3 s: 9 s, then up to twice a 3 s round trip.
        assert_eq!(timing(&ping(60_000, 3_000, 3)).round_ms, 15_000);
        // ifstated's period is whole seconds: 2.5 s runs every 3 s.
        assert!(!timing(&ping(2_500, 500, 1)).overlaps());
        // `-w` is a whole second at least.
        assert!(timing(&ping(1_000, 500, 1)).overlaps());
    }

    #[test]
    fn whole_second_tools_round_the_timeout_up() {
        let mut check = ping(2_000, 1_500, 1);
        check.probe = Probe::Dns { server: "192.0.2.53".parse().expect("address"), query: ".".into() };
        assert_eq!(timing(&check).round_ms, 2_000);
        assert!(timing(&check).overlaps());
        check.max_latency_ms = Some(200);
        assert_eq!((timing(&check).timeout_ms, timing(&check).round_ms), (200, 1_000));
    }
}
