//! braid: turn an architecture pattern into a runnable repository.
//!
//! Data flows one way (DESIGN.md section 1): answers -> validated against the
//! blueprint's questions -> rendered into an in-memory FileSet -> compared with
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
pub mod merge;
pub mod names;
pub mod plan;
pub mod printer;
pub mod prompt;
pub mod render;
pub mod state;
pub mod term;
pub mod write;

use clap::{CommandFactory, Parser as _};

use crate::{
    answers::{Input, Origin, Raw},
    cli::{Cli, Command, Gateway, Transport},
    printer::Printer,
};

/// Runs braid with the process's arguments; returns the exit code.
pub fn run() -> i32 {
    run_from(std::env::args_os())
}

/// Runs braid with these arguments (the first is the program's name); returns
/// the exit code. Nothing here exits the process, so it can run in a test.
pub fn run_from<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and --version are "errors" that exit 0; usage errors exit 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    let printer = Printer::new();
    let code = match dispatch(cli, &printer) {
        Ok(code) => code,
        Err(err) => {
            let code = err.downcast_ref::<error::Error>().map_or(2, error::Error::exit_code);
            if code != 130 {
                printer.error(&err);
            }
            code
        }
    };
    // A closed pipe (`braid diff | head`) keeps the command's own code; any
    // other failure to write the data is an error: the data did not arrive.
    match printer.stdout_failure() {
        Some(e) => {
            printer.error(&anyhow::anyhow!("cannot write to stdout: {e}"));
            2
        }
        None => code,
    }
}

fn dispatch(cli: Cli, printer: &Printer) -> anyhow::Result<i32> {
    // An empty entry (`BRAID_BLUEPRINTS=`, `a::b`, `:a`) names no folder: skip it.
    let user_dirs: Vec<_> = cli
        .blueprints
        .iter()
        .filter(|d| !d.as_os_str().is_empty())
        .cloned()
        .collect();
    let library = || blueprint::Library::new(&user_dirs);
    match cli.command {
        Command::New(args) => {
            let opts = commands::NewOptions {
                inputs: flag_inputs(&args),
                dir: args.dir,
                blueprint: args.blueprint,
                config: args.config,
                yes: args.yes,
                dry_run: args.dry_run,
                force: args.force,
            };
            commands::new(&library()?, &opts, printer)
        }
        Command::Regen { dir, dry_run } => commands::regen(&library()?, &dir, dry_run, printer),
        Command::Diff { dir } => commands::diff(&library()?, &dir, printer),
        Command::Check { dir, strict } => commands::check(&library()?, &dir, strict, printer),
        Command::List { json } => commands::list(&library()?, json, printer),
        Command::Show { blueprint, json } => commands::show(&library()?, &blueprint, json, printer),
        Command::Completions { shell } => {
            // Into a buffer, then through the printer: clap_complete panics
            // when its writer fails (a closed pipe, a full disk).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "braid", &mut script);
            printer.out_raw(&script);
            Ok(0)
        }
    }
}

/// The answers given as flags, in the order a later one overrides an earlier one.
fn flag_inputs(args: &cli::NewArgs) -> Vec<Input> {
    let mut inputs: Vec<Input> = args
        .set
        .iter()
        .map(|(k, v)| Input {
            key: k.clone(),
            raw: Raw::Text(v.clone()),
            origin: Origin::Flag(format!("--set {}", error::one_line(k))),
        })
        .collect();
    let mut flag = |key: &str, flag: &str, value: Option<String>| {
        if let Some(v) = value {
            inputs.push(Input {
                key: key.into(),
                raw: Raw::Text(v),
                origin: Origin::Flag(flag.into()),
            });
        }
    };
    flag("project_name", "--name", args.name.clone());
    flag(
        "gateway",
        "--gateway",
        args.gateway.map(|g| match g {
            Gateway::Go => "go".into(),
            Gateway::Node => "node".into(),
        }),
    );
    flag(
        "transport",
        "--transport",
        args.transport.map(|t| match t {
            Transport::Http => "http".into(),
            Transport::RedisStreams => "redis-streams".into(),
        }),
    );
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_from_can_be_called_more_than_once_and_returns_codes() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/blueprints");
        for _ in 0..2 {
            assert_eq!(run_from(["braid", "completions", "tcsh"]), 2, "a usage error");
            assert_eq!(run_from(["braid", "--blueprints", fixtures, "show", "dmeo"]), 2);
            assert_eq!(run_from(["braid", "--blueprints", fixtures, "--version"]), 0);
        }
    }
}
