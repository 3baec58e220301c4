//! Answers: typed values for a blueprint's questions, from whatever source
//! (flag, `--set`, config file, prompt), all checked by the same validator.

use std::{collections::BTreeMap, fmt, path::Path};

use crate::{
    blueprint::{Blueprint, Kind, Question},
    error::{closest, one_line, Error, Result},
    names,
    prompt::Prompter,
};

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
                if let Some(re) = &self.validate {
                    if !re.is_match(s) {
                        return Err(format!(
                            "`{key}` = `{}` does not match the pattern {}",
                            one_line(s),
                            re.as_str()
                        ));
                    }
                }
                if key == "project_name" {
                    names::check_project_name(s)?;
                }
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

    /// The flag that answers this question without a prompt.
    pub fn flag(&self) -> String {
        match self.key.as_str() {
            "project_name" => "--name NAME".into(),
            "gateway" | "transport" => format!("--{} {}", self.key, self.choices.join("|")),
            key => format!("--set {key}=<{}>", self.kind.name()),
        }
    }
}

/// Where a raw answer came from, to say so in errors.
#[derive(Debug, Clone)]
pub enum Origin {
    Flag(String),
    File { path: std::path::PathBuf, line: usize },
}

#[derive(Debug, Clone)]
pub enum Raw {
    Text(String),
    Toml(toml::Value),
}

#[derive(Debug, Clone)]
pub struct Input {
    pub key: String,
    pub raw: Raw,
    pub origin: Origin,
}

/// Answers in question order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers(pub Vec<(String, Value)>);

impl Answers {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn to_jinja_map(&self) -> BTreeMap<String, minijinja::Value> {
        self.0.iter().map(|(k, v)| (k.clone(), v.to_jinja())).collect()
    }
}

/// How to fill the questions no input answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill<'a> {
    /// Take the defaults; a question without one is an error (`new --yes`).
    Defaults,
    /// Ask through the prompter.
    Prompt,
    /// Nothing may be asked: every unanswered question is an error.
    Fail,
    /// The answers are a project's braid.toml (regen, diff, check): take the
    /// defaults; a question without one is an error that names this file.
    Config(&'a Path),
}

/// Is a `when` condition true for the answers so far?
pub fn condition(expr: &str, answers: &Answers) -> Result<bool, String> {
    let env = minijinja::Environment::new();
    let compiled = env.compile_expression(expr).map_err(|e| e.to_string())?;
    compiled
        .eval(answers.to_jinja_map())
        .map(|v| v.is_true())
        .map_err(|e| format!("`{expr}`: {e}"))
}

/// Turns inputs into validated answers, asking (or failing) for the rest.
///
/// `suggested` gives defaults that come from the context rather than the
/// blueprint (the project name from the target folder's name).
pub fn resolve(
    blueprint: &Blueprint,
    inputs: &[Input],
    suggested: &BTreeMap<String, Value>,
    fill: Fill<'_>,
    prompter: &mut dyn Prompter,
) -> Result<Answers> {
    for input in inputs {
        if blueprint.question(&input.key).is_none() {
            let keys = blueprint.questions.iter().map(|q| q.key.as_str());
            let hint = match closest(&input.key, keys) {
                Some(c) => format!(
                    "did you mean `{c}`? `braid show {}` lists the questions",
                    blueprint.name
                ),
                None => format!("`braid show {}` lists the questions", blueprint.name),
            };
            return Err(located(
                &input.origin,
                format!("unknown question `{}`", one_line(&input.key)),
                hint,
            ));
        }
    }

    let mut answers = Answers::default();
    let mut missing = Vec::new();
    for q in &blueprint.questions {
        if let Some(when) = &q.when {
            let asked = condition(when, &answers)
                .map_err(|e| Error::blueprint(&blueprint.name, format!("question `{}`: `when` {e}", q.key)))?;
            if !asked {
                continue;
            }
        }
        // The last input wins, so flags given after a config file override it.
        if let Some(input) = inputs.iter().rev().find(|i| i.key == q.key) {
            let value = match &input.raw {
                Raw::Text(t) => q.parse_str(t),
                Raw::Toml(v) => q.from_toml(v),
            }
            .and_then(|v| q.check(&v).map(|()| v))
            .map_err(|msg| located(&input.origin, msg, format!("give {}", q.expects())))?;
            answers.0.push((q.key.clone(), value));
            continue;
        }
        let default = suggested
            .get(&q.key)
            .or(q.default.as_ref())
            .filter(|d| q.check(d).is_ok());
        match (fill, default) {
            (Fill::Defaults | Fill::Config(_), Some(d)) => answers.0.push((q.key.clone(), d.clone())),
            (Fill::Prompt, _) => {
                let value = prompter.ask(q, default)?;
                answers.0.push((q.key.clone(), value));
            }
            _ => missing.push(q),
        }
    }
    if missing.is_empty() {
        check_constraints(blueprint, &answers, inputs, fill)?;
        return Ok(answers);
    }
    if let Fill::Config(path) = fill {
        return Err(missing_in_config(path, &missing));
    }
    let list = missing
        .iter()
        .map(|q| format!("  {:<16} {}", q.key, q.flag()))
        .collect::<Vec<_>>()
        .join("\n");
    let why = match fill {
        Fill::Defaults => "these questions have no default, so --yes cannot answer them",
        _ => "stdin is not a terminal, so braid cannot ask these questions",
    };
    let hint = if fill == Fill::Defaults {
        "pass them as flags"
    } else {
        "pass them as flags, or --yes to take the defaults where there is one"
    };
    Err(Error::Missing(format!("{why}:\n{list}\n  hint: {hint}")))
}

/// The blueprint's `[[constraint]]`s, once every answer is known (so before
/// anything is rendered or written). A failure says which values broke the
/// rule and where each came from; when one came from a config file, the
/// error points at it.
fn check_constraints(blueprint: &Blueprint, answers: &Answers, inputs: &[Input], fill: Fill<'_>) -> Result<()> {
    for c in &blueprint.constraints {
        let holds =
            condition(&c.check, answers).map_err(|e| Error::blueprint(&blueprint.name, format!("constraint {e}")))?;
        if holds {
            continue;
        }
        // The same rule as above: the last input for a key is its answer.
        let origin = |key: &str| inputs.iter().rev().find(|i| i.key == key).map(|i| &i.origin);
        let values: Vec<(String, String)> = c
            .keys
            .iter()
            .map(|key| {
                let value = answers.get(key).map_or("(not asked)".into(), |v| {
                    one_line(&v.to_toml().to_string()).into_owned()
                });
                let from = match origin(key) {
                    Some(Origin::Flag(flag)) => format!("from {flag}"),
                    Some(Origin::File { path, line }) => format!("from {}:{line}", path.display()),
                    None if answers.get(key).is_none() => String::new(),
                    None if fill == Fill::Prompt => "your answer".into(),
                    None => "the default".into(),
                };
                (format!("{key} = {value}"), from)
            })
            .collect();
        let width = values.iter().map(|(v, _)| v.len()).max().unwrap_or(0);
        let lines = values
            .iter()
            .map(|(v, from)| format!("    {v:<width$}  {from}").trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let message = format!("{} (`{}` is false):\n{lines}", c.message, c.check);
        let hint = c.hint.clone().unwrap_or_else(|| {
            let keys = c.keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>();
            format!("change {}", keys.join(" or "))
        });
        let in_file = c.keys.iter().find_map(|k| match origin(k) {
            Some(Origin::File { path, line }) => Some((path.clone(), *line)),
            _ => None,
        });
        return Err(match (in_file, fill) {
            (Some((file, line)), _) => Error::Config {
                file,
                line,
                message,
                hint,
            },
            (None, Fill::Config(path)) => Error::input(format!("{}: {message}", path.display()), hint),
            (None, _) => Error::input(message, hint),
        });
    }
    Ok(())
}

/// Questions without a default that a project's braid.toml does not answer:
/// say which file and what to add to it (flags do not apply to regen).
fn missing_in_config(path: &Path, missing: &[&Question]) -> Error {
    let line = |q: &Question| format!("{} = {}", q.key, q.example());
    let text = match missing {
        [q] => format!(
            "{}: no answer for `{}`, and the blueprint gives it no default\n  \
             hint: add `{}` under [answers] ({})",
            path.display(),
            q.key,
            line(q),
            q.expects()
        ),
        _ => format!(
            "{}: no answer for {}, and the blueprint gives them no default\n  \
             hint: add them under [answers], for example:\n{}",
            path.display(),
            missing
                .iter()
                .map(|q| format!("`{}`", q.key))
                .collect::<Vec<_>>()
                .join(", "),
            missing
                .iter()
                .map(|q| format!("    {:<30} # {}", line(q), q.expects()))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    Error::Missing(text)
}

fn located(origin: &Origin, message: String, hint: String) -> Error {
    match origin {
        Origin::Flag(flag) => Error::input(format!("{flag}: {message}"), hint),
        Origin::File { path, line } => Error::Config {
            file: path.clone(),
            line: *line,
            message,
            hint,
        },
    }
}

impl Answers {
    /// Answers as stored in the state file, typed by the blueprint's questions.
    /// None when they no longer fit the blueprint.
    pub fn from_json(blueprint: &Blueprint, map: &BTreeMap<String, serde_json::Value>) -> Option<Answers> {
        let mut out = Answers::default();
        for q in &blueprint.questions {
            let Some(v) = map.get(&q.key) else { continue };
            let value = match (q.kind, v) {
                (Kind::String | Kind::Choice, serde_json::Value::String(s)) => Value::Str(s.clone()),
                (Kind::Bool, serde_json::Value::Bool(b)) => Value::Bool(*b),
                (Kind::Int, serde_json::Value::Number(n)) => Value::Int(n.as_i64()?),
                (Kind::Multi, serde_json::Value::Array(items)) => Value::List(
                    items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect::<Option<_>>()?,
                ),
                _ => return None,
            };
            out.0.push((q.key.clone(), value));
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{blueprint::Library, prompt::Scripted};

    fn demo() -> Blueprint {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/blueprints");
        Library::new(&[root]).unwrap().load("demo").unwrap()
    }

    fn flag(key: &str, value: &str) -> Input {
        Input {
            key: key.into(),
            raw: Raw::Text(value.into()),
            origin: Origin::Flag(format!("--set {key}")),
        }
    }

    #[test]
    fn prompts_only_for_unanswered_questions_and_skips_false_conditions() {
        let bp = demo();
        let mut p = Scripted::new(&["my-app", "", "", "", ""]);
        let inputs = [flag("flavor", "vanilla"), flag("docs", "true")];
        let a = resolve(&bp, &inputs, &BTreeMap::new(), Fill::Prompt, &mut p).unwrap();
        assert_eq!(p.asked, ["project_name", "description", "toppings", "port"]);
        assert_eq!(a.get("port"), Some(&Value::Int(8080)));
        assert_eq!(a.get("cone"), None, "cone is asked only for chocolate");
    }

    #[test]
    fn a_bad_typed_answer_is_asked_again_without_losing_earlier_ones() {
        let bp = demo();
        let mut p = Scripted::new(&[
            "Bad Name",
            "json",
            "good-name",
            "d",
            "chocolate",
            "",
            "no",
            "99999",
            "80",
            "large",
        ]);
        let a = resolve(&bp, &[], &BTreeMap::new(), Fill::Prompt, &mut p).unwrap();
        assert_eq!(p.rejected.len(), 3, "{:?}", p.rejected);
        assert!(p.rejected[1].contains("shadows"));
        assert_eq!(a.str("project_name"), Some("good-name"));
        assert_eq!(a.get("docs"), Some(&Value::Bool(false)));
        assert_eq!(a.get("port"), Some(&Value::Int(80)));
        assert_eq!(a.str("cone"), Some("large"));
    }

    #[test]
    fn the_folder_name_is_the_default_project_name() {
        let bp = demo();
        let suggested = BTreeMap::from([("project_name".to_string(), Value::Str("from-dir".into()))]);
        let a = resolve(&bp, &[], &suggested, Fill::Defaults, &mut crate::prompt::NoPrompt).unwrap();
        assert_eq!(a.str("project_name"), Some("from-dir"));
    }

    #[test]
    fn config_mode_names_the_file_and_what_to_add_for_each_missing_key() {
        let bp = demo();
        let path = std::path::Path::new("proj/braid.toml");
        let err = resolve(
            &bp,
            &[],
            &BTreeMap::new(),
            Fill::Config(path),
            &mut crate::prompt::NoPrompt,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "proj/braid.toml: no answer for `project_name`, and the blueprint gives it no default\n  \
             hint: add `project_name = \"...\"` under [answers] (a string)"
        );
        let qs = ["project_name", "flavor", "toppings", "docs", "port"].map(|k| bp.question(k).unwrap());
        let err = missing_in_config(path, &qs).to_string();
        for line in [
            "no answer for `project_name`, `flavor`, `toppings`, `docs`, `port`",
            "    flavor = \"vanilla\"",
            "    toppings = [\"nuts\"]",
            "    docs = true",
            "    port = 1 ",
        ] {
            assert!(err.contains(line), "{line}: {err}");
        }
        assert!(!err.contains("--"), "no flags for a config file: {err}");
    }

    #[test]
    fn fail_mode_lists_every_missing_question() {
        let bp = demo();
        let err = resolve(&bp, &[], &BTreeMap::new(), Fill::Fail, &mut crate::prompt::NoPrompt)
            .unwrap_err()
            .to_string();
        for key in ["project_name", "description", "flavor", "toppings", "docs", "port"] {
            assert!(err.contains(key), "{key}: {err}");
        }
    }
}
