//! `braid regen`, `braid diff` and `braid check`: one plan, three uses.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::Context as _;

use crate::{
    answers::{self, Answers, Fill},
    blueprint::{Blueprint, Library},
    config,
    error::Error,
    plan::{self, Action, Disk, Plan, Sink},
    printer::{Kind, Printer},
    prompt::NoPrompt,
    render::{self, CONFIG_FILE},
    state::{State, STATE_FILE},
    write,
};

struct Prepared {
    dir: PathBuf,
    blueprint: Blueprint,
    answers: Answers,
    old: State,
    plan: Plan,
}

struct FsDisk<'a>(&'a Path);

impl Disk for FsDisk<'_> {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        let full = self.0.join(path);
        full.is_file().then(|| std::fs::read(full).ok()).flatten()
    }
}

fn prepare(library: &Library, dir: &Path) -> anyhow::Result<Prepared> {
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.is_file() {
        return Err(Error::target(
            format!("{} has no {CONFIG_FILE}", dir.display()),
            "pass the folder of a project made by `braid new`",
        )
        .into());
    }
    let project = config::read(&config_path)?;
    let blueprint = library.load(&project.blueprint)?;
    let answers = answers::resolve(
        &blueprint,
        &project.inputs,
        &BTreeMap::new(),
        Fill::Config(&config_path),
        &mut NoPrompt,
    )?;
    let old = State::read(dir).map_err(|e| Error::target(e, "restore .braid/ from version control"))?;
    let Some(old) = old else {
        return Err(Error::target(
            format!(
                "{} is missing: regen needs it as the base of its merge",
                dir.join(STATE_FILE).display()
            ),
            "restore .braid/ from version control (it is meant to be committed)",
        )
        .into());
    };
    let files = render::render(&blueprint, &answers)?;
    let moves = moves(&blueprint, &old, &answers);
    let new_state = super::new::new_state(&blueprint, &answers, &files);
    let plan = plan::plan(&old, &files, &moves, &FsDisk(dir), new_state);
    Ok(Prepared {
        dir: dir.to_path_buf(),
        blueprint,
        answers,
        old,
        plan,
    })
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

impl Sink for FsDisk<'_> {
    fn write(&mut self, path: &str, bytes: &[u8], executable: bool) -> anyhow::Result<()> {
        write::write_atomic(&self.0.join(path), bytes, executable)
    }

    fn remove(&mut self, path: &str) -> anyhow::Result<()> {
        remove(self.0, path)
    }
}

fn apply(p: &Prepared) -> anyhow::Result<()> {
    p.plan.apply(&mut FsDisk(&p.dir))?;
    let state = p.plan.state.as_ref().expect("plan has a state");
    // Written last: an interrupted regen runs again from the same base.
    write::write_atomic(&p.dir.join(STATE_FILE), state.to_json().as_bytes(), false)
}

/// Removes a file and the folders it leaves empty.
fn remove(dir: &Path, path: &str) -> anyhow::Result<()> {
    let full = dir.join(path);
    match std::fs::remove_file(&full) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot delete {}", full.display())),
    }
    let mut parent = full.parent();
    while let Some(p) = parent {
        if p == dir || std::fs::remove_dir(p).is_err() {
            break;
        }
        parent = p.parent();
    }
    Ok(())
}

fn kind(action: Action) -> Kind {
    match action {
        Action::Conflict => Kind::Bad,
        Action::KeepOrphan | Action::KeepForeign | Action::KeepDeleted => Kind::Warn,
        Action::KeepEdited | Action::KeepScaffold | Action::Unchanged => Kind::Note,
        _ => Kind::Good,
    }
}

fn report(p: &Prepared, printer: &Printer) {
    for step in &p.plan.steps {
        if step.action == Action::Unchanged && step.moved_from.is_none() {
            continue;
        }
        let mut line = step.path.clone();
        if let Some(from) = &step.moved_from {
            line.push_str(&format!(" (moved from {from})"));
        }
        match step.action {
            Action::KeepOrphan => line.push_str(": no longer generated, but edited by you; kept"),
            Action::KeepDeleted => line.push_str(": deleted by you; stays deleted"),
            Action::KeepForeign => line.push_str(": exists and braid did not write it; left alone"),
            Action::KeepEdited => line.push_str(": your edits kept"),
            _ => {}
        }
        let verb = if step.action == Action::Unchanged {
            "Moved"
        } else {
            step.action.verb()
        };
        printer.status_styled(verb, kind(step.action), line);
    }
}

pub fn regen(library: &Library, dir: &Path, dry_run: bool, printer: &Printer) -> anyhow::Result<i32> {
    let p = prepare(library, dir)?;
    report(&p, printer);
    let changes = p.plan.changes().count();
    if dry_run {
        printer.note(format!("{changes} files would change; nothing written (dry run)"));
        return Ok(0);
    }
    apply(&p)?;
    let conflicts = p.plan.conflicts();
    if conflicts > 0 {
        printer.warn(format!(
            "{conflicts} file(s) have conflict markers (<<<<<<< {} / >>>>>>> {}): resolve them and commit",
            plan::OURS_LABEL,
            plan::THEIRS_LABEL
        ));
        return Ok(1);
    }
    printer.status(
        "Regenerated",
        format!(
            "{} from {} ({changes} files changed)",
            p.dir.display(),
            p.blueprint.name
        ),
    );
    Ok(0)
}

pub fn diff(library: &Library, dir: &Path, printer: &Printer) -> anyhow::Result<i32> {
    let p = prepare(library, dir)?;
    let mut changed = false;
    for step in p.plan.changes() {
        changed = true;
        let old_path = step.moved_from.as_deref().unwrap_or(&step.path);
        let ours = step.ours.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
        let result = step.result.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
        let a = if step.ours.is_some() {
            format!("a/{old_path}")
        } else {
            "/dev/null".into()
        };
        let b = if step.result.is_some() {
            format!("b/{}", step.path)
        } else {
            "/dev/null".into()
        };
        let text = similar::TextDiff::from_lines(ours.as_ref(), result.as_ref())
            .unified_diff()
            .context_radius(3)
            .header(&a, &b)
            .to_string();
        if text.is_empty() {
            printer.out(format!("rename {a} -> {b}"));
        } else {
            printer.out(text.trim_end());
        }
    }
    Ok(i32::from(changed))
}

pub fn check(library: &Library, dir: &Path, strict: bool, printer: &Printer) -> anyhow::Result<i32> {
    let p = prepare(library, dir)?;
    let mut problems = Vec::new();
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
    if !problems.is_empty() || (strict && !edits.is_empty()) {
        printer.note(format!(
            "run `braid regen {}` to bring the repo in line with {CONFIG_FILE}",
            dir.display()
        ));
        return Ok(1);
    }
    printer.status("In sync", format!("{} matches {CONFIG_FILE}", dir.display()));
    Ok(0)
}
