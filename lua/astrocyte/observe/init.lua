-- astrocyte.observe: what an engine tells the world about its calls — one
-- object per engine holding the structured logger (astrocyte.log), the
-- metrics registry (astrocyte.metrics), the event hooks and webhooks
-- (astrocyte.events) and the memory export sinks (astrocyte.sinks), with
-- one method per moment the engine reports. Nothing here can fail an
-- operation: hooks and sinks swallow and count their errors.
local events = require "astrocyte.observe.events"
local log = require "astrocyte.observe.log"
local metrics = require "astrocyte.observe.metrics"
local sinks = require "astrocyte.observe.sinks"

local _M = {}
local mt = { __index = _M }

-- observe.new(cfg, opts) → observer | nil, ConfigError. opts.log overrides
-- the logger options (sink, level...), e.g. {sink = "none"} in tests.
function _M.new(cfg, opts)
  opts = opts or {}
  local ob = cfg.observability or {}
  -- Logs go nowhere unless asked for (observability.log_sink: stderr, stdout
  -- or a file path; or ASTROCYTE_LOG): a library must not write to a
  -- host's stderr by default.
  local sink = os.getenv("ASTROCYTE_LOG") or ob.log_sink or "none"
  if sink ~= "none" and sink ~= "stderr" and sink ~= "stdout" then sink = { path = sink } end
  local lopts = { level = ob.log_level or "info", sink = sink }
  for k, v in pairs(opts.log or {}) do lopts[k] = v end
  local logger, err = log.new(lopts)
  if not logger then return nil, err end
  local m = metrics.new()
  local hooks; hooks, err = events.new(cfg, { log = logger, metrics = m })
  if not hooks then return nil, err end
  local set; set, err = sinks.new(cfg.memory_export_sinks or {}, { log = logger, metrics = m })
  if not set then hooks:close(); return nil, err end
  return setmetatable({ log = logger, metrics = m, hooks = hooks, sinks = set }, mt)
end

-- A finished operation: metrics for every call, events and export for
-- successes. info: {bank_id, provider, status = "ok"|"error"|..., seconds,
-- principal, result, request (op-specific fields, no raw content in events)}.
function _M:done(op, info)
  self.metrics:record(op, { bank_id = info.bank_id, provider = info.provider, status = info.status }, info.seconds or 0)
  if info.status ~= "ok" then return end
  local r, q = info.result or {}, info.request or {}
  if op == "retain" then
    if self.hooks:wants("on_retain") then    -- no payload to build when nobody listens
      self.hooks:fire("on_retain", info.bank_id, { memory_id = r.memory_id, content_length = q.content_length })
    end
    if self.sinks:count() > 0 then
      self.sinks:emit_all(sinks.retain_committed({ bank_id = info.bank_id, principal = info.principal,
        memory_id = r.memory_id, fact_type = q.fact_type, tags = q.tags, content = q.content }))
    end
  elseif op == "recall" then
    local top = r.hits and r.hits[1] and r.hits[1].score or 0
    self.hooks:fire("on_recall", info.bank_id, { query_length = q.query_length, result_count = r.hits and #r.hits or 0,
                                                 top_score = top })
    if r.truncated then self.metrics:truncated(info.bank_id, "recall") end
    if q.cached ~= nil then self.metrics:recall_cache(info.bank_id, q.cached) end
    if self.sinks:count() > 0 then
      self.sinks:emit_all(sinks.recall_observed({ bank_id = info.bank_id, result_count = r.hits and #r.hits or 0,
        latency_ms = (info.seconds or 0) * 1000, top_score = top }))
    end
  elseif op == "reflect" then
    if r.degraded then
      -- The LLM failed and the answer is extractive: say so, or it looks normal.
      self.log:warn("astrocyte.reflect.degraded", { bank_id = info.bank_id, provider = info.provider,
                                                    data = { reason = r.degraded_reason } })
    end
    self.hooks:fire("on_reflect", info.bank_id, { query_length = q.query_length,
      answer_length = r.answer and #r.answer or 0, bank_count = q.bank_count or 1 })
    if self.sinks:count() > 0 then
      self.sinks:emit_all(sinks.reflect_observed({ bank_id = info.bank_id, latency_ms = (info.seconds or 0) * 1000,
        source_count = r.sources and #r.sources or 0 }))
    end
  elseif op == "forget" then
    self.hooks:fire("on_forget", info.bank_id, { deleted_count = r.deleted_count, archived_count = r.archived_count })
    self.log:audit("forget", { bank_id = info.bank_id, data = { principal = info.principal or "anonymous",
      deleted_count = r.deleted_count, archived_count = r.archived_count } })
    if self.sinks:count() > 0 then
      self.sinks:emit_all(sinks.forget_applied({ bank_id = info.bank_id, memory_ids = q.memory_ids, reason = q.reason }))
    end
  end
end

-- PII found in retained content (info from the barrier).
function _M:pii(bank_id, info)
  self.metrics:pii_detected(bank_id, info.action_taken, #info.pii_types)
  self.hooks:fire("on_pii_detected", bank_id, { pii_types = table.concat(info.pii_types, ","), action = info.action_taken })
  self.log:warn("astrocyte.policy.pii_detected", { bank_id = bank_id,
    data = { pii_types = table.concat(info.pii_types, ","), action = info.action_taken } })
end

-- A call refused by policy (AccessDenied, RateLimited, PiiRejected ...).
function _M:refused(op, bank_id, err)
  if err.kind == "RateLimited" then
    self.metrics:rate_limited(bank_id, op)
    self.hooks:fire("on_rate_limited", bank_id, { operation = op, limit = err.limit, retry_after = err.retry_after })
  elseif err.kind == "AccessDenied" then
    self.hooks:fire("on_access_denied", bank_id, { operation = op, principal = err.principal, permission = err.permission })
    self.log:audit("access_denied", { bank_id = bank_id, operation = op,
      data = { principal = err.principal, permission = err.permission } })
  elseif err.kind == "PiiRejected" then
    self.metrics:pii_detected(bank_id, "reject", 1)
    self.hooks:fire("on_pii_detected", bank_id, { pii_types = table.concat(err.pii_types or {}, ","), action = "reject" })
    self.hooks:fire("on_policy_violation", bank_id, { operation = op, kind = err.kind })
  end
end

-- A noisy-bank signal (signal_quality.noisy_bank) with action warn, or a
-- retain refused for it.
function _M:noisy(bank_id, signals, action)
  local names = {}
  for i, f in ipairs(signals or {}) do names[i] = f.signal end
  self.hooks:fire("on_noisy_bank", bank_id, { signal = table.concat(names, ","), action_taken = action })
  self.log:warn("astrocyte.signal_quality.noisy_bank", { bank_id = bank_id,
    data = { signals = table.concat(names, ","), action = action } })
end

-- A retain that found near-duplicates (signal_quality.dedup).
function _M:dedup(bank_id, action, stored)
  self.metrics:dedup(bank_id, action)
  self.hooks:fire("on_dedup_detected", bank_id, { action_taken = action, stored = stored })
end

-- A bank seen for the first time (created) or emptied by forget(scope=all).
function _M:bank(bank_id, action)
  self.hooks:fire(action == "created" and "on_bank_created" or "on_bank_deleted", bank_id, { action = action })
  if self.sinks:count() > 0 then
    self.sinks:emit_all(sinks.bank_lifecycle({ bank_id = bank_id, action = action }))
  end
end

-- A provider's circuit breaker changed state.
function _M:breaker(provider, old, new, failures)
  self.metrics:breaker_state(provider, new)
  if new == "open" then
    self.hooks:fire("on_circuit_breaker_open", nil, { provider = provider, failure_count = failures })
    self.log:warn("astrocyte.escalation.breaker_open", { provider = provider, data = { from = old } })
  elseif new == "closed" and old ~= "closed" then
    self.hooks:fire("on_circuit_breaker_close", nil, { provider = provider })
    self.log:info("astrocyte.escalation.breaker_closed", { provider = provider })
  end
end

-- A governance action (legal hold set/released, config reload, export...).
function _M:governance(event, bank_id, data)
  self.log:audit(event, { bank_id = bank_id, data = data })
  local hook = ({ legal_hold = "on_legal_hold", config_reload = "on_config_reload",
                  export = "on_export", import = "on_import", ttl_expiry = "on_ttl_expiry",
                  consolidation = "on_consolidation" })[event]
  if hook then self.hooks:fire(hook, bank_id, data) end
  if self.sinks:count() > 0 then
    self.sinks:emit_all(sinks.governance_signal({ bank_id = bank_id, code = event }))
  end
end

-- stats() → {metrics = snapshot, hooks = stats, sinks = stats}.
function _M:stats()
  return { metrics = self.metrics:snapshot(), hooks = self.hooks:stats(), sinks = self.sinks:stats() }
end

-- Prometheus text exposition of the engine's metrics.
function _M:prometheus()
  return self.metrics:render()
end

-- Flushes webhooks (bounded wait) and sinks, then stops their workers.
function _M:close(wait_ms)
  pcall(self.hooks.flush, self.hooks, wait_ms or 2000)
  pcall(self.hooks.close, self.hooks)
  pcall(self.sinks.flush_all, self.sinks)
  pcall(self.sinks.close, self.sinks)
  pcall(self.log.close, self.log)
end

return _M
