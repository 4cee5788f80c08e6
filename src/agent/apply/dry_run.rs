//! Dry run: logs what the Linux way would change, touches nothing.

use super::Platform;
use crate::backend::linux::nft;
use crate::lower::linux::Learned;
use crate::lower::linux::{self, IpRule, Route};
use crate::lower::{Plan, StateId};
use tracing::info;

#[derive(Default)]
pub struct DryRun {
    rules: Vec<IpRule>,
    uplink_routes: Vec<Route>,
    state_routes: Vec<Route>,
    choices: Vec<Option<String>>,
    state_forwards: Option<String>,
}

impl Platform for DryRun {
    fn setup(&mut self, plan: &Plan, _learned: &Learned) -> Result<(), String> {
        let numbers = super::linux::numbers(plan)?;
        let rules = linux::ip_rules(plan, numbers);
        let uplink_routes = linux::uplink_routes(plan);
        for r in rules.iter().filter(|r| !self.rules.contains(r)) {
            info!(target: "apply", "ip {} rule add {}", r.family.flag(), r.args());
        }
        for r in uplink_routes.iter().filter(|r| !self.uplink_routes.contains(r)) {
            info!(target: "apply", "ip {} {}", r.family.flag(), r.command());
        }
        self.rules = rules;
        self.uplink_routes = uplink_routes;
        self.choices.clear();
        self.state_forwards = None;
        Ok(())
    }

    fn apply(&mut self, plan: &Plan, state: StateId, live: &[bool], _learned: &Learned) -> Result<usize, String> {
        let numbers = super::linux::numbers(plan)?;
        let routes = linux::state_routes(plan, numbers, state, Some(live));
        let choices = nft::choices(plan, numbers, state, Some(live));
        let mut count = 0;
        for r in routes.iter().filter(|r| !self.state_routes.contains(r)) {
            info!(target: "apply", "ip {} {}", r.family.flag(), r.command());
            count += 1;
        }
        for (c, now) in choices.iter().enumerate() {
            if self.choices.get(c) != Some(now) {
                info!(target: "apply", "nft choice_{c}: {}", now.as_deref().unwrap_or("(empty)"));
                count += 1;
            }
        }
        let forwards = nft::load_state_forwards(plan, state);
        if forwards != self.state_forwards {
            info!(target: "apply", "nft state forwards:\n{}", forwards.as_deref().unwrap_or("(none)"));
            count += 1;
            self.state_forwards = forwards;
        }
        self.state_routes = routes;
        self.choices = choices;
        Ok(count)
    }

    fn flush(&mut self, plan: &Plan, uplink: usize, _learned: &Learned) {
        info!(target: "apply", "flush states of {}", plan.site.uplinks[uplink].name);
    }

    fn teardown(&mut self, _plan: &Plan) -> Result<(), String> {
        info!(target: "apply", "teardown");
        *self = DryRun::default();
        Ok(())
    }
}
