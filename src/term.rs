//! The terminal [`Prompter`]: dialoguer on stderr, kept thin. Validation is
//! the questions' own (the same code that checks flags and config files).

use dialoguer::{theme::ColorfulTheme, Confirm, Input, MultiSelect, Select};

use crate::{
    error::{Error, Result},
    prompt::Prompter,
    question::{Kind, Question, Value},
};

/// Ctrl-C while a prompt is up: console restores the terminal mode and raises
/// SIGINT; this shows the cursor again and exits 130. Nothing is written
/// before the last prompt is answered, so nothing is left behind.
pub fn exit_on_ctrl_c() {
    let _ = ctrlc::set_handler(|| {
        let _ = console::Term::stderr().show_cursor();
        eprintln!();
        std::process::exit(130);
    });
}

#[derive(Default)]
pub struct TermPrompter {
    theme: ColorfulTheme,
}

/// Ctrl-C / Esc / a closed terminal: restore the cursor and stop.
fn interrupted(e: dialoguer::Error) -> Error {
    let _ = console::Term::stderr().show_cursor();
    let dialoguer::Error::IO(io) = e;
    if io.kind() != std::io::ErrorKind::Interrupted {
        eprintln!("error: terminal: {io}");
    }
    Error::Interrupted
}

fn cancelled<T>(choice: Option<T>) -> Result<T> {
    choice.ok_or_else(|| {
        let _ = console::Term::stderr().show_cursor();
        Error::Interrupted
    })
}

impl Prompter for TermPrompter {
    fn ask(&mut self, q: &Question, default: Option<&Value>) -> Result<Value> {
        let term = console::Term::stderr();
        let prompt = match &q.help {
            Some(help) => format!("{} ({help})", q.prompt),
            None => q.prompt.clone(),
        };
        match q.kind {
            Kind::String | Kind::Int => {
                let mut input = Input::<String>::with_theme(&self.theme).with_prompt(prompt);
                if let Some(d) = default {
                    input = input.default(d.to_string());
                }
                let check = |s: &String| q.parse_str(s).and_then(|v| q.check(&v));
                let text = input
                    .validate_with(|s: &String| check(s))
                    .interact_text_on(&term)
                    .map_err(interrupted)?;
                q.parse_str(&text).map_err(|e| Error::input(e, "answer again"))
            }
            Kind::Choice => {
                let at = default
                    .and_then(|d| q.choices.iter().position(|c| *c == d.to_string()))
                    .unwrap_or(0);
                let i = Select::with_theme(&self.theme)
                    .with_prompt(prompt)
                    .items(&q.choices)
                    .default(at)
                    .interact_on_opt(&term)
                    .map_err(interrupted)?;
                Ok(Value::Str(q.choices[cancelled(i)?].clone()))
            }
            Kind::Multi => {
                let chosen: Vec<bool> = match default {
                    Some(Value::List(d)) => q.choices.iter().map(|c| d.contains(c)).collect(),
                    _ => vec![false; q.choices.len()],
                };
                let picked = MultiSelect::with_theme(&self.theme)
                    .with_prompt(format!("{prompt} (Space to toggle, Enter to accept)"))
                    .items(&q.choices)
                    .defaults(&chosen)
                    .interact_on_opt(&term)
                    .map_err(interrupted)?;
                Ok(Value::List(
                    cancelled(picked)?.into_iter().map(|i| q.choices[i].clone()).collect(),
                ))
            }
            Kind::Bool => {
                let d = matches!(default, Some(Value::Bool(true)));
                let yes = Confirm::with_theme(&self.theme)
                    .with_prompt(prompt)
                    .default(d)
                    .interact_on_opt(&term)
                    .map_err(interrupted)?;
                Ok(Value::Bool(cancelled(yes)?))
            }
        }
    }

    fn choose(&mut self, prompt: &str, items: &[(String, String)]) -> Result<usize> {
        let width = items.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let lines: Vec<String> = items.iter().map(|(n, s)| format!("{n:<width$}  {s}")).collect();
        let i = Select::with_theme(&self.theme)
            .with_prompt(prompt)
            .items(&lines)
            .default(0)
            .interact_on_opt(&console::Term::stderr())
            .map_err(interrupted)?;
        cancelled(i)
    }

    fn confirm(&mut self, prompt: &str) -> Result<bool> {
        let yes = Confirm::with_theme(&self.theme)
            .with_prompt(prompt)
            .default(true)
            .interact_on_opt(&console::Term::stderr())
            .map_err(interrupted)?;
        cancelled(yes)
    }
}
