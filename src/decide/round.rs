//! One round of a check: what it found, and how long it may take.

use crate::ir::Check;
use std::ops::Add;
use std::time::Duration;

/// What one round found.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub ok: bool,
    /// Why, in a few words: "3/3 replies", "connection refused", …
    pub detail: String,
    pub rtt_ms: Option<f64>,
    pub loss_percent: Option<f64>,
    /// The probe could not be made on this router (it is short of
    /// descriptors or memory): it says nothing of the uplink, and the
    /// check's counters leave it out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local: bool,
}

/// How a probe's error begins when the router itself is short of
/// descriptors or memory; `Outcome::fail` marks such an outcome local.
pub const SHORTAGE: &str = "the router is short of";

impl Outcome {
    pub fn fail(detail: impl Into<String>) -> Outcome {
        let detail = detail.into();
        Outcome { ok: false, local: detail.starts_with(SHORTAGE), detail, rtt_ms: None, loss_percent: None }
    }

    /// A round that got its one answer after `rtt`: `ok` is whether the
    /// answer was the one wanted (a status, a DNS rcode, a connection).
    pub fn answered(ok: bool, detail: impl Into<String>, rtt: Duration) -> Outcome {
        Outcome { ok, detail: detail.into(), rtt_ms: Some(ms(rtt)), loss_percent: None, local: false }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A ping round's verdict from the round trips of the replies that came
/// back of the `count` requests: up when some came back and the loss and
/// latency thresholds hold. `error` is why requests could not be sent.
pub fn ping_outcome(check: &Check, rtts: &[Duration], error: Option<&str>) -> Outcome {
    let sent = check.count.max(1);
    let loss = 100.0 * (sent as usize).saturating_sub(rtts.len()) as f64 / f64::from(sent);
    let rtt = (!rtts.is_empty()).then(|| rtts.iter().map(|d| ms(*d)).sum::<f64>() / rtts.len() as f64);
    let within_loss = match check.max_loss_percent {
        Some(max) => loss < max,
        None => !rtts.is_empty(),
    };
    let within_latency = match (check.max_latency_ms, rtt) {
        (Some(max), Some(r)) => r < max as f64,
        _ => true,
    };
    let mut detail = format!("{}/{} replies", rtts.len(), sent);
    if let Some(r) = rtt {
        detail.push_str(&format!(", {r:.1} ms"));
    }
    if let (true, Some(e)) = (rtts.is_empty(), error) {
        detail = e.to_string();
    }
    Outcome { ok: within_loss && within_latency && !rtts.is_empty(), detail, rtt_ms: rtt, loss_percent: Some(loss), local: false }
}

/// A round's outcome held to the check's `latency <` threshold, for the
/// probes that make one attempt (tcp, http, dns, plugins: their round trip,
/// or the plugin's measurement); a ping round's outcome has been held to it
/// already (`ping_outcome`), and passes unchanged.
pub fn within_latency(check: &Check, outcome: Outcome) -> Outcome {
    match (check.max_latency_ms, outcome.rtt_ms) {
        (Some(max), Some(rtt)) if outcome.ok && rtt >= max as f64 => {
            Outcome { ok: false, detail: format!("{}, slower than {}", outcome.detail, crate::duration::format(max)), ..outcome }
        }
        _ => outcome,
    }
}

/// When a round that starts at `now` is overdue; generic over the clock, so
/// that the agent runs it on `Instant`s and the simulation on virtual time.
pub enum Deadline<T> {
    At(T),
    /// Lost before it starts: the detection time has passed already.
    Passed,
}

/// A round is overdue when the next round is due (`next`), and, like BFD's
/// detection timer, when the last good round is `fall × every` old: the
/// round that would be the `fall`-th lost in a row gets as long as the last
/// good one took, and as much again (at least a millisecond) for jitter;
/// when it starts late (a busy host) and that moment has passed, it is lost
/// at once. Not with `fall 1`: there the next round after a good one would
/// be held to its round trip, and a slower reply would be a loss.
/// `last_good` is when the last good round ended and how long it took,
/// `lost` the rounds lost since.
pub fn round_deadline<T>(check: &Check, now: T, next: T, last_good: Option<(T, Duration)>, lost: u32) -> Deadline<T>
where
    T: Copy + Ord + Add<Duration, Output = T>,
{
    let fall = check.fall;
    let every = Duration::from_millis(check.every_ms);
    match last_good {
        Some((good, took)) if fall >= 2 && lost + 1 == fall => {
            // A week's interval times a large `fall` (hand-made policies
            // only) would overflow the clock: then there is no such timer.
            let Some(span) = every.checked_mul(fall).and_then(|d| d.checked_add(took.max(Duration::from_millis(1)))) else {
                return Deadline::At(next);
            };
            let detection = good + span;
            if detection <= now {
                Deadline::Passed
            } else {
                Deadline::At(next.min(detection))
            }
        }
        _ => Deadline::At(next),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Probe, Target};

    fn check(count: u32, loss: Option<f64>) -> Check {
        Check {
            probe: Probe::Ping { target: Target::Address("192.0.2.1".parse().unwrap()) },
            every_ms: 1000,
            timeout_ms: 100,
            count,
            rise: 2,
            fall: 3,
            max_loss_percent: loss,
            max_latency_ms: Some(50),
        }
    }

    #[test]
    fn ping_rounds_weigh_loss_latency_and_send_errors() {
        let ms = Duration::from_millis;
        let two_of_three = ping_outcome(&check(3, Some(50.0)), &[ms(10), ms(20)], None);
        assert!(two_of_three.ok);
        assert_eq!(two_of_three.detail, "2/3 replies, 15.0 ms");
        assert!(!ping_outcome(&check(3, Some(30.0)), &[ms(10), ms(20)], None).ok, "33% loss is not < 30%");
        assert!(!ping_outcome(&check(1, None), &[ms(60)], None).ok, "60 ms is not < 50 ms");
        let unsent = ping_outcome(&check(1, None), &[], Some("cannot send: Network is unreachable"));
        assert_eq!((unsent.ok, unsent.detail.as_str()), (false, "cannot send: Network is unreachable"));
    }

    #[test]
    fn one_attempt_rounds_are_held_to_the_latency_threshold() {
        let c = check(1, None); // latency < 50ms
        let slow = within_latency(&c, Outcome::answered(true, "status 200", Duration::from_millis(80)));
        assert_eq!((slow.ok, slow.detail.as_str()), (false, "status 200, slower than 50ms"));
        assert!(within_latency(&c, Outcome::answered(true, "connected", Duration::from_millis(20))).ok);
        let refused = Outcome::fail("connection refused");
        assert_eq!(within_latency(&c, refused.clone()), refused);
    }

    #[test]
    fn the_fall_th_lost_round_is_held_to_the_detection_time() {
        let c = check(1, None); // every 1s, fall 3
        let ms = Duration::from_millis;
        let at = |d: Deadline<Duration>| match d {
            Deadline::At(t) => Some(t),
            Deadline::Passed => None,
        };
        // The good round 0 ended at 20 ms after 20 ms; rounds 1 and 2 were
        // lost: round 3 (at 3 s) is overdue at 3 s + 40 ms, before round 4.
        assert_eq!(at(round_deadline(&c, ms(3000), ms(4000), Some((ms(20), ms(20))), 2)), Some(ms(3040)));
        // With one lost, the next round bounds it.
        assert_eq!(at(round_deadline(&c, ms(2000), ms(3000), Some((ms(20), ms(20))), 1)), Some(ms(3000)));
        // Started late, past the detection time: lost at once.
        assert_eq!(at(round_deadline(&c, ms(3100), ms(4100), Some((ms(20), ms(20))), 2)), None);
    }
}
