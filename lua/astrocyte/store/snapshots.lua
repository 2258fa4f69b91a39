-- astrocyte.store.snapshots: the HNSW snapshots of a localstore. At open,
-- each bank's graph saved at the last close is restored instead of rebuilt
-- when the bank's vector rows are exactly those it was built from; at close,
-- each graph whose rows changed since is saved again (an unchanged one is
-- not rewritten: at a million vectors that is gigabytes per close). The
-- backend stores them (providers/sqlite/snapshots.lua: a file per bank).
local core = require "astrocyte.core"
local memindex = require "astrocyte.store.memindex"
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

-- Preloads store.index with the saved graphs that can still match: those
-- whose fingerprint ends in the bank's present change seq (where the
-- backend logs changes). Their key part is checked by confirm, against the
-- rows as they are loaded (no scan of its own). Returns {bank_id = snapshot
-- fingerprint} of the graphs preloaded, or nil when none was.
function _M.restore(store)
  local backend = store.backend
  store._snapshot_fp = {}
  if not backend.load_snapshots then return nil end
  local restored
  for bank_id, snap in pairs(backend:load_snapshots() or {}) do
    local seq_ok = true
    if backend.bank_seq then
      local suffix = ":" .. tostring(backend:bank_seq(bank_id))
      seq_ok = snap.fingerprint:sub(-#suffix) == suffix
    end
    if seq_ok then
      local graph
      if snap.file then graph = core.hnsw_load(snap.file) else graph = core.hnsw_load_string(snap.graph) end
      if graph then
        store.index:preload(bank_id, graph)
        restored = restored or {}
        restored[bank_id] = snap.fingerprint
      end
    end
  end
  return restored
end

-- True when every preloaded graph's fingerprint is that of its bank's vector
-- rows as loaded (keyfp: bank → {n, s, m} of their keys); the confirmed ones
-- are remembered, so close does not rewrite them unchanged.
function _M.confirm(store, restored, keyfp)
  for bank_id, fp in pairs(restored) do
    local f = keyfp and keyfp[bank_id] or {}
    if _M.fingerprint(store, bank_id, memindex.fingerprint(f.n, f.s, f.m)) ~= fp then return false end
  end
  for bank_id, fp in pairs(restored) do store._snapshot_fp[bank_id] = fp end
  return true
end

-- Saves each HNSW graph (banks past the flat threshold) whose fingerprint
-- differs from the one restored. A bank another connection wrote after our
-- last sync is not saved (our graph would not match its rows).
function _M.save(store)
  local backend = store.backend
  if not backend.save_snapshot or not store:_sync() then return end
  for bank_id in pairs(store.index.banks) do
    -- Only HNSW graphs: a flat index is cheap to rebuild. Synced, the index
    -- holds exactly the bank's live vector rows: their fingerprint is its
    -- (taken from the index: a scan of the rows reads every page of a
    -- million-memory file at each close). The next open checks it against
    -- the rows it loads.
    local b = store.index.banks[bank_id]
    local graph = b and b.kind == "hnsw" and b.flat
    if graph and (not backend.bank_seq or backend:bank_seq(bank_id) <= backend.seen_seq) then
      local fp = _M.fingerprint(store, bank_id, store.index:vector_fingerprint(bank_id))
      if fp ~= store._snapshot_fp[bank_id] then backend:save_snapshot(bank_id, graph, fp) end
    end
  end
end

return _M
