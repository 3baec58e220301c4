//! `braid list` and `braid show`: what the blueprints are and what they ask.

use serde_json::json;
use std::fmt::Write as _;

use crate::{answers::Value, blueprint::Library, printer::Printer, ExitStatus};

pub fn list(library: &Library, json: bool, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let blueprints = library.load_all()?;
    if json {
        let items: Vec<_> = blueprints
            .iter()
            .map(|b| json!({"name": b.name, "version": b.version, "summary": b.summary, "origin": b.origin}))
            .collect();
        printer.out(serde_json::to_string_pretty(&items)?);
        return Ok(ExitStatus::Success);
    }
    let width = blueprints.iter().map(|b| b.name.len()).max().unwrap_or(0);
    for b in &blueprints {
        printer.out(format!("{:<width$}  {:<8} {}", b.name, b.version, b.summary));
    }
    Ok(ExitStatus::Success)
}

pub fn show(library: &Library, name: &str, json: bool, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let b = library.load(name)?;
    if json {
        let questions: Vec<_> = b
            .questions
            .iter()
            .map(|q| {
                json!({
                    "key": q.key, "prompt": q.prompt, "type": q.kind.name(),
                    "default": q.default.as_ref().map(Value::to_json),
                    "choices": q.choices, "validate": q.validate.as_ref().map(regex::Regex::as_str),
                    "when": q.when, "flag": q.flag(),
                })
            })
            .collect();
        let components: Vec<_> = b
            .components
            .iter()
            .map(|c| json!({"source": c.label, "when": c.when}))
            .collect();
        let constraints: Vec<_> = b
            .constraints
            .iter()
            .map(|c| json!({"check": c.check, "message": c.message, "hint": c.hint}))
            .collect();
        let out = json!({"name": b.name, "version": b.version, "summary": b.summary, "origin": b.origin,
                         "questions": questions, "constraints": constraints, "components": components});
        printer.out(serde_json::to_string_pretty(&out)?);
        return Ok(ExitStatus::Success);
    }
    printer.out(format!(
        "{} {} ({})\n{}\n\nQuestions:",
        b.name, b.version, b.origin, b.summary
    ));
    for q in &b.questions {
        let mut line = format!("  {:<14} {:<7} {}", q.key, q.kind.name(), q.prompt);
        if !q.choices.is_empty() {
            let _ = write!(line, "\n  {:<22} choices: {}", "", q.choices.join(", "));
        }
        if let Some(d) = &q.default {
            let _ = write!(line, "\n  {:<22} default: {d}", "");
        }
        if let Some(re) = &q.validate {
            let _ = write!(line, "\n  {:<22} must match: {}", "", re.as_str());
        }
        if let Some(w) = &q.when {
            let _ = write!(line, "\n  {:<22} asked when: {w}", "");
        }
        let _ = write!(line, "\n  {:<22} flag: {}", "", q.flag());
        printer.out(line);
    }
    if !b.constraints.is_empty() {
        printer.out("\nConstraints:");
        for c in &b.constraints {
            printer.out(format!("  {}  ({})", c.check, c.message));
        }
    }
    printer.out("\nComponents:");
    for c in &b.components {
        let when = c.when.as_ref().map(|w| format!(" (when {w})")).unwrap_or_default();
        printer.out(format!("  {}{when}  {} files", c.label, c.files.len()));
    }
    Ok(ExitStatus::Success)
}
