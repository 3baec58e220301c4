//! Whole-output snapshots of braid's commands (as uv's `uv_snapshot!`): exit
//! code, stdout and stderr of each run, with the temp folder shown as `[TMP]`.
//! braid's product is text, and a `contains` check misses an added line, a
//! reordering or a duplicated location; a snapshot does not.
//!
//! When an output changes on purpose, re-accept: docs/testing.md.

mod common;

use std::fs;

use common::*;

/// Runs `test` and snapshots it under `name`; returns the temp folder.
fn snapshot(name: &str, test: Test) -> assert_fs::TempDir {
    let (tmp, run) = test.capture();
    assert_run_snapshot!(name, tmp.path(), run);
    tmp
}

#[test]
fn list() {
    snapshot("list", Test::new().args(["list"]));
}

#[test]
fn show() {
    snapshot("show", Test::new().args(["show", "ml-gateway"]));
    snapshot("show_json", Test::new().args(["show", "ml-gateway", "--json"]));
}

#[test]
fn new_help() {
    snapshot("new_help", Test::new().args(["new", "--help"]));
}

#[test]
fn new_dry_run_for_each_gateway_and_transport() {
    for gateway in ["go", "node"] {
        for transport in ["http", "redis-streams"] {
            let tmp = snapshot(
                &format!("new_dry_run_{gateway}_{transport}"),
                Test::new().args([
                    "new",
                    "app",
                    "--dry-run",
                    "--yes",
                    "--gateway",
                    gateway,
                    "--transport",
                    transport,
                ]),
            );
            assert!(!tmp.path().join("app").exists(), "--dry-run wrote app/");
        }
    }
}

/// new, then check/diff/regen/check after an answer change and a hand edit.
/// The project is named by its absolute path, so `[TMP]` shows in the output.
#[test]
fn new_then_regen_after_an_answer_change() {
    let test = Test::new();
    let app = test.path().join("app");
    let app = app.to_str().unwrap().to_owned();
    let tmp = snapshot("regen_flow_1_new", test.args(["new", &app, "--yes"]));
    let tmp = snapshot(
        "regen_flow_2_check_in_sync",
        Test::with_tempdir(tmp).args(["check", &app]),
    );

    let config = fs::read_to_string(tmp.path().join("app/braid.toml")).unwrap();
    assert!(config.contains("\ngateway_port = 8080\n"), "{config}");
    let readme = fs::read_to_string(tmp.path().join("app/README.md")).unwrap();
    let edit = Test::with_tempdir(tmp)
        .write(
            "app/braid.toml",
            config.replace("gateway_port = 8080", "gateway_port = 9090"),
        )
        .write(
            "app/README.md",
            format!("{readme}\n## Our notes\n\nKept across regens.\n"),
        );

    let tmp = snapshot("regen_flow_3_check_out_of_sync", edit.args(["check", &app]));
    let tmp = snapshot("regen_flow_4_diff", Test::with_tempdir(tmp).args(["diff", &app]));
    let tmp = snapshot(
        "regen_flow_5_regen_dry_run",
        Test::with_tempdir(tmp).args(["regen", &app, "--dry-run"]),
    );
    let tmp = snapshot("regen_flow_6_regen", Test::with_tempdir(tmp).args(["regen", &app]));
    let tmp = snapshot(
        "regen_flow_7_check_in_sync",
        Test::with_tempdir(tmp).args(["check", &app]),
    );

    let readme = fs::read_to_string(tmp.path().join("app/README.md")).unwrap();
    assert!(readme.ends_with("## Our notes\n\nKept across regens.\n"), "{readme}");
}
