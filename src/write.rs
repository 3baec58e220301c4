//! Putting a new project on disk without ever leaving half of one.
//!
//! Into a folder that does not exist yet, the project is written in a
//! temporary folder beside it (`.braid-new-*`, locked while in use) and
//! renamed into place: an error or a kill leaves nothing at the target, and
//! the next `braid new` there removes the stale staging folder.
//!
//! Into a folder that exists (an empty one, `braid new .`, a mount point, a
//! link to an empty folder; or any folder with `--force`), files are added
//! in place through the journaled transaction regen uses (`journal`), so a
//! killed run is rolled back or finished by the next one.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};

use crate::{
    error::Error,
    fsx::{self, Found, Lock, Repo, LOCK_WAIT},
    journal::{self, Txn, Write},
    render::{FileSet, CONFIG_FILE},
    state::{FileRecord, State, STATE_DIR, STATE_FILE},
};

const STAGING_PREFIX: &str = ".braid-new-";

/// What `write_new` did with each rendered file.
#[derive(Debug, Default)]
pub struct Outcome {
    pub created: Vec<String>,
    /// Files that exist and were not written by braid: left as they are.
    pub kept: Vec<String>,
}

/// What the target folder holds before `new` writes.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// Nothing there, or an empty folder.
    Vacant,
    /// Files that are not a braid project (allowed with `--force`).
    Occupied,
    /// A killed `braid new` was found and finished: the project is there.
    Finished,
}

/// Is `dir` missing, or an empty folder?
pub fn is_vacant(dir: &Path) -> Result<bool> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Err(not_a_folder(dir)),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}

fn not_a_folder(dir: &Path) -> anyhow::Error {
    Error::target(
        format!("{} exists and is not a folder", dir.display()),
        "choose another project folder",
    )
    .into()
}

/// Refuses a target that `new` would damage, before any question is asked,
/// after finishing or undoing whatever a killed `braid new` left there.
pub fn check_target(dir: &Path, force: bool) -> Result<Target> {
    if fs::symlink_metadata(dir).is_err() {
        remove_stale_staging(dir);
    } else if dir.is_dir() {
        let repo = Repo::open(dir)?;
        let _lock = Lock::acquire(repo.root(), LOCK_WAIT)?;
        if let Some(j) = journal::recover(&repo)? {
            if j.committed && j.command == "new" {
                return Ok(Target::Finished);
            }
        }
        if repo.read(STATE_FILE)? == Found::Missing && !repo.occupied(CONFIG_FILE)? {
            // A `new` killed before its journal leaves at most an empty `.braid/`.
            repo.remove_dir_if_empty(STATE_DIR);
        }
    }
    if is_vacant(dir)? {
        return Ok(Target::Vacant);
    }
    if dir.join(CONFIG_FILE).exists() {
        return Err(Error::target(
            format!("{} already holds a braid project ({CONFIG_FILE})", dir.display()),
            format!(
                "edit {CONFIG_FILE} and run `braid regen {}` to update it",
                dir.display()
            ),
        )
        .into());
    }
    if !force {
        return Err(Error::target(
            format!("{} exists and is not empty", dir.display()),
            "choose a new folder, or pass --force to add the project next to what is there \
             (braid never overwrites or deletes a file it did not write)",
        )
        .into());
    }
    Ok(Target::Occupied)
}

/// Writes a new project into `dir` (missing or empty, or any folder with `force`).
///
/// `state` is the project's state but for its file records: the state
/// written records each file written (a copy of every file in the state
/// before it was written cost more than encoding them).
pub fn write_new(dir: &Path, files: &FileSet, config: &str, state: &State, force: bool) -> Result<Outcome> {
    match check_target(dir, force)? {
        Target::Finished => Err(Error::target(
            format!("{} already holds a braid project ({CONFIG_FILE})", dir.display()),
            "an interrupted `braid new` was finished there",
        )
        .into()),
        _ if fs::symlink_metadata(dir).is_err() => write_fresh(dir, files, config, state),
        _ => write_in_place(dir, files, config, state),
    }
}

/// Removes `.braid-new-*` folders beside `dir` that no running braid holds.
fn remove_stale_staging(dir: &Path) {
    let parent = parent_of(dir);
    let Ok(entries) = fs::read_dir(&parent) else { return };
    for entry in entries.flatten() {
        let is_staging = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(STAGING_PREFIX));
        if is_staging && entry.file_type().is_ok_and(|t| t.is_dir()) {
            if let Some(_lock) = Lock::try_acquire(&entry.path()) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// A new staging folder in `parent`, locked. Between its mkdir and its lock,
/// a `braid new` beside it (`remove_stale_staging`) can take it for a stale one
/// and remove it: then another is made.
fn locked_staging(parent: &Path) -> Result<(tempfile::TempDir, Lock)> {
    let mut tries = 0;
    loop {
        tries += 1;
        let staging = tempfile::Builder::new()
            .prefix(STAGING_PREFIX)
            .tempdir_in(parent)
            .with_context(|| format!("cannot create a temporary folder in {}", parent.display()))?;
        match Lock::acquire(staging.path(), LOCK_WAIT) {
            Ok(lock) if lock.holds(staging.path()) => return Ok((staging, lock)),
            Err(e) if tries >= 10 || staging.path().exists() => return Err(e),
            _ if tries >= 10 => {
                return Err(anyhow::anyhow!(
                    "another braid kept removing the temporary folders in {}",
                    parent.display()
                ))
            }
            _ => {} // removed under us: make another
        }
    }
}

fn write_fresh(dir: &Path, files: &FileSet, config: &str, state: &State) -> Result<Outcome> {
    let parent = parent_of(dir);
    fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let (staging, _lock) = locked_staging(&parent)?;
    // Each folder once: on a slow disk every mkdir costs, even one that
    // fails because the folder exists.
    let root = staging.path();
    // Every folder with its parents, sorted: a parent before its children, so
    // one mkdir each and none that fails.
    let mut dirs = std::collections::BTreeSet::new();
    for path in files.keys().map(String::as_str).chain([STATE_FILE]) {
        let mut parent = Path::new(path).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            if !dirs.insert(p) {
                break;
            }
            parent = p.parent();
        }
    }
    for parent in dirs {
        let dir = root.join(parent);
        fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // The files and the state (a copy of every file, as JSON) are written in
    // parallel (`par`), the state first: the longest job, it keeps one
    // thread busy while the other writes files (no thread of its own).
    let jobs: Vec<Job<'_>> = std::iter::once(Job::State)
        .chain(files.iter().map(|(path, f)| Job::File(path, &f.bytes, f.executable)))
        .chain([Job::File(CONFIG_FILE, config.as_bytes(), false)])
        .collect();
    let mut written = crate::par::map(&jobs, |job| match job {
        Job::State => put_with(&root.join(STATE_FILE), false, |f| state.write_json_recording(files, f)),
        Job::File(path, bytes, executable) => put(&root.join(path), bytes, *executable),
    });
    // A file that could not be written is told before the state.
    let state_written = written.remove(0);
    written.into_iter().chain([state_written]).collect::<Result<()>>()?;
    let staged = staging.keep();
    fs::rename(&staged, dir).with_context(|| {
        let _ = fs::remove_dir_all(&staged);
        format!("cannot move the new project into {}", dir.display())
    })?;
    Ok(Outcome {
        created: files.keys().cloned().collect(),
        kept: Vec::new(),
    })
}

/// A file for `write_fresh` to write: the state, or (path, bytes, executable).
enum Job<'a> {
    State,
    File(&'a str, &'a [u8], bool),
}

/// Fills an existing folder: what is there is never touched.
fn write_in_place(dir: &Path, files: &FileSet, config: &str, state: &State) -> Result<Outcome> {
    let repo = Repo::open(dir)?;
    let _lock = Lock::acquire(repo.root(), LOCK_WAIT)?;
    let mut outcome = Outcome::default();
    let mut txn = Txn::default();
    // The state records only what braid writes.
    let mut state = state.clone();
    for (path, file) in files {
        // Anything in the way (a file, a folder, a link, a link above it) is kept.
        let free = repo.read(path)? == Found::Missing && repo.missing_dirs(parent(path)).is_ok();
        if !free {
            outcome.kept.push(path.clone());
            continue;
        }
        txn.writes.push(Write {
            path: path.clone(),
            bytes: file.bytes.clone(),
            mode: fsx::default_mode(file.executable),
            expect: None,
        });
        state.files.insert(
            path.clone(),
            FileRecord::new(&file.bytes, file.ownership, file.executable),
        );
        outcome.created.push(path.clone());
    }
    txn.writes.push(Write {
        path: CONFIG_FILE.into(),
        bytes: config.as_bytes().to_vec(),
        mode: fsx::default_mode(false),
        expect: None,
    });
    let finished = journal::commit(&repo, "new", &txn, &state, None)?;
    outcome.created.retain(|p| !finished.skipped.contains(p));
    outcome.kept.extend(finished.skipped);
    Ok(outcome)
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

fn parent_of(dir: &Path) -> PathBuf {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes a new file into the staging folder, with braid's mode whatever the
/// umask: created with it, changed only when the umask took bits away.
fn put(path: &Path, bytes: &[u8], executable: bool) -> Result<()> {
    use std::io::Write as _;
    put_with(path, executable, |f| f.write_all(bytes))
}

/// `put`, the bytes written by `write`.
fn put_with(path: &Path, executable: bool, write: impl FnOnce(&mut fs::File) -> std::io::Result<()>) -> Result<()> {
    use std::io::Write as _;
    let mode = fsx::default_mode(executable);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let mut file = options
        .open(path)
        .and_then(|mut f| write(&mut f).map(|()| f))
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    if mode & !umask() != mode {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot chmod {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = executable;
    file.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The process's umask, read once (set and set back: there is no other way
/// to read it but /proc).
#[cfg(unix)]
fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        // SAFETY: umask cannot fail; the second call restores the first's value.
        let old = unsafe { libc::umask(0o022) };
        unsafe { libc::umask(old) };
        #[allow(clippy::useless_conversion)] // mode_t is u16 on some systems
        u32::from(old)
    })
}
