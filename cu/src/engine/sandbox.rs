//! Building one process's Lua state: libraries, the prelude (`prelude.lua`), the budgets' hook
//! and the table of builtin names. Owns: what Lua code can reach. Must never: expose the file
//! system, the clock, the environment, the registry, hooks, or bytecode loading to Lua code.
//!
//! What a process sees: `string table math utf8 coroutine package` as in Lua 5.3 with the 5.2
//! compatibility layer, `bit32`, and these changes (all in `prelude.lua`):
//! - `require` finds `package.preload` entries and the bundle's modules, nothing else;
//!   `package.loadlib`, `package.searchpath`, `path`, `cpath` are gone; `io`, `dofile`,
//!   `loadfile` are absent; `print` does nothing (the process library defines its own).
//! - `load` compiles text only: mode `"t"` is forced, so `load(string.dump(f))` fails.
//!   `string.dump` stays: its output is the process's own code and cannot be loaded back.
//! - `os` is `{time = …}`: `os.time()` returns the current message's `Timestamp` (ms) and
//!   errors when the message has none. The library may replace it (LUA-PROCESS.md §1.4).
//! - `tostring` and `string.format("%s")` show `table: 0x0000002a`, a per-state counter given
//!   on first use, never an address.
//! - `math.random` is xoshiro256** seeded with 0 (`math.randomseed` takes integers, floats by
//!   their bits, or strings); C `rand()` is never used.
//! - `collectgarbage` accepts `collect`, `step` (a full collection), `count` (always 0: the heap
//!   size differs after a restore) and `isrunning`.
//! - `setmetatable` refuses a metatable with `__gc`.
//! - `debug` has `traceback`, `getinfo` and the upvalue functions, which refuse host functions
//!   (C functions, builtins, anything the prelude defined). No `getregistry`, `sethook`,
//!   `gethook`, `getlocal`, `setmetatable`, `getmetatable`.
//! - `pcall`, `xpcall` and `coroutine.resume` raise the error again once the message's
//!   instruction budget is spent, so a compute-limit error always reaches the host.
//!
//! Known limits of determinism (not fixable without patching Lua's C sources):
//! - tables, functions and coroutines used as table keys hash by address, so `pairs()` over
//!   such keys visits them in an order that may differ between runs;
//! - weak tables lose unreachable entries when the collector runs, which depends on the heap's
//!   history (a restored state has a different one); don't iterate weak tables in handlers.
//! - a memory error caught by `pcall` in Lua code is not seen by the host (a compute limit is:
//!   once exceeded, the message fails whatever Lua code caught).

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};

use super::error::Error;
use super::limits::Limits;
use super::module::Module;

const PRELUDE: &str = include_str!("prelude.lua");

/// Instruction accounting for the message being evaluated, shared with the hook.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    pub used: Cell<u64>,
    pub max: Cell<u64>,
    pub exceeded: Cell<bool>,
}

/// Objects a fresh state has before any module code runs, named by their first path from the
/// roots. Checkpoints refer to builtin functions by name, and restore refills builtin tables in
/// place (the registry and host functions hold them).
///
/// Every state has the same builtins under the same names (the sandbox does not depend on the
/// module), so the names are kept once per CU and shared; a state keeps only its objects (which
/// also keeps them alive, so a pointer can never be reused by another object) and a sorted
/// pointer index: about 10 KB a process instead of 30.
#[derive(Debug)]
pub(crate) struct Builtins {
    names: Arc<[Box<str>]>,
    objects: Box<[Value]>,
    /// (pointer, index into `objects`), sorted by pointer.
    by_pointer: Box<[(usize, u32)]>,
}

impl Builtins {
    fn new(collected: Vec<(String, Value)>) -> Builtins {
        static SHARED: std::sync::OnceLock<Arc<[Box<str>]>> = std::sync::OnceLock::new();
        let shared = SHARED.get_or_init(|| {
            collected
                .iter()
                .map(|(name, _)| name.clone().into_boxed_str())
                .collect()
        });
        let same = shared.len() == collected.len()
            && shared.iter().zip(&collected).all(|(a, (b, _))| **a == **b);
        let names = if same {
            shared.clone()
        } else {
            collected
                .iter()
                .map(|(name, _)| name.clone().into_boxed_str())
                .collect()
        };
        let objects: Box<[Value]> = collected.into_iter().map(|(_, value)| value).collect();
        let mut by_pointer: Vec<(usize, u32)> = objects
            .iter()
            .enumerate()
            .map(|(i, value)| (value.to_pointer() as usize, i as u32))
            .collect();
        by_pointer.sort_unstable();
        Builtins {
            names,
            objects,
            by_pointer: by_pointer.into_boxed_slice(),
        }
    }

    pub fn name_of(&self, pointer: usize) -> Option<&str> {
        let at = self
            .by_pointer
            .binary_search_by_key(&pointer, |&(p, _)| p)
            .ok()?;
        Some(&self.names[self.by_pointer[at].1 as usize])
    }

    pub fn by_name(&self, name: &str) -> Option<&Value> {
        // Linear search is fine: only restore looks names up, a few dozen times.
        let at = self.names.iter().position(|n| **n == *name)?;
        self.objects.get(at)
    }

    pub fn objects(&self) -> impl Iterator<Item = &Value> {
        self.objects.iter()
    }
}

/// One Lua state with the handles the engine needs. Owned by exactly one `Process`.
pub(crate) struct State {
    pub lua: Lua,
    pub require: Function,
    /// The checkpoint roots: `_G` and the prelude's hidden table.
    pub roots: [(&'static str, Table); 2],
    pub builtins: Builtins,
    /// The full debug library, for checkpoints only.
    pub host_debug: Table,
    pub dump: Function,
    pub timestamp: Rc<Cell<Option<i64>>>,
    pub budget: Rc<Budget>,
}

impl State {
    pub fn new(module: &Arc<Module>, limits: Limits) -> Result<State, Error> {
        let libs = StdLib::COROUTINE
            | StdLib::TABLE
            | StdLib::STRING
            | StdLib::UTF8
            | StdLib::MATH
            | StdLib::PACKAGE;
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        let host_debug: Table = lua.named_registry_value("cu.debug")?;
        let bit32: Table = lua.named_registry_value("cu.bit32")?;
        let string: Table = lua.globals().get("string")?;
        let dump: Function = string.get("dump")?;
        let require: Function = lua.globals().get("require")?;

        let timestamp = Rc::new(Cell::new(None));
        let now = timestamp.clone();
        let os_time = lua.create_function(move |_, ()| match now.get() {
            Some(ms) => Ok(ms),
            None => Err(mlua::Error::runtime(
                "os.time: the message has no Timestamp",
            )),
        })?;
        let budget = Rc::new(Budget::default());
        let spent = budget.clone();
        let exceeded = lua.create_function(move |_, ()| Ok(spent.exceeded.get()))?;
        let module = module.clone();
        let searcher = lua.create_function(move |lua, name: mlua::LuaString| {
            let name = name.to_str()?.to_owned();
            match module.bytecode(&name) {
                Some(bytecode) => {
                    // Compiled by `Module::parse` from the module's text, in this build of Lua:
                    // the only binary chunks a state ever loads (processes' own `load` is
                    // text-only).
                    let loader = lua
                        .load(bytecode)
                        .set_name(name.as_str())
                        .set_mode(mlua::chunk::ChunkMode::Binary)
                        .into_function()?;
                    Ok((
                        Value::Function(loader),
                        Value::String(lua.create_string(&name)?),
                    ))
                }
                None => {
                    let msg = format!("\n\tno module '{name}' in the process bundle");
                    Ok((Value::String(lua.create_string(msg)?), Value::Nil))
                }
            }
        })?;
        let host = lua.create_table()?;
        host.set("debug", host_debug.clone())?;
        host.set("bit32", bit32)?;
        host.set("os_time", os_time)?;
        host.set("searcher", searcher)?;
        host.set("exceeded", exceeded)?;
        let (hidden, guarded): (Table, Table) =
            lua.load(PRELUDE).set_name("=cu.prelude").call(host)?;

        let roots = [("_G", lua.globals()), ("@host", hidden)];
        let builtins = collect_builtins(&roots)?;
        for value in builtins.objects() {
            if let Value::Function(f) = value {
                guarded.raw_set(f.clone(), true)?;
            }
        }

        lua.gc_collect()?;
        let state = State {
            lua,
            require,
            roots,
            builtins,
            host_debug,
            dump,
            timestamp,
            budget,
        };
        state.arm_budget()?;
        state.set_memory_limit(limits)?;
        Ok(state)
    }

    /// Installs the instruction hook afresh. Called before every message: Lua counts down to
    /// the next hook call per state, and a count left over from earlier messages would make a
    /// message's `GasUsed` (and where a compute limit strikes) depend on history a restored
    /// checkpoint does not carry. Re-installing resets the count, so every message starts at
    /// the same phase wherever its state came from.
    pub fn arm_budget(&self) -> mlua::Result<()> {
        let budget = self.budget.clone();
        let step = u64::from(Limits::INSTRUCTION_STEP);
        // A global hook: coroutines created by Lua code inherit it.
        self.lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(Limits::INSTRUCTION_STEP),
            move |_, _| {
                let used = budget.used.get() + step;
                budget.used.set(used);
                if used > budget.max.get() {
                    // Keep failing: Lua code that catches the error cannot go on computing.
                    budget.exceeded.set(true);
                    return Err(mlua::Error::runtime("compute limit exceeded"));
                }
                Ok(VmState::Continue)
            },
        )
    }

    pub fn set_memory_limit(&self, limits: Limits) -> Result<(), Error> {
        let bytes = usize::try_from(limits.memory_bytes_max).unwrap_or(usize::MAX);
        self.lua.set_memory_limit(bytes)?;
        Ok(())
    }

    /// Lifts the memory limit for host work (checkpoint, restore) that must not fail halfway.
    pub fn lift_memory_limit(&self) -> Result<(), Error> {
        self.lua.set_memory_limit(0)?;
        Ok(())
    }
}

/// Walks tables from the roots in sorted key order (string keys, then metatables) and names
/// every table and function found by its first path.
fn collect_builtins(roots: &[(&'static str, Table)]) -> Result<Builtins, Error> {
    let mut builtins = Collected::default();
    let mut queue: std::collections::VecDeque<(String, Table)> = Default::default();
    for (name, table) in roots {
        if add_builtin(&mut builtins, name.to_string(), Value::Table(table.clone())) {
            queue.push_back((name.to_string(), table.clone()));
        }
    }
    while let Some((path, table)) = queue.pop_front() {
        // Sorted by (kind, text): string keys, then integer keys, then the metatable.
        let mut entries: Vec<(u8, String, Value)> = Vec::new();
        for pair in table.pairs::<Value, Value>() {
            match pair? {
                (Value::String(s), value) => {
                    entries.push((0, format!(".{}", s.to_string_lossy()), value))
                }
                (Value::Integer(i), value) => entries.push((1, format!("[{i:020}]"), value)),
                _ => {}
            }
        }
        entries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        if let Some(mt) = table.metatable() {
            entries.push((2, "#metatable".to_owned(), Value::Table(mt)));
        }
        for (_, key, value) in entries {
            let child = format!("{path}{key}");
            let is_table = matches!(value, Value::Table(_));
            if add_builtin(&mut builtins, child.clone(), value.clone())
                && let (true, Value::Table(t)) = (is_table, value)
            {
                queue.push_back((child, t));
            }
        }
    }
    Ok(Builtins::new(builtins.objects))
}

/// Builtins while they are found: each object once, under its first name.
#[derive(Default)]
struct Collected {
    by_pointer: HashMap<usize, usize>,
    objects: Vec<(String, Value)>,
}

fn add_builtin(builtins: &mut Collected, name: String, value: Value) -> bool {
    if !matches!(value, Value::Table(_) | Value::Function(_)) {
        return false;
    }
    let pointer = value.to_pointer() as usize;
    if builtins.by_pointer.contains_key(&pointer) {
        return false;
    }
    builtins.by_pointer.insert(pointer, builtins.objects.len());
    builtins.objects.push((name, value));
    true
}
