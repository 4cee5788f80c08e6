//! Hostile files and names at the command line: what wanc reads is a
//! regular file of bounded size, and a file's name never reaches a
//! generated script as anything but a comment.

mod common;

use common::{tempdir, text, wanc};
use std::process::Command;

/// Every command that reads a file whole refuses devices at once, with the
/// reason, instead of reading without end.
#[test]
fn devices_are_refused_not_read() {
    for args in [
        &["check", "/dev/zero"][..],
        &["build", "/dev/urandom", "-o", "/nonexistent"],
        &["disasm", "/dev/zero"],
        &["probe", "/dev/zero"],
    ] {
        let out = wanc(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("a character device, not a regular file"), "{args:?}: {}", text(&out.stderr));
    }
}

/// Imports of a device, a pipe (which would block) or a huge file are
/// E0004, each saying why, all reported at once.
#[test]
fn unreadable_imports_are_diagnostics() {
    let dir = tempdir("hostile-imports");
    let fifo = dir.join("pipe.wan");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    let big = dir.join("big.wan");
    std::fs::write(&big, "#".repeat((4 << 20) + 1)).expect("write");
    let site = dir.join("site.wan");
    std::fs::write(&site, "site \"s\"\nimport \"/dev/zero\"\nimport \"pipe.wan\"\nimport \"big.wan\"\n").expect("write");
    let out = wanc(&["check", "--format", "short", site.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = text(&out.stdout);
    let e0004: Vec<&str> = lines.lines().filter(|l| l.contains("error[E0004]")).collect();
    assert_eq!(e0004.len(), 3, "{lines}");
    let human = text(&wanc(&["check", site.to_str().expect("utf-8")]).stderr);
    for why in ["a character device, not a regular file", "a pipe, not a regular file", "larger than 4 MiB"] {
        assert!(human.contains(why), "{why}: {human}");
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// A source file whose name carries a newline and a command: the name is
/// quoted in every output's header, so no generated line starts with it.
#[test]
fn a_file_name_cannot_add_a_line_to_a_script() {
    let dir = tempdir("hostile-name");
    let name = dir.join("x\ntouch PWNED\n.wan");
    std::fs::copy("examples/dual-isp-failover.wan", &name).expect("copy");
    let out_dir = dir.join("out");
    let out = wanc(&["build", name.to_str().expect("utf-8"), "-o", out_dir.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut files = 0;
    for entry in walk(&out_dir) {
        let Ok(contents) = std::fs::read_to_string(&entry) else { continue };
        files += 1;
        assert!(!contents.lines().any(|l| l.starts_with("touch PWNED")), "{}:\n{contents}", entry.display());
    }
    assert!(files > 5, "only {files} text files written");
    let setup = std::fs::read_to_string(out_dir.join("linux/setup.sh")).expect("setup.sh");
    assert!(setup.lines().nth(1).is_some_and(|l| l.contains(r#"x\ntouch PWNED\n.wan""#)), "{setup}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable").map(|e| e.expect("entry").path()) {
        if entry.is_dir() {
            out.extend(walk(&entry));
        } else {
            out.push(entry);
        }
    }
    out
}

/// A diagnostic past column 65,535 is reported, not a panic in the
/// renderer: the line is too long to draw, so its place is given in words.
#[test]
fn a_diagnostic_on_a_huge_line_is_reported() {
    let dir = tempdir("hostile-column");
    let site = dir.join("site.wan");
    std::fs::write(&site, format!("site \"s\"\nconst x = {}300.1.1.1\n", " ".repeat(70_000))).expect("write");
    let out = wanc(&["check", site.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(":2:70011; the line is too long to show)"), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// 80,000 faulty lines give 80,000 diagnostics, each once (collected in
/// linear time: benches/check_large.rs measures it).
#[test]
fn every_faulty_line_is_reported_once() {
    let dir = tempdir("hostile-many");
    let site = dir.join("site.wan");
    let lines: String = (0..80_000).map(|i| format!("const x{i} = 300.1.1.{}\n", i % 250)).collect();
    std::fs::write(&site, format!("site \"s\"\n{lines}")).expect("write");
    let out = wanc(&["check", "--format", "short", site.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout).lines().filter(|l| l.contains("error[E0002]")).count(), 80_000);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// 20,000 faulty statements on one line of 450 KB: each reported once with
/// its column, the line too long to draw (columns are found from the line
/// index, not by counting the characters before each one).
#[test]
fn many_diagnostics_on_one_huge_line_are_reported() {
    let dir = tempdir("hostile-one-line");
    let site = dir.join("site.wan");
    // ASCII, and with a character of two bytes in each statement's string:
    // a column counts characters, not bytes, so both give the same columns.
    for mark in ["e", "é"] {
        let line: Vec<String> =
            (0..20_000).map(|i| format!("const s{i} = \"{mark}\"; const x{i} = 300.1.1.{}", i % 250)).collect();
        std::fs::write(&site, format!("site \"s\"\n{}\n", line.join("; "))).expect("write");
        let out = wanc(&["check", "--format", "short", site.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(1));
        let stdout = text(&out.stdout);
        assert_eq!(stdout.lines().filter(|l| l.contains("error[E0002]")).count(), 20_000);
        assert!(stdout.lines().nth(1).is_some_and(|l| l.starts_with(&format!("{}:2:66: ", site.display()))), "{stdout:.300}");
        let human = wanc(&["check", site.to_str().expect("utf-8")]);
        assert_eq!(text(&human.stderr).matches("the line is too long to show").count(), 20_000);
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
