//! The policy bytecode: the whole resolved `Site` in a compact, versioned,
//! checksummed binary file, `<site>.wanc`, which the agent loads as its only
//! input. docs/bytecode.md describes the format byte for byte.
//!
//! `encode` is total and deterministic. `decode` trusts nothing: it checks
//! the magic, version, checksum and every length, count, tag and index, and
//! returns a `LoadError` for anything else, whatever the bytes.

mod cond;
mod decode;
mod disasm;
mod encode;
mod error;
pub mod format;
mod ranges;
mod reader;

pub use error::{CondError, LoadError, Place};
pub use format::crc32;

use crate::ir::Site;
use crate::output::OutputFile;

pub fn encode(site: &Site) -> Vec<u8> {
    encode::encode(site)
}

pub fn decode(bytes: &[u8]) -> Result<Site, LoadError> {
    let site = decode::load(bytes)?.site;
    ranges::check(&site)?;
    Ok(site)
}

/// The file's header, sections, strings and records as text, once it has
/// been verified as `decode` does.
pub fn disasm(bytes: &[u8]) -> Result<String, LoadError> {
    disasm::disasm(bytes)
}

/// The build output the agent loads: `<site>.wanc`.
pub fn policy(site: &Site) -> OutputFile {
    OutputFile { path: format!("{}.wanc", site.name).into(), contents: encode(site) }
}
