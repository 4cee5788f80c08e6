//! Service names accepted for ports, with their IANA numbers. Back ends emit
//! numbers, so a target's /etc/services does not matter.

pub const SERVICES: &[(&str, u16)] = &[
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("http", 80),
    ("pop3", 110),
    ("ntp", 123),
    ("imap", 143),
    ("snmp", 161),
    ("bgp", 179),
    ("ldap", 389),
    ("https", 443),
    ("smtps", 465),
    ("isakmp", 500),
    ("syslog", 514),
    ("submission", 587),
    ("ldaps", 636),
    ("imaps", 993),
    ("pop3s", 995),
    ("openvpn", 1194),
    ("mysql", 3306),
    ("rdp", 3389),
    ("ipsec-nat-t", 4500),
    ("sip", 5060),
    ("postgresql", 5432),
    ("http-alt", 8080),
    ("wireguard", 51820),
];

pub fn port_of(name: &str) -> Option<u16> {
    SERVICES.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}
