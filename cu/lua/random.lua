-- .random: the deterministic PRNG behind `math.random` and `math.randomseed`.
-- Owns: one xoshiro256** generator seeded from message fields, so every CU draws the same
-- sequence. Pure 64-bit integer arithmetic (Lua 5.3 integers wrap), no host entropy, no floats
-- except the final scaling of `math.random()`.
-- Invariant: the state lives in `random.state`, reachable from package.loaded, so it is part
-- of the process state like any other table.

local random = { state = { 0x1234567, 0x89abcdef, 0x2468ace, 0x13579bdf }, seeded = false }

local function rotl(x, k)
  return (x << k) | (x >> (64 - k))
end

local function next64()
  local s = random.state
  local s0, s1, s2, s3 = s[1], s[2], s[3], s[4]
  local result = rotl(s1 * 5, 7) * 9
  local t = s1 << 17
  s2 = s2 ~ s0
  s3 = s3 ~ s1
  s1 = s1 ~ s2
  s0 = s0 ~ s3
  s2 = s2 ~ t
  s3 = rotl(s3, 45)
  s[1], s[2], s[3], s[4] = s0, s1, s2, s3
  return result
end

local function splitmix(x)
  x = x + -7046029254386353131 -- 0x9E3779B97F4A7C15
  local z = x
  z = (z ~ (z >> 30)) * -4658895280553007687 -- 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * -7723592293110705685 -- 0x94D049BB133111EB
  return x, z ~ (z >> 31)
end

--- 64-bit FNV-1a of a string.
function random.hash(s)
  local h = -3750763034362895579 -- 0xcbf29ce484222325
  for i = 1, #s do
    h = (h ~ s:byte(i)) * 1099511628211
  end
  return h
end

--- Reseeds from an integer (or a number, or a string, hashed).
function random.seed(seed)
  local x
  if math.type(seed) == "integer" then
    x = seed
  elseif type(seed) == "number" then
    x = math.tointeger(seed) or random.hash(string.format("%.17g", seed))
  else
    x = random.hash(tostring(seed))
  end
  local s = random.state
  for i = 1, 4 do x, s[i] = splitmix(x) end
  if s[1] | s[2] | s[3] | s[4] == 0 then s[1] = 1 end
  random.seeded = true
end

--- Seeds from the first message: Block-Height, Owner, Module and Id (LUA-PROCESS §1.3).
function random.seedFromMessage(msg)
  local parts = {
    tostring(msg["Block-Height"] or ""), tostring(msg.Owner or ""),
    tostring(msg.Module or ""), tostring(msg.Id or ""),
  }
  random.seed(random.hash(table.concat(parts, "|")))
end

-- A uniform integer in [0, limit] (limit treated as unsigned), by rejection of a masked draw.
local function below_or_equal(limit)
  local mask = limit
  mask = mask | (mask >> 1); mask = mask | (mask >> 2); mask = mask | (mask >> 4)
  mask = mask | (mask >> 8); mask = mask | (mask >> 16); mask = mask | (mask >> 32)
  while true do
    local r = next64() & mask
    if not math.ult(limit, r) then return r end
  end
end

--- Same contract as Lua's `math.random`: () -> [0,1) float, (m) -> [1,m], (m,n) -> [m,n].
function random.random(m, n)
  if m == nil then
    return (next64() >> 11) * (1.0 / 9007199254740992.0)
  end
  local lo, hi
  if n == nil then
    lo, hi = 1, math.tointeger(m)
    if not hi then error("bad argument #1 to 'random' (number has no integer representation)", 2) end
  else
    lo, hi = math.tointeger(m), math.tointeger(n)
    if not lo then error("bad argument #1 to 'random' (number has no integer representation)", 2) end
    if not hi then error("bad argument #2 to 'random' (number has no integer representation)", 2) end
  end
  if lo > hi then error("bad argument #" .. (n == nil and 1 or 2) .. " to 'random' (interval is empty)", 2) end
  return lo + below_or_equal(hi - lo)
end

--- Replaces math.random / math.randomseed in the given math table.
function random.install(math_table)
  math_table.random = random.random
  math_table.randomseed = function(x) random.seed(x or 0) end
end

return random
