//! Completion of names and keywords in context. The text being typed does
//! not parse yet, so the context is read from the text itself: the blocks
//! open around the cursor (`uplink x {`, `policy {`, `check … {`) and the
//! words of the statement before it (`default via isp1,` wants an uplink).

use crate::ast::Kind;
use crate::symbols::Index;
use lsp_types::{CompletionItem, CompletionItemKind};

const TOP: &[&str] = &["site", "import", "const", "host", "lan", "uplink", "plugin", "policy", "state"];
const UPLINK: &[&str] = &["interface", "address", "gateway", "network", "nat", "weight", "table", "check", "healthy", "on"];
const LAN: &[&str] = &["interface", "network"];
const POLICY: &[&str] = &["default", "route", "forward", "serve"];
const STATE: &[&str] = &["on", "policy"];
const ACTIONS: &[&str] = &["run", "notify", "flush"];
const CHECK_OPTIONS: &[&str] = &["every", "timeout", "count", "rise", "fall", "loss", "latency", "expect", "query"];
const PROBES: &[&str] = &["ping", "tcp", "http", "dns", "plugin"];
const ADDRESSES: &[Kind] = &[Kind::Lan, Kind::Host, Kind::Const];
const HOSTS: &[Kind] = &[Kind::Host, Kind::Const];
const UPLINKS: &[Kind] = &[Kind::Uplink];

/// What fits at `offset` of `text`, with the names of `index`.
pub fn complete(text: &str, offset: usize, index: &Index) -> Vec<CompletionItem> {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let word = before.len() - before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-').len();
    let Some(context) = Context::read(&before[..before.len() - word]) else { return Vec::new() };
    let (keywords, kinds) = context.wants();
    let names = kinds.iter().flat_map(|&kind| {
        index.names(kind).map(move |name| CompletionItem {
            label: name.to_string(),
            kind: Some(CompletionItemKind::VARIABLE),
            detail: Some(kind.noun().to_string()),
            ..CompletionItem::default()
        })
    });
    let keywords = keywords.iter().map(|k| CompletionItem {
        label: k.to_string(),
        kind: Some(CompletionItemKind::KEYWORD),
        ..CompletionItem::default()
    });
    names.chain(keywords).collect()
}

/// The block the cursor is in (the first word of the statement that opened
/// it) and the words of the statement before the cursor.
struct Context<'a> {
    block: Option<&'a str>,
    statement: Vec<&'a str>,
}

impl<'a> Context<'a> {
    /// `None` in a comment or a string, where nothing is completed.
    fn read(text: &'a str) -> Option<Context<'a>> {
        let mut blocks: Vec<Option<&str>> = Vec::new();
        let mut statement: Vec<&str> = Vec::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let len = match c {
                '#' => rest.find('\n')?,
                '"' => match rest[1..].find(['"', '\n']) {
                    Some(end) if rest[1 + end..].starts_with('"') => end + 2,
                    _ => return None,
                },
                '{' => {
                    blocks.push(statement.first().copied());
                    statement.clear();
                    1
                }
                '}' => {
                    blocks.pop();
                    statement.clear();
                    1
                }
                '\n' | ';' => {
                    statement.clear();
                    1
                }
                c if c.is_ascii_alphanumeric() || c == '_' => {
                    let end = rest
                        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | '%')))
                        .unwrap_or(rest.len());
                    statement.push(&rest[..end]);
                    end
                }
                c if c.is_whitespace() || c == '\\' => c.len_utf8(),
                c => {
                    statement.push(&rest[..c.len_utf8()]);
                    c.len_utf8()
                }
            };
            rest = &rest[len..];
        }
        Some(Context { block: blocks.last().copied().flatten(), statement })
    }

    /// The keywords and the kinds of name that fit.
    fn wants(&self) -> (&'static [&'static str], &'static [Kind]) {
        let words = &self.statement;
        let last = words.last().copied();
        if let Some(via) = words.iter().rposition(|w| *w == "via") {
            return match via + 1 == words.len() {
                true => (&["balance", "multipath"], UPLINKS),
                false => (&[], UPLINKS),
            };
        }
        match (self.block, words.first().copied(), last) {
            (Some("check"), ..) => (CHECK_OPTIONS, &[]),
            (None, None, _) => (TOP, &[]),
            (Some("uplink"), None, _) => (UPLINK, &[]),
            (Some("lan"), None, _) => (LAN, &[]),
            (Some("policy"), None, _) => (POLICY, &[]),
            (Some("state"), None, _) => (STATE, &[]),
            (Some("on"), None, _) => (ACTIONS, &[]),
            (Some(_), None, _) => (&[], ADDRESSES),
            (_, Some("state"), _) if words.contains(&"when") => (&["any", "all", "count"], UPLINKS),
            (_, Some("state"), _) if words.len() == 2 => (&["when", "default"], &[]),
            (_, Some("healthy"), Some("healthy")) => (&["when"], &[]),
            (_, Some("healthy"), Some("when")) => (&["all", "any"], &[]),
            (_, Some("flush"), Some("flush")) => (&["states"], &[]),
            (_, Some("flush"), _) => (&[], UPLINKS),
            (_, Some("check"), Some("check")) => (PROBES, &[]),
            (_, Some("check"), Some("plugin")) => (&[], &[Kind::Plugin]),
            (_, Some("check"), Some("ping" | "dns" | "tcp")) => (&[], HOSTS),
            (Some("uplink"), Some("on"), Some("on")) => (&["up", "down"], &[]),
            (Some("state"), Some("on"), Some("on")) => (&["enter", "exit"], &[]),
            (_, Some("address"), Some("address")) => (&["auto"], &[]),
            (_, Some("gateway"), Some("gateway")) => (&["auto", "dev"], &[]),
            (_, Some("auto"), _) | (_, Some("address" | "gateway"), Some("auto")) => (&["ipv4", "ipv6"], &[]),
            (_, Some("nat"), Some("nat")) => (&["from", "to"], &[]),
            (_, Some("default"), Some("default")) => (&["via"], &[]),
            (_, Some("forward" | "serve"), Some("on")) => (&[], UPLINKS),
            (_, Some("route" | "nat" | "forward"), Some("from" | "to")) => (&[], ADDRESSES),
            (_, Some("route"), _) => (&["from", "to", "port", "proto", "via"], &[]),
            _ => (&[], &[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Diagnostics;

    const SITE: &str =
        "host www = 192.0.2.80\nlan inside { interface vr1 }\nuplink isp1 { interface vr0 }\nuplink isp2 { interface vr2 }\n";

    fn labels(text: &str) -> Vec<String> {
        let mut diags = Diagnostics::default();
        let index = Index::build(&[crate::syntax::parse(0, SITE, &mut diags)]);
        complete(text, text.len(), &index).into_iter().map(|c| c.label).collect()
    }

    #[test]
    fn names_and_keywords_in_context() {
        assert_eq!(labels("policy {\n  default via "), ["isp1", "isp2", "balance", "multipath"]);
        assert_eq!(labels("policy {\n  default via isp1, i"), ["isp1", "isp2"]);
        assert_eq!(labels("policy { route from inside via balance(isp1, "), ["isp1", "isp2"]);
        assert_eq!(labels("policy {\n  route from "), ["inside", "www"]);
        assert_eq!(labels("uplink x {\n  interface em0\n  gat"), UPLINK);
        assert_eq!(labels("uplink x {\n  check ping 1.2.3.4 { every 2s "), CHECK_OPTIONS);
        assert_eq!(labels("uplink x {\n  check ping 1.2.3.4 { every 2s }\n  "), UPLINK);
        assert_eq!(labels("state a when isp1 && !"), ["isp1", "isp2", "any", "all", "count"]);
        assert_eq!(labels("state a when isp1 {\n  on "), ["enter", "exit"]);
        assert_eq!(labels("state a when isp1 {\n  on enter { "), ACTIONS);
        assert_eq!(labels("lan a {\n  interface x\n}\n"), TOP);
        assert_eq!(labels("site \"a b"), Vec::<String>::new());
        assert_eq!(labels("# default via "), Vec::<String>::new());
        assert_eq!(labels("{{{{}}}}}}}} via "), ["isp1", "isp2", "balance", "multipath"]);
    }
}
