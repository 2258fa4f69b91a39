-- astrocyte.engine.portability: bank export / import in the AMA format
-- (Astrocyte Memory Archive, spi.md §4.3), engine methods (each needs
-- `admin` on the bank: for an import without bank_id, the archive's bank).
--
--   engine:export_bank(bank_id, path, {include_embeddings = false,
--       include_entities = true, allowed_roots, allow_uncontained}) → count
--   engine:import_bank(bank_id?, path, {on_conflict = "skip"|"overwrite"|"error",
--       allowed_roots, allow_uncontained}) → {imported, skipped, errors}
--
-- AMA = JSONL. Line 1: {"_ama_version": 1, "bank_id", "exported_at",
-- "provider", "memory_count"}; then one memory per line: {"id", "text",
-- "fact_type", "metadata", "tags", "occurred_at", "retained_at",
-- "memory_layer", "chunk_id", "embedding"? (floats), "entities"? ([{name,
-- entity_type, aliases}], when the graph store has get_memory_entities)}.
-- Live memories only (archived ones stay out), in list_vectors order.
-- Import writes through store_vectors (ids, timestamps and vectors kept;
-- texts without an embedding are re-embedded), then the document store and
-- the graph (entities + memory links). Paths must resolve inside one of
-- allowed_roots unless allow_uncontained = true.
local checks = require "astrocyte.engine.checks"
local core = require "astrocyte.core"
local embed = require "astrocyte.pipeline.embed"
local entities_mod = require "astrocyte.pipeline.entities"
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local validate = require "astrocyte.validate"
local json = util.json
local type, fmt, ipairs = type, string.format, ipairs

local _M = { AMA_VERSION = 1, methods = {} }

local set = checks.set
local EXPORT_OPTS = set { "include_embeddings", "include_entities", "allowed_roots", "allow_uncontained" }
local IMPORT_OPTS = set { "on_conflict", "allowed_roots", "allow_uncontained" }
local CONFLICT = set { "skip", "overwrite", "error" }

local function shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Lexically normalized absolute path ("." and ".." resolved, no trailing /).
local function lexical(path)
  if path:sub(1, 1) ~= "/" then
    local cwd = os.getenv("PWD")
    if not cwd or cwd == "" then
      local p = io.popen("pwd")
      cwd = p and p:read("*l") or "/"
      if p then p:close() end
    end
    path = cwd .. "/" .. path
  end
  local parts = {}
  for seg in path:gmatch("[^/]+") do
    if seg == ".." then parts[#parts] = nil
    elseif seg ~= "." then parts[#parts + 1] = seg end
  end
  return "/" .. table.concat(parts, "/")
end

-- Resolves a path (symlinks too when `realpath` is available).
function _M.resolve(path)
  local abs = lexical(path)
  local p = io.popen("realpath -m -- " .. shq(abs) .. " 2>/dev/null")
  if p then
    local r = p:read("*l")
    p:close()
    if r and r:sub(1, 1) == "/" then return r end
  end
  return abs
end

-- Path guard: returns the resolved path or nil, ValidationError.
function _M.guard(path, o, bank)
  if type(path) ~= "string" or path == "" then
    return nil, errors.validation("path must be a non-empty string", { field = "path", bank_id = bank })
  end
  local resolved = _M.resolve(path)
  if o.allow_uncontained then return resolved end
  local roots = o.allowed_roots
  if roots ~= nil and (type(roots) ~= "table" or not util.is_array(roots)) then
    return nil, errors.validation("allowed_roots must be an array of directories", { field = "allowed_roots", bank_id = bank })
  end
  for _, root in ipairs(roots or {}) do
    if type(root) == "string" and root ~= "" then
      local r = _M.resolve(root)
      if resolved == r or resolved:sub(1, #r + 1) == (r == "/" and "/" or r .. "/") then return resolved end
    end
  end
  return nil, errors.validation(fmt("path '%s' resolves outside the allowed roots%s", path,
    (roots and #roots > 0) and "" or " (none given: pass allowed_roots or allow_uncontained = true)"),
    { field = "path", bank_id = bank, path = path })
end

-- Array of numbers from a packed or array vector.
local function floats(v)
  if type(v) == "string" then return core.vec_unpack(v) end
  return v
end

local function export_bank(self, bank, path, o)
  local resolved, err = _M.guard(path, o, bank)
  if not resolved then return nil, err end
  local vs, gs = self.vector_store, self.graph_store
  local items, offset = {}, 0
  while true do
    local page; page, err = errors.call(vs, "list_vectors", { bank_id = bank }, bank, offset, 500)
    if not page then return nil, err end
    for _, it in ipairs(page) do items[#items + 1] = it end
    if #page < 500 then break end
    offset = offset + #page
  end
  local ents = {}
  if o.include_entities ~= false and gs and type(gs.get_memory_entities) == "function" and #items > 0 then
    local ids = {}
    for i, it in ipairs(items) do ids[i] = it.id end
    ents, err = errors.call(gs, "get_memory_entities", { bank_id = bank }, ids, bank)
    if not ents then return nil, err end
  end
  local lines = {}
  lines[1] = util.encode({ _ama_version = _M.AMA_VERSION, bank_id = bank, exported_at = util.iso(util.now_ms()),
                           provider = tostring(self.cfg.vector_store), memory_count = #items })
  for i, it in ipairs(items) do
    local rec = { id = it.id, text = it.text, fact_type = it.fact_type, metadata = it.metadata,
                  tags = it.tags, occurred_at = it.occurred_at, retained_at = it.retained_at,
                  memory_layer = it.memory_layer, chunk_id = it.chunk_id }
    if rec.metadata and next(rec.metadata) == nil then rec.metadata = nil end
    if o.include_embeddings and it.vector then rec.embedding = floats(it.vector) end
    local el = ents[it.id]
    if el and #el > 0 then
      local out = {}
      for j, e in ipairs(el) do out[j] = { name = e.name, entity_type = e.entity_type, aliases = e.aliases or {} } end
      rec.entities = out
    end
    local line, jerr = util.encode(rec)
    if not line then return nil, errors.validation(fmt("memory '%s' cannot be encoded: %s", it.id, tostring(jerr)), { bank_id = bank }) end
    lines[i + 1] = line
  end
  -- Write to a sibling temp file, then rename: a failed export leaves no half file.
  local tmp = resolved .. ".tmp"
  local f, oerr = io.open(tmp, "wb")
  if not f then return nil, errors.validation(fmt("cannot write '%s': %s", path, tostring(oerr)), { field = "path", bank_id = bank }) end
  local ok, werr = f:write(table.concat(lines, "\n"), "\n")
  f:close()
  if ok then ok, werr = os.rename(tmp, resolved) end
  if not ok then
    os.remove(tmp)
    return nil, errors.storage(fmt("cannot write '%s': %s", path, tostring(werr)), { bank_id = bank })
  end
  return #items
end

-- Reads and checks an AMA file: returns header, records ({line, rec}) or nil, err.
function _M.read(path, bank)
  local f, oerr = io.open(path, "rb")
  if not f then return nil, errors.validation(fmt("cannot read '%s': %s", path, tostring(oerr)), { field = "path", bank_id = bank }) end
  local header, records, n = nil, {}, 0
  for line in f:lines() do
    n = n + 1
    if n == 1 then
      local h = json.decode(line)
      local v = type(h) == "table" and h._ama_version or nil
      if v ~= _M.AMA_VERSION then
        f:close()
        return nil, errors.validation(fmt("%s:1: not an AMA archive: _ama_version must be %d, got %s", path, _M.AMA_VERSION,
          v == nil and "none" or (type(v) == "number" and v == math.floor(v) and fmt("%d", v)) or tostring(v)), { field = "_ama_version", line = 1, path = path, bank_id = bank })
      end
      header = h
    elseif line:find("%S") then
      records[#records + 1] = { line = n, text = line }
    end
  end
  f:close()
  if not header then
    return nil, errors.validation(fmt("%s:1: not an AMA archive: the file is empty", path), { field = "_ama_version", line = 1, path = path, bank_id = bank })
  end
  return header, records
end

-- Validates one memory line into a VectorItem (vector may be nil). Returns item or nil, message.
local function item_of(r, bank)
  local rec = json.decode(r.text)
  if type(rec) ~= "table" then return nil, "not a JSON object" end
  if type(rec.id) ~= "string" or rec.id == "" then return nil, "missing string field 'id'" end
  if type(rec.text) ~= "string" or not rec.text:find("%S") then return nil, "missing string field 'text'" end
  local _, err = validate.tags(rec.tags); if err then return nil, err.message end
  _, err = validate.metadata(rec.metadata); if err then return nil, err.message end
  for _, k in ipairs({ "occurred_at", "retained_at" }) do
    if rec[k] ~= nil then
      local ms, why = util.to_ms(rec[k]); if not ms then return nil, k .. ": " .. tostring(why) end
    end
  end
  local vec
  if rec.embedding ~= nil then
    if type(rec.embedding) ~= "table" or #rec.embedding == 0 then return nil, "embedding must be an array of numbers" end
    for i, x in ipairs(rec.embedding) do
      if type(x) ~= "number" then return nil, fmt("embedding[%d] is not a number", i) end
    end
    vec = core.vec_pack(rec.embedding)
  end
  return { id = rec.id, bank_id = bank, text = rec.text, vector = vec, metadata = rec.metadata, tags = rec.tags,
           fact_type = rec.fact_type, occurred_at = rec.occurred_at, retained_at = rec.retained_at,
           memory_layer = rec.memory_layer, chunk_id = rec.chunk_id, _entities = rec.entities, _line = r.line }
end

-- Writes a batch of items (vector store, then document store and graph).
-- On a batch failure, retries one by one so each error names its line.
local function write_items(self, bank, batch, errs)
  local vs, ds, gs = self.vector_store, self.document_store, self.graph_store
  local store = {}
  for i, it in ipairs(batch) do
    store[i] = { id = it.id, bank_id = bank, vector = it.vector, text = it.text, metadata = it.metadata, tags = it.tags,
                 fact_type = it.fact_type, occurred_at = it.occurred_at, retained_at = it.retained_at,
                 memory_layer = it.memory_layer, chunk_id = it.chunk_id }
  end
  local ok, err = errors.call(vs, "store_vectors", { bank_id = bank }, store)
  local written = {}
  if ok then
    written = batch
  else
    if #batch == 1 then
      errs[#errs + 1] = { line = batch[1]._line, id = batch[1].id, message = tostring(err.message or err) }
      return 0
    end
    for _, it in ipairs(batch) do
      if write_items(self, bank, { it }, errs) == 1 then written[#written + 1] = it end
    end
    return #written
  end
  for _, it in ipairs(written) do
    if ds and ds ~= vs and ds.store_document then
      errors.call(ds, "store_document", { bank_id = bank }, { id = it.id, text = it.text, metadata = it.metadata, tags = it.tags }, bank)
    end
    if gs and type(it._entities) == "table" and #it._entities > 0 then
      local ents, assoc = {}, {}
      for _, e in ipairs(it._entities) do
        if type(e) == "table" and type(e.name) == "string" and e.name ~= "" then
          local eid = entities_mod.id_of(e.name)
          ents[#ents + 1] = { id = eid, name = e.name, entity_type = type(e.entity_type) == "string" and e.entity_type or "OTHER",
                              aliases = type(e.aliases) == "table" and e.aliases or {} }
          assoc[#assoc + 1] = { memory_id = it.id, entity_id = eid }
        end
      end
      if #ents > 0 then
        local _, gerr = errors.call(gs, "store_entities", { bank_id = bank }, ents, bank)
        if not gerr then _, gerr = errors.call(gs, "link_memories_to_entities", { bank_id = bank }, assoc, bank) end
        if gerr then errs[#errs + 1] = { line = it._line, id = it.id, message = "entities: " .. tostring(gerr.message) } end
      end
    end
  end
  return #written
end

local function import_bank(self, bank, path, o)
  local resolved, err = _M.guard(path, o, bank)
  if not resolved then return nil, err end
  local header, records = _M.read(resolved, bank)
  if not header then return nil, records end
  if bank == nil then
    bank, err = validate.bank_id(header.bank_id, "bank_id")
    if not bank then return nil, err end
  end
  local on_conflict = o.on_conflict or "skip"
  local errs, items, seen, skipped = {}, {}, {}, 0
  for _, r in ipairs(records) do
    local it, why = item_of(r, bank)
    if not it then
      errs[#errs + 1] = { line = r.line, message = why }
    elseif seen[it.id] then
      skipped = skipped + 1            -- the archive repeats an id: first one wins
    else
      seen[it.id] = true
      items[#items + 1] = it
    end
  end
  -- Conflicts with memories already in the bank (archived ones included).
  local vs = self.vector_store
  if on_conflict ~= "overwrite" and type(vs.get_items) == "function" and #items > 0 then
    local ids = {}
    for i, it in ipairs(items) do ids[i] = it.id end
    local existing; existing, err = errors.call(vs, "get_items", { bank_id = bank }, ids, bank, { include_archived = true })
    if not existing then return nil, err end
    local keep = {}
    for _, it in ipairs(items) do
      if existing[it.id] then
        if on_conflict == "error" then
          return nil, errors.validation(fmt("%s:%d: memory '%s' already exists in bank '%s' (on_conflict = 'error')",
            path, it._line, it.id, bank), { field = "on_conflict", line = it._line, bank_id = bank, memory_id = it.id })
        end
        skipped = skipped + 1
      else
        keep[#keep + 1] = it
      end
    end
    items = keep
  end
  -- Re-embed the memories that came without an embedding.
  local need = {}
  for _, it in ipairs(items) do if not it.vector then need[#need + 1] = it end end
  for start = 1, #need, 64 do
    local texts, part = {}, {}
    for i = start, math.min(#need, start + 63) do texts[#texts + 1] = need[i].text; part[#part + 1] = need[i] end
    local vecs; vecs, err = embed.embed(self, texts)
    if not vecs then return nil, err end
    for i, it in ipairs(part) do it.vector = vecs[i] end
  end
  local imported = 0
  local function write_all()
    for start = 1, #items, 1000 do
      local batch = {}
      for i = start, math.min(#items, start + 999) do batch[#batch + 1] = items[i] end
      imported = imported + write_items(self, bank, batch, errs)
    end
    return true
  end
  -- A store that batches (the embedded SQLite store) writes the whole import
  -- in one transaction: one fsync instead of one per 1000 memories.
  if type(vs.write_batch) == "function" then
    local ok; ok, err = errors.call(vs, "write_batch", { bank_id = bank }, write_all)
    if not ok then return nil, err end
  else
    write_all()
  end
  table.sort(errs, function(a, b) return a.line < b.line end)
  return { bank_id = bank, imported = imported, skipped = skipped, errors = errs }
end

local E = _M.methods
local governed, check_open = checks.governed, checks.check_open

-- engine:export_bank(bank_id, path, opts) → number of memories written.
E.export_bank = governed("admin", function(self, bank_id, path, opts)
  local cerr = check_open(self, "export_bank"); if cerr then return nil, cerr end
  local bank, err = checks.bank_arg(self, bank_id); if not bank then return nil, err end
  local o; o, err = validate.opts(opts, EXPORT_OPTS, "export_bank"); if not o then return nil, err end
  return checks.guarded(export_bank, self, bank, path, o)
end, function(self, bank_id, res)
  self.observe:governance("export", bank_id, { memory_count = res })
end)

-- The bank an import writes to: its argument, else the archive's header.
local function import_target(bank_id, path)
  if bank_id ~= nil or type(path) ~= "string" then return bank_id end
  local f = io.open(path, "rb")
  if not f then return nil end
  local header = json.decode(f:read("*l") or "")
  f:close()
  return type(header) == "table" and header.bank_id or nil
end

-- engine:import_bank(bank_id, path, opts) → {bank_id, imported, skipped, errors}.
-- bank_id nil: the archive's own bank.
E.import_bank = governed("admin", function(self, bank_id, path, opts)
  local cerr = check_open(self, "import_bank"); if cerr then return nil, cerr end
  local err
  if bank_id ~= nil then
    bank_id, err = validate.bank_id(bank_id); if not bank_id then return nil, err end
  end
  local o; o, err = validate.opts(opts, IMPORT_OPTS, "import_bank"); if not o then return nil, err end
  if o.on_conflict ~= nil and not CONFLICT[o.on_conflict] then
    return nil, errors.validation(fmt("on_conflict must be 'skip', 'overwrite' or 'error', got '%s'", tostring(o.on_conflict)),
      { field = "on_conflict", bank_id = bank_id })
  end
  local res; res, err = checks.guarded(import_bank, self, bank_id, path, o)
  checks.wrote(self, res and res.bank_id or bank_id)   -- nil: every bank
  return res, err
end, function(self, bank_id, res)
  self.observe:governance("import", bank_id, { imported = res.imported, skipped = res.skipped })
end, import_target)

-- True when the first non-empty line of the file at path is an AMA header.
function _M.is_ama(path)
  local f = io.open(path, "rb")
  if not f then return false end
  for line in f:lines() do
    if line:find("%S") then
      f:close()
      local h = json.decode(line)
      return type(h) == "table" and h._ama_version ~= nil
    end
  end
  f:close()
  return false
end

return _M
