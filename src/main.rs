//! The command line: parses arguments and dispatches to `wanc::cli`.

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use wanc::cli;
use wanc::lower::Target;
use wanc::render::Format;

#[derive(Parser)]
#[command(
    name = "wanc",
    version,
    about = "Compiler and agent for multi-uplink routers",
    long_about = "Compiler and agent for routers with several internet uplinks. One typed .wan source \
                  describes the uplinks, their health checks, the states the site can be in and the policy \
                  per state; wanc checks it, compiles it into a folder the router installs, and runs it \
                  there as an agent.",
    after_help = "Exit status: 0 clean or warnings only, 1 errors in the source, 2 usage or I/O problems."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The control socket's default path, shared by agent, status and reload.
const CONTROL: &str = "/run/wanc/agent.sock";

#[derive(Subcommand)]
enum Command {
    /// Check sources and report every problem
    Check {
        /// The `.wan` sources, each checked as the root of a site
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// How diagnostics are printed
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Hold the site to these targets' limits (default: all)
        #[arg(long = "target", value_enum, value_delimiter = ',')]
        targets: Vec<Target>,
    },
    /// Compile a site into a folder the router installs as it is
    Build {
        /// The site's root `.wan` source
        file: PathBuf,
        /// Output folder, replaced as a whole; refused if it holds another site's outputs or other files
        #[arg(short, long, default_value = "out", value_name = "DIR")]
        output: PathBuf,
        /// How diagnostics are printed
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Write the files of these targets only (default: all)
        #[arg(long = "target", value_enum, value_delimiter = ',')]
        targets: Vec<Target>,
    },
    /// Show, per state, which uplink each rule uses
    Inspect {
        /// The site's root `.wan` source
        file: PathBuf,
        /// How diagnostics and the result are printed (`json`: one JSON document)
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Draw the state machine: states, their conditions and routing, and the uplink events between them
    #[command(long_about = "Draw the state machine: each state with its condition and where its rules \
                            route, and the transitions between states labelled by the uplink event \
                            (`isp1 down`, `isp1 up`) that causes them. Writes Graphviz's DOT by default; \
                            `--format svg` draws it with Graphviz's `dot`, which must be installed \
                            (Debian: graphviz). Transitions are drawn for sites of up to 12 uplinks.")]
    Graph(cli::graph::GraphArgs),
    /// Show what the agent would do when uplinks fail and recover, on virtual time
    #[command(long_about = "Show what the agent would do when uplinks fail and recover: the scenario \
                            file lists timed events (`at 30s isp1 down`, `loss 30%`, `latency 250ms`, \
                            `carrier lost`; docs/simulate.md), and the agent's own health and state \
                            logic runs on virtual time. Prints when each check, uplink and state \
                            changes, where each rule goes, which actions run and which connections \
                            are flushed.")]
    Simulate(cli::simulate::SimulateArgs),
    /// Lay out sources in the one canonical layout, comments kept
    #[command(long_about = "Lay out sources in the one canonical layout (docs/fmt.md): one statement a line, \
                            four spaces a level, single spaces, trailing comments aligned, at most one blank \
                            line in a row. Comments are kept and the meaning never changes. Files are rewritten \
                            in place, each at once; a file that does not parse is left as it is and its errors \
                            are printed. With `-` or no file, standard input is formatted to standard output.")]
    Fmt(cli::fmt::FmtArgs),
    /// Run the language server on stdin and stdout, for editors
    #[command(long_about = "Run the language server on stdin and stdout, for editors: diagnostics as you type \
                            (those of `wanc check`), hover, go to definition, references, completion, \
                            rename and formatting (`wanc fmt`'s). An editor starts it; docs/lsp.md says how.")]
    Lsp,
    /// Print a compiled policy file (.wanc) readably
    Disasm {
        /// The policy bytecode written by `wanc build`
        file: PathBuf,
    },
    /// Explain a diagnostic code, such as E0301
    Explain {
        /// The code, with or without its letter: `E0301` or `0301`
        code: String,
    },
    /// Run one probe with a plugin: exit 0 up, 1 down, 2 if it cannot run
    Probe(cli::probe::ProbeArgs),
    /// Run the policy on this router: probe, switch states, apply, reload
    Agent(cli::agent::AgentArgs),
    /// Show the running agent's state, each uplink's health and the last transitions
    Status {
        /// The running agent's control socket
        #[arg(long, default_value = CONTROL, value_name = "SOCKET")]
        control: PathBuf,
        /// Print the agent's answer as JSON
        #[arg(long)]
        json: bool,
    },
    /// Make the running agent take a new policy (verified first)
    Reload {
        /// The running agent's control socket
        #[arg(long, default_value = CONTROL, value_name = "SOCKET")]
        control: PathBuf,
        /// Take the policy of another site (refused by default)
        #[arg(long)]
        force: bool,
        /// The new policy file (default: the one the agent runs, read again)
        file: Option<PathBuf>,
    },
    /// Print a shell completion script
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
    /// Write the man pages (wanc.1 and one per subcommand) into a folder
    Man {
        /// The folder to write into (created if missing)
        dir: PathBuf,
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
        Command::Graph(args) => cli::graph::graph(&args),
        Command::Simulate(args) => cli::simulate::simulate(&args),
        Command::Fmt(args) => cli::fmt::fmt(&args),
        Command::Lsp => cli::lsp::lsp(),
        Command::Disasm { file } => cli::disasm::disasm(&file),
        Command::Explain { code } => cli::explain::explain(&code),
        Command::Probe(args) => cli::probe::probe(&args),
        Command::Agent(args) => cli::agent::agent(args),
        Command::Status { control, json } => cli::agent::status(&control, json),
        Command::Reload { control, force, file } => cli::agent::reload(&control, file, force),
        Command::Completions { shell } => cli::docs::completions(Cli::command(), shell),
        Command::Man { dir } => cli::docs::man(Cli::command(), &dir),
    };
    ExitCode::from(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--help`, the man pages and the completions say what every
    /// argument is for.
    #[test]
    fn every_argument_is_described() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            if cmd.get_about().is_none() {
                missing.push(path.clone());
            }
            for arg in cmd.get_arguments().filter(|a| !["help", "version"].contains(&a.get_id().as_str())) {
                if arg.get_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:?}");
        Cli::command().debug_assert();
    }
}
