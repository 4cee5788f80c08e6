//! Putting a state into effect. The Linux way goes through netlink for
//! routes and rules and one nftables transaction for the marks, never a
//! process per route; dry-run logs what it would do; OpenBSD drives pfctl
//! and route.

use super::nftables::Nftables;
use crate::ir::Site;
use crate::linux::{self, Family, Ids, IpRule, Route};
use crate::netlink::Netlink;
use std::os::unix::fs::OpenOptionsExt;
use std::process::Command;
use tracing::{info, warn};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    Linux,
    Openbsd,
    DryRun,
}

/// What the kernel holds of wanc's, as last applied: the next change
/// applies only the difference.
#[derive(Default, Clone, PartialEq)]
struct Applied {
    rules: Vec<IpRule>,
    uplink_routes: Vec<Route>,
    nft_setup: String,
    state_routes: Vec<Route>,
    steering: Vec<String>,
    /// OpenBSD: the state's policy anchor as last loaded.
    anchor: String,
    /// The nftables table the static part went into.
    table: String,
}

pub struct Applier {
    kind: BackendKind,
    netlink: Option<Netlink>,
    nft: Nftables,
    applied: Applied,
    /// The main table's default routes before the agent, per family, as
    /// saved by `ip route save`, put back on exit.
    saved_defaults: Vec<(Family, Vec<u8>)>,
}

impl Applier {
    pub fn new(kind: BackendKind) -> Result<Applier, String> {
        let netlink = match kind {
            BackendKind::Linux => Some(Netlink::open().map_err(|e| format!("cannot open netlink: {e}"))?),
            _ => None,
        };
        let nft = Nftables::new();
        if kind == BackendKind::Linux && !nft.in_process() {
            warn!(target: "apply", "libnftables not found: running `nft` for each change");
        }
        Ok(Applier { kind, netlink, nft, applied: Applied::default(), saved_defaults: Vec::new() })
    }

    /// Tables, rules and the static nftables part; on a reload, only what
    /// changed.
    pub fn setup(&mut self, site: &Site) -> Result<(), String> {
        let ids = ids(site)?;
        let rules = linux::ip_rules(site, &ids);
        let uplink_routes = linux::uplink_routes(site);
        let nft_setup = linux::nft_setup(site, &ids);
        match self.kind {
            BackendKind::DryRun => {
                for r in rules.iter().filter(|r| !self.applied.rules.contains(r)) {
                    info!(target: "apply", "ip {} rule add {}", r.family.flag(), r.args());
                }
                for r in uplink_routes.iter().filter(|r| !self.applied.uplink_routes.contains(r)) {
                    info!(target: "apply", "ip {} {}", r.family.flag(), r.command());
                }
            }
            BackendKind::Openbsd => {
                info!(target: "apply", "openbsd: uplink routes and rules are in the pf anchors");
            }
            BackendKind::Linux => {
                if self.saved_defaults.is_empty() {
                    for family in linux::families(site) {
                        self.saved_defaults.push((family, save_defaults(family)?));
                    }
                }
                let nl = self.netlink.as_mut().ok_or("netlink is not open")?;
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
                let changed: Vec<Route> =
                    uplink_routes.iter().filter(|r| !self.applied.uplink_routes.contains(r)).cloned().collect();
                nl.apply(&changed).map_err(|e| format!("uplink routes: {e}"))?;
                if nft_setup != self.applied.nft_setup {
                    // A renamed site leaves its old table behind otherwise.
                    let old_table = self.applied.table.clone();
                    let new_table = linux::nft_table_name(site);
                    let drop_old = if !old_table.is_empty() && old_table != new_table {
                        format!("delete table inet {old_table}\n")
                    } else {
                        String::new()
                    };
                    self.nft.run(&format!("{drop_old}{nft_setup}"))?;
                    // A new static part keeps the steering chain, but a
                    // changed site may mark differently: re-apply it.
                    self.applied.steering.clear();
                }
            }
        }
        self.applied.rules = rules;
        self.applied.uplink_routes = uplink_routes;
        self.applied.nft_setup = nft_setup;
        self.applied.table = linux::nft_table_name(site);
        Ok(())
    }

    /// The state's routes and marks under live health, as a difference to
    /// what is in place.
    pub fn apply(&mut self, site: &Site, state: usize, live: &[bool]) -> Result<usize, String> {
        let ids = ids(site)?;
        let Some(s) = site.states.get(state) else { return Err(format!("no state {state}")) };
        let routes = linux::state_routes(site, &ids, s, Some(live));
        let steering = linux::nft_policy(site, &ids, s, Some(live));
        let changed: Vec<Route> = routes.iter().filter(|r| !self.applied.state_routes.contains(r)).cloned().collect();
        let steering_changed = steering != self.applied.steering;
        match self.kind {
            BackendKind::DryRun => {
                for r in &changed {
                    info!(target: "apply", "ip {} {}", r.family.flag(), r.command());
                }
                if steering_changed {
                    for line in &steering {
                        info!(target: "apply", "nft steering: {line}");
                    }
                }
            }
            BackendKind::Openbsd => {
                openbsd_default(&changed)?;
                self.load_anchor(site, &s.name)?;
            }
            BackendKind::Linux => {
                let nl = self.netlink.as_mut().ok_or("netlink is not open")?;
                // Pool tables a reload dropped lose their route.
                for old in &self.applied.state_routes {
                    let wanted = routes.iter().any(|n| n.family == old.family && n.table == old.table);
                    if let (Some(t), false) = (old.table, wanted) {
                        nl.delete_route(old.family, t).map_err(|e| format!("deleting default of table {t}: {e}"))?;
                    }
                }
                nl.apply(&changed).map_err(|e| format!("state routes: {e}"))?;
                // Recorded before the nft step, so a failure there retries
                // only what is still missing.
                self.applied.state_routes = routes.clone();
                if steering_changed {
                    self.nft.run(&linux::nft_policy_load(site, &steering))?;
                }
            }
        }
        let count = changed.len() + usize::from(steering_changed);
        self.applied.state_routes = routes;
        self.applied.steering = steering;
        Ok(count)
    }

    /// OpenBSD: the state's ruleset from the pf back end, into the anchor
    /// `wanc/policy`, when it differs from the one loaded. (Members the state
    /// leaves open are filled in by the back end's ifstated helpers, not
    /// here: the agent loads the state's ruleset as written.)
    fn load_anchor(&mut self, site: &Site, state: &str) -> Result<(), String> {
        let wanted = format!("pf/policy.{state}.conf");
        let files = crate::backend::openbsd::emit(site);
        let Some(file) = files.iter().find(|f| f.path.to_str() == Some(wanted.as_str())) else {
            return Err(format!("no pf ruleset for state `{state}`"));
        };
        let text = String::from_utf8_lossy(&file.contents).into_owned();
        if text == self.applied.anchor {
            return Ok(());
        }
        let mut child = Command::new("pfctl")
            .args(["-a", "wanc/policy", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run pfctl: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(text.as_bytes());
        }
        let status = child.wait().map_err(|e| format!("pfctl: {e}"))?;
        if !status.success() {
            return Err(format!("pfctl refused the ruleset of state `{state}`"));
        }
        info!(target: "apply", "pfctl -a wanc/policy -f {wanted}");
        self.applied.anchor = text;
        Ok(())
    }

    /// Drops the connections marked for one uplink.
    pub fn flush(&mut self, site: &Site, uplink: usize) {
        let Ok(ids) = ids(site) else { return };
        let name = &site.uplinks[uplink].name;
        match self.kind {
            BackendKind::DryRun => info!(target: "apply", "flush states of {name}"),
            // Off the main loop: a slow conntrack must not delay failover.
            BackendKind::Openbsd => {
                let name = name.clone();
                std::thread::spawn(move || run_logged(&["pfctl", "-k", "label", "-k", &name]));
            }
            BackendKind::Linux => {
                // Marked connections, and unmarked ones (the router's own,
                // routed by the main table) NATed to the uplink's address.
                let mark = format!("{:#x}/{:#x}", ids.uplink_marks[uplink], linux::MARK_MASK);
                let nat: Vec<String> = site.uplinks[uplink].nat.iter().map(|a| a.to_string()).collect();
                std::thread::spawn(move || {
                    run_logged(&["conntrack", "-D", "--mark", &mark]);
                    for addr in &nat {
                        run_logged(&["conntrack", "-D", "--reply-dst", addr]);
                    }
                });
            }
        }
    }

    /// Removes everything the agent put in place.
    pub fn teardown(&mut self, site: &Site) -> Result<(), String> {
        if self.kind != BackendKind::Linux {
            info!(target: "apply", "teardown");
            return Ok(());
        }
        let _ = self.nft.run(&format!("delete table inet {}", linux::nft_table_name(site)));
        let nl = self.netlink.as_mut().ok_or("netlink is not open")?;
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
        self.applied = Applied::default();
        Ok(())
    }
}

fn ids(site: &Site) -> Result<Ids, String> {
    linux::allocate(site).map_err(|e| format!("site does not fit: {e}"))
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

/// On OpenBSD the main default route moves with `route change`.
fn openbsd_default(changed: &[Route]) -> Result<(), String> {
    for route in changed.iter().filter(|r| r.table.is_none()) {
        let family = if route.family == Family::V6 { "-inet6" } else { "-inet" };
        match route.nexthops.first().and_then(|h| h.gateway) {
            Some(gw) => run_logged(&["route", "-n", "change", family, "default", &gw.to_string()]),
            None => run_logged(&["route", "-n", "delete", family, "default"]),
        }
    }
    Ok(())
}

fn run_logged(args: &[&str]) {
    match Command::new(args[0]).args(&args[1..]).output() {
        Ok(out) if out.status.success() => info!(target: "apply", "{}", args.join(" ")),
        Ok(out) => warn!(target: "apply", "{} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => warn!(target: "apply", "cannot run {}: {e}", args[0]),
    }
}
