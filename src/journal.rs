//! Applying changes to a project as one transaction that survives a kill.
//!
//! A kill between two renames used to leave half a regen on disk with the
//! old state, so the next run merged against the wrong base. Now every
//! change is written down before the first file is touched:
//!
//! 1. `.braid/journal.json` lists every write (with its temp file), every
//!    removal and the folders to create, marked *prepared*;
//! 2. the folders and temp files (and the new state) are written;
//! 3. the journal is marked *committed*;
//! 4. the temp files are renamed over their targets, removals done, the new
//!    state renamed over `.braid/state.json`, and the journal removed.
//!
//! The next run finds a leftover journal and rolls a prepared one back or a
//! committed one forward, so an interrupted run converges to exactly the
//! uninterrupted result. Right before each rename the target is checked
//! again: a file that changed since the plan was made (an editor saved it) is
//! left alone and its old merge base kept, so the next regen merges it.

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::{
    error::Error,
    fsx::{fingerprint, Found, Repo, TMP_PREFIX},
    render::{check_state_path, CONFIG_FILE},
    state::{State, STATE_DIR, STATE_FILE},
};

pub const JOURNAL_FILE: &str = ".braid/journal.json";
const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    /// The command that wrote it (`regen`, `new`), for messages.
    pub command: String,
    pub committed: bool,
    /// Folders this transaction creates, outermost first.
    pub dirs: Vec<String>,
    pub ops: Vec<Op>,
    /// The new state, staged in `.braid/`.
    pub state_tmp: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Op {
    /// Rename `tmp` over `path`, if `path` still holds `expect` (None: nothing).
    Write {
        path: String,
        tmp: String,
        expect: Option<String>,
        result: String,
    },
    /// Remove `path` if it still holds `expect`.
    Remove { path: String, expect: String },
}

/// One file to write in a transaction.
#[derive(Debug, Clone)]
pub struct Write {
    pub path: String,
    pub bytes: Vec<u8>,
    pub mode: u32,
    /// What the plan saw at `path` (None: nothing there).
    pub expect: Option<Vec<u8>>,
}

/// What a transaction will do.
#[derive(Debug, Default)]
pub struct Txn {
    pub writes: Vec<Write>,
    /// Paths to remove, with the content the plan saw there.
    pub removes: Vec<(String, Vec<u8>)>,
}

/// What a finished transaction did not do because the disk changed under it.
#[derive(Debug, Default)]
pub struct Finished {
    /// Files that changed while braid ran: left as they were, base kept.
    pub skipped: Vec<String>,
}

/// Runs `txn` and writes `state` last. `old` is the state being replaced
/// (None for `new`): its records are kept for files that had to be skipped.
pub fn commit(repo: &Repo, command: &str, txn: &Txn, state: &State, old: Option<&State>) -> Result<Finished> {
    let nonce = nonce();
    let mut dirs: Vec<String> = Vec::new();
    if !repo.is_dir(STATE_DIR)? {
        dirs.push(STATE_DIR.to_string());
    }
    let mut ops = Vec::new();
    for (i, w) in txn.writes.iter().enumerate() {
        let parent = parent(&w.path);
        for d in repo.missing_dirs(parent)? {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        ops.push(Op::Write {
            path: w.path.clone(),
            tmp: join(parent, &format!("{TMP_PREFIX}{nonce}-{i}")),
            expect: w.expect.as_deref().map(fingerprint),
            result: fingerprint(&w.bytes),
        });
    }
    for (path, expect) in &txn.removes {
        ops.push(Op::Remove {
            path: path.clone(),
            expect: fingerprint(expect),
        });
    }
    let mut journal = Journal {
        version: VERSION,
        command: command.to_string(),
        committed: false,
        dirs,
        ops,
        state_tmp: format!("{STATE_DIR}/{TMP_PREFIX}{nonce}-state"),
    };

    if journal.dirs.first().map(String::as_str) == Some(STATE_DIR) {
        repo.mkdir(STATE_DIR)?;
    }
    write_journal(repo, &journal, &nonce)?;
    for d in journal.dirs.iter().filter(|d| *d != STATE_DIR) {
        repo.mkdir(d)?;
    }
    for (w, op) in txn.writes.iter().zip(&journal.ops) {
        if let Op::Write { tmp, .. } = op {
            repo.create(tmp, &w.bytes, w.mode, false)?;
        }
    }
    repo.create(&journal.state_tmp, state.to_json().as_bytes(), 0o644, true)?;
    journal.committed = true;
    write_journal(repo, &journal, &nonce)?;
    finish(repo, &journal, old)
}

/// Finishes or undoes what a killed run left, before anything else is done.
/// Returns the journal it found, if any.
pub fn recover(repo: &Repo) -> Result<Option<Journal>> {
    let journal = match repo.read(JOURNAL_FILE)? {
        Found::Missing => {
            // Temps of a journal killed before its rename are just litter.
            repo.remove_stale_tmps(STATE_DIR);
            return Ok(None);
        }
        Found::Blocked(b) => {
            return Err(Error::target(
                format!("{JOURNAL_FILE}: {b}"),
                "remove it; braid keeps only state.json in .braid/",
            )
            .into())
        }
        Found::File { bytes, .. } => parse(repo, &bytes)?,
    };
    if journal.committed {
        let old = State::read(repo)?;
        finish(repo, &journal, old.as_ref())?;
    } else {
        rollback(repo, &journal)?;
    }
    repo.remove_stale_tmps(STATE_DIR);
    Ok(Some(journal))
}

fn parse(repo: &Repo, bytes: &[u8]) -> Result<Journal> {
    let bad = |why: String| -> anyhow::Error {
        Error::target(
            format!("{} is damaged: {why}", repo.full(JOURNAL_FILE).display()),
            "it lists the changes of an interrupted braid run; restore .braid/ from version control \
             (and remove journal.json), then run braid again",
        )
        .into()
    };
    let journal: Journal = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if journal.version != VERSION {
        return Err(bad(format!("version {} is not {VERSION}", journal.version)));
    }
    // A journal is as hostile as a state file: every path stays inside the
    // repo, and temp files are braid's own names beside their target.
    let tmp_ok = |tmp: &str, beside: &str| {
        let dir_ok = parent(tmp) == STATE_DIR || check_state_path(tmp).is_ok();
        dir_ok && parent(tmp) == parent(beside) && name(tmp).starts_with(TMP_PREFIX) && !tmp.contains("..")
    };
    for d in &journal.dirs {
        if d != STATE_DIR {
            check_state_path(d).map_err(bad)?;
        }
    }
    if !tmp_ok(&journal.state_tmp, STATE_FILE) {
        return Err(bad(format!("`{}` is not a braid temp file", journal.state_tmp)));
    }
    for op in &journal.ops {
        match op {
            Op::Write { path, tmp, .. } => {
                // `new` writes braid.toml in its transaction; nothing else does.
                if path != CONFIG_FILE {
                    check_state_path(path).map_err(bad)?;
                }
                if !tmp_ok(tmp, path) {
                    return Err(bad(format!("`{tmp}` is not a braid temp file")));
                }
            }
            Op::Remove { path, .. } => check_state_path(path).map_err(bad)?,
        }
    }
    Ok(journal)
}

fn write_journal(repo: &Repo, journal: &Journal, nonce: &str) -> Result<()> {
    let tmp = format!("{STATE_DIR}/{TMP_PREFIX}{nonce}-journal");
    let mut text = serde_json::to_string_pretty(journal).expect("journal serializes");
    text.push('\n');
    repo.create(&tmp, text.as_bytes(), 0o644, true)?;
    repo.rename(&tmp, JOURNAL_FILE)
}

fn holds(found: &Found, fp: Option<&str>) -> bool {
    match (found, fp) {
        (Found::Missing, None) => true,
        (Found::File { bytes, .. }, Some(fp)) => fingerprint(bytes) == fp,
        _ => false,
    }
}

fn is_file(repo: &Repo, rel: &str) -> Result<bool> {
    Ok(matches!(repo.read(rel)?, Found::File { .. }))
}

/// Rolls a committed journal forward.
fn finish(repo: &Repo, journal: &Journal, old: Option<&State>) -> Result<Finished> {
    for op in &journal.ops {
        match op {
            Op::Write {
                path,
                tmp,
                expect,
                result,
            } => {
                if !is_file(repo, tmp)? {
                    continue; // renamed already, or skipped
                }
                let now = repo.read(path)?;
                if holds(&now, expect.as_deref()) || holds(&now, Some(result)) {
                    repo.rename(tmp, path)?;
                } else {
                    repo.remove_file(tmp)?;
                }
            }
            Op::Remove { path, expect } => {
                if holds(&repo.read(path)?, Some(expect)) {
                    repo.remove_file(path)?;
                }
                repo.remove_empty_dirs(parent(path));
            }
        }
    }
    let mut finished = Finished::default();
    if is_file(repo, &journal.state_tmp)? {
        // A write that did not land (its file changed under braid) keeps its
        // old base, so the next regen merges the user's version.
        for op in &journal.ops {
            if let Op::Write { path, result, .. } = op {
                if !holds(&repo.read(path)?, Some(result)) {
                    finished.skipped.push(path.clone());
                }
            }
        }
        if finished.skipped.is_empty() {
            repo.rename(&journal.state_tmp, STATE_FILE)?;
        } else {
            let Found::File { bytes, .. } = repo.read(&journal.state_tmp)? else {
                unreachable!("checked above")
            };
            let mut state = State::from_json(&bytes)
                .map_err(anyhow::Error::msg)
                .context("the staged state is damaged")?;
            for path in &finished.skipped {
                state.conflicts.remove(path);
                match old.and_then(|o| o.files.get(path)) {
                    Some(rec) => state.files.insert(path.clone(), rec.clone()),
                    None => state.files.remove(path),
                };
            }
            let tmp = format!("{}-patched", journal.state_tmp);
            repo.create(&tmp, state.to_json().as_bytes(), 0o644, true)?;
            repo.rename(&tmp, STATE_FILE)?;
            repo.remove_file(&journal.state_tmp)?;
        }
    }
    repo.remove_file(JOURNAL_FILE)?;
    for d in journal.dirs.iter().rev().filter(|d| *d != STATE_DIR) {
        repo.remove_dir_if_empty(d);
    }
    Ok(finished)
}

/// Undoes a journal that was never committed: its temp files and folders go.
fn rollback(repo: &Repo, journal: &Journal) -> Result<()> {
    for op in &journal.ops {
        if let Op::Write { tmp, .. } = op {
            repo.remove_file(tmp)?;
        }
    }
    repo.remove_file(&journal.state_tmp)?;
    repo.remove_file(JOURNAL_FILE)?;
    for d in journal.dirs.iter().rev() {
        repo.remove_dir_if_empty(d);
    }
    Ok(())
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

fn name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, n)| n)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{:x}{:08x}", std::process::id(), nanos)
}
