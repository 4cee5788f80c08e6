//! OpenBSD: the pf files of `wanc build` are installed and included from
//! pf.conf (see pf/wanc.conf); the agent fills the anchor of each routing
//! choice with what it does in the state under live health, through one
//! `pfctl` run per change, and sets the default route with route(8), with
//! the same rules and commands the back end writes for ifstated.

use super::{run_logged, Platform};
use crate::backend::openbsd::{live, pf, Ctx, ANCHOR};
use crate::lower::linux::Learned;
use crate::lower::{effective, Plan, StateId};
use tracing::info;

#[derive(Default)]
pub struct Openbsd {
    /// Per choice, the rules its anchor holds.
    choices: Vec<Vec<String>>,
    /// The commands that last set the default route.
    default: Vec<String>,
}

impl Platform for Openbsd {
    fn setup(&mut self, _plan: &Plan, _learned: &Learned) -> Result<(), String> {
        info!(target: "apply", "openbsd: tables, NAT and the route rules are in pf/wanc.conf");
        // A new plan numbers its choices anew: fill every one again.
        self.choices.clear();
        Ok(())
    }

    fn apply(&mut self, plan: &Plan, state: StateId, live: &[bool], _learned: &Learned) -> Result<usize, String> {
        let ctx = Ctx::new(plan);
        let sp = &plan.states[state];
        let mut text = pf::include_macros() + "\n";
        let mut choices = Vec::with_capacity(plan.choices.len());
        let mut changed = 0;
        for (c, routing) in sp.choices.iter().enumerate() {
            let routing = routing.as_ref().map(|r| effective(r, Some(live)));
            let rules = pf::choice_block(&ctx, c, routing.as_ref());
            if self.choices.get(c) != Some(&rules) {
                text.push_str(&pf::inline(&pf::choice_name(c), &rules));
                changed += 1;
            }
            choices.push(rules);
        }
        if changed > 0 {
            load(&text)?;
        }
        self.choices = choices;
        let default = match &sp.default {
            Some(routing) => live::default_route(&ctx, &effective(routing, Some(live)), &sp.fallback),
            None => Vec::new(),
        };
        if default != self.default {
            for command in &default {
                run_logged(&["sh", "-c", command]);
            }
            changed += 1;
            self.default = default;
        }
        Ok(changed)
    }

    fn flush(&mut self, plan: &Plan, uplink: usize, _learned: &Learned) {
        // Off the main loop: a slow pfctl must not delay failover.
        let name = plan.site.uplinks[uplink].name.clone();
        crate::agent::threads::background("flush states", move || run_logged(&["pfctl", "-q", "-k", "label", "-k", &name]));
    }

    fn teardown(&mut self, _plan: &Plan) -> Result<(), String> {
        info!(target: "apply", "teardown: the pf files stay; remove the include from pf.conf to stop");
        *self = Openbsd::default();
        Ok(())
    }
}

/// Loads inline anchors under `wanc/policy` in one transaction.
fn load(text: &str) -> Result<(), String> {
    crate::agent::feed::feed("pfctl", &["-q", "-a", ANCHOR, "-f", "-"], text)
        .map_err(|e| format!("loading the routing choices: {e}"))?;
    info!(target: "apply", "pfctl -a {ANCHOR}: routing choices loaded");
    Ok(())
}
