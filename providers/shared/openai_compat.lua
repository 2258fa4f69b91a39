-- astrocyte.providers.shared.openai_compat: the OpenAI-compatible
-- LLMProvider (spi.md §1.9) that the openai and litellm providers are thin
-- wrappers of, shared here because providers never require each other. It
-- serves every OpenAI-compatible endpoint — OpenAI itself, and through base_url Ollama
-- (http://localhost:11434/v1), vLLM, llama.cpp server, a LiteLLM proxy.
-- complete() speaks POST {base_url}/chat/completions (messages, tools,
-- tool_choice, response_format) and returns Completion{text, model, usage,
-- tool_calls}; embed() speaks POST {base_url}/embeddings in batches of
-- batch_size texts (batching = false sends one text per request) and
-- reports token usage. As an embedding_provider its `model` is the
-- embedding model; as an llm_provider set `embedding_model` apart from the
-- chat `model`. The api_key goes only into the Authorization header and is
-- redacted from every message.
local shared = require "astrocyte.providers.shared"
local errors = require "astrocyte.errors"
local type, ipairs, pairs, tostring, fmt = type, ipairs, pairs, tostring, string.format
local nn = shared.nn

local _M = { SPI_VERSION = 1, name = "openai" }
local mt = { __index = _M, __tostring = function(self) return self.name .. " provider (" .. self.base .. ")" end }

local DEFAULT_BASE = "https://api.openai.com/v1"
local DEFAULT_CHAT = "gpt-4o-mini"
local DEFAULT_EMBED = "text-embedding-3-small"

-- conf: { base_url, api_key?, model?, chat_model?, embedding_model?,
--   dimensions? (requested from the API — OpenAI's text-embedding-3 models
--   shorten to it — and checked on every vector; send_dimensions = false
--   only checks, for servers that reject the parameter), batch_size (256),
--   batching (true), organization?, project?, headers?, timeout_ms,
--   max_retries, outbound_transport?, api_key_header? (e.g. "api-key") }
-- opts (tests / subclasses): { name, backend, default_base }.
function _M.new(conf, opts)
  conf, opts = conf or {}, opts or {}
  local name = opts.name or "openai"
  local base, err = shared.base_url(conf, name, opts.default_base or DEFAULT_BASE)
  if not base then return nil, err end
  if conf.api_key ~= nil and (type(conf.api_key) ~= "string" or conf.api_key == "") then
    return nil, name .. ": api_key must be a non-empty string"
  end
  local batch; batch, err = shared.opt_int(conf, name, "batch_size", 256, 1, 4096)
  if not batch then return nil, err end
  if conf.batching == false then batch = 1 end
  local dims; dims, err = shared.opt_int(conf, name, "dimensions", nil, 1, 65536)
  if err then return nil, err end
  local chat; chat, err = shared.opt_string(conf, name, "chat_model", conf.model or DEFAULT_CHAT)
  if not chat then return nil, err end
  local emb; emb, err = shared.opt_string(conf, name, "embedding_model", conf.model or DEFAULT_EMBED)
  if not emb then return nil, err end
  local client; client, err = shared.client(conf, name, { backend = opts.backend })
  if not client then return nil, err end
  local auth
  if conf.api_key then
    auth = conf.api_key_header and { [conf.api_key_header] = conf.api_key } or shared.bearer(conf.api_key)
  end
  local extra = {}
  if conf.organization then extra["OpenAI-Organization"] = conf.organization end
  if conf.project then extra["OpenAI-Project"] = conf.project end
  return setmetatable({
    name = name, base = base, http = client, chat_model = chat, embedding_model = emb,
    dims = dims, send_dimensions = conf.send_dimensions, batch_size = batch,
    headers = shared.headers(conf.headers, extra, auth),
    usage = { input_tokens = 0, output_tokens = 0, requests = 0 },
  }, mt)
end

local function add_usage(self, u)
  self.usage.requests = self.usage.requests + 1
  u = nn(u)
  if type(u) ~= "table" then return nil end
  local inp, out = math.floor(nn(u.prompt_tokens) or 0), math.floor(nn(u.completion_tokens) or 0)
  self.usage.input_tokens = self.usage.input_tokens + inp
  self.usage.output_tokens = self.usage.output_tokens + out
  return { input_tokens = inp, output_tokens = out }
end

-- POSTs body to base..path; returns decoded JSON or nil, err.
local function post(self, path, body, idempotent)
  for k, v in pairs(self.extra_body or {}) do if body[k] == nil then body[k] = v end end
  return self.http:json { method = "POST", url = self.base .. path, headers = self.headers,
                          json = body, idempotent = idempotent }
end

-- One OpenAI content part from a reference ContentPart.
local function content_part(p)
  if type(p) == "string" then return { type = "text", text = p } end
  if p.type == "text" then return { type = "text", text = p.text or "" } end
  if p.type == "image_url" then return { type = "image_url", image_url = { url = p.image_url } } end
  if p.type == "image_base64" then
    return { type = "image_url", image_url = { url = "data:" .. (p.media_type or "image/png") .. ";base64," .. p.image_base64 } }
  end
  if p.type == "audio_base64" then
    return { type = "input_audio", input_audio = { data = p.audio_base64, format = (p.media_type or "audio/wav"):match("/(%w+)") or "wav" } }
  end
  return nil, "unsupported content part type " .. tostring(p.type)
end

-- OpenAI wire message from a reference Message.
local function wire_message(m)
  if type(m) ~= "table" or type(m.role) ~= "string" then return nil, "every message needs a role" end
  local w = { role = m.role, name = m.name, tool_call_id = m.tool_call_id }
  if type(m.content) == "table" then
    local parts = {}
    for i, p in ipairs(m.content) do
      local wp, err = content_part(p)
      if not wp then return nil, err end
      parts[i] = wp
    end
    w.content = parts
  else
    w.content = m.content or ""
  end
  if m.tool_calls then
    local calls = {}
    for i, tc in ipairs(m.tool_calls) do
      calls[i] = { id = tc.id, type = "function",
                   ["function"] = { name = tc.name, arguments = shared.http.encode(shared.object(tc.arguments or {})) } }
    end
    w.tool_calls = calls
  end
  return w
end

-- LLMProvider.complete(messages, model?, max_tokens?, temperature?, tools?,
-- tool_choice?, response_format?) → Completion | nil, err. An options table
-- in place of `model` is accepted too ({model, max_tokens, ...}).
function _M:complete(messages, model, max_tokens, temperature, tools, tool_choice, response_format)
  if type(model) == "table" then
    local o = model
    model, max_tokens, temperature, tools, tool_choice, response_format =
      o.model, o.max_tokens, o.temperature, o.tools, o.tool_choice, o.response_format
  end
  if type(messages) ~= "table" or #messages == 0 then
    return nil, errors.validation(self.name .. ": complete needs a non-empty array of messages")
  end
  local wire = {}
  for i, m in ipairs(messages) do
    local w, err = wire_message(m)
    if not w then return nil, errors.validation(fmt("%s: messages[%d]: %s", self.name, i, err)) end
    wire[i] = w
  end
  local body = { model = model or self.chat_model, messages = wire, max_tokens = max_tokens or 1024,
                 temperature = temperature or 0.0, response_format = response_format }
  if tools and #tools > 0 then
    local wt = {}
    for i, t in ipairs(tools) do
      wt[i] = { type = "function", ["function"] = { name = t.name, description = t.description or "",
                                                   parameters = shared.object(t.parameters or {}) } }
    end
    body.tools = wt
    if tool_choice == nil or tool_choice == "auto" or tool_choice == "required" or tool_choice == "none" then
      body.tool_choice = tool_choice or "auto"
    else
      body.tool_choice = { type = "function", ["function"] = { name = tool_choice } }
    end
  end
  local res, err = post(self, "/chat/completions", body, false)
  if not res then return nil, err end
  local choice = type(res.choices) == "table" and res.choices[1]
  local msg = type(choice) == "table" and nn(choice.message)
  if type(msg) ~= "table" then
    return nil, shared.err(self.name, "chat completion response has no choices[1].message")
  end
  local calls
  if type(nn(msg.tool_calls)) == "table" and #msg.tool_calls > 0 then
    calls = {}
    for i, tc in ipairs(msg.tool_calls) do
      local fn = nn(tc["function"]) or {}
      local args = {}
      if type(nn(fn.arguments)) == "string" and fn.arguments ~= "" then
        local a = shared.http.decode(fn.arguments)
        args = type(a) == "table" and a or { _raw = fn.arguments }
      elseif type(nn(fn.arguments)) == "table" then
        args = fn.arguments
      end
      calls[i] = { id = nn(tc.id) or ("call_" .. i), name = nn(fn.name) or "", arguments = args }
    end
  end
  local text = nn(msg.content)
  if type(text) ~= "string" then text = "" end
  return { text = text, model = nn(res.model) or body.model, usage = add_usage(self, res.usage), tool_calls = calls }
end

-- Embeds one batch; appends vectors to out. Returns true or nil, err.
local function embed_batch(self, texts, first, last, model, out)
  local input = {}
  for i = first, last do input[#input + 1] = texts[i] end
  local body = { model = model, input = input, encoding_format = "float" }
  if self.send_dimensions ~= false and self.dims then body.dimensions = self.dims end
  local res, err = post(self, "/embeddings", body, true)
  if not res then return nil, err end
  local data = nn(res.data)
  if type(data) ~= "table" or #data ~= #input then
    return nil, shared.err(self.name, fmt("embeddings response has %s items for %d inputs",
      type(data) == "table" and tostring(#data) or "no data", #input))
  end
  add_usage(self, res.usage)
  for j, d in ipairs(data) do
    local idx = type(nn(d.index)) == "number" and math.floor(d.index) + 1 or j
    local v = nn(d.embedding)
    local ok, verr = shared.check_vector(v, self.dims, "embedding " .. (first + idx - 1))
    if not ok then return nil, shared.err(self.name, verr) end
    if idx < 1 or idx > #input then return nil, shared.err(self.name, "embedding index out of range: " .. tostring(d.index)) end
    out[first + idx - 1] = v
  end
  return true
end

-- LLMProvider.embed(texts, model?) → one vector per text, same order.
function _M:embed(texts, model)
  if type(texts) ~= "table" then return nil, errors.validation(self.name .. ": texts must be an array of strings") end
  for i = 1, #texts do
    if type(texts[i]) ~= "string" then
      return nil, errors.validation(fmt("%s: texts[%d] must be a string", self.name, i))
    end
  end
  local out = {}
  model = model or self.embedding_model
  for first = 1, #texts, self.batch_size do
    local last = math.min(#texts, first + self.batch_size - 1)
    local ok, err = embed_batch(self, texts, first, last, model, out)
    if not ok then return nil, err end
  end
  local d
  for i = 1, #texts do
    if not out[i] then return nil, shared.err(self.name, "no embedding returned for text " .. i) end
    if d and #out[i] ~= d then return nil, shared.err(self.name, "embeddings of different lengths in one call") end
    d = #out[i]
  end
  if d and not self.dims then self.dims = d end
  return out
end

function _M:capabilities()
  return { supports_multimodal_completion = true, modalities_supported = { "text", "image" },
           supports_multimodal_embedding = false, supports_batch_embed = self.batch_size > 1,
           supports_completion = true, supports_tools = true, embedding_dimensions = self.dims }
end

-- GET {base}/models: reachable and authorized.
function _M:health()
  return shared.health(function()
    return self.http:json { url = self.base .. "/models", headers = self.headers }
  end)
end

-- Token usage summed over this provider's calls.
function _M:token_usage()
  return { input_tokens = self.usage.input_tokens, output_tokens = self.usage.output_tokens, requests = self.usage.requests }
end

function _M:close() self.http:close() end

return _M
