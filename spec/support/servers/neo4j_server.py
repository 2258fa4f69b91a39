"""Loopback Neo4j: the HTTP transactional Cypher endpoint the neo4j provider
uses, over an in-memory property graph evaluated by a real (small) Cypher
interpreter (cypher.py + cypher_eval.py), not a table of known statements.

  POST /db/{database}/tx/commit
       {"statements": [{"statement": "...", "parameters": {...}}, ...]}
    -> 200 {"results": [{"columns": [...], "data": [{"row": [...], "meta": [...]}]}],
            "errors": [{"code": "Neo.ClientError....", "message": "..."}],
            "lastBookmarks": [...]}
  GET  /  -> discovery document

As in Neo4j, a request is one transaction: statements run in order, the
first failing statement stops the request, its error goes to "errors", the
results of the statements before it are returned, and every change of the
request is rolled back. Unknown database -> 404 DatabaseNotFound; a bad or
missing Authorization (Basic --user/--password, or Bearer --token) -> 401
with a Neo.ClientError.Security.Unauthorized entry that echoes the
credential it received (as a careless server might; specs prove redaction).
Faults through the common admin API (429/5xx/malformed/reset/delay/close),
plus {"kind": "neo_error", "code": ..., "message": ...}: a 200 reply whose
"errors" holds that entry (e.g. a Neo.TransientError).
"""
import base64
import copy
import json
import re

from common import Handler, serve
from cypher import CypherError
from cypher_eval import Executor, Graph, meta_of, to_json


def neo_error(code, message):
    return {"code": code, "message": message}


class Neo4j(Handler):
    def check_auth(self):
        args = self.state.args
        if not args.password and not args.token:
            return True
        got = self.headers.get("Authorization") or ""
        ok = False
        if got.startswith("Basic ") and args.password:
            try:
                ok = base64.b64decode(got[6:]).decode() == "%s:%s" % (args.user, args.password)
            except (ValueError, UnicodeDecodeError):
                ok = False
        elif got.startswith("Bearer ") and args.token:
            ok = got[7:] == args.token
        if ok:
            return True
        msg = "The client is unauthorized due to authentication failure." if got else "No authentication header supplied."
        if got:
            msg += " (received %s)" % got
        self.send(401, {"errors": [neo_error("Neo.ClientError.Security.Unauthorized", msg)]},
                  headers={"WWW-Authenticate": 'Basic realm="Neo4j"'})
        return False

    def discovery(self):
        self.send(200, {"bolt_direct": "bolt://127.0.0.1:7687", "transaction": "http://%s/db/{databaseName}/tx"
                        % self.headers.get("Host", "127.0.0.1"), "neo4j_version": "5.20.0-loopback",
                        "neo4j_edition": "community"})

    def commit(self, db):
        f = self.fault
        if f and f.get("kind") == "neo_error":  # product fault: an error entry in a 200 reply
            return self.send(200, {"results": [], "errors": [neo_error(
                f.get("code", "Neo.TransientError.Transaction.DeadlockDetected"), f.get("message", "injected"))]})
        if db not in self.state.graphs:
            return self.send(404, {"results": [], "errors": [neo_error(
                "Neo.ClientError.Database.DatabaseNotFound", "Database does not exist. Database name: '%s'." % db)]})
        try:
            body = json.loads(self.raw or b"{}")
        except ValueError as e:
            return self.send(400, {"results": [], "errors": [neo_error(
                "Neo.ClientError.Request.InvalidFormat", "Unable to deserialize request: %s" % e)]})
        stmts = body.get("statements") if isinstance(body, dict) else None
        if not isinstance(stmts, list):
            return self.send(400, {"results": [], "errors": [neo_error(
                "Neo.ClientError.Request.InvalidFormat", "Unable to deserialize request: expected {\"statements\": [...]}")]})
        results, errors = [], []
        st = self.state
        with st.lock:
            graph = st.graphs[db]
            snapshot = copy.deepcopy(graph)
            for s in stmts:
                if not isinstance(s, dict) or not isinstance(s.get("statement"), str):
                    errors.append(neo_error("Neo.ClientError.Request.InvalidFormat", "statement must be a string"))
                    break
                params = s.get("parameters") or {}
                if not isinstance(params, dict):
                    errors.append(neo_error("Neo.ClientError.Request.InvalidFormat", "parameters must be a map"))
                    break
                try:
                    columns, rows = Executor(graph, params).run(s["statement"])
                except CypherError as e:
                    errors.append(neo_error(e.code, e.message))
                    break
                except RecursionError:
                    errors.append(neo_error("Neo.DatabaseError.General.UnknownError", "statement too deeply nested"))
                    break
                st.statements.append(s["statement"])
                results.append({"columns": columns,
                                "data": [{"row": [to_json(v) for v in r], "meta": [meta_of(v) for v in r]}
                                         for r in rows]})
            if errors:
                st.graphs[db] = snapshot
            else:
                st.tx += 1
        self.send(200, {"results": results, "errors": errors,
                        "lastBookmarks": ["FB:loopback-%d" % st.tx]})

    def statements(self):
        # Test hook: the statements executed so far (proves parameters, not
        # interpolation, carry the values).
        with self.state.lock:
            self.send(200, {"statements": list(self.state.statements)})

    def reset_data(self):
        self.setup_state(self.state, self.state.args)

    @staticmethod
    def setup_state(st, args):
        st.graphs = {name: Graph() for name in args.databases.split(",")}
        st.statements, st.tx = [], 0


Neo4j.routes = [
    ("GET", "/", Neo4j.discovery),
    ("GET", "/__test/statements", Neo4j.statements),
    ("POST", re.compile(r"^/db/([A-Za-z0-9._\-]+)/tx/commit$"), Neo4j.commit),
]

if __name__ == "__main__":
    serve(Neo4j, [("--user", {"default": "neo4j"}), ("--password", {}), ("--token", {}),
                  ("--databases", {"default": "neo4j,system"})])
