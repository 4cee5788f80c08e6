//! `wanc fmt` on the large generated site of `check_large` (64 uplinks,
//! 5,000 policy rules, 100 states, one-line blocks that the layout opens
//! up): wall time, min and median of several runs, of formatting it and of
//! formatting its output again (already in the layout).
//!
//!     cargo bench --bench fmt_large
//!
//! Aim: no more than `wanc check` on the same site takes (check_large), so
//! that an editor can format on save. Pest's parse, which both share, is
//! most of it (dev profile: about 65 of 90 ms); the layout is about 10 ms.

use std::time::{Duration, Instant};

#[path = "large_site.rs"]
mod large_site;

const RUNS: usize = 7;

fn main() {
    let source = large_site::generate(64, 5_000, 100);
    let (first, formatted) = timed(&source);
    let (again, same) = timed(&formatted);
    assert_eq!(same, formatted, "the layout is idempotent");
    println!("fmt_large: {} KiB of source, {} lines formatted", source.len() / 1024, formatted.lines().count());
    println!("  as generated:     min {:.1} ms   median {:.1} ms   ({RUNS} runs)", ms(first[0]), ms(first[RUNS / 2]));
    println!("  already formatted: min {:.1} ms   median {:.1} ms", ms(again[0]), ms(again[RUNS / 2]));
}

/// The sorted times of formatting `text` `RUNS` times, and the result.
fn timed(text: &str) -> (Vec<Duration>, String) {
    let mut times = Vec::new();
    let mut out = String::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        out = wanc::format::format(text).expect("the generated site parses");
        times.push(start.elapsed());
    }
    times.sort();
    (times, out)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
