-- astrocyte.events: the event hook manager (pipeline.md §4). Lua callbacks
-- registered per event type run inline, in registration order, each in
-- pcall: a failing hook is logged (astrocyte.hook.error, level warn) and
-- never fails the operation. Webhooks configured under `hooks:` are
-- delivered asynchronously by astrocyte.webhook dispatchers (one per hook,
-- so a dead receiver never delays another), signed with HMAC-SHA256:
--
--   X-Astrocyte-Timestamp: <unix seconds>
--   X-Astrocyte-Signature: sha256=<hex hmac_sha256(secret, timestamp .. "." .. body)>
--
-- The envelope is the reference's HookEvent: { event_id (16 hex), type,
-- timestamp (ISO-8601 UTC), bank_id, data (flat map of scalars), trace_id }.
-- Receivers check a request with events.verify (signature in constant time,
-- timestamp window, replayed event_id).
--
--   local events = require "astrocyte.observe.events"
--   local hooks = assert(events.new({ hooks = cfg.hooks }, { log = logger, metrics = m }))
--   hooks:register("on_retain", function(ev) ... end)
--   hooks:fire("on_retain", "bank-1", { memory_id = id, content_length = 42 }, trace_id)
--   hooks:flush(2000); hooks:close()
local core = require "astrocyte.core"
local util = require "astrocyte.util"
local errors = require "astrocyte.errors"
local type, pairs, ipairs, tostring, tonumber, fmt = type, pairs, ipairs, tostring, tonumber, string.format
local setmetatable, pcall, concat, floor, sort = setmetatable, pcall, table.concat, math.floor, table.sort

local _M = { _VERSION = "0.1.0" }
local mt = { __index = _M }

-- Every event type: the ones the reference fires and the documented ones.
_M.EVENT_TYPES = {
  "on_retain", "on_recall", "on_reflect", "on_forget", "on_pii_detected", "on_rate_limited",
  "on_circuit_breaker_open", "on_circuit_breaker_close", "on_dedup_detected", "on_noisy_bank",
  "on_ttl_expiry", "on_consolidation", "on_bank_created", "on_bank_deleted", "on_legal_hold",
  "on_policy_violation", "on_access_denied", "on_export", "on_import", "on_config_reload",
}
local KNOWN = {}
for _, t in ipairs(_M.EVENT_TYPES) do KNOWN[t] = true end
_M.KNOWN = KNOWN

local DEFAULTS = { timeout_ms = 5000, retry_count = 2, retry_delay_ms = 1000, queue_size = 1000 }

-- Returns the signature header value for (secret, timestamp, body).
function _M.sign(secret, timestamp, body)
  return "sha256=" .. core.hmac_sha256_hex(secret, tostring(timestamp) .. "." .. body)
end

-- Returns the headers to send with `body` (Content-Type, event headers,
-- timestamp and, with a secret, the signature), merged over `extra`.
function _M.signed_headers(secret, body, now_s, extra, ev)
  local h = {}
  for k, v in pairs(extra or {}) do h[k] = v end
  h["Content-Type"] = "application/json"
  local ts = tostring(floor(now_s))
  h["X-Astrocyte-Timestamp"] = ts
  if ev then
    h["X-Astrocyte-Event"] = ev.type or ev.kind
    h["X-Astrocyte-Event-Id"] = ev.event_id
  end
  if secret then h["X-Astrocyte-Signature"] = _M.sign(secret, ts, body) end
  return h
end

-- Case-insensitive header lookup.
local function header(headers, name)
  name = name:lower()
  for k, v in pairs(headers or {}) do
    if type(k) == "string" and k:lower() == name then return v end
  end
  return nil
end

-- events.verify(secret, headers, body, opts) → true | nil, reason. For
-- receivers of Astrocyte webhooks. opts: now (unix seconds, default the
-- clock), window_s (300), seen (a table used as a set of event_ids already
-- accepted; the event's id is added on success). Reasons: "missing
-- signature", "missing timestamp", "bad signature", "stale timestamp",
-- "replay".
function _M.verify(secret, headers, body, opts)
  opts = opts or {}
  if type(secret) ~= "string" or secret == "" then error("events.verify: secret must be a non-empty string", 2) end
  if type(body) ~= "string" then error("events.verify: body must be a string", 2) end
  local sig = header(headers, "X-Astrocyte-Signature")
  if type(sig) ~= "string" or sig == "" then return nil, "missing signature" end
  local ts = header(headers, "X-Astrocyte-Timestamp")
  if type(ts) == "number" then ts = tostring(floor(ts)) end
  if type(ts) ~= "string" or not ts:match("^%d+$") then return nil, "missing timestamp" end
  local want = _M.sign(secret, ts, body)
  if sig:sub(1, 7):lower() == "sha256=" then sig = "sha256=" .. sig:sub(8):lower() end
  if not core.constant_time_eq(want, sig) then return nil, "bad signature" end
  local now = opts.now or (util.now_ms() / 1000)
  local window = opts.window_s or 300
  if math.abs(now - tonumber(ts)) > window then return nil, "stale timestamp" end
  if opts.seen then
    local ev = util.json.decode(body)
    local id = type(ev) == "table" and ev.event_id or sig
    if opts.seen[id] then return nil, "replay" end
    opts.seen[id] = true
  end
  return true
end

-- Flattens data into the HookEvent's flat map: scalars kept, arrays of
-- scalars joined with commas (the reference's "comma list"), other tables
-- encoded as JSON text, functions and userdata dropped.
function _M.flatten(data)
  if data == nil then return nil end
  local out = {}
  for k, v in pairs(data) do
    local tv = type(v)
    if type(k) == "string" then
      if tv == "string" or tv == "number" or tv == "boolean" then
        out[k] = v
      elseif tv == "table" then
        if util.is_array(v) then
          local parts, scalar = {}, true
          for i, x in ipairs(v) do
            if type(x) == "table" then scalar = false; break end
            parts[i] = tostring(x)
          end
          out[k] = scalar and concat(parts, ",") or util.encode(v)
        else
          out[k] = util.encode(v)
        end
      end
    end
  end
  return out
end

local function cfg_err(key_path, msg)
  return nil, errors.config(key_path .. ": " .. msg, { key_path = key_path })
end

-- Validates one hooks[i] entry; returns the normalised hook or nil, err.
local function check_hook(h, i)
  local kp = fmt("hooks[%d]", i)
  if type(h) ~= "table" then return cfg_err(kp, "must be a table") end
  local kind = h.type or "webhook"
  if kind ~= "webhook" and kind ~= "log" then
    return cfg_err(kp .. ".type", fmt("unknown hook type '%s' (expected webhook or log)", tostring(kind)))
  end
  local evs = h.events or "*"
  local set = {}
  if evs == "*" then
    set = nil
  elseif type(evs) == "table" then
    for j, e in ipairs(evs) do
      if e == "*" then set = nil; break end
      if not KNOWN[e] then
        return cfg_err(fmt("%s.events[%d]", kp, j), fmt("unknown event type '%s'", tostring(e)))
      end
      set[e] = true
    end
  else
    return cfg_err(kp .. ".events", "must be a list of event types or \"*\"")
  end
  local out = { type = kind, events = set, index = i }
  if kind == "log" then
    out.level = h.level or "info"
    return out
  end
  if type(h.url) ~= "string" or not h.url:match("^https?://[^%s]+$") then
    return cfg_err(kp .. ".url", "must be an http(s) URL")
  end
  if h.secret ~= nil and (type(h.secret) ~= "string" or h.secret == "") then
    return cfg_err(kp .. ".secret", "must be a non-empty string")
  end
  if h.headers ~= nil and type(h.headers) ~= "table" then return cfg_err(kp .. ".headers", "must be a map") end
  local method = (h.method or "POST"):upper()
  if method ~= "POST" and method ~= "PUT" then return cfg_err(kp .. ".method", "must be POST or PUT") end
  for _, k in ipairs({ "timeout_ms", "retry_count", "retry_delay_ms", "queue_size" }) do
    local v = h[k]
    if v ~= nil and (type(v) ~= "number" or v < 0 or v ~= floor(v)) then
      return cfg_err(kp .. "." .. k, "must be a non-negative integer")
    end
    out[k] = v or DEFAULTS[k]
  end
  if out.timeout_ms < 1 then out.timeout_ms = 1 end
  if out.queue_size < 1 then out.queue_size = 1 end
  out.url, out.secret, out.headers, out.method = h.url, h.secret, h.headers or {}, method
  out.proxy, out.cainfo, out.noproxy = h.proxy, h.cainfo, h.noproxy
  return out
end

-- The origin of a URL (scheme://host:port), for stats and logs: paths and
-- queries may carry tokens.
local function origin(url)
  return url:match("^(%a[%w+.-]*://[^/?#@]*@?[^/?#]*)") or "?"
end

-- events.new(cfg, opts) → hooks | nil, ConfigError. cfg: { hooks = {...} }
-- (the engine config; a bare list of hooks is accepted too). opts: log (an
-- astrocyte.log logger), metrics (astrocyte.metrics registry), webhook (the
-- dispatcher module, for tests), clock (→ ms), transport ({proxy, cainfo,
-- noproxy} defaults for every webhook).
function _M.new(cfg, opts)
  opts = opts or {}
  cfg = cfg or {}
  local list = cfg.hooks
  if list == nil and util.is_array(cfg) then list = cfg end
  list = list or {}
  if type(list) ~= "table" then return cfg_err("hooks", "must be a list") end
  local self = setmetatable({
    handlers = {}, hooks = {}, log = opts.log, metrics = opts.metrics,
    clock = opts.clock or util.now_ms,
    counters = { fired = 0, handler_errors = 0, dropped = 0, refused = 0, posted = 0 },
  }, mt)
  local tr = opts.transport or {}
  for i, h in ipairs(list) do
    local hook, err = check_hook(h, i)
    if not hook then self:close(); return nil, err end
    if hook.type == "webhook" then
      local wh = opts.webhook
      if not wh then
        local ok, mod = pcall(require, "astrocyte.webhook")
        if not ok then self:close(); return cfg_err(fmt("hooks[%d]", i), "astrocyte.webhook is not installed") end
        wh = mod
      end
      local d, derr = wh.dispatcher({
        queue_size = hook.queue_size, retries = hook.retry_count, retry_delay_ms = hook.retry_delay_ms,
        timeout_ms = hook.timeout_ms, proxy = hook.proxy or tr.proxy, cainfo = hook.cainfo or tr.cainfo,
        noproxy = hook.noproxy or tr.noproxy, user_agent = "astrocyte/" .. _M._VERSION,
      })
      if not d then self:close(); return cfg_err(fmt("hooks[%d]", i), tostring(derr)) end
      hook.dispatcher = d
      if hook.secret and self.log and self.log.add_secret then self.log:add_secret(hook.secret) end
    end
    self.hooks[#self.hooks + 1] = hook
  end
  return self
end

-- hooks:register(event_type, fn): appends a Lua callback fn(event). Raises
-- on an unknown event type or a non-function (misuse).
function _M:register(event_type, fn)
  if not KNOWN[event_type] then
    error(fmt("events: unknown event type '%s' (known: %s)", tostring(event_type), concat(_M.EVENT_TYPES, ", ")), 2)
  end
  if type(fn) ~= "function" and not (type(fn) == "table" and getmetatable(fn) and getmetatable(fn).__call) then
    error("events: handler must be a function", 2)
  end
  local l = self.handlers[event_type]
  if not l then l = {}; self.handlers[event_type] = l end
  l[#l + 1] = fn
end

-- Returns true when anything (callback or hook) listens to event_type.
function _M:wants(event_type)
  if self.handlers[event_type] and #self.handlers[event_type] > 0 then return true end
  for _, h in ipairs(self.hooks) do
    if h.events == nil or h.events[event_type] then return true end
  end
  return false
end

local function count_drop(self, n)
  self.counters.dropped = self.counters.dropped + n
  if self.metrics and self.metrics.hook_dropped then pcall(self.metrics.hook_dropped, self.metrics, n) end
end

-- Builds the HookEvent envelope.
function _M:event(event_type, bank_id, data, trace_id)
  return { event_id = util.new_id(), type = event_type, timestamp = util.iso(self.clock()),
           bank_id = bank_id, data = _M.flatten(data) or {}, trace_id = trace_id }
end

-- hooks:fire(event_type, bank_id, data, trace_id) → the event, or nil when
-- nothing listens (no event object is built). Never raises for a failing
-- handler or a full webhook queue; raises only on an unknown event type.
function _M:fire(event_type, bank_id, data, trace_id)
  if not KNOWN[event_type] then error(fmt("events: unknown event type '%s'", tostring(event_type)), 2) end
  if not self:wants(event_type) then return nil end
  local ev = self:event(event_type, bank_id, data, trace_id)
  self.counters.fired = self.counters.fired + 1
  for _, fn in ipairs(self.handlers[event_type] or {}) do
    local ok, err = pcall(fn, ev)
    if not ok then
      self.counters.handler_errors = self.counters.handler_errors + 1
      if self.log then
        self.log:warn("astrocyte.hook.error", { bank_id = bank_id, trace_id = trace_id,
          data = { event_type = event_type, event_id = ev.event_id, error = tostring(err) } })
      end
    end
  end
  local body
  for _, h in ipairs(self.hooks) do
    if h.events == nil or h.events[event_type] then
      if h.type == "log" then
        if self.log then
          self.log:log(h.level, "astrocyte.hook.event", { bank_id = bank_id, trace_id = trace_id,
            data = { event_type = event_type, event_id = ev.event_id } })
        end
      elseif h.dispatcher then
        body = body or util.encode(ev)
        local headers = _M.signed_headers(h.secret, body, self.clock() / 1000, h.headers, ev)
        local ok, err = h.dispatcher:post(h.url, headers, body, { method = h.method })
        if ok then
          self.counters.posted = self.counters.posted + 1
        else
          count_drop(self, 1)
          -- a full queue is counted by the dispatcher itself
          if err ~= "queue full" then self.counters.refused = self.counters.refused + 1 end
          if self.log then
            self.log:warn("astrocyte.hook.dropped", { bank_id = bank_id, trace_id = trace_id,
              data = { event_type = event_type, event_id = ev.event_id, hook = h.index, reason = tostring(err) } })
          end
        end
      end
    end
  end
  return ev
end

-- hooks:stats() → { fired, handler_errors, posted, dropped (events refused
-- by a full or closed queue), webhooks = { { url = origin, queued,
-- delivered, failed, dropped, retried, pending } ... } }.
function _M:stats()
  local out = { fired = self.counters.fired, handler_errors = self.counters.handler_errors,
                posted = self.counters.posted, dropped = self.counters.dropped, webhooks = {} }
  for _, h in ipairs(self.hooks) do
    if h.dispatcher then
      local s = h.dispatcher:stats()
      s.url = origin(h.url)
      s.last_error = nil
      out.webhooks[#out.webhooks + 1] = s
    end
  end
  return out
end

-- Total events lost: refused at post (full or closed queue) plus those a
-- dispatcher discarded at shutdown.
function _M:dropped()
  local n = self.counters.refused
  for _, h in ipairs(self.hooks) do
    if h.dispatcher then n = n + h.dispatcher:stats().dropped end
  end
  return n
end

-- hooks:flush(timeout_ms) → true | false, "timeout": waits until every
-- webhook queue is drained (for tests and shutdown).
function _M:flush(timeout_ms)
  local deadline = util.now_ms() + (timeout_ms or 10000)
  for _, h in ipairs(self.hooks) do
    if h.dispatcher then
      local left = deadline - util.now_ms()
      if left < 0 then left = 0 end
      local ok = h.dispatcher:flush(left)
      if not ok then return false, "timeout" end
    end
  end
  return true
end

-- hooks:close(): stops the delivery threads (pending events count as
-- dropped). Idempotent.
function _M:close()
  for _, h in ipairs(self.hooks) do
    if h.dispatcher then h.dispatcher:close() end
  end
end

-- Sorted list of the event types that have callbacks (for diagnostics).
function _M:registered()
  local out = {}
  for k, l in pairs(self.handlers) do if #l > 0 then out[#out + 1] = k end end
  sort(out)
  return out
end

return _M
