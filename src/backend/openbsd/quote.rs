//! Quoting for the two readers a command passes through: ifstated's lexer,
//! which reads the quoted string in ifstated.conf, and sh, which ifstated
//! runs the string with (`run` through system(3), tests through `sh -c`).
//!
//! Every function here is total: any text, including quotes, backslashes,
//! `$`, backticks, newlines and NUL, comes out as something that neither
//! reader can take for the end of the string or for syntax of its own, and
//! that sh runs as the command given (see [`portable`] for the two
//! exceptions, NUL and trailing newlines, which no command can carry).

use std::borrow::Cow;

/// `text` as one sh word that sh reads back unchanged: single quotes keep
/// every character literal. A `'` is written `'"'"'` (close, a quote in
/// double quotes, reopen) instead of the usual `'\''` so that the word holds
/// no backslash ifstated's lexer could take for an escape.
pub fn sh_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\"'\"'"))
}

/// `text` bare when sh reads it unchanged anyway (names, addresses, paths),
/// else quoted by [`sh_word`]; keeps generated commands readable.
pub fn sh_arg(text: &str) -> String {
    let plain =
        !text.is_empty() && !text.starts_with('-') && text.chars().all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        text.to_string()
    } else {
        sh_word(text)
    }
}

/// The `"…"` string of an ifstated `run` action that runs `command`.
pub fn run(command: &str) -> String {
    format!("\"{}\"", escape(&portable(command), '"'))
}

/// The value of an ifstated macro that expands to the external test
/// `"command" every SECONDS`. ifstated lexes a macro's value again where it
/// is used, so the command is quoted twice: in `"` for the test, and the
/// whole test in `'` for the macro.
pub fn test_macro(command: &str, every_secs: u64) -> String {
    let test = format!("\"{}\" every {every_secs}", escape(&portable(command), '"'));
    format!("'{}'", escape(&test, '\''))
}

/// ifstated's lexer (yylex in usr.sbin/ifstated/parse.y) reads a quoted
/// string up to the closing quote character and inside it
///
/// - drops a newline, and refuses NUL;
/// - reads a backslash followed by the quote character, a space or a tab as
///   that character, and a backslash followed by a newline as nothing;
/// - keeps any other backslash as it is, and goes on with the character
///   after it.
///
/// So once every quote character is escaped, text comes back unchanged
/// exactly when it has no newline, no NUL, and no backslash before a quote
/// (of either kind, so that it fits both quotings of [`test_macro`]), a
/// blank, or the end of the text (where it would escape the closing quote).
fn lexer_safe(text: &str) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\0' => return false,
            '\\' if matches!(chars.peek(), None | Some('\'' | '"' | ' ' | '\t' | '\n')) => return false,
            _ => {}
        }
    }
    true
}

/// Escapes each `quote` with a backslash; for [`lexer_safe`] text only.
fn escape(text: &str, quote: char) -> String {
    text.replace(quote, &format!("\\{quote}"))
}

/// `command` itself when ifstated's lexer carries it unchanged, otherwise an
/// equivalent command that it does carry: `eval "$(printf 'FORMAT')"`, where
/// FORMAT writes a backslash as `\134`, a `'` as `\047`, a newline as `\n`
/// and `%` as `%%`. Its backslashes are then all followed by a digit or `n`,
/// which the lexer keeps as they are, and printf(1) rebuilds the command
/// byte for byte for eval. Two things cannot survive and are dropped: NUL
/// (no command line holds one) and newlines at the very end (command
/// substitution strips them, and they mean nothing to sh there).
fn portable(command: &str) -> Cow<'_, str> {
    if lexer_safe(command) {
        return Cow::Borrowed(command);
    }
    let mut format = String::new();
    for c in command.trim_end_matches('\n').chars() {
        match c {
            '\0' => {}
            '\\' => format.push_str("\\134"),
            '\'' => format.push_str("\\047"),
            '\n' => format.push_str("\\n"),
            '%' => format.push_str("%%"),
            c => format.push(c),
        }
    }
    Cow::Owned(format!("eval \"$(printf '{format}')\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// The quoted-string branch of ifstated's yylex, for a token starting
    /// at its opening quote: the string read, and what follows it.
    fn lex_string(token: &str) -> (String, String) {
        let chars: Vec<char> = token.chars().collect();
        let quote = chars[0];
        let mut i = 1;
        let mut out = String::new();
        loop {
            let c = *chars.get(i).unwrap_or_else(|| panic!("unterminated string in {token:?}"));
            i += 1;
            match c {
                '\n' => {}
                '\0' => panic!("NUL in {token:?}"),
                '\\' => {
                    let n = *chars.get(i).unwrap_or_else(|| panic!("backslash at the end of {token:?}"));
                    if n == quote || n == ' ' || n == '\t' {
                        out.push(n);
                        i += 1;
                    } else if n == '\n' {
                        i += 1;
                    } else {
                        // lungetc(next): the character is read again.
                        out.push('\\');
                    }
                }
                c if c == quote => break,
                c => out.push(c),
            }
        }
        (out, chars[i..].iter().collect())
    }

    /// What sh prints for `printf %s WORD`.
    fn sh_printf(word: &str) -> String {
        let out = Command::new("sh").arg("-c").arg(format!("printf %s {word}")).output().expect("sh runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What sh prints when it runs `command`.
    fn sh_run(command: &str) -> String {
        let out = Command::new("sh").arg("-c").arg(command).output().expect("sh runs");
        assert!(out.status.success(), "`{command}`: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    const NASTY: &[&str] = &[
        "plain text",
        "it's",
        "say \"hi\"",
        "a\\b",
        "ends with a backslash\\",
        "backslash before a quote \\\" and \\'",
        "backslash before a blank \\ and a tab \\\t.",
        "$HOME and ${PATH} and $(id)",
        "`id` and `uname -a`",
        "two\nlines",
        "tab\there",
        "100% and %s and %%",
        "#not a comment",
        "'\"'\"'",
        "\\\\\\",
        "semi; colon && or || pipe | amp &",
        "ünïcödé",
    ];

    #[test]
    fn sh_word_round_trips_through_sh() {
        for text in NASTY {
            assert_eq!(sh_printf(&sh_word(text)), *text, "{text:?}");
        }
    }

    #[test]
    fn sh_word_has_no_backslash_of_its_own() {
        assert_eq!(sh_word("it's"), "'it'\"'\"'s'");
        assert!(!sh_word("a'b\"c$d").contains('\\'));
    }

    #[test]
    fn sh_arg_leaves_names_bare_and_quotes_the_rest() {
        assert_eq!(sh_arg("198.51.100.1"), "198.51.100.1");
        assert_eq!(sh_arg("fe80::1%em0"), "fe80::1%em0");
        assert_eq!(sh_arg("/etc/wanc/pf/policy.a.conf"), "/etc/wanc/pf/policy.a.conf");
        assert_eq!(sh_arg("url=http://192.0.2.1/health"), "url=http://192.0.2.1/health");
        assert_eq!(sh_arg("a b"), "'a b'");
        assert_eq!(sh_arg("-rf"), "'-rf'");
        assert_eq!(sh_arg(""), "''");
        assert_eq!(sh_arg("x[1]"), "'x[1]'");
        assert_eq!(sh_arg("q?*"), "'q?*'");
    }

    #[test]
    fn run_strings_lex_back_to_the_command() {
        for text in NASTY {
            let command = format!("printf %s {}", sh_word(text));
            let quoted = run(&command);
            let (lexed, rest) = lex_string(&quoted);
            assert_eq!(rest, "", "{quoted}");
            let expected = text.trim_end_matches('\n');
            assert_eq!(sh_run(&lexed), expected, "{text:?} via {quoted}");
            assert!(!quoted.contains('\n'), "a newline would be dropped: {quoted}");
        }
    }

    #[test]
    fn safe_commands_stay_readable() {
        assert_eq!(run("logger -t wan all uplinks down"), "\"logger -t wan all uplinks down\"");
        assert_eq!(run("echo \"$HOME\""), "\"echo \\\"$HOME\\\"\"");
        assert_eq!(run("a\\b"), "\"a\\b\"");
    }

    #[test]
    fn hazards_take_the_printf_form() {
        assert_eq!(run("echo a\nb"), "\"eval \\\"$(printf 'echo a\\nb')\\\"\"");
        assert_eq!(run("echo 'x'\\"), "\"eval \\\"$(printf 'echo \\047x\\047\\134')\\\"\"");
        assert_eq!(run("printf 50%\\ x"), "\"eval \\\"$(printf 'printf 50%%\\134 x')\\\"\"");
        assert_eq!(run("a\0b\n\n"), "\"eval \\\"$(printf 'ab')\\\"\"");
    }

    #[test]
    fn test_macros_lex_back_twice() {
        for text in NASTY {
            let command = format!("printf %s {}", sh_word(text));
            let value = test_macro(&command, 10);
            // The macro definition: one `'` string.
            let (expanded, rest) = lex_string(&value);
            assert_eq!(rest, "");
            // Where the macro is used: `"command" every 10`.
            let (lexed, rest) = lex_string(&expanded);
            assert_eq!(rest, " every 10", "{expanded}");
            assert_eq!(sh_run(&lexed), text.trim_end_matches('\n'), "{text:?} via {value}");
        }
    }

    #[test]
    fn lexer_safety_is_exact_about_backslashes() {
        assert!(lexer_safe("a\\b\\\\c"));
        assert!(!lexer_safe("a\\"));
        assert!(!lexer_safe("a\\ b"));
        assert!(!lexer_safe("a\\\"b"));
        assert!(!lexer_safe("a\\'b"));
        assert!(!lexer_safe("a\nb"));
        assert!(lexer_safe("$x `y` 'z' \"w\" #"));
    }
}
