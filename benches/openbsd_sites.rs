//! The sites whose OpenBSD output once grew faster than the model (issue 16),
//! shared by `benches/openbsd_size.rs` and `tests/openbsd.rs`.

use std::fmt::Write;

/// `n` uplinks with two checks and `on up`/`on down` actions each, a
/// failover default route, a balance over all of them and a failover in the
/// reverse order, and no declared state: n + 1 derived states, state i
/// deciding on the first i + 1 uplinks.
pub fn derived(n: usize) -> String {
    let mut s = String::from("lan inside { interface em0; network 10.0.0.0/16 }\n");
    for i in 1..=n {
        let _ = write!(
            s,
            "uplink u{i} {{ interface em{i}; address 10.{}.{}.2/24; gateway 10.{}.{}.1; nat\n\
             check ping 10.{}.{}.1 {{ every 10s }}\n\
             check ping 192.0.2.{} {{ every 30s count 3 timeout 2s }}\n\
             on down {{ flush states; notify \"u{i} down\" }}\n\
             on up {{ notify \"u{i} up\"; run \"logger u{i} back\" }} }}\n",
            i / 256 + 1,
            i % 256,
            i / 256 + 1,
            i % 256,
            i / 256 + 1,
            i % 256,
            i % 250 + 1
        );
    }
    let names: Vec<String> = (1..=n).map(|i| format!("u{i}")).collect();
    let reversed: Vec<String> = names.iter().rev().cloned().collect();
    let _ = write!(
        s,
        "policy {{\n default via {}\n route from inside via balance({})\n route from inside proto tcp to port https via {}\n}}\n",
        names.join(", "),
        names.join(", "),
        reversed.join(", ")
    );
    s
}

/// `n` uplinks with one check each and two states: `count(all) >= k`, and
/// the rest.
pub fn count(n: usize, k: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let _ = writeln!(
            s,
            "uplink u{i} {{ interface em{}; address 10.1.{i}.2/24; gateway 10.1.{i}.1\n check ping 10.1.{i}.1 {{ every 10s }} }}",
            i + 1
        );
    }
    let names: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
    let _ = write!(
        s,
        "policy {{ default via {} }}\nstate enough when count({}) >= {k} {{ on enter {{ notify \"enough\" }} }}\nstate rest default\n",
        names.join(", "),
        names.join(", ")
    );
    s
}
