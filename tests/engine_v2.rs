//! Blueprint format 2 through a user blueprint the engine has never seen
//! (tests/fixtures/engine/cafe): its own questions and shorthand flags, a
//! choice with a third value, derived names, `[[file]] when` rules, a shared
//! component with a `component.toml` that provides values. Nothing in braid
//! knows it; everything it needs is declared.

mod common;

use std::path::PathBuf;

use common::Test;

fn engine_fixtures() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/engine")
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_user_blueprint_is_generated_with_its_own_flags_only() {
    Test::new()
        .args(["--blueprints", &engine_fixtures(), "new", "order", "-b", "cafe"])
        .args([
            "--name",
            "flat-white",
            "--size",
            "large",
            "--decaf",
            "true",
            "--shots",
            "3",
        ])
        .stderr("     Created order from cafe 0.3.0 (5 files)\n\nNext steps:\n  cd order\n  brew --size large\n")
        .expect_file(
            "order/order.txt",
            "flat white: large, 3 shot(s)\n- decaf beans for flat white\n- a note\n",
        )
        .expect_file("order/large-only.txt", "for the large ones\n")
        .expect_file("order/decaf/notes.txt", "no caffeine\n")
        .expect_file("order/decaf/strong.txt", "strong\n")
        .expect_file("order/label.txt", "strong flat white\n")
        .expect_file(
            "order/braid.toml",
            "# The answers this repo was generated from. Edit them, then run `braid regen`\n\
             # to bring the repo in line; your own edits to the files are kept.\n\
             blueprint = \"cafe\"\n\n[answers]\nproject_name = \"flat-white\"\nsize = \"large\"\n\
             decaf = true\nshots = 3\n",
        )
        .run();
}

#[test]
fn file_rules_and_component_conditions_leave_out_what_the_answers_do_not_select() {
    Test::new()
        .args(["--blueprints", &engine_fixtures(), "new", "order", "-b", "cafe"])
        .args(["--name", "latte", "--size", "small", "--yes"])
        .stderr_any()
        .expect_file("order/order.txt", "latte: small, 1 shot(s)\n")
        .expect_no_file("order/large-only.txt")
        .expect_no_file("order/decaf")
        .expect_no_file("order/label.txt")
        .run();
    // decaf on, but one shot: the component is in, its strong.txt rule is not.
    Test::new()
        .args(["--blueprints", &engine_fixtures(), "new", "order", "-b", "cafe"])
        .args(["--name", "latte", "--decaf", "yes", "--yes"])
        .stderr_any()
        .expect_file("order/decaf/notes.txt", "no caffeine\n")
        .expect_no_file("order/decaf/strong.txt")
        .run();
}

/// A `when` reads derived names as well as answers: the lock component of a
/// dependency set (`gateway_deps == 'http-redis'`) is picked by one.
#[test]
fn component_and_file_conditions_read_derived_names() {
    Test::new()
        .args(["--blueprints", &engine_fixtures(), "new", "order", "-b", "cafe"])
        .args(["--name", "latte", "--decaf", "yes", "--shots", "4", "--yes"])
        .stderr_any()
        .expect_file("order/label.txt", "strong latte\n")
        .expect_file("order/decaf/strong.txt", "strong\n")
        .run();
}

/// Bug: a `when` that read a name nobody defines was undefined, hence
/// false, and its component silently left out.
#[test]
fn a_condition_reading_an_unknown_name_is_refused_when_the_blueprint_loads() {
    let manifest = "format = 2\nname = \"bad\"\nsummary = \"s\"\nversion = \"1.0.0\"\n\
                    [derive]\nstrength = \"mild\"\n\
                    [[question]]\nkey = \"project_name\"\ntype = \"string\"\n\
                    [[component]]\nsource = \"files\"\nwhen = \"strenght == 'mild'\"\n";
    let (_tmp, out) = Test::new()
        .write("bps/bad/blueprint.toml", manifest)
        .write("bps/bad/files/a.txt", "a\n")
        .args(["--blueprints", "bps", "new", "out", "-b", "bad", "--name", "x", "--yes"])
        .capture();
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "component bps/bad/files: `when` `strenght == 'mild'` reads `strenght`, which is neither a question nor a [derive] name (did you mean `strength`?)"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn a_flag_of_another_blueprint_is_refused_naming_this_ones() {
    Test::new()
        .args(["--blueprints", &engine_fixtures(), "new", "order", "-b", "cafe"])
        .args(["--name", "latte", "--gateway", "go", "--yes"])
        .status(2)
        .stderr(
            "error: --gateway is not a flag of blueprint `cafe`\n  \
             hint: its flags: --name, --size, --decaf, --shots; or `--set KEY=VALUE`\n",
        )
        .expect_no_file("order")
        .run();
}

#[test]
fn the_third_choice_is_checked_like_the_others() {
    Test::new()
        .args(["--blueprints", &engine_fixtures(), "new", "order", "-b", "cafe"])
        .args(["--name", "latte", "--size", "larg", "--yes"])
        .status(2)
        .stderr(
            "error: --size: `size` must be one of: small, medium, large; found `larg` (did you mean `large`?)\n  \
             hint: give one of: small, medium, large\n",
        )
        .run();
}

#[test]
fn help_and_completions_list_the_flags_of_user_blueprints() {
    let (_tmp, run) = Test::new()
        .args(["--blueprints", &engine_fixtures(), "new", "--help"])
        .stdout_any()
        .capture();
    for line in [
        "--size <CHOICE>            answers `size` (cafe): small, medium, large",
        "--shots <SHOTS>            answers `shots` (cafe)",
        "--gateway <CHOICE>         answers `gateway` (ml-gateway): go, node",
    ] {
        assert!(run.stdout.contains(line), "{line} missing from:\n{}", run.stdout);
    }
    let (_tmp, run) = Test::new()
        .args(["--blueprints", &engine_fixtures(), "completions", "bash"])
        .stdout_any()
        .capture();
    assert!(run.stdout.contains("--size") && run.stdout.contains("--transport"));
}

#[test]
fn regen_follows_a_changed_answer_through_the_file_rules() {
    let tmp = Test::new()
        .args(["--blueprints", &engine_fixtures(), "new", "order", "-b", "cafe"])
        .args(["--name", "latte", "--size", "large", "--yes"])
        .stderr_any()
        .expect_file("order/large-only.txt", "for the large ones\n")
        .run();
    let toml = tmp.path().join("order/braid.toml");
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace("size = \"large\"", "size = \"medium\"");
    std::fs::write(&toml, text).unwrap();
    Test::with_tempdir(tmp)
        .args(["--blueprints", &engine_fixtures(), "regen", "order"])
        .stderr("     Deleted large-only.txt\n     Updated order.txt\n Regenerated order from cafe (2 files changed)\n")
        .expect_no_file("order/large-only.txt")
        .expect_file("order/order.txt", "latte: medium, 1 shot(s)\n")
        .run();
}
