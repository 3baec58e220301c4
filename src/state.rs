//! `.braid/state.json`: what braid wrote last time, byte for byte. It is the
//! base of regen's three-way merge, so it stores whole contents, not hashes.

use std::{
    borrow::Cow,
    collections::{BTreeMap, BTreeSet},
};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::{
    error::Error,
    fsx::{Found, Repo},
    render::{check_state_path, FileSet, OutFile},
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

    fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            ownership: self.ownership,
            executable: self.executable,
            deleted: self.deleted,
            content: match &self.content {
                Content::Text { text } => ContentRef::Text(text),
                Content::Binary { base64 } => ContentRef::Base64(Cow::Borrowed(base64)),
            },
        }
    }
}

/// A [`FileRecord`] as `write_json` reads it, borrowed: a rendered file is
/// recorded from its own bytes, with no copy made for the state.
struct RecordRef<'a> {
    ownership: Ownership,
    executable: bool,
    deleted: bool,
    content: ContentRef<'a>,
}

enum ContentRef<'a> {
    Text(&'a str),
    Base64(Cow<'a, str>),
}

impl<'a> RecordRef<'a> {
    /// The record `FileRecord::new` makes of a rendered file.
    fn of_render(file: &'a OutFile) -> Self {
        RecordRef {
            ownership: file.ownership,
            executable: file.executable,
            deleted: false,
            content: match std::str::from_utf8(&file.bytes) {
                Ok(text) => ContentRef::Text(text),
                Err(_) => ContentRef::Base64(Cow::Owned(
                    base64::engine::general_purpose::STANDARD.encode(&file.bytes),
                )),
            },
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
    pub fn write_json(&self, w: impl std::io::Write) -> std::io::Result<()> {
        self.write_json_records(self.files.iter().map(|(path, r)| (path.as_str(), r.as_ref())), w)
    }

    /// `write_json` of this state with a record of each of `files` added
    /// (replacing any it has of the same path), the records `for_render`
    /// makes. They are encoded from the files themselves: `new` writes its
    /// state so, where copying every file into the state first cost more
    /// than encoding it.
    pub fn write_json_recording(&self, files: &FileSet, w: impl std::io::Write) -> std::io::Result<()> {
        let mut records: Vec<(&str, RecordRef<'_>)> = self
            .files
            .iter()
            .filter(|(path, _)| !files.contains_key(*path))
            .map(|(path, r)| (path.as_str(), r.as_ref()))
            .chain(files.iter().map(|(path, f)| (path.as_str(), RecordRef::of_render(f))))
            .collect();
        // The order of the map `files` would be: a `String` sorts as its `str`.
        records.sort_unstable_by(|a, b| a.0.cmp(b.0));
        self.write_json_records(records.into_iter(), w)
    }

    /// The state with these file records in place of its own.
    ///
    /// The bytes are `serde_json::to_writer_pretty`'s and a newline (a test
    /// holds them to it), written here by hand: the state is mostly file
    /// contents, and `serde_json` escapes a string a byte at a time (a tenth of
    /// `braid new`'s time), where `escape_into` skips eight at a time.
    fn write_json_records<'a>(
        &self,
        records: impl ExactSizeIterator<Item = (&'a str, RecordRef<'a>)>,
        w: impl std::io::Write,
    ) -> std::io::Result<()> {
        let mut out = JsonOut::new(w);
        out.raw(b"{\n  \"braid_version\": ")?;
        out.str(&self.braid_version)?;
        out.raw(b",\n  \"blueprint\": ")?;
        out.str(&self.blueprint)?;
        out.raw(b",\n  \"blueprint_version\": ")?;
        out.str(&self.blueprint_version)?;
        out.raw(b",\n  \"answers\": ")?;
        out.map(self.answers.iter().map(|(k, v)| (k.as_str(), v)), |out, value| {
            // An answer is small: serde_json's own pretty form, indented to
            // its depth (a JSON string holds no raw newline to be caught).
            let text = serde_json::to_string_pretty(value)?;
            out.raw(text.replace('\n', "\n    ").as_bytes())
        })?;
        out.raw(b",\n  \"files\": ")?;
        out.map(records, |out, record| {
            out.raw(b"{\n      \"ownership\": ")?;
            out.raw(serde_json::to_string(&record.ownership)?.as_bytes())?;
            if record.executable {
                out.raw(b",\n      \"executable\": true")?;
            }
            if record.deleted {
                out.raw(b",\n      \"deleted\": true")?;
            }
            match &record.content {
                ContentRef::Text(text) => {
                    out.raw(b",\n      \"text\": ")?;
                    out.str(text)?;
                }
                ContentRef::Base64(base64) => {
                    out.raw(b",\n      \"base64\": ")?;
                    out.str(base64)?;
                }
            }
            out.raw(b"\n    }")
        })?;
        if !self.conflicts.is_empty() {
            out.raw(b",\n  \"conflicts\": [")?;
            for (i, path) in self.conflicts.iter().enumerate() {
                out.raw(if i == 0 { b"\n    " } else { b",\n    " })?;
                out.str(path)?;
            }
            out.raw(b"\n  ]")?;
        }
        out.raw(b"\n}\n")?;
        out.w.write_all(&out.buf)
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

/// The state's JSON on its way to `w`, through a buffer the escaping writes
/// into directly: a call to `w` for each escape (a line of text holds one
/// or two) cost more than the escaping.
struct JsonOut<W> {
    buf: Vec<u8>,
    w: W,
}

impl<W: std::io::Write> JsonOut<W> {
    /// What the buffer holds before it goes to `w`.
    const FLUSH_AT: usize = 1 << 16;

    fn new(w: W) -> Self {
        // Room for a full buffer and the escaped piece of a string that filled it.
        let buf = Vec::with_capacity(2 * Self::FLUSH_AT);
        JsonOut { buf, w }
    }

    fn raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(bytes);
        self.flush_if_full()
    }

    fn flush_if_full(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= Self::FLUSH_AT {
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// A JSON string as `serde_json` writes it: `"` and `\` escaped, the
    /// control characters as `\b \t \n \f \r` or `\u00xx`, everything
    /// else as it is. A long one goes through the buffer a piece at a time.
    fn str(&mut self, s: &str) -> std::io::Result<()> {
        self.buf.push(b'"');
        for piece in s.as_bytes().chunks(Self::FLUSH_AT / 4) {
            escape_into(&mut self.buf, piece);
            self.flush_if_full()?;
        }
        self.buf.push(b'"');
        Ok(())
    }

    /// A map at depth 1 of the state, in `serde_json`'s pretty form; `value`
    /// writes each value at depth 2.
    fn map<'a, V>(
        &mut self,
        entries: impl ExactSizeIterator<Item = (&'a str, V)>,
        value: impl Fn(&mut Self, &V) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        if entries.len() == 0 {
            return self.raw(b"{}");
        }
        for (i, (key, v)) in entries.enumerate() {
            self.raw(if i == 0 { b"{\n    " } else { b",\n    " })?;
            self.str(key)?;
            self.raw(b": ")?;
            value(self, &v)?;
        }
        self.raw(b"\n  }")
    }
}

/// `bytes` escaped for a JSON string, appended to `out`.
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 8);
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time, copied whole (one store), up to the next
        // byte to escape: the copied bytes from that one on are taken back.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let chunk: [u8; 8] = chunk.try_into().expect("eight bytes");
            out.extend_from_slice(&chunk);
            let special = special_bytes(u64::from_le_bytes(chunk));
            if special == 0 {
                i += 8;
                continue;
            }
            let plain = special.trailing_zeros() as usize / 8;
            out.truncate(out.len() - 8 + plain);
            i += plain;
        }
        let byte = bytes[i];
        i += 1;
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let (high, low) = (HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]);
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', high, low]);
            }
            _ => out.push(byte),
        }
    }
}

/// The high bit of each byte of `word` (little-endian) that JSON escapes: below
/// 0x20, `"` or `\`. The "has zero byte" test of Bit Twiddling Hacks: a bit
/// above the lowest set one may be false, the lowest one is exact.
fn special_bytes(word: u64) -> u64 {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |v: u64, n: u8| v.wrapping_sub(LOW * u64::from(n)) & !v & HIGH;
    below(word, 0x20) | below(word ^ (LOW * u64::from(b'"')), 1) | below(word ^ (LOW * u64::from(b'\\')), 1)
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

    /// `write_json` by hand is `serde_json`'s pretty form for every shape a
    /// state takes: each escape at every offset of the eight-byte scan,
    /// non-ASCII text, empty maps, every kind of answer, the optional fields.
    #[test]
    fn the_hand_written_json_is_serde_jsons_for_every_shape() {
        let mut texts: Vec<String> = vec![
            String::new(),
            "é€😀 plain\u{7f}".into(),
            "\"\\\n\u{0}\u{1f}ab\u{8}\u{c}\r\t\u{1b}x".repeat(3),
            // Longer than a piece of the buffer, and than the buffer.
            "line \"é\"\t\u{1}\n".repeat(9000),
        ];
        for c in (0u8..0x80).map(char::from).chain(['é', '\u{2028}']) {
            for offset in 0..18 {
                let mut t = "x".repeat(offset);
                t.push(c);
                t.push_str(&"y".repeat(17 - offset));
                texts.push(t);
            }
        }
        let check = |state: &State| {
            assert_eq!(state.to_json(), serde_json::to_string_pretty(state).unwrap() + "\n");
        };
        let mut files = FileSet::new();
        for (i, t) in texts.iter().enumerate() {
            files.insert(
                format!("{i}/{t}"),
                crate::render::OutFile {
                    bytes: t.as_bytes().to_vec(),
                    executable: i % 3 == 0,
                    ownership: if i % 2 == 0 {
                        Ownership::Managed
                    } else {
                        Ownership::Scaffold
                    },
                },
            );
        }
        files.insert(
            "bin".into(),
            crate::render::OutFile {
                bytes: vec![0xff, 0, b'"'],
                executable: false,
                ownership: Ownership::Managed,
            },
        );
        let answers: BTreeMap<String, serde_json::Value> = [
            ("a\"b", serde_json::json!("x\ny")),
            ("empty", serde_json::json!([])),
            ("flag", serde_json::json!(true)),
            ("list", serde_json::json!(["a", "b\t"])),
            ("nested", serde_json::json!({"k": [1, {"z": null}], "e": {}})),
            ("num", serde_json::json!(-1.5)),
            ("port", serde_json::json!(8000)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut state = State::for_render("bp\u{1}", "1.0", answers.clone(), &files);
        check(&state);
        // The records `write_json_recording` adds are those of `for_render`,
        // in the place of any of the same path.
        let recorded = |state: &State, files: &FileSet| {
            let mut out = Vec::new();
            state.write_json_recording(files, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let bare = State::for_render("bp\u{1}", "1.0", answers, &FileSet::new());
        assert_eq!(recorded(&bare, &files), state.to_json());
        let (some, others): (FileSet, FileSet) = files.clone().into_iter().partition(|(p, _)| p.len() % 2 == 0);
        let mut older = bare.clone();
        for (path, f) in files.iter().step_by(3) {
            older.files.insert(
                path.clone(),
                FileRecord::new(b"old", Ownership::Scaffold, !f.executable),
            );
        }
        let mut expected = older.clone();
        expected
            .files
            .extend(State::for_render("", "", BTreeMap::new(), &some).files);
        assert_eq!(recorded(&older, &some), expected.to_json());
        assert!(!others.is_empty() && !some.is_empty());
        state.files.values_mut().step_by(4).for_each(|r| r.deleted = true);
        state.conflicts.extend(texts.iter().take(40).cloned());
        check(&state);
        check(&State::for_render("bp", "1", BTreeMap::new(), &FileSet::new()));
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
