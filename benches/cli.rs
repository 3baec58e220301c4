//! Wall-clock benchmark of the braid binary: `cargo bench`.
//!
//! Times whole processes (what a user waits for): `braid list`, `braid new` of
//! the largest embedded blueprint with `--dry-run` (everything but the disk)
//! and into a fresh folder, and a no-op
//! `braid regen` and `braid check` on that project. Prints median and p90.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

const RUNS: usize = 60;

fn braid() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_braid"));
    cmd.env("NO_COLOR", "1").env_remove("BRAID_BLUEPRINTS");
    cmd
}

fn time(label: &str, mut setup: impl FnMut(usize) -> Command) {
    // One warm-up run fills the page cache.
    let _ = setup(usize::MAX).output();
    let mut samples: Vec<Duration> = (0..RUNS)
        .map(|i| {
            let mut cmd = setup(i);
            let start = Instant::now();
            let out = cmd.output().expect("braid runs");
            let elapsed = start.elapsed();
            assert!(
                out.status.success(),
                "{label}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            elapsed
        })
        .collect();
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<44} median {:>7.2} ms   p90 {:>7.2} ms   min {:>7.2} ms   ({RUNS} runs)",
        ms(samples[RUNS / 2]),
        ms(samples[RUNS * 9 / 10]),
        ms(samples[0])
    );
}

fn largest_blueprint() -> (String, usize) {
    let out = braid().args(["list", "--json"]).output().unwrap();
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    items
        .iter()
        .map(|i| {
            let name = i["name"].as_str().unwrap().to_string();
            let dry = braid()
                .args([
                    "new",
                    "/nonexistent-braid-bench",
                    "-b",
                    &name,
                    "--yes",
                    "--name",
                    "bench-app",
                    "--dry-run",
                ])
                .output()
                .unwrap();
            let files = String::from_utf8_lossy(&dry.stdout).lines().count();
            (name, files)
        })
        .max_by_key(|(_, n)| *n)
        .expect("at least one embedded blueprint")
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (blueprint, files) = largest_blueprint();
    println!(
        "braid {} on {} ({files} files), writing under {} (set TMPDIR to move it)",
        env!("CARGO_PKG_VERSION"),
        blueprint,
        root.display()
    );

    time("braid list", |_| {
        let mut c = braid();
        c.arg("list");
        c
    });
    time(&format!("braid new {blueprint} --dry-run (no disk)"), |_| {
        let mut c = braid();
        c.args([
            "new",
            root.join("dry").to_str().unwrap(),
            "-b",
            &blueprint,
            "--yes",
            "--name",
            "bench-app",
            "--dry-run",
        ]);
        c
    });
    time(&format!("braid new {blueprint} (fresh folder)"), |i| {
        let mut c = braid();
        let dir = root.join(format!("new-{i}"));
        c.args([
            "new",
            dir.to_str().unwrap(),
            "-b",
            &blueprint,
            "--yes",
            "--name",
            "bench-app",
        ]);
        c
    });
    let project = root.join("project");
    let out = braid()
        .args([
            "new",
            project.to_str().unwrap(),
            "-b",
            &blueprint,
            "--yes",
            "--name",
            "bench-app",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    time("braid regen (no-op)", |_| regen(&project, "regen"));
    time("braid check (in sync)", |_| regen(&project, "check"));
}

fn regen(project: &Path, cmd: &str) -> Command {
    let mut c = braid();
    c.args([cmd, project.to_str().unwrap()]);
    c
}
