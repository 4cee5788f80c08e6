//! Network namespaces for tests that check real traffic: a topology built
//! from a site's model, with a lan host per lan, one ISP namespace per
//! uplink, and a remote host reachable through every ISP. Each ISP NATs to
//! its own link address, so the remote side can tell which uplink a
//! connection came through. Everything is torn down on drop.
//!
//! A test binary that includes it includes tests/common too (`mod common;`).

#![allow(dead_code)] // each test binary uses its own part of this module

use crate::common::{self, Need, IP, NFT, PYTHON3};
use ipnet::IpNet;
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use wanc::ir::{Gateway, Site};

/// The remote host's addresses, reachable through every ISP.
pub const REMOTE_V4: &str = "198.18.0.1";
pub const REMOTE_V6: &str = "fd18::1";
/// Ports the remote (and every lan host) answers on with the peer address.
pub const PORTS: &[u16] = &[80, 443, 8080, 8443, 9000, 9001];

/// Whether the environment can run namespace tests: root, `ip`, `nft`,
/// `python3` (see `common::require` for what happens when it cannot).
pub fn available() -> bool {
    common::require(&[Need::Root, IP, NFT, PYTHON3])
}

/// Runs a command, panicking with its output when it fails.
pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?} failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    text
}

/// `ip netns exec NS …`.
pub fn exec(ns: &str, args: &[&str]) -> String {
    let mut full = vec!["ip", "netns", "exec", ns];
    full.extend_from_slice(args);
    run(&full)
}

/// Like `exec`, but returns success instead of panicking.
pub fn try_exec(ns: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip").args(["netns", "exec", ns]).args(args).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// The remote's server on every port of [`PORTS`]: it says the peer it sees
/// (which tells the uplink a connection left by), then echoes every line
/// back until the client closes, so a connection can also be held open.
const SERVER: &str = r#"
import socket, sys, threading
def handle(c, peer):
    try:
        c.sendall((peer[0] + "\n").encode())
        while True:
            d = c.recv(100)
            if not d: break
            c.sendall(d)
    except OSError: pass
    finally: c.close()
def serve(family, addr, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port)); s.listen(256)
    while True:
        c, peer = s.accept()
        threading.Thread(target=handle, args=(c, peer), daemon=True).start()
for port in map(int, sys.argv[1:]):
    threading.Thread(target=serve, args=(socket.AF_INET, "0.0.0.0", port), daemon=True).start()
    threading.Thread(target=serve, args=(socket.AF_INET6, "::", port), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"#;

/// Opens N connections, prints the peer each was seen from, then for every
/// line on stdin sends a line on each connection and prints, for each in
/// order, whether its echo came back (a dead one stays dead). Bounded: one
/// second per connection and round, and it ends with its stdin.
const HOLDER: &str = r#"
import socket, sys
target, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conns = []
for i in range(n):
    try:
        s = socket.create_connection((target, port), timeout=2)
        f = s.makefile("rb")
        peer = f.readline().decode().strip() or "-"
    except OSError:
        s, f, peer = None, None, "-"
    conns.append([s, f]); print(peer, flush=True)
for line in sys.stdin:
    out = []
    for c in conns:
        ok = False
        if c[0] is not None:
            try:
                c[0].settimeout(1)
                c[0].sendall(b"x\n"); ok = c[1].readline() == b"x\n"
            except OSError: pass
            if not ok:
                c[0].close(); c[0] = None
        out.append("ok" if ok else "dead")
    print(" ".join(out), flush=True)
"#;

/// Connections held open from a namespace to the remote's server.
pub struct Held {
    child: Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    /// Per connection, the uplink it was seen through (`None`: failed).
    pub uplinks: Vec<Option<usize>>,
}

impl Held {
    /// Which connections still carry bytes both ways.
    pub fn alive(&mut self) -> Vec<bool> {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("holder's stdin");
        stdin.write_all(b"probe\n").and_then(|()| stdin.flush()).expect("holder runs");
        let line = self.lines.next().and_then(Result::ok).unwrap_or_default();
        line.split_whitespace().map(|w| w == "ok").collect()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` TCP connections one after the other, each on a line: the address the
/// far side saw, or `-` when it failed (within a second: the lab is a few
/// veth hops). One process for all of them: a process per connection costs
/// more than the connection.
const CLIENT: &str = r#"
import socket, sys
target, port, source, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
family = socket.AF_INET6 if ":" in target else socket.AF_INET
for i in range(n):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(1)
        if source != "-": s.bind((source, 0))
        s.connect((target, port))
        print(s.recv(100).decode().strip() or "-", flush=True)
        s.close()
    except OSError:
        print("-", flush=True)
"#;

/// `n` TCP connections from `ns` to `target:port`; per connection the
/// address the far side saw, or `None` when it failed.
pub fn connections(ns: &str, target: &str, port: u16, n: usize, source: Option<&str>) -> Vec<Option<String>> {
    let out = try_exec(ns, &["python3", "-c", CLIENT, target, &port.to_string(), source.unwrap_or("-"), &n.to_string()])
        .unwrap_or_default();
    let mut seen: Vec<Option<String>> = out.lines().map(|l| (l.trim() != "-").then(|| l.trim().to_string())).collect();
    seen.resize(n, None);
    seen
}

/// One TCP connection from `ns` to `target:port`; the address the far side
/// saw, or `None` when the connection failed.
pub fn connect(ns: &str, target: &str, port: u16, source: Option<&str>) -> Option<String> {
    connections(ns, target, port, 1, source).pop().flatten()
}

pub struct Topology {
    pub router: String,
    /// One host per lan, in the site's lan order.
    pub lans: Vec<String>,
    /// The lan host's own addresses, per lan: (v4, v6).
    pub lan_hosts: Vec<(Option<IpAddr>, Option<IpAddr>)>,
    /// One ISP per uplink, in the site's uplink order.
    pub isps: Vec<String>,
    pub remote: String,
    servers: Vec<Child>,
    namespaces: Vec<String>,
}

impl Topology {
    /// Builds the topology for `site`; `tag` keeps parallel tests apart.
    pub fn build(site: &Site, tag: &str) -> Topology {
        let pid = std::process::id();
        let name = |role: &str| format!("w{tag}-{role}-{pid}");
        let mut t = Topology {
            router: name("r"),
            lans: (0..site.lans.len()).map(|i| name(&format!("l{i}"))).collect(),
            lan_hosts: Vec::new(),
            isps: (0..site.uplinks.len()).map(|i| name(&format!("i{i}"))).collect(),
            remote: name("x"),
            servers: Vec::new(),
            namespaces: Vec::new(),
        };
        let all: Vec<String> =
            [t.router.clone(), t.remote.clone()].into_iter().chain(t.lans.clone()).chain(t.isps.clone()).collect();
        for ns in &all {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
            run(&["ip", "netns", "add", ns]);
            t.namespaces.push(ns.clone());
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            // Strict reverse-path filtering everywhere, as several
            // distributions ship it: wanc must work with it, not around
            // it. L4 hashing makes kernel multipath spread connections,
            // not just address pairs (the remote is one address).
            for key in [
                "net.ipv4.ip_forward=1",
                "net.ipv6.conf.all.forwarding=1",
                "net.ipv4.conf.all.rp_filter=1",
                "net.ipv4.conf.default.rp_filter=1",
                "net.ipv4.conf.lo.rp_filter=1",
                "net.ipv4.fib_multipath_hash_policy=1",
                "net.ipv6.fib_multipath_hash_policy=1",
            ] {
                exec(ns, &["sysctl", "-qw", key]);
            }
        }
        t.build_lans(site);
        t.build_uplinks(site);
        t.assert_strict_rp_filter();
        t.servers.push(server(&t.remote));
        for ns in t.lans.clone() {
            t.servers.push(server(&ns));
        }
        t
    }

    fn build_lans(&mut self, site: &Site) {
        for (i, lan) in site.lans.iter().enumerate() {
            let host = self.lans[i].clone();
            veth(&self.router, &lan.interface, &host, "eth0");
            let (mut v4, mut v6) = (None, None);
            for net in &lan.networks {
                let mut hosts = net.hosts();
                let (Some(gw), Some(_)) = (hosts.next(), hosts.next()) else { continue };
                let me = nth_host(net, 10);
                addr(&self.router, &lan.interface, gw, net.prefix_len());
                addr(&host, "eth0", me, net.prefix_len());
                let family = if me.is_ipv4() { "-4" } else { "-6" };
                run(&["ip", "-n", &host, family, "route", "replace", "default", "via", &gw.to_string()]);
                if me.is_ipv4() {
                    v4 = Some(me);
                } else {
                    v6 = Some(me);
                }
            }
            // The site's hosts live on the lan whose network holds them.
            for h in &site.hosts {
                if lan.networks.iter().any(|n| n.contains(&h.address)) {
                    let len = lan.networks.iter().find(|n| n.contains(&h.address)).map(|n| n.prefix_len()).unwrap_or(24);
                    addr(&host, "eth0", h.address, len);
                }
            }
            self.lan_hosts.push((v4, v6));
        }
    }

    fn build_uplinks(&mut self, site: &Site) {
        for (i, up) in site.uplinks.iter().enumerate() {
            let isp = self.isps[i].clone();
            veth(&self.router, &up.interface, &isp, "eth0");
            for net in &up.addresses {
                let len = if net.prefix_len() == net.max_prefix_len() {
                    if net.addr().is_ipv4() {
                        24
                    } else {
                        64
                    }
                } else {
                    net.prefix_len()
                };
                addr(&self.router, &up.interface, net.addr(), len);
                let gateway = up.gateways.iter().find_map(|g| match g {
                    Gateway::Address { address, .. } if address.is_ipv4() == net.addr().is_ipv4() => Some(*address),
                    _ => None,
                });
                // A point-to-point uplink (`gateway dev`) gets the link's
                // first address as its far end, answering for the remote.
                let far = gateway.unwrap_or_else(|| nth_host(&IpNet::new(net.addr(), len).expect("prefix").trunc(), 1));
                addr(&isp, "eth0", far, len);
                if gateway.is_none() {
                    exec(&isp, &["sysctl", "-qw", "net.ipv6.conf.all.proxy_ndp=1"]);
                    run(&["ip", "-n", &isp, "-6", "neigh", "add", "proxy", REMOTE_V6, "dev", "eth0"]);
                    run(&["ip", "-n", &isp, "-4", "neigh", "replace", "proxy", REMOTE_V4, "dev", "eth0"]);
                }
            }
            for g in &up.gateways {
                if let Gateway::Address { address: a @ IpAddr::V6(v6), .. } = g {
                    if v6.segments()[0] & 0xffc0 == 0xfe80 {
                        addr(&isp, "eth0", *a, 64);
                    }
                }
            }
            // ISP ↔ remote: 100.64.i.0/24 and fd64:i::/64; the ISP NATs what
            // it sends to the remote to its own link address.
            let link = format!("x{i}");
            veth(&isp, "wan", &self.remote, &link);
            let (isp4, rem4) = (format!("100.64.{i}.1"), format!("100.64.{i}.2"));
            let (isp6, rem6) = (format!("fd64:{i}::1"), format!("fd64:{i}::2"));
            addr(&isp, "wan", isp4.parse().expect("v4"), 24);
            addr(&isp, "wan", isp6.parse().expect("v6"), 64);
            addr(&self.remote, &link, rem4.parse().expect("v4"), 24);
            addr(&self.remote, &link, rem6.parse().expect("v6"), 64);
            run(&["ip", "-n", &isp, "route", "replace", &format!("{REMOTE_V4}/32"), "via", &rem4]);
            run(&["ip", "-n", &isp, "-6", "route", "replace", &format!("{REMOTE_V6}/128"), "via", &rem6]);
            // Inbound: the remote reaches the uplink's addresses through it.
            for net in &up.addresses {
                let via = if net.addr().is_ipv4() { &isp4 } else { &isp6 };
                run(&["ip", "-n", &self.remote, "route", "replace", &IpNet::from(net.addr()).to_string(), "via", via]);
            }
            let nat = "table inet isp { chain post { type nat hook postrouting priority srcnat; oifname \"wan\" masquerade; }; }";
            exec(&isp, &["nft", nat]);
        }
        addr(&self.remote, "lo", REMOTE_V4.parse().expect("v4"), 32);
        addr(&self.remote, "lo", REMOTE_V6.parse().expect("v6"), 128);
    }

    /// Which uplink (index) a peer address seen by the remote belongs to.
    pub fn uplink_of(&self, peer: &str) -> Option<usize> {
        let peer: IpAddr = peer.parse().ok()?;
        (0..self.isps.len())
            .find(|i| [format!("100.64.{i}.1"), format!("fd64:{i}::1")].iter().any(|a| a.parse::<IpAddr>().ok() == Some(peer)))
    }

    /// Opens `n` connections from `ns` to the remote's server on `port`
    /// and holds them open.
    pub fn hold(&self, ns: &str, port: u16, n: usize) -> Held {
        use std::io::BufRead;
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "python3", "-c", HOLDER, REMOTE_V4, &port.to_string(), &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("holder starts");
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let uplinks = (0..n).map(|_| lines.next().and_then(Result::ok).and_then(|peer| self.uplink_of(&peer))).collect();
        Held { child, lines, uplinks }
    }

    /// Opens `n` connections from `ns` to the remote and returns, per
    /// connection, the uplink it went through (`None`: failed).
    pub fn paths(&self, ns: &str, v6: bool, port: u16, n: usize, source: Option<&str>) -> Vec<Option<usize>> {
        let target = if v6 { REMOTE_V6 } else { REMOTE_V4 };
        connections(ns, target, port, n, source).into_iter().map(|peer| peer.and_then(|p| self.uplink_of(&p))).collect()
    }

    /// Every interface of every namespace filters by reverse path strictly.
    pub fn assert_strict_rp_filter(&self) {
        for ns in &self.namespaces {
            let values = exec(ns, &["sysctl", "-a", "--pattern", r"^net\.ipv4\.conf\..*\.rp_filter$"]);
            assert!(values.lines().count() > 2, "{ns}: no rp_filter values read:\n{values}");
            for line in values.lines() {
                assert!(line.ends_with("= 1"), "{ns}: reverse-path filtering is not strict: {line}");
            }
        }
    }

    /// The router's kernel state wanc touches, for idempotence and teardown.
    pub fn router_state(&self) -> String {
        let mut s = String::new();
        for args in [
            &["ip", "-4", "rule"][..],
            &["ip", "-6", "rule"],
            &["ip", "-4", "route", "show", "table", "all"],
            &["ip", "-6", "route", "show", "table", "all"],
            &["nft", "list", "ruleset"],
            // What wanc sets and restores, and what it must leave strict.
            &["sysctl", "-a", "--pattern", r"\.(rp_filter|src_valid_mark)$"],
        ] {
            s.push_str(&exec(&self.router, args));
        }
        // IPv6 link-local addresses appear in the local table some time after
        // a link comes up; they are the kernel's, not wanc's.
        s.lines().filter(|l| !(l.contains("fe80:") && l.contains("table local"))).map(|l| format!("{l}\n")).collect()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // For debugging a failure by hand: keep the namespaces.
        if std::env::var_os("WANC_KEEP_NETNS").is_some() {
            return;
        }
        for child in &mut self.servers {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn server(ns: &str) -> Child {
    let mut args = vec!["netns".to_string(), "exec".into(), ns.into(), "python3".into(), "-c".into(), SERVER.into()];
    args.extend(PORTS.iter().map(|p| p.to_string()));
    let mut child = Command::new("ip").args(&args).stdout(Stdio::piped()).spawn().expect("server starts");
    // Wait for "ready" so the first connection does not race the bind.
    use std::io::BufRead;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    child
}

fn veth(ns_a: &str, name_a: &str, ns_b: &str, name_b: &str) {
    run(&["ip", "-n", ns_a, "link", "add", name_a, "type", "veth", "peer", "name", name_b, "netns", ns_b]);
    run(&["ip", "-n", ns_a, "link", "set", "dev", name_a, "up"]);
    run(&["ip", "-n", ns_b, "link", "set", "dev", name_b, "up"]);
    // New interfaces take `default`'s strict mode; said again per
    // interface, so no test depends on when the namespace was made.
    for (ns, name) in [(ns_a, name_a), (ns_b, name_b)] {
        exec(ns, &["sysctl", "-qw", &format!("net.ipv4.conf.{}.rp_filter=1", name.replace('.', "/"))]);
    }
}

fn addr(ns: &str, dev: &str, addr: IpAddr, len: u8) {
    let mut args = vec!["ip", "-n", ns, "addr", "replace"];
    let a = format!("{addr}/{len}");
    args.extend([a.as_str(), "dev", dev]);
    if addr.is_ipv6() {
        args.push("nodad");
    }
    run(&args);
}

fn nth_host(net: &IpNet, n: u32) -> IpAddr {
    match net.network() {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a) + n).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) + u128::from(n)).into()),
    }
}
