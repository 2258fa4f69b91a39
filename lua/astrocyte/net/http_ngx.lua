-- astrocyte.http_ngx: the OpenResty backend of astrocyte.http, over ngx_lua
-- cosockets, so a provider's HTTP call (embeddings, chat, a vector DB)
-- yields to nginx's event loop instead of blocking the worker the way
-- libcurl would. astrocyte.http picks it by itself inside nginx; it has the
-- interface of astrocyte.http_curl:
--   new() → conn; conn:request(opts) → {status, headers, body} | nil, msg, kind
--   (kind: timeout | connect | reset | too_large | tls | other); conn:close();
--   sleep_ms(ms)
--
-- A conn outlives requests (an engine is opened once per worker), but a
-- cosocket belongs to the request that made it: each call makes its own
-- socket, and connections are reused through nginx's per-worker keepalive
-- pool (setkeepalive), keyed by scheme, host, port and proxy. Where the
-- phase has no cosockets (init_worker, set_by_lua, header/body filters,
-- log), a call falls back to libcurl, blocking.
--
-- HTTP/1.1 only: Content-Length, chunked and close-delimited bodies; 1xx
-- responses skipped; plain-HTTP proxies by absolute-form request, HTTPS
-- through a proxy by CONNECT. Differences from libcurl, set in nginx.conf
-- rather than per call: TLS verification uses lua_ssl_trusted_certificate
-- (opts.cainfo cannot be applied to a cosocket), and host names need a
-- `resolver` directive.
local type, tonumber, tostring, pairs, concat = type, tonumber, tostring, pairs, table.concat
local fmt, lower, min, floor = string.format, string.lower, math.min, math.floor

local _M = { _NAME = "http_ngx" }
local Conn = {}
Conn.__index = Conn

-- Phases whose handlers may use cosockets and ngx.sleep.
local COSOCKET_PHASES = {
  rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

local function cosockets_available()
  return ngx ~= nil and ngx.get_phase ~= nil and COSOCKET_PHASES[ngx.get_phase()] == true
end
_M.cosockets_available = cosockets_available  -- also the postgres wire driver's test

function _M.new()
  return setmetatable({ stats = { cosocket = 0, fallback = 0, reused = 0 } }, Conn)
end

-- The libcurl conn for phases without cosockets (made on first need).
function Conn:_curl()
  if not self.curl then
    local curl = require "astrocyte.http_curl"
    local c, err = curl.new()
    if not c then return nil, err end
    self.curl = c
  end
  return self.curl
end

function Conn:close()
  if self.curl then self.curl:close(); self.curl = nil end
  return true
end

function _M.sleep_ms(ms)
  if cosockets_available() then return ngx.sleep(ms / 1000) end
  return require("astrocyte.http_curl").sleep_ms(ms)
end

-- scheme, host, port, target of an http(s) URL, or nil, msg.
local function parse_url(url)
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil, "malformed URL" end
  scheme = lower(scheme)
  if scheme ~= "http" and scheme ~= "https" then return nil, "unsupported URL scheme " .. scheme end
  local authority, target = rest:match("^([^/?#]*)(.*)$")
  authority = authority:gsub("^.*@", "")         -- userinfo is never sent
  target = target:gsub("#.*$", "")
  if target == "" then target = "/" elseif target:sub(1, 1) == "?" then target = "/" .. target end
  local host, port = authority:match("^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host or host == "" then return nil, "URL without a host" end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  return scheme, host, port, target
end

-- Whether host is excluded from proxying by a curl-style NOPROXY list.
local function no_proxy_match(list, host)
  if type(list) ~= "string" or list == "" then return false end
  host = lower(host)
  for entry in list:gmatch("[^,%s]+") do
    entry = lower(entry):gsub("^%.", "")
    if entry == "*" or host == entry or (#host > #entry and host:sub(-#entry - 1) == "." .. entry) then
      return true
    end
  end
  return false
end

-- Maps a cosocket error string to the backend's error kinds.
local function kind_of(err, stage)
  err = tostring(err)
  if err:find("timeout", 1, true) then return "timeout" end
  if stage == "connect" then return "connect" end
  if stage == "tls" then return "tls" end
  if err:find("closed", 1, true) or err:find("reset", 1, true) or err:find("broken pipe", 1, true) then
    return "reset"
  end
  return "other"
end

local function has_line_break(s) return s:find("[\r\n]") ~= nil end

-- Serializes a header table into lines; nil, msg on a line break.
local function header_lines(out, headers, skip)
  for k, v in pairs(headers or {}) do
    if type(k) ~= "string" or type(v) ~= "string" then return nil, "headers must map strings to strings" end
    if has_line_break(k) or has_line_break(v) then return nil, "headers must not contain line breaks" end
    if not (skip and skip[lower(k)]) then out[#out + 1] = k .. ": " .. v .. "\r\n" end
  end
  return true
end

-- A request's deadline helper: remaining milliseconds (at least 1).
local function remaining(deadline)
  return math.max(1, floor((deadline - ngx.now()) * 1000))
end

-- Reads the status line and headers (skipping 1xx) → status, headers, version.
local function read_head(sock, deadline)
  while true do
    sock:settimeout(remaining(deadline))
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    local version, status = line:match("^HTTP/(%d%.%d) (%d%d%d)")
    if not status then return nil, "malformed status line" end
    status = tonumber(status)
    local headers = {}
    while true do
      line, err = sock:receive("*l")
      if not line then return nil, err end
      if line == "" then break end
      local name, value = line:match("^([^:]+):%s*(.-)%s*$")
      if name then
        name = lower(name)
        headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
      end
    end
    if status >= 200 or status == 101 then return status, headers, version end
  end
end

-- Reads a body of exactly n bytes, or nil, err, kind.
local function read_exact(sock, n, deadline)
  if n == 0 then return "" end
  sock:settimeout(remaining(deadline))
  local data, err = sock:receive(n)
  if not data then return nil, err end
  return data
end

-- Reads a chunked body → body | nil, err, kind.
local function read_chunked(sock, max, deadline)
  local parts, total = {}, 0
  while true do
    sock:settimeout(remaining(deadline))
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    local size = tonumber(line:match("^%s*(%x+)"), 16)
    if not size then return nil, "malformed chunk size" end
    if size == 0 then
      repeat                                            -- trailers
        line, err = sock:receive("*l")
        if not line then return nil, err end
      until line == ""
      return concat(parts)
    end
    total = total + size
    if total > max then return nil, "response body over the size limit", "too_large" end
    local data; data, err = read_exact(sock, size, deadline)
    if not data then return nil, err end
    parts[#parts + 1] = data
    line, err = sock:receive("*l")                      -- the chunk's CRLF
    if not line then return nil, err end
  end
end

-- Reads until the server closes → body | nil, err, kind.
local function read_to_close(sock, max, deadline)
  local parts, total = {}, 0
  while true do
    sock:settimeout(remaining(deadline))
    local data, err = sock:receiveany(65536)
    if not data then
      if err == "closed" then return concat(parts) end
      return nil, err
    end
    total = total + #data
    if total > max then return nil, "response body over the size limit", "too_large" end
    parts[#parts + 1] = data
  end
end

-- Opens (or takes from the pool) the connection for a request: direct, via
-- an HTTP proxy, or tunnelled through it (CONNECT) for https. Returns sock,
-- absolute_form or nil, msg, kind.
local function connect(self, u, o, deadline)
  local sock = ngx.socket.tcp()
  local connect_ms = min(o.connect_timeout_ms or 10000, remaining(deadline))
  sock:settimeouts(connect_ms, remaining(deadline), remaining(deadline))
  local proxy = o.proxy
  if proxy == "" or no_proxy_match(o.noproxy, u.host) then proxy = nil end
  local chost, cport, pool = u.host, u.port, fmt("%s://%s:%d", u.scheme, u.host, u.port)
  if proxy then
    local pscheme, phost, pport = parse_url(proxy)
    if not pscheme then return nil, "bad proxy URL: " .. tostring(phost), "connect" end
    if pscheme ~= "http" then return nil, "only http:// proxies are supported here", "connect" end
    chost, cport = phost, pport
    pool = pool .. fmt("|via %s:%d", phost, pport)
  end
  local ok, err = sock:connect(chost, cport, { pool = pool })
  if not ok then
    local msg = "cannot connect to " .. chost .. ":" .. cport .. ": " .. tostring(err)
    if tostring(err):find("resolver", 1, true) then msg = msg .. " (set `resolver` in nginx.conf)" end
    return nil, msg, kind_of(err, "connect")
  end
  local reused = sock:getreusedtimes() or 0
  if reused > 0 then self.stats.reused = self.stats.reused + 1 end
  local absolute = proxy ~= nil and u.scheme == "http"
  if u.scheme == "https" and reused == 0 then
    if proxy then                                       -- tunnel through the proxy
      local lines = { fmt("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n", u.host, u.port, u.host, u.port) }
      local hok, herr = header_lines(lines, o.proxy_headers)
      if not hok then sock:close(); return nil, herr, "other" end
      lines[#lines + 1] = "\r\n"
      local sent; sent, err = sock:send(concat(lines))
      if not sent then sock:close(); return nil, "proxy CONNECT: " .. tostring(err), kind_of(err, "connect") end
      local status = read_head(sock, deadline)
      if status ~= 200 then
        sock:close()
        return nil, "proxy CONNECT refused (HTTP " .. tostring(status) .. ")", "connect"
      end
    end
    local sess; sess, err = sock:sslhandshake(nil, u.host, true)
    if not sess then sock:close(); return nil, "TLS handshake with " .. u.host .. ": " .. tostring(err), kind_of(err, "tls") end
  end
  return sock, absolute, reused
end

-- One exchange on a connected socket → res | nil, msg, kind, sent_nothing.
local function exchange(sock, u, o, absolute, deadline)
  local method = o.method or "GET"
  local body = o.body
  local lines = { fmt("%s %s HTTP/1.1\r\n", method,
    absolute and fmt("%s://%s:%d%s", u.scheme, u.host, u.port, u.target) or u.target) }
  local default_port = (u.scheme == "https" and 443 or 80)
  local host_header = u.host:find(":", 1, true) and ("[" .. u.host .. "]") or u.host
  if u.port ~= default_port then host_header = host_header .. ":" .. u.port end
  lines[#lines + 1] = "Host: " .. host_header .. "\r\n"
  local ok, err = header_lines(lines, o.headers, { host = true, ["content-length"] = true, connection = true })
  if not ok then return nil, err, "other" end
  if absolute then
    ok, err = header_lines(lines, o.proxy_headers)
    if not ok then return nil, err, "other" end
  end
  if body or method == "POST" or method == "PUT" or method == "PATCH" then
    lines[#lines + 1] = "Content-Length: " .. #(body or "") .. "\r\n"
  end
  lines[#lines + 1] = "Connection: keep-alive\r\n\r\n"
  if body then lines[#lines + 1] = body end
  sock:settimeout(remaining(deadline))
  local sent; sent, err = sock:send(concat(lines))
  if not sent then return nil, err, kind_of(err, "send"), true end
  local status, headers, version = read_head(sock, deadline)
  if not status then return nil, headers, kind_of(headers, "read"), true end
  local max = o.max_response_bytes or 64 * 1024 * 1024
  local data, kind
  local conn_hdr = lower(headers.connection or "")
  local keep = conn_hdr ~= "close" and (version ~= "1.0" or conn_hdr == "keep-alive")
  if method == "HEAD" or status == 204 or status == 304 or (status >= 100 and status < 200) then
    data = ""
  elseif headers["transfer-encoding"] and headers["transfer-encoding"]:lower():find("chunked", 1, true) then
    data, err, kind = read_chunked(sock, max, deadline)
  elseif headers["content-length"] then
    local n = tonumber(headers["content-length"])
    if not n or n < 0 then return nil, "malformed Content-Length", "other" end
    if n > max then return nil, "response body over the size limit", "too_large" end
    data, err = read_exact(sock, n, deadline)
  else
    keep = false
    data, err, kind = read_to_close(sock, max, deadline)
  end
  if not data then return nil, err, kind or kind_of(err, "read") end
  return { status = status, headers = headers, body = data }, keep
end

-- conn:request(opts) with the options of astrocyte.http_curl.
function Conn:request(o)
  if type(o) ~= "table" or type(o.url) ~= "string" then return nil, "opts.url is required", "other" end
  if not cosockets_available() then
    self.stats.fallback = self.stats.fallback + 1
    local c, err = self:_curl()
    if not c then return nil, tostring(err), "other" end
    return c:request(o)
  end
  self.stats.cosocket = self.stats.cosocket + 1
  local scheme, host, port, target = parse_url(o.url)
  if not scheme then return nil, host, "other" end
  local u = { scheme = scheme, host = host, port = port, target = target }
  local deadline = ngx.now() + (o.timeout_ms or 30000) / 1000
  -- A pooled connection the server has meanwhile closed fails before any
  -- response: that attempt is repeated once on a fresh connection.
  for _ = 1, 2 do
    local sock, absolute, reused = connect(self, u, o, deadline)
    if not sock then return nil, absolute, reused end
    local res, keep, kind, untouched = exchange(sock, u, o, absolute, deadline)
    if res then
      if not (keep and sock:setkeepalive(60000, 32)) then sock:close() end
      return res
    end
    sock:close()
    if not (untouched and reused > 0 and kind == "reset") then
      local msg = tostring(keep)
      if kind == "timeout" then
        msg = "timeout after " .. (o.timeout_ms or 30000) .. " ms"
      elseif kind == "reset" then
        msg = "connection closed by the server (" .. msg .. ")"
      end
      return nil, msg, kind
    end
  end
  return nil, "connection closed by the server", "reset"
end

return _M
