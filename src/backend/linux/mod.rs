//! Linux: `linux/setup.sh` (tables, rules, the nftables table), one
//! `linux/state-NAME.sh` per state (what moves between states), and
//! `linux/teardown.sh` (what setup added, nothing else). POSIX sh; every
//! script is idempotent: a second run leaves the kernel exactly as it is.
//!
//! Uplinks that a state leaves undecided ("either") are taken as up: the
//! scripts have no health of their own. `wanc agent` refines them live.

pub mod nft;

use super::header;
use crate::ir::{Family, Site};
use crate::lower::linux::{self, IpRule, Numbers};
use crate::lower::{Plan, StateId};
use crate::output::OutputFile;
use std::fmt::Write;

pub fn emit(plan: &Plan, numbers: &Numbers) -> Vec<OutputFile> {
    let mut out = vec![file("setup.sh", setup(plan, numbers)), file("teardown.sh", teardown(plan, numbers))];
    for (s, state) in plan.site.states.iter().enumerate() {
        out.push(file(&format!("state-{}.sh", state.name), state_script(plan, numbers, s)));
    }
    out
}

fn file(name: &str, contents: String) -> OutputFile {
    OutputFile { path: format!("linux/{name}").into(), contents: contents.into_bytes() }
}

fn preamble(site: &Site, what: &str) -> String {
    format!("#!/bin/sh\n{}# {what}\nset -eu\n\n", header(site, "#"))
}

/// Where setup keeps the main table's default routes as they were before
/// wanc, for teardown to put back (state scripts replace them).
fn saved_defaults(site: &Site, family: Family) -> String {
    format!("/run/wanc/{}.main-default{}", site.name, family.flag())
}

/// Where setup keeps the kernel settings as they were before wanc.
fn saved_sysctls(site: &Site) -> String {
    format!("/run/wanc/{}.sysctl", site.name)
}

fn set_sysctls(s: &mut String, site: &Site) {
    s.push_str(
        "# Kernel settings wanc needs (strict reverse-path filtering checks a\n\
         # packet's source with its mark), as they were saved once for teardown.\n",
    );
    let file = saved_sysctls(site);
    let keys: Vec<&str> = linux::SYSCTLS.iter().map(|(key, _)| *key).collect();
    let _ = writeln!(s, "[ -e {file} ] || sysctl {} > {file}", keys.join(" "));
    for (key, value) in linux::SYSCTLS {
        let _ = writeln!(s, "sysctl -qw {key}={value}");
    }
    s.push('\n');
}

fn restore_sysctls(s: &mut String, site: &Site) {
    let file = saved_sysctls(site);
    let _ = writeln!(s, "if [ -e {file} ]; then\n    sysctl -qp {file} > /dev/null\n    rm -f {file}\nfi");
}

fn save_main_defaults(s: &mut String, plan: &Plan) {
    let site = &plan.site;
    s.push_str(
        "# The main table's default routes as they were before wanc, for teardown.
# Saved once: a second run must not save wanc's own routes.
mkdir -p /run/wanc
",
    );
    for &family in &plan.families {
        let file = saved_defaults(site, family);
        let _ = writeln!(s, "[ -e {file} ] || ip {} route save table main exact default > {file}", family.flag());
    }
    s.push('\n');
}

fn restore_main_defaults(s: &mut String, plan: &Plan) {
    let site = &plan.site;
    for &family in &plan.families {
        let file = saved_defaults(site, family);
        let flag = family.flag();
        let _ = writeln!(s, "if [ -e {file} ]; then\n    ip {flag} route flush exact default\n    ip {flag} route restore < {file}\n    rm -f {file}\nfi");
    }
}

fn setup(plan: &Plan, numbers: &Numbers) -> String {
    let site = &plan.site;
    let mut s = preamble(site, &format!("Site `{}`: routing tables, rules and nftables for every uplink.", site.name));
    save_main_defaults(&mut s, plan);
    set_sysctls(&mut s, site);
    s.push_str("# Each uplink's table holds its default route, for traffic that must leave by it.\n");
    let uplink_routes = linux::uplink_routes(plan);
    for family in Family::BOTH {
        let routes: Vec<String> = uplink_routes.iter().filter(|r| r.family == family).map(|r| r.command()).collect();
        batch(&mut s, family, &routes);
    }
    s.push_str("\n# Rules: wanc owns priorities 10000-12999. Each is deleted before it is\n# added, so a second run does not stack copies.\n");
    for rule in linux::ip_rules(plan, numbers) {
        let _ = writeln!(s, "{}", delete_rule(&rule));
        let _ = writeln!(s, "ip {} rule add {}", rule.family.flag(), rule.args());
    }
    s.push_str(
        "\n# Marks, steering, NAT and forwards, in one transaction. The chains of the\n\
         # routing choices are created empty if missing and otherwise kept: the\n\
         # state scripts own their contents.\n",
    );
    let _ = writeln!(s, "nft -f - <<'WANC_NFT'\n{}WANC_NFT", nft::setup(plan, numbers));
    s
}

fn delete_rule(rule: &IpRule) -> String {
    format!("while ip {} rule del priority {} 2>/dev/null; do :; done", rule.family.flag(), rule.priority)
}

fn batch(s: &mut String, family: Family, commands: &[String]) {
    if commands.is_empty() {
        return;
    }
    let _ = writeln!(s, "ip {} -batch - <<'WANC_IP'\n{}\nWANC_IP", family.flag(), commands.join("\n"));
}

fn state_script(plan: &Plan, numbers: &Numbers, id: StateId) -> String {
    let (site, state) = (&plan.site, &plan.site.states[id]);
    let mut s =
        preamble(site, &format!("State `{}` (when {}): default route, pools and policy marks.", state.name, state.when_text));
    s.push_str("# Routes, one batch per family.\n");
    let routes = linux::state_routes(plan, numbers, id, None);
    for family in Family::BOTH {
        let commands: Vec<String> = routes.iter().filter(|r| r.family == family).map(|r| r.command()).collect();
        batch(&mut s, family, &commands);
    }
    let choices: Vec<_> = nft::choices(plan, numbers, id, None).into_iter().enumerate().collect();
    let forwards = nft::load_state_forwards(plan, id);
    if choices.is_empty() && forwards.is_none() {
        return s;
    }
    let what = if forwards.is_some() {
        "What each routing choice does in this state, and the forwards of this\n# state only"
    } else {
        "What each routing choice does in this state"
    };
    let _ = writeln!(
        s,
        "\n# {what}, in one transaction.\nnft -f - <<'WANC_NFT'\n{}{}WANC_NFT",
        nft::load_choices(plan, &choices),
        forwards.unwrap_or_default()
    );
    s
}

fn teardown(plan: &Plan, numbers: &Numbers) -> String {
    let site = &plan.site;
    let mut s = format!(
        "#!/bin/sh\n{}# Removes what setup.sh and the state scripts added, and nothing else.\nset -u\n\n",
        header(site, "#")
    );
    let _ = writeln!(s, "nft delete table inet {} 2>/dev/null", nft::table_name(site));
    restore_main_defaults(&mut s, plan);
    restore_sysctls(&mut s, site);
    for rule in linux::ip_rules(plan, numbers) {
        let _ = writeln!(s, "{}", delete_rule(&rule));
    }
    for route in linux::uplink_routes(plan) {
        if let Some(t) = route.table {
            let _ = writeln!(s, "ip {} route del default table {t} 2>/dev/null", route.family.flag());
        }
    }
    for pool in &numbers.pools {
        for &family in &plan.families {
            let _ = writeln!(s, "ip {} route flush table {} 2>/dev/null", family.flag(), pool.table);
        }
    }
    s.push_str("exit 0\n");
    s
}
