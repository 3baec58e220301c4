//! `braid regen`, `braid diff` and `braid check`: one plan, three uses.
//!
//! regen holds the repo lock, finishes whatever a killed run left (the
//! journal), refuses to run over unresolved conflicts, then applies its plan
//! as one journaled transaction and reports what it did after it did it.

use std::fmt::Write as _;
use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use crate::{
    answers::{self, Answers, Fill},
    blueprint::{Blueprint, Library},
    config,
    error::Error,
    fsx::{BlockKind, Found, Lock, Repo, LOCK_WAIT},
    journal::{self, JOURNAL_FILE},
    merge,
    plan::{self, Action, Disk, Plan, Step},
    printer::{Kind, Printer},
    prompt::NoPrompt,
    render::{self, CONFIG_FILE},
    state::{beside, State, STATE_FILE},
    ExitStatus,
};

struct Prepared {
    repo: Repo,
    blueprint: Blueprint,
    answers: Answers,
    old: State,
    plan: Plan,
    /// Conflicts of an earlier regen still on disk.
    unresolved: Vec<String>,
}

impl Disk for Repo {
    fn read(&self, path: &str) -> anyhow::Result<Found> {
        Repo::read(self, path)
    }
}

fn open(dir: &Path) -> anyhow::Result<Repo> {
    let no_project = || {
        Error::target(
            format!("{} has no {CONFIG_FILE}", dir.display()),
            "pass the folder of a project made by `braid new`",
        )
    };
    if !dir.is_dir() {
        return Err(no_project().into());
    }
    let repo = Repo::open(dir)?;
    match repo.read(CONFIG_FILE)? {
        Found::File { .. } => Ok(repo),
        Found::Missing => Err(no_project().into()),
        Found::Blocked(b) => Err(Error::target(
            format!("{}: {b}", repo.full(CONFIG_FILE).display()),
            "make braid.toml a plain file",
        )
        .into()),
    }
}

fn prepare(library: &Library, repo: Repo) -> anyhow::Result<Prepared> {
    let config_path = repo.full(CONFIG_FILE);
    let project = config::read(&config_path)?;
    let blueprint = library.load(&project.blueprint)?;
    let answers = answers::resolve(
        &blueprint,
        &project.inputs,
        &BTreeMap::new(),
        Fill::Config(&config_path),
        &mut NoPrompt,
    )?;
    let Some(old) = State::read(&repo)? else {
        return Err(Error::target(
            format!(
                "{} is missing: regen needs it as the base of its merge",
                repo.full(STATE_FILE).display()
            ),
            "restore .braid/ from version control (it is meant to be committed)",
        )
        .into());
    };
    let files = render::render(&blueprint, &answers)?;
    let moves = moves(&blueprint, &old, &answers);
    let new_state = super::new::new_state(&blueprint, &answers, &files);
    let plan = plan::plan(&old, &files, &moves, &repo, new_state)?;
    let unresolved = unresolved(&repo, &old, &plan)?;
    Ok(Prepared {
        repo,
        blueprint,
        answers,
        old,
        plan,
        unresolved,
    })
}

/// Files still in conflict: recorded ones whose markers or `FILE.braid-new`
/// are still there, and any file on disk holding braid's markers.
fn unresolved(repo: &Repo, old: &State, plan: &Plan) -> anyhow::Result<Vec<String>> {
    let mut out = BTreeSet::new();
    for path in &old.conflicts {
        if matches!(repo.read(&beside(path))?, Found::File { .. }) {
            out.insert(path.clone());
        }
    }
    for step in &plan.steps {
        if step.ours.as_deref().is_some_and(merge::has_markers) {
            out.insert(step.moved_from.clone().unwrap_or_else(|| step.path.clone()));
        }
    }
    Ok(out.into_iter().collect())
}

/// Old path -> new path for files whose path depends on a changed answer.
pub fn moves(blueprint: &Blueprint, old: &State, answers: &Answers) -> BTreeMap<String, String> {
    let Some(old_answers) = Answers::from_json(blueprint, &old.answers) else {
        return BTreeMap::new();
    };
    let (Ok(before), Ok(after)) = (
        render::paths(blueprint, &old_answers),
        render::paths(blueprint, answers),
    ) else {
        return BTreeMap::new();
    };
    before
        .iter()
        .filter_map(|(source, old_path)| {
            let new_path = after.get(source)?;
            (new_path != old_path).then(|| (old_path.clone(), new_path.clone()))
        })
        .collect()
}

fn kind(action: Action) -> Kind {
    match action {
        Action::Conflict | Action::ConflictBeside => Kind::Bad,
        Action::KeepOrphan | Action::KeepForeign | Action::KeepDeleted | Action::KeepLinked => Kind::Warn,
        Action::KeepEdited | Action::KeepScaffold | Action::Unchanged => Kind::Note,
        _ => Kind::Good,
    }
}

fn report(p: &Prepared, skipped: &[String], printer: &Printer) {
    let mut links_told = BTreeSet::new();
    for step in &p.plan.steps {
        if skipped.contains(&step.path) {
            printer.status_styled(
                "Left as is",
                Kind::Warn,
                format!(
                    "{}: changed while braid ran; run `braid regen` again to merge it",
                    step.path
                ),
            );
            continue;
        }
        if step.action == Action::Unchanged && step.moved_from.is_none() {
            continue;
        }
        if let Some(b) = &step.blocked {
            // One line per link, however many files lie below it.
            if links_told.insert(b.at.clone()) {
                let verb = if b.what == BlockKind::Link {
                    "Not followed"
                } else {
                    "In the way"
                };
                printer.status_styled(verb, Kind::Warn, format!("{b}; left alone"));
            }
            continue;
        }
        printer.status_styled(verb(step), kind(step.action), describe(step));
    }
}

fn verb(step: &Step) -> &'static str {
    if step.action == Action::Unchanged {
        "Moved"
    } else {
        step.action.verb()
    }
}

fn describe(step: &Step) -> String {
    let mut line = step.path.clone();
    if let Some(from) = &step.moved_from {
        let _ = write!(line, " (moved from {from})");
    }
    match step.action {
        Action::KeepOrphan => line.push_str(": no longer generated, but edited by you; kept"),
        Action::KeepDeleted => line.push_str(": deleted by you; stays deleted"),
        Action::KeepForeign => line.push_str(": exists and braid did not write it; left alone"),
        Action::KeepEdited => line.push_str(": your edits kept"),
        Action::ConflictBeside => {
            let why = step.note.as_deref().unwrap_or("cannot be merged");
            let _ = write!(
                line,
                ": {why}; yours kept, braid's version written to {}",
                beside(&step.path)
            );
        }
        _ => {}
    }
    line
}

fn refuse_unresolved(p: &Prepared, printer: &Printer) {
    for path in &p.unresolved {
        printer.status_styled("Conflict", Kind::Bad, format!("{path}: not resolved yet"));
    }
    printer.warn(format!(
        "{} file(s) still hold a conflict: remove the <<<<<<< {} / >>>>>>> {} markers \
         (or, for FILE.braid-new, take what you want from it and delete it), then run braid again",
        p.unresolved.len(),
        plan::OURS_LABEL,
        plan::THEIRS_LABEL
    ));
}

/// A step for `--json`.
fn step_json(step: &Step) -> serde_json::Value {
    serde_json::json!({
        "path": step.path,
        "action": step.action.id(),
        "moved_from": step.moved_from,
        "blocked_by": step.blocked.as_ref().map(|b| b.at.clone()),
        "note": step.note,
    })
}

fn regen_json(p: &Prepared, dry_run: bool, skipped: &[String], status: ExitStatus) -> String {
    let steps: Vec<_> = p
        .plan
        .steps
        .iter()
        .filter(|s| s.action != Action::Unchanged || s.moved_from.is_some())
        .map(step_json)
        .collect();
    let out = serde_json::json!({
        "dry_run": dry_run,
        "exit_code": status.code(),
        "steps": steps,
        "conflicts": p.plan.conflicts().map(|s| s.path.clone()).collect::<Vec<_>>(),
        "unresolved": p.unresolved,
        "changed_while_running": skipped,
    });
    serde_json::to_string_pretty(&out).expect("json serializes")
}

pub fn regen(
    library: &Library,
    dir: &Path,
    dry_run: bool,
    json: bool,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let repo = open(dir)?;
    let _lock = Lock::acquire(repo.root(), LOCK_WAIT)?;
    if !dry_run {
        if let Some(j) = journal::recover(&repo)? {
            let how = if j.committed { "Finished" } else { "Rolled back" };
            printer.status_styled(how, Kind::Note, format!("the interrupted `braid {}`", j.command));
        }
    } else if repo.occupied(JOURNAL_FILE)? {
        return Err(interrupted(dir).into());
    }
    let p = prepare(library, repo)?;
    if !p.unresolved.is_empty() {
        refuse_unresolved(&p, printer);
        if json {
            printer.out(regen_json(&p, dry_run, &[], ExitStatus::Failure));
        }
        return Ok(ExitStatus::Failure);
    }
    let changes = p.plan.changes().count();
    if dry_run {
        report(&p, &[], printer);
        printer.note(format!("{changes} files would change; nothing written (dry run)"));
        if json {
            printer.out(regen_json(&p, dry_run, &[], ExitStatus::Success));
        }
        return Ok(ExitStatus::Success);
    }
    let txn = p.plan.txn();
    let state_same = p.plan.state == p.old;
    let skipped = if txn.writes.is_empty() && txn.removes.is_empty() && state_same {
        Vec::new() // nothing to do: not even the state is rewritten
    } else {
        journal::commit(&p.repo, "regen", &txn, &p.plan.state, Some(&p.old))?.skipped
    };
    report(&p, &skipped, printer);
    warn_left_behind(&p, printer);
    let conflicts = p.plan.conflicts().filter(|s| !skipped.contains(&s.path)).count();
    let status = ExitStatus::from_ok(conflicts == 0 && skipped.is_empty());
    if json {
        printer.out(regen_json(&p, false, &skipped, status));
    }
    if status != ExitStatus::Success {
        if conflicts > 0 {
            printer.warn(format!(
                "{conflicts} file(s) in conflict: resolve the conflict markers (<<<<<<< {} / >>>>>>> {}), \
                 or take what you want from FILE.braid-new and delete it; then run braid again",
                plan::OURS_LABEL,
                plan::THEIRS_LABEL
            ));
        }
        return Ok(ExitStatus::Failure);
    }
    printer.status(
        "Regenerated",
        format!("{} from {} ({changes} files changed)", dir.display(), p.blueprint.name),
    );
    Ok(ExitStatus::Success)
}

/// A renamed project moves braid's files; the user's own files in the old
/// folders stay where they are, and the user is told.
fn warn_left_behind(p: &Prepared, printer: &Printer) {
    let mut dirs: BTreeMap<&str, &str> = BTreeMap::new();
    for step in &p.plan.steps {
        if let (Some(from), Some(_)) = (&step.moved_from, &step.result) {
            let old_dir = from.rsplit_once('/').map_or("", |(d, _)| d);
            let new_dir = step.path.rsplit_once('/').map_or("", |(d, _)| d);
            if !old_dir.is_empty() && old_dir != new_dir {
                dirs.insert(old_dir, new_dir);
            }
        }
    }
    for (old_dir, new_dir) in dirs {
        if !p.repo.is_dir(old_dir).unwrap_or(false) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(p.repo.full(old_dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "__pycache__")
            .collect();
        names.sort();
        for name in names {
            printer.warn(format!(
                "{old_dir}/{name} is not braid's and stays where it is; the project's files moved to {new_dir}/: \
                 move it there too"
            ));
        }
    }
}

fn interrupted(dir: &Path) -> Error {
    Error::target(
        format!("{} holds an interrupted braid run ({JOURNAL_FILE})", dir.display()),
        format!("run `braid regen {}` to finish it", dir.display()),
    )
}

/// Opens a project for reading: a shared lock, and no interrupted run.
fn open_for_reading(library: &Library, dir: &Path) -> anyhow::Result<(Prepared, Lock)> {
    let repo = open(dir)?;
    let lock = Lock::acquire_shared(repo.root(), LOCK_WAIT)?;
    if repo.occupied(JOURNAL_FILE)? {
        return Err(interrupted(dir).into());
    }
    Ok((prepare(library, repo)?, lock))
}

pub fn diff(library: &Library, dir: &Path, json: bool, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let (p, _lock) = open_for_reading(library, dir)?;
    let mut changed = false;
    let mut changes = Vec::new();
    for step in p.plan.changes() {
        changed = true;
        let old_path = step.moved_from.as_deref().unwrap_or(&step.path);
        let ours = step.ours.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
        let (result, b) = match (&step.result, &step.beside) {
            (Some(r), _) => (String::from_utf8_lossy(r), format!("b/{}", step.path)),
            (None, Some((theirs, _))) => (String::from_utf8_lossy(theirs), format!("b/{}", beside(&step.path))),
            (None, None) => (std::borrow::Cow::default(), "/dev/null".into()),
        };
        let a = if step.ours.is_some() {
            format!("a/{old_path}")
        } else {
            "/dev/null".into()
        };
        let text = similar::TextDiff::from_lines(ours.as_ref(), result.as_ref())
            .unified_diff()
            .context_radius(3)
            .header(&a, &b)
            .to_string();
        let text = if text.is_empty() {
            format!("rename {a} -> {b}")
        } else {
            text.trim_end().to_string()
        };
        if json {
            let mut entry = step_json(step);
            entry["diff"] = text.into();
            changes.push(entry);
        } else {
            printer.out(text);
        }
    }
    if json {
        let out = serde_json::json!({"changes": changes, "unresolved": p.unresolved});
        printer.out(serde_json::to_string_pretty(&out).expect("json serializes"));
    }
    Ok(ExitStatus::from_ok(!changed && p.unresolved.is_empty()))
}

pub fn check(library: &Library, dir: &Path, strict: bool, json: bool, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let (p, _lock) = open_for_reading(library, dir)?;
    let mut problems = Vec::new();
    for path in &p.unresolved {
        problems.push(format!("{path}: unresolved conflict"));
    }
    if p.old.blueprint_version != p.blueprint.version {
        problems.push(format!(
            "blueprint {} is at {}, the repo was generated from {}",
            p.blueprint.name, p.blueprint.version, p.old.blueprint_version
        ));
    }
    let answers: BTreeMap<_, _> = p.answers.0.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
    if answers != p.old.answers {
        problems.push(format!("{CONFIG_FILE} changed since the last regen"));
    }
    let mut edits = Vec::new();
    for step in &p.plan.steps {
        let was_deleted = p.old.files.get(&step.path).is_some_and(|r| r.deleted);
        match step.action {
            a if a.writes() => problems.push(format!("{}: regen would report `{}`", step.path, a.verb())),
            Action::KeepDeleted if !was_deleted => problems.push(format!("{}: managed file missing", step.path)),
            Action::KeepEdited | Action::KeepOrphan => edits.push(step.path.clone()),
            Action::KeepLinked if p.old.files.contains_key(&step.path) => {
                if let Some(b) = &step.blocked {
                    problems.push(format!("{}: {b}", step.path));
                }
            }
            _ if step.moved_from.is_some() => problems.push(format!("{}: regen would move it", step.path)),
            _ => {}
        }
    }
    for e in &edits {
        printer.status_styled(
            "Edited",
            if strict { Kind::Bad } else { Kind::Note },
            format!("{e}: hand edits that regen keeps"),
        );
    }
    for problem in &problems {
        printer.status_styled("Out of sync", Kind::Bad, problem);
    }
    let in_sync = problems.is_empty() && (!strict || edits.is_empty());
    if json {
        let out =
            serde_json::json!({"in_sync": in_sync, "problems": problems, "edits": edits, "unresolved": p.unresolved});
        printer.out(serde_json::to_string_pretty(&out).expect("json serializes"));
    }
    if !in_sync {
        printer.note(format!(
            "run `braid regen {}` to bring the repo in line with {CONFIG_FILE}",
            dir.display()
        ));
        return Ok(ExitStatus::Failure);
    }
    printer.status("In sync", format!("{} matches {CONFIG_FILE}", dir.display()));
    Ok(ExitStatus::Success)
}
