-- astrocyte.engine.verbs: the engine's retain, retain_many, recall and reflect. Each
-- validates its arguments once (errors name the field and bank), passes the
-- policy layer (access, rate limit and quota, signal quality, barriers),
-- hands the validated request to the engine's backend (the built-in
-- pipeline or an engine provider, picked at open), reports the call to
-- observability and records it against quotas. forget has its own module
-- (astrocyte.engine.forget): it also answers to legal holds and audit.
local checks = require "astrocyte.engine.checks"
local config = require "astrocyte.config"
local core = require "astrocyte.core"
local errors = require "astrocyte.errors"
local policy = require "astrocyte.policy"
local util = require "astrocyte.util"
local validate = require "astrocyte.validate"
local type, ipairs, pairs = type, ipairs, pairs
local check_open, guarded, set = checks.check_open, checks.guarded, checks.set

local _M = { methods = {} }
local E = _M.methods

local RETAIN_OPTS = set { "bank_id", "tags", "metadata", "occurred_at", "fact_type", "content_type",
  "extraction_profile", "source", "context", "principal", "on_behalf_of" }
local RECALL_OPTS = set { "bank_id", "banks", "strategy", "max_results", "max_tokens", "tags", "fact_types",
  "time_range", "as_of", "query_reference_date", "session_id", "context", "principal", "on_behalf_of" }
local REFLECT_OPTS = set { "bank_id", "banks", "strategy", "max_results", "max_tokens", "tags", "fact_types",
  "time_range", "as_of", "query_reference_date", "session_id", "max_sentences", "dispositions", "prompt_variant",
  "include_sources", "context", "principal", "on_behalf_of" }

-- The request fields of retain past the policy layer; r.bank_id is set.
local function retain_request(r, o, content, bcfg)
  local bank = r.bank_id
  local err
  r.content, err = validate.content(content, bcfg.barriers.validation.max_content_length, "content", bank)
  if not r.content then return nil, err end
  r.tags, err = validate.tags(o.tags); if err then err.bank_id = bank; return nil, err end
  r.metadata, err = validate.metadata(o.metadata); if err then err.bank_id = bank; return nil, err end
  r.occurred_ms, err = validate.time(o.occurred_at, "occurred_at"); if err then return nil, err end
  r.fact_type, err = validate.str(o.fact_type, "fact_type"); if err then return nil, err end
  r.content_type, err = validate.str(o.content_type, "content_type"); if err then return nil, err end
  r.extraction_profile, err = validate.str(o.extraction_profile, "extraction_profile"); if err then return nil, err end
  return r
end

-- Admits and validates one retain: options o, content; ctx is the acting
-- context. Returns the prepared call {bank, bcfg, r, screened, ctx} or nil,
-- err (refusals reported to observability).
local function admit_retain(self, content, o, ctx)
  local bank, err = checks.bank_arg(self, o.bank_id); if not bank then return nil, err end
  local bcfg; bcfg, err = config.for_bank(self.cfg, bank); if not bcfg then return nil, err end
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
  local r; r, err = retain_request({ bank_id = bank }, o, content, bcfg); if not r then return nil, err end
  local screened; screened, err = self.policy:screen(r, bcfg)
  if not screened then self.observe:refused("retain", bank, err); return nil, err end
  if screened.action_taken ~= "none" then self.observe:pii(bank, screened) end
  return { bank = bank, bcfg = bcfg, r = r, screened = screened, ctx = ctx }
end

-- Reports a retain the backend ran (seconds it took, res or err), records
-- it against quotas and signal quality; returns res or nil, err.
local function retained(self, c, seconds, res, err)
  local bank, r, screened = c.bank, c.r, c.screened
  self.observe:done("retain", { bank_id = bank, provider = self:provider_name(), seconds = seconds,
    principal = c.ctx and c.ctx.principal, status = res and "ok" or "error", result = res,
    request = { content = r.content, content_length = #r.content, fact_type = r.fact_type, tags = r.tags } })
  checks.wrote(self, bank)
  if not res then return nil, err end
  self.policy:record("retain", bank, c.bcfg)
  self.policy.signal:record(bank, #r.content, res.deduplicated)
  if res.deduplicated then
    local dd = c.bcfg.signal_quality and c.bcfg.signal_quality.dedup
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

-- engine:retain(content, opts) → RetainResult | nil, err.
-- opts: bank_id, tags, metadata, occurred_at (ISO-8601 or epoch seconds), fact_type.
function E:retain(content, opts)
  local cerr = check_open(self, "retain"); if cerr then return nil, cerr end
  local o, err = validate.opts(opts, RETAIN_OPTS, "retain"); if not o then return nil, err end
  local ctx; ctx, err = policy.context(o, self._ctx); if ctx == false then return nil, err end
  local c; c, err = admit_retain(self, content, o, ctx); if not c then return nil, err end
  local t0 = core.time()
  local res; res, err = guarded(self.backend.retain, self, c.r, c.bcfg)
  return retained(self, c, core.time() - t0, res, err)
end

-- The options of one retain_many item: the call's options, overridden by
-- the item's own (a string item is its content).
local ITEM_OPTS = set { "content", "bank_id", "tags", "metadata", "occurred_at", "fact_type", "content_type",
  "extraction_profile", "source" }
local function item_opts(o, item, i)
  if type(item) == "string" then return util.copy(o), item end
  if type(item) ~= "table" then
    return nil, errors.validation(("items[%d] must be a string or a table, got %s"):format(i, type(item)),
                                  { field = ("items[%d]"):format(i), index = i })
  end
  local own, err = validate.opts(item, ITEM_OPTS, "retain_many item"); if not own then return nil, err end
  local m = util.copy(o)
  for k, v in pairs(own) do if k ~= "content" then m[k] = v end end
  return m, own.content
end

-- Names item i in an error: message "items[i]: ...", field "items[i].<field>", index i.
local function at_item(err, i)
  if type(err) ~= "table" or err.index ~= nil then return err end
  err.index = i
  err.field = ("items[%d]%s"):format(i, err.field and ("." .. err.field) or "")
  if err.message then err.message = ("items[%d]: %s"):format(i, err.message) end
  return err
end

-- engine:retain_many(items, opts) → array of RetainResult (item order) | nil, err.
-- items: content strings or tables {content, bank_id?, tags?, metadata?,
-- occurred_at?, fact_type?, content_type?, extraction_profile?}; opts: the
-- options of retain, the defaults of every item. Every item is validated
-- and admitted first (an error names items[i] and its field; nothing is
-- stored), then all are stored as one write (one transaction on the
-- embedded store). Events, hooks, quotas and signal quality: as one retain
-- per item.
function E:retain_many(items, opts)
  local cerr = check_open(self, "retain_many"); if cerr then return nil, cerr end
  if type(items) ~= "table" then
    return nil, errors.validation("items must be an array of retain items, got " .. type(items), { field = "items" })
  end
  local o, err = validate.opts(opts, RETAIN_OPTS, "retain_many"); if not o then return nil, err end
  local ctx; ctx, err = policy.context(o, self._ctx); if ctx == false then return nil, err end
  local calls = {}
  for i = 1, #items do
    local io, content = item_opts(o, items[i], i); if not io then return nil, at_item(content, i) end
    local c; c, err = admit_retain(self, content, io, ctx); if not c then return nil, at_item(err, i) end
    calls[i] = c
  end
  if #calls == 0 then return {} end
  local t0 = core.time()
  -- the admitted calls are the backend's list: each has r and bcfg
  local res; res, err = guarded(self.backend.retain_many, self, calls)
  local share = (core.time() - t0) / #calls
  if not res then
    for _, c in ipairs(calls) do retained(self, c, share, nil, err) end
    return nil, err
  end
  for i, c in ipairs(calls) do retained(self, c, share, res[i]) end
  return res
end

-- Validates the options shared by recall and reflect and admits the call on
-- every bank it reads. Returns the request and the raw options, or nil, err.
local function recall_request(self, query, opts, known, what)
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
    r.bank_id, err = checks.bank_arg(self, o.bank_id); if not r.bank_id then return nil, err end
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
  r.ref_given = (ref or r.as_of_ms) ~= nil   -- pinned, not "now" (the recall cache keys on it)
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

-- Runs a validated recall or reflect request r on the backend (fn), reports
-- it, and answers ProviderUnavailable with the configured degraded result.
local function run_read(self, what, r, fn, ...)
  local t0 = core.time()
  local res, err = guarded(fn, self, r, ...)
  self.observe:done(what, { bank_id = r.bank_id, provider = self:provider_name(), seconds = core.time() - t0,
    principal = r.ctx and r.ctx.principal, status = res and "ok" or "error", result = res,
    request = { query_length = #r.query, bank_count = r.banks and #r.banks or 1,
                cached = self.recall_cache and res and res.trace and res.trace.cache_hit } })
  if not res then
    if err and err.kind == "ProviderUnavailable" then return self.policy:degraded(what, err.provider) end
    return nil, err
  end
  for _, b in ipairs(r.banks or { r.bank_id }) do self.policy:record(what, b, config.for_bank(self.cfg, b)) end
  return res
end

-- engine:recall(query, opts) → RecallResult | nil, err. Unknown bank → no hits.
-- opts: bank_id, max_results (10), max_tokens, tags, fact_types, time_range {from, to}, as_of.
function E:recall(query, opts)
  local cerr = check_open(self, "recall"); if cerr then return nil, cerr end
  local r, err = recall_request(self, query, opts, RECALL_OPTS, "recall")
  if not r then return nil, err end
  local h = self.cfg.homeostasis
  if r.max_tokens == nil and h then r.max_tokens = h.recall_max_tokens end
  return run_read(self, "recall", r, self.backend.recall, function(b) return config.for_bank(self.cfg, b) end)
end

-- engine:reflect(query, opts) → ReflectResult {answer, sources, confidence} | nil, err.
function E:reflect(query, opts)
  local cerr = check_open(self, "reflect"); if cerr then return nil, cerr end
  local r, o = recall_request(self, query, opts, REFLECT_OPTS, "reflect")
  if not r then return nil, o end
  local max_sentences, err = validate.int(o.max_sentences, "max_sentences", 1, 100, self.cfg.reflect.max_sentences)
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
  return run_read(self, "reflect", r, self.backend.reflect, {
    max_sentences = max_sentences, dispositions = disp, variant = o.prompt_variant,
    max_tokens = r.max_tokens or (h and h.reflect_max_tokens), ref_iso = util.iso(r.ref_ms),
  }, function(b) return config.for_bank(self.cfg, b) end)
end

return _M
