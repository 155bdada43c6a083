//! `.load <file>`: one Lua source made of a file and the local files it `require`s, each
//! required file inlined once as `package.loaded["name"] = (function(...) <file> end)("name")`
//! ahead of the code that needs it, so the process's own `require` finds it. Owns: finding
//! local modules (`a.b` → `a/b.lua` beside the requiring file), the order, and the line map
//! that turns a line of the combined source back into a file and line. Must never: inline a
//! file twice, follow a cycle forever, or touch a `require` it cannot find a file for (those
//! are the process's modules: `json`, `.bignum`, …).

use std::path::{Path, PathBuf};

/// Files inlined into one `.load`, at most.
pub const FILES_MAX: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} requires itself through {chain}")]
    Cycle { path: PathBuf, chain: String },
    #[error("more than {FILES_MAX} files to inline")]
    TooManyFiles,
}

/// A stretch of the combined source that came from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// First line in the combined source (1-based).
    pub first_line: usize,
    pub lines: usize,
    pub file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Loaded {
    pub source: String,
    pub segments: Vec<Segment>,
    /// Every file read, for showing an error's line.
    texts: Vec<(PathBuf, String)>,
}

impl Loaded {
    /// The file and line (1-based) that line `line` of the combined source came from; `None`
    /// for the lines the inlining added.
    pub fn locate(&self, line: usize) -> Option<(&Path, usize)> {
        self.segments
            .iter()
            .find(|s| line >= s.first_line && line < s.first_line + s.lines)
            .map(|s| (s.file.as_path(), line - s.first_line + 1))
    }

    /// The text of line `line` (1-based) of `file`, if it was read.
    pub fn line_of(&self, file: &Path, line: usize) -> Option<&str> {
        let (_, text) = self.texts.iter().find(|(p, _)| p == file)?;
        text.lines().nth(line.checked_sub(1)?)
    }
}

/// Reads `path` and every local file it requires, transitively.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let mut builder = Builder {
        out: String::new(),
        line: 1,
        segments: Vec::new(),
        texts: Vec::new(),
        done: Vec::new(),
    };
    builder.visit(path, None, &mut Vec::new())?;
    Ok(Loaded {
        source: builder.out,
        segments: builder.segments,
        texts: builder.texts,
    })
}

struct Builder {
    out: String,
    /// The line the next text written starts on.
    line: usize,
    segments: Vec<Segment>,
    texts: Vec<(PathBuf, String)>,
    done: Vec<PathBuf>,
}

impl Builder {
    /// Emits `path`'s dependencies, then `path` itself, wrapped as module `module` when given.
    fn visit(
        &mut self,
        path: &Path,
        module: Option<&str>,
        stack: &mut Vec<PathBuf>,
    ) -> Result<(), LoadError> {
        if stack.iter().any(|p| p == path) {
            let chain = stack
                .iter()
                .chain(std::iter::once(&path.to_owned()))
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" → ");
            return Err(LoadError::Cycle {
                path: path.to_owned(),
                chain,
            });
        }
        if self.texts.len() >= FILES_MAX {
            return Err(LoadError::TooManyFiles);
        }
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.texts.push((path.to_owned(), text.clone()));
        stack.push(path.to_owned());
        let dir = path.parent().unwrap_or(Path::new("."));
        for name in required_names(&text) {
            let Some(file) = module_file(dir, &name) else {
                continue;
            };
            if self.done.contains(&file) {
                continue;
            }
            self.visit(&file, Some(&name), stack)?;
        }
        stack.pop();

        if let Some(name) = module {
            self.write(&format!("package.loaded[{name:?}] = (function(...)\n"));
        }
        let lines = text.lines().count().max(1);
        self.segments.push(Segment {
            first_line: self.line,
            lines,
            file: path.to_owned(),
        });
        self.write(&text);
        if !text.ends_with('\n') {
            self.write("\n");
        }
        if let Some(name) = module {
            self.write(&format!("end)({name:?})\n"));
        }
        self.done.push(path.to_owned());
        Ok(())
    }

    fn write(&mut self, text: &str) {
        self.line += text.matches('\n').count();
        self.out.push_str(text);
    }
}

/// The file for module `name` beside the requiring file: `a.b` is `a/b.lua`, else `a.b.lua`.
fn module_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let safe = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if !safe || name.starts_with('.') || name.contains("..") {
        return None;
    }
    [
        dir.join(format!("{}.lua", name.replace('.', "/"))),
        dir.join(format!("{name}.lua")),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// The string literals passed to `require` in `text`, outside `--` comments, in order.
fn required_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines() {
        let code = line.split("--").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("require") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "require".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let arg = rest.trim_start();
            let arg = arg.strip_prefix('(').map_or(arg, str::trim_start);
            let Some(quote) = arg.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            if let Some(end) = arg[1..].find(quote) {
                names.push(arg[1..1 + end].to_owned());
            }
        }
    }
    names
}

/// The line an error from an `Eval` points at: `[string "aos"]:<line>:`.
pub fn error_line(error: &str) -> Option<usize> {
    const MARK: &str = "[string \"aos\"]:";
    let at = error.find(MARK)? + MARK.len();
    let digits: String = error[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_are_found_in_calls_and_strings_but_not_comments() {
        let text = "local a = require('a')\nlocal b = require \"b.c\"\n-- require('no')\nx.require('no2')\nlocal j = require(\"json\")";
        assert_eq!(required_names(text), ["a", "b.c", "json"]);
    }

    #[test]
    fn local_modules_are_inlined_once_before_their_users_and_lines_map_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(
            dir.path().join("lib/util.lua"),
            "local M = {}\nfunction M.double(x) return 2 * x end\nreturn M\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("helper.lua"),
            "local u = require('lib.util')\nreturn { four = u.double(2) }",
        )
        .unwrap();
        let main = dir.path().join("main.lua");
        std::fs::write(
            &main,
            "local u = require('lib.util')\nlocal h = require('helper')\nlocal json = require('json')\nResult = h.four + u.double(1)\n",
        )
        .unwrap();
        let loaded = load(&main).unwrap();
        assert_eq!(loaded.source.matches("package.loaded[").count(), 2);
        assert!(
            loaded.source.find("\"lib.util\"").unwrap() < loaded.source.find("\"helper\"").unwrap()
        );
        // Line 4 of main.lua, where `Result` is set.
        let line = loaded
            .source
            .lines()
            .position(|l| l.starts_with("Result"))
            .unwrap()
            + 1;
        assert_eq!(loaded.locate(line), Some((main.as_path(), 4)));
        let util = dir.path().join("lib/util.lua");
        let line = loaded
            .source
            .lines()
            .position(|l| l.starts_with("function M.double"))
            .unwrap()
            + 1;
        assert_eq!(loaded.locate(line), Some((util.as_path(), 2)));
        assert_eq!(
            loaded.line_of(&util, 2),
            Some("function M.double(x) return 2 * x end")
        );
        // The wrapper lines belong to no file.
        assert_eq!(loaded.locate(1), None);
    }

    #[test]
    fn a_require_cycle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.lua"), "require('b')").unwrap();
        std::fs::write(dir.path().join("b.lua"), "require('a')").unwrap();
        let error = load(&dir.path().join("a.lua")).unwrap_err().to_string();
        assert!(error.contains("requires itself"), "{error}");
    }

    #[test]
    fn error_lines_are_read_from_eval_errors() {
        assert_eq!(
            error_line("[string \"aos\"]:12: attempt to call a nil value"),
            Some(12)
        );
        assert_eq!(
            error_line("printed\n\nerror:\n[string \"aos\"]:3: boom"),
            Some(3)
        );
        assert_eq!(error_line("no location"), None);
    }
}
