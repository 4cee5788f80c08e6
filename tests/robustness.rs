//! No input makes wanc panic: random text, and the examples and ui cases
//! mutated byte by byte, all go through the whole pipeline (bounded: a few
//! hundred cases per run; `tests/fuzz/` runs the same for as long as wanted).

use proptest::prelude::*;
use wanc::driver::compile_source;

fn corpus() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["examples", "tests/ui"] {
        for entry in std::fs::read_dir(dir).expect("corpus dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "wan") {
                out.push(std::fs::read_to_string(&path).expect("readable"));
            }
        }
    }
    out
}

/// Characters that matter to the grammar, so random text reaches deep rules.
const ALPHABET: &str = "{}();,:./%\"\\#!&|<>=-_ \t\n0123456789abcdefxyz";

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        let _ = compile_source("random.wan", &s);
    }

    #[test]
    fn grammar_alphabet_never_panics(idx in proptest::collection::vec(0..ALPHABET.len(), 0..300)) {
        let s: String = idx.iter().map(|&i| ALPHABET.as_bytes()[i] as char).collect();
        let _ = compile_source("alphabet.wan", &s);
    }

    #[test]
    fn mutated_sources_never_panic(pick in any::<usize>(), edits in proptest::collection::vec((any::<usize>(), 0..ALPHABET.len(), 0..3u8), 1..8)) {
        let corpus = corpus();
        let mut bytes = corpus[pick % corpus.len()].clone().into_bytes();
        for (pos, ch, op) in edits {
            let pos = if bytes.is_empty() { 0 } else { pos % bytes.len() };
            let c = ALPHABET.as_bytes()[ch];
            match op {
                0 if !bytes.is_empty() => { bytes.remove(pos); }
                1 => bytes.insert(pos, c),
                _ if !bytes.is_empty() => bytes[pos] = c,
                _ => {}
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let _ = compile_source("tests/ui/mutated.wan", &text);
    }
}

#[test]
fn deep_braces_stay_linear_and_bounded() {
    for n in [3_000, 50_000] {
        let text = format!(
            "const x = {open}1{close}\npolicy {{ route from {open}10.0.0.0/8{close} via a }}\nuplnk {open}\n",
            open = "{".repeat(n),
            close = "}".repeat(n)
        );
        assert!(compile_source("braces.wan", &text).has_errors());
    }
}

#[test]
fn deep_conditions_are_refused_with_a_diagnostic() {
    for n in [3_000, 100_000] {
        let text = format!("state s when {}isp1{}\nstate t when {}isp1\n", "(".repeat(n), ")".repeat(n), "!".repeat(n));
        assert!(compile_source("deep.wan", &text).has_errors());
    }
}
