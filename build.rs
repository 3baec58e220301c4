//! Embeds every file under `blueprints/` into the binary, dot files and
//! binary files included, with their executable bit.
//!
//! `include_dir`-style crates drop the file mode, and the mode matters: a
//! generated `scripts/dev.sh` must stay executable.
//!
//! It also reads the embedded TOML ahead of time, which every run would
//! otherwise parse (a tenth of `braid new`'s time, then a twentieth):
//! - each `component.toml` that holds only `[provides]`, as Rust values;
//! - each `NAME/blueprint.toml`, as JSON that `serde_json` reads into the
//!   same `RawBlueprint`, spans included.
//!
//! A file this cannot read so (an error, a rule, a date) is left to the
//! runtime parse, which reads or reports it as ever.

use std::{env, fmt::Write as _, fs, path::Path};

use serde_json::{json, Value};
use toml::{
    de::{DeTable, DeValue},
    Spanned,
};

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
    // In the order of the paths as strings, which the walk's (folder by
    // folder) is not (`a-b/x` sorts before `a/x`): the map the runtime makes
    // of them (`Root::embedded`) then finds them sorted, not sorts them.
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    // The paths are one string, not a literal each: the linker scatters
    // small literals among the megabytes of file bytes, and reading them all
    // (every run does, to list the files) then faulted in a page per path.
    let mut paths = String::new();
    let mut manifests = String::new();
    let mut blueprints = String::new();
    let mut out = String::from("/// (path: `PATHS[start..end]`, bytes, executable)\n");
    out.push_str("pub static FILES: &[(usize, usize, &[u8], bool)] = &[\n");
    for (index, (rel, abs, exec)) in entries.into_iter().enumerate() {
        if rel.rsplit('/').next() == Some("component.toml") {
            let text = fs::read_to_string(&abs).unwrap_or_default();
            if let Some(provides) = provides_only(&text) {
                write!(manifests, "    ({index}, &[").unwrap();
                for (name, items) in provides {
                    write!(manifests, "({name:?}, &{items:?}), ").unwrap();
                }
                manifests.push_str("]),\n");
            }
        }
        if rel.split('/').nth(1) == Some("blueprint.toml") && rel.matches('/').count() == 1 {
            let text = fs::read_to_string(&abs).unwrap_or_default();
            if let Some(json) = blueprint_json(&text) {
                writeln!(blueprints, "    ({index}, {json:?}),").unwrap();
            }
        }
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
    writeln!(
        out,
        "/// (index in FILES, `[provides]` in the order `toml::Table` iterates it)\n\
         pub static MANIFESTS: &[(usize, Provides)] = &[\n{manifests}];\n\
         /// A component's `[provides]`: (name, values).\n\
         pub type Provides = &'static [(&'static str, &'static [&'static str])];"
    )
    .unwrap();
    writeln!(
        out,
        "/// (index in FILES, the blueprint.toml as JSON for `RawBlueprint`)\n\
         pub static BLUEPRINTS: &[(usize, &str)] = &[\n{blueprints}];"
    )
    .unwrap();
    let dest = Path::new(&env::var("OUT_DIR").unwrap()).join("embedded.rs");
    fs::write(dest, out).expect("write embedded.rs");
}

/// A component manifest's `[provides]`, as the runtime parse would read it,
/// when that is all the manifest holds and every value is a string or a list
/// of strings; `None` for anything else.
fn provides_only(text: &str) -> Option<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    for (key, value) in text.parse::<toml::Table>().ok()? {
        let toml::Value::Table(provides) = value else {
            return None;
        };
        if key != "provides" {
            return None;
        }
        for (name, value) in provides {
            let items = match value {
                toml::Value::String(s) => vec![s],
                toml::Value::Array(items) => items
                    .into_iter()
                    .map(|i| match i {
                        toml::Value::String(s) => Some(s),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?,
                _ => return None,
            };
            out.push((name, items));
        }
    }
    Some(out)
}

/// The values of blueprint.toml that `RawBlueprint` (src/blueprint.rs)
/// reads as `toml::Spanned`, by path (`[]`: an array's items).
const SPANNED: [&str; 10] = [
    "format",
    "question[].key",
    "question[].type",
    "question[].names[]",
    "question[].flag",
    "component[].use",
    "component[].source",
    "file[].glob",
    "constraint[].check",
    "constraint[].message",
];

/// A blueprint.toml as JSON: its values, each of `SPANNED` as the map
/// `serde_spanned` reads a span from. `None` for a file that does not parse
/// or holds a value JSON cannot carry as TOML has it.
fn blueprint_json(text: &str) -> Option<String> {
    let table = DeTable::parse(text).ok()?;
    Some(table_json(table.get_ref(), "")?.to_string())
}

fn table_json(table: &DeTable<'_>, path: &str) -> Option<Value> {
    let mut out = serde_json::Map::new();
    for (key, value) in table {
        let key = key.get_ref();
        let path = if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        };
        out.insert(key.to_string(), value_json(value, &path)?);
    }
    Some(Value::Object(out))
}

fn value_json(value: &Spanned<DeValue<'_>>, path: &str) -> Option<Value> {
    let plain = match value.get_ref() {
        DeValue::String(s) => Value::from(s.as_ref()),
        // As the toml deserializer reads them.
        DeValue::Integer(i) => Value::from(i64::from_str_radix(i.as_str(), i.radix()).ok()?),
        DeValue::Float(f) => Value::from(f.as_str().parse::<f64>().ok().filter(|f| f.is_finite())?),
        DeValue::Boolean(b) => Value::from(*b),
        DeValue::Datetime(_) => return None,
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| value_json(item, &format!("{path}[]")))
                .collect::<Option<_>>()?,
        ),
        DeValue::Table(table) => table_json(table, path)?,
    };
    Some(if SPANNED.contains(&path) {
        let span = value.span();
        json!({
            "$__serde_spanned_private_start": span.start,
            "$__serde_spanned_private_end": span.end,
            "$__serde_spanned_private_value": plain,
        })
    } else {
        plain
    })
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
