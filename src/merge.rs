//! Three-way text merge (placeholder on diffy; replaced by gix-merge).

pub const OURS_LABEL: &str = "yours (on disk)";
pub const THEIRS_LABEL: &str = "braid (new render)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged {
    Clean(Vec<u8>),
    Conflict(Vec<u8>),
    Binary,
}

pub fn merge(base: &[u8], ours: &[u8], theirs: &[u8]) -> Merged {
    let (Ok(b), Ok(o), Ok(t)) = (
        std::str::from_utf8(base),
        std::str::from_utf8(ours),
        std::str::from_utf8(theirs),
    ) else {
        return Merged::Binary;
    };
    let mut opts = diffy::MergeOptions::new();
    opts.set_conflict_style(diffy::ConflictStyle::Merge);
    match opts.merge(b, o, t) {
        Ok(clean) => Merged::Clean(clean.into_bytes()),
        Err(conflicted) => Merged::Conflict(
            conflicted
                .split_inclusive('\n')
                .map(|line| match line.trim_end_matches('\n') {
                    "<<<<<<< ours" => format!("<<<<<<< {OURS_LABEL}\n"),
                    ">>>>>>> theirs" => format!(">>>>>>> {THEIRS_LABEL}\n"),
                    _ => line.to_string(),
                })
                .collect::<String>()
                .into_bytes(),
        ),
    }
}

pub fn has_markers(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.lines().any(|l| l.starts_with(&format!("<<<<<<< {OURS_LABEL}")))
        && text.lines().any(|l| l.starts_with(&format!(">>>>>>> {THEIRS_LABEL}")))
}

pub fn check_structured(path: &str, bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    if path.ends_with(".json") {
        serde_json::from_str::<serde_json::Value>(text)
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else if path.ends_with(".toml") {
        toml::from_str::<toml::Table>(text)
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else {
        Ok(())
    }
}
