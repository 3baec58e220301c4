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
pub mod merge;
pub mod names;
pub mod plan;
pub mod printer;
pub mod prompt;
pub mod render;
pub mod state;
pub mod term;
pub mod write;

use clap::{CommandFactory, Parser};

use crate::{
    answers::{Input, Origin, Raw},
    cli::{Cli, Command, Gateway, Transport},
    printer::Printer,
};

/// Runs braid with the process's arguments; returns the exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    let printer = Printer;
    match dispatch(cli, &printer) {
        Ok(code) => code,
        Err(err) => {
            let code = err.downcast_ref::<error::Error>().map_or(2, error::Error::exit_code);
            if code != 130 {
                printer.error(&err);
            }
            code
        }
    }
}

fn dispatch(cli: Cli, printer: &Printer) -> anyhow::Result<i32> {
    let library = || blueprint::Library::new(&cli.blueprints);
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
            clap_complete::generate(shell, &mut Cli::command(), "braid", &mut std::io::stdout());
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
            origin: Origin::Flag(format!("--set {k}")),
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
