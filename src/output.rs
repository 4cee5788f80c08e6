//! Writing build outputs as one fresh folder: every file is written into a
//! staging folder beside DIR, and only when all of them are written does the
//! staging folder take DIR's place (an atomic exchange of the two names on
//! Linux). So a failed build loses nothing, and a good one leaves nothing
//! behind of an earlier build: no file of a removed state, no other site's.
//!
//! A folder is replaced only when it is a build output of the same site
//! (it holds the same `NAME.wanc` policy and no other) or empty: DIR is
//! removed wholesale, so pointing `-o` at a folder of other files must not
//! delete them.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct OutputFile {
    /// Path relative to the output directory.
    pub path: PathBuf,
    pub contents: Vec<u8>,
}

/// Why DIR was left as it was.
#[derive(Debug)]
pub enum WriteError {
    Io(std::io::Error),
    /// DIR holds another site's policy, named here.
    OtherSite(String),
    /// DIR holds files and no policy: not a build output.
    NotOutput,
}

impl From<std::io::Error> for WriteError {
    fn from(e: std::io::Error) -> WriteError {
        WriteError::Io(e)
    }
}

/// Replaces `dir` with a folder holding exactly `files`. The policy among
/// them (the one top-level `*.wanc`) names the site that owns the folder.
pub fn write_all(dir: &Path, files: &[OutputFile]) -> Result<(), WriteError> {
    let policy = files.iter().find_map(|f| policy_name(&f.path));
    check_owner(dir, policy.as_ref())?;
    let name = dir.file_name().map(OsString::from).unwrap_or_else(|| "out".into());
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let pid = std::process::id();
    let staging = parent.join(with_suffix(&name, &format!(".wanc-new-{pid}")));
    let old = parent.join(with_suffix(&name, &format!(".wanc-old-{pid}")));
    let result = stage(&staging, files).and_then(|()| swap(&staging, dir, &old));
    let _ = std::fs::remove_dir_all(&staging);
    let _ = std::fs::remove_dir_all(&old);
    result.map_err(WriteError::Io)
}

fn with_suffix(name: &OsString, suffix: &str) -> OsString {
    let mut s = OsString::from(".");
    s.push(name);
    s.push(suffix);
    s
}

/// `NAME.wanc` at the top of the folder: the name of a policy file.
fn policy_name(path: &Path) -> Option<OsString> {
    let top = path.parent().is_none_or(|p| p.as_os_str().is_empty());
    (top && path.extension().is_some_and(|e| e == "wanc")).then(|| path.file_name().map(OsString::from)).flatten()
}

/// Refuses a folder that is neither empty nor this site's build output.
fn check_owner(dir: &Path, policy: Option<&OsString>) -> Result<(), WriteError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut names = Vec::new();
    for entry in entries {
        names.push(entry?.file_name());
    }
    if names.is_empty() {
        return Ok(());
    }
    let policies: Vec<&OsString> = names.iter().filter(|n| policy_name(Path::new(n)).is_some()).collect();
    match policies.iter().find(|p| Some(**p) != policy) {
        Some(other) => Err(WriteError::OtherSite(other.to_string_lossy().trim_end_matches(".wanc").to_string())),
        None if policies.is_empty() => Err(WriteError::NotOutput),
        None => Ok(()),
    }
}

fn stage(staging: &Path, files: &[OutputFile]) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(staging);
    std::fs::create_dir(staging)?;
    for file in files {
        let path = staging.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&file.contents)?;
        f.sync_all()?;
    }
    Ok(())
}

/// Puts `staging` at `dir`; the earlier `dir`, if any, ends at `old`.
fn swap(staging: &Path, dir: &Path, old: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(dir).is_err() {
        return std::fs::rename(staging, dir);
    }
    if exchange(staging, dir).is_ok() {
        // `staging` now holds the earlier folder.
        return std::fs::rename(staging, old);
    }
    // No atomic exchange here (not Linux, or a file system without it):
    // two renames, with a moment in which DIR is absent.
    std::fs::rename(dir, old)?;
    std::fs::rename(staging, dir)
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: two valid NUL-terminated paths; renameat2(2) touches no memory of ours.
    let r = unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}
