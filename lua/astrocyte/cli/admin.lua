-- astrocyte.cli.admin: the admin commands of the `astrocyte` CLI, registered
-- into astrocyte.cli's command tables by register(ctx):
--
--   hold set BANK ID --reason R [--set-by S] | hold release BANK ID | hold list BANK
--   lifecycle BANK [--now ISO] [--dry-run]      TTL sweep (archive / delete)
--   audit BANK [--limit N]                       audit log, newest first
--   consolidate BANK [--threshold X] [--dry-run] remove near-duplicates
--   restore BANK --ids a,b                       un-archive soft-deleted memories
--   export BANK FILE [--embeddings]              write an AMA archive
--   import FILE                                  AMA archives are detected by their
--                                                header ([--on-conflict skip|overwrite|error]);
--                                                plain JSONL keeps the original import
--   forget ... [--soft] [--after ISO] [--compliance --reason R] [--principal P]
--   eval locomo FILE.json [--bank-prefix P] [--granularity turn|session] [--ablation]
--                                                LoCoMo-format evaluation (in-memory
--                                                engine unless --db/--config is given);
--                                                --ablation: recall per channel alone,
--                                                fused, and fused minus each channel
-- Exit codes and error output follow astrocyte.cli.
local astrocyte = require "astrocyte"
local fmt, concat = string.format, table.concat

local _M = {}

_M.USAGE = [[

admin commands:
  hold set BANK ID --reason R [--set-by S]    put a legal hold on a bank (blocks forget)
  hold release BANK ID | hold list BANK
  lifecycle BANK [--now ISO] [--dry-run]      apply the lifecycle TTL policy
  audit BANK [--limit N]                      show the audit log, newest first
  consolidate BANK [--threshold X] [--dry-run]  remove near-duplicate memories
  restore BANK --ids a,b                      restore archived (soft-deleted) memories
  export BANK FILE [--embeddings]             export a bank as an AMA archive (JSONL)
  import FILE [--on-conflict skip|overwrite|error]  AMA archives are detected by header
  forget ... [--soft] [--after ISO] [--compliance --reason R] [--principal P]
  eval locomo FILE.json [--bank-prefix P] [--granularity turn|session] [--ablation]
                                              evidence recall@k and answer F1 on LoCoMo data;
                                              --ablation: each channel alone, fused, fused minus each
]]

local VALUE_OPTS = { "reason", "set-by", "now", "limit", "threshold", "on-conflict", "after", "principal", "bank-prefix", "granularity" }
local FLAGS = { "dry-run", "embeddings", "soft", "compliance", "ablation" }

-- Registers the admin commands. ctx: {commands, standalone, value_opts,
-- flags, fail, usage_error, print_json, split_list}. Returns the extra usage text.
function _M.register(ctx)
  local commands, standalone = ctx.commands, ctx.standalone
  local fail, usage_error, print_json = ctx.fail, ctx.usage_error, ctx.print_json
  local split_list = ctx.split_list
  for _, k in ipairs(VALUE_OPTS) do ctx.value_opts[k] = true end
  for _, k in ipairs(FLAGS) do ctx.flags[k] = true end

  local function num(opts, name)
    local v = opts[name]
    if v == nil then return nil end
    local n = tonumber(v)
    if not n then return nil, fmt("--%s must be a number, got '%s'", name, v) end
    return n
  end

  function commands.hold(eng, opts, pos)
    local sub, bank, id = pos[1], pos[2], pos[3]
    if sub == "set" and #pos == 3 then
      if not opts.reason then return usage_error("hold set needs --reason") end
      local h, err = eng:set_legal_hold(bank, id, opts.reason, { set_by = opts["set-by"] })
      if not h then return fail(err) end
      if opts.json then print_json(h) else print(fmt("legal hold '%s' set on bank '%s'", h.hold_id, h.bank_id)) end
      return 0
    elseif sub == "release" and #pos == 3 then
      local ok, err = eng:release_legal_hold(bank, id)
      if ok == nil then return fail(err) end
      if opts.json then print_json({ bank_id = bank, hold_id = id, released = ok })
      else print(ok and fmt("legal hold '%s' released on bank '%s'", id, bank) or fmt("no legal hold '%s' on bank '%s'", id, bank)) end
      return 0
    elseif sub == "list" and #pos == 2 then
      local hs, err = eng:legal_holds(bank)
      if not hs then return fail(err) end
      if opts.json then print_json(hs) return 0 end
      if #hs == 0 then print("(no legal holds)") end
      for _, h in ipairs(hs) do print(fmt("%-20s %s  %s  %s", h.hold_id, h.set_at, h.set_by or "-", h.reason or "")) end
      return 0
    end
    return usage_error("usage: astrocyte hold set BANK ID --reason R | hold release BANK ID | hold list BANK")
  end

  function commands.lifecycle(eng, opts, pos)
    if #pos ~= 1 then return usage_error("lifecycle takes exactly one BANK argument") end
    local res, err = eng:run_lifecycle(pos[1], { now = opts.now, dry_run = opts["dry-run"] or nil })
    if not res then return fail(err) end
    if opts.json then print_json(res) else
      print(fmt("%sarchived %d, deleted %d, kept %d", res.dry_run and "(dry run) " or "",
                res.archived_count, res.deleted_count, res.kept_count))
    end
    return 0
  end

  function commands.audit(eng, opts, pos)
    if #pos ~= 1 then return usage_error("audit takes exactly one BANK argument") end
    local limit, lerr = num(opts, "limit"); if lerr then return usage_error(lerr) end
    local recs, err = eng:audit_log(pos[1], { limit = limit })
    if not recs then return fail(err) end
    if opts.json then print_json(recs) return 0 end
    if #recs == 0 then print("(no audit records)") end
    for _, r in ipairs(recs) do
      local parts = {}
      for _, k in ipairs({ "hold_id", "deleted_count", "archived_count", "kept_count", "reason" }) do
        if r[k] ~= nil then parts[#parts + 1] = k .. "=" .. tostring(r[k]) end
      end
      print(fmt("%s  %-15s %-20s %s", r.at, r.event, r.principal or "-", concat(parts, " ")))
    end
    return 0
  end

  function commands.consolidate(eng, opts, pos)
    if #pos ~= 1 then return usage_error("consolidate takes exactly one BANK argument") end
    local th, terr = num(opts, "threshold"); if terr then return usage_error(terr) end
    local res, err = eng:consolidate(pos[1], { threshold = th, dry_run = opts["dry-run"] or nil })
    if not res then return fail(err) end
    if opts.json then print_json(res) else
      if res.dry_run then print(fmt("(dry run) %d near-duplicates of %d scanned", #res.duplicates, res.total_scanned))
      else print(fmt("removed %d near-duplicates of %d scanned", res.duplicates_removed, res.total_scanned)) end
    end
    return 0
  end

  function commands.restore(eng, opts, pos)
    if #pos ~= 1 or not opts.ids then return usage_error("usage: astrocyte restore BANK --ids a,b") end
    local n, err = eng:restore_memories(pos[1], split_list(opts.ids))
    if not n then return fail(err) end
    if opts.json then print_json({ restored = n }) else print(fmt("restored %d", n)) end
    return 0
  end

  function commands.export(eng, opts, pos)
    if #pos ~= 2 then return usage_error("usage: astrocyte export BANK FILE [--embeddings]") end
    local n, err = eng:export_bank(pos[1], pos[2], { include_embeddings = opts.embeddings or false, allow_uncontained = true })
    if not n then return fail(err) end
    if opts.json then print_json({ bank_id = pos[1], path = pos[2], exported_count = n })
    else print(fmt("exported %d memories to %s", n, pos[2])) end
    return 0
  end

  -- import: AMA archives go to import_bank; anything else to the plain import.
  local plain_import = commands.import
  function commands.import(eng, opts, pos)
    if #pos == 1 and require("astrocyte.engine.portability").is_ama(pos[1]) then
      local res, err = eng:import_bank(opts.bank, pos[1], { on_conflict = opts["on-conflict"], allow_uncontained = true })
      if not res then return fail(err) end
      for _, e in ipairs(res.errors) do
        io.stderr:write(fmt("astrocyte: %s:%d: %s\n", pos[1], e.line, e.message))
      end
      if opts.json then print_json(res) else
        print(fmt("imported %d memories into %s from %s (%d skipped, %d errors)", res.imported, res.bank_id, pos[1],
                  res.skipped, #res.errors))
      end
      return #res.errors > 0 and 2 or 0
    end
    if opts["on-conflict"] then return usage_error("--on-conflict applies to AMA archives only") end
    return plain_import(eng, opts, pos)
  end

  -- forget: the extended options go through engine:forget's new keys.
  local plain_forget = commands.forget
  function commands.forget(eng, opts, pos)
    if not (opts.soft or opts.after or opts.compliance or opts.reason or opts.principal) then
      return plain_forget(eng, opts, pos)
    end
    if #pos ~= 0 then return usage_error("forget takes no positional arguments") end
    local o = { bank_id = opts.bank, memory_ids = split_list(opts.ids), tags = split_list(opts.tags), before = opts.before,
                after = opts.after, soft = opts.soft or nil, compliance = opts.compliance or nil,
                reason = opts.reason, principal = opts.principal }
    if opts.all then o.scope = "all" end
    local res, err = eng:forget(o)
    if not res then return fail(err) end
    if opts.json then print_json(res)
    elseif opts.soft then print(fmt("archived %d", res.archived_count))
    else print(fmt("deleted %d", res.deleted_count)) end
    return 0
  end

  -- eval runs on its own engine: in-memory unless --db or --config is given.
  function standalone.eval(opts, pos)
    if pos[1] ~= "locomo" or #pos ~= 2 then
      return usage_error("usage: astrocyte eval locomo FILE.json [--json] [--bank-prefix P] [--granularity turn|session] [--ablation]")
    end
    local locomo = require "astrocyte.eval.locomo"
    local data, derr = locomo.load(pos[2])
    if not data then return fail(derr) end
    local eng, err
    if opts.db or opts.config then eng, err = astrocyte.open(opts.config, { db = opts.db })
    else eng, err = astrocyte.open({ vector_store = "in_memory" }) end
    if not eng then return fail(err) end
    local report; report, err = locomo.run(eng, data, { bank_prefix = opts["bank-prefix"], granularity = opts.granularity,
                                                        ablation = opts.ablation })
    eng:close()
    if not report then return fail(err) end
    if opts.json then print_json(report)
    elseif report.ablation then io.stdout:write(locomo.format_ablation(report))
    else io.stdout:write(locomo.format_table(report)) end
    return 0
  end

  return _M.USAGE
end

return _M
