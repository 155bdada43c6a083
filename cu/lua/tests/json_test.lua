-- The json module.
local H = require("harness")

local p = H.spawn()
local json = p:run("return json")

H.test("json is a global and a module", function()
  H.eq(p:run("return json == require('json')"), true)
end)

H.test("encode: scalars, arrays, objects with sorted keys", function()
  H.eq(json.encode(nil), "null")
  H.eq(json.encode(true), "true")
  H.eq(json.encode(12), "12")
  H.eq(json.encode(1.5), "1.5")
  H.eq(json.encode(3.0), "3")
  H.eq(json.encode("a\"b\\c\n\1"), '"a\\"b\\\\c\\n\\u0001"')
  H.eq(json.encode({ 1, "two", false }), '[1,"two",false]')
  H.eq(json.encode({}), "[]")
  H.eq(json.encode({ z = 1, a = { b = 2 }, m = "x" }), '{"a":{"b":2},"m":"x","z":1}')
  H.eq(json.encode({ [1] = "a", [3] = "c" }), '{"1":"a","3":"c"}', "sparse arrays become objects")
  H.eq(json.encode(json.null), "null")
end)

H.test("encode refuses cycles, NaN and functions", function()
  local t = {}
  t.self = t
  H.ok(not pcall(json.encode, t))
  H.ok(not pcall(json.encode, 0 / 0))
  H.ok(not pcall(json.encode, print))
end)

H.test("decode", function()
  local v = json.decode(' { "a" : [1, 2.5, -3e2, true, false, null, "x"], "b": {"c": "\\u00e9\\ud83d\\ude00\\n"} } ')
  H.eq(v.a[1], 1)
  H.eq(math.type(v.a[1]), "integer")
  H.eq(v.a[2], 2.5)
  H.eq(v.a[3], -300.0)
  H.eq(v.a[4], true)
  H.eq(v.a[5], false)
  H.eq(v.a[6], nil)
  H.eq(v.a[7], "x")
  H.eq(v.b.c, "é😀\n")
  H.same(json.decode("[]"), {})
  H.eq(json.decode('"s"'), "s")
end)

H.test("decode errors name the position", function()
  for _, bad in ipairs({ "{", "[1,]", '{"a" 1}', "tru", '"unterminated', "[1] x", "" }) do
    local ok, err = pcall(json.decode, bad)
    H.ok(not ok, bad)
    H.contains(err, "json.decode", bad)
  end
end)

H.test("round trip", function()
  local t = { list = { 1, 2, 3 }, nested = { deep = { "é", "\t" } }, n = -7, f = 0.25, yes = true }
  H.same(json.decode(json.encode(t)), t)
end)

H.done("json")
