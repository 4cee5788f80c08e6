//! The slips people make, reported in words rather than as what the parser
//! expected: a block's `{` on the next line (Allman style), a `via` list or
//! a condition broken across lines, `//` and `/* */` comments, a site name
//! without quotes, an interface name with them, and a `{` never closed.
//!
//! The line breaks are read by the grammar (`line_break`), so the
//! statement is kept and the rest of the file checked as if the slip were
//! fixed; the others are recognised in the text that recovery skipped.

use super::Rule;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};

const CONTINUE: &str = "a line break ends the statement: write it on one line, or end the line with `\\`";

/// A `line_break` the parser accepted at `start..end` of the file's `text`.
pub fn line_break(file: FileId, text: &str, start: usize, end: usize) -> Diagnostic {
    let (line, code_end) = code_before(text, start);
    let next = end + text.get(end..).unwrap_or("").len() - text.get(end..).unwrap_or("").trim_start().len();
    if text.get(next..).is_some_and(|rest| rest.starts_with('{')) {
        return Diagnostic::new(Code::Syntax, Span::new(file, next, next + 1), format!("`{{` must be on the line of `{line}`"))
            .label("on a line of its own")
            .help(format!("a line break ends the statement before its block: write `{line} {{`"));
    }
    // The grammar reads a line break only after these (or before a `{`).
    let operator = [",", "&&", "||"].into_iter().find(|op| line.ends_with(op)).unwrap_or("");
    let what = if operator == "," { "the `via` list" } else { "the condition" };
    let span = Span::new(file, code_end - operator.len(), code_end);
    Diagnostic::new(Code::Syntax, span, format!("{what} goes on after a line break"))
        .label(format!("the line ends after this `{operator}`"))
        .help(CONTINUE)
}

/// The code of the line that ends at `at` (without its comment and
/// trailing blanks), and where that code ends.
fn code_before(text: &str, at: usize) -> (&str, usize) {
    let line_start = text.get(..at).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
    let line = text.get(line_start..at).unwrap_or("");
    let code = line[..comment_start(line)].trim_end();
    let indent = code.len() - code.trim_start().len();
    (code.trim_start(), line_start + indent + code.trim_start().len())
}

/// Where a line's `#` comment starts (a `#` in a string is not one); the
/// line's length when it has none.
pub fn comment_start(line: &str) -> usize {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '#' if !in_string => return i,
            _ => {}
        }
    }
    line.len()
}

/// A slip recognised at the start of `skipped`, text that recovery skipped
/// at `start` where `entry` should have matched.
pub fn skipped(entry: Rule, file: FileId, start: usize, skipped: &str) -> Option<Diagnostic> {
    let at = |offset: usize, width: usize| Span::new(file, start + offset, start + offset + width);
    if let Some(opener @ ("//" | "/*")) = skipped.get(..2) {
        let help = match opener {
            "//" => {
                let words: String = skipped[2..].lines().next().unwrap_or("").trim().chars().take(40).collect();
                format!("comments start with `#` and run to the end of the line: `# {words}`")
            }
            _ => "comments start with `#` and run to the end of the line: start each line of it with `#`".to_string(),
        };
        return Some(
            Diagnostic::new(Code::Syntax, at(0, 2), format!("`{opener}` does not start a comment"))
                .label("not a comment")
                .help(help),
        );
    }
    let leading = [(",", "the `via` list"), ("&&", "the condition"), ("||", "the condition")];
    if let Some((operator, what)) = leading.iter().find(|(op, _)| skipped.starts_with(op)) {
        return Some(
            Diagnostic::new(Code::Syntax, at(0, operator.len()), format!("{what} goes on after a line break"))
                .label(format!("the line starts with `{operator}`"))
                .help("a line break ends the statement: write it on one line, or end the line above with `\\`"),
        );
    }
    if entry == Rule::just_item {
        let name = skipped.strip_prefix("site")?.trim_start_matches([' ', '\t']);
        let offset = skipped.len() - name.len();
        let word: String = name.chars().take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')).collect();
        if offset > 4 && !word.is_empty() {
            return Some(
                Diagnostic::new(
                    Code::Syntax,
                    at(offset, word.len()),
                    format!("the site's name `{word}` is not in double quotes"),
                )
                .label("a bare word")
                .help(format!("a site's name is a string: `site \"{word}\"`")),
            );
        }
    }
    None
}

/// An interface name in quotes (`interface "em0"`): the name without them,
/// if it is one, and the report.
pub fn quoted_interface(file: FileId, word: &str, start: usize) -> Option<(String, Diagnostic)> {
    let name = word.strip_prefix('"')?.strip_suffix('"')?;
    let diagnostic = Diagnostic::new(
        Code::Syntax,
        Span::new(file, start, start + word.len()),
        format!("the interface name `{word}` is in quotes"),
    )
    .label("no quotes here")
    .help(format!("interface names are bare words: `interface {name}`"));
    Some((name.to_string(), diagnostic))
}

/// A `{` at `open` in `skipped` (at `start` in the file) never closed
/// before the end of the file, at `end` in `skipped`.
pub fn unclosed(file: FileId, start: usize, skipped: &str, open: usize, end: usize) -> Diagnostic {
    let (line, _) = code_before(skipped, open);
    let block = if line.is_empty() { String::new() } else { format!(" of `{line}`") };
    Diagnostic::new(Code::Syntax, Span::new(file, start + open, start + open + 1), format!("the `{{`{block} is never closed"))
        .label("never closed")
        .with(Span::new(file, start + end, start + end), "the file ends here")
        .help("every `{` needs a matching `}`: add it where the block ends")
}
