//! Linux: `linux/setup.sh` (tables, rules, the nftables table), one
//! `linux/state-NAME.sh` per state (what moves between states), and
//! `linux/teardown.sh` (what setup added, nothing else). POSIX sh; every
//! script is idempotent: a second run leaves the kernel exactly as it is.
//!
//! Uplinks that a state leaves undecided ("either") are taken as up: the
//! scripts have no health of their own. `wanc agent` refines them live.

use super::header;
use crate::ir::{Site, State};
use crate::linux::{self, Family, Ids, IpRule};
use crate::output::OutputFile;
use std::fmt::Write;

pub fn emit(site: &Site, ids: &Ids) -> Vec<OutputFile> {
    let mut out = vec![file("setup.sh", setup(site, ids)), file("teardown.sh", teardown(site, ids))];
    for state in &site.states {
        out.push(file(&format!("state-{}.sh", state.name), state_script(site, ids, state)));
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

fn save_main_defaults(s: &mut String, site: &Site) {
    s.push_str(
        "# The main table's default routes as they were before wanc, for teardown.
# Saved once: a second run must not save wanc's own routes.
mkdir -p /run/wanc
",
    );
    for family in linux::families(site) {
        let file = saved_defaults(site, family);
        let _ = writeln!(s, "[ -e {file} ] || ip {} route save table main exact default > {file}", family.flag());
    }
    s.push('\n');
}

fn restore_main_defaults(s: &mut String, site: &Site) {
    for family in linux::families(site) {
        let file = saved_defaults(site, family);
        let flag = family.flag();
        let _ = writeln!(s, "if [ -e {file} ]; then\n    ip {flag} route flush exact default\n    ip {flag} route restore < {file}\n    rm -f {file}\nfi");
    }
}

fn setup(site: &Site, ids: &Ids) -> String {
    let mut s = preamble(site, &format!("Site `{}`: routing tables, rules and nftables for every uplink.", site.name));
    save_main_defaults(&mut s, site);
    s.push_str("# Each uplink's table holds its default route, for traffic that must leave by it.\n");
    let uplink_routes = linux::uplink_routes(site);
    for family in Family::BOTH {
        let routes: Vec<String> = uplink_routes.iter().filter(|r| r.family == family).map(|r| r.command()).collect();
        batch(&mut s, family, &routes);
    }
    s.push_str("\n# Rules: wanc owns priorities 10000-12999. Each is deleted before it is\n# added, so a second run does not stack copies.\n");
    for rule in linux::ip_rules(site, ids) {
        let _ = writeln!(s, "{}", delete_rule(&rule));
        let _ = writeln!(s, "ip {} rule add {}", rule.family.flag(), rule.args());
    }
    s.push_str("\n# Marks, NAT and forwards, in one transaction. The policy chain is created\n# empty if missing and otherwise kept: the state scripts own its contents.\n");
    let _ = writeln!(s, "nft -f - <<'WANC_NFT'\n{}WANC_NFT", linux::nft_setup(site, ids));
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

fn state_script(site: &Site, ids: &Ids, state: &State) -> String {
    let mut s =
        preamble(site, &format!("State `{}` (when {}): default route, pools and policy marks.", state.name, state.when_text));
    s.push_str("# Routes, one batch per family.\n");
    let routes = linux::state_routes(site, ids, state, None);
    for family in Family::BOTH {
        let commands: Vec<String> = routes.iter().filter(|r| r.family == family).map(|r| r.command()).collect();
        batch(&mut s, family, &commands);
    }
    let policy = linux::nft_policy(site, ids, state, None);
    let _ = writeln!(
        s,
        "\n# The policy chain, replaced in one transaction.\nnft -f - <<'WANC_NFT'\n{}WANC_NFT",
        linux::nft_policy_load(site, &policy)
    );
    s
}

fn teardown(site: &Site, ids: &Ids) -> String {
    let mut s = format!(
        "#!/bin/sh\n{}# Removes what setup.sh and the state scripts added, and nothing else.\nset -u\n\n",
        header(site, "#")
    );
    let _ = writeln!(s, "nft delete table inet {} 2>/dev/null", linux::nft_table_name(site));
    restore_main_defaults(&mut s, site);
    for rule in linux::ip_rules(site, ids) {
        let _ = writeln!(s, "{}", delete_rule(&rule));
    }
    for route in linux::uplink_routes(site) {
        if let Some(t) = route.table {
            let _ = writeln!(s, "ip {} route del default table {t} 2>/dev/null", route.family.flag());
        }
    }
    for pool in &ids.pools {
        for family in linux::families(site) {
            let _ = writeln!(s, "ip {} route flush table {} 2>/dev/null", family.flag(), pool.table);
        }
    }
    s.push_str("exit 0\n");
    s
}
