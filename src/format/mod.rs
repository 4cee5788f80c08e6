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
use crate::syntax::{self, Rule, WanParser};
use pest::Parser;

/// The file in the canonical layout; refused, with the syntax
/// diagnostics, when the file does not parse (a broken line would be
/// skipped, and its text could not be laid out).
///
/// Invalid literals (`300.1.1.1`, an unknown escape) are not refused: they
/// are written as they are, and `wanc check` reports them.
pub fn format(text: &str) -> Result<String, Diagnostics> {
    let mut diagnostics = Diagnostics::default();
    syntax::parse(0, text, &mut diagnostics);
    if diagnostics.iter().any(|d| d.code == Code::Syntax) {
        return Err(diagnostics);
    }
    // `syntax::parse` read the file without a syntax error, so this parse
    // succeeds too; should it not, there is no tree to lay out.
    let Some(file) = WanParser::parse(Rule::file, text).ok().and_then(|mut pairs| pairs.next()) else {
        return Err(diagnostics);
    };
    Ok(layout::layout(&tokens::tokens(file, text)))
}
