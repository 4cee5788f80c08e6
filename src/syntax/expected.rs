//! Pest's "expected" lists, translated to words a network engineer reads.

use super::Rule;
use pest::error::{Error, ErrorVariant, InputLocation};

/// What a failed parse expected, as `(offset into the parsed text, phrase)`.
pub fn describe(error: &Error<Rule>, text: &str) -> (usize, String) {
    let offset = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut words: Vec<String> = Vec::new();
    let mut add = |w: String| {
        if !words.iter().any(|x| x.contains(&w)) {
            words.push(w);
        }
    };
    if let ErrorVariant::ParsingError { positives, .. } = &error.variant {
        let has_value = positives.iter().any(|r| is_value(*r));
        if has_value {
            add("a value".into());
        }
        for r in positives {
            if has_value && (is_value(*r) || *r == Rule::ident) {
                continue;
            }
            if let Some(w) = rule_words(*r) {
                add(w.to_string());
            } else if let Some(word) = format!("{r:?}").strip_prefix("kw_") {
                add(format!("`{word}`"));
            }
        }
    }
    if let Some(attempts) = error.parse_attempts() {
        for token in attempts.expected_tokens() {
            let token = token.to_string();
            // Inside a value, punctuation comes from the literal rules'
            // insides (`:` of an IPv6 address); "a value" says it better.
            if has_value_expected(error) && matches!(token.as_str(), ":" | "{" | "[") {
                continue;
            }
            if let Some(w) = token_words(&token) {
                add(w);
            }
        }
    }
    let at_end = text.get(offset..).is_none_or(|rest| rest.trim().is_empty());
    if at_end && words.iter().any(|w| w == "`}`") {
        return (offset, "expected `}` before the end of the file".into());
    }
    if words.is_empty() {
        // Pest gives up without naming anything only when its recursion
        // guard trips.
        return (offset, "input is nested too deeply to read".into());
    }
    let expected = match words.len() {
        1 => words.remove(0),
        _ => {
            let last = words.pop().unwrap_or_default();
            format!("{} or {}", words.join(", "), last)
        }
    };
    (offset, format!("expected {expected}, found {}", found(text, offset)))
}

/// The word at `offset`, for "found …".
pub fn found(text: &str, offset: usize) -> String {
    let rest = text.get(offset..).unwrap_or("");
    let rest = rest.trim_start_matches([' ', '\t', '\r']);
    if rest.is_empty() || rest.starts_with('\n') {
        return "the end of the line".into();
    }
    if rest.starts_with('#') {
        return "a comment".into();
    }
    let word: String = match rest.chars().next() {
        Some(c) if c.is_alphanumeric() || c == '_' => {
            rest.chars().take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | '%')).take(40).collect()
        }
        Some(c) => c.to_string(),
        None => String::new(),
    };
    format!("`{word}`")
}

fn has_value_expected(error: &Error<Rule>) -> bool {
    match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.iter().any(|r| is_value(*r)),
        _ => false,
    }
}

/// The statement keywords a re-parse entry rule stands for, for "did you mean".
pub fn statement_words(entry: Rule) -> &'static [&'static str] {
    match entry {
        Rule::just_item => &["site", "import", "const", "host", "lan", "uplink", "plugin", "policy", "state"],
        Rule::just_lan => &["interface", "network"],
        Rule::just_uplink => &["interface", "address", "gateway", "nat", "weight", "table", "check", "healthy", "on"],
        Rule::just_rule => &["default", "route", "forward", "serve"],
        Rule::just_state => &["on", "policy"],
        Rule::just_action => &["run", "notify", "flush"],
        _ => &[],
    }
}

fn is_value(r: Rule) -> bool {
    matches!(
        r,
        Rule::prefix
            | Rule::addr6
            | Rule::addr4
            | Rule::duration
            | Rule::percent
            | Rule::port_range
            | Rule::integer
            | Rule::set
            | Rule::string
            | Rule::hostname
    )
}

fn rule_words(r: Rule) -> Option<&'static str> {
    Some(match r {
        Rule::ident => "a name",
        Rule::opt_name => "an option name",
        Rule::bare => "an interface name",
        Rule::string => "a string in double quotes",
        Rule::EOI => "the end of the statement",
        // A re-parse that fails where it started names its entry rule: what
        // was expected is one of the statements of that block.
        Rule::just_item => "an item (`site`, `import`, `const`, `host`, `lan`, `uplink`, `plugin`, `policy` or `state`)",
        Rule::just_lan => "`interface` or `network`",
        Rule::just_uplink => {
            "an uplink setting (`interface`, `address`, `gateway`, `nat`, `weight`, `table`, `check`, `healthy` or `on`)"
        }
        Rule::just_rule => "a rule (`default`, `route`, `forward` or `serve`)",
        Rule::just_state => "`on` or `policy`",
        Rule::just_action => "an action (`run`, `notify` or `flush states`)",
        Rule::site => "`site`",
        Rule::import => "`import`",
        Rule::const_def => "`const`",
        Rule::host_def => "`host`",
        Rule::lan => "`lan`",
        Rule::uplink => "`uplink`",
        Rule::plugin_def => "`plugin`",
        Rule::policy => "`policy`",
        Rule::state => "`state`",
        Rule::interface_stmt => "`interface`",
        Rule::network_stmt => "`network`",
        Rule::address_stmt => "`address`",
        Rule::gateway_stmt => "`gateway`",
        Rule::gateway_dev => "`dev`",
        Rule::nat_stmt => "`nat`",
        Rule::nat_from => "`from`",
        Rule::nat_to => "`to`",
        Rule::weight_stmt => "`weight`",
        Rule::table_stmt => "`table`",
        Rule::healthy_stmt => "`healthy`",
        Rule::healthy_all => "`all`",
        Rule::healthy_any => "`any`",
        Rule::check => "`check`",
        Rule::ping_check => "`ping`",
        Rule::tcp_check => "`tcp`",
        Rule::http_check => "`http`",
        Rule::dns_check => "`dns`",
        Rule::plugin_check => "`plugin`",
        Rule::tcp_target => "a target `ADDRESS:PORT`",
        Rule::check_opts => "options in `{ }`",
        Rule::check_opt => "an option",
        Rule::less_than => "`<`",
        Rule::on_block => "`on`",
        Rule::event => "an event (`up`, `down`, `enter` or `exit`)",
        Rule::run_action => "`run`",
        Rule::notify_action => "`notify`",
        Rule::flush_action => "`flush states`",
        Rule::default_rule => "`default`",
        Rule::route_rule => "`route`",
        Rule::forward_rule => "`forward`",
        Rule::serve_rule => "`serve`",
        Rule::from_match => "`from`",
        Rule::to_match => "`to`",
        Rule::port_match => "`port`",
        Rule::proto_match => "`proto`",
        Rule::stateless => "`stateless`",
        Rule::balance => "`balance(…)`",
        Rule::multipath => "`multipath(…)`",
        Rule::via_list => "an uplink name",
        Rule::state_default => "`default`",
        Rule::state_body => "`{`",
        Rule::expr | Rule::conj | Rule::unary => "a condition",
        Rule::not_op => "`!`",
        Rule::any_call => "`any(…)`",
        Rule::all_call => "`all(…)`",
        Rule::count_cmp => "`count(…)`",
        Rule::cmp_op => "a comparison (`>=`, `<=`, `==`, `!=`, `>` or `<`)",
        _ => return None,
    })
}

fn token_words(token: &str) -> Option<String> {
    // Keywords that start a statement are already named by their rule; the
    // tokens worth adding are punctuation and the keywords inside a statement.
    match token {
        "{" | "}" | "(" | ")" | "=" | "," | ":" | "[" | "]" | "when" | "via" | "to" | "on" | "port" | "states" | "&&" | "||" => {
            Some(format!("`{token}`"))
        }
        _ => None,
    }
}
