-- astrocyte.registry: resolves provider names to constructors at runtime and
-- discovers what is installed. A short name `foo` in group `g` is
-- require("astrocyte.providers.foo")[g]; "some.module:Name" is
-- require("some.module").Name (a constructor, or a table with .new). Every
-- provider built here is checked against its SPI (required methods present,
-- SPI_VERSION supported) before the engine sees it. Nothing in the core names
-- a provider statically; this is the only place that loads them.
local errors = require "astrocyte.errors"
local fmt, ipairs, type = string.format, ipairs, type

local _M = {}

-- The reference's provider groups.
_M.GROUPS = {
  "vector_stores", "graph_stores", "document_stores", "wiki_stores", "mental_model_stores",
  "source_stores", "engine_providers", "llm_providers", "outbound_transports",
  "access_policies", "memory_export_sinks",
}

-- Returns the constructor for `name` in `group`, or nil and a ConfigError
-- naming the config key.
function _M.resolve(group, name, key_path)
  if type(name) ~= "string" or name == "" then
    return nil, errors.config(fmt("%s must be a provider name, got %s", key_path, type(name)), { key_path = key_path })
  end
  local mod_name, member
  local m, n = name:match("^(.+):([%w_]+)$")
  if m then
    mod_name, member = m, n
  else
    if not name:match("^[%w_%-]+$") then
      return nil, errors.config(fmt("%s: '%s' is not a provider name (use a short name or 'module:Name')", key_path, name), { key_path = key_path })
    end
    mod_name, member = "astrocyte.providers." .. name, group
  end
  local ok, mod = pcall(require, mod_name)
  if not ok then
    if tostring(mod):find("module '" .. mod_name .. "' not found", 1, true) then
      return nil, errors.config(fmt("%s: provider '%s' not found (no module %s on package.path)", key_path, name, mod_name), { key_path = key_path })
    end
    return nil, errors.config(fmt("%s: provider '%s' failed to load: %s", key_path, name, tostring(mod)), { key_path = key_path })
  end
  local ctor = type(mod) == "table" and mod[member] or nil
  if type(ctor) == "table" and type(ctor.new) == "function" then
    local cls = ctor
    ctor = function(conf) return cls.new(conf) end
  end
  if type(ctor) ~= "function" then
    return nil, errors.config(fmt("%s: provider '%s' does not implement %s", key_path, name, group), { key_path = key_path })
  end
  return ctor
end

-- Resolves, constructs and SPI-checks a provider; maps every failure to a
-- ConfigError naming key_path (a provider's own error object passes through).
function _M.build(group, name, conf, key_path)
  local ctor, err = _M.resolve(group, name, key_path)
  if not ctor then return nil, err end
  local ok, obj, cerr = pcall(ctor, conf or {})
  if not ok then
    return nil, errors.config(fmt("%s: provider '%s' raised: %s", key_path, name, tostring(obj)), { key_path = key_path })
  end
  if not obj then
    if errors.is(cerr) then
      -- Keep the provider's kind (a StorageError stays one) and say which
      -- config key built it.
      if cerr.key_path == nil then
        cerr.key_path = key_path
        cerr.message = key_path .. ": " .. cerr.message
      end
      return nil, cerr
    end
    return nil, errors.config(fmt("%s: %s", key_path, tostring(cerr)), { key_path = key_path })
  end
  local spi = require "astrocyte.spi"
  local sok, serr = spi.check(obj, group)
  if not sok then
    if obj.close then pcall(obj.close, obj) end
    return nil, errors.config(fmt("%s: provider '%s': %s", key_path, name, serr.message or tostring(serr)), { key_path = key_path })
  end
  return obj
end

-- The config keys that name a provider, with the group open() builds each
-- for. (The vector store's own graph is optional, so it is not listed.)
local NAMED = {
  { "provider", "engine_providers" }, { "vector_store", "vector_stores" },
  { "document_store", "document_stores" }, { "graph_store", "graph_stores" },
  { "wiki_store", "wiki_stores" }, { "mental_model_store", "mental_model_stores" },
  { "source_store", "source_stores" }, { "embedding_provider", "llm_providers" },
  { "llm_provider", "llm_providers" },
}

-- check_config(cfg) → true | nil, ConfigError: resolves (loads, without
-- constructing) every provider a loaded config names, exactly as open() would
-- find it, so `config check` fails where open() would on a name.
function _M.check_config(cfg)
  local function check(group, name, key_path)
    if name == nil then return true end
    local ok, err = _M.resolve(group, name, key_path)
    if not ok then return nil, err end
    return true
  end
  for _, kg in ipairs(NAMED) do
    -- The engine tier uses `provider`; the store keys are defaults it ignores.
    if not (cfg.provider and kg[2] ~= "engine_providers" and kg[1] ~= "llm_provider") then
      local ok, err = check(kg[2], cfg[kg[1]], kg[1])
      if not ok then return nil, err end
    end
  end
  local ac = type(cfg.access_control) == "table" and cfg.access_control or {}
  local ok, err = check("access_policies", ac.policy_provider, "access_control.policy_provider")
  if not ok then return nil, err end
  local t = cfg.outbound_transport
  if type(t) == "table" and t.provider ~= nil then
    ok, err = check("outbound_transports", t.provider, "outbound_transport.provider")
    if not ok then return nil, err end
  end
  if type(cfg.memory_export_sinks) == "table" then
    for i, entry in ipairs(cfg.memory_export_sinks) do
      if type(entry) == "table" then
        ok, err = check("memory_export_sinks", entry.provider, fmt("memory_export_sinks[%d].provider", i))
        if not ok then return nil, err end
      end
    end
  end
  return true
end

-- Lists the entries of a directory (names only), or {} when unreadable.
local function list_dir(dir)
  local out = {}
  local ok, lfs = pcall(require, "lfs")
  if ok and lfs.dir then
    local iok, iter, state = pcall(lfs.dir, dir)
    if not iok then return out end
    for name in iter, state do
      if name ~= "." and name ~= ".." then out[#out + 1] = name end
    end
    return out
  end
  local p = io.popen("ls -1 '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
  if not p then return out end
  for name in p:lines() do out[#out + 1] = name end
  p:close()
  return out
end

-- Short names of every module under astrocyte.providers on package.path.
function _M.installed_names()
  local names, seen = {}, {}
  for template in package.path:gmatch("[^;]+") do
    local prefix = template:match("^(.-)%?")
    if prefix then
      local dir = prefix .. "astrocyte/providers"
      for _, entry in ipairs(list_dir(dir)) do
        local name = entry:match("^([%w_%-]+)%.lua$") or entry:match("^([%w_%-]+)$")
        if name and name ~= "shared" and not seen[name] then
          local f = io.open(dir .. "/" .. entry .. (entry:match("%.lua$") and "" or "/init.lua"), "rb")
          if f then
            f:close()
            seen[name] = true
            names[#names + 1] = name
          end
        end
      end
    end
  end
  table.sort(names)
  return names
end

-- discover(group) → { short_name = constructor } for every installed
-- provider implementing group.
function _M.discover(group)
  local out = {}
  for _, name in ipairs(_M.installed_names()) do
    local ok, mod = pcall(require, "astrocyte.providers." .. name)
    if ok and type(mod) == "table" and mod[group] ~= nil then out[name] = mod[group] end
  end
  return out
end

-- available_providers() → { group = { short_name = constructor } } for the
-- non-empty groups.
function _M.available_providers()
  local out = {}
  for _, g in ipairs(_M.GROUPS) do
    local found = _M.discover(g)
    if next(found) ~= nil then out[g] = found end
  end
  return out
end

return _M
