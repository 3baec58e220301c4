//! `braid new`: answers in, a new project folder out, all or nothing.

use std::fmt::Write as _;
use std::{
    collections::BTreeMap,
    io::IsTerminal,
    path::{Path, PathBuf},
};

use crate::{
    answers::{self, Answers, Fill, Input, Value},
    blueprint::{Blueprint, Library},
    config,
    error::Error,
    printer::Printer,
    prompt::Prompter,
    render::{self, FileSet},
    state::State,
    term, write, ExitStatus,
};

#[derive(Debug, Default, Clone)]
pub struct NewOptions {
    pub dir: Option<PathBuf>,
    pub blueprint: Option<String>,
    /// Answers from flags and `--set`; later ones override earlier ones and the config file.
    pub inputs: Vec<Input>,
    pub config: Option<PathBuf>,
    pub yes: bool,
    pub dry_run: bool,
    pub force: bool,
}

pub fn new(library: &Library, opts: &NewOptions, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let interactive = !opts.yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if interactive {
        term::exit_on_ctrl_c();
    }
    let mut prompter = term::TermPrompter::default();
    new_with(library, opts, printer, interactive, &mut prompter)
}

/// `new` with the prompter given, so the whole flow runs under test.
pub fn new_with(
    library: &Library,
    opts: &NewOptions,
    printer: &Printer,
    interactive: bool,
    prompter: &mut dyn Prompter,
) -> anyhow::Result<ExitStatus> {
    // The folder is checked before the first question, not after the last.
    if let Some(dir) = &opts.dir {
        if write::check_target(dir, opts.force)? == write::Target::Finished {
            printer.status("Finished", format!("the interrupted `braid new` in {}", dir.display()));
            return Ok(ExitStatus::Success);
        }
    }
    let file = opts.config.as_deref().map(config::read).transpose()?;
    let name = match (&opts.blueprint, &file) {
        (Some(name), _) => name.clone(),
        (None, Some(f)) => f.blueprint.clone(),
        (None, None) => pick_blueprint(library, interactive, prompter)?,
    };
    let blueprint = library.load(&name)?;

    let mut inputs = file.map(|f| f.inputs).unwrap_or_default();
    inputs.extend(opts.inputs.iter().cloned());
    let fill = if opts.yes {
        Fill::Defaults
    } else if interactive {
        Fill::Prompt
    } else {
        Fill::Fail
    };
    let answers = answers::resolve(&blueprint, &inputs, &suggestions(opts.dir.as_deref()), fill, prompter)?;

    let dir = if let Some(d) = &opts.dir {
        d.clone()
    } else {
        let d = PathBuf::from(
            answers
                .str("project_name")
                .ok_or_else(|| Error::input("no project folder given", "pass the folder: `braid new DIR`"))?,
        );
        if write::check_target(&d, opts.force)? == write::Target::Finished {
            printer.status("Finished", format!("the interrupted `braid new` in {}", d.display()));
            return Ok(ExitStatus::Success);
        }
        d
    };
    let files = render::render(&blueprint, &answers)?;

    if opts.dry_run {
        printer.status(
            "Would create",
            format!("{} from {} ({} files):", dir.display(), blueprint.name, files.len() + 2),
        );
        for path in files
            .keys()
            .map(String::as_str)
            .chain([render::CONFIG_FILE, crate::state::STATE_FILE])
        {
            printer.out(path);
        }
        return Ok(ExitStatus::Success);
    }
    if interactive {
        printer.note(summary(&blueprint, &answers, &files, &dir)?);
        if !prompter.confirm("Generate the project?")? {
            printer.note("Nothing written.");
            return Ok(ExitStatus::Success);
        }
    }

    // No file records: `write_new` records the files as it writes them.
    let state = new_state(&blueprint, &answers, &FileSet::new());
    let outcome = write::write_new(
        &dir,
        &files,
        &config::render(&blueprint.name, &answers),
        &state,
        opts.force,
    )?;
    for path in &outcome.kept {
        printer.warn(format!("{path} exists and is not braid's: kept as it is, not written"));
    }
    printer.status(
        "Created",
        format!(
            "{} from {} {} ({} files)",
            dir.display(),
            blueprint.name,
            blueprint.version,
            outcome.created.len()
        ),
    );
    printer.note(next_steps(&blueprint, &answers, &dir)?);
    Ok(ExitStatus::Success)
}

fn pick_blueprint(library: &Library, interactive: bool, prompter: &mut dyn Prompter) -> anyhow::Result<String> {
    let names = library.names();
    if names.len() == 1 {
        return Ok(names[0].clone());
    }
    if !interactive {
        return Err(Error::Missing(format!(
            "no blueprint chosen and braid cannot ask\n  hint: pass --blueprint NAME, one of: {}",
            names.join(", ")
        ))
        .into());
    }
    let items = library
        .load_all()?
        .into_iter()
        .map(|b| (b.name, b.summary))
        .collect::<Vec<_>>();
    let index = prompter.choose("Blueprint", &items)?;
    Ok(items[index].0.clone())
}

/// The target folder's name is the natural default for the project name
/// (for `braid new .`, the current folder's).
fn suggestions(dir: Option<&Path>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let named = dir.map(|d| match d.file_name() {
        Some(_) => d.to_path_buf(),
        None => std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()),
    });
    if let Some(name) = named.as_deref().and_then(Path::file_name).and_then(|n| n.to_str()) {
        out.insert("project_name".into(), Value::Str(name.to_string()));
    }
    out
}

pub fn new_state(blueprint: &Blueprint, answers: &Answers, files: &FileSet) -> State {
    State::for_render(
        &blueprint.name,
        &blueprint.version,
        answers.0.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
        files,
    )
}

fn summary(blueprint: &Blueprint, answers: &Answers, files: &FileSet, dir: &Path) -> anyhow::Result<String> {
    let mut out = format!("\n{} {} into {}\n", blueprint.name, blueprint.version, dir.display());
    let width = answers.0.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in &answers.0 {
        let _ = writeln!(out, "  {key:<width$}  {}", crate::filters::oneline(&value.to_string()));
    }
    for line in render::lines(blueprint, answers, "recap", &blueprint.recap)? {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "  {} files", files.len() + 2);
    Ok(out)
}

/// The blueprint's next steps, after a `cd` into the new project.
fn next_steps(blueprint: &Blueprint, answers: &Answers, dir: &Path) -> anyhow::Result<String> {
    let mut out = format!("\nNext steps:\n  cd {}", dir.display());
    for line in render::lines(blueprint, answers, "next_steps", &blueprint.next_steps)? {
        let _ = write!(out, "\n  {line}");
    }
    Ok(out)
}
