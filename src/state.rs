//! `.braid/state.json`: what braid wrote last time, byte for byte. It is the
//! base of regen's three-way merge, so it stores whole contents, not hashes.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::{
    error::Error,
    fsx::{Found, Repo},
    render::{check_state_path, FileSet},
};

pub const STATE_DIR: &str = ".braid";
pub const STATE_FILE: &str = ".braid/state.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Ownership {
    /// Kept in sync by regen, merging the user's edits.
    #[default]
    Managed,
    /// Written once by `new`; the user's from then on.
    Scaffold,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub ownership: Ownership,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
    /// The user deleted this managed file; regen keeps it deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(flatten)]
    pub content: Content,
}

impl FileRecord {
    /// The record of bytes braid writes.
    pub fn new(bytes: &[u8], ownership: Ownership, executable: bool) -> Self {
        FileRecord {
            ownership,
            executable,
            deleted: false,
            content: Content::from_bytes(bytes),
        }
    }
}

/// File contents as JSON can hold them: text as is, anything else in base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text { text: String },
    Binary { base64: String },
}

impl Content {
    pub fn from_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(s) => Content::Text { text: s.to_string() },
            Err(_) => Content::Binary {
                base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            },
        }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            Content::Text { text } => Ok(text.clone().into_bytes()),
            Content::Binary { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64)
                .map_err(|e| e.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub braid_version: String,
    pub blueprint: String,
    pub blueprint_version: String,
    /// The answers of the last render, to tell whether braid.toml changed since.
    pub answers: BTreeMap<String, serde_json::Value>,
    pub files: BTreeMap<String, FileRecord>,
    /// Files a regen left in conflict: with markers, or with braid's version
    /// beside them (`FILE.braid-new`). `check` and `regen` fail until resolved.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub conflicts: BTreeSet<String>,
}

/// Where braid writes its version of a file it could not merge.
pub fn beside(path: &str) -> String {
    format!("{path}.braid-new")
}

impl State {
    /// The state that records a render as written.
    pub fn for_render(
        blueprint: &str,
        blueprint_version: &str,
        answers: BTreeMap<String, serde_json::Value>,
        files: &FileSet,
    ) -> State {
        State {
            braid_version: env!("CARGO_PKG_VERSION").into(),
            blueprint: blueprint.into(),
            blueprint_version: blueprint_version.into(),
            answers,
            // A copy of every file: made in parallel (`par`).
            files: crate::par::map(&files.iter().collect::<Vec<_>>(), |(path, f)| {
                ((*path).clone(), FileRecord::new(&f.bytes, f.ownership, f.executable))
            })
            .into_iter()
            .collect(),
            conflicts: BTreeSet::new(),
        }
    }

    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out).expect("a Vec takes every byte");
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    /// The state as `to_json` has it, written as it is encoded: no copy of
    /// every file is held in memory first (for a new project, that copy
    /// cost more page faults than the encoding took).
    pub fn write_json(&self, mut w: impl std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut w, self)?;
        w.write_all(b"\n")
    }

    /// Parses a state and checks every path in it like a rendered path: a
    /// hostile `.braid/state.json` cannot point braid outside the repo or at
    /// `braid.toml`, `.braid/` or `.git/`.
    pub fn from_json(bytes: &[u8]) -> Result<State, String> {
        let state: State = serde_json::from_slice(bytes).map_err(|e| format!("it is not a braid state ({e})"))?;
        for path in state.files.keys().chain(&state.conflicts) {
            check_state_path(path)?;
        }
        Ok(state)
    }

    /// The state of the project in `repo`, if it has one.
    pub fn read(repo: &Repo) -> anyhow::Result<Option<State>> {
        let full = repo.full(STATE_FILE);
        let hint = "restore .braid/ from version control (it is meant to be committed)";
        match repo.read(STATE_FILE)? {
            Found::Missing => Ok(None),
            Found::Blocked(b) => Err(Error::target(format!("{}: {b}", full.display()), hint).into()),
            Found::File { bytes, .. } => State::from_json(&bytes)
                .map(Some)
                .map_err(|e| Error::target(format!("{} is damaged: {e}", full.display()), hint).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `to_json` (`write_json` into memory) is `serde_json`'s pretty form and
    /// a newline, byte for byte: the format every state file has had.
    #[test]
    fn the_state_json_is_serde_jsons_pretty_form_and_a_newline() {
        let mut files = FileSet::new();
        for (path, bytes, executable) in [
            ("a/b.txt", b"line\n\t\"x\"\\\n".to_vec(), false),
            ("bin/tool", vec![0xff, 0, 10], true),
        ] {
            let ownership = Ownership::Managed;
            files.insert(
                path.into(),
                crate::render::OutFile {
                    bytes,
                    executable,
                    ownership,
                },
            );
        }
        let answers = [("name".to_string(), serde_json::json!("x"))].into();
        let mut state = State::for_render("bp", "1.2.3", answers, &files);
        state.conflicts.insert("a/b.txt".into());
        let json = state.to_json();
        assert_eq!(json, serde_json::to_string_pretty(&state).unwrap() + "\n");
        assert_eq!(State::from_json(json.as_bytes()).unwrap(), state);
    }

    #[test]
    fn binary_and_text_round_trip() {
        for bytes in [b"hello\n".to_vec(), vec![0xff, 0x00, 0x10]] {
            let c = Content::from_bytes(&bytes);
            let json = serde_json::to_string(&c).unwrap();
            let back: Content = serde_json::from_str(&json).unwrap();
            assert_eq!(back.to_bytes().unwrap(), bytes);
        }
    }
}
