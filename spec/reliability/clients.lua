-- spec/reliability/clients.lua: the worker's other ways to reach a store,
-- each with the engine's retain(text, opts) / forget(opts) / close() shape:
--   cli(path, bank)  one `bin/astrocyte --json` process per call
--   http(url)        the OpenResty handlers of 03-concurrent_spec.lua
-- Failures come back as error objects (kind from the CLI's stderr line or
-- the handler's JSON).
local errors = require "astrocyte.errors"
local json = require("astrocyte.util").json

local _M = {}

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function _M.cli(path, bank)
  local bin = (os.getenv("ASTRO_SOURCE_DIR") or ".") .. "/bin/astrocyte"
  local lua = jit and "luajit" or "lua5.4"
  -- the writers' config: near-duplicate detection off (their texts differ in
  -- one word), the lock wait of $ASTRO_BUSY_TIMEOUT_MS
  local conf = os.tmpname()
  local f = assert(io.open(conf, "wb"))
  f:write('{"signal_quality": {"dedup": {"enabled": false}}, "vector_store_config": {"busy_timeout_ms": ',
          tonumber(os.getenv("ASTRO_BUSY_TIMEOUT_MS")) or 5000, '}}')
  f:close()
  local function run(args)
    local p = io.popen("ASTRO_LUA=" .. lua .. " " .. q(bin) .. " --config " .. q(conf) .. " --db " .. q(path) .. " --bank " .. q(bank) ..
                       " --json " .. args .. " 2>&1")
    local out = p:read("*a")
    p:close()
    local v = json.decode(out)
    if type(v) == "table" then return v end
    return nil, errors.new(out:match("^astrocyte: (%a+):") or "CliError", (out:gsub("%s+$", "")))
  end
  return {
    retain = function(_, text, opts)
      return run("retain " .. q(text) .. " --tags " .. q(table.concat(opts.tags, ",")))
    end,
    -- the CLI forgets hard only
    forget = function(_, opts) return run("forget --ids " .. q(opts.memory_ids[1])) end,
    import = function(_, file) return run("import " .. q(file)) end,
    close = function() os.remove(conf); return true end,
    hard_only = true,
  }
end

function _M.http(url)
  local client = assert(require("astrocyte.http").new({ max_retries = 0, timeout_ms = 60000 }))
  local function post(path, body)
    local res, err = client:request({ method = "POST", url = url .. path, body = body })
    if not res then return nil, err end
    local v = json.decode(res.body)
    if res.status == 200 and type(v) == "table" then return v end
    local e = type(v) == "table" and v.error or {}
    return nil, errors.new(e.kind or "HttpError", tostring(e.message or res.body))
  end
  local function enc(s) return (tostring(s):gsub("[^%w]", function(c) return string.format("%%%02X", c:byte()) end)) end
  return {
    retain = function(_, text, opts)
      return post("/retain?bank=" .. enc(opts.bank_id) .. "&tag=" .. enc(opts.tags[1]), text)
    end,
    forget = function(_, opts)
      return post("/forget?bank=" .. enc(opts.bank_id) .. "&id=" .. enc(opts.memory_ids[1]) ..
                  (opts.soft and "&soft=1" or ""), "")
    end,
    close = function() client:close(); return true end,
  }
end

return _M
