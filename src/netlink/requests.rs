//! The requests the client sends, built with netlink-packet-route: the
//! messages `ip route replace …` / `ip rule add …` send for
//! `Route::command()` and `IpRule::args()`, link look-ups, and dumps.

use super::{invalid, Failure, Request};
use crate::ir::Family;
use crate::lower::linux::{IpRule, Route, Selector, MARK_MASK};
use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{LinkAttribute, LinkExtentMask, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteNextHop, RouteNextHopFlags, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::collections::HashMap;
use std::io;

/// The main routing table.
pub(super) const RT_TABLE_MAIN: u32 = 254;

const ENOENT: i32 = libc::ENOENT;
const ESRCH: i32 = libc::ESRCH;
const EEXIST: i32 = libc::EEXIST;

pub(super) fn address_family(family: Family) -> AddressFamily {
    match family {
        Family::V4 => AddressFamily::Inet,
        Family::V6 => AddressFamily::Inet6,
    }
}

/// The table byte of a header: the table itself when it fits, else
/// RT_TABLE_UNSPEC with the table in an attribute.
fn table_byte(table: u32) -> u8 {
    u8::try_from(table).unwrap_or(0)
}

fn request(object: String, flags: u16, message: RouteNetlinkMessage, tolerated: &'static [i32]) -> Request {
    Request { object, flags, message, tolerated }
}

pub(super) fn delete_rules(family: Family, priority: u32) -> Request {
    let object = format!("ip {} rule del priority {priority}", family.flag());
    let mut rule = RuleMessage::default();
    rule.header.family = address_family(family);
    rule.header.action = RuleAction::Unspec;
    rule.attributes.push(RuleAttribute::Priority(priority));
    request(object, NLM_F_ACK, RouteNetlinkMessage::DelRule(rule), &[ENOENT, ESRCH])
}

/// Deletes one default route of `table` installed with `protocol` (the
/// kernel matches a non-zero protocol): wanc's own, never a DHCP client's.
pub(super) fn delete_default(family: Family, table: u32, protocol: u8, object: String) -> Request {
    let mut route = RouteMessage::default();
    route.header.address_family = address_family(family);
    route.header.table = table_byte(table);
    // Type unspec and scope "nowhere" match any route of that protocol.
    route.header.protocol = RouteProtocol::from(protocol);
    route.header.scope = RouteScope::NoWhere;
    route.header.kind = RouteType::Unspec;
    route.attributes.push(RouteAttribute::Table(table));
    request(object, NLM_F_ACK, RouteNetlinkMessage::DelRoute(route), &[ESRCH, ENOENT])
}

pub(super) fn route_request(
    route: &Route,
    protocol: u8,
    indices: &HashMap<String, Result<u32, Failure>>,
    object: &str,
) -> Result<Request, Failure> {
    let table = route.table.unwrap_or(RT_TABLE_MAIN);
    let mut hops = Vec::new();
    for hop in &route.nexthops {
        // The agent fills learned gateways in before it gets here.
        let gateway = match hop.gateway {
            Some(value) => Some(value.known().ok_or_else(|| invalid(object, "a learned gateway not filled in"))?),
            None => None,
        };
        if let Some(gw) = gateway {
            if Family::of(&gw) != route.family {
                return Err(invalid(object, format!("gateway {gw} is not {:?}", route.family)));
            }
        }
        let index = match indices.get(&hop.dev) {
            Some(Ok(i)) => *i,
            Some(Err(f)) => return Err(Failure { object: object.to_string(), errno: f.errno, detail: Some(f.to_string()) }),
            None => return Err(invalid(object, format!("interface {} not looked up", hop.dev))),
        };
        hops.push((hop, index, gateway));
    }
    let mut message = RouteMessage::default();
    let header = &mut message.header;
    header.address_family = address_family(route.family);
    header.table = table_byte(table);
    header.protocol = RouteProtocol::from(protocol);
    header.scope = RouteScope::Universe;
    header.kind = RouteType::Unicast;
    message.attributes.push(RouteAttribute::Table(table));
    match hops.as_slice() {
        [] => message.header.kind = RouteType::Throw,
        [(_, index, gateway)] => {
            // As `ip`: a route without a gateway is a link route.
            match *gateway {
                Some(gw) => {
                    message.header.flags = RouteFlags::Onlink;
                    message.attributes.push(RouteAttribute::Gateway(RouteAddress::from(gw)));
                }
                None => message.header.scope = RouteScope::Link,
            }
            message.attributes.push(RouteAttribute::Oif(*index));
        }
        many => {
            let mut nexthops = Vec::new();
            for (hop, index, gateway) in many {
                let mut nexthop = RouteNextHop::default();
                nexthop.hops = match hop.weight {
                    1..=256 => (hop.weight - 1) as u8,
                    w => return Err(invalid(object, format!("weight {w} is outside 1-256"))),
                };
                nexthop.interface_index = *index;
                if let Some(gw) = *gateway {
                    nexthop.flags = RouteNextHopFlags::Onlink;
                    nexthop.attributes.push(RouteAttribute::Gateway(RouteAddress::from(gw)));
                }
                nexthops.push(nexthop);
            }
            message.attributes.push(RouteAttribute::MultiPath(nexthops));
        }
    }
    let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    Ok(request(object.to_string(), flags, RouteNetlinkMessage::NewRoute(message), &[]))
}

pub(super) fn rule_request(rule: &IpRule, object: &str) -> Result<Request, Failure> {
    if rule.priority == 0 {
        return Err(invalid(object, "priority 0 is the local rule's"));
    }
    let table = match rule.selector {
        Selector::SuppressMain => RT_TABLE_MAIN,
        _ => rule.table,
    };
    let mut message = RuleMessage::default();
    message.header.family = address_family(rule.family);
    message.header.table = table_byte(table);
    message.header.action = RuleAction::ToTable;
    message.attributes.extend([RuleAttribute::Priority(rule.priority), RuleAttribute::Table(table)]);
    match &rule.selector {
        Selector::SuppressMain => message.attributes.push(RuleAttribute::SuppressPrefixLen(0)),
        Selector::From(net) => {
            if Family::of(&net.addr()) != rule.family {
                return Err(invalid(object, format!("{net} is not {:?}", rule.family)));
            }
            message.header.src_len = net.prefix_len();
            message.attributes.push(RuleAttribute::Source(net.addr()));
        }
        // The agent fills learned addresses in before it gets here.
        Selector::FromLearned(..) => return Err(invalid(object, "a learned address not filled in")),
        Selector::Fwmark(mark) => {
            message.attributes.extend([RuleAttribute::FwMark(*mark), RuleAttribute::FwMask(MARK_MASK)]);
        }
    }
    let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    Ok(request(object.to_string(), flags, RouteNetlinkMessage::NewRule(message), &[EEXIST]))
}

pub(super) fn link_request(dev: &str) -> io::Result<Request> {
    let object = format!("link {dev}");
    if dev.is_empty() || dev.len() >= 16 || dev.bytes().any(|c| c == 0 || c == b'/' || c.is_ascii_whitespace()) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{object}: not an interface name")));
    }
    let mut link = LinkMessage::default();
    link.attributes.extend([LinkAttribute::IfName(dev.to_string()), LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats])]);
    Ok(request(object, NLM_F_ACK, RouteNetlinkMessage::GetLink(link), &[]))
}

/// A dump of every link (without their statistics, which nobody reads).
pub(super) fn dump_links() -> Request {
    let mut link = LinkMessage::default();
    link.attributes.push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    request("ip link show".into(), NLM_F_DUMP, RouteNetlinkMessage::GetLink(link), &[])
}

/// A dump of the addresses of every family.
pub(super) fn dump_addresses() -> Request {
    let address = AddressMessage::default();
    request("ip address show".into(), NLM_F_DUMP, RouteNetlinkMessage::GetAddress(address), &[])
}

/// A dump of the routes of a family, every table (the kernel filters by
/// table only on sockets in strict mode; the caller picks the table).
pub(super) fn dump_routes(family: Family, table: u32) -> Request {
    let mut route = RouteMessage::default();
    route.header.address_family = address_family(family);
    let object = format!("ip {} route show table {table}", family.flag());
    request(object, NLM_F_DUMP, RouteNetlinkMessage::GetRoute(route), &[])
}
