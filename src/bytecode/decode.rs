//! Bytes → `Site`, verifying as it goes: the header, the checksum, the
//! section table, then each section in order. Sections come in dependency
//! order (strings, …, uplinks, checks, rules, states), so every index is
//! checked against what it points into as soon as it is read.

use super::cond::{self, Op, ToCond};
use super::error::{LoadError, Place};
use super::format::{crc32, tag, Section, CHECKSUM_FROM, HEADER_LEN, MAGIC, MAJOR, MINOR, SECTION_HEADER_LEN};
use super::format::{STRING_EXPANSION, STRING_FLOOR};
use super::reader::{Pool, Reader};
use crate::ir::{
    Action, Check, Cond, Gateway, Healthy, Host, HttpUrl, Lan, Member, Nat, Plugin, PluginSetting, Ports, Probe, Routing, Rule,
    RuleKind, Site, State, Target, Uplink, Via,
};
use crate::validate;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub checksum: u32,
    pub major: u16,
    pub minor: u16,
    pub flags: u32,
}

/// Where a section's payload is in the file.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub id: u8,
    pub offset: usize,
    pub len: usize,
}

/// A verified file: the site, and what the disassembler shows besides.
pub struct Loaded {
    pub header: Header,
    pub sections: Vec<Entry>,
    pub strings: Vec<String>,
    pub site: Site,
}

pub fn load(bytes: &[u8]) -> Result<Loaded, LoadError> {
    let header = header(bytes)?;
    let sections = table(bytes, header.minor)?;
    let file = File { bytes, sections: &sections };

    let limit = bytes.len().saturating_mul(STRING_EXPANSION).saturating_add(STRING_FLOOR);
    let empty = Pool { strings: Vec::new(), budget: Cell::new(0), limit };
    let strings = file.read(Section::Strings, &empty, strings)?;
    let pool = Pool { strings, budget: Cell::new(limit), limit };

    let (name, sources, derived_states) = file.read(Section::Site, &pool, |r| Ok((r.str()?, r.list(Reader::str)?, r.bool()?)))?;
    let lans = file.read(Section::Lans, &pool, |r| r.list(lan))?;
    let hosts = file.read(Section::Hosts, &pool, |r| r.list(|r| Ok(Host { name: r.str()?, address: r.ip()? })))?;
    let plugins = file.read(Section::Plugins, &pool, |r| r.list(plugin))?;
    let mut uplinks = file.read(Section::Uplinks, &pool, |r| r.list(uplink))?;
    file.read(Section::Checks, &pool, |r| checks(r, &mut uplinks, &plugins))?;
    let (vias, site_rules, rules) = file.read(Section::Rules, &pool, |r| {
        let vias = r.list(|r| via(r, uplinks.len()))?;
        let site_rules = r.count()?;
        let rules = r.list(|r| rule(r, uplinks.len(), vias.len()))?;
        if site_rules > rules.len() {
            return Err(r.invalid(format!("{site_rules} site rules of {} rules", rules.len())));
        }
        Ok((vias, site_rules, rules))
    })?;
    let shape = Shape { uplinks: uplinks.len(), rules: rules.len(), site_rules, vias: vias.len() };
    let states = file.read(Section::States, &pool, |r| r.list(|r| state(r, &shape)))?;

    let site = Site { name, sources, lans, hosts, uplinks, plugins, derived_states, rules, site_rules, vias, states };
    Ok(Loaded { header, sections, strings: pool.strings, site })
}

/// A file whose section table has been read.
struct File<'a> {
    bytes: &'a [u8],
    sections: &'a [Entry],
}

impl File<'_> {
    /// Runs `f` over a section's whole payload: it must use every byte.
    fn read<T>(
        &self,
        section: Section,
        pool: &Pool,
        f: impl FnOnce(&mut Reader) -> Result<T, LoadError>,
    ) -> Result<T, LoadError> {
        // `table` made sure each known section is there, inside the file.
        let entry = self.sections.iter().find(|e| e.id == section.id());
        let payload = entry.and_then(|e| self.bytes.get(e.offset..e.offset + e.len));
        let mut r = Reader::new(payload.ok_or(LoadError::MissingSection(section))?, section, pool);
        let value = f(&mut r)?;
        r.finish()?;
        Ok(value)
    }
}

fn header(bytes: &[u8]) -> Result<Header, LoadError> {
    if !bytes.iter().zip(MAGIC).all(|(a, b)| a == b) {
        return Err(LoadError::NotPolicy);
    }
    let Some(h) = bytes.get(..HEADER_LEN) else { return Err(LoadError::Truncated(Place::Header)) };
    let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let header = Header { checksum: u32_at(4), major: u16_at(8), minor: u16_at(10), flags: u32_at(12) };
    // The version comes before the checksum: another major may checksum
    // differently, and "unsupported version" is the useful message then.
    if header.major != MAJOR {
        return Err(LoadError::UnsupportedVersion { major: header.major, minor: header.minor });
    }
    let computed = crc32(&bytes[CHECKSUM_FROM..]);
    if computed != header.checksum {
        return Err(LoadError::ChecksumMismatch { stored: header.checksum, computed });
    }
    if header.flags != 0 {
        return Err(LoadError::UnknownFlags(header.flags));
    }
    Ok(header)
}

/// The section table: ids ascending, every payload inside the file, every
/// known section present. Unknown ids are skipped only in a newer minor.
fn table(bytes: &[u8], minor: u16) -> Result<Vec<Entry>, LoadError> {
    let newer = minor > MINOR;
    let mut entries: Vec<Entry> = Vec::new();
    let mut pos = HEADER_LEN;
    while let Some(&id) = bytes.get(pos) {
        let place = Section::from_id(id).map_or(Place::UnknownSection(id), Place::Section);
        let len = bytes.get(pos + 1..pos + SECTION_HEADER_LEN).ok_or(LoadError::Truncated(place))?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let offset = pos + SECTION_HEADER_LEN;
        let end = offset.checked_add(len).filter(|&end| end <= bytes.len()).ok_or(LoadError::Truncated(place))?;
        if entries.last().is_some_and(|e| e.id >= id) {
            return Err(LoadError::SectionOrder(place));
        }
        if Section::from_id(id).is_none() && !newer {
            return Err(LoadError::UnknownSection(id));
        }
        entries.push(Entry { id, offset, len });
        pos = end;
    }
    match Section::ALL.into_iter().find(|s| !entries.iter().any(|e| e.id == s.id())) {
        Some(missing) => Err(LoadError::MissingSection(missing)),
        None => Ok(entries),
    }
}

fn strings(r: &mut Reader) -> Result<Vec<String>, LoadError> {
    let mut index = 0;
    r.list(|r| {
        let len = r.count()?;
        let s = std::str::from_utf8(r.bytes(len)?).map_err(|_| LoadError::InvalidUtf8 { index })?;
        index += 1;
        Ok(s.to_string())
    })
}

fn lan(r: &mut Reader) -> Result<Lan, LoadError> {
    Ok(Lan { name: r.str()?, interface: r.str()?, networks: r.list(Reader::net)? })
}

fn plugin(r: &mut Reader) -> Result<Plugin, LoadError> {
    Ok(Plugin {
        name: r.str()?,
        path: r.str()?,
        settings: r.list(|r| Ok(PluginSetting { name: r.str()?, required: r.bool()? }))?,
    })
}

fn actions(r: &mut Reader) -> Result<Vec<Action>, LoadError> {
    r.list(|r| match r.u8()? {
        tag::ACTION_RUN => Ok(Action::Run(r.str()?)),
        tag::ACTION_NOTIFY => Ok(Action::Notify(r.str()?)),
        // Uplink indices, checked once every uplink is read (ranges.rs).
        tag::ACTION_FLUSH_STATES => Ok(Action::FlushStates(r.list(|r| r.int("uplink"))?)),
        other => Err(r.bad_tag("action", other)),
    })
}

fn uplink(r: &mut Reader) -> Result<Uplink, LoadError> {
    Ok(Uplink {
        name: r.str()?,
        interface: r.str()?,
        addresses: r.list(Reader::net)?,
        learned: r.list(Reader::family)?,
        networks: r.list(Reader::net)?,
        gateways: r.list(|r| match r.u8()? {
            tag::GATEWAY_DEV => Ok(Gateway::Dev),
            tag::GATEWAY_LEARNED => Ok(Gateway::Learned { family: r.family()? }),
            tag::GATEWAY_ADDRESS => Ok(Gateway::Address { address: r.ip()?, zone: r.option(Reader::str)? }),
            other => Err(r.bad_tag("gateway", other)),
        })?,
        nat: r.list(|r| Ok(Nat { from: r.option(|r| r.list(Reader::net))?, to: r.address("nat address")? }))?,
        weight: r.int("weight")?,
        table: r.int("table")?,
        checks: Vec::new(), // from the checks section
        healthy: match r.u8()? {
            tag::HEALTHY_ALL => Healthy::All,
            tag::HEALTHY_ANY => Healthy::Any,
            tag::HEALTHY_AT_LEAST => Healthy::AtLeast(r.int("healthy count")?),
            other => return Err(r.bad_tag("healthy rule", other)),
        },
        on_up: actions(r)?,
        on_down: actions(r)?,
    })
}

/// Each check names its uplink; they come grouped by uplink, in order, so
/// each uplink's checks keep their order.
fn checks(r: &mut Reader, uplinks: &mut [Uplink], plugins: &[Plugin]) -> Result<(), LoadError> {
    // A set, so that many checks against many plugins stay fast.
    let plugins: BTreeSet<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
    let mut last = 0;
    let n = r.count()?;
    for _ in 0..n {
        let owner = r.index(uplinks.len(), "uplink")?;
        if owner < last {
            return Err(r.invalid(format!("a check of uplink {owner} follows those of uplink {last}")));
        }
        last = owner;
        let check = check(r, &plugins)?;
        uplinks[owner].checks.push(check);
    }
    Ok(())
}

fn check(r: &mut Reader, plugins: &BTreeSet<&str>) -> Result<Check, LoadError> {
    let target = |r: &mut Reader| match r.u8()? {
        tag::TARGET_ADDRESS => Ok(Target::Address(r.ip()?)),
        tag::TARGET_HOSTNAME => Ok(Target::Hostname(r.str()?)),
        other => Err(r.bad_tag("probe target", other)),
    };
    let probe = match r.u8()? {
        tag::PROBE_PING => Probe::Ping { target: target(r)? },
        tag::PROBE_TCP => Probe::Tcp { target: target(r)?, port: r.int("port")? },
        tag::PROBE_HTTP => {
            let url = HttpUrl { tls: r.bool()?, host: target(r)?, port: r.int("port")?, path: r.str()? };
            // What the checker's URL parser would have refused.
            if url.port == 0 {
                return Err(r.invalid("an http check's port is 0".into()));
            }
            if let Target::Hostname(host) = &url.host {
                if !validate::url_host_name(host) {
                    return Err(r.invalid(format!("http check host {host:?} is not a host name")));
                }
            }
            if !validate::url_path(&url.path) {
                return Err(r.invalid(format!("http check path {:?} is not a request path", url.path)));
            }
            Probe::Http { url, expect: r.int("http status")? }
        }
        tag::PROBE_DNS => Probe::Dns { server: r.ip()?, query: r.str()? },
        tag::PROBE_PLUGIN => {
            let plugin = r.str()?;
            if !plugins.contains(plugin.as_str()) {
                return Err(r.invalid(format!("a check uses plugin {plugin:?}, which the site does not declare")));
            }
            let mut settings = BTreeMap::new();
            let n = r.count()?;
            for _ in 0..n {
                let (key, value) = (r.str()?, r.str()?);
                // Ascending and unique, as a map writes them: a repeated
                // key would otherwise vanish silently.
                if settings.last_key_value().is_some_and(|(last, _): (&String, _)| *last >= key) {
                    return Err(r.invalid(format!("plugin setting {key:?} is out of order or repeated")));
                }
                settings.insert(key, value);
            }
            Probe::Plugin { plugin, settings }
        }
        other => return Err(r.bad_tag("probe", other)),
    };
    let check = Check {
        probe,
        every_ms: r.int("interval")?,
        timeout_ms: r.int("timeout")?,
        count: r.int("probe count")?,
        rise: r.int("rise")?,
        fall: r.int("fall")?,
        max_loss_percent: r.option(Reader::f64)?,
        max_latency_ms: r.option(|r| r.int("latency"))?,
    };
    if let Some(p) = check.max_loss_percent.filter(|p| !(0.0..=100.0).contains(p)) {
        return Err(r.invalid(format!("loss threshold {p}% is not a percentage")));
    }
    Ok(check)
}

fn ports(r: &mut Reader) -> Result<Vec<Ports>, LoadError> {
    r.list(|r| {
        let (first, last) = (r.int("port")?, r.int("port")?);
        if first > last {
            return Err(r.invalid(format!("port range {first}-{last} is backwards")));
        }
        Ok(Ports { first, last })
    })
}

fn via(r: &mut Reader, uplinks: usize) -> Result<Via, LoadError> {
    Ok(Via { mode: r.tagged()?, uplinks: r.list(|r| r.index(uplinks, "uplink"))? })
}

fn rule(r: &mut Reader, uplinks: usize, vias: usize) -> Result<Rule, LoadError> {
    let text = r.str()?;
    let line = r.int("line")?;
    let kind = match r.u8()? {
        tag::RULE_DEFAULT => RuleKind::Default { via: r.index(vias, "via")? },
        tag::RULE_ROUTE => RuleKind::Route {
            from: r.list(Reader::net)?,
            to: r.list(Reader::net)?,
            proto: r.option(Reader::tagged)?,
            ports: ports(r)?,
            via: r.index(vias, "via")?,
        },
        tag::RULE_FORWARD => RuleKind::Forward {
            proto: r.tagged()?,
            ports: ports(r)?,
            on: r.index(uplinks, "uplink")?,
            at: r.address("forward address")?,
            to: r.ip()?,
            to_port: r.option(|r| r.int("port"))?,
        },
        tag::RULE_SERVE => RuleKind::Serve {
            proto: r.tagged()?,
            ports: ports(r)?,
            host: r.ip()?,
            via: r.index(uplinks, "uplink")?,
            stateless: r.bool()?,
        },
        other => return Err(r.bad_tag("rule", other)),
    };
    Ok(Rule { text, line, kind })
}

/// The counts a state's indices are checked against.
struct Shape {
    uplinks: usize,
    rules: usize,
    site_rules: usize,
    vias: usize,
}

fn state(r: &mut Reader, shape: &Shape) -> Result<State, LoadError> {
    let uplinks = shape.uplinks;
    let name = r.str()?;
    let when_text = r.str()?;
    let when = condition(r, uplinks, &name)?;
    let health = r.list(Reader::tagged)?;
    if health.len() != uplinks {
        return Err(r.invalid(format!("state {name:?} gives the health of {} uplinks of {uplinks}", health.len())));
    }
    let on_enter = actions(r)?;
    let on_exit = actions(r)?;
    let replaced = r.list(|r| r.index(shape.site_rules, "site rule"))?;
    let own = r.list(|r| r.index(shape.rules, "rule"))?;
    if let Some(site_rule) = own.iter().find(|&&o| o < shape.site_rules) {
        return Err(r.invalid(format!("state {name:?} claims site rule {site_rule} as its own")));
    }
    let routing = r.list(|r| routing(r, uplinks))?;
    if routing.len() != shape.vias {
        return Err(r.invalid(format!("state {name:?} routes {} vias of {}", routing.len(), shape.vias)));
    }
    Ok(State { name, when_text, when, health, on_enter, on_exit, replaced, own, routing })
}

/// The condition's code: its length in bytes, then ops to the end of it.
fn condition(r: &mut Reader, uplinks: usize, state: &str) -> Result<Cond, LoadError> {
    let len = r.count()?;
    let code = r.bytes(len)?;
    let mut code = r.sub(code);
    let mut ops = Vec::new();
    while !code.at_end() {
        ops.push(Op::read(&mut code, uplinks, state)?);
    }
    cond::run(&ToCond, &ops).map_err(|error| LoadError::BadCondition { state: state.to_string(), error })
}

fn routing(r: &mut Reader, uplinks: usize) -> Result<Routing, LoadError> {
    Ok(match r.u8()? {
        tag::ROUTING_UNROUTED => Routing::Unrouted,
        tag::ROUTING_UPLINKS => Routing::Uplinks {
            mode: r.tagged()?,
            members: r
                .list(|r| Ok(Member { uplink: r.index(uplinks, "uplink")?, weight: r.int("weight")?, certain: r.bool()? }))?,
        },
        tag::ROUTING_PINNED => Routing::Pinned { uplink: r.index(uplinks, "uplink")?, health: r.tagged()? },
        other => return Err(r.bad_tag("routing", other)),
    })
}
