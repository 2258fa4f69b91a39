-- astrocyte.providers.sqlite.rowcache: the rows search hits are built from,
-- kept in memory. A recall turns ~100 index keys into rows (the semantic and
-- keyword channels' candidates) and reading them is most of its CPU; the
-- same memories come back query after query, so the rows are kept, up to
-- `row_cache` of them (vector_store_config, default 20000; 0 turns it off),
-- and dropped all at once when full.
-- They are kept packed in C memory (core.row_cache), not as Lua tables: tens
-- of thousands of long-lived Lua objects made Lua 5.4's collector sweep for
-- ~10 ms inside one recall at the end of each cycle (bench/pipeline p99).
-- Every get builds a fresh table, so a caller changing a hit changes no
-- cached row.
-- Coherence: every write of this connection drops the keys it wrote
-- (upsert, delete, set_archived: invalidate(keys)), changes other
-- connections committed drop theirs when they are replayed (pending_changes),
-- and a reload drops everything.
local core = require "astrocyte.core"
local ipairs = ipairs

local _M = {}

-- install(Backend, fetch): Backend:cached_rows(keys, decode) answers from
-- the cache and reads the rest with fetch(self, missing) → array of raw rows.
function _M.install(Backend, fetch)

  -- Rows for keys as {key = decoded row}, or nil, err.
  function Backend:cached_rows(keys, decode)
    local cache = self.rows
    local out, missing = {}, {}
    for _, k in ipairs(keys) do
      local r = cache and cache:get(k)
      if r then
        out[k] = decode(r)
      else
        missing[#missing + 1] = k
      end
    end
    if #missing == 0 then return out end
    local rows, err = fetch(self, missing)
    if not rows then return nil, err end
    for _, r in ipairs(rows) do
      if cache then cache:put(r.key, r) end   -- best effort: out of memory only skips it
      out[r.key] = decode(r)
    end
    return out
  end

  -- Drops the cached rows of keys (nil: all of them).
  function Backend:invalidate(keys)
    local cache = self.rows
    if not cache then return end
    if keys == nil then cache:clear(); return end
    for _, k in ipairs(keys) do cache:drop(k) end
  end
end

-- The cache of a backend opened with conf, keeping the columns named in
-- cols ("key, bank_id, ..."), or nil when turned off.
function _M.new(conf, cols)
  local cap = conf.row_cache or 20000
  if cap <= 0 then return nil end
  local fields = {}
  for name in cols:gmatch("[%w_]+") do fields[#fields + 1] = name end
  return core.row_cache(cap, fields)
end

return _M
