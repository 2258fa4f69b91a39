-- astrocyte.cli: the `astrocyte` command line. Thin layer over the engine:
-- parse arguments, call one engine method, print the result (text, or JSON
-- with --json). Exit codes: 0 ok, 1 usage, 2 bad input or config,
-- 3 provider/storage failure. Errors go to stderr as one line.
local astrocyte = require "astrocyte"
local core = require "astrocyte.core"
local util = require "astrocyte.util"
local json = util.json
local fmt, concat = string.format, table.concat

local _M = {}

local USAGE = [[
usage: astrocyte [--db PATH] [--config FILE] [--bank ID] [--json] COMMAND [ARGS]
       astrocyte help | --help | --version

commands:
  retain TEXT|-          store a memory (- reads stdin)
      [--tags a,b] [--metadata k=v]... [--occurred-at ISO] [--fact-type T]
  recall QUERY           find memories  [--max-results N] [--max-tokens N] [--tags a,b]
                         [--from ISO] [--to ISO] [--as-of ISO] [--fact-types a,b]
  reflect QUERY          answer from memories (same options as recall)
  forget                 delete memories: --ids a,b | --tags a,b | --before ISO | --all
  banks                  list banks and their memory counts
  import FILE.jsonl      retain one JSON object per line
                         ({"content": ..., "bank_id"?, "tags"?, "metadata"?, "occurred_at"?, "fact_type"?})
  providers              list installed providers per group
  stats                  banks, index memory, breaker states (--json)
  config check FILE      validate a config and print the merged result (secrets masked)

global options:
  --db PATH       SQLite database (default $XDG_DATA_HOME/astrocyte/astrocyte.db)
  --config FILE   YAML or JSON config
  --bank ID       bank to use (default: the config's default_bank_id, "default")
  --json          print results as JSON
  --principal P   act as principal P (user:ana, agent:x, team:y, service:z)
  --on-behalf-of Q  act for principal Q too (permissions are intersected)
]]

local EXIT_USAGE, EXIT_INPUT, EXIT_PROVIDER = 1, 2, 3
local yaml_text

local INPUT_KINDS = { ValidationError = true, ConfigError = true, PiiRejected = true, AccessDenied = true }

-- Exit code for an error object.
local function exit_code(err)
  if type(err) == "table" and INPUT_KINDS[err.kind] then return EXIT_INPUT end
  return EXIT_PROVIDER
end

local function fail(err)
  io.stderr:write("astrocyte: ", tostring(err), "\n")
  return exit_code(err)
end

-- fn(...)'s exit code; an error it throws is reported as an internal error.
local function guarded(fn, ...)
  local ok, code = pcall(fn, ...)
  if ok then return code end
  io.stderr:write("astrocyte: internal error: ", tostring(code), "\n")
  return EXIT_PROVIDER
end

local function usage_error(msg)
  io.stderr:write("astrocyte: ", msg, "\n(run 'astrocyte --help' for usage)\n")
  return EXIT_USAGE
end

-- Options that take a value, and flags.
local VALUE_OPTS = {
  db = true, config = true, bank = true, tags = true, metadata = true, ["occurred-at"] = true,
  ["fact-type"] = true, ["max-results"] = true, ["max-tokens"] = true, from = true, to = true,
  ["as-of"] = true, ["fact-types"] = true, ids = true, before = true,
  principal = true, ["on-behalf-of"] = true,
}
local FLAGS = { json = true, all = true, help = true, version = true }

-- Parses argv into {opts, positional} or nil, message.
local function parse(argv)
  local opts, pos = { metadata = {} }, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local name, inline = a:match("^%-%-([%w%-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w%-]+)$") end
    if a == "-h" then name = "help" end
    if name then
      if FLAGS[name] then
        opts[name] = true
      elseif VALUE_OPTS[name] then
        local v = inline
        if v == nil then
          i = i + 1
          v = argv[i]
          if v == nil then return nil, "option --" .. name .. " needs a value" end
        end
        if name == "metadata" then
          local k, mv = v:match("^([^=]+)=(.*)$")
          if not k then return nil, "--metadata takes key=value, got '" .. v .. "'" end
          opts.metadata[k] = tonumber(mv) or (mv == "true" and true) or (mv == "false" and false) or mv
        else
          opts[name] = v
        end
      else
        return nil, "unknown option --" .. name
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return opts, pos
end

local function split_list(s)
  if s == nil then return nil end
  local out = {}
  for part in s:gmatch("[^,]+") do
    part = util.trim(part)
    if part ~= "" then out[#out + 1] = part end
  end
  return out
end

local function int_opt(opts, name)
  local v = opts[name]
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n ~= math.floor(n) then return nil, fmt("--%s must be an integer, got '%s'", name, v) end
  return n
end

local function print_json(v)
  io.stdout:write(util.encode(v), "\n")
end

local function print_hits(hits)
  if #hits == 0 then print("(no memories found)") return end
  for i, h in ipairs(hits) do
    local when = h.occurred_at and ("  " .. h.occurred_at) or ""
    local tags = h.tags and #h.tags > 0 and ("  #" .. concat(h.tags, " #")) or ""
    print(fmt("%d. [%.3f] %s", i, h.score, h.text))
    print(fmt("   id %s  bank %s%s%s", h.memory_id, h.bank_id, when, tags))
  end
end

local function open_engine(opts)
  local open_opts = { db = opts.db }
  return astrocyte.open(opts.config, open_opts)
end

local function recall_opts(opts)
  local o = { bank_id = opts.bank, tags = split_list(opts.tags), fact_types = split_list(opts["fact-types"]) }
  local err
  o.max_results, err = int_opt(opts, "max-results"); if err then return nil, err end
  o.max_tokens, err = int_opt(opts, "max-tokens"); if err then return nil, err end
  if opts.from or opts.to then o.time_range = { from = opts.from, to = opts.to } end
  o.as_of = opts["as-of"]
  return o
end

local function read_all_stdin()
  return io.stdin:read("*a")
end

-- Whether stderr is a terminal (for the progress bar).
local function stderr_is_tty()
  local ok, _, code = os.execute("[ -t 2 ]")
  return ok == true and (code == nil or code == 0) or ok == 0
end

-- A progress bar on stderr that redraws at most ten times a second and shows
-- the rate and the time left (a redraw per record floods slow terminals).
local function progress_bar(total)
  local now = core.time
  local t0, last = now(), -1
  local bar = { done = 0, drawn = -1 }
  local function draw(i)
    bar.drawn = i
    local elapsed = now() - t0
    local rate = elapsed > 0 and i / elapsed or 0
    local eta = rate > 0 and (total - i) / rate or 0
    local width = 30
    local filled = total > 0 and math.floor(width * i / total) or width
    io.stderr:write(fmt("\r[%s%s] %d/%d  %.0f/s  ETA %d:%02d ", string.rep("#", filled), string.rep(".", width - filled),
                        i, total, rate, math.floor(eta / 60), math.floor(eta % 60)))
  end
  function bar.update(_, i)
    bar.done = i
    local t = now()
    if t - last >= 0.1 or i == total then last = t; draw(i) end
  end
  function bar.finish()
    if bar.drawn ~= bar.done then draw(bar.done) end
    if bar.drawn >= 0 then io.stderr:write("\n") end
  end
  return bar
end

-- True when a provider of the open engine keeps nothing after the process
-- ends (the capability `persistent = false`, e.g. the in_memory store).
local function ephemeral(eng)
  for slot, p in pairs(eng.providers or {}) do
    if slot ~= "keys" and type(p) == "table" and p.persistent == false
       and (slot == "vector_store" or slot == "engine") then
      return true
    end
  end
  return false
end

-- Commands that store or delete: a one-shot run of one on an ephemeral store
-- does nothing lasting, which is worth a warning.
local WRITES = { retain = true, import = true, forget = true, restore = true, consolidate = true, lifecycle = true, hold = true }

local commands = {}

function commands.retain(eng, opts, pos)
  if #pos ~= 1 then return usage_error("retain takes exactly one TEXT argument (or - for stdin)") end
  local text = pos[1] == "-" and read_all_stdin() or pos[1]
  local md = next(opts.metadata) and opts.metadata or nil
  local res, err = eng:retain(text, { bank_id = opts.bank, tags = split_list(opts.tags), metadata = md,
                                      occurred_at = opts["occurred-at"], fact_type = opts["fact-type"] })
  if not res then return fail(err) end
  if opts.json then print_json(res)
  elseif not res.stored then -- a near-duplicate skipped: no chunks to count
    print(fmt("not stored: %s%s", res.error or res.retention_action or "skipped", res.memory_id and (" (" .. res.memory_id .. ")") or ""))
  else
    print(fmt("stored %s (%d chunk%s)", res.memory_id, res.chunk_count, res.chunk_count == 1 and "" or "s"))
  end
  return 0
end

-- eng:<verb>(QUERY, recall options) for recall and reflect: the result, or
-- nil and the exit code after reporting the usage or engine error.
local function query_verb(eng, opts, pos, verb)
  if #pos ~= 1 then return nil, usage_error(verb .. " takes exactly one QUERY argument") end
  local o, oerr = recall_opts(opts)
  if not o then return nil, usage_error(oerr) end
  local res, err = eng[verb](eng, pos[1], o)
  if not res then return nil, fail(err) end
  return res
end

function commands.recall(eng, opts, pos)
  local res, code = query_verb(eng, opts, pos, "recall")
  if not res then return code end
  if opts.json then print_json(res) else print_hits(res.hits) end
  return 0
end

function commands.reflect(eng, opts, pos)
  local res, code = query_verb(eng, opts, pos, "reflect")
  if not res then return code end
  if res.degraded then
    io.stderr:write("astrocyte: warning: the LLM failed, so this answer is extractive (", tostring(res.degraded_reason), ")\n")
  end
  if opts.json then print_json(res) return 0 end
  print(res.answer)
  if #res.sources > 0 then
    print("\nsources:")
    for i, h in ipairs(res.sources) do
      print(fmt("  [%d] %s (%s)", i, h.memory_id, h.bank_id))
    end
  end
  return 0
end

function commands.forget(eng, opts, pos)
  if #pos ~= 0 then return usage_error("forget takes no positional arguments") end
  local o = { bank_id = opts.bank, memory_ids = split_list(opts.ids), tags = split_list(opts.tags), before = opts.before }
  if opts.all then o.scope = "all" end
  local res, err = eng:forget(o)
  if not res then return fail(err) end
  if opts.json then print_json(res) else print(fmt("deleted %d", res.deleted_count)) end
  return 0
end

-- stats: this process's metrics are per engine, so `stats` shows the store's
-- banks with the breaker and index state, and --prometheus the exposition.
function commands.stats(eng, opts, pos)
  if #pos ~= 0 then return usage_error("stats takes no arguments") end
  local st = eng:stats()
  local banks = eng:banks() or {}
  local out = { banks = banks, breakers = st.breakers, hooks = st.hooks, sinks = st.sinks,
                index_bytes = eng.providers.vector_store and eng.providers.vector_store.index_bytes
                  and eng.providers.vector_store:index_bytes() or nil }
  if opts.json then print_json(out) return 0 end
  print(fmt("banks: %d", #banks))
  for _, b in ipairs(banks) do print(fmt("  %-30s %d memories", b.bank_id, b.memory_count)) end
  if out.index_bytes then print(fmt("in-memory indexes: %.1f MiB", out.index_bytes / 1048576)) end
  for _, b in ipairs(st.breakers or {}) do print(fmt("breaker %-20s %s", b.provider, b.state)) end
  return 0
end

function commands.banks(eng, opts, pos)
  if #pos ~= 0 then return usage_error("banks takes no arguments") end
  local res, err = eng:banks()
  if not res then return fail(err) end
  if opts.json then print_json(res) return 0 end
  if #res == 0 then print("(no banks)") end
  for _, b in ipairs(res) do print(fmt("%-32s %d", b.bank_id, b.memory_count)) end
  return 0
end

-- import: validates every line first (nothing is stored if any line is bad),
-- then retains them in order, IMPORT_BATCH per retain_many call (a failing
-- call stores none of its records; the calls before it stay stored).
local IMPORT_BATCH = 1000
function commands.import(eng, opts, pos)
  if #pos ~= 1 then return usage_error("import takes exactly one FILE argument") end
  local path = pos[1]
  local f, oerr = io.open(path, "rb")
  if not f then return fail(astrocyte.errors.new("ValidationError", fmt("cannot read '%s': %s", path, oerr))) end
  local records, n = {}, 0
  for line in f:lines() do
    n = n + 1
    if line:find("%S") then
      local rec, jerr = json.decode(line)
      if type(rec) ~= "table" then
        f:close()
        return fail(astrocyte.errors.new("ValidationError", fmt("%s:%d: not a JSON object (%s)", path, n, jerr or type(rec))))
      end
      local content = rec.content or rec.text
      if type(content) ~= "string" then
        f:close()
        return fail(astrocyte.errors.new("ValidationError", fmt("%s:%d: missing string field 'content'", path, n)))
      end
      records[#records + 1] = { line = n, item = { content = content,
        bank_id = rec.bank_id or opts.bank, tags = rec.tags, metadata = rec.metadata,
        occurred_at = rec.occurred_at, fact_type = rec.fact_type } }
    end
  end
  f:close()
  local bar = (not opts.json and stderr_is_tty()) and progress_bar(#records) or nil
  local stored = 0
  -- IMPORT_BATCH records per retain_many call: one transaction each.
  for start = 1, #records, IMPORT_BATCH do
    local items = {}
    for i = start, math.min(#records, start + IMPORT_BATCH - 1) do items[#items + 1] = records[i].item end
    local res, err = eng:retain_many(items)
    if not res then
      if bar then bar:finish() end
      local r = records[start + ((type(err) == "table" and err.index) or 1) - 1]
      io.stderr:write(fmt("astrocyte: %s:%d: %s (%d of %d records stored before it)\n", path, r.line, tostring(err), stored, #records))
      return exit_code(err)
    end
    stored = stored + #items
    if bar then bar:update(stored) end
  end
  if bar then bar:finish() end
  if opts.json then print_json({ imported = stored }) else print(fmt("imported %d memories from %s", stored, path)) end
  return 0
end

-- A YAML scalar: plain when that reads back as the same string, else a
-- JSON string (valid YAML).
local YAML_WORDS = { ["true"] = 1, ["false"] = 1, null = 1, yes = 1, no = 1, on = 1, off = 1, ["~"] = 1 }
local function yaml_scalar(v)
  if type(v) ~= "string" then return util.encode(v) end
  if v:match("^[%w_./@-][%w_./@:%- ]*$") and not v:match(" $") and not tonumber(v)
     and not YAML_WORDS[v:lower()] and not v:find(": ", 1, true) then
    return v
  end
  return util.encode(v)
end

-- Renders a config table as block YAML, keys sorted. An empty table prints as
-- {} unless the schema calls it a list (lyaml prints every empty table as []).
function yaml_text(v, schema, indent)
  local out = {}
  if util.is_array(v) and #v > 0 then
    for _, item in ipairs(v) do
      if type(item) == "table" and next(item) ~= nil then
        local body = yaml_text(item, nil, indent .. "  ")
        out[#out + 1] = indent .. "- " .. body:sub(#indent + 3)
      else
        out[#out + 1] = indent .. "- " .. (type(item) == "table" and "{}" or yaml_scalar(item)) .. "\n"
      end
    end
    return concat(out)
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local val, sub = v[k], type(schema) == "table" and schema[k] or nil
    local key = yaml_scalar(tostring(k))
    if type(val) ~= "table" then
      out[#out + 1] = indent .. key .. ": " .. yaml_scalar(val) .. "\n"
    elseif next(val) == nil then
      out[#out + 1] = indent .. key .. ": " .. (sub == "list" and "[]" or "{}") .. "\n"
    else
      out[#out + 1] = indent .. key .. ":\n" .. yaml_text(val, sub, indent .. "  ")
    end
  end
  return concat(out)
end

-- Commands that do not open an engine.
local standalone = {}

function standalone.providers(opts, pos)
  if #pos ~= 0 then return usage_error("providers takes no arguments") end
  local registry = require "astrocyte.registry"
  local found = registry.available_providers()
  local out = {}
  for _, g in ipairs(registry.GROUPS) do
    local names = {}
    for name in pairs(found[g] or {}) do names[#names + 1] = name end
    table.sort(names)
    out[g] = names
  end
  if opts.json then print_json(out) return 0 end
  for _, g in ipairs(registry.GROUPS) do
    print(fmt("%-22s %s", g, #out[g] > 0 and concat(out[g], ", ") or "-"))
  end
  return 0
end

function standalone.config(opts, pos)
  if pos[1] ~= "check" or #pos ~= 2 then return usage_error("usage: astrocyte config check FILE") end
  local config = require "astrocyte.config"
  local cfg, err = config.load(pos[2], { db = opts.db })
  if not cfg then return fail(err) end
  for _, w in ipairs(cfg._warnings) do io.stderr:write("astrocyte: warning: ", w, "\n") end
  local merged = config.masked(cfg)
  if opts.json then print_json(merged) return 0 end
  io.stdout:write("---\n", yaml_text(merged, require("astrocyte.config_schema").root, ""))
  return 0
end

-- Admin commands (hold, lifecycle, audit, consolidate, restore, export, eval;
-- AMA import; extended forget) register themselves from astrocyte.cli.admin.
USAGE = USAGE .. require("astrocyte.cli.admin").register({ commands = commands, standalone = standalone,
  value_opts = VALUE_OPTS, flags = FLAGS, fail = fail, usage_error = usage_error, print_json = print_json,
  split_list = split_list })
USAGE = USAGE .. require("astrocyte.cli.serve").register({ standalone = standalone, value_opts = VALUE_OPTS, flags = FLAGS, fail = fail, usage_error = usage_error })
USAGE = USAGE .. require("astrocyte.cli.mcp").register({ commands = commands, fail = fail, usage_error = usage_error })

-- `astrocyte --version`: the framework, the Lua runtime and the C core.
local function version_text()
  local rt = type(jit) == "table" and jit.version or _VERSION
  return fmt("astrocyte %s (%s, libastrocyte %s)\n", astrocyte.VERSION, rt, tostring(core.VERSION))
end

-- Entry point: returns the process exit code.
function _M.main(argv)
  local args = {}
  for i = 1, #(argv or {}) do args[i] = argv[i] end
  local opts, pos = parse(args)
  if not opts then return usage_error(pos) end
  if opts.version or pos[1] == "version" then
    io.stdout:write(version_text())
    return 0
  end
  if opts.help or pos[1] == "help" then
    io.stdout:write(USAGE)
    return 0
  end
  if #pos == 0 then
    io.stderr:write(USAGE)
    return EXIT_USAGE
  end
  local cmd = table.remove(pos, 1)
  if standalone[cmd] then return guarded(standalone[cmd], opts, pos) end
  local fn = commands[cmd]
  if not fn then return usage_error("unknown command '" .. cmd .. "'") end
  local eng, err = open_engine(opts)
  if not eng then return fail(err) end
  local root_eng = eng
  if opts.principal or opts["on-behalf-of"] then
    if not opts.principal then
      root_eng:close()
      return usage_error("--on-behalf-of needs --principal")
    end
    eng, err = root_eng:with_context({ principal = opts.principal, on_behalf_of = opts["on-behalf-of"] })
    if not eng then root_eng:close(); return fail(err) end
  end
  for _, w in ipairs(eng:warnings()) do io.stderr:write("astrocyte: warning: ", w, "\n") end
  if WRITES[cmd] and ephemeral(root_eng) then
    io.stderr:write("astrocyte: warning: the configured store is in-memory: nothing ", cmd,
                    " does here is kept after this command exits",
                    opts.db and " (--db is ignored by it)" or "", "\n")
  end
  local code = guarded(fn, eng, opts, pos)
  root_eng:close()
  return code
end

return _M
