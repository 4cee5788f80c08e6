//! ifstated.conf: the checks, uplink actions and states (see the text of
//! [`INTRO`], which the file carries).

use super::checks::checks;
use super::expr::Expr;
use super::live::{self, health_file};
use super::quote::{self, sh_arg, sh_word};
use super::{comment, health_summary, policy_file, Ctx, ANCHOR, PREFIX};
use crate::backend::header;
use crate::ir::{Action, Cond, Health, Routing, State, Uplink, UplinkId};
use std::collections::BTreeSet;
use std::fmt::Write;

const INTRO: &str = "\
# Checks. Each check is an external test whose command debounces its probe
# through a state file, /var/run/wanc.UPLINK.N: down after `fall` failures in
# a row, up after `rise` successes in a row, the first result deciding after
# boot (/var/run is emptied at boot). A probe runs at most once per `every`
# (less a second of slack), so the extra runs ifstated makes of a state's
# tests when it enters the state count no extra samples.
#
# Uplinks. Each state's body writes the health of the uplinks it follows to
# /var/run/wanc.UPLINK (`up` or `down`). An uplink's `on up` and `on down`
# actions run when that value changes (not for the first one after boot).
# `flush states` kills the states of the pf rules labelled with the uplink's
# name (pfctl -k label), once per outage and only while another uplink is
# healthy, so that the connections have somewhere to go.
#
# States. ifstated starts in \"wanc.start\", which only picks the first state
# whose condition holds; every state's body does the same, listing the
# states last to first, since the last set-state to run wins. A state's init
# loads its pf ruleset, sets the default route and runs its `on enter`
# actions; its `on exit` actions run in the body when another state is about
# to be chosen. Members a state leaves undecided are followed live: the body
# reloads their rules as their health changes.
#
# Default routes are added with `route add -mpath`, so that several can
# coexist: set net.inet.ip.multipath=1 (net.inet6.ip6.multipath=1 for IPv6)
# in sysctl.conf(5) for a multipath default route to share the load, and
# leave /etc/mygate empty, since a default route added without -mpath would
# refuse the ones added with it. With none of the uplinks the default route
# names healthy, the default route is by the first of them, as on Linux:
# probes need a route to be sent at all.
#
# ifstated evaluates a state's body only once every test of the state has
# run on its timer since the state was entered, unless the first test in
# the state's list never has (ifstated.c, eval_state). A change seen before
# then would be lost, so each body is wrapped in a test that never runs on
# its timer, `wanc_always`, which is the state's first test.
#
# notify: a syslog message (logger -t wanc, facility daemon, level notice);
# have syslogd(8) forward or mail it as you like.
";

/// The name of the state ifstated starts in; a `.` keeps it apart from
/// every state name a source can declare.
const START: &str = "wanc.start";

pub fn emit(ctx: &Ctx) -> String {
    let checks = checks(ctx);
    let conds: Vec<Expr> = ctx.site.states.iter().map(|s| condition(&s.when, &checks.health)).collect();
    let mut s = header(ctx.site, "#");
    let _ = write!(
        s,
        "# ifstated(8) configuration of site `{}`: install as /etc/ifstated.conf, and\n\
         # the pf files under {PREFIX}/pf (see pf/wanc.conf).\n#\n{INTRO}\n{}",
        comment(&ctx.site.name),
        checks.macros
    );
    s.push_str(
        "# A test that runs when a state is entered and never again (see above).\nwanc_always = '\"true\" every 4294967295'\n",
    );
    let mut start = Block::default();
    transitions(&mut start, ctx, &conds);
    let _ = write!(s, "\n# Where ifstated starts: it only picks the first state.\nstate \"{START}\" {{\n{}}}\n", start.text);
    for (i, state) in ctx.site.states.iter().enumerate() {
        s.push('\n');
        s.push_str(&state_block(ctx, i, state, &conds, &checks.health));
    }
    s
}

fn condition(cond: &Cond, health: &[Expr]) -> Expr {
    let all = |cs: &[Cond]| cs.iter().map(|c| condition(c, health)).collect();
    match cond {
        Cond::True => Expr::Const(true),
        Cond::Up(u) => health[*u].clone(),
        Cond::Not(c) => Expr::not(condition(c, health)),
        Cond::And(cs) => Expr::all(all(cs)),
        Cond::Or(cs) => Expr::any(all(cs)),
        Cond::CountIn { members, min, max } => {
            let items: Vec<Expr> = members.iter().map(|&m| health[m].clone()).collect();
            Expr::count(&items, *min as usize, *max as usize)
        }
    }
}

/// Indented lines of a block, each ending with the newline ifstated's
/// grammar wants after every action.
#[derive(Default)]
struct Block {
    text: String,
    depth: usize,
}

impl Block {
    fn line(&mut self, line: &str) {
        let _ = writeln!(self.text, "{}{line}", "\t".repeat(self.depth + 1));
    }

    /// `actions` under `cond`: in an `if` block, bare when the condition
    /// always holds, not at all when it never does.
    fn when(&mut self, cond: &Expr, actions: &[String]) {
        match cond.render() {
            _ if actions.is_empty() => {}
            None if *cond == Expr::Const(true) => actions.iter().for_each(|a| self.line(a)),
            None => {}
            Some(c) => {
                self.line(&format!("if {c} {{"));
                self.depth += 1;
                actions.iter().for_each(|a| self.line(a));
                self.depth -= 1;
                self.line("}");
            }
        }
    }
}

fn set_state(name: &str) -> String {
    format!("set-state \"{name}\"")
}

fn run(command: &str) -> String {
    format!("run {}", quote::run(command))
}

/// To the first state whose condition holds, the states last to first
/// since the last set-state to run wins.
fn transitions(b: &mut Block, ctx: &Ctx, conds: &[Expr]) {
    for (state, cond) in ctx.site.states.iter().zip(conds).rev() {
        b.when(cond, &[set_state(&state.name)]);
    }
}

fn state_block(ctx: &Ctx, i: usize, state: &State, conds: &[Expr], health: &[Expr]) -> String {
    let mut init = Block { depth: 1, ..Default::default() };
    init.line(&run(&format!("pfctl -q -a {ANCHOR} -f {PREFIX}/{}", policy_file(&state.name))));
    let mut refresh = Vec::new();
    let mut followed = BTreeSet::new();
    let plan = &ctx.plan.states[i];
    let open = |routing: &Routing| match routing {
        Routing::Uplinks { mode, members } if live::is_live(routing) => Some((*mode, members.clone())),
        _ => None,
    };
    if let Some(routing) = &plan.default {
        followed.extend(live::open_members(routing));
        match open(routing) {
            None => live::default_route(ctx, routing, &plan.fallback).iter().for_each(|c| init.line(&run(c))),
            Some((mode, members)) => {
                refresh.extend(live::default_route_live(ctx, mode, &members, &plan.fallback).iter().map(|c| run(c)))
            }
        }
    }
    if !ctx.site.lans.is_empty() {
        for (c, routing) in plan.choices.iter().enumerate() {
            let Some(routing) = routing else { continue };
            followed.extend(live::open_members(routing));
            if let Some((mode, members)) = open(routing) {
                refresh.push(run(&live::choice(ctx, c, mode, &members)));
            }
        }
    }
    for a in &state.on_enter {
        if let Some(c) = action(ctx, a) {
            init.line(&run(&c));
        }
    }

    let mut body = Block { depth: 1, ..Default::default() };
    for (u, up) in ctx.site.uplinks.iter().enumerate() {
        if followed.contains(&u) || !up.on_up.is_empty() || !up.on_down.is_empty() {
            let h = &health[u];
            if state.health[u] != Health::Down {
                body.when(h, &[run(&edge(ctx, u, true))]);
            }
            if state.health[u] != Health::Up {
                body.when(&Expr::not(h.clone()), &[run(&edge(ctx, u, false))]);
            }
        }
    }
    for (u, up) in ctx.site.uplinks.iter().enumerate() {
        if flushes_on_down(up, u) && state.health[u] != Health::Up {
            body.when(&Expr::all(vec![Expr::not(health[u].clone()), another_healthy(state, u, health)]), &[run(&flush(up))]);
        }
    }
    refresh.iter().for_each(|r| body.line(r));
    let exits: Vec<String> = state.on_exit.iter().filter_map(|a| action(ctx, a)).map(|c| run(&c)).collect();
    let earlier = conds[..i].iter().cloned();
    body.when(&Expr::any(std::iter::once(Expr::not(conds[i].clone())).chain(earlier).collect()), &exits);
    transitions(&mut body, ctx, conds);

    format!(
        "# State `{}` when {}: {}.\nstate \"{}\" {{\n\tinit {{\n{}\t}}\n\tif $wanc_always {{\n{}\t}}\n}}\n",
        state.name,
        comment(&state.when_text),
        health_summary(ctx, state),
        state.name,
        init.text,
        body.text
    )
}

/// Whether another uplink than `u` is healthy, as far as the state leaves
/// it open: always when the state has one up, never when all are down.
fn another_healthy(state: &State, u: UplinkId, health: &[Expr]) -> Expr {
    let others = (0..health.len()).filter(|&v| v != u && state.health[v] != Health::Down);
    Expr::any(others.map(|v| if state.health[v] == Health::Up { Expr::Const(true) } else { health[v].clone() }).collect())
}

/// Whether the uplink's `on down` flushes its own connections.
fn flushes_on_down(up: &Uplink, u: UplinkId) -> bool {
    up.on_down.iter().any(|a| matches!(a, Action::FlushStates(list) if list.contains(&u)))
}

/// Records an uplink's health and, when it changed (not on the first record
/// after boot), runs its actions; coming up, it also re-arms `flush states`.
fn edge(ctx: &Ctx, u: UplinkId, is_up: bool) -> String {
    let up = &ctx.site.uplinks[u];
    let (now, before, actions) = if is_up { ("up", "down", &up.on_up) } else { ("down", "up", &up.on_down) };
    let commands: Vec<String> = actions
        .iter()
        .filter_map(|a| match a {
            // Each user command runs through eval, so that no command can
            // run into the next (a trailing `&`, a comment, a newline).
            Action::Run(command) => Some(format!("eval {}", sh_word(command))),
            // Its own connections on down have a block of their own (see
            // `flush`); others' (failback) are flushed here.
            Action::FlushStates(list) if !is_up => {
                let others: Vec<UplinkId> = list.iter().copied().filter(|&v| v != u).collect();
                action(ctx, &Action::FlushStates(others))
            }
            a => action(ctx, a),
        })
        .collect();
    let f = sh_arg(&health_file(&up.name));
    let mut s = if commands.is_empty() {
        format!("f={f}; echo {now} > $f")
    } else {
        format!("f={f}; o=$(cat $f 2>/dev/null); echo {now} > $f")
    };
    if is_up && flushes_on_down(up, u) {
        s.push_str("; rm -f $f.flushed");
    }
    if !commands.is_empty() {
        let _ = write!(s, "; [ \"$o\" = {before} ] && {{ {}; }}", commands.join("; "));
    }
    s
}

/// Kills the uplink's connections, once per outage.
fn flush(up: &Uplink) -> String {
    format!(
        "f={}; [ -e $f.flushed ] || {{ touch $f.flushed; pfctl -q -k label -k {}; }}",
        sh_arg(&health_file(&up.name)),
        sh_arg(&up.name)
    )
}

/// An action as a sh command; `None` for one with nothing to do.
fn action(ctx: &Ctx, a: &Action) -> Option<String> {
    match a {
        Action::Run(command) => Some(command.clone()),
        Action::Notify(text) => Some(format!("logger -t wanc -p daemon.notice -- {}", sh_word(text))),
        Action::FlushStates(list) => {
            let kills: Vec<String> =
                list.iter().map(|&u| format!("pfctl -q -k label -k {}", sh_arg(&ctx.site.uplinks[u].name))).collect();
            (!kills.is_empty()).then(|| kills.join("; "))
        }
    }
}
