//! Checks: probe targets, options, timing, and plugin settings.

use super::names::Kind;
use super::Checker;
use crate::ast::{self, CheckKind, CheckOption, ValueKind};
use crate::codes::Code;
use crate::diagnostic::{suggest, Diagnostic};
use crate::duration;
use crate::ir::{self, Family, HttpUrl, Probe, Target};
use crate::source::Span;
use crate::validate::{self, UrlError};
use std::collections::BTreeMap;
use std::net::IpAddr;

const COMMON: &[&str] = &["every", "timeout", "count", "rise", "fall", "loss", "latency"];
const THRESHOLDS: &[&str] = &["loss", "latency"];

pub const DEFAULT_EVERY_MS: u64 = 10_000;
pub const DEFAULT_TIMEOUT_MS: u64 = 1_000;
pub const DEFAULT_COUNT: u32 = 1;
pub const DEFAULT_RISE: u32 = 2;
pub const DEFAULT_FALL: u32 = 3;

impl<'a> Checker<'a, '_> {
    pub fn check(&mut self, check: &'a ast::Check, up: &'a ast::Uplink, families: &[Family]) -> Option<ir::Check> {
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
                self.out_of_range(
                    o.value.span,
                    "`loss < 0%` can never hold".into(),
                    "a loss threshold is above 0% and at most 100%".into(),
                );
            }
        }
        let latency = self.option(&options, "latency").and_then(|o| self.positive_duration(o));
        if u64::from(count).saturating_mul(timeout) >= every {
            self.diags.push(
                Diagnostic::new(Code::CheckOverlap, check.span, "check timing overlaps itself")
                    .label(format!("{count} × {} ≥ every {}", duration::format(timeout), duration::format(every)))
                    .help(format!(
                        "one round can take `count × timeout` = {}; make `every` longer than that, or lower `count` or `timeout`{}",
                        duration::format(u64::from(count) * timeout),
                        if self.option(&options, "every").is_none() { " (`every` defaults to 10s)" } else { "" }
                    )),
            );
        }
        let probe = self.probe(check, &options, up, families)?;
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

    fn probe(
        &mut self,
        check: &'a ast::Check,
        options: &[&'a CheckOption],
        up: &'a ast::Uplink,
        families: &[Family],
    ) -> Option<Probe> {
        if families.is_empty() {
            self.needs_address(up, check.span, "probes are sent from the uplink's address so that they leave by it");
        }
        Some(match &check.kind {
            CheckKind::Ping(target) => Probe::Ping { target: self.target(target, families)? },
            CheckKind::Tcp { host, port } => {
                let target = self.target(host, families);
                let port = self.port(port);
                Probe::Tcp { target: target?, port: port? }
            }
            CheckKind::Dns(server) => {
                // The server is asked by address: finding it by name would
                // need DNS already. Refused, not warned, so that the check
                // is never dropped without a word.
                if self.hostname_of(server).is_some() {
                    let help = "a `dns` check sends its query to an address: finding the server by name would \
                                itself need DNS; write the server's address, such as `9.9.9.9`";
                    self.mismatch(server.span, "an address", "a hostname", help);
                    return None;
                }
                let Target::Address(server) = self.target(server, families)? else { return None };
                let query = match self.option(options, "query") {
                    Some(o) => {
                        let query = self.string(&o.value)?;
                        if !validate::dns_name(&query) {
                            self.diags.push(
                                Diagnostic::new(Code::InvalidLiteral, o.value.span, format!("`{query}` is not a DNS name"))
                                    .label("the name the check asks for")
                                    .help("write a name such as `example.net` (letters, digits, `-` and `_` between dots, no label starting with `-`), or `.` for the root"),
                            );
                            return None;
                        }
                        query
                    }
                    None => ".".to_string(),
                };
                Probe::Dns { server, query }
            }
            CheckKind::Http { url, url_span } => {
                let url = self.http_url(url, *url_span, families);
                let expect = match self.option(options, "expect") {
                    Some(o) => self.integer(&o.value, 100..=599, "an HTTP status")? as u16,
                    None => 200,
                };
                Probe::Http { url: url?, expect }
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
                        Diagnostic::new(
                            Code::PluginSetting,
                            check.span,
                            format!("plugin `{}` requires setting `{}`", name.name, s.name),
                        )
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
    fn target(&mut self, value: &'a ast::Value, families: &[Family]) -> Option<Target> {
        if let Some(name) = self.hostname_of(value) {
            self.hostname_warning(value.span, name);
            return Some(Target::Hostname(name.to_string()));
        }
        let addr = self.plain_address(value, "a probe target")?;
        self.probe_family(addr.addr, value.span, families)?;
        Some(Target::Address(addr.addr))
    }

    /// The hostname a value is, directly or through constants.
    fn hostname_of(&self, value: &'a ast::Value) -> Option<&'a str> {
        let mut value = value;
        for _ in 0..16 {
            match &value.kind {
                ValueKind::Hostname(name) => return Some(name),
                ValueKind::Name(ident) => match self.names.get(&ident.name) {
                    Some(sym) if sym.kind == Kind::Const => value = self.items.consts[sym.index].1,
                    _ => return None,
                },
                _ => return None,
            }
        }
        None
    }

    /// E0503 when the uplink has addresses (given or learned), none of them of
    /// `addr`'s family.
    fn probe_family(&mut self, addr: IpAddr, span: Span, families: &[Family]) -> Option<()> {
        if !families.is_empty() && !families.contains(&Family::of(&addr)) {
            let (fam, other) = if addr.is_ipv4() { ("IPv4", "IPv6") } else { ("IPv6", "IPv4") };
            self.diags.push(
                Diagnostic::new(Code::ProbeFamily, span, format!("{fam} probe target on an {other}-only uplink"))
                    .label(format!("the uplink has no {fam} address to send from"))
                    .help(format!("probe an {other} target, or give the uplink an {fam} address")),
            );
            return None;
        }
        Some(())
    }

    fn hostname_warning(&mut self, span: Span, name: &str) {
        self.diags.push(
            Diagnostic::new(Code::HostnameTarget, span, format!("probe target `{name}` is a hostname"))
                .label("needs DNS to resolve")
                .help("the DNS server may be reachable only through the uplink that failed; probe an address instead"),
        );
    }

    /// An http check's URL, read by `validate::http_url`: a failure is
    /// E0201; an IP host must be of a family the uplink can send from
    /// (E0503), a host name warns (W0502).
    fn http_url(&mut self, text: &str, span: Span, families: &[Family]) -> Option<HttpUrl> {
        let (url, host_at) = match validate::http_url(text) {
            Ok(parsed) => parsed,
            Err(UrlError::Scheme) => {
                self.diags.push(
                    Diagnostic::new(Code::TypeMismatch, span, format!("`{text}` is not an http URL"))
                        .label("expected `http://…` or `https://…`")
                        .help("write a URL such as `http://192.0.2.1/health`"),
                );
                return None;
            }
            Err(UrlError::Invalid(help)) => return self.invalid_url(text, span, help),
        };
        let host_span = self.span_within(span, text, host_at.start, host_at.len());
        match &url.host {
            Target::Address(addr) => self.probe_family(*addr, host_span, families)?,
            Target::Hostname(name) => self.hostname_warning(host_span, name),
        }
        Some(url)
    }

    fn invalid_url<T>(&mut self, url: &str, span: Span, help: &str) -> Option<T> {
        self.diags.push(
            Diagnostic::new(Code::TypeMismatch, span, format!("`{url}` is not a valid URL"))
                .label("invalid URL")
                .help(help.to_string()),
        );
        None
    }

    /// The span of `len` bytes at `offset` of a string literal's contents,
    /// when the literal is written without escapes (so offsets agree);
    /// otherwise the whole literal.
    fn span_within(&self, literal: Span, contents: &str, offset: usize, len: usize) -> Span {
        let written = self.sources.snippet(literal);
        if written.len() == contents.len() + 2 && written.get(1..written.len() - 1) == Some(contents) {
            let start = literal.start + 1 + offset;
            Span::new(literal.file, start, start + len)
        } else {
            literal
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
                        COMMON
                            .iter()
                            .copied()
                            .chain(extra.iter().map(|s| s.as_str()))
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                let code = if plugin { Code::PluginSetting } else { Code::UnknownOption };
                self.diags.push(
                    Diagnostic::new(code, o.name.span, format!("unknown option `{name}`"))
                        .label("not an option of this check")
                        .help(help),
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
                    Diagnostic::new(Code::UnknownOption, o.span, format!("option `{name}` is written wrongly"))
                        .label("wrong form")
                        .help(help),
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
            self.out_of_range(
                o.value.span,
                format!("`{}` of 0 is not possible", o.name.name),
                "use a duration above zero".into(),
            );
            return None;
        }
        Some(ms)
    }

    fn small_count(&mut self, options: &[&'a CheckOption], name: &str, default: u32) -> u32 {
        match self.option(options, name) {
            Some(o) => self.integer(&o.value, validate::COUNTS, &format!("`{name}`")).map(|n| n as u32).unwrap_or(default),
            None => default,
        }
    }

    /// A plugin setting as the text handed to the plugin: a string's
    /// contents, a constant's value (followed through constants), any other
    /// name as the word itself, any other literal as written.
    fn setting_text(&mut self, value: &'a ast::Value) -> String {
        let mut current = value;
        for _ in 0..16 {
            match &current.kind {
                ValueKind::Str(s) => return s.clone(),
                ValueKind::Name(ident) => match self.names.get(&ident.name) {
                    Some(sym) if sym.kind == Kind::Const => current = self.items.consts[sym.index].1,
                    _ => return ident.name.clone(),
                },
                _ => return self.sources.snippet(current.span).to_string(),
            }
        }
        // A loop of constants: `deref` reports it.
        self.deref(value, &[]);
        String::new()
    }

    /// The settings a plugin declares; `None` when it did not load.
    fn plugin_settings(&self, name: &ast::Ident) -> Option<&[ir::PluginSetting]> {
        match self.names.get(&name.name) {
            Some(sym) if sym.kind == Kind::Plugin => self.plugin_infos[sym.index].as_deref(),
            _ => None,
        }
    }
}
