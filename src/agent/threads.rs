//! The threads the agent starts while it runs. `std::thread::spawn` panics
//! when the system is out of threads (or the unit's `TasksMax`), which would
//! end the main loop without teardown; here a failed start is logged and
//! the agent goes on.

use std::sync::{Arc, Mutex};
use tracing::warn;

/// Runs `work` on a thread of its own; out of threads, on the caller's
/// (slower, but done: for work that must happen, such as a flush).
pub fn background(name: &str, work: impl FnOnce() + Send + 'static) {
    // The closure is moved into the thread's start; kept here too, so that
    // it can still run when the thread does not start.
    let slot = Arc::new(Mutex::new(Some(work)));
    let theirs = slot.clone();
    let started = std::thread::Builder::new().name(name.to_string()).spawn(move || {
        if let Some(work) = theirs.lock().ok().and_then(|mut w| w.take()) {
            work();
        }
    });
    if let Err(e) = started {
        warn!("cannot start a thread for {name}, doing it on this one: {e}");
        if let Some(work) = slot.lock().ok().and_then(|mut w| w.take()) {
            work();
        }
    }
}

/// Runs `work` on a thread of its own; out of threads, not at all, with a
/// warning (for work that must not block the caller, such as watching a
/// command that may run for minutes).
pub fn detached(name: &str, work: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.to_string()).spawn(work) {
        warn!("cannot start a thread for {name}: {e}");
    }
}
