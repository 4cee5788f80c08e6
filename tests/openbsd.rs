//! The OpenBSD back end: the pf rulesets and ifstated.conf of every example
//! (snapshots, with the source as description), the seed scenarios, and,
//! since no OpenBSD machine is at hand, checks that stand in for one: every
//! ifstated.conf goes through a model of ifstated's own lexer and grammar,
//! every command it runs through `sh -n`, and the generated sh that matters
//! most (hysteresis, flushing, live members, quoting) runs for real against
//! stub tools.

mod common;
#[path = "../benches/openbsd_sites.rs"]
mod openbsd_sites;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use wanc::backend::openbsd;
use wanc::driver;
use wanc::lower::Plan;

/// Compiles source text that must have no errors.
fn compile(name: &str, text: &str) -> Plan {
    let c = driver::compile_source(name, text);
    let report = wanc::render::short(&c.diagnostics, &c.sources);
    assert!(!c.has_errors(), "{name} has errors:\n{report}");
    c.plan.expect("a clean compilation has a model")
}

/// An example, named relative to the crate so snapshots do not depend on
/// where the checkout lives.
fn example(name: &str) -> Plan {
    let path = format!("examples/{name}");
    compile(&path, &std::fs::read_to_string(&path).expect("example readable"))
}

/// The OpenBSD outputs by path.
fn outputs(plan: &Plan) -> BTreeMap<String, String> {
    openbsd::emit(plan)
        .into_iter()
        .map(|f| (f.path.display().to_string(), String::from_utf8(f.contents).expect("text")))
        .collect()
}

fn pf_files(out: &BTreeMap<String, String>) -> String {
    out.iter().filter(|(p, _)| p.starts_with("pf/")).map(|(p, text)| format!("==> {p} <==\n{text}\n")).collect()
}

#[test]
fn examples_snapshot_pf_and_ifstated() {
    let mut count = 0;
    insta::glob!("../examples", "*.wan", |path| {
        count += 1;
        let name = path.file_name().and_then(|n| n.to_str()).expect("file name");
        let site = example(name);
        let out = outputs(&site);
        let source = std::fs::read_to_string(path).expect("example readable");
        let conf = ifstated_model::parse(&out["ifstated.conf"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_structure(&out, &conf);
        check_sh_syntax(&conf);
        insta::with_settings!({ description => source, omit_expression => true }, {
            insta::assert_snapshot!("pf", pf_files(&out));
            insta::assert_snapshot!("ifstated", out["ifstated.conf"]);
        });
    });
    assert!(count >= 4);
}

/// What a real pfctl and ifstated would refuse and can be seen cheaply.
fn check_structure(out: &BTreeMap<String, String>, conf: &ifstated_model::Conf) {
    // ifstated: every set-state names a declared state.
    for target in &conf.targets {
        assert!(conf.states.contains(target), "set-state {target:?} is not declared");
    }
    // Every ruleset ifstated loads exists, and every anchor it loads
    // rules into is one a route rule of pf/wanc.conf hands traffic to.
    for (state, run) in &conf.runs {
        if let Some(path) = run.strip_prefix("pfctl -q -a wanc/policy -f /etc/wanc/") {
            assert!(out.contains_key(path), "{path} is loaded but not written");
            assert_eq!(Some(path.to_string()), state.as_ref().map(|s| format!("pf/policy.{s}.conf")));
        }
        if let (Some(state), Some(i)) = (state, run.find("pfctl -q -a wanc/policy/")) {
            let anchor = run[i + "pfctl -q -a wanc/policy/".len()..].split(' ').next().unwrap_or("");
            let hook = format!("anchor \"wanc/policy/{anchor}\" in quick on ");
            assert!(
                out["pf/wanc.conf"].contains(&hook),
                "{state} loads {anchor}, which no rule of pf/wanc.conf hands traffic to"
            );
        }
    }
    // pf: macros defined before use, braces balanced, route options well formed.
    let macros = &out["pf/macros.conf"];
    let defined: Vec<&str> = macros.lines().filter_map(|l| l.split_once(" = ").map(|(name, _)| name)).collect();
    for (path, text) in out.iter().filter(|(p, _)| p.starts_with("pf/")) {
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            for word in line.split('$').skip(1) {
                let name: String = word.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                assert!(defined.contains(&name.as_str()), "{path}: macro ${name} is not defined: {line}");
            }
            // Braces balance on a line, but for an inline anchor's block.
            let block = line.starts_with("anchor ") && line.ends_with('{') || line == "}";
            assert!(block || line.matches('{').count() == line.matches('}').count(), "{path}: {line}");
            if line.contains("route-to") || line.contains("reply-to") {
                assert!(line.contains(" label \""), "{path}: no label: {line}");
                assert!(!line.contains("no state"), "{path}: pf wants state for route options: {line}");
                for hop in line.split("-to ").skip(1) {
                    assert!(!hop.starts_with('(') || hop.contains(":peer)"), "{path}: an interface is not a next hop: {line}");
                }
            }
        }
    }
}

/// Every command ifstated runs parses as sh.
fn check_sh_syntax(conf: &ifstated_model::Conf) {
    let commands: Vec<&str> =
        conf.runs.iter().map(|(_, r)| r.as_str()).chain(conf.tests.iter().map(|(t, _)| t.as_str())).collect();
    for command in commands {
        let out = Command::new("sh").args(["-n", "-c", command]).output().expect("sh runs");
        assert!(out.status.success(), "not valid sh: {command}\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn dual_isp_balances_and_pins_https() {
    let out = outputs(&example("dual-isp-failover.wan"));
    // Each route rule is written once, handing its traffic to the anchor of
    // its routing choice; https, written after the balance, comes first:
    // the anchors are quick, the first to match decides, so it stays on its
    // own choice.
    let wanc = &out["pf/wanc.conf"];
    let balance = "anchor \"wanc/policy/choice0\" in quick on $inside_if inet from 192.168.1.0/24 to ! <wanc_local>\n";
    let https =
        "anchor \"wanc/policy/choice1\" in quick on $inside_if inet proto tcp from 192.168.1.0/24 to ! <wanc_local> port 443\n";
    let (a, b) = (wanc.find(balance), wanc.find(https));
    assert!(a.is_some() && b.is_some() && b < a, "{wanc}");
    // The router's own services reply by the uplink they were reached on:
    // the state is created by wanc's rule, before any pass rule of the user's.
    assert!(
        wanc.contains(
            "pass in quick on $isp2_if inet from ! ($isp2_if:network) to $isp2_addr reply-to $isp2_gw label \"isp2\"\n"
        ),
        "{wanc}"
    );
    // Every rule of wanc.conf decides at once.
    for line in wanc.lines().filter(|l| l.starts_with("pass") || l.starts_with("anchor")) {
        assert!(line.contains(" quick"), "not quick: {line}");
    }
    // A state fills the anchors: one rule per member, labelled for `flush
    // states`; the chain splits connections by weight (1:1 here, so the
    // second member gets 50%); https on isp2.
    let all = &out["pf/policy.allworking.conf"];
    assert!(
        all.contains(
            "anchor \"choice0\" {\n\tpass in inet route-to $isp1_gw label \"isp1\"\n\tpass in inet route-to $isp2_gw label \"isp2\" probability 50%\n}\n"
        ),
        "{all}"
    );
    assert!(all.contains("anchor \"choice1\" {\n\tpass in inet route-to $isp2_gw label \"isp2\"\n}\n"), "{all}");
    // Without isp2 everything, https included, leaves by isp1.
    let noisp2 = &out["pf/policy.noisp2.conf"];
    assert!(!noisp2.contains("$isp2_gw"), "{noisp2}");
    assert!(noisp2.contains("anchor \"choice1\" {\n\tpass in inet route-to $isp1_gw label \"isp1\"\n}\n"), "{noisp2}");
    // With nothing up, traffic is passed to the main routing table.
    assert!(!out["pf/policy.alldown.conf"].contains("route-to"));
    // NAT per uplink, to its address.
    assert!(out["pf/wanc.conf"].contains("match out on $isp1_if inet from <wanc_lan> nat-to $isp1_addr\n"));
    // The router's own default route follows the failover order.
    let conf = ifstated_model::parse(&out["ifstated.conf"]).expect("parses");
    assert!(conf.runs.contains(&(
        Some("allworking".into()),
        "route -qn add -inet -mpath -priority 7 default 203.0.113.200; route -qn delete -inet -priority 7 default 198.51.100.100"
            .into()
    )));
}

#[test]
fn default_routes_never_remove_the_static_one() {
    let out = outputs(&example("dual-isp-failover.wan"));
    let conf = ifstated_model::parse(&out["ifstated.conf"]).expect("parses");
    // A model of the kernel's table as route(8) changes it (rtsock.c): a
    // route of a priority (8, a static route's, when none is given) and
    // gateway; `-mpath` refused beside a route of the same priority added
    // without it; a delete matches the priority given, else any.
    let sb = Sandbox::new("mygate");
    sb.stub(
        "route",
        r#"t="$STUB/table"; touch "$t"; cmd=$2; prio=; mpath=0
shift 2
while [ $# -gt 1 ]; do case $1 in -priority) prio=$2; shift ;; -mpath) mpath=1 ;; esac; shift; done
gw=$1
case $cmd in
add)
    p=${prio:-8}
    grep -q "^$p $gw " "$t" && exit 1
    grep -q "^$p .* 0$" "$t" && exit 1
    [ $mpath = 0 ] && grep -q "^$p " "$t" && exit 1
    echo "$p $gw $mpath" >> "$t" ;;
delete)
    line=$(grep -n "^${prio:-[0-9]*} $gw " "$t" | head -n 1 | cut -d: -f1)
    [ -n "$line" ] || exit 1
    sed -i "${line}d" "$t" ;;
esac
[ -s "$t" ] || echo "no default route after: $cmd $gw" >> "$STUB/gaps""#,
    );
    // /etc/mygate: a static default route by isp1, added without -mpath.
    sb.write("table", "8 198.51.100.100 0\n");
    let route = |state: &str| {
        let runs: Vec<&String> =
            conf.runs.iter().filter(|(s, r)| s.as_deref() == Some(state) && r.contains("route -qn")).map(|(_, r)| r).collect();
        assert_eq!(runs.len(), 1, "{state}");
        sb.run(runs[0]);
    };
    route("allworking");
    assert_eq!(sb.read("table"), "8 198.51.100.100 0\n7 203.0.113.200 1\n");
    route("noisp2");
    assert_eq!(sb.read("table"), "8 198.51.100.100 0\n7 198.51.100.100 1\n");
    route("alldown");
    route("allworking");
    assert_eq!(sb.read("table"), "8 198.51.100.100 0\n7 203.0.113.200 1\n");
    // Never without a default route, and the static one is still there.
    assert_eq!(sb.read("gaps"), "");
}

#[test]
fn weights_split_by_probability() {
    let site = compile(
        "weights.wan",
        "lan l { interface em0; network 10.0.0.0/24 }
         uplink a { interface em1; address 192.0.2.2/24; gateway 192.0.2.1; weight 3 }
         uplink b { interface em2; address 198.51.100.2/24; gateway 198.51.100.1 }
         uplink c { interface em3; address 203.0.113.2/24; gateway 203.0.113.1; weight 2 }
         policy { route from l via balance(a, b, c) }
         state all when a && b && c
         state rest default",
    );
    let all = &outputs(&site)["pf/policy.all.conf"];
    // a first with no probability, then b 1/(3+1), then c 2/(3+1+2).
    assert!(all.contains("route-to $a_gw label \"a\"\n"), "{all}");
    assert!(all.contains("route-to $b_gw label \"b\" probability 25%\n"), "{all}");
    assert!(all.contains("route-to $c_gw label \"c\" probability 33.333%\n"), "{all}");
}

#[test]
fn multihomed_server_is_stateless_on_every_hop() {
    let out = outputs(&example("multihomed-webserver.wan"));
    // Serve rules are in force in every state: written once, in wanc.conf.
    let policy = &out["pf/wanc.conf"];
    let serve: Vec<&str> = policy.lines().filter(|l| l.contains("$www_host")).collect();
    assert_eq!(
        serve,
        [
            "pass in quick on $he_if inet6 proto tcp from any to $www_host port 443 no state label \"he\"",
            "pass out quick on $lan_if inet6 proto tcp from any to $www_host port 443 no state label \"he\"",
            // pf refuses route-to without state: the reply rule keeps a
            // sloppy one, which tracks no sequence numbers.
            "pass in quick on $lan_if inet6 proto tcp from $www_host port 443 to any flags any route-to $he_gw6 keep state (sloppy) label \"he\"",
            "pass out quick on $he_if inet6 proto tcp from $www_host port 443 to any no state label \"he\"",
        ]
    );
    // The tunnel's own address answers by the tunnel, and the default route
    // (a link-local gateway) leaves by the ISP.
    assert!(out["pf/wanc.conf"].contains("pass out quick on $isp_if inet6 from $he_addr6 route-to $he_gw6 label \"he\"\n"));
    assert!(out["pf/macros.conf"].contains("isp_gw6 = \"fe80::1%em0\"\n"));
}

#[test]
fn forwarded_services_reply_by_their_uplink() {
    let out = outputs(&example("redundant-multipath.wan"));
    // Forwards are in force in every state: written once, in wanc.conf, and
    // in no state's ruleset.
    for state in ["via_ext1", "via_ext2", "unrouted"] {
        assert!(!out[&format!("pf/policy.{state}.conf")].contains("rdr-to"));
    }
    {
        let policy = &out["pf/wanc.conf"];
        assert!(
            policy.contains(
                "pass in quick on $ext1_if inet proto tcp from any to 192.0.2.11 port { 80, 443 } rdr-to $www_host reply-to $ext1_gw label \"ext1\"\n"
            ),
            "{policy}"
        );
        assert!(policy.contains("proto udp from any to 192.0.2.12 port 53 rdr-to $mail_host reply-to $ext1_gw"), "{policy}");
    }
}

#[test]
fn several_addresses_of_an_uplink_nat_and_reply_by_it() {
    let out = outputs(&example("redundant-multipath.wan"));
    let conf = &out["pf/wanc.conf"];
    // pf applies the last matching `match … nat-to`: the line for every
    // source first, then the named ones, the first written last.
    let nat: Vec<&str> = conf.lines().filter(|l| l.starts_with("match out on $ext1_if")).collect();
    assert_eq!(
        nat,
        [
            "match out on $ext1_if inet from 10.0.1.20/32 nat-to 192.0.2.12",
            "match out on $ext1_if inet from 10.0.1.10/32 nat-to 192.0.2.11",
            "match out on $ext1_if inet from 10.0.0.0/24 nat-to $ext1_addr",
        ]
    );
    // Traffic from any of ext1's addresses leaves by ext1, and traffic to
    // any of them is answered by it.
    assert!(conf.contains(
        "pass out quick on $ext2_if inet from { $ext1_addr, 192.0.2.11, 192.0.2.12 } route-to $ext1_gw label \"ext1\"\n"
    ));
    assert!(conf.contains(
        "pass in quick on $ext1_if inet from ! ($ext1_if:network) to { $ext1_addr, 192.0.2.11, 192.0.2.12 } reply-to $ext1_gw label \"ext1\"\n"
    ));
}

#[test]
fn flush_states_on_down_kills_that_uplink_once_while_another_is_up() {
    let out = outputs(&example("redundant-multipath.wan"));
    let conf = ifstated_model::parse(&out["ifstated.conf"]).expect("parses");
    let ifstated = &out["ifstated.conf"];
    // In via_ext1, ext1 is up: ext2 going down is flushed while the state
    // stays (else the next state's body does it, after its init), ...
    assert!(ifstated.contains("\t\tif $ext1_check1 && $ext1_check2 {\n\t\t\tif $ext1_check1 && $ext1_check2 {\n"));
    assert!(ifstated.contains(
        "\t\t\tif ! ( $ext2_check1 && $ext2_check2 ) {\n\t\t\t\trun \"f=/var/run/wanc.ext2; [ -e $f.flushed ] || { touch $f.flushed; pfctl -q -k label -k ext2; }\"\n"
    ));
    // ... and only once its rules no longer route by ext2: after the live
    // anchor and default route are reloaded from the recorded health, so
    // that no connection makes a new state by ext2 after the flush.
    let position = |part: &str| conf.runs.iter().position(|(s, r)| s.as_deref() == Some("via_ext1") && r.contains(part));
    let (record, reload, route, flushed) = (
        position("f=/var/run/wanc.ext2; echo down > $f").expect("record"),
        position("pfctl -q -a wanc/policy/choice0 -f -").expect("reload"),
        position("route -qn").expect("route"),
        position("pfctl -q -k label -k ext2").expect("flush"),
    );
    assert!(record < reload && record < route && reload < flushed && route < flushed, "{ifstated}");
    // Nowhere is an uplink flushed while it is known up, and with both down
    // (unrouted) there is nowhere to go, so nothing is flushed.
    let flushes: Vec<&Option<String>> =
        conf.runs.iter().filter(|(_, r)| r.contains("pfctl -q -k label")).map(|(s, _)| s).collect();
    assert_eq!(flushes, [&Some("via_ext1".to_string()), &Some("via_ext2".to_string())]);

    // Run it: once per outage, re-armed when the uplink comes back.
    let sb = Sandbox::new("flush");
    sb.stub("pfctl", "echo \"$*\" >> \"$STUB/pfctl.log\"");
    sb.stub("logger", "echo \"$*\" >> \"$STUB/logger.log\"");
    let flush = find_run(&conf, "via_ext1", "pfctl -q -k label -k ext2");
    let up = find_run(&conf, "via_ext1", "f=/var/run/wanc.ext2; echo up > $f; rm -f $f.flushed");
    sb.run(&flush);
    sb.run(&flush);
    assert_eq!(sb.read("pfctl.log"), "-q -k label -k ext2\n");
    sb.run(&up);
    sb.run(&flush);
    assert_eq!(sb.read("pfctl.log"), "-q -k label -k ext2\n-q -k label -k ext2\n");
    // The rules that route by ext2 carry that label.
    assert!(out["pf/wanc.conf"].contains("route-to $ext2_gw label \"ext2\""));
}

#[test]
fn checks_hold_rise_and_fall() {
    let out = outputs(&example("dual-isp-failover.wan"));
    let conf = ifstated_model::parse(&out["ifstated.conf"]).expect("parses");
    let (test, every) = conf.tests.iter().find(|(t, _)| t.contains("wanc.isp1.1")).expect("isp1's check").clone();
    assert_eq!(every, 10);
    let sb = Sandbox::new("hysteresis");
    sb.stub("ping", "exit \"$(cat \"$STUB/ping\")\"");
    sb.stub("date", "cat \"$STUB/now\"");
    // (time, ping's exit status, whether the test is true); rise 2, fall 3.
    let steps = [
        (100, 0, true),  // no history: the first result decides
        (110, 1, true),  // one failure
        (120, 1, true),  // two
        (125, 0, true),  // too soon after the last probe: not a sample
        (130, 1, false), // three in a row: down
        (140, 0, false), // one success
        (150, 1, false), // a failure resets the count
        (160, 0, false),
        (170, 0, true), // two successes in a row: up
    ];
    for (now, ping, up) in steps {
        sb.write("now", &now.to_string());
        sb.write("ping", &ping.to_string());
        assert_eq!(sb.run(&test) == 0, up, "at {now}: {}", sb.read("run/wanc.isp1.1"));
    }
}

#[test]
fn live_members_are_reloaded_by_health() {
    let out = outputs(&example("triple-dual-stack.wan"));
    let policy = &out["pf/policy.degraded.conf"];
    assert!(policy.contains("# members used only while live-healthy: ifstated loads wanc/policy/choice0\n"), "{policy}");
    assert!(!policy.contains("anchor \"choice0\""), "{policy}");
    let conf = ifstated_model::parse(&out["ifstated.conf"]).expect("parses");
    let reload = find_run(&conf, "degraded", "pfctl -q -a wanc/policy/choice0 -f -");
    let sb = Sandbox::new("live");
    sb.stub("pfctl", "cat > \"$STUB/anchor\"");
    let rules = |fibre: &str, cable: &str, lte: &str| {
        sb.write("run/wanc.fibre", fibre);
        sb.write("run/wanc.cable", cable);
        sb.write("run/wanc.lte", lte);
        sb.run(&reload);
        sb.read("anchor").lines().filter(|l| l.split(' ').nth(2) == Some("inet")).map(|l| l.to_string()).collect::<Vec<_>>()
    };
    let lan = "pass in inet";
    // fibre (weight 2) and lte: lte gets 1/3.
    assert_eq!(
        rules("up", "down", "up"),
        [
            format!("{lan} route-to $fibre_gw label \"fibre\""),
            format!("{lan} route-to $lte_gw label \"lte\" probability 33.333%")
        ]
    );
    // All three: 2:1:1.
    assert_eq!(
        rules("up", "up", "up"),
        [
            format!("{lan} route-to $fibre_gw label \"fibre\""),
            format!("{lan} route-to $cable_gw label \"cable\" probability 33.333%"),
            format!("{lan} route-to $lte_gw label \"lte\" probability 25.000%"),
        ]
    );
    // None: passed to the main routing table.
    assert_eq!(rules("down", "down", "down"), [lan.to_string()]);
    assert!(sb.read("anchor").starts_with("include \"/etc/wanc/pf/macros.conf\"\n"));

    // The default route follows the failover order live.
    let route = find_run(&conf, "degraded", "-inet -mpath -priority 7 default");
    sb.stub("route", "echo \"$*\" >> \"$STUB/route.log\"");
    sb.write("run/wanc.fibre", "down");
    sb.write("run/wanc.cable", "up");
    sb.run(&route);
    assert_eq!(
        sb.read("route.log"),
        "-qn add -inet -mpath -priority 7 default 203.0.113.1\n-qn delete -inet -priority 7 default 198.51.100.1\n-qn delete -inet -priority 7 default 192.0.2.1\n"
    );
}

#[test]
fn user_text_cannot_break_out_of_its_quotes() {
    // As written in the .wan source, where `\"`, `\\` and `\n` are escapes.
    let nasty = r#"it's \"quoted\" \\ $HOME `id` $(id) %s ; & # \n second line\\"#;
    let command = r#"printf '%s' \"it's $STUB\" > \"$STUB/ran\" # comment\nprintf ' \\\\ x' >> \"$STUB/ran\""#;
    let source = r#"uplink a { interface em1; address 192.0.2.2; gateway 192.0.2.1
            check ping 192.0.2.1 { every 10s }
            on up { notify "NASTY"; run "COMMAND" }
            on down { notify "NASTY" } }
        policy { default via a }
        state up when a {
            on enter { notify "NASTY"; run "COMMAND" }
            on exit { notify "NASTY" }
        }
        state down default"#;
    let site = compile("nasty.wan", &source.replace("NASTY", nasty).replace("COMMAND", command));
    let out = outputs(&site);
    let conf = ifstated_model::parse(&out["ifstated.conf"]).unwrap_or_else(|e| panic!("{e}\n{}", out["ifstated.conf"]));
    check_sh_syntax(&conf);
    // The text the source means, as the .wan lexer reads it.
    let meant = "it's \"quoted\" \\ $HOME `id` $(id) %s ; & # \n second line\\";
    let sb = Sandbox::new("quoting");
    sb.stub("logger", "shift 5; printf '%s' \"$*\" > \"$STUB/logged\"");
    let ran = format!("it's {} \\ x", sb.dir.display());
    let mut notified = 0;
    for (state, run) in &conf.runs {
        if !run.contains("logger") && !run.contains("printf") {
            continue;
        }
        sb.write("run/wanc.a.acted", if run.contains("echo up") { "down" } else { "up" });
        sb.run(run);
        if run.contains("logger") {
            assert_eq!(sb.read("logged"), meant, "in {state:?}: {run}");
            notified += 1;
        }
        if !sb.read("ran").is_empty() {
            assert_eq!(sb.read("ran"), ran, "in {state:?}: {run}");
            let _ = std::fs::remove_file(sb.dir.join("ran"));
        }
        let _ = std::fs::remove_file(sb.dir.join("logged"));
    }
    // on up, on down, on enter, on exit.
    assert_eq!(notified, 4);
}

/// Hostile text in every string slot the language has (notify and run
/// texts, an http check's path and query, each in every event), and every
/// command ifstated.conf would run, run for real against stub tools: the
/// canary a successful injection would create is never made, and the one
/// `run` the site wrote runs as written.
#[test]
fn hostile_strings_run_nothing_the_site_did_not_write() {
    let hostile =
        r#"$(touch $STUB/canary) `touch $STUB/canary` ;touch $STUB/canary; ' \" | touch $STUB/canary \n touch $STUB/canary"#;
    let run = r#"echo '$(touch $STUB/canary)' > $STUB/ran"#;
    let url = "http://192.0.2.1/$(touch${IFS}$STUB/canary)?q=`touch${IFS}$STUB/canary`;touch${IFS}$STUB/canary";
    let source = r#"uplink a { interface em1; address 192.0.2.2; gateway 192.0.2.1
            check http "URL" { every 10s }
            on up { notify "HOSTILE"; run "RUN" }
            on down { notify "HOSTILE"; run "RUN" } }
        uplink b { interface em2; address 198.51.100.2; gateway 198.51.100.1 }
        policy { default via a, b }
        state up when a {
            on enter { notify "HOSTILE"; run "RUN" }
            on exit { notify "HOSTILE"; run "RUN" }
        }
        state down default"#;
    let text = source.replace("HOSTILE", hostile).replace("RUN", run).replace("URL", url);
    let out = outputs(&compile("hostile.wan", &text));
    let conf = ifstated_model::parse(&out["ifstated.conf"]).unwrap_or_else(|e| panic!("{e}\n{}", out["ifstated.conf"]));
    check_sh_syntax(&conf);
    let sb = Sandbox::new("hostile");
    for tool in ["ping", "ping6", "nc", "dig", "ftp", "pfctl", "route", "logger", "ifconfig", "wanc"] {
        sb.stub(tool, "exit 0");
    }
    let commands: Vec<&str> =
        conf.runs.iter().map(|(_, r)| r.as_str()).chain(conf.tests.iter().map(|(t, _)| t.as_str())).collect();
    let mut ran = 0;
    for (state, health) in [("up", "up"), ("down", "down"), ("up", "down"), ("down", "up")] {
        for command in &commands {
            for u in ["a", "b"] {
                sb.write(&format!("run/wanc.{u}"), health);
                sb.write(&format!("run/wanc.{u}.acted"), if health == "up" { "down" } else { "up" });
            }
            let _ = sb.run(command);
            assert!(!sb.dir.join("canary").exists(), "in state {state}, health {health}, injected by: {command}");
            if sb.dir.join("ran").exists() {
                assert_eq!(sb.read("ran"), "$(touch $STUB/canary)\n", "the run action runs as written");
                ran += 1;
                let _ = std::fs::remove_file(sb.dir.join("ran"));
            }
        }
    }
    assert!(ran > 0, "the site's own run action never ran");
    println!("hostile strings: {} commands run, {ran} runs of the site's own action, no canary", commands.len() * 4);
}

#[test]
fn every_probe_kind_runs() {
    // Made here too, so this test does not depend on the ui test having run.
    common::build_plugin_fixtures();
    let site = compile(
        "tests/ui/probes.wan",
        r#"plugin http_ok "plugins/settings.wasm"
        uplink a {
            interface em1
            address 192.0.2.2
            gateway 192.0.2.1
            check ping 192.0.2.1 { every 10s count 3 timeout 1s loss < 50% latency < 100ms }
            check tcp 192.0.2.1:443 { every 10s count 2 }
            check http "https://example.net/health?x=1&y=2" { every 10s expect 204 }
            check dns 192.0.2.53 { every 10s query "example.net" }
            check plugin http_ok { every 30s url "http://192.0.2.1/health" expect 204 }
            healthy when 3
        }"#,
    );
    let out = outputs(&site);
    let conf = ifstated_model::parse(&out["ifstated.conf"]).unwrap_or_else(|e| panic!("{e}"));
    check_sh_syntax(&conf);
    let test = |part: &str| conf.tests.iter().find(|(t, _)| t.contains(part)).map(|(t, _)| t.clone()).expect(part);
    let sb = Sandbox::new("probes");
    sb.stub("date", "echo 1000");
    // Each run starts without history, so the test is the probe's result.
    let probe = |command: &str| {
        let _ = std::fs::remove_dir_all(sb.dir.join("run"));
        std::fs::create_dir_all(sb.dir.join("run")).expect("run dir");
        sb.run(command) == 0
    };

    let ping = test("ping -q -c 3 -i 1 -w 1 -I 192.0.2.2 192.0.2.1");
    let summary = |loss: &str, avg: &str| {
        format!(
            "printf '%s\\n' '3 packets transmitted, 2 packets received, {loss} packet loss' 'round-trip min/avg/max/std-dev = 1.0/{avg}/90.0/1.0 ms'"
        )
    };
    sb.stub("ping", &summary("33.3%", "50.0"));
    assert!(probe(&ping));
    sb.stub("ping", &summary("66.7%", "50.0"));
    assert!(!probe(&ping), "loss above the threshold");
    sb.stub("ping", &summary("0.0%", "150.0"));
    assert!(!probe(&ping), "latency above the threshold");
    sb.stub("ping", "exit 1");
    assert!(!probe(&ping), "no summary at all");

    let tcp = test("nc -z -w 1 -s 192.0.2.2 192.0.2.1 443");
    sb.stub("nc", "[ \"$(cat \"$STUB/nc\")\" = ok ] && echo no > \"$STUB/nc\" || { echo ok > \"$STUB/nc\"; exit 1; }");
    sb.write("nc", "fail");
    assert!(probe(&tcp), "one of two attempts is enough without a loss threshold");

    let http = test("nc -c -w 1 -s 192.0.2.2 example.net 443");
    sb.stub("nc", "cat > \"$STUB/request\"; cat \"$STUB/reply\"");
    sb.write("reply", "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n");
    assert!(probe(&http));
    assert_eq!(sb.read("request"), "GET /health?x=1&y=2 HTTP/1.0\r\nHost: example.net\r\nConnection: close\r\n\r\n");
    sb.write("reply", "HTTP/1.1 200 OK\r\n\r\n");
    assert!(!probe(&http));
    sb.write("reply", "");
    assert!(!probe(&http), "no reply");

    let dns = test("dig -b 192.0.2.2 @192.0.2.53 example.net +time=1 +tries=1");
    sb.stub("dig", "echo ';; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1'");
    assert!(probe(&dns));
    sb.stub("dig", "echo ';; ->>HEADER<<- opcode: QUERY, status: SERVFAIL, id: 1'");
    assert!(!probe(&dns));

    let plugin = test("/usr/local/bin/wanc probe tests/ui/plugins/settings.wasm");
    assert!(
        plugin.contains(" --set expect=204 --set url=http://192.0.2.1/health --source 192.0.2.2 --timeout 1000ms "),
        "{plugin}"
    );
    // healthy when 3 (of 5): every choice of three, without repeating a test.
    assert!(out["ifstated.conf"].contains("# a: healthy when 3 of its checks are up"));
}

/// The size of the model as counted for [`output_grows_with_the_model`]:
/// uplinks, checks and rules, and per state the health of each uplink and
/// the nodes of its condition (a `count` one per member).
fn model_units(plan: &Plan) -> usize {
    fn nodes(c: &wanc::ir::Cond) -> usize {
        use wanc::ir::Cond;
        match c {
            Cond::True | Cond::Up(_) => 1,
            Cond::Not(c) => 1 + nodes(c),
            Cond::And(cs) | Cond::Or(cs) => 1 + cs.iter().map(nodes).sum::<usize>(),
            Cond::CountIn { members, .. } => 1 + members.len(),
        }
    }
    let site = &plan.site;
    let checks: usize = site.uplinks.iter().map(|u| u.checks.len()).sum();
    let states: usize = site.states.iter().map(|s| s.health.len() + nodes(&s.when)).sum();
    site.uplinks.len() + checks + site.rules.len() + states
}

/// Issue 16: the OpenBSD output grows as the model does. A `count(…) >= 12`
/// over 24 uplinks was once expanded into 274 MB of ifstated conditions,
/// and the derived states of 254 uplinks into 455 MB (each state's body
/// held every state's condition: the cube of the uplinks). Now every site
/// stays within `PER_UNIT` bytes per unit of [`model_units`]; derived
/// states hold a health per uplink and a condition naming the uplinks
/// before their own, so that count grows as the square of the uplinks.
/// Commands longer than ifstated's strings are in files of their own,
/// which parse as sh (tests/openbsd_parsers.rs runs OpenBSD's own parser
/// on these sites but the 254-uplink one, which has more interfaces than it
/// can declare).
#[test]
fn output_grows_with_the_model() {
    const PER_UNIT: usize = 1_000;
    for (name, source) in [
        ("count(24 uplinks) >= 12", openbsd_sites::count(24, 12)),
        ("64 uplinks, derived states", openbsd_sites::derived(64)),
        ("254 uplinks, derived states", openbsd_sites::derived(254)),
    ] {
        let plan = compile(name, &source);
        let out = outputs(&plan);
        let bytes: usize = out.values().map(String::len).sum();
        let units = model_units(&plan);
        let figures =
            format!("{name}: {bytes} bytes of OpenBSD output, {units} units of model, {} bytes per unit\n", bytes / units);
        let _ = std::io::Write::write_all(&mut std::io::stderr(), figures.as_bytes());
        assert!(bytes < PER_UNIT * units, "{figures}");
        // The model of ifstated's parser takes too long on 51 MB; its
        // strings are the lines that hold a `run` or a macro's value.
        let ifstated = &out["ifstated.conf"];
        if plan.site.uplinks.len() <= 64 {
            ifstated_model::parse(ifstated).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let strings = ifstated.lines().filter(|l| l.trim_start().starts_with("run \"") || l.contains(" = '"));
        assert!(strings.clone().all(|l| l.len() < 8_000), "{name}: a string over ifstated's 8,096 bytes");
        let files: Vec<&str> = strings.filter_map(|l| l.split("sh /etc/wanc/").nth(1)?.split(['"', '\\']).next()).collect();
        assert_eq!(files.is_empty(), plan.site.uplinks.len() < 100, "{name}: {} commands in files", files.len());
        for file in files {
            let text = out.get(file).unwrap_or_else(|| panic!("{name}: {file} is run but not written"));
            let sh = Command::new("sh").args(["-n", "-c", text]).output().expect("sh runs");
            assert!(sh.status.success(), "{name}: {file} is not sh: {}", common::text(&sh.stderr));
        }
    }
}

#[test]
fn build_writes_pf_and_ifstated() {
    let dir = common::tempdir("openbsd-build");
    let out = common::wanc(&["build", "examples/redundant-multipath.wan", "-o", dir.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    for file in ["ifstated.conf", "pf/wanc.conf", "pf/macros.conf", "pf/policy.via_ext1.conf", "pf/policy.unrouted.conf"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(text.starts_with("# Generated by wanc"), "{file}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn learned_address_and_gateway_follow_the_lease() {
    let out = outputs(&example("dhcp-and-static.wan"));
    let conf = ifstated_model::parse(&out["ifstated.conf"]).expect("parses");
    let sb = Sandbox::new("learned");
    // route(8): `show` prints $STUB/routes as OpenBSD's route -n show does,
    // anything else is logged. pfctl: the table in $STUB/table.
    sb.stub("route", r#"[ "$2" = show ] && { cat "$STUB/routes"; exit; }; echo "$*" >> "$STUB/route.log""#);
    sb.stub(
        "pfctl",
        r#"case "$*" in
*"-T show"*) cat "$STUB/table" 2>/dev/null ;;
*"-T replace"*) for a; do :; done; echo "   $a" > "$STUB/table"; echo "$*" >> "$STUB/pfctl.log" ;;
*"-T flush"*) : > "$STUB/table"; echo "$*" >> "$STUB/pfctl.log" ;;
esac"#,
    );
    let routes = |lines: &[&str]| {
        let mut t = String::from(
            "Routing tables\n\nInternet:\nDestination        Gateway            Flags   Refs      Use   Mtu  Prio Iface\n",
        );
        lines.iter().for_each(|l| t.push_str(&format!("{l}\n")));
        sb.write("routes", &t);
    };
    let (refresh, every) = conf.tests.iter().find(|(t, _)| t.contains("wanc_cable_gw -T")).expect("cable's gateway test").clone();
    assert_eq!(every, 2, "as often as cable's check");

    // dhcpleased's route (priority 58) and wanc's own by the fibre (7).
    routes(&[
        "default            100.64.0.1         UGS        5      120     -    58 enp2s0",
        "default            203.0.113.17       UGS        0        0     -     7 enp1s0",
        "100.64/10          100.64.0.5         UCn        1        0     -     4 enp2s0",
    ]);
    assert_eq!(sb.run(&refresh), 0);
    assert_eq!(sb.read("table"), "   100.64.0.1\n");
    assert_eq!(sb.run(&refresh), 0);
    assert_eq!(sb.read("pfctl.log").lines().count(), 1, "the table is written only when it changes");
    assert_eq!(sb.read("route.log"), "");

    // The cable carries the default route: wanc's route by the learned
    // gateway goes in, the fibre's goes.
    sb.run(&find_run(&conf, "via_cable", "route -qn"));
    assert_eq!(
        sb.read("route.log"),
        "-qn add -inet -mpath -priority 7 default 100.64.0.1\n-qn delete -inet -priority 7 default 203.0.113.17\n"
    );
    sb.write("route.log", "");

    // A new lease with another router: the table and wanc's route follow.
    routes(&[
        "default            100.64.0.9         UGS        5      120     -    58 enp2s0",
        "default            100.64.0.1         UGS        0        0     -     7 enp2s0",
    ]);
    assert_eq!(sb.run(&refresh), 0);
    assert_eq!(sb.read("table"), "   100.64.0.9\n");
    assert_eq!(
        sb.read("route.log"),
        "-qn add -inet -mpath -priority 7 default 100.64.0.9\n-qn delete -inet -priority 7 default 100.64.0.1\n"
    );
    sb.write("route.log", "");

    // The lease is gone: the table empties, wanc's route by it goes.
    routes(&["default            100.64.0.1         UGS        0        0     -     7 enp2s0"]);
    assert_ne!(sb.run(&refresh), 0);
    assert_eq!(sb.read("table"), "");
    assert_eq!(sb.read("route.log"), "-qn delete -inet -priority 7 default 100.64.0.1\n");

    // The probe is sent from the interface's address of the moment, and
    // fails without one.
    let (probe, _) = conf.tests.iter().find(|(t, _)| t.contains("wanc.cable.1")).expect("cable's check").clone();
    sb.stub("date", "echo 1000");
    sb.stub("ping", r#"echo "$*" > "$STUB/ping.log""#);
    sb.stub("ifconfig", r#"cat "$STUB/ifconfig.$1""#);
    sb.write(
        "ifconfig.enp2s0",
        "enp2s0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n\
         \tlladdr 00:00:5e:00:53:01\n\tinet6 fe80::1%enp2s0 prefixlen 64 scopeid 0x2\n\
         \tinet 100.64.0.5 netmask 0xffc00000 broadcast 100.127.255.255\n",
    );
    assert_eq!(sb.run(&probe), 0);
    assert_eq!(sb.read("ping.log"), "-q -c 1 -i 0.5 -w 1 -I 100.64.0.5 9.9.9.9\n");
    sb.write("ifconfig.enp2s0", "enp2s0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n");
    sb.write("ping.log", "");
    let _ = std::fs::remove_file(sb.dir.join("run/wanc.cable.1"));
    assert_ne!(sb.run(&probe), 0);
    assert_eq!(sb.read("ping.log"), "", "no probe without an address");
}

/// ifstated's choice of state, run on the emitted ifstated.conf for every
/// combination of check results (and links, for uplinks without checks) of
/// a small site, against the agent's own choice (`Site::state_for`): from
/// "wanc.start" and from every state, following set-state as ifstated does
/// (the last one a body runs wins; a state entered runs its body at once),
/// ifstated ends in the agent's state, and a body leaves only when its
/// state is not the agent's. Every test runs for real in a sandbox: the
/// checks report the results written to their state files (a probe is not
/// due), the counting tests count those files and the link files the
/// global section writes. Returns the number of combinations.
fn selects_like_the_agent(name: &str, plan: &Plan) -> usize {
    use ifstated_model::{perform, Cond};
    let site = &plan.site;
    let out = outputs(plan);
    let conf = ifstated_model::parse(&out["ifstated.conf"]).unwrap_or_else(|e| panic!("{name}: {e}"));
    // One bit per check, and per uplink without checks for its link.
    let bits: Vec<(usize, Option<usize>)> = site
        .uplinks
        .iter()
        .enumerate()
        .flat_map(|(u, up)| {
            let checks: Vec<(usize, Option<usize>)> = (0..up.checks.len()).map(|i| (u, Some(i))).collect();
            if checks.is_empty() {
                vec![(u, None)]
            } else {
                checks
            }
        })
        .collect();
    assert!(bits.len() <= 10, "{name}: {} bits is too many to try", bits.len());
    let sb = Sandbox::new(&format!("select-{name}"));
    sb.stub("date", "echo 100");
    for combination in 0u32..1 << bits.len() {
        let on = |k: usize| combination >> k & 1 == 1;
        let mut health = Vec::new();
        for (u, up) in site.uplinks.iter().enumerate() {
            let results: Vec<bool> = bits.iter().enumerate().filter(|(_, b)| b.0 == u).map(|(k, _)| on(k)).collect();
            let passed = results.iter().filter(|&&r| r).count();
            health.push(match up.healthy {
                _ if up.checks.is_empty() => results[0],
                wanc::ir::Healthy::All => passed == results.len(),
                wanc::ir::Healthy::Any => passed > 0,
                wanc::ir::Healthy::AtLeast(k) => passed >= k as usize,
            });
        }
        let expected = site.state_for(&|u| health[u]).map(|s| site.states[s].name.clone()).expect("a state");
        for (k, &(u, check)) in bits.iter().enumerate() {
            let up = &site.uplinks[u];
            match check {
                Some(i) => sb.write(&format!("run/wanc.{}.{}", up.name, i + 1), if on(k) { "1 0 100\n" } else { "0 0 100\n" }),
                None => {
                    let _ = std::fs::remove_file(sb.dir.join(format!("run/wanc.{}.link", up.name)));
                }
            }
        }
        let mut known: BTreeMap<String, bool> = BTreeMap::new();
        let mut leaf = |c: &Cond| match c {
            Cond::Test(command) => *known.entry(command.clone()).or_insert_with(|| sb.run(command) == 0),
            Cond::Link(interface, state) => {
                let k = bits.iter().position(|&(u, c)| c.is_none() && &site.uplinks[u].interface == interface);
                let up = on(k.unwrap_or_else(|| panic!("{name}: link of {interface}, which no uplink without checks has")));
                if state == "up" {
                    up
                } else {
                    !up
                }
            }
            _ => unreachable!("a leaf"),
        };
        // The global section runs first (at start and on every link change).
        assert_eq!(perform(&conf.global, &mut leaf, &mut |c| assert_eq!(sb.run(c), 0, "{c}")), None);
        let what = format!("{name}, combination {combination:0width$b}, health {health:?}", width = bits.len());
        let body = |state: &str| &conf.bodies[state];
        let stays = perform(body(&expected), &mut leaf, &mut |_| {});
        assert!(stays.is_none() || stays.as_deref() == Some(&expected), "{what}: `{expected}` leaves for {stays:?}");
        for start in std::iter::once("wanc.start").chain(site.states.iter().map(|s| s.name.as_str())) {
            let mut current = start.to_string();
            for _ in 0..3 {
                match perform(body(&current), &mut leaf, &mut |_| {}) {
                    Some(next) if next != current => current = next,
                    _ => break,
                }
            }
            assert_eq!(current, expected, "{what}: from `{start}`");
            if start != "wanc.start" && start != expected {
                assert_eq!(
                    perform(body(start), &mut leaf, &mut |_| {}).as_deref(),
                    Some("wanc.start"),
                    "{what}: `{start}` stays"
                );
            }
        }
    }
    1 << bits.len()
}

#[test]
fn ifstated_picks_the_agents_state_for_every_health() {
    // A threshold over an uplink without checks and one healthy when 2 of
    // its 3 checks are (both counting tests), beside plain conditions.
    let counted = compile(
        "counted.wan",
        "uplink a { interface em1; address 192.0.2.2/24; gateway 192.0.2.1
             check ping 192.0.2.1 { every 10s }
             check ping 198.51.100.7 { every 10s } }
         uplink b { interface em2; address 192.0.3.2/24; gateway 192.0.3.1
             check ping 192.0.3.1 { every 10s } }
         uplink c { interface em3; address 192.0.4.2/24; gateway 192.0.4.1 }
         uplink d { interface em4; address 192.0.5.2/24; gateway 192.0.5.1
             check ping 192.0.5.1 { every 10s }
             check ping 192.0.5.3 { every 10s }
             check ping 192.0.5.4 { every 10s }
             healthy when 2 }
         policy { default via a, b, c, d }
         state most when count(a, b, c, d) >= 3 { on enter { notify \"most\" } }
         state pair when a && (b || c)
         state one when count(a, b, c, d) == 1
         state some when count(b, c, d) != 2 && !a
         state none default",
    );
    let conf = outputs(&counted)["ifstated.conf"].clone();
    assert_eq!(conf.matches(" = '\"cd /var/run/ || exit 1; n=0;").count(), 4, "{conf}");
    let mut combinations = selects_like_the_agent("counted", &counted);
    // Derived states, written by their own uplink alone.
    let derived = compile("derived.wan", &openbsd_sites::derived(5));
    let conf = outputs(&derived)["ifstated.conf"].clone();
    assert!(conf.contains("\tif $u3_check1 && $u3_check2 {\n\t\tset-state \"via_u3\"\n"), "{conf}");
    combinations += selects_like_the_agent("derived", &compile("derived.wan", &openbsd_sites::derived(4)));
    for file in ["dual-isp-failover.wan", "triple-dual-stack.wan", "redundant-multipath.wan", "multihomed-webserver.wan"] {
        combinations += selects_like_the_agent(file, &example(file));
    }
    assert!(combinations >= 128 + 256);
}

fn find_run(conf: &ifstated_model::Conf, state: &str, part: &str) -> String {
    conf.runs
        .iter()
        .find(|(s, r)| s.as_deref() == Some(state) && r.contains(part))
        .map(|(_, r)| r.clone())
        .unwrap_or_else(|| panic!("no run in {state} with {part:?}"))
}

/// A directory where generated sh runs against stub tools: /var/run becomes
/// DIR/run, and stubs in DIR/bin come first in PATH (they find DIR in $STUB).
struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        let dir = common::tempdir(&format!("openbsd-{name}"));
        std::fs::create_dir_all(dir.join("bin")).expect("sandbox");
        std::fs::create_dir_all(dir.join("run")).expect("sandbox");
        Sandbox { dir }
    }

    fn stub(&self, tool: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.join("bin").join(tool);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("stub");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("stub");
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.join(file), text).expect("write");
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }

    /// Runs a command as ifstated would (`sh -c`); its exit status.
    fn run(&self, command: &str) -> i32 {
        let command = command.replace("/var/run/", &format!("{}/", self.dir.join("run").display()));
        let path = format!("{}:{}", self.dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
        let out = Command::new("sh").arg("-c").arg(&command).env("PATH", path).env("STUB", &self.dir).output().expect("sh runs");
        out.status.code().unwrap_or(-1)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A model of how ifstated reads its configuration: the lexer of
/// usr.sbin/ifstated/parse.y (quoted strings and their escapes, `$macro`
/// expansion at the start of a token and not inside an expansion, words,
/// numbers, line continuations) and its grammar (newline after every
/// action, `set-state` only inside a state, `init` blocks, expressions with
/// `!` binding tighter than `&&` and `||`, which bind alike).
mod ifstated_model {
    use std::collections::BTreeMap;

    #[derive(Debug, Default)]
    pub struct Conf {
        pub states: Vec<String>,
        /// set-state targets.
        pub targets: Vec<String>,
        /// `run` commands with the state they are in.
        pub runs: Vec<(Option<String>, String)>,
        /// External tests: command and interval.
        pub tests: Vec<(String, u64)>,
        /// The actions of the global section, and of each state's body, as
        /// ifstated runs them.
        pub global: Vec<Action>,
        pub bodies: BTreeMap<String, Vec<Action>>,
    }

    /// An action as ifstated keeps it.
    #[derive(Clone, Debug)]
    pub enum Action {
        Run(String),
        SetState(String),
        If(Cond, Vec<Action>),
    }

    /// A condition as ifstated's grammar builds it: `&&` and `||` alike and
    /// from the left, `!` tighter.
    #[derive(Clone, Debug)]
    pub enum Cond {
        /// An external test: its command.
        Test(String),
        /// `"IF".link.STATE`.
        Link(String, String),
        Not(Box<Cond>),
        And(Box<Cond>, Box<Cond>),
        Or(Box<Cond>, Box<Cond>),
    }

    impl Cond {
        pub fn eval(&self, leaf: &mut dyn FnMut(&Cond) -> bool) -> bool {
            match self {
                Cond::Test(_) | Cond::Link(..) => leaf(self),
                Cond::Not(c) => !c.eval(leaf),
                Cond::And(a, b) => a.eval(leaf) & b.eval(leaf),
                Cond::Or(a, b) => a.eval(leaf) | b.eval(leaf),
            }
        }
    }

    /// Runs `actions` as do_action does: `run` commands go to `run`, and the
    /// last set-state to run is returned.
    pub fn perform(actions: &[Action], leaf: &mut dyn FnMut(&Cond) -> bool, run: &mut dyn FnMut(&str)) -> Option<String> {
        let mut next = None;
        for a in actions {
            let target = match a {
                Action::Run(command) => {
                    run(command);
                    None
                }
                Action::SetState(target) => Some(target.clone()),
                Action::If(cond, inner) if cond.eval(leaf) => perform(inner, leaf, run),
                Action::If(..) => None,
            };
            next = target.or(next);
        }
        next
    }

    pub fn parse(text: &str) -> Result<Conf, String> {
        let mut p = Parser {
            lex: Lexer { chars: text.chars().collect(), pos: 0, expanded_to: 0, line: 1, macros: BTreeMap::new() },
            peeked: None,
            conf: Conf::default(),
            state: None,
        };
        p.grammar().map_err(|e| format!("line {}: {e}", p.lex.line))?;
        Ok(p.conf)
    }

    #[derive(Clone, Debug, PartialEq)]
    enum Tok {
        Nl,
        Str(String),
        Num(i64),
        Kw(&'static str),
        Punct(char),
        Eof,
    }

    const KEYWORDS: &[&str] =
        &["&&", "down", "every", "if", "init", "init-state", "link", "run", "set-state", "state", "unknown", "up", "||"];

    struct Lexer {
        chars: Vec<char>,
        pos: usize,
        /// Characters before this index came from a macro's expansion.
        expanded_to: usize,
        line: usize,
        macros: BTreeMap<String, String>,
    }

    impl Lexer {
        fn peek(&self) -> Option<char> {
            self.chars.get(self.pos).copied()
        }

        /// lgetc(0): outside quotes a backslash-newline joins lines and a
        /// backslash before anything else stands for that character.
        fn getc(&mut self) -> Option<char> {
            loop {
                let c = self.peek()?;
                self.pos += 1;
                if c == '\\' && self.pos > self.expanded_to {
                    match self.peek() {
                        Some('\n') => {
                            self.pos += 1;
                            self.line += 1;
                            continue;
                        }
                        Some(n) => {
                            self.pos += 1;
                            return Some(n);
                        }
                        None => return Some(c),
                    }
                }
                return Some(c);
            }
        }

        fn next(&mut self) -> Result<Tok, String> {
            loop {
                while matches!(self.peek(), Some(' ' | '\t')) {
                    self.pos += 1;
                }
                let Some(c) = self.getc() else { return Ok(Tok::Eof) };
                if c == '#' {
                    while !matches!(self.peek(), None | Some('\n')) {
                        self.getc();
                    }
                    continue;
                }
                if c == '$' {
                    if self.pos <= self.expanded_to {
                        return Err("`$` inside a macro's expansion is not expanded".into());
                    }
                    let start = self.pos;
                    while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                        self.pos += 1;
                    }
                    let name: String = self.chars[start..self.pos].iter().collect();
                    let value = self.macros.get(&name).ok_or(format!("macro '{name}' not defined"))?.clone();
                    let value: Vec<char> = value.chars().collect();
                    self.chars.splice(self.pos..self.pos, value.iter().copied());
                    self.expanded_to = self.pos + value.len();
                    continue;
                }
                return match c {
                    '\n' => {
                        self.line += 1;
                        Ok(Tok::Nl)
                    }
                    '\'' | '"' => self.string(c),
                    c if c == '-' || c.is_ascii_digit() => self.number_or_word(c),
                    c if c.is_ascii_alphanumeric() || ":_&|".contains(c) => Ok(self.word(c)),
                    c => Ok(Tok::Punct(c)),
                };
            }
        }

        fn string(&mut self, quote: char) -> Result<Tok, String> {
            let mut out = String::new();
            loop {
                let c = self.peek().ok_or("end of file in a quoted string")?;
                self.pos += 1;
                match c {
                    '\n' => self.line += 1,
                    '\0' => return Err("NUL in a string".into()),
                    '\\' => {
                        let n = self.peek().ok_or("end of file in a quoted string")?;
                        if n == quote || n == ' ' || n == '\t' {
                            out.push(n);
                            self.pos += 1;
                        } else if n == '\n' {
                            self.pos += 1;
                        } else {
                            out.push('\\');
                        }
                    }
                    c if c == quote => return Ok(Tok::Str(out)),
                    c => out.push(c),
                }
                if out.len() >= 8094 {
                    return Err("string too long".into());
                }
            }
        }

        fn allowed_in_string(c: char) -> bool {
            c.is_ascii_alphanumeric() || (c.is_ascii_punctuation() && !"(){}!=#,.".contains(c))
        }

        fn number_or_word(&mut self, first: char) -> Result<Tok, String> {
            let start = self.pos - 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            let end_ok = self.peek().is_none_or(|c| c.is_whitespace() || ")},/=".contains(c));
            let text: String = self.chars[start..self.pos].iter().collect();
            if text != "-" && end_ok {
                return text.parse().map(Tok::Num).map_err(|e| format!("{text}: {e}"));
            }
            self.pos = start + 1;
            if first == '-' {
                return Ok(Tok::Punct('-'));
            }
            Ok(self.word(first))
        }

        fn word(&mut self, first: char) -> Tok {
            let mut w = String::from(first);
            while let Some(c) = self.peek().filter(|&c| Self::allowed_in_string(c)) {
                w.push(c);
                self.pos += 1;
            }
            match KEYWORDS.iter().find(|k| **k == w) {
                Some(k) => Tok::Kw(k),
                None => Tok::Str(w),
            }
        }
    }

    struct Parser {
        lex: Lexer,
        peeked: Option<Tok>,
        conf: Conf,
        state: Option<String>,
    }

    impl Parser {
        fn peek(&mut self) -> Result<Tok, String> {
            if self.peeked.is_none() {
                self.peeked = Some(self.lex.next()?);
            }
            Ok(self.peeked.clone().unwrap_or(Tok::Eof))
        }

        fn next(&mut self) -> Result<Tok, String> {
            let t = self.peek()?;
            self.peeked = None;
            Ok(t)
        }

        fn expect(&mut self, want: Tok) -> Result<(), String> {
            let got = self.next()?;
            if got == want {
                Ok(())
            } else {
                Err(format!("expected {want:?}, found {got:?}"))
            }
        }

        fn string(&mut self) -> Result<String, String> {
            match self.next()? {
                Tok::Str(s) => Ok(s),
                t => Err(format!("expected a string, found {t:?}")),
            }
        }

        /// `string`: one or more strings, joined by a space.
        fn strings(&mut self) -> Result<String, String> {
            let mut s = self.string()?;
            while let Tok::Str(more) = self.peek()? {
                self.next()?;
                s = format!("{s} {more}");
            }
            Ok(s)
        }

        fn optnl(&mut self) -> Result<(), String> {
            while self.peek()? == Tok::Nl {
                self.next()?;
            }
            Ok(())
        }

        fn nl(&mut self) -> Result<(), String> {
            self.expect(Tok::Nl)?;
            self.optnl()
        }

        fn grammar(&mut self) -> Result<(), String> {
            loop {
                match self.peek()? {
                    Tok::Eof => return Ok(()),
                    Tok::Nl => {
                        self.next()?;
                        continue;
                    }
                    Tok::Kw("state") => self.state()?,
                    Tok::Kw("init-state") => {
                        self.next()?;
                        self.string()?;
                    }
                    Tok::Str(name) => {
                        self.next()?;
                        self.expect(Tok::Punct('='))?;
                        let value = self.strings()?;
                        self.lex.macros.insert(name, value);
                    }
                    _ => {
                        let action = self.action()?;
                        self.conf.global.push(action);
                    }
                }
                self.expect(Tok::Nl)?;
            }
        }

        fn state(&mut self) -> Result<(), String> {
            self.expect(Tok::Kw("state"))?;
            let name = self.strings()?;
            if self.conf.states.contains(&name) {
                return Err(format!("state {name} already exists"));
            }
            self.conf.states.push(name.clone());
            self.state = Some(name.clone());
            self.optnl()?;
            self.expect(Tok::Punct('{'))?;
            self.optnl()?;
            let mut body = Vec::new();
            loop {
                if self.peek()? == Tok::Kw("init") {
                    self.next()?;
                    self.block()?;
                } else {
                    body.push(self.action()?);
                }
                self.nl()?;
                if self.peek()? == Tok::Punct('}') {
                    break;
                }
            }
            self.next()?;
            self.conf.bodies.insert(name, body);
            self.state = None;
            Ok(())
        }

        /// action_block: `{ (action nl)+ }` or one action.
        fn block(&mut self) -> Result<Vec<Action>, String> {
            self.optnl()?;
            if self.peek()? != Tok::Punct('{') {
                return Ok(vec![self.action()?]);
            }
            self.next()?;
            self.optnl()?;
            let mut actions = Vec::new();
            loop {
                actions.push(self.action()?);
                self.nl()?;
                if self.peek()? == Tok::Punct('}') {
                    self.next()?;
                    return Ok(actions);
                }
            }
        }

        fn action(&mut self) -> Result<Action, String> {
            Ok(match self.next()? {
                Tok::Kw("run") => {
                    let command = self.string()?;
                    self.conf.runs.push((self.state.clone(), command.clone()));
                    Action::Run(command)
                }
                Tok::Kw("set-state") => {
                    let target = self.string()?;
                    if self.state.is_none() {
                        return Err("set-state must be used inside 'if'".into());
                    }
                    self.conf.targets.push(target.clone());
                    Action::SetState(target)
                }
                Tok::Kw("if") => {
                    let cond = self.expr()?;
                    Action::If(cond, self.block()?)
                }
                t => return Err(format!("expected an action, found {t:?}")),
            })
        }

        fn expr(&mut self) -> Result<Cond, String> {
            let mut left = self.unary()?;
            while let Tok::Kw(op @ ("&&" | "||")) = self.peek()? {
                self.next()?;
                let right = Box::new(self.unary()?);
                left = if op == "&&" { Cond::And(Box::new(left), right) } else { Cond::Or(Box::new(left), right) };
            }
            Ok(left)
        }

        fn unary(&mut self) -> Result<Cond, String> {
            match self.next()? {
                Tok::Punct('!') => Ok(Cond::Not(Box::new(self.unary()?))),
                Tok::Punct('(') => {
                    let inner = self.expr()?;
                    self.expect(Tok::Punct(')'))?;
                    Ok(inner)
                }
                Tok::Str(s) => match self.next()? {
                    Tok::Kw("every") => match self.next()? {
                        Tok::Num(n) if n > 0 && n <= i64::from(u32::MAX) => {
                            self.conf.tests.push((s.clone(), n as u64));
                            Ok(Cond::Test(s))
                        }
                        t => Err(format!("invalid interval {t:?}")),
                    },
                    Tok::Punct('.') => {
                        self.expect(Tok::Kw("link"))?;
                        self.expect(Tok::Punct('.'))?;
                        match self.next()? {
                            Tok::Kw(state @ ("up" | "down" | "unknown")) => Ok(Cond::Link(s, state.to_string())),
                            t => Err(format!("expected a link state, found {t:?}")),
                        }
                    }
                    t => Err(format!("expected `every` or `.link.`, found {t:?}")),
                },
                t => Err(format!("expected a test, found {t:?}")),
            }
        }
    }

    #[test]
    fn the_model_refuses_what_ifstated_refuses() {
        let ok = "m = '\"true\" every 10'\nstate \"a\" {\n\tif $m {\n\t\trun \"x\"\n\t}\n}\n";
        assert!(parse(ok).is_ok());
        // An action not followed by a newline inside braces.
        assert!(parse("state \"a\" {\n\tif \"em0\".link.up { run \"x\" }\n}\n").is_err());
        // An undefined macro, and set-state outside a state.
        assert!(parse("state \"a\" {\n\tif $nope {\n\t\trun \"x\"\n\t}\n}\n").is_err());
        assert!(parse("if \"em0\".link.up {\n\tset-state \"a\"\n}\n").is_err());
        // Macros are not expanded inside an expansion.
        assert!(parse("a = '\"t\" every 1'\nb = '$a'\nstate \"s\" {\n\tif $b {\n\t\trun \"x\"\n\t}\n}\n").is_err());
    }
}

#[test]
fn failback_kills_the_backups_states_when_the_preferred_uplink_is_back() {
    let site = compile(
        "failback.wan",
        "lan l { interface em0; network 10.0.0.0/24 }
         uplink fiber { interface em1; address 192.0.2.2/24; gateway 192.0.2.1
             check ping 192.0.2.1 { every 10s }
             on down { flush states }
             on up { flush states lte } }
         uplink lte { interface em2; address 198.51.100.2/24; gateway 198.51.100.1
             check ping 198.51.100.1 { every 10s } }
         policy { default via fiber, lte; route from l via fiber, lte }",
    );
    let out = outputs(&site);
    let conf = ifstated_model::parse(&out["ifstated.conf"]).expect("parses");
    check_sh_syntax(&conf);
    // fiber's up edge, when it was down before, kills lte's states; its down
    // edge only keeps the record and leaves its own states to the flush
    // block. Both run after the record of its health the live rules read.
    let up =
        "f=/var/run/wanc.fiber.acted; o=$(cat $f 2>/dev/null); echo up > $f; [ \"$o\" = down ] && { pfctl -q -k label -k lte; }";
    assert!(conf.runs.iter().any(|(_, r)| r == up), "{}", out["ifstated.conf"]);
    assert!(conf.runs.iter().any(|(_, r)| r == "f=/var/run/wanc.fiber.acted; echo down > $f"), "{}", out["ifstated.conf"]);
    assert!(conf.runs.iter().any(|(_, r)| r == "f=/var/run/wanc.fiber; echo down > $f"), "{}", out["ifstated.conf"]);
    assert!(
        conf.runs.iter().any(|(_, r)| r == "f=/var/run/wanc.fiber; echo up > $f; rm -f $f.flushed"),
        "{}",
        out["ifstated.conf"]
    );

    // Run them: an outage and a return kill lte's states once, the first
    // record after boot none.
    let sb = Sandbox::new("failback");
    sb.stub("pfctl", "echo \"$*\" >> \"$STUB/pfctl.log\"");
    let down = "f=/var/run/wanc.fiber.acted; echo down > $f";
    for edge in [up, up, down, up, up] {
        sb.run(edge);
    }
    assert_eq!(sb.read("pfctl.log"), "-q -k label -k lte\n");
}
