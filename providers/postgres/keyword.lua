-- astrocyte.providers.postgres.keyword: the statements behind
-- search_fulltext. The score is ts_rank_cd of the tsvector against the OR of
-- the query's stemmed terms; for such a query that is 0.1 per occurrence of a
-- query term, so ranking needs the row's positions and costs about as much
-- per row as fetching it (on PGlite, 38 of a 53 ms recall at 10k memories
-- went to ranking every row that shares a word with the query).
--
-- With a budget (vector_store_config.fulltext_candidates, default 200; the
-- limit when that is larger) at most that many rows are ranked. The server
-- stems the query into its terms first; then one statement lists each term's
-- rows (at most budget each, through the GIN index for a rare term), orders
-- them by how many query terms they hold, then by their rarest term's
-- frequency, then id, and reads and ranks only the first `budget` (by
-- primary key). A row is left out only when the rows that filled the budget
-- hold more query terms or rarer ones; the common terms' own lists are cut
-- at budget rows in index order. This acts as the idf the score lacks: on
-- the bench's Zipf notes a note comes back for three of its own words more
-- often than with the exact order (bench/pg_keyword prints both). Budget 0
-- ranks every matching row (the exact order, one statement).
local common = require "astrocyte.providers.postgres.common"
local fmt, concat, ipairs, max = string.format, table.concat, ipairs, math.max

local _M = {}

-- The query's stemmed terms, each a quoted tsquery item ('fox'), in order.
local TERMS = "SELECT x AS term FROM unnest(string_to_array(plainto_tsquery('english'::regconfig, $1)::text, ' & ')) x"

-- Returns the query's stemmed terms as the server parses them (a list of
-- distinct quoted tsquery items, empty for only stopwords), or nil, err.
function _M.terms(pool, query)
  local res, err = pool:query(TERMS, { query })
  if not res then return nil, err end
  local terms, seen = {}, {}
  for _, r in ipairs(res.rows) do
    if not seen[r.term] then seen[r.term] = true; terms[#terms + 1] = r.term end
  end
  return terms
end

-- Returns the statement and parameters of the exact ranking (budget 0).
function _M.exact(S, cols, query, bank_id, lim, filters)
  local p = common.params(query, bank_id)
  local where = { "bank_id = $2", "tsv @@ q.tq" }
  local ok, ferr = common.filters(filters, p, where)
  if not ok then return nil, ferr end
  return fmt([[SELECT %s, ts_rank_cd(tsv, q.tq) AS rank
    FROM %s.memories, (SELECT replace(plainto_tsquery('english'::regconfig, $1)::text, ' & ', ' | ')::tsquery AS tq) q
    WHERE %s ORDER BY rank DESC, id LIMIT %s]], cols, S, concat(where, " AND "), p:add(lim)), p
end

-- Returns the statement and parameters ranking at most `budget` rows of
-- bank_id that hold one of terms (a non-empty list from TERMS).
function _M.bounded(S, cols, terms, bank_id, lim, filters, budget)
  local p = common.params(concat(terms, " | "), bank_id)
  local where = { "bank_id = $2" }
  local ok, ferr = common.filters(filters, p, where)
  if not ok then return nil, ferr end
  local cond, b, per_term = concat(where, " AND "), p:add(budget), {}
  for i, t in ipairs(terms) do
    per_term[i] = fmt("(SELECT %d AS term, id FROM %s.memories WHERE %s AND tsv @@ %s::tsquery LIMIT %s)",
      i, S, cond, p:add(t), b)
  end
  return fmt([[WITH u AS (%s),
      w AS (SELECT id, count(*) OVER (PARTITION BY term) AS df FROM u),
      cand AS (SELECT id AS cid FROM w GROUP BY id ORDER BY count(*) DESC, min(df), id LIMIT %s)
    SELECT %s, ts_rank_cd(tsv, $1::tsquery) AS rank FROM %s.memories
    WHERE bank_id = $2 AND id = ANY(ARRAY(SELECT cid FROM cand)) ORDER BY rank DESC, id LIMIT %s]], concat(per_term, " UNION ALL "), b, cols, S, p:add(lim)), p
end

-- Runs the search on ctx's pool: the result (rows best first, columns cols
-- plus rank), or nil, err, what (what = "filters" for a bad filter, else err
-- is the server's). The bounded statement runs unprepared: a generic plan would
-- not know a term's frequency and could scan the bank for a rare one.
function _M.search(ctx, cols, query, bank_id, lim, filters)
  local ok, ferr = common.filters(filters, common.params(), {})
  if not ok then return nil, ferr, "filters" end
  local budget = ctx.conf.fulltext_candidates
  if budget == 0 then return ctx.pool:query(_M.exact(ctx.S, cols, query, bank_id, lim, filters)) end
  local terms, err = _M.terms(ctx.pool, query)
  if not terms then return nil, err end
  if #terms == 0 then return { rows = {} } end   -- only stopwords: nothing matches
  local sql, p = _M.bounded(ctx.S, cols, terms, bank_id, lim, filters, max(budget, lim))
  return ctx.pool:query(sql, p, { prepare = false })
end

return _M
