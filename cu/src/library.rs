//! The default process library (`cu/lua/`, LUA-PROCESS.md), embedded in the binary: the module
//! every local network publishes first, and what tests and benchmarks load. Must never differ
//! from `cu/lua/manifest.json` (a test compares them).

use serde_json::{Map, Value as Json, json};

/// The module the CU `require`s first.
pub const MAIN: &str = ".process";

/// Every module of the library: (name, Lua source), as `manifest.json` lists them.
pub const MODULES: [(&str, &str); 11] = [
    (".process", include_str!("../lua/process.lua")),
    (".handlers", include_str!("../lua/handlers.lua")),
    (".handlers-utils", include_str!("../lua/handlers-utils.lua")),
    (".ao", include_str!("../lua/ao.lua")),
    (".assignment", include_str!("../lua/assignment.lua")),
    (".utils", include_str!("../lua/utils.lua")),
    (".eval", include_str!("../lua/eval.lua")),
    (".stringify", include_str!("../lua/stringify.lua")),
    (".random", include_str!("../lua/random.lua")),
    (".bignum", include_str!("../lua/bignum.lua")),
    ("json", include_str!("../lua/json.lua")),
];

/// The tags of the library's Module item (PROTOCOL.md §9), besides `Data-Protocol` and `Type`.
pub const MODULE_TAGS: [(&str, &str); 4] = [
    ("Module-Format", "lua53"),
    ("Input-Encoding", "JSON-1"),
    ("Output-Encoding", "JSON-1"),
    ("Content-Type", "application/json"),
];

/// The library as a Module item's data: `{"main": ".process", "modules": {name: source}}`.
pub fn bundle() -> String {
    let modules: Map<String, Json> = MODULES
        .iter()
        .map(|(name, source)| ((*name).to_owned(), Json::String((*source).to_owned())))
        .collect();
    json!({ "main": MAIN, "modules": modules }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_library_is_the_manifest() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lua");
        let manifest: Json =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["main"], MAIN);
        let listed = manifest["modules"].as_object().unwrap();
        assert_eq!(listed.len(), MODULES.len());
        for (name, source) in MODULES {
            let file = listed[name].as_str().unwrap();
            assert_eq!(
                std::fs::read_to_string(dir.join(file)).unwrap(),
                source,
                "{name}"
            );
        }
        crate::Module::parse(bundle().as_bytes()).expect("the bundle is a module");
    }
}
