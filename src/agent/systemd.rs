//! The service manager's side of the agent (sd_notify(3)): readiness once
//! the first state is applied, the current state as the unit's status
//! text, and watchdog pings. The pings are sent by the main loop when it
//! handles a tick, so a main loop that is stuck stops them and systemd
//! restarts the agent. Without systemd (no `NOTIFY_SOCKET`) all of this
//! does nothing.

use sd_notify::NotifyState;
use std::sync::mpsc::Sender;
use std::time::Duration;
use tracing::warn;

#[derive(Default)]
pub struct Systemd {
    ready: bool,
}

impl Systemd {
    /// Starts the ticker when systemd asks for watchdog pings: a tick every
    /// half of its timeout, as sd_watchdog_enabled(3) advises.
    pub fn start(tick: Sender<super::Event>) -> Systemd {
        if let Some(timeout) = sd_notify::watchdog_enabled() {
            let every = (timeout / 2).max(Duration::from_millis(100));
            std::thread::spawn(move || {
                while tick.send(super::Event::Tick).is_ok() {
                    std::thread::sleep(every);
                }
            });
        }
        Systemd::default()
    }

    /// A state is in place: ready (the first time), and the status text.
    pub fn state(&mut self, state: &str) {
        let status = format!("state {state}");
        let mut message = vec![NotifyState::Status(&status)];
        if !self.ready {
            message.push(NotifyState::Ready);
        }
        self.ready = true;
        send(&message);
    }

    /// The main loop is alive.
    pub fn ping(&self) {
        send(&[NotifyState::Watchdog]);
    }

    pub fn stopping(&self) {
        send(&[NotifyState::Stopping]);
    }
}

fn send(message: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(message) {
        warn!("cannot notify the service manager: {e}");
    }
}
