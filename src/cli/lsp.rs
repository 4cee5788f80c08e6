//! `wanc lsp`: the language server on stdin and stdout.

use super::{OK, USAGE};

pub fn lsp() -> u8 {
    let (connection, io) = crate::lsp::stdio();
    let served = crate::lsp::serve(&connection);
    // The writer ends when the connection is dropped.
    drop(connection);
    let joined = io.join();
    match served.map_err(|e| e.to_string()).and(joined.map_err(|e| e.to_string())) {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: the language server stopped: {e}");
            USAGE
        }
    }
}
