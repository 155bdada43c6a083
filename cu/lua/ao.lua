-- .ao: the `ao` global: this process's identity, its trust list and its outbox.
-- Owns: taking `env` per message, message normalisation, queuing sends/spawns/assignments
-- (LUA-PROCESS.md §1.1-2, §5). Must never print or run handlers itself.
-- Invariant: `ao.reference` only grows, so every outbox Anchor is unique for the process.

local json = require("json")
local utils = require(".utils")
local handlers = require(".handlers")

local ao = {
  _version = "0.1.0",
  id = "",
  _module = "",
  authorities = {},
  reference = 0,
  env = {},
  outbox = { Output = {}, Messages = {}, Spawns = {}, Assignments = {} },
  assignables = {},
}

-- Names never copied from tags to the message root (they are the host's, or protocol noise).
ao.nonForwardableTags = {
  "Data-Protocol", "Variant", "From-Process", "From-Module", "Type",
  "From", "Owner", "Anchor", "Target", "Data", "Tags", "Read-Only",
}
local NOT_COPIED = {}
for _, name in ipairs(ao.nonForwardableTags) do NOT_COPIED[name] = true end

local TITLE_CACHE_MAX = 4096
local title_cache, title_cache_size = {}, 0

--- `data_protocol` -> `Data-Protocol`: `_` becomes `-`, each word starts upper-case.
function ao.titleCase(name)
  local cached = title_cache[name]
  if cached then return cached end
  local title = name:gsub("_", "-"):gsub("^%l", string.upper):gsub("%-%l", string.upper)
  if title_cache_size < TITLE_CACHE_MAX then
    title_cache[name] = title
    title_cache_size = title_cache_size + 1
  end
  return title
end

-- Tags as an array of {name, value}: an array is kept, a map is turned into one sorted by name.
local function tag_array(tags)
  if type(tags) ~= "table" then return {} end
  if tags[1] ~= nil or next(tags) == nil then return tags end
  local out = {}
  for _, k in ipairs(utils.sortedKeys(tags)) do out[#out + 1] = { name = k, value = tags[k] } end
  return out
end

--- All values of tag `name` in `tags` (an array of {name, value} or a map), in order.
function ao.tagValues(tags, name)
  local out = {}
  if type(tags) ~= "table" then return out end
  if tags[1] == nil and tags[name] ~= nil then return { tags[name] } end
  for _, t in ipairs(tags) do
    if t.name == name then out[#out + 1] = t.value end
  end
  return out
end

--- The first value of tag `name`, or nil.
function ao.tagValue(tags, name)
  return ao.tagValues(tags, name)[1]
end

local function add_authority(address)
  for _, a in ipairs(ao.authorities) do
    if a == address then return end
  end
  ao.authorities[#ao.authorities + 1] = address
end

--- Takes this message's `env` (LUA-PROCESS.md §1.1) and empties the outbox.
function ao.init(env)
  ao.env = env
  local process = env.Process or {}
  if process.Id then ao.id = process.Id end
  local module = ao.tagValue(process.Tags, "Module") or (env.Module and env.Module.Id)
  if module then ao._module = module end
  for _, list in ipairs(ao.tagValues(process.Tags, "Authority")) do
    for address in tostring(list):gmatch("[^,]+") do
      address = address:match("^%s*(.-)%s*$")
      if address ~= "" then add_authority(address) end
    end
  end
  ao.outbox = { Output = {}, Messages = {}, Spawns = {}, Assignments = {} }
end

--- Normalises `msg` in place and returns it (LUA-PROCESS.md §1.2): Title-Case root keys and
--- tag names, copy tags to the root, `TagArray` = original list, `Tags` = name -> first value.
function ao.normalize(msg)
  local renames
  for k in pairs(msg) do
    if type(k) == "string" and ao.titleCase(k) ~= k then
      renames = renames or {}
      renames[#renames + 1] = k
    end
  end
  if renames then
    table.sort(renames)
    for _, k in ipairs(renames) do
      local v = msg[k]
      msg[k] = nil
      local title = ao.titleCase(k)
      if msg[title] == nil then msg[title] = v end
    end
  end
  local tags = tag_array(msg.Tags)
  local map = {}
  for i = 1, #tags do
    local t = tags[i]
    local name = ao.titleCase(tostring(t.name))
    if map[name] == nil then map[name] = t.value end
    if not NOT_COPIED[name] then msg[name] = t.value end
  end
  msg.TagArray = tags
  msg.Tags = map
  return msg
end

--- A deep copy of `value` (functions and other references are shared).
function ao.clone(value, seen)
  if type(value) ~= "table" then return value end
  seen = seen or {}
  if seen[value] then return seen[value] end
  local out = {}
  seen[value] = out
  for k, v in pairs(value) do out[ao.clone(k, seen)] = ao.clone(v, seen) end
  return setmetatable(out, getmetatable(value))
end

--- A deep copy of `msg` without functions (such as `reply` and `forward`), safe to store or send.
function ao.sanitize(msg)
  local function copy(v, seen)
    if type(v) ~= "table" then return v end
    if seen[v] then return nil end
    seen[v] = true
    local out = {}
    for k, x in pairs(v) do
      if type(x) ~= "function" and type(k) ~= "function" then out[k] = copy(x, seen) end
    end
    seen[v] = nil
    return out
  end
  return copy(msg, {})
end

--- True when the message came from its signer, or from or through one of `ao.authorities`.
function ao.isTrusted(msg)
  if msg.From == msg.Owner then return true end
  for _, a in ipairs(ao.authorities) do
    if msg.From == a or msg.Owner == a then return true end
  end
  return false
end

local function scalar(v)
  local t = type(v)
  return t == "string" or t == "number" or t == "boolean"
end

local function tag_string(v)
  if math.type(v) == "integer" then return string.format("%d", v) end
  return tostring(v)
end

-- Appends the message's root fields (sorted by name) and then its `Tags` to `tags`.
local function append_user_tags(tags, msg, skip)
  local keys = {}
  for k, v in pairs(msg) do
    if type(k) == "string" and not skip[k] and scalar(v) then keys[#keys + 1] = k end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do tags[#tags + 1] = { name = k, value = tag_string(msg[k]) } end
  for _, t in ipairs(tag_array(msg.Tags)) do
    tags[#tags + 1] = { name = tostring(t.name), value = tag_string(t.value) }
  end
end

-- Data as a string; a table becomes JSON and gains a Content-Type tag.
local function encode_data(data, tags, default)
  if data == nil then return default end
  if type(data) == "table" then
    if ao.tagValue(tags, "Content-Type") == nil then
      tags[#tags + 1] = { name = "Content-Type", value = "application/json" }
    end
    return json.encode(data)
  end
  return tag_string(data)
end

local function exactly(value)
  return function(v) return v == value end
end

local SEND_SKIP = {
  Target = true, Data = true, Anchor = true, Tags = true, TagArray = true,
  ["Data-Protocol"] = true, Variant = true, Type = true, Reference = true,
}

--- Queues a message (LUA-PROCESS.md §5). Returns a copy with `onReply([from,] fn)` and
--- `receive([from])`, which wait for the target's message carrying `X-Reference` = this reference.
function ao.send(msg)
  assert(type(msg) == "table", "ao.send: the message must be a table")
  ao.reference = ao.reference + 1
  local ref = tag_string(ao.reference)
  local tags = {
    { name = "Data-Protocol", value = "ao" },
    { name = "Variant", value = "ao.TN.1" },
    { name = "Type", value = "Message" },
    { name = "Reference", value = ref },
  }
  append_user_tags(tags, msg, SEND_SKIP)
  local message = {
    Target = msg.Target,
    Data = encode_data(msg.Data, tags, ""),
    Anchor = string.format("%032d", ao.reference),
    Tags = tags,
  }
  table.insert(ao.outbox.Messages, message)
  local handle = { Target = message.Target, Data = message.Data, Anchor = message.Anchor, Tags = tags }
  function handle.onReply(a, b)
    local from, fn = a, b
    if b == nil then from, fn = message.Target, a end
    handlers.once({ From = exactly(from), ["X-Reference"] = exactly(ref) }, fn)
  end
  function handle.receive(from)
    return handlers.receive({ From = exactly(from or message.Target), ["X-Reference"] = exactly(ref) })
  end
  return handle
end

local SPAWN_SKIP = {
  Target = true, Data = true, Anchor = true, Tags = true, TagArray = true,
  ["Data-Protocol"] = true, Variant = true, Type = true, Reference = true,
  ["From-Process"] = true, ["From-Module"] = true, Module = true,
}

--- Queues a process spawn on `module`. Returns a copy with `onReply(fn)` and `receive()`,
--- which wait for the `Action = Spawned` notice carrying this spawn's reference.
function ao.spawn(module, msg)
  assert(type(module) == "string", "ao.spawn: module must be a string (a module id)")
  msg = msg or {}
  assert(type(msg) == "table", "ao.spawn: the message must be a table")
  ao.reference = ao.reference + 1
  local ref = tag_string(ao.reference)
  local tags = {
    { name = "Data-Protocol", value = "ao" },
    { name = "Variant", value = "ao.TN.1" },
    { name = "Type", value = "Process" },
    { name = "From-Process", value = ao.id },
    { name = "From-Module", value = ao._module },
    { name = "Module", value = module },
    { name = "Reference", value = ref },
  }
  append_user_tags(tags, msg, SPAWN_SKIP)
  local spawn = {
    Data = encode_data(msg.Data, tags, "NODATA"),
    Anchor = string.format("%032d", ao.reference),
    Tags = tags,
  }
  table.insert(ao.outbox.Spawns, spawn)
  local function spawned(m)
    return m.Action == "Spawned" and (m["X-Reference"] == ref or m.Reference == ref)
  end
  local handle = { Data = spawn.Data, Anchor = spawn.Anchor, Tags = tags }
  function handle.onReply(fn) handlers.once(spawned, fn) end
  function handle.receive() return handlers.receive(spawned) end
  return handle
end

--- Queues an assignment of message `Message` to every process in `Processes`.
function ao.assign(assignment)
  assert(type(assignment) == "table", "ao.assign: expected {Processes = {...}, Message = id}")
  assert(type(assignment.Processes) == "table", "ao.assign: Processes must be a list of process ids")
  assert(type(assignment.Message) == "string", "ao.assign: Message must be a message id")
  local processes = {}
  for i, p in ipairs(assignment.Processes) do processes[i] = p end
  table.insert(ao.outbox.Assignments, { Processes = processes, Message = assignment.Message })
end

--- The result table for this message: `{Error}` alone, or the Output with the outbox.
function ao.result(result)
  result = result or {}
  if result.Error then return { Error = result.Error } end
  return {
    Output = result.Output or ao.outbox.Output,
    Messages = ao.outbox.Messages,
    Spawns = ao.outbox.Spawns,
    Assignments = ao.outbox.Assignments,
  }
end

require(".assignment").init(ao)

return ao
