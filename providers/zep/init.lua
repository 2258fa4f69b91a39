-- astrocyte.providers.zep: EngineProvider (Tier 2, spi.md §1.8) over Zep's
-- v2 sessions API ("Authorization: Api-Key <key>"; Zep Cloud at
-- https://api.getzep.com or a self-hosted server). A bank is a Zep session
-- ("<session_prefix><bank_id>") owned by one Zep user (config user_id),
-- both created on first use. retain adds the content as one message
-- (role_type "user") whose metadata carries an Astrocyte memory id — Zep
-- assigns message uuids only server-side and does not return them — plus
-- tags, occurred_at and fact_type; recall is Zep's session search
-- (search_scope "messages") restricted to the bank's session, mapped back
-- to MemoryHits with those fields. Capabilities are declared honestly: no
-- reflect endpoint, and forget only of a whole session (scope = "all"), so
-- supports_forget is false; forget(scope = "all") still works when called.
local shared = require "astrocyte.providers.shared"
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local min, max = math.min, math.max
local nn = shared.nn

-- conf: { base_url (https://api.getzep.com), api_key?, user_id ("astrocyte"),
--   session_prefix ("astrocyte-"), timeout_ms, max_retries, outbound_transport? }
local _M = shared.class("zep", "zep engine", "https://api.getzep.com", function(conf)
  return { user_id = conf.user_id or "astrocyte", prefix = conf.session_prefix or "astrocyte-", ready = {},
           headers = conf.api_key and { Authorization = "Api-Key " .. conf.api_key } or {} }
end)

local call = shared.call
local FIELDS = { "id", "tags", "occurred_at", "fact_type" }

local function session_of(self, bank) return self.prefix .. bank end

-- Creates the user and the bank's session unless known; 400/409 = exists.
local function ensure(self, bank)
  local sid = session_of(self, bank)
  if self.ready[sid] then return sid end
  if not self.user_ready then
    local ok, err = call(self, "POST", "/api/v2/users", { user_id = self.user_id }, true, { [400] = true, [409] = true })
    if not ok then return nil, err end
    self.user_ready = true
  end
  local ok, err = call(self, "POST", "/api/v2/sessions", { session_id = sid, user_id = self.user_id }, true,
                       { [400] = true, [409] = true })
  if not ok then return nil, err end
  self.ready[sid] = true
  return sid
end

function _M:capabilities()
  return shared.engine_capabilities()
end

function _M:health() return shared.health_get(self, "/healthz", "zep") end

-- EngineProvider.retain(RetainRequest) → RetainResult.
function _M:retain(req)
  local _, err = shared.request(req, "zep: retain needs content and bank_id strings", "content", "bank_id")
  if err then return nil, err end
  local sid; sid, err = ensure(self, req.bank_id)
  if not sid then return nil, err end
  local id = util.new_id()
  local md = shared.pack_metadata(req, FIELDS, { id = id })
  local ok; ok, err = call(self, "POST", "/api/v2/sessions/" .. shared.urlencode(sid) .. "/memory",
    { messages = { { role_type = "user", role = "astrocyte", content = req.content, metadata = md } } }, false)
  if not ok then return nil, err end
  return { stored = true, memory_id = id, retention_action = "add" }
end

-- EngineProvider.recall(RecallRequest) → RecallResult.
function _M:recall(req)
  local _, rerr = shared.request(req, "zep: recall needs query and bank_id strings", "query", "bank_id")
  if rerr then return nil, rerr end
  local res, err = call(self, "POST", "/api/v2/sessions/search?limit=" .. shared.recall_window(req),
    { text = req.query, session_ids = { session_of(self, req.bank_id) }, search_scope = "messages" }, true)
  if not res then return nil, err end
  return shared.engine_recall_result("zep", nn(res.results) or {}, req, function(r)
    local m = nn(r.message) or {}
    local h = shared.unpack_metadata(m.metadata, { text = nn(m.content) or "", score = min(1, max(0, nn(r.score) or 0)),
      bank_id = req.bank_id, retained_at = nn(m.created_at) }, FIELDS)
    h.memory_id = h.memory_id or nn(m.uuid)
    return h
  end)
end

-- forget(scope = "all") clears the bank's session; anything selective is
-- CapabilityNotSupported (Zep v2 deletes memory per session only).
function _M:forget(req)
  local _, rerr = shared.request(req, "zep: forget needs a bank_id", "bank_id")
  if rerr then return nil, rerr end
  if req.scope ~= "all" then
    return nil, errors.new("CapabilityNotSupported", "zep: only forget(scope = 'all') is supported (whole session)",
                           { provider = "zep", capability = "forget" })
  end
  local ok, err = call(self, "DELETE", "/api/v2/sessions/" .. shared.urlencode(session_of(self, req.bank_id)) .. "/memory",
                       nil, true, { [404] = true })
  if not ok then return nil, err end
  return { deleted_count = 0, archived_count = 0 }
end

function _M:close() self.http:close() end

return { engine_providers = _M.new, new = _M.new }
