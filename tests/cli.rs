//! Every command and flag of braid, and every error a user can cause, through
//! the real binary.

mod common;

use std::{fs, time::Duration};

use assert_fs::TempDir;
use common::*;

const HOSTILE: &str = "Evil \"quoted\" 'single' \\back\\slash\nnew line # hash: colon {{ jinja }} {% raw %} ${{ github.token }} é中文🚀 \u{2028} `tick` $(id)";

#[test]
fn version_and_help() {
    braid()
        .arg("--version")
        .run()
        .success()
        .stdout_has(env!("CARGO_PKG_VERSION"));
    braid().arg("--help").run().success().stdout_has("regen");
    braid()
        .args(["new", "--help"])
        .run()
        .success()
        .stdout_has("--transport");
}

#[test]
fn list_shows_embedded_and_user_blueprints() {
    Test::new()
        .demo()
        .arg("list")
        .stdout(
            "demo        1.2.0    A small blueprint that exercises every feature of the engine\n\
             ml-gateway  0.1.0    Python (FastAPI) ML service behind a Go or Node.js gateway, joined by HTTP, Redis Streams, RabbitMQ or Kafka\n",
        )
        .run();
}

#[test]
fn list_json_is_machine_readable() {
    let run = demo().args(["list", "--json"]).run().success();
    let items: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let demo = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "demo")
        .expect("demo listed");
    assert_eq!(demo["version"], "1.2.0");
    assert!(demo["origin"].as_str().unwrap().ends_with("fixtures/blueprints"));
}

#[test]
fn blueprints_env_var_adds_a_folder() {
    braid()
        .env("BRAID_BLUEPRINTS", fixtures())
        .arg("list")
        .run()
        .success()
        .stdout_has("demo");
}

#[test]
fn show_lists_questions_choices_defaults_and_components() {
    demo()
        .args(["show", "demo"])
        .run()
        .success()
        .stdout_has("flavor")
        .stdout_has("choices: vanilla, chocolate")
        .stdout_has("default: 8080")
        .stdout_has("asked when: flavor == 'chocolate'")
        .stdout_has("components/extras (when docs)");
    let run = demo().args(["show", "demo", "--json"]).run().success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v["questions"][3]["default"], serde_json::json!(["cream"]));
    assert_eq!(v["questions"][5]["type"], "int");
}

#[test]
fn show_unknown_blueprint_suggests_the_closest() {
    Test::new()
        .demo()
        .args(["show", "dmeo"])
        .status(2)
        .stderr("error: no blueprint named `dmeo`\n  hint: did you mean `demo`? `braid list` shows them all\n")
        .run();
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        braid().args(["completions", shell]).run().success().stdout_has("braid");
    }
    braid().args(["completions", "tcsh"]).run().code(2);
}

#[test]
fn new_writes_the_project_with_config_state_modes_and_bytes() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("my-app");
    demo()
        .args([
            "new",
            dir.to_str().unwrap(),
            "-b",
            "demo",
            "--yes",
            "--set",
            "flavor=chocolate",
        ])
        .run()
        .success()
        .stderr_has("Created");
    // project_name defaults to the folder's name
    let config = fs::read_to_string(dir.join("braid.toml")).unwrap();
    assert!(config.contains("blueprint = \"demo\""), "{config}");
    assert!(config.contains("project_name = \"my-app\""), "{config}");
    assert!(
        config.contains("toppings = [\"cream\"]") && config.contains("docs = true") && config.contains("port = 8080")
    );
    assert!(
        config.contains("cone = \"small\""),
        "when-true question answered: {config}"
    );
    // templated paths, dot files, verbatim ${{ }}, binary bytes, the executable bit
    assert!(dir.join("src/my_app/__init__.py").is_file());
    assert!(dir.join(".gitignore").is_file());
    let ci = fs::read_to_string(dir.join(".github/workflows/ci.yml")).unwrap();
    assert!(ci.contains("${{ github.sha }} {{ not_a_template }}"));
    let logo = fs::read(dir.join("logo.png")).unwrap();
    assert_eq!(logo, fs::read(fixtures().join("demo/files/logo.png")).unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.join("bin/run.sh")).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "run.sh stays executable");
        let mode = fs::metadata(dir.join("config.yaml")).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0);
    }
    assert_eq!(
        fs::read_to_string(dir.join("flavor.txt")).unwrap(),
        "chocolate, small cone\n"
    );
    assert!(dir.join("chocolate-only.txt").is_file());
    // the state holds the exact content of every file written
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join(".braid/state.json")).unwrap()).unwrap();
    assert_eq!(state["blueprint"], "demo");
    assert_eq!(state["blueprint_version"], "1.2.0");
    assert_eq!(state["braid_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(state["files"]["flavor.txt"]["text"], "chocolate, small cone\n");
    assert_eq!(state["files"]["src/my_app/model.py"]["ownership"], "scaffold");
    assert_eq!(state["files"]["config.yaml"]["ownership"], "managed");
    assert!(state["files"]["logo.png"]["base64"].is_string());
    assert_eq!(state["files"]["bin/run.sh"]["executable"], true);
}

#[test]
fn false_conditions_write_nothing_and_empty_renders_are_written() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("plain");
    demo()
        .args([
            "new",
            dir.to_str().unwrap(),
            "-b",
            "demo",
            "--yes",
            "--set",
            "docs=false",
        ])
        .run()
        .success();
    assert!(
        !dir.join("chocolate-only.txt").exists(),
        "a file whose [[file]] `when` is false is not written"
    );
    assert_eq!(
        fs::read(dir.join("empty.txt")).unwrap(),
        b"",
        "a template that renders empty is written empty (an empty __init__.py is a file too)"
    );
    assert!(
        !dir.join("docs").exists(),
        "a component whose `when` is false is not written"
    );
    let config = fs::read_to_string(dir.join("braid.toml")).unwrap();
    assert!(
        !config.contains("cone"),
        "a question whose `when` is false is not answered: {config}"
    );
}

#[test]
fn dry_run_lists_every_file_and_writes_nothing() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("dry");
    let run = demo()
        .args(["new", dir.to_str().unwrap(), "-b", "demo", "--yes", "--dry-run"])
        .run()
        .success();
    for f in [
        "config.yaml",
        "src/dry/model.py",
        ".github/workflows/ci.yml",
        "braid.toml",
        ".braid/state.json",
    ] {
        assert!(
            run.stdout().lines().any(|l| l == f),
            "{f} missing from:\n{}",
            run.stdout()
        );
    }
    assert!(!dir.exists());
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0, "no temp folder left");
}

/// `braid new typed -b demo --yes --set SET` fails with exactly `stderr` and writes nothing.
#[track_caller]
fn refused_set(set: &str, stderr: &str) {
    Test::new()
        .demo()
        .args(["new", "typed", "-b", "demo", "--yes", "--set", set])
        .status(2)
        .stderr(stderr)
        .expect_no_file("typed")
        .run();
}

#[test]
fn typed_set_values_and_their_errors() {
    refused_set(
        "port=80x",
        "error: --set port: `port` must be an integer from 1 to 65535, found `80x`\n  \
         hint: give an integer from 1 to 65535\n",
    );
    refused_set(
        "port=70000",
        "error: --set port: `port` must be an integer from 1 to 65535, found 70000\n  \
         hint: give an integer from 1 to 65535\n",
    );
    refused_set(
        "docs=maybe",
        "error: --set docs: `docs` must be true or false, found `maybe`\n  hint: give true or false\n",
    );
    refused_set(
        "flavor=chocolat",
        "error: --set flavor: `flavor` must be one of: vanilla, chocolate; found `chocolat` \
         (did you mean `chocolate`?)\n  hint: give one of: vanilla, chocolate\n",
    );
    refused_set(
        "toppings=nuts,gravy",
        "error: --set toppings: `toppings` must be one of: nuts, cream, cherry; found `gravy`\n  \
         hint: give a list of: nuts, cream, cherry\n",
    );
    refused_set(
        "flavour=vanilla",
        "error: --set flavour: unknown question `flavour`\n  \
         hint: did you mean `flavor`? `braid show demo` lists the questions\n",
    );
    refused_set(
        "novalue",
        "error: invalid value 'novalue' for '--set <KEY=VALUE>': `novalue` is not KEY=VALUE \
         (for example --set description=\"Image tagging API\")\n\nFor more information, try '--help'.\n",
    );
    let tmp = Test::new()
        .demo()
        .args([
            "new",
            "typed",
            "-b",
            "demo",
            "--yes",
            "--set",
            "port=9090",
            "--set",
            "docs=no",
            "--set",
            "toppings=nuts,cherry",
        ])
        .stderr_any()
        .run();
    let config = fs::read_to_string(tmp.path().join("typed/braid.toml")).unwrap();
    assert!(
        config.contains("port = 9090")
            && config.contains("docs = false")
            && config.contains("toppings = [\"nuts\", \"cherry\"]"),
        "{config}"
    );
}

/// An int question's bounds are inclusive: 1 and 65535 are accepted (0 and
/// 65536 are refused: tests/fixtures/errors/port-0 and port-65536).
#[test]
fn int_bounds_accept_1_and_65535() {
    let tmp = Test::new()
        .args([
            "new",
            "app",
            "--yes",
            "--set",
            "gateway_port=1",
            "--set",
            "ml_port=65535",
        ])
        .stderr_any()
        .run();
    let config = fs::read_to_string(tmp.path().join("app/braid.toml")).unwrap();
    assert!(
        config.contains("\ngateway_port = 1\n") && config.contains("\nml_port = 65535\n"),
        "{config}"
    );
}

/// `braid new x -b demo --yes --name NAME` fails with exactly `stderr` and writes nothing.
#[track_caller]
fn refused_name(name: &str, stderr: &str) {
    Test::new()
        .demo()
        .args(["new", "x", "-b", "demo", "--yes", "--name", name])
        .status(2)
        .stderr(stderr)
        .expect_no_file("x")
        .run();
}

#[test]
fn invalid_project_names_are_refused_with_the_reason() {
    refused_name(
        "Bad_Name",
        "error: --name: `project_name` = `Bad_Name` must start with a lowercase letter and hold only a-z, 0-9 \
         and single `-` between words\n  hint: give a string\n",
    );
    refused_name(
        "json",
        "error: --name: `project_name` = `json` gives the Python package `json`, which is a Python keyword \
         or shadows a module the generated code imports; pick another name, e.g. `json-svc`\n  hint: give a string\n",
    );
    refused_name(
        "import",
        "error: --name: `project_name` = `import` gives the Python package `import`, which is a Python keyword \
         or shadows a module the generated code imports; pick another name, e.g. `import-svc`\n  hint: give a string\n",
    );
    refused_name(
        "a--b",
        "error: --name: `project_name` = `a--b` must start with a lowercase letter and hold only a-z, 0-9 \
         and single `-` between words\n  hint: give a string\n",
    );
}

#[test]
fn non_terminal_stdin_never_waits_and_names_the_flags() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("ask");
    let run = demo()
        .args(["new", dir.to_str().unwrap(), "-b", "demo"])
        .stdin("")
        .run()
        .code(2);
    assert!(run.elapsed < Duration::from_secs(1), "took {:?}", run.elapsed);
    let err = run.stderr();
    assert!(err.contains("stdin is not a terminal"), "{err}");
    for flag in [
        "--set description=<string>",
        "--set flavor=<choice>",
        "--set port=<int>",
        "--yes",
    ] {
        assert!(err.contains(flag), "{flag} missing from {err}");
    }
    assert!(!dir.exists());
}

#[test]
fn yes_without_a_default_names_the_missing_flag() {
    Test::new()
        .demo()
        .args(["new", "-b", "demo", "--yes"])
        .status(2)
        .stderr(
            "error: these questions have no default, so --yes cannot answer them:\n  \
             project_name     --name PROJECT_NAME\n  \
             hint: pass them as flags\n",
        )
        .run();
}

#[test]
fn no_blueprint_and_no_terminal_lists_the_choices() {
    Test::new()
        .demo()
        .args(["new", "x", "--yes"])
        .status(2)
        .stderr(
            "error: no blueprint chosen and braid cannot ask\n  \
             hint: pass --blueprint NAME, one of: demo, ml-gateway\n",
        )
        .expect_no_file("x")
        .run();
}

#[test]
fn config_file_answers_and_its_errors() {
    let cases = [
        (
            "blueprnt = \"demo\"\n",
            "error: answers.toml:1: unknown key `blueprnt`\n  \
             hint: did you mean `blueprint`? braid.toml holds `blueprint = \"NAME\"` and an [answers] table\n",
        ),
        (
            "blueprint = \"demo\"\n[answers]\nport = \"80\"\n",
            "error: answers.toml:3: `port` must be an integer from 1 to 65535, found a string\n  \
             hint: give an integer from 1 to 65535\n",
        ),
        (
            "blueprint = \"demo\"\n[answers]\n\nflavor = \"mint\"\n",
            "error: answers.toml:4: `flavor` must be one of: vanilla, chocolate; found `mint`\n  \
             hint: give one of: vanilla, chocolate\n",
        ),
        (
            "blueprint = \"demo\"\n[answers]\nflavr = \"vanilla\"\n",
            "error: answers.toml:3: unknown question `flavr`\n  \
             hint: did you mean `flavor`? `braid show demo` lists the questions\n",
        ),
        (
            "blueprint = \"demo\"\n[answers\n",
            "error: answers.toml:2: not valid TOML: unclosed table, expected `]`\n  \
             hint: fix the syntax at that line\n",
        ),
        (
            "blueprint = 3\n",
            "error: answers.toml:1: `blueprint` must be a string\n  hint: write `blueprint = \"ml-gateway\"`\n",
        ),
    ];
    for (text, stderr) in cases {
        Test::new()
            .demo()
            .write("answers.toml", text)
            .args(["new", "cfg", "--config", "answers.toml", "--yes", "--name", "x"])
            .status(2)
            .stderr(stderr)
            .expect_no_file("cfg")
            .run();
    }
    Test::new()
        .demo()
        .args(["new", "cfg", "--config", "/nonexistent/braid.toml", "--yes"])
        .status(2)
        .stderr(
            "error: cannot read /nonexistent/braid.toml: No such file or directory (os error 2)\n  \
             hint: check the path; `braid new --config FILE` takes a braid.toml\n",
        )
        .expect_no_file("cfg")
        .run();
}

#[test]
fn flags_set_and_config_file_give_byte_identical_repos() {
    let tmp = TempDir::new().unwrap();
    let a = tmp.path().join("a/proj");
    let b = tmp.path().join("b/proj");
    let c = tmp.path().join("c/proj");
    let common = ["--set", "description=Same", "--set", "docs=false", "--set", "port=81"];
    demo()
        .args([
            "new",
            a.to_str().unwrap(),
            "-b",
            "demo",
            "--name",
            "proj",
            "--set",
            "flavor=chocolate",
            "--yes",
        ])
        .args(common)
        .run()
        .success();
    demo()
        .args([
            "new",
            b.to_str().unwrap(),
            "-b",
            "demo",
            "--set",
            "project_name=proj",
            "--set",
            "flavor=chocolate",
            "--yes",
        ])
        .args(common)
        .run()
        .success();
    let cfg = tmp.path().join("braid.toml");
    fs::write(
        &cfg,
        "blueprint = \"demo\"\n[answers]\nproject_name = \"proj\"\ndescription = \"Same\"\nflavor = \"chocolate\"\ndocs = false\nport = 81\n",
    )
    .unwrap();
    demo()
        .args(["new", c.to_str().unwrap(), "--config", cfg.to_str().unwrap(), "--yes"])
        .run()
        .success();
    assert_eq!(tree(&a), tree(&b));
    assert_eq!(tree(&a), tree(&c));
}

#[test]
fn flags_override_the_config_file() {
    let tmp = TempDir::new().unwrap();
    let cfg = tmp.path().join("braid.toml");
    fs::write(&cfg, "blueprint = \"demo\"\n[answers]\nport = 81\n").unwrap();
    let dir = tmp.path().join("o");
    demo()
        .args([
            "new",
            dir.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--yes",
            "--set",
            "port=82",
        ])
        .run()
        .success();
    assert!(fs::read_to_string(dir.join("braid.toml"))
        .unwrap()
        .contains("port = 82"));
}

#[test]
fn hostile_description_lands_safely_in_every_format() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("hostile");
    demo()
        .args(["new", dir.to_str().unwrap(), "-b", "demo", "--yes", "--set"])
        .arg(format!("description={HOSTILE}"))
        .run()
        .success();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&fs::read_to_string(dir.join("config.yaml")).unwrap()).unwrap();
    assert_eq!(yaml["description"].as_str(), Some(HOSTILE));
    let toml: toml::Table = toml::from_str(&fs::read_to_string(dir.join("pyproject.toml")).unwrap()).unwrap();
    assert_eq!(toml["project"]["description"].as_str(), Some(HOSTILE));
    let json: serde_json::Value = serde_json::from_str(&fs::read_to_string(dir.join("package.json")).unwrap()).unwrap();
    assert_eq!(json["description"].as_str(), Some(HOSTILE));
    let config: toml::Table = toml::from_str(&fs::read_to_string(dir.join("braid.toml")).unwrap()).unwrap();
    assert_eq!(config["answers"]["description"].as_str(), Some(HOSTILE));
    // Python and JavaScript parse it back to the same string.
    let py = std::process::Command::new("python3")
        .args(["-c", "import sys; ns = {}; exec(open(sys.argv[1], encoding='utf-8').read(), ns); sys.stdout.write(ns['DESCRIPTION'])"])
        .arg(dir.join("src/hostile/__init__.py"))
        .output()
        .expect("python3 runs");
    assert_eq!(
        String::from_utf8(py.stdout).unwrap(),
        HOSTILE,
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let js = std::process::Command::new("node")
        .args(["--input-type=module", "-e"])
        .arg(format!(
            "import {{ description }} from {}; process.stdout.write(description)",
            serde_json::to_string(&format!("file://{}", dir.join("app.js").display())).unwrap()
        ))
        .output()
        .expect("node runs");
    assert_eq!(
        String::from_utf8(js.stdout).unwrap(),
        HOSTILE,
        "{}",
        String::from_utf8_lossy(&js.stderr)
    );
    // Go: gofmt parses it.
    let go = std::process::Command::new("gofmt")
        .arg("-e")
        .arg(dir.join("main.go"))
        .output()
        .expect("gofmt runs");
    assert!(go.status.success(), "{}", String::from_utf8_lossy(&go.stderr));
}

#[test]
fn very_long_values_are_fine() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("long");
    let long = "ab\"#:\n".repeat(5000);
    demo()
        .args(["new", dir.to_str().unwrap(), "-b", "demo", "--yes", "--set"])
        .arg(format!("description={long}"))
        .run()
        .success();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&fs::read_to_string(dir.join("config.yaml")).unwrap()).unwrap();
    assert_eq!(yaml["description"].as_str(), Some(long.as_str()));
}

#[test]
fn non_empty_target_is_refused_without_force() {
    let test = Test::new();
    let busy = test.path().join("busy");
    let tmp = test
        .demo()
        .write("busy/notes.txt", "mine")
        .args(["new", "-b", "demo", "--yes"])
        .arg(&busy)
        .status(2)
        .stderr(
            "error: [TMP]/busy exists and is not empty\n  \
             hint: choose a new folder, or pass --force to add the project next to what is there \
             (braid never overwrites or deletes a file it did not write)\n",
        )
        .expect_file("busy/notes.txt", "mine")
        .run();
    assert_eq!(tree(&tmp.path().join("busy")).len(), 1);
}

#[test]
fn force_never_overwrites_a_file_braid_did_not_write() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("busy");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("config.yaml"), "mine: true\n").unwrap();
    fs::write(dir.join("notes.txt"), "mine").unwrap();
    demo()
        .args(["new", dir.to_str().unwrap(), "-b", "demo", "--yes", "--force"])
        .run()
        .success()
        .stderr_has("config.yaml exists and is not braid's");
    assert_eq!(fs::read_to_string(dir.join("config.yaml")).unwrap(), "mine: true\n");
    assert_eq!(fs::read_to_string(dir.join("notes.txt")).unwrap(), "mine");
    assert!(dir.join("pyproject.toml").is_file());
    let state = fs::read_to_string(dir.join(".braid/state.json")).unwrap();
    assert!(
        !state.contains("\"config.yaml\""),
        "a file braid did not write is not in its state"
    );
    // A second `new` into a braid project points to regen.
    demo()
        .args(["new", dir.to_str().unwrap(), "-b", "demo", "--yes", "--force"])
        .run()
        .code(2)
        .stderr_has("already holds a braid project")
        .stderr_has("braid regen");
}

/// `braid new` without a folder writes into ./`PROJECT_NAME`; `check`, `diff`
/// and `regen` without one work on the current folder.
#[test]
fn the_folder_defaults_to_the_project_name_then_to_the_current_folder() {
    let tmp = Test::new()
        .demo()
        .current_dir_rel("work")
        .args(["new", "-b", "demo", "--yes", "--name", "proj"])
        .stderr_any()
        .expect_no_file("proj")
        .run();
    assert!(tmp.path().join("work/proj/braid.toml").is_file());
    let tmp = Test::with_tempdir(tmp)
        .demo()
        .current_dir_rel("work/proj")
        .arg("check")
        .stderr("     In sync . matches braid.toml\n")
        .run();
    let tmp = Test::with_tempdir(tmp)
        .demo()
        .current_dir_rel("work/proj")
        .arg("diff")
        .run();
    Test::with_tempdir(tmp)
        .demo()
        .current_dir_rel("work/proj")
        .arg("regen")
        .stderr("        Kept src/proj/model.py\n Regenerated . from demo (0 files changed)\n")
        .run();
}

#[test]
fn empty_target_folder_is_used() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("empty");
    fs::create_dir(&dir).unwrap();
    demo()
        .args(["new", dir.to_str().unwrap(), "-b", "demo", "--yes"])
        .run()
        .success();
    assert!(dir.join("braid.toml").is_file());
}

#[test]
fn template_error_names_the_file_and_line_and_leaves_nothing() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("t");
    braid()
        .args(["--blueprints", broken_fixtures().to_str().unwrap()])
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
        .code(2)
        .stderr_has("bad-template/files/oops.txt.j2:3: ")
        .stderr_has("undefined");
    assert!(!dir.exists());
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "no temp folder left behind"
    );
}

#[test]
fn rendered_paths_cannot_escape_the_target() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("inside");
    braid()
        .args(["--blueprints", broken_fixtures().to_str().unwrap()])
        .args(["new", dir.to_str().unwrap(), "-b", "escape", "--yes"])
        .run()
        .code(2)
        .stderr_has("leaves the project folder");
    braid()
        .args(["--blueprints", broken_fixtures().to_str().unwrap()])
        .args([
            "new",
            dir.to_str().unwrap(),
            "-b",
            "escape",
            "--yes",
            "--set",
            "where=/etc",
        ])
        .run()
        .code(2)
        .stderr_has("absolute");
    assert!(!dir.exists() && !tmp.path().join("outside").exists());
}

#[test]
fn failed_write_leaves_the_target_untouched() {
    // The parent is read-only: staging fails, and nothing appears.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if nix_is_root() {
            return check_failed_write_as_root();
        }
        let tmp = TempDir::new().unwrap();
        let parent = tmp.path().join("ro");
        fs::create_dir(&parent).unwrap();
        fs::set_permissions(&parent, fs::Permissions::from_mode(0o555)).unwrap();
        demo()
            .args(["new", parent.join("p").to_str().unwrap(), "-b", "demo", "--yes"])
            .run()
            .code(2);
        assert_eq!(fs::read_dir(&parent).unwrap().count(), 0);
        fs::set_permissions(&parent, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[cfg(unix)]
fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}

/// Root ignores permissions: make the target path's parent a file instead.
#[cfg(unix)]
fn check_failed_write_as_root() {
    let tmp = TempDir::new().unwrap();
    let blocker = tmp.path().join("file");
    fs::write(&blocker, "x").unwrap();
    demo()
        .args(["new", blocker.join("p").to_str().unwrap(), "-b", "demo", "--yes"])
        .run()
        .code(2);
    assert_eq!(fs::read_to_string(&blocker).unwrap(), "x");
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn user_blueprint_errors_name_file_and_line() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path();
    fs::create_dir_all(root.join("b1/files")).unwrap();
    fs::write(root.join("b1/files/x.txt"), "x").unwrap();
    let cases = [
        ("format = 2\nname = \"b1\"\nsummary = \"s\"\nversion = \"1\"\n[[question]]\nkey = \"a\"\ntype = \"strng\"\n", "blueprint.toml:6: question `a`: unknown type `strng`"),
        ("format = 2\nname = \"b1\"\nsummary = \"s\"\nversion = \"1\"\n[[question]]\nkey = \"a\"\ntype = \"choice\"\n", "blueprint.toml:6: question `a` of type choice needs `choices`"),
        ("format = 2\nname = \"b1\"\nsummary = \"s\"\nversion = \"1\"\n[[question]]\nkey = \"a\"\ntype = \"int\"\ndefault = \"x\"\n", "bad default"),
        ("format = 2\nname = \"b1\"\nsummary = \"s\"\nversion = \"1\"\n[[component]]\nuse = \"nope\"\n", "blueprint.toml:6: component `nope` not found"),
        ("format = 2\nname = \"b1\"\nsummary = \"s\"\nversion = \"1\"\npromt = 1\n", "unknown field `promt`"),
        ("format = 2\nname = \"other\"\nsummary = \"s\"\nversion = \"1\"\n", "must match its folder name"),
        ("name = \"b1\"\nsummary = \"s\"\nversion = \"1\"\n", "add `format = 2` at the top of blueprint.toml"),
        ("format = 2\nname = \"b1\"\nsummary = \"s\"\nversion = \"1\"\n[[question]]\nkey = \"a\"\ntype = \"string\"\nflag = \"yes\"\n", "not one of braid's own"),
    ];
    for (text, msg) in cases {
        fs::write(root.join("b1/blueprint.toml"), text).unwrap();
        braid()
            .args(["--blueprints", root.to_str().unwrap(), "show", "b1"])
            .run()
            .code(2)
            .stderr_has(msg);
    }
    braid()
        .args(["--blueprints", "/no/such/dir", "list"])
        .run()
        .code(2)
        .stderr_has("does not exist");
}
