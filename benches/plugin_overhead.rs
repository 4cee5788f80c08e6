//! Per-probe overhead of a plugin that reports up without touching the
//! network, in a compiled-once `PluginHost` (a fresh instance per probe),
//! against starting a process per probe. Prints figures; asserts nothing.
//!
//!     cargo bench --bench plugin_overhead
//!
//! The Rust plugin is built from source with plugins/build.sh (Debian's
//! rustc, clang, lld); without them only the minimal WAT plugin is measured.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use wanc::plugin::{LoadedPlugin, PluginHost, ProbeRequest};

const PLUGIN_RUNS: usize = 5_000;
const PROCESS_RUNS: usize = 300;
const WANC_RUNS: usize = 20;

/// The smallest plugin ABI version 1 allows: a constant "up" record.
const MINIMAL: &str = r#"(module
  (memory (export "memory") 1)
  ;; status 1, flags 0, reserved, measurement 0, reason "ok"
  (data (i32.const 64) "\01\00\00\00\00\00\00\00\00\00\00\00ok")
  (func (export "wanc_abi_version") (result i32) i32.const 1)
  (func (export "wanc_settings") (result i64) i64.const 0)
  (func (export "wanc_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "wanc_probe") (param i32 i32) (result i64) i64.const 0x400000000e))"#;

fn main() {
    let host = PluginHost::new().expect("host starts");
    let request = ProbeRequest::new(BTreeMap::new(), None, Duration::from_secs(1));
    println!("per-probe overhead (µs)                     runs      mean    median       p99");

    let minimal = host.load_bytes(&wat::parse_str(MINIMAL).expect("valid wat")).expect("minimal plugin loads");
    report("plugin call, minimal WAT plugin", PLUGIN_RUNS, || probe(&host, &minimal, &request));

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugins");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/build.sh");
    let built = Command::new("sh").arg(script).arg(&dir).status().is_ok_and(|s| s.success());
    let up = dir.join("up.wasm");
    if built {
        let plugin = host.load(&up).expect("up.wasm loads");
        report("plugin call, up.wasm (Rust SDK)", PLUGIN_RUNS, || probe(&host, &plugin, &request));
    } else {
        println!("note: plugins/build.sh failed (needs /usr/bin/rustc, clang, lld); skipped up.wasm");
    }

    report("process per probe, /bin/true", PROCESS_RUNS, || {
        assert!(Command::new("/bin/true").status().is_ok_and(|s| s.success()));
    });
    if built {
        report("process per probe, wanc probe up.wasm", WANC_RUNS, || {
            let status = Command::new(env!("CARGO_BIN_EXE_wanc")).arg("probe").arg(&up).output().expect("wanc runs").status;
            assert!(status.success());
        });
    }
}

fn probe(host: &PluginHost, plugin: &LoadedPlugin, request: &ProbeRequest) {
    let outcome = host.probe(plugin, request);
    assert!(outcome.up, "{}", outcome.reason);
}

/// Runs `f` a tenth of `runs` to warm up, then `runs` times, and prints
/// mean, median and 99th percentile in microseconds.
fn report(what: &str, runs: usize, mut f: impl FnMut()) {
    for _ in 0..runs / 10 {
        f();
    }
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / runs as f64;
    let at = |q: f64| times[((runs as f64 * q) as usize).min(runs - 1)];
    println!("{what:<40} {runs:>8} {mean:>9.1} {:>9.1} {:>9.1}", at(0.5), at(0.99));
}
