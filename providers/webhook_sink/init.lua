-- astrocyte.providers.webhook_sink: a MemoryExportSink (spi.md §1.11) that
-- POSTs each event as JSON to an HTTP endpoint through an asynchronous
-- astrocyte.webhook dispatcher (bounded queue, background delivery in order,
-- bounded retries on connection errors, 5xx and 429). With a secret the
-- request is signed like event-hook webhooks:
--   X-Astrocyte-Timestamp: <unix seconds>
--   X-Astrocyte-Signature: sha256=<hex hmac_sha256(secret, timestamp .. "." .. body)>
-- so receivers verify both with astrocyte.events.verify.
--
--   memory_export_sinks:
--     - provider: webhook_sink
--       config: { url: https://audit.example.com/astrocyte, secret: ${AUDIT_SECRET},
--                 headers: {X-Team: ops}, timeout_ms: 5000, retry_count: 2,
--                 retry_delay_ms: 1000, queue_size: 1000, proxy: ..., cainfo: ... }
--
-- emit() only queues: it returns nil, "webhook_sink: queue full" when the
-- queue is full (counted by astrocyte.sinks). flush() waits for the queue to
-- drain (flush_timeout_ms, default 10 s).
local events = require "astrocyte.events"
local sinks = require "astrocyte.observe.sinks"
local util = require "astrocyte.util"
local type, tostring, fmt, floor = type, tostring, string.format, math.floor

local _M = { name = "webhook_sink", SPI_VERSION = 1 }
local mt = { __index = _M }

local function int_opt(conf, k, dflt, min)
  local v = conf[k]
  if v == nil then return dflt end
  if type(v) ~= "number" or v ~= floor(v) or v < min then
    return nil, fmt("webhook_sink: config.%s must be an integer >= %d", k, min)
  end
  return v
end

-- new(conf) → sink | nil, err.
function _M.new(conf)
  conf = conf or {}
  if type(conf.url) ~= "string" or not conf.url:match("^https?://[^%s]+$") then
    return nil, "webhook_sink: config.url must be an http(s) URL"
  end
  if conf.secret ~= nil and (type(conf.secret) ~= "string" or conf.secret == "") then
    return nil, "webhook_sink: config.secret must be a non-empty string"
  end
  if conf.headers ~= nil and type(conf.headers) ~= "table" then
    return nil, "webhook_sink: config.headers must be a map"
  end
  local o = {}
  for _, spec in ipairs({ { "timeout_ms", 5000, 1 }, { "retry_count", 2, 0 }, { "retry_delay_ms", 1000, 0 },
                          { "queue_size", 1000, 1 }, { "flush_timeout_ms", 10000, 0 } }) do
    local v, err = int_opt(conf, spec[1], spec[2], spec[3])
    if v == nil then return nil, err end
    o[spec[1]] = v
  end
  local ok, webhook = pcall(require, "astrocyte.webhook")
  if not ok then return nil, "webhook_sink: astrocyte.webhook is not installed" end
  local d, derr = webhook.dispatcher({ queue_size = o.queue_size, retries = o.retry_count,
    retry_delay_ms = o.retry_delay_ms, timeout_ms = o.timeout_ms, proxy = conf.proxy,
    noproxy = conf.noproxy, cainfo = conf.cainfo, user_agent = "astrocyte-webhook-sink" })
  if not d then return nil, "webhook_sink: " .. tostring(derr) end
  return setmetatable({ url = conf.url, secret = conf.secret, headers = conf.headers or {},
                        flush_timeout_ms = o.flush_timeout_ms, d = d, clock = conf.clock or util.now_ms }, mt)
end

-- emit(event) → true | nil, err. Queues the signed request.
function _M:emit(ev)
  if type(ev) ~= "table" or type(ev.kind) ~= "string" then
    return nil, "webhook_sink: event must be a MemoryExportSinkEvent"
  end
  local body, err = sinks.encode(ev)
  if not body then return nil, "webhook_sink: " .. tostring(err) end
  local headers = events.signed_headers(self.secret, body, self.clock() / 1000, self.headers, ev)
  local ok, perr = self.d:post(self.url, headers, body)
  if not ok then return nil, "webhook_sink: " .. tostring(perr) end
  return true
end

-- flush() → true | nil, "webhook_sink: timeout".
function _M:flush()
  local ok = self.d:flush(self.flush_timeout_ms)
  if not ok then return nil, "webhook_sink: timeout" end
  return true
end

-- health(): unhealthy once the last delivery failed and none succeeded since.
function _M:health()
  local s = self.d:stats()
  local msg = fmt("webhook_sink: %d delivered, %d failed, %d dropped, %d pending",
                  s.delivered, s.failed, s.dropped, s.pending)
  return { healthy = not (s.failed > 0 and s.delivered == 0), message = msg }
end

function _M.capabilities(_)
  return { event_kinds = sinks.KINDS, includes_embeddings = false, includes_raw_text = false }
end

-- stats() → the dispatcher's counters.
function _M:stats() return self.d:stats() end

function _M:close()
  if self.d then
    self.d:flush(self.flush_timeout_ms)
    self.d:close()
  end
end

return { memory_export_sinks = _M.new, new = _M.new, class = _M }
