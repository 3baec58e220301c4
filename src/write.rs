//! Putting a rendered FileSet on disk without ever leaving half a project.
//!
//! A new project is written into a temporary folder beside the target and
//! renamed into place, so an error (or a kill) leaves the target as it was.
//! Writing into an existing folder (`--force`, regen) goes file by file
//! through a temp file and a rename: every file is either old or new.

use std::{
    fs,
    io::Write as _,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};

use crate::{
    error::Error,
    render::{FileSet, CONFIG_FILE},
    state::{State, STATE_FILE},
};

/// What `write_new` did with each rendered file.
#[derive(Debug, Default)]
pub struct Outcome {
    pub created: Vec<String>,
    /// Files that exist and were not written by braid: left as they are.
    pub kept: Vec<String>,
}

/// Is `dir` missing, or an empty folder?
pub fn is_vacant(dir: &Path) -> Result<bool> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Err(Error::target(
            format!("{} exists and is not a folder", dir.display()),
            "choose another project folder",
        )
        .into()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}

/// Refuses a target that `new` would damage, before any question is asked.
pub fn check_target(dir: &Path, force: bool) -> Result<()> {
    if is_vacant(dir)? {
        return Ok(());
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
    Ok(())
}

/// Writes a new project into `dir` (missing or empty, or any folder with `force`).
pub fn write_new(dir: &Path, files: &FileSet, config: &str, state: &mut State, force: bool) -> Result<Outcome> {
    check_target(dir, force)?;
    if is_vacant(dir)? {
        write_fresh(dir, files, config, state)
    } else {
        write_beside(dir, files, config, state)
    }
}

fn write_fresh(dir: &Path, files: &FileSet, config: &str, state: &State) -> Result<Outcome> {
    let parent = parent_of(dir);
    fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".braid-new-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot create a temporary folder in {}", parent.display()))?;
    // Each folder once: on a slow disk every mkdir costs, even one that
    // fails because the folder exists.
    let root = staging.path();
    let mut made = std::collections::BTreeSet::new();
    for path in files.keys().map(String::as_str).chain([STATE_FILE]) {
        if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
            if made.insert(parent.to_path_buf()) {
                let dir = root.join(parent);
                fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
        }
    }
    for (path, file) in files {
        put(&root.join(path), &file.bytes, file.executable)?;
    }
    put(&root.join(CONFIG_FILE), config.as_bytes(), false)?;
    put(&root.join(STATE_FILE), state.to_json().as_bytes(), false)?;
    if dir.exists() {
        fs::remove_dir(dir).with_context(|| format!("cannot replace the empty folder {}", dir.display()))?;
    }
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

/// `--force` into a non-empty folder: existing files are never touched.
fn write_beside(dir: &Path, files: &FileSet, config: &str, state: &mut State) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut staged = Vec::new();
    let result = (|| -> Result<()> {
        for (path, file) in files {
            let target = dir.join(path);
            if target.exists() || target.is_symlink() {
                outcome.kept.push(path.clone());
                continue;
            }
            staged.push((stage(&target, &file.bytes, file.executable)?, target));
            outcome.created.push(path.clone());
        }
        staged.push((
            stage(&dir.join(CONFIG_FILE), config.as_bytes(), false)?,
            dir.join(CONFIG_FILE),
        ));
        Ok(())
    })();
    if let Err(e) = result {
        for (tmp, _) in &staged {
            let _ = fs::remove_file(tmp);
        }
        return Err(e);
    }
    for (tmp, target) in staged {
        fs::rename(&tmp, &target).with_context(|| format!("cannot write {}", target.display()))?;
    }
    // The state records only what braid wrote.
    state.files.retain(|path, _| !outcome.kept.contains(path));
    write_atomic(&dir.join(STATE_FILE), state.to_json().as_bytes(), false)?;
    Ok(outcome)
}

fn parent_of(dir: &Path) -> PathBuf {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes a new file into an existing folder.
fn put(path: &Path, bytes: &[u8], executable: bool) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    set_executable(path, executable)
}

/// Writes `bytes` to a temp file beside `path`; returns the temp file's path.
fn stage(path: &Path, bytes: &[u8], executable: bool) -> Result<PathBuf> {
    let parent = path.parent().expect("a file inside the project");
    fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".braid-tmp-")
        .tempfile_in(parent)
        .with_context(|| format!("cannot create a temporary file in {}", parent.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_data())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let (_, tmp_path) = tmp.keep().context("cannot keep a temporary file")?;
    set_executable(&tmp_path, executable)?;
    Ok(tmp_path)
}

/// Replaces `path` with `bytes` through a temp file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8], executable: bool) -> Result<()> {
    let tmp = stage(path, bytes, executable)?;
    fs::rename(&tmp, path).with_context(|| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}", path.display())
    })
}

#[cfg(unix)]
fn set_executable(path: &Path, executable: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path, _executable: bool) -> Result<()> {
    Ok(())
}
