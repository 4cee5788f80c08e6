//! The stable diagnostic codes and their documentation (`wanc explain CODE`).
//!
//! A code never changes meaning once released. `E` codes are errors, `W`
//! codes warnings; the first digit groups them: 0 syntax and files, 1 names,
//! 2 types and values, 3 states, 4 policy, 5 checks, 6 routing tables,
//! 7 plugins.

/// How bad a diagnostic is; fixed per code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

macro_rules! codes {
    ($( $variant:ident = $text:literal, $severity:ident, $title:literal, $doc:literal; )*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $( $variant, )* }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $text, )* }
            }

            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$severity, )* }
            }

            /// One line: what the code is about.
            pub fn title(self) -> &'static str {
                match self { $( Code::$variant => $title, )* }
            }

            /// The long explanation, with an example and the fix.
            pub fn doc(self) -> &'static str {
                match self { $( Code::$variant => $doc, )* }
            }
        }
    };
}

impl Code {
    pub fn parse(text: &str) -> Option<Code> {
        let wanted = text.trim().to_ascii_uppercase();
        // `0301` as well as `E0301` or `W0501`: the letter only repeats
        // the severity.
        if wanted.bytes().all(|b| b.is_ascii_digit()) {
            return Code::ALL.iter().copied().find(|c| c.as_str()[1..] == wanted);
        }
        Code::ALL.iter().copied().find(|c| c.as_str() == wanted)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

codes! {
    Syntax = "E0001", Error, "syntax error",
"The parser met text it could not read at this point. The message says what it
expected instead, in words. Statements end at a newline or `;`, blocks use
`{ }`, and strings use double quotes.

    uplink isp1 {
        interface vr0
        gateway             # error: expected an address, a name or `dev`
    }

The parser skips to the end of the broken line (or of its `{ }` block) and goes
on, so one run lists every broken line.

The slips people make most are named in words:

    lan inside
    {                   # error: `{` must be on the line of `lan inside`
    default via isp1,   # error: the `via` list goes on after a line break
        isp2
    // the lan          # error: `//` does not start a comment
    site office         # error: the site's name `office` is not in double quotes
    interface \"em0\"     # error: the interface name `\"em0\"` is in quotes

A line break ends a statement: write it on one line, or end the line with `\\`.
A `{` never closed is reported at the `{`.";

    InvalidLiteral = "E0002", Error, "invalid literal",
"A literal has the right shape but not a valid value: an IPv4 octet above 255,
a prefix length above 32 (IPv4) or 128 (IPv6), a port above 65535, a number
too large, a percentage above 100, a `dns` check's `query` that is not a DNS
name (such as `-f/etc/hostname`, which a resolver tool would read as an
option).

    const gw = 198.51.100.300     # error: `300` is not an octet

Fix the value.";

    InvalidEscape = "E0003", Error, "invalid escape in a string",
"Strings know three escapes: `\\\"` (a quote), `\\\\` (a backslash) and `\\n` (a
newline). Any other backslash sequence is rejected, because strings end up in
shell commands and notifications, and an unknown escape is usually a mistake.

    notify \"link\\tdown\"          # error: `\\t` is not an escape

Write the character itself, or double the backslash.";

    ImportUnreadable = "E0004", Error, "cannot read an imported file",
"`import \"FILE\"` names a file relative to the file that imports it. The file
does not exist or cannot be read.

    import \"common.wan\"           # error: no such file

Check the path; it is relative to the importing file, not to the current
directory.";

    ImportCycle = "E0005", Error, "import cycle",
"A file imports itself, directly or through other files. Each file is read once;
an import that would read a file that is already being read is an error, since
its definitions would be duplicates.

Move the shared definitions to a third file that both import.";

    NameTooLong = "E0107", Error, "name too long",
"A name (of an uplink, lan, host, constant, plugin or state) is longer than
63 characters. Names become pf labels (63 characters at most), pf macros,
ifstated state names and parts of file names, so a longer one yields files
OpenBSD refuses.

Shorten the name.";

    InvalidSiteName = "E0106", Error, "invalid site name",
"The site name names the output files (`NAME.wanc`, `NAME.ir.json`) and the
nftables table, so it is 1 to 64 letters, digits, `_`, `.` or `-`, and does
not start with `.`.

    site \"../office\"             # error

Without a `site` line the site is named after its file, with other
characters replaced by `_`.";

    UnknownName = "E0101", Error, "unknown name",
"A name is used that nothing defines: an uplink, lan, host, constant, plugin or
state, or a service or protocol name (service names stand for ports, in
`port` matches, port lists and single ports such as `check tcp HOST:https`).
The help suggests the closest known name.

    policy { default via isp3 }   # error: unknown uplink `isp3`

Define the name, or correct the spelling.";

    DuplicateName = "E0102", Error, "duplicate definition",
"Two items define the same name. Uplinks, lans, hosts, constants, plugins and
states share one namespace, so that every reference is unambiguous. The
second label points at the first definition. A second `site` is reported the
same way.

    uplink isp1 { interface vr0 }
    lan isp1 { interface vr1 }    # error: `isp1` is defined twice

Rename one of them.";

    WrongKind = "E0103", Error, "name of the wrong kind",
"A name is defined, but as something else than the place needs: a `via` names a
lan, `from` names an uplink, a state condition names a host, a check names a
plugin that is a constant.

    route from inside via inside  # error: `inside` is a lan, not an uplink

Use a name of the expected kind.";

    DuplicateSetting = "E0104", Error, "setting given twice",
"A block sets the same thing twice, such as two `interface` lines in an uplink
or two `every` options on a check. Only one can be meant.

Remove one of them. (A lan may list several `network`s, and an uplink several
`check`s: those are not settings but lists.)";

    MissingSetting = "E0105", Error, "required setting missing",
"An item lacks something it cannot work without: a lan needs an `interface` and
at least one `network`; an uplink needs an `interface`, and needs an `address`
when it does NAT, has checks that probe from it, or is the target of `forward`
or `serve`; a gateway is needed unless it is `gateway dev` (a point-to-point
link).

Add the setting.";

    TypeMismatch = "E0201", Error, "type mismatch",
"A value of one type stands where another is expected: an address where a
prefix is expected (`network 192.168.1.1`), a duration where a number is
expected (`weight 10s`), a hostname as a `dns` check's server, a port range
where one port is expected, a URL that is not `http://…` or not valid (an
IPv6 address in a URL needs brackets), a `%zone` anywhere but on a gateway.

    lan inside { interface vr1; network 192.168.1.1 }
                                  # error: expected a prefix, found an address

The help shows the expected form.";

    FamilyMismatch = "E0202", Error, "address family mismatch",
"A gateway is of an address family the uplink has no address in: an IPv4
gateway on an uplink whose only address is IPv6, or the reverse.

    address 2001:db8:1::2/64
    gateway 192.0.2.1             # error: IPv4 gateway on an IPv6-only uplink

Give the uplink an address of the gateway's family, or use a gateway of the
uplink's family. (A probe target of the wrong family is E0503; a `nat to`
address that is not the uplink's is E0207.)

The same holds where an uplink's address meets an inside one: a `forward`
to an IPv6 host on an uplink (or an address) with no IPv6, and a `nat from
SOURCES to A` where none of the sources is of `A`'s family: a firewall
translates within one family.";

    GatewayOutsidePrefix = "E0203", Error, "gateway outside the uplink's prefix",
"The uplink's `address` carries a prefix length, and the gateway does not lie
inside that prefix, so it cannot be a next hop on the link.

    address 198.51.100.199/24
    gateway 198.51.101.1          # error: not inside 198.51.100.0/24

Correct the gateway or the prefix length. A link-local IPv6 gateway
(`fe80::/10`, with its `%interface`) is on the link by definition and is not
held to the prefix.";

    InvalidInterface = "E0204", Error, "invalid interface name",
"Interface names are 1 to 15 characters of letters, digits, `_`, `.` and `-`,
starting with a letter. They reach shell scripts and pf rules unquoted, so
anything else is rejected rather than quoted.

    interface vr0;reboot          # error";

    InterfaceClaimedTwice = "E0205", Error, "interface claimed twice",
"Two lans or uplinks name the same interface. Each interface belongs to one
item: routing tables, NAT and probes are attached per interface.

Use distinct interfaces (a VLAN interface such as `vlan10` is distinct).";

    LinkLocalZone = "E0206", Error, "link-local gateway without the uplink's interface",
"A link-local IPv6 gateway (`fe80::/10`) is only meaningful on one link, so it
must name its interface after `%`, and that must be the uplink's own
interface.

    interface em0
    gateway fe80::1%em1           # error: the uplink's interface is `em0`";

    NatAddress = "E0207", Error, "nat to an address that is not the uplink's",
"`nat to ADDRESS` must translate to an address the uplink owns: its `address`,
or one inside the uplink's prefix when the address carries a prefix length.
Translating to any other address sends replies to a host that never sees
them. The network address of the prefix (and, for IPv4, its broadcast
address) belongs to no host and is refused too.

    address 198.51.100.199/24
    nat to 198.51.100.0           # error: the network address

Use plain `nat` (the uplink's address) or an address of the uplink.";

    OutOfRange = "E0208", Error, "value out of range",
"A value is of the right type but outside what it can be: a weight of 0, a
`rise` or `fall` of 0, a loss threshold of 0%, a `count` above 100, a port of
0 or above 65535, a routing table above 2147483647, `healthy when 3` on an
uplink with two checks. (A percentage above 100% and a port range whose
start is above its end are E0002.)

The message gives the allowed range.";

    UnknownOption = "E0209", Error, "unknown option",
"A check has an option it does not take. Every check takes `every`, `timeout`,
`count`, `rise`, `fall`, `loss <` and `latency <`; `http` checks also take
`expect`; `dns` checks take `query`; plugin checks take the settings their
plugin declares (see E0705).

    check ping 192.0.2.1 { evry 10s }   # error: did you mean `every`?";

    WrongEvent = "E0210", Error, "event not valid here",
"Uplinks have `on up` and `on down`; states have `on enter` and `on exit`. An
action block names an event of the other kind, or repeats one, or an action
does not fit its event (`flush states` belongs to `on down`, where the uplink
whose connections are flushed is known).";

    ForwardAddress = "E0212", Error, "forward on an address no uplink has",
"`forward … on ADDRESS` listens on one address of an uplink, so the address
must be one an uplink declares with `address`. A connection to any other
address never arrives at the router.

    uplink ext1 { interface em0; address 192.0.2.10/29; address 192.0.2.11/29; gateway 192.0.2.9 }
    forward tcp port smtp on 192.0.2.12 to mail   # error: ext1 has .10 and .11

Add the address to its uplink, or name the uplink (`on ext1`: its first
address of the family).";

    HostBitsSet = "W0211", Warning, "prefix has host bits set",
"A network prefix has bits set below its length, such as `192.168.1.5/24`, in a
lan's `network` or in a `from`/`to` match. The network is taken as
`192.168.1.0/24`; the address part was probably meant as an interface
address.

Write the network address.";

    NonExhaustive = "E0301", Error, "states do not cover every health combination",
"States are tried in order and the first whose `when` holds is current. Some
combination of healthy and failed uplinks selects no state, and the router
would not know what to do. The message names one such combination.

The decision is exact (the conditions are compiled to a decision diagram), so
it stays fast with many uplinks.

Add a state for the combination, or a catch-all `state NAME default` last.";

    UnreachableState = "W0302", Warning, "state can never be current",
"Every combination that satisfies this state's `when` is taken by an earlier
state (or the condition can never hold at all), so it never becomes current
and its actions never run.

Reorder the states, or remove this one.";

    StatesTooComplex = "E0303", Error, "state conditions too complex to check",
"The state conditions grew a decision diagram beyond the checker's budget. This
takes deliberately adversarial conditions; real sites stay far below it.

Simplify the conditions, for example with `count(...) >= N`.";

    BalanceOfOne = "W0401", Warning, "balance over a single uplink",
"`balance(...)` or `multipath(...)` names one uplink. There is nothing to spread
traffic over, and no failover either.

Name several uplinks, or write `via NAME` (or an ordered list `via a, b`).";

    RepeatedUplink = "E0402", Error, "uplink named twice in one rule",
"A `via` list, `balance(...)` or `multipath(...)` names the same uplink twice.
In a failover list the second mention can never be chosen; in a pool it would
silently double the weight.

Remove the repetition (use `weight` for unequal shares).";

    DuplicateDefault = "E0403", Error, "more than one default route",
"A policy has two `default via` rules. The router has one default route per
state.

Keep one: a failover list `default via a, b` expresses the order.";

    OverlappingForwards = "E0404", Error, "two forwards take the same port on the same uplink",
"Two `forward` rules in force together take the same protocol and an
overlapping port on the same uplink (and address family), but name different
hosts or ports. Which one wins would depend on the order a target writes
and matches them in, so the site would mean nothing definite. The rules may be
both in the site's policy, or one in a state's own policy and one in the
site's that it does not replace.

    forward tcp port 80 on isp1 to web1
    forward tcp port 80 on isp1 to web2      # error: port 80 goes where?

Forward each port of an uplink to one host; for a different host in some
states, replace the site's rule in those states with a `forward` of the same
protocol, ports and uplink.";

    CheckOverlap = "E0501", Error, "check timing overlaps itself",
"A probe sends `count` packets and waits up to `timeout` for each, so one round
can take `count × timeout`. When that reaches `every`, the next round starts
before the previous one ended; ifstated then kills its own test, and the
uplink flaps.

    check ping 192.0.2.1 { every 3s count 3 timeout 1s }   # error: 3 × 1s ≥ 3s

When the site is built for OpenBSD, the round is taken as OpenBSD runs it:
ifstated runs each test every `every` rounded up to whole seconds; ping sends
one request per `timeout` and then waits `timeout` rounded up to whole seconds
for the last reply (twice the slowest reply when some came); nc and dig take
their timeout in whole seconds. `every 3s timeout 500ms count 5` fits the rule
above (2.5s) but takes 3.5s there.

Lengthen `every`, or lower `count` or `timeout`.";

    HostnameTarget = "W0502", Warning, "probe target is a hostname",
"A check probes a hostname (a ping or tcp target, or the host of an http
check's URL). Resolving it needs DNS, and the DNS server may be reachable only
through the uplink that failed, so the probe of a healthy uplink can fail
too. A `dns` check's server cannot be a hostname at all (E0201).

Probe an address.";

    ProbeFamily = "E0503", Error, "probe cannot leave by its uplink",
"A check's target is of an address family the uplink has no address in (an
IPv6 target on an IPv4 uplink), so the probe cannot be sent from the uplink.
This holds for ping, tcp and dns targets and for an address in an http
check's URL (`http://[2001:db8::1]/`).

Probe a target of the uplink's family.";

    TableClash = "E0601", Error, "routing table clash",
"Two uplinks ask for the same Linux routing table, or a table is one the kernel
reserves (0 unspec, 253 default, 254 main, 255 local). Each uplink needs a
table of its own for its source-based routes. (A number above 2147483647 is
E0208.)

Choose another number, or leave `table` out to have one assigned.";

    LinuxLimits = "E0602", Error, "site does not fit Linux's numbers",
"On Linux, wanc steers traffic with packet marks (bits 8-15: 255 slots, one
per uplink and one per distinct `multipath(…)` list) and `ip rule`
priorities in 10000-12999 (900 source rules, one per address of an uplink;
999 `serve` rules). A site that needs more slots than that cannot be realised.

Merge multipath lists that name the same uplinks, or split the site.

Limits are checked per target: `wanc check --target openbsd` and `wanc build
--target openbsd` do not apply them.";

    LinuxWeight = "E0603", Error, "multipath weight above Linux's largest",
"A `multipath(…)` route becomes one kernel route whose nexthops carry the
members' weights, and Linux takes nexthop weights from 1 to 256 only. wanc
divides the weights of a route by their greatest common divisor first (shares,
not absolute weights, matter: `weight 600` and `weight 300` are 2:1), so this
is reported only when the shares themselves exceed 256, such as weights 1000
and 3 on two members of one multipath list.

Use smaller, rounder weights (1000 and 3 is within a fraction of a percent of
256 and 1), or `balance(…)`, which nftables spreads with any weights. Checked
only for the Linux target.";

    LinuxStateServe = "E0604", Error, "a state's own `serve` on Linux",
"On Linux, the replies of a `serve` host leave by its uplink through an `ip
rule` that setup writes once, for every state; a `serve` in a state's own
policy (added, or replacing the site's) would be in force in every state
there, while pf honours it in that state only. wanc refuses it rather than
let the targets disagree.

Declare the `serve` in the site's policy, or build for OpenBSD only
(`--target openbsd`). Checked only for the Linux target.";

    OpenbsdLearned = "E0605", Error, "network address translation to a learned IPv6 address on OpenBSD",
"pf names a learned address by its interface: `(IF:0)`, the interface's
first address of the family. For IPv4 that is the lease's; for IPv6 the
first address may be the link-local one, so pf has no form that names the
global address NAT must translate to. Learned addresses and gateways are
otherwise followed on OpenBSD (see `docs/deploy-openbsd.md`).

Give the IPv6 address itself, or build for Linux only (`--target linux`),
where NAT to a learned address is nftables' `masquerade`. Checked only for
the OpenBSD target.";

    PluginMissing = "E0701", Error, "plugin file missing",
"`plugin NAME \"PATH\"` names a file that does not exist or cannot be read. The
path is relative to the `.wan` file.";

    PluginInvalid = "E0702", Error, "plugin is not valid WebAssembly",
"The plugin file exists but is not a valid WebAssembly module (wasmtime refused
to compile it).";

    PluginAbi = "E0703", Error, "plugin has the wrong ABI version",
"The plugin's `wanc_abi_version` export returns a version this compiler does not
speak. wanc speaks ABI version 1 (see `plugins/ABI.md`).

Rebuild the plugin against the current SDK.";

    PluginExport = "E0704", Error, "plugin lacks a required export",
"A probe plugin must export `memory`, `wanc_abi_version`, `wanc_settings`,
`wanc_alloc` and `wanc_probe` (see `plugins/ABI.md`). One is missing or has
the wrong type.";

    PluginSetting = "E0705", Error, "setting the plugin does not declare",
"A plugin check sets an option that the plugin does not declare in its
`wanc_settings` description, or leaves out one it requires.

    check plugin http_ok { every 30s  ur \"http://192.0.2.1/\" }
                                  # error: did you mean `url`?";
}

#[cfg(test)]
mod tests {
    use super::Code;
    use std::fmt::Write;

    /// docs/codes.md is what `wanc explain` says of every code, one
    /// heading a code (`## E0101`, anchor `#e0101`, which the language
    /// server's diagnostics link to). `WANC_BLESS=1` writes it anew.
    #[test]
    fn the_codes_page_is_current() {
        let mut page = String::from(
            "# Diagnostic codes\n\n\
             Every diagnostic of `wanc check` has a code; this page holds what `wanc explain CODE`\n\
             prints for each, and the language server's diagnostics link here (docs/lsp.md).\n\
             It is generated from `src/codes.rs`: `WANC_BLESS=1 cargo test --lib codes` writes it.\n",
        );
        for code in Code::ALL {
            let _ = write!(page, "\n## {code}\n\n**{}** ({})\n\n{}\n", code.title(), code.severity().as_str(), code.doc());
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/codes.md");
        if std::env::var_os("WANC_BLESS").is_some() {
            std::fs::write(&path, &page).expect("docs/codes.md written");
        }
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(written == page, "docs/codes.md is not current: `WANC_BLESS=1 cargo test --lib codes` writes it");
    }
}
