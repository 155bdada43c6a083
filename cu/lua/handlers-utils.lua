-- .handlers-utils: ready-made patterns and handlers (`Handlers.utils`).
-- Owns: small constructors only; matching rules themselves live in `.utils`.

local utils = require(".utils")

local M = { _version = "0.1.0" }

--- Pattern: the message's tag `name` (first duplicate) equals `value`.
function M.hasMatchingTag(name, value)
  assert(type(name) == "string" and type(value) == "string", "hasMatchingTag: name and value must be strings")
  return function(msg)
    return msg.Tags ~= nil and msg.Tags[name] == value
  end
end

--- Pattern: the message's tag `name` equals one of `values`.
function M.hasMatchingTagOf(name, values)
  assert(type(name) == "string" and type(values) == "table", "hasMatchingTagOf: name must be a string, values a list")
  return function(msg)
    local v = msg.Tags and msg.Tags[name]
    if v == nil then return false end
    for _, want in ipairs(values) do
      if v == want then return true end
    end
    return false
  end
end

--- Pattern: the message's Data equals `value`.
function M.hasMatchingData(value)
  assert(type(value) == "string", "hasMatchingData: value must be a string")
  return function(msg)
    return msg.Data == value
  end
end

--- Handler: replies with `input` (a string becomes the Data, a table is sent as is).
function M.reply(input)
  assert(type(input) == "string" or type(input) == "table", "reply: input must be a string or a table")
  return function(msg)
    if type(input) == "string" then
      msg.reply({ Data = input })
    else
      msg.reply(input)
    end
  end
end

--- Pattern: like `pattern`, but a match lets the walk continue to the next handlers.
function M.continue(pattern)
  return function(msg)
    local r = utils.matchesSpec(msg, pattern)
    if r == nil or r == false or r == 0 or r == "skip" then return r end
    return "continue"
  end
end

return M
