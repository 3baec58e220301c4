//! Errors a user can cause, each with what went wrong, where, and how to fix it.
//!
//! Everything here exits with code 2 (DESIGN.md section 2), except
//! [`Error::Interrupted`] (130). Messages carry no styling: the printer adds
//! color when it writes them to a terminal.

use std::{borrow::Cow, path::PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config file (`braid.toml` or `--config`) is malformed or holds bad values.
    #[error("{file}:{line}: {message}\n  hint: {hint}")]
    Config {
        file: PathBuf,
        line: usize,
        message: String,
        hint: String,
    },

    /// A value given on the command line (`--set`, `--name`, ...) is invalid.
    #[error("{message}\n  hint: {hint}")]
    Input { message: String, hint: String },

    /// A blueprint is malformed (its blueprint.toml or a template).
    #[error("blueprint `{blueprint}`: {message}")]
    Blueprint { blueprint: String, message: String },

    /// No input is available to answer these questions.
    #[error("{0}")]
    Missing(String),

    /// The target exists and would be damaged.
    #[error("{message}\n  hint: {hint}")]
    Target { message: String, hint: String },

    /// The user pressed Ctrl-C or Esc at a prompt.
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn input(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Input {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn blueprint(blueprint: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Blueprint {
            blueprint: blueprint.into(),
            message: message.into(),
        }
    }

    pub fn target(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Target {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn exit_status(&self) -> crate::ExitStatus {
        match self {
            Error::Interrupted => crate::ExitStatus::Interrupted,
            _ => crate::ExitStatus::Error,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The closest candidate to `word`, when one is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The 1-based line of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Makes control characters visible (`\u{1b}`, `\r`), so a value from a
/// config file or a flag cannot move the cursor, recolor or retitle the
/// terminal. Bidirectional overrides are escaped too, so text reads in the
/// order it is stored. With `keep_newlines`, `\n` and `\t` pass (a
/// multi-line message); without, the text stays on one line (a value
/// embedded in a message).
pub fn escape_controls(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let bad = |c: char| {
        let kept = keep_newlines && (c == '\n' || c == '\t');
        !kept
            && (c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
    };
    if !text.chars().any(bad) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' if !keep_newlines => out.push_str("\\n"),
            '\t' if !keep_newlines => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if bad(c) => {
                let _ = std::fmt::Write::write_fmt(&mut out, format_args!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A user's value inside a one-line message: control characters and newlines escaped.
pub fn one_line(value: &str) -> Cow<'_, str> {
    escape_controls(value, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_newlines_kept_only_when_asked() {
        let hostile = "red \u{1b}[31mX\u{7}\r\u{9b}é中\u{202e}\nnext\tcol";
        let many = escape_controls(hostile, true);
        assert_eq!(many, "red \\u{1b}[31mX\\u{7}\\r\\u{9b}é中\\u{202e}\nnext\tcol");
        let one = one_line(hostile);
        assert_eq!(one, "red \\u{1b}[31mX\\u{7}\\r\\u{9b}é中\\u{202e}\\nnext\\tcol");
        assert!(matches!(escape_controls("plain é", false), Cow::Borrowed(_)));
    }

    #[test]
    fn closest_finds_typos_and_ignores_noise() {
        let keys = ["project_name", "description", "gateway", "transport"];
        assert_eq!(closest("projet_name", keys), Some("project_name"));
        assert_eq!(closest("gatway", keys), Some("gateway"));
        assert_eq!(closest("zzzzzz", keys), None);
    }

    #[test]
    fn line_of_counts_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
        assert_eq!(line_of("a", 99), 1);
    }
}
