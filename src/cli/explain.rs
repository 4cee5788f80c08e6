//! `wanc explain CODE`: a diagnostic code's title and documentation.

use super::{OK, USAGE};
use crate::codes::Code;

pub fn explain(code: &str) -> u8 {
    match Code::parse(code) {
        Some(code) => {
            println!("{} ({}): {}\n", code.as_str(), code.severity().as_str(), code.title());
            println!("{}", code.doc());
            OK
        }
        None => {
            eprintln!("error: unknown code `{code}`");
            let all: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
            eprintln!("help: codes are {}", all.join(", "));
            USAGE
        }
    }
}
