-- astrocyte.serve.app: the gateway inside nginx. init(settings) runs once in
-- the master (init_by_lua: loads the code), init_worker() in each worker
-- (opens that worker's engine: a SQLite handle must not cross fork(); a
-- failed open is retried at most once a second, on the next request), and
-- handle() answers every request: route lookup, body limits and JSON
-- decoding, authentication, the per-principal rate limit, the route's
-- handler, a JSON reply, and the request metrics. Errors are JSON
-- ({detail, error: {kind, message, ...}}, astrocyte.serve.http_errors).
local astrocyte = require "astrocyte"
local auth_mod = require "astrocyte.serve.auth"
local http_errors = require "astrocyte.serve.http_errors"
local gw_metrics = require "astrocyte.serve.metrics"
local limiter_shdict = require "astrocyte.policy.limiter_shdict"
local routes = require "astrocyte.serve.routes"
local util = require "astrocyte.util"
local errors = require "astrocyte.errors"
local type, tostring, pcall = type, tostring, pcall
-- luacheck: globals ngx (handlers set ngx.status and ngx.header fields)

local _M = {}

local S                          -- settings (astrocyte.serve.config.settings)
local engine, open_err, retry_at
local auth, auth_err
local limiter, principal_limiter

-- init(settings_json): in init_by_lua.
function _M.init(json_text)
  local s, err = util.json.decode(json_text)
  if type(s) ~= "table" then error("astrocyte serve: bad settings: " .. tostring(err)) end
  S = s
end

local function open_engine()
  local e, err = astrocyte.open(S.config, { db = S.db, policy = { backend = limiter } })
  if not e then
    retry_at = ngx.now() + 1
    open_err = errors.is(err) and err or errors.storage(tostring(err))
    ngx.log(ngx.ERR, "astrocyte: cannot open the engine (retrying in 1 s): ", tostring(err))
    return nil
  end
  engine, open_err = e, nil
  return e
end

-- init_worker(): in init_worker_by_lua.
function _M.init_worker()
  limiter = limiter_shdict.new(ngx.shared[S.limits_dict])
  principal_limiter = limiter
  auth, auth_err = auth_mod.new(S.listen, os.getenv, S.auth)
  if not auth then ngx.log(ngx.ERR, "astrocyte: ", tostring(auth_err)) end
  local ok, err = pcall(open_engine)
  if not ok then
    open_err, retry_at = errors.storage(tostring(err)), ngx.now() + 1
    ngx.log(ngx.ERR, "astrocyte: engine open raised: ", tostring(err))
  end
end

-- The worker's engine (opened again when the last try is a second old).
function _M.engine()
  if not engine and ngx.now() >= (retry_at or 0) then open_engine() end
  return engine
end

function _M.engine_error()
  return open_err or http_errors.new("NotReady", "the engine is not open yet")
end

function _M.metrics_text()
  return gw_metrics.render(ngx.shared[S.metrics_dict])
end

local function send(status, body, ctype, raw, extra_headers)
  ngx.status = status
  ngx.header["Content-Type"] = ctype or "application/json"
  ngx.header["Cache-Control"] = "no-store"
  -- X-Request-ID: the caller's (one short token), else nginx's own $request_id
  local rid = ngx.var.http_x_request_id
  if type(rid) ~= "string" or #rid > 128 or not rid:match("^[%w%-_.:]+$") then rid = ngx.var.request_id end
  ngx.header["X-Request-ID"] = rid
  for k, v in pairs(extra_headers or {}) do ngx.header[k] = v end
  if raw == nil then
    raw = util.encode(body)
    if not raw then raw = '{"detail":"response could not be encoded","error":{"kind":"InternalError"}}' end
  end
  if ngx.req.get_method() ~= "HEAD" then ngx.print(raw) end
  return status
end

-- Sends an error object as JSON; → status.
local function send_error(err, extra_headers)
  local status, body, retry = http_errors.body(err)
  extra_headers = extra_headers or {}
  if retry then extra_headers["Retry-After"] = tostring(retry) end
  if status == 401 then extra_headers["WWW-Authenticate"] = auth and auth.mode ~= "dev" and auth.mode ~= "api_key" and "Bearer" or nil end
  return send(status, body, nil, nil, extra_headers)
end
_M.send_error = send_error

-- Reads and decodes the JSON body of a POST → table | nil, err.
local function read_json()
  local ctype = ngx.var.content_type
  if ctype and not ctype:lower():find("^application/json") and not ctype:lower():find("+json", 1, true) then
    return nil, http_errors.new("UnsupportedMediaType", "request body must be application/json, got " .. ctype)
  end
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if data == nil then
    local file = ngx.req.get_body_file()
    if file then
      local f = io.open(file, "rb")
      if f then data = f:read("*a"); f:close() end
    end
  end
  if data == nil or data == "" then return nil, errors.validation("request body is empty; send a JSON object", { field = "body" }) end
  local v, derr = util.json.decode(data)
  if v == nil then return nil, errors.validation("request body is not valid JSON: " .. tostring(derr), { field = "body" }) end
  if type(v) ~= "table" or (next(v) ~= nil and util.is_array(v)) then
    return nil, errors.validation("request body must be a JSON object", { field = "body" })
  end
  return v
end

-- The per-principal rate limit (S.rate_limit per minute; 0 = off). The key
-- is the principal, or the client address for an anonymous caller.
local function rate_check(ctx)
  local per_minute = S.rate_limit or 0
  if per_minute <= 0 then return true end
  local who = ctx and ctx.principal or ("ip:" .. tostring(ngx.var.remote_addr))
  local ok, retry = principal_limiter:check("gw:" .. who, per_minute, ngx.now())
  if ok then return true end
  if ok == nil then return nil, errors.storage("rate limiter failed: " .. tostring(retry)) end
  gw_metrics.rate_limited(ngx.shared[S.metrics_dict])
  return nil, errors.new("RateLimited", "rate limit of " .. per_minute .. " requests a minute exceeded for " .. who,
                         { retry_after = retry })
end

-- Runs the route for this request; → status.
local function dispatch(route, method)
  local headers = ngx.req.get_headers(64)
  local ctx = false
  if route.auth ~= "none" then
    if not auth then return send_error(auth_err) end
    local err
    ctx, err = auth:authenticate(headers)
    if ctx == nil then
      gw_metrics.auth_failed(ngx.shared[S.metrics_dict], auth.mode)
      return send_error(err)
    end
    if route.auth == "admin" then
      local ok; ok, err = auth:admin(headers)
      if not ok then return send_error(err) end
    end
    local ok; ok, err = rate_check(ctx)
    if not ok then return send_error(err) end
  end
  local body = {}
  if route.body then
    local raw, err = read_json()
    if not raw then return send_error(err) end
    body, err = routes.check_body(route, raw)
    if not body then return send_error(err) end
  elseif method == "POST" then
    ngx.req.discard_body()
  end
  local eng = route.auth ~= "none" and _M.engine() or engine or _M.engine()
  if eng and ctx then
    local view, verr = eng:with_context(ctx)
    if not view then return send_error(verr) end
    eng = view
  end
  local req = { engine = eng, ctx = ctx or nil, body = body, headers = headers, app = _M }
  local ok, status, res, ctype, raw = pcall(route.handler, req)
  if not ok then
    ngx.log(ngx.ERR, "astrocyte: route ", route.path, " raised: ", tostring(status))
    return send_error(errors.new("InternalError", "internal error in " .. route.path))
  end
  if status == nil then return send_error(res) end
  return send(status, res, ctype, raw)
end

-- handle(): content_by_lua of every gateway location.
function _M.handle()
  local t0 = ngx.now()
  local method, path = ngx.req.get_method(), ngx.var.uri
  local route, allowed = routes.find(method, path)
  local status, name
  if not route then
    name = "unmatched"
    if allowed then
      status = send_error(http_errors.new("MethodNotAllowed", method .. " is not allowed on " .. path),
                          { Allow = table.concat(allowed, ", ") })
    else
      status = send_error(http_errors.new("NotFound", "no route " .. method .. " " .. path))
    end
  else
    name = route.name
    status = dispatch(route, method)
  end
  ngx.update_time()
  gw_metrics.record(ngx.shared[S.metrics_dict], name, method, tostring(status), ngx.now() - t0)
  return ngx.exit(status)
end

-- error_page handler: errors nginx raised itself (body over the size
-- limit, a malformed request) answered as JSON too.
function _M.nginx_error()
  local status = tonumber(ngx.var.status) or 500
  local kind = http_errors.KIND_OF_STATUS[status] or "InternalError"
  local msg = status == 413 and ("request body is larger than " .. tostring(S.max_body) .. " bytes")
    or ("request refused by the server (HTTP " .. status .. ")")
  local _, body = http_errors.body(http_errors.new(kind, msg))
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(util.encode(body))
  gw_metrics.record(ngx.shared[S.metrics_dict], "nginx_error", ngx.req.get_method(), tostring(status), 0)
  return ngx.exit(status)
end

-- mcp(): the /mcp location (POST, GET, DELETE): authenticates like every
-- route, then hands the request to astrocyte.mcp.http when it is installed.
function _M.mcp()
  local ok_http, mcp_http = pcall(require, "astrocyte.mcp.http")
  local ok_mcp, mcp = pcall(require, "astrocyte.mcp")
  if not (ok_http and ok_mcp) then
    return ngx.exit(send_error(http_errors.new("NotFound", "MCP is not available in this build (astrocyte.mcp is not installed)")))
  end
  local method = ngx.req.get_method()
  if method ~= "POST" and method ~= "GET" and method ~= "DELETE" then
    return ngx.exit(send_error(http_errors.new("MethodNotAllowed", method .. " is not allowed on /mcp"),
                               { Allow = "DELETE, GET, POST" }))
  end
  if not auth then return ngx.exit(send_error(auth_err)) end
  local headers = ngx.req.get_headers(64)
  local ctx, err = auth:authenticate(headers)
  if ctx == nil then return ngx.exit(send_error(err)) end
  local rok; rok, err = rate_check(ctx)
  if not rok then return ngx.exit(send_error(err)) end
  local eng = _M.engine()
  if not eng then return ngx.exit(send_error(_M.engine_error())) end
  if not _M.mcp_server then
    -- Sessions in a shared dict: a client's next request may reach another worker.
    local server, merr = mcp.new(eng, { sessions = ngx.shared[S.mcp_dict],
                                        log = function(line) ngx.log(ngx.ERR, "astrocyte mcp: ", line) end })
    if not server then return ngx.exit(send_error(merr)) end
    _M.mcp_server = server
  end
  ngx.req.read_body()
  local body = ngx.req.get_body_data() or ""
  local status, hdrs, out = mcp_http.handle(_M.mcp_server, { method = method, headers = headers, body = body,
                                                               principal = ctx and ctx.principal or nil })
  ngx.status = status or 500
  for k, v in pairs(hdrs or {}) do ngx.header[k] = v end
  if out and out ~= "" then ngx.print(out) end
  return ngx.exit(ngx.status)
end

return _M
