//! The constants of the format, shared by the encoder, the decoder and the
//! disassembler so that the three cannot drift apart. docs/bytecode.md is
//! the prose version of this file.

use crate::ir::ViaMode;
use crate::ir::{Health, Proto};

pub const MAGIC: &[u8; 4] = b"WANC";
/// Bumped on any change an older reader would misread; readers refuse other
/// majors.
pub const MAJOR: u16 = 4;
/// Bumped when sections are added; a reader skips sections it does not know
/// only in files of a newer minor.
pub const MINOR: u16 = 0;
/// magic (4), CRC-32 (4), major (2), minor (2), flags (4).
pub const HEADER_LEN: usize = 16;
/// The checksum covers everything after itself.
pub const CHECKSUM_FROM: usize = 8;
/// Section id (1) and payload length (u32 LE).
pub const SECTION_HEADER_LEN: usize = 5;

/// Deeper conditions are refused on load: the agent evaluates them by
/// recursion, and the compiler never nests past 64 levels.
pub const MAX_COND_DEPTH: usize = 256;
/// Strings are pooled, so a small file could name one long string a million
/// times; decoding stops once the strings it copies out of the pool exceed
/// this many times the file's size (plus a floor for tiny files).
pub const STRING_EXPANSION: usize = 64;
pub const STRING_FLOOR: usize = 1 << 20;

/// Sections in the order a file must hold them; the discriminant is the id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Strings = 1,
    Site = 2,
    Lans = 3,
    Hosts = 4,
    Plugins = 5,
    Uplinks = 6,
    Checks = 7,
    Rules = 8,
    States = 9,
}

impl Section {
    pub const ALL: [Section; 9] = [
        Section::Strings,
        Section::Site,
        Section::Lans,
        Section::Hosts,
        Section::Plugins,
        Section::Uplinks,
        Section::Checks,
        Section::Rules,
        Section::States,
    ];

    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.id() == id)
    }

    pub fn name(self) -> &'static str {
        match self {
            Section::Strings => "strings",
            Section::Site => "site",
            Section::Lans => "lans",
            Section::Hosts => "hosts",
            Section::Plugins => "plugins",
            Section::Uplinks => "uplinks",
            Section::Checks => "checks",
            Section::Rules => "rules",
            Section::States => "states",
        }
    }
}

impl std::fmt::Display for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "section `{}`", self.name())
    }
}

/// A field-less enum stored as one byte. The match in `tag` is checked
/// for exhaustiveness by the compiler; decoding searches `ALL` for the byte.
pub trait Tagged: Sized + Copy + 'static {
    /// What the byte is, for error messages.
    const WHAT: &'static str;
    const ALL: &'static [Self];
    fn tag(self) -> u8;

    fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.tag() == tag)
    }
}

impl Tagged for ViaMode {
    const WHAT: &'static str = "via mode";
    const ALL: &'static [Self] = &[ViaMode::Failover, ViaMode::Balance, ViaMode::Multipath];
    fn tag(self) -> u8 {
        match self {
            ViaMode::Failover => 0,
            ViaMode::Balance => 1,
            ViaMode::Multipath => 2,
        }
    }
}

impl Tagged for Proto {
    const WHAT: &'static str = "protocol";
    const ALL: &'static [Self] = Proto::ALL;
    fn tag(self) -> u8 {
        match self {
            Proto::Tcp => 0,
            Proto::Udp => 1,
            Proto::Icmp => 2,
            Proto::Icmp6 => 3,
            Proto::Gre => 4,
            Proto::Esp => 5,
        }
    }
}

impl Tagged for Health {
    const WHAT: &'static str = "health";
    const ALL: &'static [Self] = &[Health::Up, Health::Down, Health::Either];
    fn tag(self) -> u8 {
        match self {
            Health::Up => 0,
            Health::Down => 1,
            Health::Either => 2,
        }
    }
}

/// Tags of the enums that carry data: the byte before the variant's fields.
pub mod tag {
    pub const ABSENT: u8 = 0;
    pub const PRESENT: u8 = 1;

    pub const IPV4: u8 = 4;
    pub const IPV6: u8 = 6;

    pub const GATEWAY_DEV: u8 = 0;
    pub const GATEWAY_ADDRESS: u8 = 1;
    pub const GATEWAY_LEARNED: u8 = 2;

    pub const ADDRESS_KNOWN: u8 = 0;
    pub const ADDRESS_LEARNED: u8 = 1;

    pub const HEALTHY_ALL: u8 = 0;
    pub const HEALTHY_ANY: u8 = 1;
    pub const HEALTHY_AT_LEAST: u8 = 2;

    pub const ACTION_RUN: u8 = 0;
    pub const ACTION_NOTIFY: u8 = 1;
    pub const ACTION_FLUSH_STATES: u8 = 2;

    pub const PROBE_PING: u8 = 0;
    pub const PROBE_TCP: u8 = 1;
    pub const PROBE_HTTP: u8 = 2;
    pub const PROBE_DNS: u8 = 3;
    pub const PROBE_PLUGIN: u8 = 4;

    pub const TARGET_ADDRESS: u8 = 0;
    pub const TARGET_HOSTNAME: u8 = 1;

    pub const RULE_DEFAULT: u8 = 0;
    pub const RULE_ROUTE: u8 = 1;
    pub const RULE_FORWARD: u8 = 2;
    pub const RULE_SERVE: u8 = 3;

    pub const ROUTING_UNROUTED: u8 = 0;
    pub const ROUTING_UPLINKS: u8 = 1;
    pub const ROUTING_PINNED: u8 = 2;
}

/// Opcodes of state conditions. Zero is no opcode, so a zeroed code is
/// refused rather than read as something.
pub mod opcode {
    pub const TRUE: u8 = 0x01;
    pub const UP: u8 = 0x02;
    pub const NOT: u8 = 0x03;
    pub const AND: u8 = 0x04;
    pub const OR: u8 = 0x05;
    pub const COUNT_IN: u8 = 0x06;
}

/// CRC-32 as in zlib, PNG and Ethernet (reflected polynomial 0xEDB88320,
/// initial value and final xor 0xFFFFFFFF): `crc32(b"123456789")` is
/// 0xCBF43926. Public so tools (and tests) can reseal a file they edit.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |crc, &b| TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_has_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn tags_are_distinct_and_found_again() {
        fn distinct<T: Tagged + PartialEq + std::fmt::Debug>() {
            for &v in T::ALL {
                assert_eq!(T::from_tag(v.tag()), Some(v));
            }
            let mut tags: Vec<u8> = T::ALL.iter().map(|v| v.tag()).collect();
            tags.sort_unstable();
            tags.dedup();
            assert_eq!(tags.len(), T::ALL.len(), "{}", T::WHAT);
        }
        distinct::<ViaMode>();
        distinct::<Proto>();
        distinct::<Health>();
        for s in Section::ALL {
            assert_eq!(Section::from_id(s.id()), Some(s));
        }
        assert!(Section::ALL.windows(2).all(|w| w[0].id() < w[1].id()), "sections are listed in file order");
    }
}
