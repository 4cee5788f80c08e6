//! Turning literal text into typed values. The grammar only fixed the shape;
//! here `300.1.1.1` or a `/33` prefix become E0002 instead of a value.

use crate::ast::ValueKind;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::Span;
use ipnet::IpNet;
use std::net::IpAddr;

pub fn address(text: &str, span: Span, diags: &mut Diagnostics) -> ValueKind {
    let (addr, zone) = match text.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone.to_string())),
        None => (text, None),
    };
    match addr.parse::<IpAddr>() {
        Ok(addr) => ValueKind::Address { addr, zone },
        Err(_) => invalid(diags, span, format!("`{text}` is not a valid IP address"), address_help(addr)),
    }
}

pub fn prefix(text: &str, span: Span, diags: &mut Diagnostics) -> ValueKind {
    match text.parse::<IpNet>() {
        Ok(net) => ValueKind::Prefix(net),
        Err(_) => {
            let (addr, len) = text.split_once('/').unwrap_or((text, ""));
            let help = match addr.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => format!("an IPv4 prefix length is 0 to 32, not `{len}`"),
                Ok(IpAddr::V6(_)) => format!("an IPv6 prefix length is 0 to 128, not `{len}`"),
                Err(_) => address_help(addr),
            };
            invalid(diags, span, format!("`{text}` is not a valid prefix"), help)
        }
    }
}

fn address_help(addr: &str) -> String {
    if addr.contains(':') {
        "an IPv6 address has at most eight groups of up to four hex digits, and at most one `::`".into()
    } else {
        "an IPv4 address is four numbers from 0 to 255, separated by dots".into()
    }
}

/// The grammar admits only digits and a unit, so a failure is overflow.
pub fn duration(text: &str, span: Span, diags: &mut Diagnostics) -> ValueKind {
    match crate::duration::parse(text) {
        Ok(ms) => ValueKind::DurationMs(ms),
        Err(_) => {
            invalid(diags, span, format!("duration `{text}` is too long"), "durations go up to many years; this is more".into())
        }
    }
}

pub fn percent(text: &str, span: Span, diags: &mut Diagnostics) -> ValueKind {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(p) if p <= 100.0 => ValueKind::Percent(p),
        _ => invalid(diags, span, format!("`{text}` is not a percentage"), "a percentage is from 0% to 100%".into()),
    }
}

pub fn integer(text: &str, span: Span, diags: &mut Diagnostics) -> ValueKind {
    match text.parse::<u64>() {
        Ok(n) => ValueKind::Integer(n),
        Err(_) => invalid(diags, span, format!("number `{text}` is too large"), "numbers go up to 18446744073709551615".into()),
    }
}

pub fn port_range(text: &str, span: Span, diags: &mut Diagnostics) -> ValueKind {
    let (lo, hi) = text.split_once('-').unwrap_or((text, text));
    match (lo.parse::<u16>(), hi.parse::<u16>()) {
        (Ok(lo), Ok(hi)) if lo >= 1 && lo <= hi => ValueKind::PortRange(lo, hi),
        (Ok(lo), Ok(hi)) if lo > hi => {
            invalid(diags, span, format!("port range `{text}` runs backwards"), format!("write `{hi}-{lo}`"))
        }
        _ => invalid(diags, span, format!("`{text}` is not a port range"), "ports are 1 to 65535".into()),
    }
}

/// The contents of a string literal with its escapes resolved. Unknown escapes
/// are E0003, reported at the escape itself.
pub fn string(inner: &str, inner_start: usize, file: usize, diags: &mut Diagnostics) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '"')) => out.push('"'),
            Some((_, '\\')) => out.push('\\'),
            Some((_, 'n')) => out.push('\n'),
            Some((j, other)) => {
                let span = Span::new(file, inner_start + i, inner_start + j + other.len_utf8());
                diags.push(
                    Diagnostic::new(Code::InvalidEscape, span, format!("unknown escape `\\{other}`"))
                        .label("not an escape")
                        .help("strings know `\\\"`, `\\\\` and `\\n`; write `\\\\` for a backslash"),
                );
            }
            None => {}
        }
    }
    out
}

fn invalid(diags: &mut Diagnostics, span: Span, message: String, help: String) -> ValueKind {
    diags.push(Diagnostic::new(Code::InvalidLiteral, span, message).label("invalid literal").help(help));
    ValueKind::Invalid
}
