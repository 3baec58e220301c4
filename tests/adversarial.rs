//! Adversarial black-box tests: hostile `.braid/state.json` entries, symbolic
//! links below the repo root and in user blueprints, odd `braid new` targets,
//! file modes, conflicts that must stay visible (text, binary, structured
//! files that no longer parse), a rename combined with a transport switch, and
//! a no-op regen that must not rewrite anything.
//!
//! Every test runs braid (`BRAID_BLUEPRINTS` removed, `NO_COLOR=1`) in its own
//! temporary "sandbox" that holds the repo and sibling folders standing for
//! the world outside it; the outside is compared byte for byte, modes
//! included, before and after. Each test is named after the bug it pins.
#![cfg(unix)]

mod common;

use std::fmt::Write as _;
use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    os::unix::fs::{symlink, MetadataExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use assert_fs::TempDir;
use common::*;

// ---------------------------------------------------------------------------
// helpers

/// Blueprints made for these tests (binary file, structured files).
fn adversarial_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/adversarial")
}

/// braid with the adversarial fixture blueprints added.
fn fixture_braid() -> Braid {
    braid().args(["--blueprints", adversarial_fixtures().to_str().unwrap()])
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `braid new SANDBOX/NAME --name p --gateway go --transport TRANSPORT --yes` (embedded ml-gateway).
fn new_ml(sandbox: &Path, name: &str, transport: &str) -> PathBuf {
    let dir = sandbox.join(name);
    braid()
        .args([
            "new",
            s(&dir),
            "--name",
            "p",
            "--gateway",
            "go",
            "--transport",
            transport,
            "--yes",
        ])
        .run()
        .success();
    dir
}

/// Sets `key = value` (value in TOML syntax) in DIR/braid.toml.
fn set_answer(dir: &Path, key: &str, value: &str) {
    let path = dir.join("braid.toml");
    let text = fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    let mut replaced = false;
    for line in text.lines() {
        if line.starts_with(&format!("{key} = ")) {
            let _ = writeln!(out, "{key} = {value}");
            replaced = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(replaced, "braid.toml has no answer `{key}`:\n{text}");
    fs::write(path, out).unwrap();
}

fn read_state(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join(".braid/state.json")).unwrap()).unwrap()
}

fn write_state(dir: &Path, state: &serde_json::Value) {
    let mut text = serde_json::to_string_pretty(state).unwrap();
    text.push('\n');
    fs::write(dir.join(".braid/state.json"), text).unwrap();
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn output(run: &Run) -> String {
    format!("{}{}", run.stdout(), run.stderr())
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// One entry of a folder tree, read without following any link.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir { mode: u32 },
    File { mode: u32, bytes: Vec<u8> },
    Link { target: PathBuf },
}

/// Everything under `root` (relative path -> entry); links are recorded, never followed.
fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                out.insert(
                    rel,
                    Node::Link {
                        target: fs::read_link(&path).unwrap(),
                    },
                );
            } else if meta.is_dir() {
                out.insert(rel, Node::Dir { mode });
                walk(base, &path, out);
            } else {
                let bytes = fs::read(&path).unwrap();
                out.insert(rel, Node::File { mode, bytes });
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Panics with the list of paths that differ (added, removed, changed).
fn assert_same(before: &BTreeMap<String, Node>, after: &BTreeMap<String, Node>, what: &str) {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut diffs = Vec::new();
    for k in keys {
        match (before.get(k), after.get(k)) {
            (Some(_), None) => diffs.push(format!("removed {k}")),
            (None, Some(_)) => diffs.push(format!("added {k}")),
            (Some(a), Some(b)) if a != b => {
                let how = match (a, b) {
                    (Node::File { mode: m1, bytes: b1 }, Node::File { mode: m2, bytes: b2 }) => {
                        let mut how = Vec::new();
                        if m1 != m2 {
                            how.push(format!("mode {m1:o} -> {m2:o}"));
                        }
                        if b1 != b2 {
                            how.push("content".to_string());
                        }
                        how.join(", ")
                    }
                    (Node::Dir { mode: m1 }, Node::Dir { mode: m2 }) => format!("mode {m1:o} -> {m2:o}"),
                    _ => format!("{a:?} -> {b:?}").chars().take(300).collect::<String>(),
                };
                diffs.push(format!("changed {k} ({how})"));
            }
            _ => {}
        }
    }
    assert!(diffs.is_empty(), "{what}:\n  {}", diffs.join("\n  "));
}

/// No file under `root` (links not followed) holds `secret`.
fn assert_no_secret(root: &Path, secret: &str) {
    for (path, node) in snapshot(root) {
        if let Node::File { bytes, .. } = node {
            assert!(
                !contains(&bytes, secret),
                "outside content ({secret}) found in {}",
                root.join(path).display()
            );
        }
    }
}

/// (inode, mtime) of every file and link under `root`: a rewrite changes one of them.
fn stamps(root: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    snapshot(root)
        .into_iter()
        .filter(|(_, n)| !matches!(n, Node::Dir { .. }))
        .map(|(rel, _)| {
            let meta = fs::symlink_metadata(root.join(&rel)).unwrap();
            (rel, (meta.ino(), meta.modified().unwrap()))
        })
        .collect()
}

fn assert_link(link: &Path, target: &str) {
    let meta = fs::symlink_metadata(link).unwrap_or_else(|e| panic!("{} is gone: {e}", link.display()));
    assert!(meta.file_type().is_symlink(), "{} is no longer a link", link.display());
    assert_eq!(
        fs::read_link(link).unwrap(),
        Path::new(target),
        "{} retargeted",
        link.display()
    );
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            fs::copy(&path, &dest).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// 1. A hostile `.braid/state.json` never makes braid touch anything.

/// Injects `files[P]` into the state of a fresh repo (once with the content of
/// whatever P points at, so that a naive regen sees an "unedited orphan" and
/// deletes it, once with the README's record); then regen, diff and
/// check each must exit 2, name P (escaped) and say to restore .braid/, and
/// leave the whole sandbox byte-identical, modes and folders included.
fn hostile_state_path(make: fn(&Path) -> String) {
    for same_content in [true, false] {
        let tmp = TempDir::new().unwrap();
        let sandbox = tmp.path();
        let repo = new_ml(sandbox, "repo", "http");
        fs::create_dir_all(sandbox.join("outside")).unwrap();
        fs::write(sandbox.join("outside/x"), "a file outside the repo\n").unwrap();
        fs::create_dir_all(repo.join(".git")).unwrap();
        fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::create_dir_all(repo.join("a")).unwrap();
        fs::write(repo.join("a/b"), "a file of the user\n").unwrap();
        let hostile = make(sandbox);

        let mut state = read_state(&repo);
        let mut record = state["files"]["README.md"].clone();
        if same_content {
            if hostile.is_empty() {
                continue; // names the repo folder itself: nothing to copy
            }
            let target = repo.join(&hostile);
            if fs::symlink_metadata(&target).is_err() {
                // e.g. `a\b`, `C:/x`: make the file a naive join would reach
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                fs::write(&target, format!("target of {hostile}\n")).unwrap();
            }
            let text = String::from_utf8(fs::read(&target).unwrap()).unwrap();
            let obj = record.as_object_mut().unwrap();
            obj.remove("base64");
            obj.insert("text".into(), text.into());
        }
        state["files"][hostile.as_str()] = record;
        write_state(&repo, &state);

        let before = snapshot(sandbox);
        for cmd in ["regen", "diff", "check"] {
            let run = braid().args([cmd, s(&repo)]).run();
            let context = format!("`braid {cmd}` with state entry {hostile:?} (content of its target: {same_content})");
            assert_same(&before, &snapshot(sandbox), &context);
            assert_eq!(
                run.output.status.code(),
                Some(2),
                "{context}: expected exit 2\nstdout:\n{}\nstderr:\n{}",
                run.stdout(),
                run.stderr()
            );
            let err = run.stderr();
            let named = if hostile.is_empty() {
                err.contains("\"\"") || err.contains("empty")
            } else {
                err.contains(&hostile.escape_debug().to_string())
            };
            assert!(named, "{context}: stderr does not name the path:\n{err}");
            assert!(
                err.contains("restore") && err.contains(".braid/") && err.contains("version control"),
                "{context}: stderr does not say to restore .braid/ from version control:\n{err}"
            );
        }
    }
}

macro_rules! hostile_state_paths {
    ($($name:ident => $make:expr;)*) => {
        $(
            #[test]
            fn $name() {
                hostile_state_path($make);
            }
        )*
    };
}

hostile_state_paths! {
    hostile_state_dotdot_path_reaches_outside_the_repo => |_| "../outside/x".into();
    hostile_state_absolute_path_reaches_an_outside_file =>
        |sandbox| sandbox.join("outside/x").to_str().unwrap().into();
    hostile_state_folder_dotdot_path_reaches_outside_the_repo => |_| "a/../../outside/x".into();
    hostile_state_entry_for_braid_toml_is_trusted => |_| "braid.toml".into();
    hostile_state_entry_inside_dot_git_is_trusted => |_| ".git/HEAD".into();
    hostile_state_entry_for_the_state_file_is_trusted => |_| ".braid/state.json".into();
    hostile_state_dot_segment_aliases_a_managed_file => |_| "./README.md".into();
    hostile_state_empty_segment_aliases_a_users_file => |_| "a//b".into();
    hostile_state_backslash_path_is_trusted => |_| "a\\b".into();
    hostile_state_empty_path_is_trusted => |_| String::new();
    hostile_state_drive_letter_path_is_trusted => |_| "C:/x".into();
    hostile_state_services_dotdot_path_reaches_outside_the_repo => |_| "services/../../outside/x".into();
}

// ---------------------------------------------------------------------------
// 2. regen, diff and check never follow a link below the repo root.

/// diff and check must not read through links: the secret never shows, the outside stays.
fn diff_and_check_do_not_read_through(repo: &Path, outside: &Path, secret: &str) {
    let before = snapshot(outside);
    for cmd in ["diff", "check"] {
        let run = braid().args([cmd, s(repo)]).run();
        assert!(
            !output(&run).contains(secret),
            "`braid {cmd}` printed outside content:\n{}",
            output(&run)
        );
        assert_same(&before, &snapshot(outside), &format!("outside after `braid {cmd}`"));
    }
}

#[test]
fn regen_writes_creates_and_deletes_through_a_linked_folder() {
    let tmp = TempDir::new().unwrap();
    let sandbox = tmp.path();
    let repo = new_ml(sandbox, "repo", "http");
    let secret = "ADV-SECRET-linked-folder-5c1e94";
    let elsewhere = sandbox.join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::rename(repo.join("services/ml"), elsewhere.join("ml")).unwrap();
    symlink("../../elsewhere/ml", repo.join("services/ml")).unwrap();
    // Outside content a merge would pull in, and a file of its own.
    fs::write(elsewhere.join("ml/README.md"), format!("{secret}\n")).unwrap();
    fs::write(elsewhere.join("ml/secret.txt"), format!("{secret}\n")).unwrap();
    // http -> redis-streams creates, updates (and may delete) files under services/ml.
    set_answer(&repo, "transport", "\"redis-streams\"");
    let outside = snapshot(&elsewhere);

    diff_and_check_do_not_read_through(&repo, &elsewhere, secret);
    let run = braid().args(["regen", s(&repo)]).run().success();
    run.stderr_has("services/ml").stderr_has("link");
    assert_same(&outside, &snapshot(&elsewhere), "outside folder after regen");
    assert_link(&repo.join("services/ml"), "../../elsewhere/ml");
    assert_no_secret(&repo, secret);
    diff_and_check_do_not_read_through(&repo, &elsewhere, secret);
}

#[test]
fn regen_merges_and_writes_through_a_linked_file() {
    let tmp = TempDir::new().unwrap();
    let sandbox = tmp.path();
    let repo = new_ml(sandbox, "repo", "http");
    let secret = "ADV-SECRET-linked-file-81d07a";
    let outside_dir = sandbox.join("outside");
    fs::create_dir_all(&outside_dir).unwrap();
    fs::write(outside_dir.join("secret.txt"), format!("# not the README\n{secret}\n")).unwrap();
    fs::remove_file(repo.join("README.md")).unwrap();
    symlink("../outside/secret.txt", repo.join("README.md")).unwrap();
    set_answer(&repo, "description", "\"A new description that README.md shows\"");
    let outside = snapshot(&outside_dir);

    diff_and_check_do_not_read_through(&repo, &outside_dir, secret);
    let run = braid().args(["regen", s(&repo)]).run().success();
    run.stderr_has("README.md").stderr_has("link");
    assert_same(&outside, &snapshot(&outside_dir), "outside folder after regen");
    assert_link(&repo.join("README.md"), "../outside/secret.txt");
    assert_no_secret(&repo, secret);
    diff_and_check_do_not_read_through(&repo, &outside_dir, secret);
}

#[test]
fn regen_creates_a_file_through_a_dangling_link() {
    let tmp = TempDir::new().unwrap();
    let sandbox = tmp.path();
    let repo = new_ml(sandbox, "repo", "http");
    let secret = "ADV-SECRET-dangling-3f6b2e";
    let outside_dir = sandbox.join("outside");
    fs::create_dir_all(&outside_dir).unwrap();
    fs::write(outside_dir.join("secret.txt"), format!("{secret}\n")).unwrap();
    // redis-streams creates services/ml/src/p/worker.py: a link dangles there.
    let worker = repo.join("services/ml/src/p/worker.py");
    assert!(fs::symlink_metadata(&worker).is_err(), "http renders no worker.py");
    let target = "../../../../../outside/created.py";
    symlink(target, &worker).unwrap();
    set_answer(&repo, "transport", "\"redis-streams\"");
    let outside = snapshot(&outside_dir);

    diff_and_check_do_not_read_through(&repo, &outside_dir, secret);
    let run = braid().args(["regen", s(&repo)]).run().success();
    run.stderr_has("services/ml/src/p/worker.py").stderr_has("link");
    assert_same(&outside, &snapshot(&outside_dir), "outside folder after regen");
    assert!(!outside_dir.join("created.py").exists());
    assert_link(&worker, target);
    assert_no_secret(&repo, secret);
    diff_and_check_do_not_read_through(&repo, &outside_dir, secret);
}

#[test]
fn regen_deletes_a_link_that_stands_where_an_unedited_orphan_was() {
    let tmp = TempDir::new().unwrap();
    let sandbox = tmp.path();
    let repo = new_ml(sandbox, "repo", "redis-streams");
    let secret = "ADV-SECRET-orphan-link-a92c41";
    let outside_dir = sandbox.join("outside");
    fs::create_dir_all(&outside_dir).unwrap();
    fs::write(outside_dir.join("secret.txt"), format!("{secret}\n")).unwrap();
    // http no longer renders worker.py. The link's target holds exactly what
    // braid wrote, so a regen that follows it sees an unedited orphan.
    let worker = repo.join("services/ml/src/p/worker.py");
    fs::rename(&worker, outside_dir.join("worker.py")).unwrap();
    let target = "../../../../../outside/worker.py";
    symlink(target, &worker).unwrap();
    set_answer(&repo, "transport", "\"http\"");
    let outside = snapshot(&outside_dir);

    diff_and_check_do_not_read_through(&repo, &outside_dir, secret);
    let run = braid().args(["regen", s(&repo)]).run().success();
    run.stderr_has("services/ml/src/p/worker.py").stderr_has("link");
    assert_same(&outside, &snapshot(&outside_dir), "outside folder after regen");
    assert_link(&worker, target);
    assert_no_secret(&repo, secret);
    diff_and_check_do_not_read_through(&repo, &outside_dir, secret);
}

// ---------------------------------------------------------------------------
// 3. A user blueprint whose links leave its folder is refused.

/// Copies the `structured` fixture into SANDBOX/bp, adds `files/LINK -> TARGET`,
/// and runs `braid --blueprints SANDBOX/bp new SANDBOX/out`: exit 2, the link
/// named, nothing created, nothing read out.
fn blueprint_link_is_refused(link: &str, target: impl Fn(&Path) -> PathBuf) {
    let tmp = TempDir::new().unwrap();
    let sandbox = tmp.path();
    let secret = "ADV-SECRET-blueprint-link-07be55";
    let bp = sandbox.join("bp");
    copy_dir(&adversarial_fixtures().join("structured"), &bp.join("structured"));
    let secret_dir = sandbox.join("outside_secret_dir");
    fs::create_dir_all(&secret_dir).unwrap();
    fs::write(secret_dir.join("id_rsa"), format!("{secret}\n")).unwrap();
    symlink(target(sandbox), bp.join("structured/files").join(link)).unwrap();
    let before = snapshot(sandbox);

    let out = sandbox.join("out");
    let run = braid()
        .args(["--blueprints", s(&bp), "new", s(&out), "-b", "structured", "--yes"])
        .run()
        .code(2);
    assert!(
        !output(&run).contains(secret),
        "outside content printed:\n{}",
        output(&run)
    );
    run.stderr_has(&format!("files/{link}")).stderr_has("link");
    assert!(
        fs::symlink_metadata(&out).is_err(),
        "braid new created {}",
        out.display()
    );
    assert_same(&before, &snapshot(sandbox), "sandbox after a refused `braid new`");
}

#[test]
fn user_blueprint_file_link_to_etc_passwd_is_rendered() {
    blueprint_link_is_refused("passwd.txt", |_| PathBuf::from("/etc/passwd"));
}

#[test]
fn user_blueprint_folder_link_to_an_outside_folder_is_rendered() {
    blueprint_link_is_refused("ssh", |sandbox| sandbox.join("outside_secret_dir"));
}

#[test]
fn user_blueprint_link_to_an_ancestor_folder_is_walked() {
    blueprint_link_is_refused("up", |_| PathBuf::from("../../.."));
}

// ---------------------------------------------------------------------------
// 4. `braid new` into the current folder, a link to an empty folder, an existing empty folder.

fn new_args(dir: &str) -> Vec<String> {
    [
        "new",
        dir,
        "--name",
        "p",
        "--gateway",
        "go",
        "--transport",
        "http",
        "--yes",
    ]
    .map(String::from)
    .to_vec()
}

fn fresh_tree(sandbox: &Path) -> BTreeMap<String, Node> {
    let fresh = sandbox.join("fresh-dir");
    braid().args(new_args(s(&fresh))).run().success();
    snapshot(&fresh)
}

#[test]
fn new_dot_in_an_empty_current_folder_fails_or_replaces_it() {
    let tmp = TempDir::new().unwrap();
    let sandbox = tmp.path();
    let expected = fresh_tree(sandbox);
    let here = sandbox.join("here");
    fs::create_dir(&here).unwrap();
    let inode = fs::metadata(&here).unwrap().ino();
    braid().args(new_args(".")).current_dir(&here).run().success();
    assert_same(&expected, &snapshot(&here), "`braid new .` vs `braid new fresh-dir`");
    assert_eq!(
        fs::metadata(&here).unwrap().ino(),
        inode,
        "the current folder was replaced (a shell in it would be left in a deleted folder)"
    );
    let leftovers: Vec<_> = fs::read_dir(sandbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "here" && n != "fresh-dir")
        .collect();
    assert!(leftovers.is_empty(), "left beside the project: {leftovers:?}");
}

#[test]
fn new_into_a_link_to_an_empty_folder_fails_or_replaces_the_link() {
    let tmp = TempDir::new().unwrap();
    let sandbox = tmp.path();
    let expected = fresh_tree(sandbox);
    let real = sandbox.join("real");
    fs::create_dir(&real).unwrap();
    let link = sandbox.join("link");
    symlink("real", &link).unwrap();
    braid().args(new_args(s(&link))).run().success();
    assert_link(&link, "real");
    assert_same(&expected, &snapshot(&real), "`braid new LINK` vs `braid new fresh-dir`");
}

#[test]
fn new_into_an_existing_empty_folder_differs_from_a_fresh_one() {
    let tmp = TempDir::new().unwrap();
    let sandbox = tmp.path();
    let expected = fresh_tree(sandbox);
    let existing = sandbox.join("existing");
    fs::create_dir(&existing).unwrap();
    braid().args(new_args(s(&existing))).run().success();
    assert_same(
        &expected,
        &snapshot(&existing),
        "`braid new EXISTING` vs `braid new fresh-dir`",
    );
}

// ---------------------------------------------------------------------------
// 5. regen keeps the modes the user gave to files.

#[test]
fn regen_resets_file_modes_the_user_changed() {
    let tmp = TempDir::new().unwrap();
    let repo = new_ml(tmp.path(), "repo", "http");
    let env = repo.join(".env.example");
    let script = repo.join("scripts/dev.sh");
    let readme = repo.join("README.md");
    assert_eq!(mode(&script) & 0o111, 0o111, "dev.sh is generated executable");
    chmod(&env, 0o600);
    chmod(&script, 0o644);
    // An edited file too: the merge result keeps the mode as well.
    fs::write(&readme, fs::read_to_string(&readme).unwrap() + "\nMy own notes.\n").unwrap();
    chmod(&readme, 0o640);
    set_answer(&repo, "gateway_port", "8181");
    braid()
        .args(["regen", "--dry-run", s(&repo)])
        .run()
        .success()
        .stderr_has("Updated .env.example")
        .stderr_has("Updated scripts/dev.sh")
        .stderr_has("Merged README.md");
    braid().args(["regen", s(&repo)]).run().success();
    for (path, text) in [(&env, "8181"), (&script, "8181"), (&readme, "My own notes.")] {
        assert!(
            fs::read_to_string(path).unwrap().contains(text),
            "{} was not re-rendered",
            path.display()
        );
    }
    assert_eq!(mode(&env), 0o600, ".env.example mode");
    assert_eq!(
        mode(&script) & 0o111,
        0,
        "scripts/dev.sh got its x bit back: {:o}",
        mode(&script)
    );
    assert_eq!(mode(&readme), 0o640, "README.md mode");
}

// ---------------------------------------------------------------------------
// 6. A text conflict stays visible until the user resolves it.

#[test]
fn unresolved_conflict_markers_pass_check_and_regen() {
    let tmp = TempDir::new().unwrap();
    let repo = new_ml(tmp.path(), "repo", "http");
    let env = repo.join(".env.example");
    let text = fs::read_to_string(&env).unwrap();
    assert!(text.contains("GATEWAY_PORT=8080\n"));
    fs::write(&env, text.replace("GATEWAY_PORT=8080\n", "GATEWAY_PORT=9999 # mine\n")).unwrap();
    set_answer(&repo, "gateway_port", "8181");
    braid()
        .args(["regen", s(&repo)])
        .run()
        .code(1)
        .stderr_has(".env.example");
    let conflicted = fs::read_to_string(&env).unwrap();
    assert!(
        conflicted.contains("<<<<<<< yours (on disk)\nGATEWAY_PORT=9999 # mine\n=======\nGATEWAY_PORT=8181\n>>>>>>> braid (new render)\n"),
        "{conflicted}"
    );

    let run = braid().args(["check", s(&repo)]).run().code(1);
    assert!(
        output(&run).contains(".env.example"),
        "check does not name it:\n{}",
        output(&run)
    );

    let before = snapshot(&repo);
    let stamped = stamps(&repo);
    std::thread::sleep(Duration::from_millis(50));
    braid()
        .args(["regen", s(&repo)])
        .run()
        .code(1)
        .stderr_has(".env.example");
    assert_same(&before, &snapshot(&repo), "a regen over unresolved markers");
    assert_eq!(stamps(&repo), stamped, "a regen over unresolved markers rewrote files");

    // Resolved by hand, keeping the user's side.
    let resolved = conflicted
        .replace("<<<<<<< yours (on disk)\n", "")
        .replace("=======\nGATEWAY_PORT=8181\n>>>>>>> braid (new render)\n", "");
    assert!(!resolved.contains("<<<<<<<") && resolved.contains("GATEWAY_PORT=9999 # mine\n"));
    fs::write(&env, &resolved).unwrap();
    braid().args(["regen", s(&repo)]).run().success();
    assert_eq!(fs::read_to_string(&env).unwrap(), resolved);
    braid().args(["check", s(&repo)]).run().success();
}

// ---------------------------------------------------------------------------
// 7. A binary conflict keeps the user's bytes and puts the render beside them.

#[test]
fn binary_conflict_hides_the_new_render_and_then_passes_check() {
    let tmp = TempDir::new().unwrap();
    let repo = tmp.path().join("repo");
    fixture_braid()
        .args(["new", s(&repo), "-b", "binary", "--yes"])
        .run()
        .success();
    let logo = repo.join("logo.bin");
    let side = repo.join("logo.bin.braid-new");
    assert_eq!(
        fs::read(&logo).unwrap(),
        fs::read(adversarial_fixtures().join("binary/logo-a/logo.bin")).unwrap()
    );
    let mine: &[u8] = b"\x89MINE\x00\xff\xfd\x03user bytes\n";
    fs::write(&logo, mine).unwrap();
    set_answer(&repo, "logo", "\"b\"");

    assert_binary_conflict(&repo, &logo, mine, &side);
    let run = fixture_braid().args(["check", s(&repo)]).run().code(1);
    assert!(
        output(&run).contains("logo.bin"),
        "check does not name it:\n{}",
        output(&run)
    );

    fs::remove_file(&side).unwrap();
    fixture_braid().args(["regen", s(&repo)]).run().success();
    assert_eq!(fs::read(&logo).unwrap(), mine);
    assert!(!side.exists());
    fixture_braid().args(["check", s(&repo)]).run().success();
}

fn assert_binary_conflict(repo: &Path, logo: &Path, mine: &[u8], side: &Path) {
    let run = fixture_braid().args(["regen", s(repo)]).run().code(1);
    assert!(
        run.stderr()
            .lines()
            .any(|l| l.contains("logo.bin") && l.contains("onflict")),
        "stderr does not name logo.bin as a conflict:\n{}",
        run.stderr()
    );
    assert_eq!(fs::read(logo).unwrap(), mine, "the user's bytes are kept");
    assert_eq!(
        fs::read(side).unwrap_or_else(|e| panic!("{}: {e}", side.display())),
        fs::read(adversarial_fixtures().join("binary/logo-b/logo.bin")).unwrap(),
        "logo.bin.braid-new holds the new render"
    );
}

// ---------------------------------------------------------------------------
// 8. A merge that leaves a structured file unparseable is a conflict.

/// Regen over FILE must exit 1 and report FILE as a conflict, leaving it with
/// markers, or untouched with FILE.braid-new beside it; never invalid and exit 0.
fn assert_structured_conflict(repo: &Path, file: &str, ours: &str) {
    let run = fixture_braid().args(["regen", s(repo)]).run();
    let on_disk = fs::read_to_string(repo.join(file)).unwrap();
    assert_eq!(
        run.output.status.code(),
        Some(1),
        "regen did not report a conflict; {file} now reads:\n{on_disk}\nstderr:\n{}",
        run.stderr()
    );
    assert!(
        run.stderr().lines().any(|l| l.contains(file) && l.contains("onflict")),
        "stderr does not name {file} as a conflict:\n{}",
        run.stderr()
    );
    let side = repo.join(format!("{file}.braid-new"));
    assert!(
        on_disk.contains("<<<<<<< yours (on disk)") || (on_disk == ours && side.is_file()),
        "{file} has neither markers nor the user's text with {file}.braid-new beside it:\n{on_disk}"
    );
}

#[test]
fn merged_yaml_that_no_longer_parses_is_reported_as_merged() {
    let tmp = TempDir::new().unwrap();
    let repo = tmp.path().join("repo");
    fixture_braid()
        .args(["new", s(&repo), "-b", "structured", "--yes"])
        .run()
        .success();
    let path = repo.join("pipeline.yaml");
    let rendered = fs::read_to_string(&path).unwrap();
    // The user adds a key to the worker step (block B, there while worker = true).
    let first_step = "  - run: make build\n";
    assert!(rendered.contains(first_step));
    let ours = rendered.replacen(first_step, "  - run: make build\n    timeout: 5\n", 1);
    serde_yaml::from_str::<serde_yaml::Value>(&ours).expect("the user's file is valid YAML");
    fs::write(&path, &ours).unwrap();
    // worker = false drops block B; a line merge moves the user's key into the
    // web step, which has its own `timeout`: a duplicate key.
    set_answer(&repo, "worker", "false");
    assert_structured_conflict(&repo, "pipeline.yaml", &ours);
}

#[test]
fn merged_json_with_an_edit_in_a_dropped_block_goes_unreported() {
    let tmp = TempDir::new().unwrap();
    let repo = tmp.path().join("repo");
    fixture_braid()
        .args(["new", s(&repo), "-b", "structured", "--yes"])
        .run()
        .success();
    let path = repo.join("package.json");
    let rendered = fs::read_to_string(&path).unwrap();
    assert!(rendered.contains("\"replicas\": 1\n"));
    let ours = rendered.replace("\"replicas\": 1\n", "\"replicas\": 1,\n    \"mine\": true\n");
    serde_json::from_str::<serde_json::Value>(&ours).expect("the user's file is valid JSON");
    fs::write(&path, &ours).unwrap();
    set_answer(&repo, "worker", "false");
    assert_structured_conflict(&repo, "package.json", &ours);
}

// ---------------------------------------------------------------------------
// 9. A rename together with a transport switch leaves no stale file.

fn rename_and_switch(repo: &Path) -> Run {
    set_answer(repo, "project_name", "\"q\"");
    set_answer(repo, "transport", "\"http\"");
    braid().args(["regen", s(repo)]).run()
}

#[test]
fn rename_with_transport_switch_leaves_stale_worker_behind() {
    let tmp = TempDir::new().unwrap();
    let sandbox = tmp.path();
    let repo = new_ml(sandbox, "repo", "redis-streams");
    let old_state = read_state(&repo);
    assert!(repo.join("services/ml/src/p/worker.py").is_file());
    rename_and_switch(&repo).success();

    let new_state = read_state(&repo);
    let new_files = new_state["files"].as_object().unwrap();
    let mut stale = Vec::new();
    for path in old_state["files"].as_object().unwrap().keys() {
        if !new_files.contains_key(path) && fs::symlink_metadata(repo.join(path)).is_ok() {
            stale.push(path.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "written for the old render and still on disk: {stale:?}"
    );
    assert!(!repo.join("services/ml/src/p").exists(), "services/ml/src/p is left");
    for (path, node) in snapshot(&repo.join("services/ml/src")) {
        if matches!(node, Node::File { .. }) {
            let path = format!("services/ml/src/{path}");
            assert!(
                new_files.contains_key(&path),
                "{path} is on disk but not in the new state"
            );
        }
    }
    // The same files as a repo generated with these answers.
    let fresh = sandbox.join("fresh");
    braid()
        .args([
            "new",
            s(&fresh),
            "--name",
            "q",
            "--gateway",
            "go",
            "--transport",
            "http",
            "--yes",
        ])
        .run()
        .success();
    let listing = |dir: &Path| -> BTreeSet<String> {
        snapshot(dir)
            .into_iter()
            .filter(|(_, n)| !matches!(n, Node::Dir { .. }))
            .map(|(p, _)| p)
            .collect()
    };
    assert_eq!(
        listing(&repo),
        listing(&fresh),
        "renamed+switched repo vs fresh q/http repo"
    );
    braid().args(["check", s(&repo)]).run().success();
}

#[test]
fn rename_silently_leaves_a_users_file_in_the_old_package() {
    let tmp = TempDir::new().unwrap();
    let repo = new_ml(tmp.path(), "repo", "redis-streams");
    let mine = "def mine():\n    return 42\n";
    fs::write(repo.join("services/ml/src/p/mine.py"), mine).unwrap();
    let run = rename_and_switch(&repo).success();
    let moved = repo.join("services/ml/src/q/mine.py");
    let left = repo.join("services/ml/src/p/mine.py");
    if moved.exists() {
        assert_eq!(fs::read_to_string(&moved).unwrap(), mine);
        assert!(!left.exists(), "mine.py both moved and left");
    } else {
        assert_eq!(fs::read_to_string(&left).unwrap_or_default(), mine, "mine.py lost");
        assert!(
            run.stderr().contains("services/ml/src/p/mine.py"),
            "mine.py left in the old package without a word:\n{}",
            run.stderr()
        );
    }
}

// ---------------------------------------------------------------------------
// 10. A regen with nothing to do writes nothing.

#[test]
fn noop_regen_rewrites_the_state_file() {
    let tmp = TempDir::new().unwrap();
    let repo = new_ml(tmp.path(), "repo", "http");
    let before = snapshot(&repo);
    let stamped = stamps(&repo);
    std::thread::sleep(Duration::from_millis(50));
    braid()
        .args(["regen", s(&repo)])
        .run()
        .success()
        .stderr_has("0 files changed");
    assert_same(&before, &snapshot(&repo), "after a no-op regen");
    let after = stamps(&repo);
    let rewritten: Vec<_> = stamped
        .iter()
        .filter(|(p, st)| after.get(*p) != Some(st))
        .map(|(p, _)| p.clone())
        .collect();
    assert!(rewritten.is_empty(), "a no-op regen rewrote: {rewritten:?}");
}

/// Found by the harness's static-all (288 `braid new` two at a time into one
/// parent): `error: cannot open PARENT/.braid-new-XXXX: No such file or
/// directory`. A `braid new` removes the `.braid-new-*` folders beside its
/// target that nobody holds, and took a sibling's for stale in the instant
/// between its mkdir and its lock.
#[test]
fn concurrent_news_in_one_folder_never_remove_each_others_staging() {
    let tmp = TempDir::new().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("braid");
    for round in 0..12 {
        let children: Vec<_> = (0..24)
            .map(|i| {
                let dir = tmp.path().join(format!("p{round}-{i}"));
                std::process::Command::new(&bin)
                    .args([
                        "--blueprints",
                        s(&fixtures()),
                        "new",
                        s(&dir),
                        "-b",
                        "demo",
                        "--yes",
                        "--quiet",
                    ])
                    .env("NO_COLOR", "1")
                    .env_remove("BRAID_BLUEPRINTS")
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let left: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".braid-new-"))
        .collect();
    assert!(left.is_empty(), "staging folders left: {left:?}");
}
