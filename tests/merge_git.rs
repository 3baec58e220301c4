//! Differential test of `braid::merge` against git itself.
//!
//! Random three-way cases (a base from a small vocabulary, so blank and repeated lines are common,
//! sometimes CRLF, sometimes without a final newline; a user edit as ours; a render change as
//! theirs) are merged by braid and by git, and must come out byte for byte the same:
//!
//! * `git merge-file` with git's default diff (Myers) against `merge_with(Myers, ZealousAlnum)`:
//!   the merge rules, the markers, the newline handling and the Myers diff;
//! * `git merge-file --diff-algorithm=histogram` against `merge()` itself, when the installed git
//!   has that option (2.44 and later);
//! * `git merge-tree --write-tree`, whose ort strategy always merges with the histogram diff (at
//!   the "zealous" level), against `merge_with(Histogram, Zealous)`: all cases in one repository,
//!   so braid's own histogram diff is checked against git's with any git since 2.38.
//!
//! Every case also checks that no line the user added is lost and that conflict markers are
//! well formed. `BRAID_MERGE_CASES` (default 1000) sets the number of cases, `BRAID_MERGE_SEED`
//! the seed. git is required: without it the test fails, it never skips.

// A measuring and testing harness: counters and sizes cast freely, long
// scenario functions read top to bottom.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::too_many_lines,
    clippy::format_push_string,
    clippy::match_same_arms,
    clippy::naive_bytecount,
    clippy::format_collect
)]

use std::{
    collections::{BTreeSet, HashMap},
    io::Write,
    path::Path,
    process::{Command, Stdio},
};

use braid::merge::{self, Algorithm, Level, Merged, Options, OURS_LABEL, THEIRS_LABEL};

/// xorshift64*: small, seeded, good enough to pick lines.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
}

/// Lines shared by all three files: blank lines, braces and repeats make the diffs ambiguous.
const VOCAB: &[&str] = &[
    "",
    "",
    "",
    "}",
    "{",
    "  ",
    "---",
    "fn main() {",
    "    let x = 1;",
    "    x += 1;",
    "    return x;",
    "# Title",
    "- item",
    "a",
    "b",
    "c",
    "end",
];

#[derive(Clone, Copy, PartialEq)]
enum Eol {
    Lf,
    Crlf,
    Mixed,
}

/// A file as lines with their own terminators; only the last may have none.
type Model = Vec<(String, &'static str)>;

fn terminator(rng: &mut Rng, eol: Eol) -> &'static str {
    match eol {
        Eol::Lf => "\n",
        Eol::Crlf => "\r\n",
        Eol::Mixed if rng.percent(50) => "\r\n",
        Eol::Mixed => "\n",
    }
}

fn new_line(rng: &mut Rng, eol: Eol, own: &str) -> (String, &'static str) {
    let text = if rng.percent(45) {
        format!("{own} {}", rng.below(1000))
    } else {
        VOCAB[rng.below(VOCAB.len())].to_string()
    };
    (text, terminator(rng, eol))
}

/// Random insert / delete / replace runs, then maybe a toggled final newline.
fn edit(rng: &mut Rng, base: &Model, eol: Eol, own: &str, max_ops: usize) -> Model {
    let mut lines = base.clone();
    // A file without a final newline keeps that property on its last line only.
    let last_bare = lines.last().is_some_and(|l| l.1.is_empty());
    if last_bare {
        let end = terminator(rng, eol);
        lines.last_mut().expect("not empty").1 = end;
    }
    for _ in 0..rng.below(max_ops + 1) {
        let at = rng.below(lines.len() + 1);
        let run = 1 + rng.below(3);
        let new: Model = (0..run).map(|_| new_line(rng, eol, own)).collect();
        match rng.below(3) {
            0 => {
                lines.splice(at..at, new);
            }
            1 => {
                let end = (at + run).min(lines.len());
                lines.drain(at..end);
            }
            _ => {
                let end = (at + run).min(lines.len());
                lines.splice(at..end, new);
            }
        }
    }
    let bare = if rng.percent(12) { !last_bare } else { last_bare };
    if let Some(last) = lines.last_mut() {
        last.1 = if bare { "" } else { terminator(rng, eol) };
    }
    lines
}

fn bytes(model: &Model) -> Vec<u8> {
    model.iter().flat_map(|(t, e)| t.bytes().chain(e.bytes())).collect()
}

struct Case {
    base: Vec<u8>,
    ours: Vec<u8>,
    theirs: Vec<u8>,
}

fn case(rng: &mut Rng) -> Case {
    let eol = match rng.below(100) {
        0..=79 => Eol::Lf,
        80..=91 => Eol::Crlf,
        _ => Eol::Mixed,
    };
    // Four cases in a hundred are large, with many edits: lines repeat more than 64 times (the
    // histogram diff falls back to Myers) and edit costs pass Myers's heuristic limits.
    let (n, ops) = match rng.below(100) {
        0 => (1000 + rng.below(4000), 300 + rng.below(1200)),
        1 | 2 => (300 + rng.below(2700), 20 + rng.below(300)),
        3 => return blocks_case(rng, eol),
        _ => (rng.below(25), 4),
    };
    let mut base: Model = (0..n)
        .map(|_| (VOCAB[rng.below(VOCAB.len())].to_string(), terminator(rng, eol)))
        .collect();
    if rng.percent(20) {
        if let Some(last) = base.last_mut() {
            last.1 = "";
        }
    }
    let ours = if rng.percent(4) {
        base.clone()
    } else {
        edit(rng, &base, eol, "user", ops)
    };
    let theirs = match rng.below(100) {
        0..=3 => base.clone(),
        4..=8 => ours.clone(),
        _ => edit(rng, &base, eol, "render", ops),
    };
    Case {
        base: bytes(&base),
        ours: bytes(&ours),
        theirs: bytes(&theirs),
    }
}

/// Stable runs of unique lines between long churned regions of common lines: Myers meets
/// long snakes at high edit costs, where git's snake heuristic splits the search.
fn blocks_case(rng: &mut Rng, eol: Eol) -> Case {
    let blocks = 10 + rng.below(30);
    blocks_of(rng, eol, blocks)
}

fn blocks_of(rng: &mut Rng, eol: Eol, blocks: usize) -> Case {
    let vocab_line = |rng: &mut Rng| (VOCAB[rng.below(VOCAB.len())].to_string(), terminator(rng, eol));
    let (mut base, mut ours) = (Model::new(), Model::new());
    for block in 0..blocks {
        let stable: Model = (0..21 + rng.below(15))
            .map(|j| (format!("stable {block}.{j}"), terminator(rng, eol)))
            .collect();
        let churn = 30 + rng.below(90);
        let region: Model = (0..churn).map(|_| vocab_line(rng)).collect();
        base.extend(stable.iter().cloned());
        base.extend(region.iter().cloned());
        ours.extend(stable);
        match rng.below(10) {
            0..=2 => ours.extend((0..churn + rng.below(20)).map(|_| vocab_line(rng))),
            3..=6 => {
                for line in region {
                    if rng.percent(20) {
                        ours.push(vocab_line(rng));
                    } else {
                        ours.push(line);
                    }
                }
            }
            _ => ours.extend(region),
        }
    }
    let theirs = edit(rng, &base, eol, "render", 6);
    Case {
        base: bytes(&base),
        ours: bytes(&ours),
        theirs: bytes(&theirs),
    }
}

fn cases() -> Vec<Case> {
    let env = |name: &str, default: u64| {
        std::env::var(name).ok().map_or(default, |v| {
            v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
    };
    let count = env("BRAID_MERGE_CASES", 1000);
    let mut rng = Rng(env("BRAID_MERGE_SEED", 0x00b2_a1d5_eed5) | 1);
    (0..count).map(|_| case(&mut rng)).collect()
}

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .env("LC_ALL", "C")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
    cmd
}

fn require_git(dir: &Path) -> String {
    match git(dir).arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => panic!(
            "tests/merge_git.rs needs `git` (the reference braid's merge is compared with): `git --version` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "tests/merge_git.rs needs `git` (the reference braid's merge is compared with) on PATH: {e}. Install git."
        ),
    }
}

/// `git merge-file -p` on one case; its stdout and its exit code (the number of conflicts).
fn merge_file(dir: &Path, c: &Case, histogram: bool) -> (Vec<u8>, i32) {
    for (name, content) in [("ours", &c.ours), ("base", &c.base), ("theirs", &c.theirs)] {
        std::fs::write(dir.join(name), content).unwrap();
    }
    let mut cmd = git(dir);
    cmd.args(["merge-file", "-p"]);
    if histogram {
        cmd.arg("--diff-algorithm=histogram");
    }
    cmd.args([
        "-L",
        OURS_LABEL,
        "-L",
        "base",
        "-L",
        THEIRS_LABEL,
        "ours",
        "base",
        "theirs",
    ]);
    let out = cmd.output().expect("git merge-file runs");
    let code = out.status.code().expect("git merge-file exits");
    assert!(
        (0..128).contains(&code),
        "git merge-file failed ({code}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.stdout, code)
}

fn git_has_histogram_merge_file(dir: &Path) -> bool {
    let out = git(dir).args(["merge-file", "-h"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).contains("diff-algorithm")
        || String::from_utf8_lossy(&out.stderr).contains("diff-algorithm")
}

/// All cases merged at once by `git merge-tree --write-tree` (ort, histogram diff): for each
/// case, the merged bytes and whether git reported a conflict.
fn merge_tree(dir: &Path, cases: &[Case]) -> Vec<(Vec<u8>, bool)> {
    let run = |args: &[&str], input: Option<&[u8]>| -> (Vec<u8>, i32) {
        let mut child = git(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.unwrap_or_default().to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        let code = out.status.code().unwrap();
        assert!(
            code <= 1,
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (out.stdout, code)
    };
    run(&["init", "-q", "--initial-branch=base", "repo"], None);
    let run_in = |args: &[&str], input: Option<&[u8]>| {
        let mut full = vec!["-C", "repo"];
        full.extend_from_slice(args);
        run(&full, input)
    };

    let name = |i: usize| format!("case{i:05}.txt");
    let mut stream = Vec::new();
    for (branch, pick) in [("base", 0usize), ("ours", 1), ("theirs", 2)] {
        write!(
            stream,
            "commit refs/heads/{branch}\ncommitter T <t@example.com> 0 +0000\ndata 0\n"
        )
        .unwrap();
        if branch != "base" {
            writeln!(stream, "from refs/heads/base").unwrap();
        }
        for (i, c) in cases.iter().enumerate() {
            let content = [&c.base, &c.ours, &c.theirs][pick];
            write!(stream, "M 100644 inline {}\ndata {}\n", name(i), content.len()).unwrap();
            stream.extend_from_slice(content);
            stream.push(b'\n');
        }
        stream.push(b'\n');
    }
    run_in(&["fast-import", "--quiet"], Some(&stream));

    let (out, _) = run_in(
        &[
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            "ours",
            "theirs",
        ],
        None,
    );
    let out = String::from_utf8(out).unwrap();
    let mut lines = out.lines();
    let tree = lines.next().expect("merge-tree prints the tree").to_string();
    let conflicted: BTreeSet<&str> = lines.filter(|l| !l.is_empty()).collect();

    let (listing, _) = run_in(&["ls-tree", "-r", &tree], None);
    let blobs: HashMap<String, String> = String::from_utf8(listing)
        .unwrap()
        .lines()
        .map(|l| {
            let (meta, path) = l.split_once('\t').unwrap();
            (path.to_string(), meta.split(' ').nth(2).unwrap().to_string())
        })
        .collect();
    let ids: Vec<&String> = (0..cases.len()).map(|i| &blobs[&name(i)]).collect();
    let request: String = ids.iter().map(|id| format!("{id}\n")).collect();
    let (batch, _) = run_in(&["cat-file", "--batch"], Some(request.as_bytes()));

    let mut contents = Vec::with_capacity(cases.len());
    let mut rest = &batch[..];
    for _ in 0..cases.len() {
        let header_end = rest.iter().position(|&b| b == b'\n').unwrap();
        let header = std::str::from_utf8(&rest[..header_end]).unwrap();
        let size: usize = header.rsplit(' ').next().unwrap().parse().unwrap();
        let start = header_end + 1;
        contents.push(rest[start..start + size].to_vec());
        rest = &rest[start + size + 1..];
    }
    contents
        .into_iter()
        .enumerate()
        .map(|(i, content)| (content, conflicted.contains(name(i).as_str())))
        .collect()
}

/// A line's text without its terminator.
fn text_of(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Every line of ours that is not in base is in the result.
fn check_no_user_line_lost(c: &Case, result: &[u8]) -> Result<(), String> {
    let base: BTreeSet<&[u8]> = c.base.split_inclusive(|&b| b == b'\n').map(text_of).collect();
    let merged: BTreeSet<&[u8]> = result.split_inclusive(|&b| b == b'\n').map(text_of).collect();
    for line in c.ours.split_inclusive(|&b| b == b'\n').map(text_of) {
        if !base.contains(line) && !merged.contains(line) {
            return Err(format!("user line {:?} lost", String::from_utf8_lossy(line)));
        }
    }
    Ok(())
}

/// Markers come as `<<<<<<< label` / `=======` / `>>>>>>> label` on lines of their own, in that
/// order; there are some exactly when the merge reports a conflict.
fn check_markers(result: &[u8], conflict: bool) -> Result<(), String> {
    let open = format!("<<<<<<< {OURS_LABEL}");
    let close = format!(">>>>>>> {THEIRS_LABEL}");
    let mut state = 0;
    let mut blocks = 0;
    for (n, line) in result.split_inclusive(|&b| b == b'\n').enumerate() {
        let text = text_of(line);
        let expected = match state {
            0 => open.as_bytes(),
            1 => b"=======",
            _ => close.as_bytes(),
        };
        if text == expected {
            if !line.ends_with(b"\n") {
                return Err(format!("marker on line {} has no newline", n + 1));
            }
            state = (state + 1) % 3;
            blocks += usize::from(state == 0);
        } else if [&b"<<<<<<<"[..], b"=======", b">>>>>>>"]
            .iter()
            .any(|m| text.windows(7).any(|w| w == *m))
        {
            return Err(format!("stray or out-of-order marker on line {}", n + 1));
        }
    }
    if state != 0 {
        return Err("unterminated conflict".into());
    }
    if (blocks > 0) != conflict {
        return Err(format!("{blocks} conflict blocks but conflict={conflict}"));
    }
    Ok(())
}

fn show(c: &Case) -> String {
    let s = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(b));
    format!("base   {}\nours   {}\ntheirs {}", s(&c.base), s(&c.ours), s(&c.theirs))
}

#[test]
fn merge_matches_git() {
    let dir = tempfile::tempdir().unwrap();
    let version = require_git(dir.path());
    let histogram_merge_file = git_has_histogram_merge_file(dir.path());
    let cases = cases();
    let tree = merge_tree(dir.path(), &cases);

    let mut failures: Vec<String> = Vec::new();
    let mut counts = [0usize; 4]; // myers mismatches, histogram merge-file mismatches, merge-tree mismatches, invariants
    let mut conflicts = 0;
    let mut fallbacks = 0;
    for (i, c) in cases.iter().enumerate() {
        let mut fail = |kind: usize, what: String| {
            counts[kind] += 1;
            if failures.len() < 8 {
                failures.push(format!("case {i}: {what}\n{}", show(c)));
            }
        };

        // Production merge: invariants.
        let (bytes, conflict) = match merge::merge(&c.base, &c.ours, &c.theirs) {
            Merged::Clean(b) => (b, false),
            Merged::Conflict(b) => (b, true),
            Merged::Binary => panic!("case {i} is text"),
        };
        let shipped = merge::merge_with(&c.base, &c.ours, &c.theirs, &Options::default());
        assert_eq!(shipped.bytes, bytes, "merge() is merge_with(default)");
        fallbacks += usize::from(shipped.fell_back_to_myers);
        conflicts += usize::from(conflict);
        if let Err(e) = check_no_user_line_lost(c, &bytes).and_then(|()| check_markers(&bytes, conflict)) {
            fail(3, format!("{e}\nresult {:?}", String::from_utf8_lossy(&bytes)));
        }

        // git merge-file, default diff: braid with Myers; and braid's merge() when it gave up on
        // the histogram diff.
        let (git_out, git_code) = merge_file(dir.path(), c, false);
        if shipped.fell_back_to_myers && (bytes != git_out || conflict != (git_code > 0)) {
            fail(1, "merge() fell back to Myers but differs from git merge-file".into());
        }
        let opts = Options {
            algorithm: Algorithm::Myers,
            ..Options::default()
        };
        let ours = merge::merge_with(&c.base, &c.ours, &c.theirs, &opts);
        if ours.bytes != git_out || ours.conflicts.min(127) != git_code as usize {
            fail(
                0,
                format!(
                    "merge-file (myers) differs: git {git_code} conflicts {:?}\nbraid {} conflicts {:?}",
                    String::from_utf8_lossy(&git_out),
                    ours.conflicts,
                    String::from_utf8_lossy(&ours.bytes)
                ),
            );
        }

        // git merge-file --diff-algorithm=histogram: braid's merge exactly as shipped.
        if histogram_merge_file && !shipped.fell_back_to_myers {
            let (git_out, git_code) = merge_file(dir.path(), c, true);
            if bytes != git_out || conflict != (git_code > 0) {
                fail(
                    1,
                    format!(
                        "merge-file (histogram) differs: git {git_code} {:?}\nbraid {:?}",
                        String::from_utf8_lossy(&git_out),
                        String::from_utf8_lossy(&bytes)
                    ),
                );
            }
        }

        // git merge-tree (ort: histogram, zealous level).
        let opts = Options {
            algorithm: Algorithm::Histogram,
            bounded: false,
            level: Level::Zealous,
            ours_label: "ours",
            theirs_label: "theirs",
        };
        let ours = merge::merge_with(&c.base, &c.ours, &c.theirs, &opts);
        let (git_out, git_conflict) = &tree[i];
        if &ours.bytes != git_out || (ours.conflicts > 0) != *git_conflict {
            fail(
                2,
                format!(
                    "merge-tree (histogram) differs: git conflict={git_conflict} {:?}\nbraid {} conflicts {:?}",
                    String::from_utf8_lossy(git_out),
                    ours.conflicts,
                    String::from_utf8_lossy(&ours.bytes)
                ),
            );
        }
    }

    println!(
        "{} cases ({conflicts} with conflicts, {fallbacks} fell back to Myers) against {version}: merge-file myers {} \
         differences, merge-file histogram {}, merge-tree histogram {} differences, invariant failures {}",
        cases.len(),
        counts[0],
        if histogram_merge_file {
            format!("{} differences", counts[1])
        } else {
            "not run (this git's merge-file has no --diff-algorithm; merge-tree covers histogram)".into()
        },
        counts[2],
        counts[3],
    );
    assert!(
        failures.is_empty(),
        "{} failures (myers {}, histogram merge-file {}, merge-tree {}, invariants {}):\n\n{}",
        counts.iter().sum::<usize>(),
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        failures.join("\n\n")
    );
    assert!(conflicts > cases.len() / 10, "the cases should exercise conflicts");
}

/// The shape on which git's histogram diff goes quadratic (every common run two lines long: a
/// line inserted after every other line). braid's `merge()` gives up on the histogram diff and
/// returns exactly what `git merge-file` (Myers) returns; the unbounded histogram merge still
/// equals git's.
#[test]
fn quadratic_histogram_falls_back_to_git_merge_file() {
    let dir = tempfile::tempdir().unwrap();
    require_git(dir.path());
    let (mut base, mut ours, mut theirs) = (String::new(), String::new(), String::new());
    for i in 0..6000 {
        let line = match i % 8 {
            7 => String::from("\n"),
            3 => String::from("}\n"),
            _ => format!("item {i:05}\n"),
        };
        base.push_str(&line);
        ours.push_str(&line);
        if i % 2 == 1 {
            ours.push_str(&format!("user note {i}\n"));
        }
        theirs.push_str(&if i % 200 == 100 {
            format!("item {i:05} (new)\n")
        } else {
            line
        });
    }
    let c = Case {
        base: base.into_bytes(),
        ours: ours.into_bytes(),
        theirs: theirs.into_bytes(),
    };

    let shipped = merge::merge_with(&c.base, &c.ours, &c.theirs, &Options::default());
    assert!(
        shipped.fell_back_to_myers,
        "this shape should exhaust the histogram budget"
    );
    let (git_out, git_code) = merge_file(dir.path(), &c, false);
    assert!(shipped.bytes == git_out, "fallback output differs from git merge-file");
    assert_eq!(shipped.conflicts.min(127), git_code as usize);
    assert!(matches!(merge::merge(&c.base, &c.ours, &c.theirs), Merged::Conflict(b) if b == git_out));

    let exact = Options {
        algorithm: Algorithm::Histogram,
        bounded: false,
        level: Level::Zealous,
        ours_label: "ours",
        theirs_label: "theirs",
    };
    let unbounded = merge::merge_with(&c.base, &c.ours, &c.theirs, &exact);
    assert!(!unbounded.fell_back_to_myers);
    let tree = merge_tree(dir.path(), std::slice::from_ref(&c));
    assert!(
        unbounded.bytes == tree[0].0,
        "unbounded histogram merge differs from git merge-tree"
    );
    assert_eq!(unbounded.conflicts > 0, tree[0].1);
}

/// Files of 40,000+ lines with heavy churn: only there does git's Myers diff reach its snake
/// heuristic (its cost limit is at least 256 and the heuristic needs more) and its scan window.
#[test]
fn large_files_match_git_merge_file() {
    let dir = tempfile::tempdir().unwrap();
    require_git(dir.path());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for eol in [Eol::Lf, Eol::Crlf] {
        let c = blocks_of(&mut rng, eol, 600);
        let (git_out, git_code) = merge_file(dir.path(), &c, false);
        let opts = Options {
            algorithm: Algorithm::Myers,
            ..Options::default()
        };
        let braid = merge::merge_with(&c.base, &c.ours, &c.theirs, &opts);
        assert!(braid.bytes == git_out, "large Myers merge differs from git merge-file");
        assert_eq!(braid.conflicts.min(127), git_code as usize);
    }
}
