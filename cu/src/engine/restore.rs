//! Reading a checkpoint back into a fresh state. Owns: parsing the format written by
//! [`super::checkpoint`]. Must never: trust lengths or numbers in the bytes (every read is
//! checked and a bad checkpoint is [`Error::CheckpointCorrupt`]).
//!
//! Checkpoints are trusted input in one respect: functions come back as bytecode, and Lua does
//! not verify bytecode. Only restore checkpoints this CU wrote, or whose hash was checked
//! against a trusted one.

use mlua::chunk::ChunkMode;
use mlua::{Function, Table, Value};

use super::checkpoint::{
    MAGIC, OBJECT_END, OBJECT_FUNCTION, OBJECT_TABLE, UPVALUE_OWN, UPVALUE_SHARED, VALUE_BUILTIN,
    VALUE_FALSE, VALUE_FLOAT, VALUE_INTEGER, VALUE_NIL, VALUE_OBJECT, VALUE_STRING, VALUE_TRUE,
};
use super::error::Error;
use super::sandbox::State;

enum Val<'a> {
    Nil,
    Boolean(bool),
    Integer(i64),
    Float(f64),
    String(&'a [u8]),
    Object(u32),
    Builtin(&'a [u8]),
}

enum Upvalue<'a> {
    Own(Val<'a>),
    Shared(u32, u8),
}

enum Object<'a> {
    Table {
        name: &'a [u8],
        metatable: Val<'a>,
        entries: Vec<(Val<'a>, Val<'a>)>,
    },
    Function {
        code: &'a [u8],
        upvalues: Vec<Upvalue<'a>>,
    },
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::CheckpointCorrupt {
        reason: reason.into(),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| corrupt("truncated"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn sized(&mut self) -> Result<&'a [u8], Error> {
        let len = self.u32()? as usize;
        self.take(len)
    }
    fn string(&mut self) -> Result<&'a [u8], Error> {
        match self.u8()? {
            VALUE_STRING => self.sized(),
            tag => Err(corrupt(format!("expected a string, found tag {tag}"))),
        }
    }
    fn value(&mut self) -> Result<Val<'a>, Error> {
        Ok(match self.u8()? {
            VALUE_NIL => Val::Nil,
            VALUE_FALSE => Val::Boolean(false),
            VALUE_TRUE => Val::Boolean(true),
            VALUE_INTEGER => Val::Integer(self.u64()? as i64),
            VALUE_FLOAT => Val::Float(f64::from_bits(self.u64()?)),
            VALUE_STRING => Val::String(self.sized()?),
            VALUE_OBJECT => Val::Object(self.u32()?),
            VALUE_BUILTIN => Val::Builtin(self.string()?),
            tag => return Err(corrupt(format!("unknown value tag {tag}"))),
        })
    }
    fn object(&mut self) -> Result<Option<Object<'a>>, Error> {
        Ok(Some(match self.u8()? {
            OBJECT_END => return Ok(None),
            OBJECT_TABLE => {
                let name = self.string()?;
                let metatable = self.value()?;
                let count = self.u32()? as usize;
                // Each entry takes at least two bytes: bound the allocation by the input.
                let mut entries = Vec::with_capacity(count.min(self.bytes.len() / 2));
                for _ in 0..count {
                    entries.push((self.value()?, self.value()?));
                }
                Object::Table {
                    name,
                    metatable,
                    entries,
                }
            }
            OBJECT_FUNCTION => {
                let code = self.sized()?;
                let count = self.u8()?;
                let mut upvalues = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    upvalues.push(match self.u8()? {
                        UPVALUE_OWN => Upvalue::Own(self.value()?),
                        UPVALUE_SHARED => Upvalue::Shared(self.u32()?, self.u8()?),
                        tag => return Err(corrupt(format!("unknown upvalue tag {tag}"))),
                    });
                }
                Object::Function { code, upvalues }
            }
            tag => return Err(corrupt(format!("unknown object tag {tag}"))),
        }))
    }
}

/// Fills a fresh state (straight from `State::new`) with a checkpoint's contents. The caller
/// lifts the memory limit.
pub(crate) fn read(state: &State, bytes: &[u8]) -> Result<(), Error> {
    let mut reader = Reader { bytes, at: 0 };
    if reader.take(MAGIC.len())? != MAGIC {
        return Err(corrupt("not a CU checkpoint (bad magic)"));
    }
    let mut objects = Vec::new();
    while let Some(object) = reader.object()? {
        objects.push(object);
    }
    if reader.at != bytes.len() {
        return Err(corrupt("bytes after the end"));
    }
    let lua = &state.lua;
    let builtin = |name: &[u8]| {
        let name = std::str::from_utf8(name).map_err(|_| corrupt("builtin name is not UTF-8"))?;
        state
            .builtins
            .by_name(name)
            .ok_or_else(|| corrupt(format!("no builtin named {name}")))
    };

    // Create every object first: entries and upvalues may point forward.
    let mut values: Vec<Value> = Vec::with_capacity(objects.len());
    for object in &objects {
        values.push(match object {
            Object::Table {
                name: [], entries, ..
            } => Value::Table(lua.create_table_with_capacity(0, entries.len())?),
            Object::Table { name, .. } => match builtin(name)? {
                Value::Table(t) => {
                    t.set_metatable(None)?;
                    t.clear()?;
                    Value::Table(t.clone())
                }
                _ => return Err(corrupt("a builtin table name names a function")),
            },
            Object::Function { code, .. } => Value::Function(
                lua.load(*code)
                    .set_mode(ChunkMode::Binary)
                    .into_function()?,
            ),
        });
    }
    let roots_ok = state
        .roots
        .iter()
        .enumerate()
        .all(|(i, (_, root))| matches!(values.get(i), Some(Value::Table(t)) if t == root));
    if !roots_ok {
        return Err(corrupt("the first objects are not the state's roots"));
    }
    let to_lua = |val: &Val| -> Result<Value, Error> {
        Ok(match val {
            Val::Nil => Value::Nil,
            Val::Boolean(b) => Value::Boolean(*b),
            Val::Integer(i) => Value::Integer(*i),
            Val::Float(f) => Value::Number(*f),
            Val::String(s) => Value::String(lua.create_string(s)?),
            Val::Object(id) => values
                .get(*id as usize)
                .cloned()
                .ok_or_else(|| corrupt(format!("object {id} does not exist")))?,
            Val::Builtin(name) => builtin(name)?.clone(),
        })
    };

    let setupvalue: Function = state.host_debug.get("setupvalue")?;
    let upvaluejoin: Function = state.host_debug.get("upvaluejoin")?;
    let mut joins = Vec::new();
    for (object, value) in objects.iter().zip(&values) {
        match (object, value) {
            (
                Object::Table {
                    metatable, entries, ..
                },
                Value::Table(table),
            ) => {
                fill_table(table, entries, &to_lua)?;
                match to_lua(metatable)? {
                    Value::Table(mt) => table.set_metatable(Some(mt))?,
                    Value::Nil => {}
                    _ => return Err(corrupt("a metatable is not a table")),
                }
            }
            (Object::Function { upvalues, .. }, Value::Function(f)) => {
                for (index, upvalue) in upvalues.iter().enumerate() {
                    let index = index + 1;
                    match upvalue {
                        Upvalue::Own(val) => {
                            setupvalue.call::<()>((f.clone(), index, to_lua(val)?))?;
                        }
                        Upvalue::Shared(owner, owner_index) => {
                            let owner = match values.get(*owner as usize) {
                                Some(Value::Function(owner)) => owner.clone(),
                                _ => return Err(corrupt("a shared upvalue's owner is missing")),
                            };
                            joins.push((f.clone(), index, owner, *owner_index));
                        }
                    }
                }
            }
            _ => unreachable!("values were created from objects"),
        }
    }
    for join in joins {
        upvaluejoin.call::<()>(join)?;
    }
    Ok(())
}

fn fill_table(
    table: &Table,
    entries: &[(Val, Val)],
    to_lua: &impl Fn(&Val) -> Result<Value, Error>,
) -> Result<(), Error> {
    for (key, value) in entries {
        let key = to_lua(key)?;
        if key.is_nil() {
            return Err(corrupt("a table key is nil"));
        }
        table.raw_set(key, to_lua(value)?)?;
    }
    Ok(())
}
