"""Loopback Qdrant: the REST API subset the qdrant provider uses, with
Qdrant's envelopes ({"result", "status": "ok", "time"} / {"status": {"error"}}).
  GET  /healthz, GET /collections, GET|PUT|DELETE /collections/{name}
  PUT  /collections/{name}/index                  (payload index: accepted)
  PUT  /collections/{name}/points?wait=true       upsert {"points": [...]}
  POST /collections/{name}/points                 retrieve {"ids": [...]}
  POST /collections/{name}/points/search          {vector, limit, filter, with_payload, with_vector}
  POST /collections/{name}/points/delete?wait=true {"points": [...]} | {"filter": ...}
  POST /collections/{name}/points/scroll          {filter, limit, offset, with_payload, with_vector}
Distance Cosine: vectors are normalised on upsert and scored by dot product,
as Qdrant does. Filters: must / should / must_not with match {value | any},
range {gt, gte, lt, lte}, nested filters; keys are dotted payload paths and
an array payload matches when any element does. An upsert is all or nothing."""
import math
import re
import time

from common import Handler, BadRequest, serve

COLL = r"/collections/([A-Za-z0-9_.\-]+)"


def ok(h, result, status=200):
    h.send(status, {"result": result, "status": "ok", "time": 0.0001})


def err(h, status, msg):
    h.send(status, {"status": {"error": msg}, "time": 0.0001})


def get_path(payload, key):
    cur = payload
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def cond_ok(payload, c):
    if "must" in c or "should" in c or "must_not" in c:
        return filter_ok(payload, c)
    if "has_id" in c:
        raise BadRequest("has_id not supported by the loopback server")
    v = get_path(payload, c["key"])
    vals = v if isinstance(v, list) else ([] if v is None else [v])
    if "match" in c:
        m = c["match"]
        if "value" in m:
            return any(x == m["value"] for x in vals)
        if "any" in m:
            return any(x in m["any"] for x in vals)
        if "except" in m:
            return all(x not in m["except"] for x in vals)
        raise BadRequest("unsupported match %r" % m)
    if "range" in c:
        r = c["range"]
        nums = [x for x in vals if isinstance(x, (int, float)) and not isinstance(x, bool)]
        def inr(x):
            return ((r.get("gt") is None or x > r["gt"]) and (r.get("gte") is None or x >= r["gte"]) and
                    (r.get("lt") is None or x < r["lt"]) and (r.get("lte") is None or x <= r["lte"]))
        return any(inr(x) for x in nums)
    if "is_empty" in c:
        return not vals
    raise BadRequest("unsupported condition %r" % c)


def filter_ok(payload, f):
    if not f:
        return True
    if any(not cond_ok(payload, c) for c in f.get("must") or []):
        return False
    should = f.get("should") or []
    if should and not any(cond_ok(payload, c) for c in should):
        return False
    if any(cond_ok(payload, c) for c in f.get("must_not") or []):
        return False
    return True


def normalise(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n > 0 else v


ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def check_id(i):
    if isinstance(i, int) and i >= 0:
        return i
    if isinstance(i, str) and ID_RE.match(i):
        return i
    raise BadRequest("Unable to parse point id %r: must be an unsigned integer or a UUID" % (i,))


class Qdrant(Handler):
    def coll(self, name):
        c = self.state.colls.get(name)
        if c is None:
            err(self, 404, "Not found: Collection `%s` doesn't exist!" % name)
        return c

    def health(self):
        self.send(200, raw=b"healthz check passed", ctype="text/plain")

    def list_colls(self):
        ok(self, {"collections": [{"name": n} for n in sorted(self.state.colls)]})

    def get_coll(self, name):
        c = self.coll(name)
        if c is not None:
            ok(self, {"status": "green", "points_count": len(c["points"]),
                      "config": {"params": {"vectors": {"size": c["size"], "distance": c["distance"]}}}})

    def put_coll(self, name):
        b = self.body_json() or {}
        v = b.get("vectors") or {}
        if not isinstance(v.get("size"), int) or v.get("distance") not in ("Cosine", "Dot", "Euclid", "Manhattan"):
            raise BadRequest("vectors must be {size: int, distance: Cosine|Dot|Euclid|Manhattan}")
        with self.state.lock:
            if name in self.state.colls:
                return err(self, 409, "Wrong input: Collection `%s` already exists!" % name)
            self.state.colls[name] = {"size": v["size"], "distance": v["distance"], "points": {}}
        ok(self, True)

    def del_coll(self, name):
        with self.state.lock:
            existed = self.state.colls.pop(name, None) is not None
        ok(self, existed)

    def put_index(self, name):
        self.body_json()
        if self.coll(name) is not None:
            ok(self, {"operation_id": 0, "status": "completed"})

    def upsert(self, name):
        c = self.coll(name)
        if c is None:
            return
        pts = (self.body_json() or {}).get("points")
        if not isinstance(pts, list):
            raise BadRequest("points must be an array")
        staged = []
        for p in pts:
            pid = check_id(p.get("id"))
            vec = p.get("vector")
            if not isinstance(vec, list) or len(vec) != c["size"]:
                return err(self, 400, "Wrong input: Vector dimension error: expected dim: %d, got %d"
                           % (c["size"], len(vec) if isinstance(vec, list) else 0))
            staged.append((pid, {"id": pid, "vector": normalise(vec) if c["distance"] == "Cosine" else vec,
                                 "payload": p.get("payload") or {}}))
        with self.state.lock:
            for pid, pt in staged:
                c["points"][pid] = pt
            self.state.op += 1
            op = self.state.op
        ok(self, {"operation_id": op, "status": "completed"})

    def render(self, pt, b, score=None):
        out = {"id": pt["id"], "version": 1}
        wp = b.get("with_payload", True if score is None else False)
        if wp is True:
            out["payload"] = pt["payload"]
        elif isinstance(wp, list):
            out["payload"] = {k: pt["payload"][k] for k in wp if k in pt["payload"]}
        if b.get("with_vector"):
            out["vector"] = pt["vector"]
        if score is not None:
            out["score"] = score
        return out

    def retrieve(self, name):
        c = self.coll(name)
        if c is None:
            return
        b = self.body_json() or {}
        ids = [check_id(i) for i in b.get("ids") or []]
        ok(self, [self.render(c["points"][i], b) for i in ids if i in c["points"]])

    def search(self, name):
        c = self.coll(name)
        if c is None:
            return
        b = self.body_json() or {}
        q = b.get("vector")
        if not isinstance(q, list) or len(q) != c["size"]:
            return err(self, 400, "Wrong input: Vector dimension error: expected dim: %d, got %d"
                       % (c["size"], len(q) if isinstance(q, list) else 0))
        if c["distance"] == "Cosine":
            q = normalise(q)
        limit = int(b.get("limit") or 10)
        hits = []
        for pt in list(c["points"].values()):
            if filter_ok(pt["payload"], b.get("filter")):
                hits.append((sum(x * y for x, y in zip(q, pt["vector"])), pt))
        hits.sort(key=lambda h: -h[0])
        off = int(b.get("offset") or 0)
        ok(self, [self.render(pt, b, score) for score, pt in hits[off:off + limit]])

    def delete(self, name):
        c = self.coll(name)
        if c is None:
            return
        b = self.body_json() or {}
        with self.state.lock:
            if "points" in b:
                for i in b["points"]:
                    c["points"].pop(check_id(i), None)
            elif "filter" in b:
                for pid in [pid for pid, pt in c["points"].items() if filter_ok(pt["payload"], b["filter"])]:
                    del c["points"][pid]
            else:
                raise BadRequest("delete needs points or filter")
            self.state.op += 1
        ok(self, {"operation_id": self.state.op, "status": "completed"})

    def scroll(self, name):
        c = self.coll(name)
        if c is None:
            return
        b = self.body_json() or {}
        limit = int(b.get("limit") or 10)
        pts = sorted((pt for pt in c["points"].values() if filter_ok(pt["payload"], b.get("filter"))),
                     key=lambda p: (0, p["id"], "") if isinstance(p["id"], int) else (1, 0, p["id"]))
        start = 0
        if b.get("offset") is not None:
            off = b["offset"]
            key = (0, off, "") if isinstance(off, int) else (1, 0, off)
            while start < len(pts):
                p = pts[start]
                pk = (0, p["id"], "") if isinstance(p["id"], int) else (1, 0, p["id"])
                if pk >= key:
                    break
                start += 1
        page = pts[start:start + limit]
        nxt = pts[start + limit]["id"] if start + limit < len(pts) else None
        ok(self, {"points": [self.render(p, b) for p in page], "next_page_offset": nxt})

    def reset_data(self):
        self.state.colls = {}

    @staticmethod
    def setup_state(st, args):
        st.colls, st.op = {}, 0


Qdrant.routes = [
    ("GET", "/healthz", Qdrant.health),
    ("GET", "/collections", Qdrant.list_colls),
    ("GET", re.compile("^" + COLL + "$"), Qdrant.get_coll),
    ("PUT", re.compile("^" + COLL + "$"), Qdrant.put_coll),
    ("DELETE", re.compile("^" + COLL + "$"), Qdrant.del_coll),
    ("PUT", re.compile("^" + COLL + "/index$"), Qdrant.put_index),
    ("PUT", re.compile("^" + COLL + "/points$"), Qdrant.upsert),
    ("POST", re.compile("^" + COLL + "/points$"), Qdrant.retrieve),
    ("POST", re.compile("^" + COLL + "/points/search$"), Qdrant.search),
    ("POST", re.compile("^" + COLL + "/points/delete$"), Qdrant.delete),
    ("POST", re.compile("^" + COLL + "/points/scroll$"), Qdrant.scroll),
]

if __name__ == "__main__":
    serve(Qdrant)
