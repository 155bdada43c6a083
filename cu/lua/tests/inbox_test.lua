-- The Inbox cap (LUA-PROCESS.md §2): newest last, at most 10,000.
local H = require("harness")

H.test("Inbox keeps the newest 10,000 messages", function()
  local p = H.spawn()
  local BOB = H.id("bob")
  for i = 1, 10005 do
    p:send({ from = BOB, action = "Fill", tags = { { "N", tostring(i) } } })
  end
  local inbox = p:get("Inbox")
  H.eq(#inbox, 10000)
  H.eq(inbox[1].N, "6", "the oldest were dropped")
  H.eq(inbox[#inbox].N, "10005", "newest last")
  H.eq(H.plain(p.last.Output.prompt), "aos@aos-2.0.4[Inbox:10000]> ")
end)

H.done("inbox")
