-- astrocyte.pipeline.retain_many: the built-in backend of engine:retain_many
-- — several validated retain requests stored as one write. Each request goes
-- through retain's stages (chunks and contexts, the near-duplicate check,
-- entities); the embedder gets the chunks of many requests per call. When
-- the vector store shares a transaction with the graph store (the embedded
-- SQLite store) every memory and graph row of the call commits in one
-- transaction: one fsync, all or nothing. Other stores get the per-request
-- write of retain, and a failure deletes what the earlier requests stored,
-- so a failed call leaves nothing either way.
-- Near-duplicates are checked against the memories stored before the call,
-- not against the other requests of the same call.
local embed = require "astrocyte.pipeline.embed"
local errors = require "astrocyte.errors"
local retain = require "astrocyte.pipeline.retain"
local ipairs = ipairs

local _M = {}

-- Chunks per embedding call: bounded so a remote embedder's request stays small.
local EMBED_BATCH = 256

-- Tags err with the index of the request it belongs to (items[i]).
local function at(err, i)
  if errors.is(err) then
    if err.index == nil then
      err.index = i
      err.message = ("items[%d]: %s"):format(i, err.message)
    end
    return err
  end
  return errors.storage(("items[%d]: %s"):format(i, tostring(err)), { index = i })
end

-- Embeds the to_embed texts of every prep, EMBED_BATCH chunks per call;
-- sets prep.vecs. Returns true or nil, err (tagged with the request index).
local function embed_all(eng, preps)
  -- text k of a call belongs to request owner[k], chunk slot[k]
  local texts, owner, slot = {}, {}, {}
  local function flush()
    if #texts == 0 then return true end
    local vecs, err = embed.embed(eng, texts)
    if not vecs then return nil, at(err, owner[1]) end
    for k = 1, #texts do preps[owner[k]].vecs[slot[k]] = vecs[k] end
    texts, owner, slot = {}, {}, {}
    return true
  end
  for i, prep in ipairs(preps) do
    prep.vecs = {}
    for j, t in ipairs(prep.to_embed) do
      local n = #texts + 1
      texts[n], owner[n], slot[n] = t, i, j
    end
    if #texts >= EMBED_BATCH then
      local ok, err = flush(); if not ok then return nil, err end
    end
  end
  return flush()
end

-- One shared transaction for every request: one store_vectors call, then
-- each bank's graph. Returns the results or nil, err.
local function write_together(eng, plans, results)
  local items, groups, by_bank = {}, {}, {}
  for _, x in ipairs(plans) do
    local pl = x.plan
    x.first = #items + 1
    local g = by_bank[x.bank_id]
    if not g then
      g = { bank_id = x.bank_id, items = {}, entities = {} }
      by_bank[x.bank_id] = g
      groups[#groups + 1] = g
    end
    for n, it in ipairs(pl.items) do
      items[#items + 1] = it
      g.items[#g.items + 1] = it
      g.entities[#g.items] = pl.entities[n] or {}
    end
  end
  local ids, err = retain.write_together(eng, plans[1].bank_id, items, groups)
  if not ids then return nil, err end
  for _, x in ipairs(plans) do
    local new_ids = {}
    for n = 1, x.plan.nkeep do new_ids[n] = ids[x.first + n - 1] end
    results[x.index] = retain.result(x.plan, new_ids)
  end
  return results
end

-- Per-request writes (stores that cannot share one transaction); on a
-- failure the memories of the earlier requests are deleted.
local function write_each(eng, plans, results)
  local done = {}
  for _, x in ipairs(plans) do
    local new_ids, err = retain.write(eng, x.bank_id, x.plan)
    if not new_ids then
      for _, d in ipairs(done) do
        errors.call(eng.vector_store, "delete", { bank_id = d.bank_id }, d.ids, d.bank_id)
      end
      return nil, at(err, x.index)
    end
    done[#done + 1] = { bank_id = x.bank_id, ids = new_ids }
    results[x.index] = retain.result(x.plan, new_ids)
  end
  return results
end

-- Retains list = array of {r = validated request, bcfg = bank config}.
-- Returns the RetainResults in list order, or nil, err (err.index names
-- the request); nothing is stored when it fails.
function _M.run(eng, list)
  local preps = {}
  for i, x in ipairs(list) do
    local prep, err = retain.prepare(eng, x.r, x.bcfg)
    if not prep then return nil, at(err, i) end
    preps[i] = prep
  end
  local ok, err = embed_all(eng, preps)
  if not ok then return nil, err end
  local results, plans = {}, {}
  for i = 1, #preps do
    local prep = preps[i]
    preps[i] = false                   -- planned: its chunks and contexts may go before the write
    local pl = retain.plan(eng, prep, prep.vecs)
    if pl.result then
      results[i] = pl.result
    else
      plans[#plans + 1] = { index = i, bank_id = prep.r.bank_id, plan = pl }
    end
  end
  if #plans == 0 then return results end
  if retain.together(eng) then return write_together(eng, plans, results) end
  return write_each(eng, plans, results)
end

return _M
