-- astrocyte.engine: the engine object behind the public Lua API. open()
-- loads the config, builds the policy layer, observability and the
-- providers, and picks the backend once (the built-in pipeline, or an
-- engine provider); the methods come from one table per concern, assembled
-- here once:
--   astrocyte.engine.verbs        retain, retain_many, recall, reflect
--   astrocyte.engine.forget       forget (holds, soft delete, time ranges, audit)
--   astrocyte.engine.governance   legal holds, audit log
--   astrocyte.engine.lifecycle    run_lifecycle, consolidate, restore_memories
--   astrocyte.engine.portability  export_bank, import_bank
--   astrocyte.engine.inspect      memory (one memory with its entities and history)
-- and this file: open, reload, with_context, banks, health, hooks, stats,
-- close. Calls return result or nil, err; an error raised by a provider is
-- caught and returned as an error object, never as a Lua error, and never
-- after a partial write.
local checks = require "astrocyte.engine.checks"
local config = require "astrocyte.config"
local errors = require "astrocyte.errors"
local observe = require "astrocyte.observe"
local policy = require "astrocyte.policy"
local provider_backend = require "astrocyte.engine.provider_backend"
local providers = require "astrocyte.engine.providers"
local recall_cache = require "astrocyte.pipeline.recall_cache"
local type, fmt, pairs, ipairs, pcall = type, string.format, pairs, ipairs, pcall
local check_open = checks.check_open

local _M = {}
local mt = checks.mt
mt.__index = _M

for _, part in ipairs({ "verbs", "forget", "governance", "lifecycle", "portability", "inspect" }) do
  for name, fn in pairs(require("astrocyte.engine." .. part).methods) do
    assert(_M[name] == nil, "astrocyte.engine: method defined twice: " .. name)
    _M[name] = fn
  end
end

-- Makes sure the directory that will hold the default database exists.
local function ensure_parent_dir(path)
  local dir = path:match("^(.*)/[^/]+$")
  if dir and dir ~= "" then
    os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
  end
end

-- The engine provider's capabilities when p has one newly built (nil when
-- none), or nil, ConfigError.
local function capabilities(cfg, p, old)
  if not p.engine then return nil end
  if old and old.engine == p.engine then return true end
  return provider_backend.prepare(cfg, p.engine, p.llm)
end

-- The engine's recall cache (pipeline/recall_cache.lua) for its present
-- config and stores: nil when recall_cache.enabled is not true, or when the
-- stores cannot tell it when a bank changes (then said in warnings()).
local function attach_cache(self)
  local cache, why = recall_cache.new(self, self.open_opts and self.open_opts.recall_cache)
  self.recall_cache = cache
  if why then
    local w = self.cfg._warnings or {}
    w[#w + 1] = why
    self.cfg._warnings = w
    self.observe.log:warn("astrocyte.recall_cache.off", { data = { reason = why } })
  end
end

-- Opens an engine from a config table, a YAML/JSON file path, or nil (the
-- embedded default). opts: { db = path, policy = {clock, backend},
-- recall_cache = {clock} (seconds; tests inject one) }. Returns engine or nil, err.
function _M.open(input, opts)
  if opts ~= nil and type(opts) ~= "table" then
    return nil, errors.validation("open options must be a table", { field = "opts" })
  end
  local cfg, err = config.load(input, opts)
  if not cfg then return nil, err end
  if cfg._default_db then ensure_parent_dir(cfg.vector_store_config.path) end
  providers.spread_transport(cfg)
  local pol; pol, err = policy.new(cfg, opts and opts.policy)
  if not pol then return nil, err end
  local obs; obs, err = observe.new(cfg, opts and opts.observe)
  if not obs then return nil, err end
  local p; p, err = providers.build(cfg)
  if not p then obs:close(0); return nil, err end
  local self = setmetatable({ cfg = cfg, input = input, open_opts = opts, providers = p, policy = pol,
                              observe = obs, closed = false }, mt)
  pol.on_breaker = function(...) return self.observe:breaker(...) end
  providers.attach(self, p)
  if p.engine then
    self.engine_caps, err = capabilities(cfg, p)
    if not self.engine_caps then self:close(); return nil, err end
  end
  attach_cache(self)
  return self
end

-- engine:with_context(ctx) → a view of this engine whose calls act as ctx
-- ({principal = "user:ana", on_behalf_of = "user:bob"?, teams = {...}?})
-- unless a call passes its own context/principal. Views share everything
-- else (stores, limits, breakers); closing a view closes the engine.
function _M:with_context(ctx)
  local c, err = policy.context({ context = ctx })
  if c == false then return nil, err end
  return setmetatable({ _ctx = c }, { __index = self, __newindex = self })
end

-- engine:reload() re-reads the config (file and profiles) and swaps it in.
-- Providers whose name and config did not change are kept as they are (no
-- reconnect, no index rebuild); changed ones are built anew and the old ones
-- closed. On any error the running engine is left untouched.
function _M:reload()
  local cerr = check_open(self, "reload"); if cerr then return nil, cerr end
  local cfg, err = config.load(self.input, self.open_opts)
  if not cfg then return nil, err end
  local p; p, err = providers.build(cfg, self.providers)
  if not p then return nil, err end
  providers.spread_transport(cfg)
  local pol, obs, caps
  pol, err = policy.new(cfg, self.open_opts and self.open_opts.policy)
  if pol then obs, err = observe.new(cfg, self.open_opts and self.open_opts.observe) end
  if obs and p.engine then caps, err = capabilities(cfg, p, self.providers) end
  if not obs or (p.engine and not caps) then
    if obs then obs:close(0) end
    providers.close_new(p, self.providers)
    return nil, err
  end
  local kept = {}
  for slot, prov in pairs(p) do if slot ~= "keys" then kept[prov] = true end end
  providers.close(self.providers, kept)
  local old_obs = self.observe
  self.cfg, self.providers, self.policy, self.observe = cfg, p, pol, obs
  if caps ~= true then self.engine_caps = caps end
  for _, entry in ipairs(self._callbacks or {}) do obs.hooks:register(entry[1], entry[2]) end
  pol.on_breaker = function(...) return self.observe:breaker(...) end
  providers.attach(self, p)
  attach_cache(self)                   -- the config or the stores may differ: nothing cached carries over
  old_obs:close(1000)
  obs:governance("config_reload", nil, { source = tostring(cfg._source or "table") })
  return true
end

-- Effective config of one bank (profile and overrides applied).
function _M:bank_config(bank_id)
  return config.for_bank(self.cfg, bank_id)
end

-- The store that lists banks and answers health: the vector store, or the
-- engine provider.
local function main_store(self)
  return self.vector_store or self.engine_provider
end

-- Fires on_bank_created the first time this engine stores into a bank the
-- store did not list when the engine first looked.
function _M:_note_bank(bank, stored)
  if not stored then return end
  local known = rawget(self, "_known_banks")
  if not known then
    known = {}
    local vs = main_store(self)
    if vs and type(vs.list_banks) == "function" then
      for _, b in ipairs(errors.call(vs, "list_banks") or {}) do
        if b.bank_id ~= bank or (b.memory_count or 0) > 1 then known[b.bank_id] = true end
      end
    end
    self._known_banks = known
  end
  if not known[bank] then
    known[bank] = true
    self.observe:bank(bank, "created")
  end
end

-- The name metrics and events give the engine's main provider.
function _M:provider_name()
  return self.cfg.provider or self.cfg.vector_store or "pipeline"
end

-- engine:on(event_type, fn) registers a Lua callback for an event
-- (on_retain, on_recall, on_forget, on_pii_detected, on_rate_limited,
-- on_circuit_breaker_open, ...; see astrocyte.events). fn(event) gets the
-- HookEvent {event_id, type, timestamp, bank_id, data}; its errors are
-- logged, never raised into the operation. Survives reload().
function _M:on(event_type, fn)
  local ok, err = pcall(self.observe.hooks.register, self.observe.hooks, event_type, fn)
  if not ok then return nil, errors.validation(tostring(err), { field = "event_type" }) end
  local list = rawget(self, "_callbacks") or {}
  list[#list + 1] = { event_type, fn }
  self._callbacks = list
  return true
end

-- engine:stats() → {metrics, hooks, sinks, breakers, recall_cache?}.
function _M:stats()
  local st = self.observe:stats()
  st.breakers = self.policy:status()
  if self.recall_cache then st.recall_cache = self.recall_cache:status() end
  return st
end

-- engine:metrics_text() → the Prometheus text exposition of this engine.
function _M:metrics_text()
  return self.observe:prometheus()
end

-- engine:warnings() → the config warnings of the last load (unknown keys ...).
function _M:warnings()
  return self.cfg._warnings or {}
end

-- engine:banks() → array of {bank_id, memory_count} | nil, err.
function _M:banks()
  local cerr = check_open(self, "banks"); if cerr then return nil, cerr end
  local vs = main_store(self)
  if type(vs.list_banks) ~= "function" then
    return nil, errors.new("CapabilityNotSupported", fmt("vector store '%s' cannot list banks", self.cfg.vector_store), { provider = self.cfg.vector_store, capability = "list_banks" })
  end
  local list, err = errors.call(vs, "list_banks")
  if not list or not self.policy.access.enabled then return list, err end
  -- With access control on, list only the banks the caller may recall from.
  local ctx = self._ctx
  local out = {}
  for _, b in ipairs(list) do
    if self.policy.access:check(ctx, b.bank_id, "recall") then out[#out + 1] = b end
  end
  return out
end

-- engine:health() → HealthStatus of the vector store, plus `breakers` (each
-- provider's circuit-breaker state) and `degraded` (true while any breaker
-- is not closed: recall runs keyword-only, reflect extractive).
function _M:health()
  if self.closed then return { healthy = false, message = "engine is closed" } end
  local main = main_store(self)
  local ok, h, err = pcall(main.health, main)
  if not ok or not h then h = { healthy = false, message = tostring(ok and err or h) } end
  local out = { healthy = h.healthy, message = h.message, latency_ms = h.latency_ms, breakers = self.policy:status() }
  for _, b in ipairs(out.breakers) do
    if b.state ~= "closed" then out.degraded = true end
  end
  return out
end

-- engine:close(): releases the stores; further calls return an error. Idempotent.
function _M:close()
  if self.closed then return true end
  self.closed = true
  if self.observe then self.observe:close(2000) end
  providers.close(self.providers)
  return true
end

return _M
