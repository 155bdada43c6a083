-- harness: runs the process library the way the CU does, for the Lua test suites.
-- Owns: loading the library bundle into isolated process states, building `msg`/`env` exactly
-- as PROTOCOL.md §6 says, simulating MU delivery between processes, and a tiny assertion kit.
-- Everything that depends on the host is `read_text` below; the rest is plain Lua 5.3.

-- HOST-SPECIFIC: how the harness reads repository files (paths relative to the repo root).
-- Under stock lua5.3 this uses `io`; a host without `io` defines the global AO_TEST_READ_FILE.
local read_text = rawget(_G, "AO_TEST_READ_FILE") or function(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. path .. " (run from the repo root)")
  local text = f:read("a")
  f:close()
  return text
end
-- END HOST-SPECIFIC

local H = {}

local LUA_DIR = "cu/lua/"

-- The harness's own JSON decoder (the library's json.lua, loaded once outside any process).
local json = assert(load(read_text(LUA_DIR .. "json.lua"), "json", "t", _G))()
H.json = json

local bundle
--- The library bundle `{main, modules = {name = source}}`, built from cu/lua/manifest.json.
function H.bundle()
  if bundle then return bundle end
  local manifest = json.decode(read_text(LUA_DIR .. "manifest.json"))
  bundle = { main = manifest.main, modules = {} }
  for name, file in pairs(manifest.modules) do bundle.modules[name] = read_text(LUA_DIR .. file) end
  return bundle
end

H.read_text = read_text

local function copy_table(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

-- A fresh global environment for one process: the host's globals (no io, os, loadfile, dofile),
-- private copies of the standard library tables, and a `require` that sees only the bundle.
local function new_globals(b)
  local G = {}
  for k, v in pairs(_G) do G[k] = v end
  for _, lib in ipairs({ "math", "string", "table", "coroutine", "utf8", "bit32", "debug" }) do
    if type(_G[lib]) == "table" then G[lib] = copy_table(_G[lib]) end
  end
  G.io, G.os, G.loadfile, G.dofile, G.arg = nil, nil, nil, nil, nil
  G._G = G
  local loaded = {}
  G.package = { loaded = loaded, preload = {} }
  for _, lib in ipairs({ "math", "string", "table", "coroutine", "utf8", "bit32", "debug" }) do
    loaded[lib] = G[lib]
  end
  loaded._G = G
  G.require = function(name)
    local value = loaded[name]
    if value ~= nil then return value end
    local loader = G.package.preload[name]
    if not loader then
      local source = b.modules[name]
      if not source then error("module '" .. tostring(name) .. "' not found in the bundle", 2) end
      loader = assert(load(source, name, "t", G))
    end
    local r = loader(name)
    if loaded[name] == nil then loaded[name] = (r == nil) and true or r end
    return loaded[name]
  end
  return G
end

--- A 43-character id made from `seed` (ids of processes, wallets and messages).
function H.id(seed)
  seed = tostring(seed)
  if #seed >= 43 then return seed:sub(1, 43) end
  return seed .. string.rep("_", 43 - #seed)
end

H.MU = H.id("MU-wallet-address")
H.OWNER = H.id("owner-wallet-address")
H.MODULE = H.id("aos-lua-module")
H.SCHEDULER = H.id("su-wallet-address")

-- Tags given as an array of {name, value}, of {"name", "value"} pairs, or as a map (sorted).
local function tag_list(tags)
  local out = {}
  if tags == nil then return out end
  if tags[1] ~= nil then
    for i, t in ipairs(tags) do
      if t.name ~= nil then out[i] = { name = t.name, value = t.value }
      else out[i] = { name = t[1], value = t[2] } end
    end
    return out
  end
  local keys = {}
  for k in pairs(tags) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do out[#out + 1] = { name = k, value = tags[k] } end
  return out
end
H.tag_list = tag_list

--- The first value of tag `name` in an outbox message (or any {Tags = array}).
function H.tag(message, name)
  for _, t in ipairs(message.Tags or {}) do
    if t.name == name then return t.value end
  end
  return nil
end

--- `s` without ANSI color codes.
function H.plain(s)
  return (tostring(s):gsub("\27%[[%d;]*m", ""))
end

-- Processes ------------------------------------------------------------------------------------

local Process = {}
Process.__index = Process
local message_counter = 0

local function next_message_id()
  message_counter = message_counter + 1
  return H.id(string.format("msg-%08d", message_counter))
end

--- Spawns a process on the library: builds its state and evaluates the spawn message (nonce 0).
--- opts: id, owner, name, tags (extra process tags), data, authorities (list; default {MU}),
--- from_process (when spawned by a process: the MU signs it), module.
function H.spawn(opts)
  opts = opts or {}
  local b = H.bundle()
  local p = setmetatable({
    G = new_globals(b),
    id = opts.id or H.id("process-" .. tostring(message_counter + 1)),
    owner = opts.owner or H.OWNER,
    module = opts.module or H.MODULE,
    main = b.main,
    nonce = -1,
    timestamp = opts.timestamp or 1700000000000,
    height = opts.height or 1500000,
    results = {},
  }, Process)
  local tags = {
    { name = "Data-Protocol", value = "ao" },
    { name = "Variant", value = "ao.TN.1" },
    { name = "Type", value = "Process" },
    { name = "Module", value = p.module },
    { name = "Scheduler", value = H.SCHEDULER },
  }
  local authorities = opts.authorities or { H.MU }
  if #authorities > 0 then tags[#tags + 1] = { name = "Authority", value = table.concat(authorities, ",") } end
  if opts.name then tags[#tags + 1] = { name = "Name", value = opts.name } end
  if opts.from_process then tags[#tags + 1] = { name = "From-Process", value = opts.from_process } end
  for _, t in ipairs(tag_list(opts.tags)) do tags[#tags + 1] = t end
  p.process_tags = tags
  local signer = opts.from_process and H.MU or p.owner
  p.spawn_result = p:deliver({
    Id = p.id, Owner = signer, Tags = tags, Data = opts.data or "", Module = p.module,
  })
  return p
end

--- The fresh `env` the host passes with every message.
function Process:env()
  return {
    Process = { Id = self.id, Owner = self.owner, Tags = tag_list(self.process_tags) },
    Module = {
      Id = self.module, Owner = H.id("module-owner"),
      Tags = {
        { name = "Data-Protocol", value = "ao" }, { name = "Type", value = "Module" },
        { name = "Module-Format", value = "lua53" }, { name = "Input-Encoding", value = "JSON-1" },
        { name = "Output-Encoding", value = "JSON-1" },
      },
    },
  }
end

--- Evaluates one message as the CU does. `fields`: Id, Owner (signer address), Tags (any form),
--- Data, Anchor, Target, Cron, Timestamp. From = the From-Process tag if present, else Owner;
--- tags named From and Owner are removed. Returns the result table.
function Process:deliver(fields)
  self.nonce = self.nonce + 1
  self.timestamp = fields.Timestamp or (self.timestamp + 1000)
  if self.nonce % 10 == 0 then self.height = self.height + 1 end
  local tags, from_process = {}, nil
  for _, t in ipairs(tag_list(fields.Tags)) do
    if t.name == "From-Process" and from_process == nil then from_process = t.value end
    if t.name ~= "From" and t.name ~= "Owner" then tags[#tags + 1] = t end
  end
  local msg = {
    Id = fields.Id or next_message_id(),
    Signature = "signature",
    Owner = fields.Owner,
    From = from_process or fields.Owner,
    ["Forwarded-By"] = from_process and fields.Owner or nil,
    Target = fields.Target or self.id,
    Anchor = fields.Anchor,
    Data = fields.Data or "",
    Tags = tags,
    Epoch = 0,
    Nonce = self.nonce,
    Timestamp = self.timestamp,
    ["Block-Height"] = self.height,
    ["Hash-Chain"] = H.id("hash-chain-" .. self.nonce),
    Cron = fields.Cron or false,
  }
  if fields.Module then msg.Module = fields.Module end
  if fields.NoId then msg.Id = nil end
  local process = self.G.require(self.main)
  local result = process.handle(msg, self:env())
  self.last = result
  return result
end

--- A message signed by `from` (default: the owner). opts: from, action, tags, data, id.
function Process:send(opts)
  opts = opts or {}
  local tags = tag_list(opts.tags)
  if opts.action then table.insert(tags, 1, { name = "Action", value = opts.action }) end
  return self:deliver({ Id = opts.id, Owner = opts.from or self.owner, Tags = tags, Data = opts.data, Target = opts.target })
end

--- An Eval from the owner (or `from`).
function Process:eval(code, from)
  return self:send({ from = from, action = "Eval", data = code })
end

--- A cron message: From = Owner = the process owner, no Id, Cron = true.
function Process:cron(tags)
  return self:deliver({ Owner = self.owner, Tags = tags or { { name = "Action", value = "Cron" } }, Cron = true, NoId = true })
end

--- Delivers an outbox message of `sender` as the MU pushes it (LUA-PROCESS/PROTOCOL §5).
function Process:push(out, sender, mu)
  local drop = { ["Data-Protocol"] = true, Type = true, ["From-Process"] = true, ["From-Module"] = true, Assignments = true }
  local tags = {}
  for _, t in ipairs(out.Tags or {}) do
    if not drop[t.name] then tags[#tags + 1] = { name = t.name, value = t.value } end
  end
  tags[#tags + 1] = { name = "Data-Protocol", value = "ao" }
  tags[#tags + 1] = { name = "Type", value = "Message" }
  tags[#tags + 1] = { name = "From-Process", value = sender.id }
  tags[#tags + 1] = { name = "From-Module", value = sender.module }
  tags[#tags + 1] = { name = "Pushed-For", value = H.id("pushed-for") }
  local data = out.Data
  if data == nil or data == "" then data = " " end
  return self:deliver({ Owner = mu or H.MU, Tags = tags, Data = data, Anchor = out.Anchor, Target = out.Target })
end

--- Reads a global of the process state.
function Process:get(name)
  return self.G[name]
end

--- Runs `code` directly in the process state (test inspection, not a message); returns its values.
function Process:run(code)
  local fn = assert(load(code, "=inspect", "t", self.G))
  return fn()
end

-- Networks: several processes and an MU that pushes outboxes ---------------------------------------

local Network = {}
Network.__index = Network
local CRANK_STEPS_MAX = 10000

function H.network(opts)
  opts = opts or {}
  return setmetatable({ processes = {}, mu = opts.mu or H.MU, log = {}, spawned = 0 }, Network)
end

function Network:spawn(opts)
  local p = H.spawn(opts)
  self.processes[p.id] = p
  return p
end

-- Pushes every message, spawn and notice of `result` (from `sender`) until nothing is left.
-- Returns the list of {process, result} for every delivery, in order.
function Network:crank(sender, result)
  local queue, deliveries, head = { { sender = sender, result = result } }, {}, 1
  while queue[head] do
    assert(head <= CRANK_STEPS_MAX, "crank: too many pushes (a message loop?)")
    local item = queue[head]
    head = head + 1
    local r = item.result
    for _, out in ipairs(r.Messages or {}) do
      local target = self.processes[out.Target]
      if target then
        local res = target:push(out, item.sender, self.mu)
        deliveries[#deliveries + 1] = { process = target, result = res }
        queue[#queue + 1] = { sender = target, result = res }
      end
    end
    for _, spawn in ipairs(r.Spawns or {}) do
      self.spawned = self.spawned + 1
      local tags = {}
      for _, t in ipairs(spawn.Tags) do
        if t.name ~= "From-Process" and t.name ~= "Module" and t.name ~= "Data-Protocol"
          and t.name ~= "Variant" and t.name ~= "Type" then
          tags[#tags + 1] = t
        end
      end
      local child = self:spawn({
        id = H.id("spawned-" .. self.spawned), owner = item.sender.owner, tags = tags,
        from_process = item.sender.id, module = H.tag(spawn, "Module"),
        data = spawn.Data,
      })
      deliveries[#deliveries + 1] = { process = child, result = child.spawn_result }
      local notice = {
        Target = item.sender.id, Anchor = spawn.Anchor,
        Tags = {
          { name = "Action", value = "Spawned" }, { name = "Process", value = child.id },
          { name = "Reference", value = H.tag(spawn, "Reference") },
        },
        Data = "",
      }
      local res = item.sender:push(notice, item.sender, self.mu)
      deliveries[#deliveries + 1] = { process = item.sender, result = res }
      queue[#queue + 1] = { sender = item.sender, result = res }
    end
  end
  return deliveries
end

--- A user message to `p`, then every push it causes. Returns p's result and all deliveries.
function Network:send(p, opts)
  local r = p:send(opts)
  return r, self:crank(p, r)
end

-- Assertions -----------------------------------------------------------------------------------

local passed, failed, failures = 0, 0, {}

local function describe(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" then
    local ok, text = pcall(json.encode, v)
    if ok then return text end
  end
  return tostring(v)
end
H.describe = describe

function H.eq(actual, expected, what)
  if actual ~= expected then
    error(string.format("%s: expected %s, got %s", what or "eq", describe(expected), describe(actual)), 2)
  end
end

local function deep_equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do if not deep_equal(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
H.deep_equal = deep_equal

function H.same(actual, expected, what)
  if not deep_equal(actual, expected) then
    error(string.format("%s: expected %s, got %s", what or "same", describe(expected), describe(actual)), 2)
  end
end

function H.ok(value, what)
  if not value then error((what or "ok") .. ": expected a true value, got " .. describe(value), 2) end
end

function H.contains(haystack, needle, what)
  if type(haystack) ~= "string" or not haystack:find(needle, 1, true) then
    error(string.format("%s: %s does not contain %s", what or "contains", describe(haystack), describe(needle)), 2)
  end
end

--- The plain text of a result's Output (colors stripped), or fails if the result is an Error.
function H.output(result, what)
  if result.Error then error((what or "output") .. ": unexpected Error: " .. tostring(result.Error), 2) end
  return H.plain(result.Output and result.Output.data or "")
end

--- Asserts the result is an Error and returns its text (colors stripped).
function H.error_of(result, what)
  if not result.Error then
    error((what or "error_of") .. ": expected an Error, got output " .. describe(result.Output and result.Output.data), 2)
  end
  return H.plain(result.Error)
end

--- Runs one named test case.
function H.test(name, fn)
  local ok, err = xpcall(fn, debug.traceback)
  if ok then
    passed = passed + 1
  else
    failed = failed + 1
    failures[#failures + 1] = name .. ": " .. tostring(err)
    print("FAIL " .. name .. "\n  " .. tostring(err):gsub("\n", "\n  "))
  end
end

--- Prints the suite's counts as `RESULT passed=N failed=M` and returns them.
function H.done(suite)
  print(string.format("RESULT %s passed=%d failed=%d", suite or "", passed, failed))
  if rawget(_G, "os") and os.exit and failed > 0 then os.exit(1) end
  return passed, failed
end

return H
