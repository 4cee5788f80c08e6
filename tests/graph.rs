//! `wanc graph`: the DOT of every example is pinned in a snapshot (source
//! included) and Graphviz's own `dot` renders it without a word of
//! complaint; the SVG route through `wanc graph --format svg`, a site too
//! big for transitions, and Graphviz missing.

mod common;

use common::{require, tempdir, text, wanc, DOT};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use wanc::driver;

fn dot_of(path: &Path) -> String {
    let c = driver::compile_file(path).expect("example readable");
    wanc::graph::dot(c.site().expect("a clean compilation has a model"))
}

#[test]
fn examples_graph_snapshots() {
    let mut count = 0;
    insta::glob!("../examples", "*.wan", |path| {
        count += 1;
        let source = std::fs::read_to_string(path).expect("example readable");
        insta::with_settings!({ description => source, omit_expression => true }, {
            insta::assert_snapshot!(dot_of(path));
        });
    });
    assert!(count >= 5, "examples went missing: {count}");
}

/// Runs Debian's `dot -Tsvg` on `dot`; fails on an error or any warning.
fn render(name: &str, dot: &str) -> String {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dot runs");
    child.stdin.take().expect("piped").write_all(dot.as_bytes()).expect("dot reads its input");
    let out = child.wait_with_output().expect("dot finishes");
    let said = text(&out.stderr);
    assert!(out.status.success() && said.is_empty(), "dot refused the graph of {name} ({}): {said}\n{dot}", out.status);
    text(&out.stdout)
}

#[test]
fn graphviz_renders_every_example() {
    if !require(&[DOT]) {
        return;
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&examples).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "wan") {
            count += 1;
            let c = driver::compile_file(&path).expect("example readable");
            let site = c.site().expect("a clean compilation has a model");
            let svg = render(&path.display().to_string(), &wanc::graph::dot(site));
            for state in &site.states {
                assert!(svg.contains(&format!(">{}</text>", state.name)), "{}: state {} not drawn", path.display(), state.name);
            }
        }
    }
    assert!(count >= 5, "examples went missing: {count}");
}

#[test]
fn svg_through_the_command_line() {
    if !require(&[DOT]) {
        return;
    }
    let dir = tempdir("graph-svg");
    let svg = dir.join("office.svg");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dual-isp-failover.wan");
    let out = wanc(&["graph", example, "--format", "svg", "-o", svg.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let drawn = std::fs::read_to_string(&svg).expect("svg written");
    assert!(drawn.contains("<svg") && drawn.contains(">isp1 down</text>"), "{drawn}");
}

#[test]
fn dot_on_stdout_and_errors() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dual-isp-failover.wan");
    let out = wanc(&["graph", example]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("digraph \"office\" {"), "{}", text(&out.stdout));

    let out = wanc(&["graph", "/nonexistent/site.wan"]);
    assert_eq!(out.status.code(), Some(2));

    let dir = tempdir("graph-errors");
    let broken = dir.join("broken.wan");
    std::fs::write(&broken, "site \"x\"\nuplink a {\n").expect("written");
    let out = wanc(&["graph", broken.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "no graph of a broken site");
}

/// Without Graphviz, `--format svg` says what is missing and how to do
/// without it, and exits 2.
#[test]
fn svg_without_graphviz_says_so() {
    let empty = tempdir("graph-no-dot");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dual-isp-failover.wan");
    let out = Command::new(common::WANC)
        .args(["graph", example, "--format", "svg"])
        .env("PATH", &empty)
        .stdin(Stdio::null())
        .output()
        .expect("wanc runs");
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out.stderr);
    assert!(said.contains("error: no svg drawn: graphviz's `dot` is not installed"), "{said}");
    assert!(said.contains("--format dot"), "{said}");
    assert!(out.stdout.is_empty());
}

/// The DOT of a site of `n` uplinks `u0`… with a default route over all of
/// them, and `states` after it.
fn big_site(n: usize, states: &str) -> String {
    let mut source = String::from("site \"big\"\n");
    for i in 0..n {
        source.push_str(&format!(
            "uplink u{i} {{\n    interface wan{i}\n    address 10.0.{i}.2/24\n    gateway 10.0.{i}.1\n    check ping 10.0.{i}.1 {{ every 10s timeout 1s }}\n}}\n"
        ));
    }
    source.push_str(&format!("policy {{\n    default via {}\n}}\n{states}", uplinks(n)));
    let c = driver::compile_source("big.wan", &source);
    let report = wanc::render::short(&c.diagnostics, &c.sources);
    let site = c.site().unwrap_or_else(|| panic!("the site compiles:\n{report}"));
    wanc::graph::dot(site)
}

fn uplinks(n: usize) -> String {
    (0..n).map(|i| format!("u{i}")).collect::<Vec<_>>().join(", ")
}

/// At the bound, `count(…)` states: an event whose edge needs more than a
/// few conditions says in how many of the state's healths it is taken.
#[test]
fn count_states_at_the_bound() {
    let n = wanc::graph::transitions::MAX_UPLINKS;
    let all = uplinks(n);
    let mut states = format!("state primary when u0 && count({all}) >= 10\n");
    for k in (1..10).rev() {
        states.push_str(&format!("state at_least_{k} when count({all}) >= {k}\n"));
    }
    states.push_str("state dark default\n");
    let dot = big_site(n, &states);
    // In `primary` with u1 up, 56 healths: u0 and u1 up, 8 or more of the
    // other 10; 45 of them have exactly 8, and u1 going down leaves 9 up.
    assert!(dot.contains("  s0 -> s1 [label=\"u0 down\\nu1 down (45 of 56 healths)\\n"), "{dot}");
    assert!(dot.contains("u1 up (u0 up)"), "{dot}");
    if require(&[DOT]) {
        render("the site of 12 uplinks", &dot);
    }
}

/// Above 12 uplinks the 2^n health combinations are not tried: the states
/// are drawn without transitions, and the diagram says so.
#[test]
fn too_many_uplinks_for_transitions() {
    let dot = big_site(wanc::graph::transitions::MAX_UPLINKS + 1, "");
    assert!(dot.contains("transitions not drawn: more than 12 uplinks"), "{dot}");
    assert!(!dot.contains(" -> "), "{dot}");
    if require(&[DOT]) {
        render("the site of 13 uplinks", &dot);
    }
}
