-- astrocyte.providers.neo4j: GraphStore (spi.md §1.2) over Neo4j's HTTP
-- transactional Cypher endpoint: POST {base_url}/db/{database}/tx/commit
-- with {"statements": [{"statement", "parameters"}]} — one request is one
-- transaction — and Basic (user/password) or Bearer (token) auth, through
-- astrocyte.http (retries, transport, redaction).
-- Graph model, bank-scoped by a bank_id property in every MATCH/MERGE:
--   (:Entity {bank_id, id, name, entity_type, aliases, metadata (JSON text),
--             embedding, mention_count, created_at, updated_at})
--   (:Memory {bank_id, id, text?})
--   (:Memory)-[:MENTIONS]->(:Entity)
--   (:Entity)-[:LINK {id, link_type, evidence, confidence, ...}]->(:Entity)
--   (:Memory)-[:MEMORY_LINK {id, link_type, ..., seq}]->(:Memory)
-- Every value travels as a Cypher parameter; the only text built into a
-- statement is the validated integer bound of the variable-length hop
-- pattern (Neo4j accepts no parameter there). Semantics mirror the sqlite
-- and in-memory stores: store_entities upserts (new name/type, metadata and
-- embedding kept unless given, aliases merged case-insensitively, one more
-- mention); query_neighbors scores like the sqlite store; candidate name
-- similarity is computed here with astrocyte.similarity over the bank's
-- entities (those sharing a bigram with the name first), capped by
-- candidate_scan_limit. Extensions: unlink_memories, get_memory_entities.
-- Reads and MERGE writes are sent as idempotent (5xx retried, bounded);
-- store_entities is not, since a replay would count a mention twice.
local shared = require "astrocyte.providers.shared"
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local similarity = require "astrocyte.store.similarity"
local gstore = require "astrocyte.store.graph"
local cjson = require "cjson.safe"
local type, ipairs, pairs, fmt, tostring = type, ipairs, pairs, string.format, tostring
local lower, sort, floor = string.lower, table.sort, math.floor
local null, nn = shared.null, shared.nn

local _M = { SPI_VERSION = 1, name = "neo4j" }
local mt = { __index = _M, __tostring = function(self) return "neo4j graph store (" .. self.url .. ")" end }

-- conf: { base_url | url (http://localhost:7474), database ("neo4j"),
--   user | username ("neo4j") + password, or token (bearer),
--   candidate_scan_limit (2000), max_depth_cap (6), timeout_ms, max_retries,
--   backoff_ms, outbound_transport? }
function _M.new(conf)
  conf = conf or {}
  local base, err = shared.base_url(conf, "neo4j", "http://localhost:7474")
  if not base then return nil, errors.config(err) end
  local db; db, err = shared.opt_string(conf, "neo4j", "database", "neo4j")
  if not db then return nil, errors.config(err) end
  if not db:match("^[%w][%w._%-]*$") then return nil, errors.config("neo4j: database may hold only letters, digits, '.', '_' and '-'") end
  local scan; scan, err = shared.opt_int(conf, "neo4j", "candidate_scan_limit", 2000, 1, 1000000)
  if not scan then return nil, errors.config(err) end
  local cap; cap, err = shared.opt_int(conf, "neo4j", "max_depth_cap", 6, 1, 15)
  if not cap then return nil, errors.config(err) end
  local headers, secrets = {}, {}
  local user = conf.user or conf.username or "neo4j"
  if conf.token ~= nil then
    if type(conf.token) ~= "string" or conf.token == "" then return nil, errors.config("neo4j: token must be a non-empty string") end
    headers.Authorization = "Bearer " .. conf.token
  elseif conf.password ~= nil then
    if type(conf.password) ~= "string" or type(user) ~= "string" then
      return nil, errors.config("neo4j: user and password must be strings")
    end
    local h, b64 = shared.basic(user, conf.password)
    headers.Authorization, secrets[1] = h.Authorization, b64
  end
  local client; client, err = shared.client(conf, "neo4j", { secrets = secrets })
  if not client then return nil, err end
  return setmetatable({ base = base, db = db, url = base .. "/db/" .. shared.urlencode(db) .. "/tx/commit",
                        headers = headers, http = client, scan_limit = scan, depth_cap = cap }, mt)
end

-- Replaces JSON nulls by nil, recursively (rows come back as plain tables).
local function unnull(v)
  if v == null then return nil end
  if type(v) == "table" then
    local out = {}
    for k, x in pairs(v) do out[k] = unnull(x) end
    return out
  end
  return v
end

local AUTH_CODES = { ["Neo.ClientError.Security.Unauthorized"] = "AuthenticationError",
                     ["Neo.ClientError.Security.Forbidden"] = "AccessDenied" }

-- Error object for the first entry of a response's "errors" array.
local function neo_error(self, what, e, status)
  local code = type(e) == "table" and type(e.code) == "string" and e.code or "Neo.Unknown"
  local msg = type(e) == "table" and type(e.message) == "string" and e.message or "no message"
  local kind = AUTH_CODES[code]
    or (code:find("^Neo%.TransientError") and "ProviderUnavailable")
    or (code:find("^Neo%.ClientError") and "ProviderError") or "StorageError"
  return errors.new(kind, self.http:redact(fmt("neo4j: %s failed: %s: %s", what, code, msg)),
                    { provider = "neo4j", code = code, status = status })
end

local ALLOW = { [400] = true, [401] = true, [403] = true, [404] = true }

-- Runs statements {{cypher, params}, ...} in one transaction. Returns, per
-- statement, a list of rows keyed by column name — or nil, err.
function _M:run(what, stmts, idempotent)
  local body = {}
  for i, s in ipairs(stmts) do
    body[i] = { statement = s[1], parameters = shared.object(s[2] or {}) }
  end
  local res, raw = self.http:json { method = "POST", url = self.url, json = { statements = body },
    headers = shared.headers(self.headers, { Accept = "application/json;charset=UTF-8" }),
    idempotent = idempotent ~= false, allow = ALLOW }
  if not res then
    raw.message = raw.message:gsub("^neo4j: ", "neo4j: " .. what .. ": ", 1)
    return nil, raw
  end
  local status = raw and raw.status
  local errs = nn(res.errors)
  if type(errs) == "table" and #errs > 0 then return nil, neo_error(self, what, errs[1], status) end
  if status and status >= 300 then
    return nil, errors.new("ProviderError", fmt("neo4j: %s failed: HTTP %d", what, status), { provider = "neo4j", status = status })
  end
  local results = nn(res.results)
  if type(results) ~= "table" or #results ~= #stmts then
    return nil, errors.new("ProviderError", fmt("neo4j: %s: the response has %s results for %d statements",
      what, type(results) == "table" and tostring(#results) or "no", #stmts), { provider = "neo4j" })
  end
  local out = {}
  for i, r in ipairs(results) do
    local cols, rows = nn(r.columns) or {}, {}
    for j, d in ipairs(nn(r.data) or {}) do
      local row, vals = {}, nn(d.row) or {}
      for k, c in ipairs(cols) do row[c] = unnull(vals[k]) end
      rows[j] = row
    end
    out[i] = rows
  end
  return out
end

-- One statement; returns its rows or nil, err.
local function q1(self, what, cypher, params, idempotent)
  local res, err = self:run(what, { { cypher, params } }, idempotent)
  if not res then return nil, err end
  return res[1]
end

local function bank_arg(bank_id)
  local _, err = gstore.bank_arg("neo4j", bank_id)
  if err then return nil, errors.validation(err) end
  return bank_id
end

-- Validated DTO copies of `list` (kind `name`) written to bank_id; keeps id
-- and text extensions.
local function dtos(bank_id, name, list, what)
  local out, err = gstore.dtos("neo4j", bank_id, name, list, what, true)
  if not out then return nil, errors.validation(err) end
  return out
end

local function json_text(t)
  if type(t) ~= "table" or next(t) == nil then return null end
  return shared.http.encode(shared.object(t)) or null
end

-- Entity DTO from an :Entity node's property map.
local function entity_of(p)
  local md = type(p.metadata) == "string" and cjson.decode(p.metadata) or nil
  return { id = p.id, name = p.name, entity_type = p.entity_type or "UNKNOWN", aliases = p.aliases or {},
           metadata = type(md) == "table" and unnull(md) or nil, embedding = p.embedding,
           mention_count = floor(p.mention_count or 1) }, p.updated_at
end

---------------------------------------------------------------------------
-- Entities
---------------------------------------------------------------------------

local STORE_ENTITIES = "UNWIND $rows AS row"
  .. " MERGE (e:Entity {bank_id: $bank_id, id: row.id})"
  .. " SET e.name = row.name, e.entity_type = row.entity_type, e.updated_at = $now,"
  .. " e.created_at = coalesce(e.created_at, $now),"
  .. " e.mention_count = coalesce(e.mention_count + 1, row.mention_count),"
  .. " e.metadata = coalesce(row.metadata, e.metadata), e.embedding = coalesce(row.embedding, e.embedding),"
  .. " e.aliases = coalesce(e.aliases, []) + [a IN row.aliases WHERE NOT toLower(a) IN"
  .. " [x IN coalesce(e.aliases, []) | toLower(x)]]"
  .. " RETURN row.id AS id"

-- GraphStore.store_entities: upserts; returns the ids in input order.
function _M:store_entities(entities, bank_id)
  local list, err = dtos(bank_id, "Entity", entities, "entities")
  if not list then return nil, err end
  if #list == 0 then return {} end
  local rows, ids = {}, {}
  for i, e in ipairs(list) do
    local aliases, seen = {}, {}
    for _, a in ipairs(e.aliases or {}) do
      if type(a) == "string" and a ~= "" and not seen[lower(a)] then seen[lower(a)] = true; aliases[#aliases + 1] = a end
    end
    local emb = shared.vector(e.embedding)
    rows[i] = { id = e.id, name = e.name, entity_type = e.entity_type, aliases = aliases,
                metadata = json_text(e.metadata), embedding = type(emb) == "table" and #emb > 0 and emb or null,
                mention_count = e.mention_count or 1 }
    ids[i] = e.id
  end
  local res; res, err = q1(self, "store_entities", STORE_ENTITIES,
    { rows = rows, bank_id = bank_id, now = util.iso(util.now_ms()) }, false)
  if not res then return nil, err end
  return ids
end

local ENTITY_MATCH = "MATCH (e:Entity {bank_id: $bank_id}) WHERE e.name IS NOT NULL"

-- GraphStore.query_entities: case-insensitive substring match on name and
-- aliases; exact name matches first, then shorter names, then by id.
function _M:query_entities(query, bank_id, limit)
  limit = limit or 10
  if type(bank_id) ~= "string" or type(query) ~= "string" or query == "" or limit < 1 then return {} end
  local rows, err = q1(self, "query_entities", ENTITY_MATCH
    .. " AND (toLower(e.name) CONTAINS $q OR any(a IN coalesce(e.aliases, []) WHERE toLower(a) CONTAINS $q))"
    .. " RETURN e ORDER BY toLower(e.name) = $q DESC, size(e.name), e.id LIMIT $limit",
    { bank_id = bank_id, q = lower(query), limit = floor(limit) })
  if not rows then return nil, err end
  local out = {}
  for i, r in ipairs(rows) do out[i] = entity_of(r.e) end
  return out
end

-- Lower-case bigrams of s (the whole string when shorter).
local function bigrams(s)
  s = lower(s)
  local out, seen = {}, {}
  if #s < 2 then return { s } end
  for i = 1, #s - 1 do
    local g = s:sub(i, i + 1)
    if not seen[g] and not g:find("^%s") and not g:find("%s$") then seen[g] = true; out[#out + 1] = g end
  end
  if #out == 0 then out[1] = s end
  return out
end

-- Up to candidate_scan_limit entities of the bank, those sharing a bigram
-- with `name` (in name or alias) first; each with its updated_at.
function _M:scan_entities(what, name, bank_id)
  local rows, err = q1(self, what, ENTITY_MATCH
    .. " RETURN e ORDER BY any(g IN $grams WHERE toLower(e.name) CONTAINS g"
    .. " OR any(a IN coalesce(e.aliases, []) WHERE toLower(a) CONTAINS g)) DESC, e.id LIMIT $cap",
    { bank_id = bank_id, grams = bigrams(name), cap = self.scan_limit })
  if not rows then return nil, err end
  local out = {}
  for i, r in ipairs(rows) do
    local e, seen_at = entity_of(r.e)
    out[i] = { e = e, updated_at = seen_at }
  end
  return out
end

-- GraphStore.find_entity_candidates: entities whose name/alias similarity
-- is ≥ threshold or that contain / are contained in `name`
-- (case-insensitive); similarity descending, then by id.
function _M:find_entity_candidates(name, bank_id, threshold, limit)
  threshold, limit = threshold or 0.8, limit or 5
  if type(bank_id) ~= "string" or type(name) ~= "string" or name == "" then return {} end
  local all, err = self:scan_entities("find_entity_candidates", name, bank_id)
  if not all then return nil, err end
  local list = {}
  for i, c in ipairs(all) do list[i] = c.e end
  return similarity.candidates(name, list, threshold, limit)
end

-- GraphStore.find_entity_candidates_scored(name, bank_id, opts):
-- opts = { name_embedding?, trigram_threshold = 0.3, limit = 10 }. Best name
-- similarity first (then embedding similarity, then id); embedding_similarity
-- only when both embeddings exist; co_occurring_names from :LINK neighbours.
function _M:find_entity_candidates_scored(name, bank_id, opts)
  opts = opts or {}
  local threshold, limit = opts.trigram_threshold or 0.3, opts.limit or 10
  if type(bank_id) ~= "string" or type(name) ~= "string" or name == "" then return {} end
  local all, err = self:scan_entities("find_entity_candidates_scored", name, bank_id)
  if not all then return nil, err end
  local list, seen = {}, {}
  for i, c in ipairs(all) do list[i] = c.e; seen[c.e] = c.updated_at end
  local out = similarity.scored(name, list, threshold, limit, shared.vector(opts.name_embedding))
  for _, m in ipairs(out) do m.last_seen = seen[m.entity] end
  if #out == 0 then return out end
  local ids, by = {}, {}
  for i, m in ipairs(out) do ids[i] = m.entity.id; by[m.entity.id] = m; m.co_occurring_names = {} end
  local rows; rows, err = q1(self, "find_entity_candidates_scored",
    "MATCH (e:Entity {bank_id: $bank_id})-[:LINK]-(o:Entity {bank_id: $bank_id})"
    .. " WHERE e.id IN $ids AND o.name IS NOT NULL RETURN e.id AS id, collect(DISTINCT o.name) AS names",
    { bank_id = bank_id, ids = ids })
  if not rows then return nil, err end
  for _, r in ipairs(rows) do
    local names = r.names or {}
    sort(names)
    by[r.id].co_occurring_names = names
  end
  return out
end

---------------------------------------------------------------------------
-- Entity links and memory associations
---------------------------------------------------------------------------

local STORE_LINKS = "UNWIND $links AS l"
  .. " MERGE (a:Entity {bank_id: $bank_id, id: l.entity_a})"
  .. " MERGE (b:Entity {bank_id: $bank_id, id: l.entity_b})"
  .. " MERGE (a)-[r:LINK {bank_id: $bank_id, link_type: l.link_type}]->(b)"
  .. " ON CREATE SET r.id = l.id, r.created_at = l.created_at"
  .. " SET r.evidence = l.evidence, r.confidence = l.confidence, r.metadata = coalesce(l.metadata, r.metadata)"
  .. " RETURN l.idx AS idx, r.id AS id"

-- Upserts validated links (deduplicated on (entity_a, entity_b, link_type),
-- which keep their first id); returns the ids in input order.
function _M:put_links(what, list, bank_id)
  local now, rows = util.iso(util.now_ms()), {}
  for i, l in ipairs(list) do
    rows[i] = { idx = i, entity_a = l.entity_a, entity_b = l.entity_b, link_type = l.link_type,
                id = l.id or util.new_id(), evidence = l.evidence or "", confidence = l.confidence or 1.0,
                created_at = l.created_at or now, metadata = json_text(l.metadata) }
  end
  local res, err = q1(self, what, STORE_LINKS, { links = rows, bank_id = bank_id })
  if not res then return nil, err end
  local ids = {}
  for _, r in ipairs(res) do ids[r.idx] = r.id end
  for i = 1, #list do
    if type(ids[i]) ~= "string" then return nil, errors.new("ProviderError", fmt("neo4j: %s: no id returned for link %d", what, i)) end
  end
  return ids
end

-- GraphStore.store_links: one link id per link, in input order.
function _M:store_links(links, bank_id)
  local list, err = dtos(bank_id, "EntityLink", links, "links")
  if not list then return nil, err end
  if #list == 0 then return {} end
  return self:put_links("store_links", list, bank_id)
end

-- GraphStore.store_entity_link: one confirmed link; returns its id.
function _M:store_entity_link(link, bank_id)
  local list, err = dtos(bank_id, "EntityLink", { link }, "link")
  if not list then return nil, err end
  local ids; ids, err = self:put_links("store_entity_link", list, bank_id)
  if not ids then return nil, err end
  return ids[1]
end

-- GraphStore.link_memories_to_entities: memory ↔ entity edges. An
-- association may carry `text` (extension), returned by query_neighbors.
function _M:link_memories_to_entities(assocs, bank_id)
  local list, err = dtos(bank_id, "MemoryEntityAssociation", assocs, "associations")
  if not list then return nil, err end
  if #list == 0 then return true end
  local rows = {}
  for i, a in ipairs(list) do rows[i] = { memory_id = a.memory_id, entity_id = a.entity_id, text = a.text or null } end
  local res; res, err = q1(self, "link_memories_to_entities", "UNWIND $rows AS row"
    .. " MERGE (m:Memory {bank_id: $bank_id, id: row.memory_id})"
    .. " SET m.text = coalesce(row.text, m.text)"
    .. " MERGE (e:Entity {bank_id: $bank_id, id: row.entity_id})"
    .. " MERGE (m)-[:MENTIONS]->(e)", { rows = rows, bank_id = bank_id })
  if not res then return nil, err end
  return true
end

return require("astrocyte.providers.neo4j.traverse")(_M, mt, { q1 = q1, bank_arg = bank_arg, dtos = dtos,
  entity_of = entity_of, json_text = json_text, unnull = unnull })
