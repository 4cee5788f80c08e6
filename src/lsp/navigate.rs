//! Go to definition, find references, rename and a file's outline, across imports and
//! across the sites open together (a file of uplinks imported by two sites
//! is renamed in both).

use super::position::Lines;
use super::workspace::{Analysis, Workspace};
use super::Failure;
use crate::ast::Kind;
use crate::source::{FileId, Span};
use lsp_types::{DocumentSymbol, Location, SymbolKind, TextEdit, Url, WorkspaceEdit};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

/// A definition, named by its file's path so that every site that
/// includes the file finds the same one.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    name: String,
    path: PathBuf,
    span: (usize, usize),
}

/// The definition the name at `offset` refers to, if it has one.
pub fn target(analysis: &Analysis, file: FileId, offset: usize) -> Option<Target> {
    let at = analysis.index.at(file, offset)?;
    let def = analysis.index.definition(at.name)?;
    Some(Target {
        name: def.name.clone(),
        path: analysis.path(def.span.file)?.to_path_buf(),
        span: (def.span.start, def.span.end),
    })
}

/// The range of the name at `offset` (what a rename would change).
pub fn name_range(analysis: &Analysis, file: FileId, offset: usize) -> Option<lsp_types::Range> {
    let at = analysis.index.at(file, offset)?;
    Some(Lines::new(analysis.text(file)).range(at.span.start, at.span.end))
}

pub fn definition(analysis: &Analysis, target: &Target) -> Option<Location> {
    let file = analysis.file_of(&target.path)?;
    let uri = analysis.uri(file)?.clone();
    Some(Location::new(uri, Lines::new(analysis.text(file)).range(target.span.0, target.span.1)))
}

/// The items a file defines, for an editor's outline.
pub fn symbols(analysis: &Analysis, file: FileId) -> Vec<DocumentSymbol> {
    let lines = Lines::new(analysis.text(file));
    let symbols = analysis.index.definitions.iter().filter(|d| d.span.file == file);
    symbols
        .map(|d| {
            #[allow(deprecated)] // `deprecated` is a field LSP keeps, not one to set
            DocumentSymbol {
                name: d.name.clone(),
                detail: Some(d.kind.noun().to_string()),
                kind: match d.kind {
                    Kind::Const => SymbolKind::CONSTANT,
                    Kind::Host => SymbolKind::VARIABLE,
                    Kind::Lan => SymbolKind::NAMESPACE,
                    Kind::Uplink => SymbolKind::INTERFACE,
                    Kind::Plugin => SymbolKind::MODULE,
                    Kind::State => SymbolKind::ENUM_MEMBER,
                },
                tags: None,
                deprecated: None,
                range: lines.range(d.item.start, d.item.end),
                selection_range: lines.range(d.span.start, d.span.end),
                children: None,
            }
        })
        .collect()
}

/// Every place that names `target` (its definition too, if asked), in
/// every open site that includes the file defining it; each once.
pub fn occurrences(workspace: &Workspace, target: &Target, with_definition: bool) -> Vec<Location> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for analysis in workspace.sites_with(&target.path) {
        // Another site that includes the file may define the name before it.
        let Some(def) = analysis.index.definition(&target.name) else { continue };
        if analysis.path(def.span.file) != Some(target.path.as_path()) || (def.span.start, def.span.end) != target.span {
            continue;
        }
        let uses = analysis.index.uses_of(&target.name);
        let spans: Vec<Span> = with_definition.then_some(def.span).into_iter().chain(uses).collect();
        for span in spans {
            let (Some(path), Some(uri)) = (analysis.path(span.file), analysis.uri(span.file)) else { continue };
            if seen.insert((path.to_path_buf(), span.start, span.end)) {
                let range = Lines::new(analysis.text(span.file)).range(span.start, span.end);
                out.push(Location::new(uri.clone(), range));
            }
        }
    }
    out
}

/// The edits that rename `target` to `new`, refused when `new` is not a
/// name or already names something in a site that includes the file.
pub fn rename(workspace: &Workspace, target: &Target, new: &str) -> Result<WorkspaceEdit, Failure> {
    if !is_name(new) {
        return Err(Failure::failed(format!(
            "`{new}` is not a name: a letter or `_`, then letters, digits, `_` or `-`, at most {} characters, and not `dev`",
            crate::validate::NAME_LEN
        )));
    }
    for analysis in workspace.sites_with(&target.path) {
        if let Some(taken) = analysis.index.definition(new).filter(|_| new != target.name) {
            return Err(Failure::failed(format!(
                "`{new}` is already the name of {} {}",
                taken.kind.article(),
                taken.kind.noun()
            )));
        }
    }
    let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
    for location in occurrences(workspace, target, true) {
        changes.entry(location.uri).or_default().push(TextEdit::new(location.range, new.to_string()));
    }
    Ok(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() })
}

/// A name as the grammar reads one (`ident` in grammar/wan.pest), no
/// longer than names may be.
fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    let first = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && text != "dev"
        && text.len() <= crate::validate::NAME_LEN
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        for good in ["isp1", "_x", "a-b_c", "via"] {
            assert!(super::is_name(good), "{good}");
        }
        for bad in ["", "1a", "a b", "dev", "a.b", "é", &"a".repeat(64)] {
            assert!(!super::is_name(bad), "{bad}");
        }
    }
}
