//! The timeline in words, one moment per line (`wanc simulate`'s default).

use super::{Entry, Timeline, What};
use std::fmt::Write;

/// The timeline as text; `scenario` names the file in the heading. Each
/// round's outcome only with `rounds`: the verdicts that changed say enough
/// in most cases.
pub fn text(timeline: &Timeline, scenario: &str, rounds: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "site `{}`, scenario `{}`: 0s to {}",
        timeline.site,
        scenario.escape_debug(),
        crate::duration::format(timeline.end_ms)
    );
    for entry in timeline.entries.iter().filter(|e| rounds || !matches!(e.what, What::Round { .. })) {
        // What follows from the line above carries no time of its own.
        let at = if matches!(entry.what, What::Rule { .. } | What::Action { .. } | What::Flush { .. }) {
            String::new()
        } else {
            seconds(entry.at_ms)
        };
        let _ = writeln!(out, "{at:>10}  {}", words(entry));
    }
    out
}

/// `12.345s`.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// Indented under the moment when it belongs to the line above.
fn words(entry: &Entry) -> String {
    let indent = " ".repeat(4);
    match &entry.what {
        What::Event { uplink, check: None, change } => format!("event: {uplink} {change}"),
        What::Event { uplink, check: Some(n), change } => format!("event: {uplink} check {n} {change}"),
        What::Round { uplink, check, ok, detail } => format!("round {uplink} check {check}: {} ({detail})", up(*ok)),
        What::Check { uplink, check, probe, up: ok, detail } => format!("check {uplink} {check} ({probe}) {}: {detail}", up(*ok)),
        What::Uplink { uplink, up: ok } => format!("uplink {uplink} {}", up(*ok)),
        What::State { from: None, to, reason } => format!("state {to} ({reason})"),
        What::State { from: Some(from), to, reason } => format!("state {from} → {to} ({reason})"),
        What::Refresh { state, reason } => format!("state {state} stays, its open members move ({reason})"),
        What::NoState { reason } => format!("no state matches ({reason}): the state in force stays"),
        What::Rule { rule, from: None, to } => format!("{indent}{rule}  → {to}"),
        What::Rule { rule, from: Some(from), to } => format!("{indent}{rule}  {from} → {to}"),
        What::Action { on, action } => format!("{indent}on {on}: {action}"),
        What::Flush { on, uplink, flushed: true } => {
            format!("{indent}on {on}: flush states of {uplink}: its connections are cut and start again by the uplinks in force")
        }
        What::Flush { on, uplink, flushed: false } => {
            format!("{indent}on {on}: flush states of {uplink}: not flushed, no other uplink is healthy")
        }
    }
}

fn up(ok: bool) -> &'static str {
    if ok {
        "up"
    } else {
        "down"
    }
}
