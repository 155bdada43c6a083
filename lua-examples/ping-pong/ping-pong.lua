-- ping-pong: two processes play a rally. Load this blueprint into both.
-- Start one with: Send({ Target = ao.id, Action = "Serve", Opponent = "<other process id>", Rounds = "3" })
-- Ping -> the receiver answers Pong; Pong -> the server counts it and pings again until the
-- rally has the requested number of rounds.

Rally = Rally or { opponent = nil, rounds = 0, played = 0 }
Pings = Pings or 0

Handlers.add("serve", "Serve", function(msg)
  if msg.From ~= Owner and msg.From ~= ao.id then return end
  Rally = { opponent = msg.Opponent, rounds = tonumber(msg.Rounds) or 1, played = 0 }
  ao.send({ Target = Rally.opponent, Action = "Ping", Round = "1" })
  print("Serving to " .. Rally.opponent)
end)

Handlers.add("ping", "Ping", function(msg)
  Pings = Pings + 1
  msg.reply({ Action = "Pong", Round = msg.Round })
  print("Ping #" .. tostring(msg.Round) .. " from " .. msg.From)
end)

Handlers.add("pong", "Pong", function(msg)
  if msg.From ~= Rally.opponent then return end
  Rally.played = Rally.played + 1
  print("Pong #" .. tostring(msg.Round))
  if Rally.played < Rally.rounds then
    ao.send({ Target = Rally.opponent, Action = "Ping", Round = tostring(Rally.played + 1) })
  else
    print("Rally over after " .. Rally.played .. " rounds")
  end
end)
