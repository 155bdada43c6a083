-- lua-examples/chatroom: users and processes register, broadcasts reach every other member.
local H = require("harness")

local ALICE, BOB, CAROL = H.id("alice"), H.id("bob"), H.id("carol")

local function room()
  local p = H.spawn({ name = "chat" })
  assert(not p:eval(H.read_text("lua-examples/chatroom/chatroom.lua")).Error)
  return p
end

local function actions(r)
  local out = {}
  for i, m in ipairs(r.Messages) do out[i] = H.tag(m, "Action") .. "->" .. m.Target end
  return out
end

H.test("register, then broadcast to the others", function()
  local p = room()
  for _, who in ipairs({ ALICE, BOB, CAROL }) do
    H.same(actions(p:send({ from = who, action = "Register" })), { "Registered->" .. who })
  end
  local r = p:send({ from = BOB, action = "Broadcast", data = "hello all" })
  H.same(actions(r), { "Broadcasted->" .. ALICE, "Broadcasted->" .. CAROL, "Broadcast-Notice->" .. BOB })
  H.eq(r.Messages[1].Data, "hello all")
  H.eq(H.tag(r.Messages[1], "Broadcaster"), BOB)
end)

H.test("double registration, unregister, strangers cannot broadcast", function()
  local p = room()
  p:send({ from = ALICE, action = "Register" })
  H.same(actions(p:send({ from = ALICE, action = "Register" })), { "Register-Error->" .. ALICE })
  H.same(actions(p:send({ from = BOB, action = "Broadcast", data = "x" })), { "Broadcast-Error->" .. BOB })
  p:send({ from = ALICE, action = "Unregister" })
  H.eq(#p:get("Members"), 0)
end)

H.test("member processes receive broadcasts through the MU", function()
  local net = H.network()
  local chat = net:spawn({ id = H.id("chat-process") })
  chat:eval(H.read_text("lua-examples/chatroom/chatroom.lua"))
  local members = {}
  for i = 1, 3 do
    local m = net:spawn({ id = H.id("member-" .. i) })
    m:eval("Handlers.add('said', 'Broadcasted', function(msg) Heard = (Heard or '') .. msg.Data end)")
    net:crank(m, m:eval("Send({ Target = '" .. chat.id .. "', Action = 'Register' })"))
    members[i] = m
  end
  H.eq(#chat:get("Members"), 3)
  net:crank(members[1], members[1]:eval("Send({ Target = '" .. chat.id .. "', Action = 'Broadcast', Data = 'hi' })"))
  H.eq(members[1]:get("Heard"), nil)
  H.eq(members[2]:get("Heard"), "hi")
  H.eq(members[3]:get("Heard"), "hi")
end)

H.done("chatroom")
