//! Dumps of the kernel's links, addresses and routes: what the agent reads
//! at start-up, and again to reconcile after events were lost.

use super::objects::TableRoute;
use super::requests::{dump_addresses, dump_links, dump_routes};
use super::{failure, Address, Error, Link, Netlink, Request, RouteEntry};
use crate::ir::Family;
use netlink_packet_route::RouteNetlinkMessage;
use std::io;

/// How many times a dump that changed while it was read (the kernel says
/// so with `NLM_F_DUMP_INTR`) is read again before giving up.
const DUMP_TRIES: usize = 4;

impl Netlink {
    /// Every interface of the socket's namespace.
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let messages = self.dump(dump_links())?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Link::from_message(link),
                _ => None,
            })
            .collect())
    }

    /// Every IPv4 and IPv6 address of every interface.
    pub fn addresses(&mut self) -> io::Result<Vec<Address>> {
        let messages = self.dump(dump_addresses())?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(address) => Address::from_message(address),
                _ => None,
            })
            .collect())
    }

    /// The routes of one table (254 is main) of a family. The main table
    /// holds the default route a DHCP client or the kernel's router
    /// advertisement handling installed for an uplink.
    pub fn routes(&mut self, family: Family, table: u32) -> io::Result<Vec<RouteEntry>> {
        let messages = self.dump(dump_routes(family, table))?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(route) => TableRoute::from_message(route),
                _ => None,
            })
            .filter(|r| r.family == family && r.table == table)
            .map(|r| r.entry)
            .collect())
    }

    /// The messages of a dump, read again while the kernel says it changed
    /// under the reader.
    fn dump(&mut self, request: Request) -> io::Result<Vec<RouteNetlinkMessage>> {
        for _ in 0..DUMP_TRIES {
            let reply = self.transact(std::slice::from_ref(&request))?.pop().unwrap_or_default();
            if reply.errno != 0 {
                return Err(Error { failures: vec![failure(&request, &reply)] }.into_io());
            }
            if !reply.interrupted {
                return Ok(reply.data);
            }
        }
        Err(io::Error::other(format!("{}: the kernel's state changed during each of {DUMP_TRIES} dumps", request.object)))
    }
}
