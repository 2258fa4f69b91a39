"""Loopback Zep (v2 sessions API) as the zep provider uses it
(Authorization: Api-Key <key>):
  GET  /healthz
  POST /api/v2/users {user_id}                      (400 if it exists)
  POST /api/v2/sessions {session_id, user_id}       (400 if it exists, 404 unknown user)
  POST /api/v2/sessions/{id}/memory {messages: [{role_type, role, content, metadata}]}
  POST /api/v2/sessions/search?limit=N {text, session_ids, search_scope: "messages"}
       -> {"results": [{"message": {uuid, content, role_type, metadata, created_at}, "score", "session_id"}]}
  DELETE /api/v2/sessions/{id}/memory
Messages are scored by cosine of hashed bag-of-words vectors."""
import re
import uuid
from datetime import datetime, timezone

from common import Handler, BadRequest, serve
from openai_server import embed


class Zep(Handler):
    def health(self):
        self.send(200, raw=b".", ctype="text/plain")

    def add_user(self):
        b = self.body_json() or {}
        uid = b.get("user_id")
        if not uid:
            raise BadRequest("user_id is required")
        with self.state.lock:
            if uid in self.state.users:
                return self.send(400, {"message": "user already exists"})
            self.state.users.add(uid)
        self.send(201, {"user_id": uid, "uuid": str(uuid.uuid4())})

    def add_session(self):
        b = self.body_json() or {}
        sid, uid = b.get("session_id"), b.get("user_id")
        if not sid or not uid:
            raise BadRequest("session_id and user_id are required")
        with self.state.lock:
            if uid not in self.state.users:
                return self.send(404, {"message": "user not found"})
            if sid in self.state.sessions:
                return self.send(400, {"message": "session already exists"})
            self.state.sessions[sid] = []
        self.send(201, {"session_id": sid, "user_id": uid})

    def add_memory(self, sid):
        b = self.body_json() or {}
        msgs = b.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise BadRequest("messages must be a non-empty list")
        with self.state.lock:
            if sid not in self.state.sessions:
                return self.send(404, {"message": "session not found"})
            for m in msgs:
                if not m.get("role_type") or not isinstance(m.get("content"), str):
                    raise BadRequest("each message needs role_type and content")
                self.state.sessions[sid].append({
                    "uuid": str(uuid.uuid4()), "content": m["content"], "role_type": m["role_type"],
                    "role": m.get("role"), "metadata": m.get("metadata") or {},
                    "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                    "vec": embed(m["content"], 64)[0]})
        self.send(200, {"message": "OK"})

    def search(self):
        b = self.body_json() or {}
        text = b.get("text")
        if not isinstance(text, str) or not text:
            raise BadRequest("text is required")
        limit = int(self.query().get("limit") or 10)
        qv = embed(text, 64)[0]
        hits = []
        for sid in b.get("session_ids") or list(self.state.sessions):
            for m in self.state.sessions.get(sid, []):
                s = sum(x * y for x, y in zip(qv, m["vec"]))
                hits.append((s, sid, m))
        hits.sort(key=lambda h: -h[0])
        self.send(200, {"results": [{"message": {k: v for k, v in m.items() if k != "vec"},
                                     "score": round(s, 6), "session_id": sid} for s, sid, m in hits[:limit]]})

    def delete_memory(self, sid):
        with self.state.lock:
            if sid not in self.state.sessions:
                return self.send(404, {"message": "session not found"})
            self.state.sessions[sid] = []
        self.send(200, {"message": "OK"})

    def reset_data(self):
        self.state.users, self.state.sessions = set(), {}

    @staticmethod
    def setup_state(st, args):
        st.users, st.sessions = set(), {}


Zep.routes = [
    ("GET", "/healthz", Zep.health),
    ("POST", "/api/v2/users", Zep.add_user),
    ("POST", "/api/v2/sessions", Zep.add_session),
    ("POST", "/api/v2/sessions/search", Zep.search),
    ("POST", re.compile(r"^/api/v2/sessions/([^/]+)/memory$"), Zep.add_memory),
    ("DELETE", re.compile(r"^/api/v2/sessions/([^/]+)/memory$"), Zep.delete_memory),
]

if __name__ == "__main__":
    serve(Zep)
