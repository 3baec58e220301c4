//! `braid new` in a real pseudo-terminal: answers are typed as a person
//! would (arrow keys, Enter, Space, a rejected name, Ctrl-C, Esc).
#![cfg(unix)]

mod common;

use std::{fs, path::Path, process::Command, time::Duration};

use assert_fs::TempDir;
use common::fixtures;
use expectrl::{Session, WaitStatus};

const DOWN: &str = "\x1b[B";
const ESC: &str = "\x1b";
const ENTER: &str = "\r";

fn spawn(args: &[&str], cwd: &Path) -> Session {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_braid"));
    cmd.arg("--blueprints").arg(fixtures()).args(args).current_dir(cwd);
    cmd.env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("BRAID_BLUEPRINTS");
    let mut s = Session::spawn(cmd).expect("spawn braid in a pty");
    s.set_expect_timeout(Some(Duration::from_secs(20)));
    s
}

fn expect(s: &mut Session, text: &str) {
    if let Err(e) = s.expect(text) {
        panic!("waiting for {text:?}: {e}");
    }
}

fn send(s: &mut Session, keys: &str) {
    // One key at a time, as typed: dialoguer reads key by key.
    s.send(keys).unwrap();
    std::thread::sleep(Duration::from_millis(60));
}

fn exit_code(s: &mut Session) -> i32 {
    // Drain the output so the child never blocks on a full pty.
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(s, &mut sink);
    match s.get_process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("braid did not exit normally: {other:?}"),
    }
}

/// Answers every kind of question: select, text with a rejected value, multi, confirm, int.
#[test]
fn every_question_kind_is_typed_and_checked() {
    let tmp = TempDir::new().unwrap();
    let mut s = spawn(&["new", "proj", "-b", "demo"], tmp.path());
    expect(&mut s, "Project name");
    // A bad name is refused with the reason, then corrected.
    send(&mut s, "\x7f\x7f\x7f\x7fBad_Name");
    send(&mut s, ENTER);
    expect(&mut s, "must start with a lowercase letter");
    for _ in 0.."Bad_Name".len() {
        send(&mut s, "\x7f");
    }
    send(&mut s, "my-app");
    send(&mut s, ENTER);
    expect(&mut s, "description");
    send(&mut s, ENTER); // take the default
    expect(&mut s, "flavor");
    send(&mut s, DOWN);
    send(&mut s, ENTER); // chocolate
    expect(&mut s, "toppings");
    send(&mut s, " "); // toggle nuts on (cream is on by default)
    send(&mut s, ENTER);
    expect(&mut s, "docs");
    send(&mut s, "n");
    expect(&mut s, "port");
    send(&mut s, "\x7f\x7f\x7f\x7f80x");
    send(&mut s, ENTER);
    expect(&mut s, "must be an integer");
    send(&mut s, "\x7f\x7f\x7f9090");
    send(&mut s, ENTER);
    // Asked only because flavor is chocolate.
    expect(&mut s, "Cone size");
    send(&mut s, DOWN);
    send(&mut s, ENTER);
    expect(&mut s, "files");
    expect(&mut s, "Generate the project?");
    send(&mut s, "y");
    expect(&mut s, "Created");
    assert_eq!(exit_code(&mut s), 0);
    let config = fs::read_to_string(tmp.path().join("proj/braid.toml")).unwrap();
    for line in [
        "project_name = \"my-app\"",
        "description = \"A demo project\"",
        "flavor = \"chocolate\"",
        "toppings = [\"nuts\", \"cream\"]",
        "docs = false",
        "port = 9090",
        "cone = \"large\"",
    ] {
        assert!(config.contains(line), "{line} missing from\n{config}");
    }
    assert!(tmp.path().join("proj/src/my_app/model.py").is_file());
}

#[test]
fn answering_no_at_the_summary_writes_nothing() {
    let tmp = TempDir::new().unwrap();
    let mut s = spawn(
        &[
            "new",
            "proj",
            "-b",
            "demo",
            "--set",
            "flavor=vanilla",
            "--set",
            "docs=true",
        ],
        tmp.path(),
    );
    expect(&mut s, "Project name");
    send(&mut s, ENTER);
    expect(&mut s, "description");
    send(&mut s, ENTER);
    expect(&mut s, "toppings");
    send(&mut s, ENTER);
    expect(&mut s, "port");
    send(&mut s, ENTER);
    expect(&mut s, "Generate the project?");
    send(&mut s, "n");
    expect(&mut s, "Nothing written");
    assert_eq!(exit_code(&mut s), 0);
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn ctrl_c_exits_130_restores_the_cursor_and_writes_nothing() {
    let tmp = TempDir::new().unwrap();
    let mut s = spawn(&["new", "proj", "-b", "demo"], tmp.path());
    expect(&mut s, "Project name");
    send(&mut s, ENTER);
    expect(&mut s, "description");
    send(&mut s, ENTER);
    expect(&mut s, "flavor");
    send(&mut s, "\x03");
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut rest);
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("\x1b[?25h"), "cursor shown again: {rest:?}");
    assert_eq!(exit_code(&mut s), 130);
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn esc_at_a_select_cancels_with_130() {
    let tmp = TempDir::new().unwrap();
    let mut s = spawn(
        &["new", "proj", "-b", "demo", "--name", "proj", "--set", "description=x"],
        tmp.path(),
    );
    expect(&mut s, "flavor");
    send(&mut s, ESC);
    assert_eq!(exit_code(&mut s), 130);
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn the_blueprint_is_chosen_from_a_list_with_summaries() {
    let tmp = TempDir::new().unwrap();
    let mut s = spawn(&["new", "proj", "--set", "description=x"], tmp.path());
    expect(&mut s, "Blueprint");
    expect(&mut s, "exercises every feature");
    // demo sorts first
    send(&mut s, ENTER);
    expect(&mut s, "Project name");
    send(&mut s, ESC);
    send(&mut s, "\x03");
    assert_eq!(exit_code(&mut s), 130);
}

#[test]
fn a_busy_folder_is_refused_before_the_first_question() {
    let tmp = TempDir::new().unwrap();
    fs::create_dir(tmp.path().join("proj")).unwrap();
    fs::write(tmp.path().join("proj/x"), "x").unwrap();
    let mut s = spawn(&["new", "proj", "-b", "demo"], tmp.path());
    expect(&mut s, "not empty");
    assert_eq!(exit_code(&mut s), 2);
}

#[test]
fn yes_asks_nothing_even_in_a_terminal() {
    let tmp = TempDir::new().unwrap();
    let mut s = spawn(&["new", "proj", "-b", "demo", "--yes"], tmp.path());
    expect(&mut s, "Created");
    expect(&mut s, "Next steps");
    expect(&mut s, "port 8080");
    assert_eq!(exit_code(&mut s), 0);
    assert!(tmp.path().join("proj/braid.toml").is_file());
}
