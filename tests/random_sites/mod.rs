//! Random valid sites, the same on every machine for a seed: uplinks (two
//! or three, each with an address and gateway, NAT and a weight), lans,
//! failover lists, balances, multipath pools, rules pinned to a port, and
//! derived or declared states. The differential test runs them in the
//! namespace lab; the OpenBSD parsers check what they build to.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::fmt::Write;

/// xorshift64*: small, seeded, and the same on every machine.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Ports the lab's servers answer on: one for rules without a port, the
/// others for pinned ones.
pub const ANY_PORT: u16 = 80;
pub const PINNED_PORTS: [u16; 3] = [443, 8080, 8443];

/// A `via` over a random order of some uplinks.
fn via(rng: &mut Rng, uplinks: usize) -> String {
    let mut order: Vec<usize> = (0..uplinks).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let names = |n: usize| order[..n].iter().map(|u| format!("u{u}")).collect::<Vec<_>>().join(", ");
    match rng.below(3) {
        0 => format!("via {}", names(1 + rng.below(uplinks))),
        1 => format!("via balance({})", names(2 + rng.below(uplinks - 1))),
        _ => format!("via multipath({})", names(2 + rng.below(uplinks - 1))),
    }
}

pub fn generate(rng: &mut Rng, n: usize) -> String {
    let uplinks = 2 + rng.below(2);
    let lans = 1 + rng.below(2);
    let mut s = format!("site \"diff{n}\"\n");
    for l in 0..lans {
        let _ = writeln!(s, "lan lan{l} {{ interface ln{l}; network 192.168.{l}.0/24 }}");
    }
    for u in 0..uplinks {
        let _ = writeln!(
            s,
            "uplink u{u} {{ interface up{u}; address 10.{}.0.2/24; gateway 10.{}.0.1; nat; weight {} }}",
            50 + u,
            50 + u,
            1 + rng.below(3)
        );
    }
    let _ = writeln!(s, "policy {{\n    default {}", via(rng, uplinks));
    for _ in 0..1 + rng.below(4) {
        let lan = rng.below(lans);
        let port = match rng.below(2) {
            0 => String::new(),
            _ => format!(" proto tcp to port {}", PINNED_PORTS[rng.below(PINNED_PORTS.len())]),
        };
        let _ = writeln!(s, "    route from lan{lan}{port} {}", via(rng, uplinks));
    }
    s.push_str("}\n");
    // Declared states half the time (the rest derive them from the default).
    if rng.below(2) == 0 {
        let _ = writeln!(s, "state first when u{} && !u{}", rng.below(uplinks), uplinks - 1);
        let _ = writeln!(s, "state others default");
    }
    s
}

/// How many sites a run makes (`WANC_DIFF_SITES`, else `default`) and from
/// which seed (`WANC_DIFF_SEED` replays a run; else from the clock).
pub fn run(default: usize) -> (usize, u64) {
    let sites = std::env::var("WANC_DIFF_SITES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let seed = std::env::var("WANC_DIFF_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    });
    (sites, seed)
}
