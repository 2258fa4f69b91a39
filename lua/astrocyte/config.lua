-- astrocyte.config: turns a config table or file (YAML or JSON) into the
-- validated, defaulted table the engine runs on.
--
-- Layers, lowest first: built-in defaults < compliance profile < behaviour
-- profile < the user's config < per-bank overrides (for_bank()). Maps merge
-- deeply; any other value (lists too) replaces. ${VAR} and ${VAR:-default}
-- are substituted in the user's strings first; an unset variable in a
-- credential key (api_key, token, dsn, ...) is a ConfigError naming the key
-- path, elsewhere a warning. Wrong types are ConfigErrors with the key path;
-- unknown keys are warnings with a did-you-mean (cfg._warnings). Each
-- provider's own section is checked against the provider's schema
-- (registry.check_config), where an unknown key is an error.
-- Profiles are re-read from disk on every load, so an edited profile takes
-- effect on the next load or engine:reload().
local errors = require "astrocyte.errors"
local schema = require "astrocyte.config_schema"
local check = require "astrocyte.config_check"
local registry = require "astrocyte.registry"
local util = require "astrocyte.util"
local type, pairs, ipairs, fmt = type, pairs, ipairs, string.format

local _M = {}

-- Default database location: $XDG_DATA_HOME/astrocyte/astrocyte.db, else
-- ~/.local/share/astrocyte/astrocyte.db.
function _M.default_db_path()
  local base = os.getenv("XDG_DATA_HOME")
  if not base or base == "" then
    base = (os.getenv("HOME") or ".") .. "/.local/share"
  end
  return base .. "/astrocyte/astrocyte.db"
end

-- The built-in profile directory: profiles/ beside this module (a link to
-- the repository's profiles/ in a checkout, a copy when installed).
local function builtin_profile_dir()
  local src = debug.getinfo(1, "S").source
  local dir = src:match("^@(.*)/[^/]*$") or "."
  return dir .. "/profiles"
end
_M.builtin_profile_dir = builtin_profile_dir

-- The defaults every config is completed with.
local function defaults()
  return {
    provider_tier = "storage",
    vector_store = "sqlite",
    vector_store_config = {},
    embedding_provider = "hashing",        -- 384 dimensions unless configured
    fallback_strategy = "error",
    default_bank_id = "default",
    barriers = {
      pii = { mode = "disabled", action = "redact" },
      validation = { max_content_length = 50000, reject_empty_content = true },
    },
    escalation = { degraded_mode = "empty_recall" },
    access_control = { enabled = false, default_policy = "owner_only" },
    pipeline = {
      chunk_strategy = "sentence", max_chunk_size = 512, chunk_overlap = 50,
      -- rrf_k 5, not the reference's 60: with k = 60 an item that both
      -- channels rank poorly outscores one channel's clear first pick, and on
      -- bench/eval/run (synthetic conversation sets, two seeds) fusion fell
      -- below its best single channel (R@5 0.31 vs 0.48); with k = 5 it is
      -- at or above the best channel at R@5/10/20 on both seeds.
      rrf_k = 5, semantic_overfetch = 5, semantic_min_score = 0.1,
      temporal_half_life_days = 7.0, temporal_scan_cap = 500,
      -- The temporal channel's weight when the query names a time window
      -- ("on 3 June, 2023", "in May 2023", "last week"): the memories of that
      -- window, keyword matches first.
      temporal_window_weight = 1.0,
      -- Base channel weights (multiplied by the query intent's), measured
      -- with the eval harness's --ablation on the conversational dev split
      -- (see the README's Recall quality; hashing embedder): the keyword
      -- channel is by far the strongest (R@10 0.73 alone vs 0.46 for the
      -- hashing semantic channel, 0.06 temporal, 0.05 graph), and with equal
      -- weights fusion fell below it (0.64); at 0.3 / 1.0 / 0.2 / 0.3 fusion
      -- is at or above the keyword channel in every category (0.75).
      -- weights.semantic left unset is chosen by the embedder (see
      -- auto_weights): 0.3 for the hashing embedder, 1.0 for a model.
      -- associative (term associations learned from the bank, core.assoc)
      -- and expansion (multi-hop: the first hits as feedback) at 0.3 / 0.3
      -- took dev R@10 0.763 -> 0.773 (R@5 0.672 -> 0.694, R@20 0.805 ->
      -- 0.814), no category lower, fusion still at or above every single
      -- channel at R@10 (associative alone 0.647); 0.6 for either lost
      -- open-domain to the associative channel alone. Expansion's own share
      -- is within noise (R@10 +0.001, multi-hop +0.007).
      weights = { keyword = 1.0, graph = 0.2, temporal = 0.3, associative = 0.3, expansion = 0.3 },
      -- Context indexed with a memory (searchable, never part of the hit):
      -- the turns before a dialogue turn of the same session, the heading and
      -- last characters of the chunk before a document chunk. The previous
      -- turns took keyword recall@10 on the conversational dev split from 0.61 (none)
      -- to 0.72 (one) and 0.73 (two). Embedding the context as well made the
      -- fused result worse (0.70), so it is off.
      dialogue_context_turns = 2, chunk_context_chars = 200, context_in_embedding = false, context_date = true,
      -- The reference's session-diversity penalty (0.08 per earlier hit of
      -- the same session) cost 0.04 recall@10 on the conversational dev split: off.
      session_diversity_penalty = 0,
      -- Multi-hop expansion (weights.expansion): the first channels' best
      -- fused hits (seeds) as feedback for a second associative search
      -- (pipeline/expansion.lua).
      expansion = { seeds = 5 },
    },
    reflect = { max_sentences = 3, max_results = 10 },
  }
end

local function cerr(src, kp, msg)
  return errors.config((src and (src .. ": ") or "") .. msg, { key_path = kp, path = src })
end

-- Replaces ${VAR} / ${VAR:-default} in every string of t (recursively).
local function substitute(t, path, src, warnings)
  for k, v in pairs(t) do
    local kp = path and (path .. "." .. tostring(k)) or tostring(k)
    if type(v) == "table" then
      local ok, err = substitute(v, kp, src, warnings)
      if not ok then return nil, err end
    elseif type(v) == "string" and v:find("${", 1, true) then
      local missing
      local out = v:gsub("%${([%w_]+)(:?%-?)([^}]*)}", function(name, sep, def)
        local val = os.getenv(name)
        if val ~= nil and val ~= "" then return val end
        if sep == ":-" then return def end
        missing = missing or name
        return nil
      end)
      if missing then
        if schema.SENSITIVE[tostring(k)] then
          return nil, cerr(src, kp, fmt("%s: environment variable %s is not set", kp, missing))
        end
        warnings[#warnings + 1] = fmt("%s: environment variable %s is not set (value kept as written)", kp, missing)
      end
      t[k] = out
    end
  end
  return true
end

-- Deep merge: maps merge recursively, anything else (lists too) replaces.
-- An empty table over a map is an empty map ("pipeline: {}", or a section
-- whose keys are all ~), which changes nothing: replacing the defaults
-- with it left cfg.pipeline without its keys and load raised.
function _M.merge(base, over)
  for k, v in pairs(over) do
    if type(v) == "table" and type(base[k]) == "table" and (next(v) == nil or not util.is_array(v))
        and not util.is_array(base[k]) then
      _M.merge(base[k], v)
    else
      base[k] = util.deepcopy(v)
    end
  end
  return base
end

-- YAML `key: ~` means "not set": drop lyaml's null sentinel from maps (and
-- lists, compacting them) so later layers and defaults apply.
local function strip_nulls(v, null)
  if v == null then return nil end
  if type(v) ~= "table" then return v end
  if util.is_array(v) then
    local out = {}
    for i = 1, #v do
      local x = strip_nulls(v[i], null)
      if x ~= nil then out[#out + 1] = x end
    end
    return out
  end
  for k, x in pairs(v) do v[k] = strip_nulls(x, null) end
  return v
end

-- lyaml returns an alias as the very table of its anchor, so an alias
-- inside its own anchor makes a cycle (every walk of the config would
-- overflow the stack) and nested aliases multiply the tree ("billion
-- laughs"). Returns nil or the reason the parsed YAML v cannot be used.
local MAX_YAML_NODES = 100000
local function alias_problem(v)
  local onpath, left = {}, MAX_YAML_NODES
  local function walk(x)
    if type(x) ~= "table" then return nil end
    if onpath[x] then return "an alias refers to the node that contains it" end
    left = left - 1
    if left < 0 then return fmt("more than %d nodes once aliases are expanded", MAX_YAML_NODES) end
    onpath[x] = true
    for k, y in pairs(x) do
      local why = walk(k) or walk(y)
      if why then return why end
    end
    onpath[x] = nil
    return nil
  end
  return walk(v)
end

-- Reads and parses a YAML or JSON file. Returns the table or nil, ConfigError.
function _M.read_file(path, what)
  what = what or "config file"
  local f, oerr = io.open(path, "rb")
  if not f then
    return nil, errors.config(fmt("%s '%s' cannot be read: %s", what, path, tostring(oerr)), { path = path })
  end
  local text = f:read("*a")
  f:close()
  local data
  if path:match("%.json$") then
    local jerr
    data, jerr = util.json.decode(text)
    if jerr then return nil, errors.config(fmt("%s: %s", path, jerr), { path = path }) end
  else
    local ok, lyaml = pcall(require, "lyaml")
    if not ok then return nil, errors.config("YAML support (lua-yaml) is not installed", { path = path }) end
    local pok, res = pcall(lyaml.load, text)
    if not pok then
      -- lyaml reports "LINE:COL: message"; say it as "FILE:LINE:COL: message".
      local line, col, msg = tostring(res):match("(%d+):(%d+): (.*)$")
      if line then
        return nil, errors.config(fmt("%s:%s:%s: %s", path, line, col, msg),
                                  { path = path, line = tonumber(line), column = tonumber(col) })
      end
      return nil, errors.config(fmt("%s: %s", path, tostring(res)), { path = path })
    end
    local why = alias_problem(res)
    if why then return nil, errors.config(fmt("%s: %s", path, why), { path = path }) end
    data = strip_nulls(res, lyaml.null)
  end
  if data == nil then data = {} end
  if type(data) ~= "table" or (util.is_array(data) and #data > 0) then
    return nil, errors.config(fmt("%s: the top level must be a mapping", path), { path = path })
  end
  return data
end

-- Finds a profile file: a name starting with ./ or / is a path; otherwise
-- <dir>/<name>.yaml in the user's profile_dirs, then the built-in directory
-- (compliance profiles live in its compliance/ subdirectory).
local function find_profile(name, dirs, compliance)
  if name:match("^%.?%.?/") then return name end
  if not name:match("^[%w_%-]+$") then return nil end
  local list = {}
  for _, d in ipairs(dirs or {}) do list[#list + 1] = d end
  list[#list + 1] = builtin_profile_dir()
  for _, d in ipairs(list) do
    local p = d .. (compliance and "/compliance/" or "/") .. name .. ".yaml"
    local f = io.open(p, "rb")
    if f then f:close(); return p end
  end
  return nil
end

-- Loads a named profile; returns its table or nil, ConfigError.
function _M.load_profile(name, dirs, compliance, key_path)
  local what = compliance and "Compliance profile" or "Profile"
  local path = find_profile(name, dirs, compliance)
  if not path then
    return nil, errors.config(fmt("%s not found: %s", what, name), { key_path = key_path })
  end
  local data, err = _M.read_file(path, what:lower())
  if not data then
    if err.message:find("cannot be read", 1, true) then
      return nil, errors.config(fmt("%s not found: %s", what, name), { key_path = key_path })
    end
    return nil, err
  end
  return data, path
end

-- Checks t against a schema section (astrocyte.config_check); unknown keys
-- are warnings here. Returns true or nil, ConfigError.
local function check_section(t, section, path, src, warnings)
  local ok, kp, msg = check.check(t, section, path, { warnings = warnings, src = src })
  if not ok then return nil, cerr(src, kp, msg) end
  return true
end

-- The semantic channel's weight when the config leaves it unset: the
-- hashing embedder is a weak semantic channel (0.3 measured, see defaults),
-- a real embedding model gets the reference's equal weight.
_M.SEMANTIC_WEIGHT = { hashing = 0.3, default = 1.0 }
local function auto_weights(cfg)
  local w = cfg.pipeline.weights
  if w.semantic == nil then
    w.semantic = _M.SEMANTIC_WEIGHT[cfg.embedding_provider] or _M.SEMANTIC_WEIGHT.default
  end
end

-- Cross-field checks of this engine's sections.
local function check_values(cfg, src)
  local p = cfg.pipeline
  if p.max_chunk_size < 16 then
    return nil, cerr(src, "pipeline.max_chunk_size", "pipeline.max_chunk_size must be at least 16")
  end
  if p.chunk_overlap < 0 or p.chunk_overlap >= p.max_chunk_size then
    return nil, cerr(src, "pipeline.chunk_overlap", "pipeline.chunk_overlap must be >= 0 and < pipeline.max_chunk_size")
  end
  for name, w in pairs(p.weights) do
    if type(w) ~= "number" or w < 0 then
      return nil, cerr(src, "pipeline.weights." .. tostring(name), fmt("pipeline.weights.%s must be a number >= 0", tostring(name)))
    end
  end
  local ex = p.expansion
  if ex and ex.seeds ~= nil and ex.seeds < 1 then
    return nil, cerr(src, "pipeline.expansion.seeds", "pipeline.expansion.seeds must be at least 1")
  end
  for _, k in ipairs({ "skepticism", "literalism", "empathy" }) do
    local v = cfg.defaults and cfg.defaults[k]
    if v ~= nil and (v < 1 or v > 5) then
      return nil, cerr(src, "defaults." .. k, fmt("defaults.%s must be between 1 and 5, got %s", k, tostring(v)))
    end
  end
  return true
end

-- Validates banks.<id> blocks (ids, keys, types, profile names).
local function check_banks(cfg, src, warnings)
  if cfg.banks == nil then return true end
  local validate = require "astrocyte.validate"
  for id, block in pairs(cfg.banks) do
    local kp = "banks." .. tostring(id)
    if not validate.bank_id(tostring(id)) then
      return nil, cerr(src, kp, fmt("%s: '%s' is not a valid bank id", kp, tostring(id)))
    end
    if type(block) ~= "table" then
      return nil, cerr(src, kp, fmt("%s must be a mapping, got %s", kp, type(block)))
    end
    local ok, err = check_section(block, schema.bank, kp, src, warnings)
    if not ok then return nil, err end
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
  local warnings = {}
  local ok, serr = substitute(user, nil, src, warnings)
  if not ok then return nil, serr end
  -- Type-check the user's layer first so errors point at what they wrote.
  ok, serr = check_section(user, schema.root, nil, src, warnings)
  if not ok then return nil, serr end

  local cfg = defaults()
  local layers = {}
  -- The compliance profile first, then the ordinary one over it.
  for _, key in ipairs({ "compliance_profile", "profile" }) do
    if user[key] then
      local prof, where = _M.load_profile(user[key], user.profile_dirs, key == "compliance_profile", key)
      if not prof then return nil, where end
      ok, serr = check_section(prof, schema.root, nil, where, warnings)
      if not ok then return nil, serr end
      _M.merge(cfg, prof)
      layers[#layers + 1] = where
    end
  end
  _M.merge(cfg, user)
  -- --db names the store's file: not given to a store whose schema has no
  -- path (the network stores), which would reject the key.
  local vs_schema = registry.schema("vector_stores", cfg.vector_store)
  if opts.db and (vs_schema == nil or vs_schema.path ~= nil) then
    cfg.vector_store_config = cfg.vector_store_config or {}
    cfg.vector_store_config.path = opts.db
  end
  if cfg.vector_store == "sqlite" and cfg.vector_store_config.path == nil then
    cfg.vector_store_config.path = _M.default_db_path()
    cfg._default_db = true
  end
  auto_weights(cfg)
  ok, serr = check_values(cfg, src)
  if not ok then return nil, serr end
  ok, serr = check_banks(cfg, src, warnings)
  if not ok then return nil, serr end
  -- Every provider name resolves now (module found, group implemented), so
  -- `config check` and open() fail alike on a wrong name, and a provider
  -- used only later (a transport) is not discovered broken mid-request.
  ok, serr = registry.check_config(cfg)
  if not ok then return nil, serr end
  cfg._source = src
  cfg._layers = layers
  cfg._warnings = warnings
  return cfg
end

-- Returns the effective config of one bank: cfg with the bank's profile and
-- overrides merged on top (cached per bank in cfg._bank_cache). Returns
-- cfg itself when the bank has no block.
function _M.for_bank(cfg, bank_id)
  local block = cfg.banks and cfg.banks[bank_id]
  if not block then return cfg end
  cfg._bank_cache = cfg._bank_cache or {}
  local hit = cfg._bank_cache[bank_id]
  if hit then return hit end
  local eff = {}
  for k, v in pairs(cfg) do
    if k ~= "_bank_cache" and k ~= "banks" then eff[k] = util.deepcopy(v) end
  end
  if block.profile then
    local prof, err = _M.load_profile(block.profile, cfg.profile_dirs, false, "banks." .. bank_id .. ".profile")
    if not prof then return nil, err end
    _M.merge(eff, prof)
  end
  local over = util.deepcopy(block)
  over.profile, over.access = nil, nil
  _M.merge(eff, over)
  eff.banks = cfg.banks
  cfg._bank_cache[bank_id] = eff
  return eff
end

-- Returns a deep copy of cfg for display (`config check`): internal keys
-- (starting with _) removed, each provider section completed with its
-- schema's defaults, and credentials masked (the schemas' secret keys, and
-- every key named like a credential).
function _M.masked(cfg)
  local shown = util.deepcopy(cfg)
  for _, sec in ipairs(registry.sections(shown)) do
    local sch = registry.schema(sec.group, sec.name)
    local conf = sec.holder[sec.key]
    if sch and (conf == nil or type(conf) == "table") then
      conf = check.fill(conf or {}, sch)
      if next(conf) ~= nil then sec.holder[sec.key] = check.mask(conf, sch) end
    end
  end
  local function walk(t)
    local out = {}
    for k, v in pairs(t) do
      if type(k) == "string" and k:sub(1, 1) == "_" then
        -- internal
      elseif type(k) == "string" and schema.SENSITIVE[k] and v ~= nil and type(v) ~= "table" then
        out[k] = "***"
      elseif type(v) == "table" then
        out[k] = walk(v)
      else
        out[k] = v
      end
    end
    return out
  end
  return walk(shown)
end

return _M
