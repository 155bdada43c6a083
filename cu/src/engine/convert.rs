//! JSON ↔ Lua values for `msg`, `env` and results. Owns: the mapping and its rules. Must never:
//! depend on table iteration order (object keys are sorted) or call Lua code (metatables are
//! ignored: access is raw).
//!
//! Lua → JSON rules:
//! - a table whose keys are exactly `1..n` (n ≥ 1) is an array; an empty table is `[]` (the
//!   result fields `Messages`, `Spawns`, `Assignments` are lists, and aos' json.lua encodes an
//!   empty table the same way); any other table is an object whose keys are strings or numbers
//!   written as Lua's `tostring` would (two keys writing the same is an error);
//! - integers stay integers, floats stay floats (`1.0` stays `1.0`); NaN and ±inf are errors;
//! - strings that are not UTF-8 are converted lossily (U+FFFD);
//! - function, coroutine and userdata values are left out of tables (`ao.send` returns messages
//!   carrying `onReply`); boolean or table keys, cycles, and nesting deeper than
//!   [`DEPTH_MAX`] are errors.

use std::collections::HashSet;

use mlua::{Lua, Table, Value};
use serde_json::{Map, Number, Value as Json};

/// Deepest nesting converted either way.
pub const DEPTH_MAX: usize = 128;

/// Converts a JSON value into a Lua value (objects and arrays become new tables; `null`
/// becomes `nil`).
pub fn json_to_lua(lua: &Lua, json: &Json) -> mlua::Result<Value> {
    to_lua(lua, json, 0)
}

fn to_lua(lua: &Lua, json: &Json, depth: usize) -> mlua::Result<Value> {
    if depth > DEPTH_MAX {
        return Err(mlua::Error::runtime("JSON input nests too deep"));
    }
    Ok(match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(lua.create_string(s)?),
        Json::Array(items) => {
            let table = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                table.raw_set(i + 1, to_lua(lua, item, depth + 1)?)?;
            }
            Value::Table(table)
        }
        Json::Object(fields) => {
            let table = lua.create_table_with_capacity(0, fields.len())?;
            for (key, value) in fields {
                table.raw_set(key.as_str(), to_lua(lua, value, depth + 1)?)?;
            }
            Value::Table(table)
        }
    })
}

/// Converts a Lua value to JSON by the rules above.
pub fn lua_to_json(value: &Value) -> Result<Json, String> {
    let mut open = HashSet::new();
    to_json(value, 0, &mut open)?.ok_or_else(|| format!("a {} is not JSON", value.type_name()))
}

/// `None` for values tables leave out.
fn to_json(value: &Value, depth: usize, open: &mut HashSet<usize>) -> Result<Option<Json>, String> {
    Ok(Some(match value {
        Value::Nil => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(i) => Json::Number((*i).into()),
        Value::Number(f) => {
            Json::Number(Number::from_f64(*f).ok_or_else(|| format!("{f} is not a JSON number"))?)
        }
        Value::String(s) => Json::String(s.to_string_lossy()),
        Value::Table(t) => {
            if depth >= DEPTH_MAX {
                return Err(format!("tables nest deeper than {DEPTH_MAX}"));
            }
            let pointer = t.to_pointer() as usize;
            if !open.insert(pointer) {
                return Err("a table contains itself".to_owned());
            }
            let json = table_to_json(t, depth, open)?;
            open.remove(&pointer);
            json
        }
        _ => return Ok(None),
    }))
}

fn table_to_json(table: &Table, depth: usize, open: &mut HashSet<usize>) -> Result<Json, String> {
    let mut entries: Vec<(Value, Json)> = Vec::new();
    for pair in table.pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|e| e.to_string())?;
        if let Some(json) = to_json(&value, depth + 1, open)? {
            entries.push((key, json));
        }
    }
    let n = entries.len();
    let is_array = n > 0
        && entries
            .iter()
            .all(|(k, _)| matches!(k, Value::Integer(i) if *i >= 1 && (*i as usize) <= n));
    if is_array || n == 0 {
        let mut items = vec![Json::Null; n];
        for (key, json) in entries {
            if let Value::Integer(i) = key {
                items[i as usize - 1] = json;
            }
        }
        return Ok(Json::Array(items));
    }
    let mut keyed: Vec<(String, Json)> = Vec::with_capacity(n);
    for (key, json) in entries {
        let key = match key {
            Value::String(s) => s.to_string_lossy(),
            Value::Integer(i) => i.to_string(),
            Value::Number(f) => lua_float_string(f),
            other => return Err(format!("a table has a {} key", other.type_name())),
        };
        keyed.push((key, json));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = keyed.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!(
            "two keys of a table both convert to {:?}",
            pair[0].0
        ));
    }
    // Inserted in sorted order, so the map is sorted with or without serde_json's
    // `preserve_order`.
    let mut map = Map::new();
    for (key, json) in keyed {
        map.insert(key, json);
    }
    Ok(Json::Object(map))
}

/// Lua 5.3 writes floats with `%.14g`, adding `.0` when that looks like an integer.
fn lua_float_string(f: f64) -> String {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}
