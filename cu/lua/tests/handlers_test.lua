-- The Handlers API (LUA-PROCESS.md §3): placement, replacement, maxRuns, results, resolvers,
-- the default handler.
local H = require("harness")

local BOB = H.id("bob")

local function names(p)
  return p:run("local t = {} for i, h in ipairs(Handlers.list) do t[i] = h.name end return t")
end

H.test("add appends and returns the list length; add of an existing name replaces in place", function()
  local p = H.spawn()
  H.eq(p:run("return Handlers.add('a', 'A', function() end)"), 1)
  H.eq(p:run("return Handlers.add('b', 'B', function() end)"), 2)
  H.eq(p:run("return Handlers.append('c', 'C', function() end)"), 3)
  H.eq(p:run("return Handlers.add('a', 'A2', function() Hit = 'new a' end)"), 3)
  H.same(names(p), { "a", "b", "c" })
  p:send({ from = BOB, action = "A2" })
  H.eq(p:get("Hit"), "new a")
end)

H.test("prepend puts a new handler first; an existing name stays in place", function()
  local p = H.spawn()
  p:run("Handlers.add('a', 'A', function() end); Handlers.add('b', 'B', function() end)")
  p:run("Handlers.prepend('z', 'Z', function() end)")
  H.same(names(p), { "z", "a", "b" })
  p:run("Handlers.prepend('b', 'B', function() end)")
  H.same(names(p), { "z", "a", "b" })
end)

H.test("two-argument add uses the name as the Action pattern", function()
  local p = H.spawn()
  p:eval("Handlers.add('Ping', function(m) Pinged = m.From end)")
  p:send({ from = BOB, action = "Ping" })
  H.eq(p:get("Pinged"), BOB)
  local r = p:send({ from = BOB, action = "Other" })
  H.contains(H.output(r), "New Message From")
end)

H.test("before and after insert beside a handler", function()
  local p = H.spawn()
  p:run("Handlers.add('a', 'A', function() end); Handlers.add('c', 'C', function() end)")
  p:run("Handlers.after('a').add('b', 'B', function() end)")
  p:run("Handlers.before('a').add('first', 'F', function() end)")
  p:run("Handlers.after('c').add('last', 'L', function() end)")
  H.same(names(p), { "first", "a", "b", "c", "last" })
  local ok, err = pcall(p:run("return Handlers.before"), "missing")
  H.ok(ok, "before() itself does not fail")
  local ok2, err2 = pcall(p:run("return Handlers.before('missing').add"), "x", "X", function() end)
  H.ok(not ok2, "unknown target is an error")
  H.contains(err2, "no handler named 'missing'")
  local _ = err
end)

H.test("remove", function()
  local p = H.spawn()
  p:run("Handlers.add('a', 'A', function() end); Handlers.add('b', 'B', function() end)")
  H.eq(p:run("return Handlers.remove('a')"), true)
  H.eq(p:run("return Handlers.remove('nope')"), false)
  H.same(names(p), { "b" })
end)

H.test("once: prepended, runs once, optional name", function()
  local p = H.spawn()
  p:run("Handlers.add('all', 'Go', function() Normal = (Normal or 0) + 1 end)")
  p:run("Handlers.once('Go', function() Once = (Once or 0) + 1 end)")
  H.eq(names(p)[1]:sub(1, 6), "_once_")
  p:run("Handlers.once('named', 'Go', function() Named = (Named or 0) + 1 end)")
  H.eq(names(p)[1], "named")
  p:send({ from = BOB, action = "Go" })
  p:send({ from = BOB, action = "Go" })
  H.eq(p:get("Named"), 1)
  H.eq(p:get("Once"), 1, "the second once ran on the second message only")
  H.eq(p:get("Normal"), nil, "a once handler stops the walk")
  H.same(names(p), { "all" })
  p:send({ from = BOB, action = "Go" })
  H.eq(p:get("Normal"), 1)
end)

H.test("maxRuns removes a handler after n runs", function()
  local p = H.spawn()
  p:run("Handlers.add('twice', 'Go', function() N = (N or 0) + 1 end, 2)")
  for _ = 1, 3 do p:send({ from = BOB, action = "Go" }) end
  H.eq(p:get("N"), 2)
  H.same(names(p), {})
  H.eq(#p:get("Inbox"), 1, "the third went to the Inbox")
end)

H.test("pattern results: break / continue / skip variants", function()
  local p = H.spawn()
  p:run([[
    Log = {}
    local function h(tag) return function() table.insert(Log, tag) end end
    Handlers.add('c1', function(m) return 'continue' end, h('c1'))
    Handlers.add('c2', function(m) return 1 end, h('c2'))
    Handlers.add('s1', function(m) return false end, h('s1'))
    Handlers.add('s2', function(m) return 0 end, h('s2'))
    Handlers.add('s3', function(m) return 'skip' end, h('s3'))
    Handlers.add('b', function(m) return m.Action == 'Stop' and 'break' or (m.Action == 'Neg' and -1 or (m.Action == 'True' and true or 'skip')) end, h('b'))
    Handlers.add('tail', function() return true end, h('tail'))
  ]])
  for _, action in ipairs({ "Stop", "Neg", "True" }) do
    p:run("Log = {}")
    p:send({ from = BOB, action = action })
    H.same(p:get("Log"), { "c1", "c2", "b" }, action)
  end
  p:run("Log = {}")
  p:send({ from = BOB, action = "Other" })
  H.same(p:get("Log"), { "c1", "c2", "tail" })
end)

H.test("a pattern returning nil is an error", function()
  local p = H.spawn()
  p:run("Handlers.add('bad', function(m) end, function() end)")
  local err = H.error_of(p:send({ from = BOB, action = "X" }))
  H.contains(err, "pattern of handler 'bad' returned nil")
end)

H.test("default handler: Inbox and the announcement; also after 'continue' handlers", function()
  local p = H.spawn()
  local r = p:send({ from = BOB, action = "Hello" })
  H.eq(H.output(r), "New Message From bob...___: Action = Hello")
  H.eq(#p:get("Inbox"), 1)
  H.eq(p:get("Inbox")[1].Action, "Hello")
  p:run("Handlers.add('log', function() return 'continue' end, function() Seen = true end)")
  r = p:send({ from = BOB, data = "some long data that is cut off somewhere" })
  H.eq(p:get("Seen"), true)
  H.eq(H.output(r), "New Message From bob...___: Data = some long data that ...")
  H.eq(#p:get("Inbox"), 2)
end)

H.test("a stopping handler keeps the message out of the Inbox", function()
  local p = H.spawn()
  p:run("Handlers.add('take', 'Take', function() end)")
  local r = p:send({ from = BOB, action = "Take" })
  H.eq(H.output(r), "")
  H.eq(#p:get("Inbox"), 0)
end)

H.test("handle as a resolver table {[spec] = fn}", function()
  local p = H.spawn()
  p:eval([[
    Handlers.add('resolve', { Action = 'Multi' }, {
      [{ Kind = 'a' }] = function(m) Got = 'A' end,
      [{ Kind = 'b' }] = function(m) Got = 'B' end,
      [function(m) return m.Kind == 'c' end] = function(m) Got = 'C' end,
    })
  ]])
  for _, k in ipairs({ "a", "b", "c" }) do
    p:send({ from = BOB, action = "Multi", tags = { { "Kind", k } } })
    H.eq(p:get("Got"), k:upper())
  end
end)

H.test("handlers run in list order, each in a coroutine, with the env", function()
  local p = H.spawn()
  p:run([[
    Order = {}
    Handlers.add('one', function() return 'continue' end, function(m, env)
      table.insert(Order, 'one:' .. tostring(coroutine.isyieldable()) .. ':' .. env.Process.Id)
    end)
    Handlers.add('two', 'Go', function() table.insert(Order, 'two') end)
  ]])
  p:send({ from = BOB, action = "Go" })
  H.same(p:get("Order"), { "one:true:" .. p.id, "two" })
end)

H.test("a handler error is an Error result with the printed lines first", function()
  local p = H.spawn()
  p:eval("Handlers.add('boom', 'Boom', function() print('before'); error('kaput') end)")
  local err = H.error_of(p:send({ from = BOB, action = "Boom" }))
  H.contains(err, "before\n\nerror:\n")
  H.contains(err, "kaput")
end)

H.test("handlers added during a walk do not see the current message", function()
  local p = H.spawn()
  p:run("Handlers.add('adder', 'Go', function() Handlers.prepend('late', 'Go', function() Late = (Late or 0) + 1 end) end)")
  p:send({ from = BOB, action = "Go" })
  H.eq(p:get("Late"), nil)
  p:send({ from = BOB, action = "Go" })
  H.eq(p:get("Late"), 1)
end)

H.test("bad arguments are reported", function()
  local p = H.spawn()
  H.ok(not pcall(p:run("return Handlers.add"), 1, "x", function() end), "name must be a string")
  H.ok(not pcall(p:run("return Handlers.add"), "n", 42, function() end), "bad pattern")
  H.ok(not pcall(p:run("return Handlers.add"), "n", "x", 42), "bad handle")
  H.ok(not pcall(p:run("return Handlers.add"), "n", "x", function() end, 0), "bad maxRuns")
end)

H.done("handlers")
