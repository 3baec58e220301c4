//! Every embedded blueprint, in every combination of its choice and bool
//! answers, rendered with a hostile description: every template renders, and
//! every generated YAML, TOML and JSON file parses (Python, Go and JavaScript
//! files are checked by their own parsers). Then the shape that keeps a new
//! choice cheap: no selected template renders empty, no `else` stands for a
//! choice nobody named, and alternative components provide the same names.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    path::Path,
    process::Command,
    sync::OnceLock,
};

use braid::{
    answers::{condition, Answers, Value},
    blueprint::{Blueprint, Kind, Library, Text},
    render::{context, lines, paths, render, FileSet},
};

const HOSTILE: &str = "Evil \"quoted\" 'single' \\back\\slash\nnew line # hash: colon - [a] {b} & *x !t | > % @ `tick` {{ jinja }} {% raw %} ${{ github.token }} $(id) é中文🚀 \u{2028}\u{85} end";

/// All answer sets over the choice and bool questions (strings get the
/// hostile text; an int its default, and 0 too when 0 is allowed: it turns
/// something off, as `rate_limit = 0` does).
fn combinations(bp: &Blueprint) -> Vec<Answers> {
    let mut sets = vec![Answers::default()];
    for q in &bp.questions {
        let options: Vec<Value> = match q.kind {
            Kind::Choice => q.choices.iter().map(|c| Value::Str(c.clone())).collect(),
            Kind::Bool => vec![Value::Bool(true), Value::Bool(false)],
            Kind::String if q.key == "project_name" => vec![Value::Str("acme-vision".into())],
            Kind::String => vec![Value::Str(HOSTILE.into())],
            Kind::Int if q.min == Some(0) && q.default != Some(Value::Int(0)) => {
                vec![q.default.clone().expect("a default"), Value::Int(0)]
            }
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

/// Which of the blueprint's components these answers select (a `when` reads
/// the answers and the derived names).
fn selected(bp: &Blueprint, answers: &Answers) -> Vec<bool> {
    let ctx = context(bp, answers).unwrap();
    bp.components
        .iter()
        .map(|c| c.when.as_ref().is_none_or(|w| w.eval(&ctx).unwrap()))
        .collect()
}

/// Every combination of the embedded blueprint `name`, rendered once for all the
/// tests here that read them: a debug build renders the 288 combinations of
/// ml-gateway in about half a minute, and six tests read them.
fn rendered(name: &str) -> &'static [(Answers, FileSet)] {
    static ALL: OnceLock<BTreeMap<String, Vec<(Answers, FileSet)>>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        let library = Library::new(&[]).unwrap();
        library
            .names()
            .into_iter()
            .map(|name| {
                let bp = library.load(&name).unwrap();
                let sets = combinations(&bp)
                    .into_iter()
                    .map(|answers| {
                        let files = render(&bp, &answers).unwrap_or_else(|e| panic!("{name} {:?}: {e}", answers.0));
                        (answers, files)
                    })
                    .collect();
                (name, sets)
            })
            .collect()
    });
    &all[name]
}

fn check_parses(path: &str, text: &str) {
    let ext = Path::new(path).extension().and_then(|e| e.to_str()).unwrap_or("");
    let result = match ext {
        // Every document of a multi-document file (the Kubernetes manifests).
        "yml" | "yaml" => serde_yaml::Deserializer::from_str(text)
            .try_for_each(|doc| <serde_yaml::Value as serde::Deserialize>::deserialize(doc).map(drop))
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
    // Python and Go files are parsed once per distinct text, JavaScript once per
    // distinct path and text (its package.json decides ESM or CommonJS): most
    // files are the same in many combinations, and a process per file and
    // combination made this the slowest test by minutes.
    let mut parsed: HashSet<(String, Vec<u8>)> = HashSet::new();
    for name in names {
        let bp = library.load(&name).unwrap();
        let mut used = BTreeSet::new();
        for (answers, files) in rendered(&name) {
            for (what, templates) in [("next_steps", &bp.next_steps), ("recap", &bp.recap)] {
                lines(&bp, answers, what, templates).unwrap_or_else(|e| panic!("{name} {:?}: {e}", answers.0));
            }
            let tmp = tempfile::tempdir().unwrap();
            let (mut py, mut go, mut js) = (Vec::new(), Vec::new(), Vec::new());
            for (path, file) in files {
                let full = tmp.path().join(path);
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(&full, &file.bytes).unwrap();
                let Ok(text) = std::str::from_utf8(&file.bytes) else {
                    continue;
                };
                check_parses(path, text);
                assert!(!text.contains('\r'), "{path}: CRLF in output");
                let ext = Path::new(path).extension().and_then(|e| e.to_str()).unwrap_or("");
                let key = if ext == "js" { path.clone() } else { ext.to_string() };
                if !matches!(ext, "py" | "go" | "js") || !parsed.insert((key, file.bytes.clone())) {
                    continue;
                }
                match ext {
                    "py" => py.push(full),
                    "go" => go.push(full),
                    _ => js.push(full),
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
            for (c, on) in bp.components.iter().zip(selected(&bp, answers)) {
                if on {
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
        for (answers, files) in rendered(&name) {
            let selected = paths(&bp, answers).unwrap();
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

/// Root templates fill placeholders that components' provided texts carry
/// (`@auth-header@`, `@sdk-api-key@`, `@model-users@`: a provided value
/// cannot read another component's): none may reach a rendered file.
#[test]
fn no_provided_placeholder_survives_a_render() {
    let placeholder = regex::Regex::new(r"@[a-z]+(-[a-z]+)+@").unwrap();
    let library = Library::new(&[]).unwrap();
    for name in library.names() {
        for (answers, files) in rendered(&name) {
            for (path, file) in files {
                let text = String::from_utf8_lossy(&file.bytes);
                if let Some(m) = placeholder.find(&text) {
                    panic!(
                        "{name} {:?}: {path} holds the unfilled placeholder {}",
                        answers.0,
                        m.as_str()
                    );
                }
            }
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

/// Components that stand for different choices of the same questions
/// (`gateway-go` and `gateway-node`, `transport-http` and
/// `transport-redis-streams`, `gateway-go-http` and
/// `gateway-node-redis-streams`) are alternatives: templates loop over what
/// they provide, so each must provide the same names (`[]` for "nothing
/// here"), or a new gateway or transport that forgets one renders a file
/// with a silent hole. Alternatives are found by name: a component named
/// after the values its `when` picks, with those values replaced by the
/// question, gives the family (`gateway-{gateway}-{transport}`).
///
/// A name counts only where a template that reads it is rendered: the root
/// files read theirs in every combination, so every member of a family
/// provides them; the Go gateway's own README reads names that only
/// `gateway-go-{transport}` provide, and `gateway-node-http`, never rendered
/// beside it, need not provide them.
#[test]
fn alternative_components_provide_the_same_names() {
    let library = Library::new(&[]).unwrap();
    let picks = regex::Regex::new(r#"\b([a-z_]+)\s*==\s*(?:'([^']*)'|"([^"]*)")"#).unwrap();
    let reads = regex::Regex::new(r"\bprovides\.([a-z_][a-z0-9_]*)").unwrap();
    for name in library.names() {
        let bp = library.load(&name).unwrap();
        // name -> the components whose templates read `provides.NAME`
        let mut readers: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, c) in bp.components.iter().enumerate() {
            let texts = c.files.iter().filter(|(path, _)| path.ends_with(".j2"));
            for (_, f) in texts {
                for m in reads.captures_iter(std::str::from_utf8(&f.bytes).unwrap_or("")) {
                    let list = readers.entry(m[1].to_string()).or_default();
                    if !list.contains(&i) {
                        list.push(i);
                    }
                }
            }
        }
        let on: Vec<Vec<bool>> = combinations(&bp).iter().map(|answers| selected(&bp, answers)).collect();
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
        let provides =
            |i: usize| -> BTreeSet<&str> { bp.components[i].provides.iter().map(|(k, _)| k.as_str()).collect() };
        let short = |i: usize| bp.components[i].label.rsplit('/').next().unwrap();
        let mut checked = 0;
        for (family, members) in &families {
            let names: BTreeSet<&str> = members.iter().flat_map(|&i| provides(i)).collect();
            for &member in members {
                for &n in &names {
                    checked += 1;
                    if provides(member).contains(n) {
                        continue;
                    }
                    let peers: Vec<_> = members
                        .iter()
                        .filter(|&&i| provides(i).contains(n))
                        .map(|&i| short(i))
                        .collect();
                    let with = readers
                        .get(n)
                        .into_iter()
                        .flatten()
                        .find(|&&r| on.iter().any(|c| c[member] && c[r]));
                    assert!(
                        with.is_none(),
                        "{name}: {family}: {} does not provide `{n}`, which `{}` reads beside it ({peers:?} provide it)",
                        short(member),
                        short(*with.unwrap()),
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
                "ml-python-{transport}",
            ] {
                let members = families.get(family).map_or(0, Vec::len);
                assert!(members >= 2, "{family}: {members} components; {families:?}");
            }
            assert!(checked >= 5, "{checked}");
        }
    }
}

/// The environment variables a generated service reads, found in its code
/// (tests aside): the first argument of a call that is an upper-case string
/// (`r.port("GATEWAY_PORT", ...)`, `port('GATEWAY_PORT', ...)`,
/// `os.Getenv("X")`), `process.env.X`, `os.environ`/`os.getenv`, and the
/// fields of the ML service's pydantic `Settings` (a field is its name in
/// upper case).
fn variables_read(files: &BTreeMap<String, String>) -> BTreeSet<String> {
    let call = regex::Regex::new(r#"\b\w+\(\s*["']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)["']"#).unwrap();
    let node_env = regex::Regex::new(r#"process\.env(?:\.|\[["'])([A-Z][A-Z0-9_]*)"#).unwrap();
    let py_env = regex::Regex::new(r#"os\.(?:environ(?:\.get)?|getenv)[\[(]["']([A-Z][A-Z0-9_]*)"#).unwrap();
    let field = regex::Regex::new(r"^    ([a-z][a-z0-9_]*)\s*:").unwrap();
    let settings_class = regex::Regex::new(r"(?m)^class \w+\(\w*Settings\):").unwrap();
    let mut names = BTreeSet::new();
    for (path, text) in files {
        let test = path.contains("/test/")
            || path.contains("/tests/")
            || path.ends_with("_test.go")
            || path.ends_with(".test.js")
            || path.ends_with(".test.ts");
        let code = [".go", ".js", ".ts", ".py"].iter().any(|ext| path.ends_with(ext));
        if !path.starts_with("services/") || test || !code {
            continue;
        }
        for re in [&call, &node_env, &py_env] {
            names.extend(re.captures_iter(text).map(|c| c[1].to_string()));
        }
        // `class Settings(BusSettings):`, `class BusSettings(BaseSettings):`
        for start in settings_class.find_iter(text).map(|m| m.end()) {
            assert!(
                !text.contains("env_prefix"),
                "{path}: an env_prefix this test does not read"
            );
            let body = text[start..]
                .lines()
                .skip(1)
                .take_while(|l| l.is_empty() || l.starts_with(' '));
            for line in body {
                if let Some(c) = field.captures(line) {
                    if &c[1] != "model_config" {
                        names.insert(c[1].to_uppercase());
                    }
                }
            }
        }
    }
    names
}

/// Every environment variable a service reads is documented where a user
/// looks for it: `.env.example` sets it or shows it commented out
/// (`NAME=` or `# NAME=`), and the README's configuration table has a row
/// for it. A variable added to a service's code without both fails here.
#[test]
fn every_variable_a_service_reads_is_in_env_example_and_the_readme() {
    let env = regex::Regex::new(r"(?m)^(?:# ?)?([A-Z][A-Z0-9_]*)=").unwrap();
    let row = regex::Regex::new(r"(?m)^\| `([A-Z][A-Z0-9_]*)` \|").unwrap();
    for (answers, files) in rendered("ml-gateway") {
        let label = format!("{:?}", answers.0.iter().map(|(_, v)| v.to_string()).collect::<Vec<_>>());
        let files: BTreeMap<String, String> = files
            .iter()
            .filter_map(|(path, f)| String::from_utf8(f.bytes.clone()).ok().map(|t| (path.clone(), t)))
            .collect();
        let read = variables_read(&files);
        for name in ["GATEWAY_PORT", "ML_PORT", "LOG_LEVEL", "ML_MODEL_PATH"] {
            assert!(read.contains(name), "{label}: the scan missed {name}: {read:?}");
        }
        let in_env: BTreeSet<_> = env
            .captures_iter(&files[".env.example"])
            .map(|c| c[1].to_string())
            .collect();
        let in_readme: BTreeSet<_> = row
            .captures_iter(&files["README.md"])
            .map(|c| c[1].to_string())
            .collect();
        let missing_env: Vec<_> = read.difference(&in_env).collect();
        let missing_readme: Vec<_> = read.difference(&in_readme).collect();
        assert!(
            missing_env.is_empty() && missing_readme.is_empty(),
            "{label}: variables the services read, missing from .env.example: {missing_env:?}; \
             missing from the README's configuration table: {missing_readme:?}"
        );
    }
}

/// A component stands for the choices its `when` selects (`gateway-go`:
/// `gateway`; `gateway-go-http`: `gateway` and `transport`; `ml-python` and
/// the blueprint's own root files: none). It may print any answer, but it
/// may only branch on (compare, look up by) the choice questions its `when`
/// tests: what differs by another question comes from that question's
/// components (their files and `provides`). So a third gateway or transport
/// is new components only, and never an `elif` in an existing file.
#[test]
fn components_branch_only_on_the_choices_their_when_selects() {
    let library = Library::new(&[]).unwrap();
    for name in library.names() {
        let bp = library.load(&name).unwrap();
        let choices = choice_questions(&bp);
        let mut found = Vec::new();
        for c in &bp.components {
            let when = c.when.as_ref().map_or("", |w| w.text.as_str());
            let owned: BTreeSet<&String> = choices
                .keys()
                .filter(|k| {
                    regex::Regex::new(&format!(r"\b{}\b", regex::escape(k)))
                        .unwrap()
                        .is_match(when)
                })
                .collect();
            let mut texts: Vec<(String, String)> = Vec::new();
            for (path, file) in &c.files {
                texts.push((format!("{path} (path)"), path.clone()));
                if path.ends_with(".j2") {
                    texts.push((path.clone(), String::from_utf8_lossy(&file.bytes).into_owned()));
                }
            }
            for (key, items) in &c.provides {
                texts.extend(items.iter().map(|i| (format!("provides.{key}"), i.clone())));
            }
            for rule in &c.rules {
                if let Some(w) = &rule.when {
                    texts.push(("[[file]] when".into(), w.text.clone()));
                }
            }
            for (place, text) in texts {
                for key in choices.keys().filter(|k| !owned.contains(k)) {
                    let k = regex::escape(key);
                    let lookup = regex::Regex::new(&format!(r"\[\s*{k}\s*\]")).unwrap();
                    let in_list = regex::Regex::new(&format!(r"\b{k}\s+(?:not\s+)?in\b")).unwrap();
                    if !named_choices(&text, key).is_empty() || lookup.is_match(&text) || in_list.is_match(&text) {
                        found.push(format!("{}: {place} branches on `{key}`", c.label));
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "{name}: move what differs into that question's components (files or [provides]):\n{}",
            found.join("\n")
        );
    }
}

/// A name declared in `provides = [...]` that no template reads is dead
/// weight that every new alternative must still provide.
#[test]
fn every_declared_provides_name_is_read_by_some_template() {
    let library = Library::new(&[]).unwrap();
    let reads = regex::Regex::new(r"\bprovides\.([a-z_][a-z0-9_]*)").unwrap();
    for name in library.names() {
        let bp = library.load(&name).unwrap();
        let mut read = BTreeSet::new();
        for (_, text) in bp.texts() {
            let (Text::Template(t) | Text::Expr(t)) = text;
            read.extend(reads.captures_iter(&t).map(|m| m[1].to_string()));
        }
        for c in &bp.components {
            for (path, file) in &c.files {
                read.extend(reads.captures_iter(path).map(|m| m[1].to_string()));
                if path.ends_with(".j2") {
                    let text = String::from_utf8_lossy(&file.bytes);
                    read.extend(reads.captures_iter(&text).map(|m| m[1].to_string()));
                }
            }
        }
        let unread: Vec<_> = bp.provides.iter().filter(|n| !read.contains(*n)).collect();
        assert!(
            unread.is_empty(),
            "{name}: declared in provides, read by no template: {unread:?}"
        );
    }
}

/// Bug: the gateways' default metrics port was 9090 (Node: always; Go: 9091
/// only when `gateway_port` was 9090), so a gateway whose public or ML port
/// was 9090 refused to start, or its metrics listener collided with the ML
/// service on the host. Both now default to `gateway_metrics_port`, the
/// port .env.example, compose and the README show, which is neither.
#[test]
fn the_default_metrics_port_is_neither_service_port_in_both_gateways() {
    let library = Library::new(&[]).unwrap();
    let bp = library.load("ml-gateway").unwrap();
    let go = regex::Regex::new(r"DefaultMetricsPort\s*=\s*(\d+)").unwrap();
    let node = regex::Regex::new(r"'GATEWAY_METRICS_PORT',\s*(\d+)").unwrap();
    let env = regex::Regex::new(r"(?m)^GATEWAY_METRICS_PORT=(\d+)$").unwrap();
    let mut checked = 0;
    for base in combinations(&bp) {
        let gateway = base.str("gateway").unwrap().to_string();
        for (gateway_port, ml_port) in [(9090, 8000), (8080, 9090), (9090, 9091), (9091, 9090)] {
            let mut answers = base.clone();
            for (k, v) in &mut answers.0 {
                match k.as_str() {
                    "gateway_port" => *v = Value::Int(gateway_port),
                    "ml_port" => *v = Value::Int(ml_port),
                    _ => {}
                }
            }
            let files = render(&bp, &answers).unwrap();
            let text = |p: &str| String::from_utf8(files[p].bytes.clone()).unwrap();
            let (path, re) = if gateway == "go" {
                ("services/gateway/internal/config/config.go", &go)
            } else {
                ("services/gateway/src/config.ts", &node)
            };
            let default: i64 = re.captures(&text(path)).expect(path)[1].parse().unwrap();
            let documented: i64 = env.captures(&text(".env.example")).unwrap()[1].parse().unwrap();
            assert!(
                default != gateway_port && default != ml_port && default == documented,
                "{gateway} with gateway_port {gateway_port}, ml_port {ml_port}: {path} defaults to {default}, .env.example says {documented}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 16, "{checked}");
}

/// Each gateway's lock files come from one lock-only component per
/// dependency set (`[derive] gateway_deps`): every combination renders them,
/// from the component that set names, so a new dimension that adds a set
/// without its component (or its `[[component]]` entry) fails here by name.
#[test]
fn every_combination_renders_the_lock_of_its_dependency_set() {
    let bp = Library::new(&[]).unwrap().load("ml-gateway").unwrap();
    let mut sets = BTreeSet::new();
    for (answers, files) in rendered("ml-gateway") {
        let ctx = context(&bp, answers).unwrap();
        let deps = ctx["gateway_deps"].to_string();
        let (component, locks): (String, &[&str]) = match answers.get("gateway") {
            Some(Value::Str(g)) if g == "go" => (
                format!("gateway-go-lock-{deps}"),
                &["services/gateway/go.mod", "services/gateway/go.sum"],
            ),
            Some(Value::Str(g)) if g == "node" => {
                let Some(Value::Str(framework)) = answers.get("node_framework") else {
                    panic!("node without node_framework: {:?}", answers.0)
                };
                (
                    format!("gateway-node-{framework}-lock-{deps}"),
                    &["services/gateway/package-lock.json"],
                )
            }
            other => panic!("a gateway this test does not know: {other:?}"),
        };
        let lock_components: Vec<&str> = bp
            .components
            .iter()
            .zip(selected(&bp, answers))
            .filter(|(c, on)| *on && c.label.contains("-lock-"))
            .map(|(c, _)| c.label.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(
            lock_components,
            [component.as_str()],
            "{:?}: dependency set `{deps}`: add blueprints/components/{component} and its [[component]] \
             (scripts/relock-*.py writes its lock)",
            answers.0
        );
        for lock in locks {
            assert!(
                files.contains_key(*lock),
                "{:?}: {component} renders no {lock}: run scripts/relock-*.py",
                answers.0
            );
        }
        sets.insert(component);
    }
    // The check sees every set: Go and each framework, over HTTP, RabbitMQ
    // and Kafka with and without the limiter's Redis, and over Redis Streams,
    // each with and without a JWT library: 3 x 7 x 2.
    assert_eq!(sets.len(), 42, "{sets:?}");
}

/// Both gateways run one rate-limit script, so that a Go and a Node.js
/// replica (or two versions of one) spend a caller's budget alike: the
/// gcra.lua each gateway loads is the same bytes, from the one source in
/// gateway-ratelimit-script, beside the module that loads it (Go embeds it,
/// Node.js reads it next to its module).
#[test]
fn both_gateways_load_the_same_rate_limit_script() {
    let bp = Library::new(&[]).unwrap().load("ml-gateway").unwrap();
    let source = bp
        .components
        .iter()
        .find(|c| c.label.ends_with("gateway-ratelimit-script"))
        .expect("a gateway-ratelimit-script component");
    assert_eq!(source.files.len(), 1, "one script: {:?}", source.files.keys());
    let script = &source.files.values().next().unwrap().bytes;
    let loaders = [
        (
            "go",
            "services/gateway/internal/ratelimit/gcra.lua",
            "services/gateway/internal/ratelimit/ratelimit.go",
            "//go:embed gcra.lua",
        ),
        (
            "node",
            "services/gateway/src/ratelimit/gcra.lua",
            "services/gateway/src/ratelimit/redis-limiter.ts",
            "new URL('gcra.lua', import.meta.url)",
        ),
    ];
    let mut seen = 0;
    for (answers, files) in rendered("ml-gateway") {
        let Some(Value::Int(limit)) = answers.get("rate_limit") else {
            panic!("no rate_limit in {:?}", answers.0)
        };
        let Some(Value::Str(gateway)) = answers.get("gateway") else {
            panic!("no gateway in {:?}", answers.0)
        };
        let (_, lua, loader, load) = loaders
            .iter()
            .find(|(g, ..)| g == gateway)
            .expect("a gateway this test knows");
        if *limit == 0 {
            assert!(
                !files.keys().any(|p| p.ends_with(".lua")),
                "{:?}: a script without a limit",
                answers.0
            );
            continue;
        }
        let got = &files
            .get(*lua)
            .unwrap_or_else(|| panic!("{:?}: no {lua}", answers.0))
            .bytes;
        assert_eq!(
            got.as_slice(),
            &script[..],
            "{:?}: {lua} is not gateway-ratelimit-script's",
            answers.0
        );
        let code = String::from_utf8_lossy(&files[*loader].bytes);
        assert!(
            code.contains(load),
            "{:?}: {loader} does not load it ({load})",
            answers.0
        );
        seen += 1;
    }
    assert!(seen >= 4, "{seen} renders with a limiter");
}

/// `make install` runs `install-ml` (uv sync, then `scripts/dev.sh model`,
/// which trains the model when there is none) before `install-gateway`. So
/// training must not ask for what only the gateway's install brings (Node's
/// `node_modules`, Go): a fresh `make install` of a Node.js gateway stopped at
/// "no `services/gateway/node_modules`: run 'make install' first".
#[test]
fn make_install_trains_the_model_before_the_gateway_is_installed() {
    let bp = Library::new(&[]).unwrap().load("ml-gateway").unwrap();
    for gateway in ["go", "node"] {
        let answers = combinations(&bp)
            .into_iter()
            .find(|a| matches!(a.get("gateway"), Some(Value::Str(g)) if g == gateway))
            .unwrap();
        let files = render(&bp, &answers).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        for (path, file) in &files {
            let full = tmp.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, &file.bytes).unwrap();
        }
        // A venv whose python "trains" by writing the model file where
        // `python -m PACKAGE.train` would (ML_MODEL_PATH, from services/ml).
        let venv = tmp.path().join("services/ml/.venv/bin");
        std::fs::create_dir_all(&venv).unwrap();
        let python = venv.join("python");
        std::fs::write(
            &python,
            "#!/bin/sh\nmkdir -p models && : > \"${ML_MODEL_PATH:-models/model.joblib}\"\n",
        )
        .unwrap();
        run(Command::new("chmod").arg("755").arg(&python), "chmod");
        // PATH without go, node or npm: only what training needs.
        run(
            Command::new("bash")
                .args(["scripts/dev.sh", "model"])
                .current_dir(tmp.path())
                .env("PATH", "/usr/bin:/bin"),
            &format!("{gateway}: scripts/dev.sh model without the gateway installed"),
        );
        assert!(
            tmp.path().join("services/ml/models/model.joblib").is_file(),
            "{gateway}: scripts/dev.sh model trained no model"
        );
    }
}

/// Loading an embedded blueprint skips the checks a test can make once
/// (conditions that read unknown names, the lints): this is that test. From
/// their folder, as a user's blueprints, every check runs.
#[test]
fn the_embedded_blueprints_pass_every_load_check_from_their_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints");
    let library = Library::new(std::slice::from_ref(&root)).unwrap();
    let embedded = Library::new(&[]).unwrap();
    for name in library.names() {
        let bp = library
            .load(&name)
            .unwrap_or_else(|e| panic!("{name}, loaded from {}: {e:#}", root.display()));
        assert_eq!(bp.origin, root.display().to_string(), "{name} came from the folder");
        let same = embedded.load(&name).unwrap();
        assert_eq!(same.origin, "embedded");
        assert_eq!(bp.components.len(), same.components.len(), "{name}");
    }
}
