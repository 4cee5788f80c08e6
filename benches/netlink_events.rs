//! How soon the agent's kernel watcher hears of a carrier change: the time
//! from the request that sets a veth's peer down (or up) to the moment a
//! thread blocked in `Watcher::recv` holds the `Link` event of the other
//! end, over 50 rounds each way, in a network namespace of its own (root).
//!
//!     cargo bench --bench netlink_events
//!
//! The change is requested over netlink from the bench itself, not with
//! `ip`, so that starting a process is not part of the figure. Aim: well
//! under a millisecond, against the 500 ms of the old polling.

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST};
use netlink_packet_route::link::{LinkFlags, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use wanc::netlink::{KernelEvent, Netlink, Watcher};

const ROUNDS: usize = 50;

fn ip(args: &str) {
    let ok = Command::new("ip").args(args.split_whitespace()).status().is_ok_and(|s| s.success());
    assert!(ok, "ip {args} failed");
}

/// Sets a link administratively up or down, as `ip link set DEV up|down`
/// does, and waits for the kernel's ACK.
fn set_link(socket: &Socket, index: u32, up: bool) {
    let mut link = LinkMessage::default();
    link.header.index = index;
    link.header.change_mask = LinkFlags::Up;
    link.header.flags = if up { LinkFlags::Up } else { LinkFlags::empty() };
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK;
    let mut message = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(RouteNetlinkMessage::SetLink(link)));
    message.finalize();
    let mut bytes = vec![0; message.buffer_len()];
    message.serialize(&mut bytes);
    socket.send_to(&bytes, &SocketAddr::new(0, 0), 0).expect("send");
    let mut reply = Vec::with_capacity(4096);
    socket.recv_from(&mut reply, 0).expect("ack");
    let ack = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply).expect("parsable ack");
    if let NetlinkPayload::Error(e) = ack.payload {
        assert!(e.code.is_none(), "set link: {e}");
    }
}

/// The index of a link in this thread's namespace (/sys shows the
/// namespace it was mounted in).
fn index(name: &str) -> u32 {
    let links = Netlink::open().and_then(|mut nl| nl.links()).expect("links");
    links.iter().find(|l| l.name == name).map(|l| l.index).expect("the link exists")
}

fn main() {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: the watcher benchmark needs root (network namespaces)");
        return;
    }
    let ns = format!("wnl-bench-{}", std::process::id());
    ip(&format!("netns add {ns}"));
    let result = std::panic::catch_unwind(|| run(&ns));
    ip(&format!("netns del {ns}"));
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn run(ns: &str) {
    // This thread, and the watcher's thread started from it, live in the
    // namespace from here on; the namespace is deleted from outside.
    let file = std::fs::File::open(format!("/run/netns/{ns}")).expect("namespace file");
    // SAFETY: `file` is an open namespace file; setns changes only this
    // thread's namespace (and that of threads it starts later).
    assert_eq!(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
    ip("link add b0 type veth peer name pb0");
    ip("link set dev b0 up");
    ip("link set dev pb0 up");
    let (b0, pb0) = (index("b0"), index("pb0"));
    let mut socket = Socket::new(NETLINK_ROUTE).expect("socket");
    socket.bind(&SocketAddr::new(0, 0)).expect("bind");

    let mut watcher = Watcher::open().expect("watcher");
    while !watcher.recv(Duration::from_millis(100)).expect("recv").is_empty() {}
    let (seen, carrier) = mpsc::channel::<(bool, Instant)>();
    // The watcher's thread reports every carrier state of b0 it hears of,
    // with the time it held the event.
    std::thread::spawn(move || loop {
        let Ok(events) = watcher.recv(Duration::from_secs(1)) else { return };
        let now = Instant::now();
        for e in events {
            if let KernelEvent::Link { index, up, .. } = e {
                if index == b0 && seen.send((up, now)).is_err() {
                    return;
                }
            }
        }
    });

    let mut down = Vec::new();
    let mut up = Vec::new();
    for _ in 0..ROUNDS {
        for (state, times) in [(false, &mut down), (true, &mut up)] {
            let start = Instant::now();
            set_link(&socket, pb0, state);
            let deadline = start + Duration::from_secs(5);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let (got, at) = carrier.recv_timeout(left).expect("the watcher heard of the change within 5 s");
                if got == state {
                    times.push(at - start);
                    break;
                }
            }
            // Let the other end settle (veth carrier changes are immediate,
            // but the link watch may send a second message).
            std::thread::sleep(Duration::from_millis(20));
            while carrier.try_recv().is_ok() {}
        }
    }
    println!("carrier change → watcher event, {ROUNDS} rounds each (µs):");
    println!("                    median       p90       max");
    report("peer set down", &mut down);
    report("peer set up", &mut up);
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!("{what:<16} {:>10.1} {:>9.1} {:>9.1}", us(at(0.5)), us(at(0.9)), us(times[times.len() - 1]));
}
