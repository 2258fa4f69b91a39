"""Loopback Mem0: the platform REST API (v1) and the open-source server's
routes, as the mem0 provider uses them. Memories are stored verbatim
(infer=false) and searched by cosine of hashed bag-of-words vectors.
Platform (Authorization: Token <key>):
  GET  /v1/ping/
  POST /v1/memories/            {messages, user_id, metadata, infer} -> [{id, data: {memory}, event}]
  POST /v1/memories/search/     {query, user_id, top_k}               -> [{id, memory, score, metadata, ...}]
  GET  /v1/memories/?user_id=   -> [{...}]
  DELETE /v1/memories/{id}/     -> {"message": "Memory deleted successfully!"} | 404
  DELETE /v1/memories/?user_id= -> {"message": "Memories deleted successfully!"}
OSS server: POST /memories, POST /search, GET /memories?user_id=,
DELETE /memories/{id}, DELETE /memories?user_id= with {"results": [...]}."""
import re
import time
import uuid
from datetime import datetime, timezone

from common import Handler, BadRequest, serve
from openai_server import embed


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Mem0(Handler):
    def ping(self):
        self.send(200, {"status": "ok", "org_id": "org-test", "project_id": "proj-test"})

    def add(self, oss=False):
        b = self.body_json() or {}
        msgs = b.get("messages")
        uid = b.get("user_id")
        if not isinstance(msgs, list) or not msgs:
            raise BadRequest("messages must be a non-empty list")
        if not uid and not b.get("agent_id") and not b.get("run_id"):
            raise BadRequest("One of the filters: app_id, user_id, agent_id, run_id is required!")
        out = []
        with self.state.lock:
            for m in msgs:
                mid = str(uuid.uuid4())
                rec = {"id": mid, "memory": m.get("content", ""), "user_id": uid, "metadata": b.get("metadata") or {},
                       "created_at": now(), "updated_at": now(), "vec": embed(m.get("content", ""), 64)[0]}
                self.state.mems[mid] = rec
                out.append({"id": mid, "data": {"memory": rec["memory"]}, "event": "ADD"})
        if oss:
            return self.send(200, {"results": [{"id": o["id"], "memory": o["data"]["memory"], "event": "ADD"} for o in out]})
        self.send(200, out)

    def public(self, rec, score=None):
        r = {k: v for k, v in rec.items() if k != "vec"}
        if score is not None:
            r["score"] = score
        return r

    def search(self, oss=False):
        b = self.body_json() or {}
        q, uid = b.get("query"), b.get("user_id")
        if not isinstance(q, str):
            raise BadRequest("query is required")
        k = int(b.get("top_k") or b.get("limit") or 10)
        qv = embed(q, 64)[0]
        hits = []
        for rec in list(self.state.mems.values()):
            if uid and rec["user_id"] != uid:
                continue
            s = sum(x * y for x, y in zip(qv, rec["vec"]))
            hits.append((s, rec))
        hits.sort(key=lambda h: -h[0])
        res = [self.public(r, round(s, 6)) for s, r in hits[:k]]
        self.send(200, {"results": res} if oss else res)

    def list(self, oss=False):
        uid = self.query().get("user_id")
        res = [self.public(r) for r in self.state.mems.values() if not uid or r["user_id"] == uid]
        self.send(200, {"results": res} if oss else res)

    def delete_one(self, mid, oss=False):
        with self.state.lock:
            if self.state.mems.pop(mid, None) is None:
                return self.send(404, {"detail": "Memory not found"})
        self.send(200, {"message": "Memory deleted successfully!"})

    def delete_all(self, oss=False):
        uid = self.query().get("user_id")
        if not uid:
            raise BadRequest("At least one filter is required to delete all memories")
        with self.state.lock:
            for mid in [m for m, r in self.state.mems.items() if r["user_id"] == uid]:
                del self.state.mems[mid]
        self.send(200, {"message": "Memories deleted successfully!"})

    def reset_data(self):
        self.state.mems = {}

    @staticmethod
    def setup_state(st, args):
        st.mems = {}


Mem0.routes = [
    ("GET", "/v1/ping/", Mem0.ping),
    ("POST", "/v1/memories/", Mem0.add),
    ("POST", "/v1/memories/search/", Mem0.search),
    ("GET", "/v1/memories/", Mem0.list),
    ("DELETE", "/v1/memories/", Mem0.delete_all),
    ("DELETE", re.compile(r"^/v1/memories/([^/]+)/$"), Mem0.delete_one),
    ("POST", "/memories", lambda h: Mem0.add(h, True)),
    ("POST", "/search", lambda h: Mem0.search(h, True)),
    ("GET", "/memories", lambda h: Mem0.list(h, True)),
    ("DELETE", "/memories", lambda h: Mem0.delete_all(h, True)),
    ("DELETE", re.compile(r"^/memories/([^/]+)$"), lambda h, mid: Mem0.delete_one(h, mid, True)),
    ("GET", "/docs", lambda h: h.send(200, {"ok": True})),
]

if __name__ == "__main__":
    serve(Mem0)
