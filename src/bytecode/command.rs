//! `wanc disasm FILE.wanc`: prints a policy file readably; exit 0, or 2 with
//! the reason when it cannot be read or loaded.

use crate::commands::{OK, USAGE};
use std::path::Path;

pub fn disasm(path: &Path) -> u8 {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {}", path.display(), e.to_string().to_lowercase());
            return USAGE;
        }
    };
    match super::disasm(&bytes) {
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
