//! All user-facing output goes through the [`Printer`]: status and errors on
//! stderr, data on stdout. Colors only on a terminal and never with
//! `NO_COLOR` (anstream strips them otherwise).
//!
//! Write failures are handled here and only here, as ripgrep does: the
//! printer never exits the process. On a closed pipe (`braid diff | head`) it
//! stops writing quietly and remembers; on any other failure (`> /dev/full`)
//! it remembers the error. `run` asks at the end ([`Printer::stdout_failure`])
//! and turns a real failure into an error, while a closed pipe keeps the
//! command's own exit code (1 for drift).
//!
//! Every status, warning, note and error is escaped here (control characters
//! made visible, newlines kept), so no value from a config file, a flag or a
//! folder name can drive the terminal. Data on stdout is written as it is.

use std::fmt::Write as _;
use std::{
    cell::{Cell, RefCell},
    fmt::Display,
    io::{self, Write},
};

use anstyle::{AnsiColor, Style};

use crate::error::escape_controls;

const GREEN: Style = AnsiColor::Green.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const RED: Style = AnsiColor::Red.on_default().bold();
const CYAN: Style = AnsiColor::Cyan.on_default().bold();

#[derive(Debug, Default)]
pub struct Printer {
    /// stdout's reader went away: nothing more is written there.
    stdout_closed: Cell<bool>,
    /// The first write to stdout that failed for another reason than a closed pipe.
    stdout_error: RefCell<Option<io::Error>>,
    /// stderr's reader went away, or it cannot be written: status is dropped.
    stderr_closed: Cell<bool>,
    /// `--quiet`: only warnings, errors and bad news on stderr.
    quiet: bool,
}

impl Printer {
    pub fn new(quiet: bool) -> Self {
        Printer {
            quiet,
            ..Self::default()
        }
    }

    /// A right-aligned verb and a message, like cargo: `     Created acme (42 files)`.
    pub fn status(&self, verb: &str, msg: impl Display) {
        self.status_styled(verb, Kind::Good, msg);
    }

    /// A status line in a color picked by the verb's meaning.
    pub fn status_styled(&self, verb: &str, kind: Kind, msg: impl Display) {
        if self.quiet && matches!(kind, Kind::Good | Kind::Note) {
            return;
        }
        let style = match kind {
            Kind::Good => GREEN,
            Kind::Note => CYAN,
            Kind::Warn => YELLOW,
            Kind::Bad => RED,
        };
        let msg = escape_controls(&msg.to_string(), true).into_owned();
        self.to_stderr(format_args!("{style}{verb:>12}{style:#} {msg}\n"));
    }

    pub fn warn(&self, msg: impl Display) {
        let msg = escape_controls(&msg.to_string(), true).into_owned();
        self.to_stderr(format_args!("{YELLOW}warning{YELLOW:#}: {msg}\n"));
    }

    pub fn note(&self, msg: impl Display) {
        if self.quiet {
            return;
        }
        let msg = escape_controls(&msg.to_string(), true).into_owned();
        self.to_stderr(format_args!("{msg}\n"));
    }

    /// An error with its whole cause chain.
    pub fn error(&self, err: &anyhow::Error) {
        let mut text = format!("{RED}error{RED:#}: {}\n", escape_controls(&err.to_string(), true));
        for cause in err.chain().skip(1) {
            let _ = writeln!(text, "  caused by: {}", escape_controls(&cause.to_string(), true));
        }
        self.to_stderr(format_args!("{text}"));
    }

    /// Data for stdout, as it is (data is not escaped: a diff shows the file's bytes).
    /// A failed write is remembered, never fatal here: see the module doc.
    pub fn out(&self, text: impl Display) {
        self.out_raw(format!("{text}\n").as_bytes());
    }

    /// Bytes for stdout, without a newline added (a generated script).
    pub fn out_raw(&self, bytes: &[u8]) {
        if self.stdout_closed.get() || self.stdout_error.borrow().is_some() {
            return;
        }
        let mut stdout = anstream::stdout();
        if let Err(e) = stdout.write_all(bytes).and_then(|()| stdout.flush()) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                self.stdout_closed.set(true);
            } else {
                *self.stdout_error.borrow_mut() = Some(e);
            }
        }
    }

    /// Why stdout could not be written, if it could not (a closed pipe is not a failure).
    pub fn stdout_failure(&self) -> Option<io::Error> {
        self.stdout_error.borrow_mut().take()
    }

    /// Whether a reader closed stdout before braid finished writing.
    pub fn stdout_closed(&self) -> bool {
        self.stdout_closed.get()
    }

    /// Status and errors: a failure to write them cannot be reported anywhere,
    /// so it only stops further attempts.
    fn to_stderr(&self, text: std::fmt::Arguments<'_>) {
        if self.stderr_closed.get() {
            return;
        }
        let mut stderr = anstream::stderr();
        if stderr.write_fmt(text).and_then(|()| stderr.flush()).is_err() {
            self.stderr_closed.set(true);
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
