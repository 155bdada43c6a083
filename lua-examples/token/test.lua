-- lua-examples/token: the token blueprint on the process library.
local H = require("harness")

local ALICE, BOB = H.id("alice"), H.id("bob")

local function load_token()
  local p = H.spawn({ name = "token" })
  local r = p:eval(H.read_text("lua-examples/token/token.lua"))
  assert(not r.Error, r.Error)
  return p
end

local function reply(r, action)
  assert(not r.Error, r.Error)
  for _, m in ipairs(r.Messages) do
    if action == nil or H.tag(m, "Action") == action then return m end
  end
  error("no outbox message with Action " .. tostring(action) .. " in " .. H.describe(r.Messages))
end

H.test("Info", function()
  local p = load_token()
  local m = reply(p:send({ from = ALICE, action = "Info" }))
  H.eq(m.Target, ALICE)
  H.eq(H.tag(m, "Ticker"), "EXT")
  H.eq(H.tag(m, "Denomination"), "12")
end)

H.test("the process holds the initial supply; Balance and Total-Supply", function()
  local p = load_token()
  local m = reply(p:send({ from = ALICE, action = "Balance", tags = { { "Recipient", p.id } } }))
  H.eq(m.Data, "10000000000000000")
  H.eq(H.tag(m, "Balance"), "10000000000000000")
  H.eq(H.tag(m, "Account"), p.id)
  H.eq(reply(p:send({ from = ALICE, action = "Balance" })).Data, "0", "unknown accounts hold 0")
  H.eq(reply(p:send({ from = ALICE, action = "Total-Supply" }), "Total-Supply").Data, "10000000000000000")
end)

H.test("Mint by the owner only, beyond 64-bit integers", function()
  local p = load_token()
  local big = "99999999999999999999999"
  local m = reply(p:send({ from = p.owner, action = "Mint", tags = { { "Quantity", big } } }), "Mint-Notice")
  H.eq(m.Target, p.owner)
  H.eq(p:get("Balances")[p.owner], big)
  H.eq(p:get("TotalSupply"), "100000009999999999999999")
  reply(p:send({ from = ALICE, action = "Mint", tags = { { "Quantity", "5" } } }), "Mint-Error")
  H.eq(p:get("Balances")[ALICE], nil)
  reply(p:send({ from = p.owner, action = "Mint", tags = { { "Quantity", "-5" } } }), "Mint-Error")
end)

H.test("Transfer: Debit-Notice to the sender, Credit-Notice to the recipient, X- tags forwarded", function()
  local p = load_token()
  p:send({ from = p.owner, action = "Mint", tags = { { "Quantity", "1000" } } })
  local r = p:send({ from = p.owner, action = "Transfer", tags = { { "Recipient", ALICE }, { "Quantity", "300" }, { "X-Note", "rent" } } })
  local debit, credit = reply(r, "Debit-Notice"), reply(r, "Credit-Notice")
  H.eq(debit.Target, p.owner)
  H.eq(H.tag(debit, "Recipient"), ALICE)
  H.eq(H.tag(debit, "Quantity"), "300")
  H.eq(credit.Target, ALICE)
  H.eq(H.tag(credit, "Sender"), p.owner)
  H.eq(H.tag(credit, "X-Note"), "rent")
  H.eq(p:get("Balances")[p.owner], "700")
  H.eq(p:get("Balances")[ALICE], "300")
end)

H.test("Transfer errors: insufficient balance, bad quantity, no recipient", function()
  local p = load_token()
  local r = p:send({ from = BOB, action = "Transfer", tags = { { "Recipient", ALICE }, { "Quantity", "1" } } })
  H.eq(H.tag(reply(r, "Transfer-Error"), "Error"), "Insufficient Balance!")
  p:send({ from = p.owner, action = "Mint", tags = { { "Quantity", "10" } } })
  for _, q in ipairs({ "0", "-1", "1.5", "abc" }) do
    reply(p:send({ from = p.owner, action = "Transfer", tags = { { "Recipient", ALICE }, { "Quantity", q } } }), "Transfer-Error")
  end
  reply(p:send({ from = p.owner, action = "Transfer", tags = { { "Quantity", "1" } } }), "Transfer-Error")
  H.eq(p:get("Balances")[p.owner], "10", "nothing moved")
end)

H.test("Cast transfers send no notices", function()
  local p = load_token()
  p:send({ from = p.owner, action = "Mint", tags = { { "Quantity", "10" } } })
  local r = p:send({ from = p.owner, action = "Transfer", tags = { { "Recipient", ALICE }, { "Quantity", "4" }, { "Cast", "true" } } })
  H.eq(#r.Messages, 0)
  H.eq(p:get("Balances")[ALICE], "4")
end)

H.test("Burn", function()
  local p = load_token()
  p:send({ from = p.owner, action = "Mint", tags = { { "Quantity", "10" } } })
  reply(p:send({ from = p.owner, action = "Burn", tags = { { "Quantity", "4" } } }), "Burn-Notice")
  H.eq(p:get("Balances")[p.owner], "6")
  H.eq(p:get("TotalSupply"), "10000000000000006")
  reply(p:send({ from = p.owner, action = "Burn", tags = { { "Quantity", "7" } } }), "Burn-Error")
end)

H.test("Balances is JSON of every account", function()
  local p = load_token()
  local m = reply(p:send({ from = ALICE, action = "Balances" }))
  H.same(H.json.decode(m.Data), { [p.id] = "10000000000000000" })
end)

H.test("a process wallet: transfers between processes through the MU", function()
  local net = H.network()
  local token = net:spawn({ id = H.id("token-process"), name = "token" })
  token:eval(H.read_text("lua-examples/token/token.lua"))
  local wallet = net:spawn({ id = H.id("wallet-process") })
  wallet:eval("Handlers.add('credit', 'Credit-Notice', function(m) Received = m.Quantity; Payer = m.Sender end)")
  -- The token process pays the wallet process out of its own supply (Eval makes ao.id the sender).
  local r = token:eval("ao.send({ Target = ao.id, Action = 'Transfer', Recipient = '" .. wallet.id .. "', Quantity = '25' })")
  net:crank(token, r)
  H.eq(token:get("Balances")[wallet.id], "25")
  H.eq(wallet:get("Received"), "25")
  H.eq(wallet:get("Payer"), token.id)
end)

H.done("token")
