//! `wanc check`, `wanc build` and `wanc inspect`: compile, report the
//! diagnostics in the chosen format, and act on a clean result.

use super::{io_reason, OK, SOURCE_ERRORS, USAGE};
use crate::diagnostic::Severity;
use crate::driver::{self, Compilation};
use crate::lower::Target;
use crate::output::{self, WriteError};
use crate::render::{self, Format};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Compiles `path` for `targets` and prints its diagnostics; `None` on an
/// I/O error.
pub(super) fn compile_and_report(path: &Path, format: Format, targets: &[Target]) -> Option<Compilation> {
    match driver::compile_file_for(path, targets) {
        Ok(c) => {
            print_diagnostics(&c, format);
            Some(c)
        }
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", path.display());
            None
        }
    }
}

fn print_diagnostics(c: &Compilation, format: Format) {
    if c.diagnostics.is_empty() {
        return;
    }
    match format {
        Format::Human => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let text = render::render(format, &c.diagnostics, &c.sources, color);
            let _ = std::io::stderr().write_all(text.as_bytes());
            let errors = c.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
            let warnings = c.diagnostics.len() - errors;
            eprintln!("{}", summary(errors, warnings));
        }
        _ => {
            let text = render::render(format, &c.diagnostics, &c.sources, false);
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    }
}

fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, w) => plural(w, "warning"),
        (e, 0) => plural(e, "error"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

pub fn check(paths: &[PathBuf], format: Format, targets: &[Target]) -> u8 {
    let mut status = OK;
    for path in paths {
        match compile_and_report(path, format, targets) {
            None => status = status.max(USAGE),
            Some(c) if c.has_errors() => status = status.max(SOURCE_ERRORS),
            Some(_) => {}
        }
    }
    status
}

pub fn inspect(path: &Path, format: Format) -> u8 {
    let Some(c) = compile_and_report(path, format, &Target::ALL) else { return USAGE };
    match c.site() {
        Some(site) if format == Format::Json => {
            println!("{}", crate::inspect::inspect_json(site));
            OK
        }
        Some(site) => {
            print!("{}", crate::inspect::inspect(site));
            OK
        }
        None => SOURCE_ERRORS,
    }
}

/// Replaces `dir` with the outputs of a clean compilation, all or nothing.
pub fn build(path: &Path, dir: &Path, format: Format, targets: &[Target]) -> u8 {
    let Some(c) = compile_and_report(path, format, targets) else { return USAGE };
    let Some(plan) = &c.plan else {
        eprintln!("error: nothing written to `{}`: the source has errors", dir.display());
        return SOURCE_ERRORS;
    };
    let files = match crate::backend::all(plan, targets) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: nothing written to `{}`: {e}", dir.display());
            return SOURCE_ERRORS;
        }
    };
    match output::write_all(dir, &files) {
        Ok(()) => {
            for f in &files {
                eprintln!("wrote {}", dir.join(&f.path).display());
            }
            OK
        }
        Err(WriteError::Io(e)) => {
            eprintln!("error: cannot write to `{}`: {}", dir.display(), io_reason(&e));
            USAGE
        }
        Err(WriteError::OtherSite(other)) => {
            eprintln!(
                "error: `{}` holds the outputs of site `{other}`, not `{}`: nothing written",
                dir.display(),
                plan.site.name
            );
            eprintln!("help: build each site into a folder of its own, or remove `{}` first", dir.display());
            USAGE
        }
        Err(WriteError::NotOutput) => {
            eprintln!("error: `{}` holds files that wanc did not write: nothing written", dir.display());
            eprintln!("help: wanc replaces the whole folder; choose an empty or new one");
            USAGE
        }
    }
}
