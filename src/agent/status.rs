//! The control socket's answers, one struct family shared by the agent,
//! which fills them in, and `wanc status`/`wanc reload`, which decode and
//! print them. The field names are the `--json` output's.

use crate::decide::Outcome;
use serde::{Deserialize, Serialize};

/// Every reply: `{"ok": true, …the answer's fields}` or
/// `{"ok": false, "error": "…"}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply<T> {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten)]
    pub answer: Option<T>,
}

impl<T> Reply<T> {
    pub fn new(result: Result<T, String>) -> Reply<T> {
        match result {
            Ok(answer) => Reply { ok: true, error: None, answer: Some(answer) },
            Err(error) => Reply { ok: false, error: Some(error), answer: None },
        }
    }

    /// The answer, or why the agent refused.
    pub fn into_result(self) -> Result<T, String> {
        match (self.ok, self.answer) {
            (true, Some(answer)) => Ok(answer),
            (true, None) => Err("the agent's reply has no answer".into()),
            (false, _) => Err(self.error.unwrap_or_else(|| "no reason given".into())),
        }
    }
}

/// What the agent answers, whichever the request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Status(Status),
    Reloaded(Reloaded),
}

/// The answer to `status`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Status {
    pub site: String,
    /// The policy file running.
    pub policy: String,
    /// `None` until every uplink has a verdict.
    pub state: Option<String>,
    /// When the state was entered, in seconds since the Unix epoch.
    pub since: u64,
    pub uptime_s: u64,
    pub uplinks: Vec<UplinkStatus>,
    /// The last state changes, oldest first.
    #[serde(default)]
    pub transitions: Vec<Transition>,
}

/// A state change and what caused it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Transition {
    /// When, in seconds since the Unix epoch.
    pub at: u64,
    /// `None` for the first state.
    pub from: Option<String>,
    pub to: String,
    /// The uplinks whose health moved, such as `isp1 down`; after a start
    /// or reload, every uplink's health.
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct UplinkStatus {
    pub name: String,
    pub interface: String,
    /// `None` until every uplink has a verdict.
    pub healthy: Option<bool>,
    /// What its health follows: its link, or its `healthy when` rule.
    pub why: String,
    pub checks: Vec<CheckStatus>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CheckStatus {
    /// The check in words, such as `ping 198.51.100.100`.
    pub check: String,
    /// `None` until its first result.
    pub verdict: Option<Verdict>,
    pub consecutive_ok: u32,
    pub consecutive_fail: u32,
    pub rise: u32,
    pub fall: u32,
    /// The most recent results, oldest first.
    pub last: Vec<Outcome>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Up,
    Down,
}

impl Verdict {
    pub fn of(up: bool) -> Verdict {
        if up {
            Verdict::Up
        } else {
            Verdict::Down
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Up => "up",
            Verdict::Down => "down",
        }
    }
}

/// The answer to `reload` when the new policy runs.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reloaded {
    pub site: String,
    /// Checks whose definition did not change: they keep their history.
    pub checks_kept: usize,
    pub checks_started: usize,
    pub state: Option<String>,
    pub reload_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reloaded() -> Reloaded {
        Reloaded { site: "office".into(), checks_kept: 2, checks_started: 1, state: None, reload_us: 7 }
    }

    #[test]
    fn replies_carry_ok_and_the_answer_flat() {
        let line = serde_json::to_string(&Reply::new(Ok(Answer::Reloaded(reloaded())))).expect("serializes");
        assert_eq!(line, r#"{"ok":true,"site":"office","checks_kept":2,"checks_started":1,"state":null,"reload_us":7}"#);
        let back: Reply<Reloaded> = serde_json::from_str(&line).expect("decodes");
        assert_eq!(back.into_result().expect("ok").checks_kept, 2);
    }

    #[test]
    fn refusals_carry_the_reason() {
        let line = serde_json::to_string(&Reply::<Answer>::new(Err("bad checksum".into()))).expect("serializes");
        assert_eq!(line, r#"{"ok":false,"error":"bad checksum"}"#);
        let back: Reply<Status> = serde_json::from_str(&line).expect("decodes");
        assert_eq!(back.into_result().err().as_deref(), Some("bad checksum"));
    }
}
