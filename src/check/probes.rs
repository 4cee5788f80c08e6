//! Checks: probe targets, options, timing, and plugin settings.

use super::names::Kind;
use super::Checker;
use crate::ast::{self, CheckKind, CheckOption, ValueKind};
use crate::codes::Code;
use crate::diagnostic::{suggest, Diagnostic};
use crate::ir::{self, Probe, Target};
use crate::source::Span;
use ipnet::IpNet;
use std::collections::BTreeMap;

const COMMON: &[&str] = &["every", "timeout", "count", "rise", "fall", "loss", "latency"];
const THRESHOLDS: &[&str] = &["loss", "latency"];

pub const DEFAULT_EVERY_MS: u64 = 10_000;
pub const DEFAULT_TIMEOUT_MS: u64 = 1_000;
pub const DEFAULT_COUNT: u32 = 1;
pub const DEFAULT_RISE: u32 = 2;
pub const DEFAULT_FALL: u32 = 3;

impl<'a> Checker<'a, '_> {
    pub fn check(&mut self, check: &'a ast::Check, up: &'a ast::Uplink, addresses: &[IpNet]) -> Option<ir::Check> {
        // A plugin that failed to load was reported already; its settings
        // are unknown, so they are taken as given.
        let (extra, plugin): (Vec<String>, bool) = match &check.kind {
            CheckKind::Http { .. } => (vec!["expect".into()], false),
            CheckKind::Dns(_) => (vec!["query".into()], false),
            CheckKind::Plugin(name) => match self.plugin_settings(name) {
                Some(settings) => (settings.iter().map(|s| s.name.clone()).collect(), true),
                None => (check.options.iter().map(|o| o.name.name.clone()).collect(), true),
            },
            _ => (Vec::new(), false),
        };
        let options = self.known_options(&check.options, &extra, plugin);
        let every = self.option(&options, "every").and_then(|o| self.positive_duration(o)).unwrap_or(DEFAULT_EVERY_MS);
        let timeout = self.option(&options, "timeout").and_then(|o| self.positive_duration(o)).unwrap_or(DEFAULT_TIMEOUT_MS);
        let count = self.small_count(&options, "count", DEFAULT_COUNT);
        let rise = self.small_count(&options, "rise", DEFAULT_RISE);
        let fall = self.small_count(&options, "fall", DEFAULT_FALL);
        let loss = self.option(&options, "loss").and_then(|o| self.percent(&o.value));
        if let (Some(p), Some(o)) = (loss, self.option(&options, "loss")) {
            if p <= 0.0 {
                self.out_of_range(o.value.span, "`loss < 0%` can never hold".into(), "a loss threshold is above 0% and at most 100%".into());
            }
        }
        let latency = self.option(&options, "latency").and_then(|o| self.positive_duration(o));
        if u64::from(count).saturating_mul(timeout) >= every {
            self.diags.push(
                Diagnostic::new(Code::CheckOverlap, check.span, "check timing overlaps itself")
                    .label(format!("{count} × {} ≥ every {}", fmt_ms(timeout), fmt_ms(every)))
                    .help(format!(
                        "one round can take `count × timeout` = {}; make `every` longer than that, or lower `count` or `timeout`{}",
                        fmt_ms(u64::from(count) * timeout),
                        if self.option(&options, "every").is_none() { " (`every` defaults to 10s)" } else { "" }
                    )),
            );
        }
        let probe = self.probe(check, &options, up, addresses)?;
        Some(ir::Check {
            probe,
            every_ms: every,
            timeout_ms: timeout,
            count,
            rise,
            fall,
            max_loss_percent: loss,
            max_latency_ms: latency,
        })
    }

    fn probe(&mut self, check: &'a ast::Check, options: &[&'a CheckOption], up: &'a ast::Uplink, addresses: &[IpNet]) -> Option<Probe> {
        if addresses.is_empty() {
            self.needs_address(up, check.span, "probes are sent from the uplink's address so that they leave by it");
        }
        Some(match &check.kind {
            CheckKind::Ping(target) => Probe::Ping { target: self.target(target, addresses)? },
            CheckKind::Tcp { host, port } => {
                let target = self.target(host, addresses)?;
                let port = self.integer(port, 1..=65535, "a port")? as u16;
                Probe::Tcp { target, port }
            }
            CheckKind::Dns(server) => {
                let target = self.target(server, addresses)?;
                let Target::Address(server) = target else { return None };
                let query = match self.option(options, "query") {
                    Some(o) => self.string(&o.value)?,
                    None => ".".to_string(),
                };
                Probe::Dns { server, query }
            }
            CheckKind::Http { url, url_span } => {
                self.url_host(url, *url_span);
                let expect = match self.option(options, "expect") {
                    Some(o) => self.integer(&o.value, 100..=599, "an HTTP status")? as u16,
                    None => 200,
                };
                Probe::Http { url: url.clone(), expect }
            }
            CheckKind::Plugin(name) => {
                let declared = self.plugin_settings(name).unwrap_or(&[]).to_vec();
                self.names.expect(name, &[Kind::Plugin], self.diags)?;
                let mut settings = BTreeMap::new();
                for o in options.iter().filter(|o| !COMMON.contains(&o.name.name.as_str())) {
                    settings.insert(o.name.name.clone(), self.setting_text(&o.value));
                }
                for s in declared.iter().filter(|s| s.required && !settings.contains_key(&s.name)) {
                    self.diags.push(
                        Diagnostic::new(Code::PluginSetting, check.span, format!("plugin `{}` requires setting `{}`", name.name, s.name))
                            .label(format!("`{}` is missing", s.name))
                            .help(format!("add `{} VALUE` inside the check's `{{ }}`", s.name)),
                    );
                }
                Probe::Plugin { plugin: name.name.clone(), settings }
            }
        })
    }

    /// A probe target: an address (of a family the uplink can send from) or
    /// a hostname, which works but warns.
    fn target(&mut self, value: &'a ast::Value, addresses: &[IpNet]) -> Option<Target> {
        if let ValueKind::Hostname(name) = &value.kind {
            self.hostname_warning(value.span, name);
            return Some(Target::Hostname(name.clone()));
        }
        let addr = self.address(value)?;
        if !addresses.is_empty() && !addresses.iter().any(|n| n.addr().is_ipv4() == addr.addr.is_ipv4()) {
            let (fam, other) = if addr.addr.is_ipv4() { ("IPv4", "IPv6") } else { ("IPv6", "IPv4") };
            self.diags.push(
                Diagnostic::new(Code::ProbeFamily, value.span, format!("{fam} probe target on an {other}-only uplink"))
                    .label(format!("the uplink has no {fam} address to send from"))
                    .help(format!("probe an {other} target, or give the uplink an {fam} address")),
            );
            return None;
        }
        Some(Target::Address(addr.addr))
    }

    fn hostname_warning(&mut self, span: Span, name: &str) {
        self.diags.push(
            Diagnostic::new(Code::HostnameTarget, span, format!("probe target `{name}` is a hostname"))
                .label("needs DNS to resolve")
                .help("the DNS server may be reachable only through the uplink that failed; probe an address instead"),
        );
    }

    fn url_host(&mut self, url: &str, span: Span) {
        let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
        let Some(rest) = rest else {
            self.diags.push(
                Diagnostic::new(Code::TypeMismatch, span, format!("`{url}` is not an http URL"))
                    .label("expected `http://…` or `https://…`")
                    .help("write a URL such as `http://192.0.2.1/health`"),
            );
            return;
        };
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let host = if let Some(v6) = authority.strip_prefix('[') {
            v6.split(']').next().unwrap_or("")
        } else {
            authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority)
        };
        if host.parse::<std::net::IpAddr>().is_err() {
            self.hostname_warning(span, host);
        }
    }

    /// Options that exist for this check, each once; E0209 and E0104 otherwise.
    fn known_options(&mut self, options: &'a [CheckOption], extra: &[String], plugin: bool) -> Vec<&'a CheckOption> {
        let mut out: Vec<&'a CheckOption> = Vec::new();
        for o in options {
            let name = o.name.name.as_str();
            let known = COMMON.contains(&name) || extra.iter().any(|e| e == name);
            if !known {
                let candidates = COMMON.iter().copied().chain(extra.iter().map(|s| s.as_str()));
                let help = match suggest(name, candidates) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "this check takes {}",
                        COMMON.iter().copied().chain(extra.iter().map(|s| s.as_str())).map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                    ),
                };
                let code = if plugin { Code::PluginSetting } else { Code::UnknownOption };
                self.diags.push(
                    Diagnostic::new(code, o.name.span, format!("unknown option `{name}`")).label("not an option of this check").help(help),
                );
                continue;
            }
            if THRESHOLDS.contains(&name) != o.less_than {
                let help = if o.less_than {
                    format!("write `{name} VALUE`")
                } else {
                    format!("`{name}` is a threshold: write `{name} < VALUE`")
                };
                self.diags.push(
                    Diagnostic::new(Code::UnknownOption, o.span, format!("option `{name}` is written wrongly")).label("wrong form").help(help),
                );
                continue;
            }
            if let Some(first) = out.iter().find(|f| f.name.name == name) {
                let first = first.name.span;
                self.twice(o.name.span, first, name);
                continue;
            }
            out.push(o);
        }
        out
    }

    fn option(&self, options: &[&'a CheckOption], name: &str) -> Option<&'a CheckOption> {
        options.iter().find(|o| o.name.name == name).copied()
    }

    fn positive_duration(&mut self, o: &'a CheckOption) -> Option<u64> {
        let ms = self.duration(&o.value)?;
        if ms == 0 {
            self.out_of_range(o.value.span, format!("`{}` of 0 is not possible", o.name.name), "use a duration above zero".into());
            return None;
        }
        Some(ms)
    }

    fn small_count(&mut self, options: &[&'a CheckOption], name: &str, default: u32) -> u32 {
        match self.option(options, name) {
            Some(o) => self.integer(&o.value, 1..=100, &format!("`{name}`")).map(|n| n as u32).unwrap_or(default),
            None => default,
        }
    }

    fn setting_text(&mut self, value: &ast::Value) -> String {
        match &value.kind {
            ValueKind::Str(s) => s.clone(),
            _ => self.sources.snippet(value.span).to_string(),
        }
    }

    /// The settings a plugin declares; `None` when it did not load.
    fn plugin_settings(&self, name: &ast::Ident) -> Option<&[ir::PluginSetting]> {
        match self.names.get(&name.name) {
            Some(sym) if sym.kind == Kind::Plugin => self.plugin_infos[sym.index].as_deref(),
            _ => None,
        }
    }
}

pub fn fmt_ms(ms: u64) -> String {
    match ms {
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}
