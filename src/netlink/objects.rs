//! The kernel's links, addresses and routes as the agent reads them, made
//! from netlink-packet-route's messages; the dumps and the events share
//! these conversions.

use crate::ir::Family;
use ipnet::IpNet;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteNextHop, RouteVia};
use netlink_packet_route::AddressFamily;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// Administratively up and with carrier (`IFF_UP` and `IFF_LOWER_UP`):
    /// it can carry packets.
    pub up: bool,
}

impl Link {
    /// `None` for what is not a link's own message: the bridge sends
    /// `AF_BRIDGE` link messages about its ports (a `RTM_DELLINK` of those
    /// only means the port left the bridge), and a message without a name.
    pub(super) fn from_message(message: &LinkMessage) -> Option<Link> {
        if message.header.interface_family != AddressFamily::Unspec {
            return None;
        }
        let name = message.attributes.iter().find_map(|a| match a {
            LinkAttribute::IfName(name) => Some(name.clone()),
            _ => None,
        })?;
        let flags = message.header.flags;
        Some(Link { index: message.header.index, name, up: flags.contains(LinkFlags::Up | LinkFlags::LowerUp) })
    }
}

/// An address on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The interface's index.
    pub index: u32,
    /// The local address and its prefix length.
    pub address: IpNet,
    /// Scope `global` (not link, host or site).
    pub scope_global: bool,
    /// IPv6: its preferred lifetime is over; still valid, not for new
    /// connections.
    pub deprecated: bool,
    /// IPv6: duplicate address detection is not done yet; not usable.
    pub tentative: bool,
}

impl Address {
    pub(super) fn from_message(message: &AddressMessage) -> Option<Address> {
        let mut local = None;
        let mut address = None;
        // The header holds the lower eight flags; IFA_FLAGS all of them.
        let mut flags = AddressFlags::from_bits_retain(u32::from(message.header.flags.bits()));
        for attribute in &message.attributes {
            match attribute {
                AddressAttribute::Local(a) => local = Some(*a),
                AddressAttribute::Address(a) => address = Some(*a),
                AddressAttribute::Flags(f) => flags = *f,
                _ => {}
            }
        }
        // On a point-to-point link IFA_ADDRESS is the peer's; IFA_LOCAL is
        // always ours when present (as `ip address` shows it).
        let ip = local.or(address)?;
        Some(Address {
            index: message.header.index,
            address: IpNet::new(ip, message.header.prefix_len).ok()?,
            scope_global: message.header.scope == AddressScope::Universe,
            deprecated: flags.contains(AddressFlags::Deprecated),
            tentative: flags.contains(AddressFlags::Tentative),
        })
    }
}

/// One next hop of a multipath route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteHop {
    pub gateway: Option<IpAddr>,
    pub oif: u32,
    /// The weight as `ip route` writes it, 1 to 256.
    pub weight: u16,
}

/// A route of a routing table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    /// The destination; `0.0.0.0/0` or `::/0` for a default route.
    pub destination: IpNet,
    pub gateway: Option<IpAddr>,
    pub oif: Option<u32>,
    /// Who installed it: `RTPROT_*` (3 boot, 4 static, 16 dhcp, 9 ra, …).
    pub protocol: u8,
    /// The route type: `RTN_*` (1 unicast, 9 throw, 7 unreachable, …).
    pub kind: u8,
    /// The metric (`ip route … metric N`), when set.
    pub priority: Option<u32>,
    /// The next hops of a multipath route (then `gateway` and `oif` are
    /// `None`); empty otherwise.
    pub multipath: Vec<RouteHop>,
}

/// A route and where it lives.
pub(super) struct TableRoute {
    pub family: Family,
    pub table: u32,
    pub entry: RouteEntry,
}

fn ip(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// `RTA_GATEWAY`, or `RTA_VIA` for a next hop of the other family (an
/// IPv4 route via an IPv6 neighbour, RFC 5549), which readers must see to
/// refuse rather than take as "no gateway".
fn gateway(attributes: &[RouteAttribute]) -> Option<IpAddr> {
    attributes.iter().find_map(|a| match a {
        RouteAttribute::Gateway(g) => ip(g),
        RouteAttribute::Via(RouteVia::Inet(a)) => Some(IpAddr::V4(*a)),
        RouteAttribute::Via(RouteVia::Inet6(a)) => Some(IpAddr::V6(*a)),
        _ => None,
    })
}

fn hop(nexthop: &RouteNextHop) -> RouteHop {
    RouteHop { gateway: gateway(&nexthop.attributes), oif: nexthop.interface_index, weight: u16::from(nexthop.hops) + 1 }
}

impl TableRoute {
    /// `None` for a family other than IPv4 and IPv6, or a destination whose
    /// prefix length does not fit its address.
    pub(super) fn from_message(message: &RouteMessage) -> Option<TableRoute> {
        let header = &message.header;
        let (family, unspecified) = match header.address_family {
            AddressFamily::Inet => (Family::V4, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            AddressFamily::Inet6 => (Family::V6, IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            _ => return None,
        };
        let mut table = u32::from(header.table);
        let mut destination = unspecified;
        let mut entry = RouteEntry {
            destination: IpNet::default(),
            gateway: gateway(&message.attributes),
            oif: None,
            protocol: header.protocol.into(),
            kind: header.kind.into(),
            priority: None,
            multipath: Vec::new(),
        };
        for attribute in &message.attributes {
            match attribute {
                RouteAttribute::Table(t) => table = *t,
                RouteAttribute::Destination(d) => destination = ip(d)?,
                RouteAttribute::Oif(i) => entry.oif = Some(*i),
                RouteAttribute::Priority(p) => entry.priority = Some(*p),
                RouteAttribute::MultiPath(hops) => entry.multipath = hops.iter().map(hop).collect(),
                _ => {}
            }
        }
        if Family::of(&destination) != family {
            return None;
        }
        entry.destination = IpNet::new(destination, header.destination_prefix_length).ok()?;
        Some(TableRoute { family, table, entry })
    }
}
