//! A module: the Lua sources a process runs (PROTOCOL.md §9). Owns: parsing one source or a
//! JSON bundle, and compiling every source once. Must never: run module code, or take
//! bytecode from outside (only what it compiled itself from text is ever loaded as binary).

use std::collections::BTreeMap;

use super::error::Error;

/// The main module's name when the module is one Lua source.
pub const MAIN_DEFAULT: &str = ".process";
const BINARY_CHUNK_SIGNATURE: &[u8] = b"\x1bLua";

/// Lua sources by module name, and which one is `require`d to get `handle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    main: String,
    sources: BTreeMap<String, Vec<u8>>,
    /// Each source compiled once, as `string.dump` with debug info: every process of the
    /// module loads this instead of parsing the text again (parsing the library was most of
    /// the cost of a spawn). The functions are the ones the text gives, line info included.
    bytecode: BTreeMap<String, Vec<u8>>,
}

impl Module {
    /// Parses module data: a JSON bundle `{"main":…,"modules":{name: source,…}}` when the data
    /// starts with `{` (no Lua chunk can), else one Lua source named `.process`. Every source is
    /// compiled once here, so a syntax error is reported before any process runs.
    pub fn parse(bytes: &[u8]) -> Result<Module, Error> {
        let (main, sources) = if bytes.trim_ascii_start().starts_with(b"{") {
            Self::parse_bundle(bytes)?
        } else {
            (
                MAIN_DEFAULT.to_owned(),
                BTreeMap::from([(MAIN_DEFAULT.to_owned(), bytes.to_vec())]),
            )
        };
        let bytecode = compile(&sources)?;
        Ok(Module {
            main,
            sources,
            bytecode,
        })
    }

    fn parse_bundle(bytes: &[u8]) -> Result<(String, BTreeMap<String, Vec<u8>>), Error> {
        let format = |reason: &str| Error::ModuleFormat {
            reason: reason.to_owned(),
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| Error::ModuleFormat {
                reason: format!("bundle is not JSON: {e}"),
            })?;
        let main = value
            .get("main")
            .and_then(|m| m.as_str())
            .ok_or_else(|| format("bundle has no string \"main\""))?
            .to_owned();
        let modules = value
            .get("modules")
            .and_then(|m| m.as_object())
            .ok_or_else(|| format("bundle has no object \"modules\""))?;
        let mut sources = BTreeMap::new();
        for (name, source) in modules {
            let source = source
                .as_str()
                .ok_or_else(|| format("every bundled module must be a Lua source string"))?;
            sources.insert(name.clone(), source.as_bytes().to_vec());
        }
        if !sources.contains_key(&main) {
            return Err(Error::ModuleMainMissing { main });
        }
        Ok((main, sources))
    }

    /// The module `require`d before every message.
    pub fn main(&self) -> &str {
        &self.main
    }

    /// The source of a bundled module, if the bundle has it.
    pub fn source(&self, name: &str) -> Option<&[u8]> {
        self.sources.get(name).map(Vec::as_slice)
    }

    /// A bundled module compiled from its source (a binary chunk with debug info).
    pub(crate) fn bytecode(&self, name: &str) -> Option<&[u8]> {
        self.bytecode.get(name).map(Vec::as_slice)
    }

    /// Module names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.sources.keys().map(String::as_str)
    }
}

/// Compiles every source (text only: a binary chunk is refused) into its bytecode.
fn compile(sources: &BTreeMap<String, Vec<u8>>) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let lua = mlua::Lua::new_with(mlua::StdLib::NONE, mlua::LuaOptions::default())?;
    let mut compiled = BTreeMap::new();
    for (name, source) in sources {
        if source.starts_with(BINARY_CHUNK_SIGNATURE) {
            return Err(Error::ModuleBinary { name: name.clone() });
        }
        let function = lua
            .load(source.as_slice())
            .set_name(name.as_str())
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
            .map_err(|e| Error::ModuleSyntax {
                name: name.clone(),
                message: e.to_string(),
            })?;
        compiled.insert(name.clone(), function.dump(false));
    }
    Ok(compiled)
}
