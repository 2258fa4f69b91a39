-- astrocyte.sinks: the memory export sinks of an engine (spi.md §1.11) and
-- the constructors of their events. A set is built from the config list
--   memory_export_sinks: [{ provider: jsonl_sink, config: { path: ... } }, ...]
-- through the registry (group memory_export_sinks), so a third-party sink
-- is just another provider module. emit_all never raises and never fails
-- the operation: a sink error is counted, logged (astrocyte.sink.error) and
-- exported as astrocyte_export_sink_failures_total{sink}.
--
-- Events are MemoryExportSinkEvent DTOs { event_id, kind, version = 1,
-- bank_id, occurred_at, payload }. The constructors copy only the
-- whitelisted payload fields of each kind, so raw text, queries and
-- embeddings can never leak into an export: retain_committed turns
-- `content` into content_sha256 + content_length and drops it.
--
--   local sinks = require "astrocyte.observe.sinks"
--   local set = assert(sinks.new(cfg.memory_export_sinks, { log = logger, metrics = m }))
--   set:emit_all(sinks.retain_committed{ bank_id = b, principal = p, memory_id = id,
--                                        content = text, fact_type = "world", tags = tags })
--   set:flush_all(); set:close()
local core = require "astrocyte.core"
local util = require "astrocyte.util"
local types = require "astrocyte.types"
local errors = require "astrocyte.errors"
local registry = require "astrocyte.registry"
local type, ipairs, tostring, fmt = type, ipairs, tostring, string.format
local setmetatable, pcall = setmetatable, pcall

local _M = { _VERSION = "0.1.0" }
local mt = { __index = _M }

_M.KINDS = { "RetainCommitted", "ForgetApplied", "RecallObserved", "ReflectObserved",
             "BankLifecycle", "ExportCompleted", "GovernanceSignal" }

-- Payload fields allowed per kind (everything else is dropped).
local PAYLOAD = {
  RetainCommitted = { "principal", "memory_id", "fact_type", "tags", "content_sha256", "content_length",
                      "classification", "memory_layer" },
  ForgetApplied = { "principal", "memory_ids", "reason", "deleted_count", "archived_count", "soft" },
  RecallObserved = { "principal", "result_count", "latency_ms", "top_score", "bank_count", "truncated" },
  ReflectObserved = { "principal", "source_count", "latency_ms", "answer_length", "bank_count", "native" },
  BankLifecycle = { "principal", "action" },
  ExportCompleted = { "principal", "path", "memory_count", "checksum" },
  GovernanceSignal = { "principal", "codes", "operation", "action" },
}
_M.PAYLOAD = PAYLOAD

-- Builds a MemoryExportSinkEvent of `kind` from fields; raises on invalid
-- fields (the engine builds these from its own data: a bad one is a bug).
function _M.event(kind, fields)
  local allowed = PAYLOAD[kind]
  if not allowed then error("sinks: unknown event kind '" .. tostring(kind) .. "'", 2) end
  fields = fields or {}
  local payload = {}
  for _, k in ipairs(allowed) do
    if fields[k] ~= nil then payload[k] = util.deepcopy(fields[k]) end
  end
  local ev, err = types.MemoryExportSinkEvent({
    event_id = fields.event_id or util.new_id(), kind = kind, version = 1, bank_id = fields.bank_id,
    occurred_at = fields.occurred_at or util.iso(util.now_ms()), payload = payload,
  })
  if not ev then error("sinks: " .. tostring(err.message or err), 2) end
  return ev
end

-- RetainCommitted: { bank_id, principal, memory_id, fact_type, tags,
-- classification, content (hashed, never copied) | content_sha256 +
-- content_length, occurred_at, event_id }.
function _M.retain_committed(f)
  f = util.copy(f or {})
  if type(f.content) == "string" then
    f.content_sha256 = core.sha256_hex(f.content)
    f.content_length = #f.content
  end
  f.content = nil
  return _M.event("RetainCommitted", f)
end
-- ForgetApplied: { bank_id, principal, memory_ids, reason, deleted_count, archived_count, soft }.
function _M.forget_applied(f) return _M.event("ForgetApplied", f) end
-- RecallObserved: aggregates only { bank_id, result_count, latency_ms, top_score, bank_count }.
function _M.recall_observed(f) return _M.event("RecallObserved", f) end
-- ReflectObserved: { bank_id, source_count, latency_ms, answer_length, bank_count, native }.
function _M.reflect_observed(f) return _M.event("ReflectObserved", f) end
-- BankLifecycle: { bank_id, action = "created" | "deleted" }.
function _M.bank_lifecycle(f) return _M.event("BankLifecycle", f) end
-- ExportCompleted: { bank_id, path (URI), memory_count, checksum }.
function _M.export_completed(f) return _M.event("ExportCompleted", f) end
-- GovernanceSignal: { bank_id, codes = { "pii.redacted", ... }, operation, action } — codes, no secrets.
function _M.governance_signal(f) return _M.event("GovernanceSignal", f) end

-- The JSON text of an event (schema-aware: empty payload is {}).
function _M.encode(ev)
  return types.to_json("MemoryExportSinkEvent", ev)
end

-- sinks.new(list, opts) → set | nil, ConfigError. list: the config's
-- memory_export_sinks (a list of { provider, config }) or a table holding
-- it under that key; nil means no sinks. opts: log, metrics.
function _M.new(list, opts)
  opts = opts or {}
  if type(list) == "table" and list.memory_export_sinks ~= nil then list = list.memory_export_sinks end
  list = list or {}
  if type(list) ~= "table" or not util.is_array(list) then
    return nil, errors.config("memory_export_sinks must be a list of {provider, config}",
                              { key_path = "memory_export_sinks" })
  end
  local self = setmetatable({ sinks = {}, log = opts.log, metrics = opts.metrics,
                              emitted = 0, failed = 0, skipped = 0 }, mt)
  for i, entry in ipairs(list) do
    local kp = fmt("memory_export_sinks[%d]", i)
    if type(entry) ~= "table" then
      self:close()
      return nil, errors.config(kp .. " must be a table {provider, config}", { key_path = kp })
    end
    local sink, err = registry.build("memory_export_sinks", entry.provider, entry.config or {}, kp .. ".provider")
    if not sink then self:close(); return nil, err end
    local ok, caps = pcall(sink.capabilities, sink)
    local kinds
    if ok and type(caps) == "table" and type(caps.event_kinds) == "table" and #caps.event_kinds > 0 then
      kinds = {}
      for _, k in ipairs(caps.event_kinds) do kinds[k] = true end
    end
    self.sinks[#self.sinks + 1] = { name = tostring(entry.provider), sink = sink, kinds = kinds,
                                    emitted = 0, failed = 0, last_error = nil }
  end
  return self
end

-- Number of configured sinks.
function _M:count() return #self.sinks end

local function failure(self, s, what, err)
  s.failed = s.failed + 1
  self.failed = self.failed + 1
  s.last_error = tostring(err)
  if self.metrics and self.metrics.sink_failed then pcall(self.metrics.sink_failed, self.metrics, s.name) end
  if self.log then
    self.log:warn("astrocyte.sink.error", { provider = s.name,
      data = { operation = what, error = tostring(err) } })
  end
end

-- Calls sink method m; returns true, or false and the error (raised or
-- nil, err).
local function call(s, m, ...)
  local ok, r, err = pcall(s.sink[m], s.sink, ...)
  if not ok then return false, r end
  if r == nil and err ~= nil then return false, err end
  return true
end

-- set:emit_all(event) → delivered, failed. Sends the event to every sink
-- whose capabilities list its kind; never raises.
function _M:emit_all(ev)
  local okn, failn = 0, 0
  for _, s in ipairs(self.sinks) do
    if s.kinds and not s.kinds[ev.kind] then
      self.skipped = self.skipped + 1
    else
      local ok, err = call(s, "emit", ev)
      if ok then
        okn = okn + 1
        s.emitted = s.emitted + 1
        self.emitted = self.emitted + 1
      else
        failn = failn + 1
        failure(self, s, "emit", err)
      end
    end
  end
  return okn, failn
end

-- set:flush_all() → true | false, failures (sinks without flush are skipped).
function _M:flush_all()
  local failn = 0
  for _, s in ipairs(self.sinks) do
    if type(s.sink.flush) == "function" then
      local ok, err = call(s, "flush")
      if not ok then failn = failn + 1; failure(self, s, "flush", err) end
    end
  end
  if failn > 0 then return false, failn end
  return true
end

-- set:health() → { { sink = name, healthy, message } ... }.
function _M:health()
  local out = {}
  for _, s in ipairs(self.sinks) do
    local ok, h = pcall(s.sink.health, s.sink)
    if ok and type(h) == "table" then
      out[#out + 1] = { sink = s.name, healthy = h.healthy == true, message = h.message }
    else
      out[#out + 1] = { sink = s.name, healthy = false, message = tostring(h) }
    end
  end
  return out
end

-- set:stats() → { emitted, failed, skipped, sinks = { { name, emitted, failed, last_error } } }.
function _M:stats()
  local list = {}
  for i, s in ipairs(self.sinks) do
    list[i] = { name = s.name, emitted = s.emitted, failed = s.failed, last_error = s.last_error }
  end
  return { emitted = self.emitted, failed = self.failed, skipped = self.skipped, sinks = list }
end

-- set:close(): flushes and closes every sink that can be closed. Idempotent.
function _M:close()
  for _, s in ipairs(self.sinks) do
    if type(s.sink.flush) == "function" then pcall(s.sink.flush, s.sink) end
    if type(s.sink.close) == "function" then pcall(s.sink.close, s.sink) end
  end
  self.sinks = {}
end

return _M
