//! The agent's figures, measured in network namespaces (root, iproute2,
//! nftables, python3):
//!
//! - failover: time from cutting an uplink to the route change and to the
//!   first lan connection through the other uplink, at 200 ms × fall 3 and
//!   at the defaults (10 s × fall 3);
//! - the time to apply a state change and to reload, as the agent logs them;
//! - RSS and CPU of an agent probing 16 uplinks every second;
//! - detection next to FRR's bfdd: at 100, 200 and 300 ms × fall (detect
//!   multiplier) 3, the time from cutting an uplink to the agent's verdict
//!   (its log line) and to bfdd's (its state change), both from the same
//!   cut, several rounds each, medians and their ratio. It needs Debian's
//!   `frr` (`apt-get install -y frr`; bfdd runs alone, without zebra or
//!   vtysh, one in the router's namespace and one in the ISP's); without it
//!   this part says so and is skipped.
//!
//!     cargo bench --bench agent
//!
//! - kernel events: with checks only every 10 s, so that no probe is
//!   involved, the time from taking an uplink's carrier away (its ISP's
//!   end of the link goes down) to the main table's default route moving
//!   to the other uplink, and from a new address on a learned uplink
//!   (`address auto ipv4`, as a DHCP client would set it) to its source
//!   rule naming it; both seen by `ip monitor` in the router, several
//!   rounds, medians. NAT needs no update: a learned address is
//!   masqueraded.
//!
//! `WANC_BENCH_ROUNDS=N` sets the rounds per interval of the side-by-side
//! (default 15). Aims: failover within interval × fall + 100 ms, apply under 5 ms, reload
//! under 10 ms, RSS under 20 MB, wanc/bfdd ≤ 1.0 at the median.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/netns/mod.rs"]
mod netns;

use netns::Topology;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

fn wanc() -> PathBuf {
    // The bench binary lives in target/release/deps; wanc in target/release.
    let exe = std::env::current_exe().expect("own path");
    let release = exe.parent().and_then(Path::parent).expect("target/release");
    release.join("wanc")
}

fn site(uplinks: usize, every: &str, timeout: &str) -> String {
    let mut s = String::from("site \"bench\"\nlan inside { interface vr_lan; network 192.168.1.0/24 }\n");
    for i in 0..uplinks {
        s.push_str(&format!(
            "uplink isp{i} {{ interface vr{i}; address 10.{i}.0.2/24; gateway 10.{i}.0.1; nat\n    check ping 10.{i}.0.1 {{ every {every} timeout {timeout} fall 3 rise 2 }} }}\n"
        ));
    }
    let names: Vec<String> = (0..uplinks).map(|i| format!("isp{i}")).collect();
    s.push_str(&format!("policy {{\n    default via {0}\n    route from inside via {0}\n}}\n", names.join(", ")));
    s
}

struct Running {
    child: Child,
    log: PathBuf,
    control: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, source: &str, router: &str) -> Running {
    std::fs::create_dir_all(dir).expect("dir");
    let log = dir.join("agent.log");
    spawn_agent(dir, source, router, Stdio::from(std::fs::File::create(&log).expect("log")), log)
}

/// Builds `source` in `dir` and runs its agent in `router`, its log going
/// to `stderr`.
fn spawn_agent(dir: &Path, source: &str, router: &str, stderr: Stdio, log: PathBuf) -> Running {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("site.wan"), source).expect("site");
    let out = Command::new(wanc())
        .arg("build")
        .arg(dir.join("site.wan"))
        .args(["--target", "linux", "-o"])
        .arg(dir.join("out"))
        .output()
        .expect("wanc");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let control = dir.join("agent.sock");
    let child = Command::new("ip")
        .args(["netns", "exec", router])
        .arg(wanc())
        .arg("agent")
        .arg(dir.join("out/bench.wanc"))
        .arg("--control")
        .arg(&control)
        .stderr(stderr)
        .spawn()
        .expect("agent");
    Running { child, log, control }
}

fn state(r: &Running) -> String {
    let out = Command::new(wanc()).args(["status", "--json", "--control"]).arg(&r.control).output().expect("status");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["state"].as_str().unwrap_or("").to_string()
}

fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// A lan client that connects every 5 ms and prints the time of the first
/// connection that the remote saw through `expect_peer`.
const PROBE_LOOP: &str = r#"
import socket, sys, time
target, peer, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
start = time.monotonic()
print("ready", flush=True)
while time.monotonic() - start < limit:
    try:
        s = socket.create_connection((target, 8080), timeout=0.05)
        if s.recv(100).decode().strip() == peer:
            print(time.monotonic() - start, flush=True); sys.exit(0)
        s.close()
    except OSError:
        pass
    time.sleep(0.005)
sys.exit(1)
"#;

fn failover(every: &str, timeout: &str, fall_limit: Duration) {
    let source = site(2, every, timeout);
    let model =
        wanc::driver::compile_source_for("bench.wan", &source, &[wanc::lower::Target::Linux]).plan.expect("site compiles").site;
    let t = Topology::build(&model, "b");
    let dir = std::env::temp_dir().join(format!("wanc-bench-agent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = start(&dir, &source, &t.router);
    wait_for(Duration::from_secs(30), || state(&r) == "via_isp0").expect("agent settles");
    std::thread::sleep(Duration::from_millis(500));
    let mut lan = Command::new("ip")
        .args(["netns", "exec", &t.lans[0], "python3", "-c", PROBE_LOOP, netns::REMOTE_V4, "100.64.1.1"])
        .arg(format!("{}", fall_limit.as_secs_f64() + 5.0))
        .stdout(Stdio::piped())
        .spawn()
        .expect("lan loop");
    let mut out = std::io::BufReader::new(lan.stdout.take().expect("stdout"));
    let mut line = String::new();
    let _ = out.read_line(&mut line);
    netns::exec(&t.isps[0], &["nft", "add table inet cut { chain c { type filter hook prerouting priority -300; drop; }; }"]);
    let route = wait_for(fall_limit + Duration::from_secs(5), || {
        netns::exec(&t.router, &["ip", "route", "show", "default"]).contains("10.1.0.1")
    });
    line.clear();
    let _ = out.read_line(&mut line);
    let _ = lan.wait();
    // The loop started just before the cut, so its clock is the cut's.
    let packet = line.trim().parse::<f64>().ok().map(Duration::from_secs_f64);
    let shown = |d: Option<Duration>| d.map(|d| format!("{:.0} ms", d.as_secs_f64() * 1000.0)).unwrap_or("not seen".into());
    println!("failover at every {every} × fall 3 (detection bound {} ms + 100 ms):", fall_limit.as_millis());
    println!("  cut → route change          {}", shown(route));
    println!("  cut → first lan connection through the other uplink   {}", shown(packet));
    let applies: Vec<u64> = std::fs::read_to_string(&r.log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split("apply_us=").nth(1)?.split_whitespace().next()?.parse().ok())
        .collect();
    if let Some(last) = applies.last() {
        println!("  apply of the state change   {:.2} ms (agent's log)", *last as f64 / 1000.0);
    }
    // Reload: the same policy again, timed by the agent and by the client.
    let started = Instant::now();
    let out = Command::new(wanc()).args(["reload", "--control"]).arg(&r.control).output().expect("reload");
    let wall = started.elapsed();
    let reload_us: Vec<u64> = std::fs::read_to_string(&r.log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split("reload_us=").nth(1)?.split_whitespace().next()?.parse().ok())
        .collect();
    println!(
        "  reload                      {:.2} ms in the agent, {:.1} ms for `wanc reload` ({})",
        reload_us.last().copied().unwrap_or(0) as f64 / 1000.0,
        wall.as_secs_f64() * 1000.0,
        String::from_utf8_lossy(&out.stdout).trim()
    );
}

fn footprint() {
    let source = site(16, "1s", "200ms");
    let model =
        wanc::driver::compile_source_for("bench.wan", &source, &[wanc::lower::Target::Linux]).plan.expect("site compiles").site;
    let t = Topology::build(&model, "f");
    let dir = std::env::temp_dir().join(format!("wanc-bench-agent16-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = start(&dir, &source, &t.router);
    wait_for(Duration::from_secs(30), || state(&r) == "via_isp0").expect("agent settles");
    let pid = r.child.id();
    let ticks = || -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
        fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
            + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
    };
    let (t0, c0) = (Instant::now(), ticks());
    std::thread::sleep(Duration::from_secs(10));
    let (secs, cpu) = (t0.elapsed().as_secs_f64(), ticks() - c0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status.lines().find(|l| l.starts_with("VmRSS")).unwrap_or("VmRSS: ?").to_string();
    println!("16 uplinks, one ping each per second, for {secs:.0} s:");
    println!("  {}   CPU {:.2} %", rss.split_whitespace().collect::<Vec<_>>().join(" "), cpu as f64 / 100.0 / secs * 100.0);
}

/// FRR's BFD daemon, as Debian's `frr` installs it.
const BFDD: &str = "/usr/lib/frr/bfdd";

/// The verdicts a process logs, each with the moment its line arrived: a
/// thread reads the lines as they come.
struct Verdicts {
    lines: Receiver<(Instant, String)>,
    /// Reads a line: `Some(up)` when it gives a verdict.
    verdict: fn(&str) -> Option<bool>,
    current: Option<(bool, Instant)>,
}

impl Verdicts {
    fn new(stream: impl Read + Send + 'static, verdict: fn(&str) -> Option<bool>) -> Verdicts {
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { return };
                if tx.send((Instant::now(), line)).is_err() {
                    return;
                }
            }
        });
        Verdicts { lines, verdict, current: None }
    }

    /// Waits up to `limit` for the verdict to be `up`; when it became so.
    fn wait(&mut self, up: bool, limit: Duration) -> Option<Instant> {
        let end = Instant::now() + limit;
        loop {
            if let Some((v, at)) = self.current {
                if v == up {
                    return Some(at);
                }
            }
            let (at, line) = self.lines.recv_timeout(end.checked_duration_since(Instant::now())?).ok()?;
            if let Some(v) = (self.verdict)(&line) {
                if self.current.map(|(c, _)| c) != Some(v) {
                    self.current = Some((v, at));
                }
            }
        }
    }
}

/// The agent's verdict on isp0's check: `… check uplink="isp0" … verdict="down" …`.
fn wanc_verdict(line: &str) -> Option<bool> {
    if !line.contains("uplink=\"isp0\"") {
        return None;
    }
    [("verdict=\"up\"", true), ("verdict=\"down\"", false)].into_iter().find(|(m, _)| line.contains(m)).map(|(_, v)| v)
}

/// bfdd's: `state-change: [… peer:10.0.0.1 …] up -> down reason:control-expired`.
fn bfdd_verdict(line: &str) -> Option<bool> {
    let change = line.split("state-change:").nth(1)?;
    [("-> up", true), ("-> down", false)].into_iter().find(|(m, _)| change.contains(m)).map(|(_, v)| v)
}

/// One bfdd in `ns`, a single-hop session from `local` to `peer` at
/// `interval` × 3, its files in `dir`, logging to its stdout.
struct Bfdd {
    child: Child,
    verdicts: Verdicts,
}

impl Bfdd {
    fn start(ns: &str, dir: &Path, local: &str, peer: &str, interval_ms: u64) -> Bfdd {
        std::fs::create_dir_all(dir).expect("bfdd dir");
        // bfdd drops to the frr user: its pid file and sockets go here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let config = format!(
            "debug bfd peer\nbfd\n peer {peer} local-address {local}\n  receive-interval {interval_ms}\n  \
             transmit-interval {interval_ms}\n  detect-multiplier 3\n !\n!\n"
        );
        std::fs::write(dir.join("bfdd.conf"), config).expect("bfdd.conf");
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, BFDD, "--log", "stdout", "--log-level", "debug", "-P", "0"])
            .arg("-f")
            .arg(dir.join("bfdd.conf"))
            .arg("-i")
            .arg(dir.join("bfdd.pid"))
            .arg("--vty_socket")
            .arg(dir)
            .arg("--bfdctl")
            .arg(dir.join("bfdd.sock"))
            .arg("-z")
            .arg(dir.join("zserv.api"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("bfdd");
        let verdicts = Verdicts::new(child.stdout.take().expect("stdout"), bfdd_verdict);
        Bfdd { child, verdicts }
    }
}

impl Drop for Bfdd {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// A number in [0, 1) from the standard library's random keys.
fn random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `ip monitor route rule` in a namespace: each line with the time it
/// arrived.
struct Monitor {
    child: Child,
    lines: Receiver<(Instant, String)>,
}

impl Monitor {
    fn start(ns: &str) -> Monitor {
        let mut child =
            Command::new("ip").args(["-n", ns, "monitor", "route", "rule"]).stdout(Stdio::piped()).spawn().expect("ip monitor");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send((Instant::now(), line)).is_err() {
                    return;
                }
            }
        });
        Monitor { child, lines }
    }

    /// The time from `since` to the first line after it that `matches`.
    fn until(&self, since: Instant, limit: Duration, matches: impl Fn(&str) -> bool) -> Option<Duration> {
        let end = Instant::now() + limit;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok((at, line)) if at >= since && matches(&line) => return Some(at - since),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }

    fn drain(&self) {
        while self.lines.try_recv().is_ok() {}
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Carrier loss → default route moved; new learned address → source rule.
fn kernel_events(rounds: usize) {
    let source = "site \"bench\"\nlan inside { interface vr_lan; network 192.168.1.0/24 }\n\
        uplink isp0 { interface vr0; address 10.0.0.2/24; gateway 10.0.0.1; nat\n    check ping 10.0.0.1 { every 10s timeout 1s } }\n\
        uplink isp1 { interface vr1; address auto ipv4; gateway 10.1.0.1; nat\n    check ping 10.1.0.1 { every 10s timeout 1s } }\n\
        policy {\n    default via isp0, isp1\n    route from inside via isp0, isp1\n}\n";
    let model =
        wanc::driver::compile_source_for("bench.wan", source, &[wanc::lower::Target::Linux]).plan.expect("site compiles").site;
    let t = Topology::build(&model, "k");
    // The learned uplink's link, as its DHCP client would have set it up.
    netns::exec(&t.isps[1], &["ip", "addr", "add", "10.1.0.1/24", "dev", "eth0"]);
    netns::exec(&t.router, &["ip", "addr", "add", "10.1.0.2/24", "dev", "vr1"]);
    // Removing a primary address removes the secondaries of its subnet too,
    // unless they are promoted (systemd's sysctl defaults set this).
    netns::exec(&t.router, &["sysctl", "-qw", "net.ipv4.conf.vr1.promote_secondaries=1"]);
    let dir = std::env::temp_dir().join(format!("wanc-bench-kernel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = start(&dir, source, &t.router);
    wait_for(Duration::from_secs(30), || state(&r) == "via_isp0").expect("agent settles");
    let monitor = Monitor::start(&t.router);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (mut carrier, mut address) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        std::thread::sleep(Duration::from_millis(200));
        monitor.drain();
        let cut = Instant::now();
        netns::exec(&t.isps[0], &["ip", "link", "set", "eth0", "down"]);
        if let Some(d) = monitor.until(cut, Duration::from_secs(5), |l| l.starts_with("default via 10.1.0.1 dev vr1")) {
            carrier.push(ms(d));
        }
        netns::exec(&t.isps[0], &["ip", "link", "set", "eth0", "up"]);
        wait_for(Duration::from_secs(10), || state(&r) == "via_isp0").expect("back on isp0");
        // A new lease's address: added before the old one goes, as dhcpcd does.
        let (old, new) = (2 + round % 2, 2 + (round + 1) % 2);
        std::thread::sleep(Duration::from_millis(200));
        monitor.drain();
        let change = Instant::now();
        netns::exec(&t.router, &["ip", "addr", "add", &format!("10.1.0.{}/24", new + 100), "dev", "vr1"]);
        netns::exec(
            &t.router,
            &["ip", "addr", "del", &format!("10.1.0.{}/24", if round == 0 { 2 } else { old + 100 }), "dev", "vr1"],
        );
        let rule = format!("from 10.1.0.{} lookup", new + 100);
        if let Some(d) = monitor.until(change, Duration::from_secs(5), |l| l.contains(&rule) && !l.starts_with("Deleted")) {
            address.push(ms(d));
        }
    }
    let show = |v: &mut Vec<f64>| {
        let n = v.len();
        let max = v.iter().copied().fold(f64::NAN, f64::max);
        format!("median {:.1} ms, max {:.1} ms ({n} of {rounds} rounds seen)", median(v), max)
    };
    println!("kernel events (checks every 10 s: no probe involved):");
    println!("  carrier lost → default route moved       {}   (aim: under 20 ms)", show(&mut carrier));
    println!(
        "  address changed → source rule re-keyed    {}   (aim: under 50 ms; NAT masquerades, nothing to change)",
        show(&mut address)
    );
}

/// Detection at `interval_ms` × 3, wanc next to bfdd on the same uplink
/// and the same cuts.
fn versus_bfdd(interval_ms: u64, rounds: usize) {
    let every = format!("{interval_ms}ms");
    let source = site(2, &every, &format!("{}ms", interval_ms / 2));
    let model =
        wanc::driver::compile_source_for("bench.wan", &source, &[wanc::lower::Target::Linux]).plan.expect("site compiles").site;
    let t = Topology::build(&model, &format!("v{interval_ms}"));
    let dir = std::env::temp_dir().join(format!("wanc-bench-bfd{interval_ms}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut agent = spawn_agent(&dir, &source, &t.router, Stdio::piped(), dir.join("agent.log"));
    let mut wanc = Verdicts::new(agent.child.stderr.take().expect("stderr"), wanc_verdict);
    let mut router = Bfdd::start(&t.router, &dir.join("bfd-router"), "10.0.0.2", "10.0.0.1", interval_ms);
    let _isp = Bfdd::start(&t.isps[0], &dir.join("bfd-isp"), "10.0.0.1", "10.0.0.2", interval_ms);
    // Both directions die at the ISP: what it receives and what it sends.
    let cut = "add table inet cut { chain i { type filter hook prerouting priority -300; drop; }; \
               chain o { type filter hook output priority -300; drop; }; }";
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let settle = Duration::from_secs(15);
        if wanc.wait(true, settle).is_none() || router.verdicts.wait(true, settle).is_none() {
            println!("  {interval_ms} ms: a session did not come up; round skipped");
            continue;
        }
        // A few good rounds, then a cut at a random phase of both schedules.
        std::thread::sleep(Duration::from_millis(interval_ms * 3) + Duration::from_millis(interval_ms).mul_f64(random()));
        netns::exec(&t.isps[0], &["nft", cut]);
        let at = Instant::now();
        let limit = Duration::from_millis(interval_ms * 3) + Duration::from_secs(3);
        let (w, b) = (wanc.wait(false, limit), router.verdicts.wait(false, limit));
        netns::exec(&t.isps[0], &["nft", "delete table inet cut"]);
        match (w, b) {
            (Some(w), Some(b)) => {
                ours.push(w.saturating_duration_since(at).as_secs_f64() * 1000.0);
                theirs.push(b.saturating_duration_since(at).as_secs_f64() * 1000.0);
            }
            _ => println!("  {interval_ms} ms: no verdict within {limit:?} (wanc {w:?}, bfdd {b:?}); round skipped"),
        }
    }
    let spread = |v: &[f64]| {
        let (lo, hi) = v.iter().fold((f64::MAX, 0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        format!("{lo:.0}–{hi:.0}")
    };
    let (so, st) = (spread(&ours), spread(&theirs));
    let (mo, mt) = (median(&mut ours), median(&mut theirs));
    println!(
        "  {interval_ms:>3} ms × 3   wanc {mo:>5.0} ms ({so})   bfdd {mt:>5.0} ms ({st})   wanc/bfdd {:.2}   ({} rounds)",
        mo / mt,
        ours.len()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !netns::available() {
        return;
    }
    failover("200ms", "100ms", Duration::from_millis(600));
    kernel_events(std::env::var("WANC_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(15));
    footprint();
    if Path::new(BFDD).exists() {
        let rounds = std::env::var("WANC_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(15);
        println!("detection, cut → verdict down (both directions dropped at the ISP; median (min–max)):");
        for interval in [100, 200, 300] {
            versus_bfdd(interval, rounds);
        }
    } else {
        println!("(no `{BFDD}`: `apt-get install -y frr` for the detection next to FRR's bfdd)");
    }
    if std::env::var_os("WANC_BENCH_DEFAULTS").is_some() {
        failover("10s", "1s", Duration::from_secs(30));
    } else {
        println!("(set WANC_BENCH_DEFAULTS=1 for the run at the defaults, 10 s × fall 3: about a minute)");
    }
}
