-- lua-examples/cron: cron messages drive a heartbeat.
local H = require("harness")

local function cron_process()
  local p = H.spawn({ name = "clock", tags = { { "Cron-Interval", "1-minute" }, { "Cron-Tag-Action", "Cron" } } })
  assert(not p:eval(H.read_text("lua-examples/cron/cron.lua")).Error)
  return p
end

H.test("cron messages are counted with the message time", function()
  local p = cron_process()
  local r = p:cron()
  H.eq(p:get("Ticks"), 1)
  H.eq(p:get("LastTick"), p.timestamp, "os.time() is the cron message's Timestamp")
  H.eq(H.output(r), "Tick 1 at " .. p.timestamp)
  p:cron()
  H.eq(p:get("Ticks"), 2)
end)

H.test("Action = Cron from a stranger is not a tick; from the owner it is", function()
  local p = cron_process()
  p:send({ from = H.id("stranger"), action = "Cron" })
  H.eq(p:get("Ticks"), 0)
  p:send({ action = "Cron" })
  H.eq(p:get("Ticks"), 1)
end)

H.test("subscribers get a Heartbeat per tick", function()
  local p = cron_process()
  local sub = H.id("subscriber")
  p:send({ from = sub, action = "Subscribe" })
  p:send({ from = sub, action = "Subscribe" })
  H.eq(#p:get("Subscribers"), 1)
  local r = p:cron()
  H.eq(#r.Messages, 1)
  H.eq(r.Messages[1].Target, sub)
  H.eq(H.tag(r.Messages[1], "Action"), "Heartbeat")
  H.eq(H.tag(r.Messages[1], "Tick"), "1")
end)

H.done("cron")
