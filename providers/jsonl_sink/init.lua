-- astrocyte.providers.jsonl_sink: a MemoryExportSink (spi.md §1.11) that
-- appends one JSON line per event to a local file, for audit pipelines that
-- tail files (Vector, Fluent Bit, a SIEM agent) or for plain retention.
--
--   memory_export_sinks:
--     - provider: jsonl_sink
--       config: { path: /var/lib/astrocyte/export.jsonl, rotate_bytes: 67108864,
--                 keep: 5, fsync: true }
--
-- Each emit writes one complete line and hands it to the OS (at-least-once:
-- after a crash a line may be duplicated or, rarely, cut short, so readers
-- skip a trailing partial line). flush() also fsyncs the file
-- when fsync is on. When a line would push the file past rotate_bytes the
-- file is rotated first: path.(keep-1) → path.keep (the oldest is deleted),
-- ..., path → path.1, then a fresh path; the directory is fsynced after the
-- renames. Only event metadata is written; events never carry raw text or
-- embeddings (astrocyte.sinks builds them), so capabilities() says so.
local core = require "astrocyte.core"
local sinks = require "astrocyte.observe.sinks"
local type, tostring, fmt, floor = type, tostring, string.format, math.floor
local io_open, os_rename, os_remove = io.open, os.rename, os.remove

local _M = { name = "jsonl_sink", SPI_VERSION = 1 }
local mt = { __index = _M }

local DEFAULT_ROTATE = 64 * 1024 * 1024

local function dir_of(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- Opens (appending) and returns the file and its current size.
local function open_file(path)
  local f, err = io_open(path, "ab")
  if not f then return nil, err end
  local size = f:seek("end") or 0
  return f, size
end

-- new(conf) → sink | nil, err. conf: path (required), rotate_bytes
-- (64 MiB), keep (5 rotated files), fsync (true).
function _M.new(conf)
  conf = conf or {}
  if type(conf.path) ~= "string" or conf.path == "" then return nil, "jsonl_sink: config.path is required" end
  local rotate = conf.rotate_bytes or DEFAULT_ROTATE
  if type(rotate) ~= "number" or rotate < 1 or rotate ~= floor(rotate) then
    return nil, "jsonl_sink: config.rotate_bytes must be a positive integer"
  end
  local keep = conf.keep or 5
  if type(keep) ~= "number" or keep < 1 or keep ~= floor(keep) then
    return nil, "jsonl_sink: config.keep must be a positive integer"
  end
  local f, size = open_file(conf.path)
  if not f then return nil, "jsonl_sink: cannot open " .. conf.path .. ": " .. tostring(size) end
  return setmetatable({ path = conf.path, rotate_bytes = rotate, keep = keep, fsync = conf.fsync ~= false,
                        f = f, size = size, lines = 0, rotations = 0 }, mt)
end

-- Rotates path → path.1 ... keeping `keep` files; returns true | nil, err.
function _M:rotate()
  if self.f then
    self.f:flush()
    if self.fsync then core.fsync_path(self.path) end
    self.f:close()
    self.f = nil
  end
  local p = self.path
  os_remove(p .. "." .. self.keep)
  for i = self.keep - 1, 1, -1 do
    os_rename(p .. "." .. i, p .. "." .. (i + 1))
  end
  local ok, err = os_rename(p, p .. ".1")
  if not ok then return nil, "jsonl_sink: rotate " .. p .. ": " .. tostring(err) end
  if self.fsync then core.fsync_path(dir_of(p)) end
  local f, size = open_file(p)
  if not f then return nil, "jsonl_sink: cannot reopen " .. p .. ": " .. tostring(size) end
  self.f, self.size = f, size
  self.rotations = self.rotations + 1
  return true
end

-- emit(event) → true | nil, err. Appends one line (rotating first when the
-- line would not fit).
function _M:emit(ev)
  if type(ev) ~= "table" or type(ev.kind) ~= "string" then
    return nil, "jsonl_sink: event must be a MemoryExportSinkEvent"
  end
  if not self.f then return nil, "jsonl_sink: closed" end
  local line, err = sinks.encode(ev)
  if not line then return nil, "jsonl_sink: " .. tostring(err) end
  line = line .. "\n"
  if self.size > 0 and self.size + #line > self.rotate_bytes then
    local ok, rerr = self:rotate()
    if not ok then return nil, rerr end
  end
  local ok, werr = self.f:write(line)
  if not ok then return nil, "jsonl_sink: write " .. self.path .. ": " .. tostring(werr) end
  ok, werr = self.f:flush()
  if not ok then return nil, "jsonl_sink: write " .. self.path .. ": " .. tostring(werr) end
  self.size = self.size + #line
  self.lines = self.lines + 1
  return true
end

-- flush() → true | nil, err: buffers to the OS and, with fsync, to disk.
function _M:flush()
  if not self.f then return true end
  local ok, err = self.f:flush()
  if not ok then return nil, "jsonl_sink: flush: " .. tostring(err) end
  if self.fsync then
    local fok, ferr = core.fsync_path(self.path)
    if not fok then return nil, "jsonl_sink: " .. ferr end
  end
  return true
end

function _M:health()
  if not self.f then return { healthy = false, message = "jsonl_sink: closed" } end
  return { healthy = true, message = fmt("jsonl_sink: %d lines, %d bytes in current file", self.lines, self.size) }
end

function _M.capabilities(_)
  return { event_kinds = sinks.KINDS, includes_embeddings = false, includes_raw_text = false }
end

function _M:close()
  if self.f then
    self:flush()
    self.f:close()
    self.f = nil
  end
end

return { memory_export_sinks = _M.new, new = _M.new, class = _M }
