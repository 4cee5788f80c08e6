//! `wanc agent`, `wanc status` and `wanc reload`.

use super::{OK, SOURCE_ERRORS, USAGE};
use crate::agent::apply::BackendKind;
use crate::agent::status::{Reloaded, Reply, Status};
use crate::agent::{self, ask, Options, Request};
use std::path::{Path, PathBuf};

/// The arguments of `wanc agent`, all in one place.
#[derive(clap::Args)]
pub struct AgentArgs {
    /// The policy bytecode written by `wanc build`
    pub policy: PathBuf,
    #[arg(long, value_enum, default_value = "linux")]
    pub backend: BackendKind,
    /// Control socket for `wanc status` and `wanc reload`
    #[arg(long, default_value = "/run/wanc/agent.sock")]
    pub control: PathBuf,
    /// Permissions of the control socket, in octal
    #[arg(long, default_value = "600", value_parser = parse_mode)]
    pub control_mode: u32,
    /// A command run with each notification's text as its argument
    #[arg(long)]
    pub notify_command: Option<String>,
    /// Do not reload when the policy file changes
    #[arg(long)]
    pub no_watch: bool,
    /// CA certificates (PEM) that https checks trust besides the system's
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8).map_err(|_| format!("`{s}` is not an octal mode"))
}

pub fn agent(args: AgentArgs) -> u8 {
    init_logging();
    if let Some(dir) = args.control.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let options = Options {
        policy: args.policy,
        backend: args.backend,
        control: args.control,
        control_mode: args.control_mode,
        notify_command: args.notify_command,
        watch: !args.no_watch,
        ca_file: args.ca_file,
    };
    match agent::run(options) {
        Ok(()) => OK,
        Err(e) => {
            tracing::error!("{e}");
            USAGE
        }
    }
}

/// One line per event, on stderr; `WANC_LOG` filters (default `info`).
fn init_logging() {
    let filter = std::env::var("WANC_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

pub fn status(control: &Path, json: bool) -> u8 {
    let reply: Reply<Status> = match ask(control, &Request::Status) {
        Ok(reply) => reply,
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    };
    if json {
        // The reply as the agent sent it, `ok` included.
        println!("{}", serde_json::to_string(&reply).unwrap_or_default());
        return OK;
    }
    match reply.into_result() {
        Ok(status) => {
            print!("{}", render_status(&status));
            OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            USAGE
        }
    }
}

pub fn reload(control: &Path, file: Option<PathBuf>) -> u8 {
    let file = file.map(|f| std::fs::canonicalize(&f).unwrap_or(f));
    match ask::<Reloaded>(control, &Request::Reload { file }).map(Reply::into_result) {
        Ok(Ok(r)) => {
            println!(
                "reloaded `{}`: {} checks kept with their history, {} started; state {}",
                r.site,
                r.checks_kept,
                r.checks_started,
                r.state.as_deref().unwrap_or("undecided")
            );
            OK
        }
        Ok(Err(refused)) => {
            eprintln!("error: reload refused, the running policy stays: {refused}");
            SOURCE_ERRORS
        }
        Err(e) => {
            eprintln!("error: {e}");
            USAGE
        }
    }
}

fn render_status(status: &Status) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let _ = writeln!(
        s,
        "site {}  state {}  for {}s",
        status.site,
        status.state.as_deref().unwrap_or("(undecided)"),
        now.saturating_sub(status.since)
    );
    for up in &status.uplinks {
        let healthy = match up.healthy {
            Some(true) => "healthy",
            Some(false) => "DOWN",
            None => "unknown",
        };
        let _ = writeln!(s, "  {:<12} {:<8} {:<8} {}", up.name, up.interface, healthy, up.why);
        for c in &up.checks {
            let _ = writeln!(
                s,
                "      {:<32} {:<5} ok×{} fail×{} (rise {}, fall {})  last: {}",
                c.check,
                c.verdict.map_or("?", |v| v.as_str()),
                c.consecutive_ok,
                c.consecutive_fail,
                c.rise,
                c.fall,
                c.last.last().map_or("-", |o| o.detail.as_str())
            );
        }
    }
    s
}
