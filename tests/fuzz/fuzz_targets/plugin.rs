//! Any bytes as a probe plugin: compiled, checked against the ABI, its
//! settings read, and, when it loads, one probe run against the loopback
//! address. A panic, a hang past the host's limits, or memory beyond them is
//! a bug. Seed it with the plugins under `plugins/` built to wasm.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::Duration;
use wanc::plugin::{PluginHost, ProbeRequest};

fn host() -> &'static PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(|| PluginHost::new().expect("the plugin host starts"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(plugin) = host().load_bytes(data) {
        let request = ProbeRequest::new(Default::default(), Some("127.0.0.1".parse().unwrap()), Duration::from_millis(100));
        let _ = host().probe(&plugin, &request);
    }
});
