//! Any text as a `wanc simulate` scenario, run on a fixed site when it
//! reads: a panic, a hang or an unbounded timeline is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use wanc::ir::Site;

const SITE: &str = include_str!("../../../examples/dual-isp-failover.wan");

fn site() -> &'static Site {
    static SITE_MODEL: OnceLock<Site> = OnceLock::new();
    SITE_MODEL.get_or_init(|| wanc::driver::compile_source("site.wan", SITE).site().expect("the example compiles").clone())
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(scenario) = wanc::simulate::parse(&text) {
        let _ = wanc::simulate::run(site(), &scenario);
    }
});
