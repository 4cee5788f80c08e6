//! What the compiler guarantees beyond types, checked again on load: a file
//! that decodes must also be one the compiler could have written, since the
//! agent sizes tables, writes interface names into nftables rules and /sys
//! paths, and counts rise/fall with these numbers.

use super::error::LoadError;
use super::format::Section;
use crate::ir::{Action, Routing, Site};
use crate::validate;

pub fn check(site: &Site) -> Result<(), LoadError> {
    let bad = |section: Section, reason: String| Err(LoadError::Invalid { section, reason });
    if !validate::site_name(&site.name) {
        return bad(Section::Site, format!("site name {:?} is not a valid name", site.name));
    }
    for lan in &site.lans {
        if !validate::interface_name(&lan.interface) {
            return bad(Section::Lans, format!("interface {:?} is not a valid interface name", lan.interface));
        }
    }
    let actions = site.uplinks.iter().flat_map(|u| u.on_up.iter().chain(&u.on_down));
    let actions = actions.chain(site.states.iter().flat_map(|s| s.on_enter.iter().chain(&s.on_exit)));
    for action in actions {
        if let Action::FlushStates(uplinks) = action {
            if let Some(u) = uplinks.iter().find(|&&u| u >= site.uplinks.len()) {
                return bad(Section::Uplinks, format!("`flush states` names uplink {u} of {}", site.uplinks.len()));
            }
        }
    }
    for up in &site.uplinks {
        if !validate::interface_name(&up.interface) {
            return bad(Section::Uplinks, format!("interface {:?} is not a valid interface name", up.interface));
        }
        if !validate::WEIGHTS.contains(&u64::from(up.weight)) {
            return bad(Section::Uplinks, format!("weight {} of `{}` is outside 1-1000", up.weight, up.name));
        }
        if !validate::uplink_table(up.table) {
            return bad(Section::Uplinks, format!("table {} of `{}` is reserved or too large", up.table, up.name));
        }
        for c in &up.checks {
            let counts_ok = [c.count, c.rise, c.fall].iter().all(|&n| validate::COUNTS.contains(&u64::from(n)));
            if !counts_ok || c.every_ms == 0 || c.timeout_ms == 0 {
                return bad(Section::Checks, format!("a check of `{}` has an interval, timeout or count out of range", up.name));
            }
        }
    }
    for state in &site.states {
        for routing in &state.routing {
            if let Routing::Uplinks { members, .. } = routing {
                if members.iter().any(|m| !validate::WEIGHTS.contains(&u64::from(m.weight))) {
                    return bad(Section::States, format!("a weight in state `{}` is outside 1-1000", state.name));
                }
            }
        }
    }
    Ok(())
}
