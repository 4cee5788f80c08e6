//! `wanc fmt`: one canonical layout for `.wan` files (docs/fmt.md).
//!
//! The formatter works on pest's parse tree and the text between its
//! leaves (`tokens`), not on the typed `ast`: the tree keeps every literal
//! as written (`10.0.0.0/8` stays itself, a duration keeps its unit), and
//! the layout (`layout`) changes only blanks, line breaks, `\`
//! continuations, `;` separators and a set's trailing comma, none of which
//! the language gives a meaning. Comments are kept, each on its line or
//! after the code it followed.

mod layout;
mod tokens;

use crate::codes::Code;
use crate::diagnostic::Diagnostics;
use crate::syntax;

/// The file in the canonical layout; refused, with the syntax
/// diagnostics, when the file does not parse (a broken line would be
/// skipped, and its text could not be laid out).
///
/// Invalid literals (`300.1.1.1`, an unknown escape) are not refused: they
/// are written as they are, and `wanc check` reports them.
pub fn format(text: &str) -> Result<String, Diagnostics> {
    let mut diagnostics = Diagnostics::default();
    let (_, tree) = syntax::parse_tree(0, text, &mut diagnostics);
    match tree {
        Some(file) if !diagnostics.iter().any(|d| d.code == Code::Syntax) => Ok(layout::layout(&tokens::tokens(file, text))),
        _ => Err(diagnostics),
    }
}
