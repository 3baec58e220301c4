//! `braid.toml`: the blueprint name and the answers, the one source of truth
//! of a generated repo. Errors name the file, the line and the key.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::{
    answers::{Answers, Input, Origin, Raw},
    error::{closest, line_of, one_line, Error, Result},
};

pub struct ProjectConfig {
    pub path: PathBuf,
    pub blueprint: String,
    pub inputs: Vec<Input>,
}

const TOP_KEYS: [&str; 2] = ["blueprint", "answers"];

pub fn read(path: &Path) -> Result<ProjectConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::input(
            format!("cannot read {}: {e}", path.display()),
            "check the path; `braid new --config FILE` takes a braid.toml",
        )
    })?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<ProjectConfig> {
    let err = |line: usize, message: String, hint: &str| Error::Config {
        file: path.to_path_buf(),
        line,
        message,
        hint: hint.to_string(),
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        err(
            line,
            format!("not valid TOML: {}", e.message()),
            "fix the syntax at that line",
        )
    })?;
    for key in table.keys() {
        if !TOP_KEYS.contains(&key.as_str()) {
            let hint = match closest(key, TOP_KEYS) {
                Some(c) => {
                    format!("did you mean `{c}`? braid.toml holds `blueprint = \"NAME\"` and an [answers] table")
                }
                None => "braid.toml holds `blueprint = \"NAME\"` and an [answers] table".into(),
            };
            return Err(err(
                key_line(text, None, key),
                format!("unknown key `{}`", one_line(key)),
                &hint,
            ));
        }
    }
    let blueprint = match table.get("blueprint") {
        Some(toml::Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(err(
                key_line(text, None, "blueprint"),
                "`blueprint` must be a string".into(),
                "write `blueprint = \"ml-gateway\"`",
            ))
        }
        None => {
            return Err(err(
                1,
                "missing `blueprint`".into(),
                "add `blueprint = \"NAME\"` at the top (`braid list` shows the names)",
            ))
        }
    };
    let inputs = match table.get("answers") {
        None => Vec::new(),
        Some(toml::Value::Table(answers)) => answers
            .iter()
            .map(|(key, value)| Input {
                key: key.clone(),
                raw: Raw::Toml(value.clone()),
                origin: Origin::File {
                    path: path.to_path_buf(),
                    line: key_line(text, Some("answers"), key),
                },
            })
            .collect(),
        Some(_) => {
            return Err(err(
                key_line(text, None, "answers"),
                "`answers` must be a table".into(),
                "write the answers under an [answers] header",
            ))
        }
    };
    Ok(ProjectConfig {
        path: path.to_path_buf(),
        blueprint,
        inputs,
    })
}

/// The line where `key` is set, inside `[section]` when given.
fn key_line(text: &str, section: Option<&str>, key: &str) -> usize {
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(header) = t.strip_prefix('[') {
            let name = header.trim_end_matches(']').trim();
            current = Some(name.to_string());
            if section.is_none() && name == key {
                return i + 1;
            }
            continue;
        }
        let in_section = current.as_deref() == section;
        let dotted = section.is_none() && current.is_none() && t.starts_with(&format!("{key}."));
        let lhs = t.split('=').next().unwrap_or("").trim().trim_matches('"');
        if (in_section && lhs == key) || dotted {
            return i + 1;
        }
    }
    1
}

/// braid.toml as braid writes it: answers in question order.
pub fn render(blueprint: &str, answers: &Answers) -> String {
    let mut out = String::from(
        "# The answers this repo was generated from. Edit them, then run `braid regen`\n\
         # to bring the repo in line; your own edits to the files are kept.\n",
    );
    let _ = write!(
        out,
        "blueprint = {}\n\n[answers]\n",
        toml::Value::String(blueprint.into())
    );
    for (key, value) in &answers.0 {
        let _ = writeln!(out, "{key} = {}", value.to_toml());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_key_lines() {
        let text = "blueprint = \"x\"\n\n[answers]\nproject_name = \"a\"\n\"gateway\" = \"go\"\n";
        assert_eq!(key_line(text, None, "blueprint"), 1);
        assert_eq!(key_line(text, None, "answers"), 3);
        assert_eq!(key_line(text, Some("answers"), "project_name"), 4);
        assert_eq!(key_line(text, Some("answers"), "gateway"), 5);
    }

    #[test]
    fn unknown_top_key_names_line_and_closest() {
        let e = parse(Path::new("b.toml"), "blueprnt = \"x\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("b.toml:1") && e.contains("did you mean `blueprint`"), "{e}");
    }
}
