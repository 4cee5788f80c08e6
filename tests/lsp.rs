//! `wanc lsp` driven by real clients: Neovim's own LSP client, headless
//! (`tests/lsp/neovim.lua` writes what the server answered; the assertions
//! are here), and a raw JSON-RPC writer that sends what no editor would.
//!
//! Neovim is Debian's `neovim` (0.7), which tests/run installs. Without it
//! the Neovim test skips with a note, except under CI=true, where it fails.

mod common;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NVIM: common::Need = common::Need::Tool("nvim", "--version", "neovim");

const LIB: &str = "\
# the fibre line
uplink isp1 {
    interface vr0
    address 198.51.100.199
    gateway 198.51.100.100
    nat
    check ping 198.51.100.100 { every 10s timeout 1s }
}
";

const SITE: &str = "\
site \"office\"
import \"lib.wan\"

lan inside {
  interface vr1
  network 192.168.1.0/24
}

uplink isp2 {
    interface vr2
    address 203.0.113.220
    gateway 203.0.113.200
    nat
    check ping 203.0.113.200 { every 10s timeout 1s }
}

policy {
    default via isp2, isp1
    route from inside via balance(isp1, isp2)
}

state allworking when isp1 && isp2
state noisp1     when !isp1 && isp2
state noisp2     when isp1 && !isp2
state alldown    when !isp1 && !isp2
";

const BROKEN: &str = "uplink a {\n    interface em0\n    gateway 192.0.2.1\n}\npolicy {\n    default via nowhere\n}\n";

/// Waits for a child at most `limit`, killing it after.
fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn neovim_drives_the_server() {
    if !common::require(&[NVIM]) {
        return;
    }
    let dir = common::tempdir("lsp-neovim");
    std::fs::write(dir.join("lib.wan"), LIB).expect("write");
    std::fs::write(dir.join("site.wan"), SITE).expect("write");
    std::fs::write(dir.join("broken.wan"), BROKEN).expect("write");
    let out = dir.join("out.jsonl");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lsp/neovim.lua");
    let let_ = |name: &str, value: &Path| format!("let g:{name} = '{}'", value.display().to_string().replace('\'', "''"));
    let mut child = Command::new("nvim")
        .args(["--headless", "-u", "NONE", "-i", "NONE", "-n"])
        .args(["--cmd", &let_("wanc", Path::new(common::WANC))])
        .args(["--cmd", &let_("dir", &dir)])
        .args(["--cmd", &let_("out", &out)])
        .arg("-S")
        .arg(&script)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nvim runs");
    wait(&mut child, Duration::from_secs(120));
    let mut stderr = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut stderr));
    let written = std::fs::read_to_string(&out).unwrap_or_default();
    let steps: Vec<(String, Value)> = written
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .map(|v| (v["step"].as_str().unwrap_or("").to_string(), v["result"].clone()))
        .collect();
    let step = |name: &str| -> &Value {
        &steps.iter().find(|(s, _)| s == name).unwrap_or_else(|| panic!("no step {name:?} in:\n{written}\n{stderr}")).1
    };
    assert!(!steps.iter().any(|(s, _)| s == "error"), "the Neovim script failed:\n{written}\n{stderr}");
    assert!(steps.iter().any(|(s, _)| s == "done"), "the Neovim script did not finish:\n{written}\n{stderr}");

    // The error, with its code, a link to its explanation, as an error.
    let diagnostics = step("diagnostics")["diagnostics"].as_array().expect("a list");
    let unknown = diagnostics.iter().find(|d| d["code"] == "E0101").unwrap_or_else(|| panic!("no E0101 in {diagnostics:?}"));
    assert_eq!(unknown["severity"], 1);
    assert_eq!(unknown["range"]["start"], json!({ "line": 5, "character": 16 }));
    assert!(unknown["message"].as_str().unwrap().starts_with("unknown uplink `nowhere`"), "{unknown}");
    let href = unknown["codeDescription"]["href"].as_str().expect("a link");
    assert!(href.starts_with("file://") && href.ends_with("codes.md#e0101"), "{href}");
    assert_eq!(step("site diagnostics")["diagnostics"], json!([]));

    // A rule's uplink in each state, in `wanc inspect`'s words.
    let hover = step("hover rule")["result"]["contents"]["value"].as_str().expect("hover text").to_string();
    for line in [
        "state `allworking`: balance isp1 ×1, isp2 ×1",
        "state `noisp1`: balance isp2 ×1",
        "state `noisp2`: balance isp1 ×1",
        "state `alldown`: unrouted (main table)",
    ] {
        assert!(hover.contains(line), "{line:?} not in the hover:\n{hover}");
    }
    let uplink = step("hover uplink")["result"]["contents"]["value"].as_str().expect("hover text").to_string();
    for line in ["interface vr2", "address 203.0.113.220/32", "gateway 203.0.113.200", "check ping 203.0.113.200 every 10s"] {
        assert!(uplink.contains(line), "{line:?} not in the hover:\n{uplink}");
    }

    // Across the import.
    let definition = &step("definition")["result"];
    assert!(definition["uri"].as_str().unwrap().ends_with("/lib.wan"), "{definition}");
    assert_eq!(definition["range"]["start"], json!({ "line": 1, "character": 7 }));
    let references = step("references")["result"].as_array().expect("a list");
    // The definition, `default`, `route` and the four states.
    assert_eq!(references.len(), 7, "{references:?}");
    let outline: Vec<(&str, &str)> = step("outline")["result"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| (s["name"].as_str().unwrap_or(""), s["detail"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(outline[..3], [("inside", "lan"), ("isp2", "uplink"), ("allworking", "state")], "{outline:?}");
    assert_eq!(outline.len(), 6, "{outline:?}");
    let labels: Vec<&str> =
        step("completion")["result"].as_array().expect("a list").iter().filter_map(|c| c["label"].as_str()).collect();
    assert!(labels.contains(&"isp1") && labels.contains(&"isp2") && !labels.contains(&"inside"), "{labels:?}");

    // Rename: refused onto a taken name; otherwise both files changed.
    let taken = &step("rename taken")["err"];
    assert!(taken["message"].as_str().unwrap_or("").contains("`inside` is already the name of a lan"), "{taken}");
    let renamed = step("renamed");
    let site: Vec<&str> = renamed["site"].as_array().expect("lines").iter().filter_map(Value::as_str).collect();
    let lib: Vec<&str> = renamed["lib"].as_array().expect("lines").iter().filter_map(Value::as_str).collect();
    assert_eq!(lib[1], "uplink fibre {");
    assert!(site.contains(&"    default via isp2, fibre"), "{site:?}");
    assert!(site.contains(&"state noisp1     when !fibre && isp2"), "{site:?}");

    // Formatting: `wanc fmt`'s layout of the renamed text, as one edit.
    let edits = step("formatting")["result"].as_array().expect("edits");
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(edits[0]["range"]["start"], json!({ "line": 0, "character": 0 }));
    let mut fmt = Command::new(common::WANC).arg("fmt").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("wanc fmt");
    fmt.stdin.take().expect("stdin").write_all(format!("{}\n", site.join("\n")).as_bytes()).expect("written");
    let laid_out = fmt.wait_with_output().expect("wanc fmt ends");
    assert_eq!(edits[0]["newText"].as_str(), Some(common::text(&laid_out.stdout).as_str()));
    assert!(common::text(&laid_out.stdout).contains("lan inside {\n    interface vr1\n"));

    let words = |l: &&str| l.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == "isp1");
    assert!(!site.iter().chain(&lib).any(words), "{site:?}\n{lib:?}");
}

// ---------------------------------------------------------------- raw

/// `wanc lsp` on pipes, spoken to in raw JSON-RPC.
struct Raw {
    child: Child,
    reader: BufReader<std::process::ChildStdout>,
}

impl Raw {
    fn start() -> Raw {
        let mut child = Command::new(common::WANC)
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wanc lsp runs");
        let reader = BufReader::new(child.stdout.take().expect("stdout"));
        Raw { child, reader }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        // The server may have ended (that is what some tests check).
        let _ = stdin.write_all(bytes).and_then(|_| stdin.flush());
    }

    fn send(&mut self, message: Value) {
        let text = message.to_string();
        self.bytes(format!("Content-Length: {}\r\n\r\n{text}", text.len()).as_bytes());
    }

    fn receive(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            assert!(self.reader.read_line(&mut line).expect("read") > 0, "the server closed its output");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().expect("a length");
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).expect("the body");
        serde_json::from_slice(&body).expect("JSON")
    }

    /// The response to request `id`, skipping notifications.
    fn response(&mut self, id: i64) -> Value {
        loop {
            let message = self.receive();
            if message["id"] == id {
                return message;
            }
        }
    }

    fn initialize(&mut self) {
        self.send(json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": { "capabilities": {} } }));
        let capabilities = self.response(0);
        assert_eq!(capabilities["result"]["capabilities"]["hoverProvider"], true, "{capabilities}");
        self.send(json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }));
    }

    fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        self.response(id)
    }

    fn finish(mut self) -> (std::process::ExitStatus, String) {
        drop(self.child.stdin.take());
        let status = wait(&mut self.child, Duration::from_secs(30));
        let mut stderr = String::new();
        let _ = self.child.stderr.take().map(|mut e| e.read_to_string(&mut stderr));
        assert!(!stderr.contains("panicked"), "the server panicked:\n{stderr}");
        (status, stderr)
    }
}

fn position(uri: &str, line: u64, character: u64) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } })
}

/// Requests of the wrong shape or about nothing open get error responses,
/// and documents of any text, positions anywhere, are answered.
#[test]
fn wrong_requests_get_errors() {
    let dir = common::tempdir("lsp-raw");
    let uri = format!("file://{}/x.wan", dir.display());
    let mut raw = Raw::start();
    raw.initialize();
    assert_eq!(raw.request(1, "textDocument/hover", json!("nonsense"))["error"]["code"], -32602);
    assert_eq!(raw.request(2, "textDocument/hover", json!({ "textDocument": 7 }))["error"]["code"], -32602);
    assert_eq!(raw.request(3, "wanc/nothing", json!({}))["error"]["code"], -32601);
    let closed = raw.request(4, "textDocument/definition", position(&uri, 0, 0));
    assert_eq!(closed["error"]["code"], -32803, "{closed}");
    assert!(closed["error"]["message"].as_str().unwrap().contains("is not open"), "{closed}");

    // Notifications of the wrong shape, or about nothing open, and a
    // response to nothing: ignored.
    raw.send(json!({ "jsonrpc": "2.0", "id": 1 }));
    raw.send(json!({ "jsonrpc": "2.0", "method": "textDocument/didOpen", "params": [1, 2] }));
    raw.send(json!({ "jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": "x" }] } }));

    let texts = ["", "{{{{{{{{", "uplink é😀 {\n\u{0}\u{7f}\r\r\n}", "policy { default via a, b, c\n", &"(".repeat(10_000)];
    for (i, text) in texts.into_iter().enumerate() {
        let version = i as i64 + 1;
        let doc = json!({ "uri": uri, "languageId": "wan", "version": version, "text": text });
        raw.send(json!({ "jsonrpc": "2.0", "method": "textDocument/didOpen", "params": { "textDocument": doc } }));
        // A change with a range, past the end.
        raw.send(json!({ "jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": { "uri": uri, "version": version },
            "contentChanges": [{ "range": { "start": { "line": 9, "character": 9 }, "end": { "line": 0, "character": 3 } }, "text": "é" }] } }));
        for (n, method) in ["textDocument/hover", "textDocument/definition", "textDocument/completion", "textDocument/references"]
            .into_iter()
            .enumerate()
        {
            for (line, character) in [(0, 0), (0, 3), (1, 1), (u32::MAX as u64, u32::MAX as u64)] {
                let mut params = position(&uri, line, character);
                if method == "textDocument/references" {
                    params["context"] = json!({ "includeDeclaration": true });
                }
                let id = 100 + i as i64 * 100 + n as i64 * 10 + line.min(5) as i64;
                let response = raw.request(id, method, params);
                assert!(response.get("error").is_none(), "{method} on {text:?}: {response}");
            }
        }
        let rename = raw.request(
            99,
            "textDocument/rename",
            json!({
            "textDocument": { "uri": uri }, "position": { "line": 0, "character": 0 }, "newName": "x y" }),
        );
        assert!(rename.get("error").is_some() || rename["result"].is_null(), "{rename}");
    }
    raw.send(json!({ "jsonrpc": "2.0", "method": "textDocument/didClose", "params": { "textDocument": { "uri": uri } } }));

    // Names that are no path, or not UTF-8, or name nothing on the disk.
    for (n, odd) in
        ["file:///nonexistent/%FF%FE/x.wan", "untitled:Untitled-1", "file:///", "file:///dev/null"].into_iter().enumerate()
    {
        let text = "import \"../../x.wan\"\nuplink a { interface e }\npolicy { default via a }\n";
        let doc = json!({ "uri": odd, "languageId": "wan", "version": 1, "text": text });
        raw.send(json!({ "jsonrpc": "2.0", "method": "textDocument/didOpen", "params": { "textDocument": doc } }));
        let response = raw.request(50 + n as i64, "textDocument/hover", position(odd, 2, 22));
        assert!(response["result"]["contents"]["value"].as_str().unwrap_or("").contains("uplink `a`"), "{odd}: {response}");
        raw.send(json!({ "jsonrpc": "2.0", "method": "textDocument/didClose", "params": { "textDocument": { "uri": odd } } }));
    }
    assert!(raw.request(5, "shutdown", json!(null))["error"].is_null());
    raw.send(json!({ "jsonrpc": "2.0", "method": "exit" }));
    let (status, stderr) = raw.finish();
    assert!(status.success(), "{status}: {stderr}");
}

/// Bytes that are not JSON-RPC end the session with an error, not a panic.
#[test]
fn garbage_ends_the_session_cleanly() {
    for garbage in [
        &b"Content-Length: 5\r\n\r\n{{{{{"[..],
        b"Content-Length: 99999999999999999999\r\n\r\n",
        b"hello\r\n\r\n",
        b"Content-Length: 4\r\n\r\n\xff\xfe\x00\x01",
        b"Content-Length: 1000000000000\r\n\r\n",
        &[b'x'; 5000],
    ] {
        let mut raw = Raw::start();
        raw.initialize();
        raw.bytes(garbage);
        let (status, stderr) = raw.finish();
        assert_eq!(status.code(), Some(2), "{garbage:?}: {status}: {stderr}");
        assert!(stderr.starts_with("error: "), "{garbage:?}: {stderr}");
    }
}
