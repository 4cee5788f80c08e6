//! The open documents and what the compiler makes of them.
//!
//! Every open document is compiled as the root of a site, its imports taken
//! from the other open documents or else from the disk; a site is small and
//! a compilation quick, so all are compiled again after any change. A file
//! belongs to the first site that imports it (documents in URI order): its
//! diagnostics and its names are that site's, so that a file of uplinks
//! imported by a site is not reported alone as a site without a policy.

use crate::driver::{self, Compilation};
use crate::lower::Target;
use crate::source::FileId;
use crate::symbols::Index;
use lsp_types::Url;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

pub struct Document {
    pub text: String,
    pub version: i32,
    path: PathBuf,
}

/// One compilation with a document as its root.
pub struct Analysis {
    pub compilation: Compilation,
    pub index: Index,
    /// Per file of the compilation, its path (made absolute and normal)
    /// and URI; the root's is the document's own.
    files: Vec<(PathBuf, Option<Url>)>,
}

impl Analysis {
    pub fn file_of(&self, path: &Path) -> Option<FileId> {
        self.files.iter().position(|(p, _)| p == path)
    }

    pub fn uri(&self, file: FileId) -> Option<&Url> {
        self.files.get(file).and_then(|(_, uri)| uri.as_ref())
    }

    pub fn path(&self, file: FileId) -> Option<&Path> {
        self.files.get(file).map(|(p, _)| p.as_path())
    }

    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    pub fn text(&self, file: FileId) -> &str {
        self.compilation.sources.text(file)
    }
}

#[derive(Default)]
pub struct Workspace {
    documents: BTreeMap<Url, Document>,
    analyses: Vec<Analysis>,
}

impl Workspace {
    pub fn open(&mut self, uri: Url, text: String, version: i32) {
        let path = path_of(&uri);
        self.documents.insert(uri, Document { text, version, path });
        self.analyse();
    }

    /// Replaces a document's text; `false` when it is not open.
    pub fn change(&mut self, uri: &Url, text: String, version: i32) -> bool {
        let Some(doc) = self.documents.get_mut(uri) else { return false };
        doc.text = text;
        doc.version = version;
        self.analyse();
        true
    }

    pub fn close(&mut self, uri: &Url) {
        self.documents.remove(uri);
        self.analyse();
    }

    /// Compiles everything again: a file on disk that a site imports may
    /// have changed (a save).
    pub fn refresh(&mut self) {
        self.analyse();
    }

    pub fn document(&self, uri: &Url) -> Option<&Document> {
        self.documents.get(uri)
    }

    fn analyse(&mut self) {
        let documents = &self.documents;
        let open = |path: &Path| {
            let path = normal(path);
            documents.values().find(|d| d.path == path).map(|d| d.text.clone())
        };
        self.analyses = documents
            .iter()
            .map(|(uri, doc)| {
                let compilation = driver::compile_source_with(&doc.path.to_string_lossy(), &doc.text, &Target::ALL, &open);
                let index = Index::build(&compilation.files);
                let files = (0..compilation.sources.len())
                    .map(|f| match f {
                        0 => (doc.path.clone(), Some(uri.clone())),
                        _ => {
                            let path = normal(Path::new(compilation.sources.name(f)));
                            let uri = Url::from_file_path(&path).ok();
                            (path, uri)
                        }
                    })
                    .collect();
                Analysis { compilation, index, files }
            })
            .collect();
    }

    /// The analysis a file belongs to: the first whose root imports it,
    /// or else its own (a root, or a file in a cycle of imports).
    pub fn owner(&self, path: &Path) -> Option<&Analysis> {
        let imports = |a: &&Analysis| a.files.iter().skip(1).any(|(p, _)| p == path);
        let roots = || self.analyses.iter().filter(|a| !self.imported(a));
        roots().find(imports).or_else(|| self.analyses.iter().find(|a| a.files[0].0 == path))
    }

    /// The analysis a document belongs to.
    pub fn analysis(&self, uri: &Url) -> Option<&Analysis> {
        self.owner(&self.documents.get(uri)?.path)
    }

    /// Every site that includes the file at `path`, or else the file's
    /// own analysis (in a cycle of imports every root is imported).
    pub fn sites_with(&self, path: &Path) -> Vec<&Analysis> {
        let sites: Vec<&Analysis> = self.analyses.iter().filter(|a| !self.imported(a) && a.file_of(path).is_some()).collect();
        match sites.is_empty() {
            true => self.owner(path).into_iter().collect(),
            false => sites,
        }
    }

    /// Whether another open document imports this analysis's root.
    fn imported(&self, analysis: &Analysis) -> bool {
        let root = &analysis.files[0].0;
        self.analyses.iter().any(|a| !std::ptr::eq(a, analysis) && a.files.iter().skip(1).any(|(p, _)| p == root))
    }

    /// Every file of every site, each once with the analysis it belongs
    /// to: what diagnostics are published for.
    pub fn files(&self) -> Vec<(Url, &Analysis, FileId)> {
        let mut out: Vec<(Url, &Analysis, FileId)> = Vec::new();
        for a in &self.analyses {
            for (path, uri) in &a.files {
                let Some(uri) = uri else { continue };
                if out.iter().any(|(u, _, _)| u == uri) {
                    continue;
                }
                if let Some(owner) = self.owner(path) {
                    if let Some(file) = owner.file_of(path) {
                        out.push((uri.clone(), owner, file));
                    }
                }
            }
        }
        out
    }
}

/// A document's path: its file path, or for another scheme its URI as a
/// name (imports are then read relative to nothing that exists).
pub fn path_of(uri: &Url) -> PathBuf {
    uri.to_file_path().map(|p| normal(&p)).unwrap_or_else(|_| PathBuf::from(uri.as_str()))
}

/// A path made absolute and without `.` or `..`, so that the same file
/// named two ways (`a/./b.wan`, `a/c/../b.wan`) is found once. Symbolic
/// links are not followed: an editor names the file it opened.
pub fn normal(path: &Path) -> PathBuf {
    let absolute = match path.is_absolute() {
        true => path.to_path_buf(),
        false => std::env::current_dir().unwrap_or_default().join(path),
    };
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: &str = "uplink isp1 { interface vr0\n gateway 192.0.2.1 }\n";
    const SITE: &str = "import \"lib.wan\"\npolicy { default via isp1 }\n";

    /// An import is read from the open buffer (here there is no file on
    /// the disk), and an imported file belongs to its importer's site.
    #[test]
    fn imports_come_from_open_buffers() {
        let lib = Url::parse("file:///nowhere/lib.wan").unwrap();
        let site = Url::parse("file:///nowhere/./site.wan").unwrap();
        let mut workspace = Workspace::default();
        workspace.open(site.clone(), SITE.into(), 1);
        let unreadable = &workspace.analysis(&site).unwrap().compilation.diagnostics;
        assert_eq!(unreadable.iter().map(|d| d.code.as_str()).collect::<Vec<_>>(), ["E0004", "E0101"]);
        workspace.open(lib.clone(), LIB.into(), 1);
        let analysis = workspace.analysis(&site).unwrap();
        assert!(analysis.compilation.site().is_some(), "{:?}", analysis.compilation.diagnostics);
        // lib.wan alone would be a site without a policy; it is site.wan's.
        assert!(std::ptr::eq(workspace.analysis(&lib).unwrap(), analysis));
        let files: Vec<String> = workspace.files().into_iter().map(|(uri, _, _)| uri.to_string()).collect();
        assert_eq!(files, ["file:///nowhere/lib.wan", "file:///nowhere/site.wan"]);
        // Closed, the import is read from the disk again, and not found.
        workspace.close(&lib);
        assert!(workspace.analysis(&site).unwrap().compilation.has_errors());
    }
}
