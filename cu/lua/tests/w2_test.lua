-- W2 of BENCHMARKS.md: token transfers, checked against an independent simulation.
local H = require("harness")

local N = 10000
local WARMUP = 200
local ACCOUNTS = 1000

local function acct(i) return string.format("ACCT%039d", i) end

local INSTALL = [[
Balances = {}
for i = 1, 1000 do Balances[string.format('ACCT%039d', i)] = 1000000000 end
TransferErrors = 0
Handlers.add('transfer', Handlers.utils.hasMatchingTag('Action', 'Transfer'), function(m)
  local qty = tonumber(m.Tags.Quantity)
  local to = m.Tags.Recipient
  local from = m.From
  if qty > 0 and (Balances[from] or 0) >= qty then
    Balances[from] = Balances[from] - qty
    Balances[to] = (Balances[to] or 0) + qty
    ao.send({ Target = from, Action = 'Debit-Notice', Recipient = to, Quantity = tostring(qty) })
    ao.send({ Target = to, Action = 'Credit-Notice', Sender = from, Quantity = tostring(qty) })
  else
    TransferErrors = TransferErrors + 1
    ao.send({ Target = from, Action = 'Transfer-Error', Error = 'Insufficient Balance' })
  end
end)
]]

local CHECK = [[
local total, s = 0, 0
for i = 1, 1000 do
  local b = Balances[string.format('ACCT%039d', i)]
  total = total + b
  s = (s + i * b) % 1000000007
end
return total .. ':' .. s .. ':' .. TransferErrors
]]

-- The transfer sequence: a 32-bit LCG, seed 42.
local function transfers(count)
  local x = 42
  local function step()
    x = (x * 1664525 + 1013904223) % 4294967296
    return x
  end
  local list = {}
  for k = 1, count do
    local a = 1 + step() % ACCOUNTS
    local b = 1 + step() % ACCOUNTS
    if b == a then b = 1 + b % ACCOUNTS end
    local qty = 1 + step() % 1000
    list[k] = { a = a, b = b, qty = qty }
  end
  return list
end

-- Independent simulation: plain arrays indexed by account number.
local function simulate(list)
  local bal, errors = {}, 0
  for i = 1, ACCOUNTS do bal[i] = 1000000000 end
  for _, t in ipairs(list) do
    if t.qty > 0 and bal[t.a] >= t.qty then
      bal[t.a] = bal[t.a] - t.qty
      bal[t.b] = bal[t.b] + t.qty
    else
      errors = errors + 1
    end
  end
  local total, s = 0, 0
  for i = 1, ACCOUNTS do
    total = total + bal[i]
    s = (s + i * bal[i]) % 1000000007
  end
  return total .. ":" .. s .. ":" .. errors
end

H.test("W2: balances match an independent simulation; two notices per transfer", function()
  local p = H.spawn({ name = "w2" })
  H.ok(not p:eval(INSTALL).Error)
  local list = transfers(WARMUP + N)
  local bad = 0
  for k, t in ipairs(list) do
    local r = p:send({ from = acct(t.a), action = "Transfer", tags = { { "Recipient", acct(t.b) }, { "Quantity", tostring(t.qty) } } })
    if k > WARMUP then
      if r.Error or #r.Messages ~= 2
        or H.tag(r.Messages[1], "Action") ~= "Debit-Notice" or r.Messages[1].Target ~= acct(t.a)
        or H.tag(r.Messages[2], "Action") ~= "Credit-Notice" or r.Messages[2].Target ~= acct(t.b)
        or H.tag(r.Messages[2], "Quantity") ~= tostring(t.qty) then
        bad = bad + 1
      end
    end
  end
  H.eq(bad, 0, "transfers without exactly a Debit-Notice and a Credit-Notice")
  local got = H.output(p:eval(CHECK))
  local want = simulate(list)
  H.eq(got, want, "total:s:errors")
  H.eq(got:match(":(%d+)$"), "0", "zero transfer errors")
  H.eq(got:match("^(%d+):"), tostring(ACCOUNTS * 1000000000), "supply is conserved")
end)

H.done("w2")
