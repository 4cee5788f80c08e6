//! The command line as a user meets it: exit statuses, the three diagnostic
//! formats, `explain`, and builds that write all or nothing.

mod common;

use common::{tempdir, text, wanc};

const BROKEN: &str = "tests/ui/unknown-uplink-in-via.wan";
const WARNS: &str = "tests/ui/host-bits-set.wan";

#[test]
fn exit_status_follows_severity() {
    assert_eq!(wanc(&["check", "examples/dual-isp-failover.wan"]).status.code(), Some(0));
    assert_eq!(wanc(&["check", WARNS]).status.code(), Some(0));
    assert_eq!(wanc(&["check", BROKEN]).status.code(), Some(1));
    assert_eq!(wanc(&["check", "no/such/file.wan"]).status.code(), Some(2));
    assert_eq!(wanc(&["check"]).status.code(), Some(2));
    assert_eq!(wanc(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn short_format_is_one_line_per_diagnostic() {
    let out = wanc(&["check", "--format", "short", "tests/ui/setting-twice.wan"]);
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[0], "tests/ui/setting-twice.wan:3:15: error[E0104]: `interface` is given twice");
}

#[test]
fn json_format_has_every_field() {
    let out = wanc(&["check", "--format", "json", "tests/ui/duplicate-uplink.wan"]);
    let stdout = text(&out.stdout);
    let line = stdout.lines().next().expect("one diagnostic");
    let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
    assert_eq!(v["severity"], "error");
    assert_eq!(v["code"], "E0102");
    assert_eq!(v["message"], "`isp1` is defined twice");
    assert_eq!(v["file"], "tests/ui/duplicate-uplink.wan");
    assert_eq!((v["line"].as_u64(), v["column"].as_u64()), (Some(6), Some(5)));
    assert_eq!((v["end_line"].as_u64(), v["end_column"].as_u64()), (Some(6), Some(9)));
    assert!(v["help"].as_str().is_some_and(|h| h.contains("namespace")));
    let labels = v["labels"].as_array().expect("labels");
    assert_eq!(labels.len(), 2);
    assert_eq!(labels[1]["primary"], false);
    assert_eq!(labels[1]["line"].as_u64(), Some(1));
}

#[test]
fn human_format_has_no_colour_off_a_terminal() {
    let out = wanc(&["check", BROKEN]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("unknown uplink `isp2`"), "{stderr}");
    assert!(stderr.contains("did you mean `isp1`?"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "escape codes in piped output");
    assert!(stderr.trim_end().ends_with("1 error"), "{stderr}");
}

#[test]
fn explain_knows_every_code() {
    for code in wanc::codes::Code::ALL {
        let out = wanc(&["explain", code.as_str()]);
        assert_eq!(out.status.code(), Some(0), "{code}");
        assert!(text(&out.stdout).contains(code.title()));
    }
    assert_eq!(wanc(&["explain", "e0301"]).status.code(), Some(0));
    assert_eq!(wanc(&["explain", "E9999"]).status.code(), Some(2));
}

/// `wanc lsp` is for an editor: a client that goes before initializing it
/// is an error (status 2, said on stderr, never on stdout, which is the
/// protocol's). tests/lsp.rs drives it with real clients.
#[test]
fn lsp_without_a_client_is_an_error() {
    let out = wanc(&["lsp"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("error: the language server stopped: "), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn inspect_shows_the_routing_per_state() {
    let out = wanc(&["inspect", "examples/dual-isp-failover.wan"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("state noisp2  when isp1 && !isp2"), "{stdout}");
    assert!(stdout.contains("-> balance isp1 ×1\n"), "{stdout}");
}

#[test]
fn failed_build_leaves_the_output_directory_as_it_was() {
    let dir = tempdir("failed-build");
    let out_dir = dir.join("out");
    let build = |source: &str| wanc(&["build", source, "-o", out_dir.to_str().expect("utf-8 path")]);
    let out = build("examples/dual-isp-failover.wan");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let before = std::fs::read(out_dir.join("office.wanc")).expect("policy written");
    let out = build(BROKEN);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(out_dir.join("office.wanc")).expect("policy kept"), before);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn openbsd_agent_refuses_a_site_that_learns() {
    // ifstated.conf follows leases on OpenBSD; the agent reads none there.
    let dir = tempdir("openbsd-agent-learns");
    let out_dir = dir.join("out");
    let out = wanc(&["build", "examples/dhcp-and-static.wan", "-o", out_dir.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (policy, control) = (out_dir.join("home.wanc"), dir.join("control"));
    let out = wanc(&[
        "agent",
        "--backend",
        "openbsd",
        "--control",
        control.to_str().expect("utf-8 path"),
        policy.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("uplink `cable` learns its address or gateway"), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// Every file in `dir`, relative to it, sorted.
fn files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path.strip_prefix(dir).expect("inside").display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn build_replaces_the_whole_folder_and_refuses_to_mix_sites() {
    let dir = tempdir("fresh-build");
    let out_dir = dir.join("out");
    let out_arg = out_dir.to_str().expect("utf-8 path");
    let out = wanc(&["build", "examples/dual-isp-failover.wan", "-o", out_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let fresh = files(&out_dir);
    // A file of a state since removed, and a stray one: both go.
    std::fs::write(out_dir.join("linux/state-gone.sh"), "stale").expect("write");
    std::fs::write(out_dir.join("notes.txt"), "stale").expect("write");
    let out = wanc(&["build", "examples/dual-isp-failover.wan", "-o", out_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(files(&out_dir), fresh, "only what this build wrote");
    let siblings: Vec<_> = std::fs::read_dir(&dir).expect("dir").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(siblings, vec![std::ffi::OsString::from("out")], "no staging folder left");

    // Another site's build into the same folder is refused, and so is a
    // folder wanc did not write.
    let out = wanc(&["build", "examples/multihomed-webserver.wan", "-o", out_arg]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("holds the outputs of site `office`, not `home`"), "{stderr}");
    assert_eq!(files(&out_dir), fresh);
    let other = dir.join("documents");
    std::fs::create_dir(&other).expect("mkdir");
    std::fs::write(other.join("keep.txt"), "precious").expect("write");
    let out = wanc(&["build", "examples/dual-isp-failover.wan", "-o", other.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("holds files that wanc did not write"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(other.join("keep.txt")).expect("kept"), "precious");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn inspect_gives_json_and_explain_takes_bare_numbers() {
    let out = wanc(&["inspect", "--format", "json", "examples/dual-isp-failover.wan"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(json["site"], "office");
    assert_eq!(json["states"][0]["name"], "allworking");
    let out = wanc(&["explain", "0301"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("E0301 (error)"), "{}", text(&out.stdout));
}

/// Runs `wanc ARGS…` with `input` on its standard input.
fn wanc_with_input(args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(common::WANC)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wanc runs");
    child.stdin.take().expect("piped").write_all(input.as_bytes()).expect("input written");
    child.wait_with_output().expect("wanc ends")
}

#[test]
fn fmt_rewrites_in_place_checks_and_filters() {
    let dir = tempdir("fmt");
    let ugly = "site \"x\"   # name\nlan a {interface em0;network 10.0.0.0/24}\n";
    let tidy = "site \"x\"  # name\nlan a {\n    interface em0\n    network 10.0.0.0/24\n}\n";
    let broken = "site \"x\"\nlan a {\n    interfce em0\n}\n";
    let (ugly_path, tidy_path, broken_path) = (dir.join("ugly.wan"), dir.join("tidy.wan"), dir.join("broken.wan"));
    for (path, content) in [(&ugly_path, ugly), (&tidy_path, tidy), (&broken_path, broken)] {
        std::fs::write(path, content).expect("write");
    }
    let arg = |p: &std::path::Path| p.to_str().expect("utf-8 path").to_string();

    // --check changes nothing, lists what would change, and exits 1 for it.
    let out = wanc(&["fmt", "--check", &arg(&ugly_path), &arg(&tidy_path)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), format!("{}\n", ugly_path.display()));
    assert_eq!(std::fs::read_to_string(&ugly_path).expect("read"), ugly);
    assert_eq!(wanc(&["fmt", "--check", &arg(&tidy_path)]).status.code(), Some(0));

    // In place: the file is replaced by its formatted text, and nothing else is left in the folder.
    let out = wanc(&["fmt", &arg(&ugly_path), &arg(&tidy_path)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&ugly_path).expect("read"), tidy);
    assert_eq!(files(&dir), ["broken.wan", "tidy.wan", "ugly.wan"]);

    // A symbolic link stays a link to the file, which is rewritten.
    std::fs::write(&ugly_path, ugly).expect("write");
    let link = dir.join("link.wan");
    std::os::unix::fs::symlink("ugly.wan", &link).expect("symlink");
    assert_eq!(wanc(&["fmt", &arg(&link)]).status.code(), Some(0));
    assert!(std::fs::symlink_metadata(&link).expect("link").file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&ugly_path).expect("read"), tidy);
    std::fs::remove_file(&link).expect("unlink");

    // A file that does not parse is left untouched, with its errors, exit 1.
    let out = wanc(&["fmt", &arg(&broken_path), &arg(&ugly_path)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("did you mean `interface`?"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&broken_path).expect("read"), broken);

    // A file not read: exit 2.
    assert_eq!(wanc(&["fmt", &arg(&dir.join("missing.wan"))]).status.code(), Some(2));

    // `-` or no file: standard input to standard output.
    for args in [&["fmt"][..], &["fmt", "-"][..]] {
        let out = wanc_with_input(args, ugly);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), tidy);
    }
    let out = wanc_with_input(&["fmt", "--check", "-"], ugly);
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(1), "-\n".to_string()));
    assert_eq!(wanc_with_input(&["fmt", "-"], broken).status.code(), Some(1));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
