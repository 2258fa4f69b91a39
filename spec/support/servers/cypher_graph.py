"""The in-memory property graph and Cypher values for the loopback Neo4j:
Node / Rel / Graph (adjacency lists, label index, detach delete), Cypher
equality / comparison / ordering with null semantics, property-value checks,
the scalar functions, and the JSON rendering of rows ("row" and "meta").
Used by cypher_eval.py; Python 3 standard library only.
"""
import time

from cypher import CypherError, type_error

NUM = (int, float)


class Node(object):
    __slots__ = ("id", "labels", "props", "deleted")

    def __init__(self, nid, labels, props):
        self.id, self.labels, self.props, self.deleted = nid, set(labels), props, False


class Rel(object):
    __slots__ = ("id", "type", "start", "end", "props", "deleted")

    def __init__(self, rid, rtype, start, end, props):
        self.id, self.type, self.start, self.end, self.props, self.deleted = rid, rtype, start, end, props, False


class Graph(object):
    def __init__(self):
        self.nodes, self.rels, self.seq = {}, {}, 0
        self.out, self.inc, self.by_label = {}, {}, {}

    def add_node(self, labels, props):
        self.seq += 1
        n = Node(self.seq, labels, props)
        self.nodes[n.id] = n
        self.out[n.id], self.inc[n.id] = [], []
        for lb in labels:
            self.by_label.setdefault(lb, set()).add(n.id)
        return n

    def add_rel(self, rtype, start, end, props):
        self.seq += 1
        r = Rel(self.seq, rtype, start, end, props)
        self.rels[r.id] = r
        self.out[start.id].append(r)
        self.inc[end.id].append(r)
        return r

    def add_label(self, n, lb):
        n.labels.add(lb)
        self.by_label.setdefault(lb, set()).add(n.id)

    def del_rel(self, r):
        if r.deleted:
            return
        r.deleted = True
        del self.rels[r.id]
        self.out[r.start.id].remove(r)
        self.inc[r.end.id].remove(r)

    def del_node(self, n, detach):
        if n.deleted:
            return
        attached = self.out[n.id] + self.inc[n.id]
        if attached and not detach:
            raise CypherError("Neo.ClientError.Schema.ConstraintValidationFailed",
                              "Cannot delete node<%d>, because it still has relationships. "
                              "To delete this node, you must first delete its relationships." % n.id)
        for r in attached:
            self.del_rel(r)
        n.deleted = True
        del self.nodes[n.id], self.out[n.id], self.inc[n.id]
        for lb in n.labels:
            self.by_label.get(lb, set()).discard(n.id)


# -- value helpers ------------------------------------------------------------
def is_num(v):
    return isinstance(v, NUM) and not isinstance(v, bool)


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if is_num(v):
        return "num"
    return type(v).__name__


def eq(a, b):
    if a is None or b is None:
        return None
    if isinstance(a, (Node, Rel)) or isinstance(b, (Node, Rel)):
        return a is b
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        res = True
        for x, y in zip(a, b):
            r = eq(x, y)
            if r is False:
                return False
            if r is None:
                res = None
        return res
    if kind(a) != kind(b):
        return False
    return a == b


def compare(op, a, b):
    if a is None or b is None:
        return None
    if kind(a) != kind(b) or kind(a) not in ("num", "str", "bool"):
        return None
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def hkey(v):
    """A hashable key of a value (grouping, DISTINCT)."""
    if isinstance(v, (Node, Rel)):
        return (type(v).__name__, v.id)
    if isinstance(v, list):
        return ("list", tuple(hkey(x) for x in v))
    if isinstance(v, dict):
        return ("map", tuple(sorted((k, hkey(x)) for k, x in v.items())))
    return (kind(v), v)


RANK = {"dict": 0, "Node": 1, "Rel": 2, "list": 3, "str": 4, "bool": 5, "num": 6, "null": 9}


def okey(v):
    """Sort key in Cypher's global order (null last when ascending)."""
    k = kind(v)
    if k in ("Node", "Rel"):
        return (RANK[k], v.id)
    if k == "list":
        return (RANK[k], tuple(okey(x) for x in v))
    if k == "dict":
        return (RANK[k], tuple(sorted(v)))
    return (RANK[k], 0 if v is None else v)


def check_prop(key, v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return
    if isinstance(v, list) and all(x is not None and isinstance(x, (bool, int, float, str)) for x in v):
        return
    raise type_error("Property values can only be of primitive types or arrays thereof "
                     "(property '%s' got %s)" % (key, kind(v)))


def truth(v):
    if v is None or isinstance(v, bool):
        return v
    raise type_error("expected a boolean, got %s" % kind(v))


def f_size(v):
    if v is None:
        return None
    if isinstance(v, (list, str)):
        return len(v)
    raise type_error("size() expects a string or a list, got %s" % kind(v))


def f_str(fn):
    def f(v):
        if v is None:
            return None
        if not isinstance(v, str):
            raise type_error("expected a string, got %s" % kind(v))
        return fn(v)
    return f


def f_tostring(v):
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def f_num(conv):
    def f(v):
        if v is None:
            return None
        try:
            return conv(float(v)) if isinstance(v, str) and conv is int else conv(v)
        except (TypeError, ValueError):
            return None
    return f


FUNCTIONS = {
    "tolower": f_str(lambda s: s.lower()), "toupper": f_str(lambda s: s.upper()),
    "trim": f_str(lambda s: s.strip()),
    "coalesce": lambda *a: next((x for x in a if x is not None), None),
    "size": f_size, "length": f_size, "tostring": f_tostring,
    "tointeger": f_num(int), "tofloat": f_num(float),
    "abs": lambda v: None if v is None else abs(v),
    "id": lambda v: None if v is None else v.id,
    "elementid": lambda v: None if v is None else "4:astro:%d" % v.id,
    "type": lambda v: None if v is None else v.type,
    "labels": lambda v: None if v is None else sorted(v.labels),
    "keys": lambda v: None if v is None else sorted(v.props if isinstance(v, (Node, Rel)) else v),
    "properties": lambda v: None if v is None else dict(v.props if isinstance(v, (Node, Rel)) else v),
    "timestamp": lambda: int(time.time() * 1000),
    "head": lambda v: v[0] if v else None, "last": lambda v: v[-1] if v else None,
    "range": lambda a, b, s=1: list(range(a, b + (1 if s > 0 else -1), s)),
    "startnode": lambda r: None if r is None else r.start, "endnode": lambda r: None if r is None else r.end,
    "exists": lambda v: v is not None,
}


def to_json(v):
    if isinstance(v, (Node, Rel)):
        return {k: to_json(x) for k, x in v.props.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    return v


def meta_of(v):
    if isinstance(v, Node):
        return {"id": v.id, "elementId": "4:astro:%d" % v.id, "type": "node", "deleted": v.deleted}
    if isinstance(v, Rel):
        return {"id": v.id, "elementId": "5:astro:%d" % v.id, "type": "relationship", "deleted": v.deleted}
    if isinstance(v, list) and any(isinstance(x, (Node, Rel)) for x in v):
        return [meta_of(x) for x in v]
    return None
