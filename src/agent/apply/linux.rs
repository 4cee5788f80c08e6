//! Linux: routes and rules through netlink, never a process per route; the
//! nftables table and the choice chains in one transaction each.

use super::{run_logged, Platform};
use crate::agent::nftables::Nftables;
use crate::backend::linux::nft;
use crate::ir::{Address, Family};
use crate::lower::linux::{self, IpRule, Learned, Numbers, Route, MARK_MASK};
use crate::lower::{ChoiceId, Plan, StateId};
use crate::netlink::Netlink;
use std::os::unix::fs::OpenOptionsExt;
use std::process::Command;
use tracing::warn;

/// What the kernel holds of wanc's, as last applied: the next change
/// applies only the difference.
#[derive(Default)]
struct Applied {
    rules: Vec<IpRule>,
    uplink_routes: Vec<Route>,
    nft_setup: String,
    state_routes: Vec<Route>,
    /// Per choice, what its chain holds (`None`: empty).
    choices: Vec<Option<String>>,
    /// The commands that filled the chain of the state's own forwards.
    state_forwards: Option<String>,
    /// The nftables table the static part went into.
    table: String,
}

pub struct Linux {
    netlink: Netlink,
    nft: Nftables,
    applied: Applied,
    /// The main table's default routes before the agent, per family, as
    /// saved by `ip route save`, put back on exit.
    saved_defaults: Vec<(Family, Vec<u8>)>,
    /// The kernel settings wanc needs, with their values before the agent,
    /// put back on exit.
    saved_sysctls: Vec<(&'static str, String)>,
}

impl Linux {
    pub fn new() -> Result<Linux, String> {
        let mut netlink = Netlink::open().map_err(|e| format!("cannot open netlink: {e}"))?;
        // As the scripts: a learned gateway is never read from wanc's own.
        netlink.set_protocol(linux::PROTOCOL);
        let nft = Nftables::new();
        if !nft.in_process() {
            warn!(target: "apply", "libnftables not found: running `nft` for each change");
        }
        Ok(Linux { netlink, nft, applied: Applied::default(), saved_defaults: Vec::new(), saved_sysctls: Vec::new() })
    }
}

/// The site's Linux numbers, or why it does not fit.
pub fn numbers(plan: &Plan) -> Result<&Numbers, String> {
    plan.linux.as_ref().map_err(|e| format!("the site does not fit Linux's numbers: {e}"))
}

impl Platform for Linux {
    fn setup(&mut self, plan: &Plan, learned: &Learned) -> Result<(), String> {
        let numbers = numbers(plan)?;
        // Rules and routes that need a value not learned yet wait for it.
        let rules: Vec<IpRule> = linux::ip_rules(plan, numbers).iter().filter_map(|r| r.resolve(learned)).collect();
        let uplink_routes: Vec<Route> = linux::uplink_routes(plan).iter().map(|r| r.resolve(learned)).collect();
        let nft_setup = nft::setup(plan, numbers);
        if self.saved_defaults.is_empty() {
            for &family in &plan.families {
                self.saved_defaults.push((family, save_defaults(family)?));
            }
        }
        if self.saved_sysctls.is_empty() {
            for &(key, value) in linux::SYSCTLS {
                self.saved_sysctls.push((key, sysctl(key)?));
                set_sysctl(key, value)?;
            }
        }
        let nl = &mut self.netlink;
        for old in self.applied.rules.iter().filter(|r| !rules.contains(r)) {
            nl.delete_rules_at(old.family, old.priority).map_err(|e| format!("deleting rule {}: {e}", old.args()))?;
        }
        let added: Vec<IpRule> = rules.iter().filter(|r| !self.applied.rules.contains(r)).cloned().collect();
        nl.set_rules(&added).map_err(|e| format!("rules: {e}"))?;
        for old in self
            .applied
            .uplink_routes
            .iter()
            .filter(|r| !uplink_routes.iter().any(|n| n.table == r.table && n.family == r.family))
        {
            if let Some(t) = old.table {
                nl.delete_route(old.family, t).map_err(|e| format!("deleting default of table {t}: {e}"))?;
            }
        }
        let changed: Vec<Route> = uplink_routes.iter().filter(|r| !self.applied.uplink_routes.contains(r)).cloned().collect();
        nl.apply(&changed).map_err(|e| format!("uplink routes: {e}"))?;
        let table = nft::table_name(&plan.site);
        if nft_setup != self.applied.nft_setup {
            // A renamed site leaves its old table behind otherwise.
            let old = &self.applied.table;
            let drop_old = if !old.is_empty() && *old != table { format!("delete table inet {old}\n") } else { String::new() };
            self.nft.run(&format!("{drop_old}{nft_setup}"))?;
            // The static part keeps the choice chains, but a changed site
            // numbers its choices anew: fill every one again.
            self.applied.choices.clear();
            self.applied.state_forwards = None;
        }
        self.applied.rules = rules;
        self.applied.uplink_routes = uplink_routes;
        self.applied.nft_setup = nft_setup;
        self.applied.table = table;
        Ok(())
    }

    fn apply(&mut self, plan: &Plan, state: StateId, live: &[bool], learned: &Learned) -> Result<usize, String> {
        let numbers = numbers(plan)?;
        let routes: Vec<Route> =
            linux::state_routes(plan, numbers, state, Some(live)).iter().map(|r| r.resolve(learned)).collect();
        let choices = nft::choices(plan, numbers, state, Some(live));
        let changed: Vec<Route> = routes.iter().filter(|r| !self.applied.state_routes.contains(r)).cloned().collect();
        let nl = &mut self.netlink;
        // Pool tables a reload dropped lose their route.
        for old in &self.applied.state_routes {
            let wanted = routes.iter().any(|n| n.family == old.family && n.table == old.table);
            if let (Some(t), false) = (old.table, wanted) {
                nl.delete_route(old.family, t).map_err(|e| format!("deleting default of table {t}: {e}"))?;
            }
        }
        nl.apply(&changed).map_err(|e| format!("state routes: {e}"))?;
        // Recorded before the nft step, so a failure there retries only
        // what is still missing.
        self.applied.state_routes = routes;
        let moved: Vec<(ChoiceId, Option<String>)> = choices
            .iter()
            .enumerate()
            .filter(|(c, now)| self.applied.choices.get(*c) != Some(*now))
            .map(|(c, now)| (c, now.clone()))
            .collect();
        if !moved.is_empty() {
            self.nft.run(&nft::load_choices(plan, &moved))?;
        }
        self.applied.choices = choices;
        let forwards = nft::load_state_forwards(plan, state);
        let forwards_moved = forwards != self.applied.state_forwards;
        if let (true, Some(commands)) = (forwards_moved, &forwards) {
            self.nft.run(commands)?;
        }
        self.applied.state_forwards = forwards;
        Ok(changed.len() + moved.len() + usize::from(forwards_moved))
    }

    fn flush(&mut self, plan: &Plan, uplink: usize, learned: &Learned) {
        let Ok(numbers) = numbers(plan) else { return };
        // Marked connections, and unmarked ones (the router's own, routed by
        // the main table) NATed to the uplink's address. Off the main loop:
        // a slow conntrack must not delay failover.
        let mark = format!("{:#x}/{MARK_MASK:#x}", numbers.uplink_marks[uplink]);
        let mut nat: Vec<String> = plan.site.uplinks[uplink]
            .nat
            .iter()
            .filter_map(|n| match n.to {
                Address::Known(ip) => Some(ip),
                Address::Learned(f) => learned.lease(uplink, f).address,
            })
            .map(|a| a.to_string())
            .collect();
        nat.sort();
        nat.dedup();
        crate::agent::threads::background("flush states", move || {
            run_logged(&["conntrack", "-D", "--mark", &mark]);
            for addr in &nat {
                run_logged(&["conntrack", "-D", "--reply-dst", addr]);
            }
        });
    }

    fn forget(&mut self) {
        // Routes go with their link and are replaced atomically; rules stay
        // in the kernel when a link goes, and putting them back means
        // deleting them first, a gap for the traffic they steer: they are
        // not forgotten. The table name says what a renamed site must delete.
        let (table, rules) = (std::mem::take(&mut self.applied.table), std::mem::take(&mut self.applied.rules));
        self.applied = Applied { table, rules, ..Applied::default() };
    }

    fn teardown(&mut self, plan: &Plan) -> Result<(), String> {
        let _ = self.nft.run(&format!("delete table inet {}", nft::table_name(&plan.site)));
        let nl = &mut self.netlink;
        for rule in &self.applied.rules {
            let _ = nl.delete_rules_at(rule.family, rule.priority);
        }
        for route in self.applied.uplink_routes.iter().chain(&self.applied.state_routes) {
            if let Some(t) = route.table {
                let _ = nl.delete_route(route.family, t);
            }
        }
        for (family, saved) in &self.saved_defaults {
            restore_defaults(*family, saved)?;
        }
        for (key, value) in self.saved_sysctls.drain(..) {
            set_sysctl(key, &value)?;
        }
        self.applied = Applied::default();
        Ok(())
    }
}

/// A sysctl's file: `net.ipv4.conf.all.x` is /proc/sys/net/ipv4/conf/all/x.
fn sysctl_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

fn sysctl(key: &str) -> Result<String, String> {
    std::fs::read_to_string(sysctl_path(key)).map(|v| v.trim().to_string()).map_err(|e| format!("cannot read {key}: {e}"))
}

fn set_sysctl(key: &str, value: &str) -> Result<(), String> {
    std::fs::write(sysctl_path(key), value).map_err(|e| format!("cannot set {key}={value}: {e}"))
}

fn save_defaults(family: Family) -> Result<Vec<u8>, String> {
    let out = Command::new("ip")
        .args([family.flag(), "route", "save", "table", "main", "exact", "default"])
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    Ok(out.stdout)
}

fn restore_defaults(family: Family, saved: &[u8]) -> Result<(), String> {
    let _ = Command::new("ip").args([family.flag(), "route", "flush", "exact", "default"]).output();
    // `ip route restore` seeks in its input: it needs a file, not a pipe.
    // A private directory, and a file created afresh (never through a
    // link someone left at the name).
    let dir = std::path::Path::new("/run/wanc");
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("agent-defaults{}", family.flag()));
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("cannot save the default routes: {e}"))?;
    std::io::Write::write_all(&mut f, saved).map_err(|e| format!("cannot save the default routes: {e}"))?;
    drop(f);
    let file = std::fs::File::open(&path).map_err(|e| e.to_string());
    let result = file.and_then(|f| {
        Command::new("ip").args([family.flag(), "route", "restore"]).stdin(f).output().map_err(|e| format!("cannot run ip: {e}"))
    });
    let _ = std::fs::remove_file(&path);
    match result {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!("restoring the default routes: {}", String::from_utf8_lossy(&out.stderr).trim())),
        Err(e) => Err(e),
    }
}
