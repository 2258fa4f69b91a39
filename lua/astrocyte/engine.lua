-- astrocyte.engine: the engine object behind the public Lua API. It validates
-- every call (errors name the field and bank), resolves providers through the
-- registry, and runs the built-in pipeline. Calls return result or nil, err;
-- an error raised by a provider is caught here and returned as an error
-- object, never as a Lua error, and never after a partial write.
local config = require "astrocyte.config"
local errors = require "astrocyte.errors"
local pipeline = require "astrocyte.pipeline"
local registry = require "astrocyte.registry"
local validate = require "astrocyte.validate"
local policy = require "astrocyte.policy"
local tier2 = require "astrocyte.tier2"
local observe = require "astrocyte.observe"
local core = require "astrocyte.core"
local util = require "astrocyte.util"
local type, fmt = type, string.format

local _M = {}
local mt = { __index = _M }

local function set(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end

local RETAIN_OPTS = set { "bank_id", "tags", "metadata", "occurred_at", "fact_type", "content_type",
  "extraction_profile", "source", "context", "principal", "on_behalf_of" }
local RECALL_OPTS = set { "bank_id", "banks", "strategy", "max_results", "max_tokens", "tags", "fact_types",
  "time_range", "as_of", "query_reference_date", "session_id", "context", "principal", "on_behalf_of" }
local REFLECT_OPTS = set { "bank_id", "banks", "strategy", "max_results", "max_tokens", "tags", "fact_types",
  "time_range", "as_of", "query_reference_date", "session_id", "max_sentences", "dispositions", "prompt_variant",
  "include_sources", "context", "principal", "on_behalf_of" }
local FORGET_OPTS = set { "bank_id", "memory_ids", "tags", "before", "before_date", "scope" }

-- Makes sure the directory that will hold the default database exists.
local function ensure_parent_dir(path)
  local dir = path:match("^(.*)/[^/]+$")
  if dir and dir ~= "" then
    os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
  end
end

local function check_open(self, what)
  if type(self) ~= "table" or self.cfg == nil then error("astrocyte: call engine:" .. what .. "(...) with a colon", 3) end
  if self.closed then
    return errors.new("ProviderUnavailable", "engine is closed", { provider = "engine" })
  end
end

-- Canonical text of a provider choice (name + config) to tell whether a
-- reload changed it.
local function provider_key(name, conf)
  return tostring(name) .. "\0" .. (util.encode(conf or {}) or "")
end

-- Every provider config that names no outbound_transport of its own gets
-- the engine's, so all of this engine's egress (stores, LLMs, policy
-- providers) goes through it — per engine, not process-wide.
local PROVIDER_CONFIGS = { "vector_store_config", "document_store_config", "graph_store_config",
  "embedding_provider_config", "llm_provider_config", "provider_config" }
local function spread_transport(cfg)
  local t = cfg.outbound_transport
  if t == nil then return end
  for _, k in ipairs(PROVIDER_CONFIGS) do
    if cfg[k] == nil and cfg[k:gsub("_config$", "")] then cfg[k] = {} end
    if type(cfg[k]) == "table" and cfg[k].outbound_transport == nil then cfg[k].outbound_transport = t end
  end
  local ac = cfg.access_control
  if type(ac) == "table" and ac.policy_provider then
    ac.policy_provider_config = ac.policy_provider_config or {}
    if ac.policy_provider_config.outbound_transport == nil then ac.policy_provider_config.outbound_transport = t end
  end
end

-- Builds (or keeps from `old`) the providers that cfg names. Returns a table
-- {vector_store, document_store, embedder, keys} or nil, err; on error
-- nothing newly built is left open.
local function build_providers(cfg, old)
  spread_transport(cfg)
  local built, keys = {}, {}
  local function cleanup()
    for _, p in pairs(built) do if p.close then pcall(p.close, p) end end
  end
  local function get(slot, group, name, conf, key_path)
    local key = provider_key(name, conf)
    keys[slot] = key
    if old and old.keys[slot] == key then return old[slot] end
    local p, err = registry.build(group, name, conf, key_path)
    if p then built[slot] = p end
    return p, err
  end
  -- Tier 2: an engine provider owns storage and retrieval; no stores needed.
  if cfg.provider then
    local ep, eerr = get("engine", "engine_providers", cfg.provider, cfg.provider_config, "provider")
    if not ep then cleanup(); return nil, eerr end
    local llm
    if cfg.llm_provider then
      llm, eerr = get("llm", "llm_providers", cfg.llm_provider, cfg.llm_provider_config, "llm_provider")
      if not llm then cleanup(); return nil, eerr end
    end
    return { engine = ep, llm = llm, keys = keys }
  end
  -- The top-level vector_index section tunes the built-in stores' indexes.
  if type(cfg.vector_index) == "table" and type(cfg.vector_store_config) == "table"
     and cfg.vector_store_config.vector_index == nil then
    cfg.vector_store_config.vector_index = cfg.vector_index
  end
  local vs, err = get("vector_store", "vector_stores", cfg.vector_store, cfg.vector_store_config, "vector_store")
  if not vs then cleanup(); return nil, err end
  local ds
  if cfg.document_store then
    ds, err = get("document_store", "document_stores", cfg.document_store, cfg.document_store_config, "document_store")
    if not ds then cleanup(); return nil, err end
  elseif type(vs.search_fulltext) == "function" then
    ds = vs
  end
  local emb
  emb, err = get("embedder", "llm_providers", cfg.embedding_provider, cfg.embedding_provider_config, "embedding_provider")
  if not emb then cleanup(); return nil, err end
  if type(emb.embed) ~= "function" then
    cleanup()
    return nil, errors.config(fmt("embedding_provider: provider '%s' has no embed method", cfg.embedding_provider), { key_path = "embedding_provider" })
  end
  -- The graph store: as configured, else the vector store's provider when it
  -- implements graph_stores too (the embedded default does).
  local gs
  if cfg.graph_store then
    gs, err = get("graph_store", "graph_stores", cfg.graph_store, cfg.graph_store_config, "graph_store")
    if not gs then cleanup(); return nil, err end
  elseif not cfg.vector_store:find(":", 1, true)
         and registry.resolve("graph_stores", cfg.vector_store, "graph_store") then
    -- Only a short-named provider that registers graph_stores itself; a
    -- "module:Name" vector store says nothing about graphs.
    gs, err = get("graph_store", "graph_stores", cfg.vector_store, cfg.vector_store_config, "graph_store")
    if not gs then cleanup(); return nil, err end
  end
  local llm
  if cfg.llm_provider then
    llm, err = get("llm", "llm_providers", cfg.llm_provider, cfg.llm_provider_config, "llm_provider")
    if not llm then cleanup(); return nil, err end
  end
  return { vector_store = vs, document_store = ds, embedder = emb, graph_store = gs, llm = llm, keys = keys }
end

-- Opens an engine from a config table, a YAML/JSON file path, or nil (the
-- embedded default). opts: { db = path }. Returns engine or nil, err.
function _M.open(input, opts)
  if opts ~= nil and type(opts) ~= "table" then
    return nil, errors.validation("open options must be a table", { field = "opts" })
  end
  local cfg, err = config.load(input, opts)
  if not cfg then return nil, err end
  if cfg._default_db then ensure_parent_dir(cfg.vector_store_config.path) end
  spread_transport(cfg)
  local pol; pol, err = policy.new(cfg, opts and opts.policy)
  if not pol then return nil, err end
  local obs; obs, err = observe.new(cfg, opts and opts.observe)
  if not obs then return nil, err end
  local p; p, err = build_providers(cfg)
  if not p then obs:close(0); return nil, err end
  local self = setmetatable({ cfg = cfg, input = input, open_opts = opts, providers = p, policy = pol,
                              observe = obs, closed = false }, mt)
  pol.on_breaker = function(...) return self.observe:breaker(...) end
  self:_attach(p)
  if p.engine then
    self.engine_caps, err = tier2.prepare(cfg, p.engine, p.llm)
    if not self.engine_caps then self:close(); return nil, err end
  end
  return self
end

-- Points the engine at providers p, each behind its circuit breaker (named
-- after its config key's provider name).
function _M:_attach(p)
  local cache, cfg, pol = {}, self.cfg, self.policy
  self.vector_store = pol:guard_provider(cfg.vector_store, p.vector_store, cache)
  self.document_store = pol:guard_provider(cfg.document_store or cfg.vector_store, p.document_store, cache)
  self.graph_store = pol:guard_provider(cfg.graph_store or cfg.vector_store, p.graph_store, cache)
  self.embedder = pol:guard_provider(cfg.embedding_provider, p.embedder, cache)
  self.llm = pol:guard_provider(cfg.llm_provider, p.llm, cache)
  self.engine_provider = pol:guard_provider(cfg.provider, p.engine, cache)
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
  local p; p, err = build_providers(cfg, self.providers)
  if not p then return nil, err end
  spread_transport(cfg)
  local pol; pol, err = policy.new(cfg, self.open_opts and self.open_opts.policy)
  if not pol then
    for slot, prov in pairs(p) do
      if slot ~= "keys" and prov.close and prov ~= self.providers[slot] then pcall(prov.close, prov) end
    end
    return nil, err
  end
  local obs; obs, err = observe.new(cfg, self.open_opts and self.open_opts.observe)
  if not obs then
    for slot, prov in pairs(p) do
      if slot ~= "keys" and prov.close and prov ~= self.providers[slot] then pcall(prov.close, prov) end
    end
    return nil, err
  end
  local old = self.providers
  local kept = {}
  for slot, prov in pairs(p) do if slot ~= "keys" then kept[prov] = true end end
  local closed = {}
  for slot, prov in pairs(old) do
    if slot ~= "keys" and not kept[prov] and not closed[prov] and prov.close then
      closed[prov] = true
      pcall(prov.close, prov)
    end
  end
  local old_obs = self.observe
  self.cfg, self.providers, self.policy, self.observe = cfg, p, pol, obs
  for _, entry in ipairs(self._callbacks or {}) do obs.hooks:register(entry[1], entry[2]) end
  pol.on_breaker = function(...) return self.observe:breaker(...) end
  self:_attach(p)
  old_obs:close(1000)
  obs:governance("config_reload", nil, { source = tostring(cfg._source or "table") })
  return true
end

-- Effective config of one bank (profile and overrides applied).
function _M:bank_config(bank_id)
  return config.for_bank(self.cfg, bank_id)
end

-- Fires on_bank_created the first time this engine stores into a bank the
-- store did not list when the engine first looked.
function _M:_note_bank(bank, stored)
  if not stored then return end
  local known = rawget(self, "_known_banks")
  if not known then
    known = {}
    local vs = self.vector_store or self.engine_provider
    if vs and type(vs.list_banks) == "function" then
      for _, b in ipairs(pipeline.call(vs, "list_banks", nil) or {}) do
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

-- engine:stats() → {metrics, hooks, sinks, breakers}.
function _M:stats()
  local st = self.observe:stats()
  st.breakers = self.policy:status()
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

-- Resolves and validates the bank id of a call.
local function bank_of(self, o)
  local b = o.bank_id
  if b == nil then b = self.cfg.default_bank_id end
  return validate.bank_id(b)
end

-- Runs fn, converting any raised Lua error into an error object.
local function guarded(fn, ...)
  local ok, res, err = pcall(fn, ...)
  if not ok then return nil, errors.wrap("InternalError", res) end
  return res, err
end

-- engine:retain(content, opts) → RetainResult | nil, err.
-- opts: bank_id, tags, metadata, occurred_at (ISO-8601 or epoch seconds), fact_type.
function _M:retain(content, opts)
  local cerr = check_open(self, "retain"); if cerr then return nil, cerr end
  local o, err = validate.opts(opts, RETAIN_OPTS, "retain"); if not o then return nil, err end
  local bank; bank, err = bank_of(self, o); if not bank then return nil, err end
  local r = { bank_id = bank }
  local bcfg; bcfg, err = config.for_bank(self.cfg, bank); if not bcfg then return nil, err end
  local ctx; ctx, err = policy.context(o, self._ctx); if ctx == false then return nil, err end
  local ok; ok, err = self.policy:admit("retain", bank, ctx, bcfg)
  if not ok then self.observe:refused("retain", bank, err); return nil, err end
  local signals
  ok, signals = self.policy.signal:check(bank, bcfg)
  if not ok then
    self.observe:noisy(bank, signals.signals, "refused")
    self.observe:refused("retain", bank, signals)
    return nil, signals
  end
  if signals then self.observe:noisy(bank, signals, "warn") end
  r.content, err = validate.content(content, bcfg.barriers.validation.max_content_length, "content", bank)
  if not r.content then return nil, err end
  r.tags, err = validate.tags(o.tags); if err then err.bank_id = bank; return nil, err end
  r.metadata, err = validate.metadata(o.metadata); if err then err.bank_id = bank; return nil, err end
  r.occurred_ms, err = validate.time(o.occurred_at, "occurred_at"); if err then return nil, err end
  r.fact_type, err = validate.str(o.fact_type, "fact_type"); if err then return nil, err end
  r.content_type, err = validate.str(o.content_type, "content_type"); if err then return nil, err end
  r.extraction_profile, err = validate.str(o.extraction_profile, "extraction_profile"); if err then return nil, err end
  local screened; screened, err = self.policy:screen(r, bcfg)
  if not screened then self.observe:refused("retain", bank, err); return nil, err end
  if screened.action_taken ~= "none" then self.observe:pii(bank, screened) end
  local t0 = core.time()
  local res; res, err = guarded(self.engine_provider and tier2.retain or pipeline.retain, self, r, bcfg)
  local info = { bank_id = bank, provider = self:provider_name(), seconds = core.time() - t0,
                 principal = ctx and ctx.principal, status = res and "ok" or "error", result = res,
                 request = { content = r.content, content_length = #r.content, fact_type = r.fact_type, tags = r.tags } }
  self.observe:done("retain", info)
  if not res then return nil, err end
  self.policy:record("retain", bank, bcfg)
  self.policy.signal:record(bank, #r.content, res.deduplicated)
  if res.deduplicated then
    local dd = bcfg.signal_quality and bcfg.signal_quality.dedup
    self.observe:dedup(bank, dd and dd.action or "skip", res.stored)
  end
  self:_note_bank(bank, res.stored)
  if screened.action_taken ~= "none" then
    res.pii_detected = screened.pii_types
    res.pii_action = screened.action_taken
  end
  if screened.warnings and #screened.warnings > 0 then res.warnings = screened.warnings end
  return res
end

-- Validates the options shared by recall and reflect.
local function recall_opts(self, query, opts, known, what)
  local o, err = validate.opts(opts, known, what); if not o then return nil, err end
  local r = {}
  if o.banks ~= nil then
    local banks
    banks, err = validate.str_list(o.banks, "banks"); if err then return nil, err end
    if #banks == 0 then return nil, errors.config("Either bank_id or banks must be provided", { field = "banks" }) end
    for i, b in ipairs(banks) do
      local _, berr = validate.bank_id(b, "banks[" .. i .. "]"); if berr then return nil, berr end
    end
    r.banks, r.strategy = banks, o.strategy
    r.bank_id = banks[1]
  else
    r.bank_id, err = bank_of(self, o); if not r.bank_id then return nil, err end
  end
  r.query, err = validate.content(query, self.cfg.barriers.validation.max_content_length, "query", r.bank_id)
  if not r.query then return nil, err end
  r.max_results, err = validate.int(o.max_results, "max_results", 1, 1000, 10); if not r.max_results then return nil, err end
  r.max_tokens, err = validate.int(o.max_tokens, "max_tokens", 1, 10000000, nil); if err then return nil, err end
  r.tags, err = validate.tags(o.tags); if err then return nil, err end
  r.fact_types, err = validate.str_list(o.fact_types, "fact_types"); if err then return nil, err end
  r.time_range, err = validate.time_range(o.time_range); if err then return nil, err end
  r.as_of_ms, err = validate.time(o.as_of, "as_of"); if err then return nil, err end
  local ref; ref, err = validate.time(o.query_reference_date, "query_reference_date"); if err then return nil, err end
  r.ref_ms = ref or r.as_of_ms or util.now_ms()
  r.session_id, err = validate.str(o.session_id, "session_id"); if err then return nil, err end
  local ctx; ctx, err = policy.context(o, self._ctx); if ctx == false then return nil, err end
  for _, b in ipairs(r.banks or { r.bank_id }) do
    local bcfg; bcfg, err = config.for_bank(self.cfg, b); if not bcfg then return nil, err end
    local ok; ok, err = self.policy:admit(what, b, ctx, bcfg)
    if not ok then self.observe:refused(what, b, err); return nil, err end
  end
  r.ctx = ctx
  return r, o
end

-- engine:recall(query, opts) → RecallResult | nil, err. Unknown bank → no hits.
-- opts: bank_id, max_results (10), max_tokens, tags, fact_types, time_range {from, to}, as_of.
function _M:recall(query, opts)
  local cerr = check_open(self, "recall"); if cerr then return nil, cerr end
  local r, err = recall_opts(self, query, opts, RECALL_OPTS, "recall")
  if not r then return nil, err end
  local h = self.cfg.homeostasis
  if r.max_tokens == nil and h then r.max_tokens = h.recall_max_tokens end
  local t0 = core.time()
  local res; res, err = guarded(self.engine_provider and tier2.recall or pipeline.recall, self, r,
                                function(b) return config.for_bank(self.cfg, b) end)
  self.observe:done("recall", { bank_id = r.bank_id, provider = self:provider_name(), seconds = core.time() - t0,
    principal = r.ctx and r.ctx.principal, status = res and "ok" or "error", result = res,
    request = { query_length = #r.query, bank_count = r.banks and #r.banks or 1 } })
  if not res then
    if err and err.kind == "ProviderUnavailable" then return self.policy:degraded("recall", err.provider) end
    return nil, err
  end
  for _, b in ipairs(r.banks or { r.bank_id }) do self.policy:record("recall", b, config.for_bank(self.cfg, b)) end
  return res
end

-- engine:reflect(query, opts) → ReflectResult {answer, sources, confidence} | nil, err.
function _M:reflect(query, opts)
  local cerr = check_open(self, "reflect"); if cerr then return nil, cerr end
  local r, o = recall_opts(self, query, opts, REFLECT_OPTS, "reflect")
  if not r then return nil, o end
  local err
  local max_sentences
  max_sentences, err = validate.int(o.max_sentences, "max_sentences", 1, 100, self.cfg.reflect.max_sentences)
  if not max_sentences then return nil, err end
  if o.max_results == nil then r.max_results = self.cfg.reflect.max_results end
  local disp = o.dispositions or self.cfg.defaults
  if disp ~= nil then
    if type(disp) ~= "table" then return nil, errors.validation("dispositions must be a table", { field = "dispositions" }) end
    for _, k in ipairs({ "skepticism", "literalism", "empathy" }) do
      local _, derr = validate.int(disp[k], "dispositions." .. k, 1, 5, 3); if derr then return nil, derr end
    end
  end
  local h = self.cfg.homeostasis
  local t0 = core.time()
  local res; res, err = guarded(self.engine_provider and tier2.reflect or pipeline.reflect, self, r, {
    max_sentences = max_sentences, dispositions = disp, variant = o.prompt_variant,
    max_tokens = r.max_tokens or (h and h.reflect_max_tokens), ref_iso = util.iso(r.ref_ms),
  }, function(b) return config.for_bank(self.cfg, b) end)
  self.observe:done("reflect", { bank_id = r.bank_id, provider = self:provider_name(), seconds = core.time() - t0,
    principal = r.ctx and r.ctx.principal, status = res and "ok" or "error", result = res,
    request = { query_length = #r.query, bank_count = r.banks and #r.banks or 1 } })
  if not res then
    if err and err.kind == "ProviderUnavailable" then return self.policy:degraded("reflect", err.provider) end
    return nil, err
  end
  for _, b in ipairs(r.banks or { r.bank_id }) do self.policy:record("reflect", b, config.for_bank(self.cfg, b)) end
  return res
end

-- engine:forget(opts) → ForgetResult {deleted_count, archived_count} | nil, err.
-- opts: bank_id and one of memory_ids, tags, before (ISO/epoch), scope = "all".
function _M:forget(opts)
  local cerr = check_open(self, "forget"); if cerr then return nil, cerr end
  if opts == nil then
    return nil, errors.validation("forget needs options: bank_id and one of memory_ids, tags, before or scope = 'all'", { field = "opts" })
  end
  local o, err = validate.opts(opts, FORGET_OPTS, "forget"); if not o then return nil, err end
  local r = {}
  r.bank_id, err = validate.bank_id(o.bank_id == nil and self.cfg.default_bank_id or o.bank_id)
  if not r.bank_id then return nil, err end
  r.memory_ids, err = validate.str_list(o.memory_ids, "memory_ids"); if err then return nil, err end
  r.tags, err = validate.tags(o.tags); if err then return nil, err end
  r.before_ms, err = validate.time(o.before or o.before_date, "before"); if err then return nil, err end
  if o.scope ~= nil and o.scope ~= "all" then
    return nil, errors.validation(fmt("scope must be 'all' or nil, got '%s'", tostring(o.scope)), { field = "scope", bank_id = r.bank_id })
  end
  local selectors = (r.memory_ids and 1 or 0) + ((r.tags or r.before_ms) and 1 or 0) + (o.scope and 1 or 0)
  if selectors == 0 then
    return nil, errors.validation("forget needs one of memory_ids, tags, before or scope = 'all'", { field = "opts", bank_id = r.bank_id })
  end
  if selectors > 1 then
    return nil, errors.validation("forget takes memory_ids, or tags/before, or scope = 'all' — not several", { field = "opts", bank_id = r.bank_id })
  end
  r.scope = o.scope
  local t0 = core.time()
  local res; res, err = guarded(self.engine_provider and tier2.forget or pipeline.forget, self, r)
  self.observe:done("forget", { bank_id = r.bank_id, provider = self:provider_name(), seconds = core.time() - t0,
    status = res and "ok" or "error", result = res, principal = self._ctx and self._ctx.principal,
    request = { memory_ids = r.memory_ids } })
  if res and o.scope == "all" then
    local known = rawget(self, "_known_banks")
    if known then known[r.bank_id] = nil end
    self.observe:bank(r.bank_id, "deleted")
  end
  return res, err
end

-- engine:banks() → array of {bank_id, memory_count} | nil, err.
function _M:banks()
  local cerr = check_open(self, "banks"); if cerr then return nil, cerr end
  local vs = self.vector_store or self.engine_provider
  if type(vs.list_banks) ~= "function" then
    return nil, errors.new("CapabilityNotSupported", fmt("vector store '%s' cannot list banks", self.cfg.vector_store), { provider = self.cfg.vector_store, capability = "list_banks" })
  end
  local list, err = pipeline.call(vs, "list_banks", nil)
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
  local main = self.vector_store or self.engine_provider
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
  local closed = {}
  for slot, prov in pairs(self.providers) do
    if slot ~= "keys" and not closed[prov] and prov.close then
      closed[prov] = true
      pcall(prov.close, prov)
    end
  end
  return true
end

-- Governance, lifecycle, consolidation and export/import (astrocyte.engine_admin).
require("astrocyte.engine_admin").install(_M)

-- Access checks and governance events around those calls (astrocyte.engine_guard).
require("astrocyte.engine_guard").install(_M, mt)

return _M
