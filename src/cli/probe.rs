//! `wanc probe PLUGIN.wasm [--set KEY=VALUE]… [--source ADDR] [--timeout D]`:
//! one probe from the command line, for trying a plugin out.

use super::USAGE;
use crate::duration::DurationError;
use crate::plugin::{AllowedTarget, PluginHost, ProbeRequest};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

const UP: u8 = 0;
const DOWN: u8 = 1;

/// The arguments of `wanc probe`.
#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// The plugin, a .wasm file
    plugin: PathBuf,
    /// A setting of the check, such as `url=http://192.0.2.1/` (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// Source address of every connection (the uplink's address)
    #[arg(long, value_name = "ADDR")]
    source: Option<IpAddr>,
    /// Timeout of the whole probe, such as `2s` or `500ms`
    #[arg(long, value_name = "D", default_value = "1s", value_parser = parse_duration)]
    timeout: Duration,
    /// Another address the plugin may reach, `IP` or `IP:PORT`, besides those
    /// its `url`, `server` and `target` settings name (repeatable)
    #[arg(long = "allow", value_name = "TARGET")]
    allow: Vec<AllowedTarget>,
}

/// Exit status: 0 up, 1 down, 2 when the plugin cannot be loaded or its
/// settings do not fit it. The outcome and its reason go to stderr.
pub fn probe(args: &ProbeArgs) -> u8 {
    let host = match PluginHost::new() {
        Ok(host) => host,
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    };
    let plugin = match host.load(&args.plugin) {
        Ok(plugin) => plugin,
        Err(e) => {
            eprintln!("error: plugin `{}`: {e}", args.plugin.display());
            return USAGE;
        }
    };
    let settings: BTreeMap<String, String> = args.settings.iter().cloned().collect();
    let declared = plugin.settings();
    if let Some(key) = settings.keys().find(|k| !declared.iter().any(|s| &s.name == *k)) {
        let names: Vec<&str> = declared.iter().map(|s| s.name.as_str()).collect();
        eprintln!(
            "error: the plugin has no setting `{key}`; it has: {}",
            if names.is_empty() { "none".into() } else { names.join(", ") }
        );
        return USAGE;
    }
    if let Some(s) = declared.iter().find(|s| s.required && !settings.contains_key(&s.name)) {
        eprintln!("error: the plugin requires setting `{}`; pass `--set {}=VALUE`", s.name, s.name);
        return USAGE;
    }
    let mut request = ProbeRequest::new(settings, args.source, args.timeout);
    request.targets.extend(args.allow.iter().copied());
    let outcome = host.probe(&plugin, &request);
    let measurement = outcome.measurement.map(|m| format!(" (measurement {m})")).unwrap_or_default();
    if outcome.up {
        eprintln!("up: {}{measurement}", outcome.reason);
        UP
    } else {
        eprintln!("down: {}{measurement}", outcome.reason);
        DOWN
    }
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.to_string())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// A duration as the language writes it, above zero.
fn parse_duration(text: &str) -> Result<Duration, String> {
    match crate::duration::parse(text) {
        Ok(0) => Err("the timeout must be longer than zero".into()),
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(DurationError::Form) => Err(format!("`{text}` is not a duration such as `500ms`, `2s` or `1m`")),
        Err(DurationError::TooLong) => Err(format!("duration `{text}` is too long")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)), "the units of the language");
        assert!(parse_duration("2").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
    }

    #[test]
    fn settings() {
        assert_eq!(parse_setting("url=http://x/?a=b"), Ok(("url".into(), "http://x/?a=b".into())));
        assert_eq!(parse_setting("body="), Ok(("body".into(), String::new())));
        assert!(parse_setting("=x").is_err());
        assert!(parse_setting("novalue").is_err());
    }
}
