//! `wanc fmt [--check] [FILE…]`: files rewritten in the canonical layout
//! (`crate::format`), standard input to standard output with `-` or no
//! file.

use super::{io_reason, OK, SOURCE_ERRORS, USAGE};
use crate::diagnostic::Diagnostics;
use crate::input;
use crate::render::{self, Format};
use crate::source::SourceMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The arguments of `wanc fmt`.
#[derive(clap::Args)]
pub struct FmtArgs {
    /// The `.wan` sources, rewritten in place; `-` or none: standard input to standard output
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Change nothing: list the files that are not in the canonical layout, and exit 1 if there are any
    #[arg(long)]
    check: bool,
}

/// Exit status: 0 every file in the layout (or now rewritten), 1 a file
/// that does not parse or, with `--check`, one that would change, 2 a
/// file not read or not written.
pub fn fmt(args: &FmtArgs) -> u8 {
    let stdin = [PathBuf::from("-")];
    let files = if args.files.is_empty() { &stdin[..] } else { &args.files[..] };
    files.iter().map(|path| if path == Path::new("-") { stream(args.check) } else { file(path, args.check) }).max().unwrap_or(OK)
}

fn stream(check: bool) -> u8 {
    let text = match input::read_stream(std::io::stdin().lock(), input::SOURCE) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read standard input: {e}");
            return USAGE;
        }
    };
    let Some(formatted) = formatted("<stdin>", &text) else { return SOURCE_ERRORS };
    if check {
        if formatted == text {
            return OK;
        }
        println!("-");
        return SOURCE_ERRORS;
    }
    match std::io::stdout().write_all(formatted.as_bytes()) {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: cannot write the formatted source: {}", io_reason(&e));
            USAGE
        }
    }
}

fn file(path: &Path, check: bool) -> u8 {
    let text = match input::read_text(path, input::SOURCE) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", path.display());
            return USAGE;
        }
    };
    let Some(formatted) = formatted(&path.display().to_string(), &text) else { return SOURCE_ERRORS };
    if formatted == text {
        return OK;
    }
    if check {
        println!("{}", path.display());
        return SOURCE_ERRORS;
    }
    match replace(path, &formatted) {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: cannot write `{}`: {}", path.display(), io_reason(&e));
            USAGE
        }
    }
}

/// The text formatted, or `None` after printing why not.
fn formatted(name: &str, text: &str) -> Option<String> {
    match crate::format::format(text) {
        Ok(formatted) => Some(formatted),
        Err(diagnostics) => {
            report(name, text, diagnostics);
            None
        }
    }
}

fn report(name: &str, text: &str, diagnostics: Diagnostics) {
    let mut sources = SourceMap::new();
    sources.add(name, text);
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let report = render::render(Format::Human, &diagnostics.into_sorted(), &sources, color);
    let _ = std::io::stderr().write_all(report.as_bytes());
    eprintln!("{name}: not formatted, it does not parse");
}

/// Replaces the file at once: a reader sees the old text or the new, and
/// a failed write leaves the old. The new file is written beside it (a
/// rename does not cross file systems) with the old one's permissions and,
/// as far as we may give them, its owner and group; a symbolic link is
/// followed, so the link stays a link.
fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let target = std::fs::canonicalize(path)?;
    let dir = target.parent().unwrap_or(Path::new("/"));
    let old = std::fs::metadata(&target)?;
    let mut temp = tempfile::Builder::new().prefix(".wanc-fmt-").tempfile_in(dir)?;
    temp.write_all(text.as_bytes())?;
    temp.as_file().sync_all()?;
    temp.as_file().set_permissions(old.permissions())?;
    // Only root may give a file away; anyone else keeps the file as theirs,
    // which it already is when they may write the folder it is in.
    let _ = std::os::unix::fs::fchown(temp.as_file(), Some(old.uid()), Some(old.gid()));
    temp.persist(&target).map_err(|e| e.error)?;
    Ok(())
}
