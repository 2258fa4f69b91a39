-- astrocyte.testing.outbound_transport: the OutboundTransportProvider
-- conformance cases (spi.md §1.10): apply() mutates an HttpClientContext in
-- place and leaves it valid, touching only what its capabilities declare;
-- subprocess_env() is a string map; capabilities() is TransportCapabilities.
local common = require "astrocyte.testing.common"
local types = require "astrocyte.types"

local function ctx()
  return assert(types.HttpClientContext({ headers = { ["x-existing"] = "1" }, timeouts = { connect = 5 } }))
end

local cases = {
  common.spi_case("outbound_transports"),

  common.capabilities_case("TransportCapabilities"),

  { "apply(ctx) mutates the context in place and leaves it a valid HttpClientContext", function(t)
    local c = ctx()
    local before = c
    t.call("apply", c)
    t.ok(c == before, "apply must mutate the given table")
    t.valid("HttpClientContext", c, "context after apply")
    t.eq("1", c.headers and c.headers["x-existing"], "apply must keep headers it does not own")
  end },

  { "apply(ctx) changes only what capabilities() declares", function(t)
    local caps = t.call("capabilities")
    local c = ctx()
    t.call("apply", c)
    if not caps.supports_proxy then t.eq(nil, c.proxy, "proxy set by a transport without supports_proxy") end
    if not caps.supports_custom_ca then t.eq(nil, c.ca_bundle, "ca_bundle set by a transport without supports_custom_ca") end
    if not caps.supports_headers then
      local n = 0
      for _ in pairs(c.headers or {}) do n = n + 1 end
      t.eq(1, n, "header count after apply by a transport without supports_headers")
    end
  end },

  { "subprocess_env() returns a map of strings to strings", function(t)
    local env = t.call("subprocess_env")
    t.ok(type(env) == "table", "subprocess_env must return a table, got %s", type(env))
    for k, v in pairs(env) do
      t.ok(type(k) == "string" and type(v) == "string", "subprocess_env entry %s = %s is not string → string", t.show(k), t.show(v))
    end
  end },
}

return { title = "OutboundTransportProvider", group = "outbound_transports", cases = cases }
