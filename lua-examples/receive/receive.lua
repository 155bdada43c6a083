-- receive: request/response between processes, three ways.
-- Load into a "client" process. It asks a "price oracle" process (any process answering
-- `Action = Get-Price` with msg.reply, see `oracle` below) and waits for the answer:
--   1. Send(...).receive()  suspends the handler until the reply carrying our reference arrives;
--   2. ao.send(...).onReply(fn)  registers a one-shot handler for that reply instead;
--   3. Receive(pattern)  waits for any later message matching the pattern.
-- Output printed after the wait shows up in the result of the message that resumed it.

Prices = Prices or {}

-- 1. Blocking style.
Handlers.add("check", "Check", function(msg)
  local answer = Send({ Target = msg.Oracle, Action = "Get-Price", Symbol = msg.Symbol }).receive()
  Prices[msg.Symbol] = answer.Price
  print(msg.Symbol .. " = " .. answer.Price)
  msg.reply({ Action = "Checked", Symbol = msg.Symbol, Price = answer.Price })
end)

-- 2. Callback style.
Handlers.add("watch", "Watch", function(msg)
  ao.send({ Target = msg.Oracle, Action = "Get-Price", Symbol = msg.Symbol }).onReply(function(answer)
    Prices[answer.Symbol] = answer.Price
    print("watched " .. answer.Symbol .. " = " .. answer.Price)
  end)
end)

-- 3. Waiting for a pattern: a two-step confirmation from the same sender.
Handlers.add("order", "Order", function(msg)
  msg.reply({ Action = "Confirm-Order", Data = "Reply with Action = Confirm to place the order" })
  local confirmation = Receive({ Action = "Confirm", From = msg.From })
  Orders = (Orders or 0) + 1
  print("order " .. Orders .. " confirmed by " .. confirmation.From)
end)

-- The oracle side (also in this file so one blueprint serves both processes).
PriceTable = PriceTable or { AR = "7", AO = "12" }
Handlers.add("oracle", "Get-Price", function(msg)
  msg.reply({ Action = "Price", Symbol = msg.Symbol, Price = PriceTable[msg.Symbol] or "unknown" })
end)
