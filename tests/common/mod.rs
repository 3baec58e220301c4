//! Two builders so CLI tests read like sentences.
//!
//! - [`Test`] (as in casey/just's tests) owns a temp folder, writes the input
//!   files, runs braid there and compares stdout and stderr *exactly*, after
//!   the temp folder's path is replaced by `[TMP]`; both must be empty unless
//!   stated. It also checks the exit code (0 unless stated) and files.
//!   `Test::capture` runs without checking, for insta snapshots.
//! - [`braid`]/[`demo`] (older): `braid().args(["list"]).run().success().stdout_has("demo")`.
#![allow(dead_code, unused_macros, unused_imports)]

use std::{
    ffi::OsString,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Output,
    time::{Duration, Instant},
};

use assert_fs::TempDir;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/blueprints")
}

pub fn broken_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken")
}

pub struct Braid {
    cmd: assert_cmd::Command,
}

pub fn braid() -> Braid {
    Braid { cmd: base_command() }
}

/// The braid binary with a stable environment: no colour, no user blueprint
/// folders, help wrapped at 100 columns, a timeout.
fn base_command() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("braid").unwrap();
    cmd.env_remove("BRAID_BLUEPRINTS")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .timeout(Duration::from_secs(60));
    cmd
}

/// braid with the fixture blueprints added.
pub fn demo() -> Braid {
    braid().args(["--blueprints", fixtures().to_str().unwrap()])
}

impl Braid {
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }

    pub fn stdin(mut self, input: &str) -> Self {
        self.cmd.write_stdin(input.to_string());
        self
    }

    pub fn run(mut self) -> Run {
        let start = Instant::now();
        let output = self.cmd.output().unwrap();
        Run {
            output,
            elapsed: start.elapsed(),
        }
    }
}

pub struct Run {
    pub output: Output,
    pub elapsed: Duration,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.output.status.code(),
            Some(code),
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    pub fn success(self) -> Self {
        self.code(0)
    }

    pub fn stdout_has(self, needle: &str) -> Self {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout()
        );
        self
    }

    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr()
        );
        self
    }
}

/// Every file under `dir` (relative path -> bytes), sorted.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }

    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// One run of braid in a temp folder it owns, checked exactly:
///
/// ```ignore
/// Test::new()
///     .write("answers.toml", "blueprint = \"ml-gateway\"\n")
///     .args(["new", "app", "--config", "answers.toml", "--yes"])
///     .stderr_any()
///     .expect_file("app/braid.toml", "...")
///     .run();
/// ```
///
/// stdout and stderr must be empty and the exit code 0 unless stated;
/// `[TMP]` in an expectation stands for the temp folder's path.
#[must_use]
pub struct Test {
    tempdir: TempDir,
    args: Vec<OsString>,
    current_dir: PathBuf,
    env: Vec<(OsString, OsString)>,
    files: Vec<(PathBuf, Vec<u8>)>,
    stdin: String,
    stdout: Option<String>,
    stderr: Option<String>,
    status: i32,
    expected_files: Vec<(PathBuf, Option<String>)>,
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    /// A run in a fresh, empty temp folder.
    pub fn new() -> Self {
        Self::with_tempdir(TempDir::new().unwrap())
    }

    /// A run in the temp folder a previous [`Test::run`] returned.
    pub fn with_tempdir(tempdir: TempDir) -> Self {
        Test {
            tempdir,
            args: Vec::new(),
            current_dir: PathBuf::new(),
            env: Vec::new(),
            files: Vec::new(),
            stdin: String::new(),
            stdout: Some(String::new()),
            stderr: Some(String::new()),
            status: 0,
            expected_files: Vec::new(),
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn arg(self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.args([arg])
    }

    /// Adds the fixture blueprints (`demo` and its components).
    pub fn demo(self) -> Self {
        self.args([OsString::from("--blueprints"), fixtures().into_os_string()])
    }

    /// Runs braid in this folder of the temp folder (created if missing).
    pub fn current_dir_rel(mut self, rel: impl AsRef<Path>) -> Self {
        rel.as_ref().clone_into(&mut self.current_dir);
        self
    }

    /// A file written into the temp folder before the run (folders created).
    pub fn write(mut self, rel: impl AsRef<Path>, content: impl AsRef<[u8]>) -> Self {
        self.files.push((rel.as_ref().to_owned(), content.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<std::ffi::OsStr>, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// braid's stdin (empty unless stated: never a terminal).
    pub fn stdin(mut self, input: impl Into<String>) -> Self {
        self.stdin = input.into();
        self
    }

    pub fn stdout(mut self, expected: impl Into<String>) -> Self {
        self.stdout = Some(expected.into());
        self
    }

    /// Any stdout is fine.
    pub fn stdout_any(mut self) -> Self {
        self.stdout = None;
        self
    }

    pub fn stderr(mut self, expected: impl Into<String>) -> Self {
        self.stderr = Some(expected.into());
        self
    }

    /// Any stderr is fine.
    pub fn stderr_any(mut self) -> Self {
        self.stderr = None;
        self
    }

    pub fn status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    /// After the run, this file (relative to the temp folder) holds exactly `content`.
    pub fn expect_file(mut self, rel: impl AsRef<Path>, content: impl Into<String>) -> Self {
        self.expected_files
            .push((rel.as_ref().to_owned(), Some(content.into())));
        self
    }

    /// After the run, nothing exists at this path (relative to the temp folder).
    pub fn expect_no_file(mut self, rel: impl AsRef<Path>) -> Self {
        self.expected_files.push((rel.as_ref().to_owned(), None));
        self
    }

    /// The temp folder's path, e.g. to build an argument.
    pub fn path(&self) -> &Path {
        self.tempdir.path()
    }

    /// Runs braid and checks everything stated; returns the temp folder for
    /// the next step.
    #[track_caller]
    pub fn run(self) -> TempDir {
        let Test {
            tempdir,
            stdout,
            stderr,
            status,
            expected_files,
            ..
        } = &self;
        let out = self.execute();
        let out = Captured {
            command: filter(&out.command, tempdir.path()),
            stdout: filter(&out.stdout, tempdir.path()),
            stderr: filter(&out.stderr, tempdir.path()),
            ..out
        };
        let mut failures = Vec::new();
        if out.code != Some(*status) {
            failures.push(format!("exit code: expected {status}, got {:?}", out.code));
        }
        for (what, expected, got) in [("stdout", stdout, &out.stdout), ("stderr", stderr, &out.stderr)] {
            if let Some(expected) = expected {
                if expected != got {
                    failures.push(format!(
                        "{what} differs (- expected, + actual):\n{}",
                        diff(expected, got)
                    ));
                }
            }
        }
        for (rel, expected) in expected_files {
            let path = tempdir.path().join(rel);
            match (expected, fs::read(&path)) {
                (None, _) if fs::symlink_metadata(&path).is_err() => {}
                (None, _) => failures.push(format!("{} exists", rel.display())),
                (Some(expected), Ok(bytes)) => {
                    let got = String::from_utf8_lossy(&bytes);
                    if *expected != got {
                        failures.push(format!(
                            "{} differs (- expected, + actual):\n{}",
                            rel.display(),
                            diff(expected, &got)
                        ));
                    }
                }
                (Some(_), Err(e)) => failures.push(format!("{} cannot be read: {e}", rel.display())),
            }
        }
        assert!(
            failures.is_empty(),
            "braid {}\n{}\n\n--- full stdout ---\n{}\n--- full stderr ---\n{}",
            out.command,
            failures.join("\n"),
            out.stdout,
            out.stderr
        );
        self.tempdir
    }

    /// Runs braid and checks nothing: for snapshots (see [`assert_run_snapshot`]).
    pub fn capture(self) -> (TempDir, Captured) {
        let out = self.execute();
        (self.tempdir, out)
    }

    fn execute(&self) -> Captured {
        for (rel, content) in &self.files {
            let path = self.tempdir.path().join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).unwrap();
            }
            fs::write(path, content).unwrap();
        }
        let dir = self.tempdir.path().join(&self.current_dir);
        fs::create_dir_all(&dir).unwrap();
        let mut cmd = base_command();
        cmd.args(&self.args).current_dir(&dir).write_stdin(self.stdin.clone());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let output = cmd.output().unwrap();
        Captured {
            command: self
                .args
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// A run as it happened (paths not filtered yet: [`assert_run_snapshot`]
/// does it, and [`Test::run`] through [`filter`]).
pub struct Captured {
    /// The arguments, space-separated.
    pub command: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Captured {
    /// Exit code, stdout and stderr as one text, the shape every CLI snapshot has.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let code = self
            .code
            .map_or("none (killed by a signal)".to_string(), |c| c.to_string());
        writeln!(s, "exit code: {code}").unwrap();
        writeln!(s, "----- stdout -----\n{}", self.stdout).unwrap();
        write!(s, "----- stderr -----\n{}", self.stderr).unwrap();
        s
    }
}

/// What a test's output may hold that changes from run to run, and what to
/// show instead: the temp folder (as given and with links resolved) becomes
/// `[TMP]`, this checkout becomes `[REPO]`. Longest first, so a path inside
/// another is replaced whole.
pub fn path_filters(tmp: &Path) -> Vec<(String, &'static str)> {
    let mut filters = Vec::new();
    for (path, name) in [(tmp, "[TMP]"), (Path::new(env!("CARGO_MANIFEST_DIR")), "[REPO]")] {
        filters.push((path.display().to_string(), name));
        if let Ok(real) = path.canonicalize() {
            filters.push((real.display().to_string(), name));
        }
    }
    filters.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    filters.dedup();
    filters
}

/// `text` with [`path_filters`] applied.
pub fn filter(text: &str, tmp: &Path) -> String {
    path_filters(tmp)
        .iter()
        .fold(text.to_string(), |text, (from, to)| text.replace(from, to))
}

/// The same paths as insta filters (regexes).
pub fn insta_filters(tmp: &Path) -> Vec<(String, &'static str)> {
    path_filters(tmp)
        .into_iter()
        .map(|(from, to)| (regex::escape(&from), to))
        .collect()
}

/// A line diff of two texts, for failure messages.
fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .to_string()
}

/// `assert_run_snapshot!(name, tmp_path, captured)`: snapshots exit code,
/// stdout and stderr as one text, with the temp folder's path filtered out
/// by insta (as uv's `uv_snapshot!` does). The snapshot's header shows the
/// command line.
macro_rules! assert_run_snapshot {
    ($name:expr, $tmp:expr, $captured:expr) => {{
        let tmp: &std::path::Path = $tmp;
        let captured: &$crate::common::Captured = &$captured;
        let mut settings = insta::Settings::clone_current();
        for (regex, replacement) in $crate::common::insta_filters(tmp) {
            settings.add_filter(&regex, replacement);
        }
        settings.set_description(format!("braid {}", $crate::common::filter(&captured.command, tmp)));
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_snapshot!($name, captured.report()));
    }};
}
pub(crate) use assert_run_snapshot;
