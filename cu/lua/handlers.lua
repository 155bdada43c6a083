-- .handlers: the ordered handler list and its API (the `Handlers` global, LUA-PROCESS.md §3).
-- Owns: adding, placing, removing handlers; walking them for one message; suspending a handler
-- with `receive` until a later message resumes it.
-- Must never decide what happens to a message no handler stopped: the process does (Inbox).
-- Invariant: every handler body runs in its own coroutine, so `receive` can yield from it.

local utils = require(".utils")
local stringify = require(".stringify")

local handlers = { _version = "0.1.0", list = {}, onceNonce = 0 }
handlers.utils = require(".handlers-utils")

-- Coroutines created here; `receive` may only yield one of them.
local managed = setmetatable({}, { __mode = "k" })

local function index_of(name)
  local list = handlers.list
  for i = 1, #list do
    if list[i].name == name then return i end
  end
  return nil
end

local function check_pattern(pattern, who)
  local tp = type(pattern)
  if tp ~= "function" and tp ~= "string" and tp ~= "table" then
    error(who .. ": pattern must be a function, a string or a table, not a " .. tp, 3)
  end
end

local function make_entry(who, name, pattern, handle, maxRuns)
  if type(name) ~= "string" then error(who .. ": name must be a string", 3) end
  if handle == nil then
    -- Two-argument form: the name doubles as the Action to match.
    handle, pattern = pattern, name
  end
  check_pattern(pattern, who)
  local th = type(handle)
  if th ~= "function" and th ~= "table" then
    error(who .. ": handle must be a function or a table of {[pattern] = function}", 3)
  end
  if maxRuns ~= nil and maxRuns ~= "inf" and not (math.type(maxRuns) == "integer" and maxRuns > 0) then
    error(who .. ": maxRuns must be a positive integer or 'inf'", 3)
  end
  return { name = name, pattern = pattern, handle = handle, maxRuns = maxRuns }
end

-- Replaces a handler of the same name in place, or inserts at `position` (nil: at the end).
local function place(entry, position)
  local list = handlers.list
  local i = index_of(entry.name)
  if i then
    list[i].removed = true
    list[i] = entry
  elseif position then
    table.insert(list, position, entry)
  else
    list[#list + 1] = entry
  end
  return #list
end

local function remove_entry(entry)
  local list = handlers.list
  for i = 1, #list do
    if list[i] == entry then
      entry.removed = true
      table.remove(list, i)
      return true
    end
  end
  return false
end

--- Adds (or replaces in place) a handler at the end. Returns the number of handlers.
function handlers.add(name, pattern, handle, maxRuns)
  return place(make_entry("Handlers.add", name, pattern, handle, maxRuns))
end

handlers.append = handlers.add

--- Adds (or replaces in place) a handler at the front.
function handlers.prepend(name, pattern, handle, maxRuns)
  return place(make_entry("Handlers.prepend", name, pattern, handle, maxRuns), 1)
end

local function next_name(prefix)
  handlers.onceNonce = handlers.onceNonce + 1
  return prefix .. handlers.onceNonce
end

--- `Handlers.once([name,] pattern, handle)`: a handler at the front that runs once.
function handlers.once(a, b, c)
  local name, pattern, handle = a, b, c
  if c == nil then name, pattern, handle = next_name("_once_"), a, b end
  return place(make_entry("Handlers.once", name, pattern, handle, 1), 1)
end

local function beside(target, offset, who)
  return {
    add = function(name, pattern, handle, maxRuns)
      local entry = make_entry(who, name, pattern, handle, maxRuns)
      if name ~= target then
        local old = index_of(name)
        if old then remove_entry(handlers.list[old]) end
      end
      local i = index_of(target)
      if not i then error(who .. ": no handler named '" .. tostring(target) .. "'", 2) end
      if name == target then return place(entry) end
      table.insert(handlers.list, i + offset, entry)
      return #handlers.list
    end,
  }
end

--- `Handlers.before(name).add(...)`: insert just before the handler `name`.
function handlers.before(name)
  return beside(name, 0, "Handlers.before")
end

--- `Handlers.after(name).add(...)`: insert just after the handler `name`.
function handlers.after(name)
  return beside(name, 1, "Handlers.after")
end

--- Removes the handler `name`; returns whether one was removed.
function handlers.remove(name)
  local i = index_of(name)
  if not i then return false end
  return remove_entry(handlers.list[i])
end

--- Suspends the running handler until a later message matches `pattern`; returns that message.
function handlers.receive(pattern)
  check_pattern(pattern, "Handlers.receive")
  local co = coroutine.running()
  if not managed[co] then
    error("Handlers.receive must be called from inside a handler or an Eval", 2)
  end
  handlers.once(next_name("_receive_"), pattern, function(msg)
    local ok, err = coroutine.resume(co, msg)
    if not ok then error(err, 0) end
  end)
  return coroutine.yield(pattern)
end

-- Match results: true/"break"/negative: run and stop; "continue"/positive: run and go on;
-- false/0/"skip": do not run. Any other truthy value counts as true.
local function classify(r)
  if r == false or r == 0 or r == "skip" then return false, false end
  if r == "continue" then return true, false end
  if type(r) == "number" then return true, r < 0 end
  return true, true
end

local function resolver_keys(resolver)
  local keys = {}
  for k in pairs(resolver) do keys[#keys + 1] = k end
  table.sort(keys, function(x, y)
    local tx, ty = type(x), type(y)
    if tx ~= ty then return tx < ty end
    if tx == "string" then return x < y end
    if tx == "table" then return stringify.format(x, false) < stringify.format(y, false) end
    return tostring(x) < tostring(y)
  end)
  return keys
end

-- A handle given as `{[spec] = function}`: calls the function of the first matching spec.
local function resolve(resolver, msg, env)
  for _, spec in ipairs(resolver_keys(resolver)) do
    local r = utils.matchesSpec(msg, spec)
    if r ~= nil and (classify(r)) then return resolver[spec](msg, env) end
  end
end

--- Runs `fn(...)` in a new managed coroutine; raises its error, if any, unchanged.
function handlers.run(fn, ...)
  local co = coroutine.create(fn)
  managed[co] = true
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(err, 0) end
  return coroutine.status(co)
end

local function invoke(entry, msg, env)
  local handle = entry.handle
  if type(handle) == "table" then
    local resolver = handle
    handle = function(m, e) return resolve(resolver, m, e) end
  end
  handlers.run(handle, msg, env)
end

--- Walks the handlers for `msg` in list order. Returns true when a handler stopped the walk.
--- Handlers added during the walk see only later messages.
function handlers.evaluate(msg, env)
  local list = handlers.list
  local snapshot = table.move(list, 1, #list, 1, {})
  for i = 1, #snapshot do
    local entry = snapshot[i]
    if not entry.removed then
      local r = utils.matchesSpec(msg, entry.pattern)
      if r == nil then
        error("pattern of handler '" .. entry.name .. "' returned nil", 0)
      end
      local run, stop = classify(r)
      if run then
        if math.type(entry.maxRuns) == "integer" then
          entry.maxRuns = entry.maxRuns - 1
          if entry.maxRuns <= 0 then remove_entry(entry) end
        end
        invoke(entry, msg, env)
        if stop then return true end
      end
    end
  end
  return false
end

return handlers
