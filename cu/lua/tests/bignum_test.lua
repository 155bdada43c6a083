-- The .bignum module: decimal string arithmetic, checked against Lua integers and known values.
local H = require("harness")

local p = H.spawn()
local bn = p:run("return require('.bignum')")

H.test("validation and normalisation", function()
  for _, s in ipairs({ "0", "1", "-1", "007", "123456789012345678901234567890", "-0" }) do H.ok(bn.isValid(s), s) end
  for _, s in ipairs({ "", "-", "1.5", "1e3", "+1", " 1", "abc", "0x10" }) do H.ok(not bn.isValid(s), s) end
  H.ok(not bn.isValid(nil))
  H.ok(not bn.isValid(1.5))
  H.eq(bn.normalize("007"), "7")
  H.eq(bn.normalize("-0"), "0")
  H.eq(bn.normalize("-000120"), "-120")
  H.ok(bn.isPositive("5") and not bn.isPositive("0") and not bn.isPositive("-5") and not bn.isPositive("x"))
  H.ok(not pcall(bn.add, "1.5", "1"), "invalid input is an error")
end)

H.test("big values", function()
  H.eq(bn.add("99999999999999999999", "1"), "100000000000000000000")
  H.eq(bn.sub("100000000000000000000", "1"), "99999999999999999999")
  H.eq(bn.mul("123456789123456789", "987654321987654321"), "121932631356500531347203169112635269")
  H.eq(bn.div("121932631356500531347203169112635269", "987654321987654321"), "123456789123456789")
  H.eq(bn.mod("121932631356500531347203169112635270", "987654321987654321"), "1")
  H.eq(bn.pow("2", 100), "1267650600228229401496703205376")
  H.eq(bn.pow("10", "30"), "1" .. string.rep("0", 30))
  H.eq(bn.compare("1000000000000000000000", "999999999999999999999"), 1)
  H.eq(bn.compare("-1000000000000000000000", "-999999999999999999999"), -1)
  H.eq(bn.toInteger("9223372036854775807"), math.maxinteger)
  H.eq(bn.toInteger("9223372036854775808"), nil)
end)

H.test("division by zero is an error", function()
  H.ok(not pcall(bn.div, "1", "0"))
  H.ok(not pcall(bn.mod, "1", "0"))
end)

H.test("agrees with Lua integers on signed operands (floor division)", function()
  local values = { 0, 1, -1, 7, -7, 10, -10, 9999999, 10000000, -10000001, 123456789, -987654321, 4611686018427387903 }
  for _, a in ipairs(values) do
    for _, b in ipairs(values) do
      local sa, sb = tostring(a), tostring(b)
      if math.abs(a) < 3037000499 and math.abs(b) < 3037000499 then
        H.eq(bn.mul(sa, sb), tostring(a * b), sa .. "*" .. sb)
      end
      if math.abs(a) < 2^61 and math.abs(b) < 2^61 then
        H.eq(bn.add(sa, sb), tostring(a + b), sa .. "+" .. sb)
        H.eq(bn.sub(sa, sb), tostring(a - b), sa .. "-" .. sb)
      end
      if b ~= 0 then
        H.eq(bn.div(sa, sb), tostring(a // b), sa .. "//" .. sb)
        H.eq(bn.mod(sa, sb), tostring(a % b), sa .. "%" .. sb)
      end
      H.eq(bn.compare(sa, sb), a < b and -1 or (a == b and 0 or 1), "compare " .. sa .. " " .. sb)
    end
  end
end)

H.test("random cross-check against a*b/b == a and (a/b)*b + a%b == a", function()
  local x = 12345
  local function digits(n)
    local t = {}
    for i = 1, n do
      x = (x * 1103515245 + 12345) % 2147483648
      t[i] = tostring(x % 10)
    end
    return (table.concat(t):gsub("^0+", "")) ~= "" and (table.concat(t):gsub("^0+", "")) or "1"
  end
  for i = 1, 60 do
    local a, b = digits(5 + i), digits(1 + i % 23)
    if i % 3 == 0 then a = "-" .. a end
    H.eq(bn.div(bn.mul(a, b), b), a, "mul/div " .. a .. " " .. b)
    local q, r = bn.divmod(a, b)
    H.eq(bn.add(bn.mul(q, b), r), a, "divmod " .. a .. " " .. b)
    H.ok(bn.ge(r, "0") and bn.lt(r, b), "remainder range")
  end
end)

H.test("helpers: abs neg min max eq lt le gt ge isZero isNegative", function()
  H.eq(bn.abs("-5"), "5")
  H.eq(bn.neg("5"), "-5")
  H.eq(bn.neg("0"), "0")
  H.eq(bn.min("3", "-4"), "-4")
  H.eq(bn.max("3", "-4"), "3")
  H.ok(bn.eq("05", "5") and bn.lt("4", "5") and bn.le("5", "5") and bn.gt("6", "5") and bn.ge("5", "5"))
  H.ok(bn.isZero("000") and not bn.isZero("1"))
  H.ok(bn.isNegative("-1") and not bn.isNegative("0"))
  H.eq(bn.add(5, "10"), "15", "Lua integers are accepted")
end)

H.done("bignum")
