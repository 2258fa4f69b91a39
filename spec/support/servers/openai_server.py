"""Loopback OpenAI-compatible server: POST /v1/embeddings,
POST /v1/chat/completions, GET /v1/models (also without the /v1 prefix, as a
LiteLLM proxy serves them). Embeddings are deterministic hashed
bag-of-words vectors (--dims, default 64; a request's "dimensions" wins), so
texts sharing words are close. Chat returns "echo: <last user text>", a tool
call when tools are offered, or a JSON object when response_format asks.
Token usage counts words."""
import json
import math
import re
import zlib

from common import Handler, BadRequest, serve

WORD = re.compile(r"[a-z0-9]+")


def embed(text, dims):
    v = [0.0] * dims
    words = WORD.findall(text.lower())
    for w in words:
        h = zlib.crc32(w.encode())
        v[h % dims] += 1.0 if (h >> 16) & 1 else -1.0
    n = math.sqrt(sum(x * x for x in v))
    if n == 0:
        v[0], n = 1.0, 1.0
    return [round(x / n, 6) for x in v], len(words)


def words(s):
    return len(WORD.findall(str(s).lower()))


def text_of(content):
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content or ""


class OpenAI(Handler):
    def embeddings(self):
        b = self.body_json() or {}
        inp = b.get("input")
        if isinstance(inp, str):
            inp = [inp]
        if not isinstance(inp, list) or not all(isinstance(x, str) for x in inp):
            raise BadRequest("input must be a string or an array of strings")
        if len(inp) > 2048:
            raise BadRequest("too many inputs: %d > 2048" % len(inp))
        if not b.get("model"):
            raise BadRequest("model is required")
        dims = int(b.get("dimensions") or self.state.args.dims)
        data, tokens = [], 0
        for i, t in enumerate(inp):
            vec, n = embed(t, dims)
            tokens += n
            data.append({"object": "embedding", "index": i, "embedding": vec})
        with self.state.lock:
            self.state.embedded += len(inp)
        self.send(200, {"object": "list", "data": data, "model": b["model"],
                        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def chat(self):
        b = self.body_json() or {}
        msgs = b.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise BadRequest("messages must be a non-empty array")
        last = ""
        for m in msgs:
            if m.get("role") == "user":
                last = text_of(m.get("content"))
        prompt = sum(words(text_of(m.get("content"))) for m in msgs)
        message = {"role": "assistant", "content": "echo: " + last}
        finish = "stop"
        tools = b.get("tools") or []
        choice = b.get("tool_choice", "auto")
        if tools and choice != "none":
            name = tools[0]["function"]["name"]
            if isinstance(choice, dict):
                name = choice["function"]["name"]
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": name, "arguments": json.dumps({"query": last})}}]}
            finish = "tool_calls"
        elif (b.get("response_format") or {}).get("type") in ("json_object", "json_schema"):
            message["content"] = json.dumps({"answer": last})
        out = words(message["content"] or "")
        self.send(200, {"id": "chatcmpl-1", "object": "chat.completion", "model": b.get("model", "test"),
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                        "usage": {"prompt_tokens": prompt, "completion_tokens": out,
                                  "total_tokens": prompt + out}})

    def models(self):
        self.send(200, {"object": "list", "data": [{"id": "test-embed", "object": "model"},
                                                   {"id": "test-chat", "object": "model"}]})

    def stats_extra(self):
        self.send(200, {"embedded": self.state.embedded})

    def reset_data(self):
        self.state.embedded = 0

    @staticmethod
    def setup_state(st, args):
        st.embedded = 0


OpenAI.routes = [
    ("POST", re.compile(r"^(?:/v1)?/embeddings$"), OpenAI.embeddings),
    ("POST", re.compile(r"^(?:/v1)?/chat/completions$"), OpenAI.chat),
    ("GET", re.compile(r"^(?:/v1)?/models$"), OpenAI.models),
    ("GET", "/__stats", OpenAI.stats_extra),
    ("GET", "/health/liveliness", lambda h: h.send(200, raw=b'"I\'m alive!"')),
]

if __name__ == "__main__":
    serve(OpenAI, [("--dims", {"type": int, "default": 64})])
