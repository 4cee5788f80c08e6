//! The Debian package, built by `dist/deb` from Cargo.toml's metadata and
//! installed into a fresh root with `dpkg --root`: systemd accepts the
//! installed unit (`systemd-analyze verify`), the man pages render
//! (`man -l`), the bash completion loads and completes, the installed
//! `wanc` checks and builds an installed example, and the package removes
//! cleanly. Needs root (dpkg's database in the root is root's),
//! python3, dpkg, systemd, man-db, bash and strip.
//!
//! It packages the test build's binary, stripped: the suite builds no
//! second (release) profile for it.

mod common;

use common::{tempdir, text, Need, WANC};
use std::path::Path;
use std::process::{Command, Output};

const NEEDS: &[Need] = &[
    Need::Root,
    common::PYTHON3,
    Need::Tool("dpkg-deb", "--version", "dpkg"),
    Need::Tool("systemd-analyze", "--version", "systemd"),
    Need::Tool("man", "--version", "man-db"),
    Need::Tool("strip", "--version", "binutils"),
];

fn run(command: &mut Command) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(out.status.success(), "{command:?} failed:\n{}{}", text(&out.stdout), text(&out.stderr));
    out
}

fn dpkg(root: &Path) -> Command {
    let mut c = Command::new("dpkg");
    // The root has no shell and no dependencies: maintainer scripts run
    // outside it (with DPKG_ROOT set, so they leave the host alone), and
    // the dependencies are the host's business.
    c.arg(format!("--root={}", root.display())).args(["--force-depends", "--force-script-chrootless", "--log=/dev/null"]);
    c
}

#[test]
fn the_debian_package_installs_into_a_fresh_root_and_works() {
    if !common::require(NEEDS) {
        return;
    }
    let dir = tempdir("package");
    let binary = dir.join("wanc");
    run(Command::new("strip").arg("-o").arg(&binary).arg(WANC));
    let out = run(Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/deb"))
        .arg("--binary")
        .arg(&binary)
        .arg("--target-dir")
        .arg(dir.join("target"))
        .arg("--out")
        .arg(&dir)
        .arg("--fast"));
    let deb = text(&out.stdout).trim().to_string();
    assert!(deb.ends_with(".deb"), "dist/deb names the package: {deb}");

    // A fresh root: nothing but dpkg's empty database.
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("var/lib/dpkg/info")).expect("root");
    std::fs::create_dir_all(root.join("var/lib/dpkg/updates")).expect("root");
    std::fs::write(root.join("var/lib/dpkg/status"), "").expect("root");
    run(dpkg(&root).args(["-i", &deb]));
    let listed = text(&run(dpkg(&root).args(["-L", "wanc"])).stdout);
    for file in [
        "/usr/bin/wanc",
        "/lib/systemd/system/wanc@.service",
        "/etc/default/wanc",
        "/usr/share/man/man1/wanc-agent.1.gz",
        "/usr/share/bash-completion/completions/wanc",
        "/usr/share/zsh/vendor-completions/_wanc",
        "/usr/share/vim/vimfiles/syntax/wan.vim",
        "/usr/share/doc/wanc/examples/dual-isp-failover.wan",
        "/usr/share/doc/wanc/deploy-linux.md",
    ] {
        assert!(listed.lines().any(|l| l == file), "the package installs {file}:\n{listed}");
    }

    // systemd accepts the unit as installed: its binary is there, its
    // directives are known. The root gets the host's unit library for the
    // targets the unit is ordered against; the man pages are checked below
    // (verify would look for them on the host).
    run(Command::new("cp").arg("-rn").arg("/lib/systemd/system/.").arg(root.join("lib/systemd/system")));
    let verify = run(Command::new("systemd-analyze").arg(format!("--root={}", root.display())).args([
        "--man=no",
        "verify",
        "wanc@office.service",
    ]));
    assert!(text(&verify.stderr).trim().is_empty(), "systemd-analyze has remarks:\n{}", text(&verify.stderr));

    // The man pages render and describe the options.
    let man = root.join("usr/share/man/man1");
    let page = run(Command::new("man").arg("-l").arg(man.join("wanc-agent.1.gz")).env("MANWIDTH", "100").env("LC_ALL", "C"));
    let page = text(&page.stdout);
    for option in ["--metrics", "--backend", "--run-actions", "Prometheus"] {
        assert!(page.contains(option), "wanc-agent(1) describes {option}:\n{page}");
    }
    let page = text(&run(Command::new("man").arg("-l").arg(man.join("wanc.1.gz")).env("LC_ALL", "C")).stdout);
    assert!(page.contains("completions") && page.contains("agent"), "{page}");

    // bash loads the completion, and it completes subcommands and options.
    let completion = root.join("usr/share/bash-completion/completions/wanc");
    let complete = |words: &str| {
        let script = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _wanc wanc \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            completion.display()
        );
        text(&run(Command::new("bash").args(["--norc", "-c", &script])).stdout)
    };
    assert_eq!(complete("wanc ag").trim(), "agent");
    assert!(complete("wanc agent --met").lines().any(|l| l == "--metrics"));

    // The installed wanc works on an installed example.
    let wanc = root.join("usr/bin/wanc");
    let example = root.join("usr/share/doc/wanc/examples/dual-isp-failover.wan");
    run(Command::new(&wanc).arg("check").arg(&example));
    run(Command::new(&wanc).arg("build").arg(&example).arg("-o").arg(dir.join("office")));
    assert!(dir.join("office/office.wanc").is_file());
    let version = text(&run(Command::new(&wanc).arg("--version")).stdout);
    assert_eq!(version.trim(), format!("wanc {}", env!("CARGO_PKG_VERSION")));

    // It goes as it came; only the configuration stays until a purge.
    run(dpkg(&root).args(["-r", "wanc"]));
    assert!(!wanc.exists() && !root.join("lib/systemd/system/wanc@.service").exists());
    assert!(root.join("etc/default/wanc").exists(), "conffiles stay until a purge");
    run(dpkg(&root).args(["--purge", "wanc"]));
    assert!(!root.join("etc/default/wanc").exists());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
