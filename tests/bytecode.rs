//! The policy bytecode (`<site>.wanc`): every site survives encode and
//! decode unchanged, the bytes are deterministic, and the loader refuses
//! foreign, newer, corrupt, truncated and inconsistent files with a clear
//! error and never a panic. Edited files are resealed (checksum recomputed)
//! where the point is that the verifier, not the checksum, catches them.

mod common;

use common::{tempdir, wanc};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use wanc::bytecode::format::{crc32, Section, MAX_COND_DEPTH};
use wanc::bytecode::{self, CondError, LoadError, Place};
use wanc::ir::*;

// ---------------------------------------------------------------------------
// Helpers

fn compile(path: &Path) -> Option<Site> {
    // Linux takes every site the language allows (OpenBSD not every check
    // timing, E0501), and the bytecode is the same for both.
    wanc::driver::compile_file_for(path, &[wanc::lower::Target::Linux]).expect("readable source").plan.map(|p| p.site)
}

fn examples() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir("examples")
        .expect("examples dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wan"))
        .collect();
    paths.sort();
    paths
}

fn example(name: &str) -> Vec<u8> {
    bytecode::encode(&compile(Path::new(name)).expect("example compiles"))
}

const OFFICE: &str = "examples/dual-isp-failover.wan";

/// Recomputes the checksum after an edit.
fn reseal(bytes: &mut [u8]) {
    let crc = crc32(&bytes[8..]);
    bytes[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// The sections of a well-formed file as (id, payload), read independently
/// of the decoder from the layout in docs/bytecode.md.
fn split(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 16;
    while pos < bytes.len() {
        let len = u32::from_le_bytes(bytes[pos + 1..pos + 5].try_into().expect("4 bytes")) as usize;
        out.push((bytes[pos], bytes[pos + 5..pos + 5 + len].to_vec()));
        pos += 5 + len;
    }
    out
}

/// A file with the header of `bytes` and these sections, resealed.
fn join(bytes: &[u8], sections: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = bytes[..16].to_vec();
    for (id, payload) in sections {
        out.push(*id);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(payload);
    }
    reseal(&mut out);
    out
}

fn edit_section(bytes: &[u8], section: Section, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut sections = split(bytes);
    let (_, payload) = sections.iter_mut().find(|(id, _)| *id == section.id()).expect("section present");
    edit(payload);
    join(bytes, &sections)
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// Decoding must fail, and so must disassembling.
fn refused(bytes: &[u8]) -> LoadError {
    let err = bytecode::decode(bytes).expect_err("the file must be refused");
    assert_eq!(bytecode::disasm(bytes).expect_err("disasm refuses it too"), err);
    err
}

fn roundtrip(site: &Site) {
    let bytes = bytecode::encode(site);
    assert_eq!(bytecode::decode(&bytes).as_ref(), Ok(site), "{}", site.name);
    assert_eq!(bytecode::encode(site), bytes, "encoding is deterministic");
    assert!(bytecode::disasm(&bytes).is_ok());
}

// ---------------------------------------------------------------------------
// Roundtrips

#[test]
fn every_example_roundtrips() {
    let paths = examples();
    assert!(paths.len() >= 4);
    for path in paths {
        roundtrip(&compile(&path).unwrap_or_else(|| panic!("{} compiles", path.display())));
    }
}

/// The ui cases that compile (with warnings only) are sites too.
#[test]
fn compiling_ui_cases_roundtrip() {
    let mut sites = 0;
    for entry in std::fs::read_dir("tests/ui").expect("tests/ui") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "wan") {
            if let Some(site) = compile(&path) {
                roundtrip(&site);
                sites += 1;
            }
        }
    }
    assert!(sites >= 3, "only {sites} ui cases compile");
}

/// A source that uses every construct the language has, plugin included.
const KITCHEN: &str = r#"
site "kitchen"
plugin http_ok "settings.wasm"
const resolver = 192.0.2.53

lan inside {
    interface em1
    network 10.1.0.0/24
    network 2001:db8:1::/64
}
host web = 10.1.0.10
host web6 = 2001:db8:1::10

uplink a {
    interface em0
    address 192.0.2.2/24
    address 2001:db8:a::2/64
    gateway 192.0.2.1
    gateway 2001:db8:a::1
    nat
    weight 3
    table 150
    check ping 192.0.2.1 { every 5s timeout 500ms count 4 rise 3 fall 2 loss < 25% latency < 150ms }
    check tcp 192.0.2.1:443 { every 30s }
    check http "http://192.0.2.1/health" { expect 204 }
    check dns resolver { query "example.com" }
    check plugin http_ok { every 20s url "http://192.0.2.1/" expect "200" }
    healthy when 2
    on up { notify "a up" }
    on down { flush states; run "logger a down" }
}

uplink b {
    interface ppp0
    address 198.51.100.2
    gateway dev
    nat
    check ping ping.example.net { every 10s }
    check ping 198.51.100.1 { loss < 12.5% }
    healthy when any
}

uplink d {
    interface em3
    gateway fe80::1%em3
}

uplink c {
    interface em2
    address 203.0.113.2
    gateway 203.0.113.1
}

policy {
    default via a, b, c
    route from inside to 192.0.2.0/24 proto tcp port 1000-2000 via balance(a, b)
    route from 2001:db8:1::/64 via multipath(a, c)
    forward tcp port 8080 on a to web port 80
    forward udp port { 53, 123 } on b to web
    serve tcp port https on web6 via a stateless
}

state all when a && b && c {
    on enter { notify "all up" }
    on exit { run "true" }
}
state two when count(a, b, c) == 2 {
    policy { route proto icmp via c }
}
state some when any(a, b) || !(c && count(a, b) < 1)
state none default
"#;

#[test]
fn a_site_with_every_construct_roundtrips() {
    let dir = tempdir("kitchen");
    let wasm = wat::parse_file("tests/ui/plugins/settings.wat").expect("fixture assembles");
    std::fs::write(dir.join("settings.wasm"), wasm).expect("plugin written");
    std::fs::write(dir.join("kitchen.wan"), KITCHEN).expect("source written");
    let site = compile(&dir.join("kitchen.wan")).expect("the kitchen site compiles");
    assert_eq!(site.plugins.len(), 1);
    assert!(site.uplinks[0].checks.iter().any(|c| matches!(c.probe, Probe::Plugin { .. })));
    roundtrip(&site);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// Like benches/check_large.rs, smaller: many uplinks, rules and states.
fn generated(uplinks: usize, rules: usize, states: usize) -> String {
    use std::fmt::Write;
    let mut s = String::from("site \"generated\"\n");
    for u in 0..uplinks {
        let _ = writeln!(s, "uplink u{u} {{ interface em{u}; address 172.16.{u}.2/24; gateway 172.16.{u}.1; nat");
        let _ = writeln!(s, "    weight {}; check ping 172.16.{u}.1 {{ every 10s }}", 1 + u % 3);
        let _ = writeln!(s, "    on down {{ notify \"u{u} down\" }}\n}}");
    }
    s.push_str("policy {\n    default via u0, u1\n");
    for r in 0..rules {
        let (a, b) = (r % uplinks, (r + 1) % uplinks);
        let _ = match r % 3 {
            0 => writeln!(s, "    route from 10.{}.0.0/16 proto udp to port {} via u{a}, u{b}", r % 200, 1024 + r),
            1 => writeln!(s, "    route to 192.0.2.{}/32 via balance(u{a}, u{b})", r % 250),
            _ => writeln!(s, "    forward tcp port {} on u{a} to 10.9.0.{}", 2000 + r, 1 + r % 250),
        };
    }
    s.push_str("}\n");
    for i in 0..states {
        let (a, b) = (i % uplinks, (i + 1) % uplinks);
        let _ = writeln!(s, "state s{i} when (u{a} && !u{b}) || count(u0, u1, u2) >= 2 {{ on enter {{ run \"logger s{i}\" }} }}");
    }
    s.push_str("state rest default\n");
    s
}

#[test]
fn generated_sites_roundtrip() {
    for (uplinks, rules, states) in [(3, 10, 2), (16, 300, 12)] {
        let c = wanc::driver::compile_source("generated.wan", &generated(uplinks, rules, states));
        let report = wanc::render::short(&c.diagnostics, &c.sources);
        let site = c.plan.map(|p| p.site).unwrap_or_else(|| panic!("generated site compiles:\n{report}"));
        assert_eq!(site.rules.len(), rules + 1);
        roundtrip(&site);
    }
}

/// Values no compiler run produces but the model allows: extremes, empty
/// lists, odd strings, the deepest condition the format takes.
fn odd_site() -> Site {
    let v4 = |s: &str| -> IpAddr { s.parse().expect("address") };
    let net = |s: &str| -> ipnet::IpNet { s.parse().expect("prefix") };
    let mut deep = Cond::True;
    for _ in 1..MAX_COND_DEPTH {
        deep = Cond::Not(Box::new(deep));
    }
    let check = |probe| Check {
        probe,
        every_ms: u64::MAX,
        timeout_ms: 0,
        count: u32::MAX,
        rise: 0,
        fall: 1,
        max_loss_percent: Some(0.1 + 0.2),
        max_latency_ms: Some(u64::MAX),
    };
    let uplink = |name: &str| Uplink {
        name: name.into(),
        interface: format!("if-{name}"),
        addresses: vec![],
        learned: vec![],
        networks: vec![],
        gateways: vec![],
        nat: vec![],
        weight: 0,
        table: 0,
        checks: vec![],
        healthy: Healthy::All,
        on_up: vec![],
        on_down: vec![],
    };
    let settings: BTreeMap<String, String> =
        [("a", ""), ("url", "http://[2001:db8::1]/ünïcode")].map(|(k, v)| (k.into(), v.into())).into();
    Site {
        name: "ödd \"site\"\n\u{1b}[31m".into(),
        sources: vec!["a.wan".into(), "".into(), "a.wan".into()],
        lans: vec![Lan {
            name: "".into(),
            interface: "x".into(),
            networks: vec![net("0.0.0.0/0"), net("::/0"), net("10.1.2.3/8")],
        }],
        hosts: vec![Host { name: "h".into(), address: v4("::ffff:192.0.2.1") }],
        uplinks: vec![
            Uplink {
                addresses: vec![net("192.0.2.9/32"), net("fe80::9/10")],
                learned: vec![Family::V6, Family::V4],
                networks: vec![net("100.64.0.0/10")],
                gateways: vec![
                    Gateway::Dev,
                    Gateway::Learned { family: Family::V6 },
                    Gateway::Address { address: v4("fe80::1"), zone: Some("eth0".into()) },
                    Gateway::Address { address: v4("192.0.2.1"), zone: None },
                ],
                nat: vec![
                    Nat { from: Some(vec![net("10.1.2.3/32"), net("::/0")]), to: Address::Known(v4("192.0.2.9")) },
                    Nat { from: None, to: Address::Known(v4("2001:db8::9")) },
                    Nat { from: Some(vec![]), to: Address::Learned(Family::V4) },
                ],
                weight: u32::MAX,
                table: u32::MAX,
                checks: vec![
                    check(Probe::Tcp { target: Target::Hostname("host.example".into()), port: u16::MAX }),
                    check(Probe::Plugin { plugin: "p".into(), settings }),
                    check(Probe::Ping { target: Target::Address(v4("2001:db8::53")) }),
                    check(Probe::Http {
                        url: HttpUrl { tls: true, host: Target::Hostname("x".into()), port: u16::MAX, path: "/a?b".into() },
                        expect: 599,
                    }),
                    check(Probe::Http {
                        url: HttpUrl { tls: false, host: Target::Address(v4("2001:db8::80")), port: 80, path: "/".into() },
                        expect: 200,
                    }),
                    check(Probe::Dns { server: v4("192.0.2.53"), query: ".".into() }),
                ],
                healthy: Healthy::AtLeast(u32::MAX),
                on_up: vec![Action::Run("a; b".into()), Action::Notify("".into()), Action::FlushStates(vec![1, 0])],
                ..uplink("first")
            },
            Uplink { healthy: Healthy::Any, on_down: vec![Action::FlushStates(vec![1])], ..uplink("second") },
        ],
        plugins: vec![Plugin {
            name: "p".into(),
            path: "/abs/p.wasm".into(),
            settings: vec![
                PluginSetting { name: "url".into(), required: true },
                PluginSetting { name: "a".into(), required: false },
            ],
        }],
        derived_states: true,
        rules: vec![
            Rule { text: "".into(), line: usize::MAX, kind: RuleKind::Default { via: 0 } },
            Rule {
                text: "r".into(),
                line: 0,
                kind: RuleKind::Route {
                    from: vec![net("10.0.0.0/8")],
                    to: vec![net("2001:db8::/32")],
                    proto: Some(Proto::Esp),
                    ports: vec![Ports { first: 0, last: 0 }, Ports { first: 1, last: 65535 }],
                    via: 1,
                },
            },
            Rule {
                text: "f".into(),
                line: 7,
                kind: RuleKind::Forward {
                    proto: Proto::Gre,
                    ports: vec![],
                    on: 1,
                    at: Address::Learned(Family::V6),
                    to: v4("2001:db8::80"),
                    to_port: Some(0),
                },
            },
            Rule {
                text: "s".into(),
                line: 8,
                kind: RuleKind::Serve {
                    proto: Proto::Icmp6,
                    ports: vec![Ports { first: 5, last: 6 }],
                    host: v4("192.0.2.80"),
                    via: 0,
                    stateless: false,
                },
            },
        ],
        site_rules: 3,
        vias: vec![
            Via { mode: ViaMode::Balance, uplinks: vec![] },
            Via { mode: ViaMode::Multipath, uplinks: vec![1, 0, 1] },
            Via { mode: ViaMode::Failover, uplinks: vec![1] },
        ],
        states: vec![
            State {
                name: "deep".into(),
                when_text: "".into(),
                when: deep,
                health: vec![Health::Up, Health::Either],
                on_enter: vec![Action::Notify("in".into())],
                on_exit: vec![Action::Run("out".into())],
                replaced: vec![0, 0, 2],
                own: vec![3, 3],
                routing: vec![
                    Routing::Unrouted,
                    Routing::Uplinks { mode: ViaMode::Failover, members: vec![Member { uplink: 1, weight: 0, certain: false }] },
                    Routing::Pinned { uplink: 0, health: Health::Down },
                ],
            },
            State {
                name: "empty".into(),
                when_text: "x".into(),
                when: Cond::And(vec![]),
                health: vec![Health::Down, Health::Down],
                on_enter: vec![],
                on_exit: vec![],
                replaced: vec![],
                own: vec![],
                routing: vec![Routing::Unrouted, Routing::Unrouted, Routing::Unrouted],
            },
            State {
                name: "mixed".into(),
                when_text: "y".into(),
                when: Cond::Or(vec![
                    Cond::And(vec![Cond::Up(1)]),
                    Cond::CountIn { members: vec![], min: 5, max: 1 },
                    Cond::Not(Box::new(Cond::Or(vec![]))),
                    Cond::CountIn { members: vec![1, 0], min: 0, max: u32::MAX },
                ]),
                health: vec![Health::Either, Health::Either],
                on_enter: vec![],
                on_exit: vec![],
                replaced: vec![1],
                own: vec![],
                routing: vec![Routing::Uplinks { mode: ViaMode::Balance, members: vec![] }, Routing::Unrouted, Routing::Unrouted],
            },
        ],
    }
}

#[test]
fn extreme_values_are_refused_after_decoding() {
    // The format carries them, but no compiler writes them: the loader's
    // range check refuses the file.
    assert!(matches!(refused(&bytecode::encode(&odd_site())), LoadError::Invalid { .. }));
}

#[test]
fn odd_text_and_empty_values_roundtrip() {
    // The odd site with its numbers and names brought into range; its odd
    // texts (commands, notifications, settings) stay.
    let mut site = odd_site();
    site.name = "odd".into();
    for (i, up) in site.uplinks.iter_mut().enumerate() {
        up.weight = 1000;
        up.table = 200 + i as u32;
        for c in &mut up.checks {
            (c.every_ms, c.timeout_ms, c.count, c.rise, c.fall) = (1, 1, 100, 1, 100);
        }
    }
    for state in &mut site.states {
        for routing in &mut state.routing {
            if let wanc::ir::Routing::Uplinks { members, .. } = routing {
                members.iter_mut().for_each(|m| m.weight = 1);
            }
        }
    }
    site.uplinks[0].on_up.push(wanc::ir::Action::Notify("\u{1b}[31mred".into()));
    roundtrip(&site);
    let text = bytecode::disasm(&bytecode::encode(&site)).expect("loads");
    assert!(!text.contains('\u{1b}'), "escape characters from the file reach the terminal");
}

// ---------------------------------------------------------------------------
// Determinism and the build

#[test]
fn build_writes_the_same_policy_file_every_time() {
    let (one, two) = (tempdir("build-one"), tempdir("build-two"));
    for dir in [&one, &two] {
        let out = wanc(&["build", OFFICE, "-o", dir.to_str().expect("utf-8 path")]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("office.wanc"));
    }
    let (a, b) =
        (std::fs::read(one.join("office.wanc")).expect("written"), std::fs::read(two.join("office.wanc")).expect("written"));
    assert_eq!(a, b);
    assert_eq!(a, example(OFFICE), "the build writes what `encode` gives");
    assert_eq!(bytecode::decode(&a).as_ref(), Ok(&compile(Path::new(OFFICE)).expect("compiles")));
    for dir in [one, two] {
        std::fs::remove_dir_all(dir).expect("cleanup");
    }
}

#[test]
fn example_sizes_stay_compact() {
    for path in examples() {
        let len = bytecode::encode(&compile(&path).expect("compiles")).len();
        assert!(len < 2048, "{}: {len} bytes", path.display());
    }
}

// ---------------------------------------------------------------------------
// The header

#[test]
fn foreign_files_are_not_policies() {
    for bytes in [&b"WANX\0\0\0\0"[..], b"\x7fELF\x02\x01\x01\0", b"{\"site\": 1}", b"site \"office\"\n", b"wanc"] {
        assert_eq!(refused(bytes), LoadError::NotPolicy, "{bytes:?}");
    }
    assert_eq!(refused(b"").to_string(), "truncated header");
    assert_eq!(refused(b"WANC\0\0\0\0\x01\0").to_string(), "truncated header");
    assert_eq!(LoadError::NotPolicy.to_string(), "not a wanc policy file");
}

#[test]
fn other_major_versions_are_refused_before_the_checksum() {
    let bytes = example(OFFICE);
    let ours = wanc::bytecode::format::MAJOR;
    for major in (0..ours).chain([ours + 1, u16::MAX]) {
        let mut newer = bytes.clone();
        newer[8..10].copy_from_slice(&major.to_le_bytes());
        let err = refused(&newer);
        assert_eq!(err, LoadError::UnsupportedVersion { major, minor: 0 });
        assert_eq!(
            err.to_string(),
            format!("unsupported format version {major}.0: this wanc reads version {}", wanc::bytecode::format::MAJOR)
        );
    }
}

#[test]
fn any_flipped_byte_fails_the_checksum() {
    let bytes = example(OFFICE);
    for pos in (4..bytes.len()).filter(|p| !(8..10).contains(p)) {
        for flip in [0x01, 0x80, 0xFF] {
            let mut bad = bytes.clone();
            bad[pos] ^= flip;
            assert!(matches!(refused(&bad), LoadError::ChecksumMismatch { .. }), "byte {pos} ^ {flip:#x}");
        }
    }
    let mut bad = bytes.clone();
    bad[40] ^= 1;
    assert!(refused(&bad).to_string().starts_with("checksum mismatch: the header says 0x"));
}

#[test]
fn unknown_flags_are_refused() {
    let mut bytes = example(OFFICE);
    bytes[12] = 1;
    reseal(&mut bytes);
    assert_eq!(refused(&bytes), LoadError::UnknownFlags(1));
}

#[test]
fn unknown_sections_are_skipped_only_in_newer_minors() {
    let bytes = example(OFFICE);
    let mut sections = split(&bytes);
    sections.push((200, b"from the future".to_vec()));
    let same_minor = join(&bytes, &sections);
    assert_eq!(refused(&same_minor), LoadError::UnknownSection(200));
    let mut newer_minor = same_minor.clone();
    newer_minor[10] = 1;
    reseal(&mut newer_minor);
    assert_eq!(bytecode::decode(&newer_minor), bytecode::decode(&bytes));
    assert!(bytecode::disasm(&newer_minor).expect("loads").contains("skipped"));
}

// ---------------------------------------------------------------------------
// Truncation and the section table

#[test]
fn every_truncation_is_refused() {
    let bytes = example(OFFICE);
    for len in 0..bytes.len() {
        refused(&bytes[..len]);
        if len >= 16 {
            // Resealed, so the structure and not the checksum must catch it.
            let mut cut = bytes[..len].to_vec();
            reseal(&mut cut);
            let err = refused(&cut);
            assert!(matches!(err, LoadError::Truncated(_) | LoadError::MissingSection(_)), "length {len}: {err}");
        }
    }
}

#[test]
fn sections_must_all_be_there_in_order() {
    let bytes = example(OFFICE);
    let sections = split(&bytes);
    let without_hosts: Vec<_> = sections.iter().filter(|(id, _)| *id != Section::Hosts.id()).cloned().collect();
    assert_eq!(refused(&join(&bytes, &without_hosts)), LoadError::MissingSection(Section::Hosts));
    assert_eq!(refused(&join(&bytes, &without_hosts)).to_string(), "missing section `hosts`");

    let mut swapped = sections.clone();
    swapped.swap(7, 8);
    assert_eq!(refused(&join(&bytes, &swapped)), LoadError::SectionOrder(Place::Section(Section::Rules)));

    let mut twice = sections.clone();
    twice.insert(4, sections[3].clone());
    assert_eq!(refused(&join(&bytes, &twice)), LoadError::SectionOrder(Place::Section(Section::Hosts)));

    let mut long = bytes.clone();
    let states_at = bytes.len() - 5 - sections[8].1.len();
    long[states_at + 1..states_at + 5].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal(&mut long);
    assert_eq!(refused(&long).to_string(), "truncated section `states`");
}

#[test]
fn unused_bytes_in_a_section_are_refused() {
    let bytes = edit_section(&example(OFFICE), Section::Lans, |p| p.push(0));
    assert_eq!(refused(&bytes), LoadError::TrailingBytes { section: Section::Lans, count: 1 });
}

// ---------------------------------------------------------------------------
// Inside sections

#[test]
fn inflated_counts_are_refused_before_allocating() {
    let bytes = example(OFFICE);
    for count in [u64::from(u32::MAX), u64::MAX] {
        for section in [Section::Strings, Section::Uplinks, Section::States] {
            let bad = edit_section(&bytes, section, |p| {
                let old = varint(u64::from(p[0]));
                p.splice(..old.len(), varint(count));
            });
            assert_eq!(refused(&bad), LoadError::CountTooLarge { section, count });
        }
    }
}

#[test]
fn malformed_integers_are_refused() {
    let bytes = example(OFFICE);
    let overlong = edit_section(&bytes, Section::Strings, |p| {
        p[0] |= 0x80;
        p.insert(1, 0);
    });
    assert_eq!(refused(&overlong), LoadError::MalformedInteger(Section::Strings));
    let too_wide = edit_section(&bytes, Section::Strings, |p| {
        p.splice(..1, [0xFF; 11]);
    });
    assert_eq!(refused(&too_wide), LoadError::MalformedInteger(Section::Strings));
}

#[test]
fn strings_must_be_utf8() {
    // Payload: count, the first string's length, its first byte.
    let bytes = edit_section(&example(OFFICE), Section::Strings, |p| p[2] = 0xFF);
    assert_eq!(refused(&bytes), LoadError::InvalidUtf8 { index: 0 });
    assert_eq!(refused(&bytes).to_string(), "invalid UTF-8 in string 0");
}

#[test]
fn invalid_tags_are_refused() {
    // The site section ends with the derived-states boolean.
    let bytes = edit_section(&example(OFFICE), Section::Site, |p| {
        if let Some(last) = p.last_mut() {
            *last = 7;
        }
    });
    assert_eq!(refused(&bytes), LoadError::InvalidTag { section: Section::Site, what: "boolean", tag: 7 });
}

/// The first state of the office example, `isp1 && isp2`, as code:
/// length 6, UP 0, UP 1, AND 2.
const ALLWORKING: [u8; 7] = [6, 0x02, 0, 0x02, 1, 0x04, 2];

fn edit_allworking(edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    edit_section(&example(OFFICE), Section::States, |p| {
        let at = p.windows(ALLWORKING.len()).position(|w| w == ALLWORKING).expect("the code is there");
        edit(&mut p[at..at + ALLWORKING.len()]);
    })
}

#[test]
fn condition_code_is_verified() {
    let state = "allworking".to_string();
    assert_eq!(refused(&edit_allworking(|c| c[1] = 0xEE)), LoadError::UnknownOpcode { state: state.clone(), opcode: 0xEE });
    assert_eq!(refused(&edit_allworking(|c| c[1] = 0x00)), LoadError::UnknownOpcode { state: state.clone(), opcode: 0 });
    assert_eq!(
        refused(&edit_allworking(|c| c[6] = 1)),
        LoadError::BadCondition { state: state.clone(), error: CondError::Leftover(2) }
    );
    assert_eq!(
        refused(&edit_allworking(|c| c[6] = 3)),
        LoadError::BadCondition { state: state.clone(), error: CondError::Underflow { op: "AND", wanted: 3, held: 2 } }
    );
    assert_eq!(
        refused(&edit_allworking(|c| c[4] = 9)),
        LoadError::IndexOutOfRange { section: Section::States, what: "uplink", index: 9, len: 2 }
    );
    // The code's length says 5: AND loses its operand count.
    assert_eq!(refused(&edit_allworking(|c| c[0] = 5)), LoadError::Truncated(Place::Section(Section::States)));
    assert_eq!(
        refused(&edit_allworking(|c| c[6] = 3)).to_string(),
        "invalid condition in state \"allworking\": AND needs 3 operands, the stack holds 2"
    );
}

/// Sites that break the model's invariants encode (the encoder is total)
/// and are refused on load: the checksum is right, the verifier catches
/// them.
#[test]
fn inconsistent_sites_are_refused() {
    let office = compile(Path::new(OFFICE)).expect("compiles");
    let refuse = |edit: &dyn Fn(&mut Site)| {
        let mut site = office.clone();
        edit(&mut site);
        refused(&bytecode::encode(&site))
    };
    let (uplinks, rules) = (office.uplinks.len(), office.rules.len());

    let err = refuse(&|s| s.states[0].own.push(99));
    assert_eq!(err, LoadError::IndexOutOfRange { section: Section::States, what: "rule", index: 99, len: rules });
    assert_eq!(err.to_string(), format!("index out of range in section `states`: rule 99, but there are {rules}"));

    assert_eq!(
        refuse(&|s| s.states[1].when = Cond::Not(Box::new(Cond::Up(7)))),
        LoadError::IndexOutOfRange { section: Section::States, what: "uplink", index: 7, len: uplinks }
    );
    assert_eq!(
        refuse(&|s| s.vias[0] = Via { mode: ViaMode::Failover, uplinks: vec![0, 5] }),
        LoadError::IndexOutOfRange { section: Section::Rules, what: "uplink", index: 5, len: uplinks }
    );
    assert_eq!(
        refuse(&|s| s.states[0].routing[0] = Routing::Pinned { uplink: uplinks, health: Health::Up }),
        LoadError::IndexOutOfRange { section: Section::States, what: "uplink", index: uplinks as u64, len: uplinks }
    );
    assert!(matches!(
        refuse(&|s| s.states[0].routing.pop().map_or((), drop)),
        LoadError::Invalid { section: Section::States, .. }
    ));
    assert!(matches!(refuse(&|s| s.states[0].health.push(Health::Up)), LoadError::Invalid { section: Section::States, .. }));
    let err = refuse(&|s| s.uplinks[0].checks[0].probe = Probe::Plugin { plugin: "ghost".into(), settings: BTreeMap::new() });
    assert_eq!(err.to_string(), "invalid section `checks`: a check uses plugin \"ghost\", which the site does not declare");
    assert!(matches!(refuse(&|s| s.uplinks[0].checks[0].max_loss_percent = Some(f64::NAN)), LoadError::Invalid { .. }));
    // An http URL's parts are held to what the checker's URL parser gives.
    let http = |host: Target, port: u16, path: &str| Probe::Http {
        url: HttpUrl { tls: true, host, port, path: path.into() },
        expect: 200,
    };
    for (probe, error) in [
        (http(Target::Hostname("-oProxy".into()), 443, "/"), "http check host \"-oProxy\" is not a host name"),
        (http(Target::Hostname("user@h".into()), 443, "/"), "http check host \"user@h\" is not a host name"),
        (http(Target::Hostname("h".into()), 0, "/"), "an http check's port is 0"),
        (http(Target::Hostname("h".into()), 443, "/a b"), "http check path \"/a b\" is not a request path"),
        (http(Target::Hostname("h".into()), 443, "a"), "http check path \"a\" is not a request path"),
    ] {
        let err = refuse(&|s| s.uplinks[0].checks[0].probe = probe.clone());
        assert_eq!(err.to_string(), format!("invalid section `checks`: {error}"));
    }
    assert!(matches!(
        refuse(&|s| if let RuleKind::Route { ports, .. } = &mut s.rules[2].kind {
            ports.push(Ports { first: 443, last: 80 })
        }),
        LoadError::Invalid { section: Section::Rules, .. }
    ));

    let mut too_deep = Cond::True;
    for _ in 0..MAX_COND_DEPTH {
        too_deep = Cond::Not(Box::new(too_deep));
    }
    assert_eq!(
        refuse(&|s| s.states[2].when = too_deep.clone()),
        LoadError::BadCondition { state: "noisp2".into(), error: CondError::TooDeep }
    );
}

#[test]
fn one_string_named_many_times_cannot_blow_up_memory() {
    let mut site = compile(Path::new(OFFICE)).expect("compiles");
    // 100 references to one 64 KiB string: a 66 KB file that would copy
    // 6.5 MB of strings, past 64 times its size plus the 1 MiB floor.
    site.uplinks[0].on_up = vec![Action::Notify("x".repeat(1 << 16)); 100];
    let bytes = bytecode::encode(&site);
    assert!(bytes.len() < 70_000);
    assert!(matches!(refused(&bytes), LoadError::StringsTooLarge { .. }));
    site.uplinks[0].on_up.truncate(10);
    roundtrip(&site);
}

// ---------------------------------------------------------------------------
// Random damage

fn corpus() -> &'static [Vec<u8>] {
    static CORPUS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut files: Vec<Vec<u8>> = examples().iter().map(|p| bytecode::encode(&compile(p).expect("compiles"))).collect();
        files.push(bytecode::encode(&odd_site()));
        files
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever the damage, loading returns; what loads is a valid site
    /// that survives another roundtrip.
    #[test]
    fn mutated_files_never_panic(
        pick in any::<usize>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0..4u8), 1..6),
        seal in any::<bool>(),
    ) {
        let corpus = corpus();
        let mut bytes = corpus[pick % corpus.len()].clone();
        for (pos, byte, op) in edits {
            // Past the header mostly, where the verifier has work to do.
            let pos = 16 + pos % bytes.len().saturating_sub(16).max(1);
            match op {
                0 if pos < bytes.len() => bytes[pos] = byte,
                1 if pos < bytes.len() => bytes[pos] ^= 1 << (byte % 8),
                2 => bytes.insert(pos.min(bytes.len()), byte),
                _ if pos < bytes.len() => { bytes.remove(pos); }
                _ => {}
            }
        }
        if seal && bytes.len() >= 8 {
            reseal(&mut bytes);
        }
        let decoded = bytecode::decode(&bytes);
        prop_assert_eq!(bytecode::disasm(&bytes).is_ok(), decoded.is_ok());
        if let Ok(site) = decoded {
            prop_assert_eq!(bytecode::decode(&bytecode::encode(&site)), Ok(site));
        }
    }
}

// ---------------------------------------------------------------------------
// `wanc disasm`

#[test]
fn disasm_shows_the_office_policy() {
    let dir = tempdir("disasm");
    let out = wanc(&["build", OFFICE, "-o", dir.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0));
    let file = dir.join("office.wanc");
    let out = wanc(&["disasm", file.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert!(stdout.contains("  condition !isp1 && isp2\n"), "{stdout}");
    insta::assert_snapshot!("disasm_office", stdout);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn disasm_refuses_what_does_not_load() {
    let dir = tempdir("disasm-bad");
    let mut bytes = example(OFFICE);
    bytes[30] ^= 0x40;
    let file = dir.join("bad.wanc");
    std::fs::write(&file, &bytes).expect("written");
    for (path, message) in [
        (file.to_str().expect("utf-8 path"), "checksum mismatch"),
        (OFFICE, "not a wanc policy file"),
        ("no/such/file.wanc", "cannot read"),
    ] {
        let out = wanc(&["disasm", path]);
        assert_eq!(out.status.code(), Some(2), "{path}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: ") && stderr.contains(message), "{path}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
