//! The probe scheduler: every check's rounds on a fixed schedule, with the
//! same few threads whatever the number of checks. One event loop sends the
//! echoes and starts the connections of ping and tcp checks without
//! blocking and waits for them with poll(2); a small pool of workers runs
//! what blocks by nature (HTTP(S) over rustls, DNS, WASM plugins, resolving
//! a hostname target).
//!
//! Round `n` of a check starts at `start + n × every`, never waiting for
//! round `n - 1`. A round ends when its replies are in, or is lost when they
//! are overdue: at its timeout, when the next round is due, or when the last
//! good round is `fall × every` old (plus its round trip, for jitter),
//! whichever comes first. So a dead uplink is judged down `every × fall`
//! after its last good reply, as BFD judges a session down `multiplier ×
//! interval` after the last packet it received (docs/language.md, § Checks).
//!
//! poll(2) through libc (a dependency already) rather than epoll or a crate
//! such as mio or polling: a socket lives for one round, so the loop builds
//! its short descriptor list afresh each turn and has nothing to register or
//! deregister; at a few hundred checks a turn costs microseconds.

use super::probe::{self, Prober, Source};
use super::Event;
use crate::decide::{self, Outcome};
use crate::ir::{Check, Probe, Target};
use crate::plugin::{LoadedPlugin, PluginHost};
use rustls::ClientConfig;
use socket2::{SockAddr, Socket};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing::warn;

/// Workers for the blocking probes. A probe holds one for a few timeouts
/// at most; a round that finds them all busy waits in the queue and, once
/// overdue, is lost like any other.
const WORKERS: usize = 4;

/// Numbers every round of every check.
static ROUNDS: AtomicU64 = AtomicU64::new(1);

/// A check to run: its key (the main loop's name for its history), the
/// check, and what it probes with.
pub struct Job {
    pub key: String,
    pub check: Check,
    pub source: Source,
    /// The plugin's file, for a plugin check.
    pub plugin: Option<PathBuf>,
}

/// The handle the main loop holds; the loop and the workers run until
/// [`Scheduler::stop`].
pub struct Scheduler {
    commands: Sender<Command>,
    wake: UnixStream,
    thread: Option<JoinHandle<()>>,
    running: HashSet<String>,
}

enum Command {
    /// Keep these checks running undisturbed, start these, stop any other.
    Set {
        keep: HashSet<String>,
        start: Vec<Spec>,
    },
    Stop,
}

/// A running check's fixed part, shared with the workers.
struct Spec {
    key: String,
    check: Check,
    source: Source,
    /// For a plugin check: its plugin, compiled on first use.
    plugin: Option<PluginSlot>,
}

/// A plugin check's plugin, compiled by the first worker that runs one of
/// its rounds. Compiling a large plugin (wasmtime's Cranelift) takes a
/// second or more: on the main loop, which starts the checks of a new
/// policy, it would hold the reload, `wanc status` and every failover
/// decision until it was done. The check's rounds share one compilation.
struct PluginSlot {
    path: PathBuf,
    loaded: OnceLock<Result<Arc<LoadedPlugin>, String>>,
}

impl PluginSlot {
    fn get(&self, host: &PluginHost) -> &Result<Arc<LoadedPlugin>, String> {
        self.loaded.get_or_init(|| {
            host.load(&self.path).map(Arc::new).map_err(|e| {
                warn!(plugin = %self.path.display(), "cannot load plugin: {e}");
                format!("cannot load plugin `{}`: {e}", self.path.display())
            })
        })
    }
}

impl Scheduler {
    /// Starts the event loop and the workers; results go to `tx`.
    pub fn start(tx: Sender<Event>, plugins: Arc<PluginHost>, tls: Arc<ClientConfig>) -> Result<Scheduler, String> {
        let fail = |e: std::io::Error| format!("cannot start the probe scheduler: {e}");
        let (wake_rx, wake) = UnixStream::pair().map_err(fail)?;
        wake_rx.set_nonblocking(true).map_err(fail)?;
        wake.set_nonblocking(true).map_err(fail)?;
        let (commands, command_rx) = channel();
        let pool = Pool::start(Tools { plugins, tls }, wake.try_clone().map_err(fail)?)?;
        let event_loop = Loop { tasks: Vec::new(), commands: command_rx, wake: wake_rx, pool, tx };
        let thread = std::thread::Builder::new().name("wanc-probes".into()).spawn(move || event_loop.run()).map_err(fail)?;
        Ok(Scheduler { commands, wake, thread: Some(thread), running: HashSet::new() })
    }

    /// Runs exactly these checks: a key already running keeps running
    /// undisturbed (with what it was started with), a new key starts, a
    /// missing one stops. Returns how many were kept and how many started.
    pub fn set(&mut self, jobs: Vec<Job>) -> (usize, usize) {
        let mut keep = HashSet::new();
        let mut start: Vec<Spec> = Vec::new();
        for job in jobs {
            if self.running.contains(&job.key) {
                keep.insert(job.key);
            } else if !start.iter().any(|s| s.key == job.key) {
                start.push(Scheduler::spec(job));
            }
        }
        let counts = (keep.len(), start.len());
        self.running = keep.iter().cloned().chain(start.iter().map(|s| s.key.clone())).collect();
        if self.commands.send(Command::Set { keep, start }).is_ok() {
            wake(&self.wake);
        }
        counts
    }

    fn spec(job: Job) -> Spec {
        let plugin = job.plugin.map(|path| PluginSlot { path, loaded: OnceLock::new() });
        Spec { key: job.key, check: job.check, source: job.source, plugin }
    }

    /// Stops every check and the event loop; a worker still inside a probe
    /// ends with it.
    pub fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            if self.commands.send(Command::Stop).is_ok() {
                wake(&self.wake);
            }
            let _ = thread.join();
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Wakes the event loop from poll. A full socket buffer means it has been
/// woken already.
fn wake(socket: &UnixStream) {
    let _ = (&*socket).write(&[1]);
}

/// What the workers need besides the check.
struct Tools {
    plugins: Arc<PluginHost>,
    tls: Arc<ClientConfig>,
}

/// Blocking work: a whole probe, or resolving a target's hostname.
type Work = Box<dyn FnOnce(&Tools) -> Finished + Send>;

enum Finished {
    Probe(Outcome),
    Resolved(Result<IpAddr, String>),
}

struct Queued {
    key: String,
    serial: u64,
    /// Past it the round is lost already, and the work is skipped.
    deadline: Instant,
    work: Work,
}

struct Done {
    key: String,
    serial: u64,
    finished: Finished,
}

struct Pool {
    queue: Sender<Queued>,
    done: Receiver<Done>,
}

impl Pool {
    fn start(tools: Tools, wake_loop: UnixStream) -> Result<Pool, String> {
        let (queue, queue_rx) = channel::<Queued>();
        let (done_tx, done) = channel();
        let queue_rx = Arc::new(Mutex::new(queue_rx));
        let tools = Arc::new(tools);
        for _ in 0..WORKERS {
            let (queue_rx, done_tx, tools) = (queue_rx.clone(), done_tx.clone(), tools.clone());
            let wake_loop = wake_loop.try_clone().map_err(|e| format!("cannot start the probe workers: {e}"))?;
            std::thread::Builder::new()
                .name("wanc-probe-worker".into())
                .spawn(move || loop {
                    // The lock is held only while waiting for work.
                    let next = match queue_rx.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok(q) = next else { return };
                    if Instant::now() >= q.deadline {
                        continue;
                    }
                    let finished = (q.work)(&tools);
                    if done_tx.send(Done { key: q.key, serial: q.serial, finished }).is_err() {
                        return;
                    }
                    wake(&wake_loop);
                })
                .map_err(|e| format!("cannot start the probe workers: {e}"))?;
        }
        Ok(Pool { queue, done })
    }
}

/// A running check.
struct Task {
    spec: Arc<Spec>,
    /// When the next round starts.
    next: Instant,
    /// When the last good round ended, and how long it took.
    last_good: Option<(Instant, Duration)>,
    /// Rounds lost since.
    lost: u32,
    /// The round's number (from `ROUNDS`), so that a worker's late answer
    /// is not taken for a later round's, nor for one of a check stopped and
    /// started again under the same key.
    serial: u64,
    round: Option<Round>,
}

struct Round {
    started: Instant,
    /// When it is overdue (see `Task::start`).
    deadline: Instant,
    stage: Stage,
}

enum Stage {
    /// A worker resolves the target's hostname.
    Resolving,
    /// A worker runs the probe.
    Working,
    Echo(Echo),
    Connect {
        socket: Socket,
        started: Instant,
        until: Instant,
    },
}

/// A ping round: `count` echo requests, one after the other, each waiting
/// for its reply up to the timeout.
struct Echo {
    socket: Socket,
    target: IpAddr,
    id: u16,
    seq: u16,
    sent: Instant,
    /// When the reply to the current request is given up.
    until: Instant,
    rtts: Vec<Duration>,
    /// Why the last request could not be sent.
    error: Option<String>,
}

impl Task {
    fn new(spec: Spec, now: Instant) -> Task {
        Task { spec: Arc::new(spec), next: now, last_good: None, lost: 0, serial: 0, round: None }
    }

    fn every(&self) -> Duration {
        millis(self.spec.check.every_ms)
    }

    fn timeout(&self) -> Duration {
        timeout(&self.spec.check)
    }

    /// Starts the round due at `self.next`; an outcome when it ended at once.
    fn start(&mut self, now: Instant, pool: &Pool) -> Option<Outcome> {
        self.serial = ROUNDS.fetch_add(1, Ordering::Relaxed);
        self.next += self.every();
        if self.next <= now {
            // Far behind (the host was suspended): restart the schedule
            // rather than send the missed rounds in a burst.
            self.next = now + self.every();
        }
        // Overdue when the next round is due, or at the detection time
        // (`decide::round_deadline`).
        let deadline = match decide::round_deadline(&self.spec.check, now, self.next, self.last_good, self.lost) {
            decide::Deadline::At(deadline) => deadline,
            decide::Deadline::Passed => {
                return Some(Outcome::fail(format!(
                    "no good round for {} × {}",
                    self.spec.check.fall,
                    crate::duration::format(self.spec.check.every_ms)
                )))
            }
        };
        self.round = Some(Round { started: now, deadline, stage: Stage::Working });
        let check = &self.spec.check;
        let target = match &check.probe {
            Probe::Ping { target } | Probe::Tcp { target, .. } => target.clone(),
            Probe::Http { url, expect } => {
                let (url, expect, timeout) = (url.clone(), *expect, self.timeout());
                return self.queue(pool, move |p| p.http(&url, expect, timeout));
            }
            Probe::Dns { server, query } => {
                let (server, query, timeout) = (*server, query.clone(), self.timeout());
                return self.queue(pool, move |p| p.dns(server, &query, timeout));
            }
            Probe::Plugin { settings, .. } => {
                let (settings, timeout, spec) = (settings.clone(), self.timeout(), self.spec.clone());
                return self.queue(pool, move |p| match &spec.plugin {
                    Some(slot) => p.plugin(slot.get(p.plugins), &settings, timeout),
                    None => Outcome::fail("the policy names no file for this plugin"),
                });
            }
        };
        match target {
            Target::Address(addr) => self.reach(addr, now),
            Target::Hostname(name) => {
                self.set_stage(Stage::Resolving);
                let work: Work = Box::new(move |_| {
                    let target = Target::Hostname(name);
                    Finished::Resolved(probe::resolve(&target).ok_or_else(|| format!("cannot resolve `{target}`")))
                });
                self.submit(pool, work)
            }
        }
    }

    fn set_stage(&mut self, stage: Stage) {
        if let Some(round) = &mut self.round {
            round.stage = stage;
        }
    }

    fn deadline(&self) -> Instant {
        self.round.as_ref().map_or(self.next, |r| r.deadline)
    }

    /// Hands a blocking probe to the workers.
    fn queue(&mut self, pool: &Pool, probe: impl FnOnce(&Prober) -> Outcome + Send + 'static) -> Option<Outcome> {
        let spec = self.spec.clone();
        let work: Work = Box::new(move |tools| {
            let prober = Prober { source: &spec.source, tls: &tools.tls, plugins: &tools.plugins };
            Finished::Probe(probe(&prober))
        });
        self.submit(pool, work)
    }

    fn submit(&mut self, pool: &Pool, work: Work) -> Option<Outcome> {
        let queued = Queued { key: self.spec.key.clone(), serial: self.serial, deadline: self.deadline(), work };
        match pool.queue.send(queued) {
            Ok(()) => None,
            Err(_) => Some(Outcome::fail("the probe workers have stopped")),
        }
    }

    /// Sends the first echo or starts the connection to `addr`.
    fn reach(&mut self, addr: IpAddr, now: Instant) -> Option<Outcome> {
        let until = (now + self.timeout()).min(self.deadline());
        let stage = match &self.spec.check.probe {
            Probe::Tcp { port, .. } => match self.spec.source.start_connect(SocketAddr::new(addr, *port)) {
                Ok(socket) => Stage::Connect { socket, started: now, until },
                Err(e) => return Some(Outcome::fail(e)),
            },
            _ => match self.spec.source.echo_socket(addr) {
                Ok(socket) => {
                    let mut echo = Echo {
                        socket,
                        target: addr,
                        id: probe::random_u16(),
                        seq: 0,
                        sent: now,
                        until,
                        rtts: Vec::new(),
                        error: None,
                    };
                    echo.send(now);
                    Stage::Echo(echo)
                }
                Err(e) => return Some(Outcome::fail(e)),
            },
        };
        self.set_stage(stage);
        None
    }

    /// A worker's answer for round `serial`.
    fn finished(&mut self, serial: u64, finished: Finished, now: Instant) -> Option<Outcome> {
        if serial != self.serial || self.round.is_none() {
            return None;
        }
        match finished {
            Finished::Probe(outcome) => Some(outcome),
            Finished::Resolved(Ok(addr)) => self.reach(addr, now),
            Finished::Resolved(Err(e)) => Some(Outcome::fail(e)),
        }
    }

    /// Ends what is overdue at `now`: the round, or the current echo.
    fn expire(&mut self, now: Instant) -> Option<Outcome> {
        let round = self.round.as_mut()?;
        let overdue = now >= round.deadline;
        match &mut round.stage {
            Stage::Echo(echo) if overdue || now >= echo.until => echo.next(&self.spec.check, now, round.deadline),
            Stage::Connect { until, .. } if overdue || now >= *until => Some(Outcome::fail("connection timed out")),
            Stage::Resolving | Stage::Working if overdue => Some(Outcome::fail("timed out")),
            _ => None,
        }
    }

    /// The round's socket is ready.
    fn ready(&mut self, now: Instant) -> Option<Outcome> {
        let round = self.round.as_mut()?;
        match &mut round.stage {
            Stage::Connect { socket, started, .. } => Some(probe::connect_outcome(socket, now - *started)),
            Stage::Echo(echo) => {
                if echo.receive(now) {
                    echo.next(&self.spec.check, now, round.deadline)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Ends the round when there is an outcome.
    fn settle(&mut self, outcome: Option<Outcome>, now: Instant) -> Option<Outcome> {
        let outcome = decide::within_latency(&self.spec.check, outcome?);
        let round = self.round.take();
        if outcome.local {
            // No sample either way: the detection timer starts again rather
            // than count a round the router could not make as lost.
            self.last_good = self.last_good.map(|(_, took)| (now, took));
            return Some(outcome);
        }
        match (outcome.ok, round) {
            (true, Some(round)) => {
                self.last_good = Some((now, now - round.started));
                self.lost = 0;
            }
            _ => self.lost = self.lost.saturating_add(1),
        }
        Some(outcome)
    }

    /// The descriptor to wait on and for what.
    fn pollfd(&self) -> Option<libc::pollfd> {
        let (fd, events) = match &self.round.as_ref()?.stage {
            Stage::Echo(echo) => (echo.socket.as_raw_fd(), libc::POLLIN),
            Stage::Connect { socket, .. } => (socket.as_raw_fd(), libc::POLLOUT),
            _ => return None,
        };
        Some(libc::pollfd { fd, events, revents: 0 })
    }

    /// The next moment something is due.
    fn due(&self) -> Instant {
        let mut due = self.next;
        if let Some(round) = &self.round {
            due = due.min(round.deadline);
            match &round.stage {
                Stage::Echo(echo) => due = due.min(echo.until),
                Stage::Connect { until, .. } => due = due.min(*until),
                _ => {}
            }
        }
        due
    }
}

impl Echo {
    /// After a reply or a timeout: the round's outcome when this was the
    /// last request or the round is overdue, else the next request.
    fn next(&mut self, check: &Check, now: Instant, deadline: Instant) -> Option<Outcome> {
        if now >= deadline || u32::from(self.seq) + 1 >= check.count.max(1) {
            return Some(decide::ping_outcome(check, &self.rtts, self.error.as_deref()));
        }
        self.seq += 1;
        self.until = (now + timeout(check)).min(deadline);
        self.send(now);
        None
    }

    fn send(&mut self, now: Instant) {
        let packet = probe::echo_request(self.target.is_ipv6(), self.id, self.seq);
        self.sent = now;
        if let Err(e) = self.socket.send_to(&packet, &SockAddr::from(SocketAddr::new(self.target, 0))) {
            // Lost at once: the next request goes out on the next turn.
            self.error = Some(format!("cannot send: {e}"));
            self.until = now;
        }
    }

    /// Reads what has arrived; true when the current request's reply is
    /// among it.
    fn receive(&mut self, now: Instant) -> bool {
        let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
        // Bounded: a flood of foreign ICMP must not hold the loop.
        for _ in 0..64 {
            let Ok((n, from)) = self.socket.recv_from(&mut buf) else { return false };
            // SAFETY: recv_from initialised the first n bytes.
            let packet: Vec<u8> = buf[..n].iter().map(|b| unsafe { b.assume_init() }).collect();
            let from = from.as_socket().map(|s| s.ip());
            if probe::is_echo_reply(&packet, from, self.target, self.id, self.seq) {
                self.rtts.push(now - self.sent);
                return true;
            }
        }
        false
    }
}

fn timeout(check: &Check) -> Duration {
    millis(check.timeout_ms)
}

/// A check's interval or timeout, at most a week: longer ones (only a
/// hand-made policy file has them) would overflow the clock.
fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms.clamp(1, 7 * 24 * 3600 * 1000))
}

struct Loop {
    tasks: Vec<Task>,
    commands: Receiver<Command>,
    wake: UnixStream,
    pool: Pool,
    tx: Sender<Event>,
}

impl Loop {
    fn run(mut self) {
        loop {
            let mut outcomes: Vec<(usize, Outcome)> = Vec::new();
            while let Ok(command) = self.commands.try_recv() {
                match command {
                    Command::Set { keep, start } => {
                        self.tasks.retain(|t| keep.contains(&t.spec.key));
                        let now = Instant::now();
                        self.tasks.extend(start.into_iter().map(|s| Task::new(s, now)));
                    }
                    Command::Stop => return,
                }
            }
            while let Ok(done) = self.pool.done.try_recv() {
                if let Some(i) = self.tasks.iter().position(|t| t.spec.key == done.key) {
                    let now = Instant::now();
                    let task = &mut self.tasks[i];
                    let outcome = task.finished(done.serial, done.finished, now);
                    outcomes.extend(task.settle(outcome, now).map(|o| (i, o)));
                }
            }
            let now = Instant::now();
            for (i, task) in self.tasks.iter_mut().enumerate() {
                // Overdue first: a round is overdue when the next is due.
                let outcome = task.expire(now);
                outcomes.extend(task.settle(outcome, now).map(|o| (i, o)));
                if now >= task.next {
                    let outcome = task.start(now, &self.pool);
                    outcomes.extend(task.settle(outcome, now).map(|o| (i, o)));
                }
            }
            if !self.report(outcomes) {
                return;
            }
            let (mut fds, owners) = self.pollfds();
            let due = self.tasks.iter().map(Task::due).min();
            let wait =
                due.map_or(-1, |d| d.saturating_duration_since(Instant::now()).as_micros().div_ceil(1000).min(60_000) as i32);
            // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures
            // that outlives the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait) };
            if n <= 0 {
                continue;
            }
            if fds[0].revents != 0 {
                let mut buf = [0u8; 64];
                while matches!((&self.wake).read(&mut buf), Ok(n) if n > 0) {}
            }
            let now = Instant::now();
            let mut outcomes = Vec::new();
            for (fd, &i) in fds[1..].iter().zip(&owners) {
                if fd.revents != 0 {
                    let task = &mut self.tasks[i];
                    let outcome = task.ready(now);
                    outcomes.extend(task.settle(outcome, now).map(|o| (i, o)));
                }
            }
            if !self.report(outcomes) {
                return;
            }
        }
    }

    /// The wake socket first, then one descriptor per round waiting on the
    /// network, with the index of its task.
    fn pollfds(&self) -> (Vec<libc::pollfd>, Vec<usize>) {
        let mut fds = vec![libc::pollfd { fd: self.wake.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        let mut owners = Vec::new();
        for (i, task) in self.tasks.iter().enumerate() {
            if let Some(fd) = task.pollfd() {
                fds.push(fd);
                owners.push(i);
            }
        }
        (fds, owners)
    }

    /// Sends the outcomes of ended rounds to the main loop; false when it
    /// is gone.
    fn report(&self, outcomes: Vec<(usize, Outcome)>) -> bool {
        outcomes
            .into_iter()
            .all(|(i, outcome)| self.tx.send(Event::Result { key: self.tasks[i].spec.key.clone(), outcome }).is_ok())
    }
}
