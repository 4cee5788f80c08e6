//! `wanc build` of large generated sites, as a user runs it: wall time,
//! peak resident memory of the process and the size of what it writes, for
//! 64 uplinks × 5,000 rules × 100 states and 64 × 50,000 × 100.
//!
//!     cargo bench --bench build_large
//!     WANC_BEFORE=/path/to/older/wanc cargo bench --bench build_large
//!
//! With `WANC_BEFORE` the same sites are also built by that binary, side by
//! side (an older binary that exhausts memory is stopped at 8 GiB).
//! Aims: the first under 1 s, 200 MB and 20 MB of output; the second within
//! 2 GB.

#[path = "large_site.rs"]
mod large_site;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SITES: [(usize, usize, usize); 2] = [(64, 5_000, 100), (64, 50_000, 100)];

struct Run {
    time: Duration,
    peak_kib: i64,
    ok: bool,
    output: u64,
    files: usize,
}

/// Runs `wanc build` and takes its peak memory from the kernel's account of
/// the finished child (getrusage's ru_maxrss, via wait4).
fn build(wanc: &Path, source: &Path, out: &Path) -> Run {
    let _ = std::fs::remove_dir_all(out);
    let start = Instant::now();
    let mut command = Command::new(wanc);
    command.arg("build").arg(source).arg("-o").arg(out).stdout(Stdio::null()).stderr(Stdio::null());
    // An older build may try to take all memory: cap it.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 8 << 30, rlim_max: 8 << 30 };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
    // Reaped by wait4, which also gives its resource usage (peak RSS).
    #[allow(clippy::zombie_processes)]
    let child = command.spawn().expect("wanc runs");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let time = start.elapsed();
    let (output, files) = size(out);
    Run { time, peak_kib: usage.ru_maxrss, ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, output, files }
}

fn size(dir: &Path) -> (u64, usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return (0, 0) };
    let mut total = (0, 0);
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            let (b, n) = size(&path);
            total = (total.0 + b, total.1 + n);
        } else {
            total = (total.0 + entry.metadata().map(|m| m.len()).unwrap_or(0), total.1 + 1);
        }
    }
    total
}

fn print(label: &str, run: &Run) {
    println!(
        "  {label:<7} {:>8.2} s   peak RSS {:>7.1} MiB   output {:>8.2} MiB in {} files{}",
        run.time.as_secs_f64(),
        run.peak_kib as f64 / 1024.0,
        run.output as f64 / (1024.0 * 1024.0),
        run.files,
        if run.ok { "" } else { "   FAILED (nothing written)" }
    );
}

fn main() {
    let wanc = PathBuf::from(env!("CARGO_BIN_EXE_wanc"));
    let before = std::env::var_os("WANC_BEFORE").map(PathBuf::from);
    let dir = std::env::temp_dir().join(format!("wanc-build-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (uplinks, rules, states) in SITES {
        let source = dir.join(format!("large-{rules}.wan"));
        let text = large_site::generate(uplinks, rules, states);
        std::fs::write(&source, &text).expect("write site");
        println!("build_large: {uplinks} uplinks, {rules} rules, {states} states, {} KiB of source", text.len() / 1024);
        print("wanc", &build(&wanc, &source, &dir.join("out")));
        if let Some(before) = &before {
            print("before", &build(before, &source, &dir.join("out-before")));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
