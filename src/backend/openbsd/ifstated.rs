//! ifstated.conf: the checks, uplink actions and states (see the text of
//! [`INTRO`], which the file carries).

use super::checks::{checks, Checks};
use super::counting::Counting;
use super::expr::Expr;
use super::live::{self, health_file};
use super::quote::{sh_arg, sh_word};
use super::{comment, health_summary, learned, policy_file, select, Ctx, Family, ANCHOR, PREFIX};
use crate::backend::header;
use crate::ir::{Action, Cond, Health, Routing, State, Uplink, UplinkId};
use crate::lower::{self, NextHop};
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
# Uplinks. Each state's body first writes the health of the uplinks it
# follows to /var/run/wanc.UPLINK (`up` or `down`) and reloads the rules and
# routes that follow it live. Then, if the state stays (else in the next
# state's body, right after its init has loaded its ruleset), it runs an
# uplink's `on up` and `on down` actions when its health changed since they
# last ran (kept in /var/run/wanc.UPLINK.acted; not for the first health
# after boot), and `flush states`, which kills the states of the pf rules
# labelled with the uplink's name (pfctl -k label), once per outage and only
# while another uplink is healthy, so that the connections have somewhere to
# go. So no rule still routing by a dead uplink can make new states for its
# connections after the flush.
#
# States. ifstated starts in \"wanc.start\", which only picks the first state
# whose condition holds: it lists the states last to first, since the last
# set-state to run wins, each condition without the parts that the states
# before it already decide (after `a`, `!a && b` is written `b`). A state's
# body goes back to \"wanc.start\", after its `on exit` actions, once its
# state is no longer the first whose condition holds: its own condition
# fails or an earlier state's holds. So the choice is written once, and a
# state's body names only its own condition and those of the states before
# it. A state's init loads its pf ruleset, sets the default route and runs
# its `on enter` actions. Members a state leaves undecided are followed
# live: the body reloads their rules as their health changes.
#
# Counting tests. A `count(...)` other than all, any, none or not all, and an
# uplink's `healthy when N` for N between one and all of its checks, are
# each one test, wanc_countN, which counts in sh the members that are
# healthy by their checks' state files (an uplink without checks by
# /var/run/wanc.UPLINK.link, which the global `if` blocks below write from
# its link): with && and || they would take a term for every way to pick N
# of the members. It runs every second, so a state that depends on one is
# entered or left up to a second after the checks' own tests change, and
# at once when the state is entered. A state whose conditions read one
# first names the checks it counts, so that ifstated runs them there.
#
# Default routes are added with `route add -mpath -priority 7`, so that
# several can coexist: set net.inet.ip.multipath=1 (net.inet6.ip6.multipath=1
# for IPv6) in sysctl.conf(5) for a multipath default route to share the
# load. Priority 7 puts them ahead of a static default route (8: /etc/mygate)
# and of dhcpleased's and slaacd's; wanc adds and deletes only routes of its
# own priority, so such a route stays beneath them, never removed. A new
# route is added before an old one is deleted, so there is always one. With
# none of the uplinks the default route names healthy, the default route is
# by the first of them, as on Linux: probes need a route to be sent at all.
#
# ifstated evaluates a state's body only once every test of the state has
# run on its timer since the state was entered, unless the first test in
# the state's list never has (ifstated.c, eval_state). A change seen before
# then would be lost, so each body is wrapped in a test that never runs on
# its timer, `wanc_always`, which is the state's first test.
#
# A command longer than ifstated's strings (8,096 bytes; a `via` followed
# live holds a line per member) is in a file of its own under
# /etc/wanc/ifstated, which ifstated runs with sh.
#
# notify: a syslog message (logger -t wanc, facility daemon, level notice);
# have syslogd(8) forward or mail it as you like.
";

/// The name of the state ifstated starts in; a `.` keeps it apart from
/// every state name a source can declare.
const START: &str = "wanc.start";

pub fn emit(ctx: &Ctx) -> String {
    let mut checks = checks(ctx);
    let conds: Vec<Expr> = select::first_match(ctx.site).iter().map(|c| condition(ctx, c, &mut checks)).collect();
    let mut s = header(ctx.site, "#");
    let _ = write!(
        s,
        "# ifstated(8) configuration of site `{}`: install as /etc/ifstated.conf, and\n\
         # the pf files under {PREFIX}/pf (see pf/wanc.conf).\n#\n{INTRO}\n{}",
        comment(&ctx.site.name),
        checks.macros
    );
    if !checks.counting.macros.is_empty() {
        let _ = write!(s, "# Counting tests (see above).\n{}\n", checks.counting.macros);
    }
    s.push_str(
        "# A test that runs when a state is entered and never again (see above).\nwanc_always = '\"true\" every 4294967295'\n",
    );
    s.push_str(&gateway_tests(ctx));
    s.push_str(&checks.counting.link_files(ctx));
    let mut start = Block::default();
    for (state, cond) in ctx.site.states.iter().zip(&conds).rev() {
        start.when(cond, &[set_state(&state.name)]);
    }
    let start = start.keep_running(&checks.counting, START);
    let _ = write!(s, "\n# Where ifstated starts, and where every state goes back to when it is\n# no longer the first whose condition holds: it only picks that state.\nstate \"{START}\" {{\n{start}}}\n");
    for (i, state) in ctx.site.states.iter().enumerate() {
        s.push('\n');
        s.push_str(&state_block(ctx, i, state, &conds, &checks));
    }
    s
}

/// Per uplink and family with a learned gateway, a test that keeps its pf
/// table and wanc's default route through the interface in line with the
/// routing table (see `learned::refresh`), as often as the uplink's most
/// frequent check. Used outside every state, so that ifstated runs it
/// whatever the state; it is true while a gateway is learned, and its
/// `if` logs when one comes or goes (ifstated runs every global `if` when
/// any global test changes, so each logs its own gateway then).
fn gateway_tests(ctx: &Ctx) -> String {
    let mut s = String::new();
    for (u, up) in ctx.site.uplinks.iter().enumerate() {
        let every = up.checks.iter().map(|c| lower::openbsd::timing(c).every_s).min().unwrap_or(LEASE_PERIOD_S);
        for f in Family::BOTH.into_iter().filter(|&f| ctx.plan.hop(u, f) == Some(&NextHop::Learned)) {
            let name = learned::table(ctx, u, f);
            let log = |what: &str| {
                let text = format!("{}: {what} {} gateway learned on {}", up.name, f.word(), up.interface);
                run(ctx, &format!("logger -t wanc -p daemon.notice -- {}", sh_word(&text)))
            };
            let _ = write!(
                s,
                "\n# {}: its learned {} gateway into pf's table <{name}> (see pf/wanc.conf)\n\
                 {name} = {}\nif ${name} {{\n\t{}\n}}\nif ! ${name} {{\n\t{}\n}}\n",
                comment(&up.name),
                f.word(),
                ctx.test(&learned::refresh(ctx, u, f), every),
                log("an"),
                log("no")
            );
        }
    }
    s
}

/// How often a learned gateway is read for an uplink without checks.
const LEASE_PERIOD_S: u64 = 10;

fn condition(ctx: &Ctx, cond: &Cond, checks: &mut Checks) -> Expr {
    let mut all = |cs: &[Cond]| cs.iter().map(|c| condition(ctx, c, checks)).collect();
    match cond {
        Cond::True => Expr::Const(true),
        Cond::Up(u) => checks.health[*u].clone(),
        Cond::Not(c) => Expr::not(condition(ctx, c, checks)),
        Cond::And(cs) => Expr::all(all(cs)),
        Cond::Or(cs) => Expr::any(all(cs)),
        Cond::CountIn { members, min, max } => {
            let items: Vec<Expr> = members.iter().map(|&m| checks.health[m].clone()).collect();
            let (min, max) = (*min as usize, *max as usize);
            Expr::plain_count(&items, min, max).unwrap_or_else(|| {
                let names: Vec<&str> = members.iter().map(|&m| ctx.site.uplinks[m].name.as_str()).collect();
                let what = format!("count({}) from {min} to {}", names.join(", "), max.min(members.len()));
                checks.counting.test(ctx, members, min, max, &what)
            })
        }
    }
}

/// Indented lines of a block, each ending with the newline ifstated's
/// grammar wants after every action.
#[derive(Default)]
struct Block {
    text: String,
    depth: usize,
    /// Every test its conditions read.
    tests: BTreeSet<String>,
}

impl Block {
    fn read(&mut self, cond: &Expr) {
        let mut tests = BTreeSet::new();
        cond.tests(&mut tests);
        self.tests.extend(tests.into_iter().map(str::to_string));
    }

    /// The block's text, after an `if` naming the check tests its counting
    /// tests read (see `counting`), which only sets the state it is in.
    fn keep_running(self, counting: &Counting, state: &str) -> String {
        let tests = counting.keep_running(&self.tests);
        let Some(any) = Expr::any(tests).render() else { return self.text };
        let indent = "\t".repeat(self.depth + 1);
        format!(
            "{indent}# The checks the counting tests read: named here so that ifstated runs them.\n{indent}if {any} {{\n{indent}\t{}\n{indent}}}\n{}",
            set_state(state),
            self.text
        )
    }

    fn line(&mut self, line: &str) {
        let _ = writeln!(self.text, "{}{line}", "\t".repeat(self.depth + 1));
    }

    /// The lines `fill` writes, under `cond` as [`Block::when`] puts them.
    fn under(&mut self, cond: &Expr, fill: impl Fn(&mut Block)) {
        self.read(cond);
        match cond.render() {
            None if *cond == Expr::Const(true) => fill(self),
            None => {}
            Some(c) => {
                let mut inner = Block { depth: self.depth + 1, ..Default::default() };
                fill(&mut inner);
                self.tests.append(&mut inner.tests);
                if !inner.text.is_empty() {
                    self.line(&format!("if {c} {{"));
                    self.text.push_str(&inner.text);
                    self.line("}");
                }
            }
        }
    }

    /// `actions` under `cond`: in an `if` block, bare when the condition
    /// always holds, not at all when it never does.
    fn when(&mut self, cond: &Expr, actions: &[String]) {
        if !actions.is_empty() {
            self.read(cond);
        }
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

fn run(ctx: &Ctx, command: &str) -> String {
    format!("run {}", ctx.run(command))
}

fn state_block(ctx: &Ctx, i: usize, state: &State, conds: &[Expr], checks: &Checks) -> String {
    let health = &checks.health;
    let mut init = Block { depth: 1, ..Default::default() };
    init.line(&run(ctx, &format!("pfctl -q -a {ANCHOR} -f {PREFIX}/{}", policy_file(&state.name))));
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
            None => live::default_route(ctx, routing, &plan.fallback).iter().for_each(|c| init.line(&run(ctx, c))),
            Some((mode, members)) => {
                refresh.extend(live::default_route_live(ctx, mode, &members, &plan.fallback).iter().map(|c| run(ctx, c)))
            }
        }
    }
    if !ctx.site.lans.is_empty() {
        for (c, routing) in plan.choices.iter().enumerate() {
            let Some(routing) = routing else { continue };
            followed.extend(live::open_members(routing));
            if let Some((mode, members)) = open(routing) {
                refresh.push(run(ctx, &live::choice(ctx, c, mode, &members)));
            }
        }
    }
    for a in &state.on_enter {
        if let Some(c) = action(ctx, a) {
            init.line(&run(ctx, &c));
        }
    }

    // The body: record the health of the uplinks it follows or acts on,
    // bring the live rules and routes in line with it, and only then, and
    // only if the state stays, run the uplinks' actions and flush a dead
    // uplink's states: flushed earlier, its connections would make new
    // states by the rules still routing to it. When the state changes, the
    // next state's body (run right after its init has loaded its ruleset)
    // does it; the actions see a change by their own record (`.acted`).
    let mut body = Block { depth: 1, ..Default::default() };
    let edges = |is_up: bool, u: UplinkId| if is_up { state.health[u] != Health::Down } else { state.health[u] != Health::Up };
    let when_health = |u: UplinkId, is_up: bool| if is_up { health[u].clone() } else { Expr::not(health[u].clone()) };
    for (u, up) in ctx.site.uplinks.iter().enumerate() {
        if followed.contains(&u) || !up.on_up.is_empty() || !up.on_down.is_empty() {
            for is_up in [true, false].into_iter().filter(|&is_up| edges(is_up, u)) {
                body.when(&when_health(u, is_up), &[run(ctx, &record(ctx, u, is_up))]);
            }
        }
    }
    refresh.iter().for_each(|r| body.line(r));
    let earlier = conds[..i].iter().cloned();
    let leaves = Expr::any(std::iter::once(Expr::not(conds[i].clone())).chain(earlier).collect());
    body.under(&Expr::not(leaves.clone()), |b| {
        for u in 0..ctx.site.uplinks.len() {
            for is_up in [true, false].into_iter().filter(|&is_up| edges(is_up, u)) {
                if let Some(act) = edge_actions(ctx, u, is_up) {
                    b.when(&when_health(u, is_up), &[run(ctx, &act)]);
                }
            }
        }
        for (u, up) in ctx.site.uplinks.iter().enumerate() {
            if flushes_on_down(up, u) && state.health[u] != Health::Up {
                b.when(
                    &Expr::all(vec![Expr::not(health[u].clone()), another_healthy(state, u, health)]),
                    &[run(ctx, &flush(up))],
                );
            }
        }
    });
    // Leaving: the `on exit` actions, then back to where the next state is
    // picked.
    let mut exits: Vec<String> = state.on_exit.iter().filter_map(|a| action(ctx, a)).map(|c| run(ctx, &c)).collect();
    exits.push(set_state(START));
    body.when(&leaves, &exits);
    let body = body.keep_running(&checks.counting, &state.name);

    // A body with nothing to do (the only state, nothing followed live)
    // is left out: ifstated's grammar wants an action in every block.
    let body = if body.is_empty() { body } else { format!("\tif $wanc_always {{\n{body}\t}}\n") };
    format!(
        "# State `{}` when {}: {}.\nstate \"{}\" {{\n\tinit {{\n{}\t}}\n{body}}}\n",
        state.name,
        comment(&state.when_text),
        health_summary(ctx, state),
        state.name,
        init.text,
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

/// Records an uplink's health for the live rules (see `live`); coming up,
/// it also re-arms `flush states`.
fn record(ctx: &Ctx, u: UplinkId, is_up: bool) -> String {
    let up = &ctx.site.uplinks[u];
    let mut s = format!("f={}; echo {} > $f", sh_arg(&health_file(&up.name)), if is_up { "up" } else { "down" });
    if is_up && flushes_on_down(up, u) {
        s.push_str("; rm -f $f.flushed");
    }
    s
}

/// Runs an uplink's `on up` or `on down` actions when its health changed
/// since it was last acted on (not for the first health after boot); `None`
/// when it has neither. The record is kept on both edges, so that each
/// outage is seen even when only one edge has actions.
fn edge_actions(ctx: &Ctx, u: UplinkId, is_up: bool) -> Option<String> {
    let (up_commands, down_commands) = (commands(ctx, u, true), commands(ctx, u, false));
    if up_commands.is_empty() && down_commands.is_empty() {
        return None;
    }
    let (now, before, commands) = if is_up { ("up", "down", up_commands) } else { ("down", "up", down_commands) };
    let f = format!("f={}.acted", sh_arg(&health_file(&ctx.site.uplinks[u].name)));
    Some(if commands.is_empty() {
        format!("{f}; echo {now} > $f")
    } else {
        format!("{f}; o=$(cat $f 2>/dev/null); echo {now} > $f; [ \"$o\" = {before} ] && {{ {}; }}", commands.join("; "))
    })
}

/// The commands of an uplink's `on up` or `on down` actions.
fn commands(ctx: &Ctx, u: UplinkId, is_up: bool) -> Vec<String> {
    let up = &ctx.site.uplinks[u];
    let actions = if is_up { &up.on_up } else { &up.on_down };
    actions
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
        .collect()
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
