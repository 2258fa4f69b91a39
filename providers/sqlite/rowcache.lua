-- astrocyte.providers.sqlite.rowcache: the rows search hits are built from,
-- kept in memory. A recall turns ~100 index keys into rows (the semantic and
-- keyword channels' candidates) and reading them is most of its CPU; the
-- same memories come back query after query, so the rows (undecoded: each
-- get decodes its own metadata and tags, so a caller changing a hit changes
-- no cached row) are kept, up to `row_cache` of them (vector_store_config,
-- default 20000; 0 turns it off), and dropped all at once when full.
-- Coherence: every write of this connection drops the keys it wrote
-- (upsert, delete, set_archived: invalidate(keys)), changes other
-- connections committed drop theirs when they are replayed (pending_changes),
-- and a reload drops everything.
local ipairs, pairs = ipairs, pairs

local _M = {}

-- install(Backend, fetch): Backend:cached_rows(keys, decode) answers from
-- the cache and reads the rest with fetch(self, missing) → array of raw rows.
function _M.install(Backend, fetch)

  -- Rows for keys as {key = decoded row}, or nil, err.
  function Backend:cached_rows(keys, decode)
    local cache = self.rows
    local out, missing = {}, {}
    for _, k in ipairs(keys) do
      local r = cache and cache.map[k]
      if r then
        local c = {}
        for f, v in pairs(r) do c[f] = v end
        out[k] = decode(c)
      else
        missing[#missing + 1] = k
      end
    end
    if #missing == 0 then return out end
    local rows, err = fetch(self, missing)
    if not rows then return nil, err end
    for _, r in ipairs(rows) do
      if cache then
        if cache.n >= cache.cap then cache.map, cache.n = {}, 0 end
        local c = {}
        for f, v in pairs(r) do c[f] = v end
        cache.map[r.key], cache.n = c, cache.n + 1
      end
      out[r.key] = decode(r)
    end
    return out
  end

  -- Drops the cached rows of keys (nil: all of them).
  function Backend:invalidate(keys)
    local cache = self.rows
    if not cache then return end
    if keys == nil then cache.map, cache.n = {}, 0; return end
    for _, k in ipairs(keys) do
      if cache.map[k] then cache.map[k], cache.n = nil, cache.n - 1 end
    end
  end
end

-- The cache of a backend opened with conf, or nil when turned off.
function _M.new(conf)
  local cap = conf.row_cache or 20000
  if cap <= 0 then return nil end
  return { map = {}, n = 0, cap = cap }
end

return _M
