//! `wanc simulate`: every example's scenario (`examples/NAME.scenario`) is
//! pinned as a snapshot, source and scenario included; the command's exit
//! statuses and messages; and a property test: for random scenarios, each
//! health and state the simulation decided is what the agent's decision
//! functions (`wanc::decide`) choose from the same rounds and carrier
//! events, and the state is the first whose condition holds.

mod common;

use common::{text, wanc};
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use wanc::decide::{self, CheckState, Outcome};
use wanc::driver;
use wanc::ir::Site;
use wanc::simulate::{self, Timeline, What};

fn site_of(path: &Path) -> Site {
    let c = driver::compile_file(path).expect("example readable");
    c.site().expect("a clean compilation has a model").clone()
}

#[test]
fn every_example_has_a_scenario_and_its_timeline_is_pinned() {
    let mut count = 0;
    insta::glob!("../examples", "*.wan", |path| {
        count += 1;
        let scenario_path = path.with_extension("scenario");
        let scenario = std::fs::read_to_string(&scenario_path).expect("every example has a scenario beside it");
        let source = std::fs::read_to_string(path).expect("example readable");
        let site = site_of(path);
        let timeline = simulate::run(&site, &simulate::parse(&scenario).expect("scenario reads")).expect("scenario runs");
        let name = format!("examples/{}", scenario_path.file_name().unwrap().to_string_lossy());
        insta::with_settings!({ description => format!("{source}\n--- {name}\n{scenario}"), omit_expression => true }, {
            insta::assert_snapshot!(simulate::text(&timeline, &name, false));
        });
    });
    assert!(count >= 7, "examples went missing: {count}");
}

#[test]
fn json_has_every_round_and_decision() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = wanc(&[
        "simulate",
        "--format",
        "json",
        root.join("examples/dual-isp-failover.wan").to_str().unwrap(),
        root.join("examples/dual-isp-failover.scenario").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let entries = json["entries"].as_array().expect("entries");
    let rounds = entries.iter().filter(|e| e["kind"] == "round").count();
    // Two checks every 10 s for 6 minutes: 36 rounds each (the one due at
    // the end would end after it).
    assert_eq!(rounds, 72, "{json}");
    let states: Vec<&str> = entries.iter().filter(|e| e["kind"] == "state").map(|e| e["to"].as_str().unwrap()).collect();
    assert_eq!(
        states,
        ["allworking", "noisp1", "allworking", "noisp1", "allworking", "noisp2", "allworking", "noisp1", "alldown", "noisp1"]
    );
    assert!(json["decisions"].as_array().is_some_and(|d| !d.is_empty()));
}

#[test]
fn scenario_errors_are_all_reported_with_their_lines() {
    let dir = common::tempdir("simulate-errors");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = root.join("examples/dual-isp-failover.wan");
    let bad = dir.join("bad.scenario");
    std::fs::write(&bad, "at 10s isp1 explode\nat 20s isp1 loss 150%\nat ten isp1 down\n").unwrap();
    let out = wanc(&["simulate", site.to_str().unwrap(), bad.to_str().unwrap()]);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    for (line, words) in [(1, "unknown event `explode`"), (2, "expected a loss from `0%` to `100%`"), (3, "expected a time")] {
        assert!(said.contains(words) && said.contains(&format!("bad.scenario:{line}")), "line {line}: {said}");
    }
    assert!(said.contains("help: an event is one of"), "{said}");

    std::fs::write(&bad, "at 10s isp3 down\nat 20s isp1 check 2 down\n").unwrap();
    let out = wanc(&["simulate", site.to_str().unwrap(), bad.to_str().unwrap()]);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("site `office` has no uplink `isp3`") && said.contains("its uplinks are isp1, isp2"), "{said}");
    assert!(said.contains("uplink `isp1` has no check 2") && said.contains("bad.scenario:2"), "both at once: {said}");

    std::fs::write(&bad, "end 1d\n").unwrap();
    let out = wanc(&["simulate", site.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "a day of two checks every 10 s is within bounds: {}", text(&out.stderr));

    let out = wanc(&["simulate", site.to_str().unwrap(), "/dev/zero"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot read"), "{}", text(&out.stderr));
}

/// A site where health takes every path: ping rounds of several requests
/// with loss and latency thresholds, tcp and http, `healthy when any` and
/// `at least N`, rise and fall of 1, and states chosen by `count(…)`.
const PROPERTY_SITE: &str = r#"
site "prop"
lan inside { interface ln0; network 192.168.0.0/24 }
uplink a {
    interface ea; address 10.0.0.2/24; gateway 10.0.0.1; nat
    check ping 10.0.0.1 { every 1s timeout 300ms count 3 loss < 50% latency < 200ms rise 2 fall 2 }
    check tcp 10.0.0.1:443 { every 2s timeout 500ms latency < 100ms rise 1 fall 1 }
    healthy when any
}
uplink b {
    interface eb; address 10.0.1.2/24; gateway 10.0.1.1; nat
    check ping 10.0.1.1 { every 500ms timeout 200ms fall 4 rise 3 }
    check http "http://10.0.1.1/health" { every 3s timeout 1s }
    check ping 10.0.1.1 { every 1s timeout 400ms count 2 }
    healthy when 2
}
uplink c {
    interface ec; address 10.0.2.2/24; gateway 10.0.2.1; nat
    check ping 10.0.2.1 { every 700ms timeout 250ms }
}
policy {
    default via a, b, c
    route from inside via balance(a, b, c)
}
state most when count(a, b, c) >= 2
state one_of when a || b
state last default
"#;

fn event_line(at: u64, uplink: usize, check: usize, kind: u8, value: u64) -> String {
    let name = ["a", "b", "c"][uplink];
    let checks = [2, 3, 1][uplink];
    let which = if check % 3 == 0 { String::new() } else { format!(" check {}", 1 + check % checks) };
    let change = match kind {
        0 => "down".to_string(),
        1 => "up".to_string(),
        2 => format!("loss {}%", value % 101),
        3 => format!("latency {}ms", value % 600),
        4 => return format!("at {at}ms {name} carrier lost"),
        _ => return format!("at {at}ms {name} carrier back"),
    };
    format!("at {at}ms {name}{which} {change}")
}

/// Replays the timeline's rounds and carrier events through the agent's
/// own functions and compares every decision the simulation made.
fn replay(site: &Site, timeline: &Timeline) -> Result<(), String> {
    let index: HashMap<&str, usize> = site.uplinks.iter().enumerate().map(|(i, u)| (u.name.as_str(), i)).collect();
    let mut verdicts: Vec<Vec<CheckState>> = site.uplinks.iter().map(|u| vec![CheckState::new(); u.checks.len()]).collect();
    let mut carrier = vec![true; site.uplinks.len()];
    let mut health: Option<Vec<bool>> = None;
    let mut state: Option<usize> = None;
    let mut decisions = timeline.decisions.iter();
    for (n, entry) in timeline.entries.iter().enumerate() {
        let moved = match &entry.what {
            What::Round { uplink, check, ok, detail } => {
                let u = index[uplink.as_str()];
                let outcome = Outcome { ok: *ok, detail: detail.clone(), rtt_ms: None, loss_percent: None, local: false };
                verdicts[u][check - 1].record(&site.uplinks[u].checks[check - 1], outcome).is_some()
            }
            What::Event { uplink, change, .. } if change.starts_with("carrier") => {
                carrier[index[uplink.as_str()]] = change == "carrier back";
                true
            }
            _ => false,
        };
        if !moved {
            continue;
        }
        let verdict_of = |u: usize| verdicts[u].iter().map(|v| v.verdict).collect::<Vec<_>>();
        let known = decide::Knowledge {
            usable: &|u| carrier[u],
            verdicts: &verdict_of,
            previous: health.as_deref(),
            carried: &[],
            deciding: state.is_some(),
        };
        let Some(now) = decide::health(site, &known) else { continue };
        let step = decide::step(site, state, health.as_deref(), &now, false);
        let simulated = decisions.next().ok_or(format!("entry {n}: the agent decides, the simulation did not"))?;
        if simulated.health != now || simulated.state != step.state || simulated.at_ms != entry.at_ms {
            return Err(format!(
                "entry {n} at {} ms: the agent decides {now:?} → {:?}, the simulation {:?} → {:?} at {} ms",
                entry.at_ms, step.state, simulated.health, simulated.state, simulated.at_ms
            ));
        }
        // The state is the first whose condition holds (or the one in force).
        let first = site.states.iter().position(|s| s.when.eval(&|u| now[u]));
        if first.is_some() && first != step.state {
            return Err(format!("entry {n}: state {:?}, but the first that holds is {first:?}", step.state));
        }
        health = Some(now);
        state = step.state;
    }
    match decisions.next() {
        Some(extra) => Err(format!("the simulation decided at {} ms where the agent would not", extra.at_ms)),
        None => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_simulation_decides_what_the_agent_decides(
        events in proptest::collection::vec((0u64..60_000, 0usize..3, 0usize..6, 0u8..6, 0u64..1000), 0..24),
        example in 0usize..8,
    ) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut examples: Vec<_> = std::fs::read_dir(root.join("examples")).unwrap()
            .map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "wan")).collect();
        examples.sort();
        // Half the cases on the property site, the rest on the examples,
        // with the example's own uplink names.
        let site = match examples.get(example) {
            Some(path) if example % 2 == 1 => site_of(path),
            _ => driver::compile_source_for("prop.wan", PROPERTY_SITE, &[]).site().expect("the property site compiles").clone(),
        };
        let mut scenario = String::from("end 70s\n");
        for (at, u, c, kind, value) in events {
            let line = event_line(at, u % site.uplinks.len(), c, kind, value);
            let names = ["a", "b", "c"];
            let uplink = &site.uplinks[u % site.uplinks.len()];
            let line = line.replacen(&format!(" {} ", names[u % site.uplinks.len()]), &format!(" {} ", uplink.name), 1);
            // A check number past the uplink's checks: all of them instead.
            let line = if uplink.checks.len() < 3 { line.replace(" check 3 ", " ") } else { line };
            let line = if uplink.checks.len() < 2 { line.replace(" check 2 ", " ") } else { line };
            let line = if uplink.checks.is_empty() { line.replace(" check 1 ", " ") } else { line };
            scenario.push_str(&line);
            scenario.push('\n');
        }
        let parsed = simulate::parse(&scenario).map_err(|e| TestCaseError::fail(format!("{e:?}\n{scenario}")))?;
        let timeline = simulate::run(&site, &parsed).map_err(|e| TestCaseError::fail(format!("{e:?}\n{scenario}")))?;
        replay(&site, &timeline).map_err(|e| TestCaseError::fail(format!("{e}\n{scenario}")))?;
    }
}
