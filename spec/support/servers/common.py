"""Shared plumbing of the loopback servers the provider specs start.

Each server script (openai_server.py, qdrant_server.py, ...) subclasses
Handler, implements the part of its product's REST API the provider uses, and
calls serve(). Python 3 standard library only.

Every server:
  * binds 127.0.0.1 on --port (0 = a free port) and prints "READY <port>";
  * speaks HTTP/1.1 with keep-alive (connection reuse is measurable);
  * checks --api-key when given (401 otherwise; the 401 body echoes the key
    it received, as careless servers do, so specs can prove redaction);
  * exits when --parent-pid dies, so a crashed spec leaves nothing behind;
  * has an admin API under /__admin/:
      POST /__admin/faults {"kind": "429"|"500"|"503"|"delay"|"reset"|
           "malformed"|"close", "count": N, "path": "substring",
           "retry_after": "1", "delay_ms": 1500,
           "skip": N}                           queue a fault (after N matches)
      GET  /__admin/stats  -> {"requests": n, "by_path": {...}, "faults_left": n}
      POST /__admin/reset  -> clears data, faults and stats
"""
import argparse
import json
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs


class State:
    def __init__(self):
        self.lock = threading.RLock()
        self.faults = []
        self.requests = 0
        self.by_path = {}
        self.api_key = None
        self.auth = "bearer"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None          # set by serve()
    routes = []           # [(method, compiled-or-str prefix, fn)] set by subclasses

    def log_message(self, fmt, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without NODELAY,
        # Nagle plus the client's delayed ACK add ~40 ms to every reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- helpers ---------------------------------------------------------
    def body_json(self):
        raw = self.raw
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise BadRequest("request body is not valid JSON")

    def send(self, status, obj=None, raw=None, headers=None, ctype="application/json"):
        data = raw if raw is not None else (b"" if obj is None else json.dumps(obj).encode())
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def query(self):
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def path_only(self):
        return urlsplit(self.path).path

    # -- auth and faults -------------------------------------------------
    def presented_key(self):
        h = self.headers
        for name in ("Authorization", "api-key", "x-api-key"):
            v = h.get(name)
            if v:
                parts = v.split(" ", 1)
                return parts[1] if len(parts) == 2 and parts[0] in ("Bearer", "Token", "Api-Key", "Basic", "ApiKey") else v
        return None

    def check_auth(self):
        key = self.state.api_key
        if key is None:
            return True
        got = self.presented_key()
        if got == key:
            return True
        self.send(401, {"error": {"message": "Incorrect API key provided: %s" % got, "type": "invalid_request_error"}})
        return False

    def take_fault(self):
        st = self.state
        with st.lock:
            for f in st.faults:
                if f.get("count", 1) > 0 and f.get("path", "") in self.path:
                    if f.get("skip", 0) > 0:  # let the first `skip` matches through
                        f["skip"] -= 1
                        return None
                    f["count"] = f.get("count", 1) - 1
                    if f["count"] <= 0:
                        st.faults.remove(f)
                    return f
        return None

    def apply_fault(self, f):
        kind = str(f.get("kind"))
        if kind == "delay":
            time.sleep(f.get("delay_ms", 1000) / 1000.0)
            return False
        self.drain()
        if kind == "reset":
            # RST instead of FIN: the client sees "connection reset".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return True
        if kind == "close":
            self.close_connection = True
            return True
        if kind not in ("malformed",) and not kind.isdigit():
            self.fault = f  # product-specific fault, handled by the route
            return False
        if kind == "malformed":
            self.send(200, raw=b'{"data": [ {"embedding": [0.1, ')
            return True
        status = int(kind)
        hdrs = {}
        if "retry_after" in f:
            hdrs["Retry-After"] = str(f["retry_after"])
        self.send(status, {"error": {"message": "injected fault %d" % status}}, headers=hdrs)
        return True

    def drain(self):
        pass  # handle_any reads every request body up front

    # -- dispatch --------------------------------------------------------
    def handle_any(self):
        # Read the whole body first, so that any early reply (401, fault,
        # 404) leaves the keep-alive connection in sync.
        n = int(self.headers.get("Content-Length") or 0)
        self.raw = self.rfile.read(n) if n else b""
        path = self.path_only()
        if path.startswith("/__admin/"):
            return self.admin(path)
        st = self.state
        with st.lock:
            st.requests += 1
            st.by_path[path] = st.by_path.get(path, 0) + 1
        self.fault = None
        f = self.take_fault()
        if f and self.apply_fault(f):
            return
        if not self.check_auth():
            return
        try:
            for method, prefix, fn in self.routes:
                if method != self.command:
                    continue
                m = prefix.match(path) if hasattr(prefix, "match") else (path == prefix and True)
                if m:
                    groups = m.groups() if hasattr(m, "groups") else ()
                    return fn(self, *groups)
            self.send(404, {"error": "no route for %s %s" % (self.command, path)})
        except BadRequest as e:
            self.send(400, {"error": str(e)})

    def admin(self, path):
        st = self.state
        if path == "/__admin/faults":
            f = self.body_json() or {}
            with st.lock:
                st.faults.append(f)
            return self.send(200, {"ok": True})
        if path == "/__admin/stats":
            with st.lock:
                return self.send(200, {"requests": st.requests, "by_path": st.by_path,
                                       "faults_left": sum(f.get("count", 1) for f in st.faults)})
        if path == "/__admin/reset":
            self.drain()
            with st.lock:
                st.faults, st.requests, st.by_path = [], 0, {}
                self.reset_data()
            return self.send(200, {"ok": True})
        self.send(404, {"error": "unknown admin path"})

    def reset_data(self):
        pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class BadRequest(Exception):
    pass


def watch_parent(pid):
    while True:
        time.sleep(0.5)
        try:
            os.kill(pid, 0)
        except OSError:
            os._exit(0)


def serve(handler_cls, extra_args=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--api-key")
    ap.add_argument("--parent-pid", type=int)
    for a, kw in (extra_args or []):
        ap.add_argument(a, **kw)
    args = ap.parse_args()
    st = State()
    st.api_key = args.api_key
    st.args = args
    handler_cls.state = st
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.request_queue_size = 128
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), handler_cls)
    if hasattr(handler_cls, "setup_state"):
        handler_cls.setup_state(st, args)
    if args.parent_pid:
        threading.Thread(target=watch_parent, args=(args.parent_pid,), daemon=True).start()
    print("READY %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
