//! Prometheus metrics (`wanc agent --metrics ADDR`): the main loop records
//! into atomics through a few narrow calls, and a small HTTP endpoint on its
//! own thread serves them in the Prometheus text format at `/metrics`. A
//! scrape never waits for the main loop, and a stuck scraper cannot stall
//! it.

use crate::decide::Outcome;
use crate::ir::Site;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

type Labels = Vec<(&'static str, String)>;
type Seconds = Gauge<f64, AtomicU64>;

pub struct Metrics {
    registry: Arc<Registry>,
    check_up: Family<Labels, Gauge>,
    check_rtt: Family<Labels, Seconds>,
    check_loss: Family<Labels, Seconds>,
    check_results: Family<Labels, Counter>,
    uplink_healthy: Family<Labels, Gauge>,
    state: Family<Labels, Gauge>,
    transitions: Family<Labels, Counter>,
    apply_seconds: Histogram,
    apply_failures: Counter,
    reload_seconds: Histogram,
    reloads: Family<Labels, Counter>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("wanc");
        let m = Metrics {
            registry: Arc::new(Registry::default()),
            check_up: Family::default(),
            check_rtt: Family::default(),
            check_loss: Family::default(),
            check_results: Family::default(),
            uplink_healthy: Family::default(),
            state: Family::default(),
            transitions: Family::default(),
            // 100 µs to about 6.5 s.
            apply_seconds: Histogram::new(exponential_buckets(0.0001, 4.0, 9)),
            apply_failures: Counter::default(),
            reload_seconds: Histogram::new(exponential_buckets(0.0001, 4.0, 9)),
            reloads: Family::default(),
        };
        r.register("build", "The wanc that runs", Info::new(vec![("version", crate::VERSION)]));
        r.register("check_up", "A check's verdict after rise/fall: 1 up, 0 down", m.check_up.clone());
        r.register("check_rtt_seconds", "A check's last round-trip time", m.check_rtt.clone());
        r.register("check_loss_ratio", "A check's loss in its last round (0 to 1)", m.check_loss.clone());
        r.register("check_results", "Probe results by outcome", m.check_results.clone());
        r.register("uplink_healthy", "An uplink's health: 1 healthy, 0 down", m.uplink_healthy.clone());
        r.register("state", "1 for the state the site is in, 0 for the others", m.state.clone());
        r.register("state_transitions", "State changes, by the states left and entered", m.transitions.clone());
        r.register("apply_duration_seconds", "Time to apply a state", m.apply_seconds.clone());
        r.register("apply_failures", "Applies that failed (retried on the next event)", m.apply_failures.clone());
        r.register("reload_duration_seconds", "Time to take a new policy", m.reload_seconds.clone());
        r.register("reloads", "Reloads by result: ok or refused", m.reloads.clone());
        Metrics { registry: Arc::new(r), ..m }
    }

    /// A new policy runs: forget the series of the old one's checks,
    /// uplinks and states.
    pub fn site(&self, site: &Site) {
        self.check_up.clear();
        self.check_rtt.clear();
        self.check_loss.clear();
        self.uplink_healthy.clear();
        self.state.clear();
        for s in &site.states {
            self.state.get_or_create(&vec![("state", s.name.clone())]).set(0);
        }
    }

    /// One probe result, and the check's verdict after it.
    pub fn check(&self, uplink: &str, check: &str, outcome: &Outcome, verdict: Option<bool>) {
        let labels: Labels = vec![("uplink", uplink.to_string()), ("check", check.to_string())];
        if let Some(v) = verdict {
            self.check_up.get_or_create(&labels).set(i64::from(v));
        }
        if let Some(ms) = outcome.rtt_ms {
            self.check_rtt.get_or_create(&labels).set(ms / 1000.0);
        }
        // Checks that count no packets lose all or nothing in a round.
        let loss = outcome.loss_percent.map_or(if outcome.ok { 0.0 } else { 1.0 }, |p| p / 100.0);
        self.check_loss.get_or_create(&labels).set(loss);
        let mut labels = labels;
        labels.push(("result", if outcome.ok { "up" } else { "down" }.to_string()));
        self.check_results.get_or_create(&labels).inc();
    }

    pub fn health(&self, site: &Site, health: &[bool]) {
        for (up, healthy) in site.uplinks.iter().zip(health) {
            self.uplink_healthy.get_or_create(&vec![("uplink", up.name.clone())]).set(i64::from(*healthy));
        }
    }

    pub fn transition(&self, from: Option<&str>, to: &str) {
        if let Some(from) = from {
            self.state.get_or_create(&vec![("state", from.to_string())]).set(0);
        }
        self.state.get_or_create(&vec![("state", to.to_string())]).set(1);
        let labels = vec![("from", from.unwrap_or("").to_string()), ("to", to.to_string())];
        self.transitions.get_or_create(&labels).inc();
    }

    pub fn apply(&self, took: Duration, ok: bool) {
        self.apply_seconds.observe(took.as_secs_f64());
        if !ok {
            self.apply_failures.inc();
        }
    }

    pub fn reload(&self, took: Duration, ok: bool) {
        if ok {
            self.reload_seconds.observe(took.as_secs_f64());
        }
        self.reloads.get_or_create(&vec![("result", if ok { "ok" } else { "refused" }.to_string())]).inc();
    }

    /// Serves `/metrics` on `addr` from a thread of its own.
    pub fn serve(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr)?;
        let bound = listener.local_addr()?;
        let registry = self.registry.clone();
        std::thread::Builder::new().name("metrics".into()).spawn(move || {
            // One scrape at a time; each is bounded by the timeouts below.
            for stream in listener.incoming() {
                match stream {
                    Ok(stream) => drop(answer(stream, &registry)),
                    // Out of descriptors accept fails at once: do not spin.
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(200)),
                }
            }
        })?;
        Ok(bound)
    }
}

/// The text a scrape gets.
fn render(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_text::encode(&mut text, registry);
    text
}

/// Reads one request (its head, at most 8 KiB) and answers it.
fn answer(mut stream: TcpStream, registry: &Registry) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let (status, kind, body) = match (method, path) {
        (b"GET", b"/metrics") => ("200 OK", prometheus_text::CONTENT_TYPE, render(registry)),
        (b"GET", _) => ("404 Not Found", "text/plain", "the metrics are at /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "text/plain", "only GET\n".to_string()),
    };
    write!(
        stream,
        "HTTP/1.0 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_what_was_recorded() {
        let m = Metrics::new();
        let outcome =
            Outcome { ok: true, detail: "3/3 replies".into(), rtt_ms: Some(12.5), loss_percent: Some(0.0), local: false };
        m.check("isp1", "ping 192.0.2.1", &outcome, Some(true));
        m.transition(None, "allworking");
        m.transition(Some("allworking"), "degraded");
        m.apply(Duration::from_millis(3), false);
        let text = render(&m.registry);
        for line in [
            r#"wanc_check_up{uplink="isp1",check="ping 192.0.2.1"} 1"#,
            r#"wanc_check_rtt_seconds{uplink="isp1",check="ping 192.0.2.1"} 0.0125"#,
            r#"wanc_check_results_total{uplink="isp1",check="ping 192.0.2.1",result="up"} 1"#,
            r#"wanc_state{state="degraded"} 1"#,
            r#"wanc_state{state="allworking"} 0"#,
            r#"wanc_state_transitions_total{from="allworking",to="degraded"} 1"#,
            "wanc_apply_failures_total 1",
            "wanc_apply_duration_seconds_count 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
        assert!(text.contains(&format!("version=\"{}\"", crate::VERSION)), "{text}");
    }
}
