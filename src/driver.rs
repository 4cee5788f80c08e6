//! The pipeline of one compilation: read the root file and its imports,
//! parse each, check them together, and return the model with every
//! diagnostic found.

use crate::ast::{self, Item};
use crate::check;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ir;
use crate::source::{FileId, SourceMap, Span};
use crate::syntax;
use std::path::{Path, PathBuf};

pub struct Compilation {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    /// Present only when there are no errors.
    pub site: Option<ir::Site>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == crate::diagnostic::Severity::Error)
    }
}

/// Compiles the file at `path`. Only an unreadable root file is an `Err`;
/// everything else is a diagnostic.
pub fn compile_file(path: &Path) -> std::io::Result<Compilation> {
    let text = std::fs::read_to_string(path)?;
    Ok(compile_source(&path.display().to_string(), &text))
}

/// Compiles source text named `name`; imports are read relative to `name`.
pub fn compile_source(name: &str, text: &str) -> Compilation {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::default();
    let mut files = Vec::new();
    let root = sources.add(name, text);
    let mut loader =
        Loader { sources: &mut sources, diags: &mut diags, files: &mut files, stack: Vec::new(), loaded: Vec::new() };
    loader.load(root, PathBuf::from(name));
    let site = check::check(&files, &sources, &mut diags);
    Compilation { sources, diagnostics: diags.into_sorted(), site }
}

struct Loader<'a> {
    sources: &'a mut SourceMap,
    diags: &'a mut Diagnostics,
    files: &'a mut Vec<ast::File>,
    /// Files being read, for cycle detection.
    stack: Vec<PathBuf>,
    /// Files read already: a file imported twice (a diamond) is read once.
    loaded: Vec<PathBuf>,
}

impl Loader<'_> {
    fn load(&mut self, file: FileId, path: PathBuf) {
        let key = std::fs::canonicalize(&path).unwrap_or(path.clone());
        self.stack.push(key.clone());
        self.loaded.push(key);
        let text = self.sources.text(file).to_string();
        let parsed = syntax::parse(file, &text, self.diags);
        let imports: Vec<(String, Span)> = parsed
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Import { path, span } => Some((path.clone(), *span)),
                _ => None,
            })
            .collect();
        for (rel, span) in imports {
            let target = path.parent().unwrap_or(Path::new("")).join(&rel);
            let key = std::fs::canonicalize(&target).unwrap_or(target.clone());
            if self.stack.contains(&key) {
                self.diags.push(
                    Diagnostic::new(Code::ImportCycle, span, format!("importing `{rel}` closes a cycle"))
                        .label("this file is already being imported")
                        .help("move the shared definitions to a file that both import"),
                );
                continue;
            }
            if self.loaded.contains(&key) {
                continue;
            }
            match std::fs::read_to_string(&target) {
                Ok(text) => {
                    let id = self.sources.add(target.display().to_string(), text);
                    self.load(id, target);
                }
                Err(e) => self.diags.push(
                    Diagnostic::new(Code::ImportUnreadable, span, format!("cannot read `{rel}`"))
                        .label(e.to_string().to_lowercase())
                        .help(format!("the path is relative to the importing file: `{}`", target.display())),
                ),
            }
        }
        // Imported definitions come before the importer's, as if written at
        // the top of it: a duplicate is then reported in the importer.
        self.files.push(parsed);
        self.stack.pop();
    }
}
