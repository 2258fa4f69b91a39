-- astrocyte.log: structured JSON logs and the audit trail (pipeline.md §2.5).
-- One line per entry, keys sorted so output is stable:
--   {"bank_id":"b1","data":{...},"event":"astrocyte.hook.error","level":"warn",
--    "operation":"retain","provider":"sqlite","timestamp":"2024-...Z","trace_id":"..."}
-- Nothing secret or personal reaches the sink. Every entry passes through
-- redaction first:
--   * a value whose key looks like a credential (api_key, password, token,
--     secret, authorization, dsn, cookie, private_key, ...) is masked "***"
--     when it is a string (counters such as max_tokens stay readable);
--   * every string value is scanned: credential shapes (Bearer tokens,
--     sk-... keys, user:password@ in URLs, key=value pairs) are masked, then
--     PII (emails, card numbers, phones, ...) is replaced by the core
--     scanner's markers ([EMAIL_REDACTED] ...), then exact secrets registered
--     with logger:add_secret are masked;
--   * control characters become spaces (the reference's _log_safety.safe)
--     and long strings are cut at max_value_len.
--
--   local log = require "astrocyte.observe.log"
--   local logger = log.new{ level = "info", sink = "stderr" }  -- or a function
--       -- (line, entry), an open file, or { path = "/var/log/astrocyte.jsonl" }
--   logger:warn("astrocyte.hook.error", { bank_id = "b1", data = { event_type = "on_retain", error = msg } })
--   logger:audit("forget", { bank_id = "b1", principal = "user:ana", data = { deleted_count = 3 } })
--   -- writes event "astrocyte.audit.forget" whatever the level (unless "off")
local core = require "astrocyte.core"
local util = require "astrocyte.util"
local type, pairs, ipairs, tostring, fmt = type, pairs, ipairs, tostring, string.format
local setmetatable, io_stderr = setmetatable, io.stderr

local _M = { _VERSION = "0.1.0" }
local mt = { __index = _M }

_M.LEVELS = { debug = 10, info = 20, warn = 30, warning = 30, error = 40, off = 100 }
local LEVEL_NAME = { [10] = "debug", [20] = "info", [30] = "warn", [40] = "error" }

-- Key fragments that mark a credential (matched against the lowercased key
-- with separators removed: "API-Key" → "apikey").
local SECRET_KEYS = { "apikey", "password", "passwd", "secret", "token", "authorization",
                      "dsn", "credential", "privatekey", "cookie", "signature", "accesskey",
                      "sessionid", "bearer" }
_M.SECRET_KEYS = SECRET_KEYS

-- Returns true when `key` names a credential.
function _M.is_secret_key(key)
  if type(key) ~= "string" then return false end
  local k = key:lower():gsub("[%-_%.%s]", "")
  if k == "auth" or k == "pwd" or k == "pass" then return true end
  for _, frag in ipairs(SECRET_KEYS) do
    if k:find(frag, 1, true) then return true end
  end
  return false
end

-- Control characters (including newlines and DEL) become spaces, so a log
-- line cannot be split or forged by its content.
function _M.safe(s)
  return (tostring(s):gsub("%c", " "))
end

-- Masks credential shapes inside free text.
local function mask_credentials(s)
  s = s:gsub("([Bb][Ee][Aa][Rr][Ee][Rr]%s+)[%w%-%._~%+/=]+", "%1***")
  s = s:gsub("([Bb][Aa][Ss][Ii][Cc]%s+)[%w%+/=]+", "%1***")
  s = s:gsub("(%a[%w%+%.%-]*://)[^:/@%s]+:[^@%s/]+@", "%1***:***@")
  s = s:gsub("sk%-[%w%-_]+", function(m) return #m >= 12 and "sk-***" or m end)
  -- key=value / key: value pairs whose key names a credential
  s = s:gsub("([%w_%-]+)(%s*[=:]%s*)([^%s&,;\"']+)", function(k, sep)
    if _M.is_secret_key(k) then return k .. sep .. "***" end
  end)
  return s
end

local function plain_escape(s) return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end

-- Returns the redacted, safe copy of string s.
local function redact_string(self, s)
  s = mask_credentials(s)
  if self.scanner then
    local ok, red = pcall(self.scanner.redact, self.scanner, s, self.pii_actions, {})
    if ok and type(red) == "string" then s = red end
  end
  for _, secret in ipairs(self.secrets) do
    s = s:gsub(plain_escape(secret), "***")
  end
  s = _M.safe(s)
  if #s > self.max_value_len then s = s:sub(1, self.max_value_len) .. "..." end
  return s
end

-- Returns a redacted deep copy of v (depth-limited; functions and other
-- non-data values become their type name).
local function redact_value(self, v, key, depth)
  local tv = type(v)
  if tv == "string" then
    if _M.is_secret_key(key) then return "***" end
    return redact_string(self, v)
  end
  if tv == "number" or tv == "boolean" or v == nil then return v end
  if tv == "table" then
    if depth > 6 then return "{...}" end
    local out = {}
    for k, x in pairs(v) do
      local rk = type(k) == "string" and redact_string(self, k) or k
      out[rk] = redact_value(self, x, type(k) == "string" and k or key, depth + 1)
    end
    return out
  end
  return "<" .. tv .. ">"
end

-- logger:redact(v[, key]) → the redacted copy of v (what the sink would see).
function _M:redact(v, key) return redact_value(self, v, key, 0) end

-- Opens the sink: "stderr" (default), "stdout", a function(line, entry),
-- a file handle, { path = ... } (appended), or "none".
local function open_sink(sink)
  if sink == nil or sink == "stderr" then
    return function(line) io_stderr:write(line, "\n") end
  end
  if sink == "stdout" then return function(line) io.stdout:write(line, "\n") end end
  if sink == "none" then return function() end end
  if type(sink) == "function" then return sink end
  if type(sink) == "table" and type(sink.path) == "string" then
    local f, err = io.open(sink.path, "a")
    if not f then return nil, "log: cannot open " .. tostring(sink.path) .. ": " .. tostring(err) end
    f:setvbuf("line")
    return function(line) f:write(line, "\n") end, f
  end
  if io.type(sink) == "file" then
    return function(line) sink:write(line, "\n"); sink:flush() end
  end
  return nil, "log: sink must be 'stderr', 'stdout', 'none', a function, a file or { path = ... }"
end

-- log.new(opts) → logger | nil, err. opts: level ("info"), sink (see
-- open_sink), redact_pii (true), pii_countries ({}), secrets ({...}),
-- max_value_len (2048), clock (→ ms, default util.now_ms), fields
-- (defaults merged into every entry, e.g. { provider = "sqlite" }).
function _M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then return nil, "log: opts must be a table" end
  local level = opts.level or "info"
  if not _M.LEVELS[level] then
    return nil, fmt("log: unknown level '%s' (expected debug, info, warn, error or off)", tostring(level))
  end
  local write, file = open_sink(opts.sink)
  if not write then return nil, file end
  local self = setmetatable({
    level = _M.LEVELS[level], write = write, file = file, secrets = {},
    max_value_len = opts.max_value_len or 2048, clock = opts.clock or util.now_ms,
    fields = opts.fields or {}, dropped = 0,
  }, mt)
  if opts.redact_pii ~= false then
    local sc, err = core.pii_scanner({ countries = opts.pii_countries or {} })
    if not sc then return nil, "log: " .. tostring(err) end
    self.scanner, self.pii_actions = sc, { ["*"] = "redact" }
  end
  for _, s in ipairs(opts.secrets or {}) do self:add_secret(s) end
  return self
end

-- A logger that writes nothing (the default when the engine has none).
function _M.null() return assert(_M.new({ sink = "none", level = "off", redact_pii = false })) end

-- Registers an exact secret (e.g. a webhook secret) to mask wherever it
-- appears. Short strings (< 4 bytes) are ignored: masking them would mangle
-- ordinary text.
function _M:add_secret(s)
  if type(s) == "string" and #s >= 4 then
    for _, x in ipairs(self.secrets) do if x == s then return end end
    self.secrets[#self.secrets + 1] = s
    table.sort(self.secrets, function(a, b) return #a > #b end)
  end
end

-- Changes the level; returns true, or nil, err for an unknown name.
function _M:set_level(level)
  if not _M.LEVELS[level] then return nil, fmt("log: unknown level '%s'", tostring(level)) end
  self.level = _M.LEVELS[level]
  return true
end

-- Returns true when entries at `level` are written.
function _M:enabled(level)
  local n = _M.LEVELS[level] or 20
  return n >= self.level and self.level < 100
end

local TOP = { bank_id = true, provider = true, operation = true, trace_id = true }

-- Builds and writes one entry; returns the line written (nil when filtered).
-- fields: bank_id, provider, operation, trace_id, data; any other key goes
-- into data.
local function emit(self, lvl, event, fields)
  local entry = { event = _M.safe(event), level = LEVEL_NAME[lvl] or "info",
                  timestamp = util.iso(self.clock()) }
  local data
  for k, v in pairs(self.fields) do
    if TOP[k] then entry[k] = v end
  end
  if type(fields) == "table" then
    for k, v in pairs(fields) do
      if TOP[k] then
        entry[k] = v
      elseif k == "data" and type(v) == "table" then
        data = data or {}
        for dk, dv in pairs(v) do data[dk] = dv end
      elseif k ~= "data" then
        data = data or {}
        data[k] = v
      end
    end
  end
  if data then entry.data = data end
  for k in pairs(TOP) do
    if entry[k] ~= nil then entry[k] = redact_value(self, entry[k], k, 0) end
  end
  if entry.data then entry.data = redact_value(self, entry.data, "data", 0) end
  local line = util.encode(entry)
  if not line then
    entry.data = { encode_error = true }
    line = util.encode(entry)
  end
  local ok = pcall(self.write, line, entry)
  if not ok then self.dropped = self.dropped + 1 end
  return line
end

-- logger:log(level, event, fields) → line | nil (below the level).
function _M:log(level, event, fields)
  local n = _M.LEVELS[level] or 20
  if n < self.level or self.level >= 100 then return nil end
  return emit(self, n, event, fields)
end

function _M:debug(event, fields) return self:log("debug", event, fields) end
function _M:info(event, fields) return self:log("info", event, fields) end
function _M:warn(event, fields) return self:log("warn", event, fields) end
function _M:error(event, fields) return self:log("error", event, fields) end

-- The governance audit trail: forget, access denied, legal holds, config
-- reload, export/import. Written at level info as event
-- "astrocyte.audit.<name>" whatever the configured level, unless "off".
-- fields as for log(); principal, reason, memory_ids ... go into data.
function _M:audit(name, fields)
  if self.level >= 100 then return nil end
  name = tostring(name)
  if name:sub(1, 16) ~= "astrocyte.audit." then name = "astrocyte.audit." .. name end
  return emit(self, 20, name, fields)
end

-- Closes a file sink opened from { path = ... } (other sinks untouched).
function _M:close()
  if self.file then self.file:close(); self.file = nil end
  self.write = function() end
end

return _M
