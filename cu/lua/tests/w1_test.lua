-- W1 of BENCHMARKS.md: the Ping workload, as a correctness check.
local H = require("harness")

local N = 10000

H.test("W1: Count == N and exactly one outbox message per Ping", function()
  local p = H.spawn({ name = "w1" })
  local r = p:eval([[Handlers.add('ping', Handlers.utils.hasMatchingTag('Action','Ping'), function(m) Count = (Count or 0) + 1; ao.send({Target=m.From, Data='pong'}) end)]])
  H.ok(not r.Error, r.Error)
  local sender = H.id("pinger")
  for _ = 1, 200 do p:send({ from = sender, action = "Ping" }) end
  H.ok(not p:eval("Count = 0").Error)
  local bad = 0
  for _ = 1, N do
    local res = p:send({ from = sender, action = "Ping" })
    if res.Error or #res.Messages ~= 1 or res.Messages[1].Target ~= sender or res.Messages[1].Data ~= "pong" then
      bad = bad + 1
    end
  end
  H.eq(bad, 0, "results without exactly one pong")
  H.eq(p:get("Count"), N)
  H.eq(H.output(p:eval("Count")), tostring(N))
  H.eq(#p:get("Inbox"), 0)
end)

H.done("w1")
