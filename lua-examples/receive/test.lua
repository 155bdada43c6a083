-- lua-examples/receive: Receive, .receive() and onReply across two processes.
local H = require("harness")

local function setup()
  local net = H.network()
  local client = net:spawn({ id = H.id("client-process"), name = "client" })
  local oracle = net:spawn({ id = H.id("oracle-process"), name = "oracle" })
  local source = H.read_text("lua-examples/receive/receive.lua")
  assert(not client:eval(source).Error)
  assert(not oracle:eval(source).Error)
  return net, client, oracle
end

H.test("Send(...).receive(): the handler resumes with the oracle's reply", function()
  local net, client, oracle = setup()
  local user = H.id("user")
  local r, deliveries = net:send(client, { from = user, action = "Check", tags = { { "Oracle", oracle.id }, { "Symbol", "AR" } } })
  H.eq(H.output(r), "", "suspended: nothing printed yet")
  H.eq(#r.Messages, 1)
  H.eq(H.tag(r.Messages[1], "Action"), "Get-Price")
  -- deliveries: the oracle's answer, then the client's resumed handler.
  H.eq(#deliveries, 2)
  local resumed = deliveries[2].result
  H.eq(H.output(resumed), "AR = 7", "the print lands in the reply's result")
  H.eq(resumed.Messages[1].Target, user)
  H.eq(H.tag(resumed.Messages[1], "Action"), "Checked")
  H.eq(client:get("Prices").AR, "7")
end)

H.test("onReply: the callback runs on the reply", function()
  local net, client, oracle = setup()
  net:send(client, { from = client.owner, action = "Watch", tags = { { "Oracle", oracle.id }, { "Symbol", "AO" } } })
  H.eq(client:get("Prices").AO, "12")
end)

H.test("Receive(pattern): waits for the same sender's Confirm", function()
  local _, client = setup()
  local buyer, other = H.id("buyer"), H.id("other")
  local r = client:send({ from = buyer, action = "Order" })
  H.eq(H.tag(r.Messages[1], "Action"), "Confirm-Order")
  local r2 = client:send({ from = other, action = "Confirm" })
  H.contains(H.output(r2), "New Message From", "someone else's Confirm goes to the Inbox")
  H.eq(client:get("Orders"), nil)
  local r3 = client:send({ from = buyer, action = "Confirm" })
  H.eq(H.output(r3), "order 1 confirmed by " .. buyer)
end)

H.test("two requests in flight resume independently (references differ)", function()
  local _, client, oracle = setup()
  local r1 = client:send({ from = client.owner, action = "Check", tags = { { "Oracle", oracle.id }, { "Symbol", "AR" } } })
  local r2 = client:send({ from = client.owner, action = "Check", tags = { { "Oracle", oracle.id }, { "Symbol", "AO" } } })
  local a1 = oracle:push(r1.Messages[1], client)
  local a2 = oracle:push(r2.Messages[1], client)
  -- Answer in reverse order.
  H.eq(H.output(client:push(a2.Messages[1], oracle)), "AO = 12")
  H.eq(H.output(client:push(a1.Messages[1], oracle)), "AR = 7")
end)

H.done("receive-example")
