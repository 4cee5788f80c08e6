//! Editor support under `editors/`, tested with the editors' own engines:
//! the VS Code TextMate grammar through vscode-textmate (VS Code's tokenizer,
//! driven by `editors/vscode/test/tokenize.js` under node), the Vim syntax,
//! ftplugin and 'errorformat' through headless Vim
//! (`editors/vim/test/*.vim`). Both drivers print JSON Lines with 1-based
//! byte columns, so one position can be put to both engines. The VS Code
//! extension's code, which starts `wanc lsp`, runs under node with VS Code
//! stood in for (`editors/vscode/test/client.js`); the server itself is
//! tested with a real client in tests/lsp.rs.
//!
//! The test does not use the wanc library, on purpose; it runs the wanc
//! binary twice (`:make`, and to parse its keyword site). It needs node with
//! the npm modules (`npm ci` in editors/vscode/test, which tests/run does)
//! and vim. When they are missing the tests skip with a note, except under
//! CI=true, where they fail (tests/common): CI must never pass by skipping.

mod common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

// ---------------------------------------------------------------- tools

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn runs(program: &str, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).stdin(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn node_available() -> bool {
    let modules = root().join("editors/vscode/test/node_modules");
    let problem = if runs("node", "--version").is_none() {
        Some("node is not installed (Debian: apt-get install nodejs npm)".into())
    } else if !["vscode-textmate", "vscode-oniguruma"].iter().all(|m| modules.join(m).join("package.json").exists()) {
        Some("vscode-textmate / vscode-oniguruma are missing: run `npm ci` in editors/vscode/test".into())
    } else {
        None
    };
    common::environment(problem.as_slice())
}

fn vim_available() -> bool {
    let problem = match runs("vim", "--version") {
        None => Some("vim is not installed (Debian: apt-get install vim)".into()),
        Some(v) if !["+syntax", "+eval", "+quickfix"].iter().all(|f| v.contains(f)) => {
            Some("this vim lacks +syntax, +eval or +quickfix".into())
        }
        Some(_) => None,
    };
    common::environment(problem.as_slice())
}

/// A scratch file under cargo's temporary directory for integration tests,
/// named per process so that concurrent runs do not meet.
fn scratch(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("editors-{}-{name}", std::process::id()))
}

fn wan_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wan"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .wan files in {dir}");
    files
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.current_dir(root()).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

// ---------------------------------------------------------------- JSON Lines
// The drivers print flat objects of numbers, strings and string arrays; these
// read one field of one line, which is all the test needs.

/// The raw text after `"key":` in a JSON object line. An escaped quote inside
/// a string is `\"`, so `"key":` cannot be found inside a string value.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{key}\":"))?;
    Some(&line[at + key.len() + 3..])
}

fn num(line: &str, key: &str) -> Option<i64> {
    let rest = field(line, key)?;
    let end = rest.find(|c: char| c != '-' && !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A JSON string starting at the opening quote of `s`; returns it and the rest.
fn json_string(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 2..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'u' => {
                    let hex: String = (0..4).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?).unwrap_or('\u{fffd}'));
                }
                other => out.push(other), // \" \\ \/
            },
            c => out.push(c),
        }
    }
    None
}

fn text(line: &str, key: &str) -> Option<String> {
    json_string(field(line, key)?).map(|(s, _)| s)
}

fn texts(line: &str, key: &str) -> Vec<String> {
    let mut rest = field(line, key).and_then(|r| r.strip_prefix('[')).unwrap_or("");
    let mut out = Vec::new();
    while let Some((s, after)) = json_string(rest.trim_start_matches(',')) {
        out.push(s);
        rest = after;
    }
    out
}

// ---------------------------------------------------------------- engines

/// One token as an engine sees it: `scope` is the innermost TextMate scope
/// or the Vim syntax group, `link` the Vim highlight group it resolves to.
#[derive(Debug)]
struct Token {
    file: String,
    line: usize,
    col: usize,
    end: usize,
    text: String,
    scope: String,
    link: String,
}

struct Highlighting {
    engine: &'static str,
    tokens: Vec<Token>,
}

impl Highlighting {
    /// The token covering a byte column (1-based), if any.
    fn at(&self, file: &str, line: usize, col: usize) -> Option<&Token> {
        self.tokens.iter().find(|t| t.file == file && t.line == line && t.col <= col && col < t.end)
    }

    /// The scope at a position, "" for plain text.
    fn scope(&self, file: &str, line: usize, col: usize) -> &str {
        self.at(file, line, col).map_or("", |t| t.scope.as_str())
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).to_string_lossy().into_owned()
}

/// VS Code's tokenizer over `files`.
fn textmate(files: &[PathBuf]) -> Highlighting {
    let names: Vec<String> = files.iter().map(|f| relative(f)).collect();
    let out = run(Command::new("node").arg("editors/vscode/test/tokenize.js").args(&names), "node tokenize.js");
    let tokens = out
        .lines()
        .map(|l| Token {
            file: text(l, "file").expect("file"),
            line: num(l, "line").expect("line") as usize,
            col: num(l, "col").expect("col") as usize,
            end: num(l, "end").expect("end") as usize,
            text: text(l, "text").unwrap_or_default(),
            scope: texts(l, "scopes").pop().expect("scopes"),
            link: String::new(),
        })
        .collect();
    Highlighting { engine: "TextMate", tokens }
}

fn vim_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Headless Vim with editors/vim on the runtime path, running `script` on
/// `files` with `g:out` (where the script writes) and `vars` set; returns the
/// lines the script wrote. `path` replaces $PATH for Vim and its shell.
fn vim(script: &str, vars: &[(&str, &Path)], files: &[String], path: Option<&OsStr>) -> Vec<String> {
    let out = scratch(&format!("{script}.jsonl"));
    let _ = std::fs::remove_file(&out);
    let mut cmd = Command::new("vim");
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    cmd.args(["-N", "-u", "NONE", "-i", "NONE", "-es"])
        .args(["--cmd", &format!("set rtp^={}", root().join("editors/vim").display())])
        .args(["--cmd", "filetype plugin on", "--cmd", "syntax on"])
        .args(["--cmd", &format!("let g:out = {}", vim_string(&out.to_string_lossy()))]);
    for (name, value) in vars {
        cmd.args(["--cmd", &format!("let g:{name} = {}", vim_string(&value.to_string_lossy()))]);
    }
    cmd.arg("-S").arg(root().join("editors/vim/test").join(script)).args(files);
    let result = cmd.current_dir(root()).stdin(Stdio::null()).output().expect("vim runs");
    let written = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        result.status.success() && !written.starts_with("ERROR"),
        "vim -S {script} failed ({}):\n{written}\n{}",
        result.status,
        String::from_utf8_lossy(&result.stderr)
    );
    let _ = std::fs::remove_file(&out);
    written.lines().map(str::to_owned).collect()
}

/// Vim's syntax highlighting of `files`; checks each was detected as `wan`
/// and loaded without an error message.
fn vim_syntax(files: &[PathBuf]) -> Highlighting {
    let names: Vec<String> = files.iter().map(|f| relative(f)).collect();
    let mut tokens = Vec::new();
    for l in vim("syntax-dump.vim", &[], &names, None) {
        let file = text(&l, "file").expect("file");
        if let Some(filetype) = text(&l, "filetype") {
            assert_eq!(filetype, "wan", "{file}: ftdetect/wan.vim did not set the filetype");
            let errmsg = text(&l, "errmsg").unwrap_or_default();
            assert!(errmsg.is_empty(), "{file}: Vim reported an error loading the syntax: {errmsg}");
            continue;
        }
        tokens.push(Token {
            file,
            line: num(&l, "line").expect("line") as usize,
            col: num(&l, "col").expect("col") as usize,
            end: num(&l, "end").expect("end") as usize,
            text: text(&l, "text").unwrap_or_default(),
            scope: text(&l, "group").unwrap_or_default(),
            link: text(&l, "link").unwrap_or_default(),
        });
    }
    assert!(!tokens.is_empty(), "Vim highlighted nothing in {names:?}");
    Highlighting { engine: "Vim", tokens }
}

// ---------------------------------------------------------------- examples

/// A representative token: in `file`, on the first line containing `line`,
/// the `nth` occurrence of `token` (0 = first) must have the TextMate scope
/// `tm` (innermost) and the Vim syntax group `vim`.
struct Case {
    file: &'static str,
    line: &'static str,
    token: &'static str,
    nth: usize,
    tm: &'static str,
    vim: &'static str,
}

const fn case(file: &'static str, line: &'static str, token: &'static str, tm: &'static str, vim: &'static str) -> Case {
    Case { file, line, token, nth: 0, tm, vim }
}

const DUAL: &str = "examples/dual-isp-failover.wan";
const WEB: &str = "examples/multihomed-webserver.wan";
const MULTI: &str = "examples/redundant-multipath.wan";
const TUNNEL: &str = "examples/tunnel-source-routing.wan";
const TRIPLE: &str = "examples/triple-dual-stack.wan";
const DHCP: &str = "examples/dhcp-and-static.wan";
const SLAAC: &str = "examples/dhcp-slaac-dual-stack.wan";

const CASES: &[Case] = &[
    case(DHCP, "    address auto ipv4", "auto", "keyword.other.wan", "wanKeyword"),
    case(SLAAC, "    gateway auto ipv6", "auto", "keyword.other.wan", "wanKeyword"),
    case(TRIPLE, "    address 2001:db8:a::2/64", "2001:db8:a::2/64", "constant.other.prefix.ipv6.wan", "wanPrefix"),
    case(TRIPLE, "    weight 2", "weight", "keyword.other.wan", "wanKeyword"),
    case(TRIPLE, "state lte_only", "lte_only", "entity.name.type.state.wan", "wanStateDef"),
    case(DUAL, "uplink isp1 {", "uplink", "keyword.declaration.wan", "wanItemKeyword"),
    case(DUAL, "uplink isp1 {", "isp1", "entity.name.type.uplink.wan", "wanUplinkDef"),
    case(DUAL, "lan inside {", "inside", "entity.name.type.lan.wan", "wanLanDef"),
    case(DUAL, "interface vr0", "interface", "keyword.other.wan", "wanKeyword"),
    case(DUAL, "interface vr0", "vr0", "variable.other.interface.wan", "wanInterface"),
    case(DUAL, "network 192.168.1.0/24", "192.168.1.0/24", "constant.other.prefix.ipv4.wan", "wanPrefix"),
    case(DUAL, "address 198.51.100.199", "198.51.100.199", "constant.other.address.ipv4.wan", "wanAddress"),
    case(DUAL, "check ping 198.51.100.100", "check", "keyword.other.check.wan", "wanCheckKeyword"),
    case(DUAL, "check ping 198.51.100.100", "ping", "keyword.other.check.kind.wan", "wanProbeKeyword"),
    case(DUAL, "check ping 198.51.100.100", "every", "variable.parameter.option.wan", "wanOption"),
    case(DUAL, "check ping 198.51.100.100", "10s", "constant.numeric.duration.wan", "wanDuration"),
    case(DUAL, "site \"office\"", "office", "string.quoted.double.wan", "wanString"),
    case(DUAL, "# some web applications", "web", "comment.line.number-sign.wan", "wanComment"),
    case(DUAL, "default via isp2", "via", "keyword.other.via.wan", "wanViaKeyword"),
    case(DUAL, "default via isp2", "isp1", "variable.other.uplink.wan", "wanUplinkRef"),
    case(DUAL, "via balance(", "balance", "keyword.other.via.wan", "wanViaKeyword"),
    case(DUAL, "proto tcp to port https", "proto", "keyword.other.wan", "wanKeyword"),
    case(DUAL, "proto tcp to port https", "tcp", "support.constant.protocol.wan", "wanProtocol"),
    case(DUAL, "proto tcp to port https", "https", "support.constant.service.wan", "wanService"),
    case(DUAL, "state allworking", "state", "keyword.declaration.wan", "wanItemKeyword"),
    case(DUAL, "state allworking", "allworking", "entity.name.type.state.wan", "wanStateDef"),
    case(DUAL, "state allworking", "when", "keyword.control.when.wan", "wanWhenKeyword"),
    case(DUAL, "state allworking", "isp1", "variable.other.uplink.wan", "wanUplinkRef"),
    case(DUAL, "state allworking", "&&", "keyword.operator.logical.wan", "wanOperator"),
    case(DUAL, "state noisp1", "!", "keyword.operator.logical.not.wan", "wanOperator"),
    case(DUAL, "on enter", "enter", "keyword.other.event.wan", "wanEventKeyword"),
    case(DUAL, "on enter", "run", "keyword.other.wan", "wanKeyword"),
    // `lan lan { }`: the second `lan` is the lan's name.
    case(WEB, "lan lan {", "lan", "keyword.declaration.wan", "wanItemKeyword"),
    Case { nth: 1, ..case(WEB, "lan lan {", "lan", "entity.name.type.lan.wan", "wanLanDef") },
    case(WEB, "network 2001:db8:aa00::/64", "2001:db8:aa00::/64", "constant.other.prefix.ipv6.wan", "wanPrefix"),
    case(WEB, "gateway fe80::1%em0", "fe80::1", "constant.other.address.ipv6.wan", "wanAddress"),
    case(WEB, "gateway fe80::1%em0", "em0", "constant.other.zone.wan", "wanZone"),
    case(WEB, "host www =", "host", "keyword.declaration.wan", "wanItemKeyword"),
    case(WEB, "host www =", "www", "entity.name.constant.host.wan", "wanHostDef"),
    case(WEB, "via he stateless", "serve", "keyword.other.wan", "wanKeyword"),
    case(WEB, "via he stateless", "stateless", "keyword.other.wan", "wanViaKeyword"),
    case(MULTI, "const control_host", "control_host", "entity.name.constant.wan", "wanConstDef"),
    case(MULTI, "port { http, https }", "http", "support.constant.service.wan", "wanService"),
    case(MULTI, "port { domain, smtp", "imaps", "support.constant.service.wan", "wanService"),
    case(MULTI, "default via multipath", "multipath", "keyword.other.via.wan", "wanViaKeyword"),
    case(MULTI, "flush states", "states", "keyword.other.wan", "wanKeyword"),
    case(MULTI, "flush states", "down", "keyword.other.event.wan", "wanEventKeyword"),
    case(MULTI, "flush states", "ext1 is down", "string.quoted.double.wan", "wanString"),
    // `count` is a keyword in `when`, but inside `check { }` it is an option.
    case(MULTI, "every 60s count 3", "count", "variable.parameter.option.wan", "wanOption"),
    case(MULTI, "every 60s count 3", "3", "constant.numeric.integer.wan", "wanInteger"),
    case(MULTI, "forward udp port domain", "udp", "support.constant.protocol.wan", "wanProtocol"),
    case(TUNNEL, "gateway dev", "dev", "keyword.other.wan", "wanKeyword"),
    case(TUNNEL, "table 200", "200", "constant.numeric.integer.wan", "wanInteger"),
    case(TUNNEL, "check ping 2a02:db8:1::1", "2a02:db8:1::1", "constant.other.address.ipv6.wan", "wanAddress"),
];

/// Where a case's token is: (file, line, byte column), 1-based.
fn locate(c: &Case) -> (usize, usize) {
    let source = std::fs::read_to_string(root().join(c.file)).unwrap_or_else(|e| panic!("{}: {e}", c.file));
    let (n, line) = source
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(c.line))
        .unwrap_or_else(|| panic!("{}: no line contains {:?}", c.file, c.line));
    let col = line
        .match_indices(c.token)
        .nth(c.nth)
        .unwrap_or_else(|| panic!("{}:{}: no {:?} number {}", c.file, n + 1, c.token, c.nth))
        .0;
    (n + 1, col + 1)
}

/// Checks the cases, every example is covered, and no example shows an
/// error highlight (they are all valid).
fn check_examples(h: &Highlighting, expected: fn(&Case) -> &'static str, is_error: fn(&Token) -> bool) {
    let examples = wan_files("examples");
    let mut failures = Vec::new();
    for c in CASES {
        let (line, col) = locate(c);
        let got = h.scope(c.file, line, col);
        if got != expected(c) {
            failures.push(format!("{}:{line}:{col}: {:?} is {:?}, expected {:?}", c.file, c.token, got, expected(c)));
        }
    }
    for example in &examples {
        let name = relative(example);
        if !CASES.iter().any(|c| c.file == name) {
            failures.push(format!("{name}: no representative tokens listed in CASES"));
        }
        for t in h.tokens.iter().filter(|t| t.file == name && is_error(t)) {
            failures.push(format!("{name}:{}:{}: {:?} highlighted as an error ({})", t.line, t.col, t.text, t.scope));
        }
    }
    assert!(failures.is_empty(), "{} highlighting of the examples:\n{}", h.engine, failures.join("\n"));
}

/// The scope at the `nth` (0-based) `needle` on `line` of a ui case.
fn ui_scope<'a>(h: &'a Highlighting, file: &str, line: usize, needle: &str, nth: usize) -> &'a str {
    let source = std::fs::read_to_string(root().join(file)).expect("ui case");
    let text = source.lines().nth(line - 1).expect("line");
    let col = text.match_indices(needle).nth(nth).expect("needle").0 + 1;
    h.scope(file, line, col)
}

#[test]
fn textmate_grammar_highlights_examples() {
    if !node_available() {
        return;
    }
    let mut files = wan_files("examples");
    // The broken ui cases must tokenize too (an editor shows half-typed files).
    files.extend(wan_files("tests/ui"));
    let h = textmate(&files);
    check_examples(&h, |c| c.tm, |t| t.scope.starts_with("invalid"));
    let escapes = "tests/ui/escape-unknown.wan";
    assert_eq!(ui_scope(&h, escapes, 5, "\\t", 0), "invalid.illegal.escape.wan");
    assert_eq!(ui_scope(&h, escapes, 5, "\\q", 0), "invalid.illegal.escape.wan");
}

#[test]
fn vim_syntax_highlights_examples() {
    if !vim_available() {
        return;
    }
    let mut files = wan_files("examples");
    files.extend(wan_files("tests/ui"));
    let h = vim_syntax(&files);
    check_examples(&h, |c| c.vim, |t| t.link == "Error");
    let escapes = "tests/ui/escape-unknown.wan";
    assert_eq!(ui_scope(&h, escapes, 5, "\\t", 0), "wanBadEscape");
    assert_eq!(ui_scope(&h, escapes, 5, "\\q", 0), "wanBadEscape");
}

// ---------------------------------------------------------------- keywords

/// The keywords of the language: the double-quoted words in grammar/wan.pest
/// (`"uplink"`, `"via"`, …). Punctuation literals (`"{"`, `"&&"`, `"\\"`) are
/// not words; the unit suffixes of the `duration` rule (`"ms"`, `"s"`, …) are
/// part of a literal like `10s`, not words of their own.
fn grammar_keywords() -> BTreeSet<String> {
    let grammar = std::fs::read_to_string(root().join("grammar/wan.pest")).expect("grammar/wan.pest");
    let mut rule = "";
    let mut words = BTreeSet::new();
    for line in grammar.lines() {
        let code = line.split("//").next().unwrap_or("");
        // A rule starts at the left margin: `name = { … }`.
        if !code.starts_with(char::is_whitespace) {
            if let Some((name, _)) = code.split_once('=') {
                rule = name.trim();
            }
        }
        let mut rest = code;
        while let Some(start) = rest.find('"') {
            let Some((literal, after)) = json_string(&rest[start..]) else { break };
            if rule != "duration" && !literal.is_empty() && literal.chars().all(|c| c.is_ascii_alphabetic()) {
                words.insert(literal);
            }
            rest = after;
        }
    }
    words
}

/// A realistic site using every keyword in a keyword position. No name in it
/// is spelled like a keyword, and `tcp`/`http` only appear as check kinds
/// (after `proto` or `port` they are a protocol and a service).
const KEYWORD_SITE: &str = r#"site "coverage"
import "common.wan"
const limit = 10s
host mail = 192.0.2.25
plugin probe "plugins/probe.wasm"

lan inside {
    interface em1
    network 192.168.1.0/24
}

uplink ext1 {
    interface em0
    address 192.0.2.10
    address auto ipv6
    gateway 192.0.2.1
    nat to 192.0.2.10
    weight 2
    table 100
    check ping 192.0.2.1 { every 10s timeout 1s loss < 20% }
    check tcp 192.0.2.1:443
    check http "https://probe.example.net/ok"
    check dns 192.0.2.53
    check plugin probe { every 30s }
    healthy when all
    on up { run "/etc/wan/up" }
    on down { flush states; notify "ext1 down" }
}

uplink ext2 {
    interface em2
    gateway dev
    healthy when any
}

policy {
    default via balance(ext1, ext2)
    route from inside proto udp to port domain via multipath(ext1, ext2)
    route proto udp port 5060 to 198.51.100.0/24 via ext2
    forward udp port domain on ext1 to mail port 53
    serve udp port domain on mail via ext1 stateless
}

state both when ext1 && ext2
state some when count(ext1, ext2) >= 1 {
    on enter { notify "degraded" }
    on exit { notify "recovered" }
}
state none default
"#;

/// Every whole word of `source` outside strings and comments, with its
/// 1-based line and byte column.
fn code_words(source: &str) -> Vec<(String, usize, usize)> {
    let mut words = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let bytes = line.as_bytes();
        let (mut i, mut in_string) = (0, false);
        while i < bytes.len() {
            let b = bytes[i];
            if in_string {
                match b {
                    b'\\' => i += 1,
                    b'"' => in_string = false,
                    _ => {}
                }
                i += 1;
            } else if b == b'"' {
                in_string = true;
                i += 1;
            } else if b == b'#' {
                break;
            } else if b.is_ascii_alphanumeric() || b == b'_' {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'-') {
                    i += 1;
                }
                words.push((line[start..i].to_owned(), n + 1, start + 1));
            } else {
                i += 1;
            }
        }
    }
    words
}

/// Asserts that every occurrence of each word in `words` is highlighted as
/// `is_keyword` says, by each engine available.
fn check_words_in(name: &str, source: &str, words: &BTreeSet<String>, tm: fn(&str) -> bool, vim: fn(&Token) -> bool) {
    let path = scratch(name);
    std::fs::write(&path, source).expect("scratch file written");
    let file = relative(&path);
    let found = code_words(source);
    let missing: Vec<&String> = words.iter().filter(|w| !found.iter().any(|(f, _, _)| f == *w)).collect();
    assert!(missing.is_empty(), "{name} lacks {missing:?}: add them in a realistic position");

    let mut failures = Vec::new();
    let mut engines = 0;
    if node_available() {
        engines += 1;
        let h = textmate(std::slice::from_ref(&path));
        for (word, line, col) in found.iter().filter(|(w, _, _)| words.contains(w)) {
            let scope = h.scope(&file, *line, *col);
            if !tm(scope) {
                failures.push(format!("TextMate: {word:?} at {line}:{col} is {scope:?}"));
            }
        }
    }
    if vim_available() {
        engines += 1;
        let h = vim_syntax(std::slice::from_ref(&path));
        for (word, line, col) in found.iter().filter(|(w, _, _)| words.contains(w)) {
            match h.at(&file, *line, *col) {
                Some(t) if vim(t) => {}
                t => failures.push(format!("Vim: {word:?} at {line}:{col} is {:?}", t.map(|t| (&t.scope, &t.link)))),
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    if engines == 0 {
        return;
    }
    assert!(failures.is_empty(), "in {name}:\n{}\n--- source ---\n{source}", failures.join("\n"));
}

#[test]
fn every_grammar_keyword_is_highlighted_by_both_editors() {
    let keywords = grammar_keywords();
    // Guard the extraction itself: an empty set would pass vacuously.
    for sure in ["site", "uplink", "via", "stateless", "when", "count", "dev"] {
        assert!(keywords.contains(sure), "grammar_keywords() missed {sure:?}: {keywords:?}");
    }
    assert!(!keywords.contains("ms") && !keywords.contains("s"), "unit suffixes taken for keywords");
    // "Realistic position" means the parser accepts it: no syntax error.
    let site = scratch("parse-keywords.wan");
    std::fs::write(&site, KEYWORD_SITE).expect("scratch file written");
    let report = Command::new(common::WANC).args(["check", "--format", "short"]).arg(&site).output().expect("wanc runs");
    let _ = std::fs::remove_file(&site);
    let report = String::from_utf8_lossy(&report.stdout);
    assert!(!report.contains("[E0001]"), "KEYWORD_SITE does not parse:\n{report}");
    check_words_in(
        "keywords.wan",
        KEYWORD_SITE,
        &keywords,
        |scope| scope.starts_with("keyword."),
        // Keyword groups are named wan…Keyword (see syntax/wan.vim) and
        // must be linked to some highlight.
        |t| t.scope.ends_with("Keyword") && !t.link.is_empty(),
    );
}

/// The service names wanc accepts for ports, read from src/check/services.rs.
fn service_names() -> BTreeSet<String> {
    let source = std::fs::read_to_string(root().join("src/check/services.rs")).expect("services.rs");
    let names: BTreeSet<String> =
        source.lines().filter_map(|l| l.trim().strip_prefix("(\"")?.split_once('"').map(|(n, _)| n.to_owned())).collect();
    assert!(names.contains("https") && names.len() > 10, "could not read the services: {names:?}");
    names
}

#[test]
fn every_service_name_is_highlighted_by_both_editors() {
    let services = service_names();
    let mut site = String::from("policy {\n");
    for s in &services {
        site.push_str(&format!("    forward tcp port {s} on ext1 to www\n"));
    }
    site.push_str(&format!(
        "    forward tcp port {{ {} }} on ext1 to www\n}}\n",
        Vec::from_iter(services.iter().cloned()).join(", ")
    ));
    check_words_in(
        "services.wan",
        &site,
        &services,
        |scope| scope == "support.constant.service.wan",
        |t| t.scope == "wanService",
    );
}

// ---------------------------------------------------------------- diagnostics

/// `wanc check --format short` lines (src/render/short.rs), including a
/// note, an absolute path, colons in the message, and wanc's own error line.
const SHORT_LINES: &str = "\
tests/ui/escape-unknown.wan:5:27: error[E0003]: unknown escape `\\t`
examples/dual-isp-failover.wan:7:17: warning[W0401]: `multipath` over one uplink
/srv/wan/site.wan:12:1: note[E0102]: first defined here: see `a: b`
error: cannot read `nonexist.wan`: no such file or directory (os error 2)
";

/// A quickfix entry as the Vim driver writes it.
#[derive(Debug, PartialEq)]
struct Entry {
    file: String,
    lnum: i64,
    col: i64,
    kind: String,
    nr: i64,
    text: String,
    valid: i64,
}

fn entry(file: &str, lnum: i64, col: i64, kind: &str, nr: i64, text: &str) -> Entry {
    Entry { file: file.into(), lnum, col, kind: kind.into(), nr, text: text.into(), valid: 1 }
}

/// Runs the quickfix driver; returns the ftplugin's options line and entries.
fn quickfix(vars: &[(&str, &Path)], file: &str, path: Option<&OsStr>) -> (String, Vec<Entry>) {
    let mut lines = vim("quickfix.vim", vars, &[file.to_owned()], path).into_iter();
    let options = lines.next().expect("options line");
    let entries = lines
        .map(|l| Entry {
            file: text(&l, "file").unwrap_or_default(),
            lnum: num(&l, "lnum").expect("lnum"),
            col: num(&l, "col").expect("col"),
            kind: text(&l, "type").unwrap_or_default(),
            nr: num(&l, "nr").expect("nr"),
            text: text(&l, "text").unwrap_or_default(),
            valid: num(&l, "valid").expect("valid"),
        })
        .collect();
    (options, entries)
}

#[test]
fn vim_errorformat_reads_short_diagnostics() {
    if !vim_available() {
        return;
    }
    let input = scratch("short.txt");
    std::fs::write(&input, SHORT_LINES).expect("input written");
    let (options, entries) = quickfix(&[("input", &input)], DUAL, None);
    let _ = std::fs::remove_file(&input);

    assert_eq!(text(&options, "filetype").as_deref(), Some("wan"));
    assert_eq!(text(&options, "makeprg").as_deref(), Some("wanc check --format short %"));
    assert_eq!(text(&options, "commentstring").as_deref(), Some("# %s"));
    assert_eq!(text(&options, "comments").as_deref(), Some(":#"));
    assert_eq!(
        entries,
        vec![
            entry("tests/ui/escape-unknown.wan", 5, 27, "e", 3, "unknown escape `\\t`"),
            entry(DUAL, 7, 17, "w", 401, "`multipath` over one uplink"),
            entry("/srv/wan/site.wan", 12, 1, "n", 102, "first defined here: see `a: b`"),
            // Not a diagnostic line: kept as text, not lost.
            Entry { valid: 0, nr: -1, ..entry("", 0, 0, "", -1, SHORT_LINES.lines().nth(3).unwrap()) },
        ]
    );
}

#[test]
fn vim_make_runs_wanc_into_the_quickfix_list() {
    if !vim_available() {
        return;
    }
    // :make runs the ftplugin's makeprg, `wanc …`: put the wanc cargo just
    // built first on the PATH vim hands to its shell.
    let bin = Path::new(common::WANC).parent().expect("bin dir").to_path_buf();
    let path =
        std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())))
            .expect("PATH");
    let file = "tests/ui/escape-unknown.wan";
    let (_, entries) = quickfix(&[], file, Some(&path));
    assert_eq!(
        entries,
        vec![entry(file, 5, 27, "e", 3, "unknown escape `\\t`"), entry(file, 5, 48, "e", 3, "unknown escape `\\q`"),]
    );
}

#[test]
fn vscode_problem_matcher_reads_short_diagnostics() {
    if !node_available() {
        return;
    }
    let mut child = Command::new("node")
        .arg("editors/vscode/test/problems.js")
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    child.stdin.take().expect("stdin").write_all(SHORT_LINES.as_bytes()).expect("lines written");
    let out = child.wait_with_output().expect("node finishes");
    assert!(out.status.success(), "problems.js failed");
    let out = String::from_utf8(out.stdout).expect("utf-8");
    // One line per input line: what VS Code would take from it.
    let got: Vec<String> = out
        .lines()
        .map(|l| match text(l, "file") {
            None => "no match".to_owned(),
            Some(file) => format!(
                "{file} {}:{} {} {} {}",
                num(l, "line").expect("line"),
                num(l, "column").expect("column"),
                text(l, "severity").expect("severity"),
                text(l, "code").expect("code"),
                text(l, "message").expect("message"),
            ),
        })
        .collect();
    assert_eq!(
        got,
        [
            "tests/ui/escape-unknown.wan 5:27 error E0003 unknown escape `\\t`",
            "examples/dual-isp-failover.wan 7:17 warning W0401 `multipath` over one uplink",
            "/srv/wan/site.wan 12:1 note E0102 first defined here: see `a: b`",
            "no match",
        ],
        "problem matcher output:\n{out}"
    );
}

/// The extension's code starts `wanc lsp` (or the binary `wan.server.path`
/// names) for `wan` files: its activate(), run with VS Code and
/// vscode-languageclient stood in for (editors/vscode/test/client.js).
#[test]
fn vscode_extension_starts_the_language_server() {
    if !node_available() {
        return;
    }
    let client = |server_path: Option<&str>| {
        let mut cmd = Command::new("node");
        cmd.arg("editors/vscode/test/client.js").env_remove("WAN_SERVER_PATH");
        if let Some(path) = server_path {
            cmd.env("WAN_SERVER_PATH", path);
        }
        run(&mut cmd, "node client.js")
    };
    let made = client(None);
    assert_eq!(made.lines().count(), 1, "one language client: {made}");
    assert_eq!(text(&made, "command").as_deref(), Some("wanc"), "{made}");
    assert_eq!(texts(&made, "args"), ["lsp"], "{made}");
    assert_eq!(text(&made, "language").as_deref(), Some("wan"), "{made}");
    assert!(made.contains("\"started\":true"), "{made}");
    assert_eq!(text(&client(Some("/opt/wanc/bin/wanc")), "command").as_deref(), Some("/opt/wanc/bin/wanc"));
}
