//! The agent's figures, measured in network namespaces (root, iproute2,
//! nftables, python3):
//!
//! - failover: time from cutting an uplink to the route change and to the
//!   first lan connection through the other uplink, at 200 ms × fall 3 and
//!   at the defaults (10 s × fall 3);
//! - the time to apply a state change and to reload, as the agent logs them;
//! - RSS and CPU of an agent probing 16 uplinks every second.
//!
//!     cargo bench --bench agent
//!
//! Aims: failover within interval × fall + 100 ms, apply under 5 ms, reload
//! under 10 ms, RSS under 20 MB.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/netns/mod.rs"]
mod netns;

use netns::Topology;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
    std::fs::write(dir.join("site.wan"), source).expect("site");
    let out = Command::new(wanc()).arg("build").arg(dir.join("site.wan")).arg("-o").arg(dir.join("out")).output().expect("wanc");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = dir.join("agent.log");
    let control = dir.join("agent.sock");
    let child = Command::new("ip")
        .args(["netns", "exec", router])
        .arg(wanc())
        .arg("agent")
        .arg(dir.join("out/bench.wanc"))
        .arg("--control")
        .arg(&control)
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
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
    let model = wanc::driver::compile_source("bench.wan", &source).plan.expect("site compiles").site;
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
    use std::io::BufRead;
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
    let model = wanc::driver::compile_source("bench.wan", &source).plan.expect("site compiles").site;
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

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !netns::available() {
        return;
    }
    failover("200ms", "100ms", Duration::from_millis(600));
    footprint();
    if std::env::var_os("WANC_BENCH_DEFAULTS").is_some() {
        failover("10s", "1s", Duration::from_secs(30));
    } else {
        println!("(set WANC_BENCH_DEFAULTS=1 for the run at the defaults, 10 s × fall 3: about a minute)");
    }
}
