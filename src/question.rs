//! Questions and their answers' types: what a blueprint asks, how a raw
//! answer (a flag, a line of braid.toml, a prompt) becomes a typed [`Value`],
//! and every check a value must pass. The one validator every input path
//! goes through; it knows no blueprint, only the rules a blueprint declares.

use std::{fmt, sync::OnceLock};

use crate::error::{closest, one_line};

/// A typed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
    List(Vec<String>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::List(items) => f.write_str(&items.join(",")),
        }
    }
}

impl Value {
    pub fn to_toml(&self) -> toml::Value {
        match self {
            Value::Str(s) => toml::Value::String(s.clone()),
            Value::Bool(b) => toml::Value::Boolean(*b),
            Value::Int(i) => toml::Value::Integer(*i),
            Value::List(items) => toml::Value::Array(items.iter().cloned().map(toml::Value::String).collect()),
        }
    }

    pub fn to_jinja(&self) -> minijinja::Value {
        match self {
            Value::Str(s) => minijinja::Value::from(s.as_str()),
            Value::Bool(b) => minijinja::Value::from(*b),
            Value::Int(i) => minijinja::Value::from(*i),
            Value::List(items) => minijinja::Value::from(items.clone()),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => s.clone().into(),
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::List(items) => items.clone().into(),
        }
    }
}

fn toml_type(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Choice,
    Multi,
    Bool,
    Int,
}

pub const KINDS: [Kind; 5] = [Kind::String, Kind::Choice, Kind::Multi, Kind::Bool, Kind::Int];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Choice => "choice",
            Kind::Multi => "multi",
            Kind::Bool => "bool",
            Kind::Int => "int",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Question {
    pub key: String,
    pub prompt: String,
    pub help: Option<String>,
    pub kind: Kind,
    pub default: Option<Value>,
    pub choices: Vec<String>,
    pub validate: Option<regex::Regex>,
    /// What a value that fails `validate` is told, in the blueprint's words.
    pub validate_message: Option<String>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub max_length: Option<usize>,
    /// Values the answer may not take (compared in every form the name
    /// rules derive, e.g. `my-app` as the Python package `my_app`).
    pub reserved: Vec<String>,
    /// The ecosystems whose naming rules the answer must pass.
    pub names: Vec<NameRule>,
    /// The shorthand flag (`gateway` for `--gateway VALUE`).
    pub flag: Option<String>,
    /// Asked only when this condition on earlier answers is true.
    pub when: Option<Condition>,
}

/// A minijinja expression over the answers.
///
/// It is compiled where it is read, not kept compiled: minijinja sizes the
/// buffers of a compiled expression for a whole template (some 11 KB), a
/// blueprint has a hundred conditions (one per component), and a render
/// reads each once. Kept, they cost `braid new` more in page faults than
/// compiling them again would.
#[derive(Clone)]
pub struct Condition {
    pub text: String,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Condition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The environment conditions are compiled in: no filters beyond the builtins.
fn condition_env() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(minijinja::Environment::new)
}

impl Condition {
    /// A condition whose text compiles; the error says why it does not.
    pub fn new(text: &str) -> Result<Self, String> {
        compile(text)?;
        Ok(Condition::trusted(text))
    }

    /// A condition not compiled until it is read: one of an embedded
    /// blueprint, whose every condition its tests compile.
    pub(crate) fn trusted(text: &str) -> Self {
        Condition { text: text.to_string() }
    }

    /// The question keys (or other names) the expression reads.
    pub fn names(&self) -> std::collections::HashSet<String> {
        compile(&self.text)
            .map(|expr| expr.undeclared_variables(false))
            .unwrap_or_default()
    }

    /// True when the expression holds over `ctx` (a map of names to values;
    /// pass a [`minijinja::Value`] built once to evaluate many conditions
    /// without converting the map each time).
    pub fn eval(&self, ctx: impl serde::Serialize) -> Result<bool, String> {
        compile(&self.text)
            .and_then(|expr| expr.eval(ctx).map(|v| v.is_true()).map_err(|e| e.to_string()))
            .map_err(|e| format!("`{}`: {e}", self.text))
    }
}

fn compile(text: &str) -> Result<minijinja::Expression<'static, 'static>, String> {
    condition_env()
        .compile_expression_owned(text.to_string())
        .map_err(|e| e.to_string())
}

/// Naming rules of an ecosystem a value becomes a name in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// A Python package: `-` becomes `_`; no keyword, no standard module it would shadow.
    Python,
    /// A file or folder on Windows: no device name.
    Windows,
}

pub const NAME_RULES: [(&str, NameRule); 2] = [("python", NameRule::Python), ("windows", NameRule::Windows)];

const PYTHON_KEYWORDS: &[&str] = &[
    "false", "none", "true", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

/// Standard-library modules a project package would shadow.
const PYTHON_STDLIB: &[&str] = &[
    "abc",
    "argparse",
    "array",
    "ast",
    "asyncio",
    "base64",
    "bisect",
    "builtins",
    "calendar",
    "cmd",
    "code",
    "codecs",
    "collections",
    "contextlib",
    "copy",
    "csv",
    "ctypes",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "dis",
    "email",
    "enum",
    "errno",
    "fractions",
    "functools",
    "gc",
    "glob",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "http",
    "imp",
    "importlib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "logging",
    "lzma",
    "math",
    "mmap",
    "multiprocessing",
    "numbers",
    "operator",
    "os",
    "pathlib",
    "pickle",
    "platform",
    "pprint",
    "profile",
    "queue",
    "random",
    "re",
    "resource",
    "secrets",
    "select",
    "selectors",
    "shelve",
    "shutil",
    "signal",
    "site",
    "socket",
    "sqlite3",
    "ssl",
    "stat",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "sys",
    "tempfile",
    "test",
    "tests",
    "textwrap",
    "threading",
    "time",
    "timeit",
    "token",
    "tokenize",
    "trace",
    "traceback",
    "types",
    "typing",
    "unittest",
    "urllib",
    "uuid",
    "venv",
    "warnings",
    "weakref",
    "xml",
    "zipfile",
    "zlib",
];

/// Names Windows cannot create as files or folders.
const DEVICE_NAMES: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt1", "lpt2",
    "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

impl NameRule {
    fn check(self, key: &str, value: &str, reserved: &[String]) -> Result<(), String> {
        match self {
            NameRule::Python => {
                let package = value.replace('-', "_");
                let shadows = PYTHON_STDLIB.contains(&package.as_str()) || reserved.contains(&package);
                if PYTHON_KEYWORDS.contains(&package.as_str()) || shadows {
                    return Err(format!(
                        "`{key}` = `{}` gives the Python package `{package}`, which is a Python keyword or shadows \
                         a module the generated code imports; pick another name, e.g. `{}-svc`",
                        one_line(value),
                        one_line(value)
                    ));
                }
            }
            NameRule::Windows => {
                if DEVICE_NAMES.contains(&value.to_ascii_lowercase().as_str()) {
                    return Err(format!(
                        "`{key}` = `{}` is a reserved device name on Windows",
                        one_line(value)
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Question {
    /// What a value of this question looks like, for messages.
    pub fn expects(&self) -> String {
        match self.kind {
            Kind::String => "a string".into(),
            Kind::Bool => "true or false".into(),
            Kind::Int => match (self.min, self.max) {
                (Some(lo), Some(hi)) => format!("an integer from {lo} to {hi}"),
                _ => "an integer".into(),
            },
            Kind::Choice => format!("one of: {}", self.choices.join(", ")),
            Kind::Multi => format!("a list of: {}", self.choices.join(", ")),
        }
    }

    /// A typed value from a config file.
    pub fn from_toml(&self, v: &toml::Value) -> Result<Value, String> {
        let wrong = || format!("`{}` must be {}, found {}", self.key, self.expects(), toml_type(v));
        match (self.kind, v) {
            (Kind::String | Kind::Choice, toml::Value::String(s)) => Ok(Value::Str(s.clone())),
            (Kind::Bool, toml::Value::Boolean(b)) => Ok(Value::Bool(*b)),
            (Kind::Int, toml::Value::Integer(i)) => Ok(Value::Int(*i)),
            (Kind::Multi, toml::Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string).ok_or_else(wrong))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            _ => Err(wrong()),
        }
    }

    /// A typed value from text (a flag, `--set`, or a prompt).
    pub fn parse_str(&self, raw: &str) -> Result<Value, String> {
        match self.kind {
            Kind::String | Kind::Choice => Ok(Value::Str(raw.to_string())),
            Kind::Bool => match raw.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" | "on" => Ok(Value::Bool(true)),
                "false" | "no" | "n" | "0" | "off" => Ok(Value::Bool(false)),
                _ => Err(format!(
                    "`{}` must be true or false, found `{}`",
                    self.key,
                    one_line(raw)
                )),
            },
            Kind::Int => raw
                .trim()
                .parse()
                .map(Value::Int)
                .map_err(|_| format!("`{}` must be {}, found `{}`", self.key, self.expects(), one_line(raw))),
            Kind::Multi => Ok(Value::List(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            )),
        }
    }

    /// Checks a typed value against choices, range, regex and name rules.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        let key = &self.key;
        let bad_choice = |v: &str| {
            let hint = closest(v, self.choices.iter().map(String::as_str))
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            format!(
                "`{key}` must be one of: {}; found `{}`{hint}",
                self.choices.join(", "),
                one_line(v)
            )
        };
        match value {
            Value::Str(s) if self.kind == Kind::Choice => {
                if !self.choices.contains(s) {
                    return Err(bad_choice(s));
                }
            }
            Value::Str(s) => {
                self.check_str(s)?;
            }
            Value::List(items) => {
                if let Some(bad) = items.iter().find(|i| !self.choices.contains(i)) {
                    return Err(bad_choice(bad));
                }
            }
            Value::Int(i) => {
                if self.min.is_some_and(|lo| *i < lo) || self.max.is_some_and(|hi| *i > hi) {
                    return Err(format!("`{key}` must be {}, found {i}", self.expects()));
                }
            }
            Value::Bool(_) => {}
        }
        Ok(())
    }

    /// A value of the right shape, as TOML, for hints: `"..."`, `8080`, `["a"]`.
    pub fn example(&self) -> String {
        match self.kind {
            Kind::String => "\"...\"".into(),
            Kind::Bool => "true".into(),
            Kind::Int => match (self.min, self.max) {
                (Some(lo), _) if lo > 0 => lo.to_string(),
                (_, Some(hi)) if hi < 0 => hi.to_string(),
                _ => "0".into(),
            },
            Kind::Choice => toml::Value::String(self.choices[0].clone()).to_string(),
            Kind::Multi => format!("[{}]", toml::Value::String(self.choices[0].clone())),
        }
    }

    /// The flag that answers this question without a prompt: its shorthand
    /// when the blueprint declares one, else `--set`.
    pub fn flag(&self) -> String {
        match (&self.flag, self.kind) {
            (Some(flag), Kind::Choice) => format!("--{flag} {}", self.choices.join("|")),
            (Some(flag), _) => format!("--{flag} {}", self.key.to_uppercase()),
            (None, _) => format!("--set {}=<{}>", self.key, self.kind.name()),
        }
    }

    /// Strings: the blueprint's pattern, length, reserved words and the
    /// name rules of the ecosystems it selected.
    fn check_str(&self, s: &str) -> Result<(), String> {
        let key = &self.key;
        if let Some(re) = &self.validate {
            if !re.is_match(s) {
                return Err(match &self.validate_message {
                    Some(why) => format!("`{key}` = `{}` {why}", one_line(s)),
                    None => format!("`{key}` = `{}` does not match the pattern {}", one_line(s), re.as_str()),
                });
            }
        }
        if let Some(max) = self.max_length {
            let len = s.chars().count();
            if len > max {
                return Err(format!(
                    "`{key}` = `{}` is {len} characters long; keep it to {max}",
                    one_line(s)
                ));
            }
        }
        for rule in &self.names {
            rule.check(key, s, &self.reserved)?;
        }
        if self.names.is_empty() && self.reserved.iter().any(|r| r == s) {
            return Err(format!(
                "`{key}` = `{}` is reserved by the blueprint; pick another",
                one_line(s)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(kind: Kind) -> Question {
        Question {
            key: "k".into(),
            prompt: "k".into(),
            help: None,
            kind,
            default: None,
            choices: vec!["a".into(), "b".into()],
            validate: None,
            validate_message: None,
            min: None,
            max: None,
            max_length: None,
            reserved: Vec::new(),
            names: Vec::new(),
            flag: None,
            when: None,
        }
    }

    #[test]
    fn examples_have_the_questions_shape_and_fit_its_range() {
        let mut q = question(Kind::Int);
        assert_eq!(q.example(), "0");
        (q.min, q.max) = (Some(1), Some(65535));
        assert_eq!(q.example(), "1");
        (q.min, q.max) = (Some(-10), Some(-2));
        assert_eq!(q.example(), "-2");
        (q.min, q.max) = (Some(-10), Some(10));
        assert_eq!(q.example(), "0");
        (q.min, q.max) = (None, Some(5));
        assert_eq!(q.example(), "0");
        assert_eq!(question(Kind::String).example(), "\"...\"");
        assert_eq!(question(Kind::Bool).example(), "true");
        assert_eq!(question(Kind::Choice).example(), "\"a\"");
        assert_eq!(question(Kind::Multi).example(), "[\"a\"]");
    }

    #[test]
    fn int_bounds_are_inclusive() {
        let mut q = question(Kind::Int);
        (q.min, q.max) = (Some(1), Some(65535));
        for ok in [1, 65535] {
            assert_eq!(q.check(&Value::Int(ok)), Ok(()), "{ok}");
        }
        for bad in [0, 65536] {
            assert!(q.check(&Value::Int(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_name_the_shorthand_or_set() {
        let mut q = question(Kind::Choice);
        assert_eq!(q.flag(), "--set k=<choice>");
        q.flag = Some("kind".into());
        assert_eq!(q.flag(), "--kind a|b");
        let mut s = question(Kind::String);
        s.flag = Some("name".into());
        assert_eq!(s.flag(), "--name K");
    }

    #[test]
    fn name_rules_refuse_what_each_ecosystem_cannot_take() {
        let mut q = question(Kind::String);
        q.names = vec![NameRule::Python, NameRule::Windows];
        q.reserved = vec!["fastapi".into()];
        q.max_length = Some(8);
        for (bad, why) in [
            ("class", "Python keyword"),
            ("json", "shadows"),
            ("fastapi", "shadows"),
            ("nul", "Windows"),
            ("COM1", "Windows"),
            ("abcdefghi", "9 characters long; keep it to 8"),
        ] {
            let err = q.check(&Value::Str(bad.into())).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert_eq!(q.check(&Value::Str("my-app".into())), Ok(()));
        assert_eq!(q.check(&Value::Str("abcdefgh".into())), Ok(()), "exactly max_length");
        let mut plain = question(Kind::String);
        plain.reserved = vec!["x".into()];
        assert!(plain.check(&Value::Str("x".into())).unwrap_err().contains("reserved"));
        assert_eq!(plain.check(&Value::Str("y".into())), Ok(()));
    }

    #[test]
    fn a_condition_reads_and_prints_as_written() {
        let c = Condition::new("flavor == 'chocolate' and docs").unwrap();
        assert_eq!(format!("{c}"), "flavor == 'chocolate' and docs");
        assert_eq!(format!("{c:?}"), "flavor == 'chocolate' and docs");
        let mut names: Vec<String> = c.names().into_iter().collect();
        names.sort();
        assert_eq!(names, ["docs", "flavor"]);
        let ctx = |flavor: &str| {
            [
                ("flavor".to_string(), minijinja::Value::from(flavor)),
                ("docs".to_string(), minijinja::Value::from(true)),
            ]
            .into_iter()
            .collect::<std::collections::BTreeMap<String, minijinja::Value>>()
        };
        assert_eq!(c.eval(ctx("chocolate")), Ok(true));
        assert_eq!(c.eval(ctx("vanilla")), Ok(false));
        assert!(Condition::new("flavor ==").is_err());
        // Builtin tests and filters work in conditions (`is defined` for a
        // question its own `when` skipped).
        let skipped = Condition::new("cone is defined and cone | upper == 'BIG'").unwrap();
        assert_eq!(skipped.eval(ctx("chocolate")), Ok(false));
    }
}
