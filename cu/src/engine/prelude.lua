-- The CU's prelude: run once in every fresh state, before any module code (see sandbox.rs).
-- It receives the host table and returns the hidden root (`@host`) and the set of host
-- functions that `debug` must not open.
--
-- Invariant: every function defined here keeps its mutable state in `hidden` (a checkpoint
-- root), never in a private upvalue, because checkpoints name host functions instead of
-- serializing them.
local host = ...
local hdebug = host.debug
local type, select, rawget, error, pairs = type, select, rawget, error, pairs
local tostring0, setmetatable0, load0, collect0 = tostring, setmetatable, load, collectgarbage
local getmetatable_raw, getinfo = hdebug.getmetatable, hdebug.getinfo
local string, math = string, math
local format0, pack, unpack, unpackt = string.format, string.pack, string.unpack, table.unpack

local hidden = {
  loaded = package.loaded,
  package = package,
  string_mt = getmetatable(""),
  ipairs_iter = (ipairs({})),
  ids = setmetatable0({}, { __mode = "k" }),
  id_count = 0,
  -- xoshiro256** state, seeded like math.randomseed(0).
  rng = { 0, 0, 0, 0 },
}
local guarded = {}

-- tostring: never an address. Objects get a number on first use, kept in a weak table
-- (checkpointed after a full collection, so only live objects are kept).
local ids = hidden.ids
local function det_tostring(v)
  local t = type(v)
  if t ~= "table" and t ~= "function" and t ~= "thread" and t ~= "userdata" then
    return tostring0(v)
  end
  local mt = getmetatable_raw(v)
  if mt ~= nil and rawget(mt, "__tostring") ~= nil then
    return tostring0(v)
  end
  local name = mt ~= nil and rawget(mt, "__name")
  if type(name) ~= "string" then name = t end
  local id = ids[v]
  if id == nil then
    id = hidden.id_count + 1
    hidden.id_count = id
    ids[v] = id
  end
  return format0("%s: 0x%08x", name, id)
end
tostring = det_tostring

-- string.format("%s", t) would print an address through luaL_tolstring.
local function needs_det(v)
  local t = type(v)
  return t == "table" or t == "function" or t == "thread" or t == "userdata"
end
string.format = function(fmt, ...)
  local n = select("#", ...)
  for i = 1, n do
    if needs_det((select(i, ...))) then
      local args = { ... }
      for j = i, n do
        if needs_det(args[j]) then args[j] = det_tostring(args[j]) end
      end
      local s = format0(fmt, unpackt(args, 1, n))
      return s
    end
  end
  local s = format0(fmt, ...)
  return s
end

-- load: text chunks only, whatever mode the caller asks for.
load = function(...)
  local chunk, name, _, env = ...
  if select("#", ...) >= 4 then
    local f, e = load0(chunk, name, "t", env)
    return f, e
  end
  local f, e = load0(chunk, name, "t")
  return f, e
end

-- Finalizers would run at times that depend on the allocator's history.
setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("__gc metamethods are not supported (finalizer timing is not deterministic)", 2)
  end
  return setmetatable0(t, mt)
end

-- collectgarbage: collecting is allowed; nothing that reveals the heap's size or tunes it.
collectgarbage = function(opt)
  opt = opt or "collect"
  if opt == "collect" or opt == "step" then
    collect0("collect")
    return opt == "step" or 0
  elseif opt == "count" then
    return 0
  elseif opt == "isrunning" then
    return true
  end
  error("collectgarbage option '" .. tostring0(opt) .. "' is not allowed", 2)
end

-- A compute-limit error must not be swallowed: once the budget is spent, every way Lua has
-- to catch an error raises it again (the hook keeps raising too), so it reaches the host.
local exceeded, pcall0, xpcall0, resume0 = host.exceeded, pcall, xpcall, coroutine.resume
local function rethrow(ok, ...)
  if not ok and exceeded() then error((...), 0) end
  return ok, ...
end
pcall = function(...) return rethrow(pcall0(...)) end
xpcall = function(...) return rethrow(xpcall0(...)) end
coroutine.resume = function(...) return rethrow(resume0(...)) end

print = function() end
dofile, loadfile = nil, nil

-- math.random: xoshiro256**, never C rand(). The library reseeds it per LUA-PROCESS.md §1.3.
local rng = hidden.rng
local function rotl(x, k) return (x << k) | (x >> (64 - k)) end
local function next64()
  local s0, s1, s2, s3 = rng[1], rng[2], rng[3], rng[4]
  local result = rotl(s1 * 5, 7) * 9
  local t = s1 << 17
  s2 = s2 ~ s0; s3 = s3 ~ s1; s1 = s1 ~ s2; s0 = s0 ~ s3; s2 = s2 ~ t; s3 = rotl(s3, 45)
  rng[1], rng[2], rng[3], rng[4] = s0, s1, s2, s3
  return result
end
math.randomseed = function(seed)
  local x
  local t = math.type(seed)
  if t == "integer" then
    x = seed
  elseif t == "float" then
    x = unpack("<i8", pack("<d", seed))
  elseif type(seed) == "string" then
    x = 0
    for i = 1, #seed do x = x * 31 + seed:byte(i) end
  else
    error("bad argument #1 to 'randomseed' (number expected, got " .. type(seed) .. ")", 2)
  end
  for i = 1, 4 do -- splitmix64
    x = x + 0x9E3779B97F4A7C15
    local z = x
    z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ~ (z >> 27)) * 0x94D049BB133111EB
    rng[i] = z ~ (z >> 31)
  end
end
math.random = function(m, n)
  local r = next64()
  if m == nil then
    return (r >> 11) * (1.0 / 9007199254740992.0)
  end
  local lo, hi
  if n == nil then lo, hi = 1, m else lo, hi = m, n end
  lo, hi = math.tointeger(lo), math.tointeger(hi)
  if lo == nil or hi == nil then
    error("bad argument to 'random' (number has no integer representation)", 2)
  end
  if lo > hi then error("bad argument to 'random' (interval is empty)", 2) end
  local span = hi - lo
  if span < 0 or span == math.maxinteger then -- the whole integer range
    return lo + r
  end
  return lo + (r >> 1) % (span + 1)
end
math.randomseed(0)

os = { time = host.os_time }

-- debug: tracebacks and introspection; upvalues only of process code, never of host functions.
local function own(f)
  if type(f) ~= "function" or guarded[f] then return false end
  local info = getinfo(f, "S")
  return info.what ~= "C" and info.source ~= "=cu.prelude"
end
local function check_own(f, fname)
  if not own(f) then error("debug." .. fname .. ": not allowed on host functions", 3) end
end
debug = {
  traceback = hdebug.traceback,
  getinfo = hdebug.getinfo,
  getupvalue = function(f, i)
    if not own(f) then return nil end
    return hdebug.getupvalue(f, i)
  end,
  setupvalue = function(f, i, v)
    check_own(f, "setupvalue")
    return hdebug.setupvalue(f, i, v)
  end,
  upvalueid = function(f, i)
    check_own(f, "upvalueid")
    return hdebug.upvalueid(f, i)
  end,
  upvaluejoin = function(f1, n1, f2, n2)
    check_own(f1, "upvaluejoin")
    check_own(f2, "upvaluejoin")
    return hdebug.upvaluejoin(f1, n1, f2, n2)
  end,
}
bit32 = host.bit32

-- require: the bundle's modules only (after package.preload), never the file system.
local searchers = package.searchers
package.searchers = { searchers[1], host.searcher }
package.loadlib, package.searchpath, package.path, package.cpath = nil, nil, nil, nil
package.loaded.os, package.loaded.debug, package.loaded.bit32 = os, debug, bit32
package.loaded.io = nil

return hidden, guarded
