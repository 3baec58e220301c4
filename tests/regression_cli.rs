//! Regression tests for bugs found in the CLI layer, each named after its bug
//! and each failing before its fix.

mod common;

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use assert_fs::TempDir;
use common::*;

/// The braid binary as a plain process, for tests that need to pick where its
/// stdout goes (the builder always captures it).
fn raw_braid(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_braid"));
    cmd.args(["--blueprints", fixtures().to_str().unwrap()])
        .args(args)
        .env_remove("BRAID_BLUEPRINTS")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Runs braid with stdout into a pipe whose read end is closed before braid
/// writes anything, so its first write fails with EPIPE.
fn with_closed_stdout(args: &[&str]) -> Output {
    let mut child = raw_braid(args).stdout(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

/// Runs braid with stdout into /dev/full, where every write fails with ENOSPC.
#[cfg(target_os = "linux")]
fn with_full_stdout(args: &[&str]) -> Output {
    let full = fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    raw_braid(args).stdout(full).output().unwrap()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A demo project whose braid.toml changed since it was generated: diff has work to show.
fn drifted_project(tmp: &TempDir) -> PathBuf {
    let dir = tmp.path().join("drift");
    demo()
        .args(["new", dir.to_str().unwrap(), "-b", "demo", "--yes"])
        .run()
        .success();
    replace_in(&dir.join("braid.toml"), "port = 8080", "port = 9090");
    dir
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}:\n{text}", path.display());
    fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn completions_into_a_closed_pipe_do_not_panic() {
    let out = with_closed_stdout(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("panicked"), "{}", stderr_of(&out));
}

#[cfg(target_os = "linux")]
#[test]
fn show_json_into_a_full_disk_is_an_error_naming_stdout() {
    let out = with_full_stdout(&["show", "demo", "--json"]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{err}");
    assert!(err.contains("stdout"), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn completions_into_a_full_disk_is_an_error_not_a_panic() {
    let out = with_full_stdout(&["completions", "zsh"]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("stdout"), "{err}");
}

#[test]
fn diff_into_a_closed_pipe_keeps_the_drift_exit_code() {
    let tmp = TempDir::new().unwrap();
    let dir = drifted_project(&tmp);
    let out = with_closed_stdout(&["diff", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "", "a closed pipe ends quietly");
}

#[test]
fn list_into_a_closed_pipe_ends_quietly_with_zero() {
    let out = with_closed_stdout(&["list"]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "");
}

#[test]
fn control_characters_in_answers_are_escaped_in_messages() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("esc");
    demo()
        .args(["new", dir.to_str().unwrap(), "-b", "demo", "--yes"])
        .run()
        .success();
    // A bad value that would recolor the terminal, ring its bell and return the cursor.
    replace_in(
        &dir.join("braid.toml"),
        "flavor = \"vanilla\"",
        "flavor = \"\\u001b[31mred\\u0007\\r\"",
    );
    for command in ["check", "regen", "diff"] {
        let run = demo().args([command, dir.to_str().unwrap()]).run().code(2);
        let err = run.stderr();
        assert!(!err.contains(['\u{1b}', '\u{7}', '\r']), "{command}: {err:?}");
        assert!(err.contains("`\\u{1b}[31mred\\u{7}\\r`"), "{command}: {err:?}");
    }
    // With colors forced (as on a terminal), braid's own styling stays; the value's does not.
    let run = demo()
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .args(["check", dir.to_str().unwrap()])
        .run()
        .code(2);
    assert!(!run.stderr().contains("\u{1b}[31mred"), "{:?}", run.stderr());

    // The same through a flag; a newline in a value stays on its line.
    let other = tmp.path().join("other");
    for (value, shown) in [("\u{1b}]0;pwned\u{7}", "`\\u{1b}]0;pwned\\u{7}`"), ("a\nb", "`a\\nb`")] {
        let run = demo()
            .args(["new", other.to_str().unwrap(), "-b", "demo", "--yes", "--set"])
            .arg(format!("flavor={value}"))
            .run()
            .code(2);
        assert!(!run.stderr().contains(['\u{1b}', '\u{7}']), "{:?}", run.stderr());
        assert!(run.stderr().contains(shown), "{:?}", run.stderr());
    }
    assert!(!other.exists());
}

#[test]
fn empty_entries_in_braid_blueprints_are_ignored() {
    let dir = fixtures();
    let dir = dir.to_str().unwrap();
    braid()
        .env("BRAID_BLUEPRINTS", "")
        .arg("list")
        .run()
        .success()
        .stdout_has("ml-gateway");
    for value in [
        format!("{dir}::{dir}"),
        format!(":{dir}"),
        format!("{dir}:"),
        ":".into(),
    ] {
        let run = braid().env("BRAID_BLUEPRINTS", &value).arg("list").run().success();
        if value != ":" {
            assert!(run.stdout().contains("demo"), "{value}: {}", run.stdout());
        }
    }
    braid()
        .env("BRAID_BLUEPRINTS", "")
        .args(["show", "ml-gateway"])
        .run()
        .success();
}

/// A user blueprint folder `ROOT/tiny` with one plain file, next to an
/// `outside/` folder holding a secret.
#[cfg(unix)]
fn tiny_root(tmp: &TempDir) -> (PathBuf, PathBuf) {
    let root = tmp.path().join("root");
    let files = root.join("tiny/files");
    fs::create_dir_all(&files).unwrap();
    fs::write(
        root.join("tiny/blueprint.toml"),
        "format = 2\nname = \"tiny\"\nsummary = \"one file\"\nversion = \"0.1.0\"\n\n\
         [[question]]\nkey = \"project_name\"\ntype = \"string\"\nflag = \"name\"\n\n[[component]]\nsource = \"files\"\n",
    )
    .unwrap();
    fs::write(files.join("a.txt"), "a\n").unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("id_ed25519"), "SECRET\n").unwrap();
    (root, outside)
}

#[cfg(unix)]
#[test]
fn blueprint_links_that_leave_the_folder_are_refused() {
    use std::os::unix::fs::symlink;
    type Plant = fn(&Path, &Path);
    let cases: [(&str, &str, Plant); 4] = [
        ("tiny/files/passwd.txt", "/etc/passwd", |files, _| {
            symlink("/etc/passwd", files.join("passwd.txt")).unwrap();
        }),
        ("tiny/files/ssh", "outside", |files, outside| {
            symlink(outside, files.join("ssh")).unwrap();
        }),
        ("tiny/files/up", "../../..", |files, _| {
            symlink("../../..", files.join("up")).unwrap();
        }),
        // A link out of the folder that another link inside points at.
        ("tiny/files/deep/key", "id_ed25519", |files, outside| {
            fs::create_dir(files.join("deep")).unwrap();
            symlink(outside.join("id_ed25519"), files.join("deep/key")).unwrap();
        }),
    ];
    for (link, target, plant) in cases {
        let tmp = TempDir::new().unwrap();
        let (root, outside) = tiny_root(&tmp);
        plant(&root.join("tiny/files"), &outside);
        let target_dir = tmp.path().join("made");
        let run = braid()
            .args(["--blueprints", root.to_str().unwrap()])
            .args([
                "new",
                target_dir.to_str().unwrap(),
                "-b",
                "tiny",
                "--yes",
                "--name",
                "made",
            ])
            .run()
            .code(2)
            .stderr_has(link)
            .stderr_has(target)
            .stderr_has("outside");
        assert!(!run.stderr().contains("SECRET"));
        assert!(!target_dir.exists(), "{link}: nothing written");
        assert_eq!(
            fs::read_dir(tmp.path()).unwrap().count(),
            2,
            "{link}: no temp folder left behind"
        );
        braid()
            .args(["--blueprints", root.to_str().unwrap(), "list"])
            .run()
            .code(2)
            .stderr_has(link);
    }
}

#[cfg(unix)]
#[test]
fn blueprint_links_inside_the_folder_are_followed_and_loops_refused() {
    use std::os::unix::fs::symlink;
    let tmp = TempDir::new().unwrap();
    let (root, _) = tiny_root(&tmp);
    let files = root.join("tiny/files");
    fs::create_dir(root.join("shared")).unwrap();
    fs::write(root.join("shared/b.txt"), "b\n").unwrap();
    symlink("a.txt", files.join("same.txt")).unwrap();
    symlink("../../shared", files.join("shared")).unwrap();
    let made = tmp.path().join("made");
    braid()
        .args(["--blueprints", root.to_str().unwrap()])
        .args(["new", made.to_str().unwrap(), "-b", "tiny", "--yes", "--name", "made"])
        .run()
        .success();
    assert_eq!(fs::read_to_string(made.join("same.txt")).unwrap(), "a\n");
    assert_eq!(fs::read_to_string(made.join("shared/b.txt")).unwrap(), "b\n");

    symlink("..", files.join("loop")).unwrap();
    braid()
        .args(["--blueprints", root.to_str().unwrap(), "list"])
        .run()
        .code(2)
        .stderr_has("tiny/files/loop")
        .stderr_has("loop");
}

#[test]
fn template_error_names_the_undefined_variable_and_its_file_once() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("t");
    let broken = broken_fixtures();
    let run = braid()
        .args(["--blueprints", broken.to_str().unwrap()])
        .args([
            "new",
            dir.to_str().unwrap(),
            "-b",
            "bad-template",
            "--yes",
            "--name",
            "x",
        ])
        .run()
        .code(2);
    // A real path, the line, the variable; the location said once.
    let file = broken.join("bad-template/files/oops.txt.j2");
    let err = run.stderr();
    let location = format!("{}:3: ", file.display());
    assert!(
        err.contains(&format!("{location}undefined variable `missing_variable`")),
        "{err}"
    );
    assert_eq!(err.matches("oops.txt.j2:3").count(), 1, "{err}");
    assert!(!err.contains("(in "), "{err}");
    assert!(err.contains("{{ missing_variable }}"), "the line is quoted: {err}");
    assert!(!dir.exists());

    let run = braid()
        .args(["--blueprints", broken.to_str().unwrap()])
        .args([
            "new",
            dir.to_str().unwrap(),
            "-b",
            "typo-in-filter",
            "--yes",
            "--name",
            "x",
        ])
        .run()
        .code(2);
    let err = run.stderr();
    assert!(
        err.contains("a.txt.j2:3: undefined variable `projct_name` (did you mean `project_name`?)"),
        "{err}"
    );
}

#[test]
fn braid_toml_missing_an_answer_without_default_names_the_file_and_key() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("p");
    demo()
        .args(["new", dir.to_str().unwrap(), "-b", "demo", "--yes"])
        .run()
        .success();
    let config = dir.join("braid.toml");
    replace_in(&config, "project_name = \"p\"\n", "");
    for command in ["regen", "diff", "check"] {
        let run = demo()
            .args([command, dir.to_str().unwrap()])
            .run()
            .code(2)
            .stderr_has(&config.display().to_string())
            .stderr_has("`project_name`")
            .stderr_has("add `project_name = \"")
            .stderr_has("under [answers]");
        assert!(!run.stderr().contains("--yes"), "{command}: {}", run.stderr());
    }
}

#[test]
fn constraint_ml_port_equal_to_gateway_port_is_refused_by_new() {
    let tmp = TempDir::new().unwrap();
    braid()
        .current_dir(tmp.path())
        .args(["new", "x", "--yes", "--set", "ml_port=8080"])
        .run()
        .code(2)
        .stderr_has("ml_port and gateway_port must differ")
        .stderr_has("`ml_port != gateway_port` is false")
        .stderr_has("ml_port = 8080       from --set ml_port")
        .stderr_has("gateway_port = 8080  the default")
        .stderr_has("hint: pick another ml_port");
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing written");
    // Moving the other port is as good.
    braid()
        .current_dir(tmp.path())
        .args(["new", "x", "--yes", "--set", "gateway_port=8000"])
        .run()
        .code(2)
        .stderr_has("ml_port and gateway_port must differ");
}

#[test]
fn constraint_in_braid_toml_is_refused_by_regen_diff_and_check() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("p");
    braid().args(["new", dir.to_str().unwrap(), "--yes"]).run().success();
    let config = dir.join("braid.toml");
    replace_in(&config, "ml_port = 8000", "ml_port = 8080");
    let text = fs::read_to_string(&config).unwrap();
    let line_of = |key: &str| text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
    let (ml, gw) = (line_of("ml_port"), line_of("gateway_port"));
    let before = tree(&dir);
    for command in ["regen", "diff", "check"] {
        braid()
            .args([command, dir.to_str().unwrap()])
            .run()
            .code(2)
            // At the first key of the rule that braid.toml sets.
            .stderr_has(&format!(
                "{}:{}: ml_port and gateway_port must differ",
                config.display(),
                gw.min(ml)
            ))
            .stderr_has(&format!("ml_port = 8080       from {}:{ml}", config.display()))
            .stderr_has(&format!("gateway_port = 8080  from {}:{gw}", config.display()));
    }
    assert_eq!(tree(&dir), before, "nothing written");
}

#[test]
fn constraint_reading_an_unknown_question_fails_at_load_with_file_and_line() {
    let broken = broken_fixtures();
    braid()
        .args(["--blueprints", broken.to_str().unwrap(), "show", "bad-constraint"])
        .run()
        .code(2)
        .stderr_has("bad-constraint/blueprint.toml:17: constraint `ml_port != gateway_prot` reads `gateway_prot`")
        .stderr_has("did you mean `gateway_port`?");
}
