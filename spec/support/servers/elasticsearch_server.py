"""Loopback Elasticsearch 8: the REST subset the elasticsearch provider uses.
  GET /, GET /_cluster/health
  HEAD|PUT|DELETE /{index}            (PUT body: {"mappings": {"properties": ...}})
  POST /_bulk?refresh=...             NDJSON index/delete actions; per-item status
  PUT|GET|DELETE /{index}/_doc/{id}
  POST /{indices}/_search             query (bool must/filter/should with match,
                                      term, terms, range, match_all), knn
                                      {field, query_vector, k, num_candidates,
                                      filter}, sort, from, size, _source
Indices in a search may be a comma list with * wildcards (ignore_unavailable
and allow_no_indices honoured). dense_vector fields check dims and score
cosine as ES does ((1 + cos) / 2); match queries score BM25 (k1 1.2, b 0.75).
flattened and keyword fields match term/terms exactly; date ranges compare
ISO strings as instants. Errors use ES's {"error": {type, reason}, "status"}."""
import fnmatch
import json
import math
import re
from datetime import datetime
from urllib.parse import unquote

from common import Handler, BadRequest, serve

TOKEN = re.compile(r"\w+", re.UNICODE)


def es_error(h, status, typ, reason):
    h.send(status, {"error": {"root_cause": [{"type": typ, "reason": reason}], "type": typ, "reason": reason},
                    "status": status})


def get_field(src, path):
    cur = src
    for p in path.split("."):
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur


def as_list(v):
    return v if isinstance(v, list) else ([] if v is None else [v])


def to_time(v):
    if isinstance(v, (int, float)):
        return float(v) / 1000.0
    s = str(v).replace("Z", "+00:00")
    if len(s) == 10:
        s += "T00:00:00+00:00"
    return datetime.fromisoformat(s).timestamp()


def match_clause(src, c, mapping):
    (kind, body), = c.items()
    if kind == "match_all":
        return True
    if kind == "bool":
        return bool_ok(src, body, mapping)
    if kind in ("term", "terms"):
        (field, want), = body.items()
        if isinstance(want, dict):
            want = want.get("value")
        wants = want if kind == "terms" else [want]
        return any(v in wants for v in as_list(get_field(src, field)))
    if kind == "range":
        (field, r), = body.items()
        vals = as_list(get_field(src, field))
        typ = (mapping.get(field) or {}).get("type")
        conv = to_time if typ == "date" else float
        for v in vals:
            x = conv(v)
            if all(((op not in r) or cmp(x, conv(r[op]))) for op, cmp in
                   (("gt", lambda a, b: a > b), ("gte", lambda a, b: a >= b),
                    ("lt", lambda a, b: a < b), ("lte", lambda a, b: a <= b))):
                return True
        return False
    if kind == "exists":
        return get_field(src, body["field"]) is not None
    if kind == "match":
        (field, q), = body.items()
        q = q["query"] if isinstance(q, dict) else q
        toks = set(TOKEN.findall(str(q).lower()))
        return bool(toks & set(TOKEN.findall(str(get_field(src, field) or "").lower())))
    raise BadRequest("unsupported query clause %s" % kind)


def bool_ok(src, b, mapping):
    for key in ("must", "filter"):
        if any(not match_clause(src, c, mapping) for c in as_list(b.get(key))):
            return False
    if any(match_clause(src, c, mapping) for c in as_list(b.get("must_not"))):
        return False
    should = as_list(b.get("should"))
    if should and not b.get("must") and not any(match_clause(src, c, mapping) for c in should):
        return False
    return True


class ES(Handler):
    def root(self):
        self.send(200, {"name": "loopback", "cluster_name": "astrocyte-test",
                        "version": {"number": "8.13.0"}, "tagline": "You Know, for Search"})

    def health(self):
        self.send(200, {"cluster_name": "astrocyte-test", "status": "green"})

    def idx(self, name):
        return self.state.indices.get(name)

    def head_index(self, name):
        self.send(200 if name in self.state.indices else 404)

    def put_index(self, name):
        b = self.body_json() or {}
        with self.state.lock:
            if name in self.state.indices:
                return es_error(self, 400, "resource_already_exists_exception", "index [%s] already exists" % name)
            props = ((b.get("mappings") or {}).get("properties")) or {}
            self.state.indices[name] = {"mapping": props, "docs": {}}
        self.send(200, {"acknowledged": True, "shards_acknowledged": True, "index": name})

    def del_index(self, name):
        with self.state.lock:
            if self.state.indices.pop(name, None) is None:
                return es_error(self, 404, "index_not_found_exception", "no such index [%s]" % name)
        self.send(200, {"acknowledged": True})

    def validate(self, index, src):
        for field, m in index["mapping"].items():
            if m.get("type") == "dense_vector" and field in src:
                v = src[field]
                if not isinstance(v, list) or len(v) != m.get("dims"):
                    return ("mapper_parsing_exception",
                            "The [dense_vector] field [%s] in doc has a different number of dimensions [%d] "
                            "than defined in the mapping [%s]" % (field, len(v) if isinstance(v, list) else 0, m.get("dims")))
        return None

    def bulk(self):
        lines = [l for l in self.raw.decode().split("\n") if l.strip()]
        items, errors, i = [], False, 0
        # fault kind "bulk_reject": the last action of the request is rejected
        # (es_rejected_execution_exception, 429) while the others succeed.
        reject_last = self.fault is not None and self.fault.get("kind") == "bulk_reject"
        n_actions = sum(1 for l in lines if any(k in json.loads(l) for k in ("index", "delete"))
                        and len(json.loads(l)) == 1 and isinstance(list(json.loads(l).values())[0], dict)
                        and "_index" in list(json.loads(l).values())[0])
        seen = 0
        with self.state.lock:
            while i < len(lines):
                action = json.loads(lines[i])
                (op, meta), = action.items()
                name, _id = meta.get("_index"), meta.get("_id")
                index = self.idx(name)
                seen += 1
                if op == "index":
                    src = json.loads(lines[i + 1])
                    i += 2
                    if reject_last and seen == n_actions:
                        items.append({op: {"_index": name, "_id": _id, "status": 429, "error": {
                            "type": "es_rejected_execution_exception", "reason": "rejected execution (queue full)"}}})
                        errors = True
                        continue
                    if index is None:
                        items.append({op: {"_index": name, "_id": _id, "status": 404, "error": {
                            "type": "index_not_found_exception", "reason": "no such index [%s]" % name}}})
                        errors = True
                        continue
                    bad = self.validate(index, src)
                    if bad:
                        items.append({op: {"_index": name, "_id": _id, "status": 400,
                                           "error": {"type": bad[0], "reason": bad[1]}}})
                        errors = True
                        continue
                    existed = _id in index["docs"]
                    index["docs"][_id] = src
                    items.append({op: {"_index": name, "_id": _id, "result": "updated" if existed else "created",
                                       "status": 200 if existed else 201}})
                elif op == "delete":
                    i += 1
                    found = index is not None and index["docs"].pop(_id, None) is not None
                    items.append({op: {"_index": name, "_id": _id, "result": "deleted" if found else "not_found",
                                       "status": 200 if found else 404}})
                else:
                    raise BadRequest("unsupported bulk action %s" % op)
        self.send(200, {"took": 1, "errors": errors, "items": items})

    def put_doc(self, name, _id):
        _id = unquote(_id)
        src = self.body_json() or {}
        with self.state.lock:
            index = self.idx(name)
            if index is None:
                # ES auto-creates the index with dynamic mappings.
                index = self.state.indices[name] = {"mapping": {}, "docs": {}}
            bad = self.validate(index, src)
            if bad:
                return es_error(self, 400, bad[0], bad[1])
            existed = _id in index["docs"]
            index["docs"][_id] = src
        self.send(200 if existed else 201, {"_index": name, "_id": _id, "result": "updated" if existed else "created"})

    def get_doc(self, name, _id):
        _id = unquote(_id)
        index = self.idx(name)
        if index is None:
            return es_error(self, 404, "index_not_found_exception", "no such index [%s]" % name)
        src = index["docs"].get(_id)
        if src is None:
            return self.send(404, {"_index": name, "_id": _id, "found": False})
        self.send(200, {"_index": name, "_id": _id, "found": True, "_source": src})

    def resolve(self, spec, q):
        names = []
        for part in spec.split(","):
            if "*" in part:
                names += [n for n in sorted(self.state.indices) if fnmatch.fnmatch(n, part)]
            elif part in self.state.indices:
                names.append(part)
            elif q.get("ignore_unavailable") != "true":
                return None, part
        return names, None

    def search(self, spec):
        b = self.body_json() or {}
        q = self.query()
        names, missing = self.resolve(spec, q)
        if names is None:
            return es_error(self, 404, "index_not_found_exception", "no such index [%s]" % missing)
        size, frm = int(b.get("size", 10)), int(b.get("from", 0))
        hits = []
        if "knn" in b:
            k = b["knn"]
            qv = k["query_vector"]
            qn = math.sqrt(sum(x * x for x in qv)) or 1.0
            for n in names:
                index = self.state.indices[n]
                m = index["mapping"].get(k["field"]) or {}
                if m.get("type") != "dense_vector":
                    continue
                if len(qv) != m.get("dims"):
                    return es_error(self, 400, "illegal_argument_exception",
                                    "The query vector has a different number of dimensions [%d] than the document vectors [%d]."
                                    % (len(qv), m.get("dims")))
                for _id, src in list(index["docs"].items()):
                    v = src.get(k["field"])
                    if v is None or (k.get("filter") and not match_clause(src, k["filter"], index["mapping"])):
                        continue
                    vn = math.sqrt(sum(x * x for x in v)) or 1.0
                    cos = sum(x * y for x, y in zip(qv, v)) / (qn * vn)
                    hits.append(((1 + cos) / 2, n, _id, src))
            hits.sort(key=lambda h: -h[0])
            hits = hits[:int(k.get("k", 10))]
        else:
            query = b.get("query") or {"match_all": {}}
            for n in names:
                index = self.state.indices[n]
                docs = list(index["docs"].items())
                for _id, src in docs:
                    if match_clause(src, query, index["mapping"]):
                        hits.append((self.bm25(query, src, docs), n, _id, src))
            if b.get("sort"):
                (field, order), = b["sort"][0].items()
                order = order.get("order", "asc") if isinstance(order, dict) else order
                hits.sort(key=lambda h: str(get_field(h[3], field)), reverse=(order == "desc"))
            else:
                hits.sort(key=lambda h: -h[0])
        total = len(hits)
        excl = set(((b.get("_source") or {}) if isinstance(b.get("_source"), dict) else {}).get("excludes") or [])
        out = [{"_index": n, "_id": _id, "_score": score,
                "_source": {k2: v for k2, v in src.items() if k2 not in excl}}
               for score, n, _id, src in hits[frm:frm + size]]
        self.send(200, {"took": 1, "timed_out": False, "hits": {"total": {"value": total, "relation": "eq"},
                                                                 "max_score": out[0]["_score"] if out else None,
                                                                 "hits": out}})

    def bm25(self, query, src, docs):
        terms = []

        def collect(c):
            (kind, body), = c.items()
            if kind == "match":
                (field, q), = body.items()
                q = q["query"] if isinstance(q, dict) else q
                terms.extend((field, t) for t in TOKEN.findall(str(q).lower()))
            elif kind == "bool":
                for key in ("must", "should"):
                    for cc in as_list(body.get(key)):
                        collect(cc)
        collect(query)
        if not terms:
            return 1.0
        score, n = 0.0, len(docs)
        for field, t in terms:
            toks = [TOKEN.findall(str(get_field(s, field) or "").lower()) for _, s in docs]
            avg = sum(len(x) for x in toks) / max(1, n)
            df = sum(1 for x in toks if t in x)
            mine = TOKEN.findall(str(get_field(src, field) or "").lower())
            tf = mine.count(t)
            if tf == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(mine) / max(avg, 1e-9)))
        return score

    def reset_data(self):
        self.state.indices = {}

    @staticmethod
    def setup_state(st, args):
        st.indices = {}


IDX = r"/([a-z0-9_\-.]+)"
ES.routes = [
    ("GET", "/", ES.root),
    ("GET", "/_cluster/health", ES.health),
    ("POST", "/_bulk", ES.bulk),
    ("HEAD", re.compile("^" + IDX + "$"), ES.head_index),
    ("PUT", re.compile("^" + IDX + "$"), ES.put_index),
    ("DELETE", re.compile("^" + IDX + "$"), ES.del_index),
    ("PUT", re.compile("^" + IDX + "/_doc/([^/]+)$"), ES.put_doc),
    ("GET", re.compile("^" + IDX + "/_doc/([^/]+)$"), ES.get_doc),
    ("POST", re.compile(r"^/([a-z0-9_\-.,*]+)/_search$"), ES.search),
]

if __name__ == "__main__":
    serve(ES)
