-- .stringify: the colored pretty printer behind `print(table)` and Eval results.
-- Owns: rendering any Lua value as readable, deterministic text. Keys are sorted; functions and
-- other reference values print as their type name (never an address), cycles as `<cycle>`.

local stringify = {}

local DEPTH_MAX = 32
local INLINE_WIDTH_MAX = 72

stringify.colors = {
  red = "\27[31m", green = "\27[32m", blue = "\27[34m", gray = "\27[90m", reset = "\27[0m",
}

local function c(name, text, colored)
  if not colored then return text end
  return stringify.colors[name] .. text .. stringify.colors.reset
end

local function key_less(a, b)
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

local function quote(s)
  return '"' .. s:gsub('[\\"]', "\\%0"):gsub("\n", "\\n"):gsub("\r", "\\r") .. '"'
end

local function render(v, indent, seen, colored, depth)
  local tv = type(v)
  if tv == "string" then return c("green", quote(v), colored) end
  if tv == "number" or tv == "boolean" then return c("blue", tostring(v), colored) end
  if tv == "nil" then return c("gray", "nil", colored) end
  if tv ~= "table" then return c("gray", tv, colored) end
  local mt = getmetatable(v)
  if type(mt) == "table" and mt.__tostring then return tostring(v) end
  if seen[v] then return c("gray", "<cycle>", colored) end
  if next(v) == nil then return "{}" end
  if depth >= DEPTH_MAX then return c("gray", "{...}", colored) end
  seen[v] = true
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, key_less)
  local n = #v
  local is_array = #keys == n
  local parts = {}
  local inner = indent .. "  "
  for i, k in ipairs(keys) do
    local rendered = render(v[k], inner, seen, colored, depth + 1)
    if is_array then
      parts[i] = rendered
    else
      local key
      if type(k) == "string" and k:match("^[%a_][%w_]*$") then
        key = k
      elseif type(k) == "string" then
        key = "[" .. quote(k) .. "]"
      else
        key = "[" .. tostring(k) .. "]"
      end
      parts[i] = c("red", key, colored) .. " = " .. rendered
    end
  end
  seen[v] = nil
  if is_array then
    local one_line = "{ " .. table.concat(parts, ", ") .. " }"
    local plain_length = #one_line:gsub("\27%[%d+m", "")
    if plain_length <= INLINE_WIDTH_MAX and not one_line:find("\n") then return one_line end
  end
  return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. "\n" .. indent .. "}"
end

--- Renders `value` with ANSI colors (pass `false` as second argument for plain text).
function stringify.format(value, colored)
  if colored == nil then colored = true end
  return render(value, "", {}, colored, 0)
end

return stringify
