//! Runs the process library's Lua suites (`cu/lua/tests/*_test.lua`) and the examples' tests
//! (`lua-examples/*/test.lua`) through the CU's real host: each suite is the main module of a
//! bundle evaluated by `cu::Process`, so the sandbox, the deterministic seed and the limits are
//! the ones a deployed process gets. The suites print `RESULT <suite> passed=N failed=M`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cu::engine::STACK_BYTES_MIN;
use cu::{Limits, Module, Process};
use serde_json::json;

/// The runner module: the host-specific part of `harness.lua` (how it reads files) is the
/// global `AO_TEST_READ_FILE`, served from the files the test passes in `msg.Files`.
const RUNNER: &str = r#"
return { handle = function(msg)
  local lines = {}
  print = function(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    lines[#lines + 1] = table.concat(parts, "\t")
  end
  AO_TEST_READ_FILE = function(path)
    return msg.Files[path] or error("no such file in the test bundle: " .. path)
  end
  local chunk = assert(load(msg.Files[msg.Script], "@" .. msg.Script, "t"))
  local ok, err = xpcall(chunk, debug.traceback)
  if not ok then lines[#lines + 1] = "BROKEN " .. tostring(err) end
  return { Output = table.concat(lines, "\n") }
end }
"#;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every Lua and JSON file of the library and the examples, by repository-relative path.
fn files() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![repo().join("cu/lua"), repo().join("lua-examples")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("lua" | "json")
            ) {
                let rel = path
                    .strip_prefix(repo())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

/// Runs one suite; returns (passed, failed, output).
fn run_suite(script: &str, files: &BTreeMap<String, String>) -> (u64, u64, String) {
    let bundle = json!({
        "main": ".test-runner",
        "modules": {
            ".test-runner": RUNNER,
            "harness": files["cu/lua/tests/harness.lua"],
        },
    });
    let module = Arc::new(Module::parse(bundle.to_string().as_bytes()).unwrap());
    let limits = Limits {
        memory_bytes_max: 2 << 30,
        instructions_max: u64::MAX / 2,
    };
    let msg = json!({ "Files": files, "Script": script });
    let evaluation = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(STACK_BYTES_MIN)
            .spawn_scoped(scope, || {
                let mut process = Process::new(module, limits).unwrap();
                process.handle(&msg, &json!({})).unwrap()
            })
            .unwrap()
            .join()
            .unwrap()
    });
    assert!(
        evaluation.failure.is_none(),
        "{script}: {:?}",
        evaluation.failure
    );
    let output = evaluation.result["Output"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let result = output
        .lines()
        .rev()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("{script} printed no RESULT line:\n{output}"));
    let count = |key: &str| -> u64 {
        let at = result.find(key).unwrap() + key.len();
        result[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (count("passed="), count("failed="), output)
}

fn run_all(prefix: &str, suffix: &str) {
    let files = files();
    let scripts: Vec<&String> = files
        .keys()
        .filter(|p| p.starts_with(prefix) && p.ends_with(suffix))
        .collect();
    assert!(!scripts.is_empty(), "no suites under {prefix}");
    let mut failures = Vec::new();
    let (mut passed, mut failed) = (0, 0);
    for script in scripts {
        let (p, f, output) = run_suite(script, &files);
        println!("{script}: {p} passed, {f} failed");
        passed += p;
        failed += f;
        if f > 0 || p == 0 {
            failures.push(format!("{script}:\n{output}"));
        }
    }
    println!("{passed} passed, {failed} failed");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn library_suites_pass_on_the_cu_host() {
    run_all("cu/lua/tests/", "_test.lua");
}

#[test]
fn example_suites_pass_on_the_cu_host() {
    run_all("lua-examples/", "/test.lua");
}
