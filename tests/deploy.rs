//! What an operator meets between `wanc build` and a running router: a built
//! folder is complete and can be moved (its plugins travel with it, and the
//! agent finds them from the policy file whatever its working directory), a
//! dry run touches nothing (not even `run` actions or the notify command),
//! a reload of another site's policy is refused unless forced, and
//! `wanc status` shows the last transitions with their reasons.
//!
//! The agent runs with `--backend dry-run` and plugin checks only, so these
//! need neither root nor a network.

mod common;

use common::{tempdir, text, wanc, WANC};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wanc::agent::status::{Reply, Status};

/// A probe plugin (ABI 1) with no settings that always reports up, saying
/// `loaded`: a check that is up proves the plugin was found and loaded.
const UP_PLUGIN: &str = r#"(module
  (memory (export "memory") 1)
  ;; status 1 (up), no flags, no measurement, reason "loaded"
  (data (i32.const 32) "\01\00\00\00\00\00\00\00\00\00\00\00loaded")
  (func (export "wanc_abi_version") (result i32) i32.const 1)
  (func (export "wanc_settings") (result i64) i64.const 0)
  (func (export "wanc_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "wanc_probe") (param i32 i32) (result i64) i64.const 0x2000000012))"#;

/// A site named `name` whose two uplinks are checked by the plugin; the
/// state `both` runs `ACTION` (a command) and notifies on entering.
fn site(name: &str, action: &str) -> String {
    format!(
        r#"site "{name}"
plugin up "plugin/up.wasm"
uplink isp1 {{
    interface vr0
    address 198.51.100.199
    gateway 198.51.100.100
    check plugin up {{ every 200ms timeout 100ms }}
}}
uplink isp2 {{
    interface vr2
    address 203.0.113.220
    gateway 203.0.113.200
    check plugin up {{ every 200ms timeout 100ms }}
}}
policy {{ default via isp1, isp2 }}
state both when isp1 && isp2 {{
    on enter {{ run "{action}"; notify "both up" }}
}}
state other default
"#
    )
}

/// Writes the site and its plugin under `dir/src` and builds it into
/// `out`; returns the policy file.
fn build(dir: &Path, name: &str, action: &str, out: &Path) -> PathBuf {
    let src = dir.join(format!("src-{name}"));
    std::fs::create_dir_all(src.join("plugin")).expect("source folder");
    std::fs::write(src.join("plugin/up.wasm"), wat::parse_str(UP_PLUGIN).expect("plugin assembles")).expect("plugin written");
    std::fs::write(src.join("site.wan"), site(name, action)).expect("source written");
    let built = wanc(&["build", src.join("site.wan").to_str().expect("utf-8"), "-o", out.to_str().expect("utf-8")]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    out.join(format!("{name}.wanc"))
}

struct Agent {
    child: Child,
    control: PathBuf,
    log: PathBuf,
}

impl Agent {
    /// `wanc agent POLICY --backend dry-run`, started from `/`.
    fn start(policy: &Path, dir: &Path, tag: &str, extra: &[&str]) -> Agent {
        let control = dir.join(format!("{tag}.sock"));
        let log = dir.join(format!("{tag}.log"));
        let child = Command::new(WANC)
            .arg("agent")
            .arg(policy)
            .args(["--backend", "dry-run", "--no-watch", "--control"])
            .arg(&control)
            .args(extra)
            .current_dir("/")
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("agent starts");
        Agent { child, control, log }
    }

    fn status(&self) -> Option<Status> {
        let out = wanc(&["status", "--control", self.control.to_str().expect("utf-8"), "--json"]);
        serde_json::from_slice::<Reply<Status>>(&out.stdout).ok()?.into_result().ok()
    }

    /// Polls until `ready` holds for the status, failing after 10 s.
    fn wait(&self, what: &str, ready: impl Fn(&Status) -> bool) -> Status {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Some(status) = self.status().filter(|s| ready(s)) {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the agent never got {what}: {:?}\nlog:\n{}", self.status(), self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn in_state(state: &str) -> impl Fn(&Status) -> bool + '_ {
    move |s| s.state.as_deref() == Some(state)
}

#[test]
fn a_moved_folder_runs_from_anywhere_with_its_plugin() {
    let dir = tempdir("deploy-moved");
    build(&dir, "moved", "true", &dir.join("out"));
    assert!(dir.join("out/plugins/up.wasm").is_file(), "the plugin is copied into the folder");
    // To the router: the folder moves, the sources (and the plugin's
    // original) are gone.
    let router = dir.join("router/etc/wanc");
    std::fs::create_dir_all(router.parent().expect("parent")).expect("router folder");
    std::fs::rename(dir.join("out"), &router).expect("folder moved");
    std::fs::remove_dir_all(dir.join("src-moved")).expect("sources removed");

    let agent = Agent::start(&router.join("moved.wanc"), &dir, "moved", &[]);
    let status = agent.wait("state both", in_state("both"));
    for uplink in &status.uplinks {
        let check = &uplink.checks[0];
        let last = check.last.last().map(|o| o.detail.as_str()).unwrap_or_default();
        assert_eq!(last, "loaded", "{}: the plugin ran\n{}", uplink.name, agent.log());
    }
    assert!(!agent.log().contains("cannot load plugin"), "{}", agent.log());
}

#[test]
fn a_dry_run_logs_actions_instead_of_running_them() {
    let dir = tempdir("deploy-dry");
    let ran = dir.join("ran");
    let notified = dir.join("notified");
    let policy = build(&dir, "dry", &format!("touch {}", ran.display()), &dir.join("out"));
    // The notify command gets the text as its last argument: `:` takes it.
    let notify = format!("touch {}; :", notified.display());

    let agent = Agent::start(&policy, &dir, "dry", &["--notify-command", &notify]);
    agent.wait("state both", in_state("both"));
    // Actions start off the main loop: give them the time they would take.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!ran.exists() && !notified.exists(), "a dry run started a command\n{}", agent.log());
    let log = agent.log();
    assert!(log.contains(&format!("dry run, not running: touch {}", ran.display())), "{log}");
    assert!(log.contains(&format!("dry run, not running: {notify}")), "{log}");
    drop(agent);

    // Asked to, a dry run runs them.
    let agent = Agent::start(&policy, &dir, "dry-run-actions", &["--notify-command", &notify, "--run-actions"]);
    agent.wait("state both", in_state("both"));
    let start = Instant::now();
    while !(ran.exists() && notified.exists()) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ran.exists() && notified.exists(), "--run-actions runs them\n{}", agent.log());
}

#[test]
fn reload_refuses_another_site_unless_forced() {
    let dir = tempdir("deploy-reload");
    let policy = build(&dir, "office", "true", &dir.join("office"));
    let other = build(&dir, "depot", "true", &dir.join("depot"));
    let agent = Agent::start(&policy, &dir, "reload", &[]);
    agent.wait("state both", in_state("both"));
    let control = agent.control.to_str().expect("utf-8").to_string();

    let out = wanc(&["reload", "--control", &control, other.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is the policy of site `depot`, this agent runs site `office`"), "{stderr}");
    assert!(stderr.contains("--force"), "the message says how: {stderr}");
    assert_eq!(agent.status().map(|s| s.site).as_deref(), Some("office"), "the running site stays");

    let out = wanc(&["reload", "--control", &control, "--force", other.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    agent.wait("site depot", |s| s.site == "depot");
}

/// A control socket opened to everyone (`--control-mode 666`) answers
/// anyone's status, but reloads only for root: the peer's credentials
/// decide, not the socket's mode.
#[test]
fn only_root_may_reload_whatever_the_socket_mode() {
    let dir = tempdir("deploy-peer");
    let policy = build(&dir, "office", "true", &dir.join("office"));
    let agent = Agent::start(&policy, &dir, "peer", &["--control-mode", "666"]);
    agent.wait("state both", in_state("both"));
    let control = agent.control.to_str().expect("utf-8").to_string();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", WANC])
            .args(args)
            .output()
            .expect("setpriv runs")
    };
    let status = as_nobody(&["status", "--control", &control]);
    assert_eq!(status.status.code(), Some(0), "status for anyone: {}", text(&status.stderr));
    let reload = as_nobody(&["reload", "--control", &control, policy.to_str().expect("utf-8")]);
    assert_ne!(reload.status.code(), Some(0), "reload refused to nobody");
    assert!(text(&reload.stderr).contains("reloading is for root only"), "{}", text(&reload.stderr));
    let root = wanc(&["reload", "--control", &control, policy.to_str().expect("utf-8")]);
    assert_eq!(root.status.code(), Some(0), "root reloads: {}", text(&root.stderr));
}

/// Out of threads (RLIMIT_NPROC on the agent's user, no more than it has
/// once started), the agent turns control clients away and goes on: it
/// neither panics nor loses its control socket, and still stops cleanly.
#[test]
fn out_of_threads_the_agent_degrades_instead_of_dying() {
    let dir = tempdir("deploy-threads");
    let policy = build(&dir, "office", "true", &dir.join("office"));
    let sockets = dir.join("sockets");
    std::fs::create_dir_all(&sockets).expect("dir");
    std::fs::set_permissions(&sockets, std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let control = sockets.join("agent.sock");
    let log = dir.join("agent.log");
    // As nobody, whose tasks the limit counts (root's would not be held to it).
    let start = |nproc: &str| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "prlimit", &format!("--nproc={nproc}:"), WANC, "agent"])
            .arg(&policy)
            .args(["--backend", "dry-run", "--no-watch", "--control"])
            .arg(&control)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("agent starts")
    };
    let settled = || std::fs::read_to_string(&log).unwrap_or_default().contains("state from=\"-\"");
    let wait = |what: &str, f: &dyn Fn() -> bool| {
        let begin = Instant::now();
        while !f() {
            assert!(begin.elapsed() < Duration::from_secs(10), "{what}:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // How many tasks nobody has with one settled agent.
    let mut first = start("10000");
    wait("the first agent settles", &settled);
    let tasks = Command::new("ps").args(["-L", "-u", "65534", "--no-headers"]).output().expect("ps");
    let tasks = text(&tasks.stdout).lines().count();
    let _ = first.kill();
    let _ = first.wait();
    let _ = std::fs::remove_file(&control);

    let mut agent = start(&tasks.to_string());
    wait("the limited agent settles", &settled);
    let status = wanc(&["status", "--control", control.to_str().expect("utf-8")]);
    assert_ne!(status.status.code(), Some(0), "no thread to answer with");
    wait("the client turned away is logged", &|| {
        std::fs::read_to_string(&log).unwrap_or_default().contains("control socket: cannot serve a client")
    });
    assert!(agent.try_wait().expect("wait").is_none(), "the agent is still running");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
    let stopped = agent.wait().expect("agent ends");
    assert!(stopped.success(), "stops cleanly: {stopped}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
    assert!(std::fs::read_to_string(&log).unwrap_or_default().contains("stopped"));
}

#[test]
fn status_shows_the_last_transitions_with_their_reasons() {
    let dir = tempdir("deploy-status");
    let policy = build(&dir, "status", "true", &dir.join("out"));
    let agent = Agent::start(&policy, &dir, "status", &[]);
    let status = agent.wait("a transition", |s| !s.transitions.is_empty());
    let first = &status.transitions[0];
    assert_eq!((first.from.as_deref(), first.to.as_str()), (None, "both"));
    assert_eq!(first.reason, "health isp1 up, isp2 up");
    let out = wanc(&["status", "--control", agent.control.to_str().expect("utf-8")]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("last transitions:") && stdout.contains("(start) -> both  (health isp1 up, isp2 up)"), "{stdout}");
}

/// UP_PLUGIN with `extra` more functions, each a few instructions: a plugin
/// that takes wasmtime's compiler a while.
fn large_plugin(extra: usize) -> Vec<u8> {
    let mut wat = UP_PLUGIN.trim_end().strip_suffix(')').expect("a module").to_string();
    for i in 0..extra {
        wat.push_str(&format!(
            "\n  (func (export \"pad{i}\") (param i64) (result i64) local.get 0 i64.const {i} i64.mul local.get 0 i64.add i64.const 7 i64.rem_u)"
        ));
    }
    wat.push(')');
    wat::parse_str(&wat).expect("plugin assembles")
}

#[test]
fn compiling_a_large_plugin_on_reload_holds_up_nothing() {
    use wanc::agent::{ask, status::Reloaded, Request};
    let dir = tempdir("deploy-large-plugin");
    let out = dir.join("out");
    let policy = build(&dir, "large", "true", &out);
    let agent = Agent::start(&policy, &dir, "large", &[]);
    agent.wait("state both", in_state("both"));

    // The same site with isp2 checked by a large plugin instead.
    let src = dir.join("src-large");
    std::fs::write(src.join("plugin/large.wasm"), large_plugin(3_000)).expect("plugin written");
    let source = site("large", "true").replacen(
        "plugin up \"plugin/up.wasm\"",
        "plugin up \"plugin/up.wasm\"\nplugin large \"plugin/large.wasm\"",
        1,
    );
    let at = source.rfind("check plugin up").expect("isp2's check");
    let source = format!("{}check plugin large{}", &source[..at], &source[at + "check plugin up".len()..]);
    std::fs::write(src.join("site.wan"), source).expect("source written");
    let built = wanc(&["build", src.join("site.wan").to_str().expect("utf-8"), "-o", out.to_str().expect("utf-8")]);
    assert!(built.status.success(), "{}", text(&built.stderr));

    // How long compiling it takes: `wanc probe` compiles it, then probes.
    let started = Instant::now();
    let probed = wanc(&["probe", out.join("plugins/large.wasm").to_str().expect("utf-8")]);
    let compile = started.elapsed();
    assert!(probed.status.success(), "{}", text(&probed.stderr));

    let reloaded = ask::<Reloaded>(&agent.control, &Request::Reload { file: None, force: false })
        .expect("the agent answers")
        .into_result()
        .expect("the reload is taken");
    let reload = Duration::from_micros(reloaded.reload_us);
    println!("compiling the plugin: {compile:?}; the reload on the main loop: {reload:?}");
    assert_eq!(reloaded.checks_started, 1, "isp2's check is new");
    // Compiling is a worker's job: the reload (and with it the status and
    // every failover decision) does not wait for it.
    assert!(reload * 4 < compile, "the reload took {reload:?}, compiling {compile:?}: it waited for the compiler");
    let status = agent.status().expect("the status is answered at once");
    assert_eq!(status.state.as_deref(), Some("both"), "isp2 keeps its health while its new check decides");
    agent.wait("the large plugin's first round", |s| s.uplinks[1].checks[0].last.last().is_some_and(|o| o.detail == "loaded"));
}

/// Connects 100 clients as nobody that each send half a request and stall;
/// prints how many were told the agent is busy, then how many of the
/// others the agent closed within 10 s.
const SLOW_CLIENTS: &str = r#"
import socket, sys, time
socks = []
for _ in range(100):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    try:
        s.sendall(b'{"cmd":')
    except BrokenPipeError:
        pass  # turned away at once; its reply is waiting
    socks.append(s)
time.sleep(0.5)
held, busy = [], 0
for s in socks:
    s.settimeout(0.05)
    try:
        busy += b"busy" in s.recv(4096)
    except socket.timeout:
        held.append(s)
print("busy", busy, flush=True)
closed, deadline = 0, time.time() + 10
for s in held:
    s.settimeout(max(0.01, deadline - time.time()))
    try:
        closed += s.recv(4096) == b""
    except socket.timeout:
        pass
print("closed", closed, "of", len(held), flush=True)
"#;

/// Slow clients delay only themselves: others than root are served 64 at a
/// time (the rest are told the agent is busy), root is always served, and a
/// client that sends nothing for 5 s is closed.
#[test]
fn slow_clients_hold_up_nothing_and_are_closed() {
    use std::io::BufRead;
    if !common::require(&[common::PYTHON3]) {
        return;
    }
    let dir = tempdir("deploy-slow");
    let policy = build(&dir, "slow", "true", &dir.join("out"));
    let agent = Agent::start(&policy, &dir, "slow", &["--control-mode", "666"]);
    agent.wait("state both", in_state("both"));
    let control = agent.control.to_str().expect("utf-8");
    let mut clients = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", SLOW_CLIENTS, control])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut lines = std::io::BufReader::new(clients.stdout.take().expect("piped")).lines();
    let busy = lines.next().expect("a line").expect("text");
    assert_eq!(busy, "busy 36", "64 slow clients are served, the others turned away");
    // While 64 stall: root's status and reload are answered.
    let status = wanc(&["status", "--control", control]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    let reload = wanc(&["reload", "--control", control, policy.to_str().expect("utf-8")]);
    assert_eq!(reload.status.code(), Some(0), "{}", text(&reload.stderr));
    // Nobody's is turned away, and told why.
    let nobody = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", WANC, "status", "--control", control])
        .output()
        .expect("setpriv runs");
    assert!(text(&nobody.stderr).contains("busy"), "{}", text(&nobody.stderr));
    let closed = lines.next().expect("a line").expect("text");
    assert_eq!(closed, "closed 64 of 64", "idle clients are closed after 5 s");
    let _ = clients.wait();
    // And served again once they are gone.
    agent.wait("state both", in_state("both"));
}
