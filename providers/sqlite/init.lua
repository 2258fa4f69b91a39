-- astrocyte.providers.sqlite: the embedded default store. One SQLite file in
-- WAL mode holds every bank's rows (vectors as float32 BLOBs); the C indexes
-- are rebuilt from it on open and updated after every committed write. A
-- write is durable when the call returns (synchronous=FULL) and atomic (one
-- transaction per call), so a failed call stores nothing.
-- Schema 2: soft delete (memories.archived_at; archived rows stay out of the
-- indexes and every search) and the governance tables (holds, audit log).
-- Schema 3: the change log (astrocyte_changes, astrocyte_bank_seq, written in
-- the same transaction as each memory row) keeps several connections to one
-- file coherent: before a search a store checks PRAGMA data_version and
-- replays the others' changes, or rebuilds when it fell behind the pruned log.
--
-- Config (vector_store_config): path; busy_timeout_ms (5000: how long a
-- writer waits for another connection's lock); change_log_keep (100000: log
-- rows kept when pruning; a reader further behind rebuilds); row_cache
-- (20000: rows kept in memory for search hits, rowcache.lua; 0: off);
-- mmap_size (1 GiB: bytes of the file read through mmap, 0: off; at 100k
-- memories it cut row reads in a recall from ~0.95 to ~0.6 ms, the pread
-- copies it replaces were a tenth of a recall's CPU);
-- dimensions; vector_index {hnsw_threshold, migrate_batch, ...}; bm25 {k1, b, ...}.
local sqlite = require "astrocyte.sqlite"
local localstore = require "astrocyte.store.localstore"
local rowmatch = require "astrocyte.store.rowmatch"
local rowcache = require "astrocyte.providers.sqlite.rowcache"
local statements = require "astrocyte.providers.sqlite.statements"
local util = require "astrocyte.util"
local errors = require "astrocyte.errors"
local json = util.json
local fmt = string.format
local unpack = table.unpack or unpack

local SCHEMA_VERSION = 3
local DEFAULT_MMAP_SIZE = 1073741824
local SCHEMA = [[
CREATE TABLE IF NOT EXISTS astrocyte_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vector_snapshots (bank_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, graph BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS memories (
  key          INTEGER PRIMARY KEY,
  bank_id      TEXT NOT NULL,
  id           TEXT NOT NULL,
  text         TEXT NOT NULL,
  vector       BLOB,
  metadata     TEXT,
  tags         TEXT,
  fact_type    TEXT,
  memory_layer TEXT,
  chunk_id     TEXT,
  occurred_at  INTEGER,
  retained_at  INTEGER NOT NULL,
  archived_at  INTEGER,
  UNIQUE (bank_id, id)
);
CREATE TABLE IF NOT EXISTS astrocyte_holds (
  bank_id TEXT NOT NULL, hold_id TEXT NOT NULL, reason TEXT, set_at TEXT NOT NULL, set_by TEXT,
  PRIMARY KEY (bank_id, hold_id)
);
CREATE TABLE IF NOT EXISTS astrocyte_audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, bank_id TEXT NOT NULL, event TEXT NOT NULL,
  at TEXT NOT NULL, record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS astrocyte_audit_bank ON astrocyte_audit (bank_id, seq);
CREATE TABLE IF NOT EXISTS astrocyte_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, bank_id TEXT NOT NULL, key INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS astrocyte_bank_seq (bank_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bank_snapshots (bank_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, tags TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS astrocyte_bank_epoch (bank_id TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS memories_epoch_delete AFTER DELETE ON memories BEGIN
  INSERT INTO astrocyte_bank_epoch (bank_id, n) VALUES (old.bank_id, 1) ON CONFLICT (bank_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS memories_epoch_update AFTER UPDATE OF bank_id, archived_at ON memories BEGIN
  INSERT INTO astrocyte_bank_epoch (bank_id, n) VALUES (old.bank_id, 1) ON CONFLICT (bank_id) DO UPDATE SET n = n + 1;
  INSERT INTO astrocyte_bank_epoch (bank_id, n) VALUES (new.bank_id, 1) ON CONFLICT (bank_id) DO UPDATE SET n = n + 1;
END;
]]

local COLS = "key, bank_id, id, text, vector, metadata, tags, fact_type, memory_layer, chunk_id, occurred_at, retained_at, archived_at"
local HIT_COLS = COLS:gsub("vector, ", "")   -- get_rows for search hits: no vector blob to copy
local LIVE = " AND archived_at IS NULL"

local Backend = {}
Backend.__index = Backend

local function serr(self, what, err)
  return fmt("sqlite: %s failed for '%s': %s", what, self.path, tostring(err))
end

Backend.stmt = statements.stmt

-- Runs sql with params; returns an array of row tables ({col = value}) or nil, err.
function Backend:query(sql, ...)
  return statements.query(self, sql, { n = select("#", ...), ... })
end

local function decode_row(r)
  r.metadata = r.metadata and json.decode(r.metadata) or nil
  r.tags = r.tags and json.decode(r.tags) or nil
  return r
end

local function encode_map(t)
  if t == nil or next(t) == nil then return nil end
  return (json.encode(t))
end

function Backend:get_meta(k)
  local rows = self:query("SELECT value FROM astrocyte_meta WHERE key = ?", k)
  return rows and rows[1] and rows[1].value or nil
end

function Backend:set_meta(k, v)
  local ok, err = self:query("INSERT INTO astrocyte_meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", k, v)
  if not ok then return nil, serr(self, "writing metadata", err) end
  return true
end

-- Calls fn(row) for every live row (ordered by key); stops on the first
-- error. Rows of the banks in skip_vectors (bank → anything) come without
-- their vector blob, has_vector = 1 saying they have one (at open, the
-- banks whose HNSW graph was restored: their vectors are not read at all).
function Backend:each_row(fn, skip_vectors, skip_banks)
  local banks = {}
  for bank_id in pairs(skip_vectors or {}) do banks[#banks + 1] = bank_id end
  table.sort(banks)
  local vector = "vector"
  if #banks > 0 then
    vector = "CASE WHEN bank_id IN (" .. string.rep("?,", #banks - 1) .. "?) THEN NULL ELSE vector END"
  end
  local cols = "SELECT key, bank_id, " .. vector .. " AS vector, vector IS NOT NULL AS has_vector, " ..
    "text, tags, occurred_at, retained_at, json_extract(metadata, '$._context') AS context FROM memories"
  -- The banks left out are skipped through the (bank_id, id) index: the
  -- rows between them are read range by range (the planner scans the
  -- whole table for a NOT IN), each bank's in key order.
  local ranges = { { "", {} } }
  local skip = {}
  for bank_id in pairs(skip_banks or {}) do skip[#skip + 1] = bank_id end
  table.sort(skip)
  if #skip > 0 then
    ranges = {}
    for i = 0, #skip do
      local lo, hi = skip[i], skip[i + 1]
      local where, args = {}, {}
      if lo then where[#where + 1] = "bank_id > ?"; args[#args + 1] = lo end
      if hi then where[#where + 1] = "bank_id < ?"; args[#args + 1] = hi end
      ranges[#ranges + 1] = { " AND " .. table.concat(where, " AND "), args }
    end
  end
  for _, range in ipairs(ranges) do
    local order = #skip > 0 and " ORDER BY bank_id, key" or " ORDER BY key"
    local st, err = self.db:prepare(cols .. " WHERE archived_at IS NULL" .. range[1] .. order)
    if not st then return nil, serr(self, "loading", err) end
    for i, bank_id in ipairs(banks) do st:bind(i, bank_id) end
    for i, v in ipairs(range[2]) do st:bind(#banks + i, v) end
    while true do
      local has, e = st:step()
      if has == nil then st:finalize(); return nil, serr(self, "loading", e) end
      if not has then break end
      local r = st:named()
      r.tags = r.tags and json.decode(r.tags) or nil
      local ok, ferr = fn(r)
      if not ok then st:finalize(); return nil, serr(self, "indexing", ferr) end
    end
    st:finalize()
  end
  return true
end

-- Runs fn() inside one IMMEDIATE transaction (joining an open batch) and
-- commits, or rolls back when fn fails or raises. batch: the transaction
-- spans every write of this connection until fn returns (in_tx), fn's
-- raise becomes nil, err and BEGIN/COMMIT errors name the file; otherwise
-- a raise propagates (after the rollback).
local function run_tx(self, fn, batch)
  if self.in_tx then return fn() end
  local ok, err = self.db:exec("BEGIN IMMEDIATE")
  if not ok then return nil, batch and serr(self, "write", err) or err end
  self.tx_seq = nil
  if batch then self.in_tx = true end
  local pok, res, ferr = pcall(fn)
  if batch then self.in_tx = nil end
  if not pok or res == nil then
    self.db:exec("ROLLBACK")
    self:invalidate()                  -- rows read inside the rolled-back writes
    if not pok and not batch then error(res, 0) end
    return nil, pok and ferr or res
  end
  ok, err = self.db:exec("COMMIT")
  if not ok then
    self.db:exec("ROLLBACK")
    err = "commit failed, the write may or may not be on disk: " .. tostring(err) -- a failed fsync can leave a WAL commit the next open recovers
    return nil, batch and serr(self, "write", err) or err
  end
  self:_committed()
  return res
end

-- Runs fn inside one IMMEDIATE transaction; rolls back on any error.
-- Inside batch() it joins the batch's transaction instead.
function Backend:transaction(fn)
  return run_tx(self, fn, false)
end

-- Runs fn() with every write of this connection (memories, and the graph
-- store when it shares the connection) in one transaction: one commit, one
-- fsync, all or nothing. Returns fn's result or nil, err.
function Backend:batch(fn)
  return run_tx(self, fn, true)
end

local UPSERT = [[
INSERT INTO memories (bank_id, id, text, vector, metadata, tags, fact_type, memory_layer, chunk_id, occurred_at, retained_at, archived_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
ON CONFLICT (bank_id, id) DO UPDATE SET
  text = excluded.text, vector = excluded.vector, metadata = excluded.metadata, tags = excluded.tags,
  fact_type = excluded.fact_type, memory_layer = excluded.memory_layer, chunk_id = excluded.chunk_id,
  occurred_at = excluded.occurred_at, retained_at = excluded.retained_at, archived_at = NULL]]
local KEY_OF = "SELECT key FROM memories WHERE bank_id = ? AND id = ?"

-- Upserts rows in one transaction; returns their keys or nil, err. The key
-- of an inserted row is the connection's new last_insert_rowid; a row that
-- was updated in place leaves it unchanged and is looked up (a RETURNING
-- clause would build an ephemeral table per row).
function Backend:upsert(rows)
  local keys, err = self:transaction(function()
    local st, perr = self:stmt(UPSERT)
    if not st then return nil, perr end
    local db, out = self.db, {}
    for i, r in ipairs(rows) do
      st:bind_values(r.bank_id, r.id, r.text)
      if r.vector then st:bind_blob(4, r.vector) else st:bind(4, nil) end
      st:bind(5, encode_map(r.metadata))
      st:bind(6, r.tags and #r.tags > 0 and json.encode(r.tags) or nil)
      st:bind(7, r.fact_type); st:bind(8, r.memory_layer); st:bind(9, r.chunk_id)
      st:bind(10, r.occurred_at); st:bind(11, r.retained_at)
      local before = db:last_insert_rowid()
      local ok, serr2 = st:step()
      st:reset()
      if ok == nil then return nil, serr2 end
      local key = db:last_insert_rowid()
      if key == before then
        -- updated in place (or, by coincidence, inserted under the number the
        -- last insert of another table got): the row says which
        local found, qerr = self:query(KEY_OF, r.bank_id, r.id)
        if not found then return nil, qerr end
        if not found[1] then return nil, "no key for the upserted row" end
        key = found[1].key
      end
      out[i] = key
    end
    local lok, lerr = self:log_changes(rows, out)
    if not lok then return nil, lerr end
    return out
  end)
  self:invalidate(keys)                -- nil (failed): drop them all
  if not keys then return nil, serr(self, "write", err) end
  return keys
end

-- The undecoded rows of keys (chunks of 500 keep us under SQLite's
-- bound-parameter limit), or nil, err.
local function fetch_rows(self, keys, cols)
  local all = {}
  for start = 1, #keys, 500 do
    local n = math.min(500, #keys - start + 1)
    local marks = string.rep("?,", n - 1) .. "?"
    local rows, err = self:query("SELECT " .. cols .. " FROM memories WHERE key IN (" .. marks .. ")",
                                 unpack(keys, start, start + n - 1))
    if not rows then return nil, serr(self, "read", err) end
    for _, r in ipairs(rows) do all[#all + 1] = r end
  end
  return all
end

-- Rows for keys as {key = row}. for_hits: the rows search hits are made
-- from, answered from the row cache (rowcache.lua), without the vector and
-- with metadata and tags left as JSON text (localstore decodes them when a
-- hit's field is read).
local function as_stored(r) return r end
function Backend:get_rows(keys, for_hits)
  if for_hits then return self:cached_rows(keys, as_stored) end
  local rows, err = fetch_rows(self, keys, COLS)
  if not rows then return nil, err end
  local out = {}
  for _, r in ipairs(rows) do out[r.key] = decode_row(r) end
  return out
end
rowcache.install(Backend, function(self, keys) return fetch_rows(self, keys, HIT_COLS) end)

function Backend:get_by_id(bank_id, id)
  local rows, err = self:query("SELECT " .. COLS .. " FROM memories WHERE bank_id = ? AND id = ?", bank_id, id)
  if not rows then return nil, serr(self, "read", err) end
  return rows[1] and decode_row(rows[1]) or nil
end

-- Runs run(id) (one statement RETURNING key) for each id of a bank in one
-- transaction, logs the keys it changed and drops them from the row cache
-- (all of them when it failed). Returns those keys or nil, err naming what.
local function change_each(self, bank_id, ids, what, run)
  local keys, err = self:transaction(function()
    local out = {}
    for _, id in ipairs(ids) do
      local rows, qerr = run(id)
      if not rows then return nil, qerr end
      if rows[1] then out[#out + 1] = rows[1].key end
    end
    local lok, lerr = self:log_changes(bank_id, out)
    if not lok then return nil, lerr end
    return out
  end)
  self:invalidate(keys)
  if not keys then return nil, serr(self, what, err) end
  return keys
end

-- Deletes ids of one bank in one transaction; returns the deleted keys.
function Backend:delete(bank_id, ids)
  return change_each(self, bank_id, ids, "delete", function(id)
    return self:query("DELETE FROM memories WHERE bank_id = ? AND id = ? RETURNING key", bank_id, id)
  end)
end

-- Rows of a bank ordered by id: live ones, or only archived ones when
-- `archived` is true.
function Backend:list(bank_id, offset, limit, vectors_only, archived)
  local rows, err = self:query("SELECT " .. COLS .. " FROM memories WHERE bank_id = ?" ..
    (archived and " AND archived_at IS NOT NULL" or LIVE) ..
    (vectors_only and " AND vector IS NOT NULL" or "") .. " ORDER BY id LIMIT ? OFFSET ?",
    bank_id, limit, offset)
  if not rows then return nil, serr(self, "list", err) end
  for _, r in ipairs(rows) do decode_row(r) end
  return rows
end

function Backend:recent(bank_id, limit)
  local rows, err = self:query("SELECT " .. COLS .. " FROM memories WHERE bank_id = ? AND vector IS NOT NULL" .. LIVE ..
    " ORDER BY COALESCE(occurred_at, retained_at) DESC, id LIMIT ?", bank_id, limit)
  if not rows then return nil, serr(self, "list recent", err) end
  for _, r in ipairs(rows) do decode_row(r) end
  return rows
end

function Backend:keys_matching(bank_id, pred)
  local rows, err = self:query("SELECT key, fact_type, metadata FROM memories WHERE bank_id = ?" .. LIVE, bank_id)
  if not rows then return nil, serr(self, "filter", err) end
  local out = {}
  for _, r in ipairs(rows) do
    decode_row(r)
    if rowmatch.matches(r, pred) then out[#out + 1] = r.key end
  end
  return out
end

-- Ids selected by sel {tags?, before?, after?, live_only?}; archived rows
-- are included unless sel.live_only (a hard forget purges them too).
function Backend:find_ids(bank_id, sel)
  local rows, err = self:query("SELECT id, tags, occurred_at, retained_at FROM memories WHERE bank_id = ?" ..
    (sel.live_only and LIVE or "") .. " ORDER BY id", bank_id)
  if not rows then return nil, serr(self, "select", err) end
  local out = {}
  for _, r in ipairs(rows) do
    decode_row(r)
    if rowmatch.selected(r, sel) then out[#out + 1] = r.id end
  end
  return out
end

function Backend:banks()
  local rows, err = self:query("SELECT bank_id, count(*) AS memory_count FROM memories WHERE archived_at IS NULL GROUP BY bank_id ORDER BY bank_id")
  if not rows then return nil, serr(self, "list banks", err) end
  return rows
end

-- Soft delete: sets archived_at = at_ms (archive) or NULL (at_ms = nil:
-- restore) on the ids of one bank whose state changes; returns their keys.
function Backend:set_archived(bank_id, ids, at_ms)
  local sql = at_ms and "UPDATE memories SET archived_at = ? WHERE bank_id = ? AND id = ? AND archived_at IS NULL RETURNING key"
    or "UPDATE memories SET archived_at = NULL WHERE bank_id = ? AND id = ? AND archived_at IS NOT NULL RETURNING key"
  return change_each(self, bank_id, ids, at_ms and "archive" or "restore", function(id)
    if at_ms then return self:query(sql, at_ms, bank_id, id) end
    return self:query(sql, bank_id, id)
  end)
end

-- Legal holds (durable): upsert, delete (→ true if it existed), list.
function Backend:put_hold(h)
  local ok, err = self:query("INSERT INTO astrocyte_holds (bank_id, hold_id, reason, set_at, set_by) VALUES (?, ?, ?, ?, ?)" ..
    " ON CONFLICT (bank_id, hold_id) DO UPDATE SET reason = excluded.reason, set_at = excluded.set_at, set_by = excluded.set_by",
    h.bank_id, h.hold_id, h.reason, h.set_at, h.set_by)
  if not ok then return nil, serr(self, "writing legal hold", err) end
  return true
end

function Backend:delete_hold(bank_id, hold_id)
  local rows, err = self:query("DELETE FROM astrocyte_holds WHERE bank_id = ? AND hold_id = ? RETURNING hold_id", bank_id, hold_id)
  if not rows then return nil, serr(self, "releasing legal hold", err) end
  return rows[1] ~= nil
end

function Backend:list_holds(bank_id)
  local rows, err = self:query("SELECT bank_id, hold_id, reason, set_at, set_by FROM astrocyte_holds WHERE bank_id = ?" ..
    " ORDER BY set_at, hold_id", bank_id)
  if not rows then return nil, serr(self, "reading legal holds", err) end
  return rows
end

-- Audit log: append one record (a JSON-encodable table with bank_id, event,
-- at); list a bank's records newest first.
function Backend:append_audit(rec)
  local text, jerr = util.encode(rec)
  if not text then return nil, "sqlite: audit record is not encodable: " .. tostring(jerr) end
  local ok, err = self:query("INSERT INTO astrocyte_audit (bank_id, event, at, record) VALUES (?, ?, ?, ?)",
    rec.bank_id, rec.event, rec.at, text)
  if not ok then return nil, serr(self, "writing audit record", err) end
  return true
end

function Backend:list_audit(bank_id, limit)
  local rows, err = self:query("SELECT record FROM astrocyte_audit WHERE bank_id = ? ORDER BY seq DESC LIMIT ?", bank_id, limit)
  if not rows then return nil, serr(self, "reading audit log", err) end
  local out = {}
  for i, r in ipairs(rows) do out[i] = json.decode(r.record) end
  return out
end

function Backend:ping()
  if not self.db:is_open() then return nil, "sqlite: database is closed" end
  local rows, err = self:query("SELECT 1 AS one")
  if not rows then return nil, err end
  return true
end

-- HNSW snapshots (load_snapshots, vector_fingerprint, save_snapshot), the
-- graphs in files next to the database: snapshots.lua.
require("astrocyte.providers.sqlite.snapshots").install(Backend, LIVE)

-- The change log (bank_seq, log_changes, mark_seen, _committed,
-- pending_changes ...): changes.lua.
require("astrocyte.providers.sqlite.changes").install(Backend, serr)

function Backend:close()
  for _, st in pairs(self.cache) do st:finalize() end
  self.cache = {}
  self.db:close()
  return true
end

-- Runs idempotent setup sql, retrying up to timeout_ms while the file is
-- locked: connections opening one new file at once fail the WAL switch at once.
local function exec_retry(db, sql, timeout_ms)
  for _ = 10, timeout_ms, 10 do
    local ok, err = db:exec(sql)
    if ok or not tostring(err):find("database is locked", 1, true) then return ok, err end
    sqlite.sleep_ms(10)
  end
  return db:exec(sql)
end

-- Opens (creating if needed) the database at conf.path and applies the schema.
local function open_backend(conf)
  local path = conf.path
  if type(path) ~= "string" or path == "" then
    return nil, "sqlite: vector_store_config.path must be a non-empty string"
  end
  local db, err = sqlite.open(path)
  if not db then
    -- A path that cannot be opened (missing directory, no permission) is a
    -- storage failure, as a corrupt file is, not a configuration mistake.
    return nil, errors.storage(fmt("sqlite: %s", tostring(err):gsub("^sqlite: ", "")), { provider = "sqlite", path = path })
  end
  local self = setmetatable({ db = db, path = path, cache = {}, origin = util.new_id(), logged = 0, rows = rowcache.new(conf, HIT_COLS),
                              change_log_keep = conf.change_log_keep or 100000 }, Backend)
  local timeout_ms = conf.busy_timeout_ms or 5000
  db:busy_timeout(timeout_ms)
  local pragmas = fmt("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA mmap_size=%d;",
                      math.floor(tonumber(conf.mmap_size) or DEFAULT_MMAP_SIZE))
  local ok, perr = exec_retry(db, pragmas, timeout_ms)
  if not ok then
    db:close()
    -- The file opened but is not usable (corrupt, locked, not a database):
    -- a storage failure, not a configuration mistake.
    return nil, errors.storage(fmt("sqlite: cannot use database '%s': %s", path, perr), { provider = "sqlite", path = path })
  end
  ok, perr = exec_retry(db, SCHEMA, timeout_ms)
  if not ok then
    db:close()
    return nil, errors.storage(fmt("sqlite: cannot create schema in '%s': %s", path, perr), { provider = "sqlite", path = path })
  end
  local v = self:get_meta("schema_version")
  if v and tonumber(v) > SCHEMA_VERSION then
    db:close()
    return nil, fmt("sqlite: '%s' has schema version %s, newer than this build supports (%d)", path, v, SCHEMA_VERSION)
  end
  -- Schema 1 → 2: the archived_at column (the new tables exist by now).
  local cols = self:query("PRAGMA table_info(memories)") or {}
  local has_archived = false
  for _, c in ipairs(cols) do if c.name == "archived_at" then has_archived = true end end
  if not has_archived then
    ok, perr = db:exec("ALTER TABLE memories ADD COLUMN archived_at INTEGER")
    if not ok then db:close(); return nil, errors.storage(fmt("sqlite: cannot migrate '%s' to schema %d: %s", path, SCHEMA_VERSION, perr), { provider = "sqlite", path = path }) end
  end
  if not v or tonumber(v) < SCHEMA_VERSION then
    ok, perr = self:set_meta("schema_version", tostring(SCHEMA_VERSION))
    if not ok then db:close(); return nil, errors.storage(perr, { provider = "sqlite", path = path }) end
  end
  return self
end

-- The vector store opened for a config table, so the graph store built
-- from the same table (the engine passes one table to both) shares its
-- connection and its transactions. Weak keys: gone with the config.
local opened = setmetatable({}, { __mode = "k" })

local function new(conf)
  conf = conf or {}
  local backend, err = open_backend(conf)
  if not backend then return nil, err end
  local store, serr2 = localstore.new(backend, conf, "sqlite")
  if not store then -- rows that cannot be read (a corrupt page, EIO): a storage failure
    backend:close(); return nil, errors.wrap("StorageError", serr2, { provider = "sqlite", path = conf.path })
  end
  opened[conf] = backend
  return store
end

-- The GraphStore lives in the same file (providers/sqlite/graph.lua); built
-- from a config whose vector store is open, it uses that connection.
local function graph_stores(conf)
  local backend = conf and opened[conf]
  if backend and not backend.db:is_open() then backend = nil end
  return require("astrocyte.providers.sqlite.graph").new(conf, backend)
end

return { vector_stores = new, document_stores = new, graph_stores = graph_stores, new = new }
