//! One JSON object per line and diagnostic, for tools.

use crate::diagnostic::{Diagnostic, Label};
use crate::source::SourceMap;
use serde::Serialize;

#[derive(Serialize)]
struct Line<'a> {
    severity: &'static str,
    code: &'static str,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    help: Option<&'a str>,
    labels: Vec<JsonLabel<'a>>,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    primary: bool,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

fn label<'a>(l: &'a Label, primary: bool, sources: &'a SourceMap) -> JsonLabel<'a> {
    let start = sources.line_col(l.span.file, l.span.start);
    let end = sources.line_col(l.span.file, l.span.end);
    JsonLabel {
        primary,
        message: &l.message,
        file: sources.name(l.span.file),
        line: start.line,
        column: start.column,
        end_line: end.line,
        end_column: end.column,
    }
}

pub fn json(diagnostics: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let primary = label(&d.primary, true, sources);
        let mut labels = vec![label(&d.primary, true, sources)];
        labels.extend(d.secondary.iter().map(|l| label(l, false, sources)));
        let line = Line {
            severity: d.severity.as_str(),
            code: d.code.as_str(),
            message: &d.message,
            file: primary.file,
            line: primary.line,
            column: primary.column,
            end_line: primary.end_line,
            end_column: primary.end_column,
            help: d.help.as_deref(),
            labels,
        };
        out.push_str(&serde_json::to_string(&line).unwrap_or_default());
        out.push('\n');
    }
    out
}
