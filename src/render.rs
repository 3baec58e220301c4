//! Rendering: answers in, a [`FileSet`] out, entirely in memory. Nothing
//! touches the disk until every file has rendered without error.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};

use crate::{
    answers::{condition, Answers},
    blueprint::Blueprint,
    error::{Error, Result},
    filters, names,
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

/// The variables every template sees.
pub fn context(answers: &Answers) -> BTreeMap<String, minijinja::Value> {
    let mut ctx = answers.to_jinja_map();
    if let Some(name) = answers.str("project_name") {
        for (k, v) in names::derived(name) {
            ctx.insert(k.to_string(), v);
        }
    }
    ctx.insert("braid_version".into(), env!("CARGO_PKG_VERSION").into());
    ctx
}

pub fn render(blueprint: &Blueprint, answers: &Answers) -> Result<FileSet> {
    let bp_err = |msg: String| Error::blueprint(&blueprint.name, msg);
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    filters::register(&mut env);
    // Templates are loaded by name: "<component label>/<path>", so errors and
    // {% include %} speak of the file as it is in the blueprint.
    let mut sources = BTreeMap::new();
    for c in &blueprint.components {
        for (path, file) in &c.files {
            if path.ends_with(".j2") {
                let text = String::from_utf8(file.bytes.to_vec())
                    .map_err(|_| bp_err(format!("{}/{path}: a .j2 template must be UTF-8", c.label)))?;
                sources.insert(format!("{}/{path}", c.label), text);
            }
        }
    }
    env.set_loader(move |name| Ok(sources.get(name).cloned()));

    let ctx = context(answers);
    let mut out = FileSet::new();
    let mut origin: BTreeMap<String, &str> = BTreeMap::new();
    for c in &blueprint.components {
        if let Some(when) = &c.when {
            if !condition(when, answers).map_err(|e| bp_err(format!("component {}: `when` {e}", c.label)))? {
                continue;
            }
        }
        for (src_path, file) in &c.files {
            let path = render_path(&env, src_path, &ctx).map_err(|e| bp_err(format!("{}/{src_path}: {e}", c.label)))?;
            let Some(path) = path else { continue };
            let bytes = if src_path.ends_with(".j2") {
                let name = format!("{}/{src_path}", c.label);
                let text = env
                    .get_template(&name)
                    .and_then(|t| t.render(&ctx))
                    .map_err(|e| bp_err(template_error(&e)))?;
                if text.trim().is_empty() {
                    continue; // an empty render means "not for these answers"
                }
                text.replace("\r\n", "\n").into_bytes()
            } else {
                file.bytes.to_vec()
            };
            if let Some(first) = origin.insert(path.clone(), &c.label) {
                return Err(bp_err(format!("both {first} and {} write `{path}`", c.label)));
            }
            let ownership = blueprint.ownership(&path);
            out.insert(
                path,
                OutFile {
                    bytes,
                    executable: file.executable,
                    ownership,
                },
            );
        }
    }
    Ok(out)
}

/// Source file -> rendered path for every active component: how paths move
/// when an answer they depend on changes.
pub fn paths(blueprint: &Blueprint, answers: &Answers) -> Result<BTreeMap<String, String>> {
    let bp_err = |msg: String| Error::blueprint(&blueprint.name, msg);
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    filters::register(&mut env);
    let ctx = context(answers);
    let mut out = BTreeMap::new();
    for c in &blueprint.components {
        if let Some(when) = &c.when {
            if !condition(when, answers).map_err(|e| bp_err(format!("component {}: `when` {e}", c.label)))? {
                continue;
            }
        }
        for src in c.files.keys() {
            if let Some(path) = render_path(&env, src, &ctx).map_err(|e| bp_err(format!("{}/{src}: {e}", c.label)))? {
                out.insert(format!("{}/{src}", c.label), path);
            }
        }
    }
    Ok(out)
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
        env.render_str(src, ctx).map_err(|e| template_error(&e))?
    } else {
        src.to_string()
    };
    check_path(&rendered)?;
    if rendered.split('/').any(str::is_empty) {
        return Ok(None);
    }
    Ok(Some(rendered))
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

/// A template error with its file, line and the source around it.
fn template_error(e: &minijinja::Error) -> String {
    let mut msg = String::new();
    if let (Some(name), Some(line)) = (e.name(), e.line()) {
        msg.push_str(&format!("template {name}, line {line}: "));
    }
    msg.push_str(&e.to_string());
    let info = e.display_debug_info().to_string();
    if !info.trim().is_empty() {
        msg.push_str(&format!("\n{info}"));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

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
