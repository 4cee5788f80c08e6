//! What the agent knows of the kernel's links and leases: read whole from
//! the kernel whenever it reports a change, never kept up by hand from the
//! events themselves, so a lost event (or one the agent did not foresee)
//! costs a re-read, never a wrong belief.
//!
//! Per uplink: whether its interface exists and carries packets (up and
//! with carrier), and the values it learns at run time: the interface's
//! global address of a family (inside the uplink's `network`s if it names
//! any), and the gateway of the main table's default route through the
//! interface that someone else installed (the DHCP client, the kernel from
//! router advertisements, a PPP daemon), not wanc (`linux::PROTOCOL`).

use crate::ir::{Family, Gateway, Site};
use crate::lower::linux::{Learned, Lease, PROTOCOL};
use crate::netlink::{KernelEvent, Netlink, RouteEntry};
use std::net::IpAddr;
use tracing::warn;

/// The main routing table.
const MAIN: u32 = 254;

/// One reading of the kernel, for one site.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct View {
    /// Per uplink: `None` when its interface does not exist, else whether
    /// it can carry packets.
    pub links: Vec<Option<bool>>,
    pub learned: Learned,
}

impl View {
    /// Whether uplink `u`'s link can carry packets.
    pub fn link_up(&self, u: usize) -> bool {
        self.links.get(u).copied().flatten().unwrap_or(false)
    }
}

/// Reads the kernel's state as the site sees it. Leases that do not fit
/// the site are logged (once per change: the caller logs a changed view)
/// and left out.
pub fn read(netlink: &mut Netlink, site: &Site) -> std::io::Result<View> {
    let links = netlink.links()?;
    let learns = site.uplinks.iter().any(|u| u.learns());
    let addresses = if learns { netlink.addresses()? } else { Vec::new() };
    let mut defaults: Vec<(Family, RouteEntry)> = Vec::new();
    for family in Family::BOTH {
        let wanted = site.uplinks.iter().any(|u| u.gateways.contains(&Gateway::Learned { family }));
        if wanted {
            defaults.extend(netlink.routes(family, MAIN)?.into_iter().map(|r| (family, r)));
        }
    }
    let mut view = View { links: Vec::new(), learned: Learned::new(site.uplinks.len()) };
    for (u, up) in site.uplinks.iter().enumerate() {
        let link = links.iter().find(|l| l.name == up.interface);
        view.links.push(link.map(|l| l.up));
        let Some(link) = link else {
            view.learned.missing.push(up.interface.clone());
            continue;
        };
        if !link.up {
            view.learned.missing.push(up.interface.clone());
        }
        for &family in &up.learned {
            let mine = addresses
                .iter()
                .filter(|a| a.index == link.index && a.scope_global && !a.tentative && Family::of(&a.address.addr()) == family);
            let (inside, outside): (Vec<_>, Vec<_>) =
                mine.partition(|a| up.networks.is_empty() || up.networks.iter().any(|n| n.contains(&a.address.addr())));
            // Of several, a preferred one (not deprecated) first.
            let chosen = inside.iter().find(|a| !a.deprecated).or(inside.first());
            if chosen.is_none() {
                if let Some(a) = outside.first() {
                    warn!(uplink = up.name, address = %a.address, "learned address outside the uplink's networks, not taken");
                }
            }
            view.learned.uplinks[u][family.index()].address = chosen.map(|a| a.address.addr());
        }
        for family in Family::BOTH {
            if !up.gateways.contains(&Gateway::Learned { family }) {
                continue;
            }
            let lease: &mut Lease = &mut view.learned.uplinks[u][family.index()];
            lease.gateway = defaults
                .iter()
                .filter(|(f, r)| *f == family && is_default(r) && r.oif == Some(link.index) && r.protocol != PROTOCOL)
                .filter_map(|(_, r)| r.gateway)
                .find(|g| {
                    let fits = Family::of(g) == family;
                    if !fits {
                        warn!(uplink = up.name, gateway = %g, "learned gateway of the other family, not taken");
                    }
                    fits
                });
        }
    }
    Ok(view)
}

fn is_default(route: &RouteEntry) -> bool {
    route.destination.prefix_len() == 0
}

/// Whether a batch of kernel events may change what the agent reads or
/// has put in place: links, addresses, routes and rules others changed,
/// or lost events. wanc's own route additions (`PROTOCOL`) are not news.
pub fn matters(events: &[KernelEvent]) -> bool {
    events.iter().any(|e| match e {
        KernelEvent::Route { added: true, entry, .. } => entry.protocol != PROTOCOL,
        _ => true,
    })
}

/// The address an uplink's probes leave from, in a family: the given one,
/// else the learned one.
pub fn source(site: &Site, learned: &Learned, u: usize, family: Family) -> Option<IpAddr> {
    site.uplinks[u].address(family == Family::V6).or(learned.lease(u, family).address)
}
