//! DOT to SVG by Graphviz's `dot -Tsvg`, which must be installed (Debian:
//! `graphviz`). Graphviz lays out far better than anything in a crate, and
//! the SVG is for people looking at a diagram, not for the router.

use std::io::Write;
use std::process::{Command, Stdio};

/// The Graphviz program that lays out directed graphs.
const DOT: &str = "dot";

#[derive(Debug)]
pub enum SvgError {
    /// `dot` is not installed (not on PATH).
    Missing,
    /// `dot` could not be run or talked to.
    Io(std::io::Error),
    /// `dot` refused the graph: its exit status and what it said.
    Failed(String),
}

impl std::fmt::Display for SvgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SvgError::Missing => write!(f, "graphviz's `{DOT}` is not installed (Debian: apt-get install graphviz)"),
            SvgError::Io(e) => write!(f, "cannot run graphviz's `{DOT}`: {}", e.to_string().to_lowercase()),
            SvgError::Failed(why) => write!(f, "graphviz's `{DOT}` failed: {why}"),
        }
    }
}

/// Renders DOT text as SVG with `dot -Tsvg`.
pub fn svg(dot: &str) -> Result<Vec<u8>, SvgError> {
    let mut child = Command::new(DOT)
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| if e.kind() == std::io::ErrorKind::NotFound { SvgError::Missing } else { SvgError::Io(e) })?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Written from a thread of its own while the output is read, so that
    // neither side waits on a full pipe.
    let (written, output) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || stdin.write_all(dot.as_bytes()));
        let output = child.wait_with_output();
        (writer.join(), output)
    });
    let output = output.map_err(SvgError::Io)?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(SvgError::Failed(format!("{}: {said}", output.status)));
    }
    match written {
        Ok(Ok(())) => Ok(output.stdout),
        Ok(Err(e)) => Err(SvgError::Io(e)),
        Err(_) => Err(SvgError::Failed("the writer of its input stopped".into())),
    }
}
