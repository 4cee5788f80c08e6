//! Differential test of the Linux back end: random valid sites (uplinks,
//! lans, failover lists, balances, multipath pools, pinned ports, derived or
//! declared states), and for each state and flow the uplinks the model says
//! the flow may leave by, compared with where real connections leave in the
//! namespace lab: running the generated setup and state scripts, then the
//! agent, with every uplink up and with the first one's link down.
//!
//! 20 sites a run; `WANC_DIFF_SITES=N` for more, `WANC_DIFF_SEED=S` to
//! replay one run (the seed is printed, and named in every failure).

mod common;
mod netns;
mod random_sites;

use netns::Topology;
use random_sites::{generate, Rng, ANY_PORT, PINNED_PORTS};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wanc::agent::status::{Reply, Status};
use wanc::ir::{Routing, RuleKind, Site, ViaMode};
use wanc::lower::effective;

/// The uplinks a flow from `lan` to `port` may leave by in `state`, as the
/// model has it, with undecided members up as `live` says (the agent), or
/// taken as up (the scripts).
fn expected(site: &Site, state: usize, lan: usize, port: u16, live: Option<&[bool]>) -> BTreeSet<usize> {
    let st = &site.states[state];
    let host: std::net::IpAddr = format!("192.168.{lan}.10").parse().expect("address");
    let mut chosen = None;
    for r in site.rules_of(st) {
        if let RuleKind::Route { from, ports, .. } = &site.rules[r].kind {
            let from_ok = from.iter().any(|n| n.contains(&host));
            let port_ok = ports.is_empty() || ports.iter().any(|p| p.first <= port && port <= p.last);
            if from_ok && port_ok {
                chosen = Some(r);
            }
        }
    }
    let main = site.rules_of(st).find(|&r| matches!(site.rules[r].kind, RuleKind::Default { .. }));
    let members = |routing: Routing| -> BTreeSet<usize> {
        match effective(&routing, live) {
            Routing::Uplinks { mode: ViaMode::Failover, members } => members.first().map(|m| m.uplink).into_iter().collect(),
            Routing::Uplinks { members, .. } => members.iter().map(|m| m.uplink).collect(),
            _ => BTreeSet::new(),
        }
    };
    match chosen.map(|r| effective(&site.routing(st, r), live)) {
        Some(routing @ Routing::Uplinks { .. }) => members(routing),
        // Unrouted, or no rule: the main table's default route decides; with
        // none of its uplinks up, it is by the first of them.
        _ => match main.map(|d| (d, members(site.routing(st, d)))) {
            Some((d, up)) if up.is_empty() => match &site.rules[d].kind {
                RuleKind::Default { via } => site.vias[*via].uplinks.first().copied().into_iter().collect(),
                _ => up,
            },
            Some((_, up)) => up,
            None => BTreeSet::new(),
        },
    }
}

/// `wanc agent` on the router, stopped when dropped.
struct Agent {
    child: Child,
    control: PathBuf,
}

impl Agent {
    fn start(router: &str, policy: &Path, control: &Path) -> Agent {
        let child = Command::new("ip")
            .args(["netns", "exec", router, common::WANC, "agent"])
            .arg(policy)
            .arg("--control")
            .arg(control)
            // Beside the control socket, for a failure to be read.
            .stderr(std::fs::File::create(control.with_extension("log")).map(Stdio::from).unwrap_or(Stdio::null()))
            .spawn()
            .expect("agent starts");
        Agent { child, control: control.to_path_buf() }
    }

    /// Waits (at most 10 s) until the agent sees the uplinks' health as
    /// `live` and has applied a state; that state's index.
    fn wait_for(&self, live: &[bool], site: &Site) -> usize {
        let start = Instant::now();
        loop {
            let out = common::wanc(&["status", "--control", self.control.to_str().expect("utf-8"), "--json"]);
            let status = serde_json::from_slice::<Reply<Status>>(&out.stdout).ok().and_then(|r| r.into_result().ok());
            if let Some(s) = status {
                let seen: Vec<Option<bool>> = s.uplinks.iter().map(|u| u.healthy).collect();
                let want: Vec<Option<bool>> = live.iter().map(|&h| Some(h)).collect();
                if let (true, Some(state)) = (seen == want, s.state) {
                    // The state is applied before status shows it; give the
                    // kernel's route and nft updates a moment all the same.
                    std::thread::sleep(Duration::from_millis(100));
                    return site.states.iter().position(|st| st.name == state).expect("a state of the site");
                }
            }
            assert!(start.elapsed() < Duration::from_secs(10), "the agent did not see the uplinks as {live:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn random_sites_route_as_the_model_says() {
    if !netns::available() {
        return;
    }
    let (sites, seed) = random_sites::run(20);
    eprintln!("differential: {sites} random sites, seed {seed} (WANC_DIFF_SEED={seed} replays them)");
    let mut rng = Rng(seed);
    let (mut flows, mut connections) = (0, 0);
    for n in 0..sites {
        let source = generate(&mut rng, n);
        let dir = common::tempdir(&format!("diff-{n}"));
        let path = dir.join("site.wan");
        std::fs::write(&path, &source).expect("write site");
        let out = common::wanc(&[
            "build",
            "--target",
            "linux",
            path.to_str().expect("utf-8"),
            "-o",
            dir.join("out").to_str().expect("utf-8"),
        ]);
        assert!(out.status.success(), "seed {seed}, site {n} does not build:\n{source}\n{}", common::text(&out.stderr));
        let site = wanc::driver::compile_file(&path).expect("readable").plan.expect("compiles").site;
        let t = Topology::build(&site, &format!("x{n}"));
        let script = |name: &str| {
            netns::exec(&t.router, &["sh", dir.join("out/linux").join(name).to_str().expect("utf-8")]);
        };
        // Every flow of a state where the model says it goes.
        let mut compare = |s: usize, live: Option<&[bool]>, by: &str| {
            for (l, lan) in t.lans.iter().enumerate() {
                for port in std::iter::once(ANY_PORT).chain(PINNED_PORTS) {
                    let mut want = expected(&site, s, l, port, live);
                    // A link that is down carries nothing, even where the
                    // model sends traffic by it (the all-down fallback).
                    want.retain(|&u| live.is_none_or(|live| live[u]));
                    // A flow with nowhere to go waits for its timeout: one try.
                    let tries = if want.is_empty() { 1 } else { 3 };
                    let seen = t.paths(lan, false, port, tries, None);
                    flows += 1;
                    connections += tries;
                    for got in &seen {
                        let fine = match got {
                            Some(u) => want.contains(u),
                            None => want.is_empty(),
                        };
                        assert!(
                            fine,
                            "seed {seed}, site {n}, {by}, state `{}`, live {live:?}, lan{l} to port {port}: the model says {want:?}, a connection left by {got:?} (all: {seen:?})\n{source}",
                            site.states[s].name
                        );
                    }
                }
            }
        };
        script("setup.sh");
        for (s, state) in site.states.iter().enumerate() {
            script(&format!("state-{}.sh", state.name));
            compare(s, None, "scripts");
        }
        script("teardown.sh");

        // The agent picks the state by the uplinks' links (no checks here):
        // all up, then the first one's link down.
        let policy = dir.join(format!("out/diff{n}.wanc"));
        let control = dir.join("agent.sock");
        let agent = Agent::start(&t.router, &policy, &control);
        for down in [None, Some(0)] {
            if let Some(u) = down {
                netns::exec(&t.isps[u], &["ip", "link", "set", "eth0", "down"]);
            }
            let live: Vec<bool> = (0..site.uplinks.len()).map(|u| Some(u) != down).collect();
            let state = agent.wait_for(&live, &site);
            compare(state, Some(&live), "agent");
        }
        drop(agent);
    }
    eprintln!("differential: {sites} sites, {flows} flows, {connections} connections, all where the model says");
}
