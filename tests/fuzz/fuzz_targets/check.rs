//! Any bytes through the whole pipeline: parse, check, inspect, every back
//! end. A panic or a hang is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let c = wanc::driver::compile_source("fuzz.wan", &text);
    let _ = wanc::render::short(&c.diagnostics, &c.sources);
    if let Some(plan) = &c.plan {
        let _ = wanc::inspect::inspect(&plan.site);
        let _ = wanc::backend::all(plan, &wanc::lower::Target::ALL);
    }
});
