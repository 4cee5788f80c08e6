//! Checks as ifstated external tests, with rise and fall.
//!
//! ifstated runs a test's command every N seconds and takes exit status 0
//! for true; it has no hysteresis of its own. So each check's command wraps
//! its probe in a few lines of sh that keep the check's debounced status in
//! /var/run/wanc.UPLINK.N as "S C T" (status 1 or 0, how many results in a
//! row disagreed with it, when the last probe ran):
//!
//! - the status turns up after `rise` successes in a row and down after
//!   `fall` failures in a row; a result that agrees with it resets the
//!   count, so only consecutive results count;
//! - with no history (/var/run is emptied at boot) the first result sets it;
//! - a probe runs only when the last one is at least `every` − 1 seconds
//!   old. ifstated runs all of a state's tests at once when it enters the
//!   state, on top of their timers; those extra runs report the stored
//!   status instead of counting as samples, so that rise and fall count
//!   probes `every` apart. (One second of slack absorbs timer jitter and the
//!   one-second resolution of `date +%s`.)
//!
//! The test is true while the debounced status is up. An uplink's health
//! combines its checks per `healthy when`; one without checks is healthy
//! while its interface's link is up (the kernel debounces that). Probes
//! leave by their uplink: they are sent from its address (a learned one
//! read from the interface before each probe, since OpenBSD's tools bind
//! to an address, not to an interface), and pf routes traffic from that
//! address out by the uplink (see pf/wanc.conf).

use super::counting::Counting;
use super::expr::Expr;
use super::quote::{sh_arg, sh_word};
use super::{comment, learned, source, Ctx, Family, RUN_DIR};
use crate::duration;
use crate::ir::{Address, Check, Healthy, HttpUrl, Probe, Target, Uplink};
use crate::lower::openbsd::{self, Timing};
use std::fmt::Write;

/// Where `wanc probe` is installed (ifstated's PATH has no /usr/local/bin).
const WANC: &str = "/usr/local/bin/wanc";

/// The checks of a site: their macro definitions, per uplink the
/// condition under which it is healthy, and the counting tests made so far
/// (for `healthy when N` here, and for the states' conditions).
pub struct Checks {
    pub macros: String,
    pub health: Vec<Expr>,
    pub counting: Counting,
}

pub fn checks(ctx: &Ctx) -> Checks {
    let mut macros = String::new();
    let mut tests = Vec::new();
    for (u, up) in ctx.site.uplinks.iter().enumerate() {
        if up.checks.is_empty() {
            let _ = writeln!(macros, "# {}: no checks, healthy while the link of {} is up\n", up.name, up.interface);
            tests.push(Vec::new());
            continue;
        }
        let rule = match up.healthy {
            Healthy::All => "all of its checks".to_string(),
            Healthy::Any => "any of its checks".to_string(),
            Healthy::AtLeast(n) => format!("{n} of its checks"),
        };
        let _ = writeln!(macros, "# {}: healthy when {rule} are up", up.name);
        let mut own = Vec::new();
        for (i, check) in up.checks.iter().enumerate() {
            let name = format!("{}_check{}", ctx.names.uplinks[u], i + 1);
            let timing = openbsd::timing(check);
            let command =
                debounced(&format!("{RUN_DIR}/wanc.{}.{}", up.name, i + 1), check, &timing, &probe(ctx, up, check, &timing));
            let _ = writeln!(macros, "# {}\n{name} = {}", comment(&describe(check)), ctx.test(&command, timing.every_s));
            own.push(Expr::Test(format!("${name}")));
        }
        tests.push(own);
        macros.push('\n');
    }
    let mut counting = Counting::new(tests.clone());
    let mut health = Vec::new();
    for (u, (up, tests)) in ctx.site.uplinks.iter().zip(tests).enumerate() {
        let n = tests.len();
        health.push(match up.healthy {
            _ if n == 0 => Expr::Test(format!("\"{}\".link.up", up.interface)),
            Healthy::All => Expr::all(tests),
            Healthy::Any => Expr::any(tests),
            Healthy::AtLeast(k) => Expr::plain_count(&tests, k as usize, n)
                .unwrap_or_else(|| counting.test(ctx, &[u], 1, 1, &format!("{}: {k} of its {n} checks up", up.name))),
        });
    }
    Checks { macros, health, counting }
}

/// The test command: the probe, debounced through the check's state file
/// (see the top of this file).
fn debounced(file: &str, check: &Check, timing: &Timing, probe: &str) -> String {
    let f = sh_arg(file);
    let gap = timing.every_s - 1;
    format!(
        "f={f}; s=u c=0 t=0; [ -r $f ] && read s c t < $f; \
         case $s in 0|1) ;; *) s=u ;; esac; case ${{c:-x}} in *[!0-9]*) c=0 ;; esac; case ${{t:-x}} in *[!0-9]*) t=0 ;; esac; \
         now=$(date +%s); \
         if [ $((now - t)) -ge {gap} ]; then \
         if {probe}; then r=1 k={rise}; else r=0 k={fall}; fi; \
         if [ $s = u ] || [ $s = $r ]; then s=$r c=0; else c=$((c + 1)); [ $c -ge $k ] && s=$r c=0; fi; \
         echo $s $c $now > $f.new && mv -f $f.new $f; \
         fi; [ $s = 1 ]",
        rise = check.rise,
        fall = check.fall
    )
}

/// One probe: exit status 0 when the check passes this time. Probes other
/// than ping cannot measure latency; a slower answer than the threshold is
/// a failure through the timeout instead (see [`Timing::timeout_ms`]).
fn probe(ctx: &Ctx, up: &Uplink, check: &Check, timing: &Timing) -> String {
    let family = match &check.probe {
        Probe::Ping { target } | Probe::Tcp { target, .. } => target_family(target),
        Probe::Http { url, .. } => target_family(&url.host),
        Probe::Dns { server, .. } => Some(Family::of(server)),
        Probe::Plugin { .. } => None,
    };
    let source = source(up, family);
    let from = source.map(|a| match a {
        Address::Known(a) => a.to_string(),
        Address::Learned(_) => "$src".to_string(),
    });
    let command = probe_from(ctx, check, timing, from.as_deref());
    match source {
        // Read before each probe: the address may change with every lease.
        Some(Address::Learned(f)) => {
            format!("src=$({}); [ -n \"$src\" ] && {{ {command}; }}", learned::address(&up.interface, f))
        }
        _ => command,
    }
}

/// One probe sent from `src` (an address, or a sh word for one).
fn probe_from(ctx: &Ctx, check: &Check, timing: &Timing, src: Option<&str>) -> String {
    let (timeout, secs) = (timing.timeout_ms, timing.timeout_s);
    let from = |option: &str| src.map(|a| format!(" {option} {a}")).unwrap_or_default();
    match &check.probe {
        Probe::Ping { target } => ping(check, timing, target, src),
        Probe::Tcp { target, port } => {
            attempts(check, format!("nc -z -w {secs}{} {} {port} > /dev/null 2>&1", from("-s"), sh_arg(&target.to_string())))
        }
        Probe::Http { url, expect } => attempts(check, http(url, *expect, secs, &from("-s"))),
        Probe::Dns { server, query } => {
            let src = from("-b");
            attempts(
                check,
                format!(
                    "dig{src} @{server} {} +time={secs} +tries=1 2>/dev/null | grep -Eq 'status: (NOERROR|NXDOMAIN)'",
                    sh_arg(query),
                ),
            )
        }
        Probe::Plugin { plugin, settings } => {
            let path = ctx.site.plugins.iter().find(|p| &p.name == plugin).map_or(plugin.as_str(), |p| p.path.as_str());
            let mut s = format!("{WANC} probe {}", sh_arg(path));
            for (key, value) in settings {
                let _ = write!(s, " --set {}", sh_arg(&format!("{key}={value}")));
            }
            s.push_str(&from("--source"));
            let _ = write!(s, " --timeout {timeout}ms > /dev/null 2>&1");
            attempts(check, s)
        }
    }
}

fn target_family(target: &Target) -> Option<Family> {
    match target {
        Target::Address(a) => Some(Family::of(a)),
        Target::Hostname(_) => None,
    }
}

/// ping(8) exits 0 when any reply came; with a loss or latency threshold
/// its summary decides instead (`x% packet loss`, and the average of
/// `round-trip min/avg/max/std-dev = …`). OpenBSD's ping does IPv6 only
/// when invoked as `ping6` (ping.c picks the family by its program name,
/// and has no `-6`); a hostname is resolved as IPv4. One request per
/// timeout (`-i`, fractions allowed to root, which ifstated runs as), then
/// the timeout in whole seconds for the last reply (`-w`); see
/// `lower::openbsd` for how long that takes.
fn ping(check: &Check, timing: &Timing, target: &Target, src: Option<&str>) -> String {
    let program = if target_family(target) == Some(Family::V6) { "ping6" } else { "ping" };
    let src = src.map(|a| format!(" -I {a}")).unwrap_or_default();
    let cmd = format!(
        "{program} -q -c {} -i {} -w {}{src} {}",
        check.count,
        seconds(timing.timeout_ms),
        timing.timeout_s,
        sh_arg(&target.to_string())
    );
    if check.max_loss_percent.is_none() && check.max_latency_ms.is_none() {
        return format!("{cmd} > /dev/null 2>&1");
    }
    let loss = number(check.max_loss_percent.unwrap_or(100.0));
    let latency = check.max_latency_ms.map(|l| format!(" && a != \"\" && a < {l}")).unwrap_or_default();
    let program = format!(
        "/packet loss/ {{ for (i = 1; i <= NF; i++) if ($i ~ /%$/) {{ l = $i + 0; seen = 1 }} }} \
         /round-trip/ {{ split($4, r, \"/\"); a = r[2] }} \
         END {{ exit !(seen && l < {loss}{latency}) }}"
    );
    format!("{cmd} 2>/dev/null | awk {}", sh_word(&program))
}

/// Milliseconds as decimal seconds: `1`, `0.5`, `1.25`.
fn seconds(ms: u64) -> String {
    let frac = format!("{:03}", ms % 1000);
    match frac.trim_end_matches('0') {
        "" => (ms / 1000).to_string(),
        frac => format!("{}.{frac}", ms / 1000),
    }
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        x.to_string()
    }
}

/// `count` attempts of a probe that has no count of its own: up when the
/// share that failed is below the loss threshold, or without one when any
/// succeeded. Compared in tenths of a percent, in integers, for sh.
fn attempts(check: &Check, one: String) -> String {
    let n = check.count.max(1);
    if n == 1 && check.max_loss_percent.is_none() {
        return one;
    }
    let enough = match check.max_loss_percent {
        Some(loss) => format!("[ $((1000 * ({n} - ok))) -lt {} ]", (loss * 10.0).round() as u64 * u64::from(n)),
        None => "[ $ok -gt 0 ]".to_string(),
    };
    let seq: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    format!("ok=0; for i in {}; do {one} && ok=$((ok + 1)); done; {enough}", seq.join(" "))
}

/// An HTTP(S) request with nc(1) (TLS with -c): up when the status of the
/// reply's first line is the one expected.
fn http(url: &HttpUrl, expect: u16, timeout: u64, src: &str) -> String {
    format!(
        "printf '%s\\r\\n' {} {} 'Connection: close' '' | nc{} -w {timeout}{src} {} {} 2>/dev/null | \
         awk 'NR == 1 {{ sub(/\\r$/, \"\"); ok = ($2 == \"{expect}\") }} END {{ exit !ok }}'",
        sh_word(&format!("GET {} HTTP/1.0", url.path)),
        sh_word(&format!("Host: {}", url.authority())),
        if url.tls { " -c" } else { "" },
        sh_arg(&url.host.to_string()),
        url.port
    )
}

/// The check in words, for the comment above its macro.
fn describe(check: &Check) -> String {
    let what = match &check.probe {
        Probe::Ping { target } => format!("ping {target}"),
        Probe::Tcp { target, port } => format!("tcp {target} port {port}"),
        Probe::Http { url, expect } => format!("http {url} expect {expect}"),
        Probe::Dns { server, query } => format!("dns {server} query {query}"),
        Probe::Plugin { plugin, settings } => {
            let set: Vec<String> = settings.iter().map(|(k, v)| format!("{k} {v:?}")).collect();
            format!("plugin {plugin} {}", set.join(" "))
        }
    };
    let mut s = format!(
        "{}: every {} timeout {} count {}, up after {} successes, down after {} failures",
        what.trim_end(),
        duration::format(check.every_ms),
        duration::format(check.timeout_ms),
        check.count,
        check.rise,
        check.fall
    );
    if let Some(loss) = check.max_loss_percent {
        let _ = write!(s, ", loss < {}%", number(loss));
    }
    if let Some(latency) = check.max_latency_ms {
        let _ = write!(s, ", latency < {}", duration::format(latency));
    }
    s
}
