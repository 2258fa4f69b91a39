-- astrocyte.engine.lifecycle: memory lifecycle and consolidation batch jobs
-- (pipeline.md §7 and §1.10), engine methods (each needs `admin` on the bank):
--
--   engine:run_lifecycle(bank_id, {now?, dry_run?}) → LifecycleRunResult
--     {bank_id, archived_count, deleted_count, kept_count, skipped_count,
--      actions = [{memory_id, action, reason}]}: every memory is judged by
--     evaluate_memory_ttl under the bank's `lifecycle` config; "archive" is a
--     soft delete (hidden from recall, kept, restorable), "delete" is a hard
--     delete. Archived memories are re-judged for deletion only.
--   engine:restore_memories(bank_id, memory_ids) → count restored
--   engine:consolidate(bank_id, {threshold?, batch_size?, dry_run?})
--     → {bank_id, duplicates_removed, total_scanned, duplicates}: pages the
--     bank with list_vectors (stable order) and removes near-duplicates
--     (cosine ≥ threshold, default signal_quality.dedup.similarity_threshold
--     or 0.95), keeping the first; a per-run C flat index of the kept
--     vectors answers "nearest kept vector" so the scan is not O(n²) in Lua.
-- Both jobs write an audit record; under a legal hold the lifecycle keeps
-- everything (reason legal_hold) and consolidation refuses (LegalHoldActive).
local checks = require "astrocyte.engine.checks"
local config = require "astrocyte.config"
local core = require "astrocyte.core"
local errors = require "astrocyte.errors"
local forget = require "astrocyte.pipeline.forget"
local governance = require "astrocyte.engine.governance"
local util = require "astrocyte.util"
local validate = require "astrocyte.validate"
local type, fmt, ipairs, floor = type, string.format, ipairs, math.floor

local _M = { methods = {} }

local DAY_MS = 86400000
_M.DEFAULTS = { enabled = false, ttl = { archive_after_days = 90, delete_after_days = 365 } }

local function whole_days(now_ms, t_ms)
  return floor((now_ms - t_ms) / DAY_MS)
end

-- evaluate_memory_ttl (pure; reference precedence). m: {created_at (ms),
-- last_recalled_at (ms), tags, fact_type}; lc: the lifecycle config; now_ms;
-- under_hold: the bank has a legal hold. Returns {action, reason}.
function _M.evaluate_memory_ttl(m, lc, now_ms, under_hold)
  lc = lc or {}
  if not lc.enabled then return { action = "keep", reason = "lifecycle_disabled" } end
  if under_hold then return { action = "keep", reason = "legal_hold" } end
  local ttl = lc.ttl or {}
  if ttl.exempt_tags and m.tags then
    for _, t in ipairs(m.tags) do
      for _, ex in ipairs(ttl.exempt_tags) do
        if t == ex then return { action = "keep", reason = "exempt" } end
      end
    end
  end
  local archive_days = ttl.archive_after_days or 90
  local ov = ttl.fact_type_overrides
  if ov and m.fact_type ~= nil and ov[m.fact_type] ~= nil then archive_days = ov[m.fact_type] end
  local delete_days = ttl.delete_after_days or 365
  if m.created_at and whole_days(now_ms, m.created_at) >= delete_days then
    return { action = "delete", reason = "ttl_expired" }
  end
  local ref = m.last_recalled_at or m.created_at
  if ref and whole_days(now_ms, ref) >= archive_days then
    return { action = "archive", reason = "ttl_unretrieved" }
  end
  return { action = "keep", reason = "recent" }
end

local function ms_of(v)
  if v == nil then return nil end
  return (util.to_ms(v))
end

-- The TTL view of a stored item: created = metadata._created_at, else
-- retained_at; last recalled = metadata._last_recalled_at.
local function ttl_view(it)
  local md = it.metadata or {}
  return { created_at = ms_of(md._created_at) or ms_of(it.retained_at),
           last_recalled_at = ms_of(md._last_recalled_at), tags = it.tags, fact_type = it.fact_type }
end

-- Pages store:method(bank, offset, size) calling fn(item) for each item.
local function each_item(store, method, bank, size, fn)
  local offset = 0
  while true do
    local page, err = errors.call(store, method, { bank_id = bank }, bank, offset, size)
    if not page then return nil, err end
    for _, it in ipairs(page) do fn(it) end
    if #page < size then return true end
    offset = offset + #page
  end
end

local LIFECYCLE_OPTS = checks.set { "now", "dry_run" }
local CONSOLIDATE_OPTS = checks.set { "threshold", "batch_size", "dry_run", "principal" }

local function run_lifecycle(self, bank, o)
  local bcfg, err = config.for_bank(self.cfg, bank)
  if not bcfg then return nil, err end
  local lc = config.merge(util.deepcopy(_M.DEFAULTS), bcfg.lifecycle or {})
  local now_ms; now_ms, err = validate.time(o.now, "now"); if err then return nil, err end
  now_ms = now_ms or util.now_ms()
  local holds; holds, err = governance.holds(self, bank)
  if not holds then return nil, err end
  local under_hold = holds[1] ~= nil
  local vs = self.vector_store
  local actions, to_archive, to_delete, kept = {}, {}, {}, 0
  local ok; ok, err = each_item(vs, "list_vectors", bank, 500, function(it)
    local d = _M.evaluate_memory_ttl(ttl_view(it), lc, now_ms, under_hold)
    actions[#actions + 1] = { memory_id = it.id, action = d.action, reason = d.reason }
    if d.action == "archive" then to_archive[#to_archive + 1] = it.id
    elseif d.action == "delete" then to_delete[#to_delete + 1] = it.id
    else kept = kept + 1 end
  end)
  if not ok then return nil, err end
  if type(vs.list_archived) == "function" then
    ok, err = each_item(vs, "list_archived", bank, 500, function(it)
      local d = _M.evaluate_memory_ttl(ttl_view(it), lc, now_ms, under_hold)
      if d.action == "delete" then
        actions[#actions + 1] = { memory_id = it.id, action = "delete", reason = d.reason, archived = true }
        to_delete[#to_delete + 1] = it.id
      end
    end)
    if not ok then return nil, err end
  end
  if #to_archive > 0 and type(vs.archive) ~= "function" then
    -- A store without soft delete keeps what it cannot archive.
    for _, a in ipairs(actions) do
      if a.action == "archive" then a.action, a.reason = "keep", "archive_unsupported" end
    end
    kept, to_archive = kept + #to_archive, {}
  end
  local archived, deleted = #to_archive, #to_delete
  if not o.dry_run then
    if #to_archive > 0 then
      archived, err = errors.call(vs, "archive", { bank_id = bank }, to_archive, bank, now_ms)
      if not archived then return nil, err end
    end
    if #to_delete > 0 then
      local res; res, err = forget.run(self, { bank_id = bank, memory_ids = to_delete })
      if not res then return nil, err end
      deleted = res.deleted_count
    end
    governance.audit(self, { event = "lifecycle", bank_id = bank, principal = "system:ttl",
      archived_count = archived, deleted_count = deleted, kept_count = kept,
      archived_ids = to_archive, deleted_ids = to_delete, now = util.iso(now_ms) })
  end
  return { bank_id = bank, archived_count = archived, deleted_count = deleted, kept_count = kept,
           skipped_count = kept, actions = actions, dry_run = o.dry_run or false }
end

local function consolidate(self, bank, o)
  local bcfg, err = config.for_bank(self.cfg, bank)
  if not bcfg then return nil, err end
  local dd = bcfg.signal_quality and bcfg.signal_quality.dedup or {}
  local threshold = o.threshold or dd.similarity_threshold or 0.95
  if type(threshold) ~= "number" or threshold <= 0 or threshold > 1 then
    return nil, errors.validation(fmt("threshold must be a number in (0, 1], got %s", tostring(threshold)), { field = "threshold", bank_id = bank })
  end
  local batch; batch, err = validate.int(o.batch_size, "batch_size", 1, 100000, 100); if not batch then return nil, err end
  if not o.dry_run then
    local herr = governance.check_no_hold(self, bank, "consolidation")
    if herr then return nil, herr end
  end
  local vs = self.vector_store
  if type(vs.list_vectors) ~= "function" then
    return nil, errors.new("CapabilityNotSupported", fmt("vector store '%s' cannot list vectors", tostring(self.cfg.vector_store)),
      { provider = self.cfg.vector_store, capability = "list_vectors", bank_id = bank })
  end
  local index, dim, kept_ids, kept_vecs = nil, nil, {}, {}
  local scanned, dups, ierr = 0, {}, nil
  local ok; ok, err = each_item(vs, "list_vectors", bank, batch, function(it)
    scanned = scanned + 1
    local v = it.vector
    if v == nil or ierr then return end
    local packed = type(v) == "string" and v or core.vec_pack(v)
    if not index then
      dim = core.vec_dim(packed)
      index, ierr = core.flat(dim)
      if not index then return end
    end
    if core.vec_dim(packed) ~= dim then return end
    local keys = index:search(packed, 1)
    local k = keys and keys[1]
    if k then
      local cos = core.vec_cosine(packed, kept_vecs[k])
      if cos and cos >= threshold then
        dups[#dups + 1] = { memory_id = it.id, duplicate_of = kept_ids[k], similarity = cos }
        return
      end
    end
    local n = #kept_ids + 1
    local aok, aerr = index:add(n, packed)
    if not aok then ierr = aerr; return end
    kept_ids[n], kept_vecs[n] = it.id, packed
  end)
  if not ok then return nil, err end
  if ierr then return nil, errors.new("InternalError", "consolidation index: " .. tostring(ierr), { bank_id = bank }) end
  local removed = 0
  if not o.dry_run and #dups > 0 then
    local ids = {}
    for i, d in ipairs(dups) do ids[i] = d.memory_id end
    local res; res, err = forget.run(self, { bank_id = bank, memory_ids = ids })
    if not res then return nil, err end
    removed = res.deleted_count
    governance.audit(self, { event = "consolidate", bank_id = bank, principal = o.principal or "system:consolidation",
      memory_ids = ids, deleted_count = removed, total_scanned = scanned, threshold = threshold })
  end
  return { bank_id = bank, duplicates_removed = removed, total_scanned = scanned, duplicates = dups,
           threshold = threshold, dry_run = o.dry_run or false }
end

local E = _M.methods
local governed, check_open, bank_arg = checks.governed, checks.check_open, checks.bank_arg

-- The admin verb `name`(bank_id, opts): open engine, valid bank and opts
-- (known keys), then run(self, bank, opts) guarded.
local function bank_verb(name, known, run)
  return function(self, bank_id, opts)
    local cerr = check_open(self, name); if cerr then return nil, cerr end
    local bank, err = bank_arg(self, bank_id); if not bank then return nil, err end
    local o; o, err = validate.opts(opts, known, name); if not o then return nil, err end
    local res; res, err = checks.guarded(run, self, bank, o)
    checks.wrote(self, bank)
    return res, err
  end
end

-- engine:run_lifecycle(bank_id, {now = ISO|epoch, dry_run = bool}) → LifecycleRunResult.
E.run_lifecycle = governed("admin", bank_verb("run_lifecycle", LIFECYCLE_OPTS, run_lifecycle), function(self, bank_id, res)
  if ((res.archived_count or 0) + (res.deleted_count or 0)) > 0 then
    self.observe:governance("ttl_expiry", bank_id, { archived_count = res.archived_count,
                                                     deleted_count = res.deleted_count })
  end
end)

-- engine:consolidate(bank_id, {threshold, batch_size = 100, dry_run}) → ConsolidationResult.
E.consolidate = governed("admin", bank_verb("consolidate", CONSOLIDATE_OPTS, consolidate), function(self, bank_id, res)
  self.observe:governance("consolidation", bank_id, { duplicates_removed = res.duplicates_removed,
                                                      total_scanned = res.total_scanned })
end)

-- engine:restore_memories(bank_id, memory_ids) → count of archived memories restored.
E.restore_memories = governed("admin", function(self, bank_id, memory_ids, opts)
  local cerr = check_open(self, "restore_memories"); if cerr then return nil, cerr end
  local bank, err = bank_arg(self, bank_id); if not bank then return nil, err end
  local ids; ids, err = validate.str_list(memory_ids, "memory_ids"); if err then return nil, err end
  if not ids then return nil, errors.validation("restore_memories needs memory_ids", { field = "memory_ids", bank_id = bank }) end
  local vs = self.vector_store
  if type(vs.restore) ~= "function" then
    return nil, errors.new("CapabilityNotSupported", fmt("vector store '%s' cannot restore archived memories", tostring(self.cfg.vector_store)),
      { provider = self.cfg.vector_store, capability = "restore", bank_id = bank })
  end
  local n; n, err = errors.call(vs, "restore", { bank_id = bank }, ids, bank)
  checks.wrote(self, bank)
  if not n then return nil, err end
  governance.audit(self, { event = "restore", bank_id = bank, memory_ids = ids, restored_count = n,
                           principal = opts and opts.principal or "anonymous" })
  return n
end)

return _M
