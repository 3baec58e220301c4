//! Property tests of the two rules that keep braid inside a project:
//! - a path read from `.braid/` is accepted only if it stays inside the repo
//!   and off `braid.toml`, `.braid/` and `.git/`;
//! - no read, write, rename or removal through `fsx::Repo` follows a link
//!   below the root, whatever the tree of folders, files and links.

#![cfg(unix)]

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::symlink,
    path::{Component, Path, PathBuf},
};

use braid::{
    fsx::{Found, Repo},
    render::check_state_path,
};
use proptest::prelude::*;

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("..".to_string()),
        Just(".".to_string()),
        Just(String::new()),
        Just(".git".to_string()),
        Just(".GIT".to_string()),
        Just("braid.toml".to_string()),
        Just("Braid.Toml".to_string()),
        Just(".braid".to_string()),
        Just("state.json".to_string()),
        Just("C:".to_string()),
        Just("a\\b".to_string()),
        Just("x\0y".to_string()),
        Just("...".to_string()),
        Just("..x".to_string()),
        Just(".gitignore".to_string()),
        "[a-z]{1,3}",
    ]
}

fn state_path() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(segment(), 1..5)).prop_map(|(abs, segs)| {
        let joined = segs.join("/");
        if abs {
            format!("/{joined}")
        } else {
            joined
        }
    })
}

/// Where `path` lands below a root, resolved lexically; None if it leaves.
fn lands(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn an_accepted_state_path_stays_inside_and_off_braids_and_gits_files(path in state_path()) {
        if check_state_path(&path).is_ok() {
            let landed = lands(&path);
            prop_assert!(landed.is_some(), "{path:?} leaves the repo");
            let landed = landed.unwrap();
            prop_assert_eq!(landed.to_str(), Some(path.as_str()), "{:?} is not in braid's one spelling", path);
            let segs: Vec<&str> = path.split('/').collect();
            prop_assert!(!path.eq_ignore_ascii_case("braid.toml"));
            prop_assert!(!segs[0].eq_ignore_ascii_case(".braid"));
            prop_assert!(!segs.iter().any(|s| s.eq_ignore_ascii_case(".git")));
            prop_assert!(!path.contains('\\') && !path.contains('\0') && !path.contains(':'));
        }
    }
}

/// One entry of a random tree below the repo.
#[derive(Debug, Clone)]
enum Node {
    Dir,
    File,
    /// A link to the outside folder, to an outside file, to a place inside, or nowhere.
    Link(u8),
}

fn tree() -> impl Strategy<Value = Vec<(Vec<u8>, Node)>> {
    let node = prop_oneof![Just(Node::Dir), Just(Node::File), (0u8..4).prop_map(Node::Link)];
    prop::collection::vec((prop::collection::vec(0u8..3, 1..4), node), 1..12)
}

fn name(path: &[u8]) -> String {
    path.iter()
        .map(|i| ["a", "b", "c"][*i as usize])
        .collect::<Vec<_>>()
        .join("/")
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walk(dir) {
        let meta = fs::symlink_metadata(&entry).unwrap();
        let bytes = if meta.is_file() {
            fs::read(&entry).unwrap()
        } else {
            Vec::new()
        };
        out.insert(entry.strip_prefix(dir).unwrap().to_path_buf(), bytes);
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        out.push(p.clone());
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&p));
        }
    }
    out
}

const SECRET: &[u8] = b"OUTSIDE SECRET";

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_repo_operation_follows_a_link_below_the_root(nodes in tree(), probes in prop::collection::vec(prop::collection::vec(0u8..3, 1..5), 1..8)) {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        let root = tmp.path().join("repo");
        fs::create_dir_all(outside.join("sub")).unwrap();
        fs::write(outside.join("sub/a"), SECRET).unwrap();
        fs::write(outside.join("a"), SECRET).unwrap();
        fs::create_dir_all(&root).unwrap();
        for (path, node) in &nodes {
            let full = root.join(name(path));
            if full.symlink_metadata().is_ok() || !full.parent().unwrap().is_dir() || full.parent().unwrap().is_symlink() {
                continue;
            }
            match node {
                Node::Dir => fs::create_dir(&full).unwrap(),
                Node::File => fs::write(&full, b"inside").unwrap(),
                Node::Link(0) => symlink(&outside, &full).unwrap(),
                Node::Link(1) => symlink(outside.join("a"), &full).unwrap(),
                Node::Link(2) => symlink(&root, &full).unwrap(),
                Node::Link(_) => symlink(tmp.path().join("nowhere"), &full).unwrap(),
            }
        }
        let before = snapshot(&outside);
        let repo = Repo::open(&root).unwrap();
        for probe in &probes {
            let rel = name(probe);
            if let Ok(Found::File { bytes, .. }) = repo.read(&rel) {
                prop_assert_ne!(bytes.as_slice(), SECRET, "read {} through a link", rel);
            }
            let parent = rel.rsplit_once('/').map_or("", |(p, _)| p);
            if let Ok(missing) = repo.missing_dirs(parent) {
                for d in &missing {
                    let _ = repo.mkdir(d);
                }
                let tmp_rel = if parent.is_empty() { ".braid-tmp-x".to_string() } else { format!("{parent}/.braid-tmp-x") };
                if repo.create(&tmp_rel, b"written", 0o644, false).is_ok() {
                    let _ = repo.rename(&tmp_rel, &rel);
                    let _ = repo.remove_file(&tmp_rel);
                }
            }
            let _ = repo.remove_file(&rel);
            repo.remove_empty_dirs(parent);
            repo.remove_stale_tmps(parent);
        }
        prop_assert_eq!(snapshot(&outside), before, "the outside folder changed");
        prop_assert!(root.is_dir(), "the root itself was removed");
    }
}
