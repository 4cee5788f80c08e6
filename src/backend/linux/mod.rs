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
use crate::lower::linux::{self, IpRule, Numbers, Route};
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

fn preamble(plan: &Plan, what: &str) -> String {
    format!("#!/bin/sh\n{}# {what}\nset -eu\n\n{}", header(&plan.site, "#"), learn(plan))
}

/// Reads the values the router learns (`address auto`, `gateway auto`) from
/// the interfaces, into the variables `linux::Value` names. What is read is
/// checked to be an address, so nothing else reaches a command line.
fn learn(plan: &Plan) -> String {
    let site = &plan.site;
    if !site.uplinks.iter().any(|u| u.learns()) {
        return String::new();
    }
    let mut s = format!(
        r#"# Learned addresses and gateways (DHCP, router advertisements, PPP), as the
# interfaces have them now: run this script again when a lease changes
# (see docs/deploy-linux.md). Empty while not learned: what needs one is skipped.
wanc_checked() {{ case $1 in *[!0-9A-Fa-f.:]*) ;; *) printf %s "$1" ;; esac; }}
wanc_address() {{ wanc_checked "$(ip -o "$1" addr show dev "$2" scope global 2>/dev/null | awk '{{ sub("/.*", "", $4); print $4; exit }}')"; }}
# The default route through the interface that its DHCP client or the
# kernel installed; wanc's own (proto {proto}) are skipped.
wanc_gateway() {{ wanc_checked "$(ip "$1" route show table main default dev "$2" 2>/dev/null | awk '$2 == "via" && !/ proto {proto} / {{ print $3; exit }}')"; }}
"#,
        proto = linux::PROTOCOL
    );
    for (u, up) in site.uplinks.iter().enumerate() {
        let dev = &up.interface;
        for &family in &up.learned {
            let var = linux::Value::Address(u, family).variable().unwrap_or_default();
            let _ = writeln!(s, "{var}=$(wanc_address {} {dev})", family.flag());
        }
        for family in Family::BOTH {
            if plan.hop(u, family) == Some(&crate::lower::NextHop::Learned) {
                let var = linux::Value::Gateway(u, family).variable().unwrap_or_default();
                let _ = writeln!(s, "{var}=$(wanc_gateway {} {dev})", family.flag());
            }
        }
    }
    s.push('\n');
    s
}

/// Writes `ip` commands: those with known values in one batch per family,
/// those with learned ones each on its own, skipped while a value they
/// need is not learned (a route leaves out the nexthops it cannot have).
fn routes(s: &mut String, routes: &[Route]) {
    for family in Family::BOTH {
        let (learned, known): (Vec<&Route>, Vec<&Route>) =
            routes.iter().filter(|r| r.family == family).partition(|r| r.learned().next().is_some());
        let commands: Vec<String> = known.iter().map(|r| r.command()).collect();
        batch(s, family, &commands);
        for route in learned {
            learned_route(s, route);
        }
    }
}

/// A route with learned gateways: built up from the nexthops that are known
/// now, in the positional parameters, then put in place (or, with none,
/// what `Route::command` does for no nexthops).
fn learned_route(s: &mut String, route: &Route) {
    s.push_str("set --\n");
    for hop in &route.nexthops {
        match hop.gateway.and_then(|v| v.variable()) {
            Some(var) => {
                let _ = writeln!(s, "[ -z \"${var}\" ] || set -- \"$@\" {}", hop.args());
            }
            None => {
                let _ = writeln!(s, "set -- \"$@\" {}", hop.args());
            }
        }
    }
    let flag = route.family.flag();
    let table = route.table.map(|t| format!(" table {t}")).unwrap_or_default();
    let none = Route { nexthops: Vec::new(), ..route.clone() }.command();
    let _ = writeln!(
        s,
        "if [ $# -gt 0 ]; then ip {flag} route replace default{table} proto {} \"$@\"; else ip {flag} {none}; fi",
        linux::PROTOCOL
    );
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
    let mut s = preamble(plan, &format!("Site `{}`: routing tables, rules and nftables for every uplink.", site.name));
    save_main_defaults(&mut s, plan);
    set_sysctls(&mut s, site);
    s.push_str("# Each uplink's table holds its default route, for traffic that must leave by it.\n");
    routes(&mut s, &linux::uplink_routes(plan));
    s.push_str("\n# Rules: wanc owns priorities 10000-12999. Each is deleted before it is\n# added, so a second run does not stack copies.\n");
    for rule in linux::ip_rules(plan, numbers) {
        let _ = writeln!(s, "{}", delete_rule(&rule));
        let add = format!("ip {} rule add {}", rule.family.flag(), rule.args());
        match rule.learned().and_then(|v| v.variable()) {
            Some(var) => {
                let _ = writeln!(s, "[ -z \"${var}\" ] || {add}");
            }
            None => {
                let _ = writeln!(s, "{add}");
            }
        }
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
    let state = &plan.site.states[id];
    let mut s =
        preamble(plan, &format!("State `{}` (when {}): default route, pools and policy marks.", state.name, state.when_text));
    s.push_str("# Routes, one batch per family.\n");
    routes(&mut s, &linux::state_routes(plan, numbers, id, None));
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
