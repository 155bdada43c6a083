//! The engine's integration tests: modules, sandbox, limits, rollback, checkpoints.

use std::sync::Arc;

use cu::engine::Failure;
use cu::{Error, Evaluation, Limits, Module, Process};
use proptest::prelude::*;
use serde_json::{Value as Json, json};

/// Evaluates `msg.Data` as a Lua chunk (given `msg` and `env`) and returns `{Output = …}`;
/// `Action = Fail` runs the chunk and then returns `{Error = …}` like a library would.
const EVAL_MODULE: &str = r#"
local M = {}
function M.handle(msg, env)
  local f = assert(load(msg.Data, "eval"))
  local out = f(msg, env)
  if msg.Action == "Fail" then return { Error = "handler failed" } end
  return { Output = out }
end
return M
"#;

fn eval_module() -> Arc<Module> {
    Arc::new(Module::parse(EVAL_MODULE.as_bytes()).expect("eval module parses"))
}

fn process() -> Process {
    Process::new(eval_module(), Limits::default()).expect("process starts")
}

fn small_process() -> Process {
    let limits = Limits {
        memory_bytes_max: 16 << 20,
        instructions_max: 5_000_000,
    };
    Process::new(eval_module(), limits).expect("process starts")
}

fn msg(code: &str) -> Json {
    json!({ "Data": code, "Timestamp": 1_700_000_000_123_i64, "Tags": [] })
}

fn env() -> Json {
    json!({ "Process": { "Id": "pid", "Owner": "owner", "Tags": [] }, "Module": { "Id": "mid" } })
}

fn run(p: &mut Process, code: &str) -> Evaluation {
    p.handle(&msg(code), &env()).expect("engine works")
}

/// The output of a message that must succeed.
fn out(p: &mut Process, code: &str) -> Json {
    let evaluation = run(p, code);
    assert_eq!(
        evaluation.failure, None,
        "{code} failed: {}",
        evaluation.result
    );
    evaluation.result["Output"].clone()
}

fn error_of(p: &mut Process, code: &str) -> String {
    let evaluation = run(p, code);
    assert!(
        evaluation.failure.is_some(),
        "{code} should fail, gave {}",
        evaluation.result
    );
    evaluation.result["Error"]
        .as_str()
        .expect("Error is a string")
        .to_owned()
}

// ---- module loading ----

#[test]
fn single_source_is_the_process_module_and_errors_name_it() {
    let module = Module::parse(b"local M = {}\nfunction M.handle() error('boom') end\nreturn M")
        .expect("parses");
    assert_eq!(module.main(), ".process");
    let mut p = Process::new(Arc::new(module), Limits::default()).expect("starts");
    let e = error_of(&mut p, "");
    assert_eq!(e, r#"[string ".process"]:2: boom"#);
}

#[test]
fn bundle_requires_bundled_modules_with_their_chunk_names() {
    let bundle = json!({
        "main": ".process",
        "modules": {
            ".process": "local h = require('.handlers')\nLoads = (Loads or 0) + 1\nreturn { handle = function(msg) return { Output = h.run(msg.Data) } end }",
            ".handlers": "Required = (Required or 0) + 1\nreturn { run = function(x)\n  if x == 'bad' then error('bad input') end\n  return x .. Required end }",
        }
    });
    let module = Module::parse(bundle.to_string().as_bytes()).expect("parses");
    let mut p = Process::new(Arc::new(module), Limits::default()).expect("starts");
    let env = env();
    let ok = p.handle(&json!({"Data": "a"}), &env).unwrap();
    assert_eq!(ok.result["Output"], "a1");
    // require caches: neither module runs again.
    let ok = p.handle(&json!({"Data": "b"}), &env).unwrap();
    assert_eq!(ok.result["Output"], "b1");
    let bad = p.handle(&json!({"Data": "bad"}), &env).unwrap();
    assert_eq!(bad.result["Error"], r#"[string ".handlers"]:3: bad input"#);
}

#[test]
fn module_errors_are_typed() {
    assert!(matches!(
        Module::parse(b"return {"),
        Err(Error::ModuleSyntax { .. })
    ));
    assert!(matches!(
        Module::parse(br#"{"main":".x","modules":{".y":"return 1"}}"#),
        Err(Error::ModuleMainMissing { .. })
    ));
    assert!(matches!(
        Module::parse(b"{\"main\": 1}"),
        Err(Error::ModuleFormat { .. })
    ));
    assert!(matches!(
        Module::parse(b"\x1bLua\x53\x00"),
        Err(Error::ModuleBinary { .. })
    ));
}

#[test]
fn module_without_handle_is_a_message_error() {
    let module = Module::parse(b"return 42").unwrap();
    let mut p = Process::new(Arc::new(module), Limits::default()).unwrap();
    let e = error_of(&mut p, "");
    assert!(e.contains("not a table with handle"), "{e}");
}

#[test]
fn require_finds_nothing_outside_the_bundle() {
    let mut p = process();
    for name in ["io", "os.execute", "socket", "./x", "lua"] {
        let e = error_of(&mut p, &format!("return require('{name}')"));
        assert!(e.contains("not found"), "{name}: {e}");
    }
    assert_eq!(
        out(&mut p, "return require('bit32').band(12, 10)"),
        json!(8)
    );
}

// ---- results ----

#[test]
fn results_convert_deterministically() {
    let mut p = process();
    assert_eq!(
        out(&mut p, "return { 1, 2.0, 'x', true, {} }"),
        json!([1, 2.0, "x", true, []])
    );
    let v = out(
        &mut p,
        "return { z = 1, a = { [1] = 'x', [3] = 'y' }, m = 2^53, f = print }",
    );
    assert_eq!(
        v.to_string(),
        r#"{"a":{"1":"x","3":"y"},"m":9007199254740992.0,"z":1}"#
    );
    let empty = run(&mut p, "return nil");
    assert_eq!(empty.result, json!({}));
    let e = error_of(&mut p, "local t = {} t.t = t return t");
    assert!(e.contains("contains itself"), "{e}");
    let e = error_of(&mut p, "return 0/0");
    assert!(e.contains("not a JSON number"), "{e}");
}

#[test]
fn handle_returning_a_non_table_fails() {
    let module = Module::parse(b"return { handle = function() return 'text' end }").unwrap();
    let mut p = Process::new(Arc::new(module), Limits::default()).unwrap();
    let e = error_of(&mut p, "");
    assert!(e.contains("not a table"), "{e}");
}

// ---- Lua 5.3 with 5.2 compatibility ----

#[test]
fn compat_5_2_functions_exist() {
    let mut p = process();
    assert_eq!(
        out(
            &mut p,
            "return { bit32.band(0xF0, 0x3C), bit32.bxor(1, 3), math.pow(2, 10), math.type(1), 7 // 2 }"
        ),
        json!([0x30, 2, 1024.0, "integer", 3])
    );
}

// ---- determinism ----

const PAIRS_CHILD_ENV: &str = "CU_ENGINE_PAIRS_CHILD";
const PAIRS_CODE: &str = "local t = {} for i = 1, 200 do t['key' .. i] = i end \
    local keys = {} for k in pairs(t) do keys[#keys + 1] = k end return table.concat(keys, ',')";

#[test]
fn pairs_order_child() {
    // Runs only when re-executed by `pairs_order_is_the_same_in_separate_os_processes`.
    if std::env::var_os(PAIRS_CHILD_ENV).is_none() {
        return;
    }
    let mut p = process();
    println!("PAIRS:{}", out(&mut p, PAIRS_CODE).as_str().unwrap());
}

#[test]
fn pairs_order_is_the_same_in_separate_os_processes() {
    let run_child = || {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "pairs_order_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(PAIRS_CHILD_ENV, "1")
            .output()
            .expect("test binary runs");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let line = stdout
            .lines()
            .find_map(|l| l.find("PAIRS:").map(|at| l[at..].to_owned()));
        line.expect("child printed")
    };
    let first = run_child();
    assert_eq!(first, run_child());
    // And in this process, after other states were made and dropped.
    let mut p = process();
    assert_eq!(
        first,
        format!("PAIRS:{}", out(&mut p, PAIRS_CODE).as_str().unwrap())
    );
}

#[test]
fn tostring_never_shows_an_address() {
    let mut p = process();
    let v = out(
        &mut p,
        "local t, f = {}, function() end T = t \
         return { tostring(t), tostring(f), tostring(t), string.format('%s|%s', t, 1), tostring(print) }",
    );
    assert_eq!(
        v,
        json!([
            "table: 0x00000001",
            "function: 0x00000002",
            "table: 0x00000001",
            "table: 0x00000001|1",
            "function: 0x00000003"
        ])
    );
    // Ids survive a rollback (the weak id table is part of the state).
    error_of(&mut p, "error('x')");
    assert_eq!(
        out(&mut p, "return tostring(T) .. ' ' .. tostring({})"),
        "table: 0x00000001 table: 0x00000004"
    );
}

#[test]
fn math_random_is_a_seeded_prng() {
    let code = "local r = {} for i = 1, 5 do r[i] = math.random(1, 1000) end r[6] = math.random() return r";
    let a = out(&mut process(), code);
    assert_eq!(a, out(&mut process(), code));
    let mut p = process();
    let reseeded = out(&mut p, &format!("math.randomseed(42) {code}"));
    assert_ne!(a, reseeded);
    assert_eq!(
        reseeded,
        out(&mut process(), &format!("math.randomseed(42) {code}"))
    );
    assert!(error_of(&mut p, "return math.random(2, 1)").contains("interval is empty"));
}

#[test]
fn os_time_is_the_message_timestamp_and_there_is_no_other_clock() {
    let mut p = process();
    assert_eq!(
        out(&mut p, "return os.time()"),
        json!(1_700_000_000_123_i64)
    );
    assert_eq!(
        out(
            &mut p,
            "return { os.clock, os.date, os.getenv, os.execute, io }"
        ),
        json!([])
    );
    let no_time = p
        .handle(&json!({"Data": "return os.time()"}), &env())
        .unwrap();
    assert!(
        no_time.result["Error"]
            .as_str()
            .unwrap()
            .contains("no Timestamp")
    );
}

// ---- sandbox ----

#[test]
fn sandbox_escapes_fail() {
    let mut p = process();
    for code in [
        "return io.open('/etc/passwd')",
        "return os.execute('true')",
        "return package.loadlib('libc.so.6', 'puts')",
        "return loadfile('/etc/passwd')",
        "return dofile('/etc/passwd')",
        "return debug.getregistry()",
        "return debug.sethook(print, '', 1)",
        "return debug.gethook()",
        "return debug.setupvalue(load, 1, nil)",
        "return debug.upvaluejoin(function() return x end, 1, load, 1)",
        "return package.searchpath('x', './?.lua')",
        "return setmetatable({}, { __gc = function() end })",
        "return collectgarbage('stop')",
    ] {
        error_of(&mut p, code);
    }
    let v = out(
        &mut p,
        "local f = function() return 1 end \
         local ok, err = load(string.dump(f)) \
         local ok2 = load(string.dump(f), 'x', 'b') \
         return { ok == nil, tostring(err), ok2 == nil, debug.getupvalue(load, 1) == nil, \
                  collectgarbage('count'), package.cpath == nil, os.getenv == nil }",
    );
    assert_eq!(v[0], true);
    assert!(v[1].as_str().unwrap().contains("binary chunk"), "{v}");
    assert_eq!(v[2], true);
    assert_eq!(v[3], true);
    assert_eq!(v[4], 0);
    assert_eq!(v[5], true);
    assert_eq!(v[6], true);
}

#[test]
fn host_functions_found_on_the_stack_keep_their_upvalues_closed() {
    let mut p = process();
    let v = out(
        &mut p,
        "local grabbed = {} \
         local t = setmetatable({}, { __tostring = function() \
           for level = 2, 6 do local i = debug.getinfo(level, 'f') \
             if i then grabbed[#grabbed + 1] = i.func end end return 'x' end }) \
         tostring(t) string.format('%s', t) \
         local host, leaked = 0, 0 \
         for _, f in ipairs(grabbed) do local s = debug.getinfo(f, 'S') \
           if s.source == '=cu.prelude' or s.what == 'C' then host = host + 1 \
             if debug.getupvalue(f, 1) ~= nil or pcall(debug.setupvalue, f, 1, 0) then \
               leaked = leaked + 1 end end end \
         return { host, leaked }",
    );
    assert!(v[0].as_i64().unwrap() >= 2, "found host functions: {v}");
    assert_eq!(v[1], 0, "no upvalue of a host function is readable");
}

#[test]
fn string_metatable_tampering_stays_in_its_process() {
    let mut tampered = process();
    out(
        &mut tampered,
        "getmetatable('').__index = function() return 'pwned' end",
    );
    assert_eq!(out(&mut tampered, "return ('x').anything"), "pwned");
    assert_eq!(out(&mut process(), "return ('abc'):upper()"), "ABC");
}

// ---- limits ----

#[test]
fn limits_come_from_tags_process_over_module() {
    let limits = Limits::from_tags(
        [("Memory-Limit", "1-gb"), ("Compute-Limit", "100")],
        [("Memory-Limit", "512-mb"), ("Other", "x")],
    )
    .unwrap();
    assert_eq!(
        limits,
        Limits {
            memory_bytes_max: 512 << 20,
            instructions_max: 100
        }
    );
    let kb = Limits::from_tags([("Memory-Limit", "64kb")], []).unwrap();
    assert_eq!(kb.memory_bytes_max, 64 << 10);
    assert!(matches!(
        Limits::from_tags([("Memory-Limit", "12-parsecs")], []),
        Err(Error::LimitTag { .. })
    ));
    assert!(Limits::from_tags([("Compute-Limit", "lots")], []).is_err());
}

#[test]
fn runaway_loop_hits_the_compute_limit_and_the_next_message_runs() {
    let mut p = small_process();
    out(&mut p, "X = 1");
    for code in [
        "X = 2 while true do end",
        "X = 2 while true do pcall(function() while true do end end) end",
        "X = 2 local co = coroutine.wrap(function() while true do end end) co()",
        "X = 2 local ok = pcall(function() while true do end end) return 'caught'",
    ] {
        let evaluation = run(&mut p, code);
        assert_eq!(
            evaluation.failure,
            Some(Failure::ComputeLimit { limit: 5_000_000 }),
            "{code}: {}",
            evaluation.result
        );
        assert_eq!(out(&mut p, "return X"), 1);
    }
}

#[test]
fn memory_bomb_fails_without_harming_the_process_or_others() {
    let mut p = small_process();
    let mut other = small_process();
    out(&mut p, "X = 1");
    out(&mut other, "Y = 'other'");
    for code in [
        "X = 2 local t = {} for i = 1, 1e9 do t[i] = i end",
        "X = 2 return string.rep('x', 1 << 30)",
        "X = 2 local s = 'x' while true do s = s .. s end",
        "X = 2 return { Data = string.rep('y', 20 << 20) }",
    ] {
        let evaluation = run(&mut p, code);
        assert!(
            matches!(
                evaluation.failure,
                Some(Failure::MemoryLimit { .. } | Failure::Lua(_))
            ),
            "{code}: {:?}",
            evaluation.failure
        );
        assert_eq!(out(&mut p, "return X"), 1);
    }
    assert_eq!(out(&mut other, "return Y"), "other");
    assert!(
        p.used_memory() < 1 << 20,
        "memory is back: {}",
        p.used_memory()
    );
}

/// Runs `f` on a thread with the stack the engine documents as needed.
fn on_engine_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(cu::engine::STACK_BYTES_MIN)
        .spawn(f)
        .unwrap()
        .join()
        .expect("test thread");
}

#[test]
fn deep_recursion_is_caught() {
    on_engine_stack(deep_recursion);
}

fn deep_recursion() {
    let mut p = small_process();
    for code in [
        "local function f() return string.format('%s', setmetatable({}, {__tostring = f})) end return f()",
        "local function f(n) return 1 + f(n + 1) end return f(1)",
        "local function f() return string.gsub('x', 'x', f) end return f()",
        "local t = setmetatable({}, {}) getmetatable(t).__index = function(t, k) return t[k] end return t.x",
    ] {
        let e = error_of(&mut p, code);
        assert!(
            e.contains("stack overflow") || e.contains("memory limit") || e.contains("C stack"),
            "{code}: {e}"
        );
    }
    // Caught by xpcall at every level: ends in a value, not a crash.
    let caught = out(
        &mut p,
        "local function f() return select(2, xpcall(f, f)) end return f()",
    );
    assert_eq!(caught, "error in error handling");
    assert_eq!(out(&mut p, "return 1 + 1"), 2);
    // A module requiring itself recurses through the host's searcher until Lua stops it.
    let bundle =
        json!({"main": ".process", "modules": {".process": "require('.process') return {}"}});
    let module = Module::parse(bundle.to_string().as_bytes()).unwrap();
    let mut p = Process::new(Arc::new(module), Limits::default()).unwrap();
    let e = error_of(&mut p, "");
    assert!(
        e.contains("C levels") || e.contains("stack overflow"),
        "{e}"
    );
}

// ---- atomic messages ----

#[test]
fn failed_message_leaves_the_state_as_before() {
    let mut p = process();
    out(&mut p, "X = { n = 1 } Log = {}");
    error_of(&mut p, "X.n = 2 Log[#Log + 1] = 'a' error('boom')");
    assert_eq!(out(&mut p, "return { X.n, #Log }"), json!([1, 0]));
    // A module-returned Error rolls back too.
    let failed = p
        .handle(&json!({"Data": "X.n = 3", "Action": "Fail"}), &env())
        .unwrap();
    assert_eq!(failed.result, json!({"Error": "handler failed"}));
    assert_eq!(
        failed.failure,
        Some(Failure::ModuleError("handler failed".into()))
    );
    assert_eq!(out(&mut p, "return X.n"), 1);
}

#[test]
fn rollback_replays_messages_since_the_last_checkpoint() {
    let mut p = process();
    p.set_checkpoint_interval(3);
    for i in 1..=7 {
        out(
            &mut p,
            &format!("N = (N or 0) + {i} local s = {{}} S = S or {{}} S[#S + 1] = N"),
        );
    }
    assert_eq!(p.messages_since_checkpoint(), 1);
    error_of(&mut p, "N = -1 S = nil error('x')");
    assert_eq!(out(&mut p, "return { N, #S, S[7] }"), json!([28, 7, 28]));
}

#[test]
fn rollback_without_a_checkpoint_replays_from_the_start() {
    let mut p = process();
    p.set_checkpoint_interval(2);
    out(
        &mut p,
        "Co = coroutine.create(function() coroutine.yield() end) coroutine.resume(Co) N = 1",
    );
    out(&mut p, "N = N + 1");
    out(&mut p, "N = N + 1");
    assert_eq!(
        p.messages_since_checkpoint(),
        3,
        "a coroutine cannot be checkpointed"
    );
    error_of(&mut p, "N = 100 error('x')");
    assert_eq!(
        out(&mut p, "return { N, coroutine.status(Co) }"),
        json!([3, "suspended"])
    );
}

// ---- checkpoints ----

const RICH_STATE: &str = r#"
  local shared = 10
  function Inc() shared = shared + 1 return shared end
  function Get() return shared end
  local mt = { __index = function(t, k) return k .. '!' end }
  Obj = setmetatable({ a = 1 }, mt)
  Cycle = { name = 'c' } Cycle.self = Cycle
  Nums = { 1, 2.0, 3.5, -0.0, math.maxinteger, math.mininteger, 1e300 }
  Keys = { [true] = 'yes', [1.5] = 'float', [2] = 'int', s = 'str' }
  Keys[Inc] = 'function key'
  Alias = Obj
  string.shout = function(s) return s:upper() .. '!' end
  Printed = tostring(Obj)
"#;

const RICH_CHECK: &str = r#"
  return { Inc(), Get(), Obj.zzz, Obj.a, Cycle.self.self.name, Nums, Keys[true], Keys[1.5],
           Keys[Inc], Alias == Obj, ('x'):shout(), Printed, tostring(Obj) }
"#;

#[test]
fn checkpoint_restores_a_state_that_behaves_the_same() {
    let mut p = process();
    out(&mut p, RICH_STATE);
    let checkpoint = p.checkpoint().expect("checkpoints");
    let mut restored = Process::restore(eval_module(), Limits::default(), &checkpoint).unwrap();
    assert_eq!(
        restored.checkpoint().unwrap(),
        checkpoint,
        "same state, same bytes"
    );
    let expected = out(&mut p, RICH_CHECK);
    assert_eq!(expected[0], 11);
    assert_eq!(expected[2], "zzz!");
    assert_eq!(out(&mut restored, RICH_CHECK), expected);
    assert_eq!(p.checkpoint().unwrap(), restored.checkpoint().unwrap());
}

/// Found by `ao-cu verify`: a CU that restored a checkpoint reported `GasUsed` 0 for a small
/// message where a CU that had run from the start reported 1000, because Lua's countdown to
/// the next instruction hook carried over from earlier messages.
#[test]
fn instructions_counted_do_not_depend_on_earlier_messages_or_a_restore() {
    let mut p = process();
    let mut counts = Vec::new();
    for i in 0..7 {
        counts.push(run(&mut p, &format!("X = (X or 0) + {i}")).instructions);
    }
    let checkpoint = p.checkpoint().unwrap();
    let mut restored = Process::restore(eval_module(), Limits::default(), &checkpoint).unwrap();
    for code in [
        "X = X + 1",
        "local s = 0 for i = 1, 400 do s = s + i end return s",
    ] {
        let a = run(&mut p, code);
        let b = run(&mut restored, code);
        assert_eq!(a.instructions, b.instructions, "{code}");
        assert_eq!(a.result, b.result, "{code}");
    }
    // The same tiny message costs the same each time.
    assert!(counts[1..].windows(2).all(|w| w[0] == w[1]), "{counts:?}");
}

#[test]
fn checkpoint_is_canonical_whatever_the_insertion_order() {
    let mut a = process();
    let mut b = process();
    out(
        &mut a,
        "T = {} for i = 1, 300 do T['k' .. i] = i end T.x = { 1, 2 } U = 1",
    );
    out(
        &mut b,
        "U = 1 T = { x = { 1, 2 } } for i = 300, 1, -1 do T['k' .. i] = i end",
    );
    out(&mut b, "T.k5 = nil T.k5 = 5");
    assert_eq!(a.checkpoint().unwrap(), b.checkpoint().unwrap());
    let mut c = process();
    out(&mut c, "T = {} U = 1.0");
    assert_ne!(a.checkpoint().unwrap().hash, c.checkpoint().unwrap().hash);
}

#[test]
fn tostring_ids_do_not_make_checkpoints_depend_on_addresses() {
    let code = "A = {} for i = 1, 20 do A[i] = { { i % 2 } } end \
                for i = 20, 1, -1 do tostring(A[i][1]) end";
    let mut a = process();
    out(&mut a, code);
    let mut b = process();
    out(
        &mut b,
        "local junk = {} for i = 1, 5000 do junk[i] = { i } end",
    );
    out(&mut b, code);
    assert_eq!(a.checkpoint().unwrap(), b.checkpoint().unwrap());
}

#[test]
fn unserializable_state_names_the_path() {
    let mut p = process();
    out(
        &mut p,
        "Handlers = { coroutines = { coroutine.create(function() end) } }",
    );
    match p.checkpoint() {
        Err(Error::Unserializable { path, what }) => {
            assert_eq!(path, "_G.Handlers.coroutines[1]");
            assert_eq!(what, "a coroutine");
        }
        other => panic!("expected Unserializable, got {other:?}"),
    }
    out(&mut p, "Handlers = nil Iter = string.gmatch('a b', '%a')");
    assert!(matches!(p.checkpoint(), Err(Error::Unserializable { path, .. }) if path == "_G.Iter"));
}

#[test]
fn corrupt_checkpoints_are_errors_not_panics() {
    let mut p = process();
    out(&mut p, RICH_STATE);
    let good = p.checkpoint().unwrap().bytes;
    for cut in [0, 5, 8, 9, good.len() / 2, good.len() - 1] {
        let bad = cu::Checkpoint::from_bytes(good[..cut].to_vec());
        assert!(
            Process::restore(eval_module(), Limits::default(), &bad).is_err(),
            "cut {cut}"
        );
    }
    let mut flipped = good.clone();
    flipped[8] = 99;
    let bad = cu::Checkpoint::from_bytes(flipped);
    assert!(Process::restore(eval_module(), Limits::default(), &bad).is_err());
}

/// A Lua value for the round-trip property: rendered as a Lua constructor.
#[derive(Debug, Clone)]
enum LuaValue {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Table(Vec<(LuaKey, LuaValue)>),
}

#[derive(Debug, Clone)]
enum LuaKey {
    Int(i64),
    Str(String),
}

impl LuaValue {
    fn render(&self) -> String {
        match self {
            LuaValue::Int(i) => format!("math.tointeger({i})"),
            LuaValue::Float(f) => format!("({f:e})"),
            LuaValue::Str(s) => format!("{s:?}"),
            LuaValue::Bool(b) => b.to_string(),
            LuaValue::Table(entries) => {
                let fields: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| match k {
                        LuaKey::Int(i) => format!("[{i}] = {}", v.render()),
                        LuaKey::Str(s) => format!("[{s:?}] = {}", v.render()),
                    })
                    .collect();
                format!("{{ {} }}", fields.join(", "))
            }
        }
    }
}

fn lua_value() -> impl Strategy<Value = LuaValue> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(LuaValue::Int),
        (-1e6f64..1e6).prop_map(LuaValue::Float),
        "[a-z]{0,6}".prop_map(LuaValue::Str),
        any::<bool>().prop_map(LuaValue::Bool),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            (-3i64..8).prop_map(LuaKey::Int),
            "[a-c]{1,2}".prop_map(LuaKey::Str)
        ];
        prop::collection::vec((key, inner), 0..6).prop_map(LuaValue::Table)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_values_survive_a_checkpoint_round_trip(value in lua_value(), other in lua_value()) {
        let mut p = process();
        out(&mut p, &format!("V = {} W = {{ V, {} }} W[3] = W", value.render(), other.render()));
        let checkpoint = p.checkpoint().unwrap();
        let mut restored = Process::restore(eval_module(), Limits::default(), &checkpoint).unwrap();
        let again = restored.checkpoint().unwrap();
        prop_assert_eq!(&again.hash, &checkpoint.hash);
        let probe = "local function dump(v) if type(v) ~= 'table' then return math.type(v) or type(v), v end \
            local keys = {} for k in pairs(v) do keys[#keys + 1] = k end \
            table.sort(keys, function(a, b) return tostring(a) < tostring(b) end) \
            local out = {} for _, k in ipairs(keys) do local t, x = dump(v[k]) out[#out + 1] = tostring(k) .. '=' .. t .. ':' .. tostring(x) end \
            return 'table', '{' .. table.concat(out, ',') .. '}' end \
            local t, s = dump(V) return { t, s, W[3] == W, W[1] == V }";
        prop_assert_eq!(out(&mut restored, probe), out(&mut p, probe));
    }
}

// ---- the process library (cu/lua) on this engine ----

/// The library bundle built from `cu/lua/manifest.json`, as the CU will build it.
fn library_bundle() -> Arc<Module> {
    Arc::new(Module::parse(cu::library::bundle().as_bytes()).expect("library bundle parses"))
}

const PID: &str = "process-id-0000000000000000000000000000000000";
const OWNER: &str = "owner-address-00000000000000000000000000000000";

fn library_env() -> Json {
    json!({
        "Process": { "Id": PID, "Owner": OWNER, "Tags": [
            { "name": "Module", "value": "module-id" }, { "name": "Name", "value": "lib" } ] },
        "Module": { "Id": "module-id", "Owner": OWNER, "Tags": [] },
    })
}

fn library_msg(nonce: i64, id: &str, from: &str, tags: Json, data: &str) -> Json {
    json!({
        "Id": id, "Signature": "sig", "Owner": from, "From": from, "Target": PID,
        "Data": data, "Tags": tags, "Epoch": 0, "Nonce": nonce,
        "Timestamp": 1_700_000_000_000_i64 + nonce * 1000, "Block-Height": 1_500_000,
        "Hash-Chain": "chain", "Cron": false,
    })
}

#[test]
fn process_library_runs_ping_rolls_back_and_checkpoints() {
    let module = library_bundle();
    let mut p = Process::new(module.clone(), Limits::default()).unwrap();
    let env = library_env();
    let tags = |action: &str| json!([{ "name": "Action", "value": action }]);
    let spawn = library_msg(
        0,
        PID,
        OWNER,
        json!([{ "name": "Name", "value": "lib" }]),
        "",
    );
    let spawned = p.handle(&spawn, &env).unwrap();
    assert_eq!(spawned.failure, None, "{}", spawned.result);
    let install = "Handlers.add('ping', Handlers.utils.hasMatchingTag('Action','Ping'), \
        function(m) Count = (Count or 0) + 1; ao.send({Target=m.From, Data='pong'}) end)";
    let eval = p
        .handle(
            &library_msg(1, "eval-1", OWNER, tags("Eval"), install),
            &env,
        )
        .unwrap();
    assert_eq!(eval.failure, None, "{}", eval.result);
    let pinger = "pinger-address-000000000000000000000000000000";
    for nonce in 2..52 {
        let id = format!("ping-{nonce}");
        let r = p
            .handle(&library_msg(nonce, &id, pinger, tags("Ping"), ""), &env)
            .unwrap();
        assert_eq!(r.failure, None, "{}", r.result);
        assert_eq!(
            r.result["Messages"].as_array().map(Vec::len),
            Some(1),
            "{}",
            r.result
        );
        assert_eq!(r.result["Messages"][0]["Target"], pinger);
    }
    // A failing Eval: the library returns an Error and the engine rolls back.
    let bad = "Count = -1; error('boom')";
    let failed = p
        .handle(&library_msg(52, "eval-2", OWNER, tags("Eval"), bad), &env)
        .unwrap();
    assert!(failed.failure.is_some(), "{}", failed.result);
    let checkpoint = p.checkpoint().expect("the library's state checkpoints");
    let mut restored = Process::restore(module, Limits::default(), &checkpoint).unwrap();
    let read = library_msg(53, "eval-3", OWNER, tags("Eval"), "Count");
    let here = p.handle(&read, &env).unwrap();
    let there = restored.handle(&read, &env).unwrap();
    assert_eq!(here.result, there.result);
    assert!(
        here.result["Output"]["data"]
            .as_str()
            .unwrap()
            .contains("50"),
        "{}",
        here.result
    );
}

#[test]
fn dry_run_leaves_no_trace() {
    let mut p = process();
    out(&mut p, "Count = 1 return Count");
    let before = p.checkpoint().expect("checkpoint").hash;
    out(&mut p, "Count = Count + 1 return Count");
    let dry = p
        .dry_run(&msg("Count = Count + 10 return Count"), &env())
        .expect("engine works");
    assert_eq!(dry.result["Output"], 12);
    let failed = p
        .dry_run(&msg("Count = 99 error('no')"), &env())
        .expect("engine works");
    assert!(failed.failure.is_some());
    assert_eq!(out(&mut p, "return Count"), 2);
    out(&mut p, "Count = Count - 1");
    assert_eq!(p.checkpoint().expect("checkpoint").hash, before);
}
