//! All user-facing output goes through the [`Printer`]: status and errors on
//! stderr, data on stdout. Colors only on a terminal and never with
//! `NO_COLOR` (anstream strips them otherwise).

use std::{fmt::Display, io::Write};

use anstyle::{AnsiColor, Style};

const GREEN: Style = AnsiColor::Green.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const RED: Style = AnsiColor::Red.on_default().bold();
const CYAN: Style = AnsiColor::Cyan.on_default().bold();

#[derive(Debug, Default, Clone, Copy)]
pub struct Printer;

impl Printer {
    /// A right-aligned verb and a message, like cargo: `     Created acme (42 files)`.
    pub fn status(&self, verb: &str, msg: impl Display) {
        let _ = writeln!(anstream::stderr(), "{GREEN}{verb:>12}{GREEN:#} {msg}");
    }

    /// A status line in a color picked by the verb's meaning.
    pub fn status_styled(&self, verb: &str, kind: Kind, msg: impl Display) {
        let style = match kind {
            Kind::Good => GREEN,
            Kind::Note => CYAN,
            Kind::Warn => YELLOW,
            Kind::Bad => RED,
        };
        let _ = writeln!(anstream::stderr(), "{style}{verb:>12}{style:#} {msg}");
    }

    pub fn warn(&self, msg: impl Display) {
        let _ = writeln!(anstream::stderr(), "{YELLOW}warning{YELLOW:#}: {msg}");
    }

    pub fn note(&self, msg: impl Display) {
        let _ = writeln!(anstream::stderr(), "{msg}");
    }

    /// An error with its whole cause chain.
    pub fn error(&self, err: &anyhow::Error) {
        let mut stderr = anstream::stderr();
        let _ = writeln!(stderr, "{RED}error{RED:#}: {err}");
        for cause in err.chain().skip(1) {
            let _ = writeln!(stderr, "  caused by: {cause}");
        }
    }

    /// Data for stdout. A closed pipe (`braid list | head`) ends the process quietly.
    pub fn out(&self, text: impl Display) {
        let mut stdout = anstream::stdout();
        if let Err(e) = writeln!(stdout, "{text}") {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Good,
    Note,
    Warn,
    Bad,
}
