-- token: a fungible token following the ao token conventions.
-- Balances are decimal strings handled by the big-number module, so supplies beyond 2^63 work.
-- Actions: Info, Balance, Balances, Transfer (Debit-Notice / Credit-Notice), Mint (owner only),
-- Total-Supply, Burn. State survives reloading this file (every global is `X = X or ...`).

local bn = require(".bignum")
local json = require("json")

Token = Token or {
  Name = "Example Token",
  Ticker = "EXT",
  Logo = "",
  Denomination = 12,
}
Balances = Balances or { [ao.id] = "10000000000000000" }
TotalSupply = TotalSupply or "10000000000000000"

local function balance_of(account)
  return Balances[account] or "0"
end

-- Tags starting with X- travel from a Transfer to its notices (ao convention).
local function forwarded_tags(msg, into)
  for name, value in pairs(msg.Tags) do
    if name:sub(1, 2) == "X-" then into[name] = value end
  end
  return into
end

Handlers.add("info", "Info", function(msg)
  msg.reply({
    Name = Token.Name, Ticker = Token.Ticker, Logo = Token.Logo,
    Denomination = tostring(Token.Denomination),
  })
end)

Handlers.add("balance", "Balance", function(msg)
  local account = msg.Tags.Recipient or msg.Tags.Target or msg.From
  local balance = balance_of(account)
  msg.reply({ Balance = balance, Ticker = Token.Ticker, Account = account, Data = balance })
end)

Handlers.add("balances", "Balances", function(msg)
  msg.reply({ Data = json.encode(Balances) })
end)

Handlers.add("transfer", "Transfer", function(msg)
  local recipient, quantity = msg.Tags.Recipient, msg.Tags.Quantity
  if type(recipient) ~= "string" or recipient == "" then
    return msg.reply({ Action = "Transfer-Error", ["Message-Id"] = msg.Id, Error = "Recipient is required" })
  end
  if not bn.isPositive(quantity) then
    return msg.reply({ Action = "Transfer-Error", ["Message-Id"] = msg.Id, Error = "Quantity must be a positive integer" })
  end
  if bn.lt(balance_of(msg.From), quantity) then
    return msg.reply({ Action = "Transfer-Error", ["Message-Id"] = msg.Id, Error = "Insufficient Balance!" })
  end
  Balances[msg.From] = bn.sub(balance_of(msg.From), quantity)
  Balances[recipient] = bn.add(balance_of(recipient), quantity)
  if msg.Tags.Cast then return end -- "Cast" transfers skip the notices.
  local debit = forwarded_tags(msg, {
    Action = "Debit-Notice", Recipient = recipient, Quantity = bn.normalize(quantity),
    Data = "You transferred " .. quantity .. " to " .. recipient,
  })
  local credit = forwarded_tags(msg, {
    Target = recipient, Action = "Credit-Notice", Sender = msg.From, Quantity = bn.normalize(quantity),
    Data = "You received " .. quantity .. " from " .. msg.From,
  })
  msg.reply(debit)
  ao.send(credit)
end)

Handlers.add("mint", "Mint", function(msg)
  if msg.From ~= Owner and msg.From ~= ao.id then
    return msg.reply({ Action = "Mint-Error", Error = "Only the owner can mint" })
  end
  if not bn.isPositive(msg.Tags.Quantity) then
    return msg.reply({ Action = "Mint-Error", Error = "Quantity must be a positive integer" })
  end
  Balances[msg.From] = bn.add(balance_of(msg.From), msg.Tags.Quantity)
  TotalSupply = bn.add(TotalSupply, msg.Tags.Quantity)
  msg.reply({ Action = "Mint-Notice", Quantity = bn.normalize(msg.Tags.Quantity), Data = "Successfully minted " .. msg.Tags.Quantity })
end)

Handlers.add("total-supply", "Total-Supply", function(msg)
  msg.reply({ Action = "Total-Supply", Ticker = Token.Ticker, Data = TotalSupply })
end)

Handlers.add("burn", "Burn", function(msg)
  local quantity = msg.Tags.Quantity
  if not bn.isPositive(quantity) then
    return msg.reply({ Action = "Burn-Error", Error = "Quantity must be a positive integer" })
  end
  if bn.lt(balance_of(msg.From), quantity) then
    return msg.reply({ Action = "Burn-Error", Error = "Insufficient Balance!" })
  end
  Balances[msg.From] = bn.sub(balance_of(msg.From), quantity)
  TotalSupply = bn.sub(TotalSupply, quantity)
  msg.reply({ Action = "Burn-Notice", Quantity = bn.normalize(quantity), Data = "Successfully burned " .. quantity })
end)
