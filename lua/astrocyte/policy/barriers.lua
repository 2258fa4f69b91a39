-- astrocyte.policy.barriers: the barrier policy of the retain path
-- (pipeline.md §2.2) — the PII barrier, content validation and the metadata
-- sanitizer. PII scanning runs in the C core (core.pii_scanner); this module
-- turns config into scanner settings and applies the reference's actions.
--
-- How the engine calls it (retain, steps 7-9 of pipeline.md §2.0):
--   local b, err = barriers.new(cfg.barriers)          -- once, at open
--   local ok, verr = b:validate(content, content_type)  -- nil, ValidationError
--   local text, info_or_err = b:apply(content)          -- nil, PiiRejected
--   -- info = { pii_types = {...}, matches = {...}, action_taken = "redact"|"warn"|"none" }
--   local md, warnings = b:sanitize_metadata(metadata)
-- Each part also has its own constructor (pii, validator, sanitizer) so DLP
-- output scanning can build a scanner with a different action.
local core = require "astrocyte.core"
local errors = require "astrocyte.errors"
local type, pairs, ipairs, fmt, concat = type, pairs, ipairs, string.format, table.concat
local floor, sort, tostring, tonumber = math.floor, table.sort, tostring, tonumber
local next, setmetatable = next, setmetatable

local _M = { _VERSION = "0.1.0" }

local PII = {}
local pii_mt = { __index = PII }
local VALIDATOR = {}
local validator_mt = { __index = VALIDATOR }
local SANITIZER = {}
local sanitizer_mt = { __index = SANITIZER }
local barrier_mt = { __index = _M }

local MODES = { regex = true, ner = true, llm = true, rules_then_llm = true, disabled = true }
local ACTIONS = { redact = true, reject = true, warn = true }
local KNOWN_TYPES = {}
for _, t in ipairs(core.pii_types()) do KNOWN_TYPES[t.name] = t.replacement end

local function cerr(key_path, msg)
  return nil, errors.config(fmt("%s: %s", key_path, msg), { key_path = key_path })
end

-- Sorted keys of a table (deterministic error messages and warnings).
local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end

-- PII barrier from barriers.pii: { mode = "regex", action = "redact",
-- countries = {...}, type_overrides = { type = { action =, replacement = } } }.
-- Modes ner, llm and rules_then_llm run the regex scan (no NER model or LLM
-- scanner here: the reference degrades the same way without them).
-- Returns the barrier or nil, ConfigError naming the key path.
function _M.pii(conf, key_path)
  key_path = key_path or "barriers.pii"
  conf = conf or {}
  if type(conf) ~= "table" then return cerr(key_path, "must be a table") end
  local mode = conf.mode or "regex"
  if not MODES[mode] then
    return cerr(key_path .. ".mode", fmt("unknown mode '%s' (expected regex, ner, llm, rules_then_llm or disabled)", tostring(mode)))
  end
  local action = conf.action or "redact"
  if not ACTIONS[action] then
    return cerr(key_path .. ".action", fmt("unknown action '%s' (expected redact, reject or warn)", tostring(action)))
  end
  local countries = conf.countries or {}
  if type(countries) ~= "table" then return cerr(key_path .. ".countries", "must be a list of country codes") end
  for i, c in ipairs(countries) do
    if type(c) ~= "string" then return cerr(fmt("%s.countries[%d]", key_path, i), "must be a country code string") end
  end
  local actions, replacements = { ["*"] = action }, {}
  local overrides = conf.type_overrides or {}
  if type(overrides) ~= "table" then return cerr(key_path .. ".type_overrides", "must be a table type -> {action, replacement}") end
  for _, t in ipairs(sorted_keys(overrides)) do
    local o, kp = overrides[t], key_path .. ".type_overrides." .. tostring(t)
    if not KNOWN_TYPES[t] then return cerr(kp, fmt("unknown PII type '%s'", tostring(t))) end
    if type(o) ~= "table" then return cerr(kp, "must be a table {action, replacement}") end
    if o.action ~= nil then
      if not ACTIONS[o.action] then
        return cerr(kp .. ".action", fmt("unknown action '%s' (expected redact, reject or warn)", tostring(o.action)))
      end
      actions[t] = o.action
    end
    if o.replacement ~= nil then
      if type(o.replacement) ~= "string" then return cerr(kp .. ".replacement", "must be a string") end
      replacements[t] = o.replacement
    end
  end
  local self = { mode = mode, action = action, actions = actions, replacements = replacements }
  if mode ~= "disabled" then
    local sc, err = core.pii_scanner({ countries = countries })
    if not sc then return cerr(key_path .. ".countries", err) end
    self.scanner = sc
  end
  return setmetatable(self, pii_mt)
end

-- pii:scan(text) → array of {type, start, stop, text} (empty when disabled).
function PII:scan(text)
  if not self.scanner then return {} end
  return self.scanner:scan(text)
end

-- pii:apply(text) → new_text, info, or nil, PiiRejected. Every match whose
-- effective action (type override, else the global action) is reject makes
-- the whole text rejected; redact matches are replaced (overlaps resolved,
-- earliest then longest first); warn matches are only reported.
function PII:apply(text)
  if not self.scanner then return text, { pii_types = {}, matches = {}, action_taken = "none" } end
  local new_text, matches = self.scanner:redact(text, self.actions, self.replacements)
  if #matches == 0 then return text, { pii_types = {}, matches = matches, action_taken = "none" } end
  local types, seen, rejected, rseen, redacted = {}, {}, {}, {}, false
  for _, m in ipairs(matches) do
    local t = m.type
    if not seen[t] then seen[t] = true; types[#types + 1] = t end
    local a = self.actions[t] or self.action
    if a == "reject" and not rseen[t] then rseen[t] = true; rejected[#rejected + 1] = t end
    if a == "redact" then redacted = true end
  end
  if #rejected > 0 then
    return nil, errors.new("PiiRejected", "content contains PII: " .. concat(rejected, ", "), { pii_types = rejected })
  end
  return new_text, { pii_types = types, matches = matches, action_taken = redacted and "redact" or "warn" }
end

-- Python's repr of a list of strings: ['a', 'b'].
local function pylist(list)
  local parts = {}
  for i, s in ipairs(list) do parts[i] = "'" .. s .. "'" end
  return "[" .. concat(parts, ", ") .. "]"
end

-- Content validator from barriers.validation: { max_content_length = 50000,
-- reject_empty_content = true, allowed_content_types = {text, conversation,
-- document} }. Returns the validator or nil, ConfigError.
function _M.validator(conf, key_path)
  key_path = key_path or "barriers.validation"
  conf = conf or {}
  if type(conf) ~= "table" then return cerr(key_path, "must be a table") end
  local max = conf.max_content_length or 50000
  if type(max) ~= "number" or max ~= floor(max) or max < 1 then
    return cerr(key_path .. ".max_content_length", "must be a positive integer")
  end
  local allowed = conf.allowed_content_types or { "text", "conversation", "document" }
  if type(allowed) ~= "table" then return cerr(key_path .. ".allowed_content_types", "must be a list of strings") end
  local set = {}
  for i, t in ipairs(allowed) do
    if type(t) ~= "string" then return cerr(fmt("%s.allowed_content_types[%d]", key_path, i), "must be a string") end
    set[t] = true
  end
  local reject_empty = conf.reject_empty_content
  if reject_empty == nil then reject_empty = true end
  return setmetatable({ max = max, allowed = allowed, allowed_set = set, reject_empty = reject_empty }, validator_mt)
end

-- validator:check(content, content_type) → list of the reference's error
-- strings (empty when valid). Length is counted in UTF-8 characters.
function VALIDATOR:check(content, content_type)
  local errs = {}
  content_type = content_type or "text"
  if self.reject_empty and not content:find("%S") then errs[#errs + 1] = "Content is empty" end
  local ok, bad = core.utf8_valid(content)
  if not ok then
    errs[#errs + 1] = fmt("Content is not valid UTF-8 (bad byte at offset %d)", bad)
  else
    local n = core.utf8_len(content)
    if n > self.max then errs[#errs + 1] = fmt("Content too long: %d > %d", n, self.max) end
  end
  if not self.allowed_set[content_type] then
    errs[#errs + 1] = fmt("Content type '%s' not allowed. Allowed: %s", tostring(content_type), pylist(self.allowed))
  end
  return errs
end

-- validator:validate(content, content_type) → true, or nil and a
-- ValidationError whose message joins the errors with "; " (field `errors`).
function VALIDATOR:validate(content, content_type)
  if type(content) ~= "string" then
    return nil, errors.validation("content must be a string", { field = "content", errors = { "content must be a string" } })
  end
  local errs = self:check(content, content_type)
  if #errs == 0 then return true end
  return nil, errors.validation(concat(errs, "; "), { field = "content", errors = errs })
end

-- Metadata sanitizer from barriers.metadata: { blocked_keys = {api_key,
-- password, token, secret}, max_metadata_size_bytes = 4096 }.
function _M.sanitizer(conf, key_path)
  key_path = key_path or "barriers.metadata"
  conf = conf or {}
  if type(conf) ~= "table" then return cerr(key_path, "must be a table") end
  local blocked = conf.blocked_keys or { "api_key", "password", "token", "secret" }
  if type(blocked) ~= "table" then return cerr(key_path .. ".blocked_keys", "must be a list of strings") end
  local list = {}
  for i, k in ipairs(blocked) do
    if type(k) ~= "string" or k == "" then return cerr(fmt("%s.blocked_keys[%d]", key_path, i), "must be a non-empty string") end
    list[#list + 1] = k:lower()
  end
  local max = conf.max_metadata_size_bytes or conf.max_size_bytes or 4096
  if type(max) ~= "number" or max ~= floor(max) or max < 0 then
    return cerr(key_path .. ".max_metadata_size_bytes", "must be a non-negative integer")
  end
  return setmetatable({ blocked = list, max = max }, sanitizer_mt)
end

local SEP = { ["_"] = true, ["."] = true, ["-"] = true }

-- True if lower-cased key is a blocked key or holds one as a segment
-- delimited by start/end or one of _ . - (so auth_token, db.password, but
-- not tokens) — the reference's (^|[_.\-])key($|[_.\-]).
function SANITIZER:is_blocked(key)
  local k = key:lower()
  for _, b in ipairs(self.blocked) do
    if k == b then return true end
    local init = 1
    while true do
      local s, e = k:find(b, init, true)
      if not s then break end
      local before, after = k:sub(s - 1, s - 1), k:sub(e + 1, e + 1)
      if (s == 1 or SEP[before]) and (e == #k or SEP[after]) then return true end
      init = s + 1
    end
  end
  return false
end

-- Length of Python's json.dumps of a string (ensure_ascii: non-ASCII as
-- \uXXXX, astral characters as two escapes).
local ESC1 = { ['"'] = 2, ["\\"] = 2, ["\n"] = 2, ["\r"] = 2, ["\t"] = 2, ["\b"] = 2, ["\f"] = 2 }
local function json_str_len(s)
  local n, i, len = 2, 1, #s
  while i <= len do
    local c = s:byte(i)
    if c < 0x80 then
      local e = ESC1[string.char(c)]
      n = n + (e or (c < 0x20 and 6 or 1))
      i = i + 1
    elseif c >= 0xF0 then n = n + 12; i = i + 4
    elseif c >= 0xE0 then n = n + 6; i = i + 3
    else n = n + 6; i = i + 2 end
  end
  return n
end

-- Length of Python's repr-style JSON for a scalar value.
local function json_val_len(v)
  local tv = type(v)
  if tv == "string" then return json_str_len(v) end
  if tv == "boolean" then return v and 4 or 5 end
  if tv == "number" then
    if v ~= v then return 3 end                    -- NaN
    if v == math.huge then return 8 end            -- Infinity
    if v == -math.huge then return 9 end
    if v == floor(v) and v > -1e15 and v < 1e15 then return #fmt("%d", v) end
    for p = 15, 17 do
      local s = fmt("%." .. p .. "g", v)
      if tonumber(s) == v then return #s end
    end
    return #fmt("%.17g", v)
  end
  if v == nil then return 4 end
  return #tostring(v) + 2
end

-- Size in bytes of json.dumps(t) for a flat table: {"k": v, "k2": v2}.
local function json_size(t)
  local n, count = 2, 0
  for k, v in pairs(t) do
    n = n + json_str_len(tostring(k)) + 2 + json_val_len(v)
    count = count + 1
  end
  if count > 1 then n = n + 2 * (count - 1) end
  return n
end
_M._json_size = json_size

-- sanitizer:sanitize(metadata) → cleaned (nil when empty), warnings. Blocked
-- keys are dropped ("Blocked metadata key: '<key>'"); then while the JSON
-- size is above the limit, keys are dropped in reverse alphabetical order
-- ("Metadata exceeds N bytes, truncated").
function SANITIZER:sanitize(metadata)
  if metadata == nil then return nil, {} end
  local warnings, cleaned = {}, {}
  for _, k in ipairs(sorted_keys(metadata)) do
    if type(k) == "string" and self:is_blocked(k) then
      warnings[#warnings + 1] = fmt("Blocked metadata key: '%s'", k)
    else
      cleaned[k] = metadata[k]
    end
  end
  if json_size(cleaned) > self.max then
    warnings[#warnings + 1] = fmt("Metadata exceeds %d bytes, truncated", self.max)
    local keys = sorted_keys(cleaned)
    for i = #keys, 1, -1 do
      if json_size(cleaned) <= self.max then break end
      cleaned[keys[i]] = nil
    end
  end
  if next(cleaned) == nil then return nil, warnings end
  return cleaned, warnings
end

-- barriers.new(cfg.barriers) → barrier with :apply, :scan, :validate,
-- :sanitize_metadata; or nil, ConfigError.
function _M.new(conf)
  conf = conf or {}
  if type(conf) ~= "table" then return cerr("barriers", "must be a table") end
  local p, err = _M.pii(conf.pii)
  if not p then return nil, err end
  local v; v, err = _M.validator(conf.validation)
  if not v then return nil, err end
  local s; s, err = _M.sanitizer(conf.metadata)
  if not s then return nil, err end
  return setmetatable({ pii_barrier = p, validation = v, metadata = s }, barrier_mt)
end

function _M:apply(text) return self.pii_barrier:apply(text) end
function _M:scan(text) return self.pii_barrier:scan(text) end
function _M:validate(content, content_type) return self.validation:validate(content, content_type) end
function _M:sanitize_metadata(md) return self.metadata:sanitize(md) end

return _M
