//! braid regen, diff and check on the demo fixture: the table of DESIGN.md
//! section 5, row by row, through the real binary.

mod common;

use std::fmt::Write as _;
use std::{fs, path::Path};

use assert_fs::TempDir;
use common::*;

fn generate(tmp: &TempDir, name: &str) -> std::path::PathBuf {
    let dir = tmp.path().join(name);
    demo()
        .args(["new", dir.to_str().unwrap(), "-b", "demo", "--yes"])
        .run()
        .success();
    dir
}

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
    if !replaced {
        let _ = writeln!(out, "{key} = {value}");
    }
    fs::write(path, out).unwrap();
}

fn regen(dir: &Path) -> Run {
    demo().args(["regen", dir.to_str().unwrap()]).run()
}

fn read(dir: &Path, path: &str) -> String {
    fs::read_to_string(dir.join(path)).unwrap()
}

#[test]
fn regen_without_changes_changes_nothing() {
    let tmp = TempDir::new().unwrap();
    let dir = generate(&tmp, "p");
    let before = tree(&dir);
    regen(&dir).success().stderr_has("0 files changed");
    assert_eq!(tree(&dir), before);
    demo()
        .args(["check", dir.to_str().unwrap()])
        .run()
        .success()
        .stderr_has("In sync");
    demo().args(["diff", dir.to_str().unwrap()]).run().success();
}

#[test]
fn changed_answer_updates_unedited_files() {
    let tmp = TempDir::new().unwrap();
    let dir = generate(&tmp, "p");
    set_answer(&dir, "port", "9999");
    regen(&dir).success().stderr_has("Updated config.yaml");
    assert!(read(&dir, "config.yaml").contains("port: 9999"));
    regen(&dir).success().stderr_has("0 files changed");
}

#[test]
fn user_edits_and_render_changes_merge() {
    let tmp = TempDir::new().unwrap();
    let dir = generate(&tmp, "p");
    let yaml = read(&dir, "config.yaml").replace("name: \"p\"\n", "# my comment\nname: \"p\"\n");
    fs::write(dir.join("config.yaml"), &yaml).unwrap();
    set_answer(&dir, "toppings", "[\"nuts\"]");
    regen(&dir).success().stderr_has("Merged config.yaml");
    let merged = read(&dir, "config.yaml");
    assert!(
        merged.contains("# my comment") && merged.contains("toppings: [\"nuts\"]"),
        "{merged}"
    );
}

#[test]
fn overlapping_edits_conflict_then_settle() {
    let tmp = TempDir::new().unwrap();
    let dir = generate(&tmp, "p");
    let yaml = read(&dir, "config.yaml").replace("port: 8080", "port: 1234 # mine");
    fs::write(dir.join("config.yaml"), yaml).unwrap();
    set_answer(&dir, "port", "9999");
    regen(&dir)
        .code(1)
        .stderr_has("Conflict config.yaml")
        .stderr_has("conflict markers");
    let text = read(&dir, "config.yaml");
    assert!(
        text.contains("<<<<<<< yours (on disk)\nport: 1234 # mine\n=======\nport: 9999\n>>>>>>> braid (new render)\n"),
        "{text}"
    );
    // The user resolves it; the next regen keeps the resolution.
    fs::write(
        dir.join("config.yaml"),
        text.replace("<<<<<<< yours (on disk)\nport: 1234 # mine\n=======\n", "")
            .replace(">>>>>>> braid (new render)\n", ""),
    )
    .unwrap();
    regen(&dir).success();
    assert!(read(&dir, "config.yaml").contains("port: 9999\n"));
}

#[test]
fn files_no_longer_rendered_are_deleted_or_kept_when_edited() {
    let tmp = TempDir::new().unwrap();
    let dir = generate(&tmp, "p");
    // chocolate adds chocolate-only.txt; docs=false removes docs/index.md
    set_answer(&dir, "flavor", "\"chocolate\"");
    regen(&dir).success().stderr_has("Created chocolate-only.txt");
    fs::write(dir.join("chocolate-only.txt"), "only for chocolate\nand my notes\n").unwrap();
    set_answer(&dir, "flavor", "\"vanilla\"");
    set_answer(&dir, "docs", "false");
    regen(&dir)
        .success()
        .stderr_has("Deleted docs/index.md")
        .stderr_has("chocolate-only.txt: no longer generated, but edited by you; kept");
    assert!(!dir.join("docs").exists(), "emptied folders go too");
    assert_eq!(read(&dir, "chocolate-only.txt"), "only for chocolate\nand my notes\n");
    // Switching back merges against what braid wrote before.
    set_answer(&dir, "flavor", "\"chocolate\"");
    regen(&dir).success();
    assert_eq!(read(&dir, "chocolate-only.txt"), "only for chocolate\nand my notes\n");
}

#[test]
fn deleted_managed_files_stay_deleted_and_check_says_so_once() {
    let tmp = TempDir::new().unwrap();
    let dir = generate(&tmp, "p");
    fs::remove_file(dir.join("app.js")).unwrap();
    demo()
        .args(["check", dir.to_str().unwrap()])
        .run()
        .code(1)
        .stderr_has("app.js: managed file missing");
    regen(&dir)
        .success()
        .stderr_has("app.js: deleted by you; stays deleted");
    assert!(!dir.join("app.js").exists());
    demo().args(["check", dir.to_str().unwrap()]).run().success();
}

#[test]
fn scaffold_files_are_never_rewritten() {
    let tmp = TempDir::new().unwrap();
    let dir = generate(&tmp, "p");
    fs::write(dir.join("src/p/model.py"), "MY MODEL\n").unwrap();
    set_answer(&dir, "description", "\"changed\"");
    regen(&dir).success();
    assert_eq!(read(&dir, "src/p/model.py"), "MY MODEL\n");
    assert!(read(&dir, "src/p/__init__.py").contains("changed"));
}

#[test]
fn renamed_project_moves_files_with_their_edits() {
    let tmp = TempDir::new().unwrap();
    let dir = generate(&tmp, "p");
    fs::write(dir.join("src/p/model.py"), "MY MODEL\n").unwrap();
    let init = read(&dir, "src/p/__init__.py") + "EXTRA = 1\n";
    fs::write(dir.join("src/p/__init__.py"), init).unwrap();
    set_answer(&dir, "project_name", "\"renamed\"");
    regen(&dir)
        .success()
        .stderr_has("src/renamed/model.py (moved from src/p/model.py)");
    assert!(!dir.join("src/p").exists());
    assert_eq!(read(&dir, "src/renamed/model.py"), "MY MODEL\n");
    assert!(read(&dir, "src/renamed/__init__.py").contains("EXTRA = 1"));
    assert!(read(&dir, "pyproject.toml").contains("renamed-ml"));
    regen(&dir).success().stderr_has("0 files changed");
}

#[test]
fn diff_shows_the_plan_and_writes_nothing() {
    let tmp = TempDir::new().unwrap();
    let dir = generate(&tmp, "p");
    set_answer(&dir, "port", "9999");
    let before = tree(&dir);
    demo()
        .args(["diff", dir.to_str().unwrap()])
        .run()
        .code(1)
        .stdout_has("--- a/config.yaml")
        .stdout_has("+++ b/config.yaml")
        .stdout_has("-port: 8080")
        .stdout_has("+port: 9999");
    demo()
        .args(["regen", "--dry-run", dir.to_str().unwrap()])
        .run()
        .success()
        .stderr_has("Updated config.yaml")
        .stderr_has("nothing written");
    assert_eq!(tree(&dir), before);
}

#[test]
fn check_fails_on_drift_and_passes_hand_edits_unless_strict() {
    let tmp = TempDir::new().unwrap();
    let dir = generate(&tmp, "p");
    let d = dir.to_str().unwrap();
    fs::write(dir.join("app.js"), read(&dir, "app.js") + "// mine\n").unwrap();
    demo()
        .args(["check", d])
        .run()
        .success()
        .stderr_has("app.js: hand edits that regen keeps");
    demo().args(["check", "--strict", d]).run().code(1);
    set_answer(&dir, "port", "1");
    demo()
        .args(["check", d])
        .run()
        .code(1)
        .stderr_has("braid.toml changed since the last regen")
        .stderr_has("config.yaml: regen would report `Updated`");
}

#[test]
fn bad_braid_toml_in_a_project_is_a_located_error() {
    let tmp = TempDir::new().unwrap();
    let dir = generate(&tmp, "p");
    set_answer(&dir, "transprt", "\"http\"");
    regen(&dir)
        .code(2)
        .stderr_has("braid.toml:")
        .stderr_has("unknown question `transprt`");
}

#[test]
fn missing_state_or_config_is_explained() {
    let tmp = TempDir::new().unwrap();
    demo()
        .args(["regen", tmp.path().to_str().unwrap()])
        .run()
        .code(2)
        .stderr_has("has no braid.toml");
    let dir = generate(&tmp, "p");
    fs::remove_dir_all(dir.join(".braid")).unwrap();
    regen(&dir)
        .code(2)
        .stderr_has("state.json is missing")
        .stderr_has("version control");
}

#[test]
fn a_file_in_the_way_of_a_folder_is_left_alone_and_the_rest_regenerates() {
    let tmp = TempDir::new().unwrap();
    let dir = generate(&tmp, "p");
    set_answer(&dir, "docs", "false");
    regen(&dir).success();
    // The user's file stands where docs/ must go: braid leaves it, says so,
    // and writes everything else.
    fs::write(dir.join("docs"), "in the way").unwrap();
    set_answer(&dir, "docs", "true");
    set_answer(&dir, "description", "\"new description\"");
    regen(&dir)
        .success()
        .stderr_has("In the way docs is not a folder; left alone");
    assert_eq!(read(&dir, "docs"), "in the way");
    for (path, bytes) in tree(&dir) {
        assert!(!path.contains(".braid-tmp-"), "temp file left: {path}");
        if path.ends_with(".yaml") {
            serde_yaml::from_slice::<serde_yaml::Value>(&bytes).unwrap();
        }
    }
    fs::remove_file(dir.join("docs")).unwrap();
    regen(&dir).success();
    assert!(read(&dir, "config.yaml").contains("new description"));
    assert!(read(&dir, "main.go").contains("new description"));
    assert!(dir.join("docs/index.md").is_file());
    regen(&dir).success().stderr_has("0 files changed");
}

/// Issue 16: `kubernetes = false` in braid.toml takes deploy/k8s/ away on
/// regen when nobody touched it, and keeps (with a warning) the manifest a
/// user edited, deleting the rest.
#[test]
fn turning_kubernetes_off_removes_deploy_k8s_unless_edited() {
    let tmp = TempDir::new().unwrap();
    for (name, edit) in [("untouched", false), ("edited", true)] {
        let dir = tmp.path().join(name);
        braid()
            .args([
                "new",
                dir.to_str().unwrap(),
                "--yes",
                "--name",
                "kube",
                "--transport",
                "kafka",
            ])
            .run()
            .success();
        let prod = "deploy/k8s/overlays/prod/kustomization.yaml";
        assert!(dir.join(prod).is_file(), "{name}: {prod} not generated");
        assert!(dir.join("deploy/k8s/base/kustomization.yaml").is_file());
        if edit {
            let text = format!("{}# our registry's pull secret goes here\n", read(&dir, prod));
            fs::write(dir.join(prod), &text).unwrap();
        }
        set_answer(&dir, "kubernetes", "false");
        let run = regen(&dir)
            .success()
            .stderr_has("Deleted deploy/k8s/base/kustomization.yaml");
        assert!(!read(&dir, "README.md").contains("Deploy to Kubernetes"));
        if edit {
            run.stderr_has(&format!("{prod}: no longer generated, but edited by you; kept"));
            assert!(read(&dir, prod).ends_with("# our registry's pull secret goes here\n"));
            assert!(!dir.join("deploy/k8s/base").exists(), "emptied folders go");
        } else {
            assert!(!dir.join("deploy").exists(), "{name}: deploy/ left behind");
        }
    }
}
