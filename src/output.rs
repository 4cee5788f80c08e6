//! Writing build outputs so that a failed build loses nothing: every file is
//! written into a staging directory inside DIR first, and only when all of
//! them are written are they renamed into place (rename is atomic).

use std::io::Write;
use std::path::{Path, PathBuf};

pub struct OutputFile {
    /// Path relative to the output directory.
    pub path: PathBuf,
    pub contents: Vec<u8>,
}

pub fn write_all(dir: &Path, files: &[OutputFile]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let staging = dir.join(format!(".wanc-staging-{}", std::process::id()));
    let result = stage_and_commit(dir, &staging, files);
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn stage_and_commit(dir: &Path, staging: &Path, files: &[OutputFile]) -> std::io::Result<()> {
    std::fs::create_dir_all(staging)?;
    for file in files {
        let path = staging.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&file.contents)?;
        f.sync_all()?;
    }
    for file in files {
        let target = dir.join(&file.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(staging.join(&file.path), &target)?;
    }
    Ok(())
}
