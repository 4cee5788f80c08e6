//! The large generated site of the benchmarks: `uplinks` uplinks with two
//! checks each, `rules` policy rules of every kind (failover lists,
//! balances, multipath pools, forwards), and `states` declared states whose
//! conditions leave most uplinks undecided.

use std::fmt::Write;

pub fn generate(uplinks: usize, rules: usize, states: usize) -> String {
    let mut s = String::from("site \"large\"\n");
    for l in 0..8 {
        let _ = writeln!(s, "lan lan{l} {{ interface vlan{l}; network 10.{}.{l}.0/24 }}", 200);
    }
    for u in 0..uplinks {
        let _ = writeln!(
            s,
            "uplink u{u} {{\n    interface em{u}\n    address 172.16.{u}.2/24\n    gateway 172.16.{u}.1\n    nat\n    weight {}\n    check ping 172.16.{u}.1 {{ every 10s timeout 1s }}\n    check tcp 172.16.{u}.1:443 {{ every 30s }}\n    healthy when any\n    on down {{ flush states; notify \"u{u} down\" }}\n}}",
            1 + u % 3
        );
    }
    s.push_str("policy {\n    default via u0, u1, u2, u3\n");
    for r in 0..rules {
        let (a, b, c) = (r % uplinks, (r * 7 + 1) % uplinks, (r * 13 + 2) % uplinks);
        let (a, b, c) = (a, if b == a { (b + 1) % uplinks } else { b }, c);
        let c = if c == a || c == b { (a.max(b) + 1) % uplinks } else { c };
        let port = 1024 + r % 60_000;
        let _ = match r % 4 {
            0 => writeln!(s, "    route from lan{} proto tcp to port {port} via u{a}, u{b}, u{c}", r % 8),
            1 => writeln!(s, "    route from 10.200.{}.0/24 via balance(u{a}, u{b}, u{c})", r % 8),
            2 => writeln!(s, "    route from lan{} to 192.0.2.{}/32 via multipath(u{a}, u{b})", r % 8, r % 250),
            _ => writeln!(s, "    forward tcp port {port} on u{a} to 10.200.{}.{}", r % 8, 10 + r % 200),
        };
    }
    s.push_str("}\n");
    for i in 0..states - 1 {
        let (a, b, c) = (i % uplinks, (i + 1) % uplinks, (i * 5 + 3) % uplinks);
        let _ = writeln!(
            s,
            "state s{i} when (u{a} && !u{b}) || count(u{a}, u{b}, u{c}) >= 3 {{\n    on enter {{ run \"logger s{i}\" }}\n}}"
        );
    }
    s.push_str("state rest default\n");
    s
}
