//! Answers: typed values for a blueprint's questions, from whatever source
//! (flag, `--set`, config file, prompt), all checked by the same validator.

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

pub use crate::question::Value;
use crate::{
    blueprint::Blueprint,
    error::{closest, one_line, Error, Result},
    prompt::Prompter,
    question::{Condition, Kind, Question},
};

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

/// The input key of a shorthand flag (`--gateway`) before the chosen
/// blueprint says which question it answers. No question key starts with `-`.
pub fn flag_key(flag: &str) -> String {
    format!("--{flag}")
}

/// Shorthand flags become the keys of the questions that declare them.
fn shorthands_to_keys(blueprint: &Blueprint, inputs: &[Input]) -> Result<Vec<Input>> {
    inputs
        .iter()
        .map(|input| {
            let Some(flag) = input.key.strip_prefix("--") else {
                return Ok(input.clone());
            };
            let q = blueprint
                .questions
                .iter()
                .find(|q| q.flag.as_deref() == Some(flag))
                .ok_or_else(|| {
                    let own: Vec<String> = blueprint
                        .questions
                        .iter()
                        .filter_map(|q| q.flag.as_ref().map(|f| format!("--{f}")))
                        .collect();
                    Error::input(
                        format!("--{flag} is not a flag of blueprint `{}`", blueprint.name),
                        if own.is_empty() {
                            format!(
                                "it takes `--set KEY=VALUE`; `braid show {}` lists its questions",
                                blueprint.name
                            )
                        } else {
                            format!("its flags: {}; or `--set KEY=VALUE`", own.join(", "))
                        },
                    )
                })?;
            Ok(Input {
                key: q.key.clone(),
                ..input.clone()
            })
        })
        .collect()
}

/// Is a `when` condition true for the answers so far?
pub fn condition(when: &Condition, answers: &Answers) -> Result<bool, String> {
    when.eval(answers.to_jinja_map())
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
    let inputs = &shorthands_to_keys(blueprint, inputs)?;
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
    let mut refused = Vec::new();
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
        // A suggestion that fails the checks (a folder named `Bad_Dir`) is
        // no default; the error says why it was not taken.
        let suggestion = suggested.get(&q.key);
        if let Some(Err(why)) = suggestion.map(|d| q.check(d)) {
            refused.push(format!("the folder name is no default for `{}`: {why}", q.key));
        }
        let default = suggestion.or(q.default.as_ref()).filter(|d| q.check(d).is_ok());
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
    let refused: String = refused.iter().fold(String::new(), |mut out, r| {
        let _ = write!(out, "\n  note: {r}");
        out
    });
    Err(Error::Missing(format!("{why}:\n{list}{refused}\n  hint: {hint}")))
}

/// The blueprint's `[[constraint]]`s, once every answer is known (so before
/// anything is rendered or written). A failure says which values broke the
/// rule and where each came from; when one came from a config file, the
/// error points at it.
fn check_constraints(blueprint: &Blueprint, answers: &Answers, inputs: &[Input], fill: Fill<'_>) -> Result<()> {
    for c in &blueprint.constraints {
        let holds = Condition::new(&c.check)
            .and_then(|check| condition(&check, answers))
            .map_err(|e| Error::blueprint(&blueprint.name, format!("constraint {e}")))?;
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
    use crate::{
        blueprint::{Constraint, Library},
        prompt::Scripted,
    };

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

    fn ml_gateway() -> Blueprint {
        Library::new(&[]).unwrap().load("ml-gateway").unwrap()
    }

    #[test]
    fn a_broken_constraint_names_each_value_and_where_it_came_from() {
        let bp = ml_gateway();
        let inputs = [flag("project_name", "app"), flag("ml_port", "8080")];
        let err = resolve(&bp, &inputs, &BTreeMap::new(), Fill::Defaults, &mut Scripted::new(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ml_port and gateway_port must differ"), "{err}");
        assert!(err.contains("    ml_port = 8080       from --set ml_port\n"), "{err}");
        assert!(err.contains("    gateway_port = 8080  the default\n"), "{err}");
        // A prompted value is "your answer"; a kept one holds.
        // description, gateway, transport, gateway_port, ml_port, auth, rate_limit, streaming,
        // kubernetes
        let mut p = Scripted::new(&["", "", "", "8080", "8080", "", "", "", ""]);
        let err = resolve(
            &bp,
            &[flag("project_name", "app")],
            &BTreeMap::new(),
            Fill::Prompt,
            &mut p,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("gateway_port = 8080  your answer"), "{err}");
        let ok = [flag("project_name", "app"), flag("ml_port", "8001")];
        assert!(resolve(&bp, &ok, &BTreeMap::new(), Fill::Defaults, &mut Scripted::new(&[])).is_ok());
    }

    /// The answers regen reads back from the state file: typed by the
    /// questions, in question order; a value of the wrong type (a blueprint
    /// that changed a question's type) gives None, so regen can say so.
    #[test]
    fn answers_from_the_state_file_are_typed_by_the_questions() {
        let bp = demo();
        let json: BTreeMap<String, serde_json::Value> = serde_json::from_str(
            r#"{"port": 9000, "docs": false, "toppings": ["nuts", "cherry"], "flavor": "chocolate",
                "project_name": "app", "unknown": 1}"#,
        )
        .unwrap();
        let a = Answers::from_json(&bp, &json).unwrap();
        assert_eq!(
            a.0,
            vec![
                ("project_name".to_string(), Value::Str("app".into())),
                ("flavor".to_string(), Value::Str("chocolate".into())),
                (
                    "toppings".to_string(),
                    Value::List(vec!["nuts".into(), "cherry".into()])
                ),
                ("docs".to_string(), Value::Bool(false)),
                ("port".to_string(), Value::Int(9000)),
            ]
        );
        for (key, wrong) in [
            ("port", r#""9000""#),
            ("port", "1.5"),
            ("docs", r#""yes""#),
            ("flavor", "1"),
            ("toppings", r#"["nuts", 1]"#),
            ("toppings", r#""nuts""#),
        ] {
            let mut bad = json.clone();
            bad.insert(key.into(), serde_json::from_str(wrong).unwrap());
            assert!(Answers::from_json(&bp, &bad).is_none(), "{key} = {wrong}");
        }
    }

    #[test]
    fn a_constraint_reading_a_skipped_question_says_it_was_not_asked() {
        let mut bp = demo();
        // `cone` is asked only for chocolate; vanilla skips it.
        bp.constraints.push(Constraint {
            check: "cone is defined".into(),
            message: "a cone is needed".into(),
            hint: None,
            keys: vec!["flavor".into(), "cone".into()],
        });
        let inputs = [flag("project_name", "app"), flag("flavor", "vanilla")];
        let err = resolve(&bp, &inputs, &BTreeMap::new(), Fill::Defaults, &mut Scripted::new(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a cone is needed (`cone is defined` is false):\n    flavor = \"vanilla\"  from --set flavor\n    cone = (not asked)\n"),
            "{err}"
        );
        assert!(err.contains("hint: change `flavor` or `cone`"), "{err}");
    }

    #[test]
    fn a_broken_constraint_from_a_config_file_points_at_its_line() {
        let bp = ml_gateway();
        let file = std::path::PathBuf::from("p/braid.toml");
        let inputs = [
            flag("project_name", "app"),
            Input {
                key: "ml_port".into(),
                raw: Raw::Toml(toml::Value::Integer(8080)),
                origin: Origin::File {
                    path: file.clone(),
                    line: 9,
                },
            },
        ];
        let err = resolve(
            &bp,
            &inputs,
            &BTreeMap::new(),
            Fill::Config(&file),
            &mut Scripted::new(&[]),
        )
        .unwrap_err();
        match err {
            Error::Config {
                file: f, line, message, ..
            } => {
                assert_eq!((f.as_path(), line), (file.as_path(), 9));
                assert!(message.contains("from p/braid.toml:9"), "{message}");
            }
            other => panic!("not located: {other}"),
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
