"""Loopback Open Policy Agent: the Data API as the opa provider uses it.
  PUT  /v1/data/astrocyte/rules   [{principal, bank_id, permissions, effect}]  (store rules, 204)
  POST /v1/data/astrocyte/allow   {"input": {...}} -> {"result": bool}
  POST /v1/data/astrocyte/decision {"input": {...}} -> {"result": {"allow": bool, "reason": str}}
  POST /v1/data/<other>           {"input": ...}   -> {} (undefined decision)
  GET  /health                    -> {}
The policy: the first rule whose principal and bank_id globs ("*" = any run)
match and whose permissions contain input.reference_permission (or "*")
decides; effect defaults to allow; no rule => false."""
import fnmatch
import re

from common import Handler, BadRequest, serve


class Opa(Handler):
    @classmethod
    def setup_state(cls, st, args):
        st.rules = []

    def reset_data(self):
        self.state.rules = []

    def put_rules(self):
        b = self.body_json()
        if not isinstance(b, list):
            raise BadRequest("rules must be a JSON array")
        with self.state.lock:
            self.state.rules = b
        self.send(204)

    def decide(self, inp):
        perm = inp.get("reference_permission") or inp.get("permission")
        for i, r in enumerate(self.state.rules):
            if fnmatch.fnmatchcase(inp.get("principal", ""), r.get("principal", "")) and \
               fnmatch.fnmatchcase(inp.get("bank_id", ""), r.get("bank_id", "")):
                perms = r.get("permissions", [])
                if "*" in perms or perm in perms:
                    allow = r.get("effect", "allow") == "allow"
                    return allow, "rule %d" % (i + 1)
        return False, "no rule matched"

    def data(self, path):
        b = self.body_json() or {}
        inp = b.get("input")
        if not isinstance(inp, dict):
            raise BadRequest("input must be an object")
        if path == "astrocyte/allow":
            allow, _ = self.decide(inp)
            return self.send(200, {"result": allow})
        if path == "astrocyte/decision":
            allow, reason = self.decide(inp)
            return self.send(200, {"result": {"allow": allow, "reason": reason}})
        self.send(200, {})

    def health(self):
        self.send(200, {})


Opa.routes = [
    ("PUT", "/v1/data/astrocyte/rules", Opa.put_rules),
    ("POST", re.compile(r"^/v1/data/(.+)$"), Opa.data),
    ("GET", "/health", Opa.health),
]

if __name__ == "__main__":
    serve(Opa)
