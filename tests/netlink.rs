//! The agent's rtnetlink client, run for real: each test gets a fresh
//! network namespace for the client and a second one where the same objects
//! are put in place by `ip` (the commands the Linux back end's scripts
//! run), and the two kernels' routes and rules must read the same. The
//! dumps must read what `ip -j` shows, and a watcher must hear of changes.
//!
//! Needs root and iproute2. Under CI=true their absence fails the test;
//! elsewhere the test is skipped with a note.

mod common;

use common::{Need, IP};
use ipnet::IpNet;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};
use wanc::ir::Family;
use wanc::lower::linux::{self, IpRule, Nexthop, Route, Selector};
use wanc::netlink::{self, Address, KernelEvent, Link, Netlink, RouteEntry, RouteHop, Watcher};

/// Root and iproute2; the other tools of the namespace tests are not needed.
fn available() -> bool {
    common::require(&[Need::Root, IP])
}

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// A network namespace, deleted on drop.
struct Ns {
    name: String,
}

impl Ns {
    fn new(tag: &str) -> Ns {
        let name = format!("wnl-{tag}-{}", std::process::id());
        let _ = run(&["ip", "netns", "del", &name]);
        run(&["ip", "netns", "add", &name]).unwrap();
        let ns = Ns { name };
        ns.ip("link set lo up");
        ns
    }

    fn try_ip(&self, args: &str) -> Result<String, String> {
        let mut full = vec!["ip", "-n", &self.name];
        full.extend(args.split_whitespace());
        run(&full)
    }

    fn ip(&self, args: &str) -> String {
        self.try_ip(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A veth pair `dev`/`p-dev`, both up, without link-local addresses
    /// (their random MACs would make two namespaces differ).
    fn veth(&self, dev: &str) {
        let peer = format!("p{dev}");
        self.ip(&format!("link add {dev} type veth peer name {peer}"));
        for d in [dev, peer.as_str()] {
            self.ip(&format!("link set dev {d} addrgenmode none"));
            self.ip(&format!("link set dev {d} up"));
        }
    }

    /// `open` run on a thread that entered this namespace, so the test's
    /// own threads stay where they are; the socket it opens lives here.
    fn inside<T: Send + 'static>(&self, open: fn() -> std::io::Result<T>) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path)?;
            // SAFETY: `file` is an open namespace file for the whole call;
            // setns only changes this (short-lived) thread's namespace.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            open()
        })
        .join()
        .expect("thread")
        .expect("netlink socket in the namespace")
    }

    /// A client whose socket lives in this namespace, installing routes
    /// with wanc's protocol, as the `ip` commands of `Route::command` do.
    fn netlink(&self) -> Netlink {
        let mut nl = self.inside(Netlink::open);
        nl.set_protocol(wanc::lower::linux::PROTOCOL);
        nl
    }

    /// The namespace's `ip -j ARGS` output.
    fn json(&self, args: &str) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ip(&format!("-j {args}"))).expect("ip -j gives JSON")
    }

    /// Routes of every table and rules, per family, one object a line
    /// (multipath nexthops joined onto their route), sorted.
    fn state(&self) -> String {
        let mut out = Vec::new();
        for f in ["-4", "-6"] {
            for (what, args) in [("route", format!("-d {f} route show table all")), ("rule", format!("-d {f} rule show"))] {
                for line in normalise(&self.ip(&args)) {
                    out.push(format!("{f} {what} {line}"));
                }
            }
        }
        out.join("\n")
    }

    /// The state with the client's protocol written as `ip`'s.
    fn state_as_ip(&self) -> String {
        self.state().replace(" proto static ", " proto boot ")
    }

    /// What the Linux back end's scripts do for these objects.
    fn ip_routes(&self, routes: &[Route]) {
        for r in routes {
            self.ip(&format!("{} {}", r.family.flag(), r.command()));
        }
    }

    fn ip_rules(&self, rules: &[IpRule]) {
        for r in rules {
            self.ip_rules_del(r.family, r.priority);
            self.ip(&format!("{} rule add {}", r.family.flag(), r.args()));
        }
    }

    fn ip_rules_del(&self, family: Family, priority: u32) {
        while self.try_ip(&format!("{} rule del priority {priority}", family.flag())).is_ok() {}
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.name]);
    }
}

fn normalise(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with(char::is_whitespace) {
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
                continue;
            }
        }
        lines.push(line.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    lines.sort();
    lines
}

/// The main table's default routes in a `state()`.
fn main_defaults(state: &str) -> Vec<&str> {
    state.lines().filter(|l| l.contains(" route ") && l.contains(" default ") && l.contains(" table main ")).collect()
}

fn hop(gw: &str, dev: &str, weight: u32) -> Nexthop {
    Nexthop { gateway: Some(gw.parse().unwrap()), dev: dev.into(), weight }
}

fn route(family: Family, table: Option<u32>, nexthops: Vec<Nexthop>) -> Route {
    Route { family, table, nexthops }
}

/// Two namespaces with the same links: `nl` for the client, `ip` for `ip`.
fn pair(tag: &str, devs: &[&str]) -> (Ns, Ns) {
    let a = Ns::new(&format!("{tag}n"));
    let b = Ns::new(&format!("{tag}i"));
    for ns in [&a, &b] {
        for d in devs {
            ns.veth(d);
        }
    }
    (a, b)
}

fn assert_same(a: &Ns, b: &Ns, step: &str) {
    let (got, want) = (a.state_as_ip(), b.state());
    assert_eq!(got, want, "{step}: netlink state (left) differs from ip's (right)");
}

#[test]
fn routes_match_ip_step_by_step() {
    if !available() {
        return;
    }
    let (a, b) = pair("r", &["a0", "a1"]);
    let mut nl = a.netlink();
    let steps: Vec<(&str, Vec<Route>)> = vec![
        (
            "table 100 via gateway onlink",
            vec![
                route(Family::V4, Some(100), vec![hop("10.1.0.1", "a0", 1)]),
                route(Family::V6, Some(100), vec![hop("2001:db8:1::1", "a0", 1)]),
            ],
        ),
        (
            "table 100 replaced",
            vec![
                route(Family::V4, Some(100), vec![hop("10.2.0.1", "a1", 1)]),
                route(Family::V6, Some(100), vec![hop("2001:db8:2::1", "a1", 1)]),
            ],
        ),
        (
            "main multipath with weights",
            vec![
                route(Family::V4, None, vec![hop("10.1.0.1", "a0", 3), hop("10.2.0.1", "a1", 1)]),
                route(Family::V6, None, vec![hop("2001:db8:1::1", "a0", 2), hop("2001:db8:2::1", "a1", 1)]),
            ],
        ),
        (
            "throw, big table, dev-only",
            vec![
                route(Family::V4, Some(101), vec![]),
                route(Family::V6, Some(101), vec![]),
                route(Family::V4, Some(1000), vec![hop("10.1.0.1", "a0", 1)]),
                route(Family::V6, Some(1000), vec![hop("2001:db8:1::1", "a0", 1)]),
                route(Family::V4, Some(102), vec![Nexthop { gateway: None, dev: "a1".into(), weight: 1 }]),
                route(Family::V6, Some(102), vec![Nexthop { gateway: None, dev: "a1".into(), weight: 1 }]),
                route(
                    Family::V4,
                    Some(103),
                    vec![hop("10.1.0.1", "a0", 1), Nexthop { gateway: None, dev: "a1".into(), weight: 5 }],
                ),
            ],
        ),
        ("throw replaces a route", vec![route(Family::V4, Some(1000), vec![]), route(Family::V6, Some(100), vec![])]),
        ("main default deleted", vec![route(Family::V4, None, vec![]), route(Family::V6, None, vec![])]),
        ("main default deleted again", vec![route(Family::V4, None, vec![]), route(Family::V6, None, vec![])]),
    ];
    for (step, routes) in &steps {
        nl.apply(routes).unwrap_or_else(|e| panic!("{step}: {e}"));
        b.ip_routes(routes);
        assert_same(&a, &b, step);
        let once = a.state();
        nl.apply(routes).unwrap_or_else(|e| panic!("{step}, twice: {e}"));
        assert_eq!(once, a.state(), "{step}: applying twice changed the state");
    }
    // Spot checks that the comparison sees what it should.
    let state = a.state();
    assert!(!state.contains("default via 10.1.0.1 dev a0 table 1000"), "replaced by throw:\n{state}");
    for want in [
        "-4 route throw default table 1000 proto 250 scope global",
        "-4 route unicast default via 10.2.0.1 dev a1 table 100 proto 250 scope global onlink",
        "-4 route unicast default dev a1 table 102 proto 250 scope link",
        "-6 route throw default dev lo table 100 proto 250",
        "nexthop via 10.1.0.1 dev a0 weight 1 onlink nexthop dev a1 weight 5",
    ] {
        assert!(state.contains(want), "missing {want:?} in\n{state}");
    }
    assert_eq!(main_defaults(&state), Vec::<&str>::new(), "main default left");

    // delete_route on a table, and on one that is gone.
    for t in [100, 100, 4242] {
        nl.delete_route(Family::V4, t).unwrap();
        nl.delete_route(Family::V6, t).unwrap();
        let _ = b.try_ip(&format!("-4 route del default table {t}"));
        let _ = b.try_ip(&format!("-6 route del default table {t}"));
        assert_same(&a, &b, &format!("delete table {t}"));
    }

    // The single calls do what the batch does.
    let r = route(Family::V4, Some(100), vec![hop("10.1.0.1", "a0", 1)]);
    nl.apply(std::slice::from_ref(&r)).unwrap();
    b.ip_routes(std::slice::from_ref(&r));
    assert_same(&a, &b, "apply of one route");
}

#[test]
fn every_main_default_route_of_wancs_is_deleted() {
    if !available() {
        return;
    }
    let (a, b) = pair("m", &["a0", "a1"]);
    let mut nl = a.netlink();
    for ns in [&a, &b] {
        ns.ip("-4 route add default via 10.1.0.1 dev a0 onlink metric 10 proto 250");
        ns.ip("-4 route add default via 10.2.0.1 dev a1 onlink metric 20 proto 250");
        ns.ip("-4 route add unreachable default metric 30 proto 250");
        ns.ip("-6 route add default via 2001:db8:1::1 dev a0 onlink metric 10 proto 250");
        ns.ip("-6 route add default via 2001:db8:2::1 dev a1 onlink metric 20 proto 250");
        ns.ip("-4 route add 10.9.0.0/16 via 10.1.0.1 dev a0 onlink");
        // A DHCP client's default route: not wanc's, it stays.
        ns.ip("-4 route add default via 10.2.0.1 dev a1 onlink metric 1002 proto dhcp");
    }
    assert_eq!(main_defaults(&a.state()).len(), 6);
    let routes = [route(Family::V4, None, vec![]), route(Family::V6, None, vec![])];
    nl.apply(&routes).unwrap();
    b.ip_routes(&routes);
    assert_same(&a, &b, "flush");
    let state = a.state();
    let left = main_defaults(&state);
    assert!(left.len() == 1 && left[0].contains("proto dhcp"), "only the DHCP client's default stays: {left:?}");
    assert!(state.contains("10.9.0.0/16"), "only default routes go:\n{state}");
}

#[test]
fn rules_match_ip() {
    if !available() {
        return;
    }
    let (a, b) = pair("u", &["a0"]);
    let mut nl = a.netlink();
    let rule = |family, priority, selector, table| IpRule { family, priority, selector, table };
    let rules = vec![
        rule(Family::V4, 10_000, Selector::SuppressMain, 254),
        rule(Family::V6, 10_000, Selector::SuppressMain, 254),
        rule(Family::V4, 10_100, Selector::From("192.0.2.2/32".parse().unwrap()), 100),
        rule(Family::V6, 10_101, Selector::From("2001:db8:a::2/128".parse().unwrap()), 100),
        rule(Family::V4, 10_102, Selector::From("10.0.0.0/8".parse().unwrap()), 1000),
        rule(Family::V4, 11_000, Selector::Fwmark(0x100), 100),
        rule(Family::V6, 11_000, Selector::Fwmark(0x100), 100),
        rule(Family::V4, 11_001, Selector::Fwmark(0x200), 1000),
    ];
    for r in &rules {
        nl.add_rule(r).unwrap_or_else(|e| panic!("{e}"));
    }
    b.ip_rules(&rules);
    assert_same(&a, &b, "rules added");
    let state = a.state();
    for want in [
        "-4 rule 10000: from all lookup main suppress_prefixlength 0",
        "-4 rule 10100: from 192.0.2.2 lookup 100",
        "-6 rule 10101: from 2001:db8:a::2 lookup 100",
        "-4 rule 10102: from 10.0.0.0/8 lookup 1000",
        "-4 rule 11000: from all fwmark 0x100/0xff00 lookup 100",
    ] {
        assert!(state.contains(want), "missing {want:?} in\n{state}");
    }

    // Adding again is a no-op.
    nl.add_rules(&rules).unwrap();
    assert_same(&a, &b, "rules added twice");

    // Several rules at one priority all go.
    let extra = rule(Family::V4, 11_000, Selector::Fwmark(0x300), 101);
    nl.add_rule(&extra).unwrap();
    b.ip(&format!("-4 rule add {}", extra.args()));
    assert_same(&a, &b, "two at 11000");
    for (family, priority) in [(Family::V4, 11_000), (Family::V6, 10_000), (Family::V4, 12_345)] {
        nl.delete_rules_at(family, priority).unwrap();
        b.ip_rules_del(family, priority);
        assert_same(&a, &b, &format!("deleted at {priority}"));
    }
    assert!(!a.state().contains("11000: from all fwmark 0x300"));
    assert!(nl.delete_rules_at(Family::V4, 0).is_err(), "priority 0 would match the local rule");

    // set_rules: what setup.sh does (clearing each priority first, here
    // of two rules), idempotent.
    for ns in [&a, &b] {
        ns.ip(&format!("-4 rule add {}", extra.args()));
        ns.ip(&format!("-4 rule add {}", extra.args().replace("0x300", "0x400")));
    }
    nl.set_rules(&rules).unwrap();
    b.ip_rules(&rules);
    assert_same(&a, &b, "set_rules");
    nl.set_rules(&rules).unwrap();
    assert_same(&a, &b, "set_rules twice");
}

#[test]
fn failures_name_their_object_and_spare_the_rest() {
    if !available() {
        return;
    }
    let a = Ns::new("e");
    a.veth("a0");
    a.ip("link add down0 type veth peer name pdown0");
    let mut nl = a.netlink();
    let good = route(Family::V4, Some(100), vec![hop("10.1.0.1", "a0", 1)]);
    let routes = vec![
        route(Family::V4, Some(101), vec![hop("10.1.0.1", "nosuch0", 1)]),
        good.clone(),
        route(Family::V4, Some(102), vec![hop("10.1.0.1", "down0", 1)]),
        route(Family::V4, Some(103), vec![hop("2001:db8::1", "a0", 1)]),
        route(Family::V4, Some(104), vec![hop("10.1.0.1", "a0", 0), hop("10.1.0.2", "a0", 1)]),
    ];
    let err = nl.apply(&routes).unwrap_err();
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<netlink::Error>()).expect("netlink::Error inside");
    let objects: Vec<&str> = inner.failures.iter().map(|f| f.object.as_str()).collect();
    let text = err.to_string();
    eprintln!("apply failed as expected: {text}");
    assert_eq!(inner.failures.len(), 4, "{text}");
    for r in [&routes[0], &routes[2], &routes[3], &routes[4]] {
        let object = format!("ip -4 {}", r.command());
        assert!(objects.contains(&object.as_str()), "{object} not in {objects:?}");
    }
    assert!(text.contains("nosuch0"), "{text}");
    assert!(text.contains("not up") || text.contains("down"), "the kernel's reason is kept: {text}");
    let state = a.state();
    assert!(state.contains("default via 10.1.0.1 dev a0 table 100"), "the good route went in:\n{state}");

    // Links.
    assert!(nl.link_up("a0").unwrap());
    assert!(!nl.link_up("down0").unwrap());
    a.ip("link set dev down0 up");
    assert!(!nl.link_up("down0").unwrap(), "peer down: no carrier");
    a.ip("link set dev pdown0 up");
    assert!(nl.link_up("down0").unwrap());
    assert!(nl.link_up("nosuch0").is_err());
    assert!(nl.link_up("this-name-is-too-long").is_err());
}

/// The triple-dual-stack example: setup and every state, applied by the
/// client, leave the kernel as the Linux back end's `ip` commands do.
#[test]
fn triple_dual_stack_matches_the_scripts() {
    if !available() {
        return;
    }
    let compiled = wanc::driver::compile_file("examples/triple-dual-stack.wan".as_ref()).expect("readable");
    let plan = compiled.plan.expect("compiles");
    let site = &plan.site;
    let ids = plan.linux.as_ref().expect("fits");
    let devs: Vec<&str> = site.uplinks.iter().map(|u| u.interface.as_str()).chain(site.lans.iter().map(|_| "lan0")).collect();
    let (a, b) = pair("t", &devs);
    for ns in [&a, &b] {
        for up in &site.uplinks {
            for addr in &up.addresses {
                let nodad = if addr.addr().is_ipv6() { " nodad" } else { "" };
                ns.ip(&format!("addr add {addr} dev {}{nodad}", up.interface));
            }
        }
    }
    let mut nl = a.netlink();
    nl.set_protocol(wanc::lower::linux::PROTOCOL);

    let setup_routes = linux::uplink_routes(&plan);
    let rules = linux::ip_rules(&plan, ids);
    for round in 0..2 {
        nl.apply(&setup_routes).unwrap();
        nl.set_rules(&rules).unwrap();
        b.ip_routes(&setup_routes);
        b.ip_rules(&rules);
        assert_eq!(a.state(), b.state(), "setup, round {round}");
    }
    // Every state, then back to the first, each applied twice.
    let order: Vec<usize> = (0..site.states.len()).chain([0]).collect();
    for id in order {
        let state = &site.states[id];
        let routes = linux::state_routes(&plan, ids, id, None);
        nl.apply(&routes).unwrap_or_else(|e| panic!("state {}: {e}", state.name));
        b.ip_routes(&routes);
        let once = a.state();
        assert_eq!(once, b.state(), "state {}", state.name);
        nl.apply(&routes).unwrap();
        assert_eq!(once, a.state(), "state {} applied twice", state.name);
    }
    let state = a.state();
    assert!(state.contains("nexthop via"), "a multipath route was exercised:\n{state}");
}

/// The interface indices of a namespace, by name.
fn indices(ns: &Ns) -> std::collections::HashMap<String, u32> {
    ns.json("link show").iter().map(|l| (text(&l["ifname"]), l["ifindex"].as_u64().expect("ifindex") as u32)).collect()
}

fn text(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_string()
}

fn number<T: std::str::FromStr>(v: &serde_json::Value) -> T {
    let s = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    s.parse().unwrap_or_else(|_| panic!("not a number: {v}"))
}

/// A route destination as `ip -j` writes it: `default`, an address or a
/// prefix.
fn destination(family: Family, dst: &str) -> IpNet {
    match (dst, family) {
        ("default", Family::V4) => "0.0.0.0/0".parse().unwrap(),
        ("default", Family::V6) => "::/0".parse().unwrap(),
        (d, _) if d.contains('/') => d.parse().unwrap(),
        (d, _) => IpNet::from(d.parse::<std::net::IpAddr>().unwrap()),
    }
}

/// The routes of a table as `ip -j -d -N` (numeric types and protocols)
/// shows them.
fn ip_routes(ns: &Ns, family: Family, table: u32, index: &std::collections::HashMap<String, u32>) -> Vec<RouteEntry> {
    let dev = |v: &serde_json::Value| v.as_str().map(|d| index[d]);
    let gateway = |v: &serde_json::Value| v.as_str().map(|g| g.parse().unwrap());
    ns.json(&format!("-d -N {} route show table {table}", family.flag()))
        .iter()
        .map(|r| RouteEntry {
            destination: destination(family, &text(&r["dst"])),
            gateway: gateway(&r["gateway"]),
            oif: dev(&r["dev"]),
            protocol: number(&r["protocol"]),
            kind: number(&r["type"]),
            priority: r.get("metric").map(number),
            multipath: r
                .get("nexthops")
                .and_then(|n| n.as_array())
                .map(|hops| {
                    hops.iter()
                        .map(|h| RouteHop {
                            gateway: gateway(&h["gateway"]),
                            oif: dev(&h["dev"]).unwrap(),
                            weight: number(&h["weight"]),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

fn sorted<T: std::fmt::Debug>(mut v: Vec<T>) -> Vec<T> {
    v.sort_by_key(|x| format!("{x:?}"));
    v
}

/// The dumps read what `ip -j` shows: links (up, carrier-less, down),
/// addresses (global, link, deprecated, tentative), routes of the main,
/// local and a numbered table, with metrics, protocols, types and a
/// multipath route.
#[test]
fn dumps_agree_with_ip() {
    if !available() {
        return;
    }
    let a = Ns::new("d");
    a.veth("a0");
    for d in ["a1", "a2"] {
        a.ip(&format!("link add {d} type veth peer name p{d}"));
        a.ip(&format!("link set dev {d} addrgenmode none"));
    }
    a.ip("link set dev a1 up"); // up, but its peer is down: no carrier
    for (addr, dev) in [
        ("10.1.0.2/24", "a0"),
        ("2001:db8:1::2/64 nodad", "a0"),
        ("2001:db8:3::2/64 nodad preferred_lft 0", "a0"),
        ("fe80::2/64 nodad", "a0"),
        ("10.2.0.2/24", "a1"),
        ("2001:db8:2::2/64", "a1"),
    ] {
        let (address, options) = addr.split_once(' ').unwrap_or((addr, ""));
        a.ip(&format!("addr add {address} dev {dev} {options}"));
    }
    a.ip("-4 route add default via 10.1.0.1 dev a0 metric 10 proto dhcp");
    a.ip("-4 route add default via 10.2.0.1 dev a1 metric 20 onlink");
    a.ip("-6 route add default proto ra nexthop via 2001:db8:1::1 dev a0 weight 3 nexthop via fe80::1 dev a0");
    a.ip("-4 route add 10.9.0.0/16 via 10.1.0.1 dev a0 table 100");
    a.ip("-4 route add throw 10.8.0.0/16 table 100");
    a.ip("-6 route add 2001:db8:9::/48 via 2001:db8:1::1 dev a0 table 100 metric 5");
    let mut nl = a.netlink();

    let links = nl.links().unwrap();
    let up = |flags: &serde_json::Value| {
        let flags: Vec<&str> = flags.as_array().unwrap().iter().filter_map(|f| f.as_str()).collect();
        flags.contains(&"UP") && flags.contains(&"LOWER_UP")
    };
    let want: Vec<Link> = a
        .json("link show")
        .iter()
        .map(|l| Link { index: number(&l["ifindex"]), name: text(&l["ifname"]), up: up(&l["flags"]) })
        .collect();
    assert_eq!(sorted(links.clone()), sorted(want));
    let state = |name: &str| links.iter().find(|l| l.name == name).map(|l| l.up);
    assert_eq!((state("lo"), state("a0"), state("a1"), state("a2")), (Some(true), Some(true), Some(false), Some(false)));

    let addresses = nl.addresses().unwrap();
    let mut want = Vec::new();
    for link in a.json("addr show") {
        for info in link["addr_info"].as_array().unwrap() {
            want.push(Address {
                index: number(&link["ifindex"]),
                address: IpNet::new(text(&info["local"]).parse().unwrap(), number(&info["prefixlen"])).unwrap(),
                scope_global: info["scope"] == "global",
                deprecated: info["deprecated"] == true,
                tentative: info["tentative"] == true,
            });
        }
    }
    assert_eq!(sorted(addresses.clone()), sorted(want));
    let find = |a: &str| addresses.iter().find(|x| x.address.to_string() == a).cloned().unwrap();
    assert!(find("2001:db8:3::2/64").deprecated && find("2001:db8:2::2/64").tentative);
    assert!(find("10.1.0.2/24").scope_global && !find("fe80::2/64").scope_global);

    let index = indices(&a);
    for family in [Family::V4, Family::V6] {
        for table in [254, 255, 100] {
            let got = nl.routes(family, table).unwrap();
            assert_eq!(sorted(got), sorted(ip_routes(&a, family, table, &index)), "{family:?} table {table}");
        }
        // `ip` fails on a table that does not exist; the dump is empty.
        assert_eq!(nl.routes(family, 4242).unwrap(), []);
    }
    // What the agent looks for: the DHCP uplink's gateway, and the shares.
    let main = nl.routes(Family::V4, 254).unwrap();
    let dhcp = main.iter().find(|r| r.protocol == 16 && r.destination.prefix_len() == 0).expect("dhcp default");
    assert_eq!((dhcp.gateway, dhcp.oif, dhcp.priority), (Some("10.1.0.1".parse().unwrap()), Some(index["a0"]), Some(10)));
    let main6 = nl.routes(Family::V6, 254).unwrap();
    let multipath = main6.iter().find(|r| r.destination.prefix_len() == 0).expect("v6 default");
    assert_eq!(multipath.multipath.iter().map(|h| h.weight).collect::<Vec<_>>(), [3, 1]);
}

/// Events until one satisfies `want`, reading for at most 5 s; all of them.
fn wait_for(watcher: &mut Watcher, what: &str, want: impl Fn(&KernelEvent) -> bool) -> Vec<KernelEvent> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let events = watcher.recv(Duration::from_millis(200)).expect("recv");
        let hit = events.iter().any(&want);
        seen.extend(events);
        if hit {
            return seen;
        }
    }
    panic!("{what}: not seen within 5 s; saw {seen:#?}");
}

fn link_event(events: &[KernelEvent], index: u32) -> Option<bool> {
    events.iter().rev().find_map(|e| match e {
        KernelEvent::Link { index: i, up, .. } if *i == index => Some(*up),
        _ => None,
    })
}

/// A watcher in a namespace hears of a link created late and brought up,
/// carrier loss and return, addresses, routes and rules coming and going,
/// and the link's deletion.
#[test]
fn watcher_sees_links_addresses_routes_and_rules() {
    if !available() {
        return;
    }
    let a = Ns::new("w");
    let mut watcher = a.inside(Watcher::open);
    let started = Instant::now();
    assert_eq!(watcher.recv(Duration::from_millis(50)).unwrap(), [], "nothing happens in a quiet namespace");
    assert!(started.elapsed() >= Duration::from_millis(50), "recv waited for its timeout");

    a.ip("link add w0 type veth peer name pw0");
    let w0 = indices(&a)["w0"];
    let events = wait_for(&mut watcher, "w0 created", |e| matches!(e, KernelEvent::Link { name, .. } if name == "w0"));
    assert_eq!(link_event(&events, w0), Some(false), "created down");
    a.ip("link set dev w0 addrgenmode none");
    a.ip("link set dev w0 up");
    a.ip("link set dev pw0 up");
    wait_for(&mut watcher, "w0 up", |e| matches!(e, KernelEvent::Link { index, up: true, .. } if *index == w0));

    a.ip("link set dev pw0 down");
    let events =
        wait_for(&mut watcher, "carrier loss", |e| matches!(e, KernelEvent::Link { index, up: false, .. } if *index == w0));
    assert_eq!(link_event(&events, w0), Some(false));
    a.ip("link set dev pw0 up");
    wait_for(&mut watcher, "carrier back", |e| matches!(e, KernelEvent::Link { index, up: true, .. } if *index == w0));

    for (verb, added) in [("add", true), ("del", false)] {
        a.ip(&format!("addr {verb} 10.5.0.2/24 dev w0"));
        let want: IpNet = "10.5.0.2/24".parse().unwrap();
        wait_for(&mut watcher, &format!("address {verb}"), |e| *e == KernelEvent::Address { index: w0, address: want, added });
    }

    for (verb, added) in [("add", true), ("del", false)] {
        a.ip(&format!("-4 route {verb} 10.6.0.0/16 via 10.5.0.1 dev w0 onlink table 200 metric 7"));
        let entry = RouteEntry {
            destination: "10.6.0.0/16".parse().unwrap(),
            gateway: Some("10.5.0.1".parse().unwrap()),
            oif: Some(w0),
            protocol: netlink::RTPROT_BOOT,
            kind: 1,
            priority: Some(7),
            multipath: vec![],
        };
        wait_for(&mut watcher, &format!("route {verb}"), |e| {
            *e == KernelEvent::Route { added, family: Family::V4, table: 200, entry: entry.clone() }
        });
    }

    for (verb, added) in [("add", true), ("del", false)] {
        a.ip(&format!("-6 rule {verb} fwmark 0x100 lookup 200 priority 12345"));
        wait_for(&mut watcher, &format!("rule {verb}"), |e| {
            *e == KernelEvent::Rule { added, family: Family::V6, priority: 12345, table: 200 }
        });
    }

    // The link goes, and with it its IPv6 route (IPv4 routes go silently).
    a.ip("-6 route add 2001:db8:6::/48 via 2001:db8:5::1 dev w0 onlink table 200");
    wait_for(&mut watcher, "v6 route added", |e| matches!(e, KernelEvent::Route { added: true, family: Family::V6, .. }));
    a.ip("link del w0");
    let events = wait_for(
        &mut watcher,
        "w0 deleted",
        |e| matches!(e, KernelEvent::LinkGone { index, name } if *index == w0 && name == "w0"),
    );
    let more = watcher.recv(Duration::from_millis(200)).unwrap();
    let gone = events.iter().chain(&more).any(
        |e| matches!(e, KernelEvent::Route { added: false, family: Family::V6, table: 200, entry } if entry.oif == Some(w0)),
    );
    assert!(gone, "the IPv6 route via w0 is reported gone: {events:#?} {more:#?}");
    assert_eq!(watcher.skipped(), 0, "every message was read");
}

/// A watcher that is not read while a burst of changes arrives reports the
/// loss once its small receive buffer overflowed, and works on.
#[test]
fn watcher_reports_lost_events() {
    if !available() {
        return;
    }
    let a = Ns::new("o");
    a.veth("o0");
    let mut watcher = a.inside(|| Watcher::with_receive_buffer(0));
    let batch: String = (0..1000).map(|i| format!("addr add 10.{}.{}.1/32 dev o0\n", i / 250, i % 250)).collect();
    let file = common::tempdir("netlink-lost").join("batch");
    std::fs::write(&file, batch).unwrap();
    a.ip(&format!("-batch {}", file.display()));
    let events = wait_for(&mut watcher, "overflow", |e| *e == KernelEvent::Lost);
    assert!(events.len() < 1000, "some events were lost: {}", events.len());
    a.ip("addr add 10.200.0.1/32 dev o0");
    let want: IpNet = "10.200.0.1/32".parse().unwrap();
    wait_for(
        &mut watcher,
        "after the loss",
        |e| matches!(e, KernelEvent::Address { address, added: true, .. } if *address == want),
    );
}
