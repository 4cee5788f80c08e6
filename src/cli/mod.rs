//! The command line's subcommands, each a function returning the exit
//! status. The library below returns values and `Result`s; only here do
//! they become messages and exit statuses, so no other module imports this
//! one (tests/layers.rs holds it to that).

pub mod agent;
pub mod compile;
pub mod disasm;
pub mod docs;
pub mod explain;
pub mod fmt;
pub mod graph;
pub mod lsp;
pub mod probe;
pub mod simulate;

/// Clean, or warnings only.
pub const OK: u8 = 0;
/// Errors in the source.
pub const SOURCE_ERRORS: u8 = 1;
/// Usage or I/O problems.
pub const USAGE: u8 = 2;

/// An I/O error as the messages put it: lower case, after a colon.
fn io_reason(e: &std::io::Error) -> String {
    e.to_string().to_lowercase()
}
