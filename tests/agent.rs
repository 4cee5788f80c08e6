//! The agent on a router in network namespaces: it probes, fails over when
//! an ISP dies, comes back after `rise`, reloads without losing history,
//! refuses a corrupt policy, survives a flapping link without stale rules,
//! and removes everything on SIGTERM; https checks verify the server's
//! certificate. Needs root, iproute2, nftables, python3 (and openssl for the
//! https test).

mod common;
mod netns;

use common::{tempdir, text, wanc, WANC};
use netns::Topology;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wanc::agent::status::{Reply, Status};
use wanc::ir::Site;

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
    // The agent's platform here is Linux (OpenBSD refuses learned addresses).
    let out = wanc(&["build", "--target", "linux", wan.to_str().expect("utf-8"), "-o", dir.join("out").to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir.join("out/agenttest.wanc")
}

/// The model of a test site, checked for Linux, the agent's platform here.
fn linux_site(name: &str, source: &str) -> Site {
    wanc::driver::compile_source_for(name, source, &[wanc::lower::Target::Linux]).plan.expect("site compiles").site
}

/// A test's lab: `source` built in a fresh folder `agent-NAME`, its
/// namespaces (`tag` keeps them apart), and its agent running in the
/// router, logging to `agent.log` in the folder.
struct Lab {
    dir: PathBuf,
    site: Site,
    t: Topology,
    agent: Agent,
}

fn lab(name: &str, tag: &str, source: &str) -> Lab {
    let dir = tempdir(&format!("agent-{name}"));
    let policy = build(&dir, source);
    let site = linux_site(&format!("{name}.wan"), source);
    let t = Topology::build(&site, tag);
    let agent = start(&t.router, &policy, &dir.join("agent.sock"), &dir.join("agent.log"), &[]);
    Lab { dir, site, t, agent }
}

/// A field test's lab: `source` with `IFNAME` made an interface name of
/// this run (`prefix` and the process id), built in a fresh folder, and its
/// namespaces.
struct Field {
    interface: String,
    dir: PathBuf,
    policy: PathBuf,
    t: Topology,
}

fn field(prefix: &str, tag: &str, source: &str) -> Field {
    let interface = format!("{prefix}{}", std::process::id() % 10_000_000);
    let source = source.replace("IFNAME", &interface);
    let dir = tempdir(&format!("agent-{prefix}"));
    let policy = build(&dir, &source);
    let t = Topology::build(&linux_site("field.wan", &source), tag);
    Field { interface, dir, policy, t }
}

/// `wanc agent POLICY --control … EXTRA…` in the router's namespace, its
/// log in `log`.
fn start(router: &str, policy: &Path, control: &Path, log: &Path, extra: &[&str]) -> Agent {
    let log = std::fs::File::create(log).expect("log file");
    let child = Command::new("ip")
        .args(["netns", "exec", router, WANC, "agent"])
        .arg(policy)
        .arg("--control")
        .arg(control)
        .args(extra)
        .stderr(Stdio::from(log))
        .spawn()
        .expect("agent starts");
    Agent { child, control: control.to_path_buf() }
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
    let site = linux_site("agent.wan", SITE);
    let t = Topology::build(&site, "a");
    let before = t.router_state();
    let agent = start(&t.router, &policy, &dir.join("agent.sock"), &dir.join("agent.log"), &[]);
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

/// An https check against the ISP's gateway, whose certificate a CA made
/// here signs for its address.
const HTTPS_SITE: &str = r#"
site "agenttest"
uplink isp1 {
    interface vr0
    address 198.51.100.199/24
    gateway 198.51.100.100
    check http "https://198.51.100.100/health" { every 500ms timeout 400ms rise 1 fall 1 }
}
policy { default via isp1 }
"#;

const HTTPS_SERVER: &str = r#"
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
    def log_message(self, *args): pass
server = http.server.ThreadingHTTPServer((sys.argv[1], 443), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
"#;

/// A CA (`ca.pem`) and a server certificate it signs for `ip`
/// (`server.pem`, `server.key`), made with openssl in `dir`.
fn make_certificates(dir: &Path, ip: &str) {
    let at = |name: &str| dir.join(name).to_str().expect("utf-8").to_string();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["openssl", "req", "-x509", "-days", "2", "-subj", "/CN=wanc test CA"];
    ca.extend(ec);
    let (ca_key, ca_pem) = (at("ca.key"), at("ca.pem"));
    ca.extend(["-keyout", &ca_key, "-out", &ca_pem]);
    ca.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
    netns::run(&ca);
    let (key, csr, pem, ext) = (at("server.key"), at("server.csr"), at("server.pem"), at("server.ext"));
    let mut req = vec!["openssl", "req", "-subj", "/CN=wanc test server", "-keyout", &key, "-out", &csr];
    req.extend(ec);
    netns::run(&req);
    std::fs::write(&ext, format!("subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth\n")).expect("write");
    netns::run(&[
        "openssl",
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        &csr,
        "-CA",
        &ca_pem,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &pem,
        "-extfile",
        &ext,
    ]);
}

/// Polls until the uplink's health is `healthy`; the status seen last.
fn wait_healthy(agent: &Agent, healthy: bool, limit: Duration) -> Option<Status> {
    let start = Instant::now();
    loop {
        let s = status(agent);
        let seen = s.as_ref().and_then(|s| s.uplinks[0].healthy);
        if seen == Some(healthy) || start.elapsed() > limit {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first uplink's health and its first check's last result, in words.
fn first_check(s: &Option<Status>) -> (Option<bool>, String) {
    let Some(up) = s.as_ref().and_then(|s| s.uplinks.first()) else { return (None, "no status".into()) };
    let last = up.checks.first().and_then(|c| c.last.last()).map(|o| o.detail.clone()).unwrap_or_default();
    (up.healthy, last)
}

#[test]
fn https_checks_verify_the_certificate() {
    if !common::require(&[common::Need::Root, common::IP, common::NFT, common::PYTHON3, common::OPENSSL]) {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("agent-https-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let policy = build(&dir, HTTPS_SITE);
    make_certificates(&dir, "198.51.100.100");
    let site = linux_site("https.wan", HTTPS_SITE);
    let t = Topology::build(&site, "h");
    let mut server = Command::new("ip")
        .args(["netns", "exec", &t.isps[0], "python3", "-c", HTTPS_SERVER, "198.51.100.100"])
        .args([dir.join("server.pem"), dir.join("server.key")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("server starts");
    let mut ready = String::new();
    let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().expect("stdout")), &mut ready);
    assert_eq!(ready.trim(), "ready", "https server did not start");

    let ca = dir.join("ca.pem");
    let trusted = ["--backend", "dry-run", "--ca-file", ca.to_str().expect("utf-8")];
    let agent = start(&t.router, &policy, &dir.join("trusted.sock"), &dir.join("trusted.log"), &trusted);
    let (healthy, last) = first_check(&wait_healthy(&agent, true, Duration::from_secs(10)));
    let log = || std::fs::read_to_string(dir.join("trusted.log")).unwrap_or_default();
    assert_eq!(healthy, Some(true), "trusted CA: {last}\n{}", log());
    assert!(last.contains("status 200"), "{last}");
    drop(agent);

    // Without the CA the server is a stranger: the check fails, saying why.
    let agent = start(&t.router, &policy, &dir.join("untrusted.sock"), &dir.join("untrusted.log"), &["--backend", "dry-run"]);
    let (healthy, last) = first_check(&wait_healthy(&agent, false, Duration::from_secs(10)));
    assert_eq!(healthy, Some(false), "untrusted CA: {last}");
    assert!(last.contains("certificate"), "the detail names the certificate: {last}");
    drop(agent);
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn agent_refuses_an_unusable_ca_file() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("agent-ca-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let policy = build(&dir, HTTPS_SITE);
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    for (ca, why) in [(dir.join("missing.pem"), "cannot read"), (empty, "holds no PEM certificate")] {
        let out = Command::new(WANC)
            .arg("agent")
            .arg(&policy)
            .args(["--backend", "dry-run", "--control"])
            .arg(dir.join("agent.sock"))
            .arg("--ca-file")
            .arg(&ca)
            .output()
            .expect("wanc runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
    }
}

/// Three uplinks, each flushing its connections when it fails; lan traffic
/// to port 9000 is balanced, to port 9001 spread by a multipath pool.
const STICKY_SITE: &str = r#"
site "agenttest"
lan inside { interface vr1; network 192.168.1.0/24 }
uplink isp1 {
    interface vr0
    address 198.51.100.199/24
    gateway 198.51.100.100
    nat
    check ping 198.51.100.100 { every 200ms timeout 100ms fall 3 rise 2 }
    on down { flush states }
}
uplink isp2 {
    interface vr2
    address 203.0.113.220/24
    gateway 203.0.113.200
    nat
    check ping 203.0.113.200 { every 200ms timeout 100ms fall 3 rise 2 }
    on down { flush states }
}
uplink isp3 {
    interface vr3
    address 192.0.2.20/24
    gateway 192.0.2.1
    nat
    check ping 192.0.2.1 { every 200ms timeout 100ms fall 3 rise 2 }
    on down { flush states }
}
policy {
    default via isp1, isp2, isp3
    route from inside proto tcp to port 9000 via balance(isp1, isp2, isp3)
    route from inside proto tcp to port 9001 via multipath(isp1, isp2, isp3)
}
"#;

/// Polls until the agent sees uplink `u` as `healthy`, failing after 5 s.
fn wait_uplink(agent: &Agent, u: usize, healthy: bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if status(agent).and_then(|s| s.uplinks[u].healthy) == Some(healthy) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the agent did not see uplink {u} {}", if healthy { "up" } else { "down" });
}

#[test]
fn long_lived_connections_keep_their_uplink() {
    if !netns::available() {
        return;
    }
    let Lab { dir, t, agent, .. } = lab("sticky", "k", STICKY_SITE);
    wait_state(&agent, "via_isp1", Duration::from_secs(10));
    (0..3).for_each(|u| wait_uplink(&agent, u, true));

    // 30 balanced and 30 multipath connections, held open throughout.
    let mut held = [t.hold(&t.lans[0], 9000, 30), t.hold(&t.lans[0], 9001, 30)];
    for (h, what) in held.iter().zip(["balanced", "multipath"]) {
        assert!(h.uplinks.iter().all(Option::is_some), "{what}: every connection opens: {:?}", h.uplinks);
        for u in 0..3 {
            assert!(h.uplinks.contains(&Some(u)), "{what}: uplink {u} carries some: {:?}", h.uplinks);
        }
    }
    // Ten changes; isp3 never fails, so its connections must outlive all of
    // them, whatever the others do to states, the default route and pools.
    let events =
        [(0, false), (0, true), (1, false), (0, false), (1, true), (0, true), (1, false), (1, true), (0, false), (0, true)];
    let mut failed = [false; 3];
    for (step, &(u, up)) in events.iter().enumerate() {
        cut(&t.isps[u], !up);
        wait_uplink(&agent, u, up);
        failed[u] |= !up;
        let (mut kept, mut expected, mut ended, mut lost) = (0, 0, 0, 0);
        for h in &mut held {
            for (alive, on) in h.alive().into_iter().zip(&h.uplinks) {
                let uplink = on.expect("opened");
                match (failed[uplink], alive) {
                    (false, true) => kept += 1,
                    (false, false) => lost += 1,
                    (true, false) => ended += 1,
                    (true, true) if up && uplink == u => {} // back before a probe saw it fail
                    (true, true) => lost += 1,
                }
                expected += usize::from(!failed[uplink]);
            }
        }
        eprintln!(
            "step {}: uplink {} {}: {kept} of {expected} connections on uplinks that never failed carry bytes, {ended} on failed uplinks ended, {lost} wrong",
            step + 1,
            u + 1,
            if up { "up" } else { "down" }
        );
        assert_eq!(lost, 0, "step {}: a connection died on a healthy uplink, or lived on a failed one", step + 1);
    }
    // A reload of a changed policy keeps them too, also one that declares
    // the uplinks in another order (marks go by name, not position).
    let (isp3, policy_at) = (STICKY_SITE.find("uplink isp3").expect("isp3"), STICKY_SITE.find("policy {").expect("policy"));
    let reordered = format!(
        "{}{}{}",
        &STICKY_SITE[..STICKY_SITE.find("uplink isp1").expect("isp1")],
        &STICKY_SITE[isp3..policy_at],
        &STICKY_SITE[STICKY_SITE.find("uplink isp1").expect("isp1")..isp3]
    ) + &STICKY_SITE[policy_at..];
    let changed = build(&dir.join("v2"), &reordered.replace("default via isp1, isp2, isp3", "default via isp3, isp2, isp1"));
    let out = wanc(&["reload", "--control", agent.control.to_str().expect("utf-8"), changed.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_state(&agent, "via_isp3", Duration::from_secs(5));
    for h in &mut held {
        let on_isp3: Vec<bool> = h.alive().into_iter().zip(&h.uplinks).filter(|(_, u)| **u == Some(2)).map(|(a, _)| a).collect();
        eprintln!(
            "after a reload: {} of {} connections on isp3 carry bytes",
            on_isp3.iter().filter(|a| **a).count(),
            on_isp3.len()
        );
        assert!(on_isp3.iter().all(|a| *a), "a reload ended connections on a healthy uplink");
    }
}

/// Failback: with `on up { flush states isp2 }` on isp1, connections that
/// moved to isp2 are ended when isp1 comes back, and reopen by isp1;
/// without it they stay on isp2.
#[test]
fn failback_is_the_users_choice() {
    if !netns::available() {
        return;
    }
    let dir = tempdir("agent-failback");
    let stay = SITE.replace("    on down { flush states; notify \"isp1 down\" }", "    on down { flush states }");
    let back = stay.replace("    on down { flush states }", "    on down { flush states }\n    on up { flush states isp2 }");
    assert_ne!(stay, back);
    let policy = build(&dir, &stay);
    let site = linux_site("failback.wan", &stay);
    let t = Topology::build(&site, "f");
    let agent = start(&t.router, &policy, &dir.join("agent.sock"), &dir.join("agent.log"), &[]);
    wait_state(&agent, "both", Duration::from_secs(10));

    // Moved to isp2 while isp1 was down, then isp1 comes back: `n` of the
    // held connections still carry bytes once the agent acted on it.
    let outage = |t: &Topology| {
        cut(&t.isps[0], true);
        wait_state(&agent, "only2", Duration::from_secs(5));
        let mut held = t.hold(&t.lans[0], 9000, 10);
        assert!(held.uplinks.iter().all(|u| *u == Some(1)), "opened by isp2: {:?}", held.uplinks);
        cut(&t.isps[0], false);
        wait_state(&agent, "both", Duration::from_secs(5));
        // The flush runs off the agent's main loop: give it a bounded while.
        let start = Instant::now();
        loop {
            let alive = held.alive().iter().filter(|a| **a).count();
            if alive == 0 || start.elapsed() > Duration::from_secs(3) {
                return alive;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let stayed = outage(&t);
    eprintln!("without failback: {stayed} of 10 connections stayed on isp2");
    assert_eq!(stayed, 10, "without failback, connections stay where they are");

    let with_failback = build(&dir.join("v2"), &back);
    let out = wanc(&["reload", "--control", agent.control.to_str().expect("utf-8"), with_failback.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stayed = outage(&t);
    eprintln!("with failback: {stayed} of 10 connections stayed on isp2");
    assert_eq!(stayed, 0, "with failback, connections on isp2 end when isp1 is back");
    assert_eq!(t.paths(&t.lans[0], false, 8080, 4, None), vec![Some(0); 4], "and reopen by isp1");
}

/// The field tests' fixed uplink, isp1, and their lan; each adds an uplink
/// of its own (`IFNAME`, made unique per run) and a policy preferring it.
const FIXED_ISP1: &str = r#"
site "agenttest"
lan inside { interface vr1; network 192.168.1.0/24 }
uplink isp1 {
    interface vr0
    address 198.51.100.199/24
    gateway 198.51.100.100
    nat
    check ping 198.51.100.100 { every 200ms timeout 100ms fall 3 rise 1 }
}
"#;

/// A cable uplink whose address and gateway come by DHCP (`IFNAME` is
/// unique: dhcpcd keeps its files by interface name).
const DHCP_CABLE: &str = r#"
uplink cable {
    interface IFNAME
    address auto ipv4
    gateway auto ipv4
    network 100.65.0.0/16
    nat
    check ping 198.18.0.1 { every 200ms timeout 100ms fall 3 rise 1 }
}
policy {
    default via cable, isp1
    route from inside via cable, isp1
}
"#;

/// A DHCP server (dnsmasq) in an ISP's namespace, handing out `address`
/// with `router` as the gateway; stopped on drop.
struct DhcpServer(Child);

impl DhcpServer {
    fn start(isp: &str, dir: &Path, address: &str, router: &str) -> DhcpServer {
        let leases = dir.join(format!("dnsmasq-{address}.leases"));
        let child = Command::new("ip")
            .args(["netns", "exec", isp, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0"])
            .args(["--interface=eth0", "--bind-interfaces", "--dhcp-authoritative", "--log-dhcp"])
            .arg(format!("--dhcp-range={address},{address},255.255.0.0,2m"))
            .arg(format!("--dhcp-option=3,{router}"))
            .arg(format!("--dhcp-leasefile={}", leases.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq starts");
        DhcpServer(child)
    }
}

impl Drop for DhcpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real DHCP client (dhcpcd) on the router's interface, in the
/// foreground, running no hook scripts (they would touch the host's
/// resolv.conf); it installs the lease's address and a default route with
/// its own metric. On drop it releases the lease (which removes both) and
/// exits; its lease file goes too.
struct DhcpClient {
    child: Child,
    router: String,
    interface: String,
}

impl DhcpClient {
    fn start(router: &str, interface: &str) -> DhcpClient {
        let child = Command::new("ip")
            .args(["netns", "exec", router, "dhcpcd", "--nobackground", "-4", "--noarp", "--script", "/bin/true"])
            .args(["--nohook", "resolv.conf", "--timeout", "30", interface])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dhcpcd starts");
        DhcpClient { child, router: router.to_string(), interface: interface.to_string() }
    }
}

impl Drop for DhcpClient {
    fn drop(&mut self) {
        let _ = netns::try_exec(&self.router, &["dhcpcd", "-4", "--release", &self.interface]);
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(format!("/var/lib/dhcpcd/{}.lease", self.interface));
    }
}

/// Polls until `f` holds, failing with `what` after `limit`.
fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: not within {limit:?}");
}

/// The source addresses of the connections the ISP saw arriving from the
/// router (its conntrack table, before its own NAT to the remote).
fn sources_at_isp(isp: &str) -> String {
    netns::try_exec(isp, &["conntrack", "-L", "-p", "tcp", "--orig-dst", netns::REMOTE_V4]).unwrap_or_default()
}

#[test]
fn dhcp_lease_changes_follow_the_uplink() {
    if !netns::available() || !common::require(&[common::DNSMASQ, common::DHCPCD, common::CONNTRACK]) {
        return;
    }
    let Field { interface, dir, policy, t } = field("dh", "d", &[FIXED_ISP1, DHCP_CABLE].concat());
    let isp = t.isps[1].clone();
    // The cable ISP's side of the link: two possible gateways.
    netns::exec(&isp, &["ip", "addr", "add", "100.65.0.1/16", "dev", "eth0"]);
    netns::exec(&isp, &["ip", "addr", "add", "100.65.9.1/16", "dev", "eth0"]);
    let log = dir.join("agent.log");
    let agent = start(&t.router, &policy, &dir.join("agent.sock"), &log, &[]);
    let lan = &t.lans[0];
    let conntrack_flush = || drop(netns::try_exec(&isp, &["conntrack", "-F"]));

    // No lease yet: the cable is down, the lan leaves by isp1.
    wait_uplink(&agent, 1, false);
    wait_uplink(&agent, 0, true);
    assert_eq!(t.paths(lan, false, 8080, 3, None), vec![Some(0); 3], "lan via isp1 while the cable has no lease");

    // A lease: 100.65.0.10 by 100.65.0.1. The cable takes the lan traffic,
    // NATed to the leased address (as the ISP sees it).
    let server = DhcpServer::start(&isp, &dir, "100.65.0.10", "100.65.0.1");
    let client = DhcpClient::start(&t.router, &interface);
    // dhcpcd takes about 5 s to its first lease.
    wait_for("the cable up with its lease", Duration::from_secs(20), || {
        status(&agent).and_then(|s| s.uplinks[1].healthy) == Some(true)
    });
    conntrack_flush();
    wait_for("lan via the cable", Duration::from_secs(5), || t.paths(lan, false, 8080, 3, None) == vec![Some(1); 3]);
    assert!(sources_at_isp(&isp).contains("src=100.65.0.10 "), "the ISP sees the lease's address:\n{}", sources_at_isp(&isp));

    // The lease goes away (the client releases it): the cable is down at
    // once, the lan leaves by isp1.
    drop(client);
    drop(server);
    wait_uplink(&agent, 1, false);
    assert_eq!(t.paths(lan, false, 8080, 3, None), vec![Some(0); 3], "lan via isp1 without a lease");

    // A lease outside the uplink's `network`: logged, not taken. (dnsmasq
    // serves a range only on a link with an address in it.)
    netns::exec(&isp, &["ip", "addr", "add", "10.99.0.1/16", "dev", "eth0"]);
    let server = DhcpServer::start(&isp, &dir, "10.99.0.5", "10.99.0.1");
    let client = DhcpClient::start(&t.router, &interface);
    wait_for("the lease outside the network is logged", Duration::from_secs(10), || {
        std::fs::read_to_string(&log).unwrap_or_default().contains("outside the uplink's networks")
    });
    assert_eq!(status(&agent).and_then(|s| s.uplinks[1].healthy), Some(false), "an outside lease is not taken");
    assert_eq!(t.paths(lan, false, 8080, 2, None), vec![Some(0); 2], "lan still via isp1");
    drop(client);
    drop(server);

    // Another lease, with another gateway: the uplink is re-keyed (source
    // rule, routes, NAT, probe source) and carries the lan again, now from
    // the new address.
    let server = DhcpServer::start(&isp, &dir, "100.65.9.20", "100.65.9.1");
    let client = DhcpClient::start(&t.router, &interface);
    // dhcpcd takes about 5 s to its first lease.
    wait_for("the cable up with its lease", Duration::from_secs(20), || {
        status(&agent).and_then(|s| s.uplinks[1].healthy) == Some(true)
    });
    conntrack_flush();
    wait_for("lan via the cable again", Duration::from_secs(5), || t.paths(lan, false, 8080, 3, None) == vec![Some(1); 3]);
    let seen = sources_at_isp(&isp);
    assert!(seen.contains("src=100.65.9.20 ") && !seen.contains("src=100.65.0.10 "), "new address only:\n{seen}");
    let rules = netns::exec(&t.router, &["ip", "-4", "rule"]);
    assert!(rules.contains("from 100.65.9.20 lookup") && !rules.contains("100.65.0.10"), "source rule re-keyed:\n{rules}");
    let table = netns::exec(&t.router, &["ip", "-4", "route", "show", "table", "101"]);
    assert!(table.contains("via 100.65.9.1 "), "the cable's table has the new gateway:\n{table}");

    // The agent kept running through all of it.
    assert!(status(&agent).is_some(), "agent alive");
    drop(client);
    drop(server);
}

#[test]
fn a_learned_gateway_of_the_other_family_is_logged_and_ignored() {
    if !netns::available() {
        return;
    }
    let Field { interface, dir, policy, t } = field("gw", "g", &[FIXED_ISP1, DHCP_CABLE].concat());
    let isp = t.isps[1].clone();
    netns::exec(&isp, &["ip", "addr", "add", "100.65.0.1/16", "dev", "eth0"]);
    let log = dir.join("agent.log");
    let agent = start(&t.router, &policy, &dir.join("agent.sock"), &log, &[]);
    let lan = &t.lans[0];
    wait_uplink(&agent, 0, true);

    // What a DHCP client would install, but the default route's next hop
    // is an IPv6 neighbour (`via inet6`, RFC 5549) where the site learns an
    // IPv4 gateway: logged, not taken; the cable stays down.
    netns::exec(&t.router, &["ip", "addr", "add", "100.65.0.10/16", "dev", &interface]);
    netns::exec(
        &t.router,
        &["ip", "-4", "route", "add", "default", "via", "inet6", "fe80::1", "dev", &interface, "metric", "1002"],
    );
    wait_for("the other family's gateway is logged", Duration::from_secs(10), || {
        std::fs::read_to_string(&log).unwrap_or_default().contains("learned gateway of the other family, not taken")
    });
    assert_eq!(status(&agent).and_then(|s| s.uplinks[1].healthy), Some(false), "no IPv4 gateway learned: the cable is down");
    assert_eq!(t.paths(lan, false, 8080, 2, None), vec![Some(0); 2], "lan via isp1");

    // The route is put right: the cable comes up and carries the lan.
    netns::exec(&t.router, &["ip", "route", "replace", "default", "via", "100.65.0.1", "dev", &interface, "metric", "1002"]);
    wait_for("the cable up with its gateway", Duration::from_secs(10), || {
        status(&agent).and_then(|s| s.uplinks[1].healthy) == Some(true)
    });
    wait_for("lan via the cable", Duration::from_secs(5), || t.paths(lan, false, 8080, 3, None) == vec![Some(1); 3]);
    assert!(status(&agent).is_some(), "agent alive");
}

/// A reload that adds a slow check (5 s, to a port the ISP drops) does
/// not hold up failover: isp2 keeps the health it had while its new check
/// decides, and isp1's failure moves the state before that check has any
/// verdict.
#[test]
fn a_slow_new_check_does_not_delay_failover() {
    if !netns::available() {
        return;
    }
    let Lab { dir, t, agent, .. } = lab("slow-check", "w", SITE);
    wait_state(&agent, "both", Duration::from_secs(10));
    netns::exec(
        &t.isps[1],
        &["nft", "add table inet slow { chain c { type filter hook prerouting priority -300; tcp dport 9 drop; }; }"],
    );
    let slow = SITE.replace(
        "check ping 203.0.113.200 { every 200ms timeout 100ms fall 3 rise 2 }",
        "check ping 203.0.113.200 { every 200ms timeout 100ms fall 3 rise 2 }\n    check tcp 203.0.113.200:9 { every 10s timeout 5s }",
    );
    let slow = build(&dir.join("slow"), &slow);
    let out = wanc(&["reload", "--control", agent.control.to_str().expect("utf-8"), slow.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    cut(&t.isps[0], true);
    wait_state(&agent, "only2", Duration::from_secs(5));
    let s = status(&agent).expect("status");
    assert_eq!(s.uplinks[1].checks.len(), 2);
    assert!(s.uplinks[1].checks[1].verdict.is_none(), "failed over only once the slow check decided: {s:?}");
}

/// At its descriptor limit the agent cannot open a probe's socket: that is
/// no sample of the uplink, not a failure, so no check goes down and no
/// route is withdrawn for it (before, both uplinks went down); with
/// descriptors again, it answers and probes as before.
#[test]
fn out_of_descriptors_no_uplink_goes_down() {
    if !netns::available() {
        return;
    }
    // `_t` keeps the namespaces for the whole test.
    let Lab { dir, t: _t, agent, .. } = lab("nofile", "n", SITE);
    let log = dir.join("agent.log");
    wait_state(&agent, "both", Duration::from_secs(10));
    // The limit at the lowest free descriptor: the next socket is refused.
    let pid = agent.child.id().to_string();
    let open: std::collections::BTreeSet<u32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let free = (0..).find(|n| !open.contains(n)).expect("a free descriptor");
    let limit = |n: &str| {
        let out = Command::new("prlimit").args(["--pid", &pid, &format!("--nofile={n}:")]).output().expect("prlimit");
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    limit(&free.to_string());
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let begin = Instant::now();
    while !read().contains("short of descriptors") {
        assert!(begin.elapsed() < Duration::from_secs(10), "no shortage seen below descriptor {free}:\n{}", read());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Several times `fall × every` later, no check has gone down.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!read().contains("verdict=\"down\""), "a check went down for the router's shortage:\n{}", read());
    assert!(read().contains("probe not made, no sample"), "{}", read());
    limit("1024");
    wait_state(&agent, "both", Duration::from_secs(10));
}

/// A 50 ms blip of an uplink's link (taken down on the router, so the
/// kernel drops every route through it, and up again): shorter than the
/// checks could see, but the kernel reports it; the uplink's table and the
/// main default route come back, and the agent's state matches the
/// kernel's.
#[test]
fn a_link_blip_puts_the_routes_back() {
    if !netns::available() {
        return;
    }
    let Lab { site, t, agent, .. } = lab("blip", "b", SITE);
    let lan = &t.lans[0];
    let table = site.uplinks[0].table.to_string();
    wait_state(&agent, "both", Duration::from_secs(10));
    for round in 0..3 {
        netns::exec(&t.router, &["sh", "-c", "ip link set vr0 down; sleep 0.05; ip link set vr0 up"]);
        wait_state(&agent, "both", Duration::from_secs(10));
        let routes = netns::exec(&t.router, &["ip", "-4", "route", "show", "table", &table]);
        assert!(routes.contains("default via 198.51.100.100 dev vr0"), "round {round}: isp1's table is back:\n{routes}");
        let main = netns::exec(&t.router, &["ip", "-4", "route", "show", "default"]);
        assert!(main.contains("default via 198.51.100.100 dev vr0"), "round {round}: the default route is back:\n{main}");
        assert_eq!(t.paths(lan, false, 8080, 3, None), vec![Some(0); 3], "round {round}: lan via isp1 again");
    }
    assert!(status(&agent).is_some(), "agent alive");
}

/// An uplink whose IPv6 address and gateway come from router
/// advertisements (SLAAC): the kernel is the client.
const SLAAC_SITE: &str = r#"
site "agenttest"
lan inside { interface vr1; network 192.168.1.0/24; network fd00:1::/64 }
uplink isp1 {
    interface vr0
    address 198.51.100.199/24
    address 2001:db8:100::199/64
    gateway 198.51.100.100
    gateway 2001:db8:100::100
    nat
    check ping 198.51.100.100 { every 200ms timeout 100ms fall 3 rise 1 }
}
uplink cable {
    interface IFNAME
    address auto ipv6
    gateway auto ipv6
    network 2001:db8:65::/48
    nat
    check ping fd18::1 { every 200ms timeout 100ms fall 3 rise 1 }
}
policy {
    default via cable, isp1
    route from inside via cable, isp1
}
"#;

/// dnsmasq sending router advertisements for `prefix` (/64) on an ISP's
/// `eth0`, every few seconds; stopped on drop.
fn router_advertisements(isp: &str, prefix: &str) -> DhcpServer {
    let child = Command::new("ip")
        .args(["netns", "exec", isp, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0"])
        .args(["--interface=eth0", "--bind-interfaces", "--enable-ra", "--ra-param=eth0,4,60"])
        .arg(format!("--dhcp-range={prefix},ra-only,64,2h"))
        .arg("--dhcp-leasefile=/dev/null")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq starts");
    DhcpServer(child)
}

/// The router's global address on `interface` inside `prefix`, if any.
fn slaac_address(router: &str, interface: &str, prefix: &str) -> Option<String> {
    let out = netns::try_exec(router, &["ip", "-6", "-o", "addr", "show", "dev", interface, "scope", "global"]).ok()?;
    out.split_whitespace().filter_map(|w| w.split('/').next()).find(|a| a.starts_with(prefix)).map(str::to_string)
}

#[test]
fn slaac_address_and_router_changes_follow_the_uplink() {
    if !netns::available() || !common::require(&[common::DNSMASQ, common::CONNTRACK]) {
        return;
    }
    let Field { interface, dir, policy, t } = field("ra", "s", SLAAC_SITE);
    let isp = t.isps[1].clone();
    // A router takes advertisements while forwarding only with accept_ra 2.
    netns::exec(&t.router, &["sysctl", "-qw", &format!("net.ipv6.conf.{interface}.accept_ra=2")]);
    netns::exec(&isp, &["ip", "addr", "add", "2001:db8:65:1::1/64", "dev", "eth0"]);
    let agent = start(&t.router, &policy, &dir.join("agent.sock"), &dir.join("agent.log"), &[]);
    let lan = &t.lans[0];
    let seen_at_isp = || {
        netns::try_exec(&isp, &["conntrack", "-L", "-f", "ipv6", "-p", "tcp", "--orig-dst", netns::REMOTE_V6]).unwrap_or_default()
    };

    // No advertisement yet: the cable is down, the lan leaves by isp1.
    wait_uplink(&agent, 1, false);
    wait_uplink(&agent, 0, true);
    assert_eq!(t.paths(lan, true, 8080, 3, None), vec![Some(0); 3], "lan via isp1 before any advertisement");

    // Advertisements for 2001:db8:65:1::/64: the kernel makes an address and
    // a default route via the ISP's link-local address; the cable takes the
    // lan, NATed to that address.
    let ra = router_advertisements(&isp, "2001:db8:65:1::");
    wait_for("the cable up by SLAAC", Duration::from_secs(20), || {
        status(&agent).and_then(|s| s.uplinks[1].healthy) == Some(true)
    });
    let first = slaac_address(&t.router, &interface, "2001:db8:65:1:").expect("a SLAAC address");
    let _ = netns::try_exec(&isp, &["conntrack", "-F"]);
    wait_for("lan via the cable", Duration::from_secs(5), || t.paths(lan, true, 8080, 3, None) == vec![Some(1); 3]);
    assert!(seen_at_isp().contains(&format!("src={first} ")), "the ISP sees {first}:\n{}", seen_at_isp());

    // The ISP renumbers and its router changes: the old address and route
    // go (as when their lifetimes end), and the cable is down meanwhile.
    drop(ra);
    let old_router = netns::exec(&isp, &["ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"]);
    let old_router = old_router.split_whitespace().find(|w| w.starts_with("fe80:")).expect("link-local").to_string();
    netns::exec(&isp, &["ip", "addr", "del", &old_router, "dev", "eth0"]);
    netns::exec(&isp, &["ip", "addr", "add", "fe80::65:2/64", "dev", "eth0"]);
    netns::exec(&isp, &["ip", "addr", "add", "2001:db8:65:2::1/64", "dev", "eth0"]);
    netns::exec(&t.router, &["ip", "addr", "del", &format!("{first}/64"), "dev", &interface]);
    let _ = netns::try_exec(&t.router, &["ip", "-6", "route", "del", "default", "proto", "ra", "dev", &interface]);
    wait_uplink(&agent, 1, false);
    assert_eq!(t.paths(lan, true, 8080, 3, None), vec![Some(0); 3], "lan via isp1 while the cable has no address");

    // New advertisements from the new router: re-keyed to the new address
    // and gateway, the lan is back on the cable from the new address only.
    let ra = router_advertisements(&isp, "2001:db8:65:2::");
    wait_for("the cable up again", Duration::from_secs(20), || status(&agent).and_then(|s| s.uplinks[1].healthy) == Some(true));
    let second = slaac_address(&t.router, &interface, "2001:db8:65:2:").expect("a new SLAAC address");
    let _ = netns::try_exec(&isp, &["conntrack", "-F"]);
    wait_for("lan via the cable again", Duration::from_secs(5), || t.paths(lan, true, 8080, 3, None) == vec![Some(1); 3]);
    let seen = seen_at_isp();
    assert!(seen.contains(&format!("src={second} ")) && !seen.contains(&format!("src={first} ")), "new address only:\n{seen}");
    let rules = netns::exec(&t.router, &["ip", "-6", "rule"]);
    assert!(rules.contains(&format!("from {second} lookup")) && !rules.contains(&first), "source rule re-keyed:\n{rules}");
    let table = netns::exec(&t.router, &["ip", "-6", "route", "show", "table", "101"]);
    assert!(table.contains("via fe80::65:2 "), "the cable's table has the new router:\n{table}");
    assert!(status(&agent).is_some(), "agent alive");
    drop(ra);
}

/// An uplink whose interface appears late (a tunnel, a PPP session):
/// `IFNAME` does not exist when the agent starts.
const LATE_TUNNEL: &str = r#"
uplink tunnel {
    interface IFNAME
    address 203.0.113.220/24
    gateway 203.0.113.200
    nat
}
policy {
    default via tunnel, isp1
    route from inside via tunnel, isp1
}
"#;

#[test]
fn a_late_interface_is_picked_up_and_its_routes_come_back() {
    if !netns::available() {
        return;
    }
    let Field { interface, dir, policy, t } = field("tn", "t", &[FIXED_ISP1, LATE_TUNNEL].concat());
    let isp = t.isps[1].clone();
    // The interface goes away before the agent starts (the topology made it).
    netns::exec(&t.router, &["ip", "link", "del", &interface]);
    let agent = start(&t.router, &policy, &dir.join("agent.sock"), &dir.join("agent.log"), &[]);
    let lan = &t.lans[0];

    // Missing at start: the uplink is down, not a fatal error.
    wait_uplink(&agent, 1, false);
    wait_uplink(&agent, 0, true);
    assert_eq!(status(&agent).map(|s| s.uplinks[1].why.clone()).as_deref(), Some("interface missing"));
    assert_eq!(t.paths(lan, false, 8080, 2, None), vec![Some(0); 2], "lan via isp1 while the tunnel is missing");

    let create = || {
        netns::run(&["ip", "-n", &t.router, "link", "add", &interface, "type", "veth", "peer", "name", "eth0", "netns", &isp]);
        netns::run(&["ip", "-n", &isp, "link", "set", "eth0", "up"]);
        netns::run(&["ip", "-n", &t.router, "addr", "add", "203.0.113.220/24", "dev", &interface]);
        netns::run(&["ip", "-n", &isp, "addr", "add", "203.0.113.200/24", "dev", "eth0"]);
        netns::run(&["ip", "-n", &t.router, "link", "set", &interface, "up"]);
        // The kernel's default for a new interface is not strict everywhere.
        netns::exec(&t.router, &["sysctl", "-qw", &format!("net.ipv4.conf.{interface}.rp_filter=1")]);
        netns::exec(&isp, &["sysctl", "-qw", "net.ipv4.conf.eth0.rp_filter=1"]);
    };
    // Twice: created, deleted (the uplink goes down, its routes with it),
    // created again (everything back, nothing stale).
    for round in 0..2 {
        let _ = netns::try_exec(&isp, &["ip", "link", "del", "eth0"]);
        create();
        wait_uplink(&agent, 1, true);
        wait_for("lan via the tunnel", Duration::from_secs(5), || t.paths(lan, false, 8080, 3, None) == vec![Some(1); 3]);
        let table = netns::exec(&t.router, &["ip", "-4", "route", "show", "table", "101"]);
        assert!(table.contains("via 203.0.113.200"), "round {round}: the tunnel's table is back:\n{table}");
        let rules = netns::exec(&t.router, &["ip", "-4", "rule"]);
        assert_eq!(rules.matches("from 203.0.113.220 lookup 101").count(), 1, "round {round}: one source rule:\n{rules}");
        netns::exec(&t.router, &["ip", "link", "del", &interface]);
        wait_uplink(&agent, 1, false);
        assert_eq!(t.paths(lan, false, 8080, 2, None), vec![Some(0); 2], "round {round}: lan via isp1 without the tunnel");
    }
    assert!(status(&agent).is_some(), "agent alive");
}

/// 64 uplinks × 3 checks whose interfaces do not exist, and one uplink on
/// `lo` whose address is not there: every check fails at once, and says why.
fn many_checks_site() -> String {
    let mut s = String::from("site \"agenttest\"\n");
    for i in 0..64 {
        s.push_str(&format!(
            "uplink isp{i} {{ interface nx{i}; address 10.{i}.0.2/24; gateway 10.{i}.0.1\n    \
             check ping 10.{i}.0.1 {{ every 1s timeout 200ms }}\n    \
             check tcp 10.{i}.0.1:80 {{ every 1s timeout 200ms }}\n    \
             check http \"http://10.{i}.0.1/\" {{ every 1s timeout 200ms }} }}\n"
        ));
    }
    s.push_str("uplink local { interface lo; address 192.0.2.2/24; gateway 192.0.2.1\n    check ping 192.0.2.1 { every 1s timeout 200ms } }\n");
    s.push_str("policy { default via local, isp0 }\n");
    s
}

/// The agent's threads do not grow with its checks: 193 checks run on the
/// probe scheduler's event loop and its few workers. And a probe that cannot
/// leave says what is missing. In a namespace of its own, dry run: nothing
/// is sent, nothing set up.
#[test]
fn thread_count_is_independent_of_the_checks() {
    if !common::require(&[common::Need::Root, common::IP]) {
        return;
    }
    let dir = tempdir("agent-threads");
    let policy = build(&dir, &many_checks_site());
    let ns = format!("wthreads-{}", std::process::id());
    let _ = Command::new("ip").args(["netns", "del", &ns]).output();
    netns::run(&["ip", "netns", "add", &ns]);
    netns::run(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
    let agent = start(&ns, &policy, &dir.join("agent.sock"), &dir.join("agent.log"), &["--backend", "dry-run"]);
    let start = Instant::now();
    let mut seen = None;
    while start.elapsed() < Duration::from_secs(10) {
        seen = status(&agent).filter(|s| s.uplinks.iter().all(|u| u.checks.iter().all(|c| c.verdict.is_some())));
        if seen.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let proc_status = std::fs::read_to_string(format!("/proc/{}/status", agent.child.id())).unwrap_or_default();
    drop(agent);
    let _ = Command::new("ip").args(["netns", "del", &ns]).output();
    let s = seen.expect("every check has a verdict within 10 s");
    let threads: usize = proc_status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("Threads: in /proc/PID/status");
    // The main loop, signals, the control socket, the plugin host's ticker,
    // the scheduler's loop and its 4 workers, and a few more (11 in all
    // today); one thread per check would be 193 more.
    println!("{threads} threads for 193 checks");
    assert!(threads <= 16, "{threads} threads for 193 checks");
    let detail = |u: usize, c: usize| s.uplinks[u].checks[c].last.last().map(|o| o.detail.clone()).unwrap_or_default();
    for c in 0..3 {
        assert_eq!(detail(0, c), "interface `nx0` does not exist", "{:?}", s.uplinks[0].checks[c]);
    }
    assert_eq!(detail(64, 0), "address `192.0.2.2` is not on interface `lo` (yet)");
}
