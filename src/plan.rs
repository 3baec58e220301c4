//! The regen plan: for every file, base (what braid wrote last time, from
//! `.braid/state.json`), ours (the disk now) and theirs (the new render) decide
//! one action, as in the table of DESIGN.md section 5. Pure: no I/O here.

use std::collections::{BTreeMap, BTreeSet};

use crate::{
    render::FileSet,
    state::{Content, FileRecord, Ownership, State},
};

pub const OURS_LABEL: &str = "yours (on disk)";
pub const THEIRS_LABEL: &str = "braid (new render)";

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
}

impl Action {
    pub fn verb(self) -> &'static str {
        match self {
            Action::Unchanged => "Unchanged",
            Action::Create => "Created",
            Action::Update => "Updated",
            Action::Merge => "Merged",
            Action::Conflict => "Conflict",
            Action::KeepEdited => "Kept edits",
            Action::KeepScaffold => "Kept",
            Action::KeepDeleted => "Kept deleted",
            Action::Delete => "Deleted",
            Action::KeepOrphan => "Kept orphan",
            Action::KeepForeign => "Not braid's",
        }
    }

    /// Does applying it change the disk?
    pub fn writes(self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update | Action::Merge | Action::Conflict | Action::Delete
        )
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
    /// What the disk will hold (None: the file is removed or left alone).
    pub result: Option<Vec<u8>>,
    pub executable: bool,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub state: Option<State>,
}

impl Plan {
    pub fn changes(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| s.action.writes() || s.moved_from.is_some())
    }

    pub fn conflicts(&self) -> usize {
        self.steps.iter().filter(|s| s.action == Action::Conflict).count()
    }
}

/// The disk as the planner sees it.
pub trait Disk {
    fn read(&self, path: &str) -> Option<Vec<u8>>;
}

/// Where a plan is applied: the file system, or memory in tests.
pub trait Sink {
    fn write(&mut self, path: &str, bytes: &[u8], executable: bool) -> anyhow::Result<()>;
    fn remove(&mut self, path: &str) -> anyhow::Result<()>;
}

impl Plan {
    /// Applies every step; the caller writes the state last.
    pub fn apply(&self, sink: &mut dyn Sink) -> anyhow::Result<()> {
        for step in &self.steps {
            if let Some(bytes) = &step.result {
                sink.write(&step.path, bytes, step.executable)?;
            }
            if let Some(from) = &step.moved_from {
                sink.remove(from)?;
            }
            if step.action == Action::Delete {
                sink.remove(&step.path)?;
            }
        }
        Ok(())
    }
}

/// Builds the plan. `moves` maps old paths to new ones for files whose path
/// depends on an answer that changed (a renamed project).
pub fn plan(
    old: &State,
    new: &FileSet,
    moves: &BTreeMap<String, String>,
    disk: &dyn Disk,
    mut new_state: State,
) -> Plan {
    let mut steps = Vec::new();
    // A move needs its old file on record and nothing in the way at the new path.
    let moved_to: BTreeMap<&str, &str> = moves
        .iter()
        .filter(|(from, to)| {
            from != to && old.files.contains_key(*from) && !old.files.contains_key(*to) && disk.read(to).is_none()
        })
        .map(|(f, t)| (t.as_str(), f.as_str()))
        .collect();
    let moved_from: BTreeSet<&str> = moved_to.values().copied().collect();

    for (path, file) in new {
        let from = moved_to.get(path.as_str()).copied();
        let base_path = from.unwrap_or(path);
        let base = old.files.get(base_path);
        let ours = disk.read(base_path);
        let theirs = &file.bytes;
        let mut step = Step {
            path: path.clone(),
            action: Action::Unchanged,
            moved_from: from.map(str::to_string),
            ours: ours.clone(),
            result: None,
            executable: file.executable,
        };
        let base_bytes = base.and_then(|b| b.content.to_bytes().ok());
        step.action = match (base, base_bytes, ours) {
            (None, _, None) => {
                step.result = Some(theirs.clone());
                Action::Create
            }
            (None, _, Some(o)) if &o == theirs => Action::Unchanged,
            (None, _, Some(_)) => {
                // A file braid never wrote sits where the render goes.
                new_state.files.remove(path);
                Action::KeepForeign
            }
            (Some(rec), _, None) if rec.deleted || file.ownership == Ownership::Managed => {
                if let Some(r) = new_state.files.get_mut(path) {
                    r.deleted = true;
                }
                Action::KeepDeleted
            }
            (Some(_), _, None) => {
                // A scaffold file the user deleted stays deleted too.
                if let Some(r) = new_state.files.get_mut(path) {
                    r.deleted = true;
                }
                Action::KeepDeleted
            }
            (Some(_), _, Some(_)) if file.ownership == Ownership::Scaffold => Action::KeepScaffold,
            (Some(_), None, Some(o)) => {
                // Unreadable base (should not happen): keep the user's file.
                step.ours = Some(o);
                Action::KeepEdited
            }
            (Some(_), Some(b), Some(o)) => {
                if &o == theirs {
                    Action::Unchanged
                } else if o == b {
                    step.result = Some(theirs.clone());
                    Action::Update
                } else if &b == theirs {
                    Action::KeepEdited
                } else {
                    let (merged, clean) = merge(&b, &o, theirs);
                    step.result = Some(merged);
                    if clean {
                        Action::Merge
                    } else {
                        Action::Conflict
                    }
                }
            }
        };
        // A move writes the new path even when the content stays.
        if from.is_some() && step.result.is_none() && step.ours.is_some() {
            step.result = step.ours.clone();
        }
        steps.push(step);
    }

    for (path, rec) in &old.files {
        if new.contains_key(path) || moved_from.contains(path.as_str()) {
            continue;
        }
        let ours = disk.read(path);
        let base = rec.content.to_bytes().ok();
        let action = match (&ours, &base) {
            (None, _) => continue, // gone from both: forget it
            (Some(o), Some(b)) if o == b => Action::Delete,
            _ => {
                // Keep the record so that a later render of this path merges against it.
                new_state.files.insert(path.clone(), rec.clone());
                Action::KeepOrphan
            }
        };
        steps.push(Step {
            path: path.clone(),
            action,
            moved_from: None,
            ours,
            result: None,
            executable: rec.executable,
        });
    }
    steps.sort_by(|a, b| a.path.cmp(&b.path));
    Plan {
        steps,
        state: Some(new_state),
    }
}

/// A three-way line merge; overlapping changes get git-style conflict markers
/// labelled with whose side is whose. Non-UTF-8 files cannot be merged: the
/// user's bytes are kept and reported as a conflict.
pub fn merge(base: &[u8], ours: &[u8], theirs: &[u8]) -> (Vec<u8>, bool) {
    let (Ok(b), Ok(o), Ok(t)) = (
        std::str::from_utf8(base),
        std::str::from_utf8(ours),
        std::str::from_utf8(theirs),
    ) else {
        return (ours.to_vec(), false);
    };
    let mut opts = diffy::MergeOptions::new();
    opts.set_conflict_style(diffy::ConflictStyle::Merge);
    match opts.merge(b, o, t) {
        Ok(clean) => (clean.into_bytes(), true),
        Err(conflicted) => {
            let relabelled: String = conflicted
                .split_inclusive('\n')
                .map(|line| match line.trim_end_matches('\n') {
                    "<<<<<<< ours" => format!("<<<<<<< {OURS_LABEL}\n"),
                    ">>>>>>> theirs" => format!(">>>>>>> {THEIRS_LABEL}\n"),
                    _ => line.to_string(),
                })
                .collect();
            (relabelled.into_bytes(), false)
        }
    }
}

/// The state record for rendered bytes.
pub fn record(bytes: &[u8], ownership: Ownership, executable: bool) -> FileRecord {
    FileRecord {
        ownership,
        executable,
        deleted: false,
        content: Content::from_bytes(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disjoint_edits_merge_cleanly() {
        let base = "a\nb\nc\nd\ne\n";
        let ours = "a\nB\nc\nd\ne\n";
        let theirs = "a\nb\nc\nd\nE\n";
        let (out, clean) = merge(base.as_bytes(), ours.as_bytes(), theirs.as_bytes());
        assert!(clean);
        assert_eq!(String::from_utf8(out).unwrap(), "a\nB\nc\nd\nE\n");
    }

    #[test]
    fn overlapping_edits_conflict_with_labels() {
        let (out, clean) = merge(b"a\nb\nc\n", b"a\nmine\nc\n", b"a\nnew\nc\n");
        assert!(!clean);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            format!("a\n<<<<<<< {OURS_LABEL}\nmine\n=======\nnew\n>>>>>>> {THEIRS_LABEL}\nc\n")
        );
    }

    #[test]
    fn binary_files_are_never_merged() {
        let (out, clean) = merge(&[0xff, 1], &[0xff, 2], &[0xff, 3]);
        assert!(!clean);
        assert_eq!(out, vec![0xff, 2]);
    }
}
