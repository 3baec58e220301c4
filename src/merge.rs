//! Three-way text merge that writes what `git merge-file` writes, byte for byte.
//!
//! `merge(base, ours, theirs)` behaves like
//! `git merge-file -p --diff-algorithm=histogram -L 'yours (on disk)' -L base -L 'braid (new render)' ours base theirs`:
//! the same diff (git's histogram diff, with its fallback to git's Myers diff
//! and git's slider compaction), the same merge rules (git's "zealous alnum"
//! level: identical changes merge cleanly, conflicts are narrowed to the lines
//! that really differ, conflicts at most three lines apart or separated only by
//! lines without a letter or digit are joined) and the same output (conflict
//! markers of size 7, CRLF markers in CRLF files, a newline added after a
//! conflicting side whose last line had none).
//!
//! One deliberate difference: where git's histogram diff goes quadratic (a
//! large file whose common runs are all short, e.g. a line inserted after every
//! other line: git needs 11-13 s for one such 60,000-line diff), braid stops
//! after a bounded amount of work and redoes the whole merge with git's Myers
//! diff, so the output is then exactly `git merge-file`'s default output.
//!
//! It is an independent Rust implementation of those rules, checked against
//! git itself by `tests/merge_git.rs`; docs/merge.md says how and what it
//! covers. Why not the `gix-merge` crate: its text merge is not byte-identical
//! to git's (it lists diverging cases in its own test suite, and a random
//! differential run here disagreed with `git merge-file` in about one case in
//! ten), and it pulls in some 90 crates.

// Diff arithmetic as xdiff does it: signed line indices and diagonals, all
// bounded by a file's line count (far below 2^31), so the casts between them
// cannot truncate or wrap; the two long functions are git's two passes,
// kept whole to stay comparable with their model.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::too_many_lines
)]

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

/// The conflict label of the user's side (the file on disk).
pub const OURS_LABEL: &str = "yours (on disk)";
/// The conflict label of braid's side (the new render).
pub const THEIRS_LABEL: &str = "braid (new render)";

/// The outcome of a three-way merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged {
    /// merged without overlap
    Clean(Vec<u8>),
    /// overlapping changes, written with git-style markers `<<<<<<< yours (on disk)` / `=======` /
    /// `>>>>>>> braid (new render)` (marker size 7, conflict style "merge", like
    /// `git merge-file -L 'yours (on disk)' -L base -L 'braid (new render)'`)
    Conflict(Vec<u8>),
    /// one side is not UTF-8 text (contains NUL or invalid UTF-8): cannot be merged
    Binary,
}

/// Merges the user's edits (`ours`, relative to `base`) with braid's new
/// render (`theirs`, relative to the same `base`), as
/// `git merge-file --diff-algorithm=histogram` does (or, on the inputs where that
/// diff would go quadratic, as plain `git merge-file` does).
pub fn merge(base: &[u8], ours: &[u8], theirs: &[u8]) -> Merged {
    if [base, ours, theirs].iter().any(|side| !is_text(side)) {
        return Merged::Binary;
    }
    let outcome = merge_with(base, ours, theirs, &Options::default());
    if outcome.conflicts == 0 {
        Merged::Clean(outcome.bytes)
    } else {
        Merged::Conflict(outcome.bytes)
    }
}

/// Lines that are conflict markers braid writes (start with "<<<<<<< yours (on disk)" or
/// ">>>>>>> braid (new render)", or a line that is exactly "=======" between them). True when a
/// file still holds an unresolved braid conflict.
///
/// A lone `=======` (a Markdown or reStructuredText underline) is not a marker: only the
/// labelled opening and closing lines, which braid alone writes, count.
pub fn has_markers(bytes: &[u8]) -> bool {
    let open = format!("<<<<<<< {OURS_LABEL}");
    let close = format!(">>>>>>> {THEIRS_LABEL}");
    bytes
        .split(|&b| b == b'\n')
        .any(|line| line.starts_with(open.as_bytes()) || line.starts_with(close.as_bytes()))
}

/// For structured files judged by the path's extension (.json, .yaml/.yml, .toml): Err(message)
/// when `bytes` does not parse; Ok(()) for other extensions. Used after a clean merge: a merged
/// structured file that no longer parses becomes a conflict.
///
/// YAML is checked with `saphyr-parser`: the event parser of the maintained successor of
/// `yaml-rust`/`yaml-rust2` (`serde_yaml` is deprecated), YAML 1.2, pure Rust, with no dependency
/// braid lacks but `arraydeque`. Checking needs no loader: running the events to the end of the
/// stream finds every syntax error, and streams of several documents are accepted.
pub fn check_structured(path: &str, bytes: &[u8]) -> Result<(), String> {
    let ext = std::path::Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    // Editors may keep a UTF-8 byte order mark; it is no syntax error.
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let text = || std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"));
    match ext.as_deref() {
        Some("json") => serde_json::from_slice::<serde_json::Value>(bytes)
            .map(drop)
            .map_err(|e| format!("invalid JSON: {e}")),
        Some("toml") => toml::from_str::<toml::Table>(text()?)
            .map(drop)
            .map_err(|e| format!("invalid TOML: {}", e.to_string().trim_end())),
        Some("yaml" | "yml") => check_yaml(text()?),
        _ => Ok(()),
    }
}

/// YAML that parses, with no mapping holding a key twice: a line merge that
/// moves a key into a neighbouring block (an edit inside a block the render
/// removed) gives a duplicate, which YAML forbids but parsers read silently.
fn check_yaml(text: &str) -> Result<(), String> {
    use saphyr_parser::Event;
    /// For each open collection: a mapping's keys so far and whether the next node is a key.
    enum Open {
        Map(std::collections::HashSet<String>, bool),
        Seq,
    }
    let mut open: Vec<Open> = Vec::new();
    for event in saphyr_parser::Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| format!("invalid YAML: {e}"))?;
        let starts_node = matches!(
            event,
            Event::Scalar(..) | Event::Alias(_) | Event::MappingStart(..) | Event::SequenceStart(..)
        );
        if starts_node {
            if let Some(Open::Map(keys, expect_key)) = open.last_mut() {
                if *expect_key {
                    if let Event::Scalar(key, ..) = &event {
                        if !keys.insert(key.to_string()) {
                            return Err(format!(
                                "invalid YAML: line {}: the key `{key}` appears twice in one mapping",
                                span.start.line()
                            ));
                        }
                    }
                }
                *expect_key = !*expect_key;
            }
        }
        match event {
            Event::MappingStart(..) => open.push(Open::Map(std::collections::HashSet::new(), true)),
            Event::SequenceStart(..) => open.push(Open::Seq),
            Event::MappingEnd | Event::SequenceEnd => {
                open.pop();
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// The line diff the merge runs on. Exposed for the differential tests against git.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// git's `--diff-algorithm=histogram` (braid's choice).
    Histogram,
    /// git's default `--diff-algorithm=myers`.
    Myers,
}

/// How hard the merge tries to shrink conflicts. Exposed for the differential tests.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `XDL_MERGE_ZEALOUS`: what `git merge` (the ort strategy) uses.
    Zealous,
    /// `XDL_MERGE_ZEALOUS_ALNUM`: what `git merge-file` uses (braid's choice).
    ZealousAlnum,
}

/// Knobs of [`merge_with`]. Exposed for the differential tests.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub algorithm: Algorithm,
    /// Histogram only: stop a merge whose histogram diffs pass a work budget and redo it all with
    /// Myers (braid's choice: see docs/merge.md). `false` is git exactly.
    pub bounded: bool,
    pub level: Level,
    pub ours_label: &'a str,
    pub theirs_label: &'a str,
}

impl Default for Options<'static> {
    fn default() -> Self {
        Options {
            algorithm: Algorithm::Histogram,
            bounded: true,
            level: Level::ZealousAlnum,
            ours_label: OURS_LABEL,
            theirs_label: THEIRS_LABEL,
        }
    }
}

/// The merged bytes and how many conflicts they hold (git merge-file's exit code, uncapped).
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub bytes: Vec<u8>,
    pub conflicts: usize,
    /// The histogram merge passed its work budget and was redone with Myers.
    pub fell_back_to_myers: bool,
}

/// How many lines a bounded histogram merge may scan before it is redone with Myers: far above
/// what ordinary edits cost (a few passes over the files), far below the quadratic cost git's
/// histogram diff reaches when every common run is short (a line inserted after every other
/// line of a large file: 12 s per diff in git for 60,000 lines).
fn histogram_budget(lines: usize) -> u64 {
    BUDGET_BASE + BUDGET_PER_LINE * lines as u64
}

/// The merge with its knobs, on any bytes (no binary check). Exposed for the differential tests.
#[doc(hidden)]
pub fn merge_with(base: &[u8], ours: &[u8], theirs: &[u8], opts: &Options) -> Outcome {
    let lines = [split_lines(base), split_lines(ours), split_lines(theirs)];
    let mut interner: HashMap<&[u8], u32, BuildHasherDefault<LineHasher>> = HashMap::default();
    let ids: Vec<Vec<u32>> = lines
        .iter()
        .map(|side| {
            side.iter()
                .map(|line| {
                    let next = interner.len() as u32;
                    *interner.entry(line).or_insert(next)
                })
                .collect()
        })
        .collect();
    let files = Files {
        base: &lines[0],
        ours: &lines[1],
        theirs: &lines[2],
        ours_ids: &ids[1],
        theirs_ids: &ids[2],
    };
    let budget = (opts.algorithm == Algorithm::Histogram && opts.bounded)
        .then(|| histogram_budget(lines.iter().map(Vec::len).sum()));
    let mut engine = Engine::new(opts.algorithm, interner.len(), budget);
    if let Some(outcome) = merge_files(&files, &ids, &mut engine, (ours, theirs), opts) {
        return outcome;
    }
    let mut engine = Engine::new(Algorithm::Myers, interner.len(), None);
    let outcome = merge_files(&files, &ids, &mut engine, (ours, theirs), opts);
    Outcome {
        fell_back_to_myers: true,
        ..outcome.expect("Myers has no budget")
    }
}

/// The merge proper; `None` when the engine's work budget ran out.
fn merge_files(
    files: &Files,
    ids: &[Vec<u32>],
    engine: &mut Engine,
    (ours, theirs): (&[u8], &[u8]),
    opts: &Options,
) -> Option<Outcome> {
    let script_ours = engine.diff(&ids[0], &ids[1])?;
    let script_theirs = engine.diff(&ids[0], &ids[2])?;
    let verbatim = |bytes: &[u8]| Outcome {
        bytes: bytes.to_vec(),
        conflicts: 0,
        fell_back_to_myers: false,
    };
    if script_ours.is_empty() {
        return Some(verbatim(theirs));
    }
    if script_theirs.is_empty() {
        return Some(verbatim(ours));
    }
    let hunks = merge_scripts(&script_ours, &script_theirs, files, engine, opts.level)?;
    let conflicts = hunks.iter().filter(|h| h.mode == Mode::Conflict).count();
    Some(Outcome {
        bytes: write_merged(&hunks, files, opts),
        conflicts,
        fell_back_to_myers: false,
    })
}

/// Lines with their terminators; a last line without `\n` is a line of its own (git's records).
fn split_lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

/// A fast hasher for interning lines (FNV-1a style, over 8-byte words). Colliding lines only
/// cost time, never change the result, so no DoS-resistant hashing is needed.
#[derive(Default)]
struct LineHasher(u64);

impl Hasher for LineHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0 ^ 0xcbf2_9ce4_8422_2325;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            h = (h ^ word).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
        }
        for &b in chunks.remainder() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

// ---------------------------------------------------------------------------
// The line diff: git's xdiff, reimplemented.
// ---------------------------------------------------------------------------

/// One change of an edit script: `chg1` lines at `i1` of the old file became `chg2` lines at
/// `i2` of the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Change {
    i1: i64,
    i2: i64,
    chg1: i64,
    chg2: i64,
}

/// Changed-line flags with a `false` sentinel on either side: index `i` lives at `i + 1`.
struct Flags(Vec<bool>);

impl Flags {
    fn new(n: usize) -> Self {
        Flags(vec![false; n + 2])
    }
    fn len(&self) -> i64 {
        self.0.len() as i64 - 2
    }
    fn get(&self, i: i64) -> bool {
        usize::try_from(i + 1)
            .ok()
            .and_then(|k| self.0.get(k))
            .copied()
            .unwrap_or(false)
    }
    fn set(&mut self, i: i64, v: bool) {
        self.0[(i + 1) as usize] = v;
    }
    fn inner(&mut self) -> &mut [bool] {
        let n = self.0.len() - 1;
        &mut self.0[1..n]
    }
}

const MAX_COST_MIN: i64 = 256;
const HEUR_MIN_COST: i64 = 256;
const SNAKE_CNT: i64 = 20;
const K_HEUR: i64 = 4;
const KPDIS_RUN: i64 = 4;
const MAX_EQLIMIT: i64 = 1024;
const SIMSCAN_WINDOW: i64 = 100;
const MAX_CHAIN_LENGTH: u32 = 64;
const BUDGET_BASE: u64 = 1_000_000;
const BUDGET_PER_LINE: u64 = 16;
/// A histogram step on a window of at least this many lines that leaves a sub-window within
/// 1/64 of its size is a stall; past `MAX_STALLS` of them a bounded merge is redone with Myers.
const STALL_WINDOW: u64 = 4096;
const MAX_STALLS: u32 = 8;

/// git's integer square root approximation.
fn bogosqrt(mut n: i64) -> i64 {
    let mut i = 1;
    while n > 0 {
        i <<= 1;
        n >>= 2;
    }
    i
}

/// Scratch space shared by the diffs of one merge.
struct Engine {
    algorithm: Algorithm,
    /// Myers: occurrences of each line in the old and the new file.
    count1: Vec<u32>,
    count2: Vec<u32>,
    /// Histogram: the record (1-based) of each line in the current window, 0 for none.
    record_of: Vec<u32>,
    /// Histogram: lines scanned so far, and how many may be; steps that barely shrank a large
    /// window (the sign of git's histogram going quadratic).
    work: u64,
    budget: Option<u64>,
    stalls: u32,
}

impl Engine {
    fn new(algorithm: Algorithm, distinct_lines: usize, budget: Option<u64>) -> Self {
        Engine {
            algorithm,
            count1: vec![0; distinct_lines],
            count2: vec![0; distinct_lines],
            record_of: vec![0; distinct_lines],
            work: 0,
            budget,
            stalls: 0,
        }
    }

    /// The edit script from `a` to `b` (line ids), as git's `xdl_diff` computes it; `None` when
    /// the work budget ran out.
    fn diff(&mut self, a: &[u32], b: &[u32]) -> Option<Vec<Change>> {
        let mut changed_a = Flags::new(a.len());
        let mut changed_b = Flags::new(b.len());
        match self.algorithm {
            Algorithm::Myers => self.myers(a, b, changed_a.inner(), changed_b.inner()),
            Algorithm::Histogram => self.histogram(a, b, changed_a.inner(), changed_b.inner())?,
        }
        compact(a, &mut changed_a, &mut changed_b);
        compact(b, &mut changed_b, &mut changed_a);
        Some(build_script(&changed_a, &changed_b))
    }

    /// git's Myers diff with its preparation: trimming the common ends, discarding lines that
    /// have no match on the other side (and runs of lines with too many), then the
    /// divide-and-conquer middle-snake search with its cost heuristics.
    fn myers(&mut self, a: &[u32], b: &[u32], changed_a: &mut [bool], changed_b: &mut [bool]) {
        let (n1, n2) = (a.len() as i64, b.len() as i64);
        for &x in a {
            self.count1[x as usize] += 1;
        }
        for &x in b {
            self.count2[x as usize] += 1;
        }

        let lim = n1.min(n2);
        let mut start = 0;
        while start < lim && a[start as usize] == b[start as usize] {
            start += 1;
        }
        let mut tail = 0;
        while tail < lim - start && a[(n1 - 1 - tail) as usize] == b[(n2 - 1 - tail) as usize] {
            tail += 1;
        }
        let (end1, end2) = (n1 - tail - 1, n2 - tail - 1);

        let classify = |side: &[u32], n: i64, end: i64, other_count: &[u32]| {
            let mlim = bogosqrt(n).min(MAX_EQLIMIT);
            let mut dis = vec![0u8; side.len()];
            for i in start..=end {
                let nm = i64::from(other_count[side[i as usize] as usize]);
                dis[i as usize] = if nm == 0 {
                    0
                } else if nm >= mlim {
                    2
                } else {
                    1
                };
            }
            dis
        };
        let dis1 = classify(a, n1, end1, &self.count2);
        let dis2 = classify(b, n2, end2, &self.count1);
        let keep = |side: &[u32], dis: &[u8], end: i64, changed: &mut [bool]| {
            let (mut index, mut ids) = (Vec::new(), Vec::new());
            for i in start..=end {
                let d = dis[i as usize];
                if d == 1 || (d == 2 && !clean_mmatch(dis, i, start, end)) {
                    index.push(i as usize);
                    ids.push(side[i as usize]);
                } else {
                    changed[i as usize] = true;
                }
            }
            (index, ids)
        };
        let (index1, ids1) = keep(a, &dis1, end1, changed_a);
        let (index2, ids2) = keep(b, &dis2, end2, changed_b);

        for &x in a {
            self.count1[x as usize] = 0;
        }
        for &x in b {
            self.count2[x as usize] = 0;
        }

        let (nreff1, nreff2) = (ids1.len() as i64, ids2.len() as i64);
        let ndiags = nreff1 + nreff2 + 3;
        let mut kv = Kv {
            v: vec![0; (2 * ndiags + 2) as usize],
            fbase: nreff2 + 1,
            bbase: ndiags + nreff2 + 1,
        };
        let mxcost = bogosqrt(ndiags).max(MAX_COST_MIN);
        // Boxes still to compare; their order does not matter (they mark disjoint lines).
        let mut boxes = vec![(0, nreff1, 0, nreff2, false)];
        while let Some((mut off1, mut lim1, mut off2, mut lim2, need_min)) = boxes.pop() {
            while off1 < lim1 && off2 < lim2 && ids1[off1 as usize] == ids2[off2 as usize] {
                off1 += 1;
                off2 += 1;
            }
            while off1 < lim1 && off2 < lim2 && ids1[(lim1 - 1) as usize] == ids2[(lim2 - 1) as usize] {
                lim1 -= 1;
                lim2 -= 1;
            }
            if off1 == lim1 {
                for k in off2..lim2 {
                    changed_b[index2[k as usize]] = true;
                }
            } else if off2 == lim2 {
                for k in off1..lim1 {
                    changed_a[index1[k as usize]] = true;
                }
            } else {
                let s = split(&ids1, &ids2, (off1, lim1, off2, lim2), &mut kv, need_min, mxcost);
                boxes.push((s.i1, lim1, s.i2, lim2, s.min_hi));
                boxes.push((off1, s.i1, off2, s.i2, s.min_lo));
            }
        }
    }

    /// git's histogram diff (from JGit): split at the longest common run of the rarest lines,
    /// recurse on both sides; a window whose common lines are all too frequent goes to Myers.
    fn histogram(&mut self, a: &[u32], b: &[u32], changed_a: &mut [bool], changed_b: &mut [bool]) -> Option<()> {
        // Windows still to diff, as 1-based (line1, count1, line2, count2); order does not matter.
        let mut windows = vec![(1u32, a.len() as u32, 1u32, b.len() as u32)];
        while let Some((mut line1, mut count1, mut line2, mut count2)) = windows.pop() {
            loop {
                if count1 == 0 {
                    changed_b[(line2 - 1) as usize..(line2 - 1 + count2) as usize].fill(true);
                    break;
                }
                if count2 == 0 {
                    changed_a[(line1 - 1) as usize..(line1 - 1 + count1) as usize].fill(true);
                    break;
                }
                let (r1, r2) = (
                    (line1 - 1) as usize..(line1 - 1 + count1) as usize,
                    (line2 - 1) as usize..(line2 - 1 + count2) as usize,
                );
                self.work += u64::from(count1) + u64::from(count2);
                if self.budget.is_some_and(|budget| self.work > budget) {
                    return None;
                }
                match self.find_lcs(a, b, (line1, count1, line2, count2)) {
                    Lcs::Fallback => {
                        let (sa, sb) = (&a[r1.clone()], &b[r2.clone()]);
                        self.myers(sa, sb, &mut changed_a[r1], &mut changed_b[r2]);
                        break;
                    }
                    Lcs::None => {
                        changed_a[r1].fill(true);
                        changed_b[r2].fill(true);
                        break;
                    }
                    Lcs::Found(lcs) => {
                        if self.budget.is_some() {
                            let w = u64::from(count1) + u64::from(count2);
                            let left = u64::from(lcs.begin1 - line1) + u64::from(lcs.begin2 - line2);
                            let right = w - left - u64::from(lcs.end1 - lcs.begin1 + 1) * 2;
                            if w >= STALL_WINDOW && left.max(right) * 64 > w * 63 {
                                self.stalls += 1;
                                if self.stalls > MAX_STALLS {
                                    return None;
                                }
                            }
                        }
                        windows.push((line1, lcs.begin1 - line1, line2, lcs.begin2 - line2));
                        count1 = line1 + count1 - 1 - lcs.end1;
                        line1 = lcs.end1 + 1;
                        count2 = line2 + count2 - 1 - lcs.end2;
                        line2 = lcs.end2 + 1;
                    }
                }
            }
        }
        Some(())
    }

    fn find_lcs(&mut self, a: &[u32], b: &[u32], window: (u32, u32, u32, u32)) -> Lcs {
        let (line1, count1, line2, count2) = window;
        let (end1, end2) = (line1 + count1 - 1, line2 + count2 - 1);
        let at = |line: u32| (line - line1) as usize;
        // (first occurrence, number of occurrences) of each distinct line of the window of `a`.
        let mut records: Vec<(u32, u32)> = Vec::new();
        let mut line_map = vec![0u32; count1 as usize];
        let mut next_ptr = vec![0u32; count1 as usize];
        for ptr in (line1..=end1).rev() {
            let id = a[(ptr - 1) as usize] as usize;
            match self.record_of[id] {
                0 => {
                    records.push((ptr, 1));
                    self.record_of[id] = records.len() as u32;
                    line_map[at(ptr)] = records.len() as u32 - 1;
                }
                r => {
                    let rec = &mut records[(r - 1) as usize];
                    next_ptr[at(ptr)] = rec.0;
                    rec.0 = ptr;
                    rec.1 = rec.1.saturating_add(1);
                    line_map[at(ptr)] = r - 1;
                }
            }
        }
        let count_at = |line: u32| records[line_map[at(line)] as usize].1;

        let mut lcs = Region::default();
        let mut best_count = MAX_CHAIN_LENGTH + 1;
        let mut has_common = false;
        let mut b_ptr = line2;
        while b_ptr <= end2 {
            let mut b_next = b_ptr + 1;
            let slot = self.record_of[b[(b_ptr - 1) as usize] as usize];
            if slot != 0 {
                let (first, count) = records[(slot - 1) as usize];
                has_common = true;
                if count <= best_count {
                    let mut as_ = first;
                    'occurrences: loop {
                        let mut np = next_ptr[at(as_)];
                        let (mut bs, mut ae) = (b_ptr, as_);
                        let mut be = bs;
                        let mut rc = count;
                        while line1 < as_ && line2 < bs && a[(as_ - 2) as usize] == b[(bs - 2) as usize] {
                            as_ -= 1;
                            bs -= 1;
                            if 1 < rc {
                                rc = rc.min(count_at(as_));
                            }
                        }
                        while ae < end1 && be < end2 && a[ae as usize] == b[be as usize] {
                            ae += 1;
                            be += 1;
                            if 1 < rc {
                                rc = rc.min(count_at(ae));
                            }
                        }
                        if b_next <= be {
                            b_next = be + 1;
                        }
                        if lcs.end1 - lcs.begin1 < ae - as_ || rc < best_count {
                            lcs = Region {
                                begin1: as_,
                                end1: ae,
                                begin2: bs,
                                end2: be,
                            };
                            best_count = rc;
                        }
                        if np == 0 {
                            break;
                        }
                        while np <= ae {
                            np = next_ptr[at(np)];
                            if np == 0 {
                                break 'occurrences;
                            }
                        }
                        as_ = np;
                    }
                }
            }
            b_ptr = b_next;
        }
        for ptr in line1..=end1 {
            self.record_of[a[(ptr - 1) as usize] as usize] = 0;
        }

        if has_common && MAX_CHAIN_LENGTH < best_count {
            Lcs::Fallback
        } else if lcs.begin1 == 0 && lcs.begin2 == 0 {
            Lcs::None
        } else {
            Lcs::Found(lcs)
        }
    }
}

/// A common run found by the histogram diff, 1-based and inclusive.
#[derive(Debug, Default, Clone, Copy)]
struct Region {
    begin1: u32,
    end1: u32,
    begin2: u32,
    end2: u32,
}

enum Lcs {
    Found(Region),
    None,
    Fallback,
}

/// Whether a line with many matches, inside a run of lines without any, is discarded too.
fn clean_mmatch(dis: &[u8], i: i64, mut s: i64, mut e: i64) -> bool {
    if i - s > SIMSCAN_WINDOW {
        s = i - SIMSCAN_WINDOW;
    }
    if e - i > SIMSCAN_WINDOW {
        e = i + SIMSCAN_WINDOW;
    }
    let run = |dir: i64, bound: i64| {
        let (mut none, mut many) = (0, 1);
        let mut r = 1;
        while (dir < 0 && i - r >= bound) || (dir > 0 && i + r <= bound) {
            match dis[(i + dir * r) as usize] {
                0 => none += 1,
                2 => many += 1,
                _ => break,
            }
            r += 1;
        }
        (none, many)
    };
    let (rdis0, rpdis0) = run(-1, s);
    if rdis0 == 0 {
        return false;
    }
    let (rdis1, rpdis1) = run(1, e);
    if rdis1 == 0 {
        return false;
    }
    let (rdis, rpdis) = (rdis0 + rdis1, rpdis0 + rpdis1);
    rpdis * KPDIS_RUN < rpdis + rdis
}

/// The forward and backward diagonal vectors of the Myers search, indexed by diagonal.
struct Kv {
    v: Vec<i64>,
    fbase: i64,
    bbase: i64,
}

impl Kv {
    fn f(&self, d: i64) -> i64 {
        self.v[(self.fbase + d) as usize]
    }
    fn set_f(&mut self, d: i64, x: i64) {
        self.v[(self.fbase + d) as usize] = x;
    }
    fn b(&self, d: i64) -> i64 {
        self.v[(self.bbase + d) as usize]
    }
    fn set_b(&mut self, d: i64, x: i64) {
        self.v[(self.bbase + d) as usize] = x;
    }
}

struct Split {
    i1: i64,
    i2: i64,
    min_lo: bool,
    min_hi: bool,
}

/// Finds where to split the box `(off1, lim1, off2, lim2)`: the middle snake, or past a cost
/// limit the most promising diagonal (git's `xdl_split`).
fn split(h1: &[u32], h2: &[u32], bx: (i64, i64, i64, i64), kv: &mut Kv, need_min: bool, mxcost: i64) -> Split {
    let (off1, lim1, off2, lim2) = bx;
    let eq = |i1: i64, i2: i64| h1[i1 as usize] == h2[i2 as usize];
    let (dmin, dmax) = (off1 - lim2, lim1 - off2);
    let (fmid, bmid) = (off1 - off2, lim1 - lim2);
    let odd = (fmid - bmid) & 1 != 0;
    let (mut fmin, mut fmax, mut bmin, mut bmax) = (fmid, fmid, bmid, bmid);
    kv.set_f(fmid, off1);
    kv.set_b(bmid, lim1);

    let mut ec = 0;
    loop {
        ec += 1;
        let mut got_snake = false;

        if fmin > dmin {
            fmin -= 1;
            kv.set_f(fmin - 1, -1);
        } else {
            fmin += 1;
        }
        if fmax < dmax {
            fmax += 1;
            kv.set_f(fmax + 1, -1);
        } else {
            fmax -= 1;
        }
        let mut d = fmax;
        while d >= fmin {
            let mut i1 = if kv.f(d - 1) >= kv.f(d + 1) {
                kv.f(d - 1) + 1
            } else {
                kv.f(d + 1)
            };
            let prev1 = i1;
            let mut i2 = i1 - d;
            while i1 < lim1 && i2 < lim2 && eq(i1, i2) {
                i1 += 1;
                i2 += 1;
            }
            if i1 - prev1 > SNAKE_CNT {
                got_snake = true;
            }
            kv.set_f(d, i1);
            if odd && bmin <= d && d <= bmax && kv.b(d) <= i1 {
                return Split {
                    i1,
                    i2,
                    min_lo: true,
                    min_hi: true,
                };
            }
            d -= 2;
        }

        if bmin > dmin {
            bmin -= 1;
            kv.set_b(bmin - 1, i64::MAX);
        } else {
            bmin += 1;
        }
        if bmax < dmax {
            bmax += 1;
            kv.set_b(bmax + 1, i64::MAX);
        } else {
            bmax -= 1;
        }
        let mut d = bmax;
        while d >= bmin {
            let mut i1 = if kv.b(d - 1) < kv.b(d + 1) {
                kv.b(d - 1)
            } else {
                kv.b(d + 1) - 1
            };
            let prev1 = i1;
            let mut i2 = i1 - d;
            while i1 > off1 && i2 > off2 && eq(i1 - 1, i2 - 1) {
                i1 -= 1;
                i2 -= 1;
            }
            if prev1 - i1 > SNAKE_CNT {
                got_snake = true;
            }
            kv.set_b(d, i1);
            if !odd && fmin <= d && d <= fmax && i1 <= kv.f(d) {
                return Split {
                    i1,
                    i2,
                    min_lo: true,
                    min_hi: true,
                };
            }
            d -= 2;
        }

        if need_min {
            continue;
        }

        // Past the heuristic threshold, a diagonal that reached far with a good snake behind
        // it is taken as the split.
        if got_snake && ec > HEUR_MIN_COST {
            let mut best = 0;
            let mut at = (0, 0);
            let mut d = fmax;
            while d >= fmin {
                let dd = (d - fmid).abs();
                let i1 = kv.f(d);
                let i2 = i1 - d;
                let v = (i1 - off1) + (i2 - off2) - dd;
                if v > K_HEUR * ec
                    && v > best
                    && off1 + SNAKE_CNT <= i1
                    && i1 < lim1
                    && off2 + SNAKE_CNT <= i2
                    && i2 < lim2
                {
                    let mut k = 1;
                    while eq(i1 - k, i2 - k) {
                        if k == SNAKE_CNT {
                            best = v;
                            at = (i1, i2);
                            break;
                        }
                        k += 1;
                    }
                }
                d -= 2;
            }
            if best > 0 {
                return Split {
                    i1: at.0,
                    i2: at.1,
                    min_lo: true,
                    min_hi: false,
                };
            }

            let mut best = 0;
            let mut d = bmax;
            while d >= bmin {
                let dd = (d - bmid).abs();
                let i1 = kv.b(d);
                let i2 = i1 - d;
                let v = (lim1 - i1) + (lim2 - i2) - dd;
                if v > K_HEUR * ec
                    && v > best
                    && off1 < i1
                    && i1 <= lim1 - SNAKE_CNT
                    && off2 < i2
                    && i2 <= lim2 - SNAKE_CNT
                {
                    let mut k = 0;
                    while eq(i1 + k, i2 + k) {
                        if k == SNAKE_CNT - 1 {
                            best = v;
                            at = (i1, i2);
                            break;
                        }
                        k += 1;
                    }
                }
                d -= 2;
            }
            if best > 0 {
                return Split {
                    i1: at.0,
                    i2: at.1,
                    min_lo: false,
                    min_hi: true,
                };
            }
        }

        // Too expensive: take the furthest-reaching path.
        if ec >= mxcost {
            let (mut fbest, mut fbest1) = (-1, -1);
            let mut d = fmax;
            while d >= fmin {
                let mut i1 = kv.f(d).min(lim1);
                let mut i2 = i1 - d;
                if lim2 < i2 {
                    i1 = lim2 + d;
                    i2 = lim2;
                }
                if fbest < i1 + i2 {
                    fbest = i1 + i2;
                    fbest1 = i1;
                }
                d -= 2;
            }
            let (mut bbest, mut bbest1) = (i64::MAX, i64::MAX);
            let mut d = bmax;
            while d >= bmin {
                let mut i1 = off1.max(kv.b(d));
                let mut i2 = i1 - d;
                if i2 < off2 {
                    i1 = off2 + d;
                    i2 = off2;
                }
                if i1 + i2 < bbest {
                    bbest = i1 + i2;
                    bbest1 = i1;
                }
                d -= 2;
            }
            return if (lim1 + lim2) - bbest < fbest - (off1 + off2) {
                Split {
                    i1: fbest1,
                    i2: fbest - fbest1,
                    min_lo: true,
                    min_hi: false,
                }
            } else {
                Split {
                    i1: bbest1,
                    i2: bbest - bbest1,
                    min_lo: false,
                    min_hi: true,
                }
            };
        }
    }
}

/// A run of changed lines `[start, end)`; empty between two unchanged lines.
#[derive(Debug, Clone, Copy)]
struct Group {
    start: i64,
    end: i64,
}

impl Group {
    fn first(flags: &Flags) -> Group {
        let mut end = 0;
        while flags.get(end) {
            end += 1;
        }
        Group { start: 0, end }
    }
    fn next(&mut self, flags: &Flags) -> bool {
        if self.end == flags.len() {
            return false;
        }
        self.start = self.end + 1;
        self.end = self.start;
        while flags.get(self.end) {
            self.end += 1;
        }
        true
    }
    fn previous(&mut self, flags: &Flags) -> bool {
        if self.start == 0 {
            return false;
        }
        self.end = self.start - 1;
        self.start = self.end;
        while flags.get(self.start - 1) {
            self.start -= 1;
        }
        true
    }
    fn slide_down(&mut self, recs: &[u32], flags: &mut Flags) -> bool {
        if self.end < flags.len() && recs[self.start as usize] == recs[self.end as usize] {
            flags.set(self.start, false);
            flags.set(self.end, true);
            self.start += 1;
            self.end += 1;
            while flags.get(self.end) {
                self.end += 1;
            }
            true
        } else {
            false
        }
    }
    fn slide_up(&mut self, recs: &[u32], flags: &mut Flags) -> bool {
        if self.start > 0 && recs[(self.start - 1) as usize] == recs[(self.end - 1) as usize] {
            self.start -= 1;
            self.end -= 1;
            flags.set(self.start, true);
            flags.set(self.end, false);
            while flags.get(self.start - 1) {
                self.start -= 1;
            }
            true
        } else {
            false
        }
    }
}

/// git's `xdl_change_compact` without the indent heuristic (git merge-file does not enable it):
/// slide each group of changes as far down as it goes, merging with groups it meets, then back up
/// to the last position that lines up with a change in the other file.
fn compact(recs: &[u32], flags: &mut Flags, other: &mut Flags) {
    let mut g = Group::first(flags);
    let mut go = Group::first(other);
    loop {
        if g.end != g.start {
            let mut earliest_end;
            let mut end_matching_other;
            loop {
                let groupsize = g.end - g.start;
                end_matching_other = -1;
                while g.slide_up(recs, flags) {
                    let moved = go.previous(other);
                    debug_assert!(moved, "group sync broken sliding up");
                }
                earliest_end = g.end;
                if go.end > go.start {
                    end_matching_other = g.end;
                }
                while g.slide_down(recs, flags) {
                    let moved = go.next(other);
                    debug_assert!(moved, "group sync broken sliding down");
                    if go.end > go.start {
                        end_matching_other = g.end;
                    }
                }
                if groupsize == g.end - g.start {
                    break;
                }
            }
            if g.end != earliest_end && end_matching_other != -1 {
                while go.end == go.start {
                    let slid = g.slide_up(recs, flags);
                    debug_assert!(slid, "match disappeared");
                    let moved = go.previous(other);
                    debug_assert!(moved, "group sync broken sliding to match");
                }
            }
        }
        if !g.next(flags) {
            break;
        }
        let moved = go.next(other);
        debug_assert!(moved, "group sync broken moving to next group");
    }
}

fn build_script(a: &Flags, b: &Flags) -> Vec<Change> {
    let mut script = Vec::new();
    let (mut i1, mut i2) = (a.len(), b.len());
    while i1 >= 0 || i2 >= 0 {
        if a.get(i1 - 1) || b.get(i2 - 1) {
            let (l1, l2) = (i1, i2);
            while a.get(i1 - 1) {
                i1 -= 1;
            }
            while b.get(i2 - 1) {
                i2 -= 1;
            }
            script.push(Change {
                i1,
                i2,
                chg1: l1 - i1,
                chg2: l2 - i2,
            });
        }
        i1 -= 1;
        i2 -= 1;
    }
    script.reverse();
    script
}

// ---------------------------------------------------------------------------
// The merge: git's xdl_merge, reimplemented.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Conflict,
    Ours,
    Theirs,
    /// Both sides made the same change (found while narrowing a conflict).
    Same,
}

/// A region of the merge: base lines `[i0, i0+chg0)`, ours `[i1, i1+chg1)`, theirs `[i2, i2+chg2)`.
#[derive(Debug, Clone, Copy)]
struct Hunk {
    mode: Mode,
    i0: i64,
    chg0: i64,
    i1: i64,
    chg1: i64,
    i2: i64,
    chg2: i64,
}

struct Files<'f, 'a> {
    base: &'f [&'a [u8]],
    ours: &'f [&'a [u8]],
    theirs: &'f [&'a [u8]],
    ours_ids: &'f [u32],
    theirs_ids: &'f [u32],
}

/// Appends a hunk, folding it into the previous one when they touch (then it is a conflict
/// unless both came from the same side).
fn append(hunks: &mut Vec<Hunk>, h: Hunk) {
    if let Some(m) = hunks.last_mut() {
        if h.i1 <= m.i1 + m.chg1 || h.i2 <= m.i2 + m.chg2 {
            if h.mode != m.mode {
                m.mode = Mode::Conflict;
            }
            m.chg0 = h.i0 + h.chg0 - m.i0;
            m.chg1 = h.i1 + h.chg1 - m.i1;
            m.chg2 = h.i2 + h.chg2 - m.i2;
            return;
        }
    }
    hunks.push(h);
}

fn merge_scripts(s1: &[Change], s2: &[Change], f: &Files, engine: &mut Engine, level: Level) -> Option<Vec<Hunk>> {
    let (n0, n1, n2) = (f.base.len() as i64, f.ours.len() as i64, f.theirs.len() as i64);
    let mut hunks: Vec<Hunk> = Vec::new();
    let (mut p1, mut p2) = (0, 0);
    while p1 < s1.len() && p2 < s2.len() {
        let (x1, x2) = (s1[p1], s2[p2]);
        if x1.i1 + x1.chg1 < x2.i1 {
            let h = Hunk {
                mode: Mode::Ours,
                i0: x1.i1,
                chg0: x1.chg1,
                i1: x1.i2,
                chg1: x1.chg2,
                i2: x2.i2 - x2.i1 + x1.i1,
                chg2: x1.chg1,
            };
            append(&mut hunks, h);
            p1 += 1;
            continue;
        }
        if x2.i1 + x2.chg1 < x1.i1 {
            let h = Hunk {
                mode: Mode::Theirs,
                i0: x2.i1,
                chg0: x2.chg1,
                i1: x1.i2 - x1.i1 + x2.i1,
                chg1: x2.chg1,
                i2: x2.i2,
                chg2: x2.chg2,
            };
            append(&mut hunks, h);
            p2 += 1;
            continue;
        }
        let identical = x1.i1 == x2.i1
            && x1.chg1 == x2.chg1
            && x1.chg2 == x2.chg2
            && f.ours_ids[x1.i2 as usize..(x1.i2 + x1.chg2) as usize]
                == f.theirs_ids[x2.i2 as usize..(x2.i2 + x2.chg2) as usize];
        if !identical {
            let off = x1.i1 - x2.i1;
            let ffo = off + x1.chg1 - x2.chg1;
            let (mut i0, mut i1, mut i2) = (x1.i1, x1.i2, x2.i2);
            if off > 0 {
                i0 -= off;
                i1 -= off;
            } else {
                i2 += off;
            }
            let mut chg0 = x1.i1 + x1.chg1 - i0;
            let mut chg1 = x1.i2 + x1.chg2 - i1;
            let mut chg2 = x2.i2 + x2.chg2 - i2;
            if ffo < 0 {
                chg0 -= ffo;
                chg1 -= ffo;
            } else {
                chg2 += ffo;
            }
            append(
                &mut hunks,
                Hunk {
                    mode: Mode::Conflict,
                    i0,
                    chg0,
                    i1,
                    chg1,
                    i2,
                    chg2,
                },
            );
        }
        let (end1, end2) = (x1.i1 + x1.chg1, x2.i1 + x2.chg1);
        if end1 >= end2 {
            p2 += 1;
        }
        if end2 >= end1 {
            p1 += 1;
        }
    }
    for x1 in &s1[p1..] {
        let h = Hunk {
            mode: Mode::Ours,
            i0: x1.i1,
            chg0: x1.chg1,
            i1: x1.i2,
            chg1: x1.chg2,
            i2: x1.i1 + n2 - n0,
            chg2: x1.chg1,
        };
        append(&mut hunks, h);
    }
    for x2 in &s2[p2..] {
        let h = Hunk {
            mode: Mode::Theirs,
            i0: x2.i1,
            chg0: x2.chg1,
            i1: x2.i1 + n1 - n0,
            chg1: x2.chg1,
            i2: x2.i2,
            chg2: x2.chg2,
        };
        append(&mut hunks, h);
    }

    let hunks = refine_conflicts(hunks, f, engine)?;
    Some(simplify_non_conflicts(hunks, f, level == Level::ZealousAlnum))
}

/// Narrows each conflict to the lines where the two sides really differ, by diffing one side
/// against the other; a conflict whose sides turn out equal is no conflict.
fn refine_conflicts(hunks: Vec<Hunk>, f: &Files, engine: &mut Engine) -> Option<Vec<Hunk>> {
    let mut out = Vec::with_capacity(hunks.len());
    for mut m in hunks {
        if m.mode != Mode::Conflict || m.chg1 == 0 || m.chg2 == 0 {
            out.push(m);
            continue;
        }
        let a = &f.ours_ids[m.i1 as usize..(m.i1 + m.chg1) as usize];
        let b = &f.theirs_ids[m.i2 as usize..(m.i2 + m.chg2) as usize];
        let script = engine.diff(a, b)?;
        if script.is_empty() {
            m.mode = Mode::Same;
            out.push(m);
            continue;
        }
        for c in script {
            out.push(Hunk {
                mode: Mode::Conflict,
                i1: m.i1 + c.i1,
                chg1: c.chg1,
                i2: m.i2 + c.i2,
                chg2: c.chg2,
                ..m
            });
        }
    }
    Some(out)
}

/// Joins conflicts separated by at most three lines, or (alnum level) by lines without any
/// ASCII letter or digit: one conflict reads better than two with a brace between them.
fn simplify_non_conflicts(hunks: Vec<Hunk>, f: &Files, alnum: bool) -> Vec<Hunk> {
    let mut out: Vec<Hunk> = Vec::with_capacity(hunks.len());
    for next in hunks {
        if let Some(m) = out.last_mut() {
            let (begin, end) = (m.i1 + m.chg1, next.i1);
            let keep_apart = m.mode != Mode::Conflict
                || next.mode != Mode::Conflict
                || (end - begin > 3
                    && (!alnum
                        || f.ours[begin as usize..end as usize]
                            .iter()
                            .any(|line| line.iter().any(u8::is_ascii_alphanumeric))));
            if !keep_apart {
                m.chg1 = next.i1 + next.chg1 - m.i1;
                m.chg2 = next.i2 + next.chg2 - m.i2;
                continue;
            }
        }
        out.push(next);
    }
    out
}

/// 1 if line `i` ends in CRLF (for a last line without newline: the line before), 0 if in LF,
/// -1 if it cannot be told.
fn eol_crlf(lines: &[&[u8]], i: i64) -> i8 {
    let n = lines.len() as i64;
    let crlf = |line: &[u8]| i8::from(line.len() > 1 && line[line.len() - 2] == b'\r');
    if i < n - 1 {
        return crlf(lines[i as usize]);
    }
    if n == 0 {
        return -1;
    }
    let last = lines[i as usize];
    if last.last() == Some(&b'\n') {
        return crlf(last);
    }
    if i == 0 {
        return -1;
    }
    crlf(lines[(i - 1) as usize])
}

/// Conflict markers end in CRLF when the lines before the conflict on both sides, and the first
/// line of the base, do (or cannot tell).
fn needs_cr(m: &Hunk, f: &Files) -> bool {
    let mut cr = eol_crlf(f.ours, (m.i1 - 1).max(0));
    if cr != 0 {
        cr = eol_crlf(f.theirs, (m.i2 - 1).max(0));
    }
    if cr != 0 {
        cr = eol_crlf(f.base, 0);
    }
    cr > 0
}

fn copy_lines(out: &mut Vec<u8>, lines: &[&[u8]], i: i64, count: i64, add_nl: Option<bool>) {
    if count < 1 {
        return;
    }
    let lines = &lines[i as usize..(i + count) as usize];
    for line in lines {
        out.extend_from_slice(line);
    }
    if let Some(cr) = add_nl {
        if lines.last().and_then(|l| l.last()) != Some(&b'\n') {
            if cr {
                out.push(b'\r');
            }
            out.push(b'\n');
        }
    }
}

fn marker(out: &mut Vec<u8>, c: u8, label: Option<&str>, cr: bool) {
    out.extend_from_slice(&[c; 7]);
    if let Some(label) = label {
        out.push(b' ');
        out.extend_from_slice(label.as_bytes());
    }
    if cr {
        out.push(b'\r');
    }
    out.push(b'\n');
}

fn write_merged(hunks: &[Hunk], f: &Files, opts: &Options) -> Vec<u8> {
    let capacity = f.ours.iter().chain(f.theirs.iter()).map(|l| l.len()).sum::<usize>();
    let mut out = Vec::with_capacity(capacity);
    let mut i = 0;
    for m in hunks {
        match m.mode {
            Mode::Same => continue,
            Mode::Conflict => {
                let cr = needs_cr(m, f);
                copy_lines(&mut out, f.ours, i, m.i1 - i, None);
                marker(&mut out, b'<', Some(opts.ours_label), cr);
                copy_lines(&mut out, f.ours, m.i1, m.chg1, Some(cr));
                marker(&mut out, b'=', None, cr);
                copy_lines(&mut out, f.theirs, m.i2, m.chg2, Some(cr));
                marker(&mut out, b'>', Some(opts.theirs_label), cr);
            }
            Mode::Ours => copy_lines(&mut out, f.ours, i, m.i1 + m.chg1 - i, None),
            Mode::Theirs => {
                copy_lines(&mut out, f.ours, i, m.i1 - i, None);
                copy_lines(&mut out, f.theirs, m.i2, m.chg2, None);
            }
        }
        i = m.i1 + m.chg1;
    }
    copy_lines(&mut out, f.ours, i, f.ours.len() as i64 - i, None);
    out
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    fn clean(base: &str, ours: &str, theirs: &str) -> String {
        match merge(base.as_bytes(), ours.as_bytes(), theirs.as_bytes()) {
            Merged::Clean(b) => String::from_utf8(b).unwrap(),
            other => panic!("expected a clean merge, got {other:?}"),
        }
    }

    /// The work budget is for pathological inputs only: an ordinary edit of a
    /// file of a few thousand lines keeps git's histogram diff.
    #[test]
    fn an_ordinary_merge_keeps_the_histogram_diff() {
        let base = (0..3000).fold(String::new(), |mut s, i| {
            let _ = writeln!(s, "line {i}");
            s
        });
        let ours = base.replace("line 10\n", "line 10 (ours)\n") + "ours at the end\n";
        let theirs = base.replace("line 2000\n", "line 2000 (theirs)\nand more\n");
        let out = merge_with(base.as_bytes(), ours.as_bytes(), theirs.as_bytes(), &Options::default());
        assert!(!out.fell_back_to_myers);
        assert_eq!(out.conflicts, 0);
        let text = String::from_utf8(out.bytes).unwrap();
        assert!(text.contains("line 10 (ours)\n") && text.contains("line 2000 (theirs)\nand more\n"));
    }

    fn conflict(base: &str, ours: &str, theirs: &str) -> String {
        match merge(base.as_bytes(), ours.as_bytes(), theirs.as_bytes()) {
            Merged::Conflict(b) => String::from_utf8(b).unwrap(),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn disjoint_changes_merge_cleanly() {
        let base = "a\nb\nc\nd\ne\nf\ng\n";
        let ours = "a\nB (user)\nc\nd\ne\nf\ng\n";
        let theirs = "a\nb\nc\nd\ne\nF (render)\ng\n";
        assert_eq!(clean(base, ours, theirs), "a\nB (user)\nc\nd\ne\nF (render)\ng\n");
    }

    #[test]
    fn identical_changes_on_both_sides_are_no_conflict() {
        let base = "a\nb\nc\n";
        let both = "a\nB\nc\nd\n";
        assert_eq!(clean(base, both, both), both);
    }

    #[test]
    fn one_side_unchanged_takes_the_other_verbatim() {
        assert_eq!(clean("a\nb\n", "a\nb\n", "x\ny"), "x\ny");
        assert_eq!(clean("a\nb\n", "a\r\nb", "a\nb\n"), "a\r\nb");
        assert_eq!(clean("", "", ""), "");
        assert_eq!(clean("", "mine\n", ""), "mine\n");
        assert_eq!(clean("base\n", "", "base\n"), "");
    }

    #[test]
    fn overlap_writes_git_markers_with_braid_labels() {
        let base = "one\ntwo\nthree\n";
        let ours = "one\ntwo (user)\nthree\n";
        let theirs = "one\ntwo (render)\nthree\n";
        assert_eq!(
            conflict(base, ours, theirs),
            "one\n<<<<<<< yours (on disk)\ntwo (user)\n=======\ntwo (render)\n>>>>>>> braid (new render)\nthree\n"
        );
    }

    #[test]
    fn conflicts_are_narrowed_to_the_lines_that_differ() {
        let base = "a\nb\nc\n";
        let ours = "a\nx\nsame\ny\nc\n";
        let theirs = "a\nz\nsame\ny\nc\n";
        assert_eq!(
            conflict(base, ours, theirs),
            "a\n<<<<<<< yours (on disk)\nx\n=======\nz\n>>>>>>> braid (new render)\nsame\ny\nc\n"
        );
    }

    #[test]
    fn last_line_without_newline_gets_one_before_the_marker() {
        // diffy glued "=======" to "mine"; git (and braid) end the side's line first.
        let out = conflict("start\nend", "start\nmine", "start\nrender");
        assert_eq!(
            out,
            "start\n<<<<<<< yours (on disk)\nmine\n=======\nrender\n>>>>>>> braid (new render)\n"
        );
    }

    #[test]
    fn crlf_files_get_crlf_markers() {
        let out = conflict("a\r\nb\r\nc\r\n", "a\r\nB1\r\nc\r\n", "a\r\nB2\r\nc\r\n");
        assert_eq!(
            out,
            "a\r\n<<<<<<< yours (on disk)\r\nB1\r\n=======\r\nB2\r\n>>>>>>> braid (new render)\r\nc\r\n"
        );
    }

    #[test]
    fn non_text_is_binary() {
        assert_eq!(merge(b"a\0b", b"a\0b", b"a\0c"), Merged::Binary);
        assert_eq!(merge(b"a\n", b"\xff\xfe\n", b"a\n"), Merged::Binary);
        assert_eq!(merge(b"a\n", b"a\n", b"caf\xc3\xa9\0"), Merged::Binary);
        assert!(matches!(
            merge("café\n".as_bytes(), "café!\n".as_bytes(), "café\n".as_bytes()),
            Merged::Clean(_)
        ));
    }

    #[test]
    fn has_markers_finds_braid_conflicts_only() {
        let written = conflict("x\n", "y\n", "z\n");
        assert!(has_markers(written.as_bytes()));
        assert!(has_markers(written.replace('\n', "\r\n").as_bytes()));
        // Half resolved: the opening marker deleted, the closing one left behind.
        assert!(has_markers(b"y\n=======\nz\n>>>>>>> braid (new render)\n"));
        assert!(has_markers(b"<<<<<<< yours (on disk)\ny\n"));
        // A Markdown heading underline is not a conflict.
        assert!(!has_markers(b"Title\n=======\n\ntext\n"));
        // Neither are other tools' markers, nor marker text inside a line.
        assert!(!has_markers(b"<<<<<<< HEAD\na\n=======\nb\n>>>>>>> main\n"));
        assert!(!has_markers(b"see `<<<<<<< yours (on disk)` in the docs\n"));
        assert!(!has_markers(b""));
    }

    #[test]
    fn check_structured_by_extension() {
        assert_eq!(check_structured("a/b.json", br#"{"a": [1, 2]}"#), Ok(()));
        assert!(check_structured("b.JSON", br#"{"a": [1, 2}"#)
            .unwrap_err()
            .contains("JSON"));
        assert!(check_structured("b.json", conflict("{}\n", "{\"a\":1}\n", "{\"b\":2}\n").as_bytes()).is_err());

        assert_eq!(check_structured("Cargo.toml", b"[package]\nname = \"x\"\n"), Ok(()));
        assert!(check_structured("Cargo.toml", b"[package\nname = \"x\"\n")
            .unwrap_err()
            .contains("TOML"));
        assert!(check_structured("x.toml", b"a = 1\na = 2\n").is_err(), "duplicate key");

        let yaml = "services:\n  api:\n    image: x\n    ports:\n      - 80\n";
        assert_eq!(check_structured("compose.yaml", yaml.as_bytes()), Ok(()));
        assert_eq!(
            check_structured("two.yml", b"a: 1\n---\nb: 2\n"),
            Ok(()),
            "multi-document"
        );
        // A merge that breaks indentation: a key dedented below its mapping's level.
        let broken = "services:\n  api:\n    image: x\n   ports:\n      - 80\n";
        assert!(check_structured("compose.yaml", broken.as_bytes())
            .unwrap_err()
            .contains("YAML"));
        assert!(check_structured("c.yml", b"a: [1, 2\n").is_err());
        let moved = "steps:\n  - run: make\n    timeout: 5\n    env: {A: b}\n    timeout: 10\n";
        assert!(check_structured("ci.yml", moved.as_bytes())
            .unwrap_err()
            .contains("the key `timeout` appears twice"));
        // A sequence closes back to its mapping, whose keys are still counted.
        let after_seq = "a:\n  - x\n  - y\nb: 1\nb: 2\n";
        assert!(check_structured("ci.yml", after_seq.as_bytes())
            .unwrap_err()
            .contains("the key `b` appears twice"));
        let fine = "a:\n  x: 1\nb:\n  x: 1\nlist:\n  - x: 1\n  - x: 2\n? [complex, key]\n: v\nk: v\n";
        assert_eq!(
            check_structured("ok.yml", fine.as_bytes()),
            Ok(()),
            "same key in different mappings"
        );
        assert!(check_structured("c.yml", b"\xff: 1\n").is_err());

        for path in ["bom.json", "bom.toml", "bom.yaml"] {
            let doc: &[u8] = if path.ends_with("json") { b"{}" } else { b"a = 1" };
            let doc = if path.ends_with("yaml") { &b"a: 1"[..] } else { doc };
            assert_eq!(
                check_structured(path, &[b"\xef\xbb\xbf", doc].concat()),
                Ok(()),
                "{path}"
            );
        }

        assert_eq!(check_structured("README.md", b"{ not json"), Ok(()));
        assert_eq!(check_structured("Makefile", b"\0\xff"), Ok(()));
    }

    #[test]
    fn split_lines_keeps_terminators() {
        assert!(split_lines(b"").is_empty());
        assert_eq!(split_lines(b"a\nb"), vec![&b"a\n"[..], &b"b"[..]]);
        assert_eq!(split_lines(b"a\r\n\n"), vec![&b"a\r\n"[..], &b"\n"[..]]);
    }

    #[test]
    fn histogram_and_myers_agree_on_simple_diffs() {
        for alg in [Algorithm::Histogram, Algorithm::Myers] {
            let mut e = Engine::new(alg, 5, None);
            assert_eq!(
                e.diff(&[0, 1, 2], &[0, 3, 2]).unwrap(),
                vec![Change {
                    i1: 1,
                    i2: 1,
                    chg1: 1,
                    chg2: 1
                }]
            );
            assert_eq!(e.diff(&[], &[1, 2]).unwrap().len(), 1);
            assert!(e.diff(&[4, 4], &[4, 4]).unwrap().is_empty());
        }
    }
}
