-- astrocyte.http: the one door providers use for network I/O. It holds the
-- policy that backends must not: bounded retries with jittered exponential
-- backoff (only for idempotent calls, or for requests the server provably
-- did not process: connection refused, 429), Retry-After honoured (seconds
-- or HTTP-date, capped), JSON encode/decode, error objects whose messages
-- never carry a credential, and the outbound transport (proxy, CA bundle,
-- extra headers, timeouts) resolved by astrocyte.transport.
--
-- The backend does the bytes. It is chosen at runtime:
--   * astrocyte.http_curl (libcurl, blocking) in plain Lua hosts;
--   * inside nginx (ngx_lua / OpenResty), astrocyte.http_ngx over
--     cosockets, non-blocking; it falls back to libcurl by itself in
--     phases without cosockets. A backend is a table with
--       new() → conn; conn:request(opts) → {status, headers, body} | nil, msg, kind
--       (kind: timeout | connect | reset | too_large | tls | other); conn:close();
--       sleep_ms(ms)
--     and `opts` as documented in bindings/lua/astro_http.c. Providers never
--     see the backend, so swapping it touches no provider.
local errors = require "astrocyte.errors"
local transport = require "astrocyte.net.transport"
local util = require "astrocyte.util"
local cjson_safe = require "cjson.safe"
local type, pairs, ipairs, tostring, tonumber, fmt = type, pairs, ipairs, tostring, tonumber, string.format
local floor, min, random = math.floor, math.min, math.random

local _M = { _VERSION = "0.1.0" }
local mt = { __index = _M }

local json = cjson_safe.new()
json.encode_sparse_array(true)
_M.null = cjson_safe.null

-- Marks a table to be encoded as a JSON object even when empty.
function _M.object(t) return setmetatable(t or {}, util.OBJECT_MT) end

-- JSON text of v (empty tables are [] unless made with http.object(), keys
-- sorted), or nil, err.
_M.encode = util.encode

-- Decodes JSON text; returns the value or nil, err. JSON null is http.null.
function _M.decode(s)
  if type(s) ~= "string" then return nil, "expected a JSON string" end
  return json.decode(s)
end

-- Returns v, or nil when v is JSON null.
function _M.nn(v)
  if v == _M.null then return nil end
  return v
end

---------------------------------------------------------------------------
-- Secrets: header names whose values are credentials, and redaction.
---------------------------------------------------------------------------
local SECRET_HEADERS = {
  authorization = true, ["proxy-authorization"] = true, ["api-key"] = true,
  ["x-api-key"] = true, cookie = true, ["set-cookie"] = true, ["x-auth-token"] = true,
}
_M.SECRET_HEADERS = SECRET_HEADERS

local function plain_escape(s) return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end

-- Returns s with every secret of self (and every credential in a URL's
-- user-info) replaced by "***".
function _M.redact(self, s)
  s = tostring(s)
  s = s:gsub("(%a[%w+.-]*://)[^/@%s]+@", "%1***@")
  local secrets = self and self.secrets
  if secrets then
    for _, sec in ipairs(secrets) do
      if #sec >= 4 then s = s:gsub(plain_escape(sec), "***") end
    end
  end
  return s
end

-- Collects the values of credential headers so they are redacted too.
local function collect_secrets(list, headers)
  if not headers then return end
  for k, v in pairs(headers) do
    if type(k) == "string" and SECRET_HEADERS[k:lower()] and type(v) == "string" then
      list[#list + 1] = v
      local token = v:match("^%a+%s+(.+)$")   -- "Bearer <token>" → token alone too
      if token then list[#list + 1] = token end
    end
  end
end

---------------------------------------------------------------------------
-- Backend selection.
---------------------------------------------------------------------------
local function default_backend()
  if ngx and ngx.socket and ngx.get_phase then
    local ok, b = pcall(require, "astrocyte.net.http_ngx")
    if ok then return b end
  end
  local ok, b = pcall(require, "astrocyte.http_curl")
  if not ok then return nil, "no HTTP backend: astrocyte.http_curl failed to load: " .. tostring(b) end
  return b
end

-- http.new(opts) → client | nil, err. opts (all optional):
--   name             provider name used in messages ("openai")
--   timeout_ms, connect_timeout_ms, max_response_bytes
--   max_retries (2), backoff_ms (100), max_backoff_ms (2000),
--   retry_after_cap_ms (30000): a longer Retry-After fails instead of waiting
--   transport        an HttpClientContext, or {provider, config}; default:
--                    astrocyte.transport.current() (configured, else env)
--   secrets          extra strings to redact from every message
--   log              function(level, line) that receives retry notices
--   backend, sleep   injected backend / sleep function (tests, OpenResty)
function _M.new(opts)
  opts = opts or {}
  local ctx, err
  if opts.transport and (opts.transport.provider or opts.transport.apply) then
    ctx, err = transport.context(opts.transport)
    if not ctx then return nil, err end
  elseif opts.transport then
    ctx = opts.transport
  else
    ctx = transport.current()
  end
  local backend = opts.backend
  if not backend then
    backend, err = default_backend()
    if not backend then return nil, errors.new("ProviderUnavailable", err, { provider = opts.name }) end
  end
  local conn, cerr = backend.new()
  if not conn then return nil, errors.new("ProviderUnavailable", tostring(cerr), { provider = opts.name }) end
  local secrets = {}
  for _, s in ipairs(opts.secrets or {}) do if type(s) == "string" then secrets[#secrets + 1] = s end end
  collect_secrets(secrets, ctx.headers)
  collect_secrets(secrets, ctx.proxy_headers)
  local timeouts = ctx.timeouts or {}
  local self = setmetatable({
    name = opts.name or "http", conn = conn, backend = backend, ctx = ctx, secrets = secrets,
    timeout_ms = opts.timeout_ms or (timeouts.total and timeouts.total * 1000)
      or (timeouts.read and timeouts.read * 1000) or 30000,
    connect_timeout_ms = opts.connect_timeout_ms or (timeouts.connect and timeouts.connect * 1000) or 10000,
    max_response_bytes = opts.max_response_bytes or 64 * 1024 * 1024,
    max_retries = opts.max_retries or 2, backoff_ms = opts.backoff_ms or 100,
    max_backoff_ms = opts.max_backoff_ms or 2000, retry_after_cap_ms = opts.retry_after_cap_ms or 30000,
    log = opts.log, sleep = opts.sleep or backend.sleep_ms,
    stats = { requests = 0, retries = 0 },
  }, mt)
  return self
end

-- Adds more strings to redact (e.g. a provider's api_key).
function _M:add_secret(s)
  if type(s) == "string" and s ~= "" then self.secrets[#self.secrets + 1] = s end
end

function _M:close()
  if self.conn then self.conn:close(); self.conn = nil end
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- Retry-After in milliseconds: delta-seconds, or an HTTP-date compared with
-- now. Returns nil when absent or unparsable.
function _M.retry_after_ms(value, now_s)
  if type(value) ~= "string" then return nil end
  local secs = tonumber(value:match("^%s*([%d.]+)%s*$"))
  if secs then return floor(secs * 1000 + 0.5) end
  local d, mon, y, h, mi, s = value:match("(%d+) (%a+) (%d+) (%d+):(%d+):(%d+) GMT")
  if not d or not MONTHS[mon] then return nil end
  local util = require "astrocyte.util"
  local at = util.parse_iso(fmt("%04d-%02d-%02dT%s:%s:%sZ", tonumber(y), MONTHS[mon], tonumber(d), h, mi, s))
  if not at then return nil end
  now_s = now_s or os.time()
  local delta = at - now_s * 1000
  return delta > 0 and delta or 0
end

local RETRY_STATUS = { [500] = true, [502] = true, [503] = true, [504] = true }
local IDEMPOTENT = { GET = true, HEAD = true, PUT = true, DELETE = true, OPTIONS = true }

-- Backoff before retry n (1-based): half fixed, half random ("equal jitter").
local function backoff(self, n)
  local cap = min(self.max_backoff_ms, self.backoff_ms * 2 ^ (n - 1))
  return cap / 2 + random() * cap / 2
end

-- Proxy for a URL from the context: per-scheme proxies (env), else ctx.proxy.
local function proxy_for(ctx, url)
  local scheme = url:match("^(%a+)://")
  scheme = scheme and scheme:lower() or "http"
  if ctx.proxies and ctx.proxies[scheme] then return ctx.proxies[scheme] end
  return ctx.proxy
end

-- Error object for a failed call; the message names provider, method and
-- URL path, and is redacted.
local function fail(self, kind, method, url, msg, fields)
  local path = url:gsub("^%a+://[^/]+", ""):gsub("%?.*$", "")
  local e = errors.new(kind, self:redact(fmt("%s: %s %s: %s", self.name, method, path, msg)), fields)
  e.provider = self.name
  return e
end

-- client:request(opts) → res {status, headers, body, json?} | nil, err.
-- opts: method ("GET"), url, headers, body (string) or json (table),
-- timeout_ms, idempotent (default by method: GET/HEAD/PUT/DELETE yes, POST no),
-- max_retries. Transport failures, 429 and (idempotent) 5xx are retried;
-- any other status is returned as is. err is an error object: kind
-- ProviderUnavailable (network, 429, 5xx) with status and retry_after_ms.
function _M:request(o)
  if type(o) ~= "table" or type(o.url) ~= "string" then error("http: request needs {url = ...}", 2) end
  if not self.conn then error("http: client is closed", 2) end
  local method = (o.method or "GET"):upper()
  local headers = {}
  for k, v in pairs(self.ctx.headers or {}) do headers[k] = v end
  for k, v in pairs(o.headers or {}) do headers[k] = v end
  local body = o.body
  if o.json ~= nil then
    local err
    body, err = _M.encode(o.json)
    if not body then return nil, fail(self, "ValidationError", method, o.url, "cannot encode the request as JSON: " .. tostring(err)) end
    headers["Content-Type"] = headers["Content-Type"] or "application/json"
  end
  local idempotent = o.idempotent
  if idempotent == nil then idempotent = IDEMPOTENT[method] or false end
  local req = {
    method = method, url = o.url, headers = headers, body = body,
    timeout_ms = o.timeout_ms or self.timeout_ms, connect_timeout_ms = self.connect_timeout_ms,
    proxy = proxy_for(self.ctx, o.url), noproxy = self.ctx.no_proxy, cainfo = self.ctx.ca_bundle,
    proxy_headers = self.ctx.proxy_headers, max_response_bytes = o.max_response_bytes or self.max_response_bytes,
  }
  local max_retries = o.max_retries or self.max_retries
  local attempt = 0
  while true do
    attempt = attempt + 1
    self.stats.requests = self.stats.requests + 1
    local res, msg, kind = self.conn:request(req)
    local retry, wait, err
    if res then
      local st = res.status
      if st == 429 then
        local ra = _M.retry_after_ms(res.headers["retry-after"])
        err = fail(self, "ProviderUnavailable", method, o.url,
          "rate limited (HTTP 429" .. (ra and fmt(", retry after %.1f s", ra / 1000) or "") .. ")",
          { status = 429, retry_after_ms = ra })
        if ra and ra > self.retry_after_cap_ms then
          err.message = err.message .. fmt("; not retried: over the %d ms cap", self.retry_after_cap_ms)
          return nil, err
        end
        retry, wait = true, ra or backoff(self, attempt)
      elseif RETRY_STATUS[st] and idempotent then
        retry, wait = true, backoff(self, attempt)
        err = fail(self, "ProviderUnavailable", method, o.url, fmt("HTTP %d: %s", st, _M.snippet(res.body)), { status = st })
      else
        return res
      end
    else
      -- A refused connection never reached the server: safe to retry.
      retry = idempotent or kind == "connect"
      if kind == "too_large" then retry = false end
      wait = backoff(self, attempt)
      err = fail(self, "ProviderUnavailable", method, o.url, msg, { network_error = kind })
    end
    if not retry or attempt > max_retries then
      if attempt > 1 then err.message = err.message .. fmt(" (after %d attempts)", attempt) end
      err.attempts = attempt
      return nil, err
    end
    self.stats.retries = self.stats.retries + 1
    if self.log then self.log("warn", fmt("%s (retry %d/%d in %d ms)", err.message, attempt, max_retries, floor(wait))) end
    self.sleep(wait)
  end
end

-- First 200 characters of a response body, on one line.
function _M.snippet(body)
  body = tostring(body or ""):gsub("%s+", " ")
  if #body > 200 then body = body:sub(1, 200) .. "..." end
  return body
end

-- client:json(opts) → decoded, res | nil, err. Like request, and then:
-- a 2xx body is decoded (empty body → {}); a status in opts.allow (a set,
-- e.g. {[404] = true}) is returned as nil-free decoded-or-{} too; any other
-- status is an error — ProviderUnavailable for 5xx, ProviderError for 4xx —
-- with the server's message (redacted). Malformed JSON is a ProviderError.
function _M:json(o)
  local res, err = self:request(o)
  if not res then return nil, err end
  local st, method = res.status, (o.method or "GET"):upper()
  local ok = (st >= 200 and st < 300) or (o.allow and o.allow[st])
  if not ok then
    local kind = st >= 500 and "ProviderUnavailable" or "ProviderError"
    return nil, fail(self, kind, method, o.url, fmt("HTTP %d: %s", st, _M.snippet(res.body)), { status = st })
  end
  if res.body == nil or res.body:match("^%s*$") then return {}, res end
  local v, derr = json.decode(res.body)
  if v == nil then
    return nil, fail(self, "ProviderError", method, o.url,
      fmt("malformed JSON in the HTTP %d response (%s): %s", st, tostring(derr), _M.snippet(res.body)), { status = st })
  end
  return v, res
end

return _M
