//! The dependency rule between the crate's top-level modules: a module may
//! use only modules of lower layers (docs/architecture.md). Every
//! `src/**/*.rs` is read; its references to other top-level modules
//! (`use crate::x…`, `crate::x::` paths, grouped `use crate::{a, b::c}`,
//! and `super::` paths that climb out of their module) are collected, and
//! the test fails naming file and line for each reference to the same or a
//! higher layer, and for each cycle in the module graph, which it prints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom to top. Modules that do not exist yet sit here too, so that the
/// table is the one the code is heading for.
const LAYERS: &[&[&str]] = &[
    &["source", "codes", "duration", "output", "input", "bdd"],
    &["diagnostic", "ir"],
    &["validate", "ast", "render", "decide"],
    &["syntax", "plugin"],
    &["check", "format", "symbols"],
    &["lower", "inspect", "bytecode"],
    &["driver", "backend", "netlink", "graph", "simulate"],
    &["agent", "lsp"],
    &["cli"],
];

/// The front end, which turns source into the model, and what reads only
/// the model: the model's readers never reach back into the front end (a
/// back end that needs a fact of the source gets it through the IR), even
/// where the layers alone would let them.
const FRONT_END: &[&str] = &["ast", "syntax", "check", "format", "driver"];
const MODEL_READERS: &[&str] = &["lower", "inspect", "bytecode", "backend", "netlink", "graph", "decide", "simulate", "agent"];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// One reference from a file to a top-level module.
#[derive(Debug)]
struct Reference {
    file: String,
    line: usize,
    from: String,
    to: String,
}

#[test]
fn modules_use_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = top_level_modules(&src);
    let mut references = Vec::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).expect("under src").to_path_buf();
        // The crate root declares the modules; main.rs is the binary, above
        // everything, and reaches the library as `wanc::`.
        let Some(path) = module_path(&relative) else { continue };
        let text = std::fs::read_to_string(&file).expect("readable source");
        let name = format!("src/{}", relative.display());
        references.extend(references_in(&name, &path, &text, &modules));
    }
    assert!(references.len() > 50, "the scanner found almost nothing: {references:?}");

    let mut problems = Vec::new();
    for m in &modules {
        if layer(m).is_none() {
            problems.push(format!("src/{m}: the module has no layer; add it to LAYERS in tests/layers.rs"));
        }
    }
    let mut allowed = Vec::new();
    for r in &references {
        let (Some(from), Some(to)) = (layer(&r.from), layer(&r.to)) else { continue };
        if MODEL_READERS.contains(&r.from.as_str()) && FRONT_END.contains(&r.to.as_str()) {
            problems
                .push(format!("{}:{}: `{}` reads the model only, but uses `{}` of the front end", r.file, r.line, r.from, r.to));
            continue;
        }
        if to < from {
            allowed.push(r);
            continue;
        }
        let what = if to == from { "the same layer" } else { "a higher layer" };
        let line = format!("{}:{}: `{}` (layer {from}) uses `{}` ({what}, layer {to})", r.file, r.line, r.from, r.to);
        problems.push(line);
        allowed.push(r);
    }

    // Cycles, also through references that break the layers; every edge
    // shows in the graph.
    problems.extend(cycles(&graph(&modules, &allowed)).into_iter().map(|c| format!("cycle: {}", c.join(" -> "))));
    let everything: Vec<&Reference> = references.iter().collect();
    assert!(
        problems.is_empty(),
        "{}\n\nthe module graph (layer: module -> what it uses):\n{}",
        problems.join("\n"),
        show(&graph(&modules, &everything))
    );
}

/// The top-level modules: `src/x.rs` and `src/x/`, but not the crate roots.
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .expect("src exists")
        .map(|e| e.expect("readable entry").path())
        .filter_map(|p| {
            let name = if p.is_dir() { p.file_name()? } else { p.extension().filter(|e| *e == "rs").and(p.file_stem())? };
            Some(name.to_str()?.to_string())
        })
        .filter(|m| m != "lib" && m != "main")
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable dir") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The module path of a file under src: `check/mod.rs` is `[check]`,
/// `check/names.rs` is `[check, names]`; `None` for the crate roots.
fn module_path(relative: &Path) -> Option<Vec<String>> {
    let mut path: Vec<String> = relative.with_extension("").iter().map(|s| s.to_string_lossy().into_owned()).collect();
    if path.last().is_some_and(|l| l == "mod") {
        path.pop();
    }
    match path.as_slice() {
        [root] if root == "lib" || root == "main" => None,
        _ => Some(path),
    }
}

/// The references to other top-level modules in one file, whose module
/// path is `path`.
fn references_in(file: &str, path: &[String], text: &str, modules: &BTreeSet<String>) -> Vec<Reference> {
    let code = code_only(text);
    let bytes = code.as_bytes();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut add = |at: usize, to: &str| {
        if modules.contains(to) && to != path[0] {
            out.push(Reference { file: file.to_string(), line: line_of(at), from: path[0].clone(), to: to.to_string() });
        }
    };
    // Inline modules (`mod tests { … }`) deepen the path for `super::`.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'{' {
            depth += 1;
        } else if c == b'}' {
            depth -= 1;
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
        }
        let at_word = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b'$';
        if !at_word {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        if let Some(after) = rest.strip_prefix("mod ") {
            let name: String = after.trim_start().chars().take_while(|c| is_ident(*c as u8)).collect();
            let tail = after.trim_start()[name.len()..].trim_start();
            if tail.starts_with('{') {
                inline.push((name, depth));
            }
        } else if let Some(after) = rest.strip_prefix("crate::") {
            for first in first_segments(after) {
                add(i, &first);
            }
        } else if rest.starts_with("super::") {
            let mut here: Vec<String> = path.iter().cloned().chain(inline.iter().map(|(n, _)| n.clone())).collect();
            let mut after = rest;
            while let Some(next) = after.strip_prefix("super::") {
                here.pop();
                after = next.trim_start();
            }
            // Only a path that climbs to the crate root leaves its module.
            if here.is_empty() {
                for first in first_segments(after) {
                    add(i, &first);
                }
            }
            i += rest.len() - after.len();
            continue;
        }
        i += 1;
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The first segment of the path that starts `text` (after `crate::`), or
/// of each path in a group: `ir::Site` gives `ir`, `{a, b::{c}}` gives
/// `a` and `b`.
fn first_segments(text: &str) -> Vec<String> {
    let ident = |s: &str| s.trim_start().bytes().take_while(|c| is_ident(*c)).map(char::from).collect::<String>();
    let Some(group) = text.trim_start().strip_prefix('{') else { return vec![ident(text)] };
    let mut items = vec![String::new()];
    let mut depth = 0;
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(String::new());
                continue;
            }
            _ => {}
        }
        items.last_mut().expect("an item").push(c);
    }
    items.iter().map(|item| ident(item)).filter(|s| !s.is_empty()).collect()
}

/// The source with comments and the contents of string and character
/// literals blanked out (newlines kept), so that `crate::` in a doc
/// comment or a message is not a reference.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let blank = |out: &mut Vec<u8>, c: u8| out.push(if c == b'\n' { b'\n' } else { b' ' });
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        let prev_ident = i > 0 && is_ident(b[i - 1]);
        if rest.starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if !prev_ident && (rest.starts_with(b"r\"") || rest.starts_with(b"r#") || rest.starts_with(b"br")) {
            // A raw string: r"…", r#"…"#, br#"…"#.
            let start = if rest[0] == b'b' { 2 } else { 1 };
            let hashes = rest[start..].iter().take_while(|c| **c == b'#').count();
            if rest.get(start + hashes) != Some(&b'"') {
                out.push(b[i]);
                i += 1;
                continue;
            }
            let end: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            let open = start + hashes + 1;
            let close =
                rest[open..].windows(end.len()).position(|w| w == end.as_slice()).map_or(rest.len(), |p| open + p + end.len());
            for &c in &rest[..close] {
                blank(&mut out, c);
            }
            i += close;
        } else if b[i] == b'"' {
            blank(&mut out, b[i]);
            i += 1;
            while i < b.len() && b[i] != b'"' {
                let step = if b[i] == b'\\' { 2 } else { 1 };
                for &c in &b[i..(i + step).min(b.len())] {
                    blank(&mut out, c);
                }
                i += step;
            }
            if i < b.len() {
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if b[i] == b'\'' {
            // A character literal ('x', '\n', '\u{1b}'), or a lifetime.
            let len = if rest.get(1) == Some(&b'\\') {
                rest[2..].iter().position(|c| *c == b'\'').map(|p| p + 3)
            } else {
                let ch = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (rest.get(1 + ch) == Some(&b'\'')).then_some(ch + 2)
            };
            let len = len.unwrap_or(1);
            for &c in &rest[..len] {
                blank(&mut out, c);
            }
            i += len;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("only ASCII blanks replaced whole literals")
}

type Graph = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// Per module, the modules it uses, each with where (file:line).
fn graph(modules: &BTreeSet<String>, references: &[&Reference]) -> Graph {
    let mut g: Graph = modules.iter().map(|m| (m.clone(), BTreeMap::new())).collect();
    for r in references {
        g.entry(r.from.clone()).or_default().entry(r.to.clone()).or_default().push(format!("{}:{}", r.file, r.line));
    }
    g
}

/// Each cycle once, as the modules around it, first one repeated at the end.
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    fn visit(g: &Graph, m: &str, stack: &mut Vec<String>, done: &mut BTreeSet<String>, found: &mut Vec<Vec<String>>) {
        if let Some(at) = stack.iter().position(|s| s == m) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(m.to_string());
            found.push(cycle);
            return;
        }
        if done.contains(m) {
            return;
        }
        stack.push(m.to_string());
        for next in g.get(m).into_iter().flat_map(|uses| uses.keys()) {
            visit(g, next, stack, done, found);
        }
        stack.pop();
        done.insert(m.to_string());
    }
    let (mut done, mut found) = (BTreeSet::new(), Vec::new());
    for m in g.keys() {
        visit(g, m, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

fn show(g: &Graph) -> String {
    let mut lines: Vec<(Option<usize>, String)> = g
        .iter()
        .map(|(m, uses)| {
            let layer_of = |m: &str| layer(m).map_or("?".into(), |l| l.to_string());
            let uses: Vec<String> = uses.iter().map(|(to, at)| format!("{to} ({}, first at {})", layer_of(to), at[0])).collect();
            (layer(m), format!("{}: {m} -> {}", layer_of(m), uses.join(", ")))
        })
        .collect();
    lines.sort();
    lines.into_iter().map(|(_, l)| l).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod scanner {
    use super::*;

    fn refs(path: &[&str], text: &str) -> Vec<(usize, String)> {
        let modules = ["ir", "ast", "check", "cli", "source"].iter().map(|s| s.to_string()).collect();
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        references_in("f.rs", &path, text, &modules).into_iter().map(|r| (r.line, r.to)).collect()
    }

    #[test]
    fn finds_uses_paths_groups_and_climbing_supers() {
        let text = "use crate::ir::Site;\nfn f() { crate::ast::parse(); }\nuse crate::{source, check::{a, b}};\n";
        assert_eq!(refs(&["syntax"], text), [(1, "ir".into()), (2, "ast".into()), (3, "source".into()), (3, "check".into())]);
        assert_eq!(refs(&["syntax"], "use super::ir;\n"), [(1, "ir".to_string())]);
        assert_eq!(refs(&["syntax", "tree"], "use super::ir;\n"), []);
        assert_eq!(refs(&["syntax", "tree"], "use super::super::ir;\n"), [(1, "ir".to_string())]);
        assert_eq!(refs(&["syntax", "tree"], "mod tests {\n use super::super::ir;\n}\n"), []);
    }

    #[test]
    fn ignores_comments_strings_and_own_module() {
        let text = "// crate::ir\n/// use crate::ast;\nlet s = \"crate::cli\"; let r = r#\"crate::cli\"#;\nlet c = '\"'; use crate::check::x;\n";
        assert_eq!(refs(&["check", "symbols"], text), []);
        assert_eq!(refs(&["syntax"], "let c = '\"'; use crate::check::x;\n"), [(1, "check".to_string())]);
        assert_eq!(refs(&["syntax"], "fn f<'a>(x: &'a str) { crate::ir::f() }\n"), [(1, "ir".to_string())]);
    }
}
