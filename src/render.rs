//! Rendering: answers in, a [`FileSet`] out, entirely in memory. Nothing
//! touches the disk until every file has rendered without error.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use minijinja::{Environment, UndefinedBehavior};

use crate::{
    answers::Answers,
    blueprint::{Blueprint, Component},
    error::{Error, Result},
    filters,
    state::{Ownership, STATE_DIR},
};

/// One rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFile {
    pub bytes: Vec<u8>,
    pub executable: bool,
    pub ownership: Ownership,
}

/// Every file a render produces, by repo-relative path (`/`-separated).
pub type FileSet = BTreeMap<String, OutFile>;

pub const CONFIG_FILE: &str = "braid.toml";

/// The variables every template sees: the answers, the blueprint's derived
/// names, and `braid_version`. (`provides` is added by [`render`].)
pub fn context(blueprint: &Blueprint, answers: &Answers) -> Result<BTreeMap<String, minijinja::Value>> {
    let mut ctx = answers.to_jinja_map();
    let env = environment();
    let mut derived = Vec::new();
    for (key, template) in &blueprint.derive {
        let value = env
            .render_str(template, &ctx)
            .map_err(|e| Error::blueprint(&blueprint.name, format!("[derive] {key}: {}", template_error(&e, &ctx))))?;
        derived.push((key.clone(), minijinja::Value::from(value)));
    }
    ctx.extend(derived);
    ctx.insert("braid_version".into(), env!("CARGO_PKG_VERSION").into());
    Ok(ctx)
}

/// The environment every template renders in: strict about undefined
/// values, with braid's filters.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Spans and source in errors, in release builds too.
    env.set_debug(true);
    env.set_keep_trailing_newline(true);
    filters::register(&mut env);
    env
}

/// One file of the render: which component, its source path, where it goes.
struct Placed<'b> {
    component: &'b Component,
    src: &'b str,
    path: String,
}

/// The context as one value: converted once, then shared by every template
/// and condition it is given to (a map given each time is converted each time).
fn as_value(ctx: &BTreeMap<String, minijinja::Value>) -> minijinja::Value {
    ctx.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The components whose `when` holds, in order. A `when` reads the answers
/// and the `[derive]` names (`ctx` is [`context`]).
fn active<'b>(blueprint: &'b Blueprint, ctx: &BTreeMap<String, minijinja::Value>) -> Result<Vec<&'b Component>> {
    let ctx = as_value(ctx);
    let mut out = Vec::new();
    for c in &blueprint.components {
        let on = match &c.when {
            Some(when) => when
                .eval(&ctx)
                .map_err(|e| Error::blueprint(&blueprint.name, format!("component {}: `when` {e}", c.label)))?,
            None => true,
        };
        if on {
            out.push(c);
        }
    }
    Ok(out)
}

/// Every file the answers select, with its rendered path: the files of the
/// active components (`active`) whose `[[file]]` rules (the blueprint's and
/// the component's own) all hold.
fn layout<'b>(
    blueprint: &'b Blueprint,
    components: &[&'b Component],
    env: &Environment<'_>,
    ctx: &BTreeMap<String, minijinja::Value>,
) -> Result<Vec<Placed<'b>>> {
    let bp_err = |msg: String| Error::blueprint(&blueprint.name, msg);
    let value = as_value(ctx);
    let mut out = Vec::new();
    for &c in components {
        'files: for src in c.files.keys() {
            let Some(path) = render_path(env, src, ctx).map_err(|e| bp_err(format!("{}/{src}: {e}", c.label)))? else {
                continue;
            };
            for rule in blueprint.rules.iter().chain(&c.rules) {
                let Some(when) = rule.when.as_ref().filter(|_| rule.glob.is_match(&path)) else {
                    continue;
                };
                let holds = when
                    .eval(&value)
                    .map_err(|e| bp_err(format!("{}: [[file]] `when` {e}", c.label)))?;
                if !holds {
                    continue 'files;
                }
            }
            out.push(Placed {
                component: c,
                src,
                path,
            });
        }
    }
    Ok(out)
}

/// The values active components provide, by name; every name the
/// blueprint declares is there, empty when nobody provides it.
fn provides(
    blueprint: &Blueprint,
    components: &[&Component],
    env: &Environment<'_>,
    ctx: &BTreeMap<String, minijinja::Value>,
) -> Result<BTreeMap<String, Vec<String>>> {
    let value = as_value(ctx);
    let mut out: BTreeMap<String, Vec<String>> = blueprint.provides.iter().map(|k| (k.clone(), Vec::new())).collect();
    for c in components {
        for (key, items) in &c.provides {
            let Some(slot) = out.get_mut(key) else {
                return Err(Error::blueprint(
                    &blueprint.name,
                    format!(
                        "{}/component.toml provides `{key}`, which the blueprint does not declare in `provides = [...]`",
                        c.label
                    ),
                ));
            };
            for item in items {
                // Most provided texts hold no tag: minijinja would hand them
                // back as they are (no trailing newline is trimmed), after
                // compiling each into a template of its own.
                if !has_tags(item) {
                    slot.push(item.clone());
                    continue;
                }
                let text = env.render_str(item, &value).map_err(|e| {
                    Error::blueprint(
                        &blueprint.name,
                        format!("{}: provides.{key}: {}", c.label, template_error(&e, ctx)),
                    )
                })?;
                slot.push(text);
            }
        }
    }
    Ok(out)
}

pub fn render(blueprint: &Blueprint, answers: &Answers) -> Result<FileSet> {
    let bp_err = |msg: String| Error::blueprint(&blueprint.name, msg);
    let mut env = environment();
    // Templates are loaded by name: "<component label>/<path>", so errors and
    // {% include %} speak of the file as it is in the blueprint.
    // Read lazily: a blueprint holds templates for every answer (megabytes of
    // lock files), one render reads only the active ones. Embedded bytes are
    // borrowed, never copied; a template becomes a String only when loaded.
    let mut sources: BTreeMap<String, std::borrow::Cow<'static, [u8]>> = BTreeMap::new();
    for c in &blueprint.components {
        for (path, file) in &c.files {
            if path.ends_with(".j2") {
                sources.insert(format!("{}/{path}", c.label), file.bytes.clone());
            }
        }
    }
    env.set_loader(move |name| match sources.get(name) {
        None => Ok(None),
        Some(bytes) => std::str::from_utf8(bytes).map(|s| Some(s.to_string())).map_err(|_| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("{name}: a .j2 template must be UTF-8"),
            )
        }),
    });

    let mut ctx = context(blueprint, answers)?;
    let components = active(blueprint, &ctx)?;
    let provided = provides(blueprint, &components, &env, &ctx)?;
    ctx.insert("provides".into(), minijinja::Value::from_serialize(&provided));
    // The context as one value, built once: `render(&map)` would convert the
    // whole map (and every `provides` list) again for each template.
    let ctx_value = as_value(&ctx);
    // Templates render in parallel (`par`): each is compiled and rendered on
    // its own; the files are then gathered in layout order.
    let placed = layout(blueprint, &components, &env, &ctx)?;
    let mut origin: BTreeMap<&str, &str> = BTreeMap::new();
    for p in &placed {
        if let Some(first) = origin.insert(&p.path, &p.component.label) {
            return Err(bp_err(format!(
                "both {first} and {} write `{}`",
                p.component.label, p.path
            )));
        }
    }
    let rendered = crate::par::try_map(&placed, |p| {
        let file = &p.component.files[p.src];
        if !p.src.ends_with(".j2") {
            return Ok(file.bytes.to_vec());
        }
        let name = format!("{}/{}", p.component.label, p.src);
        let Ok(source) = std::str::from_utf8(&file.bytes) else {
            return Err(bp_err(format!("{name}: a .j2 template must be UTF-8")));
        };
        // Compiled here, not through the loader: the loader compiles under a
        // lock, one template at a time. `{% include %}` still goes through it.
        let text = render_template(&env, &name, source, &ctx_value).map_err(|e| bp_err(template_error(&e, &ctx)))?;
        Ok(if text.contains('\r') {
            text.replace("\r\n", "\n").into_bytes()
        } else {
            text.into_bytes()
        })
    })?;
    let mut out = FileSet::new();
    for (placed, bytes) in placed.into_iter().zip(rendered) {
        let (c, path) = (placed.component, placed.path);
        let ownership = blueprint.ownership(&path);
        out.insert(
            path,
            OutFile {
                bytes,
                executable: c.files[placed.src].executable,
                ownership,
            },
        );
    }
    Ok(out)
}

/// Renders one-line templates of the blueprint (`next_steps`, `recap`).
pub fn lines(blueprint: &Blueprint, answers: &Answers, what: &str, templates: &[String]) -> Result<Vec<String>> {
    let env = environment();
    let ctx = context(blueprint, answers)?;
    templates
        .iter()
        .map(|t| {
            env.render_str(t, &ctx)
                .map_err(|e| Error::blueprint(&blueprint.name, format!("{what}: {}", template_error(&e, &ctx))))
        })
        .collect()
}

/// Source file -> rendered path for every file the answers select: how
/// paths move when an answer they depend on changes.
pub fn paths(blueprint: &Blueprint, answers: &Answers) -> Result<BTreeMap<String, String>> {
    let env = environment();
    let ctx = context(blueprint, answers)?;
    Ok(layout(blueprint, &active(blueprint, &ctx)?, &env, &ctx)?
        .into_iter()
        .map(|p| (format!("{}/{}", p.component.label, p.src), p.path))
        .collect())
}

/// Renders the expressions in a template path, drops `.j2`, and refuses paths
/// that leave the target. `None` when an expression renders a segment empty.
fn render_path(
    env: &Environment<'_>,
    src: &str,
    ctx: &BTreeMap<String, minijinja::Value>,
) -> Result<Option<String>, String> {
    let src = src.strip_suffix(".j2").unwrap_or(src);
    let rendered = if src.contains("{{") || src.contains("{%") {
        env.render_str(src, ctx).map_err(|e| template_error(&e, ctx))?
    } else {
        src.to_string()
    };
    check_path(&rendered)?;
    if rendered.split('/').any(str::is_empty) {
        return Ok(None);
    }
    Ok(Some(rendered))
}

/// Compiles and renders one template, its plain tail aside (`split_tail`).
fn render_template(
    env: &Environment<'_>,
    name: &str,
    source: &str,
    ctx: &minijinja::Value,
) -> Result<String, minijinja::Error> {
    let (head, tail) = split_tail(source);
    // A head that does not compile is a template that does not: the whole
    // is compiled for minijinja's own error.
    let (template, tail) = match env.template_from_named_str(name, head) {
        Ok(template) => (template, tail),
        Err(_) => (env.template_from_named_str(name, source)?, ""),
    };
    let mut text = template.render(ctx)?;
    text.push_str(tail);
    Ok(text)
}

/// A template as the part to compile and the plain text after its last tag,
/// which renders as it is. Lock files are templates for a name near their
/// top, and minijinja's lexer steps through every character of a template's
/// text (a third of `braid new`'s template time went to one `uv.lock`).
///
/// The tail is split off only when nothing can tell: it opens no tag, the
/// last text that closes one (`}}`, `%}`, `#}`) does not trim what follows
/// (`-}}`), no `extends` could drop text outside blocks, and the head ends a
/// line, so that an error quotes the same lines. The environment keeps the
/// trailing newline (`environment`), as the tail does.
fn split_tail(source: &str) -> (&str, &str) {
    let whole = (source, "");
    // The last `}}`, `%}` or `#}`, found from its `}` (a search for a
    // `char` is a `memrchr`; one for a `&str` steps back a byte at a time).
    let mut end = source.len();
    let close = loop {
        let Some(brace) = source[..end].rfind('}') else {
            return whole;
        };
        if brace > 0 && matches!(source.as_bytes()[brace - 1], b'}' | b'%' | b'#') {
            break brace - 1;
        }
        end = brace;
    };
    if source[..close].ends_with('-') || source.contains("extends") {
        return whole;
    }
    let Some(end_of_line) = source[close..].find('\n') else {
        return whole;
    };
    let (head, tail) = source.split_at(close + end_of_line + 1);
    if has_tags(tail) {
        return whole;
    }
    (head, tail)
}

/// Does `text` open a tag, an expression or a comment? Without one, a
/// template is its own rendering.
fn has_tags(text: &str) -> bool {
    // One pass from `{` to `{` (`memchr`), not one search per opener.
    let mut from = 0;
    while let Some(brace) = text[from..].find('{') {
        from += brace + 1;
        if matches!(text.as_bytes().get(from), Some(b'{' | b'%' | b'#')) {
            return true;
        }
    }
    false
}

/// A rendered path must stay inside the target and off braid's own files
/// and git's. Compared without regard to case: on a case-insensitive disk
/// `BRAID.TOML` is `braid.toml`.
pub fn check_path(path: &str) -> Result<(), String> {
    let escapes = path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path.split('/').any(|seg| seg == ".." || seg == ".")
        || path.contains(':');
    if escapes {
        return Err(format!(
            "the path `{}` is absolute, leaves the project folder or holds `\\`, `:` or NUL; paths must stay inside it",
            path.escape_debug()
        ));
    }
    let first = path.split('/').next().unwrap_or("");
    let owned = path.eq_ignore_ascii_case(CONFIG_FILE)
        || first.eq_ignore_ascii_case(STATE_DIR)
        || path.split('/').any(|seg| seg.eq_ignore_ascii_case(".git"));
    if owned {
        return Err(format!(
            "the path `{}` is braid's or git's own; a blueprint cannot write it",
            path.escape_debug()
        ));
    }
    Ok(())
}

/// A path read back from `.braid/` (state or journal) passes the rendered-path
/// rules and is in the one spelling braid writes: no empty segment.
pub fn check_state_path(path: &str) -> Result<(), String> {
    check_path(path)?;
    if path.split('/').any(str::is_empty) {
        return Err(format!(
            "the path `{}` has an empty segment; braid never writes such a path",
            path.escape_debug()
        ));
    }
    Ok(())
}

/// A template error as `FILE:LINE: what went wrong`, then the line with the
/// span marked. An undefined value names the variable and, when one is close,
/// the variable that was probably meant. minijinja's own Display already
/// appends `(in FILE:LINE)`, so the message is built from its parts instead.
fn template_error(e: &minijinja::Error, ctx: &BTreeMap<String, minijinja::Value>) -> String {
    let source = e.template_source();
    let undefined_value = e.kind() == minijinja::ErrorKind::UndefinedError;
    let range = match (source, e.range()) {
        (Some(src), Some(r)) if src.get(r.clone()).is_some() => Some(if undefined_value { widen(src, r) } else { r }),
        _ => None,
    };
    let mut msg = String::new();
    // "<string>" is an inline template (a path): the caller names the file.
    if let Some(name) = e.name().filter(|n| *n != "<string>") {
        msg.push_str(name);
        if let Some(line) = e.line() {
            let _ = write!(msg, ":{line}");
        }
        msg.push_str(": ");
    }
    let what = match (source, range.clone()) {
        (Some(src), Some(r)) if undefined_value => undefined(e, &src[r], ctx),
        _ => match e.detail() {
            Some(detail) => format!("{}: {detail}", e.kind()),
            None => e.kind().to_string(),
        },
    };
    msg.push_str(&what);
    if let (Some(src), Some(r)) = (source, range) {
        msg.push('\n');
        msg.push_str(&mark(src, r));
    }
    msg
}

/// "undefined variable `x` (did you mean `y`?)", or "undefined value in `expr`"
/// when no single unknown name stands out (a missing attribute, say).
fn undefined(e: &minijinja::Error, expr: &str, ctx: &BTreeMap<String, minijinja::Value>) -> String {
    // Names in scope: the context, plus loop and `set` variables, which
    // minijinja lists in its debug info ("Referenced variables: {").
    let info = e.display_debug_info().to_string();
    let locals = info
        .split_once("Referenced variables: {")
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_string()))
        .collect::<Vec<_>>();
    let known = |name: &str| ctx.contains_key(name) || locals.iter().any(|l| l == name);
    let unknown: Vec<&str> = names_in(expr).into_iter().filter(|n| !known(n)).collect();
    match unknown.as_slice() {
        [name] => {
            let hint = crate::error::closest(name, ctx.keys().map(String::as_str))
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            format!("undefined variable `{name}`{hint}")
        }
        _ => format!("undefined value in `{expr}`"),
    }
}

/// The expression around an error span: minijinja marks `upper` in
/// `x | upper` and `.b.c` in `a.b.c`; take the whole `x | upper` / `a.b.c`.
fn widen(src: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let mut start = range.start;
    let before = src[..start].trim_end();
    if before.ends_with('|') || src[start..].starts_with('.') {
        let tag = [before.rfind("{{"), before.rfind("{%")]
            .into_iter()
            .flatten()
            .max()
            .map_or(0, |i| i + 2);
        let line = before.rfind('\n').map_or(0, |i| i + 1);
        start = tag.max(line);
        if src[start..].starts_with(['-', '+']) {
            start += 1;
        }
    }
    start += src[start..range.end].len() - src[start..range.end].trim_start().len();
    start..range.end
}

/// The variable names an expression reads: identifiers outside strings that
/// do not follow `.` or `|` (attributes, filters) and are not keywords.
fn names_in(expr: &str) -> Vec<&str> {
    const KEYWORDS: [&str; 14] = [
        "and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False", "None", "loop",
    ];
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    let mut prev = b' ';
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == b'\\' {
                i += 1;
            } else if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if b == b'"' || b == b'\'' {
            quote = Some(b);
            i += 1;
            continue;
        }
        if b.is_ascii_alphabetic() || b == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &expr[start..i];
            let followed_call = expr[i..].trim_start().starts_with('(');
            if prev != b'.' && prev != b'|' && !followed_call && !KEYWORDS.contains(&word) && !out.contains(&word) {
                out.push(word);
            }
            prev = b'a';
            continue;
        }
        if !b.is_ascii_whitespace() {
            prev = b;
        }
        i += 1;
    }
    out
}

/// The line of a span with the span underlined, numbered like the message.
fn mark(src: &str, range: std::ops::Range<usize>) -> String {
    let line_start = src[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[range.start..].find('\n').map_or(src.len(), |i| range.start + i);
    let line = &src[line_start..line_end];
    let number = crate::error::line_of(src, range.start).to_string();
    let pad = " ".repeat(number.len());
    let col = src[line_start..range.start].chars().count();
    let len = src[range.start..range.end.min(line_end)].chars().count().max(1);
    format!(
        "{pad} |\n{number} | {line}\n{pad} | {}{}",
        " ".repeat(col),
        "^".repeat(len)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message for rendering `template` (named `dir/t.j2`) over `project_name` and `items`.
    fn error_for(template: &str) -> String {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_debug(true);
        env.add_template("dir/t.j2", template).unwrap();
        let ctx = BTreeMap::from([
            ("project_name".to_string(), minijinja::Value::from("acme")),
            ("items".to_string(), minijinja::Value::from(vec!["a", "b"])),
        ]);
        let e = env.get_template("dir/t.j2").unwrap().render(&ctx).unwrap_err();
        template_error(&e, &ctx)
    }

    #[test]
    fn template_error_names_the_undefined_variable_once_with_its_line() {
        let msg = error_for("one\n{{ projet_name }}\n");
        assert_eq!(
            msg,
            "dir/t.j2:2: undefined variable `projet_name` (did you mean `project_name`?)\n  |\n2 | {{ projet_name }}\n  |    ^^^^^^^^^^^"
        );
        for (template, name) in [
            ("{{ 'a' ~ missing ~ 'b' }}", "missing"),
            ("{{ missing | upper }}", "missing"),
            ("{%- if missing %}x{% endif %}", "missing"),
            ("{% for i in items %}{{ i ~ gone }}{% endfor %}", "gone"),
            ("{% set x = 1 %}{{ x ~ other }}", "other"),
            ("{{ \"project_name\" ~ nope }}", "nope"),
        ] {
            let msg = error_for(template);
            assert!(
                msg.contains(&format!("undefined variable `{name}`")),
                "{template}: {msg}"
            );
        }
    }

    #[test]
    fn template_error_without_one_unknown_name_quotes_the_expression() {
        let msg = error_for("{{ project_name.nope.deeper }}");
        assert!(
            msg.starts_with("dir/t.j2:1: undefined value in `project_name.nope.deeper`"),
            "{msg}"
        );
        let msg = error_for("{% for i in items %}{{ i.attr | upper }}{% endfor %}");
        assert!(msg.contains("undefined value in `i.attr | upper`"), "{msg}");
        let msg = error_for("{{ nofunc(1) }}");
        assert!(
            msg.starts_with("dir/t.j2:1: unknown function: nofunc is unknown"),
            "{msg}"
        );
        assert!(!msg.contains("(in "), "{msg}");
    }

    /// A template renders as it would whole when its plain tail is split
    /// off, and fails with the same message.
    #[test]
    fn a_template_renders_the_same_with_its_tail_split_off() {
        let mut env = environment();
        env.add_template("base.j2", "[{% block b %}{% endblock %}]").unwrap();
        let map = BTreeMap::from([("x".to_string(), "v".into()), ("y".to_string(), "w".into())]);
        let ctx = as_value(&map);
        let tail = "\n  plain } text }\n\n  with { braces\n";
        let cases = [
            "{{ x }}\nrest\n",
            "a {{ x }} b\nc\nd",
            "{{ x -}}\n   \n  trimmed\n",
            "{{ x -}}\n}} not a tag\n  more\n",
            "{% if x %}yes{% endif %}\n",
            "{% for i in [1, 2] %}{{ i }}{% endfor %} same line\n",
            "{# note #}\n",
            "{% raw %}{{ kept }}{% endraw %}\n",
            "{{ \"}}\" }}\n",
            "{% set s %}\nbody\n{% endset %}{{ s }}\n",
            "{% macro m() %}M{% endmacro %}{{ m() }}\n",
            "{{ y }} {{ x\n",
            "{% if x %}\nopen\n",
            "{{ x }}\n{{ y\n",
            "{{ missing }}\n",
            "{{ x | nofilter }}\nline\n",
            "{% extends 'base.j2' %}{% block b %}{{ x }}{% endblock %}\n",
            "no tags at all\n",
            "",
        ];
        for case in cases {
            for source in [case.to_string(), format!("{case}{tail}"), format!("{case}x }}}}{tail}")] {
                let whole = env
                    .template_from_named_str("t.j2", &source)
                    .and_then(|t| t.render(&ctx));
                let split = render_template(&env, "t.j2", &source, &ctx);
                match (whole, split) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{source:?}"),
                    (Err(a), Err(b)) => {
                        assert_eq!(a.to_string(), b.to_string(), "{source:?}");
                        assert_eq!((a.line(), a.range()), (b.line(), b.range()), "{source:?}");
                        assert_eq!(template_error(&a, &map), template_error(&b, &map), "{source:?}");
                    }
                    (a, b) => panic!("{source:?}: {a:?} against {b:?}"),
                }
            }
        }
        assert_eq!(split_tail("{{ x }}}\nrest }\n"), ("{{ x }}}\n", "rest }\n"));
        assert_eq!(
            split_tail("a}\n{% if x %}b{% endif %} }\n} {\n"),
            ("a}\n{% if x %}b{% endif %} }\n", "} {\n")
        );
        assert_eq!(split_tail("{# c #}"), ("{# c #}", ""));
        assert_eq!(split_tail("}"), ("}", ""));
        let lock = format!("name = \"{{{{ x }}}}\"\n{}", "[[package]]\nname = \"a\"\n".repeat(50));
        let (head, tail) = split_tail(&lock);
        assert_eq!(head, "name = \"{{ x }}\"\n");
        assert_eq!(tail.len(), lock.len() - head.len());
    }

    /// The shortcut of `provides`: a text without a tag renders as itself.
    #[test]
    fn a_text_without_tags_is_its_own_rendering() {
        let env = environment();
        let ctx = BTreeMap::from([("x".to_string(), minijinja::Value::from("v"))]);
        for text in [
            "",
            "a",
            "a\n",
            "a\n\n",
            " \n\t",
            "\r\n",
            "{ x }",
            "}}",
            "%}",
            "#}",
            "-}}",
            "{-",
            "{\n{",
            "$x {x}} {",
        ] {
            assert!(!has_tags(text), "{text:?}");
            assert_eq!(env.render_str(text, &ctx).unwrap(), text);
        }
        for text in ["{{ x }}", "{% if x %}{% endif %}", "{# c #}", "a{{x}}"] {
            assert!(has_tags(text), "{text:?}");
        }
    }

    #[test]
    fn paths_that_escape_are_refused() {
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "C:/x",
            "a\\b",
            ".braid/state.json",
            "braid.toml",
            "BRAID.TOML",
            ".git/HEAD",
            "a/.GIT/config",
            ".Braid/x",
            "a\0b",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        for bad in ["", "a//b", "a/", "/"] {
            assert!(check_state_path(bad).is_err(), "{bad:?}");
        }
        for good in [
            "a",
            ".github/workflows/ci.yml",
            "services/ml/src/pkg/x.py",
            "..hidden",
            ".gitignore",
            "x.braid-new",
        ] {
            assert!(check_state_path(good).is_ok(), "{good}");
        }
    }
}
