-- astrocyte.mcp: the Model Context Protocol server over an engine — JSON-RPC
-- 2.0 messages in, responses out, transport-free (astrocyte.mcp.stdio and
-- astrocyte.mcp.http carry the bytes). Implements the lifecycle
-- (initialize with version negotiation, notifications/initialized, ping)
-- and tools (tools/list, tools/call) of MCP 2025-11-25, also answering
-- clients of the older versions listed in VERSIONS. No resources, prompts
-- or server-initiated messages, as in the reference (surfaces.md §1).
--
--   local server = assert(require("astrocyte.mcp").new(engine, opts))
--   local resp = server:handle(msg, ctx)   -- response table, or nil for notifications
--
-- opts: {config = the `mcp:` block (default engine.cfg.mcp), default_bank_id
-- (overrides mcp.default_bank_id), log = function(line), sessions = a
-- lua_shared_dict for the HTTP transport's sessions}. ctx: {principal
-- (the caller's identity; default mcp.principal), session (a table the
-- transport keeps per client)}.
--
-- Errors: a bad or failed tool call is a result with isError = true whose
-- text is JSON {error = kind, message, field?, bank_id?, retry_after?} —
-- the message only for kinds about the request itself (validation, access,
-- rate limits, config); storage and internal failures say only their kind
-- and are logged, keeping the reference's no-leak rule. Protocol errors are
-- JSON-RPC errors: -32700 parse, -32600 invalid request, -32601 unknown
-- method, -32602 invalid params (an unknown tool among them).
local errors = require "astrocyte.errors"
local http = require "astrocyte.http"
local tools = require "astrocyte.mcp.tools"
local type, ipairs, fmt, tostring, pcall = type, ipairs, string.format, tostring, pcall

local _M = {}
local mt = { __index = _M }

-- Protocol versions answered, newest first. initialize gets the client's
-- version when listed here, else the newest.
_M.VERSIONS = { "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05" }
_M.LATEST = _M.VERSIONS[1]
local SUPPORTED = {}
for _, v in ipairs(_M.VERSIONS) do SUPPORTED[v] = true end

-- True when this server speaks protocol version v.
function _M.supported(v) return SUPPORTED[v] == true end

_M.PARSE_ERROR, _M.INVALID_REQUEST, _M.METHOD_NOT_FOUND, _M.INVALID_PARAMS, _M.INTERNAL_ERROR =
  -32700, -32600, -32601, -32602, -32603

local null = http.null
local INSTRUCTIONS = "Long-term memory. Use memory_recall before answering questions about the user or past work, "
  .. "memory_retain to store durable facts, memory_reflect for a synthesized answer, memory_forget to delete."

-- Kinds whose message is about the caller's own request, so it is shown.
local SHOWN = { ValidationError = true, ConfigError = true, AccessDenied = true, RateLimited = true,
                PiiRejected = true, LegalHoldActive = true, CapabilityNotSupported = true, QuotaExceeded = true }

-- new(engine, opts) → server | nil, ConfigError.
function _M.new(engine, opts)
  opts = opts or {}
  if type(engine) ~= "table" then error("astrocyte.mcp.new: engine expected", 2) end
  local mcfg, err = tools.config(opts.config or (engine.cfg and engine.cfg.mcp))
  if not mcfg then return nil, err end
  if opts.default_bank_id ~= nil then mcfg.default_bank_id = opts.default_bank_id end
  local list, by_name = tools.exposed(mcfg)
  local catalogue = {}
  for i, t in ipairs(list) do
    catalogue[i] = { name = t.name, description = t.description, inputSchema = tools.input_schema(t, http.object) }
  end
  return setmetatable({ engine = engine, config = mcfg, tools = by_name, catalogue = catalogue,
                        log = opts.log or function() end, sessions = opts.sessions }, mt)
end

local function response(id, result) return { jsonrpc = "2.0", id = id, result = result } end

-- A JSON-RPC error response (id null when the request's id is unknown).
function _M.error_response(id, code, message, data)
  if id == nil then id = null end
  return { jsonrpc = "2.0", id = id, error = { code = code, message = message, data = data } }
end
local rpc_error = _M.error_response

-- decode(text) → message table, or nil and the error response to send.
-- Batches (JSON arrays) were removed from MCP in 2025-06-18: refused.
function _M.decode(text)
  local msg = http.decode(text)
  if msg == nil then return nil, rpc_error(nil, _M.PARSE_ERROR, "Parse error: the message is not valid JSON") end
  if type(msg) ~= "table" then
    return nil, rpc_error(nil, _M.INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
  end
  if msg[1] ~= nil or (next(msg) == nil and text:match("^%s*%[")) then
    return nil, rpc_error(nil, _M.INVALID_REQUEST, "Invalid Request: JSON-RPC batches are not supported")
  end
  return msg
end

-- encode(resp) → JSON text.
function _M.encode(resp)
  return assert(http.encode(resp))
end

-- The result of a tool call: JSON text in one text content block.
local function tool_result(value, is_error)
  return { content = { { type = "text", text = _M.encode(value) } }, isError = is_error or nil }
end

-- The isError result for an error object; hidden kinds are logged instead.
function _M:tool_error(name, err)
  if not errors.is(err) then err = errors.wrap("InternalError", err) end
  local out = { error = err.kind, field = err.field or err.key_path, bank_id = err.bank_id,
                retry_after = err.retry_after or err.retry_after_seconds }
  if SHOWN[err.kind] then
    out.message = err.message
  else
    out.message = err.kind .. " in " .. name .. " (details are in the server log)"
    self.log(fmt("tool %s failed: %s", name, tostring(err)))
  end
  return tool_result(out, true)
end

-- Runs one tool for the principal; returns the CallToolResult.
function _M:call_tool(tool, raw, principal)
  local a, err = tools.args(tool, raw, null, self.config)
  if not a then return self:tool_error(tool.name, err) end
  local eng; eng, err = self.engine:with_context({ principal = principal })
  if not eng then return self:tool_error(tool.name, err) end
  local ok, res, rerr = pcall(tool.run, eng, a, self.config, principal)
  if not ok then return self:tool_error(tool.name, errors.wrap("InternalError", res)) end
  if res == nil then return self:tool_error(tool.name, rerr) end
  return tool_result(res)
end

local methods = {}

function methods:initialize(p, ctx)
  if type(p.protocolVersion) ~= "string" then
    return nil, "params.protocolVersion must be a string"
  end
  local version = SUPPORTED[p.protocolVersion] and p.protocolVersion or _M.LATEST
  if ctx.session then
    ctx.session.protocol_version = version
    ctx.session.client = type(p.clientInfo) == "table" and p.clientInfo.name or nil
  end
  return { protocolVersion = version, capabilities = { tools = { listChanged = false } },
           serverInfo = { name = "astrocyte-memory", title = "Astrocyte memory", version = require("astrocyte").VERSION },
           instructions = INSTRUCTIONS }
end

function methods.ping() return http.object() end

methods["tools/list"] = function(self, p)
  -- Everything fits in one page, so no cursor this server issued exists.
  if p.cursor ~= nil and p.cursor ~= null then return nil, "params.cursor: unknown cursor (this server does not page)" end
  return { tools = self.catalogue }
end

methods["tools/call"] = function(self, p, ctx)
  if type(p.name) ~= "string" then return nil, "params.name must be a string" end
  local tool = self.tools[p.name]
  if not tool then return nil, "Unknown tool: " .. p.name end
  local args = p.arguments
  if args == nil or args == null then args = {} end
  if type(args) ~= "table" or (next(args) ~= nil and args[1] ~= nil) then
    return nil, "params.arguments must be an object"
  end
  return self:call_tool(tool, args, ctx.principal or self.config.principal)
end

-- Notifications this server understands; all others are ignored, as
-- JSON-RPC requires (a notification never gets a response).
local notifications = {
  ["notifications/initialized"] = function(_, ctx) if ctx.session then ctx.session.initialized = true end end,
  ["notifications/cancelled"] = function() end,   -- every call finishes before the next is read
}

-- server:handle(msg, ctx) → response table, or nil (notifications, and
-- responses a client sends, need none).
function _M:handle(msg, ctx)
  ctx = ctx or {}
  if type(msg) ~= "table" then return rpc_error(nil, _M.INVALID_REQUEST, "Invalid Request: a message must be a JSON object") end
  local id = msg.id
  local id_ok = type(id) == "string" or (type(id) == "number" and id == math.floor(id))
  if msg.jsonrpc ~= "2.0" then
    return rpc_error(id_ok and id or nil, _M.INVALID_REQUEST, 'Invalid Request: jsonrpc must be "2.0"')
  end
  if msg.method == nil and id ~= nil and (msg.result ~= nil or msg.error ~= nil) then
    return nil -- a response to a request this server never sends
  end
  if type(msg.method) ~= "string" then
    return rpc_error(id_ok and id or nil, _M.INVALID_REQUEST, "Invalid Request: method must be a string")
  end
  if id == nil then
    local fn = notifications[msg.method]
    if fn then fn(self, ctx) end
    return nil
  end
  if not id_ok then
    return rpc_error(nil, _M.INVALID_REQUEST, "Invalid Request: id must be a string or an integer")
  end
  local fn = methods[msg.method]
  if not fn then return rpc_error(id, _M.METHOD_NOT_FOUND, "Method not found: " .. msg.method) end
  local s = ctx.session
  if s and not s.protocol_version and msg.method ~= "initialize" and msg.method ~= "ping" then
    return rpc_error(id, _M.INVALID_REQUEST, "Invalid Request: send initialize first")
  end
  local p = msg.params
  if p == nil or p == null then p = {} end
  if type(p) ~= "table" or (next(p) ~= nil and p[1] ~= nil) then
    return rpc_error(id, _M.INVALID_PARAMS, "Invalid params: params must be an object")
  end
  local ok, res, why = pcall(fn, self, p, ctx)
  if not ok then
    self.log(fmt("%s failed: %s", msg.method, tostring(res)))
    return rpc_error(id, _M.INTERNAL_ERROR, "Internal error (details are in the server log)")
  end
  if res == nil then return rpc_error(id, _M.INVALID_PARAMS, "Invalid params: " .. tostring(why)) end
  return response(id, res)
end

return _M
