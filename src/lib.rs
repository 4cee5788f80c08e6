//! wanc: a compiler and agent for multi-uplink routers.
//!
//! Pipeline: source → `syntax` (pest) → `ast` (typed, spanned) → `check`
//! (names, types, states) → `ir` (the resolved policy) → back ends.

pub mod agent;
pub mod ast;
pub mod backend;
pub mod bdd;
pub mod bytecode;
pub mod check;
pub mod cli;
pub mod codes;
pub mod decide;
pub mod diagnostic;
pub mod driver;
pub mod duration;
pub mod format;
pub mod graph;
pub mod input;
pub mod inspect;
pub mod ir;
pub mod lower;
pub mod lsp;
pub mod netlink;
pub mod output;
pub mod plugin;
pub mod render;
pub mod simulate;
pub mod source;
pub mod symbols;
pub mod syntax;
pub mod validate;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
