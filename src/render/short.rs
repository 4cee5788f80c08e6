//! `file:line:col: severity[CODE]: message`, one line each: the format of
//! Vim's quickfix list and of editor problem matchers.

use crate::diagnostic::Diagnostic;
use crate::source::SourceMap;
use std::fmt::Write;

pub fn short(diagnostics: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let span = d.primary.span;
        let at = sources.line_col(span.file, span.start);
        let message = d.message.replace('\n', " ");
        let _ = writeln!(
            out,
            "{}:{}:{}: {}[{}]: {}",
            sources.name(span.file),
            at.line,
            at.column,
            d.severity.as_str(),
            d.code,
            message
        );
    }
    out
}
