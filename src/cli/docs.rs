//! `wanc completions SHELL` and `wanc man DIR`: shell completions and man
//! pages generated from the clap definitions, so they never disagree with
//! `--help`. The binary writes them itself (rather than a build script) so
//! a package is made from the binary it ships, and a user can generate the
//! completion of any shell on the router.

use super::{io_reason, OK, USAGE};
use std::path::Path;

pub fn completions(mut cmd: clap::Command, shell: clap_complete::Shell) -> u8 {
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, &mut std::io::stdout());
    OK
}

/// Writes `wanc.1` and `wanc-SUBCOMMAND.1` for each subcommand into `dir`.
pub fn man(cmd: clap::Command, dir: &Path) -> u8 {
    match std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir)) {
        Ok(()) => {
            eprintln!("wrote the man pages into {}", dir.display());
            OK
        }
        Err(e) => {
            eprintln!("error: cannot write the man pages into `{}`: {}", dir.display(), io_reason(&e));
            USAGE
        }
    }
}
