//! The command line: parses arguments and dispatches to `wanc::cli`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use wanc::cli;
use wanc::lower::Target;
use wanc::render::Format;

#[derive(Parser)]
#[command(name = "wanc", version, about = "Compiler and agent for multi-uplink routers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check sources and report every problem
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Hold the site to these targets' limits (default: all)
        #[arg(long = "target", value_enum, value_delimiter = ',')]
        targets: Vec<Target>,
    },
    /// Compile a site into the files a router installs
    Build {
        file: PathBuf,
        /// Output directory
        #[arg(short, long, default_value = "out")]
        output: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Write the files of these targets only (default: all)
        #[arg(long = "target", value_enum, value_delimiter = ',')]
        targets: Vec<Target>,
    },
    /// Show, per state, which uplink each rule uses
    Inspect {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Print a compiled policy file (.wanc) readably
    Disasm { file: PathBuf },
    /// Explain a diagnostic code, such as E0301
    Explain { code: String },
    /// Run one probe with a plugin: exit 0 up, 1 down, 2 if it cannot run
    Probe(cli::probe::ProbeArgs),
    /// Run the policy on this router: probe, switch states, apply, reload
    Agent(cli::agent::AgentArgs),
    /// Show the running agent's state and each uplink's health
    Status {
        #[arg(long, default_value = "/run/wanc/agent.sock")]
        control: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Make the running agent take a new policy (verified first)
    Reload {
        #[arg(long, default_value = "/run/wanc/agent.sock")]
        control: PathBuf,
        file: Option<PathBuf>,
    },
}

/// No `--target` means every target.
fn or_all(targets: Vec<Target>) -> Vec<Target> {
    if targets.is_empty() {
        Target::ALL.to_vec()
    } else {
        targets
    }
}

fn main() -> ExitCode {
    let status = match Cli::parse().command {
        Command::Check { files, format, targets } => cli::compile::check(&files, format, &or_all(targets)),
        Command::Build { file, output, format, targets } => cli::compile::build(&file, &output, format, &or_all(targets)),
        Command::Inspect { file, format } => cli::compile::inspect(&file, format),
        Command::Disasm { file } => cli::disasm::disasm(&file),
        Command::Explain { code } => cli::explain::explain(&code),
        Command::Probe(args) => cli::probe::probe(&args),
        Command::Agent(args) => cli::agent::agent(args),
        Command::Status { control, json } => cli::agent::status(&control, json),
        Command::Reload { control, file } => cli::agent::reload(&control, file),
    };
    ExitCode::from(status)
}
