//! The agent on a router in network namespaces: it probes, fails over when
//! an ISP dies, comes back after `rise`, reloads without losing history,
//! refuses a corrupt policy, survives a flapping link without stale rules,
//! and removes everything on SIGTERM. Needs root, iproute2, nftables, python3.

mod common;
mod netns;

use common::{tempdir, text, wanc, WANC};
use netns::Topology;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wanc::agent::status::{Reply, Status};

const SITE: &str = r#"
site "agenttest"
lan inside { interface vr1; network 192.168.1.0/24 }
uplink isp1 {
    interface vr0
    address 198.51.100.199/24
    gateway 198.51.100.100
    nat
    check ping 198.51.100.100 { every 200ms timeout 100ms fall 3 rise 2 }
    on down { flush states; notify "isp1 down" }
}
uplink isp2 {
    interface vr2
    address 203.0.113.220/24
    gateway 203.0.113.200
    nat
    check ping 203.0.113.200 { every 200ms timeout 100ms fall 3 rise 2 }
}
policy {
    default via isp1, isp2
    route from inside via isp1, isp2
}
state both  when isp1 && isp2
state only2 when !isp1 && isp2
state only1 when isp1 && !isp2
state none  default
"#;

struct Agent {
    child: Child,
    control: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn build(dir: &Path, source: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    let wan = dir.join("site.wan");
    std::fs::write(&wan, source).expect("write site");
    let out = wanc(&["build", wan.to_str().expect("utf-8"), "-o", dir.join("out").to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir.join("out/agenttest.wanc")
}

/// `wanc status --json`, decoded as the protocol's own types; `None` while
/// the agent does not answer.
fn status(agent: &Agent) -> Option<Status> {
    let out = wanc(&["status", "--control", agent.control.to_str().expect("utf-8"), "--json"]);
    serde_json::from_slice::<Reply<Status>>(&out.stdout).ok()?.into_result().ok()
}

fn state(agent: &Agent) -> Option<String> {
    status(agent)?.state
}

/// Polls until the agent reports `state`, failing after `limit`.
fn wait_state(agent: &Agent, want: &str, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if state(agent).as_deref() == Some(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("agent did not reach state {want} within {limit:?}: {:?}", status(agent));
}

/// Makes an ISP stop answering (its gateway drops everything), or answer again.
fn cut(isp: &str, dead: bool) {
    if dead {
        netns::exec(isp, &["nft", "add table inet cut { chain c { type filter hook prerouting priority -300; drop; }; }"]);
    } else {
        netns::exec(isp, &["nft", "delete table inet cut"]);
    }
}

#[test]
fn agent_fails_over_reloads_and_cleans_up() {
    if !netns::available() {
        return;
    }
    let dir = tempdir("agent");
    let policy = build(&dir, SITE);
    let site = wanc::driver::compile_source("agent.wan", SITE).site.expect("site compiles");
    let t = Topology::build(&site, "a");
    let before = t.router_state();
    let control = dir.join("agent.sock");
    let log = std::fs::File::create(dir.join("agent.log")).expect("log file");
    let child = Command::new("ip")
        .args(["netns", "exec", &t.router, WANC, "agent"])
        .arg(&policy)
        .arg("--control")
        .arg(&control)
        .stderr(Stdio::from(log))
        .spawn()
        .expect("agent starts");
    let agent = Agent { child, control };
    let lan = &t.lans[0];

    wait_state(&agent, "both", Duration::from_secs(10));
    let mode = std::fs::metadata(&agent.control).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(mode.ok(), Some(0o600), "control socket is private");
    assert_eq!(t.paths(lan, false, 8080, 4, None), vec![Some(0); 4], "lan via isp1");

    // isp1 dies: within fall × every (+ slack) the agent moves to only2 and
    // lan traffic leaves by isp2.
    cut(&t.isps[0], true);
    // How fast is `cargo bench --bench agent`'s job; here only that it happens
    // (5 s is a liveness bound, not a performance figure).
    wait_state(&agent, "only2", Duration::from_secs(5));
    assert_eq!(t.paths(lan, false, 8080, 4, None), vec![Some(1); 4], "lan via isp2 after failover");
    let s = status(&agent).expect("status");
    assert_eq!(s.uplinks[0].healthy, Some(false));
    assert!(s.uplinks[0].checks[0].consecutive_fail >= 3, "{s:?}");

    // isp1 comes back; after `rise` good rounds the agent returns.
    cut(&t.isps[0], false);
    wait_state(&agent, "both", Duration::from_secs(5));
    assert_eq!(t.paths(lan, false, 8080, 4, None), vec![Some(0); 4], "lan back on isp1");

    // Reload with a changed action text: checks are the same, so they keep
    // their history and verdicts; the state does not move.
    let ok_before = status(&agent).expect("status").uplinks[1].checks[0].consecutive_ok;
    let changed = build(&dir.join("v2"), &SITE.replace("isp1 down", "isp1 is down"));
    let out = wanc(&["reload", "--control", agent.control.to_str().expect("utf-8"), changed.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 checks kept"), "{}", text(&out.stdout));
    let s = status(&agent).expect("status");
    assert_eq!(s.state.as_deref(), Some("both"));
    assert!(s.uplinks[1].checks[0].consecutive_ok >= ok_before, "history lost: {s:?}");

    // A corrupt policy is refused with the reason; the old one keeps working.
    let corrupt = dir.join("corrupt.wanc");
    let mut bytes = std::fs::read(&policy).expect("policy");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&corrupt, &bytes).expect("write");
    let out = wanc(&["reload", "--control", agent.control.to_str().expect("utf-8"), corrupt.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("checksum"), "{}", text(&out.stderr));
    assert_eq!(state(&agent).as_deref(), Some("both"));
    assert_eq!(t.paths(lan, false, 8080, 2, None), vec![Some(0); 2], "old policy still routes");

    // A link flapping 50 times leaves exactly the rules of the final state.
    let steady = t.router_state();
    for i in 0..50 {
        cut(&t.isps[0], true);
        std::thread::sleep(Duration::from_millis(if i % 5 == 0 { 700 } else { 60 }));
        cut(&t.isps[0], false);
        std::thread::sleep(Duration::from_millis(60));
    }
    wait_state(&agent, "both", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(600));
    wait_state(&agent, "both", Duration::from_secs(5));
    assert_eq!(steady, t.router_state(), "flapping left stale state");

    // SIGTERM: the agent removes what it set up and exits cleanly.
    // `ip netns exec` execs the agent, so the child is the agent itself.
    let pid = agent.child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let mut agent = agent;
    let status = agent.child.wait().expect("agent exits");
    assert!(status.success(), "agent exit: {status:?}\n{}", std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default());
    assert_eq!(before, t.router_state(), "agent left state behind");
}
