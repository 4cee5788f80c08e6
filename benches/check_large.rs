//! `wanc check` on a large generated site: 64 uplinks, 5,000 policy rules and
//! 100 declared states. Prints wall time (min and median of several runs)
//! and the peak resident memory of a process that only compiles it.
//!
//!     cargo bench --bench check_large
//!
//! Aim (release): under 100 ms and 100 MB.

use std::process::Command;
use std::time::{Duration, Instant};

#[path = "large_site.rs"]
mod large_site;

const UPLINKS: usize = 64;
const RULES: usize = 5_000;
const STATES: usize = 100;
const RUNS: usize = 7;

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
    let source = large_site::generate(UPLINKS, RULES, STATES);
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
    faulty_lines(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// 80,000 faulty lines: every diagnostic collected (each once) and
/// rendered, in time linear in their number.
fn faulty_lines(dir: &std::path::Path) {
    const LINES: usize = 80_000;
    let lines: String = (0..LINES).map(|i| format!("const x{i} = 300.1.1.{}\n", i % 250)).collect();
    let path = dir.join("faulty.wan");
    std::fs::write(&path, format!("site \"s\"\n{lines}")).expect("write site");
    let start = Instant::now();
    let c = wanc::driver::compile_file(&path).expect("readable");
    let checked = start.elapsed();
    let text = wanc::render::short(&c.diagnostics, &c.sources);
    let rendered = start.elapsed();
    assert_eq!(text.lines().count(), LINES);
    println!("faulty lines: {LINES} lines, {LINES} diagnostics");
    println!("  collected in {:.1} ms, rendered (short) by {:.1} ms", ms(checked), ms(rendered));
    // The same faults on one line: columns come from the line index, and
    // from the character index where a name is not ASCII.
    for mark in ["e", "é"] {
        let one: Vec<String> =
            (0..LINES / 4).map(|i| format!("const s{i} = \"{mark}\"; const x{i} = 300.1.1.{}", i % 250)).collect();
        std::fs::write(&path, format!("site \"s\"\n{}\n", one.join("; "))).expect("write site");
        let start = Instant::now();
        let c = wanc::driver::compile_file(&path).expect("readable");
        let text = wanc::render::short(&c.diagnostics, &c.sources);
        assert_eq!(text.lines().count(), LINES / 4);
        println!(
            "  {} on one line of {} KiB ({}): checked and rendered by {:.1} ms",
            LINES / 4,
            one.join("; ").len() / 1024,
            if mark.is_ascii() { "ASCII" } else { "with `é`" },
            ms(start.elapsed())
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
