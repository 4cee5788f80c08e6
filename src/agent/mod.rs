//! `wanc agent`: runs on the router with nothing but the policy bytecode.
//! It probes every uplink itself, switches states, applies the policy, runs
//! the actions, and takes a new policy without a restart.
//!
//! One thread per check (so a check never overlaps itself and a slow one
//! delays no other), one per link watch, one for signals, one for the
//! control socket; all report to the main loop, which alone owns the state.

mod actions;
pub mod apply;
mod control;
mod feed;
mod health;
mod metrics;
mod nftables;
mod probe;
pub mod status;
mod systemd;
mod tls;

pub use control::{ask, Request};
pub use probe::Outcome;

use crate::ir::{Check, Probe, Site};
use crate::plugin::{LoadedPlugin, PluginHost};
use apply::{Applier, BackendKind};
use health::{uplink_healthy, CheckState};
use probe::{Prober, Source};
use status::{Answer, CheckStatus, Reloaded, Status, Transition, UplinkStatus, Verdict};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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
    Result { key: String, outcome: Outcome },
    Link { interface: String, up: bool },
    Control(control::Incoming),
    Reload,
    Tick, // time for a watchdog ping (systemd)
    Stop,
}

/// A running check thread.
struct Running {
    key: String,
    stop: Arc<AtomicBool>,
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
    tx: Sender<Event>,
    applier: Applier,
    plugins: Arc<PluginHost>,
    tls: Arc<rustls::ClientConfig>,
    checks: Vec<Running>,
    links: Vec<Running>,
    states: HashMap<String, CheckState>,
    link_up: HashMap<String, bool>,
    /// Health per uplink, once every uplink has a verdict.
    health: Option<Vec<bool>>,
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
/// starts afresh (its thread probes with what it was started with).
fn keys(site: &Site, policy: &Path) -> Vec<Vec<String>> {
    site.uplinks
        .iter()
        .map(|u| {
            let from = serde_json::json!([u.name, u.interface, u.addresses]);
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

pub fn load(path: &Path) -> Result<Site, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    crate::bytecode::decode(&bytes).map_err(|e| format!("`{}`: {e}", path.display()))
}

pub fn run(options: Options) -> Result<(), String> {
    let site = Arc::new(load(&options.policy)?);
    let (tx, rx) = channel();
    let plugins = Arc::new(PluginHost::new().map_err(|e| format!("cannot start the plugin host: {e}"))?);
    let tls = tls::client_config(options.ca_file.as_deref())?;
    let applier = Applier::new(options.backend)?;
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
        keys: keys(&site, &options.policy),
        options,
        watched,
        site,
        tx,
        applier,
        plugins,
        tls,
        checks: Vec::new(),
        links: Vec::new(),
        states: HashMap::new(),
        link_up: HashMap::new(),
        health: None,
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
    let result = match agent.applier.setup(&agent.site) {
        Ok(()) => {
            agent.start_probes();
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
                Event::Link { interface, up } => {
                    if self.link_up.insert(interface.clone(), up) != Some(up) {
                        info!(interface, up, "link");
                        self.recompute();
                    }
                }
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

    /// Uplink health from the verdicts; the state from the health; actions
    /// and the kernel from both. Nothing is decided until every uplink has
    /// a verdict.
    fn recompute(&mut self) {
        let mut health = Vec::with_capacity(self.site.uplinks.len());
        for (up, keys) in self.site.uplinks.iter().zip(&self.keys) {
            if up.checks.is_empty() {
                match self.link_up.get(&up.interface) {
                    Some(v) => health.push(*v),
                    None => return,
                }
                continue;
            }
            let verdicts: Vec<Option<bool>> = keys.iter().map(|k| self.states.get(k).and_then(|s| s.verdict)).collect();
            if verdicts.iter().any(Option::is_none) {
                return;
            }
            health.push(uplink_healthy(up.healthy, &verdicts));
        }
        self.metrics.health(&self.site, &health);
        let previous = self.health.replace(health.clone());
        let changed: Vec<usize> = match &previous {
            Some(prev) => (0..health.len()).filter(|&i| prev.get(i) != health.get(i)).collect(),
            None => Vec::new(),
        };
        // Why a state changes: the uplinks whose health moved, or, when
        // the health is new (start, reload), all of them.
        let words = |i: usize| format!("{} {}", self.site.uplinks[i].name, if health[i] { "up" } else { "down" });
        let reason = match previous {
            Some(_) => changed.iter().map(|&i| words(i)).collect::<Vec<_>>().join(", "),
            None => format!("health {}", (0..health.len()).map(words).collect::<Vec<_>>().join(", ")),
        };
        self.move_state(previous.as_ref() != Some(&health), &health, reason);
        // Uplink actions after the new routes and marks are in place: a
        // `flush states` must not see connections re-marked for the uplink
        // that just failed.
        for i in changed {
            self.uplink_changed(i, health[i], &health);
        }
    }

    /// Picks the state for `health` and applies it (again, when the health
    /// moved within the state or an earlier apply failed).
    fn move_state(&mut self, health_moved: bool, health: &[bool], reason: String) {
        let next = self.site.states.iter().position(|s| s.when.eval(&|u| health.get(u).copied().unwrap_or(false)));
        let Some(next) = next else {
            warn!("no state matches; keeping the current one");
            return;
        };
        let site = self.site.clone();
        if self.state != Some(next) {
            let old = self.state.map(|s| site.states[s].name.clone());
            if let Some(old) = self.state {
                let ctx = actions::Context { uplink: None, state: Some(&site.states[old].name), event: "exit" };
                actions::run(&site.states[old].on_exit, &ctx, &mut self.notifier, &mut |_| {});
            }
            self.state = Some(next);
            self.since = SystemTime::now();
            let started = Instant::now();
            let result = self.applier.apply(next, health);
            let took = started.elapsed();
            self.dirty = result.is_err();
            self.metrics.apply(took, result.is_ok());
            self.metrics.transition(old.as_deref(), &site.states[next].name);
            self.remember(old.clone(), &site.states[next].name, reason);
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
            let ctx = actions::Context { uplink: None, state: Some(&site.states[next].name), event: "enter" };
            actions::run(&site.states[next].on_enter, &ctx, &mut self.notifier, &mut |_| {});
        } else if health_moved || self.dirty {
            // Same state, other live health: members the state leaves open
            // move. Or the last apply failed: try again.
            let started = Instant::now();
            let result = self.applier.apply(next, health);
            self.dirty = result.is_err();
            self.metrics.apply(started.elapsed(), result.is_ok());
            match result {
                Ok(0) => {}
                Ok(changes) => info!(state = site.states[next].name, changes, "refreshed"),
                Err(e) => error!("applying the state failed, will retry: {e}"),
            }
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
        // Flushing the failed uplink's connections only helps when another
        // uplink can take them; with none healthy it would only cut them.
        // Another uplink's (failback, when this one comes up) go to this one.
        let others_healthy = health.iter().enumerate().any(|(j, h)| j != i && *h);
        let applier = &mut self.applier;
        actions::run(list, &ctx, &mut self.notifier, &mut |target| {
            if target != i || others_healthy {
                applier.flush(target);
            } else {
                info!(uplink = site.uplinks[i].name, "not flushing states: no other uplink is healthy");
            }
        });
    }

    fn start_probes(&mut self) {
        let mut wanted: Vec<(String, usize, Check)> = Vec::new();
        for (i, up) in self.site.uplinks.iter().enumerate() {
            for (j, c) in up.checks.iter().enumerate() {
                wanted.push((self.keys[i][j].clone(), i, c.clone()));
            }
        }
        let keep: Vec<String> = wanted.iter().map(|(k, _, _)| k.clone()).collect();
        let (kept, stopped): (Vec<Running>, Vec<Running>) =
            std::mem::take(&mut self.checks).into_iter().partition(|r| keep.contains(&r.key));
        for r in &stopped {
            r.stop.store(true, Ordering::Relaxed);
            self.states.remove(&r.key);
        }
        self.checks = kept;
        for (key, i, check) in wanted {
            if self.checks.iter().any(|r| r.key == key) {
                continue;
            }
            let up = &self.site.uplinks[i];
            let source = Source { interface: up.interface.clone(), v4: up.address(false), v6: up.address(true) };
            let plugin = self.plugin_for(&check);
            let stop = Arc::new(AtomicBool::new(false));
            let probing = Probing { source, plugins: self.plugins.clone(), plugin, tls: self.tls.clone() };
            spawn_check(key.clone(), check, probing, stop.clone(), self.tx.clone());
            self.checks.push(Running { key, stop });
        }
        // Uplinks without checks are healthy while their link is up.
        let interfaces: Vec<String> =
            self.site.uplinks.iter().filter(|u| u.checks.is_empty()).map(|u| u.interface.clone()).collect();
        let (kept, stopped): (Vec<Running>, Vec<Running>) =
            std::mem::take(&mut self.links).into_iter().partition(|r| interfaces.contains(&r.key));
        for r in stopped {
            r.stop.store(true, Ordering::Relaxed);
        }
        self.links = kept;
        for interface in interfaces {
            if !self.links.iter().any(|r| r.key == interface) {
                let stop = Arc::new(AtomicBool::new(false));
                spawn_link_watch(interface.clone(), stop.clone(), self.tx.clone());
                self.links.push(Running { key: interface, stop });
            }
        }
    }

    fn plugin_for(&self, check: &Check) -> Option<Arc<LoadedPlugin>> {
        let Probe::Plugin { plugin, .. } = &check.probe else { return None };
        let p = self.site.plugins.iter().find(|p| &p.name == plugin)?;
        let path = beside(&self.options.policy, &p.path);
        match self.plugins.load(&path) {
            Ok(loaded) => Some(Arc::new(loaded)),
            Err(e) => {
                warn!("cannot load plugin `{plugin}` from `{}`: {e}", path.display());
                None
            }
        }
    }

    fn stop_probes(&mut self) {
        for r in self.checks.iter().chain(&self.links) {
            r.stop.store(true, Ordering::Relaxed);
        }
    }

    /// Verifies and takes a new policy; on any problem the running one stays.
    /// Another site's policy is refused unless `force`: a folder mixed up
    /// on the router must not switch what the router is.
    fn reload(&mut self, file: Option<PathBuf>, force: bool) -> Result<Reloaded, String> {
        let path = file.unwrap_or_else(|| self.options.policy.clone());
        let started = Instant::now();
        let new = load(&path).and_then(|site| match site.name == self.site.name || force {
            true => Ok(site),
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
        let old = std::mem::replace(&mut self.site, Arc::new(new));
        let old_keys = std::mem::replace(&mut self.keys, keys(&self.site, &path));
        if let Err(e) = self.applier.setup(&self.site) {
            error!("reload: setting up the new policy failed, going back: {e}");
            self.site = old;
            self.keys = old_keys;
            let _ = self.applier.setup(&self.site);
            self.metrics.reload(started.elapsed(), false);
            return Err(e);
        }
        self.metrics.site(&self.site);
        // Before the probes start: their plugins are found beside it.
        self.options.policy = path.clone();
        let before: Vec<String> = self.checks.iter().map(|r| r.key.clone()).collect();
        self.start_probes();
        let kept = self.checks.iter().filter(|r| before.contains(&r.key)).count();
        let started_new = self.checks.len() - kept;
        if let Ok(mut watched) = self.watched.lock() {
            *watched = path;
        }
        // The state index may mean another state now: decide afresh.
        let previous_state = self.state.map(|s| old.states[s].name.clone());
        self.state = previous_state.and_then(|name| self.site.states.iter().position(|s| s.name == name));
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
                let why = if up.checks.is_empty() {
                    format!("link {}", if self.link_up.get(&up.interface).copied().unwrap_or(false) { "up" } else { "down" })
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

pub fn describe(check: &Check) -> String {
    match &check.probe {
        Probe::Ping { target } => format!("ping {target}"),
        Probe::Tcp { target, port } => format!("tcp {target}:{port}"),
        Probe::Http { url, .. } => format!("http {url}"),
        Probe::Dns { server, query } => format!("dns {server} {query}"),
        Probe::Plugin { plugin, .. } => format!("plugin {plugin}"),
    }
}

/// What a check thread probes with, owned by the thread.
struct Probing {
    source: Source,
    plugins: Arc<PluginHost>,
    plugin: Option<Arc<LoadedPlugin>>,
    tls: Arc<rustls::ClientConfig>,
}

fn spawn_check(key: String, check: Check, probing: Probing, stop: Arc<AtomicBool>, tx: Sender<Event>) {
    std::thread::spawn(move || {
        let every = Duration::from_millis(check.every_ms.max(1));
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let prober = Prober {
                source: &probing.source,
                plugins: &probing.plugins,
                plugin: probing.plugin.as_deref(),
                tls: &probing.tls,
            };
            let outcome = prober.run(&check);
            if stop.load(Ordering::Relaxed) || tx.send(Event::Result { key: key.clone(), outcome }).is_err() {
                return;
            }
            // The next round starts one interval after this one started, or
            // at once if this one overran: rounds never overlap.
            next += every;
            let now = Instant::now();
            if next < now {
                next = now;
            }
            sleep_until(next, &stop);
        }
    });
}

fn spawn_link_watch(interface: String, stop: Arc<AtomicBool>, tx: Sender<Event>) {
    std::thread::spawn(move || {
        // Its own socket: the main loop's applier owns the other one.
        let mut netlink = crate::netlink::Netlink::open().ok();
        while !stop.load(Ordering::Relaxed) {
            let up = netlink.as_mut().is_some_and(|nl| nl.link_up(&interface).unwrap_or(false));
            if tx.send(Event::Link { interface: interface.clone(), up }).is_err() {
                return;
            }
            sleep_until(Instant::now() + Duration::from_millis(500), &stop);
        }
    });
}

/// Sleeps in short steps so a stop request is seen within 50 ms.
fn sleep_until(deadline: Instant, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { return };
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
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
