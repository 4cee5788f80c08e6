//! Probe plugins at run time: a sandboxed WebAssembly host for custom health
//! checks (ABI version 1, `plugins/ABI.md`).
//!
//! ```no_run
//! use wanc::plugin::{PluginHost, ProbeRequest};
//! # fn main() -> Result<(), wanc::plugin::PluginError> {
//! let host = PluginHost::new()?;
//! let plugin = host.load("target/plugins/http_status.wasm".as_ref())?;
//! let settings = [("url".to_string(), "http://192.0.2.1/health".to_string())].into();
//! let request = ProbeRequest::new(settings, Some("198.51.100.199".parse().unwrap()), std::time::Duration::from_secs(1));
//! let outcome = host.probe(&plugin, &request);
//! println!("{} {}", outcome.up, outcome.reason);
//! # Ok(()) }
//! ```
//!
//! One `PluginHost` serves every plugin and may probe from many threads at
//! once. A plugin is compiled once by `load`; each probe gets a fresh
//! instance, so no state survives from one probe to the next. The sandbox:
//! no WASI and no imports besides the network functions in `imports`, which
//! reach only the targets of the request from its source address; a memory
//! cap; and the request's timeout, which interrupts running code and bounds
//! every blocking network call.

mod abi;
mod host;
mod imports;
mod net;
mod sys;
mod targets;

pub use host::{Limits, LoadedPlugin, PluginHost};
pub use targets::AllowedTarget;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// One probe: the check's settings, the uplink's source address, the
/// timeout, and the addresses the plugin may reach.
#[derive(Clone, Debug)]
pub struct ProbeRequest {
    pub settings: BTreeMap<String, String>,
    /// Every socket is bound to this address; `None` lets the kernel choose.
    pub source: Option<IpAddr>,
    pub timeout: Duration,
    pub targets: Vec<AllowedTarget>,
}

impl ProbeRequest {
    /// A request whose targets are the addresses its settings name (see
    /// `AllowedTarget::from_settings`).
    pub fn new(settings: BTreeMap<String, String>, source: Option<IpAddr>, timeout: Duration) -> ProbeRequest {
        let targets = AllowedTarget::from_settings(&settings);
        ProbeRequest { settings, source, timeout, targets }
    }
}

/// What a probe found. Every failure of the plugin (trap, timeout, memory
/// cap, malformed result) is `up: false` with the reason.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeOutcome {
    pub up: bool,
    pub reason: String,
    /// What the plugin measured, by convention a round-trip time in µs.
    pub measurement: Option<u64>,
}

impl ProbeOutcome {
    fn down(reason: String) -> ProbeOutcome {
        ProbeOutcome { up: false, reason, measurement: None }
    }
}

/// Why a plugin cannot be loaded.
#[derive(Debug)]
pub enum PluginError {
    /// The file cannot be read.
    Missing(String),
    /// Not WebAssembly, or it fails while declaring itself.
    Invalid(String),
    /// It speaks another ABI version.
    Abi(i32),
    /// Its exports or imports do not match ABI version 1.
    Interface(String),
    /// The host itself could not start.
    Host(String),
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginError::Missing(why) => write!(f, "cannot read the plugin: {why}"),
            PluginError::Invalid(why) => write!(f, "not a usable plugin: {why}"),
            PluginError::Abi(v) => write!(f, "plugin speaks ABI version {v}, wanc speaks {}", abi::VERSION),
            PluginError::Interface(what) => f.write_str(what),
            PluginError::Host(why) => write!(f, "cannot start the plugin host: {why}"),
        }
    }
}

impl std::error::Error for PluginError {}
