//! Blueprints: where they come from (embedded or a user's folder), what
//! `blueprint.toml` declares, and the checks that make a broken blueprint
//! fail when it is loaded rather than halfway through a render.
//!
//! A library root holds `NAME/blueprint.toml` folders and shared
//! `components/NAME/` folders. User roots (`--blueprints`, `BRAID_BLUEPRINTS`)
//! come first, so a user's blueprint or component of the same name wins over
//! the embedded one.

use std::{
    borrow::Cow,
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use serde::Deserialize;

pub use crate::question::{Kind, Question};
use crate::{
    error::{closest, line_of, one_line, Error, Result},
    question::{Condition, NameRule, KINDS, NAME_RULES},
    state::Ownership,
};

/// The blueprint format this braid reads (`format = 2` in blueprint.toml).
pub const FORMAT: i64 = 2;

/// A component folder's own manifest: its file rules and what it provides.
pub const COMPONENT_MANIFEST: &str = "component.toml";

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// One file of a source tree.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub bytes: Cow<'static, [u8]>,
    pub executable: bool,
}

/// A tree of files: the embedded blueprints, or a folder on disk.
#[derive(Debug)]
pub struct Root {
    /// "embedded", or the folder's path.
    pub label: String,
    embedded: bool,
    files: BTreeMap<String, SourceFile>,
}

impl Root {
    pub fn embedded() -> Self {
        let files = embedded::FILES
            .iter()
            .map(|&(start, end, bytes, executable)| {
                let file = SourceFile {
                    bytes: Cow::Borrowed(bytes),
                    executable,
                };
                (embedded::PATHS[start..end].to_string(), file)
            })
            .collect();
        Root {
            label: "embedded".into(),
            embedded: true,
            files,
        }
    }

    pub fn from_dir(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::input(
                format!("blueprint folder {} does not exist", dir.display()),
                "pass an existing folder to --blueprints (or BRAID_BLUEPRINTS)",
            ));
        }
        let unreadable = |e: std::io::Error| {
            Error::input(
                format!("cannot read blueprint folder {}: {e}", dir.display()),
                "check the folder's permissions",
            )
        };
        let real_root = fs::canonicalize(dir).map_err(unreadable)?;
        let mut walker = Walker {
            base: dir,
            real_root: &real_root,
            open: vec![real_root.clone()],
            files: BTreeMap::new(),
        };
        walker.walk(dir).map_err(|e| match e {
            WalkError::Io(e) => unreadable(e),
            WalkError::Link(e) => e,
        })?;
        Ok(Root {
            label: dir.display().to_string(),
            embedded: false,
            files: walker.files,
        })
    }

    /// How messages name a folder of this root: a real path for a user's
    /// folder (`/home/me/bps/components/x`), `embedded:components/x` otherwise.
    fn locate(&self, prefix: &str) -> String {
        if self.embedded {
            format!("{}:{prefix}", self.label)
        } else {
            Path::new(&self.label).join(prefix).display().to_string()
        }
    }

    /// Files under `prefix/`, keyed by their path relative to it.
    fn subtree(&self, prefix: &str) -> BTreeMap<String, SourceFile> {
        let prefix = format!("{prefix}/");
        // The keys under a prefix are adjacent in the sorted map.
        self.files
            .range::<str, _>((std::ops::Bound::Included(prefix.as_str()), std::ops::Bound::Unbounded))
            .map_while(|(p, f)| p.strip_prefix(&prefix).map(|rel| (rel.to_string(), f.clone())))
            .collect()
    }

    /// A `when` of this root's blueprint.toml: compiled now, so that a broken
    /// one fails the load; an embedded blueprint's when it is read (its tests
    /// load it from its folder, where each is compiled).
    fn condition(&self, text: &str) -> std::result::Result<Condition, String> {
        if self.embedded {
            Ok(Condition::trusted(text))
        } else {
            Condition::new(text)
        }
    }

    fn blueprint_names(&self) -> Vec<String> {
        self.files
            .keys()
            .filter_map(|p| p.strip_suffix("/blueprint.toml"))
            .filter(|name| !name.contains('/'))
            .map(str::to_string)
            .collect()
    }
}

/// Reads a user's blueprint folder into memory.
///
/// Links are followed only while they stay inside the folder given to
/// `--blueprints`: a link to `/etc/passwd`, to `~/.ssh` or up through `../..`
/// would copy files from outside the blueprint into every generated repo (and
/// into its git history). Such a link is an error that names it, before
/// anything is written. The error fails every command, `braid list`
/// included, rather than being skipped with a warning: a blueprint that needs
/// such a link cannot be generated anyway, and a warning on `list` is easy to
/// miss while the folder keeps looking usable.
struct Walker<'a> {
    /// The folder as given, for relative names.
    base: &'a Path,
    /// The folder with every link resolved: what a link must stay inside.
    real_root: &'a Path,
    /// The resolved folders being walked, outermost first: a link back to
    /// one of them would loop.
    open: Vec<PathBuf>,
    files: BTreeMap<String, SourceFile>,
}

enum WalkError {
    Io(std::io::Error),
    Link(Error),
}

impl From<std::io::Error> for WalkError {
    fn from(e: std::io::Error) -> Self {
        WalkError::Io(e)
    }
}

impl Walker<'_> {
    fn walk(&mut self, dir: &Path) -> Result<(), WalkError> {
        let mut entries = fs::read_dir(dir)?.collect::<std::io::Result<Vec<_>>>()?;
        entries.sort_by_key(fs::DirEntry::file_name);
        for entry in entries {
            let path = entry.path();
            let rel = self.relative(&path);
            let real = if entry.file_type()?.is_symlink() {
                Some(self.check_link(&path, &rel)?)
            } else {
                None
            };
            let meta = fs::metadata(&path)?;
            if meta.is_dir() {
                let real = match real {
                    Some(real) => real,
                    None => fs::canonicalize(&path)?,
                };
                self.open.push(real);
                self.walk(&path)?;
                self.open.pop();
            } else if meta.is_file() {
                let file = SourceFile {
                    bytes: Cow::Owned(fs::read(&path)?),
                    executable: is_executable(&meta),
                };
                self.files.insert(rel, file);
            }
        }
        Ok(())
    }

    /// Where a link leads, when that is inside the folder and not a loop.
    fn check_link(&self, path: &Path, rel: &str) -> Result<PathBuf, WalkError> {
        let target = fs::read_link(path)?;
        let refuse = |why: String| {
            WalkError::Link(Error::input(
                format!(
                    "blueprint folder {}: the link `{rel}` points to {}{why}",
                    self.base.display(),
                    target.display()
                ),
                "copy the files into the blueprint folder instead, or remove the link; \
                 braid follows links only while they stay inside the folder",
            ))
        };
        let real = match fs::canonicalize(path) {
            Ok(real) => real,
            Err(e) => return Err(refuse(format!(", which cannot be followed ({e})"))),
        };
        if !real.starts_with(self.real_root) {
            let resolved = if real == target {
                String::new()
            } else {
                format!(" ({})", real.display())
            };
            return Err(refuse(format!("{resolved}, outside the folder")));
        }
        if self.open.contains(&real) {
            return Err(refuse(", a folder that contains the link: it would loop".into()));
        }
        Ok(real)
    }

    /// `a/b/c` relative to the folder given, `/`-separated.
    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(self.base)
            .expect("inside base")
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
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

/// A shorthand flag as a blueprint.toml declares it.
#[derive(Debug, Clone)]
pub struct DeclaredFlag {
    pub blueprint: String,
    pub key: String,
    pub flag: String,
    pub kind: String,
    pub choices: Vec<String>,
}

/// Every place blueprints come from, user folders first.
pub struct Library {
    roots: Vec<Root>,
    /// blueprint.toml files parsed by `flags`, for `load` to take: one parse
    /// each per run, not two (the parse is most of what `flags` costs).
    parsed: std::sync::Mutex<BTreeMap<String, RawBlueprint>>,
}

impl Library {
    pub fn new(user_dirs: &[PathBuf]) -> Result<Self> {
        let mut roots = user_dirs
            .iter()
            .map(|d| Root::from_dir(d))
            .collect::<Result<Vec<_>>>()?;
        roots.push(Root::embedded());
        Ok(Library {
            roots,
            parsed: std::sync::Mutex::default(),
        })
    }

    /// The blueprint names, each once (the first root that has it wins).
    pub fn names(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        for root in &self.roots {
            seen.extend(root.blueprint_names());
        }
        seen.into_iter().collect()
    }

    pub fn load(&self, name: &str) -> Result<Blueprint> {
        let Some(root) = self
            .roots
            .iter()
            .find(|r| r.files.contains_key(&format!("{name}/blueprint.toml")))
        else {
            let names = self.names();
            let hint = match closest(name, names.iter().map(String::as_str)) {
                Some(c) => format!("did you mean `{c}`? `braid list` shows them all"),
                None => format!("available: {}; `braid list` shows them all", names.join(", ")),
            };
            return Err(Error::input(format!("no blueprint named `{}`", one_line(name)), hint));
        };
        Blueprint::parse(self, root, name)
    }

    /// The shorthand flags the blueprints declare: (blueprint, question key,
    /// flag, type, choices). Read from each blueprint.toml without loading
    /// the blueprint; a malformed one is skipped here and reported when used.
    pub fn flags(&self) -> Vec<DeclaredFlag> {
        #[derive(Deserialize)]
        struct FlagsOnly {
            #[serde(default, rename = "question")]
            questions: Vec<FlagQuestion>,
        }
        #[derive(Deserialize)]
        struct FlagQuestion {
            key: String,
            #[serde(rename = "type")]
            kind: String,
            flag: Option<String>,
            #[serde(default)]
            choices: Vec<String>,
        }
        let mut out = Vec::new();
        for name in self.names() {
            let Some(root) = self
                .roots
                .iter()
                .find(|r| r.files.contains_key(&format!("{name}/blueprint.toml")))
            else {
                continue;
            };
            let bytes = &root.files[&format!("{name}/blueprint.toml")].bytes;
            let Ok(text) = std::str::from_utf8(bytes) else { continue };
            // Parsed whole when it parses, and kept for `load`; else only
            // the flags are looked for, and `load` reports what is wrong.
            let questions = match read_raw(bytes, text) {
                Ok(raw) => {
                    let questions = raw
                        .questions
                        .iter()
                        .map(|q| FlagQuestion {
                            key: q.key.get_ref().clone(),
                            kind: q.kind.get_ref().clone(),
                            flag: q.flag.as_ref().map(|f| f.get_ref().clone()),
                            choices: q.choices.clone(),
                        })
                        .collect();
                    self.parsed
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(name.clone(), raw);
                    questions
                }
                Err(_) => match toml::from_str::<FlagsOnly>(text) {
                    Ok(f) => f.questions,
                    Err(_) => continue,
                },
            };
            for q in questions {
                if let Some(flag) = q.flag {
                    out.push(DeclaredFlag {
                        blueprint: name.clone(),
                        key: q.key,
                        flag,
                        kind: q.kind,
                        choices: q.choices,
                    });
                }
            }
        }
        out
    }

    pub fn load_all(&self) -> Result<Vec<Blueprint>> {
        self.names().iter().map(|n| self.load(n)).collect()
    }

    fn component(&self, preferred: &Root, name: &str) -> Option<(String, BTreeMap<String, SourceFile>)> {
        let prefix = format!("components/{name}");
        std::iter::once(preferred)
            .chain(self.roots.iter())
            .map(|r| (r, r.subtree(&prefix)))
            .find(|(_, files)| !files.is_empty())
            .map(|(r, files)| (r.locate(&prefix), files))
    }
}

#[derive(Debug, Clone)]
pub struct Component {
    /// Where the files come from, for messages: `embedded:components/ml-python`,
    /// or the folder's path for a user's blueprint.
    pub label: String,
    pub when: Option<Condition>,
    pub files: BTreeMap<String, SourceFile>,
    /// Rules from the component's own `component.toml`.
    pub rules: Vec<FileRule>,
    /// Named values (templates) root templates loop over: `provides.NAME`.
    pub provides: Vec<(String, Vec<String>)>,
}

/// A rule over several answers (`ml_port != gateway_port`), checked once
/// every answer is known and before anything is rendered.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// A minijinja expression over the answers that must be true.
    pub check: String,
    /// What is wrong when it is false, in the blueprint's words.
    pub message: String,
    pub hint: Option<String>,
    /// The questions the check reads, in question order.
    pub keys: Vec<String>,
}

/// A piece of blueprint text: a minijinja expression, or a template whose
/// expressions sit inside `{{ }}` and `{% %}`.
#[derive(Debug, Clone)]
pub enum Text {
    Expr(String),
    Template(String),
}

/// A rule over rendered paths: who owns the file, and when it is rendered at all.
#[derive(Debug, Clone)]
pub struct FileRule {
    pub glob: globset::GlobMatcher,
    pub ownership: Option<Ownership>,
    pub when: Option<Condition>,
}

#[derive(Debug, Clone)]
pub struct Blueprint {
    pub name: String,
    pub summary: String,
    pub version: String,
    /// "embedded" or the user folder it came from.
    pub origin: String,
    pub questions: Vec<Question>,
    pub components: Vec<Component>,
    pub rules: Vec<FileRule>,
    pub constraints: Vec<Constraint>,
    /// Template variables derived from the answers, in order (`python_package`).
    pub derive: Vec<(String, String)>,
    /// Commands shown after `new` (templates over the answers).
    pub next_steps: Vec<String>,
    /// Lines shown in the summary before `new` asks to confirm (templates).
    pub recap: Vec<String>,
    /// The names components may provide values for (`provides.NAME`).
    pub provides: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawBlueprint {
    format: Option<toml::Spanned<i64>>,
    name: String,
    summary: String,
    version: String,
    #[serde(default, rename = "question")]
    questions: Vec<RawQuestion>,
    #[serde(default, rename = "component")]
    components: Vec<RawComponent>,
    #[serde(default, rename = "file")]
    files: Vec<RawFileRule>,
    #[serde(default, rename = "constraint")]
    constraints: Vec<RawConstraint>,
    #[serde(default)]
    next_steps: Vec<String>,
    #[serde(default)]
    recap: Vec<String>,
    #[serde(default)]
    derive: toml::Table,
    #[serde(default)]
    provides: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawComponentManifest {
    #[serde(default, rename = "file")]
    files: Vec<RawFileRule>,
    #[serde(default)]
    provides: toml::Table,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawConstraint {
    check: toml::Spanned<String>,
    message: toml::Spanned<String>,
    hint: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    key: toml::Spanned<String>,
    prompt: Option<String>,
    help: Option<String>,
    #[serde(rename = "type")]
    kind: toml::Spanned<String>,
    default: Option<toml::Value>,
    #[serde(default)]
    choices: Vec<String>,
    validate: Option<String>,
    validate_message: Option<String>,
    min: Option<i64>,
    max: Option<i64>,
    max_length: Option<usize>,
    #[serde(default)]
    reserved: Vec<String>,
    #[serde(default)]
    names: Vec<toml::Spanned<String>>,
    flag: Option<toml::Spanned<String>>,
    when: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    #[serde(rename = "use")]
    use_: Option<toml::Spanned<String>>,
    source: Option<toml::Spanned<String>>,
    when: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawFileRule {
    glob: toml::Spanned<String>,
    ownership: Option<Ownership>,
    when: Option<String>,
}

/// Flags of `braid new` itself: a blueprint cannot take them as shorthands.
pub const BUILTIN_FLAGS: [&str; 11] = [
    "blueprint",
    "set",
    "yes",
    "config",
    "dry-run",
    "force",
    "help",
    "version",
    "blueprints",
    "quiet",
    "json",
];

impl Blueprint {
    fn parse(library: &Library, root: &Root, name: &str) -> Result<Self> {
        let manifest = format!("{name}/blueprint.toml");
        let file_label = root.locate(&manifest);
        let text = std::str::from_utf8(&root.files[&manifest].bytes)
            .map_err(|_| Error::blueprint(name, format!("{file_label} is not UTF-8")))?;
        let cached = library
            .parsed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name);
        let raw: RawBlueprint = match cached {
            Some(raw) => raw,
            None => read_raw(&root.files[&manifest].bytes, text).map_err(|e| {
                let line = e.span().map_or(1, |s| line_of(text, s.start));
                Error::blueprint(name, format!("{file_label}:{line}: {}", e.message()))
            })?,
        };
        let at = |span: std::ops::Range<usize>, msg: String| {
            Error::blueprint(name, format!("{file_label}:{}: {msg}", line_of(text, span.start)))
        };
        match &raw.format {
            Some(f) if *f.get_ref() == FORMAT => {}
            Some(f) => {
                return Err(at(
                    f.span(),
                    format!("`format = {}`: this braid reads blueprint format {FORMAT}", f.get_ref()),
                ))
            }
            None => return Err(Error::blueprint(name, format!("{file_label}: {OLD_FORMAT}"))),
        }
        if raw.name != name {
            return Err(Error::blueprint(
                name,
                format!(
                    "{file_label}: `name = \"{}\"` must match its folder name `{name}`",
                    one_line(&raw.name)
                ),
            ));
        }

        let mut questions: Vec<Question> = Vec::new();
        for q in raw.questions {
            let span = q.key.span();
            let question = parse_question(root, q, &questions).map_err(|msg| at(span, msg))?;
            questions.push(question);
        }

        // A user's blueprint in parallel (`par`): a hundred components, each
        // a manifest to parse and conditions to compile. An embedded one's
        // manifests were parsed by build.rs and its conditions are compiled
        // when read: what is left costs less than starting a thread.
        let parse = |c: &RawComponent| parse_component(library, root, name, c, &at);
        let components = if root.embedded {
            raw.components.iter().map(parse).collect::<Result<Vec<_>>>()?
        } else {
            crate::par::try_map(&raw.components, parse)?
        };

        let rules = raw
            .files
            .into_iter()
            .map(|r| {
                let span = r.glob.span();
                parse_rule(&r, |w| root.condition(w)).map_err(|e| at(span, e))
            })
            .collect::<Result<Vec<_>>>()?;

        let constraints = raw
            .constraints
            .into_iter()
            .map(|c| parse_constraint(c, &questions).map_err(|(span, msg)| at(span, msg)))
            .collect::<Result<Vec<_>>>()?;

        let mut derive = Vec::new();
        for (key, value) in raw.derive {
            let toml::Value::String(template) = value else {
                return Err(Error::blueprint(
                    name,
                    format!("{file_label}: [derive] `{key}` must be a template string"),
                ));
            };
            if questions.iter().any(|q| q.key == key) {
                return Err(Error::blueprint(
                    name,
                    format!("{file_label}: [derive] `{key}` has the name of a question"),
                ));
            }
            derive.push((key, template));
        }
        // Embedded blueprints are checked by a test (tests/blueprints.rs loads
        // them from their folder, where every check runs), not on every run.
        if !root.embedded {
            check_conditions(name, &file_label, &questions, &derive, &components, &rules)?;
        }

        let blueprint = Blueprint {
            name: raw.name,
            summary: raw.summary,
            version: raw.version,
            origin: root.label.clone(),
            questions,
            components,
            rules,
            constraints,
            derive,
            next_steps: raw.next_steps,
            recap: raw.recap,
            provides: raw.provides,
        };
        // Embedded blueprints are linted by a test (lint::tests), not on
        // every run: the scan reads every template and costs milliseconds.
        if !root.embedded {
            crate::lint::check(&blueprint)?;
        }
        Ok(blueprint)
    }

    pub fn question(&self, key: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.key == key)
    }

    /// Who owns a rendered path: the last blueprint rule that says so.
    pub fn ownership(&self, path: &str) -> Ownership {
        self.rules
            .iter()
            .rev()
            .filter(|r| r.glob.is_match(path))
            .find_map(|r| r.ownership)
            .unwrap_or(Ownership::Managed)
    }

    /// Every text in the blueprint that is a template or an expression, with
    /// where it comes from: for lints and for the choice-value check.
    pub fn texts(&self) -> Vec<(String, Text)> {
        let mut out = Vec::new();
        let manifest = format!("{}/blueprint.toml", self.name);
        for q in &self.questions {
            if let Some(w) = &q.when {
                out.push((
                    format!("{manifest}: question `{}` when", q.key),
                    Text::Expr(w.text.clone()),
                ));
            }
        }
        for c in &self.constraints {
            out.push((format!("{manifest}: constraint"), Text::Expr(c.check.clone())));
        }
        for (k, t) in &self.derive {
            out.push((format!("{manifest}: [derive] {k}"), Text::Template(t.clone())));
        }
        for t in self.next_steps.iter().chain(&self.recap) {
            out.push((manifest.clone(), Text::Template(t.clone())));
        }
        for r in &self.rules {
            if let Some(w) = &r.when {
                out.push((format!("{manifest}: [[file]] when"), Text::Expr(w.text.clone())));
            }
        }
        for c in &self.components {
            if let Some(w) = &c.when {
                out.push((format!("{manifest}: component when"), Text::Expr(w.text.clone())));
            }
            for r in &c.rules {
                if let Some(w) = &r.when {
                    out.push((
                        format!("{}/{COMPONENT_MANIFEST}: [[file]] when", c.label),
                        Text::Expr(w.text.clone()),
                    ));
                }
            }
            for (k, items) in &c.provides {
                for t in items {
                    out.push((
                        format!("{}/{COMPONENT_MANIFEST}: provides.{k}", c.label),
                        Text::Template(t.clone()),
                    ));
                }
            }
            for (path, f) in &c.files {
                out.push((format!("{}/{path}", c.label), Text::Template(path.clone())));
                if path.ends_with(".j2") {
                    if let Ok(t) = std::str::from_utf8(&f.bytes) {
                        out.push((format!("{}/{path}", c.label), Text::Template(t.to_string())));
                    }
                }
            }
        }
        out
    }
}

/// One `[[component]]`: its files from a shared or a local folder, and its
/// own `component.toml`.
fn parse_component(
    library: &Library,
    root: &Root,
    name: &str,
    c: &RawComponent,
    at: &(dyn Fn(std::ops::Range<usize>, String) -> Error + Sync),
) -> Result<Component> {
    let when = c.when.as_deref().map(|w| root.condition(w)).transpose().map_err(|e| {
        Error::blueprint(
            name,
            format!(
                "{}: component `when`: {e}",
                root.locate(&format!("{name}/blueprint.toml"))
            ),
        )
    })?;
    let (label, mut files) = match (&c.use_, &c.source) {
        (Some(used), None) => {
            let span = used.span();
            library.component(root, used.get_ref()).ok_or_else(|| {
                at(
                    span,
                    format!(
                        "component `{}` not found in any blueprints/components/ folder",
                        one_line(used.get_ref())
                    ),
                )
            })?
        }
        (None, Some(source)) => {
            let span = source.span();
            let prefix = format!("{name}/{}", source.get_ref().trim_end_matches('/'));
            let files = root.subtree(&prefix);
            if files.is_empty() {
                return Err(at(
                    span,
                    format!("component source `{}` is empty or missing", one_line(source.get_ref())),
                ));
            }
            (root.locate(&prefix), files)
        }
        _ => {
            return Err(Error::blueprint(
                name,
                format!(
                    "{}: each [[component]] needs exactly one of `use = \"NAME\"` or `source = \"FOLDER\"`",
                    root.locate(&format!("{name}/blueprint.toml"))
                ),
            ))
        }
    };
    let (rules, provides) = match files.remove(COMPONENT_MANIFEST) {
        Some(m) => parse_component_manifest(&m.bytes)
            .map_err(|e| Error::blueprint(name, format!("{label}/{COMPONENT_MANIFEST}:{e}")))?,
        None => (Vec::new(), Vec::new()),
    };
    Ok(Component {
        label,
        when,
        files,
        rules,
        provides,
    })
}

/// What a blueprint written for braid's first format is told.
const OLD_FORMAT: &str = "this blueprint is in braid's first blueprint format (no `format = 2`). To move it to format 2:\n  \
    1. add `format = 2` at the top of blueprint.toml;\n  \
    2. braid no longer derives names from `project_name`: declare the ones your templates use in a [derive] table,\n     \
    e.g. `python_package = \"{{ project_name | snake }}\"`, `title = \"{{ project_name | title }}\"`;\n  \
    3. the project-name rules are the question's now: `names = [\"python\", \"windows\"]`, `max_length = 40`, `reserved = [...]`;\n  \
    4. shorthand flags (`--name`) are declared on their question: `flag = \"name\"`.\n  \
    hint: docs/blueprints.md describes format 2";

/// `[a-z][a-z0-9<sep>]*`: a question key (`_`) or a flag name (`-`).
/// (A regex compiled per question cost more than the rest of its parse.)
fn is_name(s: &str, sep: char) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == sep)
}

fn parse_question(root: &Root, q: RawQuestion, earlier: &[Question]) -> std::result::Result<Question, String> {
    let key = q.key.into_inner();
    if !is_name(&key, '_') {
        return Err(format!("question key `{}` must match [a-z][a-z0-9_]*", one_line(&key)));
    }
    if earlier.iter().any(|p| p.key == key) {
        return Err(format!("question `{key}` is declared twice"));
    }
    let kind = KINDS
        .into_iter()
        .find(|k| k.name() == q.kind.get_ref())
        .ok_or_else(|| {
            format!(
                "question `{key}`: unknown type `{}`; use one of string, choice, multi, bool, int",
                one_line(q.kind.get_ref())
            )
        })?;
    if matches!(kind, Kind::Choice | Kind::Multi) && q.choices.is_empty() {
        return Err(format!("question `{key}` of type {} needs `choices`", kind.name()));
    }
    let validate = q
        .validate
        .map(|re| regex::Regex::new(&re).map_err(|e| format!("question `{key}`: bad `validate` regex: {e}")))
        .transpose()?;
    let when = q
        .when
        .as_deref()
        .map(|w| root.condition(w))
        .transpose()
        .map_err(|e| format!("question `{key}`: bad `when`: {e}"))?;
    let names = q
        .names
        .iter()
        .map(|n| {
            NAME_RULES
                .iter()
                .find(|(name, _)| name == n.get_ref())
                .map(|(_, rule)| *rule)
                .ok_or_else(|| {
                    format!(
                        "question `{key}`: unknown name rules `{}`; use {}",
                        one_line(n.get_ref()),
                        NAME_RULES.map(|(n, _)| n).join(", ")
                    )
                })
        })
        .collect::<std::result::Result<Vec<NameRule>, String>>()?;
    let flag = match q.flag {
        Some(f) => {
            let f = f.into_inner();
            if !is_name(&f, '-') || BUILTIN_FLAGS.contains(&f.as_str()) {
                return Err(format!(
                    "question `{key}`: `flag = \"{}\"` must be a new long flag name ([a-z][a-z0-9-]*), not one of braid's own ({})",
                    one_line(&f),
                    BUILTIN_FLAGS.join(", ")
                ));
            }
            if let Some(other) = earlier.iter().find(|p| p.flag.as_deref() == Some(&f)) {
                return Err(format!("question `{key}`: flag `--{f}` is taken by `{}`", other.key));
            }
            Some(f)
        }
        None => None,
    };
    let mut question = Question {
        prompt: q.prompt.unwrap_or_else(|| key.replace('_', " ")),
        key: key.clone(),
        help: q.help,
        kind,
        default: None,
        choices: q.choices,
        validate,
        validate_message: q.validate_message,
        min: q.min,
        max: q.max,
        max_length: q.max_length,
        reserved: q.reserved,
        names,
        flag,
        when,
    };
    if let Some(default) = q.default {
        let value = question
            .from_toml(&default)
            .and_then(|v| question.check(&v).map(|()| v))
            .map_err(|e| format!("question `{key}`: bad default: {e}"))?;
        question.default = Some(value);
    }
    Ok(question)
}

/// A `[[file]]` rule, its `when` read by `condition` (`Root::condition`).
fn parse_rule(
    r: &RawFileRule,
    condition: impl Fn(&str) -> std::result::Result<Condition, String>,
) -> std::result::Result<FileRule, String> {
    let glob = globset::Glob::new(r.glob.get_ref()).map_err(|e| format!("bad glob `{}`: {e}", r.glob.get_ref()))?;
    let when = r
        .when
        .as_deref()
        .map(condition)
        .transpose()
        .map_err(|e| format!("[[file]] `{}`: bad `when`: {e}", r.glob.get_ref()))?;
    if r.ownership.is_none() && when.is_none() {
        return Err(format!(
            "[[file]] `{}` says nothing: give it `ownership` or `when`",
            r.glob.get_ref()
        ));
    }
    Ok(FileRule {
        glob: glob.compile_matcher(),
        ownership: r.ownership,
        when,
    })
}

/// A component's `component.toml`: file rules and provided values.
type ComponentManifest = (Vec<FileRule>, Vec<(String, Vec<String>)>);

fn parse_component_manifest(bytes: &[u8]) -> std::result::Result<ComponentManifest, String> {
    if let Some(parsed) = preparsed_manifest(bytes) {
        return Ok(parsed);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| " not UTF-8".to_string())?;
    let raw: RawComponentManifest = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        format!("{line}: {}", e.message())
    })?;
    let rules = raw
        .files
        .into_iter()
        .map(|r| {
            let line = line_of(text, r.glob.span().start);
            parse_rule(&r, Condition::new).map_err(|e| format!("{line}: {e}"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut provides = Vec::new();
    for (key, value) in raw.provides {
        let items = match value {
            toml::Value::String(s) => vec![s],
            toml::Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    toml::Value::String(s) => Ok(s),
                    _ => Err(format!("1: [provides] `{key}` holds a non-string")),
                })
                .collect::<std::result::Result<Vec<_>, _>>()?,
            _ => return Err(format!("1: [provides] `{key}` must be a string or a list of strings")),
        };
        provides.push((key, items));
    }
    Ok((rules, provides))
}

/// A blueprint.toml (`bytes`, as `text`) read: an embedded one from the JSON
/// build.rs made of it (no TOML to parse), any other from its TOML.
fn read_raw(bytes: &[u8], text: &str) -> std::result::Result<RawBlueprint, toml::de::Error> {
    match preparsed_blueprint(bytes) {
        Some(raw) => Ok(raw),
        None => toml::from_str(text),
    }
}

/// The JSON copy of an embedded blueprint.toml, read; `None` for other bytes
/// (compared by address, as in `preparsed_manifest`), and should the copy no
/// longer fit `RawBlueprint` (a test says so): the TOML is parsed then.
fn preparsed_blueprint(bytes: &[u8]) -> Option<RawBlueprint> {
    let (_, json) = embedded::BLUEPRINTS
        .iter()
        .find(|(index, _)| std::ptr::eq(embedded::FILES[*index].2, bytes))?;
    serde_json::from_str(json).ok()
}

/// The manifest as build.rs parsed it, when `bytes` are those of an embedded
/// `component.toml` it could parse (compared by address: the very bytes
/// embedded, never a file read from a user's folder).
fn preparsed_manifest(bytes: &[u8]) -> Option<ComponentManifest> {
    let (_, provides) = embedded::MANIFESTS
        .iter()
        .find(|(index, _)| std::ptr::eq(embedded::FILES[*index].2, bytes))?;
    let provides = provides
        .iter()
        .map(|(name, items)| ((*name).to_string(), items.iter().map(|i| (*i).to_string()).collect()))
        .collect();
    Some((Vec::new(), provides))
}

/// A component's or a file rule's `when` reads answers and derived names;
/// any other name would be undefined, and the condition silently false.
fn check_conditions(
    name: &str,
    file_label: &str,
    questions: &[Question],
    derive: &[(String, String)],
    components: &[Component],
    rules: &[FileRule],
) -> Result<()> {
    let known = |n: &String| questions.iter().any(|q| &q.key == n) || derive.iter().any(|(k, _)| k == n);
    let conditions = components
        .iter()
        .filter_map(|c| c.when.as_ref().map(|w| (format!("component {}: `when`", c.label), w)))
        .chain(rules.iter().filter_map(|r| {
            r.when
                .as_ref()
                .map(|w| (format!("{file_label}: [[file]] `{}` `when`", r.glob.glob()), w))
        }))
        .chain(components.iter().flat_map(|c| {
            c.rules.iter().filter_map(move |r| {
                r.when.as_ref().map(|w| {
                    (
                        format!("{}/{COMPONENT_MANIFEST}: [[file]] `{}` `when`", c.label, r.glob.glob()),
                        w,
                    )
                })
            })
        }));
    for (place, when) in conditions {
        let mut unknown: Vec<String> = when.names().into_iter().filter(|n| !known(n)).collect();
        unknown.sort();
        if let Some(n) = unknown.first() {
            let names = questions
                .iter()
                .map(|q| q.key.as_str())
                .chain(derive.iter().map(|(k, _)| k.as_str()));
            let hint = closest(n, names)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            return Err(Error::blueprint(
                name,
                format!(
                    "{place} `{}` reads `{n}`, which is neither a question nor a [derive] name{hint}",
                    when.text
                ),
            ));
        }
    }
    Ok(())
}

/// A `[[constraint]]`: its check compiles and reads only questions.
fn parse_constraint(
    raw: RawConstraint,
    questions: &[Question],
) -> Result<Constraint, (std::ops::Range<usize>, String)> {
    let span = raw.check.span();
    let check = raw.check.into_inner();
    let env = minijinja::Environment::new();
    let expr = env
        .compile_expression(&check)
        .map_err(|e| (span.clone(), format!("constraint `{check}` does not compile: {e}")))?;
    let read = expr.undeclared_variables(false);
    let mut unknown: Vec<&String> = read
        .iter()
        .filter(|v| !questions.iter().any(|q| &q.key == *v))
        .collect();
    unknown.sort();
    if let Some(v) = unknown.first() {
        let hint = closest(v, questions.iter().map(|q| q.key.as_str()))
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        return Err((
            span,
            format!("constraint `{check}` reads `{v}`, which is not a question{hint}; a check reads answers only"),
        ));
    }
    if raw.message.get_ref().trim().is_empty() {
        return Err((raw.message.span(), format!("constraint `{check}` needs a `message`")));
    }
    Ok(Constraint {
        keys: questions
            .iter()
            .filter(|q| read.contains(&q.key))
            .map(|q| q.key.clone())
            .collect(),
        check,
        message: raw.message.into_inner(),
        hint: raw.hint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Blueprint {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/blueprints");
        Library::new(&[root]).unwrap().load("demo").unwrap()
    }

    fn constraint(check: &str, message: &str) -> Result<Constraint, String> {
        let text = format!(
            "check = {}\nmessage = {}\n",
            toml::Value::from(check),
            toml::Value::from(message)
        );
        let raw: RawConstraint = toml::from_str(&text).unwrap();
        parse_constraint(raw, &demo().questions).map_err(|(_, msg)| msg)
    }

    /// build.rs reads each embedded blueprint.toml as the TOML parse does,
    /// spans included.
    #[test]
    fn preparsed_blueprints_are_what_the_toml_parse_reads() {
        let manifests = embedded::FILES
            .iter()
            .filter(|(start, end, ..)| {
                let path = &embedded::PATHS[*start..*end];
                path.ends_with("/blueprint.toml") && path.matches('/').count() == 1
            })
            .count();
        assert_eq!(
            embedded::BLUEPRINTS.len(),
            manifests,
            "every embedded blueprint.toml has its JSON"
        );
        for &(index, _) in embedded::BLUEPRINTS {
            let (start, end, bytes, _) = embedded::FILES[index];
            let path = &embedded::PATHS[start..end];
            let preparsed = preparsed_blueprint(bytes).unwrap_or_else(|| panic!("{path}: its JSON does not read"));
            let copy = bytes.to_vec();
            assert!(preparsed_blueprint(&copy).is_none());
            let parsed: RawBlueprint = toml::from_str(std::str::from_utf8(bytes).unwrap()).unwrap();
            assert_eq!(format!("{preparsed:#?}"), format!("{parsed:#?}"), "{path}");
        }
    }

    /// build.rs reads the embedded manifests as the runtime parse does.
    #[test]
    fn preparsed_manifests_are_what_the_runtime_parse_reads() {
        assert!(!embedded::MANIFESTS.is_empty());
        for &(index, _) in embedded::MANIFESTS {
            let (start, end, bytes, _) = embedded::FILES[index];
            let path = &embedded::PATHS[start..end];
            let preparsed = preparsed_manifest(bytes).expect("found by address");
            // A copy of the bytes is not the embedded file: parsed at run time.
            let copy = bytes.to_vec();
            assert!(preparsed_manifest(&copy).is_none());
            let parsed = parse_component_manifest(&copy).unwrap_or_else(|e| panic!("{path}:{e}"));
            assert!(parsed.0.is_empty(), "{path}");
            assert_eq!(preparsed.1, parsed.1, "{path}");
        }
    }

    #[test]
    fn constraint_keys_are_the_questions_it_reads_in_question_order() {
        let c = constraint("port > 1024 or flavor == 'vanilla' and docs", "m").unwrap();
        assert_eq!(c.keys, ["flavor", "docs", "port"]);
    }

    #[test]
    fn constraint_that_does_not_compile_reads_a_non_question_or_says_nothing_is_refused() {
        let e = constraint("port >", "m").unwrap_err();
        assert!(e.contains("constraint `port >` does not compile"), "{e}");
        let e = constraint("prot > 1", "m").unwrap_err();
        assert!(
            e.contains("reads `prot`, which is not a question (did you mean `port`?)"),
            "{e}"
        );
        let e = constraint("port > 1", " ").unwrap_err();
        assert!(e.contains("needs a `message`"), "{e}");
    }
}
