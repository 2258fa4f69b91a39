-- astrocyte.mcp.http: the MCP Streamable HTTP transport (MCP 2025-11-25,
-- "Transports"), pure Lua with no ngx dependency: the gateway mounts it at
-- /mcp and hands each request over.
--
--   local status, headers, body = require("astrocyte.mcp.http").handle(server, req)
--   -- req = {method =, headers = {lowercased name = value}, body =, principal =}
--
-- POST carries one JSON-RPC message: a request gets 200 application/json
-- with its response; a notification (or a client's response) gets 202 and
-- no body. initialize opens a session: its response carries an
-- Mcp-Session-Id header, which every later request must send (400 without
-- it, 404 for one that is unknown, ended or expired — the client then
-- initializes again). DELETE ends a session. This server sends no
-- server-initiated messages, so GET (the SSE stream) is 405.
--
-- A session is bound to the principal that opened it (req.principal, from
-- the gateway's auth; nil when it has none, and the tools then act as
-- mcp.principal): another principal presenting its id gets 404. Origin, when
-- sent, must be a loopback origin or listed in mcp.allowed_origins (403
-- otherwise), against DNS rebinding.
--
-- Sessions live in server.sessions: a lua_shared_dict passed to
-- astrocyte.mcp.new as opts.sessions (shared by nginx workers), else a
-- table in the server object — inside nginx each worker then has its own
-- sessions, so a multi-worker gateway should pass a shared dict.
local http = require "astrocyte.http"
local mcp = require "astrocyte.mcp"
local type, tostring, fmt, pairs, ipairs = type, tostring, string.format, pairs, ipairs

local _M = {}

_M.IDLE_SECONDS = 3600     -- a session unused this long is gone
_M.MAX_SESSIONS = 10000    -- per table store; past it, expired ones are swept, then 503

-- A table store with the get/set/delete of ngx.shared.DICT (values expire
-- after exptime seconds).
local function table_store()
  local data, count = {}, 0
  local store = {}
  function store.get(_, k)
    local e = data[k]
    if not e then return nil end
    if e.exp <= os.time() then data[k] = nil; count = count - 1; return nil end
    return e.v
  end
  function store.set(_, k, v, exptime)
    if not data[k] then
      if count >= _M.MAX_SESSIONS then
        local now = os.time()
        for key, e in pairs(data) do if e.exp <= now then data[key] = nil; count = count - 1 end end
        if count >= _M.MAX_SESSIONS then return false, "no memory" end
      end
      count = count + 1
    end
    data[k] = { v = v, exp = os.time() + exptime }
    return true
  end
  function store.delete(_, k)
    if data[k] then data[k] = nil; count = count - 1 end
  end
  return store
end

local function sessions(server)
  local s = server.sessions
  if not s then s = table_store(); server.sessions = s end
  return s
end

-- 16 random bytes from the kernel as 32 hex digits (session ids must not
-- be guessable).
local function new_session_id()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(16)
  if f then f:close() end
  if not bytes or #bytes ~= 16 then return nil end
  return (bytes:gsub(".", function(c) return fmt("%02x", c:byte()) end))
end

local function json_headers() return { ["content-type"] = "application/json" } end

local function json_error(status, code, message, extra)
  local h = json_headers()
  for k, v in pairs(extra or {}) do h[k] = v end
  return status, h, mcp.encode(mcp.error_response(nil, code, message))
end

-- True when the Accept header lists the media type (or a wildcard for it).
local function accepts(accept, media)
  local major = media:match("^([^/]+)/")
  for part in accept:gmatch("[^,]+") do
    local m = part:match("^%s*([^;%s]+)"):lower()
    if m == media or m == "*/*" or m == major .. "/*" then return true end
  end
  return false
end

local function loopback_origin(origin)
  local host = origin:match("^https?://([^/]+)$")
  if not host then return false end
  host = host:gsub(":%d+$", "")
  return host == "localhost" or host == "127.0.0.1" or host == "[::1]"
end

local function origin_ok(server, origin)
  if origin == nil or loopback_origin(origin) then return true end
  for _, o in ipairs(server.config.allowed_origins or {}) do
    if o == origin then return true end
  end
  return false
end

-- The session a request names, or nil and the error response to send.
local function find_session(server, req)
  local sid = req.headers["mcp-session-id"]
  if sid == nil or sid == "" then
    return nil, { json_error(400, mcp.INVALID_REQUEST, "Bad Request: the Mcp-Session-Id header is required (send initialize first)") }
  end
  local raw = sessions(server):get(sid)
  local s = raw and http.decode(raw)
  if not s or s.principal ~= (req.principal or "") then
    return nil, { json_error(404, mcp.INVALID_REQUEST, "Session not found: initialize a new session") }
  end
  return s, nil, sid
end

local function save(server, sid, s)
  return sessions(server):set(sid, mcp.encode(s), _M.IDLE_SECONDS)
end

local function post(server, req)
  local accept = req.headers.accept or ""
  if not (accepts(accept, "application/json") and accepts(accept, "text/event-stream")) then
    return json_error(406, mcp.INVALID_REQUEST, "Not Acceptable: Accept must list application/json and text/event-stream")
  end
  local ctype = (req.headers["content-type"] or ""):match("^%s*([^;%s]+)")
  if not ctype or ctype:lower() ~= "application/json" then
    return json_error(415, mcp.INVALID_REQUEST, "Unsupported Media Type: the body must be application/json")
  end
  local msg, derr = mcp.decode(req.body or "")
  if not msg then return 400, json_headers(), mcp.encode(derr) end
  local ctx = { principal = req.principal }
  if msg.method == "initialize" and msg.id ~= nil then
    local s = { principal = req.principal or "" }
    ctx.session = s
    local resp = server:handle(msg, ctx)
    if resp.error then return 200, json_headers(), mcp.encode(resp) end
    local sid = new_session_id()
    if not sid then return json_error(500, mcp.INTERNAL_ERROR, "cannot read /dev/urandom for a session id") end
    if not save(server, sid, s) then
      return json_error(503, mcp.INTERNAL_ERROR, "too many open MCP sessions; try again later")
    end
    local h = json_headers()
    h["mcp-session-id"] = sid
    return 200, h, mcp.encode(resp)
  end
  local s, errs, sid = find_session(server, req)
  if not s then return errs[1], errs[2], errs[3] end
  local pv = req.headers["mcp-protocol-version"]
  if pv ~= nil and pv ~= s.protocol_version and not mcp.supported(pv) then
    return json_error(400, mcp.INVALID_REQUEST, "Bad Request: unsupported MCP-Protocol-Version " .. tostring(pv))
  end
  ctx.session = s
  local resp = server:handle(msg, ctx)
  save(server, sid, s)     -- keeps it alive, and records notifications/initialized
  if resp == nil then return 202, {}, "" end
  return 200, json_headers(), mcp.encode(resp)
end

-- handle(server, req) → status, headers (lowercased names), body.
function _M.handle(server, req)
  if type(req) ~= "table" or type(req.headers) ~= "table" then
    error("astrocyte.mcp.http.handle: req {method, headers, body, principal} expected", 2)
  end
  -- A repeated header may come as a list (ngx.req.get_headers): one value.
  local headers = {}
  for k, v in pairs(req.headers) do
    headers[k] = type(v) == "table" and table.concat(v, ", ") or v
  end
  req = { method = req.method, headers = headers, body = req.body, principal = req.principal }
  if not origin_ok(server, req.headers.origin) then
    return json_error(403, mcp.INVALID_REQUEST, "Forbidden: Origin " .. tostring(req.headers.origin) .. " is not allowed")
  end
  local method = req.method
  if method == "POST" then return post(server, req) end
  if method == "DELETE" then
    local s, errs, sid = find_session(server, req)
    if not s then return errs[1], errs[2], errs[3] end
    sessions(server):delete(sid)
    return 204, {}, ""
  end
  local allow = { allow = "POST, DELETE" }
  if method == "GET" then
    return json_error(405, mcp.INVALID_REQUEST, "Method Not Allowed: this server offers no SSE stream", allow)
  end
  return json_error(405, mcp.INVALID_REQUEST, "Method Not Allowed: use POST", allow)
end

return _M
