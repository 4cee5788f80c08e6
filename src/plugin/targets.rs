//! Where a plugin may connect: an allow-list of addresses, by default the
//! ones the check's own settings name. A plugin cannot resolve names, so a
//! setting that names a host instead of an address allows nothing.

use crate::ir::Target;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// An address a plugin may reach: an IP, and a port unless any port is
/// allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowedTarget {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

impl AllowedTarget {
    pub fn permits(&self, addr: SocketAddr) -> bool {
        self.ip.to_canonical() == addr.ip().to_canonical() && self.port.is_none_or(|p| p == addr.port())
    }

    /// The targets the settings name:
    /// - `url`: `http://HOST[:PORT]/…` (port 80 by default) or `https://…`
    ///   (443), HOST an IPv4 literal or a bracketed IPv6 literal;
    /// - `server`, `target`: `IP` (any port), `IP:PORT` or `[IPv6]:PORT`.
    pub fn from_settings(settings: &BTreeMap<String, String>) -> Vec<AllowedTarget> {
        let mut targets = Vec::new();
        if let Some(url) = settings.get("url") {
            targets.extend(from_url(url));
        }
        for key in ["server", "target"] {
            if let Some(text) = settings.get(key) {
                targets.extend(text.trim().parse::<AllowedTarget>().ok());
            }
        }
        targets
    }
}

/// The URL's host and port, read as the checker reads http checks' URLs;
/// a host name allows nothing.
fn from_url(url: &str) -> Option<AllowedTarget> {
    let (url, _) = crate::validate::http_url(url).ok()?;
    match url.host {
        Target::Address(ip) => Some(AllowedTarget { ip, port: Some(url.port) }),
        Target::Hostname(_) => None,
    }
}

impl FromStr for AllowedTarget {
    type Err = String;

    /// `IP` (any port), `IP:PORT` or `[IPv6]:PORT`.
    fn from_str(text: &str) -> Result<Self, String> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(AllowedTarget { ip: addr.ip(), port: Some(addr.port()) });
        }
        text.parse::<IpAddr>()
            .map(|ip| AllowedTarget { ip, port: None })
            .map_err(|_| format!("`{text}` is not an address, `IP`, `IP:PORT` or `[IPv6]:PORT`"))
    }
}

impl std::fmt::Display for AllowedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(port) => SocketAddr::new(self.ip, port).fmt(f),
            None => self.ip.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(pairs: &[(&str, &str)]) -> Vec<String> {
        let settings = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        AllowedTarget::from_settings(&settings).iter().map(|t| t.to_string()).collect::<Vec<_>>()
    }

    #[test]
    fn settings_name_targets() {
        assert_eq!(targets(&[("url", "http://10.0.0.1/x")]), ["10.0.0.1:80"]);
        assert_eq!(targets(&[("url", "http://10.0.0.1:8080?q")]), ["10.0.0.1:8080"]);
        assert_eq!(targets(&[("url", "https://[2001:db8::1]/")]), ["[2001:db8::1]:443"]);
        assert_eq!(targets(&[("url", "http://[2001:db8::1]:81/")]), ["[2001:db8::1]:81"]);
        assert_eq!(targets(&[("server", "192.0.2.53"), ("name", "10.9.9.9")]), ["192.0.2.53"]);
        assert_eq!(targets(&[("target", "[::1]:53")]), ["[::1]:53"]);
        assert!(targets(&[("url", "http://example.com/")]).is_empty());
        assert!(targets(&[("url", "http://user@10.0.0.1/")]).is_empty());
        assert!(targets(&[("url", "http://10.0.0.1@10.0.0.2/")]).is_empty());
        assert!(targets(&[("url", "http://2001:db8::1/")]).is_empty());
        assert!(targets(&[("url", "ftp://10.0.0.1/")]).is_empty());
    }

    #[test]
    fn permits_checks_address_and_port() {
        let any: AllowedTarget = "10.0.0.1".parse().unwrap();
        let one: AllowedTarget = "10.0.0.1:53".parse().unwrap();
        assert!(any.permits("10.0.0.1:9".parse().unwrap()));
        assert!(any.permits("[::ffff:10.0.0.1]:9".parse().unwrap()));
        assert!(one.permits("10.0.0.1:53".parse().unwrap()));
        assert!(!one.permits("10.0.0.1:54".parse().unwrap()));
        assert!(!any.permits("10.0.0.2:53".parse().unwrap()));
    }
}
