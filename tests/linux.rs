//! The Linux back end, run for real: each site's scripts are applied in a
//! network-namespace topology (tests/netns) and traffic is checked end to
//! end. Needs root, iproute2, nftables and python3 (see tests/run).

mod common;
mod netns;

use netns::Topology;
use std::path::PathBuf;
use wanc::ir::Site;

struct Built {
    site: Site,
    dir: PathBuf,
}

fn build(example: &str, tag: &str) -> Built {
    let dir = common::tempdir(&format!("linux-{tag}"));
    let out = common::wanc(&["build", example, "-o", dir.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "build failed: {}", common::text(&out.stderr));
    let c = wanc::driver::compile_file(example.as_ref()).expect("readable");
    Built { site: c.plan.expect("compiles").site, dir }
}

impl Built {
    fn script(&self, t: &Topology, name: &str) {
        let path = self.dir.join("linux").join(name);
        netns::exec(&t.router, &["sh", path.to_str().expect("utf-8 path")]);
    }

    fn state(&self, t: &Topology, state: &str) {
        self.script(t, &format!("state-{state}.sh"));
    }

    fn uplink(&self, name: &str) -> usize {
        self.site.uplinks.iter().position(|u| u.name == name).unwrap_or_else(|| panic!("no uplink {name}"))
    }
}

/// Every connection went through one of `uplinks`, and each of them was used.
fn assert_spread(paths: &[Option<usize>], uplinks: &[usize], what: &str) {
    for p in paths {
        assert!(p.is_some_and(|u| uplinks.contains(&u)), "{what}: {paths:?}, expected only {uplinks:?}");
    }
    for u in uplinks {
        assert!(paths.contains(&Some(*u)), "{what}: uplink {u} never used in {paths:?}");
    }
}

/// Someone else's rule, route, table and default route on the router, which
/// wanc must leave alone (and the default route put back on teardown).
fn foreign_state(t: &Topology, gateway: &str) {
    netns::exec(&t.router, &["ip", "rule", "add", "priority", "500", "from", "10.99.0.0/16", "lookup", "99"]);
    netns::exec(&t.router, &["ip", "route", "add", "unreachable", "10.98.0.0/16", "table", "99"]);
    netns::exec(&t.router, &["nft", "add table inet someone_else { chain c { type filter hook input priority 0; }; }"]);
    netns::exec(&t.router, &["ip", "route", "replace", "default", "via", gateway]);
}

/// Someone else's marks on the lan's traffic: bit 0 of the packet's and the
/// connection's mark set before wanc's chains (priority mangle - 10), and
/// counted after them (mangle + 10): all packets, and those that lost either
/// bit. Added after the "before" snapshot, since its counters move.
fn foreign_marks(t: &Topology, lan_if: &str) {
    let rules = format!(
        "add table inet theirs
         add chain inet theirs early {{ type filter hook prerouting priority -160; }}
         add rule inet theirs early iifname \"{lan_if}\" meta mark set meta mark or 0x1 ct mark set ct mark or 0x1
         add chain inet theirs late {{ type filter hook prerouting priority -140; }}
         add rule inet theirs late iifname \"{lan_if}\" counter
         add rule inet theirs late iifname \"{lan_if}\" meta mark and 0x1 == 0 counter
         add rule inet theirs late iifname \"{lan_if}\" ct mark and 0x1 == 0 counter"
    );
    netns::exec(&t.router, &["nft", &rules]);
}

/// The counters of [`foreign_marks`] (packets seen, packets whose mark lost
/// bit 0, connections whose mark lost it); the table is removed.
fn foreign_marks_counted(t: &Topology) -> Vec<u64> {
    let listing = netns::exec(&t.router, &["nft", "list", "chain", "inet", "theirs", "late"]);
    netns::exec(&t.router, &["nft", "delete", "table", "inet", "theirs"]);
    listing.lines().filter_map(|l| l.split("counter packets ").nth(1)?.split(' ').next()?.parse().ok()).collect()
}

/// Setup and a state script run twice leave identical kernel state, and
/// teardown restores the router as it was before setup.
fn assert_idempotent_and_clean(b: &Built, t: &Topology, state: &str, before: &str) {
    b.script(t, "setup.sh");
    b.state(t, state);
    let once = t.router_state();
    b.script(t, "setup.sh");
    b.state(t, state);
    assert_eq!(once, t.router_state(), "second run changed the kernel state");
    b.script(t, "teardown.sh");
    assert_eq!(before, t.router_state(), "teardown left something behind");
}

#[test]
fn dual_isp_failover_balances_pins_and_fails_over() {
    if !netns::available() {
        return;
    }
    let b = build("examples/dual-isp-failover.wan", "dual");
    let t = Topology::build(&b.site, "d");
    foreign_state(&t, "198.51.100.100");
    let before = t.router_state();
    let (isp1, isp2) = (b.uplink("isp1"), b.uplink("isp2"));
    let lan = &t.lans[0];
    b.script(&t, "setup.sh");

    b.state(&t, "allworking");
    foreign_marks(&t, &b.site.lans[0].interface);
    assert_spread(&t.paths(lan, false, 8080, 24, None), &[isp1, isp2], "balanced, all working");
    // wanc writes only its own mark bits: someone else's survive, in the
    // packets and in the connections.
    let counted = foreign_marks_counted(&t);
    assert!(counted.len() == 3 && counted[0] > 24, "foreign mark counters: {counted:?}");
    assert_eq!(&counted[1..], [0, 0], "packets and connections that lost another ruleset's mark bit");
    assert_spread(&t.paths(lan, false, 443, 8, None), &[isp2], "https pinned to isp2");
    assert_spread(&t.paths(&t.router, false, 8080, 3, None), &[isp2], "router's default via isp2");
    assert_spread(&t.paths(&t.router, false, 8080, 3, Some("198.51.100.199")), &[isp1], "from isp1's address");
    assert_spread(&t.paths(&t.router, false, 8080, 3, Some("203.0.113.220")), &[isp2], "from isp2's address");

    b.state(&t, "noisp2");
    assert_spread(&t.paths(lan, false, 8080, 8, None), &[isp1], "balanced without isp2");
    assert_spread(&t.paths(lan, false, 443, 4, None), &[isp1], "https fails over to isp1");
    assert_spread(&t.paths(&t.router, false, 8080, 3, Some("203.0.113.220")), &[isp2], "from isp2's address, still");

    b.state(&t, "noisp1");
    assert_spread(&t.paths(lan, false, 8080, 8, None), &[isp2], "balanced without isp1");

    b.state(&t, "alldown");
    // With every uplink down, traffic still tries the first uplink the
    // default route names (the same on OpenBSD, which needs it for probes).
    assert_spread(&t.paths(lan, false, 8080, 4, None), &[isp2], "all down: the default route's first uplink");
    b.script(&t, "teardown.sh");
    assert_eq!(before, t.router_state(), "teardown left something behind");
    assert_idempotent_and_clean(&b, &t, "allworking", &before);
}

#[test]
fn triple_dual_stack_follows_every_state() {
    if !netns::available() {
        return;
    }
    let b = build("examples/triple-dual-stack.wan", "triple");
    let t = Topology::build(&b.site, "t");
    foreign_state(&t, "192.0.2.1");
    let before = t.router_state();
    let (fibre, cable, lte) = (b.uplink("fibre"), b.uplink("cable"), b.uplink("lte"));
    let lan = &t.lans[0];
    b.script(&t, "setup.sh");
    for v6 in [false, true] {
        let family = if v6 { "IPv6" } else { "IPv4" };
        b.state(&t, "all_up");
        assert_spread(&t.paths(lan, v6, 8080, 30, None), &[fibre, cable, lte], &format!("{family} balanced over three"));
        assert_spread(&t.paths(lan, v6, 443, 6, None), &[fibre], &format!("{family} https on fibre"));
        assert_spread(&t.paths(lan, v6, 8443, 24, None), &[fibre, cable], &format!("{family} multipath pool"));
        b.state(&t, "no_fibre");
        assert_spread(&t.paths(lan, v6, 8080, 20, None), &[cable, lte], &format!("{family} balanced without fibre"));
        assert_spread(&t.paths(lan, v6, 443, 6, None), &[cable], &format!("{family} https fails over to cable"));
        assert_spread(&t.paths(lan, v6, 8443, 6, None), &[cable], &format!("{family} pool without fibre"));
        b.state(&t, "lte_only");
        assert_spread(&t.paths(lan, v6, 8080, 6, None), &[lte], &format!("{family} balanced on lte alone"));
        assert_spread(&t.paths(lan, v6, 443, 6, None), &[lte], &format!("{family} https on lte"));
        assert_spread(&t.paths(&t.router, v6, 8080, 3, None), &[lte], &format!("{family} router default on lte"));
        for (up, addr) in [(fibre, ["198.51.100.2", "2001:db8:a::2"]), (cable, ["203.0.113.2", "2001:db8:b::2"])] {
            let source = addr[usize::from(v6)];
            assert_spread(&t.paths(&t.router, v6, 8080, 2, Some(source)), &[up], &format!("from {source}"));
        }
    }
    b.script(&t, "teardown.sh");
    assert_eq!(before, t.router_state(), "teardown left something behind");
    assert_idempotent_and_clean(&b, &t, "no_fibre", &before);
}

#[test]
fn redundant_multipath_answers_forwards_by_the_arrival_uplink() {
    if !netns::available() || !common::require(&[common::CONNTRACK]) {
        return;
    }
    let b = build("examples/redundant-multipath.wan", "multi");
    let t = Topology::build(&b.site, "m");
    let before = t.router_state();
    let (ext1, ext2) = (b.uplink("ext1"), b.uplink("ext2"));
    b.script(&t, "setup.sh");
    b.state(&t, "via_ext1");
    assert_spread(&t.paths(&t.lans[0], false, 8080, 24, None), &[ext1, ext2], "multipath from inside");
    // Only ext2 carries the default route now; replies to a connection that
    // came in on ext1 must still leave by ext1, or the remote never sees them.
    b.state(&t, "via_ext2");
    assert_spread(&t.paths(&t.lans[1], false, 8080, 6, None), &[ext2], "dmz out by ext2");
    // www's ports are forwarded on its own address of ext1, 192.0.2.11, and
    // on no other: the uplink's address (192.0.2.10) and mail's (.12) do not
    // take them.
    for port in [80, 443] {
        for _ in 0..5 {
            let seen = netns::connect(&t.remote, "192.0.2.11", port, None);
            assert_eq!(seen.as_deref(), Some("100.64.0.2"), "forwarded port {port} answered from www through ext1");
        }
        for other in ["192.0.2.10", "192.0.2.12"] {
            assert_eq!(netns::connect(&t.remote, other, port, None), None, "port {port} forwarded on {other} too");
        }
    }
    // Each source leaves ext1 translated to its own address: the office to
    // the uplink's, www and mail to theirs (seen in ext1's ISP's conntrack,
    // before the ISP's own NAT); by ext2, all to ext2's one address.
    for (source, by_ext1) in [(None, "192.0.2.10"), (Some("10.0.1.10"), "192.0.2.11"), (Some("10.0.1.20"), "192.0.2.12")] {
        let lan = if source.is_some() { &t.lans[1] } else { &t.lans[0] };
        b.state(&t, "via_ext1");
        for isp in &t.isps {
            let _ = netns::try_exec(isp, &["conntrack", "-F"]);
        }
        let paths = t.paths(lan, false, 8080, 12, source);
        assert_spread(&paths, &[ext1, ext2], &format!("{source:?} over the pool"));
        let seen = |isp: &str| {
            netns::try_exec(isp, &["conntrack", "-L", "-p", "tcp", "--orig-dst", netns::REMOTE_V4]).unwrap_or_default()
        };
        let (at1, at2) = (seen(&t.isps[ext1]), seen(&t.isps[ext2]));
        assert!(at1.contains(&format!("src={by_ext1} ")), "{source:?} by ext1 should be {by_ext1}:\n{at1}");
        let others = ["192.0.2.10", "192.0.2.11", "192.0.2.12"].into_iter().filter(|a| *a != by_ext1);
        for other in others {
            assert!(!at1.contains(&format!("src={other} ")), "{source:?} left ext1 as {other}:\n{at1}");
        }
        assert!(at2.contains("src=198.51.100.10 ") && !at2.contains("src=192.0.2."), "{source:?} by ext2:\n{at2}");
    }
    b.state(&t, "via_ext2");
    // Connections keep the uplink they started on through a multipath
    // pool whose members change: opened with ext1 out of the pool, held
    // while ext1 comes back, then while ext2 leaves.
    let mut held = t.hold(&t.lans[0], 9000, 16);
    assert!(held.uplinks.iter().all(|u| *u == Some(ext2)), "opened by ext2 alone: {:?}", held.uplinks);
    b.state(&t, "via_ext1");
    let alive = held.alive();
    let dead = alive.iter().filter(|a| !**a).count();
    eprintln!("multipath: {} of {} connections through ext2 alive after ext1 joined the pool", alive.len() - dead, alive.len());
    assert_eq!(dead, 0, "connections through ext2 died when ext1 joined the pool: {alive:?}");
    drop(held);
    b.script(&t, "teardown.sh");
    assert_eq!(before, t.router_state(), "teardown left something behind");
    assert_idempotent_and_clean(&b, &t, "via_ext2", &before);
}

#[test]
fn tunnel_source_routing_sends_each_address_by_its_tunnel() {
    if !netns::available() {
        return;
    }
    let b = build("examples/tunnel-source-routing.wan", "tunnel");
    let t = Topology::build(&b.site, "s");
    let before = t.router_state();
    let (net0, sixxs0, sixxs1) = (b.uplink("net0"), b.uplink("sixxs0"), b.uplink("sixxs1"));
    b.script(&t, "setup.sh");
    b.state(&t, "via_net0");
    assert_spread(&t.paths(&t.router, true, 8080, 3, None), &[net0], "default via net0");
    assert_spread(&t.paths(&t.router, true, 8080, 3, Some("2a02:db8:1::2")), &[sixxs0], "from sixxs0's address");
    assert_spread(&t.paths(&t.router, true, 8080, 3, Some("2a02:db8:2::2")), &[sixxs1], "from sixxs1's address");
    b.script(&t, "teardown.sh");
    assert_eq!(before, t.router_state(), "teardown left something behind");
    assert_idempotent_and_clean(&b, &t, "via_net0", &before);
}

/// A state's own `forward` replaces the site's for the same port: nftables
/// takes it only in that state, as pf does (pf/policy.STATE.conf's `pinned`
/// anchor).
#[test]
fn a_states_own_forward_replaces_the_sites() {
    if !netns::available() {
        return;
    }
    let dir = common::tempdir("linux-forward-source");
    let source = dir.join("fwd.wan");
    std::fs::write(
        &source,
        r#"site "fwd"
lan inside { interface vr1; network 192.168.1.0/24 }
host web1 = 192.168.1.10
host web2 = 192.168.1.11
uplink isp1 { interface vr0; address 198.51.100.199/24; gateway 198.51.100.100; nat }
uplink isp2 { interface vr2; address 203.0.113.220/24; gateway 203.0.113.200; nat }
policy {
    default via isp1, isp2
    forward tcp port 8080 on isp1 to web1
}
state normal when isp2
state backup default {
    policy { forward tcp port 8080 on isp1 to web2 }
}
"#,
    )
    .expect("write site");
    let b = build(source.to_str().expect("utf-8"), "forward");
    let t = Topology::build(&b.site, "w");
    let before = t.router_state();
    b.script(&t, "setup.sh");
    let state_forwards = || netns::exec(&t.router, &["nft", "list", "chain", "inet", "wanc_fwd", "state_forwards"]);
    b.state(&t, "normal");
    assert!(state_forwards().contains("dnat ip to 192.168.1.10"), "normal: the site's forward\n{}", state_forwards());
    assert!(!state_forwards().contains("192.168.1.11"), "normal: not the state's\n{}", state_forwards());
    b.state(&t, "backup");
    assert!(state_forwards().contains("dnat ip to 192.168.1.11"), "backup: its own forward\n{}", state_forwards());
    assert!(!state_forwards().contains("192.168.1.10"), "backup: the site's is replaced\n{}", state_forwards());
    // And it carries traffic: the remote reaches the lan through isp1.
    assert!(netns::connect(&t.remote, "198.51.100.199", 8080, None).is_some(), "forwarded in backup");
    b.script(&t, "teardown.sh");
    assert_eq!(before, t.router_state(), "teardown left something behind");
}
