//! The files of one compilation and positions inside them.
//!
//! codespan-reporting's `SimpleFiles` is the source database: it owns the text,
//! and its line index turns byte offsets into the 1-based lines and columns
//! that every diagnostic format prints.

use codespan_reporting::files::{Files, SimpleFiles};

pub type FileId = usize;

/// A byte range in one file. Every node of the typed model carries one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start, end }
    }

    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

#[derive(Default)]
pub struct SourceMap {
    files: SimpleFiles<String, String>,
    count: usize,
    /// Per file, where its characters are (`None`: an ASCII file, where
    /// bytes are characters).
    chars: Vec<Option<CharIndex>>,
}

/// Character counts at checkpoints of a text, so that the column of any
/// offset is found by counting at most `CharIndex::STEP` bytes, not the
/// whole line before it: on one long line with many diagnostics, counting
/// from the line's start (as codespan's `location` does) takes time
/// quadratic in the line's length.
struct CharIndex {
    /// (byte offset at a character boundary, characters before it),
    /// ascending, starting at (0, 0).
    checkpoints: Vec<(usize, usize)>,
}

impl CharIndex {
    const STEP: usize = 1024;

    fn new(text: &str) -> CharIndex {
        let mut checkpoints = vec![(0, 0)];
        let (mut at, mut chars) = (0, 0);
        while at + CharIndex::STEP < text.len() {
            let mut next = at + CharIndex::STEP;
            while !text.is_char_boundary(next) {
                next += 1;
            }
            chars += text[at..next].chars().count();
            checkpoints.push((next, chars));
            at = next;
        }
        CharIndex { checkpoints }
    }

    /// How many characters come before byte `offset` (taken down to a
    /// character boundary).
    fn chars_before(&self, text: &str, mut offset: usize) -> usize {
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let i = self.checkpoints.partition_point(|&(byte, _)| byte <= offset) - 1;
        let (byte, chars) = self.checkpoints[i];
        chars + text[byte..offset].chars().count()
    }
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let text = text.into();
        self.count += 1;
        self.chars.push((!text.is_ascii()).then(|| CharIndex::new(&text)));
        self.files.add(name.into(), text)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn name(&self, file: FileId) -> &str {
        self.files.get(file).map(|f| f.name().as_str()).unwrap_or("<unknown>")
    }

    pub fn text(&self, file: FileId) -> &str {
        self.files.get(file).map(|f| f.source().as_str()).unwrap_or("")
    }

    pub fn snippet(&self, span: Span) -> &str {
        self.text(span.file).get(span.range()).unwrap_or("")
    }

    /// The byte length of the longest line `span` touches (a binary search
    /// of the file's line starts, whatever the lines' lengths).
    pub fn longest_line(&self, span: Span) -> usize {
        let len = self.text(span.file).len();
        let line = |offset: usize| self.files.line_index(span.file, offset.min(len)).unwrap_or(0);
        (line(span.start)..=line(span.end))
            .filter_map(|i| self.files.line_range(span.file, i).ok())
            .map(|r| r.len())
            .max()
            .unwrap_or(0)
    }

    /// Line and column of a byte offset, clamped into the file: the line
    /// from the line index, the column from the characters before the
    /// offset less those before the line's start (`CharIndex`), so the
    /// cost does not grow with the line's length.
    pub fn line_col(&self, file: FileId, offset: usize) -> LineCol {
        let text = self.text(file);
        let offset = offset.min(text.len());
        let Ok(line) = self.files.line_index(file, offset) else { return LineCol { line: 1, column: 1 } };
        let start = self.files.line_range(file, line).map_or(0, |r| r.start);
        let column = match self.chars.get(file).and_then(Option::as_ref) {
            Some(index) => index.chars_before(text, offset) - index.chars_before(text, start),
            None => offset - start,
        };
        LineCol { line: line + 1, column: column + 1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same line and column as counting characters from the line's
    /// start (codespan's `location`), at every offset of a text with
    /// multi-byte characters, lines longer than a checkpoint step, and
    /// offsets inside a character.
    #[test]
    fn columns_count_characters_as_codespan_does() {
        let long: String = "é😀a".repeat(900);
        let text = format!("site \"ü\"\n{long}\n\nx{long}é\n");
        let mut map = SourceMap::new();
        let file = map.add("t.wan", text.as_str());
        for offset in 0..=text.len() {
            let mut at = offset;
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let expected = map.files.location(file, at).expect("in the file");
            let got = map.line_col(file, offset);
            assert_eq!((got.line, got.column), (expected.line_number, expected.column_number), "offset {offset}");
        }
    }
}
