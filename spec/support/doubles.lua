-- spec/support/doubles.lua: small reference implementations of the
-- spec-only SPIs (OutboundTransportProvider, AccessPolicyProvider,
-- MemoryExportSink) and a mock LLMProvider, used to prove the conformance
-- suites pass on a correct provider.
local _M = {}

-- OutboundTransport: static proxy / CA / headers from conf.
local Transport = { SPI_VERSION = 1 }
Transport.__index = Transport
function _M.transport(conf)
  conf = conf or { proxy = "http://proxy.local:3128", ca_bundle = "/etc/ssl/ca.pem", headers = { ["x-tenant"] = "t1" } }
  return setmetatable({ conf = conf }, Transport)
end
function Transport:apply(ctx)
  if self.conf.proxy then ctx.proxy = self.conf.proxy end
  if self.conf.ca_bundle then ctx.ca_bundle = self.conf.ca_bundle end
  if self.conf.headers then
    ctx.headers = ctx.headers or {}
    for k, v in pairs(self.conf.headers) do ctx.headers[k] = v end
  end
end
function Transport:subprocess_env()
  local env = {}
  if self.conf.proxy then env.HTTPS_PROXY = self.conf.proxy; env.HTTP_PROXY = self.conf.proxy end
  if self.conf.ca_bundle then env.SSL_CERT_FILE = self.conf.ca_bundle end
  return env
end
function Transport:capabilities()
  return { supports_proxy = true, supports_custom_ca = true, supports_client_cert = false, supports_headers = true }
end

-- AccessPolicy: grants {principal, bank_id ("*" ok), permissions}.
local VALID = { read = true, write = true, forget = true, admin = true }
local Policy = {}
Policy.__index = Policy
function _M.policy(grants)
  return setmetatable({ grants = grants or {
    { principal = "user:ana", bank_id = "ana", permissions = { "read", "write" } },
    { principal = "agent:ops", bank_id = "*", permissions = { "read" } },
  } }, Policy)
end
function Policy:check(principal, bank_id, permission)
  if not VALID[permission] then return false, "unknown permission '" .. tostring(permission) .. "'" end
  for _, g in ipairs(self.grants) do
    if (g.principal == principal or g.principal == "*") and (g.bank_id == bank_id or g.bank_id == "*") then
      for _, p in ipairs(g.permissions) do
        if p == permission then return true end
      end
    end
  end
  return false, principal .. " has no " .. permission .. " grant on " .. bank_id
end
_M.POLICY_OPTS = {
  allowed = { { "user:ana", "ana", "read" }, { "user:ana", "ana", "write" }, { "agent:ops", "any-bank", "read" } },
  denied = { { "user:ana", "ana", "admin" }, { "user:ana", "ben", "read" }, { "agent:ops", "ana", "write" } },
}

-- MemoryExportSink: buffers events, flush moves them to `flushed`.
local Sink = {}
Sink.__index = Sink
function _M.sink()
  return setmetatable({ buffer = {}, flushed = {}, seen = {} }, Sink)
end
function Sink:emit(ev)
  if type(ev) ~= "table" or type(ev.event_id) ~= "string" then return nil, "sink: event needs an event_id" end
  if self.seen[ev.event_id] then return true end
  self.seen[ev.event_id] = true
  self.buffer[#self.buffer + 1] = ev
  return true
end
function Sink:flush()
  for _, e in ipairs(self.buffer) do self.flushed[#self.flushed + 1] = e end
  self.buffer = {}
  return true
end
function Sink:health() return { healthy = true } end
function Sink:capabilities()
  return { event_kinds = { "RetainCommitted", "ForgetApplied", "BankLifecycle" },
           includes_embeddings = false, includes_raw_text = false }
end

-- Mock LLM: bag-of-words embeddings, extractive completion.
local LLM = { SPI_VERSION = 1 }
LLM.__index = LLM
function _M.llm(dims)
  return setmetatable({ dims = dims or 16 }, LLM)
end
function LLM:embed(texts)
  local out = {}
  for i, s in ipairs(texts) do
    local v = {}
    for k = 1, self.dims do v[k] = 0 end
    for w in s:lower():gmatch("%w+") do
      local h = 0
      for j = 1, #w do h = (h * 31 + w:byte(j)) % self.dims end
      v[h + 1] = v[h + 1] + 1
    end
    out[i] = v
  end
  return out
end
function LLM:complete(messages, model)
  local last = messages[#messages]
  return { text = "echo: " .. tostring(last and last.content), model = model or "mock",
           usage = { input_tokens = 3, output_tokens = 2 } }
end
function LLM:capabilities()
  return { supports_multimodal_completion = false, supports_batch_embed = true, embedding_dimensions = self.dims }
end

return _M
