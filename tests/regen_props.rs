//! Randomized regen: random hand edits across random generated files, a
//! random change of answers, then regen. Checks, for every case:
//! - every line the user added survives (in the file, or in a conflict block);
//! - a conflict appears only where the user and the render changed the same
//!   region (edits separated by an unchanged line always merge cleanly);
//! - regen right after regen changes nothing.
//!
//! Seeded, so a failure prints the seed that reproduces it:
//! `BRAID_PROP_SEED=<seed> BRAID_PROP_CASES=1 cargo test --test regen_props`.

mod common;

use std::collections::BTreeMap;

use braid::{
    answers::{Answers, Value},
    blueprint::{Blueprint, Kind, Library},
    commands::{moves, new_state},
    fsx::Found,
    plan::{plan, Action, Disk, Sink},
    render::render,
    state::{Ownership, State},
};

/// xorshift64*: small, deterministic, good enough to pick edits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Default, Clone)]
struct Mem(BTreeMap<String, Vec<u8>>);

impl Disk for Mem {
    fn read(&self, path: &str) -> anyhow::Result<Found> {
        Ok(self.0.get(path).map_or(Found::Missing, |b| Found::File {
            bytes: b.clone(),
            mode: 0o644,
        }))
    }
}

impl Sink for Mem {
    fn write(&mut self, path: &str, bytes: &[u8], _executable: bool) -> anyhow::Result<()> {
        self.0.insert(path.to_string(), bytes.to_vec());
        Ok(())
    }
    fn remove(&mut self, path: &str) -> anyhow::Result<()> {
        self.0.remove(path);
        Ok(())
    }
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes).lines().map(str::to_string).collect()
}

/// What the user did to one file: lines added, and the span of base lines touched.
struct Edit {
    added: Vec<String>,
    touched: (usize, usize),
}

fn edit_file(rng: &mut Rng, case: usize, text: &str) -> (String, Edit) {
    let mut ls: Vec<String> = text.lines().map(str::to_string).collect();
    let n = ls.len();
    // One contiguous region of the base is edited: at line `at`, a few operations.
    let at = rng.below(n + 1);
    let mut added = Vec::new();
    let mut end = at;
    match rng.below(3) {
        0 => {
            for k in 0..=rng.below(3) {
                let line = format!("USER ADDED {case}-{k}");
                ls.insert(at + k, line.clone());
                added.push(line);
            }
        }
        1 if at < n => {
            let line = format!("USER CHANGED {case}");
            ls[at].clone_from(&line);
            added.push(line);
            end = at + 1;
        }
        _ if at < n => {
            ls.remove(at);
            end = at + 1;
        }
        _ => {
            let line = format!("USER ADDED {case}-end");
            ls.push(line.clone());
            added.push(line);
        }
    }
    let mut out = ls.join("\n");
    if text.ends_with('\n') || text.is_empty() {
        out.push('\n');
    }
    (
        out,
        Edit {
            added,
            touched: (at, end),
        },
    )
}

/// A random valid change of one or two answers.
fn change_answers(rng: &mut Rng, bp: &Blueprint, answers: &Answers, case: usize) -> Answers {
    let mut out = answers.clone();
    for _ in 0..=rng.below(2) {
        let q = &bp.questions[rng.below(bp.questions.len())];
        let value = match q.kind {
            Kind::String if q.key == "project_name" => Value::Str(format!("renamed{}", case % 7)),
            Kind::String => Value::Str(format!("changed {case} \"quoted\" # x: y")),
            Kind::Choice => Value::Str(q.choices[rng.below(q.choices.len())].clone()),
            Kind::Multi => Value::List(q.choices.iter().filter(|_| rng.chance(50)).cloned().collect()),
            Kind::Bool => Value::Bool(rng.chance(50)),
            Kind::Int => Value::Int(1024 + i64::try_from(rng.below(1000)).unwrap()),
        };
        if q.check(&value).is_err() {
            continue;
        }
        match out.0.iter_mut().find(|(k, _)| *k == q.key) {
            Some(slot) => slot.1 = value,
            None => out.0.push((q.key.clone(), value)),
        }
    }
    // Questions whose `when` no longer holds drop out; new ones take defaults.
    let mut fixed = Answers::default();
    for q in &bp.questions {
        if let Some(when) = &q.when {
            if !braid::answers::condition(when, &fixed).unwrap() {
                continue;
            }
        }
        let v = out.get(&q.key).cloned().or_else(|| q.default.clone()).unwrap();
        fixed.0.push((q.key.clone(), v));
    }
    fixed
}

fn start_answers(bp: &Blueprint) -> Answers {
    let mut a = Answers::default();
    for q in &bp.questions {
        if let Some(when) = &q.when {
            if !braid::answers::condition(when, &a).unwrap() {
                continue;
            }
        }
        let v = q.default.clone().unwrap_or_else(|| Value::Str("demo-app".into()));
        a.0.push((q.key.clone(), v));
    }
    a
}

/// Base-line ranges the render changed (half-open, in base line numbers).
fn render_changes(base: &str, theirs: &str) -> Vec<(usize, usize)> {
    similar::TextDiff::from_lines(base, theirs)
        .ops()
        .iter()
        .filter(|op| op.tag() != similar::DiffTag::Equal)
        .map(|op| {
            let r = op.old_range();
            (r.start, r.end)
        })
        .collect()
}

#[allow(clippy::too_many_lines)] // one case, read top to bottom
fn run_case(bp: &Blueprint, seed: u64, case: usize) {
    let mut rng = Rng(seed);
    let answers = start_answers(bp);
    let files = render(bp, &answers).unwrap();
    let state: State = new_state(bp, &answers, &files);
    let mut disk = Mem(files.iter().map(|(p, f)| (p.clone(), f.bytes.clone())).collect());

    // Random hand edits.
    let text_paths: Vec<String> = files
        .iter()
        .filter(|(_, f)| std::str::from_utf8(&f.bytes).is_ok())
        .map(|(p, _)| p.clone())
        .collect();
    let mut edits: BTreeMap<String, Edit> = BTreeMap::new();
    let mut user_files = Vec::new();
    let mut deleted = Vec::new();
    for k in 0..=rng.below(4) {
        match rng.below(10) {
            0 => {
                let path = format!("notes/user-{case}-{k}.txt");
                disk.0.insert(path.clone(), format!("user file {k}\n").into_bytes());
                user_files.push(path);
            }
            1 => {
                let path = &text_paths[rng.below(text_paths.len())];
                if !edits.contains_key(path) && disk.0.remove(path).is_some() {
                    deleted.push(path.clone());
                }
            }
            _ => {
                let path = text_paths[rng.below(text_paths.len())].clone();
                if edits.contains_key(&path) || deleted.contains(&path) {
                    continue;
                }
                let text = String::from_utf8(disk.0[&path].clone()).unwrap();
                let (edited, edit) = edit_file(&mut rng, case, &text);
                disk.0.insert(path.clone(), edited.into_bytes());
                edits.insert(path, edit);
            }
        }
    }

    // A random change of answers, then regen.
    let new_answers = change_answers(&mut rng, bp, &answers, case);
    let new_files = render(bp, &new_answers).unwrap();
    let mv = moves(bp, &state, &new_answers);
    let before = disk.clone();
    let p = plan(&state, &new_files, &mv, &disk, new_state(bp, &new_answers, &new_files)).unwrap();
    p.apply(&mut disk).unwrap();
    let ctx = format!(
        "seed {seed} (case {case}); answers {:?} -> {:?}",
        answers.0, new_answers.0
    );

    // 1. Every line the user added survives.
    for (path, edit) in &edits {
        let now = mv.get(path).filter(|to| disk.0.contains_key(*to)).unwrap_or(path);
        let Some(bytes) = disk.0.get(now) else {
            panic!(
                "{ctx}: edited file {path} vanished; plan: {:?}",
                p.steps.iter().find(|s| &s.path == path)
            )
        };
        let text = lines(bytes);
        for line in &edit.added {
            assert!(text.contains(line), "{ctx}: {path}: lost the user's line {line:?}");
        }
    }
    for path in &user_files {
        assert_eq!(disk.0.get(path), before.0.get(path), "{ctx}: user file {path} touched");
    }
    for path in &deleted {
        if new_files.get(path).is_some_and(|f| f.ownership == Ownership::Managed) {
            assert!(
                !disk.0.contains_key(path),
                "{ctx}: deleted managed file {path} came back"
            );
        }
    }

    // 2. Conflicts only where both sides changed the same region.
    for step in p.steps.iter().filter(|s| s.action == Action::Conflict) {
        let base_path = step.moved_from.as_deref().unwrap_or(&step.path);
        let edit = edits
            .get(base_path)
            .unwrap_or_else(|| panic!("{ctx}: conflict in {} the user never edited", step.path));
        let base = state.files[base_path].content.to_bytes().unwrap();
        let theirs = &new_files[&step.path].bytes;
        let (lo, hi) = edit.touched;
        let overlaps = render_changes(&String::from_utf8_lossy(&base), &String::from_utf8_lossy(theirs))
            .iter()
            // Separated by at least one unchanged line on each side, or it counts as the same region.
            .any(|&(s, e)| s <= hi + 1 && lo <= e + 1);
        assert!(
            overlaps,
            "{ctx}: conflict in {} although the edits were apart",
            step.path
        );
    }

    // 3. A second regen changes nothing.
    let state2 = p.state.clone();
    let mv2 = moves(bp, &state2, &new_answers);
    let p2 = plan(
        &state2,
        &new_files,
        &mv2,
        &disk,
        new_state(bp, &new_answers, &new_files),
    )
    .unwrap();
    let changes: Vec<_> = p2.changes().map(|s| (&s.path, s.action)).collect();
    assert!(changes.is_empty(), "{ctx}: second regen would change {changes:?}");
}

fn cases() -> usize {
    std::env::var("BRAID_PROP_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600)
}

fn seed_base() -> u64 {
    std::env::var("BRAID_PROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0000)
}

fn check_blueprint(library: &Library, name: &str) {
    let bp = library.load(name).unwrap();
    let n = cases();
    for case in 0..n {
        let seed = seed_base() + case as u64;
        run_case(&bp, seed, case);
    }
}

#[test]
fn random_edits_survive_regen_on_the_demo_blueprint() {
    let library = Library::new(&[common::fixtures()]).unwrap();
    check_blueprint(&library, "demo");
}

#[test]
fn random_edits_survive_regen_on_the_ml_gateway_blueprint() {
    let library = Library::new(&[]).unwrap();
    check_blueprint(&library, "ml-gateway");
}
