//! The pipeline of one compilation: read the root file and its imports,
//! parse each, check them together, lower the model for its targets, and
//! return the plan with every diagnostic found (a target the site does not
//! fit is one).

use crate::ast::{self, Item};
use crate::check;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::input;
use crate::ir;
use crate::lower::{self, linux::Overflow, Plan, Target};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax;
use std::path::{Path, PathBuf};

pub struct Compilation {
    pub sources: SourceMap,
    /// The syntax trees, in the order they were checked: each import
    /// before its importer (their spans name their files in `sources`).
    pub files: Vec<ast::File>,
    pub diagnostics: Vec<Diagnostic>,
    /// The lowered site, present only when there are no errors.
    pub plan: Option<Plan>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == crate::diagnostic::Severity::Error)
    }

    /// The checked model, present only when there are no errors.
    pub fn site(&self) -> Option<&ir::Site> {
        self.plan.as_ref().map(|p| &p.site)
    }
}

/// Compiles the file at `path` for every target. Only an unreadable root
/// file is an `Err`; everything else is a diagnostic.
pub fn compile_file(path: &Path) -> Result<Compilation, input::ReadError> {
    compile_file_for(path, &Target::ALL)
}

/// Compiles the file at `path`, holding the site to the limits of `targets`.
pub fn compile_file_for(path: &Path, targets: &[Target]) -> Result<Compilation, input::ReadError> {
    let text = input::read_text(path, input::SOURCE)?;
    Ok(compile_source_for(&path.display().to_string(), &text, targets))
}

/// Compiles source text named `name` for every target; imports are read
/// relative to `name`.
pub fn compile_source(name: &str, text: &str) -> Compilation {
    compile_source_for(name, text, &Target::ALL)
}

pub fn compile_source_for(name: &str, text: &str, targets: &[Target]) -> Compilation {
    compile_source_with(name, text, targets, &|_| None)
}

/// Compiles source text named `name`, taking an import's text from
/// `open` when it has it (an editor's unsaved buffer) and from the disk
/// otherwise.
pub fn compile_source_with(name: &str, text: &str, targets: &[Target], open: &dyn Fn(&Path) -> Option<String>) -> Compilation {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::default();
    let mut files = Vec::new();
    let root = sources.add(name, text);
    let mut loader =
        Loader { sources: &mut sources, diags: &mut diags, files: &mut files, stack: Vec::new(), loaded: Vec::new(), open };
    loader.load(root, PathBuf::from(name));
    let plan = check::check(&files, &sources, &mut diags).map(lower::lower);
    let plan = plan.filter(|plan| fits(plan, targets, &files, &mut diags));
    Compilation { sources, files, diagnostics: diags.into_sorted(), plan }
}

/// Whether the lowered site fits every target's limits; reports why not.
fn fits(plan: &Plan, targets: &[Target], files: &[ast::File], diags: &mut Diagnostics) -> bool {
    let openbsd = !targets.contains(&Target::Openbsd) || (openbsd_nat(plan, files, diags) & openbsd_timing(plan, files, diags));
    if !targets.contains(&Target::Linux) {
        return openbsd;
    }
    linux_fits(plan, files, diags) && openbsd
}

/// pf names a learned address by its interface: `(IF:0)`, the first
/// address of the family, is the lease's for IPv4, but for IPv6 it may be
/// the link-local one, so no form names the address NAT must translate to.
fn openbsd_nat(plan: &Plan, files: &[ast::File], diags: &mut Diagnostics) -> bool {
    let mut fits = true;
    for up in &plan.site.uplinks {
        if !up.nat.iter().any(|n| n.to == ir::Address::Learned(ir::Family::V6)) {
            continue;
        }
        let Some(written) = uplinks(files).find(|u| u.name.name == up.name) else { continue };
        let Some(nat) = written.nats.iter().find(|n| n.to.is_none()) else { continue };
        diags.push(
            Diagnostic::new(Code::OpenbsdLearned, nat.span, "`nat` to a learned IPv6 address is not supported on OpenBSD")
                .label(format!("uplink `{}` learns its IPv6 address", up.name))
                .help("give the IPv6 address itself, or build for `--target linux` only"),
        );
        fits = false;
    }
    fits
}

/// ifstated kills a test still running when the next run is due, and the
/// tools it runs count in whole seconds: each check's round must fit its
/// period as `lower::openbsd` computes them (E0501, which the checker
/// holds to the agent's timing).
fn openbsd_timing(plan: &Plan, files: &[ast::File], diags: &mut Diagnostics) -> bool {
    let mut fits = true;
    for up in &plan.site.uplinks {
        let Some(written) = uplinks(files).find(|u| u.name.name == up.name) else { continue };
        // A clean check keeps every check of an uplink, in written order.
        for (check, span) in up.checks.iter().zip(written.checks.iter().map(|c| c.span)) {
            let t = lower::openbsd::timing(check);
            if !t.overlaps() {
                continue;
            }
            let what = match check.probe {
                ir::Probe::Ping { .. } => {
                    "ping sends a request every `timeout`, then waits `timeout` in whole seconds (twice the slowest reply, when some came)"
                }
                ir::Probe::Plugin { .. } => "each attempt may take `timeout`",
                _ => "each attempt may take `timeout` rounded up to whole seconds",
            };
            diags.push(
                Diagnostic::new(Code::CheckOverlap, span, "check timing overlaps itself on OpenBSD")
                    .label(format!("a round can take {} ≥ every {}s on OpenBSD", crate::duration::format(t.round_ms), t.every_s))
                    .help(format!(
                        "on OpenBSD {what}, and ifstated kills a test still running when it is due again; \
                         lengthen `every`, or lower `count` or `timeout`, or build for `--target linux` only"
                    )),
            );
            fits = false;
        }
    }
    fits
}

fn uplinks(files: &[ast::File]) -> impl Iterator<Item = &ast::Uplink> {
    files.iter().flat_map(|f| &f.items).filter_map(|i| match i {
        Item::Uplink(u) => Some(u),
        _ => None,
    })
}

fn linux_fits(plan: &Plan, files: &[ast::File], diags: &mut Diagnostics) -> bool {
    // Linux routes a server's replies by `ip rule`s that setup writes once,
    // for every state: a `serve` of a state's own would hold in all of them.
    let state_serves = files
        .iter()
        .flat_map(|f| &f.items)
        .filter_map(|i| match i {
            Item::State(s) => Some(s),
            _ => None,
        })
        .flat_map(|s| s.policies.iter().flat_map(|p| &p.rules).map(move |r| (s, r)))
        .filter(|(_, r)| matches!(r.kind, ast::RuleKind::Serve { .. }));
    let mut fits = true;
    for (state, rule) in state_serves {
        diags.push(
            Diagnostic::new(Code::LinuxStateServe, rule.span, "a state's own `serve` is not supported on Linux")
                .label(format!("in the policy of state `{}`", state.name.name))
                .help("declare the `serve` in the site's policy, or build for `--target openbsd` only"),
        );
        fits = false;
    }
    let Err(overflow) = &plan.linux else { return fits };
    let uplinks: Vec<&ast::Uplink> = uplinks(files).collect();
    let span_of = |name: &str| uplinks.iter().find(|u| u.name.name == name).map(|u| u.name.span).unwrap_or_default();
    let diagnostic = match overflow {
        Overflow::Weight { uplink, reduced } => {
            let up = &plan.site.uplinks[*uplink];
            Diagnostic::new(
                Code::LinuxWeight,
                span_of(&up.name),
                format!("`{}` weighs {reduced} shares in a multipath route, Linux takes at most 256", up.name),
            )
            .label(format!("its weight is {}", up.weight))
            .help("use smaller weights in the multipath list, or `balance(…)`; see `wanc explain E0603`")
        }
        other => {
            let last = plan.site.uplinks.last().map(|u| span_of(&u.name)).unwrap_or_default();
            Diagnostic::new(Code::LinuxLimits, last, format!("the site does not fit Linux's numbers: {other}"))
                .label("one uplink too many, or the last of them")
                .help("see `wanc explain E0602` for the limits, or build for `--target openbsd` only")
        }
    };
    diags.push(diagnostic);
    false
}

struct Loader<'a> {
    sources: &'a mut SourceMap,
    diags: &'a mut Diagnostics,
    files: &'a mut Vec<ast::File>,
    /// Files being read, for cycle detection.
    stack: Vec<PathBuf>,
    /// Files read already: a file imported twice (a diamond) is read once.
    loaded: Vec<PathBuf>,
    /// Texts that stand in for files on disk.
    open: &'a dyn Fn(&Path) -> Option<String>,
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
            match (self.open)(&target).map_or_else(|| input::read_text(&target, input::SOURCE), Ok) {
                Ok(text) => {
                    let id = self.sources.add(target.display().to_string(), text);
                    self.load(id, target);
                }
                Err(e) => self.diags.push(
                    Diagnostic::new(Code::ImportUnreadable, span, format!("cannot read `{rel}`"))
                        .label(e.to_string())
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
