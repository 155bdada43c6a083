//! Compiles Lua 5.3 (the sources shipped in the `lua-src` crate) the way the CU needs it.
//!
//! mlua-sys runs in `external` mode, so this script alone decides how Lua is built. Every Lua
//! source file gets `csrc/cu_lua_host.h` forced in front of it (`-include`); that header turns on
//! the 5.2 compatibility layer, fixes the string-hash seed and parks the debug and bit32
//! libraries in the registry (read it for why).
//!
//! `lua-src` builds through `cc`, which reads `CFLAGS` from its environment. Changing our own
//! environment needs `unsafe` in edition 2024, so the script runs itself again as a child with
//! the flags in the child's environment; the child builds Lua and prints cargo's directives.
//! Nothing outside this crate sees the flags (no workspace-wide `CFLAGS`, no other C build
//! such as aws-lc-sys is touched). The flags are written for gcc and clang.

use std::path::Path;
use std::process::Command;

const CHILD_MARKER: &str = "CU_BUILD_LUA_CHILD";

fn main() {
    if std::env::var_os(CHILD_MARKER).is_some() {
        lua_src::Build::new()
            .build(lua_src::Lua53)
            .print_cargo_metadata();
        return;
    }
    let header = Path::new(env!("CARGO_MANIFEST_DIR")).join("csrc/cu_lua_host.h");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", header.display());
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    let flags = format!(
        "-include '{}'",
        header.display().to_string().replace('\'', r"'\''")
    );
    let out = Command::new(std::env::current_exe().expect("build script path"))
        .env(CHILD_MARKER, "1")
        .env("CC_SHELL_ESCAPED_FLAGS", "1")
        // The target-specific variable takes precedence over a developer's own `CFLAGS` and
        // `TARGET_CFLAGS` (cc appends it last), so determinism cannot be lost to them.
        .env(format!("CFLAGS_{}", target.replace('-', "_")), flags)
        .output()
        .expect("running the build script again to compile Lua");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "compiling Lua failed");
    print!("{}", String::from_utf8_lossy(&out.stdout));
}
