//! Source text to the typed syntax tree, with error recovery.

mod expected;
mod literal;
mod slips;
mod tree;

pub use slips::comment_start;

use crate::ast;
use crate::codes::Code;
use crate::diagnostic::{suggest, Diagnostic, Diagnostics};
use crate::source::{FileId, Span};
use pest::iterators::Pair;
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/wan.pest"]
pub struct WanParser;

/// Parses one file. Never fails: what cannot be read is reported and left out.
pub fn parse(file: FileId, text: &str, diags: &mut Diagnostics) -> ast::File {
    parse_tree(file, text, diags).0
}

/// Parses one file as [`parse`] does, and also returns pest's tree of it,
/// which keeps every token as written (the formatter lays it out).
pub fn parse_tree<'t>(file: FileId, text: &'t str, diags: &mut Diagnostics) -> (ast::File, Option<Pair<'t, Rule>>) {
    match WanParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            let root = pairs.next();
            let mut builder = tree::Builder { file, diags };
            (ast::File { items: root.clone().map(|r| builder.file(r)).unwrap_or_default() }, root)
        }
        // The file rule accepts any text through its recovery rules, so this
        // only happens on pathological input (such as nesting beyond the
        // parser's call limit). Report it rather than crash.
        Err(error) => {
            let (offset, message) = expected::describe(&error, text);
            let span = Span::new(file, offset, offset);
            diags.push(Diagnostic::new(Code::Syntax, span, message).label("cannot read past here"));
            (ast::File { items: Vec::new() }, None)
        }
    }
}

/// Explains a stretch that recovery skipped, by parsing it again with the rule
/// that should have matched there and translating what that parse expected.
fn explain_skipped(entry: Rule, file: FileId, start: usize, text: &str, diags: &mut Diagnostics) {
    if let Some(slip) = slips::skipped(entry, file, start, text) {
        diags.push(slip);
        return;
    }
    pest::set_error_detail(true);
    let result = WanParser::parse(entry, text);
    pest::set_error_detail(false);
    let (offset, message) = match result {
        Err(error) => expected::describe(&error, text),
        // The same text parses alone, so what broke it was what followed it
        // on the line.
        Ok(_) => (text.len(), format!("expected the end of the statement, found {}", expected::found(text, text.len()))),
    };
    let at = start + offset;
    let width = token_width(text, offset);
    let span = Span::new(file, at, at + width);
    // A misspelt statement keyword gets a suggestion rather than the list.
    let first_word: String = text.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let suggestion = (offset == 0)
        .then(|| suggest(&first_word, expected::statement_words(entry).iter().copied()))
        .flatten()
        .map(|s| format!("did you mean `{s}`?"));
    let help = suggestion.or(help_for(entry).map(str::to_string));
    let unclosed = offset >= text.trim_end().len() && message.starts_with("expected `}`");
    // Reported at the `{`, in every format: where the end of the file is
    // tells nothing.
    if let (true, Some(open)) = (unclosed, text.find('{')) {
        diags.push(slips::unclosed(file, start, text, open, offset));
        return;
    }
    let mut diagnostic = Diagnostic::new(Code::Syntax, span, message).label("unexpected here");
    if let Some(help) = help {
        diagnostic = diagnostic.help(help);
    }
    diags.push(diagnostic);
}

fn token_width(text: &str, offset: usize) -> usize {
    let rest = text.get(offset..).unwrap_or("");
    match rest.chars().next() {
        None | Some('\n') => 0,
        Some(c) if c.is_alphanumeric() || c == '_' => rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | '%')))
            .map(|(i, _)| i)
            .unwrap_or(rest.len()),
        Some(c) => c.len_utf8(),
    }
}

fn help_for(entry: Rule) -> Option<&'static str> {
    Some(match entry {
        Rule::just_item => "a file holds `site`, `import`, `const`, `host`, `lan`, `uplink`, `plugin`, `policy` and `state` items",
        Rule::just_lan => "a lan holds `interface NAME` and `network PREFIX` lines",
        Rule::just_uplink => "an uplink holds `interface`, `address`, `gateway`, `nat`, `weight`, `table`, `check`, `healthy when` and `on up`/`on down`",
        Rule::just_rule => "a policy holds `default via …`, `route … via …`, `forward …` and `serve …` rules",
        Rule::just_state => "a state block holds `on enter { }`, `on exit { }` and `policy { }`",
        Rule::just_action => "actions are `run \"COMMAND\"`, `notify \"TEXT\"` and `flush states`",
        _ => return None,
    })
}
