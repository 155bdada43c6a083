-- The outbox: ao.send / ao.spawn / ao.assign, msg.reply / msg.forward, Send / Spawn / Assign
-- (LUA-PROCESS.md §1.9, §2, §5).
local H = require("harness")

local BOB = H.id("bob")
local T = H.id("target")

local function tags_of(m)
  local out = {}
  for i, t in ipairs(m.Tags) do out[i] = t.name .. "=" .. t.value end
  return out
end

H.test("ao.send: anchor, protocol tags first, root fields sorted, then Tags", function()
  local p = H.spawn()
  local r = p:eval("ao.send({ Target = '" .. T .. "', Data = 'hi', Zeta = 'z', Action = 'Do', Quantity = 5, Tags = { { name = 'Custom', value = 'c' } } })")
  H.eq(#r.Messages, 1)
  local m = r.Messages[1]
  H.eq(m.Target, T)
  H.eq(m.Data, "hi")
  H.eq(m.Anchor, "00000000000000000000000000000001")
  H.same(tags_of(m), {
    "Data-Protocol=ao", "Variant=ao.TN.1", "Type=Message", "Reference=1",
    "Action=Do", "Quantity=5", "Zeta=z", "Custom=c",
  })
end)

H.test("the reference counter persists across messages", function()
  local p = H.spawn()
  p:eval("ao.send({ Target = 'x' }); ao.send({ Target = 'y' })")
  local r = p:eval("ao.send({ Target = 'z' })")
  H.eq(r.Messages[1].Anchor, string.format("%032d", 3))
  H.eq(H.tag(r.Messages[1], "Reference"), "3")
  H.eq(p:run("return ao.reference"), 3)
end)

H.test("Tags given as a map are sorted by name", function()
  local p = H.spawn()
  local r = p:eval("ao.send({ Target = 'x', Tags = { b = '2', a = '1' } })")
  H.same(tags_of(r.Messages[1]), { "Data-Protocol=ao", "Variant=ao.TN.1", "Type=Message", "Reference=1", "a=1", "b=2" })
end)

H.test("table Data is JSON with Content-Type", function()
  local p = H.spawn()
  local r = p:eval("ao.send({ Target = 'x', Data = { b = { 1, 2 }, a = 'q' } })")
  local m = r.Messages[1]
  H.eq(m.Data, '{"a":"q","b":[1,2]}')
  H.eq(H.tag(m, "Content-Type"), "application/json")
end)

H.test("no Data is an empty string; only scalar root fields become tags", function()
  local p = H.spawn()
  local r = p:eval("ao.send({ Target = 'x', Flag = true, Skip = function() end, Nested = {} })")
  local m = r.Messages[1]
  H.eq(m.Data, "")
  H.eq(H.tag(m, "Flag"), "true")
  H.eq(H.tag(m, "Skip"), nil)
  H.eq(H.tag(m, "Nested"), nil)
end)

H.test("outbox resets per message; results carry only plain data", function()
  local p = H.spawn()
  p:eval("ao.send({ Target = 'x' })")
  local r = p:eval("1")
  H.eq(#r.Messages, 0)
  local r2 = p:eval("ao.send({ Target = 'x' })")
  H.ok(H.json.encode(r2), "the result encodes as JSON (no functions)")
  H.eq(r2.Messages[1].onReply, nil)
end)

H.test("ao.spawn: tags, NODATA, reference", function()
  local p = H.spawn()
  local r = p:eval("ao.send({ Target = 'x' }); ao.spawn('MODULE-X', { Name = 'child', Tags = { { name = 'Authority', value = 'MU' } } })")
  H.eq(#r.Spawns, 1)
  local s = r.Spawns[1]
  H.eq(s.Data, "NODATA")
  H.eq(s.Anchor, string.format("%032d", 2))
  H.same(tags_of(s), {
    "Data-Protocol=ao", "Variant=ao.TN.1", "Type=Process", "From-Process=" .. p.id,
    "From-Module=" .. H.MODULE, "Module=MODULE-X", "Reference=2", "Name=child", "Authority=MU",
  })
end)

H.test("Spawn defaults to the process's own module; onReply sees the Spawned notice", function()
  local net = H.network()
  local p = net:spawn({ id = H.id("parent") })
  p:eval("Handlers.add('make', 'Make', function() Spawn({ Data = 'Child = true', Tags = { { name = 'On-Boot', value = 'Data' } } }).onReply(function(m) ChildId = m.Process end) end)")
  local r, deliveries = net:send(p, { from = p.owner, action = "Make" })
  H.eq(H.tag(r.Spawns[1], "Module"), H.MODULE)
  local child_id = p:get("ChildId")
  H.ok(child_id, "the Spawned notice resumed onReply")
  H.eq(net.processes[child_id]:get("Child"), true)
  H.eq(net.processes[child_id]:get("Owner"), p.id, "a spawned process is owned by its parent")
  H.eq(#deliveries, 2)
end)

H.test("Spawn(...).receive() returns the notice", function()
  local net = H.network()
  local p = net:spawn({ id = H.id("parent2") })
  p:eval("Handlers.add('make', 'Make', function() local n = Spawn({}).receive(); Made = n.Process end)")
  net:send(p, { from = p.owner, action = "Make" })
  H.ok(p:get("Made"))
end)

H.test("ao.assign and Assign", function()
  local p = H.spawn()
  local r = p:eval("return Assign({ Processes = { 'P1', 'P2' }, Message = 'M1' })")
  H.same(r.Assignments, { { Processes = { "P1", "P2" }, Message = "M1" } })
  H.eq(H.output(r), "Assignment added to outbox")
  H.ok(not p:eval("ao.assign({ Processes = 'P1', Message = 'M' })").Output, "bad input is an error")
end)

H.test("Send returns output, receive, onReply; warns without Target", function()
  local p = H.spawn()
  local r = p:eval("Send({ Target = 'x', Action = 'Hi' })")
  H.eq(H.output(r), "Message added to outbox")
  local s = p:run("return Send")({ Target = "x" })
  H.eq(s.output, "Message added to outbox")
  H.eq(type(s.receive), "function")
  H.eq(type(s.onReply), "function")
  local w = p:eval("Send({ Action = 'NoTarget' })")
  H.contains(H.output(w), "WARNING")
end)

H.test("msg.reply: Target, X-Reference from Reference, X-Origin carried", function()
  local p = H.spawn()
  p:eval("Handlers.add('r', 'Ask', function(m) m.reply({ Action = 'Answer', Data = 'ok' }) end)")
  local r = p:send({ from = BOB, action = "Ask", tags = { { "Reference", "17" }, { "X-Origin", "ORIG" } } })
  local m = r.Messages[1]
  H.eq(m.Target, BOB)
  H.eq(m.Data, "ok")
  H.eq(H.tag(m, "X-Reference"), "17")
  H.eq(H.tag(m, "X-Origin"), "ORIG")
  H.eq(H.tag(m, "Action"), "Answer")
end)

H.test("msg.reply prefers Reply-To, then r.Target; X-Reference wins over Reference", function()
  local p = H.spawn()
  p:eval("Handlers.add('r', 'Ask', function(m) m.reply({ Target = 'EXPLICIT', Data = 'ok' }) end)")
  local r = p:send({ from = BOB, action = "Ask", tags = { { "Reply-To", "RT" }, { "Reference", "1" }, { "X-Reference", "9" } } })
  H.eq(r.Messages[1].Target, "RT")
  H.eq(H.tag(r.Messages[1], "X-Reference"), "9")
  local r2 = p:send({ from = BOB, action = "Ask" })
  H.eq(r2.Messages[1].Target, "EXPLICIT")
  H.eq(H.tag(r2.Messages[1], "X-Origin"), nil)
end)

H.test("Handlers.utils.reply with a string", function()
  local p = H.spawn()
  p:eval("Handlers.add('r', 'Ask', Handlers.utils.reply('pong'))")
  local r = p:send({ from = BOB, action = "Ask", tags = { { "Reference", "3" } } })
  H.eq(r.Messages[1].Data, "pong")
  H.eq(H.tag(r.Messages[1], "X-Reference"), "3")
end)

H.test("msg.forward keeps the user tags and data, sets Reply-To / X-Origin", function()
  local p = H.spawn()
  p:eval("Handlers.add('f', 'Fwd', function(m) m.forward('NEXT', { Extra = 'e' }) end)")
  local r = p:send({ from = BOB, action = "Fwd", data = "payload", tags = { { "Color", "red" }, { "Reference", "4" } } })
  local m = r.Messages[1]
  H.eq(m.Target, "NEXT")
  H.eq(m.Data, "payload")
  H.eq(H.tag(m, "Color"), "red")
  H.eq(H.tag(m, "Action"), "Fwd")
  H.eq(H.tag(m, "Extra"), "e")
  H.eq(H.tag(m, "Reply-To"), BOB)
  H.eq(H.tag(m, "X-Origin"), BOB)
  H.eq(H.tag(m, "Reference"), "1", "a fresh reference, not the incoming one")
  local r2 = p:send({ from = BOB, action = "Fwd", tags = { { "Reply-To", "RT" }, { "X-Origin", "XO" } } })
  H.eq(H.tag(r2.Messages[1], "Reply-To"), "RT")
  H.eq(H.tag(r2.Messages[1], "X-Origin"), "XO")
end)

H.test("same inputs, same bytes: two processes produce identical results", function()
  local function run()
    local p = H.spawn({ id = H.id("det") })
    p:eval("Handlers.add('d', 'D', function(m) ao.send({ Target = m.From, Data = { x = math.random(1000), t = os.time() }, B = 1, A = 2 }) end)")
    return H.json.encode(p:send({ from = BOB, action = "D", id = H.id("fixed") }))
  end
  H.eq(run(), run())
end)

H.done("outbox")
