-- spec/support/reliability.lua: child processes and checks shared by the
-- reliability specs (spec/reliability/): run the writer (worker.lua) or the
-- CLI in a child of this runtime, optionally under the faultfs preload or
-- killed with SIGKILL, parse its ack lines, and check a database against
-- them through fresh engines.
local astrocyte = require "astrocyte"
local sqlite = require "astrocyte.sqlite"

local _M = {}

_M.SOURCE_DIR = os.getenv("ASTRO_SOURCE_DIR") or "."
_M.BUILD_DIR = os.getenv("ASTRO_BUILD_DIR") or (_M.SOURCE_DIR .. "/build")
_M.FAULTFS = _M.BUILD_DIR .. "/spec/libfaultfs.so"
_M.WORKER = _M.SOURCE_DIR .. "/spec/reliability/worker.lua"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
_M.q = q

-- The interpreter of this run (the child loads the same sources and modules
-- through the inherited LUA_PATH / LUA_CPATH).
function _M.interp()
  return os.getenv("ASTRO_RUNTIME") == "luajit" and "luajit" or "lua5.4"
end

-- A file's bytes ("" when it does not exist).
function _M.read(path) return require("support.nginx").read_file(path) or "" end

-- Environment prefix for a child: vars {NAME = value}; vars.LD_PRELOAD is
-- appended to an inherited one (the sanitizer runtimes must stay first).
function _M.env(vars)
  local parts = {}
  for k, v in pairs(vars or {}) do
    if k == "LD_PRELOAD" and (os.getenv("LD_PRELOAD") or "") ~= "" then v = os.getenv("LD_PRELOAD") .. " " .. v end
    parts[#parts + 1] = k .. "=" .. q(v)
  end
  table.sort(parts)
  return #parts > 0 and ("env " .. table.concat(parts, " ") .. " ") or ""
end

-- Runs a shell command; returns its stdout and exit code.
function _M.sh(cmd)
  local p = io.popen("( " .. cmd .. " ); echo \"EXIT:$?\"")
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("EXIT:(%d+)%s*$"))
  return out:gsub("EXIT:%d+%s*$", ""), code
end

-- The shell command running worker.lua (args: db, prefix, n, seed, reopen,
-- bank, ...) with env vars (ASTRO_RUNTIME picks the interpreter), its
-- output into base.out / base.err.
local function worker_cmd(args, vars, base)
  local rt = vars and vars.ASTRO_RUNTIME
  local argv = { rt and (rt == "luajit" and "luajit" or "lua5.4") or _M.interp(), q(_M.WORKER) }
  for _, a in ipairs(args) do argv[#argv + 1] = q(a) end
  return _M.env(vars) .. table.concat(argv, " ") .. " >" .. q(base .. ".out") .. " 2>" .. q(base .. ".err")
end

-- The complete output lines, stderr and exit code a worker left in base.*.
local function collect(base, code)
  local out, err = _M.read(base .. ".out"), _M.read(base .. ".err")
  code = code or tonumber(_M.read(base .. ".code"))
  for _, ext in ipairs({ "", ".out", ".err", ".code" }) do os.remove(base .. ext) end
  local lines = {}
  for line in out:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end -- complete lines only
  return lines, code, err
end

-- Runs one worker; opts.kill_ms: SIGKILL it after that many ms. Returns the
-- output lines, the exit code (137 when killed) and stderr.
function _M.worker(args, vars, opts)
  local base = os.tmpname()
  local run = worker_cmd(args, vars, base)
  local code, _
  if opts and opts.kill_ms then
    _, code = _M.sh(string.format("%s & pid=$!; sleep %.3f; kill -9 $pid 2>/dev/null; wait $pid", run, opts.kill_ms / 1000))
  else
    _, code = _M.sh(run)
  end
  return collect(base, code)
end

-- Runs several workers at once ({args, vars} each) and waits for all;
-- returns {lines, code, err} per worker.
function _M.workers(list)
  local bases, cmds = {}, {}
  for i, w in ipairs(list) do
    bases[i] = os.tmpname()
    cmds[i] = "( " .. worker_cmd(w.args, w.vars, bases[i]) .. "; echo $? >" .. q(bases[i] .. ".code") .. " ) &"
  end
  _M.sh(table.concat(cmds, " ") .. " wait")
  local out = {}
  for i, base in ipairs(bases) do
    local lines, code, err = collect(base)
    out[i] = { lines = lines, code = code, err = err }
  end
  return out
end

-- Ack lines → {retained = {id = word}, forgotten = {id = "F"|"S"},
-- imported = {word = true}, errors = {line...}, order = {ids retained, in order}}.
function _M.acks(lines, into)
  local a = into or { retained = {}, forgotten = {}, imported = {}, errors = {}, order = {} }
  for _, l in ipairs(lines) do
    local op, id, w = l:match("^(%u) (%S+) ?(%S*)")
    if op == "R" then a.retained[id] = w; a.order[#a.order + 1] = id
    elseif op == "F" or op == "S" then a.forgotten[id] = op
    elseif op == "I" then a.imported[id] = true
    elseif op == "E" then a.errors[#a.errors + 1] = l end
  end
  return a
end

-- Rows of a bank straight from the file: {id = {archived = bool, text}}.
function _M.rows(path, bank)
  local db = assert(sqlite.open(path))
  db:busy_timeout(5000)
  local st = assert(db:prepare("SELECT id, text, archived_at FROM memories WHERE bank_id = ?"))
  st:bind(1, bank)
  local out, n = {}, 0
  while st:step() do
    local r = st:named()
    out[r.id] = { archived = r.archived_at ~= nil, text = r.text }
    n = n + 1
  end
  st:finalize(); db:close()
  return out, n
end

-- An engine on the file (HNSW past 16 vectors, no near-duplicate check);
-- extra: more vector_store_config keys, top: more top-level keys.
function _M.open(path, extra, top)
  local vsc = { path = path, vector_index = { hnsw_threshold = 16 } }
  for k, v in pairs(extra or {}) do vsc[k] = v end
  local cfg = { vector_store_config = vsc, signal_quality = { dedup = { enabled = false } } }
  for k, v in pairs(top or {}) do cfg[k] = v end
  return astrocyte.open(cfg)
end

-- True when a recall of `word` in bank returns memory id.
function _M.recalls(eng, bank, word, id)
  local res = assert(eng:recall(word, { bank_id = bank, max_results = 10 }))
  for _, h in ipairs(res.hits) do
    if h.memory_id == id then return true end
  end
  return false
end

-- Live memories of a bank by the engine's count (banks()).
function _M.count(eng, bank)
  for _, b in ipairs(assert(eng:banks())) do
    if b.bank_id == bank then return b.memory_count end
  end
  return 0
end

return _M
