-- astrocyte.pipeline: the built-in Tier-1 pipeline, the backend of an
-- engine that runs on its own stores — entry points the engine calls after
-- validation and policy: retain (pipeline.retain), recall for one or many
-- banks (pipeline.recall + pipeline.multibank), reflect (pipeline.synthesize),
-- forget (pipeline.forget) and retain_many (pipeline.retain_many). An engine
-- provider's backend (astrocyte.engine.provider_backend) has the same five.
local core = require "astrocyte.core"
local embed = require "astrocyte.pipeline.embed"
local multibank = require "astrocyte.pipeline.multibank"
local recall = require "astrocyte.pipeline.recall"
local retain = require "astrocyte.pipeline.retain"
local retain_many = require "astrocyte.pipeline.retain_many"
local forget = require "astrocyte.pipeline.forget"
local synthesize = require "astrocyte.pipeline.synthesize"
local util = require "astrocyte.util"

local _M = {}

-- Retains validated request r with the bank's effective config.
function _M.retain(eng, r, bcfg)
  return retain.run(eng, r, bcfg or eng.cfg)
end

-- Retains list = {{r = validated request, bcfg = bank config}, ...} as one
-- write; RetainResults in order or nil, err (nothing stored).
function _M.retain_many(eng, list)
  return retain_many.run(eng, list)
end

-- Recalls for validated options o (o.banks for several banks, with
-- o.strategy); returns RecallResult or nil, err. With the recall cache on
-- (eng.recall_cache, pipeline/recall_cache.lua) a current cached result of
-- the same or a near-identical query is returned instead (trace.cache_hit).
function _M.recall(eng, o, cfg_for_bank)
  local cache, probe = eng.recall_cache, nil
  if cache then
    local hit
    probe, hit = cache:probe(o)
    if hit then return hit end
  end
  -- Without the embedder (down, or its breaker open) recall degrades to the
  -- channels that need no query vector (keyword, graph).
  local vecs, err = embed.embed(eng, { o.query })
  local qvec = vecs and vecs[1] or nil
  if probe and qvec then
    local hit = cache:lookup(probe, qvec)
    if hit then return hit end
  end
  local embed_err = not vecs and err or nil
  local t0 = core.time()
  local function gather(bank)
    local bo = util.copy(o)
    bo.bank_id = bank
    local bcfg, cerr = cfg_for_bank(bank)
    if not bcfg then return nil, cerr end
    return recall.gather(eng, bo, qvec, bcfg)
  end
  local pc = eng.cfg.pipeline
  if pc.final_rerank_mode == "llm_pairwise" and eng.llm then
    o.final_rerank_mode, o.final_rerank_top_n, o.llm = "llm_pairwise", pc.final_rerank_top_n or 30, eng.llm
  end
  local function finish(g)
    return recall.finish(o, g, pc.rrf_k, t0, pc)
  end
  local res
  if o.banks then
    local st
    st, err = multibank.strategy(o.strategy)
    if not st then return nil, err end
    res, err = multibank.recall(o.banks, st, gather, finish)
  else
    local g
    g, err = gather(o.bank_id)
    if g then res, err = finish(g) end
  end
  if not res then return nil, err end
  if embed_err then
    res.trace.degraded = true
    res.trace.degraded_reason = tostring(embed_err)
  end
  local truncated
  res.hits, truncated = recall.token_budget(res.hits, o.max_tokens)
  res.truncated = res.truncated or truncated
  res.trace.cache_hit = false
  if probe then cache:store(probe, qvec, res) end
  return res
end

-- Reflects: recall then synthesize (LLM when configured, else extractive).
function _M.reflect(eng, o, opts, cfg_for_bank)
  local res, err = _M.recall(eng, o, cfg_for_bank)
  if not res then return nil, err end
  return synthesize.run(o.query, res.hits, eng.llm, opts)
end

-- Forgets per validated options.
function _M.forget(eng, o)
  return forget.run(eng, o)
end

return _M
