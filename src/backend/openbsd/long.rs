//! Commands too long for one of ifstated's strings.
//!
//! ifstated's lexer reads a quoted string into a buffer of 8,096 bytes
//! (yylex in usr.sbin/ifstated/parse.y) and refuses the file past that. A
//! command that follows a `via` live holds a line per member, so with many
//! members it outgrows the buffer: such a command is written to a file of
//! its own, `ifstated/N.sh`, installed under [`PREFIX`], and ifstated runs
//! `sh` on that file instead. Shorter commands stay in ifstated.conf, where
//! they can be read.

use super::quote;
use super::{Ctx, PREFIX};
use crate::output::OutputFile;
use std::collections::HashMap;

/// The longest quoted string written into ifstated.conf: the lexer's
/// buffer, less room for its terminator and the quotes.
const STRING_MAX: usize = 8_000;

/// The commands written to files so far, each once.
#[derive(Default)]
pub struct Long {
    commands: Vec<String>,
    index: HashMap<String, usize>,
}

impl Ctx<'_> {
    /// The `"…"` string of a `run` action that runs `command`.
    pub fn run(&self, command: &str) -> String {
        let quoted = quote::run(command);
        if quoted.len() <= STRING_MAX {
            return quoted;
        }
        quote::run(&self.file_for(command))
    }

    /// The value of a macro that expands to the external test `"command"
    /// every SECONDS` (see [`quote::test_macro`]).
    pub fn test(&self, command: &str, every_secs: u64) -> String {
        let quoted = quote::test_macro(command, every_secs);
        if quoted.len() <= STRING_MAX {
            return quoted;
        }
        quote::test_macro(&self.file_for(command), every_secs)
    }

    /// `sh FILE`, for the file `command` is written to.
    fn file_for(&self, command: &str) -> String {
        let mut long = self.long.borrow_mut();
        let n = match long.index.get(command) {
            Some(&n) => n,
            None => {
                long.commands.push(command.to_string());
                let n = long.commands.len();
                long.index.insert(command.to_string(), n);
                n
            }
        };
        format!("sh {PREFIX}/{}", path(n))
    }

    /// The files of the commands written so far.
    pub fn long_files(&self) -> Vec<OutputFile> {
        let long = self.long.borrow();
        let header = crate::backend::header(self.site, "#");
        (1..)
            .zip(&long.commands)
            .map(|(n, command)| OutputFile {
                path: path(n).into(),
                contents: format!("{header}# A command of ifstated.conf too long for its strings.\n{command}\n").into_bytes(),
            })
            .collect()
    }
}

fn path(n: usize) -> String {
    format!("ifstated/{n}.sh")
}
