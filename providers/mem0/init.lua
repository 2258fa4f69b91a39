-- astrocyte.providers.mem0: EngineProvider (Tier 2, spi.md §1.8) over
-- Mem0's REST API — the hosted platform (https://api.mem0.ai, v1 routes,
-- "Authorization: Token <key>") or, with api = "oss", the open-source
-- server (/memories, /search). A bank is a Mem0 user_id (bank_as may pick
-- agent_id or run_id instead). retain adds the content as one user message
-- with infer = false, so Mem0 stores it verbatim and returns its id;
-- RetainRequest tags, occurred_at, fact_type and metadata travel in Mem0's
-- metadata and come back on every hit. recall is Mem0's semantic search
-- (top_k = max_results; tags and fact_types are then filtered here, over a
-- larger candidate set). forget deletes by memory id, or the whole bank
-- with scope = "all". Mem0 has no reflect endpoint: supports_reflect is
-- false, so the core's fallback_strategy applies.
local shared = require "astrocyte.providers.shared"
local errors = require "astrocyte.errors"
local type, ipairs, fmt, min, max = type, ipairs, string.format, math.min, math.max
local nn = shared.nn

local _M, mt = shared.class("mem0", "mem0 engine")

local ROUTES = {
  platform = { add = "/v1/memories/", search = "/v1/memories/search/", list = "/v1/memories/",
               one = "/v1/memories/%s/", all = "/v1/memories/", health = "/v1/ping/" },
  oss = { add = "/memories", search = "/search", list = "/memories", one = "/memories/%s",
          all = "/memories", health = "/docs" },
}

-- conf: { base_url (https://api.mem0.ai), api_key?, api ("platform"|"oss"),
--   bank_as ("user_id"|"agent_id"|"run_id"), org_id?, project_id?,
--   timeout_ms, max_retries, outbound_transport? }
function _M.new(conf)
  conf = conf or {}
  local api = conf.api or "platform"
  if not ROUTES[api] then return nil, "mem0: api must be 'platform' or 'oss'" end
  local base, err = shared.base_url(conf, "mem0", api == "oss" and "http://localhost:8888" or "https://api.mem0.ai")
  if not base then return nil, err end
  local bank_as = conf.bank_as or "user_id"
  if bank_as ~= "user_id" and bank_as ~= "agent_id" and bank_as ~= "run_id" then
    return nil, "mem0: bank_as must be user_id, agent_id or run_id"
  end
  local client; client, err = shared.client(conf, "mem0")
  if not client then return nil, err end
  local headers = {}
  if conf.api_key then
    headers.Authorization = (api == "oss" and "Bearer " or "Token ") .. conf.api_key
  end
  return setmetatable({ base = base, routes = ROUTES[api], api = api, bank_as = bank_as, http = client,
                        headers = headers, org_id = conf.org_id, project_id = conf.project_id }, mt)
end

local call = shared.call
local FIELDS = { "tags", "occurred_at", "fact_type", "source" }

-- The list in a Mem0 response: a bare array (platform v1) or {results = [...]}.
local function results(res)
  if type(res) ~= "table" then return {} end
  if res[1] ~= nil or next(res) == nil then return res end
  return nn(res.results) or {}
end

local function scope(self, bank_id, t)
  t = t or {}
  t[self.bank_as] = bank_id
  if self.org_id then t.org_id = self.org_id end
  if self.project_id then t.project_id = self.project_id end
  return t
end

function _M:capabilities()
  return shared.engine_capabilities { supports_forget = true }
end

function _M:health()
  return shared.health(function()
    return call(self, "GET", self.routes.health, nil, true)
  end)
end

-- EngineProvider.retain(RetainRequest) → RetainResult.
function _M:retain(req)
  local _, err = shared.request(req, "mem0: retain needs content and bank_id strings", "content", "bank_id")
  if err then return nil, err end
  local body = scope(self, req.bank_id, {
    messages = { { role = "user", content = req.content } }, metadata = shared.pack_metadata(req, FIELDS), infer = false,
  })
  local res; res, err = call(self, "POST", self.routes.add, body, false)
  if not res then return nil, err end
  local first = results(res)[1]
  local id = type(first) == "table" and nn(first.id)
  if type(id) ~= "string" then
    return { stored = false, error = "mem0 stored nothing (no memory id in the response)" }
  end
  return { stored = true, memory_id = id, retention_action = "add" }
end

-- MemoryHit from a Mem0 memory; metadata keys astrocyte_* go back to fields.
local function hit_of(m, bank_id)
  return shared.unpack_metadata(m.metadata, {
    text = nn(m.memory) or (nn(m.data) and nn(m.data.memory)) or "", memory_id = nn(m.id), bank_id = bank_id,
    score = min(1, max(0, nn(m.score) or 0)), retained_at = nn(m.created_at),
  }, FIELDS)
end

-- EngineProvider.recall(RecallRequest) → RecallResult.
function _M:recall(req)
  local _, rerr = shared.request(req, "mem0: recall needs query and bank_id strings", "query", "bank_id")
  if rerr then return nil, rerr end
  local body = scope(self, req.bank_id, { query = req.query, top_k = shared.recall_window(req) })
  local res, err = call(self, "POST", self.routes.search, body, true)
  if not res then return nil, err end
  return shared.engine_recall_result("mem0", results(res), req, function(m) return hit_of(m, req.bank_id) end)
end

-- EngineProvider.forget(ForgetRequest) → ForgetResult.
function _M:forget(req)
  local _, rerr = shared.request(req, "mem0: forget needs a bank_id", "bank_id")
  if rerr then return nil, rerr end
  local q = "?" .. self.bank_as .. "=" .. shared.urlencode(req.bank_id)
  if req.scope == "all" then
    local listed, err = call(self, "GET", self.routes.list .. q, nil, true)
    if not listed then return nil, err end
    local n = #results(listed)
    local ok; ok, err = call(self, "DELETE", self.routes.all .. q, nil, true)
    if not ok then return nil, err end
    return { deleted_count = n, archived_count = 0 }
  end
  if not req.memory_ids then
    return nil, errors.new("CapabilityNotSupported", "mem0: forget by tags or date is not supported; pass memory_ids or scope = 'all'",
                           { provider = "mem0", capability = "forget" })
  end
  -- Only ids that belong to this bank are deleted (bank isolation).
  local listed, err = call(self, "GET", self.routes.list .. q, nil, true)
  if not listed then return nil, err end
  local mine = {}
  for _, m in ipairs(results(listed)) do if nn(m.id) then mine[m.id] = true end end
  local n = 0
  for _, id in ipairs(req.memory_ids) do
    if mine[id] then
      local res, derr = call(self, "DELETE", fmt(self.routes.one, shared.urlencode(id)), nil, true, { [404] = true })
      if not res then return nil, derr end
      n = n + 1
    end
  end
  return { deleted_count = n, archived_count = 0 }
end

function _M:close() self.http:close() end

return { engine_providers = _M.new, new = _M.new }
