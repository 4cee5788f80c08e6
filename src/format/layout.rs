//! The canonical layout of a token list (docs/fmt.md): one statement a
//! line, four spaces a level, single spaces between words, trailing
//! comments aligned, at most one blank line in a row.

use super::tokens::{Bracket, Tok};
use crate::syntax::Rule;

/// Where an action block, a check's options, a set or an uplink list is
/// kept on one line: if it ends within this column and holds no comment.
const WIDTH: usize = 100;
const INDENT: &str = "    ";

/// One output line: code, a comment after it, or both; neither is a blank line.
struct Line {
    depth: usize,
    code: String,
    comment: Option<String>,
}

/// A bracket being laid out over several lines, or, for a condition's
/// parentheses around a commented list, written token by token.
struct Frame {
    bracket: Bracket,
    expanded: bool,
}

pub fn layout(toks: &[Tok]) -> String {
    let mut layout = Layout {
        toks,
        closes: matching(toks),
        lines: Vec::new(),
        cur: String::new(),
        prev: None,
        depth: 0,
        newlines: 0,
        opened: false,
        last_code: None,
    };
    layout.run();
    render(&layout.lines)
}

/// For each opening bracket, the index of its closing one.
fn matching(toks: &[Tok]) -> Vec<usize> {
    let mut closes = vec![0; toks.len()];
    let mut open = Vec::new();
    for (i, tok) in toks.iter().enumerate() {
        match tok {
            Tok::Open(_) => open.push(i),
            Tok::Close(_) => {
                if let Some(o) = open.pop() {
                    closes[o] = i;
                }
            }
            _ => {}
        }
    }
    closes
}

struct Layout<'t, 'a> {
    toks: &'t [Tok<'a>],
    closes: Vec<usize>,
    lines: Vec<Line>,
    /// The line being written, without its indentation.
    cur: String,
    /// The last token written on `cur`, for the space before the next.
    prev: Option<Tok<'a>>,
    depth: usize,
    /// Line breaks in the source since the last token written.
    newlines: usize,
    /// The last line written opens a block: no blank line follows it.
    opened: bool,
    /// The last line with code, where a comma after a comment goes.
    last_code: Option<usize>,
}

impl<'a> Layout<'_, 'a> {
    fn run(&mut self) {
        // The file is a block that is never closed.
        let mut frames = vec![Frame { bracket: Bracket::Block, expanded: true }];
        let mut i = 0;
        while let Some(&tok) = self.toks.get(i) {
            let top = frames.last().map_or(Bracket::Block, |f| f.bracket);
            match tok {
                Tok::Newline => self.newlines += 1,
                Tok::Semi => {}
                Tok::Statement => {
                    self.end_line();
                    self.blank_line();
                }
                Tok::Comment(text) => self.comment(text, top),
                Tok::Comma if self.trailing(i) => {}
                Tok::Comma if frames.last().is_some_and(|f| f.expanded && matches!(f.bracket, Bracket::Set | Bracket::List)) => {
                    self.comma();
                    self.end_line();
                }
                Tok::Open(bracket) => {
                    // (Brackets of a parsed file always match; were one not
                    // to, it is written alone rather than looped on.)
                    let close = self.closes[i].max(i);
                    let inside = self.toks.get(i + 1..close).unwrap_or(&[]);
                    let commented = inside.iter().any(|t| matches!(t, Tok::Comment(_)));
                    let empty = inside.iter().all(|t| matches!(t, Tok::Newline | Tok::Semi));
                    if !commented && (empty || bracket != Bracket::Block) {
                        let text = self.inline(i, close);
                        let fits = self.width() + 1 + text.chars().count() <= WIDTH;
                        if fits || matches!(bracket, Bracket::Group | Bracket::Address) {
                            self.put(&text, tok, self.toks[close]);
                            i = close + 1;
                            continue;
                        }
                    }
                    let expanded = !matches!(bracket, Bracket::Group | Bracket::Address);
                    self.put(open_text(bracket), tok, tok);
                    if expanded {
                        self.end_line();
                        self.opened = true;
                        self.depth += 1;
                    }
                    frames.push(Frame { bracket, expanded });
                }
                Tok::Close(bracket) => {
                    if frames.pop().is_some_and(|f| f.expanded) {
                        if bracket == Bracket::Set {
                            self.comma();
                        }
                        self.end_line();
                        self.depth = self.depth.saturating_sub(1);
                        self.newlines = 0;
                    }
                    self.put(close_text(bracket), tok, tok);
                }
                _ => self.put(word(tok), tok, tok),
            }
            i += 1;
        }
        self.end_line();
    }

    /// A comment after code on its line stays after it (after the line
    /// just ended, when that was a `{` or an element's comma); one on a line
    /// of its own stays on its own.
    fn comment(&mut self, text: &str, top: Bracket) {
        if self.newlines == 0 && !self.cur.is_empty() {
            let code = std::mem::take(&mut self.cur);
            self.push(code, Some(text));
        } else if self.newlines == 0 && self.lines.last().is_some_and(|l| !l.code.is_empty() && l.comment.is_none()) {
            if let Some(last) = self.lines.last_mut() {
                last.comment = Some(text.to_string());
            }
        } else {
            self.end_line();
            if matches!(top, Bracket::Block | Bracket::Actions | Bracket::Options) {
                self.blank_line();
            }
            self.push(String::new(), Some(text));
        }
        self.newlines = 0;
    }

    /// A comma before the closing bracket is left out (a set's is optional);
    /// a set laid out over lines gets one back on its last line.
    fn trailing(&self, i: usize) -> bool {
        let next = self.toks.get(i + 1..).unwrap_or(&[]).iter().find(|t| !matches!(t, Tok::Newline | Tok::Comment(_)));
        matches!(next, Some(Tok::Close(_)))
    }

    /// Ends the current element with a comma: on the current line, or after
    /// the code of the last line when a comment ended it.
    fn comma(&mut self) {
        let code = match self.last_code {
            _ if !self.cur.is_empty() => &mut self.cur,
            Some(last) => &mut self.lines[last].code,
            None => return,
        };
        if !code.ends_with(',') {
            code.push(',');
        }
    }

    /// Tokens `open..=close` on one line.
    fn inline(&self, open: usize, close: usize) -> String {
        let mut text = String::new();
        let mut prev: Option<Tok> = None;
        // Per bracket: whether it holds actions, and whether one has begun.
        let mut joins: Vec<(bool, bool)> = Vec::new();
        for (i, &tok) in self.toks.iter().enumerate().take(close + 1).skip(open) {
            let piece = match tok {
                Tok::Newline | Tok::Semi | Tok::Comment(_) => continue,
                Tok::Comma if self.trailing(i) => continue,
                Tok::Statement => {
                    // Actions on one line are joined by `; `.
                    if let Some((actions, begun)) = joins.last_mut() {
                        if *actions && *begun {
                            text.push(';');
                        }
                        *begun = true;
                    }
                    continue;
                }
                Tok::Open(bracket) => {
                    joins.push((bracket == Bracket::Actions, false));
                    open_text(bracket)
                }
                Tok::Close(bracket) => {
                    joins.pop();
                    close_text(bracket)
                }
                _ => word(tok),
            };
            if prev.is_some_and(|p| spaced(p, tok)) {
                text.push(' ');
            }
            text.push_str(piece);
            prev = Some(tok);
        }
        text
    }

    /// The width of the current line so far, indentation included.
    fn width(&self) -> usize {
        self.depth * INDENT.len() + self.cur.chars().count()
    }

    fn put(&mut self, text: &str, first: Tok<'a>, last: Tok<'a>) {
        if self.prev.is_some_and(|p| spaced(p, first)) && !self.cur.is_empty() {
            self.cur.push(' ');
        }
        self.cur.push_str(text);
        self.prev = Some(last);
        self.newlines = 0;
    }

    /// One blank line where the source had one or more between statements
    /// or comments, except right after a block's `{`.
    fn blank_line(&mut self) {
        if self.newlines >= 2 && !self.opened && !self.lines.is_empty() {
            self.lines.push(Line { depth: 0, code: String::new(), comment: None });
        }
        self.newlines = 0;
    }

    fn end_line(&mut self) {
        if !self.cur.is_empty() {
            let code = std::mem::take(&mut self.cur);
            self.push(code, None);
        }
    }

    fn push(&mut self, code: String, comment: Option<&str>) {
        if !code.is_empty() {
            self.last_code = Some(self.lines.len());
        }
        self.lines.push(Line { depth: self.depth, code, comment: comment.map(str::to_string) });
        self.prev = None;
        self.opened = false;
    }
}

fn word<'a>(tok: Tok<'a>) -> &'a str {
    match tok {
        Tok::Word { text, .. } | Tok::Punct(text) => text,
        Tok::Comma => ",",
        _ => "",
    }
}

fn open_text(bracket: Bracket) -> &'static str {
    match bracket {
        Bracket::List | Bracket::Group => "(",
        Bracket::Address => "[",
        _ => "{",
    }
}

fn close_text(bracket: Bracket) -> &'static str {
    match bracket {
        Bracket::List | Bracket::Group => ")",
        Bracket::Address => "]",
        _ => "}",
    }
}

/// Whether a space separates two tokens on a line: everywhere but inside
/// parentheses and address brackets, before a comma, around a `tcp`
/// target's `:`, after `!`, before a list's `(`, and in an empty `{}`.
fn spaced(prev: Tok, next: Tok) -> bool {
    let tight_after = matches!(
        prev,
        Tok::Open(Bracket::List | Bracket::Group | Bracket::Address) | Tok::Punct(":") | Tok::Word { rule: Rule::not_op, .. }
    );
    let tight_before = matches!(
        next,
        Tok::Close(Bracket::List | Bracket::Group | Bracket::Address) | Tok::Comma | Tok::Punct(":") | Tok::Open(Bracket::List)
    );
    let empty = matches!((prev, next), (Tok::Open(_), Tok::Close(_)));
    !(tight_after || tight_before || empty)
}

/// The lines as text; the trailing comments of consecutive statements at
/// one depth start in one column, two spaces after the longest code. A
/// block's first and last lines are not aligned with their neighbours.
fn render(lines: &[Line]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        let aligned = |l: &Line| l.comment.is_some() && !l.code.is_empty() && !l.code.ends_with('{') && !l.code.starts_with('}');
        let mut end = i + 1;
        if aligned(&lines[i]) {
            while end < lines.len() && aligned(&lines[end]) && lines[end].depth == lines[i].depth {
                end += 1;
            }
        }
        let column = lines[i..end].iter().map(|l| l.code.chars().count()).max().unwrap_or(0) + 2;
        for line in &lines[i..end] {
            if !line.code.is_empty() || line.comment.is_some() {
                out.push_str(&INDENT.repeat(line.depth));
            }
            out.push_str(&line.code);
            if let Some(comment) = &line.comment {
                if !line.code.is_empty() {
                    let pad = column - line.code.chars().count();
                    out.push_str(&" ".repeat(pad));
                }
                out.push_str(comment);
            }
            out.push('\n');
        }
        i = end;
    }
    out
}
