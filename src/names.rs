//! Names derived from one `project_name` for each ecosystem the generated
//! repo touches, and the rules that refuse a name some ecosystem can't take.

use std::collections::BTreeMap;

use minijinja::Value;

use crate::filters;

const MAX_LEN: usize = 40;

/// Python keywords, and module names a project package would shadow
/// (standard library and the generated service's own dependencies).
const PYTHON_RESERVED: &[&str] = &[
    "false",
    "none",
    "true",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    "abc",
    "argparse",
    "array",
    "ast",
    "asyncio",
    "base64",
    "bisect",
    "builtins",
    "calendar",
    "cmd",
    "code",
    "codecs",
    "collections",
    "contextlib",
    "copy",
    "csv",
    "ctypes",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "dis",
    "email",
    "enum",
    "errno",
    "fractions",
    "functools",
    "gc",
    "glob",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "http",
    "imp",
    "importlib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "logging",
    "lzma",
    "math",
    "mmap",
    "multiprocessing",
    "numbers",
    "operator",
    "os",
    "pathlib",
    "pickle",
    "platform",
    "pprint",
    "profile",
    "queue",
    "random",
    "re",
    "resource",
    "secrets",
    "select",
    "selectors",
    "shelve",
    "shutil",
    "signal",
    "site",
    "socket",
    "sqlite3",
    "ssl",
    "stat",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "sys",
    "tempfile",
    "test",
    "tests",
    "textwrap",
    "threading",
    "time",
    "timeit",
    "token",
    "tokenize",
    "trace",
    "traceback",
    "types",
    "typing",
    "unittest",
    "urllib",
    "uuid",
    "venv",
    "warnings",
    "weakref",
    "xml",
    "zipfile",
    "zlib",
    "fastapi",
    "starlette",
    "pydantic",
    "pydantic_settings",
    "uvicorn",
    "sklearn",
    "numpy",
    "scipy",
    "joblib",
    "redis",
    "prometheus_client",
    "httpx",
    "pytest",
    "anyio",
    "ruff",
];

/// Names Windows cannot create as files or folders.
const DEVICE_NAMES: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt1", "lpt2",
    "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Checks a project name for every ecosystem at once; the error says which one refuses it and why.
pub fn check_project_name(name: &str) -> Result<(), String> {
    let bad = |why: String| Err(format!("project name `{}` {why}", crate::error::one_line(name)));
    if name.is_empty() {
        return bad("is empty".into());
    }
    if name.len() > MAX_LEN {
        return bad(format!(
            "is {} characters long; keep it to {MAX_LEN} (it names containers, packages and streams)",
            name.len()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase())
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return bad("must start with a lowercase letter and hold only a-z, 0-9 and `-`".into());
    }
    if name.ends_with('-') || name.contains("--") {
        return bad(
            "cannot end with `-` or hold `--` (the Python and Go names derived from it would be awkward)".into(),
        );
    }
    let python = python_package(name);
    if PYTHON_RESERVED.contains(&python.as_str()) {
        return bad(format!(
            "gives the Python package `{python}`, which is a Python keyword or shadows a module the service imports; pick another name, e.g. `{name}-svc`"
        ));
    }
    if DEVICE_NAMES.contains(&name) {
        return bad("is a reserved device name on Windows".into());
    }
    Ok(())
}

pub fn python_package(name: &str) -> String {
    name.replace('-', "_")
}

/// Template variables derived from the project name.
pub fn derived(name: &str) -> BTreeMap<&'static str, Value> {
    let mut vars = BTreeMap::new();
    vars.insert("python_package", Value::from(python_package(name)));
    vars.insert("python_dist", Value::from(format!("{name}-ml")));
    vars.insert("npm_package", Value::from(format!("{name}-gateway")));
    vars.insert("go_module", Value::from(format!("{name}/gateway")));
    vars.insert("compose_project", Value::from(name));
    vars.insert("stream_prefix", Value::from(name));
    vars.insert("title", Value::from(filters::title(name)));
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names_pass() {
        for name in ["acme-vision", "a", "svc2", "image-tagger-9"] {
            assert_eq!(check_project_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn bad_names_say_why() {
        let cases = [
            ("", "empty"),
            ("Acme", "lowercase"),
            ("9lives", "lowercase letter"),
            ("acme_vision", "a-z, 0-9"),
            ("acme-", "cannot end"),
            ("acme--vision", "cannot end"),
            ("class", "Python keyword"),
            ("json", "shadows"),
            ("fastapi", "shadows"),
            ("nul", "Windows"),
            (&"x".repeat(41), "41 characters"),
        ];
        for (name, why) in cases {
            let err = check_project_name(name).unwrap_err();
            assert!(err.contains(why), "{name}: {err}");
        }
    }

    #[test]
    fn derived_names_fit_each_ecosystem() {
        let d = derived("acme-vision");
        assert_eq!(d["python_package"].as_str(), Some("acme_vision"));
        assert_eq!(d["python_dist"].as_str(), Some("acme-vision-ml"));
        assert_eq!(d["npm_package"].as_str(), Some("acme-vision-gateway"));
        assert_eq!(d["go_module"].as_str(), Some("acme-vision/gateway"));
        assert_eq!(d["title"].as_str(), Some("Acme Vision"));
    }
}
