-- astrocyte: memory for AI agents. The public Lua API:
--   local astrocyte = require "astrocyte"
--   local engine = assert(astrocyte.open())            -- embedded default
--   engine:retain("Ana prefers tea", { bank_id = "ana" })
--   local res = engine:recall("what does Ana drink?", { bank_id = "ana" })
-- Every call returns a result, or nil and an error object {kind, message, ...}.
local engine = require "astrocyte.engine"
local errors = require "astrocyte.errors"
local registry = require "astrocyte.registry"

local _M = { _VERSION = "0.1.0", VERSION = "0.1.0", errors = errors }

-- Opens an engine from a config table, a YAML/JSON file path, or nil.
_M.open = engine.open
_M.from_config = engine.open

-- available_providers() → { group = { short_name = constructor } };
-- discover(group) → { short_name = constructor }.
_M.available_providers = registry.available_providers
_M.discover = registry.discover

return _M
