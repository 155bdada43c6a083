-- json: JSON encoding and decoding for process code (module name `json`).
-- Owns: turning Lua values into JSON text and back. Must never depend on `pairs` order:
-- object keys are emitted sorted, so the same table always encodes to the same bytes.
-- Mapping: a table whose keys are exactly 1..n (n > 0) is an array; an empty table is `[]`;
-- any other table is an object (non-string keys are written with `tostring`).
-- `null` decodes to nil; `json.null` encodes as `null`.

local json = {}

local DEPTH_MAX = 256

json.null = setmetatable({}, { __tostring = function() return "null" end })

local escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function escape_char(c)
  return escapes[c] or string.format("\\u%04x", c:byte())
end

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', escape_char) .. '"'
end

local function array_length(t)
  local n = #t
  if n == 0 then return next(t) == nil and 0 or nil end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  if count ~= n then return nil end
  return n
end

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "string" or ta == "number" then return a < b end
  return tostring(a) < tostring(b)
end

local encode_value

local function encode_table(t, stack, depth)
  if stack[t] then error("json.encode: circular reference") end
  if depth > DEPTH_MAX then error("json.encode: nesting deeper than " .. DEPTH_MAX) end
  stack[t] = true
  local out = {}
  local n = array_length(t)
  if n then
    for i = 1, n do out[i] = encode_value(t[i], stack, depth + 1) end
    stack[t] = nil
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k, v in pairs(t) do
    local tv = type(v)
    if tv ~= "function" and tv ~= "userdata" and tv ~= "thread" then keys[#keys + 1] = k end
  end
  table.sort(keys, key_less)
  for i, k in ipairs(keys) do
    out[i] = encode_string(tostring(k)) .. ":" .. encode_value(t[k], stack, depth + 1)
  end
  stack[t] = nil
  return "{" .. table.concat(out, ",") .. "}"
end

function encode_value(v, stack, depth)
  local tv = type(v)
  if v == nil or v == json.null then return "null" end
  if tv == "boolean" then return v and "true" or "false" end
  if tv == "string" then return encode_string(v) end
  if tv == "number" then
    if math.type(v) == "integer" then return string.format("%d", v) end
    if v ~= v or v == math.huge or v == -math.huge then
      error("json.encode: cannot encode " .. tostring(v))
    end
    if v == math.floor(v) and math.abs(v) < 2^53 then return string.format("%d", math.floor(v)) end
    return string.format("%.17g", v)
  end
  if tv == "table" then return encode_table(v, stack, depth) end
  error("json.encode: cannot encode a " .. tv)
end

--- Encodes `value` as JSON text.
function json.encode(value)
  return encode_value(value, {}, 0)
end

-- Decoding ------------------------------------------------------------------------------------

local function decode_error(str, pos, what)
  local line, col = 1, 1
  for i = 1, pos - 1 do
    col = col + 1
    if str:sub(i, i) == "\n" then line = line + 1; col = 1 end
  end
  error(string.format("json.decode: %s at line %d col %d", what, line, col), 0)
end

local function skip_ws(str, pos)
  return str:find("[^ \t\r\n]", pos) or #str + 1
end

local function utf8_char(cp)
  return utf8.char(cp)
end

local unescapes = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }

local function decode_string(str, pos)
  local parts = {}
  local i = pos + 1
  while true do
    local j = str:find('["\\%c]', i)
    if not j then decode_error(str, pos, "unterminated string") end
    local c = str:sub(j, j)
    parts[#parts + 1] = str:sub(i, j - 1)
    if c == '"' then return table.concat(parts), j + 1 end
    if c ~= "\\" then decode_error(str, j, "control character in string") end
    local e = str:sub(j + 1, j + 1)
    if e == "u" then
      local hex = str:match("^%x%x%x%x", j + 2)
      if not hex then decode_error(str, j, "bad \\u escape") end
      local cp = tonumber(hex, 16)
      local nexti = j + 6
      if cp >= 0xD800 and cp <= 0xDBFF then
        local lo = str:match("^\\u(%x%x%x%x)", nexti)
        local lcp = lo and tonumber(lo, 16)
        if lcp and lcp >= 0xDC00 and lcp <= 0xDFFF then
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lcp - 0xDC00)
          nexti = nexti + 6
        end
      end
      parts[#parts + 1] = utf8_char(cp)
      i = nexti
    else
      local u = unescapes[e]
      if not u then decode_error(str, j, "bad escape") end
      parts[#parts + 1] = u
      i = j + 2
    end
  end
end

local decode_value

local function decode_array(str, pos, depth)
  local arr, n = {}, 0
  pos = skip_ws(str, pos + 1)
  if str:sub(pos, pos) == "]" then return arr, pos + 1 end
  while true do
    local v
    v, pos = decode_value(str, pos, depth + 1)
    n = n + 1
    arr[n] = v
    pos = skip_ws(str, pos)
    local c = str:sub(pos, pos)
    if c == "]" then return arr, pos + 1 end
    if c ~= "," then decode_error(str, pos, "expected ',' or ']'") end
    pos = skip_ws(str, pos + 1)
  end
end

local function decode_object(str, pos, depth)
  local obj = {}
  pos = skip_ws(str, pos + 1)
  if str:sub(pos, pos) == "}" then return obj, pos + 1 end
  while true do
    if str:sub(pos, pos) ~= '"' then decode_error(str, pos, "expected string key") end
    local k
    k, pos = decode_string(str, pos)
    pos = skip_ws(str, pos)
    if str:sub(pos, pos) ~= ":" then decode_error(str, pos, "expected ':'") end
    local v
    v, pos = decode_value(str, skip_ws(str, pos + 1), depth + 1)
    obj[k] = v
    pos = skip_ws(str, pos)
    local c = str:sub(pos, pos)
    if c == "}" then return obj, pos + 1 end
    if c ~= "," then decode_error(str, pos, "expected ',' or '}'") end
    pos = skip_ws(str, pos + 1)
  end
end

local literals = { ["true"] = true, ["false"] = false }

function decode_value(str, pos, depth)
  if depth > DEPTH_MAX then decode_error(str, pos, "nesting too deep") end
  local c = str:sub(pos, pos)
  if c == "{" then return decode_object(str, pos, depth) end
  if c == "[" then return decode_array(str, pos, depth) end
  if c == '"' then return decode_string(str, pos) end
  local num = str:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if num and num ~= "" and num ~= "-" then
    local v = tonumber(num)
    if v == nil then decode_error(str, pos, "bad number") end
    return v, pos + #num
  end
  local word = str:match("^%a+", pos)
  if word == "null" then return nil, pos + 4 end
  if word and literals[word] ~= nil then return literals[word], pos + #word end
  decode_error(str, pos, "unexpected character '" .. c .. "'")
end

--- Decodes JSON text into Lua values; raises an error naming the position on bad input.
function json.decode(str)
  if type(str) ~= "string" then error("json.decode: expected a string, got " .. type(str)) end
  local value, pos = decode_value(str, skip_ws(str, 1), 0)
  pos = skip_ws(str, pos)
  if pos <= #str then decode_error(str, pos, "trailing characters") end
  return value
end

return json
