//! Embeds every file under `blueprints/` into the binary, dot files and
//! binary files included, with their executable bit.
//!
//! `include_dir`-style crates drop the file mode, and the mode matters: a
//! generated `scripts/dev.sh` must stay executable.

use std::{env, fmt::Write as _, fs, path::Path};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints");
    println!("cargo:rerun-if-changed=blueprints");
    let mut entries = Vec::new();
    let walk = if root.is_dir() {
        Some(walkdir::WalkDir::new(&root).sort_by_file_name())
    } else {
        None
    };
    for entry in walk.into_iter().flatten() {
        let entry = entry.expect("walk blueprints/");
        // Cargo only re-runs build scripts for changes it is told about; a
        // directory watch misses edits inside nested folders on some systems.
        println!("cargo:rerun-if-changed={}", entry.path().display());
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(&root).unwrap();
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_str().expect("UTF-8 blueprint path"))
            .collect::<Vec<_>>()
            .join("/");
        let executable = is_executable(&entry.metadata().expect("metadata"));
        entries.push((rel, entry.path().to_path_buf(), executable));
    }
    // The paths are one string, not a literal each: the linker scatters
    // small literals among the megabytes of file bytes, and reading them all
    // (every run does, to list the files) then faulted in a page per path.
    let mut paths = String::new();
    let mut out = String::from("/// (path: `PATHS[start..end]`, bytes, executable)\n");
    out.push_str("pub static FILES: &[(usize, usize, &[u8], bool)] = &[\n");
    for (rel, abs, exec) in entries {
        let start = paths.len();
        paths.push_str(&rel);
        writeln!(
            out,
            "    ({start}, {}, include_bytes!({:?}), {exec}),",
            paths.len(),
            abs.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    writeln!(
        out,
        "/// Every path of FILES, end to end.\npub static PATHS: &str = {paths:?};"
    )
    .unwrap();
    let dest = Path::new(&env::var("OUT_DIR").unwrap()).join("embedded.rs");
    fs::write(dest, out).expect("write embedded.rs");
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}
