-- astrocyte.providers.sqlite.snapshots: the HNSW snapshots of the sqlite
-- store, so an open restores each large bank's graph instead of rebuilding
-- it. The graph lives in a file next to the database (<path>-<hex bank
-- id>.hnsw, written to a temporary name and renamed into place);
-- the vector_snapshots row holds its fingerprint (and an empty graph blob).
-- A file, not a blob: a 1M-vector graph (~1.7 GB) is past SQLite's largest
-- blob, and core.hnsw_load reads a file without a copy through SQLite.
-- Rows of older builds with the graph in the blob still load.
-- A bank saved whole (astrocyte.store.snapshots) also has its BM25 index in
-- <path>-<hex bank id>.bm25 and a bank_snapshots row with the fingerprint
-- the file was saved at and the bank's tags (JSON [[key, [tags]], ...]);
-- its counter of deletes and archives (astrocyte_bank_epoch, kept by SQL
-- triggers, so plain SQL counts too) is part of every fingerprint.
-- install(Backend) adds load_snapshots, vector_fingerprint, save_snapshot,
-- save_whole and bank_epoch.
local util = require "astrocyte.util"
local ipairs, type, fmt = ipairs, type, string.format

local _M = {}

-- A snapshot file of a bank (ext: "hnsw" or "bm25").
local function file_of(self, bank_id, ext)
  return fmt("%s-%s.%s", self.path, (bank_id:gsub(".", function(c) return fmt("%02x", c:byte()) end)), ext or "hnsw")
end

-- A file-backed database (":memory:" and URIs have no place for files).
local function has_files(self)
  return self.path ~= ":memory:" and not self.path:find("^file:")
end

-- Writes a snapshot file through a temporary name and a rename (a mapped
-- reader never sees it shrink); true or nil.
local function write_file(file, save)
  local tmp = file .. "." .. util.new_id()
  if not save(tmp) then os.remove(tmp); return nil end
  if not os.rename(tmp, file) then os.remove(tmp); return nil end
  return true
end

function _M.install(Backend, live)

  -- HNSW snapshots: {bank_id = {fingerprint, graph (string) | file (path)}}.
  function Backend:load_snapshots()
    local rows = self:query("SELECT bank_id, fingerprint, graph FROM vector_snapshots")
    local out = {}
    for _, r in ipairs(rows or {}) do
      if r.graph == nil or #r.graph == 0 then r.graph, r.file = nil, file_of(self, r.bank_id) end
      out[r.bank_id] = r
    end
    if has_files(self) then
      for _, w in ipairs(self:query("SELECT bank_id, fingerprint, tags FROM bank_snapshots") or {}) do
        local r = out[w.bank_id]
        if r then r.bm25_file, r.whole_fingerprint, r.tags = file_of(self, w.bank_id, "bm25"), w.fingerprint, w.tags end
      end
    end
    return out
  end

  -- The bank's count of deleted and archived rows (astrocyte_bank_epoch).
  function Backend:bank_epoch(bank_id)
    local rows = self:query("SELECT n FROM astrocyte_bank_epoch WHERE bank_id = ?", bank_id)
    return rows and rows[1] and rows[1].n or 0
  end

  -- Saves the rest of a bank's whole snapshot (its graph is saved by
  -- save_snapshot with the same fingerprint): the BM25 index to its file
  -- and tagged ({ {key, tags}, ... }) to the row. Best effort, like
  -- save_snapshot; a row left from an earlier save names an older
  -- fingerprint, which the next open does not take for this one.
  function Backend:save_whole(bank_id, bm25, tagged, fingerprint)
    if not has_files(self) then return nil end
    if not write_file(file_of(self, bank_id, "bm25"), function(tmp) return bm25:save(tmp) end) then return nil end
    local st = self:stmt("INSERT INTO bank_snapshots (bank_id, fingerprint, tags) VALUES (?, ?, ?)" ..
      " ON CONFLICT (bank_id) DO UPDATE SET fingerprint = excluded.fingerprint, tags = excluded.tags")
    if not st then return nil end
    st:bind(1, bank_id); st:bind(2, fingerprint); st:bind(3, util.json.encode(tagged))
    local ok = st:step()
    st:reset()
    return ok ~= nil
  end

  -- Fingerprint (count:sum:max of keys) of a bank's live vector rows.
  function Backend:vector_fingerprint(bank_id)
    local rows = self:query("SELECT count(*) AS n, total(key) AS s, max(key) AS m FROM memories" ..
      " WHERE bank_id = ? AND vector IS NOT NULL" .. live, bank_id)
    local r = rows and rows[1] or {}
    return require("astrocyte.store.memindex").fingerprint(r.n, r.s, r.m)
  end

  -- Stores a bank's HNSW snapshot: graph is the index (saved to the bank's
  -- file) or its bytes (kept in the row). Best effort: a failure only costs
  -- a rebuild at the next open. Returns true or nil.
  function Backend:save_snapshot(bank_id, graph, fingerprint)
    local blob = graph
    if type(graph) ~= "string" and not has_files(self) then
      blob = graph:save_string()                   -- no file of its own to sit next to
    elseif type(graph) ~= "string" then
      if not write_file(file_of(self, bank_id), function(tmp) return graph:save(tmp) end) then return nil end
      blob = ""
    end
    local st = self:stmt("INSERT INTO vector_snapshots (bank_id, fingerprint, graph) VALUES (?, ?, ?)" ..
      " ON CONFLICT (bank_id) DO UPDATE SET fingerprint = excluded.fingerprint, graph = excluded.graph")
    if not st then return nil end
    st:bind(1, bank_id); st:bind(2, fingerprint); st:bind_blob(3, blob)
    local ok = st:step()
    st:reset()
    return ok ~= nil
  end
end

return _M
