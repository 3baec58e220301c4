//! Template filters: escaping for every file format a blueprint writes, and
//! case conversions. Each escaper returns a complete literal, quotes included,
//! so a template writes `description = {{ description | toml_str }}`.

use std::fmt::Write as _;

pub fn register(env: &mut minijinja::Environment<'_>) {
    env.add_filter("json", |v: minijinja::Value| -> Result<String, minijinja::Error> {
        let json = serde_json::to_string(&v)
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))?;
        Ok(js_safe(&json))
    });
    env.add_filter("toml_str", |s: String| toml_str(&s));
    env.add_filter("yaml_str", |s: String| yaml_str(&s));
    env.add_filter("go_str", |s: String| go_str(&s));
    env.add_filter("py_str", |s: String| py_str(&s));
    env.add_filter("sh_str", |s: String| sh_str(&s));
    env.add_filter("oneline", |s: String| oneline(&s));
    env.add_filter("snake", |s: String| words(&s).join("_"));
    env.add_filter("screaming_snake", |s: String| words(&s).join("_").to_uppercase());
    env.add_filter("kebab", |s: String| words(&s).join("-"));
    env.add_filter("pascal", |s: String| {
        words(&s).iter().map(|w| capitalize(w)).collect::<String>()
    });
    env.add_filter("camel", |s: String| camel(&s));
    env.add_filter("title", |s: String| title(&s));
}

/// JSON is valid JavaScript once U+2028/U+2029 are escaped too.
fn js_safe(json: &str) -> String {
    json.replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029")
}

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => write!(out, "\\u{:04X}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A YAML double-quoted scalar.
pub fn yaml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => write!(out, "\\u{:04X}", c as u32).unwrap(),
            c if c.is_control() => write!(out, "\\u{:04X}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Go interpreted string literal (like strconv.Quote, keeping printable UTF-8).
pub fn go_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => write!(out, "\\x{:02x}", c as u32).unwrap(),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' || c == '\u{feff}' => {
                write!(out, "\\u{:04x}", c as u32).unwrap();
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Python string literal.
pub fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => write!(out, "\\x{:02x}", c as u32).unwrap(),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' || c == '\u{feff}' => {
                write!(out, "\\u{:04x}", c as u32).unwrap();
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A POSIX shell single-quoted word.
pub fn sh_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// All runs of white space (newlines included) folded to one space.
pub fn oneline(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lowercase words, split on non-alphanumerics and on lower-to-upper case changes.
fn words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn capitalize(w: &str) -> String {
    let mut chars = w.chars();
    chars
        .next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(chars).collect())
}

fn camel(s: &str) -> String {
    let words = words(s);
    let mut out = words.first().cloned().unwrap_or_default();
    for w in words.iter().skip(1) {
        out.push_str(&capitalize(w));
    }
    out
}

pub fn title(s: &str) -> String {
    words(s).iter().map(|w| capitalize(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const HOSTILE: &[&str] = &[
        "plain",
        "quotes \" and ' and `",
        "back\\slash \\n \\\" \\",
        "new\nline\r\nand\ttab",
        "# not a comment: key: value",
        "{{ jinja }} {% block %} ${{ github.token }} $(rm -rf /) `id`",
        "non-ASCII: é ü 中文 🚀 \u{2028}\u{2029}\u{85}\u{feff}",
        "\u{0}\u{1}\u{7f} control",
        "- leading dash\n- list: [1, 2] {a: b} & *anchor !tag | > %",
        "",
    ];

    #[test]
    fn toml_round_trips_hostile_strings() {
        for s in HOSTILE {
            let doc = format!("v = {}\n", toml_str(s));
            let parsed: toml::Table = toml::from_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(parsed["v"].as_str(), Some(*s));
        }
        let long = "x\"#".repeat(20_000);
        let parsed: toml::Table = toml::from_str(&format!("v = {}", toml_str(&long))).unwrap();
        assert_eq!(parsed["v"].as_str(), Some(long.as_str()));
    }

    #[test]
    fn yaml_round_trips_hostile_strings() {
        for s in HOSTILE {
            let doc = format!("v: {}\nw: {}\n", yaml_str(s), yaml_str(s));
            let parsed: serde_yaml::Value = serde_yaml::from_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(parsed["v"].as_str(), Some(*s), "{doc}");
        }
    }

    #[test]
    fn json_filter_is_valid_json_and_js() {
        let mut env = minijinja::Environment::new();
        register(&mut env);
        for s in HOSTILE {
            let out = env
                .render_str("{{ v | json }}", minijinja::context! { v => s })
                .unwrap();
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, *s);
            assert!(!out.contains('\u{2028}') && !out.contains('\u{2029}'));
        }
    }

    #[test]
    fn go_and_python_literals_escape_everything_that_breaks_them() {
        for s in HOSTILE {
            for lit in [go_str(s), py_str(s)] {
                let inner = &lit[1..lit.len() - 1];
                assert!(!inner.contains('\n') && !inner.contains('\r'), "{lit}");
                let unescaped_quote = inner
                    .char_indices()
                    .any(|(i, c)| c == '"' && inner[..i].chars().rev().take_while(|&b| b == '\\').count() % 2 == 0);
                assert!(!unescaped_quote, "{lit}");
            }
        }
        assert_eq!(go_str("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\x01""#);
        assert_eq!(py_str("é\u{2028}"), "\"é\\u2028\"");
    }

    /// Each class of character, and the form both languages read back as
    /// that character: ASCII controls as `\xNN`, other controls and the
    /// characters editors treat as line breaks or a BOM as `\uNNNN` (U+0080
    /// as `\x80` would be a byte in Go and a different character nowhere).
    #[test]
    fn go_and_python_escape_each_character_class_exactly() {
        let cases = [
            ("\u{1}", r#""\x01""#),
            ("\u{7f}", r#""\x7f""#),
            ("\u{80}", r#""\u0080""#),
            ("\u{85}", r#""\u0085""#),
            ("\u{2028}", r#""\u2028""#),
            ("\u{2029}", r#""\u2029""#),
            ("\u{feff}", r#""\ufeff""#),
            ("\r\t", r#""\r\t""#),
            ("é中🚀", "\"é中🚀\""),
        ];
        for (input, want) in cases {
            assert_eq!(go_str(input), want, "go_str({input:?})");
            assert_eq!(py_str(input), want, "py_str({input:?})");
        }
    }

    #[test]
    fn toml_and_yaml_escape_controls_and_yaml_line_breaks() {
        assert_eq!(toml_str("\u{1}\u{7f}\r\t\"\\"), r#""\u0001\u007F\r\t\"\\""#);
        assert_eq!(toml_str("\u{2028}é"), "\"\u{2028}é\"");
        assert_eq!(
            yaml_str("\u{1}\u{85}\u{2028}\u{2029}\u{feff}\r\t\"\\"),
            r#""\u0001\u0085\u2028\u2029\uFEFF\r\t\"\\""#
        );
    }

    #[test]
    fn shell_words_survive_quotes() {
        assert_eq!(sh_str("it's"), "'it'\\''s'");
    }

    #[test]
    fn case_filters() {
        assert_eq!(words("acme-vision").join("_"), "acme_vision");
        assert_eq!(camel("acme-vision api"), "acmeVisionApi");
        assert_eq!(title("acme-vision"), "Acme Vision");
        assert_eq!(words("HTTPServer2go").join("-"), "httpserver2go");
        assert_eq!(words("fooBar").join("-"), "foo-bar");
        assert_eq!(oneline("a\n  b\tc "), "a b c");
    }
}
