//! braid: turn an architecture pattern into a runnable repository.
//!
//! Data flows one way (DESIGN.md section 1): answers -> validated against the
//! blueprint's questions -> rendered into an in-memory `FileSet` -> compared with
//! the disk and `.braid/state.json` -> a plan, shown or applied.

pub mod answers;
pub mod blueprint;
mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod filters;
pub mod fsx;
pub mod journal;
pub mod lint;
pub mod merge;
mod par;
pub mod plan;
pub mod printer;
pub mod prompt;
pub mod question;
pub mod render;
pub mod state;
pub mod term;
pub mod write;

use std::{ffi::OsString, path::PathBuf};

use clap::FromArgMatches as _;

use crate::{
    answers::{Input, Origin, Raw},
    cli::{BlueprintFlag, Cli, Command},
    printer::Printer,
};

/// How braid ends: the exit codes of DESIGN.md section 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done, in sync.
    Success,
    /// 1: `check`/`diff` found drift, or `regen` left or found conflicts.
    Failure,
    /// 2: bad usage, config or blueprint, or an I/O error.
    Error,
    /// 130: interrupted at a prompt.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Error => 2,
            ExitStatus::Interrupted => 130,
        }
    }

    /// Success when `ok`, else Failure.
    pub fn from_ok(ok: bool) -> Self {
        if ok {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(u8::try_from(status.code()).unwrap_or(2))
    }
}

/// Runs braid with the process's arguments.
pub fn run() -> ExitStatus {
    run_from(std::env::args_os())
}

/// Runs braid with these arguments (the first is the program's name).
/// Nothing here exits the process, so it can run in a test.
pub fn run_from<I, T>(args: I) -> ExitStatus
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // The blueprint folders decide which shorthand flags `new` takes.
    let user_dirs = user_dirs(&args);
    let library = blueprint::Library::new(&user_dirs);
    let flags = library
        .as_ref()
        .map(|l| blueprint_flags(&l.flags()))
        .unwrap_or_default();
    let parsed = cli::with_blueprint_flags(&flags)
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(p) => p,
        Err(e) => {
            // Help and --version are "errors" that exit 0; usage errors exit 2.
            if e.exit_code() == 0 {
                let _ = e.print();
                return ExitStatus::Success;
            }
            // A blueprint folder that does not load gives no flags: its own
            // error says more than "unexpected argument".
            if let Err(broken) = library {
                Printer::new(false).error(&broken.into());
            } else {
                let _ = e.print();
            }
            return ExitStatus::Error;
        }
    };
    let printer = Printer::new(cli.quiet);
    let status = match library
        .map_err(anyhow::Error::from)
        .and_then(|l| dispatch(cli, &matches, &flags, &l, &printer))
    {
        Ok(status) => status,
        Err(err) => {
            let status = err
                .downcast_ref::<error::Error>()
                .map_or(ExitStatus::Error, error::Error::exit_status);
            if status != ExitStatus::Interrupted {
                printer.error(&err);
            }
            status
        }
    };
    // A closed pipe (`braid diff | head`) keeps the command's own code; any
    // other failure to write the data is an error: the data did not arrive.
    match printer.stdout_failure() {
        Some(e) => {
            printer.error(&anyhow::anyhow!("cannot write to stdout: {e}"));
            ExitStatus::Error
        }
        None => status,
    }
}

/// The user's blueprint folders, as `--blueprints` or `BRAID_BLUEPRINTS`
/// give them, read before clap so that their flags can be added. An empty
/// entry (`BRAID_BLUEPRINTS=`, `a::b`, `:a`) names no folder: skipped.
fn user_dirs(args: &[OsString]) -> Vec<PathBuf> {
    let mut given: Vec<OsString> = Vec::new();
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        let Some(text) = arg.to_str() else { continue };
        if text == "--" {
            break;
        }
        if text == "--blueprints" {
            given.extend(it.next().cloned());
        } else if let Some(v) = text.strip_prefix("--blueprints=") {
            given.push(v.into());
        }
    }
    if given.is_empty() {
        given.extend(std::env::var_os("BRAID_BLUEPRINTS"));
    }
    given
        .iter()
        .flat_map(|g| std::env::split_paths(g).collect::<Vec<_>>())
        .filter(|d| !d.as_os_str().is_empty())
        .collect()
}

/// One command-line flag per declared shorthand, with help that says what
/// it answers in each blueprint.
fn blueprint_flags(declared: &[blueprint::DeclaredFlag]) -> Vec<BlueprintFlag> {
    // The same flag answering the same question with the same choices in
    // several blueprints is said once, naming them all.
    let mut said: Vec<(String, String, Vec<String>, Vec<String>)> = Vec::new();
    for d in declared {
        match said
            .iter_mut()
            .find(|(f, k, c, _)| *f == d.flag && *k == d.key && *c == d.choices)
        {
            Some((_, _, _, blueprints)) => blueprints.push(d.blueprint.clone()),
            None => said.push((
                d.flag.clone(),
                d.key.clone(),
                d.choices.clone(),
                vec![d.blueprint.clone()],
            )),
        }
    }
    let mut out: Vec<BlueprintFlag> = Vec::new();
    for (flag, key, choices, blueprints) in said {
        let d = declared
            .iter()
            .find(|d| d.flag == flag && d.key == key)
            .expect("declared");
        let what = if choices.is_empty() {
            format!("answers `{key}` ({})", blueprints.join(", "))
        } else {
            format!("answers `{key}` ({}): {}", blueprints.join(", "), choices.join(", "))
        };
        match out.iter_mut().find(|f| f.flag == d.flag) {
            Some(f) => {
                f.help.push_str("; ");
                f.help.push_str(&what);
            }
            None => out.push(BlueprintFlag {
                flag: d.flag.clone(),
                help: what,
                value_name: if d.choices.is_empty() {
                    d.key.to_uppercase()
                } else {
                    d.kind.to_uppercase()
                },
            }),
        }
    }
    out
}

fn dispatch(
    cli: Cli,
    matches: &clap::ArgMatches,
    flags: &[BlueprintFlag],
    library: &blueprint::Library,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::New(args) => {
            let new_matches = matches.subcommand_matches("new").expect("the new subcommand");
            let opts = commands::NewOptions {
                inputs: flag_inputs(&args, new_matches, flags),
                dir: args.dir,
                blueprint: args.blueprint,
                config: args.config,
                yes: args.yes,
                dry_run: args.dry_run,
                force: args.force,
            };
            commands::new(library, &opts, printer)
        }
        Command::Regen { dir, dry_run, json } => commands::regen(library, &dir, dry_run, json, printer),
        Command::Diff { dir, json } => commands::diff(library, &dir, json, printer),
        Command::Check { dir, strict, json } => commands::check(library, &dir, strict, json, printer),
        Command::List { json } => commands::list(library, json, printer),
        Command::Show { blueprint, json } => commands::show(library, &blueprint, json, printer),
        Command::Completions { shell } => {
            // Into a buffer, then through the printer: clap_complete panics
            // when its writer fails (a closed pipe, a full disk).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cli::with_blueprint_flags(flags), "braid", &mut script);
            printer.out_raw(&script);
            Ok(ExitStatus::Success)
        }
    }
}

/// The answers given as flags: `--set` first, then the blueprint shorthands;
/// a later one overrides an earlier one. Which question a shorthand answers
/// is the chosen blueprint's business (`answers::resolve`).
fn flag_inputs(args: &cli::NewArgs, matches: &clap::ArgMatches, flags: &[BlueprintFlag]) -> Vec<Input> {
    let mut inputs: Vec<Input> = args
        .set
        .iter()
        .map(|(k, v)| Input {
            key: k.clone(),
            raw: Raw::Text(v.clone()),
            origin: Origin::Flag(format!("--set {}", error::one_line(k))),
        })
        .collect();
    for f in flags {
        if let Some(v) = matches.get_one::<String>(&f.flag) {
            inputs.push(Input {
                key: answers::flag_key(&f.flag),
                raw: Raw::Text(v.clone()),
                origin: Origin::Flag(format!("--{}", f.flag)),
            });
        }
    }
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_from_can_be_called_more_than_once_and_returns_codes() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/blueprints");
        for _ in 0..2 {
            assert_eq!(
                run_from(["braid", "completions", "tcsh"]),
                ExitStatus::Error,
                "a usage error"
            );
            assert_eq!(
                run_from(["braid", "--blueprints", fixtures, "show", "dmeo"]),
                ExitStatus::Error
            );
            assert_eq!(
                run_from(["braid", "--blueprints", fixtures, "--version"]),
                ExitStatus::Success
            );
        }
    }
}
