//! `http_status`: an HTTP/1.1 GET through the host's TCP; up when the status
//! is the expected one and, if `body` is set, the body contains it.
//!
//! Settings:
//!   url     `http://HOST[:PORT][/PATH]`; HOST is an IPv4 literal or a
//!           bracketed IPv6 literal: a plugin has no resolver, and the host
//!           allows connections only to the address the url names
//!   expect  the status that means up (default 200)
//!   body    a substring the response body must contain
//!
//! The measurement is the time from connecting to the end of the response
//! headers, in microseconds.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use wanc_sdk::{clock_us, Error, Outcome, Settings, TcpStream};

wanc_sdk::plugin! {
    settings: ["url", "expect?", "body?"],
    probe: probe,
}

/// Enough for a status page; a longer body is searched as far as it was read.
const MAX_RESPONSE: usize = 256 * 1024;

struct Url<'a> {
    authority: &'a str,
    addr: SocketAddr,
    path: Cow<'a, str>,
}

fn probe(settings: &Settings) -> Result<Outcome, Error> {
    let url = parse_url(settings.require("url")?)?;
    let expect: u16 = match settings.get("expect") {
        Some(text) => text.trim().parse().map_err(|_| Error::new(format!("`expect` is not a status code: `{}`", text)))?,
        None => 200,
    };
    let body = settings.get("body");

    let start = clock_us();
    let mut stream = TcpStream::connect(url.addr).map_err(|e| Error::new(format!("cannot connect to {}: {}", url.addr, e)))?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: wanc-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path, url.authority
    );
    stream.send_all(request.as_bytes()).map_err(|e| Error::new(format!("cannot send to {}: {}", url.addr, e)))?;
    let (response, header_us) = read_response(&mut stream, body.is_some(), start)?;

    let status = response.status;
    if status != expect {
        return Ok(Outcome::down(format!("http {} from {}, expected {}", status, url.addr, expect)).measurement(header_us));
    }
    if let Some(wanted) = body {
        let text = response.body()?;
        if !contains(&text, wanted.as_bytes()) {
            return Ok(Outcome::down(format!("http {} from {}, but the body does not contain `{}`", status, url.addr, wanted))
                .measurement(header_us));
        }
    }
    Ok(Outcome::up(format!("http {} from {}", status, url.addr)).measurement(header_us))
}

/// `http://HOST[:PORT][/PATH]` with HOST an IP literal.
fn parse_url(url: &str) -> Result<Url<'_>, Error> {
    let rest = match url.strip_prefix("http://") {
        Some(rest) => rest,
        None if url.starts_with("https://") => return Err(Error::new("https is not supported, use an http:// url")),
        None => return Err(Error::new(format!("`{}` is not an http:// url", url))),
    };
    // The fragment stays with the client; the path may be empty before a query.
    let rest = rest.split('#').next().unwrap_or("");
    let (authority, path) = match rest.find(|c| c == '/' || c == '?') {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], Cow::Borrowed(&rest[i..])),
        Some(i) => (&rest[..i], Cow::Owned(format!("/{}", &rest[i..]))),
        None => (rest, Cow::Borrowed("/")),
    };
    // The request line must not be split by the path.
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(Error::new("the url path contains spaces or control characters"));
    }
    if authority.contains('@') {
        return Err(Error::new("user names in urls are not supported"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6.find(']').ok_or_else(|| Error::new(format!("unclosed `[` in `{}`", authority)))?;
        (&v6[..end], port_of(&v6[end + 1..], authority)?)
    } else if authority.matches(':').count() > 1 {
        return Err(Error::new(format!("put the IPv6 address in brackets: `http://[{}]/`", authority)));
    } else {
        match authority.rfind(':') {
            Some(i) => (&authority[..i], port_of(&authority[i..], authority)?),
            None => (authority, 80),
        }
    };
    let ip: IpAddr = host
        .parse()
        .map_err(|_| Error::new(format!("url host `{}` is not an IP address; plugins cannot resolve names", host)))?;
    Ok(Url { authority, addr: SocketAddr::new(ip, port), path })
}

/// The port after the host: empty (80) or `:N`.
fn port_of(rest: &str, authority: &str) -> Result<u16, Error> {
    match rest.strip_prefix(':') {
        None if rest.is_empty() => Ok(80),
        Some(digits) => digits
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| Error::new(format!("bad port in `{}`", authority))),
        None => Err(Error::new(format!("unexpected `{}` after the host in `{}`", rest, authority))),
    }
}

struct Response {
    status: u16,
    chunked: bool,
    /// Everything after the blank line that ends the headers.
    raw_body: Vec<u8>,
}

impl Response {
    fn body(&self) -> Result<Vec<u8>, Error> {
        if self.chunked {
            dechunk(&self.raw_body).ok_or_else(|| Error::new("malformed chunked body"))
        } else {
            Ok(self.raw_body.clone())
        }
    }
}

/// Reads until the response is complete: the headers when the body is not
/// needed, else the whole body (by Content-Length, the final chunk, or the
/// server closing the connection). Returns the response and the time to the
/// end of the headers.
fn read_response(stream: &mut TcpStream, need_body: bool, start: u64) -> Result<(Response, u64), Error> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let mut header: Option<(usize, Head)> = None;
    let mut header_us = 0;
    loop {
        let n = stream.recv(&mut buf).map_err(|e| Error::new(format!("no complete response: {}", e)))?;
        data.extend_from_slice(&buf[..n]);
        if header.is_none() {
            if let Some(end) = find(&data, b"\r\n\r\n") {
                header_us = clock_us().saturating_sub(start);
                header = Some((end + 4, parse_head(&data[..end])?));
            }
        }
        let complete = match &header {
            None => false,
            Some(_) if !need_body => true,
            Some((body_start, head)) => {
                let body = &data[*body_start..];
                match head.content_length {
                    _ if head.chunked => body.ends_with(b"0\r\n\r\n"),
                    Some(len) => body.len() >= len,
                    None => false,
                }
            }
        };
        if complete || n == 0 || data.len() >= MAX_RESPONSE {
            break;
        }
    }
    match header {
        Some((body_start, head)) => {
            let raw_body = data[body_start..].to_vec();
            Ok((Response { status: head.status, chunked: head.chunked, raw_body }, header_us))
        }
        None if data.is_empty() => Err(Error::new("the server closed the connection without a response")),
        None => Err(Error::new("the response headers are incomplete")),
    }
}

struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
}

fn parse_head(head: &[u8]) -> Result<Head, Error> {
    let text = std::str::from_utf8(head).map_err(|_| Error::new("the response headers are not text"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(Error::new(format!("not an http/1 response: `{}`", status_line.chars().take(60).collect::<String>())));
    }
    let status = code.parse().map_err(|_| Error::new(format!("bad status code `{}`", code)))?;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            }
        }
    }
    Ok(Head { status, content_length, chunked })
}

/// Decodes a chunked body; `None` if malformed.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            // Truncated at the read limit: search what arrived.
            out.extend_from_slice(&data[..size.min(data.len())]);
            return Some(out);
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}
