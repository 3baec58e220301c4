//! `.braid/state.json`: what braid wrote last time, byte for byte. It is the
//! base of regen's three-way merge, so it stores whole contents, not hashes.

use std::{collections::BTreeMap, path::Path};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

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
}

impl State {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("state serializes");
        s.push('\n');
        s
    }

    pub fn read(dir: &Path) -> Result<Option<State>, String> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{} is corrupt ({e}); restore it from git", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
