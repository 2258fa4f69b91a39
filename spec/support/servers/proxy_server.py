"""Loopback HTTP forward proxy that counts what passes through it.

Plain-HTTP absolute-URI forwarding (GET http://host:port/path HTTP/1.1) is
enough for the specs: every request is forwarded to the origin with its
method, headers (minus hop-by-hop ones) and body, and the response is
relayed. CONNECT host:port opens a tunnel (counted in "tunnels"; with
--refuse-connect it is answered 405).
Admin (addressed to the proxy itself, origin-form):
  GET  /__admin/stats -> {"requests": n, "by_host": {...}, "proxy_auth": [...]}
  POST /__admin/reset
--require-auth TOKEN makes requests without "Proxy-Authorization: Bearer
TOKEN" fail with 407. Proxy-Authorization is never forwarded upstream."""
import argparse
import http.client
import select
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailers",
       "transfer-encoding", "upgrade", "content-length"}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    stats = {"requests": 0, "by_host": {}, "proxy_auth": 0, "forwarded_auth_headers": 0, "tunnels": 0}
    token = None
    refuse_connect = False

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def admit(self, counter, host):
        """Counts a request for host; False (after a 407) when auth fails."""
        pa = self.headers.get("Proxy-Authorization")
        with self.lock:
            self.stats[counter] += 1
            self.stats["by_host"][host] = self.stats["by_host"].get(host, 0) + 1
            if pa:
                self.stats["proxy_auth"] += 1
        if self.token and pa != "Bearer " + self.token:
            self.reply(407, {"error": "proxy authentication required"})
            return False
        return True

    def do_CONNECT(self):
        if self.refuse_connect:
            return self.reply(405, {"error": "CONNECT refused by the test proxy"})
        if not self.admit("tunnels", self.path):
            return
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=30)
        except Exception as e:
            return self.reply(502, {"error": "upstream: %s" % e})
        self.send_response(200, "Connection Established")
        self.end_headers()
        self.wfile.flush()
        # relay bytes both ways until either side closes
        socks = [self.connection, upstream]
        try:
            while True:
                readable, _, _ = select.select(socks, [], [], 30)
                if not readable:
                    break
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        raise EOFError
                    (upstream if s is self.connection else self.connection).sendall(data)
        except (EOFError, OSError):
            pass
        finally:
            upstream.close()
            self.close_connection = True

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if not self.path.startswith("http://"):
            if self.path == "/__admin/stats":
                with self.lock:
                    return self.reply(200, self.stats)
            if self.path == "/__admin/reset":
                with self.lock:
                    Proxy.stats = {"requests": 0, "by_host": {}, "proxy_auth": 0, "forwarded_auth_headers": 0,
                                   "tunnels": 0}
                return self.reply(200, {"ok": True})
            return self.reply(400, {"error": "not an absolute-URI proxy request"})
        u = urlsplit(self.path)
        if not self.admit("requests", u.netloc):
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
        try:
            path = u.path + ("?" + u.query if u.query else "")
            conn.request(self.command, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
        except Exception as e:  # origin died or reset: 502 like a real proxy
            return self.reply(502, {"error": "upstream: %s" % e})
        finally:
            conn.close()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--parent-pid", type=int)
    ap.add_argument("--require-auth")
    ap.add_argument("--refuse-connect", action="store_true")
    args = ap.parse_args()
    Proxy.token = args.require_auth
    Proxy.refuse_connect = args.refuse_connect
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Proxy)
    if args.parent_pid:
        def watch():
            while True:
                time.sleep(0.5)
                try:
                    os.kill(args.parent_pid, 0)
                except OSError:
                    os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    print("READY %d" % srv.server_address[1], flush=True)
    srv.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
