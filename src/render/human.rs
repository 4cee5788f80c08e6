//! miette's graphical report. A label in another file than the primary one
//! (a duplicate first defined in an imported file) becomes a related report
//! with that file's source, so every label is shown in its own file.

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{SourceMap, Span};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use std::fmt;

struct Report {
    message: String,
    code: Option<String>,
    severity: miette::Severity,
    help: Option<String>,
    /// `None` when a labelled line is too long to show.
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code.as_ref().map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)))
    }
}

fn source_of(sources: &SourceMap, file: usize) -> Option<NamedSource<String>> {
    Some(NamedSource::new(sources.name(file), sources.text(file).to_string()))
}

/// Lines longer than this are not drawn: miette pads its underlines with a
/// format width, which panics past 65,535 columns, and a screen-wide line
/// would not be readable anyway.
const MAX_SHOWN_LINE: usize = 1000;

/// Whether every line `span` touches is short enough to draw.
fn drawable(sources: &SourceMap, span: Span) -> bool {
    sources.longest_line(span) <= MAX_SHOWN_LINE
}

fn labeled(span: Span, text: &str, primary: bool) -> LabeledSpan {
    let label = (!text.is_empty()).then(|| text.to_string());
    let len = span.end.saturating_sub(span.start);
    if primary {
        LabeledSpan::new_primary_with_span(label, (span.start, len))
    } else {
        LabeledSpan::new_with_span(label, (span.start, len))
    }
}

fn report(d: &Diagnostic, sources: &SourceMap) -> Report {
    let file = d.primary.span.file;
    if !std::iter::once(&d.primary).chain(&d.secondary).all(|l| drawable(sources, l.span)) {
        let at = sources.line_col(file, d.primary.span.start);
        return Report {
            message: format!("{} (at {}:{}:{}; the line is too long to show)", d.message, sources.name(file), at.line, at.column),
            code: Some(d.code.as_str().to_string()),
            severity: severity(d.severity),
            help: d.help.clone(),
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        };
    }
    let mut labels = vec![labeled(d.primary.span, &d.primary.message, true)];
    let mut related = Vec::new();
    for l in &d.secondary {
        if l.span.file == file {
            labels.push(labeled(l.span, &l.message, false));
        } else {
            related.push(Report {
                message: l.message.clone(),
                code: None,
                severity: miette::Severity::Advice,
                help: None,
                source: source_of(sources, l.span.file),
                labels: vec![labeled(l.span, "", true)],
                related: Vec::new(),
            });
        }
    }
    Report {
        message: d.message.clone(),
        code: Some(d.code.as_str().to_string()),
        severity: severity(d.severity),
        help: d.help.clone(),
        source: source_of(sources, file),
        labels,
        related,
    }
}

fn severity(severity: Severity) -> miette::Severity {
    match severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Note => miette::Severity::Advice,
    }
}

pub fn human(diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
    let mut out = String::new();
    for d in diagnostics {
        let _ = handler.render_report(&mut out, &report(d, sources));
        out.push('\n');
    }
    out
}
