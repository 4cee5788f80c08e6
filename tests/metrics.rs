//! The agent's Prometheus metrics, scraped by a real Prometheus (Debian's
//! `prometheus`) in the router's namespace of a lab, through a failover:
//! promtool accepts the exposition, isp1's health goes from 1 to 0 in
//! Prometheus and the transition counter rises. Needs root, iproute2,
//! nftables, python3 and prometheus.

mod common;
mod netns;

use common::{tempdir, text, wanc, Need, WANC};
use netns::Topology;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SITE: &str = r#"
site "metrics"
uplink isp1 {
    interface vr0
    address 198.51.100.199/24
    gateway 198.51.100.100
    check ping 198.51.100.100 { every 200ms timeout 100ms fall 3 rise 2 }
}
uplink isp2 {
    interface vr2
    address 203.0.113.220/24
    gateway 203.0.113.200
    check ping 203.0.113.200 { every 200ms timeout 100ms fall 3 rise 2 }
}
policy { default via isp1, isp2 }
state both  when isp1 && isp2
state only2 when !isp1 && isp2
state none  default
"#;

/// The agent's metrics, on the router's own loopback.
const METRICS: &str = "127.0.0.1:9851";
const PROMETHEUS: &str = "127.0.0.1:9090";

/// GET `url` from inside `ns` (python3: the lab has no curl).
fn get(ns: &str, url: &str) -> Result<String, String> {
    const GET: &str = "import sys, urllib.request\nprint(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end='')";
    netns::try_exec(ns, &["python3", "-c", GET, url])
}

/// A child killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One instant query to Prometheus: the first result's value, if any.
fn query(ns: &str, promql: &str) -> Option<f64> {
    let url = format!("http://{PROMETHEUS}/api/v1/query?query={}", promql.replace(' ', "%20"));
    let reply: serde_json::Value = serde_json::from_str(&get(ns, &url).ok()?).ok()?;
    reply["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Polls `promql` until `want` holds for its value, failing after 15 s.
fn wait_query(ns: &str, promql: &str, want: impl Fn(f64) -> bool) -> f64 {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if let Some(v) = query(ns, promql).filter(|v| want(*v)) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("Prometheus never gave the wanted value for `{promql}`: last {:?}", query(ns, promql));
}

/// `promtool check metrics` on what the agent serves now.
fn promtool_accepts(ns: &str) -> String {
    let text = get(ns, &format!("http://{METRICS}/metrics")).expect("the agent serves /metrics");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    std::io::Write::write_all(&mut promtool.stdin.take().expect("stdin"), text.as_bytes()).expect("promtool reads");
    let out = promtool.wait_with_output().expect("promtool ends");
    assert!(out.status.success(), "promtool: {}{}\n{text}", common::text(&out.stdout), common::text(&out.stderr));
    text
}

fn wait_state(control: &Path, want: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let out = wanc(&["status", "--control", control.to_str().expect("utf-8"), "--json"]);
        if text(&out.stdout).contains(&format!(r#""state":"{want}""#)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the agent never reached state {want}");
}

#[test]
fn prometheus_follows_a_failover() {
    if !netns::available() || !common::require(&[Need::Tool("prometheus", "--version", "prometheus")]) {
        return;
    }
    let dir = tempdir("metrics");
    std::fs::write(dir.join("site.wan"), SITE).expect("site written");
    let built = wanc(&[
        "build",
        "--target",
        "linux",
        dir.join("site.wan").to_str().expect("utf-8"),
        "-o",
        dir.join("out").to_str().expect("utf-8"),
    ]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    let site =
        wanc::driver::compile_source_for("metrics.wan", SITE, &[wanc::lower::Target::Linux]).plan.expect("site compiles").site;
    let t = Topology::build(&site, "m");
    let control = dir.join("agent.sock");
    let _agent = Killed(
        Command::new("ip")
            .args(["netns", "exec", &t.router, WANC, "agent"])
            .arg(dir.join("out/metrics.wanc"))
            .args(["--backend", "dry-run", "--metrics", METRICS, "--control"])
            .arg(&control)
            .stderr(std::fs::File::create(dir.join("agent.log")).expect("log"))
            .spawn()
            .expect("agent starts"),
    );
    std::fs::write(
        dir.join("prometheus.yml"),
        format!("scrape_configs:\n  - job_name: wanc\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n    static_configs:\n      - targets: ['{METRICS}']\n"),
    )
    .expect("config written");
    let _prometheus = Killed(
        Command::new("ip")
            .args(["netns", "exec", &t.router, "prometheus"])
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address={PROMETHEUS}"))
            .stderr(std::fs::File::create(dir.join("prometheus.log")).expect("log"))
            .spawn()
            .expect("prometheus starts"),
    );

    wait_state(&control, "both");
    let text = promtool_accepts(&t.router);
    assert!(text.contains(r#"wanc_build_info{version=""#), "{text}");
    wait_query(&t.router, r#"wanc_uplink_healthy{uplink="isp1"}"#, |v| v == 1.0);
    let before = wait_query(&t.router, "sum(wanc_state_transitions_total)", |v| v >= 1.0);
    wait_query(&t.router, r#"wanc_check_rtt_seconds{uplink="isp1"}"#, |v| v > 0.0);

    // isp1's gateway stops answering.
    netns::exec(&t.isps[0], &["nft", "add table inet cut { chain c { type filter hook prerouting priority -300; drop; }; }"]);
    wait_state(&control, "only2");
    wait_query(&t.router, r#"wanc_uplink_healthy{uplink="isp1"}"#, |v| v == 0.0);
    wait_query(&t.router, r#"wanc_state{state="only2"}"#, |v| v == 1.0);
    wait_query(&t.router, "sum(wanc_state_transitions_total)", |v| v > before);
    wait_query(&t.router, r#"wanc_check_loss_ratio{uplink="isp1"}"#, |v| v == 1.0);
    promtool_accepts(&t.router);
}
