"""Loopback webhook receiver for the event-hook and webhook-sink specs.

Accepts POST (or PUT) on any path outside /__admin/ and verifies the
Astrocyte signing scheme exactly as a real receiver should:
  * X-Astrocyte-Timestamp: unix seconds, within --window (default 300) s
    of now, else 401 "stale timestamp";
  * X-Astrocyte-Signature: "sha256=" + hex HMAC-SHA256(--secret,
    timestamp + "." + raw body), compared in constant time, else 401
    "bad signature";
  * the body's event_id (or, without one, the signature) not seen before,
    else 409 "replay".
Without --secret the signature and timestamp checks are skipped (only the
replay check runs). Accepted requests answer 204 and are recorded; faults
(500s, delays, resets) come from common.py's admin API and are applied
before verification, so an injected 500 records nothing.

Extra admin endpoint:
  GET /__admin/received -> {"accepted": [{"path", "event_id", "body", "raw",
                            "timestamp", "signature", "event", "method",
                            "content_type"}], "rejected":
                            [{"path", "reason"}]}
"""
import hashlib
import hmac
import json
import time

from common import Handler, serve


class Receiver(Handler):
    @staticmethod
    def setup_state(st, args):
        st.secret = args.secret
        st.window = args.window
        Receiver.reset_state(st)

    @staticmethod
    def reset_state(st):
        st.accepted, st.rejected, st.seen = [], [], set()

    def reset_data(self):
        Receiver.reset_state(self.state)

    def reject(self, status, reason):
        st = self.state
        with st.lock:
            st.rejected.append({"path": self.path_only(), "reason": reason})
        self.send(status, {"error": reason})

    def receive(self):
        st = self.state
        raw = self.raw
        ts = self.headers.get("X-Astrocyte-Timestamp")
        if st.secret is not None:
            sig = self.headers.get("X-Astrocyte-Signature") or ""
            if not ts or not ts.isdigit():
                return self.reject(401, "missing timestamp")
            want = "sha256=" + hmac.new(st.secret.encode(), ts.encode() + b"." + raw,
                                        hashlib.sha256).hexdigest()
            if not hmac.compare_digest(want, sig):
                return self.reject(401, "bad signature")
            if abs(time.time() - int(ts)) > st.window:
                return self.reject(401, "stale timestamp")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        key = None
        if isinstance(body, dict):
            key = body.get("event_id")
        if key is None:
            key = self.headers.get("X-Astrocyte-Signature") or raw.decode("utf-8", "replace")
        with st.lock:
            if key in st.seen:
                replay = True
            else:
                replay = False
                st.seen.add(key)
                st.accepted.append({"path": self.path_only(), "event_id": key if isinstance(key, str) else None,
                                    "body": body, "raw": raw.decode("utf-8", "replace"),
                                    "timestamp": ts, "method": self.command,
                                    "signature": self.headers.get("X-Astrocyte-Signature"),
                                    "event": self.headers.get("X-Astrocyte-Event"),
                                    "content_type": self.headers.get("Content-Type")})
        if replay:
            return self.reject(409, "replay")
        self.send(204)

    def handle_any(self):
        if self.path_only() == "/__admin/received":
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            st = self.state
            with st.lock:
                return self.send(200, {"accepted": st.accepted, "rejected": st.rejected})
        return Handler.handle_any(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


def route(handler, *_):
    return handler.receive()


class AnyPath:
    """Matches every path (the receiver accepts hooks on any URL)."""

    @staticmethod
    def match(path):
        return AnyPath()

    @staticmethod
    def groups():
        return ()


Receiver.routes = [("POST", AnyPath, route), ("PUT", AnyPath, route)]

if __name__ == "__main__":
    serve(Receiver, [("--secret", {"default": None}),
                     ("--window", {"type": int, "default": 300})])
