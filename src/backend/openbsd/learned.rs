//! What the router learns (`address auto`, `gateway auto`), read at run
//! time by the sh that ifstated runs.
//!
//! - A learned **address** is pf's `(IF:0)` in the rules for IPv4, `(IF)`
//!   for IPv6 (see [`pf_address`]), re-evaluated when the interface's
//!   addresses change, and for a probe the first address ifconfig(8) lists
//!   of that family (IPv6: not link-local), read before each probe.
//! - A learned **gateway** is the default route through the uplink's
//!   interface that someone other than wanc added: dhcpleased(8) (priority
//!   58), slaacd(8) (59), a PPP daemon or /etc/mygate (8); wanc's own have
//!   priority [`live::PRIORITY`]. pf reads it from a persistent table per
//!   uplink and family, `<wanc_UPLINK_gw>`, which an ifstated test refreshes
//!   from the routing table; wanc's default routes read the routing table
//!   when they are set.

use super::live::PRIORITY;
use super::quote::sh_word;
use super::{Ctx, Family};
use crate::ir::UplinkId;

/// pf's interface-address form for an uplink's learned address: IPv4's
/// first address (`:0`, no aliases), which is the lease's; for IPv6 every
/// address of the interface, since its first may be the link-local one
/// (matching those too is harmless; NAT to it is E0605).
pub fn pf_address(interface: &str, f: Family) -> String {
    match f {
        Family::V4 => format!("({interface}:0)"),
        Family::V6 => format!("({interface})"),
    }
}

/// pf's longest table name (PF_TABLE_NAME_SIZE, 32 with its NUL).
const TABLE_NAME_LEN: usize = 31;

/// The pf table holding an uplink's learned gateway in one family: named
/// after the uplink, or after its position when the name is too long (no
/// uplink's name is a number, so the two cannot meet).
pub fn table(ctx: &Ctx, u: UplinkId, f: Family) -> String {
    let named = format!("wanc_{}_gw{}", ctx.names.uplinks[u], f.suffix());
    if named.len() <= TABLE_NAME_LEN {
        named
    } else {
        format!("wanc_{u}_gw{}", f.suffix())
    }
}

/// sh printing the interface's first address of a family (IPv6: not a
/// link-local one, which ifconfig prints with its `%scope`, nor one still
/// tentative or already deprecated), or nothing.
pub fn address(interface: &str, f: Family) -> String {
    let program = match f {
        Family::V4 => "$1 == \"inet\" { print $2; exit }".to_string(),
        Family::V6 => {
            "$1 == \"inet6\" && $2 !~ /%/ && !/ (tentative|deprecated|duplicated|detached)/ { print $2; exit }".to_string()
        }
    };
    format!("ifconfig {interface} 2>/dev/null | awk {}", sh_word(&program))
}

/// sh printing the gateway of a default route through the interface of a
/// family, of wanc's own priority (`own`) or not, or nothing. `route -n
/// show` prints `Destination Gateway Flags Refs Use Mtu Prio Iface`.
fn default_gateway(interface: &str, f: Family, own: bool) -> String {
    let prio = if own { "==" } else { "!=" };
    let program =
        format!("$1 == \"default\" && $3 ~ /G/ && $(NF - 1) {prio} {PRIORITY} && $NF == \"{interface}\" {{ print $2; exit }}");
    format!("route -n show {} 2>/dev/null | awk {}", f.route(), sh_word(&program))
}

/// sh printing the learned gateway of the interface, or nothing.
pub fn gateway(interface: &str, f: Family) -> String {
    default_gateway(interface, f, false)
}

/// sh printing the gateway of wanc's own default route through the
/// interface, or nothing.
pub fn own_gateway(interface: &str, f: Family) -> String {
    default_gateway(interface, f, true)
}

/// The ifstated test command that keeps an uplink's gateway table in line
/// with the learned gateway (flushed while there is none, so that pf drops
/// what would leave by the uplink rather than send it elsewhere), and
/// moves wanc's own default route through the interface to a new gateway.
/// True while a gateway is learned. pfctl shows a link-local gateway
/// without the `%scope` that route(8) prints, hence the comparison without.
pub fn refresh(ctx: &Ctx, u: UplinkId, f: Family) -> String {
    let (t, interface) = (table(ctx, u, f), &ctx.site.uplinks[u].interface);
    format!(
        "g=$({learned}); o=$({own}); c=$(pfctl -q -t {t} -T show 2>/dev/null | awk '{{ print $1; exit }}'); \
         if [ \"$c\" != \"${{g%%[%]*}}\" ]; then if [ -n \"$g\" ]; then pfctl -q -t {t} -T replace \"$g\"; else pfctl -q -t {t} -T flush; fi; fi; \
         if [ -n \"$o\" ] && [ \"$o\" != \"$g\" ]; then [ -n \"$g\" ] && route -qn add {r} -mpath -priority {PRIORITY} default \"$g\"; \
         route -qn delete {r} -priority {PRIORITY} default \"$o\"; fi; [ -n \"$g\" ]",
        learned = gateway(interface, f),
        own = own_gateway(interface, f),
        r = f.route(),
    )
}
