//! The scenario file of `wanc simulate`: a timed list of what happens to
//! the uplinks, one event per line (docs/simulate.md).
//!
//! ```text
//! end 2m                      # how long to run (default: the last event + 1m)
//! at 30s isp1 down            # isp1's probes go unanswered
//! at 30s isp1 check 2 down    # only its second check's
//! at 1m  isp1 loss 30%        # 30 % of its requests lost, spread evenly
//! at 1m  isp1 latency 250ms   # answers take 250 ms
//! at 90s isp1 carrier lost    # the link goes down (the kernel says so)
//! at 95s isp1 carrier back
//! at 2m  isp1 up              # answers again, no loss, usual latency
//! ```
//!
//! Read by hand rather than with a grammar: one line, five kinds of
//! words, and the errors name the line and say what was expected.

use crate::duration;

/// A parsed scenario; uplinks are still names (the site resolves them).
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// When the simulation stops, in ms; `None`: a minute after the last event.
    pub end_ms: Option<u64>,
    /// In time order (stable: lines at the same time keep theirs).
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub at_ms: u64,
    pub uplink: String,
    /// 1-based, as `check N` names it; `None`: all the uplink's checks.
    pub check: Option<usize>,
    pub change: Change,
    /// The line number, for messages about the event.
    pub line: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "change", content = "value")]
pub enum Change {
    /// Probes go unanswered.
    Down,
    /// Probes are answered again, with no loss and the usual latency.
    Up,
    /// This percentage of requests is lost.
    Loss(u32),
    /// Answers take this long, in ms.
    Latency(u64),
    CarrierLost,
    CarrierBack,
}

impl Change {
    pub fn words(self) -> String {
        match self {
            Change::Down => "probes unanswered".into(),
            Change::Up => "probes answered".into(),
            Change::Loss(p) => format!("{p}% loss"),
            Change::Latency(ms) => format!("latency {}", duration::format(ms)),
            Change::CarrierLost => "carrier lost".into(),
            Change::CarrierBack => "carrier back".into(),
        }
    }

    fn carrier(self) -> bool {
        matches!(self, Change::CarrierLost | Change::CarrierBack)
    }
}

/// Why a scenario cannot be read, or cannot run on a site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The scenario's line, when one is at fault.
    pub line: Option<usize>,
    pub message: String,
    pub help: Option<String>,
}

/// The longest virtual time a scenario may run: a day.
pub const LONGEST_MS: u64 = 24 * 3600 * 1000;

const EVENTS: &str = "`down`, `up`, `loss P%`, `latency D`, `carrier lost` or `carrier back`";

/// Every error of the file at once, or the scenario.
pub fn parse(text: &str) -> Result<Scenario, Vec<Error>> {
    let mut errors = Vec::new();
    let mut end_ms = None;
    let mut events = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let words: Vec<&str> = raw.split('#').next().unwrap_or("").split_whitespace().collect();
        let result = match words.as_slice() {
            [] => continue,
            ["end", d] => time(d).map(|ms| end_ms = Some(ms)),
            ["at", t, rest @ ..] => event(t, rest, line).map(|e| events.push(e)),
            [first, ..] => Err(format!("expected `at TIME UPLINK EVENT` or `end TIME`, found `{}`", printable(first))),
        };
        if let Err(message) = result {
            let help = message.contains("event").then(|| format!("an event is one of {EVENTS}"));
            errors.push(Error { line: Some(line), message, help });
        }
    }
    if let (Some(end), Some(last)) = (end_ms, events.iter().map(|e: &Event| e.at_ms).max()) {
        if last > end {
            errors.push(Error {
                line: events.iter().find(|e| e.at_ms == last).map(|e| e.line),
                message: format!("this event is at {}, after the end ({})", duration::format(last), duration::format(end)),
                help: Some("move the `end` line later, or the event earlier".into()),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    events.sort_by_key(|e| e.at_ms);
    Ok(Scenario { end_ms, events })
}

fn event(at: &str, rest: &[&str], line: usize) -> Result<Event, String> {
    let at_ms = time(at)?;
    let (uplink, rest) = rest.split_first().ok_or("expected an uplink's name after the time")?;
    let (check, rest) = match rest {
        ["check", n, rest @ ..] => match n.parse::<usize>() {
            Ok(n) if n >= 1 => (Some(n), rest),
            _ => return Err(format!("expected a check's number (1 for the uplink's first), found `{}`", printable(n))),
        },
        _ => (None, rest),
    };
    let change = match rest {
        ["down"] => Change::Down,
        ["up"] => Change::Up,
        ["loss", p] => Change::Loss(percent(p)?),
        ["latency", d] => Change::Latency(
            duration::parse(d).ok().ok_or_else(|| format!("expected a latency such as `250ms`, found `{}`", printable(d)))?,
        ),
        ["carrier", "lost"] => Change::CarrierLost,
        ["carrier", "back"] => Change::CarrierBack,
        [] => return Err("expected an event after the uplink".into()),
        words => return Err(format!("unknown event `{}`", printable(&words.join(" ")))),
    };
    if check.is_some() && change.carrier() {
        return Err("a carrier belongs to the uplink's link, not to one check: drop `check N`".into());
    }
    Ok(Event { at_ms, uplink: uplink.to_string(), check, change, line })
}

fn time(word: &str) -> Result<u64, String> {
    let ms = duration::parse(word)
        .ok()
        .ok_or_else(|| format!("expected a time such as `30s` or `2m`, found `{}`", printable(word)))?;
    if ms > LONGEST_MS {
        return Err(format!("`{}` is past the longest simulation, a day", printable(word)));
    }
    Ok(ms)
}

fn percent(word: &str) -> Result<u32, String> {
    match word.strip_suffix('%').unwrap_or(word).parse::<u32>() {
        Ok(p) if p <= 100 => Ok(p),
        _ => Err(format!("expected a loss from `0%` to `100%`, found `{}`", printable(word))),
    }
}

/// A word of the file as it may be shown: at most 40 characters, control
/// and bidi characters escaped, so a message cannot be made to lie.
fn printable(word: &str) -> String {
    let mut shown: String = word.chars().take(40).flat_map(char::escape_debug).collect();
    if word.chars().count() > 40 {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_end() {
        let s = parse("end 2m\nat 30s isp1 down # cut\nat 10s isp2 check 2 loss 30%\n\nat 1m isp1 carrier lost\n").unwrap();
        assert_eq!(s.end_ms, Some(120_000));
        let kinds: Vec<_> = s.events.iter().map(|e| (e.at_ms, e.uplink.as_str(), e.check, e.change)).collect();
        assert_eq!(
            kinds,
            [
                (10_000, "isp2", Some(2), Change::Loss(30)),
                (30_000, "isp1", None, Change::Down),
                (60_000, "isp1", None, Change::CarrierLost)
            ]
        );
    }

    #[test]
    fn every_error_at_once_with_its_line() {
        let errors = parse("at 5 isp1 down\nat 1s isp1 explode\nat 1s isp1 loss 120%\nwhen 3s\nat 1s isp1 check 0 down\nend 1s\nat 2s isp1 check 1 carrier lost\n")
            .unwrap_err();
        let lines: Vec<usize> = errors.iter().filter_map(|e| e.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5, 7]);
        assert!(errors[1].message.contains("unknown event `explode`"), "{errors:?}");
        assert!(errors[1].help.is_some());
    }

    #[test]
    fn hostile_words_are_shown_escaped_and_short() {
        let errors = parse(&format!("at 1s isp1 \u{202e}{}\n", "x".repeat(100))).unwrap_err();
        assert!(!errors[0].message.contains('\u{202e}'));
        assert!(errors[0].message.contains('…'));
    }
}
