//! One snapshot per ml-gateway combination of the tree `braid new` writes:
//! every path, sorted, with its mode, byte size and a short content hash, then
//! the whole text of the files a reader checks first. A refactor of the engine
//! or of the templates that claims "generated repos are byte-identical" keeps
//! these snapshots unchanged; any byte that moves changes a hash.
//!
//! When a generated file changes on purpose, re-accept: docs/testing.md.
#![cfg(unix)]

mod common;

use std::{fmt::Write as _, fs, os::unix::fs::PermissionsExt, path::Path};

use common::*;

/// The files whose whole text is in the snapshot.
const SHOWN: [&str; 3] = ["braid.toml", "Makefile", "docker-compose.yml"];

#[test]
fn generated_tree_for_each_gateway_and_transport() {
    for gateway in ["go", "node"] {
        for transport in ["http", "redis-streams"] {
            let tmp = Test::new()
                .args(["new", "app", "--yes", "--gateway", gateway, "--transport", transport])
                .stderr_any()
                .run();
            let report = tree_report(&tmp.path().join("app"));
            let mut settings = insta::Settings::clone_current();
            settings.set_description(format!(
                "braid new app --yes --gateway {gateway} --transport {transport}"
            ));
            settings.set_omit_expression(true);
            settings.bind(|| insta::assert_snapshot!(format!("tree_{gateway}_{transport}"), report));
        }
    }
}

/// `mode size hash path` for every file under `root`, then the files in [`SHOWN`].
fn tree_report(root: &Path) -> String {
    let mut out = String::from("mode   bytes  fnv1a-64          path\n");
    for (path, bytes) in tree(root) {
        let mode = fs::symlink_metadata(root.join(&path)).unwrap().permissions().mode() & 0o7777;
        writeln!(out, "{mode:04o} {:>7}  {:016x}  {path}", bytes.len(), fnv1a(&bytes)).unwrap();
    }
    for name in SHOWN {
        let text = fs::read_to_string(root.join(name)).unwrap();
        write!(out, "\n===== {name} =====\n{text}").unwrap();
    }
    out
}

/// FNV-1a, 64 bits: short, stable across Rust versions and platforms (std's
/// `DefaultHasher` is neither), and enough to see that a file changed.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn fnv1a_matches_the_reference_values() {
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
}
