//! What a valid site is beyond its types, in one place: the checker reports
//! a violation as a diagnostic, the bytecode loader refuses a file holding
//! one. Both call these, so a file the loader accepts is one the compiler
//! could have written.

use crate::ir::{HttpUrl, Target};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::{Range, RangeInclusive};

/// Uplink and member weights.
pub const WEIGHTS: RangeInclusive<u64> = 1..=1000;
/// `count`, `rise` and `fall` of a check.
pub const COUNTS: RangeInclusive<u64> = 1..=100;
/// Routing table numbers a source may write (0 means "allocate one").
pub const TABLES: RangeInclusive<u64> = 0..=2_147_483_647;

/// The longest `run` or `notify` text, and the longest http check URL:
/// ifstated reads lines of at most 8,096 bytes, and quoting for it may
/// make a text up to four times as long.
pub const ACTION_TEXT: usize = 1024;

/// The longest name of an uplink, lan, host, constant, plugin or state:
/// pf's labels hold 63 characters (PF_RULE_LABEL_SIZE 64 with its NUL).
pub const NAME_LEN: usize = 63;

/// Site names name files (`SITE.wanc`, state files): letters, digits, `_`,
/// `.` and `-`, not starting with a dot, at most 64 characters.
pub fn site_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Words pf reads as something other than an interface (`egress` is the
/// group of the default route's interfaces, `self` the router's addresses,
/// `any`/`all` every address): a lan or uplink named so would change the
/// meaning of every rule naming it.
pub const PF_WORDS: &[&str] = &["all", "any", "default", "egress", "no-route", "self", "urpf-failed"];

/// Interface names as both kernels take them: 1 to 15 characters, a letter
/// first, then letters, digits, `_`, `.` or `-`; not one of [`PF_WORDS`].
pub fn interface_name(name: &str) -> bool {
    if PF_WORDS.contains(&name) {
        return false;
    }
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= 15
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A table an uplink may end up with: not 0, not the kernel's own
/// (253 default, 254 main, 255 local).
pub fn uplink_table(table: u32) -> bool {
    table != 0 && !(253..=255).contains(&table) && u64::from(table) <= *TABLES.end()
}

/// Why a text is not an http check's URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// It does not start with `http://` or `https://`.
    Scheme,
    /// It does, but the rest does not parse; the text says how to mend it.
    Invalid(&'static str),
}

/// The one reader of URL text: `http[s]://HOST[:PORT][/PATH][?QUERY]`, HOST
/// an IPv4 address, a bracketed IPv6 address or a host name. A `#fragment`
/// is dropped (it is never sent). Also gives where HOST is in `text`, for
/// diagnostics about it.
pub fn http_url(text: &str) -> Result<(HttpUrl, Range<usize>), UrlError> {
    if text.len() > ACTION_TEXT {
        return Err(UrlError::Invalid("a check's URL is at most 1,024 characters"));
    }
    let (tls, rest) = match (text.strip_prefix("http://"), text.strip_prefix("https://")) {
        (Some(rest), _) => (false, rest),
        (_, Some(rest)) => (true, rest),
        _ => return Err(UrlError::Scheme),
    };
    let start = text.len() - rest.len();
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(end);
    if authority.contains('@') {
        // Elsewhere `user@` is easily taken for the host; a check sends no
        // credentials, so there is nothing it could mean.
        return Err(UrlError::Invalid("a check's URL names no user: write the host right after `//`"));
    }
    let (host, port, host_at) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or(UrlError::Invalid("a bracketed IPv6 address needs its `]`"))?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or(UrlError::Invalid("after `]` only `:PORT` may follow"))?),
            };
            (host, port, start + 1)
        }
        None => match authority.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err(UrlError::Invalid("bracket an IPv6 address in a URL: `http://[2001:db8::1]/`"));
            }
            Some((host, port)) => (host, Some(port), start),
            None => (authority, None, start),
        },
    };
    if host.is_empty() {
        return Err(UrlError::Invalid("write a host after `//`, such as `http://192.0.2.1/health`"));
    }
    let host_at = host_at..host_at + host.len();
    let port = match port {
        None | Some("") => HttpUrl::default_port(tls),
        Some(port) => match port.parse::<u16>() {
            Ok(port @ 1..) => port,
            _ => return Err(UrlError::Invalid("the port after the host is a number from 1 to 65535")),
        },
    };
    let host = if authority.starts_with('[') {
        let addr = host.parse::<Ipv6Addr>().map_err(|_| {
            UrlError::Invalid(if host.contains('%') {
                "a probe leaves by its uplink, so the URL's address takes no zone: write `[ADDRESS]`"
            } else {
                "between `[` and `]` goes an IPv6 address, such as `[2001:db8::1]`"
            })
        })?;
        Target::Address(IpAddr::V6(addr))
    } else if let Ok(addr) = host.parse::<Ipv4Addr>() {
        Target::Address(IpAddr::V4(addr))
    } else if url_host_name(host) {
        Target::Hostname(host.to_string())
    } else {
        return Err(UrlError::Invalid("a host name is letters, digits, `-`, `_` and `.`, and does not start with `-` or `.`"));
    };
    let path = after.split('#').next().unwrap_or("");
    let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
    if !url_path(&path) {
        return Err(UrlError::Invalid(
            "a URL's path holds no spaces, control or non-ASCII characters: percent-encode them (`%20`)",
        ));
    }
    Ok((HttpUrl { tls, host, port, path }, host_at))
}

/// A host name in a URL: letters, digits, `-`, `_` and `.`, not starting
/// with `-` (it would read as an option to the tools that probe it) or `.`.
pub fn url_host_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['-', '.'])
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A DNS name to query: `.` (the root), or labels of letters, digits, `-`
/// and `_` (1 to 63 each, none starting with `-`, which would read as an
/// option to `dig`) joined by dots, at most 253 characters, with an
/// optional final dot.
pub fn dns_name(name: &str) -> bool {
    if name == "." {
        return true;
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    (1..=253).contains(&name.len())
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        })
}

/// A request path as sent: starting with `/`, printable ASCII without
/// spaces, so it fits in a request line and a shell word unchanged.
pub fn url_path(path: &str) -> bool {
    path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_names_not_options() {
        for good in [".", "example.net", "example.net.", "_dmarc.example.net", "a-b.c"] {
            assert!(dns_name(good), "{good}");
        }
        for bad in ["", "-f/etc/hostname", "a..b", "a b", "a/b", "..", &"a".repeat(64), "-x.example"] {
            assert!(!dns_name(bad), "{bad}");
        }
    }

    fn url(text: &str) -> Result<String, UrlError> {
        http_url(text).map(|(u, _)| u.to_string())
    }

    #[test]
    fn urls_parse_into_parts_and_print_back() {
        let (u, host) = http_url("https://[2001:db8::1]:8443/x?y#z").unwrap();
        assert_eq!((u.tls, u.port, u.path.as_str()), (true, 8443, "/x?y"));
        assert_eq!(u.host, Target::Address("2001:db8::1".parse().unwrap()));
        assert_eq!(host, 9..20);
        assert_eq!(url("http://192.0.2.1"), Ok("http://192.0.2.1/".into()));
        assert_eq!(url("http://192.0.2.1:80?q"), Ok("http://192.0.2.1/?q".into()));
        assert_eq!(url("https://health.example.net:443/ok"), Ok("https://health.example.net/ok".into()));
        assert_eq!(url("http://h:8080/"), Ok("http://h:8080/".into()));
    }

    #[test]
    fn urls_refused() {
        assert_eq!(url("ftp://192.0.2.1/"), Err(UrlError::Scheme));
        for bad in [
            "http://user@192.0.2.1/",
            "http://user:pw@host/",
            "http://-oProxyCommand=x/",
            "http://.example/",
            "http://2001:db8::1/",
            "http://[2001:db8::1/",
            "http://[fe80::1%eth0]/",
            "http://[192.0.2.1]/",
            "http:///x",
            "http://h:0/",
            "http://h:99999/",
            "http://h/a b",
            "http://h/\u{e9}",
            "http://h$x/",
        ] {
            assert!(matches!(url(bad), Err(UrlError::Invalid(_))), "{bad}");
        }
    }
}
