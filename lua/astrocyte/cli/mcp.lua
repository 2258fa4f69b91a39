-- astrocyte.cli.mcp: `astrocyte mcp [--config FILE] [--db PATH] [--bank ID]`
-- serves the engine as an MCP server over stdio (astrocyte.mcp.stdio)
-- until stdin closes. --bank sets mcp.default_bank_id; the caller is
-- mcp.principal (default agent:mcp), or --principal when given. Without
-- --config the embedded default engine is served (the reference requires
-- a config; this engine has a default). stdout carries only the protocol.
local errors = require "astrocyte.errors"

local _M = {}

_M.USAGE = [[

mcp:
  mcp                   the MCP server on stdin/stdout until stdin closes (`serve` has it at /mcp)
      [--bank ID] (mcp.default_bank_id)  [--principal P] (mcp.principal, agent:mcp)
]]

-- Registers the command. ctx: {commands, fail, usage_error} of astrocyte.cli.
-- Returns the extra usage text.
function _M.register(ctx)
  local fail, usage_error = ctx.fail, ctx.usage_error
  function ctx.commands.mcp(eng, opts, pos)
    if #pos ~= 0 then return usage_error("mcp takes no arguments") end
    local ob = eng.cfg.observability or {}
    if (os.getenv("ASTROCYTE_LOG") or ob.log_sink) == "stdout" then
      return fail(errors.config("observability.log_sink: stdout carries the MCP protocol; log to stderr or a file",
                                { key_path = "observability.log_sink" }))
    end
    local server, err = require("astrocyte.mcp").new(eng, {
      default_bank_id = opts.bank,
      log = function(line) io.stderr:write("astrocyte mcp: ", line, "\n") end,
    })
    if not server then return fail(err) end
    require("astrocyte.mcp.stdio").run(server, { principal = opts.principal })
    return 0
  end
  return _M.USAGE
end

return _M
