//! `wanc check` on a large generated site: 64 uplinks, 5,000 policy rules and
//! 100 declared states. Prints wall time (min and median of several runs)
//! and the peak resident memory of a process that only compiles it.
//!
//!     cargo bench --bench check_large
//!
//! Aim (release): under 100 ms and 100 MB.

use std::fmt::Write;
use std::process::Command;
use std::time::{Duration, Instant};

const UPLINKS: usize = 64;
const RULES: usize = 5_000;
const STATES: usize = 100;
const RUNS: usize = 7;

fn generate() -> String {
    let mut s = String::from("site \"large\"\n");
    for l in 0..8 {
        let _ = writeln!(s, "lan lan{l} {{ interface vlan{l}; network 10.{}.{l}.0/24 }}", 200);
    }
    for u in 0..UPLINKS {
        let _ = writeln!(
            s,
            "uplink u{u} {{\n    interface em{u}\n    address 172.16.{u}.2/24\n    gateway 172.16.{u}.1\n    nat\n    weight {}\n    check ping 172.16.{u}.1 {{ every 10s timeout 1s }}\n    check tcp 172.16.{u}.1:443 {{ every 30s }}\n    healthy when any\n    on down {{ flush states; notify \"u{u} down\" }}\n}}",
            1 + u % 3
        );
    }
    s.push_str("policy {\n    default via u0, u1, u2, u3\n");
    for r in 0..RULES {
        let (a, b, c) = (r % UPLINKS, (r * 7 + 1) % UPLINKS, (r * 13 + 2) % UPLINKS);
        let (a, b, c) = (a, if b == a { (b + 1) % UPLINKS } else { b }, c);
        let c = if c == a || c == b { (a.max(b) + 1) % UPLINKS } else { c };
        let port = 1024 + r % 60_000;
        let _ = match r % 4 {
            0 => writeln!(s, "    route from lan{} proto tcp to port {port} via u{a}, u{b}, u{c}", r % 8),
            1 => writeln!(s, "    route from 10.200.{}.0/24 via balance(u{a}, u{b}, u{c})", r % 8),
            2 => writeln!(s, "    route from lan{} to 192.0.2.{}/32 via multipath(u{a}, u{b})", r % 8, r % 250),
            _ => writeln!(s, "    forward tcp port {port} on u{a} to 10.200.{}.{}", r % 8, 10 + r % 200),
        };
    }
    s.push_str("}\n");
    for i in 0..STATES - 1 {
        let (a, b, c) = (i % UPLINKS, (i + 1) % UPLINKS, (i * 5 + 3) % UPLINKS);
        let _ = writeln!(
            s,
            "state s{i} when (u{a} && !u{b}) || count(u{a}, u{b}, u{c}) >= 3 {{\n    on enter {{ run \"logger s{i}\" }}\n}}"
        );
    }
    s.push_str("state rest default\n");
    s
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Child mode: compile once and report this process's peak memory, so the
    // figure is the compiler's alone, not the generator's.
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        let path = &args[pos + 1];
        let c = wanc::driver::compile_file(std::path::Path::new(path)).expect("generated site readable");
        assert!(!c.has_errors(), "{}", wanc::render::short(&c.diagnostics, &c.sources));
        println!("{}", peak_rss_kib());
        return;
    }
    let source = generate();
    let dir = std::env::temp_dir().join(format!("wanc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("large.wan");
    std::fs::write(&path, &source).expect("write site");

    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let c = wanc::driver::compile_file(&path).expect("readable");
        times.push(start.elapsed());
        assert!(!c.has_errors(), "{}", wanc::render::short(&c.diagnostics, &c.sources));
        assert_eq!(c.site().map(|s| s.states.len()), Some(STATES));
    }
    times.sort();
    let child = Command::new(std::env::current_exe().expect("own path")).arg("--child").arg(&path).output().expect("child runs");
    let peak: u64 = String::from_utf8_lossy(&child.stdout).trim().parse().unwrap_or(0);
    println!("check_large: {UPLINKS} uplinks, {RULES} rules, {STATES} states, {} KiB of source", source.len() / 1024);
    println!("  time   min {:.1} ms   median {:.1} ms   ({RUNS} runs)", ms(times[0]), ms(times[RUNS / 2]));
    println!("  peak RSS of a process compiling it once: {:.1} MiB", peak as f64 / 1024.0);
    let _ = std::fs::remove_dir_all(&dir);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
