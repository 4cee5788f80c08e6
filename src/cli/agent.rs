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
    /// How the policy is put into effect
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
    /// With `--backend dry-run`, start `run` actions and the notify command
    /// anyway (a dry run only logs them by default)
    #[arg(long)]
    pub run_actions: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics, such as `127.0.0.1:9851`
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// How log lines are written to stderr
    #[arg(long, value_enum, default_value = "auto")]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// journald when systemd gives the agent's stderr to the journal, text otherwise
    Auto,
    /// time, level, target and fields on one line
    Text,
    /// no time (syslog adds its own), for logger(1) and OpenBSD's rc.d
    Syslog,
    /// as syslog, each line led by its priority (`<3>` error … `<7>` debug) for journald
    Journald,
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8).map_err(|_| format!("`{s}` is not an octal mode"))
}

pub fn agent(args: AgentArgs) -> u8 {
    init_logging(args.log_format);
    if let Some(dir) = args.control.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let options = Options {
        // Absolute, so that what it names and `wanc status` do not depend
        // on the working directory.
        policy: std::fs::canonicalize(&args.policy).unwrap_or(args.policy),
        backend: args.backend,
        control: args.control,
        control_mode: args.control_mode,
        notify_command: args.notify_command,
        watch: !args.no_watch,
        ca_file: args.ca_file,
        run_actions: args.run_actions,
        metrics: args.metrics,
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
fn init_logging(format: LogFormat) {
    let filter = std::env::var("WANC_LOG").unwrap_or_else(|_| "info".into());
    // systemd sets JOURNAL_STREAM when stderr goes to the journal.
    let format = match format {
        LogFormat::Auto if std::env::var_os("JOURNAL_STREAM").is_some() => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Text,
        other => other,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Journald => builder.event_format(Priority(tracing_subscriber::fmt::format().without_time())).try_init(),
        LogFormat::Syslog => builder.without_time().try_init(),
        _ => builder.try_init(),
    };
}

/// Leads each line with its syslog priority, as sd-daemon(3) describes:
/// journald files the line under that priority and strips the prefix.
struct Priority<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for Priority<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        use tracing::Level;
        let priority = match *event.metadata().level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        };
        write!(writer, "<{priority}>")?;
        self.0.format_event(ctx, writer, event)
    }
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

pub fn reload(control: &Path, file: Option<PathBuf>, force: bool) -> u8 {
    let file = file.map(|f| std::fs::canonicalize(&f).unwrap_or(f));
    match ask::<Reloaded>(control, &Request::Reload { file, force }).map(Reply::into_result) {
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
    if !status.transitions.is_empty() {
        let _ = writeln!(s, "last transitions:");
    }
    for t in status.transitions.iter().rev() {
        let _ = writeln!(
            s,
            "  {:>6}s ago  {} -> {}  ({})",
            now.saturating_sub(t.at),
            t.from.as_deref().unwrap_or("(start)"),
            t.to,
            t.reason
        );
    }
    s
}
