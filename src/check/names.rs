//! The one namespace of a site: uplinks, lans, hosts, constants, plugins and
//! states. Duplicates are E0102 with the first definition as second label.

use crate::ast::{self, Ident, Item};
use crate::codes::Code;
use crate::diagnostic::{suggest, Diagnostic, Diagnostics};
use crate::source::Span;
use std::collections::HashMap;

pub use crate::ast::Kind;

#[derive(Clone, Copy, Debug)]
pub struct Symbol {
    pub kind: Kind,
    /// Index among the items of its kind, in declaration order.
    pub index: usize,
    pub span: Span,
}

/// The items of all files, grouped by kind, in declaration order.
#[derive(Default)]
pub struct Items<'a> {
    pub site: Option<(&'a str, Span)>,
    pub consts: Vec<(&'a Ident, &'a ast::Value)>,
    pub hosts: Vec<(&'a Ident, &'a ast::Value)>,
    pub lans: Vec<&'a ast::Lan>,
    pub uplinks: Vec<&'a ast::Uplink>,
    pub plugins: Vec<(&'a Ident, &'a str, Span)>,
    pub policies: Vec<&'a ast::Policy>,
    pub states: Vec<&'a ast::State>,
}

pub struct Names {
    map: HashMap<String, Symbol>,
}

impl Names {
    pub fn collect<'a>(files: &'a [ast::File], diags: &mut Diagnostics) -> (Names, Items<'a>) {
        let mut items = Items::default();
        let mut names = Names { map: HashMap::new() };
        for file in files {
            for item in &file.items {
                let (kind, ident, index) = match item {
                    Item::Site { name, span } => {
                        match items.site {
                            Some((_, first)) => diags.push(
                                Diagnostic::new(Code::DuplicateName, *span, "the site is named twice")
                                    .label("second `site`")
                                    .with(first, "first named here")
                                    .help("a site has one name; keep one `site` line"),
                            ),
                            None => {
                                if !crate::validate::site_name(name) {
                                    diags.push(
                                        Diagnostic::new(
                                            Code::InvalidSiteName,
                                            *span,
                                            format!("`{name}` is not a valid site name"),
                                        )
                                        .label("names the output files")
                                        .help("a site name is 1 to 64 letters, digits, `_`, `.` or `-`, not starting with `.`"),
                                    );
                                }
                                items.site = Some((name.as_str(), *span));
                            }
                        }
                        continue;
                    }
                    Item::Import { .. } => continue,
                    Item::Const { name, value } => {
                        items.consts.push((name, value));
                        (Kind::Const, name, items.consts.len() - 1)
                    }
                    Item::Host { name, value } => {
                        items.hosts.push((name, value));
                        (Kind::Host, name, items.hosts.len() - 1)
                    }
                    Item::Lan(lan) => {
                        items.lans.push(lan);
                        (Kind::Lan, &lan.name, items.lans.len() - 1)
                    }
                    Item::Uplink(up) => {
                        items.uplinks.push(up);
                        (Kind::Uplink, &up.name, items.uplinks.len() - 1)
                    }
                    Item::Plugin { name, path, path_span } => {
                        items.plugins.push((name, path.as_str(), *path_span));
                        (Kind::Plugin, name, items.plugins.len() - 1)
                    }
                    Item::Policy(policy) => {
                        items.policies.push(policy);
                        continue;
                    }
                    Item::State(state) => {
                        items.states.push(state);
                        (Kind::State, &state.name, items.states.len() - 1)
                    }
                };
                names.define(kind, ident, index, diags);
            }
        }
        (names, items)
    }

    fn define(&mut self, kind: Kind, ident: &Ident, index: usize, diags: &mut Diagnostics) {
        if ident.name.len() > crate::validate::NAME_LEN {
            diags.push(
                Diagnostic::new(
                    Code::NameTooLong,
                    ident.span,
                    format!("{} {} name is longer than {} characters", kind.article(), kind.noun(), crate::validate::NAME_LEN),
                )
                .label(format!("{} characters", ident.name.len()))
                .help("names become pf labels and macros, ifstated states and file names, which hold 63 characters; shorten it"),
            );
        }
        if let Some(first) = self.map.get(&ident.name) {
            diags.push(
                Diagnostic::new(Code::DuplicateName, ident.span, format!("`{}` is defined twice", ident.name))
                    .label(format!("{} {} named `{}` again", kind.article(), kind.noun(), ident.name))
                    .with(first.span, format!("first defined here, as {} {}", first.kind.article(), first.kind.noun()))
                    .help("uplinks, lans, hosts, constants, plugins and states share one namespace; rename one of them"),
            );
            return;
        }
        self.map.insert(ident.name.clone(), Symbol { kind, index, span: ident.span });
    }

    pub fn get(&self, name: &str) -> Option<Symbol> {
        self.map.get(name).copied()
    }

    /// Resolves `ident` to an item of one of `kinds`, reporting E0101 (with a
    /// suggestion among names of those kinds) or E0103.
    pub fn expect(&self, ident: &Ident, kinds: &[Kind], diags: &mut Diagnostics) -> Option<Symbol> {
        let wanted = describe_kinds(kinds);
        match self.get(&ident.name) {
            Some(sym) if kinds.contains(&sym.kind) => Some(sym),
            Some(sym) => {
                diags.push(
                    Diagnostic::new(
                        Code::WrongKind,
                        ident.span,
                        format!("`{}` is {} {}, not {}", ident.name, sym.kind.article(), sym.kind.noun(), wanted),
                    )
                    .label(format!("expected {wanted}"))
                    .with(sym.span, format!("`{}` is defined here", ident.name))
                    .help(self.hint(&ident.name, kinds).unwrap_or_else(|| format!("name {wanted} here"))),
                );
                None
            }
            None => {
                let mut d =
                    Diagnostic::new(Code::UnknownName, ident.span, format!("unknown {} `{}`", noun_of(kinds), ident.name))
                        .label(format!("no {} of this name", noun_of(kinds)));
                d = match self.hint(&ident.name, kinds) {
                    Some(h) => d.help(h),
                    None => d.help(format!("define it, or name one of: {}", self.list(kinds))),
                };
                diags.push(d);
                None
            }
        }
    }

    fn hint(&self, name: &str, kinds: &[Kind]) -> Option<String> {
        let candidates = self.map.iter().filter(|(_, s)| kinds.contains(&s.kind)).map(|(n, _)| n.as_str());
        suggest(name, candidates).map(|s| format!("did you mean `{s}`?"))
    }

    fn list(&self, kinds: &[Kind]) -> String {
        let mut names: Vec<(&Span, &str)> =
            self.map.iter().filter(|(_, s)| kinds.contains(&s.kind)).map(|(n, s)| (&s.span, n.as_str())).collect();
        names.sort_by_key(|(span, _)| (span.file, span.start));
        if names.is_empty() {
            return format!("(no {} is defined)", noun_of(kinds));
        }
        names.iter().take(8).map(|(_, n)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    }
}

fn noun_of(kinds: &[Kind]) -> &'static str {
    match kinds {
        [k] => k.noun(),
        [Kind::Const, Kind::Host] => "host or constant",
        _ => "name",
    }
}

fn describe_kinds(kinds: &[Kind]) -> String {
    let words: Vec<String> = kinds.iter().map(|k| format!("{} {}", k.article(), k.noun())).collect();
    match words.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {}", rest.join(", "), last),
        None => "a name".into(),
    }
}
