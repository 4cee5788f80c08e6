//! OpenBSD: pf rulesets and an ifstated(8) configuration.
//!
//! - `pf/macros.conf`: a macro per interface, gateway, address and host
//!   (a learned address is pf's `(IF:0)`; a learned gateway a table in
//!   `pf/wanc.conf` that ifstated refreshes, see `learned`).
//! - `pf/wanc.conf`: included from the user's pf.conf before the user's
//!   own pass rules, every rule `quick`; NAT per uplink, the forward and
//!   serve rules, replies to traffic for an uplink's address by that uplink,
//!   the rules that send traffic sourced from an uplink's address out by
//!   that uplink, and every route rule (as an anchor rule handing its
//!   traffic to the anchor of its routing choice).
//! - `pf/policy.STATE.conf`: per state, the ruleset ifstated loads into
//!   `wanc/policy` when the state is entered: what each routing choice does.
//! - `ifstated.conf`: the checks (with rise/fall kept in small state files,
//!   since ifstated has no hysteresis), uplink actions and the states;
//!   `ifstated/N.sh`: its commands too long for its strings (see `long`).
//!
//! The files are installed under [`PREFIX`] (`ifstated.conf` as
//! `/etc/ifstated.conf`): ifstated refers to the rulesets by absolute path.

mod checks;
mod counting;
mod expr;
mod ifstated;
mod learned;
pub mod live;
mod long;
pub mod pf;
pub mod quote;
mod select;

use crate::ir::{Address, RuleKind, Site, State, Uplink};
use crate::lower::{ChoiceId, Plan};
use crate::output::OutputFile;
use std::cell::RefCell;
use std::collections::HashSet;
use std::net::IpAddr;

/// Where the pf files are installed on the router.
pub const PREFIX: &str = "/etc/wanc";
/// The anchor the current state's ruleset is loaded into.
pub const ANCHOR: &str = "wanc/policy";
/// State files of the checks and uplinks: /var/run is emptied at boot, so
/// health history starts afresh with the machine.
pub const RUN_DIR: &str = "/var/run";

/// Every OpenBSD output of a site.
pub fn emit(plan: &Plan) -> Vec<OutputFile> {
    let ctx = Ctx::new(plan);
    let mut out = pf::emit(&ctx);
    out.push(OutputFile { path: "ifstated.conf".into(), contents: ifstated::emit(&ctx).into_bytes() });
    out.extend(ctx.long_files());
    out
}

/// What every part of the back end reads.
pub struct Ctx<'a> {
    pub plan: &'a Plan,
    pub site: &'a Site,
    pub names: Names,
    /// Per choice, the families its rules' traffic comes in.
    families: Vec<[bool; 2]>,
    /// The commands of ifstated.conf written to files of their own.
    long: RefCell<long::Long>,
}

impl<'a> Ctx<'a> {
    pub fn new(plan: &'a Plan) -> Ctx<'a> {
        let site = &plan.site;
        let mut families = vec![[false; 2]; plan.choices.len()];
        for &(id, choice) in &plan.routes {
            if let RuleKind::Route { from, to, proto, ports, .. } = &site.rules[id].kind {
                let sel = pf::Selector { from, to, proto: *proto, ports };
                for f in Family::BOTH {
                    families[choice][f.index()] |= sel.fits(f);
                }
            }
        }
        Ctx { plan, site, names: Names::new(site), families, long: RefCell::default() }
    }

    /// The families a choice's traffic comes in.
    pub fn choice_families(&self, choice: ChoiceId) -> impl Iterator<Item = Family> + '_ {
        Family::BOTH.into_iter().filter(move |f| self.families[choice][f.index()])
    }
}

/// Source text for a `#` comment of pf.conf or ifstated.conf: on one line,
/// and not ending in a backslash, which both lexers would take for a line
/// continuation that comments out the next line too.
fn comment(text: &str) -> String {
    let mut line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if line.ends_with('\\') {
        line.push(' ');
    }
    line
}

/// What a state implies about each uplink, in words.
fn health_summary(ctx: &Ctx, state: &State) -> String {
    let words: Vec<String> =
        ctx.site.uplinks.iter().zip(&state.health).map(|(u, h)| format!("{} {}", u.name, h.as_str())).collect();
    words.join(", ")
}

/// The file a state's ruleset is written to, relative to the output directory.
fn policy_file(state: &str) -> String {
    format!("pf/policy.{state}.conf")
}

/// Identifiers for pf and ifstated macros, which allow only letters, digits
/// and `_`: each source name with other characters replaced, unique across
/// uplinks, lans and hosts (a clash gets a numeric suffix), so `a-b` and
/// `a_b` cannot share macros.
pub struct Names {
    pub uplinks: Vec<String>,
    pub lans: Vec<String>,
    pub hosts: Vec<String>,
}

impl Names {
    pub fn new(site: &Site) -> Names {
        let mut taken = HashSet::new();
        let mut idents = |names: Vec<&str>| -> Vec<String> { names.into_iter().map(|n| unique(n, &mut taken)).collect() };
        let uplinks = idents(site.uplinks.iter().map(|u| u.name.as_str()).collect());
        let lans = idents(site.lans.iter().map(|l| l.name.as_str()).collect());
        let hosts = idents(site.hosts.iter().map(|h| h.name.as_str()).collect());
        Names { uplinks, lans, hosts }
    }
}

fn unique(name: &str, taken: &mut HashSet<String>) -> String {
    let base: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let mut ident = base.clone();
    let mut n = 2;
    while !taken.insert(ident.clone()) {
        ident = format!("{base}_{n}");
        n += 1;
    }
    ident
}

pub use crate::ir::Family;

impl Family {
    /// The address family keyword of pf.conf.
    pub fn pf(self) -> &'static str {
        match self {
            Family::V4 => "inet",
            Family::V6 => "inet6",
        }
    }

    /// The address family modifier of route(8).
    pub fn route(self) -> &'static str {
        match self {
            Family::V4 => "-inet",
            Family::V6 => "-inet6",
        }
    }

    /// Suffix of the per-family macros: `isp1_gw` and `isp1_gw6`.
    pub fn suffix(self) -> &'static str {
        match self {
            Family::V4 => "",
            Family::V6 => "6",
        }
    }
}

/// The uplink's own address in a family.
pub fn address(uplink: &Uplink, family: Family) -> Option<IpAddr> {
    uplink.address(family == Family::V6)
}

/// The address an uplink's probes are sent from, given or learned: of the
/// target's family when known, else IPv4 first.
pub fn source(uplink: &Uplink, family: Option<Family>) -> Option<Address> {
    match family {
        Some(f) => uplink.source(f),
        None => uplink.source(Family::V4).or_else(|| uplink.source(Family::V6)),
    }
}
