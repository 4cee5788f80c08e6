//! `wanc graph SITE.wan [--format dot|svg] [-o FILE]`: the state machine as
//! a diagram, DOT by default, SVG through Graphviz.

use super::compile::compile_and_report;
use super::{io_reason, OK, SOURCE_ERRORS, USAGE};
use crate::lower::Target;
use crate::render;
use std::io::Write;
use std::path::PathBuf;

/// The arguments of `wanc graph`.
#[derive(clap::Args)]
pub struct GraphArgs {
    /// The site's root `.wan` source
    file: PathBuf,
    /// What is written: Graphviz's DOT text, or an SVG picture drawn by Graphviz's `dot` (which must be installed)
    #[arg(long, value_enum, default_value = "dot")]
    format: Picture,
    /// Write into FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Picture {
    /// DOT text, for Graphviz or any DOT reader
    Dot,
    /// SVG, drawn by running Graphviz's `dot -Tsvg`
    Svg,
}

/// Exit status: 0 written, 1 errors in the source, 2 unreadable source,
/// Graphviz missing or failing, or the output not writable.
pub fn graph(args: &GraphArgs) -> u8 {
    let Some(c) = compile_and_report(&args.file, render::Format::Human, &Target::ALL) else { return USAGE };
    let Some(site) = c.site() else { return SOURCE_ERRORS };
    let dot = crate::graph::dot(site);
    let bytes = match args.format {
        Picture::Dot => dot.into_bytes(),
        Picture::Svg => match crate::graph::svg::svg(&dot) {
            Ok(svg) => svg,
            Err(e) => {
                eprintln!("error: no svg drawn: {e}");
                eprintln!("help: `wanc graph --format dot` writes the diagram without graphviz");
                return USAGE;
            }
        },
    };
    let written = match &args.output {
        Some(path) => std::fs::write(path, &bytes).map_err(|e| format!("cannot write `{}`: {}", path.display(), io_reason(&e))),
        None => std::io::stdout().write_all(&bytes).map_err(|e| format!("cannot write the diagram: {}", io_reason(&e))),
    };
    match written {
        Ok(()) => OK,
        Err(message) => {
            eprintln!("error: {message}");
            USAGE
        }
    }
}
