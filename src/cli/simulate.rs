//! `wanc simulate SITE.wan SCENARIO [--format text|json] [--rounds]`: the
//! agent's decisions for a scenario of uplink events, on virtual time.

use super::compile::compile_and_report;
use super::{OK, SOURCE_ERRORS, USAGE};
use crate::{input, render, simulate};
use std::path::PathBuf;

/// The arguments of `wanc simulate`.
#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The site's root `.wan` source
    file: PathBuf,
    /// The scenario: lines such as `at 30s isp1 down` (docs/simulate.md)
    scenario: PathBuf,
    /// How the timeline is printed: words, or one JSON document with every round and decision
    #[arg(long, value_enum, default_value = "text")]
    format: Shown,
    /// In text, show every round's outcome too, not only the verdicts that changed
    #[arg(long)]
    rounds: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Shown {
    Text,
    Json,
}

/// Exit status: 0 simulated, 1 errors in the source or the scenario, 2 a
/// file that cannot be read.
pub fn simulate(args: &SimulateArgs) -> u8 {
    let Some(c) = compile_and_report(&args.file, render::Format::Human, &[]) else { return USAGE };
    let Some(site) = c.site() else { return SOURCE_ERRORS };
    let name = args.scenario.display().to_string();
    let text = match input::read_text(&args.scenario, input::SOURCE) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", name.escape_debug());
            return USAGE;
        }
    };
    // Every error of the file, or, once it reads, every reason it cannot
    // run on this site.
    let timeline = match simulate::parse(&text).and_then(|scenario| simulate::run(site, &scenario)) {
        Ok(timeline) => timeline,
        Err(errors) => {
            for e in &errors {
                match e.line {
                    Some(line) => eprintln!("error: {}\n  --> {}:{line}", e.message, name.escape_debug()),
                    None => eprintln!("error: {}", e.message),
                }
                if let Some(help) = &e.help {
                    eprintln!("  help: {help}");
                }
            }
            return SOURCE_ERRORS;
        }
    };
    match args.format {
        Shown::Text => print!("{}", simulate::text(&timeline, &name, args.rounds)),
        Shown::Json => match serde_json::to_string_pretty(&timeline) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot write the timeline: {e}");
                return USAGE;
            }
        },
    }
    OK
}
