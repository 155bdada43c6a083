-- Pattern matching (LUA-PROCESS.md §3): functions, strings, table specs and their values.
local H = require("harness")

local p = H.spawn()
local matches = p:run("return Utils.matchesSpec")
local utils_hm = p:run("return Handlers.utils")

local function msg(t)
  t.Tags = t.Tags or {}
  return t
end

H.test("string pattern matches Action, case-insensitively", function()
  H.eq(matches(msg({ Action = "Ping" }), "Ping"), true)
  H.eq(matches(msg({ Action = "ping" }), "Ping"), true)
  H.eq(matches(msg({ Action = "Pong" }), "Ping"), false)
  H.eq(matches(msg({}), "Ping"), false)
end)

H.test("function pattern returns its own result", function()
  H.eq(matches(msg({}), function() return "continue" end), "continue")
  H.eq(matches(msg({}), function() return -1 end), -1)
end)

H.test("table spec: every key present and matching", function()
  local spec = { Action = "Transfer", Recipient = "_" }
  H.eq(matches(msg({ Action = "Transfer", Recipient = "x" }), spec), true)
  H.eq(matches(msg({ Action = "Transfer" }), spec), false, "'_' needs the key present")
  H.eq(matches(msg({ Action = "transfer", Recipient = "x" }), spec), true, "case-insensitive")
  H.eq(matches(msg({ Action = "Other", Recipient = "x" }), spec), false)
  H.eq(matches(msg({}), {}), true, "the empty spec matches everything")
end)

H.test("spec value: a function (value, msg)", function()
  local spec = { Quantity = function(v, m) return tonumber(v) > 10 and m.Action == "T" end }
  H.eq(matches(msg({ Action = "T", Quantity = "11" }), spec), true)
  H.eq(matches(msg({ Action = "T", Quantity = "9" }), spec), false)
  H.eq(matches(msg({ Action = "T" }), { Missing = function(v) return v == nil end }), true,
    "a function sees absent values too")
end)

H.test("spec value: Lua pattern when it holds ^$()%.[]*+?", function()
  H.eq(matches(msg({ Action = "Credit-Notice" }), { Action = "^Credit" }), true)
  H.eq(matches(msg({ Action = "credit-notice" }), { Action = "^Credit" }), true, "patterns are case-insensitive too")
  H.eq(matches(msg({ Action = "Debit-Notice" }), { Action = "^Credit" }), false)
  H.eq(matches(msg({ Action = "Get-12" }), { Action = "Get%-%d+$" }), true)
  H.eq(matches(msg({ Action = "GET-X" }), { Action = "[a-z]+%-[x]" }), true, "sets and ranges in both cases")
  H.eq(matches(msg({ Action = "Credit-Notice" }), { Action = "Credit-Notice" }), true, "'-' alone is not a pattern")
  H.eq(matches(msg({ Action = "CreditXNotice" }), { Action = "Credit-Notice" }), false)
  H.eq(matches(msg({ Action = "a.b" }), { Action = "a.b" }), true)
end)

H.test("caseInsensitivePattern keeps escapes and %b", function()
  local ci = p:run("return Utils.caseInsensitivePattern")
  H.eq(ci("ab"), "[aA][bB]")
  H.eq(ci("%a+x"), "%a+[xX]")
  H.eq(ci("[a-c]"), "[a-cA-C]")
  H.eq(ci("%bxy"), "%bxy")
  H.eq(ci("[^q]"), "[^qQ]")
end)

H.test("spec value: list of alternatives", function()
  local spec = { Action = { "Balance", "Balances", function(v) return v == "Info" end } }
  H.eq(matches(msg({ Action = "Balance" }), spec), true)
  H.eq(matches(msg({ Action = "balances" }), spec), true)
  H.eq(matches(msg({ Action = "Info" }), spec), true)
  H.eq(matches(msg({ Action = "Transfer" }), spec), false)
end)

H.test("spec value: non-strings compare by equality; nested tables match sub-specs", function()
  H.eq(matches(msg({ Cron = true }), { Cron = true }), true)
  H.eq(matches(msg({ Cron = false }), { Cron = true }), false)
  H.eq(matches(msg({ Tags = { Action = "X" } }), { Tags = { Action = "x" } }), true)
end)

H.test("Handlers.utils patterns", function()
  local m = msg({ Tags = { Action = "Ping", Kind = "b" }, Data = "hello" })
  H.eq(utils_hm.hasMatchingTag("Action", "Ping")(m), true)
  H.eq(utils_hm.hasMatchingTag("Action", "Pong")(m), false)
  H.eq(utils_hm.hasMatchingTagOf("Kind", { "a", "b" })(m), true)
  H.eq(utils_hm.hasMatchingTagOf("Kind", { "a", "c" })(m), false)
  H.eq(utils_hm.hasMatchingData("hello")(m), true)
  H.eq(utils_hm.hasMatchingData("bye")(m), false)
  H.eq(utils_hm.continue(utils_hm.hasMatchingTag("Action", "Ping"))(m), "continue")
  H.eq(utils_hm.continue(utils_hm.hasMatchingTag("Action", "Pong"))(m), false)
  H.eq(utils_hm.continue({ Action = "_" })(msg({ Action = "x" })), "continue")
end)

H.test("patterns drive handlers end to end", function()
  local q = H.spawn()
  q:eval([[
    Handlers.add('credit', { Action = '^Credit', Quantity = '_' }, function(m) Credited = m.Quantity end)
    Handlers.add('logger', Handlers.utils.continue({ Action = '_' }), function(m) Logged = (Logged or 0) + 1 end)
    Handlers.add('data', Handlers.utils.hasMatchingData('ping'), Handlers.utils.reply('pong'))
  ]])
  q:send({ from = H.id("bob"), action = "Credit-Notice", tags = { { "Quantity", "5" } } })
  H.eq(q:get("Credited"), "5")
  local r = q:send({ from = H.id("bob"), action = "X", data = "ping" })
  H.eq(q:get("Logged"), 1)
  H.eq(#r.Messages, 1)
  H.eq(r.Messages[1].Data, "pong")
  H.eq(r.Messages[1].Target, H.id("bob"))
end)

H.done("patterns")
