//! Thresholds as one ifstated test each.
//!
//! ifstated's expressions cannot share a subexpression (nor can its macros
//! refer to one another), so "at least k of n" written with `&&` and `||`
//! takes a term per way to pick k of the n: 2.7 million for 12 of 24, and
//! no formula of `&&`, `||` and `!` is linear in n for a threshold other
//! than all or any. So a count that is a plain `&&` or `||` (all, any,
//! none, not all; see [`Expr::plain_count`]) is written as one, and any
//! other (`count(…)` in a state's condition, `healthy when N` of its checks
//! for N between one and all) is one external test that counts in sh, in
//! text linear in its members:
//!
//! - a member uplink with checks is healthy by its checks' state files
//!   (`/var/run/wanc.UPLINK.N`, see `checks`) and its `healthy when`;
//! - one without checks by `/var/run/wanc.UPLINK.link`, which the global
//!   section writes from ifstated's own link test whenever a link changes.
//!
//! The test runs every second, so it sees a check's new status up to a
//! second after the check's own test does: a state that depends on a
//! threshold is entered or left up to a second later than one that depends
//! on `&&` and `||`. Entering a state runs its tests at once (the counting
//! test after the members' checks), so the state then sees every current
//! status. A state that uses a counting test names the members' check tests
//! first (see [`Counting::keep_running`]), so that ifstated runs them in
//! that state and their state files stay current.

use super::expr::Expr;
use super::quote::sh_arg;
use super::{comment, Ctx, RUN_DIR};
use crate::ir::{Healthy, UplinkId};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// How often a counting test reads the state files, in seconds: ifstated's
/// shortest period.
const EVERY_S: u64 = 1;

/// The counting tests of a site, made as the conditions are written.
pub struct Counting {
    /// Per uplink, its check tests.
    tests: Vec<Vec<Expr>>,
    /// Their macro definitions, in the order made.
    pub macros: String,
    /// Per command, its test (`$wanc_countN`), so that each is defined once.
    made: BTreeMap<String, Expr>,
    /// Per test, the check tests it reads the state files of.
    reads: BTreeMap<String, Vec<Expr>>,
    /// The uplinks without checks that some test counts by their link.
    links: BTreeSet<UplinkId>,
}

impl Counting {
    /// `tests`: per uplink, its check tests (none for an uplink healthy by
    /// its link).
    pub fn new(tests: Vec<Vec<Expr>>) -> Counting {
        Counting { tests, macros: String::new(), made: BTreeMap::new(), reads: BTreeMap::new(), links: BTreeSet::new() }
    }

    /// A test true while at least `min` and at most `max` of `members` are
    /// healthy; `what` says so in words for the comment above its macro.
    pub fn test(&mut self, ctx: &Ctx, members: &[UplinkId], min: usize, max: usize, what: &str) -> Expr {
        let mut uses = (false, false);
        let mut counts = String::new();
        for &u in members {
            let up = &ctx.site.uplinks[u];
            let name = sh_arg(&up.name);
            let checks = up.checks.len();
            if checks == 0 {
                self.links.insert(u);
                uses.1 = true;
                let _ = write!(counts, "l {name}; ");
            } else {
                uses.0 = true;
                let need = match up.healthy {
                    Healthy::All => checks,
                    Healthy::Any => 1,
                    Healthy::AtLeast(k) => k as usize,
                };
                let _ = write!(counts, "h {name} {checks} {need}; ");
            }
        }
        let mut command = format!("cd {RUN_DIR}/ || exit 1; n=0; ");
        if uses.0 {
            // h UPLINK CHECKS NEED: counts the uplink when NEED of its
            // CHECKS state files say up (status 1, see `checks`).
            command.push_str(
                "h() { k=0 i=1; while [ $i -le $2 ]; do { read s r < wanc.$1.$i; } 2>/dev/null && [ \"$s\" = 1 ] && k=$((k + 1)); i=$((i + 1)); done; [ $k -ge $3 ] && n=$((n + 1)); }; ",
            );
        }
        if uses.1 {
            // l UPLINK: counts the uplink when its link file says up.
            command.push_str("l() { { read s r < wanc.$1.link; } 2>/dev/null && [ \"$s\" = 1 ] && n=$((n + 1)); }; ");
        }
        command.push_str(&counts);
        let mut bounds = Vec::new();
        if min > 0 {
            bounds.push(format!("[ $n -ge {min} ]"));
        }
        if max < members.len() {
            bounds.push(format!("[ $n -le {max} ]"));
        }
        command.push_str(&bounds.join(" && "));
        if let Some(test) = self.made.get(&command) {
            return test.clone();
        }
        let name = format!("wanc_count{}", self.made.len() + 1);
        let _ = writeln!(self.macros, "# {}, read every second\n{name} = {}", comment(what), ctx.test(&command, EVERY_S));
        let test = Expr::Test(format!("${name}"));
        self.made.insert(command, test.clone());
        let reads = members.iter().flat_map(|&u| self.tests[u].iter().cloned()).collect();
        self.reads.insert(format!("${name}"), reads);
        test
    }

    /// The check tests that a state using `tests` (as ifstated writes
    /// them) must name for ifstated to run them there: those whose state
    /// files its counting tests read. Named in an `if` before anything
    /// else, they also run before the counting tests when the state is
    /// entered.
    pub fn keep_running(&self, tests: &BTreeSet<String>) -> Vec<Expr> {
        let mut seen = BTreeSet::new();
        let read = tests.iter().filter_map(|t| self.reads.get(t)).flatten();
        read.filter(|e| seen.insert(e.render())).cloned().collect()
    }

    /// Global `if` blocks that keep the link file of every uplink counted
    /// by its link: ifstated runs them at start and whenever a link
    /// changes.
    pub fn link_files(&self, ctx: &Ctx) -> String {
        let mut s = String::new();
        for &u in &self.links {
            let up = &ctx.site.uplinks[u];
            let file = sh_arg(&format!("{RUN_DIR}/wanc.{}.link", up.name));
            let link = format!("\"{}\".link.up", up.interface);
            let write = |status: u8| ctx.run(&format!("echo {status} > {file}"));
            let _ = write!(
                s,
                "\n# {}: its link, for the counting tests\nif {link} {{\n\trun {}\n}}\nif ! {link} {{\n\trun {}\n}}\n",
                comment(&up.name),
                write(1),
                write(0)
            );
        }
        s
    }
}
