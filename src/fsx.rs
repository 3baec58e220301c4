//! Every read and write braid makes inside a project goes through [`Repo`].
//!
//! The one rule: braid never follows a symbolic link below the project root.
//! A link inside the repo may point anywhere (`services/ml -> ../../elsewhere`),
//! so each path is checked component by component with `symlink_metadata`
//! before it is read, written, renamed or removed; a link, or anything that is
//! not a plain folder or file where one is expected, is reported as
//! [`Found::Blocked`] and left alone. Paths are repo-relative, `/`-separated
//! and validated before they get here (see `render::check_state_path`).
//!
//! It also owns the repo lock: one braid at a time per project.

use std::{
    fs::{self, File},
    io::{self, Read as _, Write as _},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};

/// The prefix of every temporary file braid writes inside a project.
pub const TMP_PREFIX: &str = ".braid-tmp-";

/// What a repo-relative path holds, seen without following links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Missing,
    File {
        bytes: Vec<u8>,
        mode: u32,
    },
    /// A link, a folder, or something else braid will not touch; the text says
    /// what and where (`services/ml is a symbolic link`).
    Blocked(Blocked),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// The repo-relative path of the entry in the way (the link itself).
    pub at: String,
    pub what: BlockKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Link,
    NotAFolder,
    NotAFile,
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.what {
            BlockKind::Link => write!(f, "{} is a symbolic link (braid does not follow links)", self.at),
            BlockKind::NotAFolder => write!(f, "{} is not a folder", self.at),
            BlockKind::NotAFile => write!(f, "{} is not a regular file", self.at),
        }
    }
}

impl Found {
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Found::File { bytes, .. } => Some(bytes),
            _ => None,
        }
    }
}

/// The kind of the entry at a path, parents checked, no link followed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Missing,
    File { len: u64, mode: u32 },
    Dir,
    Blocked(Blocked),
}

/// A project folder: every path below it is opened without following links.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
}

impl Repo {
    /// The project at `dir`. The root itself may be reached through a link
    /// (the user named it); nothing below it is.
    pub fn open(dir: &Path) -> Result<Self> {
        let root = fs::canonicalize(dir).with_context(|| format!("cannot open {}", dir.display()))?;
        Ok(Repo { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn full(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn entry(&self, rel: &str) -> io::Result<Entry> {
        let parts: Vec<&str> = rel.split('/').collect();
        let mut path = self.root.clone();
        for (i, part) in parts.iter().enumerate() {
            path.push(part);
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Entry::Missing),
                Err(e) => return Err(e),
            };
            let at = || parts[..=i].join("/");
            let last = i + 1 == parts.len();
            if meta.file_type().is_symlink() {
                return Ok(Entry::Blocked(Blocked {
                    at: at(),
                    what: BlockKind::Link,
                }));
            }
            if last {
                return Ok(if meta.is_file() {
                    Entry::File {
                        len: meta.len(),
                        mode: mode_of(&meta),
                    }
                } else if meta.is_dir() {
                    Entry::Dir
                } else {
                    Entry::Blocked(Blocked {
                        at: at(),
                        what: BlockKind::NotAFile,
                    })
                });
            }
            if !meta.is_dir() {
                return Ok(Entry::Blocked(Blocked {
                    at: at(),
                    what: BlockKind::NotAFolder,
                }));
            }
        }
        Ok(Entry::Dir)
    }

    /// What `rel` holds. A folder where a file is expected is `Blocked`.
    pub fn read(&self, rel: &str) -> Result<Found> {
        let full = self.full(rel);
        match self
            .entry(rel)
            .with_context(|| format!("cannot read {}", full.display()))?
        {
            Entry::Missing => Ok(Found::Missing),
            Entry::Dir => Ok(Found::Blocked(Blocked {
                at: rel.to_string(),
                what: BlockKind::NotAFile,
            })),
            Entry::Blocked(b) => Ok(Found::Blocked(b)),
            Entry::File { len, mode } => {
                let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                open_nofollow(&full)
                    .and_then(|mut f| f.read_to_end(&mut bytes))
                    .with_context(|| format!("cannot read {}", full.display()))?;
                Ok(Found::File { bytes, mode })
            }
        }
    }

    /// Does `rel` exist in any form (file, folder, link, even dangling)?
    pub fn occupied(&self, rel: &str) -> Result<bool> {
        Ok(self.entry(rel)? != Entry::Missing)
    }

    /// Is `rel` a plain folder reached without links?
    pub fn is_dir(&self, rel: &str) -> Result<bool> {
        Ok(self.entry(rel)? == Entry::Dir)
    }

    /// The folders of `rel_dir` that do not exist yet, outermost first; an
    /// error names a link or a file in the way.
    pub fn missing_dirs(&self, rel_dir: &str) -> Result<Vec<String>> {
        let mut missing = Vec::new();
        if rel_dir.is_empty() {
            return Ok(missing);
        }
        let parts: Vec<&str> = rel_dir.split('/').collect();
        for i in 0..parts.len() {
            let prefix = parts[..=i].join("/");
            if !missing.is_empty() {
                missing.push(prefix);
                continue;
            }
            match self.entry(&prefix)? {
                Entry::Dir => {}
                Entry::Missing => missing.push(prefix),
                Entry::File { .. } => anyhow::bail!(Blocked {
                    at: prefix,
                    what: BlockKind::NotAFolder,
                }
                .to_string()),
                Entry::Blocked(b) => anyhow::bail!(b.to_string()),
            }
        }
        Ok(missing)
    }

    /// Creates one folder; it must not exist (its parent is checked already).
    pub fn mkdir(&self, rel: &str) -> Result<()> {
        let full = self.full(rel);
        match fs::create_dir(&full) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && self.is_dir(rel)? => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot create {}", full.display())),
        }
    }

    /// Writes a new file that must not exist yet (a temp file), with `mode`.
    pub fn create(&self, rel: &str, bytes: &[u8], mode: u32, sync: bool) -> Result<()> {
        let full = self.full(rel);
        let parent = rel.rsplit_once('/').map_or("", |(p, _)| p);
        if !parent.is_empty() && !self.is_dir(parent)? {
            anyhow::bail!("cannot write {}: its folder is missing or a link", full.display());
        }
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode & 0o7777);
        }
        let mut f = opts
            .open(&full)
            .with_context(|| format!("cannot write {}", full.display()))?;
        f.write_all(bytes)
            .and_then(|()| if sync { f.sync_data() } else { Ok(()) })
            .with_context(|| format!("cannot write {}", full.display()))?;
        set_mode(&full, mode)
    }

    /// Renames `from` over `to` (both in one folder of the repo). `to` must not
    /// be a link or a folder, and no parent may be a link.
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        match self.entry(to)? {
            Entry::Missing | Entry::File { .. } => {}
            Entry::Dir => anyhow::bail!("cannot write {}: a folder is in the way", self.full(to).display()),
            Entry::Blocked(b) => anyhow::bail!("cannot write {}: {b}", self.full(to).display()),
        }
        fs::rename(self.full(from), self.full(to)).with_context(|| format!("cannot write {}", self.full(to).display()))
    }

    /// Removes a regular file; a missing one is fine, anything else is left.
    pub fn remove_file(&self, rel: &str) -> Result<bool> {
        match self.entry(rel)? {
            Entry::File { .. } => {}
            _ => return Ok(false),
        }
        match fs::remove_file(self.full(rel)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("cannot delete {}", self.full(rel).display())),
        }
    }

    /// Removes `rel` and its parents while they are empty plain folders, never
    /// the root and never through a link.
    pub fn remove_empty_dirs(&self, rel: &str) {
        let mut dir = rel;
        while !dir.is_empty() {
            if self.entry(dir).ok() != Some(Entry::Dir) || fs::remove_dir(self.full(dir)).is_err() {
                return;
            }
            dir = dir.rsplit_once('/').map_or("", |(p, _)| p);
        }
    }

    /// Removes the plain folder `rel` if it is empty.
    pub fn remove_dir_if_empty(&self, rel: &str) {
        if !rel.is_empty() && self.is_dir(rel).unwrap_or(false) {
            let _ = fs::remove_dir(self.full(rel));
        }
    }

    /// Removes braid's temp files left in `rel_dir` by a killed run.
    pub fn remove_stale_tmps(&self, rel_dir: &str) {
        if !rel_dir.is_empty() && !self.is_dir(rel_dir).unwrap_or(false) {
            return;
        }
        let Ok(entries) = fs::read_dir(self.full(rel_dir)) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(TMP_PREFIX) && entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

fn open_nofollow(path: &Path) -> io::Result<File> {
    let mut opts = fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW);
    }
    opts.open(path)
}

#[cfg(unix)]
pub fn mode_of(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
pub fn mode_of(_meta: &fs::Metadata) -> u32 {
    0o644
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

/// The mode of a file braid creates.
pub fn default_mode(executable: bool) -> u32 {
    if executable {
        0o755
    } else {
        0o644
    }
}

/// The mode to write over a file the user has: theirs, with the executable
/// bits changed only when the render changed its mind about them.
pub fn keep_mode(user: u32, was_executable: bool, executable: bool) -> u32 {
    match (was_executable, executable) {
        (false, true) => user | ((user & 0o444) >> 2),
        (true, false) => user & !0o111,
        _ => user,
    }
}

/// A short, stable fingerprint of file content (FNV-1a 64 and the length),
/// for the journal to tell which version of a file it is looking at.
pub fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}-{}", bytes.len())
}

/// An exclusive lock on a folder, held while the value lives: one braid at a
/// time per project. Uses the folder's own descriptor, so no lock file is left.
#[derive(Debug)]
pub struct Lock {
    file: File,
}

impl Lock {
    /// Takes the lock, waiting up to `wait` for another braid to finish.
    pub fn acquire(dir: &Path, wait: Duration) -> Result<Self> {
        Self::take(dir, wait, File::try_lock)
    }

    /// A shared lock, for commands that only read: they wait for a writer.
    pub fn acquire_shared(dir: &Path, wait: Duration) -> Result<Self> {
        Self::take(dir, wait, File::try_lock_shared)
    }

    fn take(dir: &Path, wait: Duration, try_lock: fn(&File) -> Result<(), fs::TryLockError>) -> Result<Self> {
        let file = File::open(dir).with_context(|| format!("cannot open {}", dir.display()))?;
        let start = Instant::now();
        loop {
            match try_lock(&file) {
                Ok(()) => return Ok(Lock { file }),
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(crate::error::Error::target(
                        format!("another braid is running in {}", dir.display()),
                        "wait for it to finish, then run this command again",
                    )
                    .into())
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", dir.display()))
                }
            }
        }
    }

    /// Is the folder this lock holds still the one at `dir`? Another braid
    /// may have removed it (taking it for a stale one) before this one
    /// locked it: the lock then holds a folder that is gone.
    pub fn holds(&self, dir: &Path) -> bool {
        let (Ok(held), Ok(there)) = (self.file.metadata(), fs::symlink_metadata(dir)) else {
            return false;
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            held.dev() == there.dev() && held.ino() == there.ino()
        }
        #[cfg(not(unix))]
        {
            held.is_dir() && there.is_dir()
        }
    }

    /// Takes the lock only if nobody holds it.
    pub fn try_acquire(dir: &Path) -> Option<Self> {
        let file = File::open(dir).ok()?;
        file.try_lock().ok().map(|()| Lock { file })
    }
}

/// How long a second braid waits for the first one.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn links_below_the_root_are_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        let repo = tmp.path().join("repo");
        fs::create_dir_all(&outside).unwrap();
        fs::create_dir_all(repo.join("a")).unwrap();
        fs::write(outside.join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(&outside, repo.join("a/link")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), repo.join("file")).unwrap();
        let r = Repo::open(&repo).unwrap();
        for rel in ["a/link/secret", "a/link", "file"] {
            match r.read(rel).unwrap() {
                Found::Blocked(b) => assert_eq!(b.what, BlockKind::Link, "{rel}"),
                other => panic!("{rel}: {other:?}"),
            }
        }
        assert!(r.missing_dirs("a/link/new").is_err());
        assert!(!r.remove_file("a/link/secret").unwrap());
        assert!(!r.remove_file("file").unwrap());
        r.remove_empty_dirs("a/link");
        assert!(outside.join("secret").exists());
        assert!(r.rename("x", "file").is_err());
    }

    #[test]
    fn modes_follow_the_user_unless_the_render_flips_the_x_bit() {
        assert_eq!(keep_mode(0o600, false, false), 0o600);
        assert_eq!(keep_mode(0o644, true, true), 0o644);
        assert_eq!(keep_mode(0o600, false, true), 0o700);
        assert_eq!(keep_mode(0o755, true, false), 0o644);
    }

    #[test]
    fn fingerprints_differ_for_different_content() {
        assert_ne!(fingerprint(b"a"), fingerprint(b"b"));
        assert_eq!(fingerprint(b"abc"), fingerprint(b"abc"));
        assert_ne!(fingerprint(b""), fingerprint(b"\0"));
    }

    #[test]
    fn a_second_lock_on_one_folder_waits_then_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let first = Lock::acquire(tmp.path(), LOCK_WAIT).unwrap();
        assert!(Lock::try_acquire(tmp.path()).is_none());
        let err = Lock::acquire(tmp.path(), Duration::from_millis(60)).unwrap_err();
        assert!(err.to_string().contains("another braid is running"), "{err}");
        drop(first);
        assert!(Lock::try_acquire(tmp.path()).is_some());
    }
}
