-- chatroom: members register, then every Broadcast reaches every member.
-- Register / Unregister with Action = "Register" / "Unregister"; Broadcast with
-- Action = "Broadcast" and the text as Data. Members receive Action = "Broadcasted" messages.

Members = Members or {}

local function is_member(address)
  for i, m in ipairs(Members) do
    if m == address then return i end
  end
  return nil
end

Handlers.add("register", "Register", function(msg)
  if is_member(msg.From) then
    return msg.reply({ Action = "Register-Error", Data = "Already registered" })
  end
  table.insert(Members, msg.From)
  print("Registered " .. msg.From)
  msg.reply({ Action = "Registered", Data = "Registered" })
end)

Handlers.add("unregister", "Unregister", function(msg)
  local i = is_member(msg.From)
  if i then table.remove(Members, i) end
  msg.reply({ Action = "Unregistered", Data = "Unregistered" })
end)

Handlers.add("broadcast", "Broadcast", function(msg)
  if not is_member(msg.From) then
    return msg.reply({ Action = "Broadcast-Error", Data = "Register first" })
  end
  for _, member in ipairs(Members) do
    if member ~= msg.From then
      ao.send({ Target = member, Action = "Broadcasted", Broadcaster = msg.From, Data = msg.Data })
    end
  end
  msg.reply({ Action = "Broadcast-Notice", Data = "Broadcasted to " .. (#Members - 1) .. " members" })
end)
