/*
 * Forced into every Lua 5.3 source file (`-include`) by cu/build.rs. It only defines hooks
 * that Lua itself provides for embedders; no Lua source file is patched.
 */

/* The 5.2 compatibility layer AO modules were built with: bit32, math.pow, ... */
#define LUA_COMPAT_5_2

/*
 * Determinism: stock makeseed (lstate.c) hashes time(NULL) with the addresses of a heap object,
 * a local and a function, so string hashes, and with them the order of pairs() over string
 * keys, change from run to run. `unsigned int h = luai_makeseed();` is the first statement of
 * makeseed; this expansion returns a constant seed before the addresses are mixed in.
 */
#define luai_makeseed() 0; return 0x2545F491u; (void)0

/*
 * The CU needs the debug library on the host side only (checkpoints read and join upvalues)
 * and bit32 as a global. mlua opens neither without `unsafe` Rust, so the state opens them
 * itself once it is built and parks the tables in the registry, where Lua code cannot reach
 * them (debug.getregistry is never exposed). The engine picks them up by name.
 */
#define luai_userstateopen(L) { \
    extern int luaopen_debug(lua_State *); \
    extern int luaopen_bit32(lua_State *); \
    luaopen_debug(L); lua_setfield(L, LUA_REGISTRYINDEX, "cu.debug"); \
    luaopen_bit32(L); lua_setfield(L, LUA_REGISTRYINDEX, "cu.bit32"); \
  }
