//! The size and build time of the OpenBSD output (pf rulesets and
//! ifstated.conf) of the sites that once grew faster than the model: a
//! `count(…) >= 12` over 24 uplinks, and derived states over 24, 64 and 254
//! uplinks. The Linux output of the same site is printed beside it.
//!
//!     cargo bench --bench openbsd_size
//!
//! The time is that of compiling the source and emitting the files in
//! this process (the same for both targets), the best of three runs; the
//! model is SITE.ir.json and SITE.wanc, which every target's folder holds.

#[path = "openbsd_sites.rs"]
mod openbsd_sites;

use std::time::{Duration, Instant};
use wanc::backend::{self, linux, openbsd};
use wanc::driver;
use wanc::output::OutputFile;

fn bytes(files: &[OutputFile]) -> usize {
    files.iter().map(|f| f.contents.len()).sum()
}

/// The best of three runs of `f`, and its last result.
fn best<T>(f: impl Fn() -> T) -> (Duration, T) {
    let mut out = None;
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let value = f();
        fastest = fastest.min(start.elapsed());
        out = Some(value);
    }
    (fastest, out.expect("ran"))
}

fn main() {
    let sites = [
        ("count(24 uplinks) >= 12".to_string(), openbsd_sites::count(24, 12)),
        ("24 uplinks, derived states".to_string(), openbsd_sites::derived(24)),
        ("64 uplinks, derived states".to_string(), openbsd_sites::derived(64)),
        ("254 uplinks, derived states".to_string(), openbsd_sites::derived(254)),
    ];
    println!(
        "{:<30} {:>10} {:>14} {:>10} {:>14} {:>12}",
        "site", "openbsd s", "openbsd bytes", "linux s", "linux bytes", "model bytes"
    );
    for (name, source) in sites {
        let compiled = driver::compile_source("site.wan", &source);
        assert!(!compiled.has_errors(), "{name}: {}", wanc::render::short(&compiled.diagnostics, &compiled.sources));
        let (bsd_time, bsd) = best(|| {
            let plan = driver::compile_source("site.wan", &source).plan.expect("a model");
            openbsd::emit(&plan)
        });
        let (linux_time, lin) = best(|| {
            let plan = driver::compile_source("site.wan", &source).plan.expect("a model");
            let numbers = plan.linux.as_ref().expect("fits Linux");
            linux::emit(&plan, numbers)
        });
        // The model itself: SITE.ir.json and the bytecode.
        let plan = compiled.plan.expect("a model");
        let model = bytes(&backend::all(&plan, &[]).expect("model files"));
        println!(
            "{name:<30} {:>10.3} {:>14} {:>10.3} {:>14} {:>12}",
            bsd_time.as_secs_f64(),
            bytes(&bsd),
            linux_time.as_secs_f64(),
            bytes(&lin),
            model
        );
    }
}
