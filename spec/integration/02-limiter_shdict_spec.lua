-- The lua_shared_dict limiter backend (lua/astrocyte/policy/limiter_shdict.lua)
-- inside a real nginx with two workers: it gives the same answers as the C
-- token bucket (the in-process backend) for the same calls, and concurrent
-- requests on both workers never take more tokens than the bucket holds.
local util = require "astrocyte.util"
local homeostasis = require "astrocyte.policy.homeostasis"
local nginx = require "support.nginx"
local json = util.json

if nginx.skip("limiter_shdict in nginx", pending) then return end

local CONF = nginx.conf_head(2) .. [[
  lua_shared_dict limits 1m;
  server {
    listen 127.0.0.1:@PORT@ reuseport;
    location = /ping  { content_by_lua_block { ngx.say("ok") } }
    location = /flush { content_by_lua_block { ngx.shared.limits:flush_all(); ngx.say("ok") } }
    # one check with an explicit clock
    location = /take {
      content_by_lua_block {
        local b = require("astrocyte.policy.limiter_shdict").new(ngx.shared.limits)
        local a = ngx.req.get_uri_args()
        local ok, retry = b:check(a.key, tonumber(a.pm), tonumber(a.now))
        ngx.say(ok and "allowed" or ("limited " .. tostring(retry)))
      }
    }
    # homeostasis.new with shared_dict = ?name, then two checks at 1/minute
    location = /config {
      content_by_lua_block {
        local homeostasis = require "astrocyte.policy.homeostasis"
        local h, err = homeostasis.new({ shared_dict = ngx.var.arg_name, rate_limits = { retain_per_minute = 1 } })
        if not h then return ngx.say(err.kind, " ", err.key_path, " ", err.message) end
        local first = h:check("cfg", "retain")
        local second, serr = h:check("cfg", "retain")
        ngx.say(tostring(first), " ", tostring(second), " ", serr and serr.kind or "")
      }
    }
    # a sequence of backend calls (JSON array) -> their results
    location = /seq {
      content_by_lua_block {
        local util = require "astrocyte.util"
        local b = require("astrocyte.policy.limiter_shdict").new(ngx.shared.limits)
        ngx.req.read_body()
        local out = {}
        for i, op in ipairs(util.json.decode(ngx.req.get_body_data())) do
          if op[1] == "check" then
            local ok, retry = b:check(op[2], op[3], op[4])
            out[i] = { ok and true or false, retry or 0 }
          elseif op[1] == "quota" then
            local allowed, count = b:quota(op[2], op[3], op[4])
            out[i] = { allowed, count }
          else
            out[i] = { b:record(op[2], op[3]) and true or false, 0 }
          end
        end
        ngx.say(util.encode(out))
      }
    }
  }
}
]]

describe("limiter_shdict in nginx (two workers)", function()
  local server

  setup(function() server = nginx.start(CONF, "/ping") end)
  teardown(function() if server then server:stop() end end)
  before_each(function() assert.equal(200, (server:http("GET", "/flush"))) end)

  it("answers every call as the C token bucket does", function()
    -- deterministic mixed calls: 4 keys with different rates, a clock that
    -- moves by 0..3 s, quotas recorded and checked across a day boundary
    local seed = 12345
    local function rand(n)
      seed = (seed * 1103515 + 12345) % 2147483648
      return seed % n
    end
    local ops, now = {}, 1000000.0
    local rates = { a = 6, b = 60, c = 0.5, d = 1000 }
    local keys = { "a", "b", "c", "d" }
    for _ = 1, 600 do
      local k = keys[rand(4) + 1]
      local r = rand(10)
      if r < 7 then
        ops[#ops + 1] = { "check", k, rates[k], now }
        now = now + rand(4) * 0.25
      elseif r < 9 then
        ops[#ops + 1] = { "record", k, math.floor(now / 86400) }
      else
        ops[#ops + 1] = { "quota", k, 3, math.floor(now / 86400) }
      end
      if rand(100) == 0 then now = now + 86400 end
    end
    local status, body = server:http("POST", "/seq", assert(json.encode(ops)))
    assert.equal(200, status, body)
    local got = json.decode(body)
    local mem = assert(homeostasis.memory_backend())
    local allowed, limited = 0, 0
    for i, op in ipairs(ops) do
      local a, b
      if op[1] == "check" then
        a, b = mem:check(op[2], op[3], op[4])
        a = a and true or false
        if a then allowed = allowed + 1 else limited = limited + 1 end
      elseif op[1] == "quota" then
        a, b = mem:quota(op[2], op[3], op[4])
      else
        a, b = mem:record(op[2], op[3]) and true or false, 0
      end
      assert.equal(a, got[i][1], "call " .. i .. " " .. json.encode(op))
      assert.near(b or 0, got[i][2], 1e-6, "call " .. i .. " " .. json.encode(op))
    end
    assert.truthy(allowed > 50 and limited > 50, allowed .. " allowed, " .. limited .. " limited")
  end)

  it("never hands out more tokens than the bucket holds under concurrent requests", function()
    local url = server.url .. "/take?key=burst&pm=50&now=5000"
    local p = assert(io.popen("seq 1 300 | xargs -P 16 -I{} curl -s --max-time 10 '" .. url .. "'"))
    local out = p:read("*a")
    p:close()
    local allowed, limited = 0, 0
    for line in out:gmatch("[^\n]+") do
      if line == "allowed" then allowed = allowed + 1
      elseif line:match("^limited %d") then limited = limited + 1 end
    end
    assert.equal(300, allowed + limited, out:sub(1, 500) .. "\nerror.log:\n" .. server:error_log())
    assert.equal(50, allowed)
  end)

  it("uses a lua_shared_dict named in homeostasis.shared_dict, and names a missing one", function()
    -- outside nginx (this process) the key is a ConfigError naming its path
    local h, err = homeostasis.new({ shared_dict = "limits" })
    assert.is_nil(h)
    assert.equal("ConfigError", err.kind)
    assert.equal("homeostasis.shared_dict", err.key_path)
    assert.matches("needs OpenResty", err.message)
    -- inside nginx: the named dict is used (shared by both workers) ...
    local _, body = server:http("GET", "/config?name=limits")
    assert.equal("true nil RateLimited\n", body)
    _, body = server:http("GET", "/config?name=limits")
    assert.equal("nil nil RateLimited\n", body)
    -- ... and an undeclared one is named in the error
    _, body = server:http("GET", "/config?name=nope")
    assert.equal("ConfigError homeostasis.shared_dict homeostasis.shared_dict: no lua_shared_dict 'nope'"
      .. " (declare it in nginx.conf: lua_shared_dict nope 1m;)\n", body)
  end)
end)
