//! `wanc agent`: runs on the router with nothing but the policy bytecode.
//! It probes every uplink itself, switches states, applies the policy, runs
//! the actions, and takes a new policy without a restart.
//!
//! The probe scheduler's few threads for all checks (`schedule`), one
//! following the kernel's link, address and route notifications (`kernel`),
//! one for signals, one for the control socket; all report to the main
//! loop, which alone owns the state.

mod actions;
pub mod apply;
mod control;
mod feed;
mod kernel;
mod metrics;
mod nftables;
mod probe;
mod schedule;
pub mod status;
mod systemd;
mod threads;
mod tls;

pub use crate::decide::Outcome;
pub use control::{ask, Request};

use crate::decide::{self, describe, CheckState, Effect};
use crate::ir::Family;
use crate::ir::{Check, Probe, Site};
use crate::lower::linux::Learned;
use crate::plugin::PluginHost;
use apply::{Applier, BackendKind};
use probe::Source;
use schedule::{Job, Scheduler};
use status::{Answer, CheckStatus, Reloaded, Status, Transition, UplinkStatus, Verdict};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tracing::{error, info, warn};

pub struct Options {
    pub policy: PathBuf,
    pub backend: BackendKind,
    pub control: PathBuf,
    /// Permissions of the control socket.
    pub control_mode: u32,
    pub notify_command: Option<String>,
    /// Reload when the policy file changes.
    pub watch: bool,
    /// Extra trust anchors for https checks, besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Start `run` actions and the notify command even in a dry run.
    pub run_actions: bool,
    /// Where to serve Prometheus metrics.
    pub metrics: Option<std::net::SocketAddr>,
}

pub enum Event {
    Result {
        key: String,
        outcome: Outcome,
    },
    /// The kernel reported changes that may matter: read its state again.
    /// `reassert`: also put everything in place again whatever the reading
    /// (the periodic look, or notifications were lost).
    Kernel {
        reassert: bool,
    },
    Control(control::Incoming),
    Reload,
    Tick, // time for a watchdog ping (systemd)
    Stop,
}

struct Agent {
    options: Options,
    /// Shared so that the main loop can hand it to the applier and the
    /// actions while it mutates its own fields.
    site: Arc<Site>,
    /// The policy file the watcher follows.
    watched: Arc<Mutex<PathBuf>>,
    /// Per uplink, per check: the key of its history (see `keys`).
    keys: Vec<Vec<String>>,
    applier: Applier,
    probes: Scheduler,
    states: HashMap<String, CheckState>,
    /// Where the kernel's state is read from; `None` for OpenBSD and dry
    /// runs: links are then taken as up, and nothing is learned.
    netlink: Option<crate::netlink::Netlink>,
    /// The kernel's links and leases, as last read.
    view: kernel::View,
    /// Health per uplink, once every uplink has a verdict.
    health: Option<Vec<bool>>,
    /// After a reload, per uplink of the new policy, the health it had in
    /// the old one (by name): it stands while its new checks decide.
    carried: Vec<Option<bool>>,
    state: Option<usize>,
    /// The last apply failed; the next event retries it.
    dirty: bool,
    since: SystemTime,
    notifier: actions::Notifier,
    started: Instant,
    metrics: metrics::Metrics,
    systemd: systemd::Systemd,
    /// The last state changes, oldest first, for `wanc status`.
    transitions: VecDeque<Transition>,
}

/// How many state changes `wanc status` shows.
const TRANSITIONS: usize = 16;

/// The key under which a check's history lives: its uplink, where it is
/// sent from, its whole definition and its plugin's file, so a check none
/// of whose inputs changed keeps its history across a reload, and any other
/// starts afresh (its probes go with what it was started with).
fn keys(site: &Site, learned: &Learned, policy: &Path) -> Vec<Vec<String>> {
    site.uplinks
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let source = sources(site, learned, i);
            let from = serde_json::json!([u.name, u.interface, source.v4, source.v6]);
            u.checks
                .iter()
                .map(|c| {
                    let plugin = match &c.probe {
                        Probe::Plugin { plugin, .. } => {
                            site.plugins.iter().find(|p| &p.name == plugin).map(|p| beside(policy, &p.path))
                        }
                        _ => None,
                    };
                    serde_json::json!([from, c, plugin]).to_string()
                })
                .collect()
        })
        .collect()
}

/// Where uplink `u`'s probes leave from: its interface, and its address
/// per family, given or learned.
fn sources(site: &Site, learned: &Learned, u: usize) -> Source {
    let from = |f| kernel::source(site, learned, u, f);
    Source { interface: site.uplinks[u].interface.clone(), v4: from(Family::V4), v6: from(Family::V6) }
}

/// Whether the platform can run the site: on OpenBSD the agent reads no
/// leases (it has no view of the kernel there), so a site that learns an
/// address or gateway is for ifstated.conf, which reads them itself.
fn runs_on(site: &Site, backend: BackendKind) -> Result<(), String> {
    match site.uplinks.iter().find(|u| u.learns()) {
        Some(up) if backend == BackendKind::Openbsd => Err(format!(
            "uplink `{}` learns its address or gateway, which the agent does not follow on OpenBSD yet: run ifstated.conf of `wanc build --target openbsd` instead",
            up.name
        )),
        _ => Ok(()),
    }
}

pub fn load(path: &Path) -> Result<Site, String> {
    let bytes = crate::input::read(path, crate::input::POLICY).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    crate::bytecode::decode(&bytes).map_err(|e| format!("`{}`: {e}", path.display()))
}

pub fn run(options: Options) -> Result<(), String> {
    let site = Arc::new(load(&options.policy)?);
    runs_on(&site, options.backend)?;
    let (tx, rx) = channel();
    let plugins = Arc::new(PluginHost::new().map_err(|e| format!("cannot start the plugin host: {e}"))?);
    let tls = tls::client_config(options.ca_file.as_deref())?;
    let probes = Scheduler::start(tx.clone(), plugins, tls)?;
    let applier = Applier::new(options.backend)?;
    // Only the Linux platform follows this machine's kernel: a dry run
    // describes a router, not the machine it runs on.
    let mut netlink = match options.backend {
        BackendKind::Linux => crate::netlink::Netlink::open().map_err(|e| warn!("cannot read the kernel's links: {e}")).ok(),
        BackendKind::Openbsd | BackendKind::DryRun => None,
    };
    let view = match &mut netlink {
        Some(nl) => kernel::read(nl, &site).map_err(|e| format!("cannot read the kernel's links: {e}"))?,
        None => kernel::View::default(),
    };
    if netlink.is_some() {
        watch_kernel(tx.clone());
    }
    control::listen(&options.control, options.control_mode, tx.clone())
        .map_err(|e| format!("cannot listen on `{}`: {e}", options.control.display()))?;
    watch_signals(tx.clone())?;
    let watched = Arc::new(Mutex::new(options.policy.clone()));
    if options.watch {
        watch_file(watched.clone(), tx.clone());
    }
    let execute = options.backend != BackendKind::DryRun || options.run_actions;
    let notifier = actions::Notifier::new(options.notify_command.clone(), execute);
    let metrics = metrics::Metrics::new();
    metrics.site(&site);
    if let Some(addr) = options.metrics {
        let bound = metrics.serve(addr).map_err(|e| format!("cannot serve metrics on `{addr}`: {e}"))?;
        info!(%bound, "serving metrics at /metrics");
    }
    let systemd = systemd::Systemd::start(tx.clone());
    let mut agent = Agent {
        keys: keys(&site, &view.learned, &options.policy),
        options,
        watched,
        site,
        applier,
        probes,
        states: HashMap::new(),
        netlink,
        view,
        health: None,
        carried: Vec::new(),
        state: None,
        dirty: false,
        since: SystemTime::now(),
        notifier,
        started: Instant::now(),
        metrics,
        systemd,
        transitions: VecDeque::new(),
    };
    info!(site = agent.site.name, uplinks = agent.site.uplinks.len(), states = agent.site.states.len(), "starting");
    agent.log_view(&kernel::View::default());
    let result = match agent.applier.setup(&agent.site, agent.view.learned.clone()) {
        Ok(()) => {
            agent.start_probes();
            // Uplinks without checks are decided by their links alone, now.
            agent.recompute();
            agent.main_loop(rx)
        }
        Err(e) => Err(e),
    };
    agent.systemd.stopping();
    agent.stop_probes();
    if let Err(e) = agent.applier.teardown() {
        error!("teardown: {e}");
    }
    let _ = std::fs::remove_file(&agent.options.control);
    info!("stopped");
    result
}

impl Agent {
    fn main_loop(&mut self, rx: Receiver<Event>) -> Result<(), String> {
        while let Ok(event) = rx.recv() {
            match event {
                Event::Result { key, outcome } => self.result(&key, outcome),
                Event::Kernel { reassert } => self.kernel_changed(reassert),
                Event::Control(incoming) => {
                    let reply = match incoming.request {
                        Request::Status => Ok(Answer::Status(self.status())),
                        Request::Reload { file, force } => self.reload(file, force).map(Answer::Reloaded),
                    };
                    let _ = incoming.reply.send(reply);
                }
                Event::Reload => {
                    // Its outcome is logged; no one asked for an answer.
                    let _ = self.reload(None, false);
                }
                Event::Tick => self.systemd.ping(),
                Event::Stop => return Ok(()),
            }
        }
        Ok(())
    }

    fn result(&mut self, key: &str, outcome: Outcome) {
        let Some((uplink, check)) = self.find_check(key) else { return };
        let state = self.states.entry(key.to_string()).or_default();
        // Once per shortage, not once per round of every check.
        if outcome.local && !state.last.back().is_some_and(|o| o.local) {
            warn!(uplink, check = %describe(&check), detail = outcome.detail, "probe not made, no sample");
        }
        let changed = state.record(&check, outcome.clone());
        self.metrics.check(&uplink, &describe(&check), &outcome, state.verdict);
        if let Some(verdict) = changed {
            info!(uplink, check = %describe(&check), verdict = if verdict { "up" } else { "down" }, detail = outcome.detail, "check");
            self.recompute();
        }
    }

    fn find_check(&self, key: &str) -> Option<(String, Check)> {
        self.keys.iter().enumerate().find_map(|(u, ks)| {
            let c = ks.iter().position(|k| k == key)?;
            let up = &self.site.uplinks[u];
            Some((up.name.clone(), up.checks[c].clone()))
        })
    }

    /// The kernel reported something: read its state again. A link or
    /// lease that changed moves health, re-keys the uplink (rules, routes,
    /// NAT, probe sources); whatever happened, everything wanc put in place
    /// is put in place again (the kernel drops routes with their link, or
    /// someone deleted a rule): each object is replaced, so this is
    /// idempotent, and costs one netlink batch.
    fn kernel_changed(&mut self, reassert: bool) {
        let Some(nl) = &mut self.netlink else { return };
        let view = match kernel::read(nl, &self.site) {
            Ok(view) => view,
            Err(e) => {
                warn!("cannot read the kernel's state, keeping the last reading: {e}");
                return;
            }
        };
        let old = std::mem::replace(&mut self.view, view);
        // wanc's own changes come back as notifications too: acting only on
        // a changed reading (or the periodic look) keeps that from looping.
        if old == self.view && !reassert {
            return;
        }
        self.log_view(&old);
        if old.learned != self.view.learned {
            if let Err(e) = self.applier.learn(self.view.learned.clone()) {
                error!("applying the learned values failed, will retry: {e}");
            }
            self.keys = keys(&self.site, &self.view.learned, &self.options.policy);
            self.start_probes();
        }
        self.applier.forget();
        self.dirty = true;
        self.recompute();
    }

    /// Logs what changed between two readings of the kernel.
    fn log_view(&self, old: &kernel::View) {
        for (u, up) in self.site.uplinks.iter().enumerate() {
            let now = self.view.links.get(u).copied().flatten();
            if old.links.get(u).copied().flatten() != now || old.links.len() != self.view.links.len() {
                let link = match now {
                    None => "missing",
                    Some(true) => "up",
                    Some(false) => "down",
                };
                info!(uplink = up.name, interface = up.interface, link, "link");
            }
            for family in crate::ir::Family::BOTH {
                let (was, is) = (old.learned.lease(u, family), self.view.learned.lease(u, family));
                if was != is {
                    let show = |a: Option<std::net::IpAddr>| a.map_or("-".to_string(), |a| a.to_string());
                    info!(
                        uplink = up.name,
                        family = family.word(),
                        address = show(is.address),
                        gateway = show(is.gateway),
                        "learned"
                    );
                }
            }
        }
    }

    /// Whether uplink `u` can carry traffic at all: its link is up and it
    /// has learned what it needs. Without a kernel view, links count as up.
    fn usable(&self, u: usize) -> bool {
        if self.netlink.is_none() {
            return true;
        }
        let up = &self.site.uplinks[u];
        let lease_ok = crate::ir::Family::BOTH.iter().all(|&f| {
            let lease = self.view.learned.lease(u, f);
            (!up.learned.contains(&f) || lease.address.is_some())
                && (!up.gateways.contains(&crate::ir::Gateway::Learned { family: f }) || lease.gateway.is_some())
        });
        self.view.link_up(u) && lease_ok
    }

    /// Uplink health from the link, the leases and the verdicts; the state
    /// from the health; actions and the kernel from both (`decide`).
    fn recompute(&mut self) {
        let verdicts =
            |u: usize| -> Vec<Option<bool>> { self.keys[u].iter().map(|k| self.states.get(k).and_then(|s| s.verdict)).collect() };
        let known = decide::Knowledge {
            usable: &|u| self.usable(u),
            verdicts: &verdicts,
            previous: self.health.as_deref(),
            carried: &self.carried,
            deciding: self.state.is_some(),
        };
        let Some(health) = decide::health(&self.site, &known) else { return };
        self.metrics.health(&self.site, &health);
        let step = decide::step(&self.site, self.state, self.health.as_deref(), &health, self.dirty);
        self.health = Some(health.clone());
        let site = self.site.clone();
        for effect in step.effects {
            match effect {
                Effect::NoState => warn!("no state matches; keeping the current one"),
                Effect::Exit(old) => {
                    let ctx = actions::Context { uplink: None, state: Some(&site.states[old].name), event: "exit" };
                    actions::run(&site.states[old].on_exit, &ctx, &mut self.notifier, &mut |_| {});
                }
                Effect::Apply { state, entered: true } => self.enter(state, &health, &step.reason),
                Effect::Apply { state, entered: false } => self.refresh(state, &health),
                Effect::Enter(state) => {
                    let ctx = actions::Context { uplink: None, state: Some(&site.states[state].name), event: "enter" };
                    actions::run(&site.states[state].on_enter, &ctx, &mut self.notifier, &mut |_| {});
                }
                Effect::Uplink { uplink, up } => self.uplink_changed(uplink, up, &health),
            }
        }
    }

    /// Puts a new state in place.
    fn enter(&mut self, next: usize, health: &[bool], reason: &str) {
        let site = self.site.clone();
        let old = self.state.map(|s| site.states[s].name.clone());
        self.state = Some(next);
        self.since = SystemTime::now();
        let started = Instant::now();
        let result = self.applier.apply(next, health);
        let took = started.elapsed();
        self.dirty = result.is_err();
        self.metrics.apply(took, result.is_ok());
        self.metrics.transition(old.as_deref(), &site.states[next].name);
        self.remember(old.clone(), &site.states[next].name, reason.to_string());
        match result {
            Ok(changes) => info!(
                from = old.as_deref().unwrap_or("-"),
                to = site.states[next].name,
                changes,
                apply_us = took.as_micros() as u64,
                "state"
            ),
            Err(e) => error!(to = site.states[next].name, "applying the state failed: {e}"),
        }
        if !self.dirty {
            self.systemd.state(&site.states[next].name);
        }
    }

    /// Same state, other live health: members the state leaves open move.
    /// Or the last apply failed: try again.
    fn refresh(&mut self, state: usize, health: &[bool]) {
        let started = Instant::now();
        let result = self.applier.apply(state, health);
        self.dirty = result.is_err();
        self.metrics.apply(started.elapsed(), result.is_ok());
        match result {
            Ok(0) => {}
            Ok(changes) => info!(state = self.site.states[state].name, changes, "refreshed"),
            Err(e) => error!("applying the state failed, will retry: {e}"),
        }
    }

    fn remember(&mut self, from: Option<String>, to: &str, reason: String) {
        let at = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if self.transitions.len() == TRANSITIONS {
            self.transitions.pop_front();
        }
        self.transitions.push_back(Transition { at, from, to: to.to_string(), reason });
    }

    fn uplink_changed(&mut self, i: usize, up: bool, health: &[bool]) {
        let site = self.site.clone();
        let uplink = &site.uplinks[i];
        info!(uplink = uplink.name, healthy = up, "uplink");
        let (list, event) = if up { (&uplink.on_up, "up") } else { (&uplink.on_down, "down") };
        let ctx = actions::Context { uplink: Some(&uplink.name), state: None, event };
        let applier = &mut self.applier;
        actions::run(list, &ctx, &mut self.notifier, &mut |target| {
            if decide::may_flush(target, i, health) {
                applier.flush(target);
            } else {
                info!(uplink = site.uplinks[i].name, "not flushing states: no other uplink is healthy");
            }
        });
    }

    /// Runs the site's checks (see `Scheduler::set`), from the addresses
    /// given or learned; returns how many checks were kept and how many
    /// started.
    fn start_probes(&mut self) -> (usize, usize) {
        let mut jobs = Vec::new();
        for (u, (up, keys)) in self.site.uplinks.iter().zip(&self.keys).enumerate() {
            let source = sources(&self.site, &self.view.learned, u);
            for (check, key) in up.checks.iter().zip(keys) {
                let plugin = match &check.probe {
                    // Named relative to the policy file (`wanc build` copies
                    // the plugins beside it), not to the working directory.
                    Probe::Plugin { plugin, .. } => {
                        self.site.plugins.iter().find(|p| &p.name == plugin).map(|p| beside(&self.options.policy, &p.path))
                    }
                    _ => None,
                };
                jobs.push(Job { key: key.clone(), check: check.clone(), source: source.clone(), plugin });
            }
        }
        self.states.retain(|key, _| jobs.iter().any(|j| &j.key == key));
        self.probes.set(jobs)
    }

    fn stop_probes(&mut self) {
        self.probes.stop();
    }

    /// Verifies and takes a new policy; on any problem the running one stays.
    /// Another site's policy is refused unless `force`: a folder mixed up
    /// on the router must not switch what the router is.
    fn reload(&mut self, file: Option<PathBuf>, force: bool) -> Result<Reloaded, String> {
        let path = file.unwrap_or_else(|| self.options.policy.clone());
        let started = Instant::now();
        let new = load(&path).and_then(|site| match site.name == self.site.name || force {
            true => runs_on(&site, self.options.backend).map(|()| site),
            false => Err(format!(
                "`{}` is the policy of site `{}`, this agent runs site `{}` (`wanc reload --force` switches sites)",
                path.display(),
                site.name,
                self.site.name
            )),
        });
        let new = match new {
            Ok(site) => site,
            Err(e) => {
                warn!("reload refused, keeping the running policy: {e}");
                self.metrics.reload(started.elapsed(), false);
                return Err(e);
            }
        };
        // The kernel as the new site sees it (other interfaces, leases).
        let view = match &mut self.netlink {
            Some(nl) => match kernel::read(nl, &new) {
                Ok(view) => view,
                Err(e) => {
                    let e = format!("reload refused, cannot read the kernel's links: {e}");
                    warn!("{e}");
                    self.metrics.reload(started.elapsed(), false);
                    return Err(e);
                }
            },
            None => kernel::View::default(),
        };
        let old = std::mem::replace(&mut self.site, Arc::new(new));
        let old_view = std::mem::replace(&mut self.view, view);
        let old_keys = std::mem::replace(&mut self.keys, keys(&self.site, &self.view.learned, &path));
        if let Err(e) = self.applier.setup(&self.site, self.view.learned.clone()) {
            error!("reload: setting up the new policy failed, going back: {e}");
            self.site = old;
            self.keys = old_keys;
            self.view = old_view;
            let _ = self.applier.setup(&self.site, self.view.learned.clone());
            self.metrics.reload(started.elapsed(), false);
            return Err(e);
        }
        self.metrics.site(&self.site);
        // Before the probes start: their plugins are found beside it.
        self.options.policy = path.clone();
        let (kept, started_new) = self.start_probes();
        if let Ok(mut watched) = self.watched.lock() {
            *watched = path;
        }
        // The state index may mean another state now: decide afresh.
        let previous_state = self.state.map(|s| old.states[s].name.clone());
        self.state = previous_state.and_then(|name| self.site.states.iter().position(|s| s.name == name));
        let was =
            |name: &str| old.uplinks.iter().position(|u| u.name == name).and_then(|i| self.health.as_ref()?.get(i).copied());
        self.carried = self.site.uplinks.iter().map(|u| was(&u.name)).collect();
        self.health = None;
        self.recompute();
        let took = started.elapsed();
        self.metrics.reload(took, true);
        info!(kept, started = started_new, reload_us = took.as_micros() as u64, "reloaded");
        Ok(Reloaded {
            site: self.site.name.clone(),
            checks_kept: kept,
            checks_started: started_new,
            state: self.state_name(),
            reload_us: took.as_micros() as u64,
        })
    }

    fn state_name(&self) -> Option<String> {
        self.state.map(|s| self.site.states[s].name.clone())
    }

    fn status(&self) -> Status {
        let since = self.since.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let uplinks = self
            .site
            .uplinks
            .iter()
            .enumerate()
            .map(|(i, up)| {
                let checks = up
                    .checks
                    .iter()
                    .zip(&self.keys[i])
                    .map(|(c, key)| {
                        let st = self.states.get(key).cloned().unwrap_or_default();
                        CheckStatus {
                            check: describe(c),
                            verdict: st.verdict.map(Verdict::of),
                            consecutive_ok: st.consecutive_ok,
                            consecutive_fail: st.consecutive_fail,
                            rise: c.rise,
                            fall: c.fall,
                            last: st.last.into(),
                        }
                    })
                    .collect();
                let why = if !self.usable(i) {
                    match self.view.links.get(i).copied().flatten() {
                        None => "interface missing".to_string(),
                        Some(false) => "link down".to_string(),
                        Some(true) => "waiting for a lease".to_string(),
                    }
                } else if up.checks.is_empty() {
                    "link up".to_string()
                } else {
                    format!("healthy when {:?} of {} checks", up.healthy, up.checks.len()).to_lowercase()
                };
                UplinkStatus {
                    name: up.name.clone(),
                    interface: up.interface.clone(),
                    healthy: self.health.as_ref().map(|h| h[i]),
                    why,
                    checks,
                }
            })
            .collect();
        Status {
            site: self.site.name.clone(),
            policy: self.options.policy.display().to_string(),
            state: self.state_name(),
            since,
            uptime_s: self.started.elapsed().as_secs(),
            uplinks,
            transitions: self.transitions.iter().cloned().collect(),
        }
    }
}

/// A path the policy names, such as a plugin's (`plugins/NAME.wasm` in a
/// built folder), taken from the policy file's folder: the agent finds
/// what came with the policy wherever the folder was moved and whatever its
/// working directory.
fn beside(policy: &Path, path: &str) -> PathBuf {
    policy.parent().unwrap_or(Path::new("")).join(path)
}

/// Follows the kernel's link, address and route notifications, and looks
/// every `RECONCILE` whatever it says: the main loop reads the kernel again.
fn watch_kernel(tx: Sender<Event>) {
    const RECONCILE: Duration = Duration::from_secs(10);
    std::thread::spawn(move || {
        let mut watcher = match crate::netlink::Watcher::open() {
            Ok(w) => Some(w),
            Err(e) => {
                error!("cannot follow the kernel's notifications, reading it every {RECONCILE:?} instead: {e}");
                None
            }
        };
        let mut last = Instant::now();
        loop {
            let (news, lost) = match &mut watcher {
                Some(w) => match w.recv(Duration::from_millis(500)) {
                    Ok(events) => {
                        (kernel::matters(&events), events.iter().any(|e| matches!(e, crate::netlink::KernelEvent::Lost)))
                    }
                    Err(e) => {
                        warn!("kernel notifications: {e}");
                        std::thread::sleep(Duration::from_millis(500));
                        (true, true)
                    }
                },
                None => {
                    std::thread::sleep(Duration::from_millis(500));
                    (false, false)
                }
            };
            let periodic = last.elapsed() >= RECONCILE;
            if news || periodic {
                if periodic {
                    last = Instant::now();
                }
                if tx.send(Event::Kernel { reassert: periodic || lost }).is_err() {
                    return;
                }
            }
        }
    });
}

fn watch_signals(tx: Sender<Event>) -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGINT, SIGTERM]).map_err(|e| format!("signals: {e}"))?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let event = if signal == SIGHUP { Event::Reload } else { Event::Stop };
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// Reloads when the policy file's modification time or size changes.
/// The path is shared with the main loop: after `wanc reload FILE` the
/// agent runs FILE, and FILE is what is watched.
fn watch_file(path: Arc<Mutex<PathBuf>>, tx: Sender<Event>) {
    std::thread::spawn(move || {
        let stamp = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.modified().ok(), m.len()));
        let current = || path.lock().map(|p| p.clone()).unwrap_or_default();
        let mut watched = current();
        let mut last = stamp(&watched);
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let now_path = current();
            let now = stamp(&now_path);
            if now_path != watched {
                (watched, last) = (now_path, now);
                continue;
            }
            if now != last {
                last = now;
                if tx.send(Event::Reload).is_err() {
                    return;
                }
            }
        }
    });
}
