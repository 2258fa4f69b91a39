-- The engine's observability end to end: Lua callbacks, signed webhooks to a
-- loopback receiver, memory export to a JSONL sink, Prometheus metrics and
-- structured logs that never carry a secret or a PII value.
describe("engine events, metrics, sinks and logs", function()
  local astrocyte = require "astrocyte"
  local server = require "support.server"
  local tmp = require "support.tmp"
  local util = require "astrocyte.util"
  local SECRET = "whsec-test-4455"
  local recv, dir

  setup(function() recv = server.start("webhook_receiver.py", { "--secret", SECRET }) end)
  teardown(function() if recv then recv:stop() end end)
  before_each(function() dir = tmp.dir(); recv:reset() end)
  after_each(function() tmp.rm(dir) end)

  local function read(path)
    local f = io.open(path)
    if not f then return "" end
    local s = f:read("*a")
    f:close()
    return s
  end

  it("fires callbacks and signed webhooks, exports events, counts metrics", function()
    local eng = assert(astrocyte.open({
      vector_store = "in_memory",
      hooks = { { type = "webhook", url = recv.url .. "/hook", secret = SECRET, events = { "on_retain", "on_forget" } } },
      memory_export_sinks = { { provider = "jsonl_sink", config = { path = dir .. "/export.jsonl" } } },
    }))
    local seen = {}
    assert(eng:on("on_retain", function(ev) seen[#seen + 1] = ev end))
    local res = assert(eng:retain("Ana prefers green tea", { bank_id = "b" }))
    assert(eng:recall("tea", { bank_id = "b" }))
    assert(eng:forget({ bank_id = "b", memory_ids = { res.memory_id } }))
    eng:close()                                   -- flushes webhooks and sinks

    assert.equal(1, #seen)
    assert.equal("on_retain", seen[1].type)
    assert.equal(res.memory_id, seen[1].data.memory_id)
    assert.equal(#"Ana prefers green tea", seen[1].data.content_length)

    local got = recv:admin("GET", "/__admin/received")
    assert.equal(2, #got.accepted)
    assert.same({}, got.rejected)
    local types = {}
    for _, a in ipairs(got.accepted) do types[#types + 1] = a.body.type end
    table.sort(types)
    assert.same({ "on_forget", "on_retain" }, types)

    local lines = {}
    for line in read(dir .. "/export.jsonl"):gmatch("[^\n]+") do lines[#lines + 1] = util.json.decode(line) end
    local kinds = {}
    for _, ev in ipairs(lines) do kinds[#kinds + 1] = ev.kind end
    assert.same({ "RetainCommitted", "BankLifecycle", "RecallObserved", "ForgetApplied" }, kinds)
    assert.is_nil(read(dir .. "/export.jsonl"):find("green tea", 1, true))   -- no raw text exported
  end)

  it("renders Prometheus metrics per operation, provider and outcome", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory",
      homeostasis = { rate_limits = { recall_per_minute = 1 } } }))
    assert(eng:retain("one", { bank_id = "m" }))
    assert(eng:recall("one", { bank_id = "m" }))
    assert.is_nil((eng:recall("one", { bank_id = "m" })))
    local text = eng:metrics_text()
    assert.truthy(text:find('astrocyte_retain_total{bank_id="m",provider="in_memory",status="ok"} 1', 1, true), text)
    assert.truthy(text:find('astrocyte_recall_total{bank_id="m",provider="in_memory",status="ok"} 1', 1, true), text)
    assert.truthy(text:find('astrocyte_rate_limit_rejections_total{bank_id="m",operation="recall"} 1', 1, true), text)
    assert.truthy(text:find("# TYPE astrocyte_retain_duration_seconds histogram", 1, true))
    assert.equal(1, eng:stats().metrics ~= nil and 1 or 0)
    eng:close()
  end)

  it("writes structured logs without secrets or PII values", function()
    local log_path = dir .. "/astro.log"
    local eng = assert(astrocyte.open({ vector_store = "in_memory", llm_provider = "mock",
      llm_provider_config = { api_key = "sk-live-supersecret-9999" },
      observability = { log_sink = log_path, log_level = "debug" },
      barriers = { pii = { mode = "regex", action = "warn" } } }))
    assert(eng:retain("Card 4111 1111 1111 1111, mail ana@example.com, key sk-live-supersecret-9999",
      { bank_id = "l", metadata = { api_token = "tok-abcdef" } }))
    assert(eng:forget({ bank_id = "l", scope = "all" }))
    eng:close()
    local text = read(log_path)
    assert.truthy(text:find("astrocyte.policy.pii_detected", 1, true), text)
    assert.truthy(text:find("astrocyte.audit.forget", 1, true), text)
    for _, bad in ipairs({ "4111 1111 1111 1111", "ana@example.com", "sk-live-supersecret-9999", "tok-abcdef" }) do
      assert.is_nil(text:find(bad, 1, true), "log leaks " .. bad)
    end
    for line in text:gmatch("[^\n]+") do assert.is_table(util.json.decode(line)) end
  end)

  it("fires bank created/deleted and dedup events", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
    local got = {}
    for _, t in ipairs({ "on_bank_created", "on_bank_deleted", "on_dedup_detected" }) do
      eng:on(t, function(ev) got[#got + 1] = ev.type .. ":" .. ev.bank_id end)
    end
    assert(eng:retain("first memory in a new bank", { bank_id = "nb" }))
    assert(eng:retain("another memory, same bank", { bank_id = "nb" }))
    assert(eng:retain("first memory in a new bank", { bank_id = "nb" }))      -- near-duplicate
    assert(eng:forget({ bank_id = "nb", scope = "all" }))
    assert.same({ "on_bank_created:nb", "on_dedup_detected:nb", "on_bank_deleted:nb" }, got)
    eng:close()
  end)

  it("fires breaker events", function()
    local now = 0
    local eng = assert(astrocyte.open({ vector_store = "in_memory", llm_provider = "mock",
      escalation = { circuit_breaker = { failure_threshold = 1, recovery_timeout_seconds = 5 } } },
      { policy = { clock = function() return now end } }))
    local fired = {}
    eng:on("on_circuit_breaker_open", function(ev) fired[#fired + 1] = ev.data.provider end)
    eng:on("on_circuit_breaker_close", function(ev) fired[#fired + 1] = "closed:" .. ev.data.provider end)
    assert(eng:retain("standup at 9:30", { bank_id = "b" }))
    eng.providers.llm.fail = true
    assert(eng:reflect("standup?", { bank_id = "b" }))
    eng.providers.llm.fail = false
    now = 10
    assert(eng:reflect("standup?", { bank_id = "b" }))
    assert.same({ "mock", "closed:mock" }, fired)
    eng:close()
  end)
end)
