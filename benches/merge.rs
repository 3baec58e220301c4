//! Benchmark of the three-way merge against git's: `cargo bench --bench merge`.
//!
//! One large case, the kind that made the old merge slow: a 60,000-line base, a user who
//! inserted a line after every other line (a ~1.1 MB file on disk), and a render that changed
//! 300 lines. Prints braid's in-process merge and `git merge-file` (a process: spawn, read three
//! files, merge, write) side by side, median and minimum of several runs, and their ratio.
//! git is compared with its default diff (Myers) and, where it has the option (2.44+), with
//! `--diff-algorithm=histogram`, braid's algorithm. On this shape git's histogram diff is
//! quadratic (one run of `git diff --histogram` is timed to show it); braid's `merge()` notices
//! and redoes the merge with Myers, so its output is then git merge-file's default output.

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
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use braid::merge::{self, Algorithm, Merged, Options, OURS_LABEL, THEIRS_LABEL};

const RUNS: usize = 9;

fn case() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let base_line = |i: usize| match i % 8 {
        7 => String::from("\n"),
        3 => String::from("}\n"),
        _ => format!("item {i:06}\n"),
    };
    let (mut base, mut ours, mut theirs) = (String::new(), String::new(), String::new());
    for i in 0..60_000 {
        let line = base_line(i);
        base.push_str(&line);
        ours.push_str(&line);
        if i % 2 == 1 {
            ours.push_str(&format!("user's note {i:05}\n"));
        }
        if i % 200 == 100 {
            theirs.push_str(&format!("item {i:06} (rendered anew)\n"));
        } else {
            theirs.push_str(&line);
        }
    }
    (base.into_bytes(), ours.into_bytes(), theirs.into_bytes())
}

fn time(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    f(); // warm-up
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    (samples[runs / 2], samples[0])
}

fn git_merge_file(dir: &Path, algorithm: Option<&str>) -> (Vec<u8>, i32) {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args(["merge-file", "-p", "-q"]);
    if let Some(a) = algorithm {
        cmd.arg(format!("--diff-algorithm={a}"));
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
    let out = cmd
        .output()
        .expect("the merge benchmark compares with git: install git");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        (0..128).contains(&code),
        "git merge-file failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.stdout, code)
}

fn main() {
    let (base, ours, theirs) = case();
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("base", &base), ("ours", &ours), ("theirs", &theirs)] {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let lines = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count();
    println!(
        "merge: base {} lines, yours {} lines ({:.2} MB), render {} lines changed",
        lines(&base),
        lines(&ours),
        ours.len() as f64 / 1e6,
        60_000 / 200
    );

    let conflicts = |m: &Merged| match m {
        Merged::Conflict(b) => b.windows(8).filter(|w| w == b"<<<<<<< ").count(),
        _ => 0,
    };
    let result = merge::merge(&base, &ours, &theirs);
    let shipped = merge::merge_with(&base, &ours, &theirs, &Options::default());
    let myers = Options {
        algorithm: Algorithm::Myers,
        ..Options::default()
    };
    let braid_myers = merge::merge_with(&base, &ours, &theirs, &myers);
    let (git_myers, _) = git_merge_file(dir.path(), None);
    // git's exit code caps the conflict count at 127: count its markers instead.
    let markers = |b: &[u8]| b.windows(8).filter(|w| w == b"<<<<<<< ").count();
    let git_conflicts = markers(&git_myers);
    let has_histogram = {
        let out = Command::new("git").args(["merge-file", "-h"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).contains("diff-algorithm")
            || String::from_utf8_lossy(&out.stderr).contains("diff-algorithm")
    };

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let row = |label: &str, (median, min): (Duration, Duration), note: String| {
        println!(
            "{label:<46} median {:>8.2} ms   min {:>8.2} ms   {note}",
            ms(median),
            ms(min)
        );
        median
    };
    println!("({RUNS} runs each)");
    let braid = row(
        "braid merge() [histogram, in process]",
        time(RUNS, || {
            std::hint::black_box(merge::merge(&base, &ours, &theirs));
        }),
        format!(
            "{} conflicts; histogram {}",
            conflicts(&result),
            if shipped.fell_back_to_myers {
                "gave up, merged with Myers"
            } else {
                "kept"
            }
        ),
    );
    let braid_m = row(
        "braid merge_with(Myers) [in process]",
        time(RUNS, || {
            std::hint::black_box(merge::merge_with(&base, &ours, &theirs, &myers));
        }),
        format!("{} conflicts", braid_myers.conflicts),
    );
    let git_m = row(
        "git merge-file [myers, default; a process]",
        time(RUNS, || {
            git_merge_file(dir.path(), None);
        }),
        format!(
            "{git_conflicts} conflicts; output {} braid's Myers merge",
            if git_myers == braid_myers.bytes {
                "identical to"
            } else {
                "DIFFERS from"
            }
        ),
    );
    let git_h = has_histogram.then(|| {
        let (out, _) = git_merge_file(dir.path(), Some("histogram"));
        let code = markers(&out);
        let same = match &result {
            Merged::Clean(b) | Merged::Conflict(b) => *b == out,
            Merged::Binary => false,
        };
        row(
            "git merge-file --diff-algorithm=histogram",
            time(RUNS, || {
                git_merge_file(dir.path(), Some("histogram"));
            }),
            format!(
                "{code} conflicts; output {} braid's merge()",
                if same { "identical to" } else { "DIFFERS from" }
            ),
        )
    });

    let diff_histogram = {
        let start = Instant::now();
        let out = Command::new("git")
            .current_dir(dir.path())
            .args(["diff", "--no-index", "--histogram", "--stat", "base", "ours"])
            .output()
            .expect("git diff runs");
        assert!(out.status.code() == Some(1), "git diff --no-index failed");
        start.elapsed()
    };
    row(
        "git diff --no-index --histogram base yours",
        (diff_histogram, diff_histogram),
        "1 run; the diff alone, half of a histogram merge".into(),
    );

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "ratio git merge-file (myers) / braid merge() (histogram): {:.2}x   git (myers) / braid (Myers): {:.2}x",
        ratio(git_m, braid),
        ratio(git_m, braid_m)
    );
    match git_h {
        Some(h) => println!(
            "ratio git merge-file (histogram) / braid merge(): {:.2}x",
            ratio(h, braid)
        ),
        None => println!("(this git's merge-file has no --diff-algorithm; git >= 2.44 adds the histogram row)"),
    }
}
