//! The example sites compile with no errors and no warnings, and what
//! `wanc inspect` shows for each is pinned in a snapshot (source included).

use wanc::driver;

#[test]
fn examples_compile_cleanly_and_inspect() {
    let mut count = 0;
    insta::glob!("../examples", "*.wan", |path| {
        count += 1;
        let c = driver::compile_file(path).expect("example readable");
        let report = wanc::render::short(&c.diagnostics, &c.sources);
        assert!(c.diagnostics.is_empty(), "{} has diagnostics:\n{report}", path.display());
        let site = c.site().expect("a clean compilation has a model");
        let source = std::fs::read_to_string(path).expect("example readable");
        insta::with_settings!({ description => source, omit_expression => true }, {
            insta::assert_snapshot!(wanc::inspect::inspect(site));
        });
    });
    assert!(count >= 5, "examples went missing: {count}");
}
