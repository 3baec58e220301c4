//! No debugging macro (`dbg`, `todo`, `unimplemented`) lands (STYLE.md): every Rust file
//! under src/, tests/ and benches/, and build.rs, is read, and each call found
//! is named as <FILE:LINE>. This file is left out, since it spells the names.

use std::{
    fs,
    path::{Path, PathBuf},
};

use regex::Regex;

fn forbidden() -> Regex {
    Regex::new(r"\b(dbg|todo|unimplemented)!\s*[(\[{]").unwrap()
}

/// `FILE:LINE: text` for each forbidden call in `text`.
fn findings(file: &str, text: &str, re: &Regex) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| re.is_match(line))
        .map(|(i, line)| format!("{file}:{}: {}", i + 1, line.trim()))
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_dbg_todo_or_unimplemented_lands() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("build.rs")];
    for dir in ["src", "tests", "benches"] {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    let me = root.join(file!());
    let re = forbidden();
    let mut found = Vec::new();
    let mut read = 0;
    for path in files.iter().filter(|p| **p != me) {
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        found.extend(findings(&rel, &fs::read_to_string(path).unwrap(), &re));
        read += 1;
    }
    assert!(read > 20, "only {read} Rust files found under {}", root.display());
    assert!(
        found.is_empty(),
        "remove these before committing:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_each_macro_and_names_its_line() {
    let re = forbidden();
    // `\x21` is `!`: spelled so that no grep for the macros finds this file.
    let text = "fn f() {\n    dbg\x21(x);\n    let _ = todo\x21();\n    unimplemented\x21 {}\n    my_dbg\x21(y);\n    // a todo\x21 note\n}\n";
    assert_eq!(
        findings("src/x.rs", text, &re),
        [
            "src/x.rs:2: dbg\x21(x);",
            "src/x.rs:3: let _ = todo\x21();",
            "src/x.rs:4: unimplemented\x21 {}",
        ]
    );
}
