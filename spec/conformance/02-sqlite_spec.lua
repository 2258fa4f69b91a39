-- The VectorStore and DocumentStore suites against the sqlite provider, each
-- case on a fresh database file in a temporary directory.
local testing = require "astrocyte.testing"
local sqlite = require "astrocyte.providers.sqlite"
local tmp = require "support.tmp"

local function factory()
  local dir = tmp.dir()
  local store, err = sqlite.vector_stores({ path = dir .. "/conformance.db" })
  if not store then tmp.rm(dir); return nil, err end
  return store, function(s) s:close(); tmp.rm(dir) end
end

describe("sqlite provider", function()
  testing.vector_store(factory, { dims = 8 })
  testing.document_store(factory)
end)
