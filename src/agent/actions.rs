//! Uplink and state actions. `run` commands get a time limit and run off the
//! main loop, so a hanging script never delays a failover; notifications are
//! rate-limited, so a flapping link cannot flood anyone.

use crate::ir::Action;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long a `run` command may take before it is killed.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// Notifications: at most this many per window; the rest are dropped (and
/// counted in the log).
const NOTIFY_BURST: usize = 5;
const NOTIFY_WINDOW: Duration = Duration::from_secs(60);

pub struct Notifier {
    /// A command that receives the text as its one argument.
    command: Option<String>,
    /// Whether commands (`run` actions and the notify command) are started
    /// at all: a dry run only logs them, since they act on the machine.
    execute: bool,
    sent: Vec<Instant>,
    dropped: u64,
}

impl Notifier {
    pub fn new(command: Option<String>, execute: bool) -> Notifier {
        Notifier { command, execute, sent: Vec::new(), dropped: 0 }
    }

    fn notify(&mut self, text: &str) {
        let now = Instant::now();
        self.sent.retain(|t| now.duration_since(*t) < NOTIFY_WINDOW);
        if self.sent.len() >= NOTIFY_BURST {
            self.dropped += 1;
            warn!(target: "notify", dropped = self.dropped, "rate limit: not sent: {text}");
            return;
        }
        self.sent.push(now);
        warn!(target: "notify", "{text}");
        if let Some(cmd) = &self.command {
            if !self.execute {
                info!(target: "notify", "dry run, not running: {cmd}");
                return;
            }
            // The text is an argument, never part of the command line.
            spawn_limited(Command::new("sh").arg("-c").arg(format!("{cmd} \"$1\"")).arg("wanc-notify").arg(text), "notify");
        }
    }
}

/// Where an action runs: for `$WANC_UPLINK`/`$WANC_STATE` in commands.
pub struct Context<'a> {
    pub uplink: Option<&'a str>,
    pub state: Option<&'a str>,
    pub event: &'a str,
}

/// Runs actions; `flush` is called for `flush states` and decides itself
/// whether flushing is allowed.
pub fn run(actions: &[Action], ctx: &Context, notifier: &mut Notifier, flush: &mut dyn FnMut(usize)) {
    for action in actions {
        match action {
            Action::Run(cmd) if !notifier.execute => {
                info!(target: "action", event = ctx.event, "dry run, not running: {cmd}");
            }
            Action::Run(cmd) => {
                info!(target: "action", event = ctx.event, "run {cmd}");
                let mut c = Command::new("sh");
                c.arg("-c").arg(cmd);
                c.env("WANC_EVENT", ctx.event);
                if let Some(u) = ctx.uplink {
                    c.env("WANC_UPLINK", u);
                }
                if let Some(s) = ctx.state {
                    c.env("WANC_STATE", s);
                }
                spawn_limited(&mut c, "run");
            }
            Action::Notify(text) => notifier.notify(text),
            Action::FlushStates(uplinks) => uplinks.iter().for_each(|&u| flush(u)),
        }
    }
}

/// Starts a command and a watchdog that kills it after RUN_TIMEOUT.
/// The command gets a process group of its own, so the watchdog kills what
/// it started too; its output is discarded (a full pipe would stall it).
fn spawn_limited(cmd: &mut Command, what: &'static str) {
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            warn!(target: "action", "{what}: cannot start: {e}");
            return;
        }
    };
    // Out of threads, the command runs without its time limit.
    super::threads::detached("an action's time limit", move || {
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return,
                Ok(Some(status)) => {
                    warn!(target: "action", "{what} exited with {status}");
                    return;
                }
                Ok(None) if start.elapsed() > RUN_TIMEOUT => {
                    // SAFETY: kill(2) on the group the child leads; no memory involved.
                    unsafe {
                        libc::kill(-(child.id() as i32), libc::SIGKILL);
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    warn!(target: "action", "{what} killed after {}s", RUN_TIMEOUT.as_secs());
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => {
                    warn!(target: "action", "{what}: {e}");
                    return;
                }
            }
        }
    });
}
