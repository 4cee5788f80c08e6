//! What every integration test shares: the one definition of running in CI,
//! the one way to run the built `wanc`, the one way to require an
//! environment (root, a tool), and fixtures made from source.
//!
//! It does not use the wanc library: tests/editors.rs, which runs only the
//! binary, includes this module too.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The built binary under test.
pub const WANC: &str = env!("CARGO_BIN_EXE_wanc");

/// Runs `wanc ARGS…` to completion.
pub fn wanc(args: &[&str]) -> Output {
    Command::new(WANC).args(args).stdin(Stdio::null()).output().expect("wanc runs")
}

/// Output bytes as text, for messages and matching.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether the tests run in CI (`CI=true`), where a test must never pass by
/// skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Something a test needs from the machine it runs on.
#[derive(Clone, Copy)]
pub enum Need {
    Root,
    /// A command, an argument that makes it print its version and succeed,
    /// and the Debian package that has it (tests/run installs them).
    Tool(&'static str, &'static str, &'static str),
}

pub const IP: Need = Need::Tool("ip", "-V", "iproute2");
pub const NFT: Need = Need::Tool("nft", "-V", "nftables");
pub const PYTHON3: Need = Need::Tool("python3", "--version", "python3");
pub const OPENSSL: Need = Need::Tool("openssl", "version", "openssl");
pub const DNSMASQ: Need = Need::Tool("dnsmasq", "--version", "dnsmasq-base");
pub const DHCPCD: Need = Need::Tool("dhcpcd", "--version", "dhcpcd-base");
pub const CONNTRACK: Need = Need::Tool("conntrack", "--version", "conntrack");
pub const DOT: Need = Need::Tool("dot", "-V", "graphviz");

impl Need {
    /// Why it is missing, or `None` when it is there.
    fn missing(&self) -> Option<String> {
        match self {
            Need::Root => {
                // SAFETY: geteuid(2) has no preconditions and cannot fail.
                let root = unsafe { libc::geteuid() } == 0;
                (!root).then(|| "it needs root".to_string())
            }
            Need::Tool(tool, version, package) => {
                let ok = Command::new(tool).arg(version).stdin(Stdio::null()).output().is_ok_and(|o| o.status.success());
                (!ok).then(|| format!("`{tool}` is missing (package {package})"))
            }
        }
    }
}

/// True when everything in `needs` is there. Otherwise the test fails under
/// CI=true, and elsewhere prints a skip line; the caller then returns.
pub fn require(needs: &[Need]) -> bool {
    let problems: Vec<String> = needs.iter().filter_map(Need::missing).collect();
    environment(&problems)
}

/// The one place a missing environment is decided: `problems` empty means
/// ready; otherwise a failure in CI, a visible skip line elsewhere.
pub fn environment(problems: &[String]) -> bool {
    if problems.is_empty() {
        return true;
    }
    // libtest names each test's thread after the test.
    let current = std::thread::current();
    let test = current.name().unwrap_or("test");
    let message = format!("{test}: {}", problems.join("; "));
    assert!(!in_ci(), "{message} (CI=true: not skipping)");
    // Straight to stderr: libtest captures eprintln! of passing tests, and a
    // skip must be seen.
    let _ = writeln!(std::io::stderr(), "skipped: {message}");
    false
}

/// A fresh directory under cargo's temporary directory for integration
/// tests, named per process so that concurrent runs do not meet.
pub fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tempdir");
    dir
}

/// Compiles every `tests/ui/plugins/*.wat` to the `.wasm` beside it, which
/// the ui cases and the OpenBSD probe test load as plugins.
pub fn build_plugin_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/plugins");
    for entry in std::fs::read_dir(&dir).expect("tests/ui/plugins exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().and_then(|e| e.to_str()) == Some("wat") {
            let wasm = wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            std::fs::write(path.with_extension("wasm"), wasm).expect("fixture written");
        }
    }
}
