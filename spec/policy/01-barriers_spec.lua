-- Specs for astrocyte.policy.barriers: PII barrier (modes, actions, type
-- overrides, country packs), content validation and metadata sanitizing.
-- Runs under Lua 5.4 and LuaJIT 2.1.
local barriers = require "astrocyte.policy.barriers"

describe("astrocyte.policy.barriers", function()
  describe("pii()", function()
    it("redacts by default and reports types and action", function()
      local p = assert(barriers.pii({}))
      local text, info = p:apply("mail ana@example.com or call 555-867-5309")
      assert.equal("mail [EMAIL_REDACTED] or call [PHONE_REDACTED]", text)
      assert.same({ "email", "phone" }, info.pii_types)
      assert.equal("redact", info.action_taken)
      assert.equal(2, #info.matches)
    end)

    it("leaves clean text alone", function()
      local p = assert(barriers.pii({}))
      local text, info = p:apply("nothing to see")
      assert.equal("nothing to see", text)
      assert.same({}, info.pii_types)
      assert.equal("none", info.action_taken)
    end)

    it("warns without changing the text", function()
      local p = assert(barriers.pii({ action = "warn" }))
      local text, info = p:apply("ssn 123-45-6789")
      assert.equal("ssn 123-45-6789", text)
      assert.same({ "ssn" }, info.pii_types)
      assert.equal("warn", info.action_taken)
    end)

    it("rejects with PiiRejected naming the types", function()
      local p = assert(barriers.pii({ action = "reject" }))
      local text, err = p:apply("a@b.io and 123-45-6789 and c@d.io")
      assert.is_nil(text)
      assert.equal("PiiRejected", err.kind)
      assert.equal("content contains PII: email, ssn", err.message)
      assert.equal("PiiRejected: content contains PII: email, ssn", tostring(err))
      assert.same({ "email", "ssn" }, err.pii_types)
    end)

    it("applies type overrides (action and replacement)", function()
      local p = assert(barriers.pii({ action = "warn", type_overrides = {
        email = { action = "redact", replacement = "<email>" },
        ssn = { action = "reject" },
      } }))
      local text, info = p:apply("a@b.io 555-867-5309")
      assert.equal("<email> 555-867-5309", text)
      assert.equal("redact", info.action_taken)
      local _, err = p:apply("a@b.io 123-45-6789")
      assert.equal("content contains PII: ssn", err.message)
      p = assert(barriers.pii({ action = "reject", type_overrides = { phone = { action = "warn" } } }))
      text = p:apply("call 555-867-5309")
      assert.equal("call 555-867-5309", text)
    end)

    it("scans country packs; GB means UK", function()
      local p = assert(barriers.pii({ countries = { "GB", "sg" } }))
      local text, info = p:apply("NINO AB123456C NRIC S1234567D")
      assert.equal("NINO [NINO_REDACTED] NRIC [NRIC_REDACTED]", text)
      assert.same({ "uk_nino", "nric" }, info.pii_types)
    end)

    it("treats rules_then_llm, ner and llm as regex and disabled as off", function()
      for _, mode in ipairs({ "rules_then_llm", "ner", "llm", "regex" }) do
        local p = assert(barriers.pii({ mode = mode }))
        assert.equal("[EMAIL_REDACTED]", (p:apply("a@b.io")))
      end
      local p = assert(barriers.pii({ mode = "disabled", action = "reject" }))
      local text, info = p:apply("a@b.io")
      assert.equal("a@b.io", text)
      assert.equal("none", info.action_taken)
      assert.same({}, p:scan("a@b.io"))
    end)

    it("returns ConfigError naming the key path", function()
      local function msg(conf)
        local p, err = barriers.pii(conf)
        assert.is_nil(p)
        assert.equal("ConfigError", err.kind)
        return err.message, err.key_path
      end
      assert.equal("barriers.pii.mode: unknown mode 'fast' (expected regex, ner, llm, rules_then_llm or disabled)", msg({ mode = "fast" }))
      assert.equal("barriers.pii.action: unknown action 'drop' (expected redact, reject or warn)", msg({ action = "drop" }))
      assert.equal("barriers.pii.type_overrides.mail: unknown PII type 'mail'", msg({ type_overrides = { mail = { action = "warn" } } }))
      assert.equal("barriers.pii.type_overrides.email.action: unknown action 'x' (expected redact, reject or warn)",
                   msg({ type_overrides = { email = { action = "x" } } }))
      local m, kp = msg({ countries = { "XX" } })
      assert.equal("barriers.pii.countries", kp)
      assert.matches("unknown country code 'XX'", m, 1, true)
    end)
  end)

  describe("validator()", function()
    local v
    before_each(function() v = assert(barriers.validator({})) end)

    it("accepts text within limits", function()
      assert.is_true(v:validate("hello", "text"))
      assert.is_true(v:validate("hello", "document"))
      assert.is_true(v:validate("hello"))
    end)

    it("uses the reference's error strings, joined with '; '", function()
      local ok, err = v:validate(" \n\t", "text")
      assert.is_nil(ok)
      assert.equal("ValidationError", err.kind)
      assert.equal("Content is empty", err.message)
      ok, err = v:validate("x", "email")
      assert.equal("Content type 'email' not allowed. Allowed: ['text', 'conversation', 'document']", err.message)
      local small = assert(barriers.validator({ max_content_length = 3, allowed_content_types = { "text" } }))
      ok, err = small:validate("h\195\169llo", "event")
      assert.equal("Content too long: 5 > 3; Content type 'event' not allowed. Allowed: ['text']", err.message)
      assert.same({ "Content too long: 5 > 3", "Content type 'event' not allowed. Allowed: ['text']" }, err.errors)
    end)

    it("can allow empty content", function()
      local lax = assert(barriers.validator({ reject_empty_content = false }))
      assert.is_true(lax:validate("", "text"))
    end)
  end)

  describe("sanitizer()", function()
    local s
    before_each(function() s = assert(barriers.sanitizer({})) end)

    it("drops blocked keys by the segment rule", function()
      local md, w = s:sanitize({ auth_token = "x", ["db.password"] = "p", API_KEY = "k", tokens = 3, secretary = "ok", topic = "t" })
      assert.same({ tokens = 3, secretary = "ok", topic = "t" }, md)
      assert.same({ "Blocked metadata key: 'API_KEY'", "Blocked metadata key: 'auth_token'", "Blocked metadata key: 'db.password'" }, w)
    end)

    it("returns nil for nil or emptied metadata", function()
      local md, w = s:sanitize(nil)
      assert.is_nil(md)
      assert.same({}, w)
      md, w = s:sanitize({ password = "x" })
      assert.is_nil(md)
      assert.same({ "Blocked metadata key: 'password'" }, w)
    end)

    it("drops keys z to a until the JSON fits", function()
      -- json.dumps({"a": "xx", "b": "yy", "c": "zz"}) is 33 bytes; without
      -- "c" it is 22.
      assert.equal(33, barriers._json_size({ a = "xx", b = "yy", c = "zz" }))
      local small = assert(barriers.sanitizer({ max_metadata_size_bytes = 22 }))
      local md, w = small:sanitize({ a = "xx", b = "yy", c = "zz" })
      assert.same({ a = "xx", b = "yy" }, md)
      assert.same({ "Metadata exceeds 22 bytes, truncated" }, w)
      md = assert(barriers.sanitizer({ max_metadata_size_bytes = 21 })):sanitize({ a = "xx", b = "yy", c = "zz" })
      assert.same({ a = "xx" }, md)
      assert.equal(15, barriers._json_size({ k = "\195\169" }))  -- {"k": "\u00e9"}
      assert.equal(21, barriers._json_size({ n = 1.5, t = true }))
    end)
  end)

  describe("new()", function()
    it("builds all three from the barriers section", function()
      local b = assert(barriers.new({ pii = { action = "warn" }, validation = { max_content_length = 10 }, metadata = { blocked_keys = { "pin" } } }))
      assert.equal("a@b.io", (b:apply("a@b.io")))
      local _, err = b:validate("01234567890")
      assert.equal("Content too long: 11 > 10", err.message)
      local md = b:sanitize_metadata({ pin = 1, password = 2 })
      assert.same({ password = 2 }, md)
      assert.equal(1, #b:scan("a@b.io"))
    end)
  end)
end)
