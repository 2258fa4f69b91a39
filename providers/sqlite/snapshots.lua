-- astrocyte.providers.sqlite.snapshots: the HNSW snapshots of the sqlite
-- store, so an open restores each large bank's graph instead of rebuilding
-- it. The graph lives in a file next to the database (<path>-<hex bank
-- id>.hnsw, written to a temporary name and renamed into place);
-- the vector_snapshots row holds its fingerprint (and an empty graph blob).
-- A file, not a blob: a 1M-vector graph (~1.7 GB) is past SQLite's largest
-- blob, and core.hnsw_load reads a file without a copy through SQLite.
-- Rows of older builds with the graph in the blob still load.
-- install(Backend) adds load_snapshots, vector_fingerprint, save_snapshot.
local util = require "astrocyte.util"
local ipairs, type, fmt = ipairs, type, string.format

local _M = {}

-- The snapshot file of a bank.
local function file_of(self, bank_id)
  return fmt("%s-%s.hnsw", self.path, (bank_id:gsub(".", function(c) return fmt("%02x", c:byte()) end)))
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
    return out
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
    if type(graph) ~= "string" and (self.path == ":memory:" or self.path:find("^file:")) then
      blob = graph:save_string()                   -- no file of its own to sit next to
    elseif type(graph) ~= "string" then
      local file = file_of(self, bank_id)
      local tmp = file .. "." .. util.new_id()
      if not graph:save(tmp) then os.remove(tmp); return nil end
      if not os.rename(tmp, file) then os.remove(tmp); return nil end
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
