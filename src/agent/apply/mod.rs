//! Putting a policy into effect, through one interface with one
//! implementation per platform: Linux (netlink for routes and rules, one
//! nftables transaction for the marks), OpenBSD (pfctl and route), and a
//! dry run that logs. Each works from the lowered plan, which the applier
//! computes once per policy it is given, and applies only what changed
//! since the last time.

mod dry_run;
mod linux;
mod openbsd;

use crate::ir::Site;
use crate::lower::linux::Learned;
use crate::lower::{self, Plan, StateId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// netlink for routes and rules, nftables for the marks
    Linux,
    /// pf anchors and route(8)
    Openbsd,
    /// log what Linux would change, touch nothing (not even `run` actions)
    DryRun,
}

/// One platform's way to apply a plan.
trait Platform {
    /// The static part (tables, rules, the nftables table or nothing) with
    /// the values learned so far; on a reload or a new lease, what changed.
    fn setup(&mut self, plan: &Plan, learned: &Learned) -> Result<(), String>;
    /// A state under live health, as a difference to what is in place;
    /// returns how many objects changed.
    fn apply(&mut self, plan: &Plan, state: StateId, live: &[bool], learned: &Learned) -> Result<usize, String>;
    /// Drops the connections of one uplink, off the main loop.
    fn flush(&mut self, plan: &Plan, uplink: usize, learned: &Learned);
    /// Forgets what it applied, so the next setup and apply put everything
    /// in place again, not only what changed: after the kernel dropped
    /// some of it (a link went away with its routes). Nothing to forget
    /// where a platform keeps no memory.
    fn forget(&mut self) {}
    /// Removes everything it put in place.
    fn teardown(&mut self, plan: &Plan) -> Result<(), String>;
}

pub struct Applier {
    platform: Box<dyn Platform>,
    /// The plan last set up.
    plan: Option<Plan>,
    /// The uplinks' learned addresses and gateways, as the main loop last
    /// gave them.
    learned: Learned,
}

impl Applier {
    pub fn new(kind: BackendKind) -> Result<Applier, String> {
        let platform: Box<dyn Platform> = match kind {
            BackendKind::Linux => Box::new(linux::Linux::new()?),
            BackendKind::Openbsd => Box::new(openbsd::Openbsd::default()),
            BackendKind::DryRun => Box::new(dry_run::DryRun::default()),
        };
        Ok(Applier { platform, plan: None, learned: Learned::default() })
    }

    /// Lowers `site` and sets it up with `learned` (for its uplinks, in its
    /// order); the plan and values are kept only when that worked.
    pub fn setup(&mut self, site: &Site, learned: Learned) -> Result<(), String> {
        let plan = lower::lower(site.clone());
        self.platform.setup(&plan, &learned)?;
        self.plan = Some(plan);
        self.learned = learned;
        Ok(())
    }

    /// New learned values: the static part again, as a difference (the
    /// caller applies the state after it).
    pub fn learn(&mut self, learned: Learned) -> Result<(), String> {
        let plan = self.plan.as_ref().ok_or("no policy is set up")?;
        self.learned = learned;
        self.platform.setup(plan, &self.learned)
    }

    pub fn apply(&mut self, state: StateId, live: &[bool]) -> Result<usize, String> {
        let plan = self.plan.as_ref().ok_or("no policy is set up")?;
        if state >= plan.states.len() {
            return Err(format!("no state {state}"));
        }
        self.platform.apply(plan, state, live, &self.learned)
    }

    /// Puts the static part in place again, whole (see `Platform::forget`);
    /// the caller applies the state after it.
    pub fn forget(&mut self) {
        self.platform.forget();
        if let Some(plan) = &self.plan {
            if let Err(e) = self.platform.setup(plan, &self.learned) {
                tracing::error!("putting the policy back failed, will retry: {e}");
            }
        }
    }

    pub fn flush(&mut self, uplink: usize) {
        if let Some(plan) = &self.plan {
            self.platform.flush(plan, uplink, &self.learned);
        }
    }

    pub fn teardown(&mut self) -> Result<(), String> {
        match self.plan.take() {
            Some(plan) => self.platform.teardown(&plan),
            None => Ok(()),
        }
    }
}

/// Runs a command, logging what it did or why it failed.
fn run_logged(args: &[&str]) {
    use tracing::{info, warn};
    match std::process::Command::new(args[0]).args(&args[1..]).output() {
        Ok(out) if out.status.success() => info!(target: "apply", "{}", args.join(" ")),
        Ok(out) => warn!(target: "apply", "{} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => warn!(target: "apply", "cannot run {}: {e}", args[0]),
    }
}
