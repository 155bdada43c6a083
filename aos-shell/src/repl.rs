//! The interactive loop: the line editor (history kept per process), the dot-commands, and
//! the live feed's thread printing through the editor so a line being typed is redrawn, not
//! broken. Owns: what each command does and says. Must never: exit on a failed evaluation
//! (the error is shown and the loop goes on), or lose history on a clean exit.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};

use crate::blueprints;
use crate::client::ShellError;
use crate::session::{Origin, Session};

const HELP: &str = "\
Every line is evaluated in the process (an Eval message). Commands:
  .load <file>            evaluate a Lua file, its local requires inlined
  .load-blueprint <name>  evaluate an example process (.load-blueprint with no name lists them)
  .editor                 type several lines; .done evaluates them, .cancel drops them
  .dryrun                 toggle dry runs: evaluate on the CU without sending a message
  .live / .pause          show / hide what other messages print
  .monitor / .unmonitor   start / stop the MU pushing this process's cron results
  .help                   this text
  .exit                   leave (Ctrl-D too)";

/// Runs the REPL until `.exit` or end of input.
pub fn run(
    mut session: Session,
    history_dir: &Path,
    live_every: Duration,
) -> Result<(), ShellError> {
    let mut editor = DefaultEditor::new()
        .map_err(|e| ShellError::Setup(format!("cannot start the line editor: {e}")))?;
    let history = history_dir.join(&session.process);
    std::fs::create_dir_all(history_dir).ok();
    editor.load_history(&history).ok();

    start_feed(&mut editor, &session, live_every);
    println!(
        "aos {} · process {} ({}) · .help for commands",
        crate::VERSION,
        session.name,
        session.process
    );
    loop {
        let line = match editor.readline(&session.prompt()) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(ShellError::Setup(format!("reading input: {e}"))),
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        editor.add_history_entry(line).ok();
        editor.append_history(&history).ok();
        match command(&mut session, &mut editor, line) {
            Flow::Exit => break,
            Flow::Go => {}
        }
    }
    Ok(())
}

enum Flow {
    Go,
    Exit,
}

fn command(session: &mut Session, editor: &mut DefaultEditor, line: &str) -> Flow {
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (line, ""),
    };
    let result = match word {
        ".exit" | ".quit" => return Flow::Exit,
        ".help" => {
            println!("{HELP}");
            Ok(())
        }
        ".load" if rest.is_empty() => Err(ShellError::Setup("usage: .load <file>".into())),
        ".load" => session.load(Path::new(rest)).map(|s| show(&s.text)),
        ".load-blueprint" => load_blueprint(session, rest),
        ".editor" => editor_mode(session, editor),
        ".dryrun" => {
            session.dry_run = !session.dry_run;
            println!(
                "dry runs {}",
                if session.dry_run {
                    "on: nothing you evaluate is kept"
                } else {
                    "off"
                }
            );
            Ok(())
        }
        ".live" => {
            session.live.store(true, Ordering::Relaxed);
            println!("live feed on");
            Ok(())
        }
        ".pause" => {
            session.live.store(false, Ordering::Relaxed);
            println!("live feed paused (.live resumes it)");
            Ok(())
        }
        ".monitor" => session
            .monitor(true)
            .map(|()| println!("the MU now pushes this process's cron results")),
        ".unmonitor" => session
            .monitor(false)
            .map(|()| println!("the MU no longer pushes this process's cron results")),
        w if w.starts_with('.') && !w.starts_with("..") && w.len() > 1 && is_word(w) => Err(
            ShellError::Setup(format!("unknown command {w}; .help lists the commands")),
        ),
        _ => session
            .eval(line, Origin::Typed(line))
            .map(|s| show(&s.text)),
    };
    if let Err(e) = result {
        eprintln!("\x1b[31m{e}\x1b[0m");
    }
    Flow::Go
}

/// `.name` with letters and dashes only: a command, not Lua such as `.5 + 1`.
fn is_word(w: &str) -> bool {
    w[1..].chars().all(|c| c.is_ascii_alphabetic() || c == '-')
}

fn show(text: &str) {
    if !text.is_empty() {
        println!("{text}");
    }
}

fn load_blueprint(session: &mut Session, name: &str) -> Result<(), ShellError> {
    if name.is_empty() {
        println!("blueprints: {}", blueprints::names().join(", "));
        return Ok(());
    }
    let source = blueprints::get(name).ok_or_else(|| {
        ShellError::Setup(format!(
            "no blueprint {name:?}; there are: {}",
            blueprints::names().join(", ")
        ))
    })?;
    let shown = session.eval(source, Origin::Typed(source))?;
    show(&shown.text);
    if !shown.failed {
        println!("loaded blueprint {name}");
    }
    Ok(())
}

fn editor_mode(session: &mut Session, editor: &mut DefaultEditor) -> Result<(), ShellError> {
    println!("editor mode: .done evaluates, .cancel drops");
    let mut lines = Vec::new();
    loop {
        match editor.readline("") {
            Ok(line) if line.trim() == ".done" => break,
            Ok(line) if line.trim() == ".cancel" => return Ok(()),
            Ok(line) => lines.push(line),
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(ShellError::Setup(format!("reading input: {e}"))),
        }
    }
    let code = lines.join("\n");
    if code.trim().is_empty() {
        return Ok(());
    }
    let shown = session.eval(&code, Origin::Typed(&code))?;
    show(&shown.text);
    Ok(())
}

/// The live feed prints through the editor when the terminal allows, else straight to stdout.
fn start_feed(editor: &mut DefaultEditor, session: &Session, every: Duration) {
    let client = session.client.clone();
    let process = session.process.clone();
    let live = session.live.clone();
    match editor.create_external_printer() {
        Ok(mut printer) => {
            std::thread::spawn(move || {
                crate::session::feed(client, process, live, every, move |text| {
                    printer.print(text).is_ok()
                })
            });
        }
        Err(_) => {
            std::thread::spawn(move || {
                crate::session::feed(client, process, live, every, |text| {
                    print!("{text}");
                    true
                })
            });
        }
    }
}
