-- astrocyte.providers.sqlite.changes: the change log of the sqlite store,
-- which keeps several connections to one file (OpenResty workers) coherent.
-- Every write logs (origin, bank_id, key) in astrocyte_changes inside its
-- transaction and bumps the bank's row in astrocyte_bank_seq; before a read
-- a connection replays what other connections committed since it last
-- looked (pending_changes), and now and then prunes the log. install(Backend,
-- serr) adds these methods to the store's backend class.
local type, pairs, ipairs, next, tonumber, tostring = type, pairs, ipairs, next, tonumber, tostring

local _M = {}

function _M.install(Backend, serr)

  -- The last change seq of a bank's memory rows (0 when none is logged).
  function Backend:bank_seq(bank_id)
    local rows = self:query("SELECT seq FROM astrocyte_bank_seq WHERE bank_id = ?", bank_id)
    return rows and rows[1] and rows[1].seq or 0
  end

  -- The bank's generation for readers that keep results (the recall
  -- cache): its last change seq, moved by every committed write of any
  -- connection; nil, err when the file cannot be read (never a guess).
  function Backend:bank_generation(bank_id)
    local rows, err = self:query("SELECT seq FROM astrocyte_bank_seq WHERE bank_id = ?", bank_id)
    if not rows then return nil, serr(self, "reading the change log", err) end
    return rows[1] and rows[1].seq or 0
  end

  local LOG_INSERT = "INSERT INTO astrocyte_changes (origin, bank_id, key) VALUES (?, ?, ?)"
  local BANK_SEQ = "INSERT INTO astrocyte_bank_seq (bank_id, seq) VALUES (?, ?)" ..
    " ON CONFLICT (bank_id) DO UPDATE SET seq = excluded.seq"

  -- Appends the written keys to the change log (inside the write's
  -- transaction). Called as log_changes(rows, keys) after an upsert (each
  -- row's bank) or log_changes(bank_id, keys).
  function Backend:log_changes(rows_or_bank, keys)
    local st, err = self:stmt(LOG_INSERT)
    if not st then return nil, err end
    local last = {}
    for i, key in ipairs(keys) do
      local bank_id = type(rows_or_bank) == "table" and rows_or_bank[i].bank_id or rows_or_bank
      st:reset()
      st:bind_values(self.origin, bank_id, key)
      local ok, serr2 = st:step()
      if ok == nil then st:reset(); return nil, serr2 end
      st:reset()
      last[bank_id] = self.db:last_insert_rowid()
      self.tx_seq = last[bank_id]
    end
    for bank_id, seq in pairs(last) do
      local ok, qerr = self:query(BANK_SEQ, bank_id, seq)
      if not ok then return nil, qerr end
    end
    self.logged = self.logged + #keys
    return true
  end

  local function scalar(self, sql, ...)
    local rows, err = self:query(sql, ...)
    if not rows then return nil, err end
    local r = rows[1]
    if not r then return nil end
    local _, v = next(r)
    return v
  end

  function Backend:data_version() return scalar(self, "PRAGMA data_version") end
  function Backend:max_seq()
    return scalar(self, "SELECT seq FROM sqlite_sequence WHERE name = 'astrocyte_changes'") or 0
  end

  -- Marks the present state of the file as seen by this connection.
  function Backend:mark_seen()
    self.seen_dv, self.seen_seq = self:data_version(), self:max_seq()
  end

  -- After a commit of this connection that logged changes (tx_seq: the last
  -- seq it wrote; cleared at BEGIN, so a rolled-back write leaves none): if no
  -- other connection committed since we last looked (data_version
  -- unchanged), everything up to that seq is ours or already replayed.
  -- Prunes the log now and then.
  function Backend:_committed()
    local seq = self.tx_seq
    if not seq then return end
    self.tx_seq = nil
    if self:data_version() == self.seen_dv then self.seen_seq = seq end
    if self.logged >= 1024 then
      self.logged = 0
      local cut = self:max_seq() - self.change_log_keep
      if cut > 0 and self:query("DELETE FROM astrocyte_changes WHERE seq <= ?", cut) then
        self:set_meta("changes_pruned_to", tostring(cut))
      end
    end
  end

  -- Changes other connections committed since the last call, as an array of
  -- {bank_id, key}; {} when none; "reload" when this connection fell behind
  -- the pruned part of the log (the caller rebuilds from the rows).
  function Backend:pending_changes()
    local dv = self:data_version()
    if dv == self.seen_dv then return {} end
    self.seen_dv = dv
    local from = self.seen_seq
    local pruned = tonumber(self:get_meta("changes_pruned_to") or 0)
    if from < pruned then
      self.seen_seq = self:max_seq()
      self:invalidate()
      return "reload"
    end
    local rows, err = self:query("SELECT seq, origin, bank_id, key FROM astrocyte_changes WHERE seq > ? ORDER BY seq", from)
    if not rows then return nil, serr(self, "reading the change log", err) end
    local out = {}
    local keys = {}
    for _, r in ipairs(rows) do
      if r.origin ~= self.origin then out[#out + 1] = { r.bank_id, r.key }; keys[#keys + 1] = r.key end
      if r.seq > self.seen_seq then self.seen_seq = r.seq end
    end
    self:invalidate(keys)              -- their cached rows are stale
    return out
  end

end

return _M
