-- spec/reliability/worker.lua: the writer process of the reliability specs.
--   <lua> worker.lua DB PREFIX N SEED [REOPEN_EVERY] [BANK] [check|stop] [IMPORT_N]
-- DB is a file (the Lua API), cli:<file> (one CLI process per call, which
-- forgets hard only) or an http:// URL (clients.lua).
-- Runs N operations on the engine over the SQLite file DB: mostly retains
-- (each text carries a unique word, PREFIX .. letters, so a recall for that
-- word finds exactly that memory), and forgets of memories it retained
-- earlier, hard and soft (archive) alternately. After each call returns it
-- prints one line, flushed before the next call:
--   R <memory_id> <word>     retain acknowledged
--   F <memory_id>            hard forget acknowledged (deleted_count 1)
--   S <memory_id>            soft forget acknowledged (archived_count 1)
--   E <op> <word|id> <kind> <message>   the call failed
--   I <word>                 imported (IMPORT_N retains through one CLI import
--                            after the N operations; the import has no ids)
--   DONE <ms>                the end, and how long the run took
-- Every REOPEN_EVERY operations (default 0: never) it closes the engine,
-- which saves the HNSW snapshots, and opens it again. The operation
-- With "check" it ends by recalling through its own engine every word
-- it retained: "LOST <id>" for an acknowledged, unforgotten memory not
-- found, "GHOST <word>" for a failed retain that is found. With "stop" it
-- exits at the first failed retain without closing (a crash after an error). The operation
-- sequence depends only on SEED (a Park-Miller generator, the same on Lua
-- 5.4 and LuaJIT), so a failing run can be replayed.
local astrocyte = require "astrocyte"
local now_ms = require("astrocyte.util").now_ms

local db, prefix, n, seed = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
local reopen_every, bank, check = tonumber(arg[5] or "0"), arg[6] or "crash", arg[7] == "check"
local stop = arg[7] == "stop" -- exit at the first failed call, closing nothing
local import_n = tonumber(arg[8] or "0")
io.stdout:setvbuf("line")

local state = seed % 2147483646 + 1
local function rand(k) -- 1..k
  state = state * 16807 % 2147483647
  return state % k + 1
end

-- The unique word of retain i: "qz", PREFIX, i in base 26 as letters, "x"
-- (a letters-only word stays one token; the "qz" start and the "x" end keep
-- it off the stop-word list and out of the stemmer's suffix rules).
local function word(i)
  local s = ""
  repeat
    s = string.char(97 + i % 26) .. s
    i = math.floor(i / 26)
  until i == 0
  return "qz" .. prefix .. s .. "x"
end

local function open()
  if db:match("^cli:") then return require("reliability.clients").cli(db:sub(5), bank) end
  if db:match("^http://") then return require("reliability.clients").http(db) end
  local eng, err = astrocyte.open({
    vector_store_config = { path = db, vector_index = { hnsw_threshold = 16 },
                            busy_timeout_ms = tonumber(os.getenv("ASTRO_BUSY_TIMEOUT_MS")) },
    signal_quality = { dedup = { enabled = false } },
  })
  if not eng then
    io.stdout:write("E open - ", tostring(err and err.kind), " ", tostring(err), "\n")
    os.exit(3)
  end
  return eng
end

local function text_of(i, w)
  return string.format("Entry %d of %s mentions %s beside the %s harbour", i, prefix, w,
                       ({ "north", "south", "east", "west" })[rand(4)])
end

local function say(...) io.stdout:write(table.concat({ ... }, " "), "\n") end

local started = now_ms()
local eng = open()
local live, soft, words, failed = {}, false, {}, {}
for i = 1, n do
  if #live > 4 and rand(4) == 1 then
    local j = rand(#live)
    local id = live[j]
    soft = not soft and not eng.hard_only
    local t0 = now_ms()
    local res, err = eng:forget({ bank_id = bank, memory_ids = { id }, soft = soft })
    if not res then
      say("E", "F", id, tostring(err.kind), tostring(err), "(after " .. (now_ms() - t0) .. " ms)")
    elseif (soft and res.archived_count or res.deleted_count) == 1 then
      table.remove(live, j)
      say(soft and "S" or "F", id)
    end
  else
    local w = word(i)
    local text = text_of(i, w)
    local t0 = now_ms()
    local res, err = eng:retain(text, { bank_id = bank, tags = { prefix } })
    if res and res.stored and not res.deduplicated then
      live[#live + 1] = res.memory_id
      words[res.memory_id] = w
      say("R", res.memory_id, w)
    else
      failed[#failed + 1] = w
      say("E", "R", w, tostring(err and err.kind), tostring(err or "not stored as new: " .. tostring(res.retention_action)), "(after " .. (now_ms() - t0) .. " ms)")
      if stop then os.exit(1, false) end
    end
  end
  if reopen_every > 0 and i % reopen_every == 0 then
    eng:close()
    eng = open()
  end
end
if import_n > 0 then
  local file = os.tmpname()
  local f = assert(io.open(file, "wb"))
  for i = n + 1, n + import_n do
    f:write(require("astrocyte.util").encode({ content = text_of(i, word(i)), bank_id = bank, tags = { prefix } }), "\n")
  end
  f:close()
  local res, err = eng:import(file)
  os.remove(file)
  if res and res.imported == import_n then
    for i = n + 1, n + import_n do say("I", word(i)) end
  else
    say("E", "I", "-", tostring(err and err.kind), tostring(err or "imported " .. tostring(res and res.imported)))
  end
end
if check then
  local function found(w, id)
    local res = eng:recall(w, { bank_id = bank, max_results = 10 })
    for _, h in ipairs(res and res.hits or {}) do
      if (id and h.memory_id == id) or (not id and h.text:find("%f[%w]" .. w .. "%f[%W]")) then return true end
    end
    return false
  end
  for _, id in ipairs(live) do
    if not found(words[id], id) then say("LOST", id) end
  end
  for _, w in ipairs(failed) do
    if found(w) then say("GHOST", w) end
  end
end
eng:close()
say("DONE", now_ms() - started)
