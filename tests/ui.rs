//! The checker's diagnostics, one `.wan` file per case under `tests/ui/`,
//! each with a snapshot of the report wanc prints (source in the snapshot).
//! Plugin fixtures are compiled from `.wat` text here, so the `.wasm` files
//! the cases load are made from source on every run.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use wanc::codes::Code;
use wanc::driver;
use wanc::render;

fn report(path: &Path) -> (String, Vec<Code>) {
    let source = std::fs::read_to_string(path).expect("readable case");
    // Relative names keep the snapshots independent of the checkout's
    // place; cargo runs tests from the crate root, where they resolve.
    let name = format!("tests/ui/{}", path.file_name().and_then(|n| n.to_str()).unwrap_or(""));
    let c = driver::compile_source(&name, &source);
    let codes = c.diagnostics.iter().map(|d| d.code).collect();
    let text = format!("{}\n{}", render::short(&c.diagnostics, &c.sources), render::human(&c.diagnostics, &c.sources, false));
    (text, codes)
}

#[test]
fn ui_cases() {
    common::build_plugin_fixtures();
    let mut covered = BTreeSet::new();
    let mut cases = 0;
    insta::glob!("ui/*.wan", |path| {
        cases += 1;
        let (text, codes) = report(path);
        assert!(!codes.is_empty(), "{}: a ui case must produce a diagnostic", path.display());
        covered.extend(codes);
        let source = std::fs::read_to_string(path).expect("readable case");
        insta::with_settings!({ description => source, omit_expression => true }, {
            insta::assert_snapshot!(text);
        });
    });
    assert!(cases >= 40, "only {cases} ui cases");
    let missing: Vec<&str> = Code::ALL.iter().filter(|c| !covered.contains(c)).map(|c| c.as_str()).collect();
    assert!(missing.is_empty(), "codes without a ui case: {missing:?}");
}

#[test]
fn every_code_is_documented() {
    for code in Code::ALL {
        assert!(!code.title().is_empty(), "{code} has no title");
        assert!(code.doc().len() > 80, "{code} has no real documentation");
        assert_eq!(Code::parse(code.as_str()), Some(*code));
        let lowercase_start = code.title().chars().next().is_some_and(|c| c.is_lowercase());
        assert!(lowercase_start, "{code}: titles start in lowercase");
    }
}
