//! Every embedded blueprint, in every combination of its choice and bool
//! answers, rendered with a hostile description: every template renders, and
//! every generated YAML, TOML and JSON file parses (Python, Go and JavaScript
//! files are checked by their own parsers). Then the shape that keeps a new
//! choice cheap: no selected template renders empty, no `else` stands for a
//! choice nobody named, and alternative components provide the same names.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::Command,
};

use braid::{
    answers::{condition, Answers, Value},
    blueprint::{Blueprint, Kind, Library, Text},
    render::{lines, paths, render},
};

const HOSTILE: &str = "Evil \"quoted\" 'single' \\back\\slash\nnew line # hash: colon - [a] {b} & *x !t | > % @ `tick` {{ jinja }} {% raw %} ${{ github.token }} $(id) é中文🚀 \u{2028}\u{85} end";

/// All answer sets over the choice and bool questions (strings get the hostile text).
fn combinations(bp: &Blueprint) -> Vec<Answers> {
    let mut sets = vec![Answers::default()];
    for q in &bp.questions {
        let options: Vec<Value> = match q.kind {
            Kind::Choice => q.choices.iter().map(|c| Value::Str(c.clone())).collect(),
            Kind::Bool => vec![Value::Bool(true), Value::Bool(false)],
            Kind::String if q.key == "project_name" => vec![Value::Str("acme-vision".into())],
            Kind::String => vec![Value::Str(HOSTILE.into())],
            _ => vec![q.default.clone().expect("a default")],
        };
        let mut next = Vec::new();
        for set in sets {
            if let Some(when) = &q.when {
                if !condition(when, &set).unwrap() {
                    next.push(set);
                    continue;
                }
            }
            for o in &options {
                let mut s = set.clone();
                s.0.push((q.key.clone(), o.clone()));
                next.push(s);
            }
        }
        sets = next;
    }
    sets
}

fn check_parses(path: &str, text: &str) {
    let ext = Path::new(path).extension().and_then(|e| e.to_str()).unwrap_or("");
    let result = match ext {
        "yml" | "yaml" => serde_yaml::from_str::<serde_yaml::Value>(text)
            .map(drop)
            .map_err(|e| e.to_string()),
        "toml" => toml::from_str::<toml::Table>(text).map(drop).map_err(|e| e.to_string()),
        "json" => serde_json::from_str::<serde_json::Value>(text)
            .map(drop)
            .map_err(|e| e.to_string()),
        _ => Ok(()),
    };
    if let Err(e) = result {
        panic!("{path} does not parse: {e}\n{text}");
    }
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_embedded_template_renders_and_every_data_file_parses() {
    let library = Library::new(&[]).unwrap();
    let names = library.names();
    assert!(names.contains(&"ml-gateway".to_string()), "{names:?}");
    for name in names {
        let bp = library.load(&name).unwrap();
        let mut used = BTreeSet::new();
        for answers in combinations(&bp) {
            let files = render(&bp, &answers).unwrap_or_else(|e| panic!("{name} {:?}: {e}", answers.0));
            for (what, templates) in [("next_steps", &bp.next_steps), ("recap", &bp.recap)] {
                lines(&bp, &answers, what, templates).unwrap_or_else(|e| panic!("{name} {:?}: {e}", answers.0));
            }
            let tmp = tempfile::tempdir().unwrap();
            let (mut py, mut go, mut js) = (Vec::new(), Vec::new(), Vec::new());
            for (path, file) in &files {
                let full = tmp.path().join(path);
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(&full, &file.bytes).unwrap();
                let Ok(text) = std::str::from_utf8(&file.bytes) else {
                    continue;
                };
                check_parses(path, text);
                assert!(!text.contains('\r'), "{path}: CRLF in output");
                match Path::new(path).extension().and_then(|e| e.to_str()) {
                    Some("py") => py.push(full),
                    Some("go") => go.push(full),
                    Some("js") => js.push(full),
                    _ => {}
                }
            }
            let label = format!(
                "{name} {:?}",
                answers.0.iter().map(|(_, v)| v.to_string()).collect::<Vec<_>>()
            );
            if !py.is_empty() {
                let mut cmd = Command::new("python3");
                cmd.args([
                    "-c",
                    "import ast, sys\nfor p in sys.argv[1:]: ast.parse(open(p, encoding='utf-8').read(), p)",
                ]);
                run(cmd.args(&py), &format!("python ast.parse ({label})"));
            }
            if !go.is_empty() {
                let out = Command::new("gofmt").arg("-l").args(&go).output().expect("gofmt");
                assert!(
                    out.status.success(),
                    "gofmt ({label}): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(
                    out.stdout.is_empty(),
                    "not gofmt-clean ({label}): {}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }
            for f in &js {
                run(
                    Command::new("node").arg("--check").arg(f),
                    &format!("node --check {} ({label})", f.display()),
                );
            }
            for c in &bp.components {
                if c.when.as_ref().is_none_or(|w| condition(w, &answers).unwrap()) {
                    used.extend(c.files.keys().map(|k| format!("{}/{k}", c.label)));
                }
            }
        }
        let all: BTreeSet<String> = bp
            .components
            .iter()
            .flat_map(|c| c.files.keys().map(move |k| format!("{}/{k}", c.label)))
            .collect();
        let unused: Vec<_> = all.difference(&used).collect();
        assert!(unused.is_empty(), "{name}: never rendered: {unused:?}");
    }
}

/// The engine drops a template that renders empty ("not for these answers"),
/// which once selected 17 files with a whole-file `{% if %}`. Files are
/// selected by component and `[[file]]` `when` now, so every template a
/// combination selects renders to some text: one that renders empty or
/// blank for some answers is a `when` that was written as an `if`.
#[test]
fn no_selected_template_renders_empty_in_any_combination() {
    let library = Library::new(&[]).unwrap();
    for name in library.names() {
        let bp = library.load(&name).unwrap();
        for answers in combinations(&bp) {
            let files = render(&bp, &answers).unwrap_or_else(|e| panic!("{name} {:?}: {e}", answers.0));
            let selected = paths(&bp, &answers).unwrap();
            let mut empty = Vec::new();
            for (src, path) in &selected {
                if !src.ends_with(".j2") {
                    continue;
                }
                match files.get(path) {
                    Some(f) if !f.bytes.iter().all(u8::is_ascii_whitespace) => {}
                    _ => empty.push(src.as_str()),
                }
            }
            assert!(
                empty.is_empty(),
                "{name} {:?}: these templates render empty or blank; select them with a `when` instead: {empty:?}",
                answers.0
            );
        }
    }
}

/// A `.gitignore` inside `blueprints/` would apply to braid's own repository
/// and silently drop blueprint sources from commits (a `.env*` rule once hid
/// `.env.example.j2`). Blueprints ship them as `.gitignore.j2`, which renders
/// to the same file and which git does not read.
#[test]
fn blueprint_sources_hold_no_live_gitignore() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints");
    let mut live = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == ".gitignore") {
                live.push(path.display().to_string());
            }
        }
    }
    assert!(live.is_empty(), "rename to .gitignore.j2: {live:?}");
    let bp = Library::new(&[]).unwrap().load("ml-gateway").unwrap();
    let files: BTreeSet<String> = bp.components.iter().flat_map(|c| c.files.keys().cloned()).collect();
    for wanted in [".gitignore.j2", ".env.example.j2", "services/ml/.gitignore.j2"] {
        assert!(files.contains(wanted), "ml-gateway lacks {wanted}: {files:?}");
    }
}

/// Choice questions and their choices.
type Choices = BTreeMap<String, Vec<String>>;

/// One `{% if %}` chain being read: the conditions of its `if` and `elif`s,
/// whether it has an `else`, and the line of its `if`.
struct Chain {
    line: usize,
    conditions: Vec<String>,
    has_else: bool,
}

/// The choices of `key` a condition names: `key == 'v'`, `'v' == key`,
/// `key != 'v'`, `key in ['a', 'b']`.
fn named_choices(condition: &str, key: &str) -> BTreeSet<String> {
    let k = regex::escape(key);
    let patterns = [
        format!(r#"\b{k}\s*(?:==|!=)\s*(?:'([^']*)'|"([^"]*)")"#),
        format!(r#"(?:'([^']*)'|"([^"]*)")\s*(?:==|!=)\s*{k}\b"#),
    ];
    let mut out = BTreeSet::new();
    for p in &patterns {
        for c in regex::Regex::new(p).unwrap().captures_iter(condition) {
            out.extend(c.get(1).or_else(|| c.get(2)).map(|m| m.as_str().to_string()));
        }
    }
    let list = regex::Regex::new(&format!(r"\b{k}\s+(?:not\s+)?in\s*[\[(]([^\])]*)[\])]")).unwrap();
    let quoted = regex::Regex::new(r#"'([^']*)'|"([^"]*)""#).unwrap();
    for c in list.captures_iter(condition) {
        for v in quoted.captures_iter(&c[1]) {
            out.extend(v.get(1).or_else(|| v.get(2)).map(|m| m.as_str().to_string()));
        }
    }
    out
}

/// What a chain with an `else` leaves to that `else`: for each choice
/// question its conditions test, the choices they never name.
fn unnamed(conditions: &[String], choices: &Choices) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (key, values) in choices {
        let named: BTreeSet<String> = conditions.iter().flat_map(|c| named_choices(c, key)).collect();
        if named.is_empty() {
            continue;
        }
        let missing: Vec<String> = values.iter().filter(|v| !named.contains(*v)).cloned().collect();
        if !missing.is_empty() {
            out.push((key.clone(), missing));
        }
    }
    out
}

/// Every place in a template where an `else` silently stands for choices
/// nobody named: an `{% if %}` chain over a choice question with an `else`
/// that does not name every choice, the same in an inline
/// `{{ a if q == 'v' else b }}`, and `{% set x = q == 'v' %}`, which would
/// hide the comparison from this check. A tag scanner, not a parser: it
/// knows `{% raw %}`, comments and whitespace control, which is all the
/// blueprints use.
fn silent_elses(template: &str, choices: &Choices) -> Vec<String> {
    let tag = regex::Regex::new(r"(?s)\{%-?\s*(\w+)(.*?)-?%\}|\{\{-?(.*?)-?\}\}|\{#.*?#\}").unwrap();
    let inline = regex::Regex::new(r"(?s)\bif\b(.*?)\belse\b").unwrap();
    let line_at = |offset: usize| template[..offset].matches('\n').count() + 1;
    let describe = |missing: &[(String, Vec<String>)]| {
        missing
            .iter()
            .map(|(k, v)| format!("`{k}` = {}", v.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut found = Vec::new();
    let mut chains: Vec<Chain> = Vec::new();
    let mut raw = false;
    for m in tag.captures_iter(template) {
        let line = line_at(m.get(0).unwrap().start());
        let Some(keyword) = m.get(1).map(|k| k.as_str()) else {
            // `{{ expr }}` (or a comment, which has no group).
            if let Some(expr) = m.get(3).filter(|_| !raw) {
                for c in inline.captures_iter(expr.as_str()) {
                    let missing = unnamed(&[c[1].to_string()], choices);
                    if !missing.is_empty() {
                        found.push(format!(
                            "line {line}: inline `if ... else` leaves {} to its `else`",
                            describe(&missing)
                        ));
                    }
                }
            }
            continue;
        };
        let body = m.get(2).map_or("", |b| b.as_str()).trim().to_string();
        match (raw, keyword) {
            (true, "endraw") => raw = false,
            (false, "raw") => raw = true,
            (false, "if") => chains.push(Chain {
                line,
                conditions: vec![body],
                has_else: false,
            }),
            (false, "elif") => chains.last_mut().expect("elif inside if").conditions.push(body),
            (false, "else") => {
                if let Some(chain) = chains.last_mut() {
                    chain.has_else = true;
                }
            }
            (false, "endif") => {
                let chain = chains.pop().expect("endif closes an if");
                let missing = unnamed(&chain.conditions, choices);
                if chain.has_else && !missing.is_empty() {
                    found.push(format!(
                        "line {}: `if {}` leaves {} to its `else`",
                        chain.line,
                        chain.conditions[0],
                        describe(&missing)
                    ));
                }
            }
            (false, "set") => {
                let value = body.split_once('=').map_or("", |(_, v)| v);
                let inline_if = inline.captures_iter(value).count() > 0;
                let missing = unnamed(&[value.to_string()], choices);
                if inline_if && !missing.is_empty() {
                    found.push(format!(
                        "line {line}: inline `if ... else` leaves {} to its `else`",
                        describe(&missing)
                    ));
                } else if !inline_if && !unnamed(&[value.to_string()], &all_named(choices)).is_empty() {
                    found.push(format!(
                        "line {line}: `set {body}` names a choice comparison; test the question where it is used"
                    ));
                }
            }
            _ => {}
        }
    }
    assert!(chains.is_empty(), "an if without endif at line {}", chains[0].line);
    found
}

/// The choices with one value that no template names, so that [`unnamed`]
/// reports any comparison at all.
fn all_named(choices: &Choices) -> Choices {
    choices
        .iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            v.push("\u{0}never named".into());
            (k.clone(), v)
        })
        .collect()
}

fn choice_questions(bp: &Blueprint) -> Choices {
    bp.questions
        .iter()
        .filter(|q| q.kind == Kind::Choice)
        .map(|q| (q.key.clone(), q.choices.clone()))
        .collect()
}

/// Every silent `else` in a blueprint's templates, with the template's name.
fn blueprint_silent_elses(bp: &Blueprint) -> Vec<String> {
    let choices = choice_questions(bp);
    let mut found = Vec::new();
    for (place, text) in bp.texts() {
        if let Text::Template(t) = text {
            found.extend(silent_elses(&t, &choices).into_iter().map(|f| format!("{place}: {f}")));
        }
    }
    found
}

/// With a third gateway or transport, an `else` written for the second one
/// would silently hand it the wrong text. Every `if` over a choice question
/// either has no `else` or names every choice before reaching it.
#[test]
fn no_embedded_template_lets_else_stand_for_a_choice() {
    let library = Library::new(&[]).unwrap();
    for name in library.names() {
        let found = blueprint_silent_elses(&library.load(&name).unwrap());
        assert!(
            found.is_empty(),
            "{name}: name each choice with `elif`:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn the_silent_else_check_finds_each_silent_else_of_a_bad_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/silent-else");
    let bp = Library::new(&[root]).unwrap().load("silent-else").unwrap();
    let found = blueprint_silent_elses(&bp);
    let bad = format!("{}/bad.txt.j2: ", bp.components[0].label);
    let expected = [
        "line 1: `if bus == \"http\"` leaves `bus` = redis-streams, rabbitmq to its `else`",
        "line 2: `if lang == \"go\"` leaves `lang` = node to its `else`",
        "line 7: `if bus == \"http\"` leaves `bus` = rabbitmq to its `else`",
        "line 8: `if bus in [\"redis-streams\", \"rabbitmq\"]` leaves `bus` = http to its `else`",
        "line 9: `if bus != \"http\"` leaves `bus` = redis-streams, rabbitmq to its `else`",
        "line 10: inline `if ... else` leaves `lang` = node to its `else`",
        "line 11: `set queued = bus == \"redis-streams\"` names a choice comparison; test the question where it is used",
    ]
    .map(|e| format!("{bad}{e}"));
    assert_eq!(found, expected, "{found:#?}");
}

/// The `provides.NAME` each component's templates read.
fn provides_read(c: &braid::blueprint::Component) -> BTreeSet<String> {
    let read = regex::Regex::new(r"provides\.([a-z_][a-z0-9_]*)").unwrap();
    c.files
        .iter()
        .filter(|(path, _)| path.ends_with(".j2"))
        .filter_map(|(_, file)| std::str::from_utf8(&file.bytes).ok())
        .flat_map(|text| read.captures_iter(text).map(|m| m[1].to_string()).collect::<Vec<_>>())
        .collect()
}

/// Components that stand for different choices of the same questions
/// (`gateway-go` and `gateway-node`, `transport-http` and
/// `transport-redis-streams`, `gateway-go-http` and
/// `gateway-node-redis-streams`) are alternatives: templates loop over what
/// they provide, so each must provide the names that the templates rendered
/// with it read (`[]` for "nothing here"), or a new gateway or transport
/// that forgets one renders a file with a silent hole. Alternatives are
/// found by name: a component named after the values its `when` picks, with
/// those values replaced by the question, gives the family
/// (`gateway-{gateway}-{transport}`). A name that only one language's
/// templates read (`node_dependencies`, read by gateway-node's package.json)
/// is owed by the members rendered with those templates (gateway-node-http,
/// gateway-node-redis-streams), not by the other language's (gateway-go-http).
#[test]
fn alternative_components_provide_the_same_names() {
    let library = Library::new(&[]).unwrap();
    let picks = regex::Regex::new(r#"\b([a-z_]+)\s*==\s*(?:'([^']*)'|"([^"]*)")"#).unwrap();
    for name in library.names() {
        let bp = library.load(&name).unwrap();
        let mut families: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, c) in bp.components.iter().enumerate() {
            let Some(when) = &c.when else { continue };
            let mut family = c.label.rsplit('/').next().unwrap().to_string();
            for m in picks.captures_iter(&when.text) {
                let value = m.get(2).or_else(|| m.get(3)).unwrap().as_str();
                family = family.replacen(value, &format!("{{{}}}", &m[1]), 1);
            }
            families.entry(family).or_default().push(i);
        }
        let provided: Vec<BTreeSet<String>> = bp
            .components
            .iter()
            .map(|c| c.provides.iter().map(|(k, _)| k.clone()).collect())
            .collect();
        let read: Vec<BTreeSet<String>> = bp.components.iter().map(provides_read).collect();
        let mut checked = 0;
        for answers in combinations(&bp) {
            let active: Vec<usize> = (0..bp.components.len())
                .filter(|&i| {
                    bp.components[i]
                        .when
                        .as_ref()
                        .is_none_or(|w| condition(w, &answers).unwrap())
                })
                .collect();
            let rendered_reads: BTreeSet<&String> = active.iter().flat_map(|&i| &read[i]).collect();
            for (family, members) in &families {
                let names: BTreeSet<&String> = members.iter().flat_map(|&i| &provided[i]).collect();
                for &m in members.iter().filter(|m| active.contains(m)) {
                    checked += 1;
                    let missing: Vec<_> = names
                        .iter()
                        .filter(|n| rendered_reads.contains(**n) && !provided[m].contains(**n))
                        .collect();
                    assert!(
                        missing.is_empty(),
                        "{name}: {family}: {} does not provide {missing:?}, which templates rendered with it read ({:?})",
                        bp.components[m].label,
                        answers.0
                    );
                }
            }
        }
        if name == "ml-gateway" {
            // The check compares something: each family has at least two members.
            for family in [
                "gateway-{gateway}",
                "transport-{transport}",
                "gateway-{gateway}-{transport}",
                "gateway-{gateway}-{node_framework}",
            ] {
                let members = families.get(family).map_or(0, Vec::len);
                assert!(members >= 2, "{family}: {members} components; {families:?}");
            }
            assert!(checked >= 5, "{checked}");
        }
    }
}
