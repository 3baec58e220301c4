//! Every embedded blueprint, in every combination of its choice and bool
//! answers, rendered with a hostile description: every template renders, and
//! every generated YAML, TOML and JSON file parses (Python, Go and JavaScript
//! files are checked by their own parsers).

use std::{collections::BTreeSet, path::Path, process::Command};

use braid::{
    answers::{condition, Answers, Value},
    blueprint::{Blueprint, Kind, Library},
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
