-- astrocyte.store.snapshots: the HNSW snapshots of a localstore. At open,
-- each bank's graph saved at the last close is restored instead of rebuilt
-- when the bank's vector rows are exactly those it was built from; at close,
-- each graph whose rows changed since is saved again (an unchanged one is
-- not rewritten: at a million vectors that is gigabytes per close). The
-- backend stores them (providers/sqlite/snapshots.lua: a file per bank).
local core = require "astrocyte.core"
local pairs, tostring = pairs, tostring

local _M = {}

-- A snapshot's fingerprint: its rows' key fingerprint plus, where the
-- backend logs changes, the bank's last change seq (a same-key rewrite
-- with a new vector changes the seq, not the keys).
function _M.fingerprint(store, bank_id, key_fp)
  local backend = store.backend
  if not backend.bank_seq then return key_fp end
  return key_fp .. ":" .. tostring(backend:bank_seq(bank_id))
end

-- Preloads store.index with the graphs whose fingerprint still matches.
function _M.restore(store)
  local backend = store.backend
  store._snapshot_fp = {}
  if not backend.load_snapshots then return end
  for bank_id, snap in pairs(backend:load_snapshots() or {}) do
    local fp = _M.fingerprint(store, bank_id, backend:vector_fingerprint(bank_id))
    if snap.fingerprint == fp then
      local graph
      if snap.file then graph = core.hnsw_load(snap.file) else graph = core.hnsw_load_string(snap.graph) end
      if graph then
        store.index:preload(bank_id, graph)
        store._snapshot_fp[bank_id] = fp
      end
    end
  end
end

-- Saves each HNSW graph (banks past the flat threshold) whose fingerprint
-- differs from the one restored. A bank another connection wrote after our
-- last sync is not saved (our graph would not match its rows).
function _M.save(store)
  local backend = store.backend
  if not backend.save_snapshot or not store:_sync() then return end
  for bank_id in pairs(store.index.banks) do
    -- Only HNSW graphs: a flat index is cheap to rebuild. Synced, the index
    -- holds exactly the bank's live vector rows: their fingerprint is its.
    local b = store.index.banks[bank_id]
    local graph = b and b.kind == "hnsw" and b.flat
    if graph and (not backend.bank_seq or backend:bank_seq(bank_id) <= backend.seen_seq) then
      local fp = _M.fingerprint(store, bank_id, backend:vector_fingerprint(bank_id))
      if fp ~= store._snapshot_fp[bank_id] then backend:save_snapshot(bank_id, graph, fp) end
    end
  end
end

return _M
