-- The spec helpers report a failed helper process by its last lines, each
-- cut to a readable width (a minified bundle in a stack trace is one huge
-- line), never by its whole output.
local output = require "support.output"
local pgs = require "support.pg_server"

describe("spec support output", function()
  it("keeps the last lines and cuts long ones", function()
    local lines = {}
    for i = 1, 40 do lines[i] = "line " .. i end
    lines[39] = string.rep("x", 12000)
    local t = output.tail(table.concat(lines, "\n") .. "\n", 3)
    assert.equal("line 38\n" .. string.rep("x", 300) .. " [... 11700 bytes cut]\nline 40", t)
    assert.equal("", output.tail(""))
    assert.equal("only", output.tail("only", 5))
  end)

  it("reports a PGlite server that exits at start by its last lines", function()
    local ok, why = pgs.available()
    if not ok then pending(why) return end
    local srv, err = pgs.start({ port = 70000, timeout_s = 30 })
    assert.is_nil(srv)
    assert.truthy(err:find("^pglite server exited before it was ready; its last lines:\n"), err)
    assert.truthy(err:find("pglite: --port must be an integer in 0..65535", 1, true), err)
    assert.truthy(#err < 2000, #err)
  end)
end)
