//! Probe plugins end to end. The SDK, both plugins and the test plugins are
//! built from source with `plugins/build.sh` on every run, then:
//! - `http_status` and `dns_answer` probe real servers (Python scripts) in a
//!   network namespace of their own, through `wanc probe` run inside it
//!   with a source address there;
//! - misbehaving plugins (endless loop, memory hog, trap, bad result, other
//!   ABI, forbidden import) are contained, and the host stays usable;
//! - `wanc probe` exits 0 up, 1 down, 2 unusable, with the reason on stderr.
//!
//! Needs /usr/bin/rustc with the wasm32 target, clang and lld; the
//! namespace tests also need root, `ip` and `python3`. Without them a test
//! prints a skip line and passes, except under CI=true, where it fails
//! (tests/common).

mod common;

use common::{Need, IP, PYTHON3, WANC};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;
use wanc::plugin::{Limits, PluginError, PluginHost, ProbeRequest};

const BUILD_TOOLS: &[Need] = &[
    Need::Tool("/usr/bin/rustc", "--version", "rustc and libstd-rust-dev-wasm32"),
    Need::Tool("clang", "--version", "clang"),
    Need::Tool("wasm-ld", "--version", "lld"),
];
const NETNS_TOOLS: &[Need] = &[Need::Root, IP, PYTHON3];

// ---------------------------------------------------------------------------
// The plugin build

/// The directory with every built plugin; built once per test run.
fn plugins() -> Option<&'static Path> {
    if !common::require(BUILD_TOOLS) {
        return None;
    }
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugins");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/build.sh");
        let output = Command::new("sh").arg(&script).arg(&out).output().map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(out)
    });
    match built {
        Ok(dir) => Some(dir.as_path()),
        Err(e) => panic!("plugins/build.sh failed:\n{e}"),
    }
}

fn settings(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

// ---------------------------------------------------------------------------
// A network namespace with servers in it

/// A namespace with two addresses on its loopback, `.1` for the prober and
/// `.2` for the servers, in IPv4 and IPv6. Dropping it kills the servers and
/// deletes the namespace, also when a test fails.
struct Netns {
    name: String,
    servers: Vec<Child>,
}

const PROBER: &str = "10.77.0.1";
const SERVER: &str = "10.77.0.2";
const PROBER6: &str = "fd77::1";
const SERVER6: &str = "fd77::2";

impl Netns {
    fn new(tag: &str) -> Netns {
        let ns = Netns { name: format!("wanc-plug-{}-{tag}", std::process::id()), servers: Vec::new() };
        run(Command::new("ip").args(["netns", "add", &ns.name]));
        let ip = |args: &[&str]| run(Command::new("ip").args(["-n", &ns.name]).args(args));
        ip(&["link", "set", "lo", "up"]);
        for addr in [PROBER, SERVER] {
            ip(&["addr", "add", &format!("{addr}/32"), "dev", "lo"]);
        }
        for addr in [PROBER6, SERVER6] {
            ip(&["addr", "add", &format!("{addr}/128"), "dev", "lo", "nodad"]);
        }
        ns
    }

    /// Starts a Python server and waits for its "ready" line; returns its
    /// index for `stop`.
    fn serve(&mut self, script: &str, args: &[&str]) -> usize {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "python3", "-c", script])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        self.servers.push(child);
        assert_eq!(line.trim(), "ready", "the server {args:?} did not start");
        self.servers.len() - 1
    }

    fn stop(&mut self, server: usize) {
        let child = &mut self.servers[server];
        let _ = child.kill();
        let _ = child.wait();
    }

    /// `wanc probe PLUGIN ARGS…` inside the namespace.
    fn probe(&self, plugin: &Path, args: &[&str]) -> (i32, String) {
        let output = Command::new("ip")
            .args(["netns", "exec", &self.name, WANC, "probe"])
            .arg(plugin)
            .args(args)
            .output()
            .expect("wanc runs");
        status_and_stderr(output)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.stop(i);
        }
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

fn run(command: &mut Command) {
    let output = command.output().expect("command runs");
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
}

fn status_and_stderr(output: Output) -> (i32, String) {
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[track_caller]
fn expect(result: (i32, String), status: i32, text: &str) {
    let (got, stderr) = result;
    assert!(got == status && stderr.contains(text), "expected exit {status} and `{text}`, got exit {got}: {stderr}");
}

/// /ok answers 200 with the client's address in the body, /chunked sends
/// "hello world" in chunks, /slow answers after 5 s, anything else is 404.
const HTTP_SERVER: &str = r#"
import http.server, socket, socketserver, sys, time
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            return
        if self.path == "/slow":
            time.sleep(5)
        code, body = (200, "fine; client=%s\n" % self.client_address[0]) if self.path in ("/ok", "/slow") else (404, "no\n")
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
server = Server((sys.argv[1], int(sys.argv[2])), Handler)
print("ready", flush=True)
server.serve_forever()
"#;

/// up.test has A 192.0.2.7 and AAAA 2001:db8::7; alias.test is a CNAME for
/// it; badid.test gets a reply with the wrong ID only; spoof.test gets a
/// wrong-ID reply with another address first; other names are NXDOMAIN.
const DNS_SERVER: &str = r#"
import socket, struct, sys
def name(text):
    return b"".join(bytes([len(l)]) + l.encode() for l in text.split(".")) + b"\0"
def record(owner, rtype, rdata):
    return owner + struct.pack(">HHIH", rtype, 1, 60, len(rdata)) + rdata
A = socket.inet_aton("192.0.2.7")
AAAA = socket.inet_pton(socket.AF_INET6, "2001:db8::7")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(512)
    qid = struct.unpack(">H", q[:2])[0]
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode().lower())
        i += 1 + q[i]
    qname, qtype = ".".join(labels), struct.unpack(">H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    rcode, answers = 0, []
    here = b"\xc0\x0c"
    if qname in ("up.test", "badid.test", "spoof.test"):
        if qtype == 1:
            answers.append(record(here, 1, A))
        if qtype == 28:
            answers.append(record(here, 28, AAAA))
    elif qname == "alias.test":
        answers.append(record(here, 5, name("up.test")))
        answers.append(record(name("up.test"), qtype, A if qtype == 1 else AAAA))
    else:
        rcode = 3
    def reply(rid, body):
        return struct.pack(">HHHHHH", rid, 0x8180 | rcode, 1, len(body), 0, 0) + question + b"".join(body)
    if qname == "badid.test":
        s.sendto(reply(qid ^ 0x5555, answers), peer)
        continue
    if qname == "spoof.test":
        s.sendto(reply(qid ^ 0x5555, [record(here, 1, socket.inet_aton("192.0.2.66"))]), peer)
    s.sendto(reply(qid, answers), peer)
"#;

// ---------------------------------------------------------------------------
// The real plugins against real servers

#[test]
fn http_status_probes_a_real_server() {
    let Some(dir) = plugins() else { return };
    if !common::require(NETNS_TOOLS) {
        return;
    }
    let plugin = dir.join("http_status.wasm");
    let mut ns = Netns::new("http");
    let v4 = ns.serve(HTTP_SERVER, &[SERVER, "8080"]);
    ns.serve(HTTP_SERVER, &[SERVER6, "8080"]);
    let url = |path: &str| format!("url=http://{SERVER}:8080{path}");
    let probe = |ns: &Netns, args: &[&str]| ns.probe(&plugin, args);

    // The body shows the connection came from the source address.
    let client = format!("body=client={PROBER}\n");
    expect(probe(&ns, &["--source", PROBER, "--set", &url("/ok"), "--set", &client]), 0, "up: http 200 from 10.77.0.2:8080");
    expect(probe(&ns, &["--source", SERVER, "--set", &url("/ok"), "--set", &client]), 1, "does not contain");
    expect(
        probe(&ns, &["--source", PROBER6, "--set", "url=http://[fd77::2]:8080/ok", "--set", "body=client=fd77::1"]),
        0,
        "up: http 200 from [fd77::2]:8080",
    );
    expect(probe(&ns, &["--source", PROBER, "--set", &url("/chunked"), "--set", "body=hello world"]), 0, "up: http 200");
    expect(probe(&ns, &["--source", PROBER, "--set", &url("/missing")]), 1, "down: http 404 from 10.77.0.2:8080, expected 200");
    expect(probe(&ns, &["--source", PROBER, "--set", &url("/missing"), "--set", "expect=404"]), 0, "up: http 404");
    expect(
        probe(&ns, &["--source", PROBER, "--set", &url("/slow"), "--timeout", "500ms"]),
        1,
        "down: no complete response: timed out",
    );
    expect(probe(&ns, &["--source", "10.99.0.1", "--set", &url("/ok")]), 1, "unreachable");
    expect(probe(&ns, &["--set", "url=http://example.com/"]), 1, "not an IP address");

    ns.stop(v4);
    expect(
        probe(&ns, &["--source", PROBER, "--set", &url("/ok")]),
        1,
        "down: cannot connect to 10.77.0.2:8080: connection refused",
    );
}

#[test]
fn dns_answer_probes_a_real_server() {
    let Some(dir) = plugins() else { return };
    if !common::require(NETNS_TOOLS) {
        return;
    }
    let plugin = dir.join("dns_answer.wasm");
    let mut ns = Netns::new("dns");
    let server = ns.serve(DNS_SERVER, &[SERVER, "53"]);
    let probe = |ns: &Netns, name: &str, extra: &[&str]| {
        let mut args = vec!["--source", PROBER, "--timeout", "500ms", "--set", "server=10.77.0.2", "--set"];
        let name = format!("name={name}");
        args.push(&name);
        args.extend_from_slice(extra);
        ns.probe(&plugin, &args)
    };

    expect(probe(&ns, "up.test", &["--set", "expect=192.0.2.7"]), 0, "up: up.test. A 192.0.2.7 from 10.77.0.2:53");
    expect(probe(&ns, "UP.test.", &[]), 0, "up: up.test. A 192.0.2.7");
    expect(probe(&ns, "up.test", &["--set", "type=AAAA", "--set", "expect=2001:db8::7"]), 0, "AAAA 2001:db8::7");
    expect(
        probe(&ns, "up.test", &["--set", "expect=192.0.2.8"]),
        1,
        "down: up.test. A is 192.0.2.7 at 10.77.0.2:53, expected 192.0.2.8",
    );
    expect(probe(&ns, "alias.test", &["--set", "expect=192.0.2.7"]), 0, "up: alias.test. A 192.0.2.7");
    expect(probe(&ns, "nx.test", &[]), 1, "answered nxdomain for nx.test.");
    expect(probe(&ns, "badid.test", &[]), 1, "no answer from 10.77.0.2:53: timed out");
    expect(probe(&ns, "spoof.test", &["--set", "expect=192.0.2.7"]), 0, "up: spoof.test. A 192.0.2.7");

    ns.stop(server);
    expect(probe(&ns, "up.test", &[]), 1, "down: no answer from 10.77.0.2:53: connection refused");
}

// ---------------------------------------------------------------------------
// Containment

/// Probes on another thread and gives up after a generous bound, so that a
/// plugin that is not stopped fails the test instead of hanging it.
fn probe_bounded(
    host: &'static PluginHost,
    plugin: &wanc::plugin::LoadedPlugin,
    request: ProbeRequest,
) -> wanc::plugin::ProbeOutcome {
    let (tx, rx) = mpsc::channel();
    let plugin = plugin.clone();
    std::thread::spawn(move || {
        let _ = tx.send(host.probe(&plugin, &request));
    });
    rx.recv_timeout(Duration::from_secs(30)).expect("the host stops the plugin")
}

#[test]
fn misbehaving_plugins_are_contained() {
    let Some(dir) = plugins() else { return };
    let limits = Limits { memory_bytes: 8 << 20, ..Limits::default() };
    let host: &'static PluginHost = Box::leak(Box::new(PluginHost::with_limits(limits).expect("host starts")));
    let load = |name: &str| host.load(&dir.join(format!("{name}.wasm")));
    let good = load("up").expect("up.wasm loads");
    let request =
        |pairs: &[(&str, &str)], timeout_ms| ProbeRequest::new(settings(pairs), None, Duration::from_millis(timeout_ms));
    let still_good = |after: &str| {
        let outcome = probe_bounded(host, &good, request(&[("message", "still fine")], 1000));
        assert!(outcome.up && outcome.reason == "still fine", "after {after}: {outcome:?}");
    };
    still_good("nothing");

    let cases = [
        ("spin", 200, "the plugin timed out after 200ms"),
        ("hog", 5000, "the plugin exceeded the memory cap of 8 MiB"),
        ("trap", 1000, "the plugin trapped: unreachable code"),
        ("bad_result", 1000, "outside its memory"),
    ];
    for (name, timeout, reason) in cases {
        let plugin = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let outcome = probe_bounded(host, &plugin, request(&[], timeout));
        assert!(!outcome.up && outcome.reason.contains(reason), "{name}: {outcome:?}");
        still_good(name);
    }

    match load("abi_v2") {
        Err(e @ PluginError::Abi(2)) => assert_eq!(e.to_string(), "plugin speaks ABI version 2, wanc speaks 1"),
        other => panic!("abi_v2 loaded: {:?}", other.map(|_| ())),
    }
    still_good("abi_v2");

    // No ambient authority: an import from outside module `wanc` is refused.
    let wasi = wat::parse_str(
        r#"(module
             (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
             (memory (export "memory") 1)
             (func (export "wanc_abi_version") (result i32) i32.const 1)
             (func (export "wanc_settings") (result i64) i64.const 0)
             (func (export "wanc_alloc") (param i32) (result i32) i32.const 1024)
             (func (export "wanc_probe") (param i32 i32) (result i64) i64.const 0))"#,
    )
    .expect("valid wat");
    match host.load_bytes(&wasi) {
        Err(e @ PluginError::Interface(_)) => {
            assert!(e.to_string().contains("`wasi_snapshot_preview1.proc_exit`, which the host does not provide"), "{e}")
        }
        other => panic!("wasi import loaded: {:?}", other.map(|_| ())),
    }

    // A plugin may connect only to its check's targets.
    let outcome = probe_bounded(host, &good, request(&[("connect", "127.0.0.1:9")], 1000));
    assert!(!outcome.up && outcome.reason.contains("not a target of this check"), "{outcome:?}");

    // A runaway plugin does not hold up probes on other threads.
    let spin = load("spin").expect("spin.wasm loads");
    let runaway = std::thread::spawn(move || host.probe(&spin, &ProbeRequest::new(settings(&[]), None, Duration::from_secs(1))));
    still_good("a concurrent runaway");
    assert!(!runaway.join().expect("no panic").up);
}

// ---------------------------------------------------------------------------
// The command line

#[test]
fn probe_command_exit_status_and_reason() {
    let Some(dir) = plugins() else { return };
    let probe = |name: &str, args: &[&str]| {
        let output = Command::new(WANC).arg("probe").arg(dir.join(name)).args(args).output().expect("wanc runs");
        status_and_stderr(output)
    };
    expect(probe("up.wasm", &[]), 0, "up: up");
    expect(probe("up.wasm", &["--set", "message=all good"]), 0, "up: all good (measurement ");
    expect(probe("up.wasm", &["--set", "down=link is broken"]), 1, "down: link is broken");
    expect(probe("trap.wasm", &[]), 1, "down: the plugin trapped");
    expect(probe("spin.wasm", &["--timeout", "300ms"]), 1, "down: the plugin timed out after 300ms");
    expect(probe("up.wasm", &["--set", "connect=127.0.0.1:9"]), 1, "not a target of this check");
    expect(probe("up.wasm", &["--set", "connect=127.0.0.1:9", "--allow", "127.0.0.1:9"]), 1, "connection refused");
    expect(probe("http_status.wasm", &[]), 2, "requires setting `url`");
    expect(probe("up.wasm", &["--set", "colour=blue"]), 2, "no setting `colour`");
    expect(probe("abi_v2.wasm", &[]), 2, "ABI version 2");
    expect(probe("missing.wasm", &[]), 2, "cannot read the plugin");
    expect(probe("up.wasm", &["--timeout", "soon"]), 2, "not a duration");
}
