//! The regen plan: for every file, base (what braid wrote last time, from
//! `.braid/state.json`), ours (the disk now) and theirs (the new render)
//! decide one action, as in the table of DESIGN.md section 5. Pure: the disk
//! is read through [`Disk`], and nothing is written here.
//!
//! [`decide`] is that table as one function; [`plan`] walks every file
//! through it, follows renamed paths, and derives the state to record.

use std::collections::{BTreeMap, BTreeSet};

use crate::{
    fsx::{default_mode, keep_mode, Blocked, Found},
    journal::{Txn, Write},
    merge::{self, Merged},
    render::FileSet,
    state::{beside, FileRecord, Ownership, State},
};

pub use crate::merge::{OURS_LABEL, THEIRS_LABEL};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Same everywhere, or braid's change already on disk.
    Unchanged,
    /// New in the render: written.
    Create,
    /// Unedited by the user, changed in the render: overwritten.
    Update,
    /// Edited by the user and changed in the render, without overlap: merged.
    Merge,
    /// Edited by the user and changed in the render, overlapping: written with conflict markers.
    Conflict,
    /// Both changed, and the result cannot be a text with markers (a binary
    /// file, or a merged YAML/TOML/JSON that no longer parses): the user's
    /// file stays and braid's version is written beside it (`FILE.braid-new`).
    ConflictBeside,
    /// Edited by the user, unchanged in the render: the user's file stays.
    KeepEdited,
    /// A scaffold file: the user's once written, never rewritten.
    KeepScaffold,
    /// A managed file the user deleted: stays deleted.
    KeepDeleted,
    /// No longer rendered and unedited: removed.
    Delete,
    /// No longer rendered but edited by the user: kept, with a warning.
    KeepOrphan,
    /// Exists on disk but braid never wrote it: left alone.
    KeepForeign,
    /// A symbolic link (or a file where a folder should be) is in the way:
    /// braid never follows links, so the path is left alone.
    KeepLinked,
}

impl Action {
    pub fn verb(self) -> &'static str {
        match self {
            Action::Unchanged => "Unchanged",
            Action::Create => "Created",
            Action::Update => "Updated",
            Action::Merge => "Merged",
            Action::Conflict | Action::ConflictBeside => "Conflict",
            Action::KeepEdited => "Kept edits",
            Action::KeepScaffold => "Kept",
            Action::KeepDeleted => "Kept deleted",
            Action::Delete => "Deleted",
            Action::KeepOrphan => "Kept orphan",
            Action::KeepForeign => "Not braid's",
            Action::KeepLinked => "Not followed",
        }
    }

    /// The action's name for machines (`--json`).
    pub fn id(self) -> &'static str {
        match self {
            Action::Unchanged => "unchanged",
            Action::Create => "create",
            Action::Update => "update",
            Action::Merge => "merge",
            Action::Conflict => "conflict",
            Action::ConflictBeside => "conflict_beside",
            Action::KeepEdited => "keep_edited",
            Action::KeepScaffold => "keep_scaffold",
            Action::KeepDeleted => "keep_deleted",
            Action::Delete => "delete",
            Action::KeepOrphan => "keep_orphan",
            Action::KeepForeign => "keep_foreign",
            Action::KeepLinked => "keep_linked",
        }
    }

    /// Does applying it change the disk?
    pub fn writes(self) -> bool {
        matches!(
            self,
            Action::Create
                | Action::Update
                | Action::Merge
                | Action::Conflict
                | Action::ConflictBeside
                | Action::Delete
        )
    }

    pub fn is_conflict(self) -> bool {
        matches!(self, Action::Conflict | Action::ConflictBeside)
    }
}

/// One file's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub path: String,
    pub action: Action,
    /// Moved here from this path (the project was renamed): the old one is removed.
    pub moved_from: Option<String>,
    /// What the disk holds now (at `moved_from` for a move).
    pub ours: Option<Vec<u8>>,
    /// What the disk will hold at `path` (None: removed or left alone).
    pub result: Option<Vec<u8>>,
    /// The mode `result` is written with: the user's, where the file exists.
    pub mode: u32,
    /// For [`Action::ConflictBeside`]: braid's version, written to `FILE.braid-new`,
    /// and what is at that path now.
    pub beside: Option<(Vec<u8>, Option<Vec<u8>>)>,
    /// For [`Action::KeepLinked`]: what is in the way.
    pub blocked: Option<Blocked>,
    /// Why, when the action needs a word (the parse error of a merged file).
    pub note: Option<String>,
}

#[derive(Debug)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub state: State,
}

impl Plan {
    pub fn changes(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| s.action.writes() || (s.moved_from.is_some() && s.result.is_some()))
    }

    pub fn conflicts(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.action.is_conflict())
    }

    /// The writes and removals that carry the plan out.
    pub fn txn(&self) -> Txn {
        let mut txn = Txn::default();
        for step in &self.steps {
            if let Some(bytes) = &step.result {
                txn.writes.push(Write {
                    path: step.path.clone(),
                    bytes: bytes.clone(),
                    mode: step.mode,
                    // A move writes to a free path; otherwise the file as planned.
                    expect: if step.moved_from.is_some() {
                        None
                    } else {
                        step.ours.clone()
                    },
                });
            }
            if let Some((bytes, now)) = &step.beside {
                txn.writes.push(Write {
                    path: beside(&step.path),
                    bytes: bytes.clone(),
                    mode: default_mode(false),
                    expect: now.clone(),
                });
            }
            // A move carries the file's content to its new path (its result),
            // so the old path goes once that is written.
            if let (Some(from), Some(ours)) = (&step.moved_from, &step.ours) {
                txn.removes.push((from.clone(), ours.clone()));
            }
            if step.action == Action::Delete {
                if let Some(ours) = &step.ours {
                    txn.removes.push((step.path.clone(), ours.clone()));
                }
            }
        }
        txn
    }

    /// Applies the plan to an in-memory sink (tests, and the property test).
    pub fn apply(&self, sink: &mut dyn Sink) -> anyhow::Result<()> {
        let txn = self.txn();
        for w in &txn.writes {
            sink.write(&w.path, &w.bytes, w.mode & 0o111 != 0)?;
        }
        for (path, _) in &txn.removes {
            sink.remove(path)?;
        }
        Ok(())
    }
}

/// The disk as the planner sees it. An error is an unreadable file: the
/// plan stops rather than take it for a deleted one.
pub trait Disk {
    fn read(&self, path: &str) -> anyhow::Result<Found>;
}

/// Where a plan is applied in memory.
pub trait Sink {
    fn write(&mut self, path: &str, bytes: &[u8], executable: bool) -> anyhow::Result<()>;
    fn remove(&mut self, path: &str) -> anyhow::Result<()>;
}

/// What regen knows of one path.
#[derive(Debug, Clone, Copy)]
pub struct Sides<'a> {
    /// braid's last version (None: braid never wrote this path).
    pub base: Option<&'a [u8]>,
    /// The disk now.
    pub ours: &'a Found,
    /// The new render (None: no longer rendered).
    pub theirs: Option<&'a [u8]>,
    pub ownership: Ownership,
    /// For merges of structured files: the path decides the parser.
    pub path: &'a str,
}

/// What [`decide`] makes of a path: the action, and the bytes to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub result: Option<Vec<u8>>,
    pub note: Option<String>,
}

impl Decision {
    fn just(action: Action) -> Self {
        Decision {
            action,
            result: None,
            note: None,
        }
    }

    fn write(action: Action, bytes: &[u8]) -> Self {
        Decision {
            action,
            result: Some(bytes.to_vec()),
            note: None,
        }
    }
}

/// The table of DESIGN.md section 5, one row per arm.
pub fn decide(s: Sides<'_>) -> Decision {
    let ours = match s.ours {
        Found::Blocked(_) => return Decision::just(Action::KeepLinked),
        Found::Missing => None,
        Found::File { bytes, .. } => Some(bytes.as_slice()),
    };
    let Some(theirs) = s.theirs else {
        // No longer rendered.
        return match (ours, s.base) {
            (None, _) => Decision::just(Action::Unchanged), // gone from both
            (Some(o), Some(b)) if o == b => Decision::just(Action::Delete),
            (Some(_), Some(_)) => Decision::just(Action::KeepOrphan),
            (Some(_), None) => Decision::just(Action::KeepForeign),
        };
    };
    match (s.base, ours) {
        (None, None) => Decision::write(Action::Create, theirs),
        (None, Some(o)) if o == theirs => Decision::just(Action::Unchanged),
        (None, Some(_)) => Decision::just(Action::KeepForeign),
        (Some(_), None) => Decision::just(Action::KeepDeleted),
        (Some(_), Some(_)) if s.ownership == Ownership::Scaffold => Decision::just(Action::KeepScaffold),
        (Some(_), Some(o)) if o == theirs => Decision::just(Action::Unchanged),
        (Some(b), Some(o)) if o == b => Decision::write(Action::Update, theirs),
        (Some(b), Some(_)) if b == theirs => Decision::just(Action::KeepEdited),
        (Some(b), Some(o)) => match merge::merge(b, o, theirs) {
            Merged::Clean(m) => match structure_broken(s.path, o, theirs, &m) {
                Some(why) => Decision {
                    action: Action::ConflictBeside,
                    result: None,
                    note: Some(why),
                },
                None => Decision::write(Action::Merge, &m),
            },
            Merged::Conflict(m) => Decision::write(Action::Conflict, &m),
            Merged::Binary => Decision {
                action: Action::ConflictBeside,
                result: None,
                note: Some("binary file: braid cannot merge it".into()),
            },
        },
    }
}

/// A clean line merge of a YAML/TOML/JSON file can still be wrong: an edit
/// inside a block the render removed lands in another block. When both
/// sides parse and the merge does not, the merge is refused.
fn structure_broken(path: &str, ours: &[u8], theirs: &[u8], merged: &[u8]) -> Option<String> {
    let err = merge::check_structured(path, merged).err()?;
    let sides_ok = merge::check_structured(path, ours).is_ok() && merge::check_structured(path, theirs).is_ok();
    sides_ok.then(|| format!("the merged file no longer parses ({err})"))
}

/// Builds the plan. `moves` maps old paths to new ones for files whose path
/// depends on an answer that changed (a renamed project). `new_state` is the
/// state of the new render; the plan adjusts it to what regen leaves.
pub fn plan(
    old: &State,
    new: &FileSet,
    moves: &BTreeMap<String, String>,
    disk: &dyn Disk,
    mut new_state: State,
) -> anyhow::Result<Plan> {
    // A move needs its old file on record, its new path rendered and free
    // (on record and on disk), and is used only then.
    let mut moved_to: BTreeMap<&str, &str> = BTreeMap::new();
    for (from, to) in moves {
        if from != to
            && old.files.contains_key(from)
            && new.contains_key(to)
            && !old.files.contains_key(to)
            && disk.read(to)? == Found::Missing
        {
            moved_to.insert(to, from);
        }
    }
    let moved_from: BTreeSet<&str> = moved_to.values().copied().collect();

    let mut steps = Vec::new();
    for (path, file) in new {
        let from = moved_to.get(path.as_str()).copied();
        let base_path = from.unwrap_or(path);
        let rec = old.files.get(base_path);
        let base_bytes = rec.and_then(|r| r.content.to_bytes().ok());
        let ours = disk.read(base_path)?;
        let decision = decide(Sides {
            base: base_bytes.as_deref(),
            ours: &ours,
            theirs: Some(&file.bytes),
            ownership: file.ownership,
            path,
        });
        let mut step = step_for(path, decision, &ours, rec, file.executable);
        match step.action {
            Action::KeepForeign | Action::KeepLinked => {
                new_state.files.remove(path);
            }
            Action::KeepDeleted => {
                if let Some(r) = new_state.files.get_mut(path) {
                    r.deleted = true;
                }
            }
            Action::Conflict => {
                new_state.conflicts.insert(path.clone());
            }
            Action::ConflictBeside => {
                new_state.conflicts.insert(path.clone());
                let now = disk.read(&beside(path))?;
                step.beside = Some((file.bytes.clone(), now.bytes().map(<[u8]>::to_vec)));
            }
            _ => {}
        }
        if from.is_some() && step.action != Action::KeepLinked {
            step.moved_from = from.map(str::to_string);
            // A move writes the new path even when the content stays.
            if step.result.is_none() {
                step.result.clone_from(&step.ours);
            }
        }
        steps.push(step);
    }

    for (path, rec) in &old.files {
        if new.contains_key(path) || moved_from.contains(path.as_str()) {
            continue;
        }
        let base = rec.content.to_bytes().ok();
        let ours = disk.read(path)?;
        let decision = decide(Sides {
            base: base.as_deref(),
            ours: &ours,
            theirs: None,
            ownership: rec.ownership,
            path,
        });
        if decision.action == Action::Unchanged {
            continue; // gone from the render and from the disk: forgotten
        }
        if decision.action == Action::KeepOrphan {
            // Keep the record so that a later render of this path merges against it.
            new_state.files.insert(path.clone(), rec.clone());
        }
        steps.push(step_for(path, decision, &ours, Some(rec), rec.executable));
    }
    steps.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Plan {
        steps,
        state: new_state,
    })
}

fn step_for(path: &str, d: Decision, ours: &Found, rec: Option<&FileRecord>, executable: bool) -> Step {
    let mode = match ours {
        Found::File { mode, .. } => keep_mode(*mode, rec.is_some_and(|r| r.executable), executable),
        _ => default_mode(executable),
    };
    Step {
        path: path.to_string(),
        action: d.action,
        moved_from: None,
        ours: ours.bytes().map(<[u8]>::to_vec),
        result: d.result,
        mode,
        beside: None,
        blocked: match ours {
            Found::Blocked(b) => Some(b.clone()),
            _ => None,
        },
        note: d.note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: &[u8]) -> Found {
        Found::File {
            bytes: bytes.to_vec(),
            mode: 0o644,
        }
    }

    fn run(base: Option<&[u8]>, ours: &Found, theirs: Option<&[u8]>, ownership: Ownership) -> Decision {
        decide(Sides {
            base,
            ours,
            theirs,
            ownership,
            path: "f.txt",
        })
    }

    fn action(base: Option<&[u8]>, ours: &Found, theirs: Option<&[u8]>) -> Action {
        run(base, ours, theirs, Ownership::Managed).action
    }

    const ALL: [Action; 13] = [
        Action::Unchanged,
        Action::Create,
        Action::Update,
        Action::Merge,
        Action::Conflict,
        Action::ConflictBeside,
        Action::KeepEdited,
        Action::KeepScaffold,
        Action::KeepDeleted,
        Action::Delete,
        Action::KeepOrphan,
        Action::KeepForeign,
        Action::KeepLinked,
    ];

    #[test]
    fn what_each_action_says_and_does() {
        let table: Vec<(&str, &str, bool, bool)> = ALL
            .iter()
            .map(|a| (a.verb(), a.id(), a.writes(), a.is_conflict()))
            .collect();
        assert_eq!(
            table,
            [
                ("Unchanged", "unchanged", false, false),
                ("Created", "create", true, false),
                ("Updated", "update", true, false),
                ("Merged", "merge", true, false),
                ("Conflict", "conflict", true, true),
                ("Conflict", "conflict_beside", true, true),
                ("Kept edits", "keep_edited", false, false),
                ("Kept", "keep_scaffold", false, false),
                ("Kept deleted", "keep_deleted", false, false),
                ("Deleted", "delete", true, false),
                ("Kept orphan", "keep_orphan", false, false),
                ("Not braid's", "keep_foreign", false, false),
                ("Not followed", "keep_linked", false, false),
            ]
        );
    }

    fn step(path: &str, action: Action, moved_from: Option<&str>, result: Option<&[u8]>) -> Step {
        Step {
            path: path.into(),
            action,
            moved_from: moved_from.map(str::to_string),
            ours: None,
            result: result.map(<[u8]>::to_vec),
            mode: 0o644,
            beside: None,
            blocked: None,
            note: None,
        }
    }

    #[test]
    fn changes_are_the_writes_and_the_moves_that_carry_content() {
        let p = Plan {
            steps: vec![
                step("a", Action::Unchanged, None, None),
                step("b", Action::Update, None, Some(b"b")),
                step("c", Action::Unchanged, Some("old/c"), Some(b"c")),
                step("d", Action::KeepDeleted, Some("old/d"), None),
                step("e", Action::Conflict, None, Some(b"e")),
                step("f", Action::KeepEdited, None, None),
            ],
            state: State::for_render("t", "0", BTreeMap::new(), &FileSet::new()),
        };
        let changed: Vec<&str> = p.changes().map(|s| s.path.as_str()).collect();
        assert_eq!(changed, ["b", "c", "e"]);
        let conflicts: Vec<&str> = p.conflicts().map(|s| s.path.as_str()).collect();
        assert_eq!(conflicts, ["e"]);
    }

    #[derive(Default)]
    struct Sunk(BTreeMap<String, (Vec<u8>, bool)>);

    impl Sink for Sunk {
        fn write(&mut self, path: &str, bytes: &[u8], executable: bool) -> anyhow::Result<()> {
            self.0.insert(path.into(), (bytes.to_vec(), executable));
            Ok(())
        }
        fn remove(&mut self, path: &str) -> anyhow::Result<()> {
            self.0.remove(path);
            Ok(())
        }
    }

    #[test]
    fn apply_writes_with_the_executable_bit_then_removes() {
        let mut moved = step("new/x", Action::Unchanged, Some("old/x"), Some(b"x"));
        moved.ours = Some(b"x".to_vec());
        moved.mode = 0o755;
        let mut gone = step("y", Action::Delete, None, None);
        gone.ours = Some(b"y".to_vec());
        let p = Plan {
            steps: vec![moved, gone, step("z", Action::Create, None, Some(b"z"))],
            state: State::for_render("t", "0", BTreeMap::new(), &FileSet::new()),
        };
        let mut disk = Sunk::default();
        disk.0.insert("old/x".into(), (b"x".to_vec(), false));
        disk.0.insert("y".into(), (b"y".to_vec(), false));
        p.apply(&mut disk).unwrap();
        let after: Vec<(&str, &[u8], bool)> = disk
            .0
            .iter()
            .map(|(k, (b, x))| (k.as_str(), b.as_slice(), *x))
            .collect();
        assert_eq!(after, [("new/x", &b"x"[..], true), ("z", &b"z"[..], false)]);
    }

    // One test per row of DESIGN.md section 5, plus the rows it implies.

    #[test]
    fn row_same_same_keeps() {
        assert_eq!(action(Some(b"a\n"), &file(b"a\n"), Some(b"a\n")), Action::Unchanged);
    }

    #[test]
    fn row_unedited_and_changed_updates() {
        let d = run(Some(b"a\n"), &file(b"a\n"), Some(b"b\n"), Ownership::Managed);
        assert_eq!((d.action, d.result.as_deref()), (Action::Update, Some(&b"b\n"[..])));
    }

    #[test]
    fn row_edited_and_unchanged_keeps_the_users_file() {
        let d = run(Some(b"a\n"), &file(b"mine\n"), Some(b"a\n"), Ownership::Managed);
        assert_eq!((d.action, d.result), (Action::KeepEdited, None));
    }

    #[test]
    fn row_edited_and_changed_apart_merges() {
        let d = run(
            Some(b"a\nb\nc\nd\n"),
            &file(b"A\nb\nc\nd\n"),
            Some(b"a\nb\nc\nD\n"),
            Ownership::Managed,
        );
        assert_eq!(d.action, Action::Merge);
        assert_eq!(d.result.as_deref(), Some(&b"A\nb\nc\nD\n"[..]));
    }

    #[test]
    fn row_edited_and_changed_on_the_same_line_conflicts_with_markers() {
        let d = run(Some(b"a\n"), &file(b"mine\n"), Some(b"new\n"), Ownership::Managed);
        assert_eq!(d.action, Action::Conflict);
        assert!(merge::has_markers(d.result.as_deref().unwrap()));
    }

    #[test]
    fn row_no_longer_rendered_and_unedited_deletes() {
        assert_eq!(action(Some(b"a\n"), &file(b"a\n"), None), Action::Delete);
    }

    #[test]
    fn row_no_longer_rendered_and_edited_keeps_with_a_warning() {
        assert_eq!(action(Some(b"a\n"), &file(b"mine\n"), None), Action::KeepOrphan);
    }

    #[test]
    fn row_deleted_by_the_user_stays_deleted() {
        assert_eq!(action(Some(b"a\n"), &Found::Missing, Some(b"b\n")), Action::KeepDeleted);
        let scaffold = run(Some(b"a\n"), &Found::Missing, Some(b"a\n"), Ownership::Scaffold);
        assert_eq!(scaffold.action, Action::KeepDeleted);
    }

    #[test]
    fn new_in_the_render_is_created() {
        let d = run(None, &Found::Missing, Some(b"x\n"), Ownership::Managed);
        assert_eq!((d.action, d.result.as_deref()), (Action::Create, Some(&b"x\n"[..])));
    }

    #[test]
    fn a_file_braid_never_wrote_is_left_alone() {
        assert_eq!(action(None, &file(b"user\n"), Some(b"x\n")), Action::KeepForeign);
        assert_eq!(action(None, &file(b"x\n"), Some(b"x\n")), Action::Unchanged);
        assert_eq!(action(None, &file(b"user\n"), None), Action::KeepForeign);
    }

    #[test]
    fn scaffold_files_are_the_users_once_written() {
        let d = run(Some(b"a\n"), &file(b"a\n"), Some(b"b\n"), Ownership::Scaffold);
        assert_eq!((d.action, d.result), (Action::KeepScaffold, None));
    }

    #[test]
    fn a_link_in_the_way_is_never_followed() {
        let link = Found::Blocked(Blocked {
            at: "f.txt".into(),
            what: crate::fsx::BlockKind::Link,
        });
        for theirs in [Some(&b"b\n"[..]), None] {
            for base in [Some(&b"a\n"[..]), None] {
                assert_eq!(action(base, &link, theirs), Action::KeepLinked);
            }
        }
    }

    #[test]
    fn a_binary_changed_on_both_sides_is_written_beside() {
        let d = run(
            Some(&[0xff, 1]),
            &file(&[0xff, 2]),
            Some(&[0xff, 3]),
            Ownership::Managed,
        );
        assert_eq!((d.action, d.result), (Action::ConflictBeside, None));
    }

    #[test]
    fn a_merged_structured_file_that_no_longer_parses_is_a_conflict() {
        // Each side adds `z` to [a], far apart: a clean line merge, a duplicate key.
        let base = b"[a]\nx = 1\nw = 0\nv = 0\n";
        let ours = b"[a]\nx = 1\nw = 0\nv = 0\nz = 1\n";
        let theirs = b"[a]\nz = 2\nx = 1\nw = 0\nv = 0\n";
        let d = decide(Sides {
            base: Some(base),
            ours: &file(ours),
            theirs: Some(theirs),
            ownership: Ownership::Managed,
            path: "x.toml",
        });
        assert_eq!(d.action, Action::ConflictBeside, "{d:?}");
        assert!(d.note.unwrap().contains("no longer parses"));
    }

    #[test]
    fn a_structured_file_the_user_already_broke_is_merged_as_text() {
        // ours does not parse: the merge cannot be blamed for the result.
        let base = b"[a]\nx = 1\nw = 0\nv = 0\n";
        let ours = b"[a]\nx = = 1\nw = 0\nv = 0\n";
        let theirs = b"[a]\nx = 1\nw = 0\nv = 9\n";
        let d = decide(Sides {
            base: Some(base),
            ours: &file(ours),
            theirs: Some(theirs),
            ownership: Ownership::Managed,
            path: "x.toml",
        });
        assert_eq!(d.action, Action::Merge, "{d:?}");
    }

    /// The plan of a render against a state and a disk, with the render's own new state.
    fn plan_for(old: &State, new: &FileSet, moves: &BTreeMap<String, String>, disk: &dyn Disk) -> Plan {
        plan(old, new, moves, disk, State::for_render("t", "0", BTreeMap::new(), new)).unwrap()
    }

    struct Mem(BTreeMap<String, Vec<u8>>);

    impl Disk for Mem {
        fn read(&self, path: &str) -> anyhow::Result<Found> {
            Ok(self.0.get(path).map_or(Found::Missing, |b| file(b)))
        }
    }

    fn state(files: &[(&str, &[u8])]) -> State {
        State {
            braid_version: "0".into(),
            blueprint: "t".into(),
            blueprint_version: "0".into(),
            answers: BTreeMap::new(),
            files: files
                .iter()
                .map(|(p, b)| (p.to_string(), FileRecord::new(b, Ownership::Managed, false)))
                .collect(),
            conflicts: BTreeSet::new(),
        }
    }

    fn render(files: &[(&str, &[u8])]) -> FileSet {
        files
            .iter()
            .map(|(p, b)| {
                let f = crate::render::OutFile {
                    bytes: b.to_vec(),
                    executable: false,
                    ownership: Ownership::Managed,
                };
                (p.to_string(), f)
            })
            .collect()
    }

    #[test]
    fn a_file_braid_never_wrote_is_not_recorded_as_braids() {
        let old = state(&[]);
        let new = render(&[("a", b"render\n")]);
        let disk = Mem([("a".to_string(), b"user\n".to_vec())].into());
        let p = plan_for(&old, &new, &BTreeMap::new(), &disk);
        assert_eq!(p.steps[0].action, Action::KeepForeign);
        assert!(
            !p.state.files.contains_key("a"),
            "a foreign file must not enter the state"
        );
    }

    #[test]
    fn a_rename_never_overwrites_a_user_file_at_the_new_path() {
        let old = state(&[("old/x", b"x\n")]);
        let new = render(&[("new/x", b"x\n")]);
        let disk = Mem([
            ("old/x".to_string(), b"x\n".to_vec()),
            ("new/x".to_string(), b"user\n".to_vec()),
        ]
        .into());
        let moves = [("old/x".to_string(), "new/x".to_string())].into();
        let p = plan_for(&old, &new, &moves, &disk);
        let at_new = p.steps.iter().find(|s| s.path == "new/x").unwrap();
        assert_eq!((at_new.action, &at_new.moved_from), (Action::KeepForeign, &None));
        assert!(p.txn().writes.is_empty(), "{:?}", p.txn());
    }

    #[test]
    fn a_rename_moves_an_edited_file_with_its_edits_and_removes_the_old_path() {
        let old = state(&[("old/x", b"x\n")]);
        let new = render(&[("new/x", b"x\n")]);
        let disk = Mem([("old/x".to_string(), b"x\nmine\n".to_vec())].into());
        let moves = [("old/x".to_string(), "new/x".to_string())].into();
        let p = plan_for(&old, &new, &moves, &disk);
        let txn = p.txn();
        assert_eq!(txn.writes.len(), 1);
        assert_eq!(
            (txn.writes[0].path.as_str(), txn.writes[0].bytes.as_slice()),
            ("new/x", &b"x\nmine\n"[..])
        );
        assert_eq!(txn.removes, vec![("old/x".to_string(), b"x\nmine\n".to_vec())]);
        assert_eq!(
            p.steps.len(),
            1,
            "the old path is moved, not also an orphan: {:?}",
            p.steps
        );
        assert!(p.state.files.contains_key("new/x") && !p.state.files.contains_key("old/x"));
    }

    #[test]
    fn a_deleted_managed_file_is_recorded_as_deleted_and_an_edited_orphan_keeps_its_record() {
        let old = state(&[("gone", b"g\n"), ("orphan", b"o\n")]);
        let new = render(&[("gone", b"g2\n")]);
        let disk = Mem([("orphan".to_string(), b"o\nmine\n".to_vec())].into());
        let p = plan_for(&old, &new, &BTreeMap::new(), &disk);
        assert!(p.state.files["gone"].deleted, "regen keeps it deleted next time");
        assert_eq!(
            p.state.files.get("orphan"),
            old.files.get("orphan"),
            "the orphan's base stays"
        );
        let actions: Vec<Action> = p.steps.iter().map(|s| s.action).collect();
        assert_eq!(actions, [Action::KeepDeleted, Action::KeepOrphan]);
    }

    #[test]
    fn a_link_in_the_way_is_named_in_the_step() {
        struct Linked;
        impl Disk for Linked {
            fn read(&self, path: &str) -> anyhow::Result<Found> {
                Ok(Found::Blocked(Blocked {
                    at: format!("{path}-link"),
                    what: crate::fsx::BlockKind::Link,
                }))
            }
        }
        let old = state(&[("a", b"a\n")]);
        let new = render(&[("a", b"b\n")]);
        let p = plan_for(&old, &new, &BTreeMap::new(), &Linked);
        assert_eq!(p.steps[0].action, Action::KeepLinked);
        assert_eq!(p.steps[0].blocked.as_ref().map(|b| b.at.as_str()), Some("a-link"));
        assert!(
            !p.state.files.contains_key("a"),
            "braid no longer answers for a path behind a link"
        );
    }

    #[test]
    fn a_move_whose_target_is_not_rendered_does_not_hide_the_old_file() {
        // project renamed and the file dropped by the same change: the old
        // unedited file is deleted, not left behind untracked.
        let old = state(&[("old/worker.py", b"w\n")]);
        let new = render(&[]);
        let disk = Mem([("old/worker.py".to_string(), b"w\n".to_vec())].into());
        let moves = [("old/worker.py".to_string(), "new/worker.py".to_string())].into();
        let p = plan_for(&old, &new, &moves, &disk);
        assert_eq!(p.steps.len(), 1);
        assert_eq!(
            (p.steps[0].path.as_str(), p.steps[0].action),
            ("old/worker.py", Action::Delete)
        );
    }

    #[test]
    fn conflicts_are_recorded_in_the_state() {
        let old = state(&[("a", b"a\n"), ("b", &[0xff, 1])]);
        let new = render(&[("a", b"new\n"), ("b", &[0xff, 3])]);
        let disk = Mem([("a".to_string(), b"mine\n".to_vec()), ("b".to_string(), vec![0xff, 2])].into());
        let p = plan_for(&old, &new, &BTreeMap::new(), &disk);
        assert_eq!(p.state.conflicts.iter().collect::<Vec<_>>(), ["a", "b"]);
        let txn = p.txn();
        let beside: Vec<_> = txn.writes.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(beside, ["a", "b.braid-new"]);
    }

    #[test]
    fn the_users_mode_is_kept() {
        struct ModeDisk;
        impl Disk for ModeDisk {
            fn read(&self, _path: &str) -> anyhow::Result<Found> {
                Ok(Found::File {
                    bytes: b"a\n".to_vec(),
                    mode: 0o600,
                })
            }
        }
        let old = state(&[("a", b"a\n")]);
        let new = render(&[("a", b"b\n")]);
        let p = plan_for(&old, &new, &BTreeMap::new(), &ModeDisk);
        assert_eq!((p.steps[0].action, p.steps[0].mode), (Action::Update, 0o600));
    }
}
