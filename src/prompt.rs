//! Asking questions. The answer logic talks to a [`Prompter`]; the terminal
//! implementation is thin and lives at the edge, a scripted one drives tests.

use crate::{
    error::{Error, Result},
    question::{Question, Value},
};

pub trait Prompter {
    /// Asks one question until a valid answer is given.
    fn ask(&mut self, question: &Question, default: Option<&Value>) -> Result<Value>;

    /// Picks one of `(name, summary)` items; returns its index.
    fn choose(&mut self, prompt: &str, items: &[(String, String)]) -> Result<usize>;

    /// A yes/no question, yes by default.
    fn confirm(&mut self, prompt: &str) -> Result<bool>;
}

/// For runs where nothing may be asked: any question is an error.
pub struct NoPrompt;

impl Prompter for NoPrompt {
    fn ask(&mut self, question: &Question, _default: Option<&Value>) -> Result<Value> {
        Err(Error::Missing(format!(
            "no answer for `{}` and braid cannot ask\n  hint: pass {}",
            question.key,
            question.flag()
        )))
    }

    fn choose(&mut self, prompt: &str, _items: &[(String, String)]) -> Result<usize> {
        Err(Error::Missing(format!("braid cannot ask `{prompt}` here")))
    }

    fn confirm(&mut self, _prompt: &str) -> Result<bool> {
        Ok(true)
    }
}

/// Answers from a script, validated like typed ones: for tests.
pub struct Scripted {
    pub replies: std::collections::VecDeque<String>,
    pub asked: Vec<String>,
    pub rejected: Vec<String>,
}

impl Scripted {
    pub fn new(replies: &[&str]) -> Self {
        Scripted {
            replies: replies.iter().map(std::string::ToString::to_string).collect(),
            asked: Vec::new(),
            rejected: Vec::new(),
        }
    }
}

impl Prompter for Scripted {
    fn ask(&mut self, question: &Question, default: Option<&Value>) -> Result<Value> {
        self.asked.push(question.key.clone());
        loop {
            let reply = self.replies.pop_front().ok_or(Error::Interrupted)?;
            if reply.is_empty() {
                if let Some(d) = default {
                    return Ok(d.clone());
                }
            }
            match question.parse_str(&reply).and_then(|v| question.check(&v).map(|()| v)) {
                Ok(v) => return Ok(v),
                Err(e) => self.rejected.push(e),
            }
        }
    }

    fn choose(&mut self, prompt: &str, items: &[(String, String)]) -> Result<usize> {
        self.asked.push(prompt.to_string());
        let reply = self.replies.pop_front().ok_or(Error::Interrupted)?;
        Ok(items.iter().position(|(name, _)| *name == reply).unwrap_or(0))
    }

    fn confirm(&mut self, prompt: &str) -> Result<bool> {
        self.asked.push(prompt.to_string());
        let reply = self.replies.pop_front().ok_or(Error::Interrupted)?;
        Ok(!matches!(reply.as_str(), "n" | "no"))
    }
}
