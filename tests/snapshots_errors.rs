//! The error catalogue: one bad invocation per folder of
//! tests/fixtures/errors/, one snapshot each (exit code, stdout, stderr), as
//! minijinja drives its template tests with `insta::glob!`.
//!
//! A case folder holds `args.txt` (braid's arguments, one per line, exactly as
//! written) and any input files (a `braid.toml`, a blueprint folder, a busy
//! project folder...). The files are copied into an empty temp folder, braid
//! runs there with stdin not a terminal, and the run must leave nothing new
//! behind. Adding a case is adding a folder; then accept its snapshot
//! (docs/testing.md).

mod common;

use std::{fs, path::Path};

use common::*;

#[test]
fn error_catalogue() {
    insta::glob!("fixtures/errors/*", |case| {
        if !case.is_dir() {
            return;
        }
        let args =
            fs::read_to_string(case.join("args.txt")).unwrap_or_else(|e| panic!("{}/args.txt: {e}", case.display()));
        let mut test = Test::new().args(args.lines());
        let inputs = inputs(case);
        for (rel, bytes) in &inputs {
            test = test.write(rel, bytes);
        }
        let (tmp, run) = test.capture();
        assert_run_snapshot!("error", tmp.path(), run);
        let created: Vec<_> = tree(tmp.path())
            .into_iter()
            .map(|(path, _)| path)
            .filter(|path| !inputs.iter().any(|(rel, _)| rel == path))
            .collect();
        assert!(created.is_empty(), "{}: a failed run left {created:?}", case.display());
        assert_ne!(run.code, Some(0), "{}: not an error", case.display());
    });
}

/// Every file of a case folder but `args.txt`: (relative path, bytes), sorted.
fn inputs(case: &Path) -> Vec<(String, Vec<u8>)> {
    tree(case).into_iter().filter(|(path, _)| path != "args.txt").collect()
}
