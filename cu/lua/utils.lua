-- .utils: functional helpers for process code (the `Utils` global) and the message-pattern
-- matcher shared by Handlers and assignables.
-- Helpers are curried: `Utils.map(fn, t)` and `Utils.map(fn)(t)` are the same call.
-- Never iterates with `pairs` where the order could reach an output: `keys`/`values` sort.

local utils = { _version = "0.1.0" }

--- Returns `fn` curried over `arity` arguments (default: 2).
function utils.curry(fn, arity)
  arity = arity or 2
  if arity < 2 then return fn end
  local function collect(args, n)
    return function(...)
      local more = table.pack(...)
      local all = table.move(args, 1, n, 1, {})
      table.move(more, 1, more.n, n + 1, all)
      local total = n + more.n
      if total >= arity then return fn(table.unpack(all, 1, total)) end
      return collect(all, total)
    end
  end
  return collect({}, 0)
end

--- True when `t` is a table whose keys are exactly 1..#t.
function utils.isArray(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

--- Orders keys of mixed types deterministically: numbers, then strings, then the rest.
function utils.keyLess(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    if ta == "number" then return true end
    if tb == "number" then return false end
    if ta == "string" then return true end
    if tb == "string" then return false end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

--- The keys of `t`, sorted (see keyLess).
function utils.sortedKeys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, utils.keyLess)
  return keys
end

utils.concat = utils.curry(function(a, b)
  assert(type(a) == "table" and type(b) == "table", "concat: both arguments must be arrays")
  local out = table.move(a, 1, #a, 1, {})
  return table.move(b, 1, #b, #out + 1, out)
end, 2)

utils.reduce = utils.curry(function(fn, initial, t)
  assert(type(fn) == "function", "reduce: first argument must be a function")
  assert(type(t) == "table", "reduce: third argument must be a table")
  local acc = initial
  for i, v in ipairs(t) do
    if i == 1 and acc == nil then acc = v else acc = fn(acc, v, i) end
  end
  return acc
end, 3)

utils.map = utils.curry(function(fn, t)
  assert(type(fn) == "function", "map: first argument must be a function")
  assert(type(t) == "table", "map: second argument must be a table")
  local out = {}
  for i, v in ipairs(t) do out[i] = fn(v, i) end
  return out
end, 2)

utils.filter = utils.curry(function(fn, t)
  assert(type(fn) == "function", "filter: first argument must be a function")
  assert(type(t) == "table", "filter: second argument must be a table")
  local out = {}
  for _, v in ipairs(t) do
    if fn(v) then out[#out + 1] = v end
  end
  return out
end, 2)

utils.find = utils.curry(function(fn, t)
  assert(type(fn) == "function", "find: first argument must be a function")
  for _, v in ipairs(t) do
    if fn(v) then return v end
  end
  return nil
end, 2)

utils.includes = utils.curry(function(value, t)
  assert(type(t) == "table", "includes: second argument must be a table")
  for _, v in ipairs(t) do
    if v == value then return true end
  end
  return false
end, 2)

utils.prop = utils.curry(function(name, obj)
  return obj[name]
end, 2)

utils.propEq = utils.curry(function(name, value, obj)
  return obj[name] == value
end, 3)

utils.reverse = function(t)
  local out, n = {}, #t
  for i = n, 1, -1 do out[n - i + 1] = t[i] end
  return out
end

--- compose(f, g, h)(x) == f(g(h(x))).
function utils.compose(...)
  local fns = table.pack(...)
  return function(...)
    local result = table.pack(...)
    for i = fns.n, 1, -1 do result = table.pack(fns[i](table.unpack(result, 1, result.n))) end
    return table.unpack(result, 1, result.n)
  end
end

function utils.keys(t)
  return utils.sortedKeys(t)
end

function utils.values(t)
  local out = {}
  for i, k in ipairs(utils.sortedKeys(t)) do out[i] = t[k] end
  return out
end

-- Message patterns -----------------------------------------------------------------------------

-- Characters that make a spec string a Lua pattern rather than a plain (case-insensitive) name.
local PATTERN_CHARS = "[%^%$%(%)%%%.%[%]%*%+%?]"

local function both_cases(c)
  local lo, up = c:lower(), c:upper()
  if lo == up then return c end
  return lo .. up
end

--- Rewrites a Lua pattern so that it matches letters in either case.
function utils.caseInsensitivePattern(p)
  local out, i, n, in_set = {}, 1, #p, false
  while i <= n do
    local c = p:sub(i, i)
    if c == "%" then
      local e = p:sub(i + 1, i + 1)
      if e == "b" then
        out[#out + 1] = p:sub(i, i + 3); i = i + 4
      else
        out[#out + 1] = c .. e; i = i + 2
      end
    elseif in_set then
      if c == "]" then
        in_set = false; out[#out + 1] = c; i = i + 1
      elseif p:sub(i + 1, i + 1) == "-" and p:sub(i + 2, i + 2) ~= "]" and i + 2 <= n then
        local hi = p:sub(i + 2, i + 2)
        local range = c .. "-" .. hi
        if c:match("%a") and hi:match("%a") and c:lower() ~= c:upper() then
          local other = (c == c:lower()) and (c:upper() .. "-" .. hi:upper()) or (c:lower() .. "-" .. hi:lower())
          range = range .. other
        end
        out[#out + 1] = range; i = i + 3
      else
        out[#out + 1] = both_cases(c); i = i + 1
      end
    elseif c == "[" then
      in_set = true
      out[#out + 1] = c
      i = i + 1
      if p:sub(i, i) == "^" then out[#out + 1] = "^"; i = i + 1 end
      if p:sub(i, i) == "]" then out[#out + 1] = "]"; i = i + 1 end
    elseif c:match("%a") then
      out[#out + 1] = "[" .. both_cases(c) .. "]"; i = i + 1
    else
      out[#out + 1] = c; i = i + 1
    end
  end
  return table.concat(out)
end

local pattern_cache = setmetatable({}, { __mode = "k" })

--- Matches one spec value against a message value (see LUA-PROCESS.md §3). Returns a boolean,
--- or a function spec's own result.
function utils.matchesValue(spec, value, msg)
  local ts = type(spec)
  if spec == "_" then return value ~= nil end
  if ts == "function" then return spec(value, msg) end
  if value == nil then return false end
  if ts == "string" then
    local v = type(value) == "string" and value or tostring(value)
    if spec:find(PATTERN_CHARS) then
      local p = pattern_cache[spec]
      if not p then p = utils.caseInsensitivePattern(spec); pattern_cache[spec] = p end
      return v:match(p) ~= nil
    end
    return v == spec or v:lower() == spec:lower()
  end
  if ts == "table" then
    if #spec > 0 then
      for _, alternative in ipairs(spec) do
        local r = utils.matchesValue(alternative, value, msg)
        if r and r ~= 0 and r ~= "skip" then return r end
      end
      return false
    end
    if type(value) ~= "table" then return false end
    return utils.matchesSpec(value, spec)
  end
  return spec == value
end

--- Matches a message against a pattern: a function, a string (the Action) or a table spec whose
--- every key must be present on the message and match. Returns the raw match result.
function utils.matchesSpec(msg, spec)
  local ts = type(spec)
  if ts == "function" then return spec(msg) end
  if ts == "string" then return utils.matchesValue(spec, msg.Action, msg) end
  if ts == "table" then
    for key, want in pairs(spec) do
      local r = utils.matchesValue(want, msg[key], msg)
      if not r or r == 0 or r == "skip" then return false end
    end
    return true
  end
  error("pattern must be a function, a string or a table, not a " .. ts)
end

return utils
