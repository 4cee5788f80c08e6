//! The file as a flat list of tokens for the layout: the leaves of pest's
//! parse tree (words, values, strings, operators), the punctuation and
//! comments between them, and a mark where each statement of a block
//! begins.
//!
//! The grammar keeps comments silent (`COMMENT = _{…}`), so pest's tree has
//! none. Rather than a second, formatter-only grammar (a copy of every rule
//! that could drift from the real one), the text *between* the tree's leaves
//! is lexed here: in a file that parsed, that text holds only blanks, line
//! breaks, `\` continuations, comments and the grammar's literal punctuation
//! (`{ } ( ) [ ] , ; = : && ||`). A `#` there always starts a comment,
//! since strings and interface names are leaves. Each piece of punctuation
//! takes its meaning (a block's `{` or a set's) from the rule it sits in.

use crate::syntax::Rule;
use pest::iterators::Pair;

/// What a pair of brackets encloses, which decides its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bracket {
    /// `lan`, `uplink`, `policy` and `state` bodies: one statement a line.
    Block,
    /// `on EVENT { … }`: actions, on one line when they fit.
    Actions,
    /// A check's options `{ every 10s timeout 1s }`, on one line when they fit.
    Options,
    /// A set of values `{ a, b }`.
    Set,
    /// The uplinks of `balance(…)`, `multipath(…)`, `any(…)`, `all(…)`, `count(…)`.
    List,
    /// Parentheses in a condition.
    Group,
    /// The brackets of an IPv6 address in a `tcp` check's target.
    Address,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tok<'a> {
    /// A leaf of the tree, as written: a keyword, name, value, string or operator.
    Word {
        text: &'a str,
        rule: Rule,
    },
    Open(Bracket),
    Close(Bracket),
    Comma,
    /// `;`: the layout puts statements on lines of their own (or joins
    /// actions with `; ` itself), so it is only a separator here.
    Semi,
    Newline,
    /// `=`, `:`, `&&`, `||`.
    Punct(&'a str),
    /// A comment, without the line break that ends it and trailing blanks.
    Comment(&'a str),
    /// A statement of a block begins.
    Statement,
}

/// The tokens of a file that parsed, from its `file` pair.
pub fn tokens<'a>(file: Pair<'a, Rule>, text: &'a str) -> Vec<Tok<'a>> {
    let mut out = Vec::new();
    flatten(file, text, &mut out);
    out
}

fn flatten<'a>(pair: Pair<'a, Rule>, text: &'a str, out: &mut Vec<Tok<'a>>) {
    let rule = pair.as_rule();
    let span = pair.as_span();
    // A string's insides are one token with its quotes.
    if rule == Rule::string || pair.clone().into_inner().next().is_none() {
        if rule != Rule::EOI {
            out.push(Tok::Word { text: pair.as_str(), rule });
        }
        return;
    }
    let mut at = span.start();
    // Children after the block's `{` are its statements (the file has no `{`).
    let mut in_body = rule == Rule::file;
    for child in pair.into_inner() {
        let start = child.as_span().start();
        in_body |= gap(text.get(at..start).unwrap_or(""), rule, out);
        at = child.as_span().end();
        if child.as_rule() == Rule::EOI {
            continue;
        }
        if in_body && holds_statements(rule) {
            out.push(Tok::Statement);
        }
        flatten(child, text, out);
    }
    gap(text.get(at..span.end()).unwrap_or(""), rule, out);
}

fn holds_statements(rule: Rule) -> bool {
    matches!(rule, Rule::file | Rule::lan | Rule::uplink | Rule::policy | Rule::state_body | Rule::on_block | Rule::check_opts)
}

fn bracket(parent: Rule) -> Bracket {
    match parent {
        Rule::lan | Rule::uplink | Rule::policy | Rule::state_body => Bracket::Block,
        Rule::on_block => Bracket::Actions,
        Rule::check_opts => Bracket::Options,
        Rule::set => Bracket::Set,
        Rule::balance | Rule::multipath | Rule::any_call | Rule::all_call | Rule::count_cmp => Bracket::List,
        Rule::tcp_target => Bracket::Address,
        _ => Bracket::Group,
    }
}

/// Lexes the text between two leaves of `parent`; true if it opened a bracket.
fn gap<'a>(text: &'a str, parent: Rule, out: &mut Vec<Tok<'a>>) -> bool {
    let mut opened = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let mut len = c.len_utf8();
        match c {
            '\n' => out.push(Tok::Newline),
            // A continuation is only a blank: the layout decides the lines.
            '\\' => len += continuation(&rest[1..]),
            '#' => {
                len = rest.find(['\n', '\r']).unwrap_or(rest.len());
                let comment = rest[..len].trim_end();
                out.push(Tok::Comment(comment));
            }
            '{' | '(' | '[' => {
                opened = true;
                out.push(Tok::Open(bracket(parent)));
            }
            '}' | ')' | ']' => out.push(Tok::Close(bracket(parent))),
            ',' => out.push(Tok::Comma),
            ';' => out.push(Tok::Semi),
            '&' | '|' => {
                len = 2.min(rest.len());
                out.push(Tok::Punct(&rest[..len]));
            }
            c if c.is_whitespace() => {}
            _ => out.push(Tok::Punct(&rest[..len])),
        }
        rest = &rest[len..];
    }
    opened
}

/// The length of the line break after a continuation's `\`.
fn continuation(after: &str) -> usize {
    if after.starts_with("\r\n") {
        2
    } else if after.starts_with(['\n', '\r']) {
        1
    } else {
        0
    }
}
