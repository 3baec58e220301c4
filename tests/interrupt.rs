//! Fault injection through the real binary. strace kills braid (SIGKILL) at
//! every rename, unlink and rmdir it makes, then braid runs again once; two
//! regens run at once; an editor saves files while regen runs. Each test pins
//! a promise of regen as one journaled transaction:
//! - killed anywhere, then run again, `regen` and `new` end exactly where an
//!   uninterrupted run ends: the same files, bytes and modes (state.json
//!   included), and the same exit code;
//! - nothing is left behind: no `.braid-tmp-*` or `.braid-new-*` in or beside
//!   the project, nothing in `.braid/` but state.json;
//! - a second braid waits for the first, or says that another one runs; it
//!   never merges against a half-written repo;
//! - a file saved while regen runs is not overwritten.
//!
//! Needs strace: without it these tests fail and say so, they never skip.
//! Every braid run has a time limit; the kill points of a scenario run on a
//! few threads, each in its own folder.

mod common;

use std::fmt::Write as _;
use std::{
    collections::BTreeMap,
    ffi::OsString,
    fs,
    io::Write as _,
    os::unix::{
        fs::{MetadataExt as _, PermissionsExt as _},
        process::ExitStatusExt as _,
    },
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    thread,
    time::{Duration, Instant},
};

use assert_fs::TempDir;
use common::*;

/// The syscalls a kill is injected at, by family: each name is injected
/// separately, at each of its calls (strace counts calls per syscall name and
/// per thread). The current binary makes only rename, unlink and rmdir.
const RENAMES: &[&str] = &["rename", "renameat", "renameat2"];
const UNLINKS: &[&str] = &["unlink", "unlinkat"];
const RMDIRS: &[&str] = &["rmdir"];
const MKDIRS: &[&str] = &["mkdir", "mkdirat"];

/// No single braid or strace run may take longer.
const LIMIT: Duration = Duration::from_secs(60);

const OURS: &str = "Notes of ours at the end of the README: regen keeps them.";
const MINE_ML_URL: &str = "ML_URL=http://localhost:9000 # mine";

// ---------------------------------------------------------------- running

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("braid")
}

fn strace() -> PathBuf {
    let fixed = PathBuf::from("/usr/bin/strace");
    if fixed.is_file() {
        return fixed;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("strace"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "strace is missing (not at /usr/bin/strace, not on PATH): these tests kill braid at \
                 chosen syscalls with strace's fault injection; install strace (apt-get install strace)"
            )
        })
}

fn braid_env(cmd: &mut Command) {
    cmd.env_remove("BRAID_BLUEPRINTS")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
}

/// braid itself, no strace.
fn braid_cmd(args: &[OsString]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    braid_env(&mut cmd);
    cmd
}

/// braid under `strace -f -qq OPTIONS`.
fn strace_cmd(options: &[&str], args: &[OsString]) -> Command {
    let mut cmd = Command::new(strace());
    cmd.args(["-f", "-qq"]).args(options).arg("--").arg(bin()).args(args);
    braid_env(&mut cmd);
    cmd
}

/// braid, to be killed by SIGKILL on entering call `n` of `syscall` (which
/// therefore does not happen). Only that syscall is traced: fewer stops.
fn kill_cmd(syscall: &str, n: usize, args: &[OsString]) -> Command {
    let trace = format!("trace={syscall}");
    let inject = format!("inject={syscall}:signal=KILL:when={n}");
    strace_cmd(&["-o", "/dev/null", "-e", &trace, "-e", &inject], args)
}

/// braid, held 1.5 s on entering its first rename.
fn held_cmd(args: &[OsString]) -> Command {
    strace_cmd(
        &[
            "-o",
            "/dev/null",
            "-e",
            "trace=rename",
            "-e",
            "inject=rename:delay_enter=1500000:when=1",
        ],
        args,
    )
}

fn spawn(mut cmd: Command, what: &str) -> Child {
    cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"))
}

/// Waits for `child` (at most LIMIT, then kills it and fails) and collects its output.
fn finish(mut child: Child, what: &str) -> Output {
    fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {LIMIT:?}; killed it");
        }
        thread::sleep(Duration::from_millis(2));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn run(cmd: Command, what: &str) -> Output {
    finish(spawn(cmd, what), what)
}

fn show(out: &Output) -> String {
    let clip = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        let s = s.trim_end();
        if s.len() > 1500 {
            let mut at = s.len() - 1500;
            while !s.is_char_boundary(at) {
                at += 1;
            }
            format!("...{}", &s[at..])
        } else {
            s.to_string()
        }
    };
    format!(
        "{}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        clip(&out.stdout),
        clip(&out.stderr)
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Does braid's message say that another braid holds the project?
fn says_another_braid_runs(out: &Output) -> bool {
    let text = stderr(out).to_lowercase();
    text.contains("another") && (text.contains("running") || text.contains("in progress") || text.contains("lock"))
}

/// Runs `f` on every item on a few threads; results in the order of `items`.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let workers = thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .clamp(1, 3);
    let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
    thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= items.len() {
                            break mine;
                        }
                        mine.push((i, f(&items[i])));
                    }
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().unwrap() {
                results[i] = Some(r);
            }
        }
    });
    results.into_iter().map(Option::unwrap).collect()
}

// ---------------------------------------------------------------- trees

/// Every entry below a folder, `.git` aside: relative path -> (bytes, `st_mode`).
/// Folders end in `/` and have no bytes (the folder itself is `./`); a
/// symlink's bytes are its target; the mode includes the file type.
type Snapshot = BTreeMap<String, (Vec<u8>, u32)>;

fn snapshot(dir: &Path) -> Snapshot {
    fn walk(base: &Path, dir: &Path, out: &mut Snapshot) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            if rel == ".git" {
                continue;
            }
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).unwrap();
                out.insert(rel, (target.into_os_string().into_encoded_bytes(), meta.mode()));
            } else if meta.is_dir() {
                out.insert(format!("{rel}/"), (Vec::new(), meta.mode()));
                walk(base, &path, out);
            } else {
                out.insert(rel, (fs::read(&path).unwrap(), meta.mode()));
            }
        }
    }
    let mut out = Snapshot::new();
    if let Ok(meta) = fs::symlink_metadata(dir) {
        out.insert("./".into(), (Vec::new(), meta.mode()));
        walk(dir, dir, &mut out);
    }
    out
}

/// Copies a tree: modes kept, symlinks copied as symlinks.
fn copy_tree(from: &Path, to: &Path) {
    let meta = fs::symlink_metadata(from).unwrap();
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from).unwrap(), to).unwrap();
    } else if meta.is_dir() {
        fs::create_dir(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777)).unwrap();
    } else {
        fs::copy(from, to).unwrap();
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777)).unwrap();
    }
}

/// Where two bytes strings first part, as a line number and both lines
/// around the first differing character.
fn first_difference(want: &[u8], got: &[u8]) -> String {
    let want = String::from_utf8_lossy(want);
    let got = String::from_utf8_lossy(got);
    let (w, g): (Vec<&str>, Vec<&str>) = (want.split('\n').collect(), got.split('\n').collect());
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i).copied(), g.get(i).copied());
        if a == b {
            continue;
        }
        let (a, b) = (a.unwrap_or("<end of file>"), b.unwrap_or("<end of file>"));
        let same = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
        let around = |s: &str| -> String {
            let chars: Vec<char> = s.chars().collect();
            let from = same.saturating_sub(40);
            let to = (same + 80).min(chars.len());
            let mut out: String = chars[from.min(to)..to].iter().collect();
            if from > 0 {
                out.insert_str(0, "...");
            }
            if to < chars.len() {
                out.push_str("...");
            }
            out
        };
        return format!("line {}: got {:?}, want {:?}", i + 1, around(b), around(a));
    }
    "same lines, other bytes".into()
}

/// A readable account of how `got` differs from `want`; empty when equal.
fn tree_diff(want: &Snapshot, got: &Snapshot) -> String {
    let mut out = Vec::new();
    for (path, (bytes, mode)) in want {
        match got.get(path) {
            None => out.push(format!("missing {path}")),
            Some((b, m)) => {
                if m != mode {
                    out.push(format!("{path}: mode {m:o}, want {mode:o}"));
                }
                if b != bytes {
                    out.push(format!("{path}: {}", first_difference(bytes, b)));
                }
            }
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(*p)) {
        out.push(format!("extra {path}"));
    }
    let n = out.len();
    if n > 12 {
        out.truncate(12);
        out.push(format!("... and {} more", n - 12));
    }
    out.join("\n")
}

/// What a run left that it should not have: temp files and staging folders in
/// or beside the project, anything in `.braid/` but state.json.
fn leftovers(dir: &Path) -> Vec<String> {
    const PREFIXES: [&str; 2] = [".braid-tmp-", ".braid-new-"];
    let temp = |name: &str| PREFIXES.iter().any(|p| name.starts_with(p));
    let mut out = Vec::new();
    if let Some(parent) = dir.parent() {
        for entry in fs::read_dir(parent).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if temp(&name) {
                out.push(format!("{name} beside the project"));
            }
        }
    }
    for path in snapshot(dir).keys() {
        let name = path.trim_end_matches('/').rsplit('/').next().unwrap();
        let stray_in_braid = path.starts_with(".braid/") && path != ".braid/" && path != ".braid/state.json";
        if temp(name) || stray_in_braid {
            out.push(path.clone());
        }
    }
    out
}

/// Files holding a conflict marker.
fn with_markers(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(7).any(|w| w == b"<<<<<<<"))
        .map(|(path, _)| path)
        .collect()
}

// ---------------------------------------------------------------- projects

fn set_answer(dir: &Path, key: &str, value: &str) {
    let path = dir.join("braid.toml");
    let text = fs::read_to_string(&path).unwrap();
    let prefix = format!("{key} = ");
    assert!(
        text.lines().any(|l| l.starts_with(&prefix)),
        "braid.toml has no {key}:\n{text}"
    );
    let out: String = text
        .lines()
        .map(|line| {
            if line.starts_with(&prefix) {
                format!("{key} = {value}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    fs::write(path, out).unwrap();
}

fn append(dir: &Path, path: &str, line: &str) {
    let mut f = fs::OpenOptions::new().append(true).open(dir.join(path)).unwrap();
    writeln!(f, "{line}").unwrap();
}

fn replace_line(dir: &Path, path: &str, from: &str, to: &str) {
    let text = fs::read_to_string(dir.join(path)).unwrap();
    let needle = format!("\n{from}\n");
    assert!(text.contains(&needle), "{path} has no line {from:?}:\n{text}");
    fs::write(dir.join(path), text.replacen(&needle, &format!("\n{to}\n"), 1)).unwrap();
}

/// The project every regen scenario starts from: ml-gateway, Go gateway, HTTP.
fn ml_gateway(dir: &Path) {
    braid()
        .args([
            "new",
            dir.to_str().unwrap(),
            "--name",
            "p",
            "--gateway",
            "go",
            "--transport",
            "http",
            "--yes",
        ])
        .run()
        .success();
}

/// transport http -> redis-streams, and a README line of ours that merges cleanly.
fn switch_transport(dir: &Path) {
    set_answer(dir, "transport", "\"redis-streams\"");
    append(dir, "README.md", OURS);
}

/// A hand edit of a line the transport switch rewrites: a conflict.
fn edit_ml_url(dir: &Path) {
    replace_line(dir, ".env.example", "# ML_URL=", MINE_ML_URL);
}

fn read(dir: &Path, path: &str) -> String {
    fs::read_to_string(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---------------------------------------------------------------- scenarios

#[derive(Clone, Copy, Debug)]
enum Invocation {
    Regen,
    /// `braid new DIR --yes --name p --force`
    NewForce,
    /// `braid new DIR --yes --name p`
    NewFresh,
}

impl Invocation {
    fn args(self, dir: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = match self {
            Invocation::Regen => vec!["regen".into()],
            Invocation::NewForce | Invocation::NewFresh => vec!["new".into()],
        };
        args.push(dir.as_os_str().to_owned());
        match self {
            Invocation::Regen => {}
            Invocation::NewForce => args.extend(["--yes", "--name", "p", "--force"].map(OsString::from)),
            Invocation::NewFresh => args.extend(["--yes", "--name", "p"].map(OsString::from)),
        }
        args
    }
}

/// What an uninterrupted run does.
struct Reference {
    code: i32,
    tree: Snapshot,
    stderr: String,
    dir: PathBuf,
}

/// One starting point and one command. Every run gets its own parent folder
/// (`ROOT/LABEL/`) holding a fresh copy of the starting point as `p`.
struct Scenario {
    root: TempDir,
    /// None: the project folder does not exist before the command.
    start: Option<PathBuf>,
    what: Invocation,
}

impl Scenario {
    fn new(what: Invocation, start: Option<&dyn Fn(&Path)>) -> Scenario {
        let root = TempDir::new().unwrap();
        fs::create_dir(root.path().join("start")).unwrap();
        let start = start.map(|make| {
            let dir = root.path().join("start/p");
            make(&dir);
            dir
        });
        Scenario { root, start, what }
    }

    /// A regen scenario: the ml-gateway project, then `edit` by hand.
    fn regen(edit: impl Fn(&Path)) -> Scenario {
        Scenario::new(
            Invocation::Regen,
            Some(&|dir: &Path| {
                ml_gateway(dir);
                edit(dir);
            }),
        )
    }

    fn fresh(&self, label: &str) -> PathBuf {
        let parent = self.root.path().join(label);
        fs::create_dir(&parent).unwrap();
        let dir = parent.join("p");
        if let Some(start) = &self.start {
            copy_tree(start, &dir);
        }
        dir
    }

    fn args(&self, dir: &Path) -> Vec<OsString> {
        self.what.args(dir)
    }

    fn reference(&self) -> Reference {
        let dir = self.fresh("reference");
        let out = run(braid_cmd(&self.args(&dir)), "the uninterrupted run");
        let code = out
            .status
            .code()
            .unwrap_or_else(|| panic!("uninterrupted run: {}", show(&out)));
        let left = leftovers(&dir);
        assert!(left.is_empty(), "the uninterrupted run left {left:?}");
        Reference {
            code,
            tree: snapshot(&dir),
            stderr: stderr(&out),
            dir,
        }
    }

    /// Calls per syscall name of an uninterrupted run under strace (the most
    /// any one thread makes: strace's `when=` counts per thread).
    fn count(&self, reference: &Reference) -> BTreeMap<String, usize> {
        let dir = self.fresh("count");
        let trace = self.root.path().join("count.strace");
        let names: Vec<&str> = [RENAMES, UNLINKS, RMDIRS, MKDIRS].concat();
        let filter = format!("trace={}", names.join(","));
        let out = run(
            strace_cmd(&["-o", trace.to_str().unwrap(), "-e", &filter], &self.args(&dir)),
            "the counting run under strace",
        );
        assert_eq!(
            out.status.code(),
            Some(reference.code),
            "under strace (counting syscalls) braid exits otherwise than without: {}",
            show(&out)
        );
        let diff = tree_diff(&reference.tree, &snapshot(&dir));
        assert!(diff.is_empty(), "under strace braid writes another tree:\n{diff}");
        let text = fs::read_to_string(&trace).unwrap();
        let mut per_thread: BTreeMap<(String, String), usize> = BTreeMap::new();
        for line in text.lines() {
            let (pid, call) = match line.split_once(char::is_whitespace) {
                Some((pid, rest)) if pid.chars().all(|c| c.is_ascii_digit()) => (pid, rest.trim_start()),
                _ => ("", line),
            };
            if let Some((name, _)) = call.split_once('(') {
                if names.contains(&name) {
                    *per_thread.entry((name.to_string(), pid.to_string())).or_default() += 1;
                }
            }
        }
        let mut counts = BTreeMap::new();
        for ((name, _), n) in per_thread {
            let c = counts.entry(name).or_insert(0);
            *c = n.max(*c);
        }
        counts
    }

    /// Kills braid at call `n` of `syscall`, then runs it again without strace.
    /// Err: what is wrong after the rerun.
    fn kill_then_rerun(&self, reference: &Reference, syscall: &str, n: usize) -> Result<PathBuf, String> {
        let label = format!("kill-{syscall}-{n}");
        let dir = self.fresh(&label);
        let killed = run(
            kill_cmd(syscall, n, &self.args(&dir)),
            &format!("braid to be killed at {syscall} #{n}"),
        );
        if killed.status.signal() != Some(9) {
            return Err(format!(
                "{label}: braid was not killed by SIGKILL at {syscall} #{n} (the uninterrupted run makes \
                 at least {n}): {}",
                show(&killed)
            ));
        }
        let rerun = run(braid_cmd(&self.args(&dir)), "the rerun after the kill");
        let mut problems = Vec::new();
        if rerun.status.code() != Some(reference.code) {
            let last = stderr(&rerun);
            let last = last.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            problems.push(format!(
                "rerun exits {:?}, the uninterrupted run {} (rerun's last words: {last})",
                rerun.status.code(),
                reference.code
            ));
        }
        let left = leftovers(&dir);
        if !left.is_empty() {
            problems.push(format!("left behind: {}", list(&left)));
        }
        // Leftovers are reported above; the tree is compared without them.
        let mut got = snapshot(&dir);
        got.retain(|path, _| !left.iter().any(|l| path.starts_with(l.as_str())));
        let diff = tree_diff(&reference.tree, &got);
        if !diff.is_empty() {
            problems.push(format!(
                "tree differs from the uninterrupted run's:\n      {}",
                diff.replace('\n', "\n      ")
            ));
        }
        if problems.is_empty() {
            Ok(dir)
        } else {
            Err(format!("killed at {syscall} #{n}:\n    {}", problems.join("\n    ")))
        }
    }

    /// Every kill point of `families`: (syscall, n) for n in 1..=count.
    fn kill_points(counts: &BTreeMap<String, usize>, families: &[&[&str]]) -> Vec<(String, usize)> {
        let mut points = Vec::new();
        for family in families {
            for name in *family {
                for n in 1..=counts.get(*name).copied().unwrap_or(0) {
                    points.push((name.to_string(), n));
                }
            }
        }
        points
    }

    /// The heart of section A: killed at any call of `families`, one rerun
    /// converges to the reference.
    fn converges_after_any_kill(&self, name: &str, reference: &Reference, families: &[&[&str]]) {
        let counts = self.count(reference);
        self.converges_after_kills(name, reference, &counts, families);
    }

    fn converges_after_kills(
        &self,
        name: &str,
        reference: &Reference,
        counts: &BTreeMap<String, usize>,
        families: &[&[&str]],
    ) {
        let points = Scenario::kill_points(counts, families);
        assert!(
            !points.is_empty(),
            "{name}: no kill points; syscalls counted: {counts:?}"
        );
        let summary = summarize(&points);
        eprintln!("{name}: {} kill points ({summary})", points.len());
        let results = par_map(&points, |(syscall, n)| {
            let result = self.kill_then_rerun(reference, syscall, *n);
            if let Ok(dir) = &result {
                let _ = fs::remove_dir_all(dir.parent().unwrap());
            }
            result
        });
        let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
        if failures.is_empty() {
            return;
        }
        let mut report = format!(
            "{name}: after {} of {} kill points ({summary}) one rerun does not end where the \
             uninterrupted run ends (exit {}).\n",
            failures.len(),
            points.len(),
            reference.code
        );
        for (i, failure) in failures.iter().enumerate() {
            if i < 3 {
                let _ = write!(report, "\n{failure}\n");
            } else {
                // One line each after the first three: each problem's first line.
                let mut lines = failure.lines();
                let head = lines.next().unwrap_or("");
                let mut line = head.to_string();
                let mut rest = lines.peekable();
                while let Some(l) = rest.next() {
                    let detail = rest.peek().filter(|_| l.ends_with(':')).map(|d| d.trim());
                    if l.starts_with("    ") && !l.starts_with("     ") {
                        line.push(' ');
                        line.push_str(l.trim());
                        if let Some(d) = detail {
                            line.push(' ');
                            line.push_str(d);
                        }
                    }
                }
                let _ = write!(report, "\n{}", line.trim_end());
            }
        }
        panic!("{report}");
    }
}

/// The first few of a list, and how many there are.
fn list(items: &[String]) -> String {
    if items.len() <= 4 {
        items.join(", ")
    } else {
        format!("{}, ... ({} in all)", items[..4].join(", "), items.len())
    }
}

fn summarize(points: &[(String, usize)]) -> String {
    let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _) in points {
        *by_name.entry(name).or_default() += 1;
    }
    by_name
        .iter()
        .map(|(name, n)| format!("{name} x{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------- A: kill anywhere, run again

/// A.1a: a transport switch with a hand edit that merges cleanly.
#[test]
fn regen_killed_at_any_rename_unlink_or_rmdir_converges_to_the_uninterrupted_tree() {
    let s = Scenario::regen(switch_transport);
    let reference = s.reference();
    assert_eq!(reference.code, 0, "{}", reference.stderr);
    assert!(reference.stderr.contains("Merged README.md"), "{}", reference.stderr);
    assert!(read(&reference.dir, "README.md").contains(OURS));
    assert!(reference.dir.join("services/gateway/internal/streams").is_dir());
    assert!(!reference.dir.join("services/gateway/internal/mlclient").exists());
    s.converges_after_any_kill("transport switch", &reference, &[RENAMES, UNLINKS, RMDIRS]);
}

/// A.1b: the same switch, plus an edit it conflicts with: regen exits 1 with
/// markers, and so must the rerun after any kill, with the same markers.
#[test]
fn regen_with_a_conflict_killed_anywhere_converges_and_still_exits_1() {
    let s = Scenario::regen(|dir| {
        switch_transport(dir);
        edit_ml_url(dir);
    });
    let reference = s.reference();
    assert_eq!(reference.code, 1, "{}", reference.stderr);
    assert!(
        reference.stderr.contains("Conflict .env.example"),
        "{}",
        reference.stderr
    );
    let env = read(&reference.dir, ".env.example");
    assert!(env.contains("<<<<<<<") && env.contains(MINE_ML_URL), "{env}");
    assert_eq!(with_markers(&reference.dir), [".env.example"]);
    s.converges_after_any_kill(
        "transport switch with a conflict",
        &reference,
        &[RENAMES, UNLINKS, RMDIRS],
    );
}

/// A.2: project p -> q and a transport switch: services/ml/src/p/ moves to
/// services/ml/src/q/, an edited file and the scaffold model keep their edits.
#[test]
fn renamed_project_regen_killed_anywhere_moves_each_edited_file_once() {
    let s = Scenario::regen(|dir| {
        switch_transport(dir);
        set_answer(dir, "project_name", "\"q\"");
        append(dir, "services/ml/src/p/main.py", "# a line of ours in main.py");
        fs::write(dir.join("services/ml/src/p/model.py"), "MY MODEL\n").unwrap();
    });
    let reference = s.reference();
    assert_eq!(reference.code, 0, "{}", reference.stderr);
    assert!(!reference.dir.join("services/ml/src/p").exists());
    assert!(read(&reference.dir, "services/ml/src/q/main.py").contains("# a line of ours in main.py"));
    assert_eq!(read(&reference.dir, "services/ml/src/q/model.py"), "MY MODEL\n");
    s.converges_after_any_kill(
        "project rename and transport switch",
        &reference,
        &[RENAMES, UNLINKS, RMDIRS],
    );
}

/// A.3: `braid new --force` into a folder holding a file of the user's:
/// killed at any rename, the same command run again finishes the project
/// (exit 0, the uninterrupted tree) instead of refusing a half-made one or
/// recording its own files as the user's.
#[test]
fn new_force_killed_before_state_is_recoverable() {
    let s = Scenario::new(
        Invocation::NewForce,
        Some(&|dir: &Path| {
            fs::create_dir(dir).unwrap();
            fs::write(dir.join("notes.txt"), "my notes, not braid's\n").unwrap();
        }),
    );
    let reference = s.reference();
    assert_eq!(reference.code, 0, "{}", reference.stderr);
    assert_eq!(read(&reference.dir, "notes.txt"), "my notes, not braid's\n");
    assert!(reference.dir.join(".braid/state.json").is_file());
    // new --force writes by rename; were it not to, its mkdirs are the kill points.
    let counts = s.count(&reference);
    let families: &[&[&str]] = if Scenario::kill_points(&counts, &[RENAMES]).is_empty() {
        &[RENAMES, MKDIRS]
    } else {
        &[RENAMES]
    };
    s.converges_after_kills("new --force beside a user file", &reference, &counts, families);
}

/// A.4: a fresh `braid new` stages the project in `.braid-new-*` beside the
/// folder and renames it into place; killed anywhere, the same command run
/// again makes the project and no staging folder stays behind.
#[test]
fn fresh_new_killed_anywhere_leaves_no_staging_folder() {
    let s = Scenario::new(Invocation::NewFresh, None);
    let reference = s.reference();
    assert_eq!(reference.code, 0, "{}", reference.stderr);
    assert!(reference.dir.join("braid.toml").is_file());
    s.converges_after_any_kill("fresh new", &reference, &[RENAMES, RMDIRS, UNLINKS]);
}

/// D: a killed regen leaves temp files; the next run removes them. A few kill
/// points only (the first, middle and last rename, the first unlink and
/// rmdir), checking nothing but what is left behind.
#[test]
fn killed_runs_leave_no_temp_files() {
    let s = Scenario::regen(switch_transport);
    let reference = s.reference();
    let counts = s.count(&reference);
    let mut points = Vec::new();
    for (name, &n) in &counts {
        if RENAMES.contains(&name.as_str()) {
            points.extend([1, n.div_ceil(2), n].map(|k| (name.clone(), k)));
        } else if UNLINKS.contains(&name.as_str()) || RMDIRS.contains(&name.as_str()) {
            points.push((name.clone(), 1));
        }
    }
    points.dedup();
    assert!(!points.is_empty(), "no kill points: {counts:?}");
    let found = par_map(&points, |(syscall, n)| {
        let dir = s.fresh(&format!("kill-{syscall}-{n}"));
        let killed = run(kill_cmd(syscall, *n, &s.args(&dir)), "braid to be killed");
        assert_eq!(
            killed.status.signal(),
            Some(9),
            "not killed at {syscall} #{n}: {}",
            show(&killed)
        );
        run(braid_cmd(&s.args(&dir)), "the rerun after the kill");
        let left = leftovers(&dir);
        (!left.is_empty()).then(|| format!("killed at {syscall} #{n}, then run again: {}", list(&left)))
    });
    let found: Vec<String> = found.into_iter().flatten().collect();
    assert!(
        found.is_empty(),
        "{} of {} kill points leave temp files or strays in .braid/ after the rerun:\n{}",
        found.len(),
        points.len(),
        found.join("\n")
    );
}

// ---------------------------------------------------------------- B: two at once

/// Exit 0, or exit 2 saying another braid runs.
fn finished_or_refused(out: &Output, who: &str) -> Result<(), String> {
    match out.status.code() {
        Some(0) => Ok(()),
        Some(2) if says_another_braid_runs(out) => Ok(()),
        _ => Err(format!(
            "{who}: want exit 0, or exit 2 saying another braid is running; got {}",
            show(out)
        )),
    }
}

/// Two regens of one repo at once (in half the trials the second starts 10 to
/// 90 ms after the first, so it meets the first planning, writing or
/// committing): each finishes or says another braid runs; the repo ends as
/// after one regen, without a conflict marker.
#[test]
fn two_regens_at_once_never_conflict() {
    let s = Scenario::regen(switch_transport);
    let reference = s.reference();
    assert_eq!(reference.code, 0, "{}", reference.stderr);
    assert!(with_markers(&reference.dir).is_empty());
    let trials: Vec<u64> = (0..10).collect();
    let problems = par_map(&trials, |&trial| {
        let dir = s.fresh(&format!("trial-{trial}"));
        let args = s.args(&dir);
        // Even trials: both at once. Odd ones: the second 10 to 90 ms later,
        // when the first is rendering, planning, writing or done.
        let stagger = Duration::from_millis(if trial % 2 == 0 { 0 } else { 10 * trial });
        let first = spawn(braid_cmd(&args), "the first regen");
        thread::sleep(stagger);
        let second = spawn(braid_cmd(&args), "the second regen");
        let (first, second) = (finish(first, "the first regen"), finish(second, "the second regen"));
        let mut problems = Vec::new();
        for (out, who) in [(&first, "first regen"), (&second, "second regen")] {
            if let Err(e) = finished_or_refused(out, who) {
                problems.push(e);
            }
        }
        let markers = with_markers(&dir);
        if !markers.is_empty() {
            problems.push(format!("conflict markers in {markers:?}"));
        }
        let diff = tree_diff(&reference.tree, &snapshot(&dir));
        if !diff.is_empty() {
            problems.push(format!("tree differs from one uninterrupted regen's:\n{diff}"));
        }
        let left = leftovers(&dir);
        if !left.is_empty() {
            problems.push(format!("left behind: {}", list(&left)));
        }
        (!problems.is_empty()).then(|| {
            format!(
                "trial {trial} (second started {} ms later; exits {:?} and {:?}):\n  {}",
                stagger.as_millis(),
                first.status.code(),
                second.status.code(),
                problems.join("\n  ")
            )
        })
    });
    let failed: Vec<String> = problems.into_iter().flatten().collect();
    assert!(
        failed.is_empty(),
        "{} of {} trials of two regens at once go wrong:\n\n{}",
        failed.len(),
        trials.len(),
        failed.join("\n\n")
    );
}

/// A regen run while another one is held inside its first rename (strace
/// delays it 1.5 s): it waits, or says another braid runs; it never merges
/// against the half-done repo, and the repo ends as after one regen.
#[test]
fn regen_while_another_is_held_mid_run_never_writes_conflict_markers() {
    let s = Scenario::regen(switch_transport);
    let reference = s.reference();
    assert!(with_markers(&reference.dir).is_empty());
    let dir = s.fresh("held");
    let args = s.args(&dir);
    let mut held = spawn(held_cmd(&args), "the held regen");
    thread::sleep(Duration::from_millis(500));
    assert!(
        held.try_wait().unwrap().is_none(),
        "the held regen ended within 500 ms: it was never held, or the machine is too slow for this test"
    );
    let second = run(braid_cmd(&args), "the second regen");
    let held = finish(held, "the held regen");
    let mut problems = Vec::new();
    for (out, who) in [(&held, "held regen"), (&second, "second regen")] {
        if let Err(e) = finished_or_refused(out, who) {
            problems.push(e);
        }
    }
    let markers = with_markers(&dir);
    if !markers.is_empty() {
        problems.push(format!("conflict markers in {markers:?}"));
    }
    let diff = tree_diff(&reference.tree, &snapshot(&dir));
    if !diff.is_empty() {
        problems.push(format!("tree differs from one uninterrupted regen's:\n{diff}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

// ---------------------------------------------------------------- C: an editor saves during regen

/// The files `braid regen --dry-run` lists as Updated or Merged.
fn updated_or_merged(dir: &Path) -> Vec<String> {
    let dry = braid()
        .args(["regen", "--dry-run", dir.to_str().unwrap()])
        .run()
        .success();
    dry.stderr()
        .lines()
        .filter_map(|line| {
            let (verb, rest) = line.trim().split_once(' ')?;
            let path = rest.split(" (moved from ").next().unwrap();
            ["Updated", "Merged"].contains(&verb).then(|| path.to_string())
        })
        .collect()
}

/// While regen is held in its first rename (the journal's commit, before any
/// file is replaced), an editor appends a line to every file regen is about
/// to update or merge. Each line survives: merged, or inside conflict
/// markers; and a second regen loses none either.
#[test]
fn editor_save_during_regen_is_not_lost() {
    let s = Scenario::regen(switch_transport);
    let dir = s.fresh("editor");
    let files = updated_or_merged(&dir);
    assert!(
        files.len() > 10 && files.iter().any(|f| f == "README.md"),
        "the dry run lists too little: {files:?}"
    );
    let lines: Vec<(String, String)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.clone(), format!("saved by the editor during regen #{i} in {f}")))
        .collect();
    let start = Instant::now();
    let mut regen = spawn(held_cmd(&s.args(&dir)), "the held regen");
    thread::sleep(Duration::from_millis(700));
    for (path, line) in &lines {
        append(&dir, path, line);
    }
    let saved_after = start.elapsed();
    assert!(
        regen.try_wait().unwrap().is_none(),
        "regen ended before the editor saved ({saved_after:?}): the machine is too slow for this test's timing"
    );
    let out = finish(regen, "the held regen");
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "regen did not end with 0, 1 or 2: {}",
        show(&out)
    );
    let lost = |when: &str| -> Option<String> {
        let lost: Vec<&str> = lines
            .iter()
            .filter(|(path, line)| {
                !fs::read_to_string(dir.join(path))
                    .unwrap_or_default()
                    .contains(line.as_str())
            })
            .map(|(path, _)| path.as_str())
            .collect();
        (!lost.is_empty()).then(|| {
            format!(
                "{when}: {} of {} files lost the line saved while regen ran: {}",
                lost.len(),
                lines.len(),
                lost.join(", ")
            )
        })
    };
    let after_first = lost("after the regen the editor raced");
    let second = run(braid_cmd(&s.args(&dir)), "the second regen");
    let after_second = lost("after a second regen");
    let problems: Vec<String> = [after_first, after_second].into_iter().flatten().collect();
    assert!(
        problems.is_empty(),
        "{}\n(the held regen: {}; the second regen exited {:?})",
        problems.join("\n"),
        out.status,
        second.status.code()
    );
}

// ---------------------------------------------------------------- failed writes

/// A regen whose disk fails part way (EIO at its 5th rename) reports the
/// error and no file as written: it used to print its plan as done before
/// doing it. The next run converges to the uninterrupted tree.
#[test]
fn a_failed_regen_claims_no_file_it_did_not_write() {
    let s = Scenario::regen(switch_transport);
    let reference = s.reference();
    let dir = s.fresh("eio");
    let out = run(
        strace_cmd(
            &[
                "-o",
                "/dev/null",
                "-e",
                "trace=rename",
                "-e",
                "inject=rename:error=EIO:when=5",
            ],
            &s.args(&dir),
        ),
        "braid with a failing disk",
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = stderr(&out);
    for verb in ["Updated", "Created", "Merged", "Deleted", "Regenerated"] {
        assert!(!err.contains(verb), "a failed regen claims `{verb}`:\n{err}");
    }
    assert!(err.contains("Input/output error"), "{err}");
    let rerun = run(braid_cmd(&s.args(&dir)), "the rerun");
    assert_eq!(rerun.status.code(), Some(0), "{}", show(&rerun));
    let diff = tree_diff(&reference.tree, &snapshot(&dir));
    assert!(diff.is_empty(), "after a failed regen and a rerun:\n{diff}");
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

/// A no-op regen writes nothing, so a full disk (every rename, unlink, mkdir
/// and file creation failing with ENOSPC) does not fail it.
#[test]
fn a_noop_regen_succeeds_on_a_full_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    ml_gateway(&dir);
    let args: Vec<OsString> = vec!["regen".into(), dir.clone().into()];
    let before = snapshot(&dir);
    let out = run(
        strace_cmd(
            &[
                "-o",
                "/dev/null",
                "-e",
                "trace=rename,unlink,mkdir,creat",
                "-e",
                "inject=rename,unlink,mkdir,creat:error=ENOSPC",
            ],
            &args,
        ),
        "a no-op regen on a full disk",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stderr(&out).contains("0 files changed"), "{}", show(&out));
    assert!(tree_diff(&before, &snapshot(&dir)).is_empty());
}
