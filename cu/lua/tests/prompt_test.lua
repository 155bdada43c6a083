-- Prompt, print, Colors, the pretty printer, Utils and the other globals (LUA-PROCESS.md §2).
local H = require("harness")

local BOB = H.id("bob")

H.test("Prompt: <Name>@aos-<version>[Inbox:<n>]> , colored", function()
  local p = H.spawn({ name = "alice" })
  local prompt = p.spawn_result.Output.prompt
  H.eq(H.plain(prompt), "alice@aos-2.0.4[Inbox:0]> ")
  H.ok(prompt:find("\27%[32m"), "colored")
  p:send({ from = BOB, action = "X" })
  p:send({ from = BOB, action = "Y" })
  H.eq(H.plain(p.last.Output.prompt), "alice@aos-2.0.4[Inbox:2]> ")
end)

H.test("a process may replace Prompt", function()
  local p = H.spawn()
  p:eval("function Prompt() return 'custom> ' end")
  H.eq(p:eval("1").Output.prompt, "custom> ")
end)

H.test("normal message output: printed lines joined by newlines, print = true", function()
  local p = H.spawn()
  p:eval("Handlers.add('p', 'P', function() print('one'); print('two', 3, nil, true) end)")
  local r = p:send({ from = BOB, action = "P" })
  H.eq(r.Output.data, "one\ntwo\t3\tnil\ttrue")
  H.eq(r.Output.print, true)
end)

H.test("print pretty-prints tables with colors and sorted keys", function()
  local p = H.spawn()
  local r = p:eval("print({ b = { 1, 2 }, a = 'x', [3] = true })")
  H.eq(H.output(r), '{\n  [3] = true,\n  a = "x",\n  b = { 1, 2 }\n}')
  H.ok(r.Output.data:find("\27%[32m\"x\""), "strings are green")
end)

H.test("stringify: cycles, functions, odd keys, long arrays", function()
  local p = H.spawn()
  local fmt = p:run("return require('.stringify').format")
  local t = { name = "n" }
  t.self = t
  H.eq(fmt(t, false), '{\n  name = "n",\n  self = <cycle>\n}')
  H.eq(fmt({ f = print }, false), "{\n  f = function\n}")
  H.eq(fmt({ ["with-dash"] = 1 }, false), '{\n  ["with-dash"] = 1\n}')
  H.eq(fmt({}, false), "{}")
  local long = {}
  for i = 1, 40 do long[i] = i end
  H.eq(select(2, fmt(long, false):gsub("\n", "")), 41, "long arrays go one per line")
  H.eq(fmt({ { 1 }, { 2 } }, false), "{ { 1 }, { 2 } }")
end)

H.test("Colors", function()
  local p = H.spawn()
  local c = p:get("Colors")
  H.eq(c.red, "\27[31m")
  H.eq(c.green, "\27[32m")
  H.eq(c.blue, "\27[34m")
  H.eq(c.gray, "\27[90m")
  H.eq(c.reset, "\27[0m")
end)

H.test("globals exist; sandbox has no io, loadfile, dofile; os has time", function()
  local p = H.spawn()
  for _, name in ipairs({ "ao", "Handlers", "Inbox", "Send", "Spawn", "Assign", "Receive", "print", "Prompt",
    "Owner", "Name", "Colors", "json", "Utils", "Errors" }) do
    H.ok(p:get(name) ~= nil, name)
  end
  for _, name in ipairs({ "send", "spawn", "assign", "isTrusted", "result", "addAssignable", "removeAssignable",
    "isAssignment", "isAssignable", "normalize", "sanitize", "clone" }) do
    H.eq(type(p:run("return ao." .. name)), "function", "ao." .. name)
  end
  H.eq(type(p:run("return ao.authorities")), "table")
  H.eq(type(p:run("return ao.outbox")), "table")
  H.eq(p:get("io"), nil)
  H.eq(p:get("loadfile"), nil)
  H.eq(type(p:run("return os.time")), "function")
end)

H.test("require resolves the library's own modules", function()
  local p = H.spawn()
  for _, name in ipairs({ ".process", ".handlers", ".handlers-utils", ".ao", ".utils", ".eval", "json", ".stringify", ".bignum", ".random", ".assignment" }) do
    H.ok(p:run("return require('" .. name .. "')"), name)
  end
  H.eq(p:run("return require('.handlers') == Handlers"), true)
  H.eq(p:run("return require('.ao') == ao"), true)
end)

H.test("ao.clone, ao.sanitize, ao.result", function()
  local p = H.spawn()
  local clone, sanitize, result = p:run("return ao.clone, ao.sanitize, ao.result")
  local t = { a = { b = 1 } }
  local c = clone(t)
  H.same(c, t)
  H.ok(c.a ~= t.a, "deep")
  local s = sanitize({ Data = "x", reply = print, Tags = { A = "1" } })
  H.same(s, { Data = "x", Tags = { A = "1" } })
  H.same(result({ Error = "bad", Output = "x" }), { Error = "bad" })
  H.eq(result({ Output = "o" }).Output, "o")
end)

H.test("Utils: curried helpers", function()
  local p = H.spawn()
  local U = p:get("Utils")
  H.same(U.map(function(x) return x * 2 end, { 1, 2, 3 }), { 2, 4, 6 })
  H.same(U.map(function(x) return x * 2 end)({ 1 }), { 2 })
  H.same(U.filter(function(x) return x % 2 == 1 end, { 1, 2, 3 }), { 1, 3 })
  H.eq(U.reduce(function(a, x) return a + x end, 0, { 1, 2, 3 }), 6)
  H.eq(U.reduce(function(a, x) return a + x end)(10)({ 1, 2 }), 13)
  H.eq(U.find(function(x) return x > 1 end, { 1, 2, 3 }), 2)
  H.eq(U.includes(2, { 1, 2 }), true)
  H.eq(U.includes(5)({ 1, 2 }), false)
  H.same(U.keys({ b = 1, a = 2 }), { "a", "b" })
  H.same(U.values({ b = 1, a = 2 }), { 2, 1 })
  H.same(U.concat({ 1 }, { 2, 3 }), { 1, 2, 3 })
  H.same(U.concat({ 1 })({ 2 }), { 1, 2 })
  H.eq(U.compose(function(x) return x + 1 end, function(x) return x * 10 end)(2), 21)
  H.eq(U.prop("a", { a = 5 }), 5)
  H.eq(U.propEq("a", 5)({ a = 5 }), true)
  H.same(U.reverse({ 1, 2, 3 }), { 3, 2, 1 })
  H.eq(U.isArray({ 1, 2 }), true)
  H.eq(U.isArray({ a = 1 }), false)
  local add3 = U.curry(function(a, b, c) return a + b + c end, 3)
  H.eq(add3(1)(2)(3), 6)
  H.eq(add3(1, 2)(3), 6)
end)

H.done("prompt")
