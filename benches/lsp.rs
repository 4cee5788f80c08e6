//! The language server as an editor meets it: after a change to an open
//! file, how long until its diagnostics arrive (the whole site compiled
//! again), and how long a hover and a completion take. `wanc::lsp::serve`
//! runs on an in-memory connection, so the figures are the server's, not
//! a pipe's. Sites: every example, and the large generated one of
//! check_large (64 uplinks, 5,000 rules, 100 states) with 80,000 faulty
//! lines as the worst case for diagnostics.
//!
//!     cargo bench --bench lsp
//!
//! Aim (release): a change to an example answered within 20 ms, so that
//! diagnostics follow typing; the large site within a second.

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[path = "large_site.rs"]
mod large_site;

const RUNS: usize = 9;

struct Client {
    connection: Connection,
    next: i32,
}

impl Client {
    fn start() -> (Client, std::thread::JoinHandle<()>) {
        let (server, client) = Connection::memory();
        let thread = std::thread::spawn(move || wanc::lsp::serve(&server).expect("the server runs"));
        let mut client = Client { connection: client, next: 0 };
        client.request("initialize", json!({ "capabilities": {} }));
        client.notify("initialized", json!({}));
        (client, thread)
    }

    fn notify(&self, method: &str, params: Value) {
        self.connection.sender.send(Message::Notification(Notification::new(method.into(), params))).expect("sent");
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = RequestId::from(self.next);
        self.connection.sender.send(Message::Request(Request::new(id.clone(), method.into(), params))).expect("sent");
        loop {
            match self.connection.receiver.recv().expect("an answer") {
                Message::Response(r) if r.id == id => return r.result.unwrap_or(Value::Null),
                _ => continue,
            }
        }
    }

    /// Waits for the diagnostics of `uri`; returns how many.
    fn diagnostics(&self, uri: &str) -> usize {
        loop {
            if let Message::Notification(n) = self.connection.receiver.recv().expect("a notification") {
                if n.method == "textDocument/publishDiagnostics" && n.params["uri"] == uri {
                    return n.params["diagnostics"].as_array().map_or(0, Vec::len);
                }
            }
        }
    }

    fn stop(mut self, thread: std::thread::JoinHandle<()>) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        thread.join().expect("the server ends");
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Opens `text` as `name`, changes it `RUNS` times, and prints the times.
fn measure(name: &str, text: &str) {
    let dir = std::env::temp_dir().join(format!("wanc-bench-lsp-{}", std::process::id()));
    let uri = format!("file://{}/{name}", dir.display());
    let (mut client, thread) = Client::start();
    let doc = json!({ "uri": uri, "languageId": "wan", "version": 0, "text": text });
    client.notify("textDocument/didOpen", json!({ "textDocument": doc }));
    let count = client.diagnostics(&uri);
    let mut changes = Vec::new();
    for version in 1..=RUNS {
        // A comment added at the end: the whole site is compiled again.
        let text = format!("{text}\n# edit {version}\n");
        let start = Instant::now();
        client.notify(
            "textDocument/didChange",
            json!({
            "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
        client.diagnostics(&uri);
        changes.push(start.elapsed());
    }
    // The first `via`: a hover on the name after it, a completion before it.
    let (line, column) = text.lines().enumerate().find_map(|(i, l)| l.find(" via ").map(|c| (i, c + 5))).unwrap_or((0, 0));
    let at = json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": column } });
    let time = |client: &mut Client, method: &str| {
        median(
            (0..RUNS)
                .map(|_| {
                    let start = Instant::now();
                    client.request(method, at.clone());
                    start.elapsed()
                })
                .collect(),
        )
    };
    let hover = time(&mut client, "textDocument/hover");
    let completion = time(&mut client, "textDocument/completion");
    println!(
        "  {name:<28} {:>5} KiB {count:>6} diagnostics   change → diagnostics {:>7.1} ms   hover {:.2} ms   completion {:.2} ms",
        text.len() / 1024,
        ms(median(changes)),
        ms(hover),
        ms(completion)
    );
    client.stop(thread);
}

fn main() {
    println!("lsp: median of {RUNS} runs");
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut paths: Vec<_> = std::fs::read_dir(examples).expect("examples").filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "wan")) {
        let text = std::fs::read_to_string(path).expect("example readable");
        measure(&path.file_name().expect("a name").to_string_lossy(), &text);
    }
    measure("large-64-uplinks.wan", &large_site::generate(64, 5_000, 100));
    let faulty: String = (0..80_000).map(|i| format!("const x{i} = 300.1.1.{}\n", i % 250)).collect();
    measure("80000-faulty-lines.wan", &format!("site \"s\"\n{faulty}"));
}
