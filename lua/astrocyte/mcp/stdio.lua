-- astrocyte.mcp.stdio: the MCP stdio transport. One JSON-RPC message per
-- line on stdin, one response per line on stdout (messages carry no raw
-- newlines: JSON escapes them); stdout carries nothing else, logs go to
-- stderr. The connection is one session: requests other than initialize
-- and ping are refused until initialize has been answered. Returns when
-- stdin ends (the client closing it is how a stdio session ends).
local mcp = require "astrocyte.mcp"

local _M = {}

-- run(server, opts) → number of messages read. opts: {input = file (io.stdin),
-- output = file (io.stdout), principal = the caller's identity}.
function _M.run(server, opts)
  opts = opts or {}
  local input, output = opts.input or io.stdin, opts.output or io.stdout
  local ctx = { session = {}, principal = opts.principal }
  local n = 0
  for line in input:lines() do
    if line:find("%S") then
      n = n + 1
      local msg, resp = mcp.decode(line)
      if msg then resp = server:handle(msg, ctx) end
      if resp then
        output:write(mcp.encode(resp), "\n")
        output:flush()
      end
    end
  end
  return n
end

return _M
