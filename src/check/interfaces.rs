//! Interface names: valid words, and each claimed by one lan or uplink.

use super::Checker;
use crate::ast::Word;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;

impl<'a> Checker<'a, '_> {
    /// The one interface of a lan or uplink, validated and claimed.
    pub fn interface(&mut self, words: &'a [Word], owner: &crate::ast::Ident, noun: &str, recovered: bool) -> Option<String> {
        let Some(first) = words.first() else {
            if recovered {
                return None;
            }
            self.diags.push(
                Diagnostic::new(Code::MissingSetting, owner.span, format!("{noun} `{}` has no interface", owner.name))
                    .label("needs `interface NAME`")
                    .help(format!("add a line `interface NAME` to the {noun}")),
            );
            return None;
        };
        for extra in &words[1..] {
            self.twice(extra.span, first.span, "interface");
        }
        if crate::validate::PF_WORDS.contains(&first.text.as_str()) {
            self.diags.push(
                Diagnostic::new(Code::InvalidInterface, first.span, format!("`{}` is a word of pf's, not an interface", first.text))
                    .label("pf reads this as something else")
                    .help("`egress` is an interface group, `self`, `any` and `all` stand for addresses: name the interface itself, such as `em0`"),
            );
            return None;
        }
        if !crate::validate::interface_name(&first.text) {
            self.diags.push(
                Diagnostic::new(Code::InvalidInterface, first.span, format!("`{}` is not a valid interface name", first.text))
                    .label("invalid interface name")
                    .help("interface names are 1 to 15 letters, digits, `_`, `.` or `-`, starting with a letter"),
            );
            return None;
        }
        if let Some(&(other_span, ref other_owner)) = self.interfaces.get(&first.text) {
            self.diags.push(
                Diagnostic::new(Code::InterfaceClaimedTwice, first.span, format!("interface `{}` is claimed twice", first.text))
                    .label(format!("claimed again by `{}`", owner.name))
                    .with(other_span, format!("first claimed by `{other_owner}`"))
                    .help("each interface belongs to one lan or uplink"),
            );
            return None;
        }
        self.interfaces.insert(first.text.clone(), (first.span, owner.name.clone()));
        Some(first.text.clone())
    }

    /// E0104 for a setting given a second time.
    pub fn twice(&mut self, again: crate::source::Span, first: crate::source::Span, what: &str) {
        self.diags.push(
            Diagnostic::new(Code::DuplicateSetting, again, format!("`{what}` is given twice"))
                .label("given again here")
                .with(first, "first given here")
                .help(format!("keep one `{what}`")),
        );
    }
}
