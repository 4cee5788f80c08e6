//! The Linux scripts of every example, pinned in snapshots with the source
//! as description: `linux/setup.sh`, every `linux/state-*.sh` and
//! `linux/teardown.sh`, as `wanc build` writes them. No root needed: this
//! reads the text; tests/linux.rs runs the scripts in namespaces.

use std::collections::BTreeMap;
use wanc::driver;

/// The `linux/` outputs of a clean example, by path.
fn linux_scripts(name: &str, source: &str) -> BTreeMap<String, String> {
    let c = driver::compile_source_for(name, source, &[wanc::lower::Target::Linux]);
    let report = wanc::render::short(&c.diagnostics, &c.sources);
    let plan = c.plan.unwrap_or_else(|| panic!("{name} has errors:\n{report}"));
    wanc::backend::all(&plan, &[wanc::lower::Target::Linux])
        .expect("the examples fit Linux")
        .into_iter()
        .filter(|f| f.path.starts_with("linux"))
        .map(|f| (f.path.display().to_string(), String::from_utf8(f.contents).expect("text")))
        .collect()
}

/// Files one after the other, each under a `==> path <==` line.
fn concatenated<'a>(files: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    files.map(|(path, text)| format!("==> {path} <==\n{text}\n")).collect()
}

#[test]
fn examples_snapshot_linux_scripts() {
    let mut count = 0;
    insta::glob!("../examples", "*.wan", |path| {
        count += 1;
        let name = path.file_name().and_then(|n| n.to_str()).expect("file name");
        // Named relative to the crate so that the headers do not depend on
        // where the checkout lives.
        let relative = format!("examples/{name}");
        let source = std::fs::read_to_string(path).expect("example readable");
        let scripts = linux_scripts(&relative, &source);
        let states: Vec<_> = scripts.iter().filter(|(p, _)| p.starts_with("linux/state-")).collect();
        assert!(!states.is_empty(), "{name}: no state scripts");
        assert_eq!(scripts.len(), states.len() + 2, "{name}: {:?}", scripts.keys());
        insta::with_settings!({ description => source, omit_expression => true }, {
            insta::assert_snapshot!("setup", scripts["linux/setup.sh"]);
            insta::assert_snapshot!("states", concatenated(states.into_iter()));
            insta::assert_snapshot!("teardown", scripts["linux/teardown.sh"]);
        });
    });
    assert!(count >= 5, "examples went missing: {count}");
}
