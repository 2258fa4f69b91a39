-- astrocyte.providers.sqlite.graph_db: storage plumbing of the sqlite
-- GraphStore (providers/sqlite/graph.lua): the graph tables (created
-- idempotently in the vector store's file, version in astrocyte_meta under
-- graph_schema_version), a prepared-statement cache, parameter-bound
-- queries, one-transaction-per-call helper and IN-list chunking.
local sqlite = require "astrocyte.sqlite"
local statements = require "astrocyte.providers.sqlite.statements"
local util = require "astrocyte.util"
local errors = require "astrocyte.errors"
local json = util.json
local type, ipairs, fmt, min, tostring, tonumber = type, ipairs, string.format, math.min, tostring, tonumber
local rep, select, next = string.rep, select, next
local unpack = table.unpack or unpack

local SCHEMA_VERSION = 1
local SCHEMA = [[
CREATE TABLE IF NOT EXISTS astrocyte_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
  key           INTEGER PRIMARY KEY,
  bank_id       TEXT NOT NULL,
  id            TEXT NOT NULL,
  name          TEXT NOT NULL,
  entity_type   TEXT NOT NULL,
  metadata      TEXT,
  embedding     TEXT,
  mention_count INTEGER NOT NULL DEFAULT 1,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  UNIQUE (bank_id, id)
);
CREATE TABLE IF NOT EXISTS entity_aliases (
  key       INTEGER PRIMARY KEY,
  bank_id   TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  alias     TEXT NOT NULL COLLATE NOCASE,
  UNIQUE (bank_id, entity_id, alias)
);
CREATE TABLE IF NOT EXISTS entity_links (
  key        INTEGER PRIMARY KEY,
  bank_id    TEXT NOT NULL,
  id         TEXT NOT NULL,
  entity_a   TEXT NOT NULL,
  entity_b   TEXT NOT NULL,
  link_type  TEXT NOT NULL,
  evidence   TEXT NOT NULL DEFAULT '',
  confidence REAL NOT NULL DEFAULT 1.0,
  created_at TEXT,
  metadata   TEXT,
  UNIQUE (bank_id, entity_a, entity_b, link_type),
  UNIQUE (bank_id, id)
);
CREATE INDEX IF NOT EXISTS entity_links_b ON entity_links (bank_id, entity_b);
CREATE TABLE IF NOT EXISTS memory_entities (
  bank_id   TEXT NOT NULL,
  memory_id TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  text      TEXT,
  PRIMARY KEY (bank_id, memory_id, entity_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS memory_entities_entity ON memory_entities (bank_id, entity_id);
CREATE TABLE IF NOT EXISTS memory_links (
  key              INTEGER PRIMARY KEY,
  bank_id          TEXT NOT NULL,
  id               TEXT NOT NULL,
  source_memory_id TEXT NOT NULL,
  target_memory_id TEXT NOT NULL,
  link_type        TEXT NOT NULL,
  evidence         TEXT NOT NULL DEFAULT '',
  confidence       REAL NOT NULL DEFAULT 1.0,
  weight           REAL NOT NULL DEFAULT 1.0,
  created_at       TEXT,
  metadata         TEXT,
  UNIQUE (bank_id, source_memory_id, target_memory_id, link_type),
  UNIQUE (bank_id, id)
);
CREATE INDEX IF NOT EXISTS memory_links_target ON memory_links (bank_id, target_memory_id);
]]

-- Ids per IN (...) list: keeps every statement far below SQLite's limit on
-- bound parameters.
local CHUNK = 200

local DB = {}
DB.SCHEMA_VERSION = SCHEMA_VERSION

function DB.marks(n) return rep("?,", n - 1) .. "?" end

function DB.encode_map(t)
  if type(t) ~= "table" or next(t) == nil then return nil end
  return (util.encode(t))
end

function DB.decode(s)
  if s == nil then return nil end
  return (json.decode(s))
end

-- Calls fn(slice) for consecutive slices of at most CHUNK items of list;
-- stops at the first error.
function DB.chunks(list, fn)
  for start = 1, #list, CHUNK do
    local ok, err = fn({ unpack(list, start, min(#list, start + CHUNK - 1)) })
    if not ok then return nil, err end
  end
  return true
end

-- Runs `head .. " IN (?, ...)" .. tail` (head's one placeholder is the bank)
-- over ids, a chunk at a time, calling each(rows) per chunk; stops at the
-- first query error or the first error each returns (nil, err).
function DB:query_in(head, tail, bank_id, ids, each)
  return DB.chunks(ids, function(slice)
    local args = { bank_id, n = #slice + 1 }
    for i, id in ipairs(slice) do args[i + 1] = id end
    local rows, err = self:query(head .. " IN (" .. DB.marks(#slice) .. ")" .. tail, args)
    if not rows then return nil, err end
    local _, ferr = each(rows)
    if ferr then return nil, ferr end
    return true
  end)
end

DB.stmt = statements.stmt

-- Runs sql with the bound values of `args` (an array, n = count); returns
-- the rows as {col = value} tables or nil, err.
function DB:query(sql, args)
  if not self.db:is_open() then return nil, "database is closed" end
  return statements.query(self, sql, args)
end

-- query() with the values as varargs.
function DB:q(sql, ...)
  return self:query(sql, { n = select("#", ...), ... })
end

-- Runs fn() in one transaction (IMMEDIATE when `write`), rolling back when
-- it returns nil or raises. Returns fn's result or nil, "sqlite graph: ...".
function DB:tx(what, write, fn)
  if not self.db:is_open() then return nil, "sqlite graph: database is closed" end
  if self.in_tx or (self.shared and self.shared.in_tx) then
    -- inside batch(): the outer transaction commits or rolls back
    local pok, res, ferr = pcall(fn)
    if not pok or res == nil then
      local e = pok and ferr or res
      if errors.is(e) then return nil, e end
      return nil, fmt("sqlite graph: %s failed for '%s': %s", what, self.path, tostring(e))
    end
    return res
  end
  local ok, err = self.db:exec(write and "BEGIN IMMEDIATE" or "BEGIN")
  if not ok then return nil, fmt("sqlite graph: %s failed for '%s': %s", what, self.path, tostring(err)) end
  local pok, res, ferr = pcall(fn)
  if not pok or res == nil then
    self.db:exec("ROLLBACK")
    return nil, fmt("sqlite graph: %s failed for '%s': %s", what, self.path, tostring(pok and ferr or res))
  end
  ok, err = self.db:exec("COMMIT")
  if not ok then
    self.db:exec("ROLLBACK")
    return nil, fmt("sqlite graph: %s failed for '%s': %s", what, self.path, tostring(err))
  end
  return res
end

-- Opens (creating if needed) the graph tables in the database at conf.path
-- — the vector store's file. Returns the store or nil, err.
function DB.open(conf, mt, shared)
  conf = conf or {}
  local path = conf.path
  if type(path) ~= "string" or path == "" then
    return nil, "sqlite graph: vector_store_config.path must be a non-empty string"
  end
  if shared then
    -- The vector store's connection (synchronous=FULL, WAL): graph writes
    -- join its transactions.
    local self = setmetatable({ db = shared.db, path = path, cache = {}, shared = shared }, mt)
    return DB.create_schema(self)
  end
  local db, err = sqlite.open(path)
  if not db then return nil, err end
  local self = setmetatable({ db = db, path = path, cache = {} }, mt)
  db:busy_timeout(conf.busy_timeout_ms or 5000)
  -- synchronous=NORMAL: graph rows are derived from memories (entities can
  -- be re-extracted), and in WAL mode they become durable with the next
  -- FULL commit of the memory connection on the same file, so a retain pays
  -- one fsync (its memories), not two. conf.graph_synchronous = "FULL"
  -- restores an fsync per graph write.
  local sync = conf.graph_synchronous == "FULL" and "FULL" or "NORMAL"
  local ok, perr = db:exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=" .. sync .. ";")
  if not ok then
    db:close()
    return nil, errors.storage(fmt("sqlite graph: cannot use database '%s': %s", path, perr), { provider = "sqlite", path = path })
  end
  return DB.create_schema(self)
end

-- Creates the graph tables idempotently; returns self or nil, err.
function DB.create_schema(self)
  local db, path = self.db, self.path
  local v, perr = self:tx("creating the graph schema", true, function()
    local sok, serr = db:exec(SCHEMA)
    if not sok then return nil, serr end
    local rows, qerr = self:q("SELECT value FROM astrocyte_meta WHERE key = 'graph_schema_version'")
    if not rows then return nil, qerr end
    local cur = rows[1] and tonumber(rows[1].value)
    if not cur then
      rows, qerr = self:q("INSERT INTO astrocyte_meta (key, value) VALUES ('graph_schema_version', ?)", tostring(SCHEMA_VERSION))
      if not rows then return nil, qerr end
      cur = SCHEMA_VERSION
    end
    return cur
  end)
  if not v then self:close(); return nil, perr end
  if v > SCHEMA_VERSION then
    self:close()
    return nil, fmt("sqlite graph: '%s' has graph schema version %s, newer than this build supports (%d)", path, v, SCHEMA_VERSION)
  end
  return self
end

return DB
