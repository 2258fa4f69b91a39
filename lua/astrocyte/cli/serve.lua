-- astrocyte.cli.serve: `astrocyte serve`, the REST gateway on nginx + the
-- Lua module (astrocyte.serve). It checks the engine config and the auth
-- settings here (a mistake exits 2 before nginx starts), writes nginx.conf
-- into a prefix directory (--prefix, else a fresh temporary one, removed on
-- exit) and runs nginx in the foreground through a small shell runner:
-- SIGTERM becomes nginx's graceful stop (QUIT: requests in flight finish),
-- SIGHUP a reload, and the exit code is nginx's. bin/astrocyte execs the
-- runner (ASTRO_SERVE_RUN names the file it is written to), so signals sent
-- to the `astrocyte serve` process reach it; called without that launcher
-- the runner is started as a child instead.
local auth = require "astrocyte.serve.auth"
local config = require "astrocyte.config"
local serve_config = require "astrocyte.serve.config"
local fmt = string.format

local _M = {}

_M.USAGE = [[

serve:
  serve                 the REST gateway on nginx (foreground; SIGTERM stops it gracefully)
      [--listen ADDR:PORT] (127.0.0.1:8080)  [--workers N] (1)  [--prefix DIR]
      [--auth dev|api_key|jwt_hs256|jwt_oidc] (ASTROCYTE_AUTH_MODE, dev)
      [--rate-limit N] requests a minute per principal (0 = off)
      [--max-body BYTES|Nk|Nm] (10m)  [--include FILE] (nginx lines for the server block)
      [--print-config]      print the generated nginx.conf and exit
]]

local VALUE_OPTS = { "listen", "workers", "prefix", "auth", "rate-limit", "max-body", "include" }
local FLAGS = { "print-config" }

local function shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function capture(cmd)
  local p = io.popen(cmd, "r")
  if not p then return "" end
  local out = p:read("*a") or ""
  p:close()
  return (out:gsub("%s+$", ""))
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function absolute(path)
  if path == nil or path:sub(1, 1) == "/" then return path end
  return capture("pwd") .. "/" .. path
end

-- The directory holding astrocyte/init.lua for nginx: the installed LuaJIT
-- tree (ASTRO_LUAJIT_LDIR, set by the installed launcher), else the tree
-- this CLI runs from.
local function lua_dir()
  local jl = os.getenv("ASTRO_LUAJIT_LDIR")
  if jl and file_exists(jl .. "/astrocyte/init.lua") then return jl end
  for entry in package.path:gmatch("[^;]+") do
    local dir = entry:match("^(.*)/%?%.lua$")
    if dir and file_exists(dir .. "/astrocyte/init.lua") then return absolute(dir) end
  end
end

-- The directory of the LuaJIT build of the C modules (nginx's workers run
-- LuaJIT): ASTRO_LUAJIT_CDIR (the installed launcher's), $ASTRO_BUILD_DIR/luajit,
-- LUA_CPATH, or this interpreter's cpath under LuaJIT.
local function luajit_cdir()
  local cands = {}
  local jc = os.getenv("ASTRO_LUAJIT_CDIR")
  if jc then cands[#cands + 1] = jc .. "/?.so" end
  local build = os.getenv("ASTRO_BUILD_DIR")
  if build then cands[#cands + 1] = build .. "/luajit/?.so" end
  for entry in (os.getenv("LUA_CPATH") or ""):gmatch("[^;]+") do cands[#cands + 1] = entry end
  if type(jit) == "table" then
    for entry in package.cpath:gmatch("[^;]+") do cands[#cands + 1] = entry end
  end
  for _, entry in ipairs(cands) do
    local dir = entry:match("^(.*)/%?%.so$")
    if dir and file_exists(dir .. "/astrocyte/core.so") then return absolute(dir) end
  end
end

-- "10m", "512k", "2048" → bytes | nil.
local function parse_size(s)
  local n, unit = tostring(s):lower():match("^(%d+)([km]?)$")
  if not n then return nil end
  n = tonumber(n) * (unit == "k" and 1024 or unit == "m" and 1048576 or 1)
  if n < 1 or n > 1073741824 then return nil end
  return n
end

-- The ${VAR} names a config file refers to (nginx must pass them on).
local function config_env(path)
  local names = {}
  if not path then return names end
  local f = io.open(path, "rb")
  if not f then return names end
  local text = f:read("*a")
  f:close()
  local seen = {}
  for name in text:gmatch("%${([%a_][%w_]*)") do
    if not seen[name] then seen[name] = true; names[#names + 1] = name end
  end
  return names
end

-- The shell runner: nginx in the foreground, TERM → QUIT, exit = nginx's.
local function runner(prefix, cleanup)
  return table.concat({
    "#!/usr/bin/env bash",
    "# Written by `astrocyte serve`: runs nginx in the foreground; SIGTERM -> graceful stop.",
    'rm -f "$0"',
    "prefix=" .. shq(prefix),
    'nginx=$(command -v nginx || echo /usr/sbin/nginx)',
    'pid="" stop=0',
    [[trap 'stop=1; [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null' TERM]],
    [[trap '[ -n "$pid" ] && kill -HUP "$pid" 2>/dev/null' HUP]],
    '"$nginx" -p "$prefix/" -c conf/nginx.conf -e stderr &',
    "pid=$!",
    '[ "$stop" = 1 ] && kill -QUIT "$pid" 2>/dev/null',
    'while :; do wait "$pid"; rc=$?; kill -0 "$pid" 2>/dev/null || break; done',
    cleanup and 'rm -rf "$prefix"' or ":",
    'exit "$rc"',
  }, "\n") .. "\n"
end

-- Builds the serve options from the CLI's → o | nil, err (ConfigError /
-- usage text).
local function options(opts)
  local errors = require "astrocyte.errors"
  local o = { listen = opts.listen or "127.0.0.1:8080" }
  if o.listen:match("^%d+$") then o.listen = "127.0.0.1:" .. o.listen end
  if not (o.listen:match("^[%w%.%-]+:%d+$") or o.listen:match("^%[[%x:]+%]:%d+$")) then
    return nil, errors.validation("--listen takes HOST:PORT, got '" .. o.listen .. "'", { field = "listen" })
  end
  o.workers = tonumber(opts.workers or "1")
  if not o.workers or o.workers ~= math.floor(o.workers) or o.workers < 1 or o.workers > 64 then
    return nil, errors.validation("--workers must be an integer from 1 to 64", { field = "workers" })
  end
  o.rate_limit = tonumber(opts["rate-limit"] or "0")
  if not o.rate_limit or o.rate_limit < 0 then
    return nil, errors.validation("--rate-limit must be a number of requests a minute (0 = off)", { field = "rate-limit" })
  end
  o.max_body = parse_size(opts["max-body"] or "10m")
  if not o.max_body then return nil, errors.validation("--max-body takes bytes, Nk or Nm (at most 1024m)", { field = "max-body" }) end
  o.auth = opts.auth
  local a, err = auth.new(o.listen, os.getenv, o.auth)
  if not a then return nil, err end
  o.auth = a.mode
  o.config = absolute(opts.config)
  local cfg; cfg, err = config.load(o.config, { db = opts.db })
  if not cfg then return nil, err end
  -- The workers see no HOME / XDG_DATA_HOME: pass the default path resolved here.
  o.db = absolute(opts.db) or (cfg._default_db and cfg.vector_store_config.path or nil)
  if cfg._default_db then os.execute("mkdir -p " .. shq(o.db:match("^(.*)/") or ".")) end
  o.env = config_env(o.config)
  o.include = absolute(opts.include)
  if o.include and not file_exists(o.include) then
    return nil, errors.validation("--include: no file " .. o.include, { field = "include" })
  end
  local ldir = lua_dir()
  local cdir = luajit_cdir()
  if not ldir then return nil, errors.config("cannot find the astrocyte Lua tree on package.path") end
  if not cdir then
    return nil, errors.config("nginx runs LuaJIT: the LuaJIT build of the C modules (astrocyte/core.so) was not found "
      .. "(set ASTRO_BUILD_DIR to a build with ASTRO_LUAJIT=ON)")
  end
  o.lua_path = ldir .. "/?.lua;" .. ldir .. "/?/init.lua;;"
  o.lua_cpath = cdir .. "/?.so;;"
  if capture("id -u") == "0" then o.user = "root" end   -- workers keep the invoking user
  return o
end

-- Registers `serve` as a standalone command; returns its usage text.
function _M.register(ctx)
  for _, k in ipairs(VALUE_OPTS) do ctx.value_opts[k] = true end
  for _, k in ipairs(FLAGS) do ctx.flags[k] = true end
  function ctx.standalone.serve(opts, pos)
    if #pos > 0 then return ctx.usage_error("serve takes no arguments, got '" .. pos[1] .. "'") end
    local o, err = options(opts)
    if not o then return ctx.fail(err) end
    if opts["print-config"] then
      io.stdout:write(serve_config.generate(o))
      return 0
    end
    local prefix, cleanup = absolute(opts.prefix), false
    if not prefix then
      prefix, cleanup = capture("mktemp -d " .. shq((os.getenv("TMPDIR") or "/tmp") .. "/astrocyte-serve.XXXXXX")), true
      if prefix == "" then return ctx.fail("cannot create a temporary prefix directory") end
    end
    if not os.execute("mkdir -p " .. shq(prefix .. "/conf") .. " " .. shq(prefix .. "/logs") .. " " .. shq(prefix .. "/tmp")) then
      return ctx.fail("cannot create the prefix directory " .. prefix)
    end
    local f = io.open(prefix .. "/conf/nginx.conf", "wb")
    if not f then return ctx.fail("cannot write " .. prefix .. "/conf/nginx.conf") end
    f:write(serve_config.generate(o))
    f:close()
    io.stderr:write(fmt("astrocyte: serving on http://%s (%d worker%s, auth %s, prefix %s)\n", o.listen, o.workers,
      o.workers == 1 and "" or "s", o.auth, prefix))
    local script = runner(prefix, cleanup)
    local run_file = os.getenv("ASTRO_SERVE_RUN")
    if run_file and run_file ~= "" then
      f = io.open(run_file, "wb")
      if not f then return ctx.fail("cannot write " .. run_file) end
      f:write(script)
      f:close()
      return 0                      -- bin/astrocyte execs it
    end
    local tmp = prefix .. "/run.sh"
    f = assert(io.open(tmp, "wb")); f:write(script); f:close()
    local ok, _, code = os.execute("bash " .. shq(tmp))
    if type(ok) == "number" then return ok == 0 and 0 or 3 end
    return ok and 0 or (code or 3)
  end
  return _M.USAGE
end

return _M
