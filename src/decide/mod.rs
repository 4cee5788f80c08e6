//! The agent's decisions, as functions of what it has seen and nothing
//! else: a round's outcome from its replies, a check's verdict with
//! rise/fall, an uplink's health by its `healthy when` rule, the site's
//! health, and what a change of health does (states left and entered,
//! applied, uplink actions, flushes), in the order it does it.
//!
//! The agent runs these on real time and real probes; `wanc simulate` runs
//! the same functions on virtual time and scripted probes, so what the
//! simulation shows is what the agent would decide, not a model of it.
//! Nothing here reads a clock, the kernel or a file.

mod check;
mod round;
mod step;

pub use check::{describe, CheckState};
pub use round::{ping_outcome, round_deadline, within_latency, Deadline, Outcome, SHORTAGE};
pub use step::{health, may_flush, step, uplink_healthy, Effect, Knowledge, Step};
