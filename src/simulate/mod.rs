//! `wanc simulate SITE.wan SCENARIO`: what the agent would do, on virtual
//! time, when the scenario's events happen to the uplinks.
//!
//! Every check runs its rounds on the agent's schedule (round `n` at
//! `n × every`, overdue at its timeout, at the next round or at the
//! detection time: `decide::round_deadline`), with `count` requests one
//! after the other; the scenario decides which are answered and how fast.
//! The outcome of a round (`decide::ping_outcome` with its loss and
//! latency thresholds), the check's verdict (`decide::CheckState`: rise,
//! fall), the uplink's health (`healthy when`), the site's health and the
//! state (`decide::health`, `decide::step`), and whether a `flush states`
//! flushes (`decide::may_flush`) are the agent's own functions, so the
//! timeline is what the agent would decide. What is the scenario's: a
//! round sees the conditions at its start; an answer takes the scenario's
//! latency (10 ms unless it says otherwise); a lost request is lost after
//! the timeout, or at once while the carrier is lost (the kernel refuses to
//! send); a loss of P % loses requests evenly spread (the k-th request of a
//! check since the loss began is lost when ⌊k·P/100⌋ grows), so a run is
//! the same every time.

mod scenario;
mod text;

pub use scenario::{parse, Change, Error, Scenario, LONGEST_MS};
pub use text::text;

use crate::decide::{self, CheckState, Deadline, Effect, Outcome};
use crate::inspect::describe;
use crate::ir::{Action, Check, Health, Member, Probe, Routing, Site};
use crate::lower::effective;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// How long an answer takes unless the scenario says otherwise.
const USUAL_LATENCY_MS: u64 = 10;
/// The most rounds one simulation runs (all checks together): a bound on
/// its time and memory whatever the scenario and the site.
pub const MOST_ROUNDS: u64 = 2_000_000;
/// After the last event, when the scenario has no `end`.
const AFTER_LAST_MS: u64 = 60_000;

/// What happened, in time order.
#[derive(Debug, Serialize)]
pub struct Timeline {
    pub site: String,
    pub end_ms: u64,
    pub entries: Vec<Entry>,
    /// Each decision of the site's health and state, for tools (and the
    /// property test): in `entries` they are told in words.
    pub decisions: Vec<Decision>,
}

#[derive(Debug, Serialize)]
pub struct Entry {
    pub at_ms: u64,
    #[serde(flatten)]
    pub what: What,
}

#[derive(Debug, Serialize)]
pub struct Decision {
    pub at_ms: u64,
    /// Per uplink, in the site's order.
    pub health: Vec<bool>,
    /// The state in force afterwards, by index.
    pub state: Option<usize>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// A line of the scenario.
    Event {
        uplink: String,
        check: Option<usize>,
        change: String,
    },
    /// A round ended (JSON only: the text shows verdicts).
    Round {
        uplink: String,
        check: usize,
        ok: bool,
        detail: String,
    },
    /// A check's verdict changed (`check` is 1-based).
    Check {
        uplink: String,
        check: usize,
        probe: String,
        up: bool,
        detail: String,
    },
    Uplink {
        uplink: String,
        up: bool,
    },
    /// A state entered (`from` is `None` at the start).
    State {
        from: Option<String>,
        to: String,
        reason: String,
    },
    /// The state in force stays, and members it leaves open move with
    /// live health (shown when a rule moved).
    Refresh {
        state: String,
        reason: String,
    },
    /// No state's condition holds: the one in force stays.
    NoState {
        reason: String,
    },
    /// A rule's routing in force now, when it is new or moved.
    Rule {
        rule: String,
        from: Option<String>,
        to: String,
    },
    /// An action run: `on` says which (`state noisp1 enter`, `uplink isp1 down`).
    Action {
        on: String,
        action: String,
    },
    /// A `flush states` of an uplink: the connections through it are cut
    /// (`flushed`), or kept because no other uplink could take them.
    Flush {
        on: String,
        uplink: String,
        flushed: bool,
    },
}

/// What the scenario has done to one check so far.
#[derive(Clone, Copy)]
struct Conditions {
    answered: bool,
    loss: u32,
    latency_ms: u64,
    /// Requests sent since the loss began (for spreading the losses).
    requests: u64,
}

struct Running<'a> {
    uplink: usize,
    /// 1-based, as the scenario names it.
    number: usize,
    check: &'a Check,
    verdict: CheckState,
    conditions: Conditions,
    next: Duration,
    last_good: Option<(Duration, Duration)>,
    lost: u32,
    /// The round under way: when it started and what it will find.
    pending: Option<(Duration, Outcome)>,
}

/// What the queue holds; at one moment, scenario events come first, then
/// rounds that end, then rounds that start (so a round due when another
/// is overdue starts after it ended, as in the agent).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Event(usize),
    RoundEnd(usize),
    RoundStart(usize),
}

/// Runs `scenario` on `site`; refused with every reason at once.
pub fn run(site: &Site, scenario: &Scenario) -> Result<Timeline, Vec<Error>> {
    let events = resolve(site, scenario)?;
    let end_ms = scenario.end_ms.unwrap_or_else(|| scenario.events.last().map_or(0, |e| e.at_ms) + AFTER_LAST_MS);
    let rounds: u64 = site.uplinks.iter().flat_map(|u| &u.checks).map(|c| end_ms / c.every_ms.max(1) + 1).sum();
    if rounds > MOST_ROUNDS {
        return Err(vec![Error {
            line: None,
            message: format!("the simulation would run {rounds} rounds, more than {MOST_ROUNDS}"),
            help: Some("give the scenario an earlier `end`".into()),
        }]);
    }
    let mut sim = Simulation::new(site);
    let mut queue = BinaryHeap::new();
    for (i, event) in scenario.events.iter().enumerate() {
        queue.push(Reverse((Duration::from_millis(event.at_ms), Due::Event(i))));
    }
    for i in 0..sim.checks.len() {
        queue.push(Reverse((Duration::ZERO, Due::RoundStart(i))));
    }
    let end = Duration::from_millis(end_ms);
    while let Some(Reverse((now, due))) = queue.pop() {
        if now > end {
            break;
        }
        sim.now = now;
        match due {
            Due::Event(i) => sim.event(&scenario.events[i], &events[i]),
            Due::RoundStart(i) => {
                let ends = sim.start_round(i);
                queue.push(Reverse((ends, Due::RoundEnd(i))));
                queue.push(Reverse((sim.checks[i].next, Due::RoundStart(i))));
            }
            Due::RoundEnd(i) => sim.end_round(i),
        }
    }
    Ok(Timeline { site: site.name.clone(), end_ms, entries: sim.entries, decisions: sim.decisions })
}

/// Per event, the checks (indices into `Simulation::checks`) it touches
/// and its uplink; refused when the site has no such uplink or check.
fn resolve(site: &Site, scenario: &Scenario) -> Result<Vec<(usize, Vec<usize>)>, Vec<Error>> {
    // Index of each uplink's first check in the flat list.
    let mut offset = 0;
    let offsets: Vec<usize> = site
        .uplinks
        .iter()
        .map(|u| {
            let o = offset;
            offset += u.checks.len();
            o
        })
        .collect();
    let (resolved, refused): (Vec<_>, Vec<_>) = scenario
        .events
        .iter()
        .map(|e| {
            let Some(u) = site.uplinks.iter().position(|up| up.name == e.uplink) else {
                let names: Vec<&str> = site.uplinks.iter().map(|u| u.name.as_str()).collect();
                return Err(Error {
                    line: Some(e.line),
                    message: format!("site `{}` has no uplink `{}`", site.name, e.uplink.escape_debug()),
                    help: Some(format!("its uplinks are {}", names.join(", "))),
                });
            };
            let count = site.uplinks[u].checks.len();
            let checks: Vec<usize> = match e.check {
                None => (0..count).map(|c| offsets[u] + c).collect(),
                Some(n) if n <= count => vec![offsets[u] + n - 1],
                Some(n) => {
                    return Err(Error {
                        line: Some(e.line),
                        message: format!("uplink `{}` has no check {n}", e.uplink),
                        help: Some(format!(
                            "it has {count} check{}, numbered from 1 in the order written",
                            if count == 1 { "" } else { "s" }
                        )),
                    })
                }
            };
            Ok((u, checks))
        })
        .partition(Result::is_ok);
    match refused.is_empty() {
        true => Ok(resolved.into_iter().flatten().collect()),
        false => Err(refused.into_iter().filter_map(Result::err).collect()),
    }
}

struct Simulation<'a> {
    site: &'a Site,
    now: Duration,
    checks: Vec<Running<'a>>,
    carrier: Vec<bool>,
    health: Option<Vec<bool>>,
    state: Option<usize>,
    /// Per rule, its routing in words as last shown.
    routes: Vec<Option<String>>,
    entries: Vec<Entry>,
    decisions: Vec<Decision>,
}

impl<'a> Simulation<'a> {
    fn new(site: &'a Site) -> Simulation<'a> {
        let fresh = Conditions { answered: true, loss: 0, latency_ms: USUAL_LATENCY_MS, requests: 0 };
        let checks = site
            .uplinks
            .iter()
            .enumerate()
            .flat_map(|(u, up)| {
                up.checks.iter().enumerate().map(move |(c, check)| Running {
                    uplink: u,
                    number: c + 1,
                    check,
                    verdict: CheckState::new(),
                    conditions: fresh,
                    next: Duration::ZERO,
                    last_good: None,
                    lost: 0,
                    pending: None,
                })
            })
            .collect();
        Simulation {
            site,
            now: Duration::ZERO,
            checks,
            carrier: vec![true; site.uplinks.len()],
            health: None,
            state: None,
            routes: vec![None; site.rules.len()],
            entries: Vec::new(),
            decisions: Vec::new(),
        }
    }

    fn note(&mut self, what: What) {
        self.entries.push(Entry { at_ms: self.now.as_millis() as u64, what });
    }

    fn event(&mut self, event: &scenario::Event, (uplink, checks): &(usize, Vec<usize>)) {
        self.note(What::Event { uplink: event.uplink.clone(), check: event.check, change: event.change.words() });
        match event.change {
            Change::CarrierLost | Change::CarrierBack => {
                // The agent hears of it from the kernel at once.
                self.carrier[*uplink] = event.change == Change::CarrierBack;
                self.decide();
            }
            change => {
                for &c in checks {
                    let conditions = &mut self.checks[c].conditions;
                    match change {
                        Change::Down => conditions.answered = false,
                        Change::Up => {
                            *conditions = Conditions { answered: true, loss: 0, latency_ms: USUAL_LATENCY_MS, requests: 0 }
                        }
                        Change::Loss(p) => (conditions.loss, conditions.requests) = (p, 0),
                        Change::Latency(ms) => conditions.latency_ms = ms,
                        Change::CarrierLost | Change::CarrierBack => {}
                    }
                }
            }
        }
    }

    /// Starts check `i`'s round due now; returns when it ends.
    fn start_round(&mut self, i: usize) -> Duration {
        let now = self.now;
        let carrier = self.carrier[self.checks[i].uplink];
        let run = &mut self.checks[i];
        run.next = now + Duration::from_millis(run.check.every_ms.max(1));
        let (ends, outcome) = match decide::round_deadline(run.check, now, run.next, run.last_good, run.lost) {
            Deadline::Passed => (
                now,
                Outcome::fail(format!("no good round for {} × {}", run.check.fall, crate::duration::format(run.check.every_ms))),
            ),
            Deadline::At(deadline) => round(run.check, &mut run.conditions, carrier, now, deadline),
        };
        run.pending = Some((now, outcome));
        ends
    }

    fn end_round(&mut self, i: usize) {
        let now = self.now;
        let run = &mut self.checks[i];
        let Some((started, outcome)) = run.pending.take() else { return };
        if outcome.ok {
            run.last_good = Some((now, now - started));
            run.lost = 0;
        } else {
            run.lost = run.lost.saturating_add(1);
        }
        let changed = run.verdict.record(run.check, outcome.clone());
        let (uplink, number, probe) = (self.site.uplinks[run.uplink].name.clone(), run.number, decide::describe(run.check));
        self.note(What::Round { uplink: uplink.clone(), check: number, ok: outcome.ok, detail: outcome.detail.clone() });
        if let Some(up) = changed {
            self.note(What::Check { uplink, check: number, probe, up, detail: outcome.detail });
            self.decide();
        }
    }

    /// The agent's decision for what is known now, and its effects.
    fn decide(&mut self) {
        let site = self.site;
        let checks = &self.checks;
        let carrier = &self.carrier;
        let verdicts =
            |u: usize| -> Vec<Option<bool>> { checks.iter().filter(|c| c.uplink == u).map(|c| c.verdict.verdict).collect() };
        let known = decide::Knowledge {
            usable: &|u| carrier[u],
            verdicts: &verdicts,
            previous: self.health.as_deref(),
            carried: &[],
            deciding: self.state.is_some(),
        };
        let Some(health) = decide::health(site, &known) else { return };
        let step = decide::step(site, self.state, self.health.as_deref(), &health, false);
        for effect in &step.effects {
            if let Effect::Uplink { uplink, up } = effect {
                self.note(What::Uplink { uplink: site.uplinks[*uplink].name.clone(), up: *up });
            }
        }
        let from = self.state.map(|s| site.states[s].name.clone());
        for effect in step.effects {
            match effect {
                Effect::NoState => self.note(What::NoState { reason: step.reason.clone() }),
                Effect::Exit(s) => {
                    self.actions(&site.states[s].on_exit, format!("state {} exit", site.states[s].name), None, &health)
                }
                Effect::Apply { state, entered } => {
                    let to = site.states[state].name.clone();
                    let heading = match entered {
                        true => What::State { from: from.clone(), to, reason: step.reason.clone() },
                        false => What::Refresh { state: to, reason: step.reason.clone() },
                    };
                    self.routes(state, &health, heading);
                }
                Effect::Enter(s) => {
                    self.actions(&site.states[s].on_enter, format!("state {} enter", site.states[s].name), None, &health)
                }
                Effect::Uplink { uplink, up } => {
                    let u = &site.uplinks[uplink];
                    let (list, word) = if up { (&u.on_up, "up") } else { (&u.on_down, "down") };
                    self.actions(list, format!("uplink {} {word}", u.name), Some(uplink), &health);
                }
            }
        }
        self.state = step.state;
        self.decisions.push(Decision { at_ms: self.now.as_millis() as u64, health: health.clone(), state: step.state });
        self.health = Some(health);
    }

    /// The rules whose routing is new or moved in `state` with `health`,
    /// as the agent applies them (`lower::effective` with live health),
    /// under `heading`; a refresh that moves no rule is not shown.
    fn routes(&mut self, state: usize, health: &[bool], heading: What) {
        let site = self.site;
        let st = &site.states[state];
        let mut now: Vec<Option<String>> = vec![None; site.rules.len()];
        for id in site.rules_of(st) {
            now[id] = Some(describe(&live(effective(&site.routing(st, id), Some(health)), health), site));
        }
        if matches!(heading, What::State { .. }) || now != self.routes {
            self.note(heading);
        }
        for (id, words) in now.iter().enumerate() {
            if let (Some(to), true) = (words, *words != self.routes[id]) {
                let from = self.routes[id].clone();
                self.note(What::Rule { rule: site.rules[id].text.clone(), from, to: to.clone() });
            }
        }
        self.routes = now;
    }

    /// Actions as the agent runs them; `flush states` flushes only where
    /// `decide::may_flush` lets it (for an uplink's change, `changed`).
    fn actions(&mut self, list: &[Action], on: String, changed: Option<usize>, health: &[bool]) {
        for action in list {
            match action {
                Action::Run(cmd) => self.note(What::Action { on: on.clone(), action: format!("run {cmd:?}") }),
                Action::Notify(text) => self.note(What::Action { on: on.clone(), action: format!("notify {text:?}") }),
                Action::FlushStates(targets) => {
                    for &t in targets {
                        let flushed = changed.is_none_or(|c| decide::may_flush(t, c, health));
                        self.note(What::Flush { on: on.clone(), uplink: self.site.uplinks[t].name.clone(), flushed });
                    }
                }
            }
        }
    }
}

/// A routing as it is while `health` holds: every member left is in use,
/// and a pinned uplink is up or down, not "if up".
fn live(routing: Routing, health: &[bool]) -> Routing {
    let up = |u: usize| health.get(u).copied().unwrap_or(false);
    match routing {
        Routing::Uplinks { mode, members } => {
            Routing::Uplinks { mode, members: members.into_iter().map(|m| Member { certain: true, ..m }).collect() }
        }
        Routing::Pinned { uplink, .. } => Routing::Pinned { uplink, health: if up(uplink) { Health::Up } else { Health::Down } },
        Routing::Unrouted => Routing::Unrouted,
    }
}

/// One round of `check` starting at `now`, overdue at `deadline`: when it
/// ends and what it finds, under the scenario's `conditions`.
fn round(check: &Check, conditions: &mut Conditions, carrier: bool, now: Duration, deadline: Duration) -> (Duration, Outcome) {
    let timeout = Duration::from_millis(check.timeout_ms);
    let latency = Duration::from_millis(conditions.latency_ms);
    // Whether the next request is answered in time, and counts it.
    let answered = |c: &mut Conditions| {
        let k = c.requests;
        c.requests += 1;
        let lost = c.loss > 0 && (k + 1) * u64::from(c.loss) / 100 > k * u64::from(c.loss) / 100;
        c.answered && !lost && latency < timeout
    };
    if !carrier {
        return (now, Outcome::fail("cannot send: Network is down"));
    }
    match &check.probe {
        Probe::Ping { .. } => {
            let mut t = now;
            let mut rtts = Vec::new();
            for _ in 0..check.count.max(1) {
                if answered(conditions) {
                    if t + latency > deadline {
                        t = deadline;
                        break;
                    }
                    t += latency;
                    rtts.push(latency);
                } else {
                    t = (t + timeout).min(deadline);
                    if t == deadline {
                        break;
                    }
                }
            }
            (t, decide::ping_outcome(check, &rtts, None))
        }
        probe if answered(conditions) => {
            let detail = match probe {
                Probe::Http { expect, .. } => format!("status {expect}"),
                Probe::Dns { .. } => "rcode 0".into(),
                Probe::Plugin { .. } => "up".into(),
                _ => "connected".into(),
            };
            ((now + latency).min(deadline), decide::within_latency(check, Outcome::answered(true, detail, latency)))
        }
        _ => ((now + timeout).min(deadline), Outcome::fail("timed out")),
    }
}
