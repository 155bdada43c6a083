-- cron: react to the CU's cron messages. Spawn the process with a `Cron-Interval` tag
-- (e.g. `1-minute`) and `Cron-Tag-Action = Cron`; the CU then delivers `msg.Cron == true`
-- messages with `Action = Cron`. Each tick is counted and announced to the subscribers.

Ticks = Ticks or 0
LastTick = LastTick or 0
Subscribers = Subscribers or {}

-- A tick is a real cron message (msg.Cron), or an `Action = Cron` from the owner (for manual runs).
local function is_tick(msg)
  return msg.Cron == true or (msg.Action == "Cron" and (msg.From == Owner or msg.From == ao.id))
end

Handlers.add("tick", is_tick, function(msg)
  Ticks = Ticks + 1
  LastTick = os.time()
  for _, subscriber in ipairs(Subscribers) do
    ao.send({ Target = subscriber, Action = "Heartbeat", Tick = tostring(Ticks), Time = tostring(LastTick) })
  end
  print("Tick " .. Ticks .. " at " .. LastTick)
end)

Handlers.add("subscribe", "Subscribe", function(msg)
  for _, s in ipairs(Subscribers) do
    if s == msg.From then return end
  end
  table.insert(Subscribers, msg.From)
  msg.reply({ Action = "Subscribed" })
end)
