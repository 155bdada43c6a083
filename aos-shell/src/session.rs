//! One connected process: evaluating code (as a signed `Eval` through the MU, or as a dry run
//! on the CU), showing results the way aos does (the printed output, then the prompt the
//! process computes), errors with the line they point at, and the live feed of what other
//! messages print. Owns: the prompt, the dry-run and live switches, the spinner. Must never:
//! print a result twice in the feed, or let the feed write over the line being typed (it
//! prints through the line editor's printer).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ao_core::Signer;
use serde_json::Value as Json;

use crate::client::{Client, ShellError};
use crate::load::{self, Loaded};
use crate::process;

pub struct Session {
    pub client: Arc<Client>,
    pub signer: Signer,
    pub owner: String,
    pub process: String,
    pub name: String,
    /// The prompt the process gave last, as it gave it (with colours).
    pub prompt: String,
    pub dry_run: bool,
    /// Whether the live feed prints.
    pub live: Arc<AtomicBool>,
}

/// What one evaluation showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub text: String,
    pub failed: bool,
}

/// Where evaluated code came from, to point at an error's line.
pub enum Origin<'a> {
    Typed(&'a str),
    Loaded(&'a Loaded),
}

impl Session {
    /// Evaluates `code` and returns what to show.
    pub fn eval(&mut self, code: &str, origin: Origin<'_>) -> Result<Shown, ShellError> {
        let result = if self.dry_run {
            let _spin = Spinner::start("dry run");
            let body = process::eval_dry_run(&self.owner, &self.process, code);
            self.client.dry_run(&self.process, &body)?
        } else {
            let item = process::eval_item(&self.signer, &self.process, code)?;
            let _spin = Spinner::start("evaluating");
            self.client.send(&item)?;
            self.client.result(&self.process, &item.id().to_string())?
        };
        if let Some(prompt) = result["Output"]["prompt"].as_str() {
            self.prompt = prompt.to_owned();
        }
        Ok(show(&result, &origin))
    }

    /// Evaluates a file with its local `require`s inlined.
    pub fn load(&mut self, path: &Path) -> Result<Shown, ShellError> {
        let loaded = load::load(path).map_err(|e| ShellError::Setup(e.to_string()))?;
        let source = loaded.source.clone();
        self.eval(&source, Origin::Loaded(&loaded))
    }

    /// The prompt to show, plain and coloured: the process's own, else `name> `.
    pub fn prompt(&self) -> (String, String) {
        let mut styled = if self.prompt.is_empty() {
            format!("{}> ", self.name)
        } else {
            self.prompt.clone()
        };
        if self.dry_run {
            styled.insert_str(0, "[dry-run] ");
        }
        (strip_ansi(&styled), styled)
    }

    /// Starts or stops the MU's monitor of this process's crons.
    pub fn monitor(&self, on: bool) -> Result<(), ShellError> {
        let item = process::monitor_item(&self.signer, &self.process)?;
        self.client.monitor(&self.process, &item, on)
    }
}

/// The text of a result: its output, or its error with the line it points at.
fn show(result: &Json, origin: &Origin<'_>) -> Shown {
    if let Some(error) = result.get("Error").filter(|e| !e.is_null()) {
        let text = match error.as_str() {
            Some(s) => s.to_owned(),
            None => error.to_string(),
        };
        let mut shown = format!("\x1b[31m{text}\x1b[0m");
        if let Some(at) = locate(&text, origin) {
            shown.push('\n');
            shown.push_str(&at);
        }
        return Shown {
            text: shown,
            failed: true,
        };
    }
    let output = &result["Output"];
    let data = match output.get("data").unwrap_or(output) {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        Json::Object(o) if o.contains_key("output") => match &o["output"] {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        },
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    Shown {
        text: data,
        failed: false,
    }
}

/// `  --> file:line` and the offending source line, for an error that names a line.
fn locate(error: &str, origin: &Origin<'_>) -> Option<String> {
    let line = load::error_line(error)?;
    match origin {
        Origin::Typed(code) => {
            let source = code.lines().nth(line.checked_sub(1)?)?;
            Some(format!("  --> line {line}\n  {line} | {source}"))
        }
        Origin::Loaded(loaded) => {
            let (file, at) = loaded.locate(line)?;
            let source = loaded.line_of(file, at).unwrap_or_default();
            Some(format!("  --> {}:{at}\n  {at} | {source}", file.display()))
        }
    }
}

/// `text` without ANSI escape sequences (the line editor measures the prompt in characters).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// A spinner on stderr while the shell waits, only when stderr is a terminal.
pub struct Spinner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    pub fn start(what: &'static str) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::io::stderr().is_terminal().then(|| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
                // Quick answers show no spinner at all.
                std::thread::sleep(Duration::from_millis(150));
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    eprint!("\r{} {what}…", FRAMES[i % FRAMES.len()]);
                    std::io::stderr().flush().ok();
                    i += 1;
                    std::thread::sleep(Duration::from_millis(80));
                }
                if i > 0 {
                    eprint!("\r\x1b[K");
                    std::io::stderr().flush().ok();
                }
            })
        });
        Spinner { stop, thread }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// Polls the CU for new results of `process` and hands what they printed (`Output.print`) to
/// `print`, while `live` is set, every `interval`, until `print` fails (the editor is gone).
pub fn feed(
    client: Arc<Client>,
    process: String,
    live: Arc<AtomicBool>,
    interval: Duration,
    mut print: impl FnMut(String) -> bool,
) {
    // Start after the newest result: the feed shows what happens from now on.
    let mut cursor = client
        .results(&process, None, "DESC", 1)
        .ok()
        .and_then(|page| page["edges"][0]["cursor"].as_str().map(str::to_owned));
    loop {
        std::thread::sleep(interval);
        if !live.load(Ordering::Relaxed) {
            continue;
        }
        // An unreachable CU is the REPL's to report; the feed tries again next time.
        let Ok(page) = client.results(&process, cursor.as_deref(), "ASC", 50) else {
            continue;
        };
        for edge in page["edges"].as_array().into_iter().flatten() {
            if let Some(c) = edge["cursor"].as_str() {
                cursor = Some(c.to_owned());
            }
            let output = &edge["node"]["Output"];
            if output["print"] != Json::Bool(true) {
                continue;
            }
            let Some(text) = output["data"].as_str().filter(|t| !t.is_empty()) else {
                continue;
            };
            if !print(format!("{text}\n")) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ansi_is_stripped_from_prompts() {
        assert_eq!(
            strip_ansi("\x1b[32mname@aos-2.0.1\x1b[90m[Inbox:\x1b[31m0\x1b[90m]\x1b[0m> "),
            "name@aos-2.0.1[Inbox:0]> "
        );
    }

    #[test]
    fn an_error_shows_the_typed_line_it_points_at() {
        let result =
            json!({ "Error": "[string \"aos\"]:2: attempt to call a nil value (global 'nope')" });
        let shown = show(&result, &Origin::Typed("local a = 1\nnope()"));
        assert!(shown.failed);
        assert!(shown.text.contains("  2 | nope()"), "{}", shown.text);
    }

    #[test]
    fn output_data_is_shown_as_text_or_json() {
        let shown = show(
            &json!({ "Output": { "data": "2", "prompt": "p> " } }),
            &Origin::Typed("1 + 1"),
        );
        assert_eq!(shown.text, "2");
        let shown = show(
            &json!({ "Output": { "data": { "output": "legacy" } } }),
            &Origin::Typed(""),
        );
        assert_eq!(shown.text, "legacy");
    }
}
