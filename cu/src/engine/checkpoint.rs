//! Canonical checkpoints: a process's Lua state as bytes, and its SHA-256 (the state hash).
//! Owns: the writer and the format (read back by [`super::restore`]). Must never: drop a
//! value it cannot write (that is an [`Error::Unserializable`] naming the path), or let the
//! bytes depend on addresses or table iteration order.
//!
//! Format (`AOCUCK01`): objects in number order, then an end tag. Objects are numbered
//! breadth-first from `_G` (object 0) and the prelude's hidden table (object 1), tables with
//! weak keys last (their keys then already have numbers); within a table, entries are
//! written in key order: booleans, numbers (by value; an integer before an equal float),
//! strings (bytewise), builtin functions (by name), then tables and functions (by object
//! number; keys first met here are numbered in order of a structural fingerprint, so two
//! different key objects with equal fingerprints keep the interpreter's order: see the known
//! limits in `sandbox.rs`).
//! - value: `0` nil, `1` false, `2` true, `3` i64, `4` f64 bits, `5` string (u32 len, bytes),
//!   `6` object (u32 number), `7` builtin function (name as a string value);
//! - table: `1`, builtin name (a string, empty when not builtin), metatable value, u32 count,
//!   key/value pairs;
//! - function: `2`, bytecode from `string.dump` with debug info (u32 len, bytes), u8 count of
//!   upvalues, each `0` + value, or `1` + u32 function number + u8 index when the upvalue is
//!   shared with an earlier function's (`debug.upvalueid`).
//!
//! Builtins (the tables and functions of a fresh state) are named, not copied: restore refills
//! builtin tables in place and points at the fresh state's builtin functions. Integers are
//! little-endian. Cost: one full collection (weak tables must only hold live objects) plus a
//! walk of everything reachable; the bench reports it.

use std::collections::{HashMap, VecDeque};

use mlua::{Function, Table, Value};

use super::error::Error;
use super::sandbox::State;

pub(crate) const MAGIC: &[u8; 8] = b"AOCUCK01";
pub(crate) const OBJECT_END: u8 = 0;
pub(crate) const OBJECT_TABLE: u8 = 1;
pub(crate) const OBJECT_FUNCTION: u8 = 2;
pub(crate) const VALUE_NIL: u8 = 0;
pub(crate) const VALUE_FALSE: u8 = 1;
pub(crate) const VALUE_TRUE: u8 = 2;
pub(crate) const VALUE_INTEGER: u8 = 3;
pub(crate) const VALUE_FLOAT: u8 = 4;
pub(crate) const VALUE_STRING: u8 = 5;
pub(crate) const VALUE_OBJECT: u8 = 6;
pub(crate) const VALUE_BUILTIN: u8 = 7;
pub(crate) const UPVALUE_OWN: u8 = 0;
pub(crate) const UPVALUE_SHARED: u8 = 1;

/// Length of a state hash (SHA-256).
pub const STATE_HASH_LEN: usize = 32;

/// A process state as canonical bytes, and its hash.
#[derive(Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub bytes: Vec<u8>,
    pub hash: [u8; STATE_HASH_LEN],
}

impl Checkpoint {
    /// Wraps checkpoint bytes (for example read from storage), hashing them.
    pub fn from_bytes(bytes: Vec<u8>) -> Checkpoint {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
        let mut hash = [0u8; STATE_HASH_LEN];
        hash.copy_from_slice(digest.as_ref());
        Checkpoint { bytes, hash }
    }
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hash: String = self.hash.iter().map(|b| format!("{b:02x}")).collect();
        write!(
            f,
            "Checkpoint {{ {} bytes, sha256 {hash} }}",
            self.bytes.len()
        )
    }
}

/// Writes the state reachable from the roots. The caller lifts the memory limit.
pub(crate) fn write(state: &State) -> Result<Checkpoint, Error> {
    state.lua.gc_collect()?;
    let mut writer = Writer {
        state,
        out: Vec::new(),
        ids: HashMap::new(),
        objects: Vec::new(),
        paths: Vec::new(),
        queue: VecDeque::new(),
        upvalues_seen: HashMap::new(),
        getupvalue: state.host_debug.get("getupvalue")?,
        upvalueid: state.host_debug.get("upvalueid")?,
    };
    for (name, table) in &state.roots {
        writer.object_id(&Value::Table(table.clone()), || (*name).to_owned())?;
    }
    // Tables with weak keys (the `tostring` ids) are written after everything else, so their
    // keys already have numbers from a strong path and do not depend on the weak table's order.
    let mut deferred: VecDeque<u32> = VecDeque::new();
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    loop {
        let (id, late) = match writer.queue.pop_front() {
            Some(id) => (id, false),
            None => match deferred.pop_front() {
                Some(id) => (id, true),
                None => break,
            },
        };
        let object = writer.objects[id as usize].clone();
        if bodies.len() <= id as usize {
            bodies.resize(id as usize + 1, Vec::new());
        }
        match object {
            Value::Table(t) if !late && has_weak_keys(&t)? => deferred.push_back(id),
            Value::Table(t) => writer.table(id, &t)?,
            Value::Function(f) => writer.function(id, &f)?,
            _ => unreachable!("only tables and functions are queued"),
        }
        bodies[id as usize].append(&mut writer.out);
    }
    let mut out = MAGIC.to_vec();
    for body in &bodies {
        out.extend_from_slice(body);
    }
    out.push(OBJECT_END);
    Ok(Checkpoint::from_bytes(out))
}

fn has_weak_keys(table: &Table) -> Result<bool, Error> {
    let Some(metatable) = table.metatable() else {
        return Ok(false);
    };
    let mode: Option<mlua::LuaString> = metatable.raw_get("__mode").unwrap_or(None);
    Ok(mode.is_some_and(|m| m.as_bytes().contains(&b'k')))
}

struct Writer<'a> {
    state: &'a State,
    out: Vec<u8>,
    ids: HashMap<usize, u32>,
    objects: Vec<Value>,
    paths: Vec<String>,
    queue: VecDeque<u32>,
    upvalues_seen: HashMap<usize, (u32, u8)>,
    getupvalue: Function,
    upvalueid: Function,
}

/// Where a key sorts; see the module doc.
#[derive(PartialEq, PartialOrd)]
enum KeyOrder {
    Boolean(bool),
    Number(f64, bool, i64, u64),
    String(Vec<u8>),
    Builtin(String),
    Object(u32),
}

impl Writer<'_> {
    /// The object number of a table or function, numbering (and queueing) it on first sight.
    fn object_id(&mut self, value: &Value, path: impl FnOnce() -> String) -> Result<u32, Error> {
        let pointer = value.to_pointer() as usize;
        if let Some(&id) = self.ids.get(&pointer) {
            return Ok(id);
        }
        if let Value::Function(f) = value {
            let what = f.info().what;
            if what == "C" {
                return Err(Error::Unserializable {
                    path: path(),
                    what: "a host function",
                });
            }
        }
        let path = path();
        let id = u32::try_from(self.objects.len()).map_err(|_| Error::Unserializable {
            path: path.clone(),
            what: "2^32 objects",
        })?;
        self.ids.insert(pointer, id);
        self.objects.push(value.clone());
        self.paths.push(path);
        self.queue.push_back(id);
        Ok(id)
    }

    fn value(&mut self, value: &Value, path: impl FnOnce() -> String) -> Result<(), Error> {
        match value {
            Value::Nil => self.out.push(VALUE_NIL),
            Value::Boolean(false) => self.out.push(VALUE_FALSE),
            Value::Boolean(true) => self.out.push(VALUE_TRUE),
            Value::Integer(i) => {
                self.out.push(VALUE_INTEGER);
                self.out.extend_from_slice(&i.to_le_bytes());
            }
            Value::Number(f) => {
                self.out.push(VALUE_FLOAT);
                self.out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            Value::String(s) => self.bytes_value(&s.as_bytes()),
            Value::Table(_) | Value::Function(_) => {
                let builtin = self.state.builtins.name_of(value.to_pointer() as usize);
                match (value, builtin) {
                    (Value::Function(_), Some(name)) => {
                        let name = name.to_owned();
                        self.out.push(VALUE_BUILTIN);
                        self.bytes_value(name.as_bytes());
                    }
                    _ => {
                        let id = self.object_id(value, path)?;
                        self.out.push(VALUE_OBJECT);
                        self.out.extend_from_slice(&id.to_le_bytes());
                    }
                }
            }
            Value::Thread(_) => {
                return Err(Error::Unserializable {
                    path: path(),
                    what: "a coroutine",
                });
            }
            _ => {
                return Err(Error::Unserializable {
                    path: path(),
                    what: "a userdata",
                });
            }
        }
        Ok(())
    }

    fn bytes_value(&mut self, bytes: &[u8]) {
        self.out.push(VALUE_STRING);
        self.out
            .extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        self.out.extend_from_slice(bytes);
    }

    fn table(&mut self, id: u32, table: &Table) -> Result<(), Error> {
        let pointer = table.to_pointer() as usize;
        let name = self
            .state
            .builtins
            .name_of(pointer)
            .unwrap_or("")
            .to_owned();
        let path = self.paths[id as usize].clone();
        self.out.push(OBJECT_TABLE);
        self.bytes_value(name.as_bytes());
        let metatable = table.metatable().map_or(Value::Nil, Value::Table);
        self.value(&metatable, || format!("{path}<metatable>"))?;

        let mut entries: Vec<(KeyOrder, Value, Value)> = Vec::new();
        let mut unnumbered: Vec<(Vec<u8>, Value, Value)> = Vec::new();
        for pair in table.pairs::<Value, Value>() {
            let (key, value) = pair?;
            match self.key_order(&key) {
                Some(order) => entries.push((order, key, value)),
                None => unnumbered.push((self.fingerprint(&key)?, key, value)),
            }
        }
        // Key objects met first as keys: number them in fingerprint order (stable sort).
        unnumbered.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, key, value) in unnumbered {
            let id = self.object_id(&key, || format!("{path}[<{} key>]", key.type_name()))?;
            entries.push((KeyOrder::Object(id), key, value));
        }
        entries.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        self.out
            .extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for (_, key, value) in entries {
            self.value(&key, || format!("{path}[<key>]"))?;
            self.value(&value, || child_path(&path, &key))?;
        }
        Ok(())
    }

    /// `None` for a table or non-builtin function not numbered yet.
    fn key_order(&self, key: &Value) -> Option<KeyOrder> {
        Some(match key {
            Value::Boolean(b) => KeyOrder::Boolean(*b),
            Value::Integer(i) => KeyOrder::Number(*i as f64, false, *i, 0),
            Value::Number(f) => KeyOrder::Number(*f, true, 0, f.to_bits()),
            Value::String(s) => KeyOrder::String(s.as_bytes().to_vec()),
            Value::Table(_) | Value::Function(_) => {
                let pointer = key.to_pointer() as usize;
                match (key, self.state.builtins.name_of(pointer)) {
                    (Value::Function(_), Some(name)) => KeyOrder::Builtin(name.to_owned()),
                    _ => KeyOrder::Object(*self.ids.get(&pointer)?),
                }
            }
            // Other key types fail in `value` with their path.
            _ => KeyOrder::Object(u32::MAX),
        })
    }

    /// A structural summary of a key object: its type, and a function's code or a table's
    /// sorted plain entries.
    fn fingerprint(&self, key: &Value) -> Result<Vec<u8>, Error> {
        let mut print = Vec::new();
        match key {
            Value::Function(f) => {
                print.push(b'f');
                if f.info().what != "C" {
                    let code: mlua::LuaString = self.state.dump.call((f.clone(), false))?;
                    print.extend_from_slice(&code.as_bytes());
                }
            }
            Value::Table(t) => {
                print.push(b't');
                let mut plain: Vec<Vec<u8>> = Vec::new();
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    plain.push(format!("{}={}", plain_repr(&k), plain_repr(&v)).into_bytes());
                }
                plain.sort();
                print.extend(plain.concat());
            }
            _ => {}
        }
        Ok(print)
    }

    fn function(&mut self, id: u32, f: &Function) -> Result<(), Error> {
        let path = self.paths[id as usize].clone();
        let code: mlua::LuaString = self.state.dump.call((f.clone(), false))?;
        self.out.push(OBJECT_FUNCTION);
        let code = code.as_bytes();
        self.out
            .extend_from_slice(&(code.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&code);
        let count = f.info().num_upvalues;
        self.out.push(count);
        for index in 1..=count {
            let upvalue_id: Value = self.upvalueid.call((f.clone(), index))?;
            let key = upvalue_id.to_pointer() as usize;
            if let Some(&(owner, owner_index)) = self.upvalues_seen.get(&key) {
                self.out.push(UPVALUE_SHARED);
                self.out.extend_from_slice(&owner.to_le_bytes());
                self.out.push(owner_index);
                continue;
            }
            self.upvalues_seen.insert(key, (id, index));
            let (name, value): (Value, Value) = self.getupvalue.call((f.clone(), index))?;
            self.out.push(UPVALUE_OWN);
            self.value(&value, || format!("{path}<upvalue {}>", plain_repr(&name)))?;
        }
        Ok(())
    }
}

fn plain_repr(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string_lossy(),
        Value::Integer(i) => i.to_string(),
        Value::Number(f) => format!("{f:?}"),
        Value::Boolean(b) => b.to_string(),
        other => other.type_name().to_owned(),
    }
}

fn child_path(parent: &str, key: &Value) -> String {
    match key {
        Value::String(s) => {
            let s = s.to_string_lossy();
            let identifier = !s.is_empty()
                && !s.starts_with(|c: char| c.is_ascii_digit())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if identifier {
                format!("{parent}.{s}")
            } else {
                format!("{parent}[{s:?}]")
            }
        }
        other => format!("{parent}[{}]", plain_repr(other)),
    }
}
