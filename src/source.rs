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
    /// Per file, whether its text is ASCII.
    ascii: Vec<bool>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let text = text.into();
        self.count += 1;
        self.ascii.push(text.is_ascii());
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

    /// Line and column of a byte offset, clamped into the file. In an
    /// ASCII file a column is a byte count, found without counting the
    /// characters before it (which, on one long line with many
    /// diagnostics, would take time quadratic in the line's length).
    pub fn line_col(&self, file: FileId, offset: usize) -> LineCol {
        let len = self.text(file).len();
        let offset = offset.min(len);
        if self.ascii.get(file).copied().unwrap_or(false) {
            if let Ok(line) = self.files.line_index(file, offset) {
                let start = self.files.line_range(file, line).map_or(0, |r| r.start);
                return LineCol { line: line + 1, column: offset - start + 1 };
            }
        }
        match self.files.location(file, offset) {
            Ok(loc) => LineCol { line: loc.line_number, column: loc.column_number },
            Err(_) => LineCol { line: 1, column: 1 },
        }
    }
}
