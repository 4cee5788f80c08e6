//! Renderers of the one diagnostic model: miette's graphical report for
//! people, one line per diagnostic for editors, JSON lines for tools.

mod human;
mod json;
mod short;

pub use human::human;
pub use json::json;
pub use short::short;

use crate::diagnostic::Diagnostic;
use crate::source::SourceMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// miette's report, colour only on a terminal
    Human,
    /// one line each: `file:line:col: severity[CODE]: message`
    Short,
    /// JSON lines
    Json,
}

pub fn render(format: Format, diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    match format {
        Format::Human => human(diagnostics, sources, color),
        Format::Short => short(diagnostics, sources),
        Format::Json => json(diagnostics, sources),
    }
}
