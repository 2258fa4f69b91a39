-- spec/support/output.lua: what a spec shows of a helper process that
-- failed. The error is at the end of its output, and one line may be a whole
-- minified bundle from a stack trace, so failures report the last lines,
-- each cut to a readable length.
local _M = {}

-- tail(text, n = 12, width = 300) → the last n lines of text, each at most
-- width bytes (a cut line says how much was cut).
function _M.tail(text, n, width)
  n, width = n or 12, width or 300
  local lines = {}
  for line in (text or ""):gmatch("[^\n]+") do
    if #line > width then line = line:sub(1, width) .. " [... " .. (#line - width) .. " bytes cut]" end
    lines[#lines + 1] = line
  end
  return table.concat(lines, "\n", math.max(1, #lines - n + 1))
end

return _M
