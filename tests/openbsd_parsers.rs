//! Every pf file and ifstated.conf that wanc builds for OpenBSD goes through
//! OpenBSD's own parsers (`pfctl -n`, `ifstated -n`, built from
//! OpenBSD-current, in `../shared/tools/openbsd/`): for every example, every
//! valid ui case, the random sites of the differential generator, and the
//! large sites of `benches/openbsd_sites.rs`. The
//! files are installed where they belong, under /etc/wanc, in a private
//! mount namespace (an overlay on /etc, so the host's stays as it is):
//! wanc.conf as pf.conf includes it, after a `block quick` rule and before
//! the user's own rules as docs/deploy-openbsd.md says, and as a ruleset of
//! its own; each state's ruleset as loaded into the anchor `wanc/policy`,
//! and what the agent loads there in each state with every uplink up and
//! with every uplink down; macros.conf as a ruleset; ifstated.conf as
//! /etc/ifstated.conf.
//!
//! `WANC_DIFF_SITES=N` random sites (30 by default), `WANC_DIFF_SEED=S` to
//! replay a run (the seed is printed).

mod common;
#[path = "../benches/openbsd_sites.rs"]
mod openbsd_sites;
mod random_sites;

use common::Need;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use wanc::backend::openbsd::{self, pf};
use wanc::driver;
use wanc::lower::{effective, Target};

fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/openbsd/bin")
}

/// The pf.conf of docs/deploy-openbsd.md around wanc's rules.
const PF_CONF: &str = "set skip on lo
block return in quick on egress proto tcp to port 6000:6010
block in quick on egress proto tcp to (egress) port ssh
include \"/etc/wanc/pf/wanc.conf\"
block return
pass
";

/// ifstated-check declares the interfaces a file names, up to this many
/// (its shim's limit: `e253` of a 256-uplink site is "unknown").
const VALIDATOR_INTERFACES: usize = 250;

/// A site's OpenBSD files: each path (under the site's name) and contents.
type Files = Vec<(String, Vec<u8>)>;

/// One site's OpenBSD files, or why it builds none.
fn build(name: &str, compiled: driver::Compilation) -> Result<Files, String> {
    let report = wanc::render::short(&compiled.diagnostics, &compiled.sources);
    let plan = compiled.plan.ok_or(report)?;
    let site = &plan.site;
    if site.uplinks.len() + site.lans.len() > VALIDATOR_INTERFACES {
        return Err(format!("more than {VALIDATOR_INTERFACES} interfaces, which the validator cannot declare"));
    }
    let mut files: Files =
        openbsd::emit(&plan).into_iter().map(|f| (format!("{name}/{}", f.path.display()), f.contents)).collect();
    // What the agent (`--backend openbsd`) loads into `wanc/policy` in each
    // state, with every uplink up and with every uplink down.
    let ctx = openbsd::Ctx::new(&plan);
    for (s, state) in plan.states.iter().enumerate() {
        for (health, up) in [("up", true), ("down", false)] {
            let live = vec![up; site.uplinks.len()];
            let mut text = pf::include_macros() + "\n";
            for (c, routing) in state.choices.iter().enumerate() {
                let routing = routing.as_ref().map(|r| effective(r, Some(&live)));
                text.push_str(&pf::inline(&pf::choice_name(c), &pf::choice_block(&ctx, c, routing.as_ref())));
            }
            files.push((format!("{name}/agent/{}.{health}.conf", site.states[s].name), text.into_bytes()));
        }
    }
    Ok(files)
}

/// The sh that checks one site's files installed at /etc/wanc: a line
/// `ok PATH` or `refused PATH: MESSAGE` per check.
fn checks(site: &Path, files: &Files) -> String {
    let bin = tools();
    let (pfctl, ifstated) = (bin.join("pfctl-check"), bin.join("ifstated-check"));
    let mut s =
        format!("rm -rf /etc/wanc && cp -R '{}' /etc/wanc && cp /etc/wanc/ifstated.conf /etc/ifstated.conf\n", site.display());
    let mut check = |what: &str, command: String| {
        let _ = writeln!(
            s,
            "if out=$({command} 2>&1); then echo 'ok {what}'; else echo \"refused {what}: $(echo \"$out\" | head -n 3 | tr '\\n' ' ')\"; fi"
        );
    };
    // `egress` is a group only OpenBSD's kernel knows: declared here.
    check(&format!("{}/pf.conf", site.display()), format!("{} -q -G egress=em9 /etc/pf.conf", pfctl.display()));
    for (path, _) in files {
        let file = path.split_once('/').map_or(path.as_str(), |(_, f)| f);
        let installed = format!("/etc/wanc/{file}");
        let what = format!("{}/{file}", site.display());
        if file.starts_with("pf/policy.") || file.starts_with("agent/") {
            check(&what, format!("{} -q -a wanc/policy {installed}", pfctl.display()));
        } else if file.starts_with("pf/") {
            check(&what, format!("{} -q {installed}", pfctl.display()));
        } else if file == "ifstated.conf" {
            check(&what, format!("{} /etc/ifstated.conf", ifstated.display()));
        }
    }
    s
}

#[test]
fn openbsd_parsers_accept_every_file_wanc_builds() {
    let missing = !tools().join("pfctl-check").exists();
    let problems = if missing { vec![format!("no OpenBSD parsers at {}", tools().display())] } else { vec![] };
    if !common::environment(&problems) || !common::require(&[Need::Root, Need::Tool("unshare", "--version", "util-linux")]) {
        return;
    }
    common::build_plugin_fixtures();
    let work = common::tempdir("openbsd-parsers");
    let mut sites: Vec<(String, Files)> = Vec::new();
    let (mut examples, mut ui) = (0, 0);
    for dir in ["examples", "tests/ui"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir).expect(dir).map(|e| e.expect("entry").path()).collect();
        paths.sort();
        for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "wan")) {
            let name = format!("{}-{}", dir.replace('/', "-"), path.file_stem().and_then(|s| s.to_str()).expect("name"));
            let compiled = driver::compile_file_for(path, &[Target::Openbsd]).expect("readable");
            match build(&name, compiled) {
                Ok(files) => {
                    sites.push((name, files));
                    if dir == "examples" {
                        examples += 1
                    } else {
                        ui += 1
                    }
                }
                // Every example builds for OpenBSD; a ui case may have
                // errors, or be too large for the validator.
                Err(report) if dir == "examples" => panic!("{name} does not build for OpenBSD:\n{report}"),
                Err(_) => {}
            }
        }
    }
    // The sites whose output once grew faster than the model (issue 16).
    for (name, source) in [("count24", openbsd_sites::count(24, 12)), ("derived200", openbsd_sites::derived(200))] {
        let files = build(name, driver::compile_source_for(name, &source, &[Target::Openbsd])).expect("builds");
        sites.push((name.to_string(), files));
    }
    let (random, seed) = random_sites::run(30);
    let mut rng = random_sites::Rng(seed);
    for n in 0..random {
        let source = random_sites::generate(&mut rng, n);
        let name = format!("random-{n}");
        let files = build(&name, driver::compile_source_for(&name, &source, &[Target::Openbsd]))
            .unwrap_or_else(|e| panic!("seed {seed}, site {n} does not build:\n{source}\n{e}"));
        sites.push((name, files));
    }
    assert!(examples >= 4 && ui >= 8, "only {examples} examples and {ui} ui cases build for OpenBSD");

    let mut script = String::from(
        "set -e\nmkdir -p overlay\nmount -t tmpfs tmpfs overlay\nmkdir overlay/upper overlay/work\n\
         mount -t overlay overlay -o lowerdir=/etc,upperdir=overlay/upper,workdir=overlay/work /etc\n",
    );
    let _ = writeln!(script, "cat > /etc/pf.conf <<'EOF'\n{PF_CONF}EOF\nset +e");
    for (name, files) in &sites {
        let dir = work.join("sites").join(name);
        for (path, contents) in files {
            let file = work.join("sites").join(path);
            std::fs::create_dir_all(file.parent().expect("a folder")).expect("folder");
            std::fs::write(&file, contents).expect("written");
        }
        script.push_str(&checks(&dir, files));
    }
    std::fs::write(work.join("check.sh"), &script).expect("script written");
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "check.sh"])
        .current_dir(&work)
        .output()
        .expect("unshare runs");
    let text = common::text(&out.stdout);
    assert!(out.status.success(), "the checks did not run: {}", common::text(&out.stderr));
    let checked = text.lines().count();
    let refused: Vec<&str> = text.lines().filter(|l| !l.starts_with("ok ")).collect();
    // Straight to stderr, past libtest's capture: the counts are the point.
    let counts = format!(
        "openbsd parsers: {} sites ({examples} examples, {ui} ui cases, 2 large, {random} random, seed {seed}): files accepted {} / checked {checked}\n",
        sites.len(),
        checked - refused.len()
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), counts.as_bytes());
    assert!(checked >= 5 * sites.len(), "only {checked} files checked for {} sites", sites.len());
    assert!(refused.is_empty(), "OpenBSD's parsers refuse (seed {seed}):\n{}", refused.join("\n"));
}
