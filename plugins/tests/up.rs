//! A plugin that reports up without touching the network: the good plugin
//! of the containment tests and the subject of the overhead benchmark.
//! With `down` set it reports down with that text as the reason; with
//! `connect` set to `IP:PORT` it reports whether a TCP connection there
//! succeeds, which tests the host's allow-list.

use wanc_sdk::{clock_us, Error, Outcome, Settings, TcpStream};

wanc_sdk::plugin! {
    settings: ["message?", "down?", "connect?"],
    probe: probe,
}

fn probe(settings: &Settings) -> Result<Outcome, Error> {
    if let Some(reason) = settings.get("down") {
        return Ok(Outcome::down(reason));
    }
    if let Some(text) = settings.get("connect") {
        let addr = text.parse().map_err(|_| Error::new(format!("`connect` is not IP:PORT: `{}`", text)))?;
        TcpStream::connect(addr).map_err(|e| Error::new(format!("cannot connect to {}: {}", addr, e)))?;
        return Ok(Outcome::up(format!("connected to {}", addr)));
    }
    let message = settings.get("message").unwrap_or("up");
    Ok(Outcome::up(message).measurement(clock_us()))
}
