//! The compiler's diagnostics as LSP diagnostics: the code, a link to its
//! explanation, the secondary labels as related information.

use super::position::Lines;
use super::workspace::Analysis;
use crate::diagnostic::{self, Severity};
use crate::source::FileId;
use lsp_types::{CodeDescription, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Url};
use std::path::Path;

/// Where a code's explanation is linked to: `docs/codes.md`, which holds
/// what `wanc explain CODE` prints with an anchor per code (`#e0301`), as
/// the Debian package installs it, or else in the source tree wanc was
/// built from. `wanc explain` is a command, not a place a client can open.
pub fn codes_page() -> Option<Url> {
    let installed = Path::new("/usr/share/doc/wanc/codes.md");
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/codes.md");
    let page = [installed, built.as_path()].into_iter().find(|p| p.is_file())?;
    Url::from_file_path(page).ok()
}

/// The diagnostics of one file of a compilation.
pub fn of_file(analysis: &Analysis, file: FileId, codes: Option<&Url>) -> Vec<lsp_types::Diagnostic> {
    let lines: Vec<Lines> = (0..analysis.file_count()).map(|f| Lines::new(analysis.text(f))).collect();
    analysis
        .compilation
        .diagnostics
        .iter()
        .filter(|d| d.primary.span.file == file)
        .map(|d| convert(d, analysis, &lines, codes))
        .collect()
}

fn convert(d: &diagnostic::Diagnostic, analysis: &Analysis, lines: &[Lines], codes: Option<&Url>) -> lsp_types::Diagnostic {
    let range = |span: crate::source::Span| lines.get(span.file).map(|l| l.range(span.start, span.end)).unwrap_or_default();
    let mut message = d.message.clone();
    if !d.primary.message.is_empty() {
        message = format!("{message}\n{}", d.primary.message);
    }
    if let Some(help) = &d.help {
        message = format!("{message}\nhelp: {help}");
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .filter_map(|label| {
            let uri = analysis.uri(label.span.file)?.clone();
            Some(DiagnosticRelatedInformation { location: Location::new(uri, range(label.span)), message: label.message.clone() })
        })
        .collect();
    let href = codes.map(|page| {
        let mut href = page.clone();
        href.set_fragment(Some(&d.code.as_str().to_lowercase()));
        CodeDescription { href }
    });
    lsp_types::Diagnostic {
        range: range(d.primary.span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Note => DiagnosticSeverity::INFORMATION,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        code_description: href,
        source: Some("wanc".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    }
}
