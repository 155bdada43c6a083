-- .bignum: arbitrary-precision integer arithmetic on decimal strings, for token balances.
-- Owns: add sub mul div mod pow compare and validation of signed decimal integers.
-- Every function takes decimal strings (or Lua integers) and returns a canonical decimal string:
-- no leading zeros, "-" only for negatives, zero is "0". Division floors, like Lua's `//` and `%`.
-- Invariant: results never depend on floating point; limbs are base 10^7 integers.

local bignum = {}

local BASE = 10000000
local BASE_DIGITS = 7
local DIGITS_MAX = 100000 -- refuse inputs that could exhaust a message's budget in one call

--- True when `s` is a decimal integer string: optional "-", then digits.
function bignum.isValid(s)
  if math.type(s) == "integer" then return true end
  return type(s) == "string" and #s <= DIGITS_MAX and s:match("^%-?%d+$") ~= nil
end

--- True when `s` is a valid decimal integer greater than zero (the usual token Quantity check).
function bignum.isPositive(s)
  return bignum.isValid(s) and bignum.compare(s, "0") > 0
end

local function parse(s)
  if math.type(s) == "integer" then s = string.format("%d", s) end
  if math.type(s) == "float" then
    if s ~= math.floor(s) or s ~= s or math.abs(s) == math.huge then
      error("bignum: not an integer: " .. tostring(s), 3)
    end
    s = string.format("%.0f", s)
  end
  if not bignum.isValid(s) then error("bignum: not a decimal integer: " .. tostring(s), 3) end
  local sign = 1
  if s:sub(1, 1) == "-" then sign = -1; s = s:sub(2) end
  s = s:gsub("^0+", "")
  local limbs = {}
  local i = #s
  while i >= 1 do
    local j = math.max(1, i - BASE_DIGITS + 1)
    limbs[#limbs + 1] = tonumber(s:sub(j, i))
    i = j - 1
  end
  if #limbs == 0 then sign = 1 end
  return { sign = sign, limbs = limbs }
end

local function trim(limbs)
  local n = #limbs
  while n > 0 and limbs[n] == 0 do limbs[n] = nil; n = n - 1 end
  return limbs
end

local function format(x)
  local limbs = x.limbs
  local n = #limbs
  if n == 0 then return "0" end
  local parts = { tostring(limbs[n]) }
  for i = n - 1, 1, -1 do parts[#parts + 1] = string.format("%07d", limbs[i]) end
  local s = table.concat(parts)
  if x.sign < 0 then s = "-" .. s end
  return s
end

local function cmp_abs(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  for i = #a, 1, -1 do
    if a[i] ~= b[i] then return a[i] < b[i] and -1 or 1 end
  end
  return 0
end

local function add_abs(a, b)
  local out, carry = {}, 0
  for i = 1, math.max(#a, #b) do
    local s = (a[i] or 0) + (b[i] or 0) + carry
    if s >= BASE then out[i] = s - BASE; carry = 1 else out[i] = s; carry = 0 end
  end
  if carry > 0 then out[#out + 1] = carry end
  return out
end

-- Requires |a| >= |b|.
local function sub_abs(a, b)
  local out, borrow = {}, 0
  for i = 1, #a do
    local s = a[i] - (b[i] or 0) - borrow
    if s < 0 then out[i] = s + BASE; borrow = 1 else out[i] = s; borrow = 0 end
  end
  return trim(out)
end

local function mul_abs(a, b)
  if #a == 0 or #b == 0 then return {} end
  local out = {}
  for i = 1, #a + #b do out[i] = 0 end
  for i = 1, #a do
    local carry, ai = 0, a[i]
    for j = 1, #b do
      local cur = out[i + j - 1] + ai * b[j] + carry
      carry = cur // BASE
      out[i + j - 1] = cur % BASE
    end
    local k = i + #b
    while carry > 0 do
      local cur = out[k] + carry
      carry = cur // BASE
      out[k] = cur % BASE
      k = k + 1
    end
  end
  return trim(out)
end

local function mul_small(a, m)
  if m == 0 then return {} end
  local out, carry = {}, 0
  for i = 1, #a do
    local cur = a[i] * m + carry
    out[i] = cur % BASE
    carry = cur // BASE
  end
  while carry > 0 do out[#out + 1] = carry % BASE; carry = carry // BASE end
  return out
end

-- Truncating division of magnitudes: returns quotient and remainder limbs.
local function divmod_abs(a, b)
  if #b == 0 then error("bignum: division by zero", 3) end
  if cmp_abs(a, b) < 0 then return {}, table.move(a, 1, #a, 1, {}) end
  local q, r = {}, {}
  for i = #a, 1, -1 do
    table.insert(r, 1, a[i]) -- r = r * BASE + a[i]
    trim(r)
    -- Binary search the largest digit d with b * d <= r.
    local lo, hi = 0, BASE - 1
    while lo < hi do
      local mid = (lo + hi + 1) // 2
      if cmp_abs(mul_small(b, mid), r) <= 0 then lo = mid else hi = mid - 1 end
    end
    q[i] = lo
    if lo > 0 then r = sub_abs(r, mul_small(b, lo)) end
  end
  return trim(q), r
end

local function make(sign, limbs)
  if #limbs == 0 then sign = 1 end
  return { sign = sign, limbs = limbs }
end

local function add(x, y)
  if x.sign == y.sign then return make(x.sign, add_abs(x.limbs, y.limbs)) end
  local c = cmp_abs(x.limbs, y.limbs)
  if c == 0 then return make(1, {}) end
  if c > 0 then return make(x.sign, sub_abs(x.limbs, y.limbs)) end
  return make(y.sign, sub_abs(y.limbs, x.limbs))
end

local function neg(x)
  return make(-x.sign, x.limbs)
end

-- Floor division and modulo (the sign of the remainder follows the divisor, as in Lua).
local function floor_divmod(x, y)
  local q, r = divmod_abs(x.limbs, y.limbs)
  local qv = make(x.sign * y.sign, q)
  local rv = make(x.sign, trim(r))
  if #rv.limbs > 0 and x.sign ~= y.sign then
    qv = add(qv, make(-1, { 1 }))
    rv = add(rv, y)
  end
  return qv, rv
end

function bignum.normalize(a) return format(parse(a)) end
function bignum.add(a, b) return format(add(parse(a), parse(b))) end
function bignum.sub(a, b) return format(add(parse(a), neg(parse(b)))) end
function bignum.neg(a) return format(neg(parse(a))) end

function bignum.abs(a)
  local x = parse(a)
  return format(make(1, x.limbs))
end

function bignum.mul(a, b)
  local x, y = parse(a), parse(b)
  return format(make(x.sign * y.sign, mul_abs(x.limbs, y.limbs)))
end

function bignum.div(a, b)
  local q = floor_divmod(parse(a), parse(b))
  return format(q)
end

function bignum.mod(a, b)
  local _, r = floor_divmod(parse(a), parse(b))
  return format(r)
end

--- Returns quotient and remainder (floored).
function bignum.divmod(a, b)
  local q, r = floor_divmod(parse(a), parse(b))
  return format(q), format(r)
end

--- a ^ e for a non-negative integer exponent e (a Lua integer or decimal string).
function bignum.pow(a, e)
  local x = parse(a)
  local n = math.tointeger(tonumber(e))
  if not n or n < 0 then error("bignum.pow: exponent must be a non-negative integer", 2) end
  local result = make(1, { 1 })
  while n > 0 do
    if n % 2 == 1 then result = make(result.sign * x.sign, mul_abs(result.limbs, x.limbs)) end
    n = n // 2
    if n > 0 then x = make(1, mul_abs(x.limbs, x.limbs)) end
  end
  return format(result)
end

--- -1, 0 or 1 as a < b, a == b, a > b.
function bignum.compare(a, b)
  local x, y = parse(a), parse(b)
  if x.sign ~= y.sign then return x.sign < y.sign and -1 or 1 end
  return cmp_abs(x.limbs, y.limbs) * x.sign
end

function bignum.eq(a, b) return bignum.compare(a, b) == 0 end
function bignum.lt(a, b) return bignum.compare(a, b) < 0 end
function bignum.le(a, b) return bignum.compare(a, b) <= 0 end
function bignum.gt(a, b) return bignum.compare(a, b) > 0 end
function bignum.ge(a, b) return bignum.compare(a, b) >= 0 end
function bignum.isZero(a) return #parse(a).limbs == 0 end
function bignum.isNegative(a) return parse(a).sign < 0 end
function bignum.min(a, b) if bignum.compare(a, b) <= 0 then return bignum.normalize(a) end return bignum.normalize(b) end
function bignum.max(a, b) if bignum.compare(a, b) >= 0 then return bignum.normalize(a) end return bignum.normalize(b) end

--- The value as a Lua integer when it fits in 64 bits, else nil.
function bignum.toInteger(a)
  local s = bignum.normalize(a)
  local n = math.tointeger(tonumber(s))
  if n and string.format("%d", n) == s then return n end
  return nil
end

return bignum
