-- .assignment: which assignments a process accepts (LUA-PROCESS.md §1.7).
-- Owns: the `ao.assignables` list and ao.addAssignable / removeAssignable / isAssignment /
-- isAssignable. A message whose Target is another process reached us by assignment; it is
-- handled only when it matches one of the specs added here.

local utils = require(".utils")

local assignment = {}

function assignment.init(ao)
  ao.assignables = ao.assignables or {}

  --- `ao.addAssignable([name,] spec)`: accept assignments matching `spec` (a handler pattern).
  --- Adding an existing name replaces its spec.
  function ao.addAssignable(a, b)
    local name, spec = a, b
    if b == nil then name, spec = nil, a end
    local ts = type(spec)
    assert(ts == "function" or ts == "string" or ts == "table",
      "ao.addAssignable: spec must be a function, a string or a table")
    if name ~= nil then
      for _, entry in ipairs(ao.assignables) do
        if entry.name == name then entry.pattern = spec; return #ao.assignables end
      end
    end
    table.insert(ao.assignables, { name = name, pattern = spec })
    return #ao.assignables
  end

  --- Removes an assignable by name or by position.
  function ao.removeAssignable(key)
    if math.type(key) == "integer" then
      assert(ao.assignables[key], "ao.removeAssignable: no assignable at index " .. key)
      table.remove(ao.assignables, key)
      return
    end
    for i, entry in ipairs(ao.assignables) do
      if entry.name == key then table.remove(ao.assignables, i); return end
    end
    error("ao.removeAssignable: no assignable named '" .. tostring(key) .. "'", 2)
  end

  --- True when `msg` was not addressed to this process (it arrived by assignment).
  function ao.isAssignment(msg)
    return msg.Target ~= nil and msg.Target ~= ao.id
  end

  --- True when `msg` matches one of the assignable specs.
  function ao.isAssignable(msg)
    for _, entry in ipairs(ao.assignables) do
      local r = utils.matchesSpec(msg, entry.pattern)
      if r and r ~= 0 and r ~= "skip" then return true end
    end
    return false
  end
end

return assignment
