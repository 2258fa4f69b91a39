-- astrocyte.config: turns a config table or file (YAML or JSON) into the
-- validated, defaulted table the engine runs on. Every error is a ConfigError
-- naming the key path (and file). ${VAR} and ${VAR:-default} are substituted
-- in string values; an unset variable without a default is an error.
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local type, pairs, fmt = type, pairs, string.format

local _M = {}

-- Default database location: $XDG_DATA_HOME/astrocyte/astrocyte.db, else
-- ~/.local/share/astrocyte/astrocyte.db.
function _M.default_db_path()
  local base = os.getenv("XDG_DATA_HOME")
  if not base or base == "" then
    local home = os.getenv("HOME") or "."
    base = home .. "/.local/share"
  end
  return base .. "/astrocyte/astrocyte.db"
end

-- The defaults every config is completed with.
local function defaults()
  return {
    provider_tier = "storage",
    vector_store = "sqlite",
    vector_store_config = {},
    embedding_provider = "hashing",
    embedding_provider_config = { dimensions = 384 },
    default_bank_id = "default",
    barriers = { validation = { max_content_length = 50000, reject_empty_content = true } },
    pipeline = {
      chunk_strategy = "sentence", max_chunk_size = 512, chunk_overlap = 50,
      rrf_k = 60, semantic_overfetch = 5,
      weights = { semantic = 1.0, keyword = 1.0 },
    },
    reflect = { max_sentences = 3, max_results = 10 },
  }
end

-- Schema of the keys this version reads: type per key path. Sections not
-- listed are kept as they are for providers and later layers.
local SCHEMA = {
  provider_tier = "string", profile = "string", compliance_profile = "string",
  vector_store = "string", vector_store_config = "table",
  document_store = "string", document_store_config = "table",
  embedding_provider = "string", embedding_provider_config = "table",
  llm_provider = "string", llm_provider_config = "table",
  default_bank_id = "string",
  barriers = "table", ["barriers.validation"] = "table",
  ["barriers.validation.max_content_length"] = "integer",
  ["barriers.validation.reject_empty_content"] = "boolean",
  pipeline = "table",
  ["pipeline.chunk_strategy"] = "string", ["pipeline.max_chunk_size"] = "integer",
  ["pipeline.chunk_overlap"] = "integer", ["pipeline.rrf_k"] = "number",
  ["pipeline.semantic_overfetch"] = "integer", ["pipeline.weights"] = "table",
  ["pipeline.weights.semantic"] = "number", ["pipeline.weights.keyword"] = "number",
  reflect = "table", ["reflect.max_sentences"] = "integer", ["reflect.max_results"] = "integer",
}

local function type_ok(v, want)
  if want == "integer" then return type(v) == "number" and v == math.floor(v) end
  return type(v) == want
end

-- Replaces ${VAR} / ${VAR:-default} in every string of t (recursively).
local function substitute(t, path, src)
  for k, v in pairs(t) do
    local kp = path and (path .. "." .. tostring(k)) or tostring(k)
    if type(v) == "table" then
      local ok, err = substitute(v, kp, src)
      if not ok then return nil, err end
    elseif type(v) == "string" and v:find("${", 1, true) then
      local missing
      local out = v:gsub("%${([%w_]+)(:?%-?)([^}]*)}", function(name, sep, def)
        local val = os.getenv(name)
        if val ~= nil and val ~= "" then return val end
        if sep == ":-" then return def end
        missing = missing or name
        return ""
      end)
      if missing then
        return nil, errors.config(fmt("%s%s: environment variable %s is not set", src and (src .. ": ") or "", kp, missing), { key_path = kp })
      end
      t[k] = out
    end
  end
  return true
end

-- Deep merge: maps merge recursively, anything else (lists too) replaces.
function _M.merge(base, over)
  for k, v in pairs(over) do
    if type(v) == "table" and type(base[k]) == "table" and not util.is_array(v) and not util.is_array(base[k]) then
      _M.merge(base[k], v)
    else
      base[k] = util.deepcopy(v)
    end
  end
  return base
end

-- Reads and parses a config file. Returns the table or nil, ConfigError.
function _M.read_file(path)
  local f, oerr = io.open(path, "rb")
  if not f then
    return nil, errors.config(fmt("config file '%s' cannot be read: %s", path, tostring(oerr)), { path = path })
  end
  local text = f:read("*a")
  f:close()
  local data, perr
  if path:match("%.json$") then
    data, perr = util.json.decode(text)
  else
    local ok, lyaml = pcall(require, "lyaml")
    if not ok then return nil, errors.config("YAML support (lyaml) is not installed", { path = path }) end
    local pok, res = pcall(lyaml.load, text)
    if pok then
      data = res
    else
      -- lyaml reports "LINE:COL: message"; say it as "FILE:LINE:COL: message".
      local line, col, msg = tostring(res):match("(%d+):(%d+): (.*)$")
      if line then
        return nil, errors.config(fmt("%s:%s:%s: %s", path, line, col, msg), { path = path, line = tonumber(line), column = tonumber(col) })
      end
      perr = tostring(res)
    end
  end
  if perr then
    return nil, errors.config(fmt("%s: %s", path, perr), { path = path })
  end
  if data == nil then data = {} end
  if type(data) ~= "table" or util.is_array(data) and #data > 0 then
    return nil, errors.config(fmt("%s: the top level must be a mapping", path), { path = path })
  end
  return data
end

-- Checks types of known keys; returns true or nil, ConfigError.
local function check_types(cfg, src)
  local prefix = src and (src .. ": ") or ""
  for kp, want in pairs(SCHEMA) do
    local v = cfg
    for part in kp:gmatch("[^.]+") do
      if type(v) ~= "table" then v = nil; break end
      v = v[part]
    end
    if v ~= nil and not type_ok(v, want) then
      return nil, errors.config(fmt("%s%s must be %s %s, got %s", prefix, kp,
        (want == "integer") and "an" or "a", want, type(v)), { key_path = kp })
    end
  end
  local p = cfg.pipeline
  local strategies = { sentence = true, paragraph = true, fixed = true }
  if not strategies[p.chunk_strategy] then
    return nil, errors.config(fmt("%spipeline.chunk_strategy must be one of sentence, paragraph, fixed; got '%s'", prefix, p.chunk_strategy), { key_path = "pipeline.chunk_strategy" })
  end
  if p.max_chunk_size < 16 then
    return nil, errors.config(prefix .. "pipeline.max_chunk_size must be at least 16", { key_path = "pipeline.max_chunk_size" })
  end
  if p.chunk_overlap < 0 or p.chunk_overlap >= p.max_chunk_size then
    return nil, errors.config(prefix .. "pipeline.chunk_overlap must be >= 0 and < pipeline.max_chunk_size", { key_path = "pipeline.chunk_overlap" })
  end
  for name, w in pairs(p.weights) do
    if type(w) ~= "number" or w < 0 then
      return nil, errors.config(fmt("%spipeline.weights.%s must be a number >= 0", prefix, tostring(name)), { key_path = "pipeline.weights." .. tostring(name) })
    end
  end
  return true
end

-- Loads config from nil (all defaults), a table, or a file path. opts:
-- { db = path } overrides vector_store_config.path. Returns cfg or nil, err.
function _M.load(input, opts)
  opts = opts or {}
  local user, src
  if input == nil then
    user = {}
  elseif type(input) == "table" then
    user = util.deepcopy(input)
  elseif type(input) == "string" then
    src = input
    local err
    user, err = _M.read_file(input)
    if not user then return nil, err end
  else
    return nil, errors.config("config must be a table, a file path or nil, got " .. type(input))
  end
  local ok, serr = substitute(user, nil, src)
  if not ok then return nil, serr end
  local cfg = _M.merge(defaults(), user)
  if opts.db then
    cfg.vector_store_config = cfg.vector_store_config or {}
    cfg.vector_store_config.path = opts.db
  end
  if cfg.vector_store == "sqlite" and type(cfg.vector_store_config) == "table"
     and cfg.vector_store_config.path == nil then
    cfg.vector_store_config.path = _M.default_db_path()
    cfg._default_db = true
  end
  local tok, terr = check_types(cfg, src)
  if not tok then return nil, terr end
  cfg._source = src
  return cfg
end

return _M
