//! What a valid site is beyond its types, in one place: the checker reports
//! a violation as a diagnostic, the bytecode loader refuses a file holding
//! one. Both call these, so a file the loader accepts is one the compiler
//! could have written.

use std::ops::RangeInclusive;

/// Uplink and member weights.
pub const WEIGHTS: RangeInclusive<u64> = 1..=1000;
/// `count`, `rise` and `fall` of a check.
pub const COUNTS: RangeInclusive<u64> = 1..=100;
/// Routing table numbers a source may write (0 means "allocate one").
pub const TABLES: RangeInclusive<u64> = 0..=2_147_483_647;

/// Site names name files (`SITE.wanc`, state files): letters, digits, `_`,
/// `.` and `-`, not starting with a dot, at most 64 characters.
pub fn site_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Interface names as both kernels take them: 1 to 15 characters, a letter
/// first, then letters, digits, `_`, `.` or `-`.
pub fn interface_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= 15
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A table an uplink may end up with: not 0, not the kernel's own
/// (253 default, 254 main, 255 local).
pub fn uplink_table(table: u32) -> bool {
    table != 0 && !(253..=255).contains(&table) && u64::from(table) <= *TABLES.end()
}
