-- .eval: evaluates an Eval message's Data as Lua (LUA-PROCESS.md §4).
-- Owns: compiling with chunk name `aos` (first as `return <Data>`, then as a block), running the
-- chunk in a handler coroutine (so `Receive` works from Eval) and rendering returned values.
-- Must never build the result table: the process does, from what `run` reports.

local stringify = require(".stringify")
local handlers = require(".handlers")

local eval = {}

--- Renders returned values the way Eval shows them: strings raw, tables pretty-printed.
function eval.render(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    local v = select(i, ...)
    if type(v) == "string" then
      parts[i] = v
    elseif type(v) == "table" then
      parts[i] = stringify.format(v)
    else
      parts[i] = tostring(v)
    end
  end
  return table.concat(parts, "\t")
end

--- Compiles `source`: returns the function, or nil and the syntax error of the block form.
function eval.compile(source, env)
  local fn = load("return " .. source, "aos", "t", env)
  if fn then return fn end
  return load(source, "aos", "t", env)
end

local function error_text(err)
  if type(err) == "table" then return stringify.format(err, false) end
  return tostring(err)
end

--- Runs `source`; `emit(text)` receives the rendered return values, if any.
--- Returns nil on success, or "syntax"/"runtime" and the error message.
function eval.run(source, emit)
  if type(source) ~= "string" then source = source == nil and "" or tostring(source) end
  local fn, err = eval.compile(source, _G)
  if not fn then return "syntax", err end
  local ok, run_err = pcall(handlers.run, function()
    local results = table.pack(fn())
    if results.n > 0 then emit(eval.render(table.unpack(results, 1, results.n))) end
  end)
  if not ok then return "runtime", error_text(run_err) end
  return nil
end

return eval
