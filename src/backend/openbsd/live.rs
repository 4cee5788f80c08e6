//! Members a state leaves open (health "either", `certain: false`): a rule
//! uses them only while they are live-healthy, which no static file can say.
//!
//! Each state's body in ifstated.conf first writes `up` or `down` to
//! /var/run/wanc.UPLINK for every such uplink, from the state's own tests,
//! and then runs the commands made here. They read those files and load
//! what holds now: a routing choice's pf rules into its anchor (the state's
//! ruleset leaves that anchor to them), and the default route with
//! route(8). They rerun on every evaluation of the body, change
//! nothing when health has not changed (pf replaces an anchor's ruleset
//! atomically; route refuses an existing route and a missing one alike),
//! and stay linear in size: one line per member, whatever the combination.

use super::pf;
use super::quote::{sh_arg, sh_word};
use super::{learned, Ctx, Family, RUN_DIR};
use crate::ir::{Address, Member, Routing, UplinkId, ViaMode};
use crate::lower::{ChoiceId, NextHop};
use std::fmt::Write;

/// Whether a routing has members used only while live-healthy.
pub fn is_live(routing: &Routing) -> bool {
    open_members(routing).next().is_some()
}

/// The uplinks a routing follows live.
pub fn open_members(routing: &Routing) -> impl Iterator<Item = UplinkId> + '_ {
    let members: &[Member] = match routing {
        Routing::Uplinks { members, .. } => members,
        _ => &[],
    };
    members.iter().filter(|m| !m.certain).map(|m| m.uplink)
}

/// The file holding an uplink's health as the current state's tests see it.
pub fn health_file(uplink: &str) -> String {
    format!("{RUN_DIR}/wanc.{uplink}")
}

/// sh: `up NAME` is true while NAME's health file says `up`.
fn up_function() -> String {
    format!("up() {{ [ \"$(cat {}$1 2>/dev/null)\" = up ]; }}", health_file(""))
}

/// `printf` of pf rules given as sh words, one per line; `:` for none.
fn print(words: &[String]) -> String {
    if words.is_empty() {
        return ":".into();
    }
    format!("printf '%s\\n' {}", words.join(" "))
}

/// The command that loads a choice's rules, as current health has them,
/// into the choice's anchor.
pub fn choice(ctx: &Ctx, choice: ChoiceId, mode: ViaMode, members: &[Member]) -> String {
    let families: Vec<Family> = ctx.choice_families(choice).collect();
    let word = |f: Family, via: Option<UplinkId>| sh_word(&pf::member_rule(ctx, f, via));
    let body = match mode {
        // The first live member, else the first known up, else unrouted.
        ViaMode::Failover => first_live(ctx, members, |u| print(&families.iter().map(|&f| word(f, u)).collect::<Vec<_>>())),
        // Every live member, its probability computed from the weights of
        // the members live before it (see pf.rs), in each family.
        ViaMode::Balance | ViaMode::Multipath => {
            let mut s = String::from(
                "m() { W=$((W + $1)); q=$((100000 * $1 / W)); if [ $q -lt 100000 ]; then printf '%s probability %d.%03d%%\\n' \"$2\" $((q / 1000)) $((q % 1000)); else printf '%s\\n' \"$2\"; fi; }",
            );
            for &f in &families {
                s.push_str("; W=0");
                for m in members {
                    let rule = word(f, Some(m.uplink));
                    if rule != word(f, None) {
                        let _ = write!(s, "; {}m {} {rule}", guard(ctx, m), m.weight);
                    }
                }
                let _ = write!(s, "; [ $W = 0 ] && {}", print(&[word(f, None)]));
            }
            s
        }
    };
    let parts = [format!("echo {}", sh_word(&pf::include_macros())), up_function(), body];
    format!("{{ {}; }} | pfctl -q -a {} -f -", parts.join("; "), pf::choice_anchor(choice))
}

/// `up NAME && ` for a member used only while live, nothing for one known up.
fn guard(ctx: &Ctx, m: &Member) -> String {
    if m.certain {
        String::new()
    } else {
        format!("up {} && ", sh_arg(&ctx.site.uplinks[m.uplink].name))
    }
}

/// `if up A; then …; elif up B; then …; else …; fi` over failover members:
/// members before the first one known up are tried while live, the one
/// known up (if any) is the last resort, and with none the `else` gets
/// `choose(None)`.
fn first_live(ctx: &Ctx, members: &[Member], choose: impl Fn(Option<UplinkId>) -> String) -> String {
    let mut s = String::new();
    for m in members {
        if m.certain {
            return if s.is_empty() { choose(Some(m.uplink)) } else { format!("{s}else {}; fi", choose(Some(m.uplink))) };
        }
        let word = if s.is_empty() { "if" } else { "elif" };
        s.push_str(&format!("{word} up {}; then {}; ", sh_arg(&ctx.site.uplinks[m.uplink].name), choose(Some(m.uplink))));
    }
    if s.is_empty() {
        choose(None)
    } else {
        format!("{s}else {}; fi", choose(None))
    }
}

/// What route(8) takes to add a default route by an uplink, and what to
/// delete it by: the gateway, or for a point-to-point link the uplink's own
/// address (`-iface`). A learned gateway is read from the routing table
/// each time: the learned one to add, the one of wanc's own route through
/// the interface to delete (it may be an older lease's).
fn target(ctx: &Ctx, uplink: UplinkId, f: Family) -> Option<(String, String)> {
    match ctx.plan.hop(uplink, f)? {
        NextHop::Gateway { address, zone } => {
            let g = sh_arg(&format!("{address}{}", zone.as_ref().map(|z| format!("%{z}")).unwrap_or_default()));
            Some((g.clone(), g))
        }
        NextHop::Peer => {
            let up = &ctx.site.uplinks[uplink];
            let a = match up.source(f)? {
                Address::Known(a) => sh_arg(&a.to_string()),
                Address::Learned(_) => format!("\"$({})\"", learned::address(&up.interface, f)),
            };
            Some((format!("-iface {a}"), a))
        }
        NextHop::Learned => {
            let interface = &ctx.site.uplinks[uplink].interface;
            Some((format!("\"$({})\"", learned::gateway(interface, f)), format!("\"$({})\"", learned::own_gateway(interface, f))))
        }
    }
}

/// The priority of wanc's default routes: ahead of static routes (8, as
/// /etc/mygate adds at boot) and of dhcpleased's and slaacd's (58, 59), so
/// they decide, while a default route of those stays beneath them. wanc
/// adds and deletes routes of this priority only (route(8) `-priority`; the
/// kernel matches a delete by it), so it never removes a default route it
/// did not add, and `-mpath` never meets a route added without it.
pub const PRIORITY: u8 = 7;

fn add(f: Family, add: &str) -> String {
    format!("route -qn add {} -mpath -priority {PRIORITY} default {add}", f.route())
}

fn delete_one(f: Family, target: &str) -> String {
    format!("route -qn delete {} -priority {PRIORITY} default {target}", f.route())
}

/// Deletes the default routes by the given uplinks, or nothing.
fn delete(ctx: &Ctx, f: Family, uplinks: impl Iterator<Item = UplinkId>) -> Option<String> {
    let targets: Vec<String> = uplinks.filter_map(|u| target(ctx, u, f)).map(|(_, del)| del).collect();
    match targets.as_slice() {
        [] => None,
        [one] => Some(delete_one(f, one)),
        _ => Some(format!("for g in {}; do {}; done", targets.join(" "), delete_one(f, "$g"))),
    }
}

/// The default routes by exactly these uplinks: added first, then the
/// others deleted, so that the router is never without one in between.
/// Routes are added with `-mpath` always, so several may coexist.
///
/// With no uplink to route by, the default route is by the first of
/// `fallback` (the uplinks the default route names) that can carry one, as
/// on Linux (`lower::StatePlan::fallback`): the uplinks' probes need a
/// route to be sent at all, and pf then sends each out by its own uplink
/// (see pf/wanc.conf). Without one, every check of a host beyond the
/// gateways would stay down for good.
fn exactly(ctx: &Ctx, f: Family, uplinks: &[UplinkId], fallback: &[UplinkId]) -> String {
    let adds: Vec<String> = uplinks.iter().filter_map(|&u| target(ctx, u, f)).map(|(a, _)| add(f, &a)).collect();
    if adds.is_empty() {
        return match fallback.iter().find(|&&u| target(ctx, u, f).is_some()) {
            Some(&u) => exactly(ctx, f, &[u], &[]),
            None => ":".into(),
        };
    }
    let mut parts = adds;
    parts.extend(delete(ctx, f, (0..ctx.site.uplinks.len()).filter(|u| !uplinks.contains(u))));
    parts.join("; ")
}

/// The default route by the first live member of a failover, as
/// [`exactly`] would set it, in text linear in the uplinks: the branch
/// that picks a member adds its route and keeps its position among the
/// uplinks that can carry one (`c`), and one loop then deletes the routes
/// by all the others (none when no uplink is picked).
fn failover(ctx: &Ctx, f: Family, members: &[Member], fallback: &[UplinkId]) -> String {
    let routed: Vec<(UplinkId, (String, String))> =
        (0..ctx.site.uplinks.len()).filter_map(|u| Some((u, target(ctx, u, f)?))).collect();
    let position = |u: UplinkId| routed.iter().position(|(v, _)| *v == u);
    let last_resort = fallback.iter().find_map(|&u| position(u));
    let pick = first_live(ctx, members, |u| match u.and_then(position).or(last_resort) {
        Some(p) => format!("{}; c={p}", add(f, &routed[p].1 .0)),
        None => "c=".to_string(),
    });
    let deletes: Vec<&str> = routed.iter().map(|(_, (_, d))| d.as_str()).collect();
    format!(
        "{pick}; [ -n \"$c\" ] && {{ i=0; for g in {}; do [ $i = $c ] || {}; i=$((i + 1)); done; }}",
        deletes.join(" "),
        delete_one(f, "$g")
    )
}

/// The families some uplink can carry a default route in.
fn families<'a>(ctx: &'a Ctx<'a>) -> impl Iterator<Item = Family> + 'a {
    Family::BOTH.into_iter().filter(|&f| (0..ctx.site.uplinks.len()).any(|u| target(ctx, u, f).is_some()))
}

/// The commands that set the default route for a routing whose members are
/// all known (a state's `init`): one per family.
pub fn default_route(ctx: &Ctx, routing: &Routing, fallback: &[UplinkId]) -> Vec<String> {
    let members: Vec<UplinkId> = match routing {
        Routing::Uplinks { members, .. } => members.iter().map(|m| m.uplink).collect(),
        _ => Vec::new(),
    };
    families(ctx).map(|f| exactly(ctx, f, &members, fallback)).collect()
}

/// The commands that keep the default route right for a routing with
/// members followed live (a state's body): one per family.
pub fn default_route_live(ctx: &Ctx, mode: ViaMode, members: &[Member], fallback: &[UplinkId]) -> Vec<String> {
    families(ctx)
        .map(|f| {
            let body = match mode {
                ViaMode::Failover => failover(ctx, f, members, fallback),
                ViaMode::Balance | ViaMode::Multipath => {
                    let mut parts: Vec<String> = members
                        .iter()
                        .filter_map(|m| {
                            let (a, d) = target(ctx, m.uplink, f)?;
                            Some(if m.certain {
                                add(f, &a)
                            } else {
                                format!(
                                    "if up {}; then {}; else {}; fi",
                                    sh_arg(&ctx.site.uplinks[m.uplink].name),
                                    add(f, &a),
                                    delete_one(f, &d)
                                )
                            })
                        })
                        .collect();
                    let others = (0..ctx.site.uplinks.len()).filter(|u| !members.iter().any(|m| m.uplink == *u));
                    parts.extend(delete(ctx, f, others));
                    // With every member live-only, all may be down.
                    let last_resort = exactly(ctx, f, &[], fallback);
                    if members.iter().all(|m| !m.certain) && last_resort != ":" {
                        let any_up: Vec<String> =
                            members.iter().map(|m| format!("up {}", sh_arg(&ctx.site.uplinks[m.uplink].name))).collect();
                        parts.push(format!("{{ {}; }} || {{ {last_resort}; }}", any_up.join(" || ")));
                    }
                    parts.join("; ")
                }
            };
            format!("{}; {body}", up_function())
        })
        .collect()
}
