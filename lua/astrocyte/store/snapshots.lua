-- astrocyte.store.snapshots: the index snapshots of a localstore. At open,
-- each bank's HNSW graph saved at the last close is restored instead of
-- rebuilt when the bank's vector rows are exactly those it was built from;
-- at close, each graph whose rows changed since is saved again (an
-- unchanged one is not rewritten: at a million vectors that is gigabytes
-- per close). A bank whose whole index can be saved (memindex
-- whole_snapshot_ok: past the HNSW threshold, no associative index) also
-- gets its BM25 index and tags saved, and is restored whole: none of its
-- rows is read at open (at a million memories the row scan and the BM25
-- rebuild were most of a 22 s open). The backend stores them
-- (providers/sqlite/snapshots.lua: files per bank).
local core = require "astrocyte.core"
local memindex = require "astrocyte.store.memindex"
local util = require "astrocyte.util"
local pairs, tostring, type, pcall = pairs, tostring, type, pcall

local _M = {}

-- A snapshot's fingerprint: its rows' key fingerprint plus, where the
-- backend logs changes, the bank's last change seq (a same-key rewrite
-- with a new vector changes the seq, not the keys).
-- Where the backend counts deletes and archives, however made (an SQL
-- trigger: bank_epoch), that count joins it once it is past 0 (so the
-- snapshots of builds before the counter still match): a bank restored
-- whole is checked by these counters alone, no row being read.
local function state(backend, bank_id)
  local s = ":" .. tostring(backend:bank_seq(bank_id))
  local epoch = backend.bank_epoch and backend:bank_epoch(bank_id) or 0
  if epoch ~= 0 then s = s .. ":" .. tostring(epoch) end
  return s
end

function _M.fingerprint(store, bank_id, key_fp)
  local backend = store.backend
  if not backend.bank_seq then return key_fp end
  return key_fp .. state(backend, bank_id)
end

-- Installs a bank restored whole (graph, BM25 file, tags); true if it was.
local function restore_whole(store, bank_id, snap, graph)
  if not snap.bm25_file or snap.whole_fingerprint ~= snap.fingerprint then return false end
  local bm = core.bm25_load(snap.bm25_file, store.index.bm25_opts)
  if not bm or graph:count() > bm:count() then return false end
  local ok, tagged = pcall(util.json.decode, snap.tags or "[]")
  if not ok or type(tagged) ~= "table" then return false end
  return store.index:restore_bank(bank_id, graph, bm, tagged)
end

-- Restores the saved indexes that can still match: those whose
-- fingerprint ends in the bank's present change seq (and delete count).
-- A bank with a whole snapshot is installed whole; otherwise its graph is
-- preloaded and its key part is checked by confirm, against the rows as
-- they are loaded (no scan of its own). Returns {bank_id = fingerprint} of
-- the graphs preloaded (or nil when none was), {bank_id = true} of the
-- banks restored whole (or nil).
function _M.restore(store)
  local backend = store.backend
  store._snapshot_fp, store._whole_fp = {}, {}
  if not backend.load_snapshots then return nil end
  local restored, whole
  for bank_id, snap in pairs(backend:load_snapshots() or {}) do
    local seq_ok = true
    if backend.bank_seq then
      local suffix = state(backend, bank_id)
      seq_ok = snap.fingerprint:sub(-#suffix) == suffix
    end
    if seq_ok then
      local graph
      if snap.file then graph = core.hnsw_load(snap.file) else graph = core.hnsw_load_string(snap.graph) end
      if graph and restore_whole(store, bank_id, snap, graph) then
        whole = whole or {}
        whole[bank_id] = true
        store._snapshot_fp[bank_id], store._whole_fp[bank_id] = snap.fingerprint, snap.fingerprint
      elseif graph then
        store.index:preload(bank_id, graph)
        restored = restored or {}
        restored[bank_id] = snap.fingerprint
      end
    end
  end
  return restored, whole
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
      if backend.save_whole and fp ~= store._whole_fp[bank_id] and store.index:whole_snapshot_ok(bank_id) then
        backend:save_whole(bank_id, b.bm25, store.index:tagged(bank_id), fp)
      end
    end
  end
end

return _M
