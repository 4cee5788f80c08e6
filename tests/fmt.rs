//! `wanc fmt` over every example, every ui case that parses and random
//! sites: the layout is idempotent, keeps every comment in order, and
//! never changes the checked model (or, for a case with errors, the codes
//! of its diagnostics). Snapshots of every example formatted, and of
//! `tests/fmt/ugly.wan`, a file with every layout and comments everywhere.

mod random_sites;

use std::path::Path;
use wanc::driver::compile_source;
use wanc::format::format;

/// The comments of a source, in order, each without trailing blanks. A
/// `#` in a string is not one (the syntax's own rule, `comment_start`).
fn comments(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|line| line.get(wanc::syntax::comment_start(line)..).filter(|c| !c.is_empty()))
        .map(str::trim_end)
        .collect()
}

/// What a compilation decided: the model as JSON without what only the
/// layout changes (rule lines; blanks in the texts of rules and
/// conditions), or, with errors, the codes of the diagnostics.
fn meaning(name: &str, text: &str) -> String {
    let c = compile_source(name, text);
    match c.site() {
        Some(site) => {
            let mut json = serde_json::to_value(site).expect("the model serialises");
            strip_layout(&mut json);
            json.to_string()
        }
        None => c.diagnostics.iter().map(|d| d.code.as_str()).collect::<Vec<_>>().join(" "),
    }
}

fn strip_layout(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::Object(map) => {
            map.remove("line");
            for (key, value) in map.iter_mut() {
                match value {
                    serde_json::Value::String(s) if key == "text" || key == "when_text" => s.retain(|c| !c.is_whitespace()),
                    _ => strip_layout(value),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_layout),
        _ => {}
    }
}

#[derive(Default)]
struct Tally {
    cases: usize,
    idempotent: usize,
    same_model: usize,
    comments_kept: usize,
    failures: Vec<String>,
}

impl Tally {
    /// Formats `text` (read as `name`) and holds the result to the three
    /// properties; `false` if it does not parse.
    fn case(&mut self, name: &str, text: &str) -> bool {
        let Ok(once) = format(text) else { return false };
        self.cases += 1;
        match format(&once) {
            Ok(twice) if twice == once => self.idempotent += 1,
            Ok(twice) => self.failures.push(format!("{name}: not idempotent:\n--- once\n{once}\n--- twice\n{twice}")),
            Err(_) => self.failures.push(format!("{name}: the formatted text does not parse:\n{once}")),
        }
        if meaning(name, text) == meaning(name, &once) {
            self.same_model += 1;
        } else {
            self.failures.push(format!("{name}: the meaning changed:\n{once}"));
        }
        if comments(text) == comments(&once) {
            self.comments_kept += 1;
        } else {
            self.failures.push(format!("{name}: comments lost or moved out of order:\n{once}"));
        }
        true
    }
}

fn wan_files(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
        .expect("readable folder")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wan"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = format!("{dir}/{}", p.file_name().and_then(|n| n.to_str()).unwrap_or(""));
            (name, std::fs::read_to_string(&p).expect("readable source"))
        })
        .collect()
}

#[test]
fn idempotent_same_model_comments_kept() {
    let mut tally = Tally::default();
    let examples = wan_files("examples");
    for (name, text) in &examples {
        assert!(tally.case(name, text), "{name} does not parse");
    }
    let mut ui = 0;
    let mut refused = Vec::new();
    for (name, text) in wan_files("tests/ui") {
        if tally.case(&name, &text) {
            ui += 1;
        } else {
            refused.push(name);
        }
    }
    // Only the cases of syntax errors are refused.
    for name in &refused {
        let c = compile_source(name, &std::fs::read_to_string(name).expect("readable case"));
        assert!(c.diagnostics.iter().any(|d| d.code == wanc::codes::Code::Syntax), "{name} refused without a syntax error");
    }
    let (random, seed) = random_sites::run(30);
    let mut rng = random_sites::Rng(seed);
    for n in 0..random {
        let text = random_sites::generate(&mut rng, n);
        assert!(tally.case(&format!("random site {n} (seed {seed})"), &text), "seed {seed}, site {n} does not parse:\n{text}");
    }
    let ugly = std::fs::read_to_string("tests/fmt/ugly.wan").expect("readable");
    assert!(tally.case("tests/fmt/ugly.wan", &ugly));
    let n = tally.cases;
    println!(
        "fmt: {} examples, {ui} ui cases ({} refused: syntax errors), {random} random (seed {seed}), 1 ugly: \
         idempotent {}/{n}, same model {}/{n}, comments kept {}/{n}",
        examples.len(),
        refused.len(),
        tally.idempotent,
        tally.same_model,
        tally.comments_kept
    );
    assert!(tally.failures.is_empty(), "{}", tally.failures.join("\n\n"));
    assert!(ui >= 60, "only {ui} ui cases parse");
}

#[test]
fn examples_formatted() {
    insta::glob!("../examples", "*.wan", |path| {
        let source = std::fs::read_to_string(path).expect("readable example");
        let formatted = format(&source).expect("an example parses");
        // The examples are written in the layout they teach.
        assert_eq!(formatted, source, "{} is not in the canonical layout: run `wanc fmt` on it", path.display());
        insta::with_settings!({ description => source, omit_expression => true }, {
            insta::assert_snapshot!(formatted);
        });
    });
}

#[test]
fn ugly_file_formatted() {
    let source = std::fs::read_to_string("tests/fmt/ugly.wan").expect("readable");
    let formatted = format(&source).expect("it parses");
    insta::with_settings!({ description => source, omit_expression => true }, {
        insta::assert_snapshot!(formatted);
    });
}

#[test]
fn a_file_that_does_not_parse_is_refused_with_its_errors() {
    let diagnostics = format("site \"x\"\nlan a {\n    interfce em0\n}\n").expect_err("refused");
    let codes: Vec<_> = diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0001"]);
}
