//! `wanc disasm FILE.wanc`: prints a policy file readably; exit 0, or 2 with
//! the reason when it cannot be read or loaded.

use super::{OK, USAGE};
use std::path::Path;

pub fn disasm(path: &Path) -> u8 {
    let bytes = match crate::input::read(path, crate::input::POLICY) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", path.display());
            return USAGE;
        }
    };
    match crate::bytecode::disasm(&bytes) {
        Ok(text) => {
            print!("{text}");
            OK
        }
        Err(e) => {
            eprintln!("error: `{}` cannot be loaded: {e}", path.display());
            USAGE
        }
    }
}
