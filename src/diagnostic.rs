//! The one diagnostic model. Every stage reports into a `Diagnostics` list;
//! the renderers in `render/` turn it into text (miette), short lines or JSON.

use crate::codes::Code;
use crate::source::Span;

// A severity belongs to a code (`E…` or `W…`): the codes define it.
pub use crate::codes::Severity;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// The primary label: where the problem is.
    pub primary: Label,
    /// Other places involved, such as the first definition of a duplicate.
    pub secondary: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            primary: Label { span, message: String::new() },
            secondary: Vec::new(),
            help: None,
        }
    }

    /// The text under the primary caret.
    pub fn label(mut self, message: impl Into<String>) -> Diagnostic {
        self.primary.message = message.into();
        self
    }

    pub fn with(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label { span, message: message.into() });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// All diagnostics of one run, in the order they were found. Reporting the
/// same code at the same place twice keeps one: recovery may meet a problem
/// from two directions, and the user should see it once.
#[derive(Default, Debug)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    /// The code and place of each in `list`: a set, so that tens of
    /// thousands of diagnostics are collected in linear time.
    seen: std::collections::HashSet<(Code, Span)>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        if self.seen.insert((diagnostic.code, diagnostic.primary.span)) {
            self.list.push(diagnostic);
        }
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.list.iter().filter(|d| d.severity == Severity::Error).count()
    }

    pub fn warning_count(&self) -> usize {
        self.list.iter().filter(|d| d.severity == Severity::Warning).count()
    }

    /// Sorted by file and position, the order a reader walks the source in.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.list.sort_by_key(|d| (d.primary.span.file, d.primary.span.start, d.code));
        self.list
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter()
    }
}

/// "did you mean" for an unknown name: the closest candidate, if close enough.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= (name.len().max(c.len()) / 3).max(1) && *d > 0)
        // Ties go to the first name in order, not the first met: candidates
        // may come from a hash map, and the report must not change between
        // runs.
        .min_by_key(|&(d, c)| (d, c))
        .map(|(_, c)| c)
}
