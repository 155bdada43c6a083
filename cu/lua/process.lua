-- .process: the entry point the CU calls per message, `require(".process").handle(msg, env)`.
-- Owns: the per-message sequence of LUA-PROCESS.md §1 (env, normalise, seed, clock, JSON data,
-- trust, assignments, Eval or handlers, default handler) and the result table; the globals
-- process code sees (§2). Must never keep per-message data beyond the message except in the
-- process state (globals and module tables), which the CU persists and rolls back.

local json = require("json")
local utils = require(".utils")
local stringify = require(".stringify")
local random = require(".random")
local ao_lib = require(".ao")
local handlers = require(".handlers")
local eval = require(".eval")

local process = { _version = "2.0.4" }

local INBOX_MAX = 10000

-- Output lines of the message being handled; `print` appends here.
process.lines = {}
-- The current message's timestamp (ms), the only clock.
process.now = 0

-- Globals (LUA-PROCESS.md §2). Guarded, so re-requiring the library keeps the process's state.
ao = ao or ao_lib
Handlers = Handlers or handlers
Utils = Utils or utils
_ENV.json = json
Inbox = Inbox or {}
Errors = Errors or {}
Colors = Colors or {
  red = stringify.colors.red, green = stringify.colors.green, blue = stringify.colors.blue,
  gray = stringify.colors.gray, reset = stringify.colors.reset,
}
Name = Name or "aos"

--- `print(...)`: appends one line to this message's output; tables are pretty-printed.
function process.print(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    local v = select(i, ...)
    if type(v) == "table" then parts[i] = stringify.format(v) else parts[i] = tostring(v) end
  end
  local lines = process.lines
  lines[#lines + 1] = table.concat(parts, "\t")
end
print = process.print

os = os or {}
local function days_from_civil(y, m, d)
  y = (m <= 2) and (y - 1) or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end
--- `os.time()`: the message's Timestamp in ms (the only clock). `os.time(t)`: seconds since the
--- epoch for a UTC date table, as in standard Lua.
os.time = function(t)
  if t == nil then return process.now end
  local days = days_from_civil(t.year, t.month, t.day)
  return days * 86400 + (t.hour or 12) * 3600 + (t.min or 0) * 60 + (t.sec or 0)
end

random.install(math)

local VERSION_TEXT = "aos-" .. process._version

Prompt = Prompt or function()
  return Colors.green .. tostring(Name) .. Colors.gray .. "@" .. Colors.blue .. VERSION_TEXT
    .. Colors.gray .. "[Inbox:" .. Colors.red .. tostring(#Inbox) .. Colors.gray .. "]"
    .. Colors.reset .. "> "
end

local function handle_for_output(text, extra)
  local t = { output = text }
  for k, v in pairs(extra) do t[k] = v end
  return setmetatable(t, { __tostring = function() return text end })
end

--- `Send(msg)`: ao.send, warning when there is no Target.
Send = Send or function(msg)
  if type(msg) == "table" and msg.Target == nil then
    print("WARNING: Send: the message has no Target, so no process will receive it.")
  end
  local m = ao.send(msg)
  return handle_for_output("Message added to outbox", { receive = m.receive, onReply = m.onReply })
end

--- `Spawn([module,] msg)`: ao.spawn on `module`, by default this process's own module.
Spawn = Spawn or function(module, msg)
  if type(module) ~= "string" then module, msg = ao._module, module end
  local s = ao.spawn(module, msg or {})
  return handle_for_output("Spawn process request added to outbox", { receive = s.receive, onReply = s.onReply })
end

--- `Assign({Processes = {...}, Message = id})`.
Assign = Assign or function(assignment)
  ao.assign(assignment)
  return "Assignment added to outbox"
end

--- `Receive(pattern)`: Handlers.receive.
Receive = Receive or function(pattern)
  return Handlers.receive(pattern)
end

local function output_text()
  return table.concat(process.lines, "\n")
end

local function error_text(err)
  if type(err) == "table" then return stringify.format(err, false) end
  return tostring(err)
end

local function result(output)
  return {
    Output = output,
    Messages = ao.outbox.Messages,
    Spawns = ao.outbox.Spawns,
    Assignments = ao.outbox.Assignments,
  }
end

local function normal_result()
  return result({ data = output_text(), prompt = Prompt(), print = true })
end

local function short_id(id)
  id = tostring(id)
  if #id <= 9 then return id end
  return id:sub(1, 3) .. "..." .. id:sub(-3)
end

--- The default handler: keeps the message in Inbox (capped) and announces it.
function process.default(msg)
  Inbox[#Inbox + 1] = msg
  while #Inbox > INBOX_MAX do table.remove(Inbox, 1) end
  local what
  if msg.Action ~= nil then
    what = "Action = " .. tostring(msg.Action)
  else
    local data = type(msg.Data) == "table" and json.encode(msg.Data) or tostring(msg.Data or "")
    if #data > 20 then data = data:sub(1, 20) .. "..." end
    what = "Data = " .. data
  end
  print(Colors.gray .. "New Message From " .. short_id(msg.From) .. ": " .. what .. Colors.reset)
end

local REPLY_SKIP = {}
for _, n in ipairs({ "Data-Protocol", "Variant", "Type", "Reference", "From-Process", "From-Module",
  "Pushed-For", "Forwarded-By", "Reply-To", "X-Origin", "X-Reference" }) do REPLY_SKIP[n] = true end

-- msg.reply and msg.forward (LUA-PROCESS.md §1.9).
local function add_message_helpers(msg)
  function msg.reply(r)
    if type(r) ~= "table" then r = { Data = r } end
    local out = {}
    for k, v in pairs(r) do out[k] = v end
    out.Target = msg["Reply-To"] or r.Target or msg.From
    out["X-Reference"] = msg["X-Reference"] or msg.Reference
    out["X-Origin"] = msg["X-Origin"]
    return ao.send(out)
  end
  function msg.forward(target, extra)
    extra = extra or {}
    local tags = {}
    for _, t in ipairs(msg.TagArray or {}) do
      local name = ao.titleCase(tostring(t.name))
      local skip = REPLY_SKIP[name] or extra[name] ~= nil
        or (name == "Content-Type" and type(msg.Data) == "table")
      if not skip then tags[#tags + 1] = { name = t.name, value = t.value } end
    end
    local out = { Data = msg.Data, Tags = tags }
    for k, v in pairs(extra) do out[k] = v end
    out.Target = target
    out["Reply-To"] = msg["Reply-To"] or msg.From
    out["X-Origin"] = msg["X-Origin"] or msg.From
    return ao.send(out)
  end
end

local function is_spawn_message(msg)
  return msg.Id ~= nil and msg.Id == ao.id
end

local function run_eval(source, output)
  local kind, err = eval.run(source, process.print)
  if kind == "syntax" then
    table.insert(Errors, err)
    return { Error = err }
  elseif kind == "runtime" then
    table.insert(Errors, err)
    return { Error = output_text() .. "\n\nerror:\n" .. err }
  end
  return result(output())
end

local function handle(msg, env)
  env = env or {}
  if type(env.Process) ~= "table" then env.Process = { Id = msg.Target, Tags = {} } end
  process.lines = {}
  -- 1. ao takes env.
  ao.init(env)
  -- Fields the host set, before tags may shadow them on the root.
  local timestamp, height = msg.Timestamp, msg["Block-Height"]
  -- 2. Normalise.
  ao.normalize(msg)
  -- 3. Seed once; the spawn message names the owner.
  if not random.seeded then
    random.seedFromMessage({
      ["Block-Height"] = height, Owner = msg.Owner, Module = msg.Module or ao._module, Id = msg.Id,
    })
  end
  local spawning = is_spawn_message(msg)
  if spawning then
    local ptags = env.Process.Tags
    Owner = ao.tagValue(ptags, "From-Process") or msg.Tags["From-Process"] or msg.From
    Name = ao.tagValue(ptags, "Name") or msg.Tags.Name or "aos"
  end
  if Owner == nil then Owner = env.Process.Owner end
  -- 4. The clock.
  if math.type(timestamp) == "integer" then process.now = timestamp
  elseif tonumber(timestamp) then process.now = math.tointeger(tonumber(timestamp)) or process.now end
  -- 5. JSON data (Eval keeps the source text).
  local raw_data = msg.Data
  local content_type = msg.Tags["Content-Type"]
  if type(content_type) == "string" and content_type:find("^application/json") and type(msg.Data) == "string" then
    local ok, decoded = pcall(json.decode, msg.Data)
    if ok and type(decoded) == "table" then msg.Data = decoded end
  end
  add_message_helpers(msg)
  -- 6. Trust.
  if not ao.isTrusted(msg) then
    print("Message is not trusted! From: " .. tostring(msg.From) .. " - Owner: " .. tostring(msg.Owner))
    return normal_result()
  end
  -- 7. Assignments.
  if ao.isAssignment(msg) and not ao.isAssignable(msg) then
    if msg.From ~= ao.id then
      ao.send({ Target = msg.From, Action = "Assignment-Refused", Data = "Assignment is not trusted by this process!" })
    end
    print("Assignment is not trusted! From: " .. tostring(msg.From) .. " - Owner: " .. tostring(msg.Owner))
    return normal_result()
  end
  -- Eval (§4), and On-Boot = Data on the spawn message.
  if msg.Action == "Eval" and (msg.From == Owner or msg.From == ao.id) then
    return run_eval(raw_data, function() return { data = output_text(), prompt = Prompt() } end)
  end
  if spawning and ao.tagValue(env.Process.Tags, "On-Boot") == "Data" then
    return run_eval(raw_data, function() return { data = output_text(), prompt = Prompt(), print = true } end)
  end
  -- 8. Handlers, then the default handler when none stopped the walk.
  local ok, stopped = pcall(Handlers.evaluate, msg, env)
  if not ok then
    return { Error = output_text() .. "\n\nerror:\n" .. error_text(stopped) }
  end
  if not stopped and not spawning then process.default(msg) end
  return normal_result()
end

--- Handles one message; never raises (a library fault becomes an `Error` result).
function process.handle(msg, env)
  local ok, res = xpcall(handle, debug.traceback, msg, env)
  if not ok then return { Error = "aos library error: " .. tostring(res) } end
  return res
end

return process
