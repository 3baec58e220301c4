//! The command line, and nothing else: clap types stop here. `lib.rs` turns
//! them into plain option structs that the commands take.
//!
//! `braid new` also takes the shorthand flags blueprints declare
//! (`flag = "gateway"` on a question gives `--gateway VALUE`): they are added
//! to the command at run time by [`with_blueprint_flags`], from the embedded
//! blueprints and the user's folders, so `--help` and completions list them.

use std::path::PathBuf;

use clap::{builder::TypedValueParser as _, Parser, Subcommand};

/// Turn an architecture pattern into a runnable repository, and keep it in
/// sync with its answers safely.
#[derive(Debug, Parser)]
#[command(name = "braid", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Extra blueprint folders (each holds NAME/blueprint.toml and components/);
    /// they win over the embedded blueprints of the same name.
    #[arg(
        long = "blueprints",
        global = true,
        env = "BRAID_BLUEPRINTS",
        value_name = "DIR",
        value_delimiter = ':',
        // Empty entries are allowed here and skipped later: PathBuf's own
        // parser would refuse `BRAID_BLUEPRINTS=` and `a::b`.
        value_parser = clap::builder::OsStringValueParser::new().map(PathBuf::from)
    )]
    pub blueprints: Vec<PathBuf>,

    /// Print only warnings and errors (and the data a command prints on stdout).
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a new project from a blueprint.
    New(NewArgs),
    /// Re-render from DIR/braid.toml and merge into the repo, keeping hand edits.
    Regen {
        /// The project folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Print the plan, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print what regen did (or would do) as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Show what regen would change, as a unified diff; write nothing.
    Diff {
        /// The project folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Print the changes as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Exit 1 when braid.toml and the repo are out of sync (for CI).
    Check {
        /// The project folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Hand edits to managed files fail the check too.
        #[arg(long)]
        strict: bool,
        /// Print the findings as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List the blueprints, one line each.
    List {
        /// Print JSON for machines.
        #[arg(long)]
        json: bool,
    },
    /// Show a blueprint's questions, choices, defaults and components.
    Show {
        /// The blueprint's name.
        blueprint: String,
        /// Print JSON for machines.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The project folder (default: the project name).
    pub dir: Option<PathBuf>,

    /// The blueprint to use (`braid list` shows them).
    #[arg(long, short)]
    pub blueprint: Option<String>,

    /// Answer a question: KEY=VALUE (repeatable).
    #[arg(long = "set", short = 's', value_name = "KEY=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, String)>,

    /// Take the defaults for every question no flag answered; ask nothing.
    #[arg(long, short)]
    pub yes: bool,

    /// Read the blueprint and answers from a braid.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// List the files that would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Write into a non-empty folder (never overwrites a file braid did not write).
    #[arg(long)]
    pub force: bool,
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "`{s}` is not KEY=VALUE (for example --set description=\"Image tagging API\")"
        )),
    }
}

/// A shorthand flag a blueprint declares for one of its questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlueprintFlag {
    pub flag: String,
    /// Help text: what it answers, in which blueprints, and its choices.
    pub help: String,
    pub value_name: String,
}

/// The command with the blueprints' shorthand flags added to `new`.
pub fn with_blueprint_flags(flags: &[BlueprintFlag]) -> clap::Command {
    use clap::CommandFactory as _;
    let mut cmd = Cli::command();
    if !flags.is_empty() {
        cmd = cmd.mut_subcommand("new", |mut new| {
            for f in flags {
                new = new.arg(
                    clap::Arg::new(f.flag.clone())
                        .long(f.flag.clone())
                        .value_name(f.value_name.clone())
                        .help(f.help.clone())
                        .help_heading("Blueprint flags")
                        .action(clap::ArgAction::Set),
                );
            }
            new
        });
    }
    cmd
}
