-- spec/support/mcp_client.lua: runs tools/mcp-client/client.mjs (the
-- official MCP TypeScript SDK client) on a plan and returns what it printed.
--
--   local mcp_client = require "support.mcp_client"
--   local out = mcp_client.run({ transport = "stdio", args = {...}, steps = {...} })
--   local out = mcp_client.run({ transport = "http", url = ..., headers = {...}, steps = {...} })
--   mcp_client.tool_json(out.steps[2])   -- the decoded JSON text of a tool result
--
-- stdio plans spawn bin/astrocyte (on the spec's own runtime) with plan.args
-- unless plan.command is given. ASTRO_NODE names another node binary (to
-- run the specs on Node 18 and Node 20).
local nginx = require "support.nginx"
local util = require "astrocyte.util"

local _M = {}

_M.SOURCE_DIR, _M.BUILD_DIR = nginx.SOURCE_DIR, nginx.BUILD_DIR
_M.DIR = nginx.SOURCE_DIR .. "/tools/mcp-client"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Raises (failing the spec, saying why) when node or the SDK is missing.
function _M.require_sdk()
  local f = io.open(_M.DIR .. "/node_modules/@modelcontextprotocol/sdk/package.json", "rb")
  if f then f:close(); return end
  error("the MCP SDK client is not installed: run scripts/setup --test (npm ci in tools/mcp-client)")
end

-- run(plan) → the decoded output of the client (raises if it printed no JSON).
function _M.run(plan)
  _M.require_sdk()
  if plan.transport == "stdio" and not plan.command then
    plan.command = nginx.SOURCE_DIR .. "/bin/astrocyte"
    plan.env = plan.env or {}
    plan.env.ASTRO_BUILD_DIR = nginx.BUILD_DIR
    plan.env.ASTRO_LUA = jit and "luajit" or "lua5.4"
  end
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(assert(util.encode(plan)))
  f:close()
  local err_path = path .. ".err"
  local p = assert(io.popen(q(os.getenv("ASTRO_NODE") or "node") .. " " .. q(_M.DIR .. "/client.mjs") .. " " .. q(path) .. " 2>" .. q(err_path), "r"))
  local out = p:read("*a")
  p:close()
  local ef = io.open(err_path, "rb")
  local stderr = ef and ef:read("*a") or ""
  if ef then ef:close() end
  os.remove(path); os.remove(err_path)
  local v = util.json.decode(out)
  assert(type(v) == "table", "the MCP client printed no JSON:\n" .. out .. "\nstderr:\n" .. stderr)
  v.stderr = stderr
  return v
end

-- The decoded JSON text of a successful tool call step, and its isError.
function _M.tool_json(step)
  assert(step.ok, step.error and step.error.message)
  local content = step.result.content
  assert(content[1].type == "text", "tool result is not text")
  return assert(util.json.decode(content[1].text)), step.result.isError == true
end

-- The names of the tools a list step returned.
function _M.names(step)
  assert(step.ok, step.error and step.error.message)
  local out = {}
  for i, t in ipairs(step.result.tools) do out[i] = t.name end
  return out
end

return _M
