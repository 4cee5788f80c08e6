//! `wanc agent`, `wanc status` and `wanc reload`.

use super::apply::BackendKind;
use super::{ask, Options, Request};
use std::path::PathBuf;

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
    match super::run(options) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e}");
            2
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

pub fn status(control: &std::path::Path, json: bool) -> u8 {
    match ask(control, &Request::Status) {
        Ok(reply) if json => {
            println!("{reply}");
            0
        }
        Ok(reply) => {
            print!("{}", render_status(&reply));
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

pub fn reload(control: &std::path::Path, file: Option<PathBuf>) -> u8 {
    let file = file.map(|f| std::fs::canonicalize(&f).unwrap_or(f));
    match ask(control, &Request::Reload { file }) {
        Ok(reply) if reply["ok"] == true => {
            println!(
                "reloaded `{}`: {} checks kept with their history, {} started; state {}",
                reply["site"].as_str().unwrap_or("?"),
                reply["checks_kept"],
                reply["checks_started"],
                reply["state"].as_str().unwrap_or("undecided")
            );
            0
        }
        Ok(reply) => {
            eprintln!("error: reload refused, the running policy stays: {}", reply["error"].as_str().unwrap_or("?"));
            1
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

fn render_status(v: &serde_json::Value) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let since = v["since"].as_u64().unwrap_or(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let _ = writeln!(
        s,
        "site {}  state {}  for {}s",
        v["site"].as_str().unwrap_or("?"),
        v["state"].as_str().unwrap_or("(undecided)"),
        now.saturating_sub(since)
    );
    for up in v["uplinks"].as_array().into_iter().flatten() {
        let healthy = match up["healthy"].as_bool() {
            Some(true) => "healthy",
            Some(false) => "DOWN",
            None => "unknown",
        };
        let _ = writeln!(
            s,
            "  {:<12} {:<8} {:<8} {}",
            up["name"].as_str().unwrap_or("?"),
            up["interface"].as_str().unwrap_or("?"),
            healthy,
            up["why"].as_str().unwrap_or("")
        );
        for c in up["checks"].as_array().into_iter().flatten() {
            let last = c["last"].as_array().and_then(|l| l.last()).cloned().unwrap_or_default();
            let _ = writeln!(
                s,
                "      {:<32} {:<5} ok×{} fail×{} (rise {}, fall {})  last: {}",
                c["check"].as_str().unwrap_or("?"),
                c["verdict"].as_str().unwrap_or("?"),
                c["consecutive_ok"],
                c["consecutive_fail"],
                c["rise"],
                c["fall"],
                last["detail"].as_str().unwrap_or("-")
            );
        }
    }
    s
}
