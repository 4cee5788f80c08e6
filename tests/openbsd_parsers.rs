//! Every pf file and ifstated.conf that `wanc build` writes for the examples
//! goes through OpenBSD's own parsers (`pfctl -n`, `ifstated -n`, built from
//! OpenBSD-current, in `../shared/tools/openbsd/`): wanc.conf as pf.conf
//! includes it, and each state's ruleset as loaded into `wanc/policy`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/openbsd/bin")
}

/// Runs an OpenBSD parser; its complaint, if it refuses the file.
fn refused(tool: &str, args: &[&str], file: &Path) -> Option<String> {
    let out = Command::new(tools().join(tool)).args(args).arg(file).output().expect("parser runs");
    (!out.status.success()).then(|| format!("{} {}: {}", tool, file.display(), String::from_utf8_lossy(&out.stderr).trim()))
}

#[test]
fn openbsd_parsers_accept_every_example() {
    let missing = !tools().join("pfctl-check").exists();
    if !common::environment(&if missing { vec![format!("no OpenBSD parsers at {}", tools().display())] } else { vec![] }) {
        return;
    }
    let mut problems = Vec::new();
    let mut files = 0;
    for example in std::fs::read_dir("examples").expect("examples").map(|e| e.expect("entry").path()) {
        let name = example.file_stem().and_then(|s| s.to_str()).expect("name").to_string();
        let out = common::tempdir(&format!("openbsd-parsers-{name}"));
        let built =
            common::wanc(&["build", "--target", "openbsd", example.to_str().expect("utf-8"), "-o", out.to_str().expect("utf-8")]);
        if common::text(&built.stderr).contains("E0605") {
            continue; // learns addresses: for Linux only
        }
        assert!(built.status.success(), "{name}: {}", common::text(&built.stderr));
        // The files include the macros from where they are installed; point
        // them at the built copy.
        let installed = "/etc/wanc/pf/macros.conf";
        let here = out.join("pf/macros.conf").display().to_string();
        for entry in std::fs::read_dir(out.join("pf")).expect("pf files").map(|e| e.expect("entry").path()) {
            let text = std::fs::read_to_string(&entry).expect("readable").replace(installed, &here);
            std::fs::write(&entry, text).expect("writable");
            let file = entry.file_name().and_then(|n| n.to_str()).expect("name").to_string();
            let args: &[&str] = if file.starts_with("policy.") { &["-q", "-a", "wanc/policy"] } else { &["-q"] };
            problems.extend(refused("pfctl-check", args, &entry));
            files += 1;
        }
        problems.extend(refused("ifstated-check", &[], &out.join("ifstated.conf")));
        files += 1;
    }
    assert!(files >= 20, "only {files} files were checked");
    assert!(problems.is_empty(), "OpenBSD's parsers refuse:\n{}", problems.join("\n"));
}
