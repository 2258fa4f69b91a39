"""Evaluator of the Cypher subset parsed by cypher.py, over an in-memory
property graph (Graph: nodes and relationships with labels/types and
property maps, adjacency lists, a label index). Executor.run(statement,
params) -> (columns, rows of Python values); rows flow clause by clause as
dicts variable -> value. Values: None/bool/int/float/str, lists, dicts
(maps), Node and Rel. Null semantics follow Cypher (three-valued logic,
null-propagating operators; WHERE keeps rows whose predicate is true).
Property values must be primitives or lists of them (maps are rejected with
Neo.ClientError.Statement.TypeError, as Neo4j does); setting null removes.
"""
from collections import OrderedDict

import cypher
from cypher import CypherError, syntax, type_error
from cypher_graph import (FUNCTIONS, Graph, Node, Rel, check_prop, eq, compare, f_tostring,  # noqa: F401
                          hkey, is_num, kind, meta_of, okey, to_json, truth)


class Executor(object):
    def __init__(self, graph, params):
        self.g, self.params = graph, params or {}

    # -- expressions --------------------------------------------------------
    def ev(self, e, row, group=None):
        op = e[0]
        if op == "lit":
            return e[1]
        if op == "param":
            if e[1] not in self.params:
                raise CypherError("Neo.ClientError.Statement.ParameterMissing", "Expected parameter(s): " + e[1])
            return self.params[e[1]]
        if op == "var":
            if e[1] not in row:
                raise syntax("Variable `%s` not defined" % e[1])
            return row[e[1]]
        if op == "prop":
            v = self.ev(e[1], row, group)
            if v is None:
                return None
            if isinstance(v, (Node, Rel)):
                return v.props.get(e[2])
            if isinstance(v, dict):
                return v.get(e[2])
            raise type_error("Type mismatch: expected a map, node or relationship but was %s" % kind(v))
        if op == "index":
            v, i = self.ev(e[1], row, group), self.ev(e[2], row, group)
            if v is None or i is None:
                return None
            if isinstance(v, list) and is_num(i):
                return v[int(i)] if -len(v) <= i < len(v) else None
            if isinstance(v, dict) and isinstance(i, str):
                return v.get(i)
            raise type_error("cannot index %s with %s" % (kind(v), kind(i)))
        if op == "list":
            return [self.ev(x, row, group) for x in e[1]]
        if op == "map":
            return {k: self.ev(x, row, group) for k, x in e[1]}
        if op in ("and", "or", "xor"):
            a, b = truth(self.ev(e[1], row, group)), truth(self.ev(e[2], row, group))
            if op == "and":
                return False if (a is False or b is False) else (None if (a is None or b is None) else True)
            if op == "or":
                return True if (a is True or b is True) else (None if (a is None or b is None) else False)
            return None if (a is None or b is None) else (a != b)
        if op == "not":
            a = truth(self.ev(e[1], row, group))
            return None if a is None else (not a)
        if op == "cmp":
            a, b = self.ev(e[2], row, group), self.ev(e[3], row, group)
            if e[1] == "=":
                return eq(a, b)
            if e[1] == "<>":
                r = eq(a, b)
                return None if r is None else (not r)
            return compare(e[1], a, b)
        if op == "in":
            x, lst = self.ev(e[1], row, group), self.ev(e[2], row, group)
            if lst is None:
                return None
            if not isinstance(lst, list):
                raise type_error("IN expects a list on its right, got %s" % kind(lst))
            res = False
            for y in lst:
                r = eq(x, y)
                if r is True:
                    return True
                if r is None:
                    res = None
            return res
        if op == "str":
            a, b = self.ev(e[2], row, group), self.ev(e[3], row, group)
            if not isinstance(a, str) or not isinstance(b, str):
                return None
            return b in a if e[1] == "contains" else (a.startswith(b) if e[1] == "starts" else a.endswith(b))
        if op == "isnull":
            v = self.ev(e[1], row, group)
            return (v is not None) if e[2] else (v is None)
        if op == "arith":
            return self.arith(e[1], self.ev(e[2], row, group), self.ev(e[3], row, group))
        if op in ("compr", "pred"):
            return self.iterate(e, row, group)
        if op == "fn":
            return FUNCTIONS[e[1]](*[self.ev(x, row, group) for x in e[2]])
        if op == "agg":
            if group is None:
                raise syntax("Invalid use of aggregating function %s(...) in this context" % e[1])
            return self.aggregate(e, group)
        raise syntax("unsupported expression %r" % (op,))

    def iterate(self, e, row, group):
        if e[0] == "compr":
            _, var, src, where, proj = e
        else:
            _, fname, var, src, where = e
            proj = None
        lst = self.ev(src, row, group)
        if lst is None:
            return None
        if not isinstance(lst, list):
            raise type_error("expected a list, got %s" % kind(lst))
        out, hits, unknown = [], 0, 0
        for x in lst:
            r = dict(row)
            r[var] = x
            ok = truth(self.ev(where, r, group)) if where is not None else True
            if ok is None:
                unknown += 1
            elif ok:
                hits += 1
                out.append(self.ev(proj, r, group) if proj is not None else x)
        if e[0] == "compr":
            return out
        falses, fname = len(lst) - hits - unknown, e[1]
        if fname == "any":
            return True if hits else (None if unknown else False)
        if fname == "all":
            return False if falses else (None if unknown else True)
        if fname == "none":
            return False if hits else (None if unknown else True)
        return None if unknown else hits == 1

    def arith(self, op, a, b):
        if a is None or b is None:
            return None
        if op == "+":
            if isinstance(a, list):
                return a + (b if isinstance(b, list) else [b])
            if isinstance(b, list):
                return [a] + b
            if isinstance(a, str) or isinstance(b, str):
                if isinstance(a, (dict, Node, Rel)) or isinstance(b, (dict, Node, Rel)):
                    raise type_error("cannot add %s and %s" % (kind(a), kind(b)))
                return f_tostring(a) + f_tostring(b)
        if not (is_num(a) and is_num(b)):
            raise type_error("Type mismatch: cannot apply %s to %s and %s" % (op, kind(a), kind(b)))
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0 and isinstance(a, int) and isinstance(b, int):
            raise CypherError("Neo.ClientError.Statement.ArithmeticError", "/ by zero")
        if op == "/":
            return a // b if isinstance(a, int) and isinstance(b, int) else a / b
        return a % b

    def aggregate(self, e, group):
        _, fname, arg, distinct = e
        if arg is None:
            return len(group)
        vals = [self.ev(arg, r) for r in group]
        vals = [v for v in vals if v is not None]
        if distinct:
            seen, uniq = set(), []
            for v in vals:
                k = hkey(v)
                if k not in seen:
                    seen.add(k)
                    uniq.append(v)
            vals = uniq
        if fname == "count":
            return len(vals)
        if fname == "collect":
            return vals
        if fname == "sum":
            return sum(vals) if vals else 0
        if not vals:
            return None
        if fname == "avg":
            return float(sum(vals)) / len(vals)
        return (min if fname == "min" else max)(vals, key=okey)

    # -- patterns -----------------------------------------------------------
    def props_of(self, el, row):
        if el["props"] is None:
            return None
        return self.ev(el["props"], row)

    def node_ok(self, el, props, node, row):
        if el["var"] and el["var"] in row and row[el["var"]] is not node:
            return False
        if any(lb not in node.labels for lb in el["labels"]):
            return False
        return all(eq(node.props.get(k), v) is True for k, v in (props or {}).items())

    def rel_steps(self, node, el, props):
        dirn = el["dir"]
        cands = []
        if dirn in (">", None):
            cands += [(r, r.end) for r in self.g.out[node.id]]
        if dirn in ("<", None):
            cands += [(r, r.start) for r in self.g.inc[node.id] if not (dirn is None and r.start is r.end)]
        for r, other in cands:
            if el["types"] and r.type not in el["types"]:
                continue
            if props and not all(eq(r.props.get(k), v) is True for k, v in props.items()):
                continue
            yield r, other

    def match_path(self, elems, row, used):
        props = [self.props_of(el, row) for el in elems]
        first = elems[0]
        if first["var"] and first["var"] in row:
            bound = row[first["var"]]
            if bound is None:
                return
            if not isinstance(bound, Node):
                raise type_error("`%s` is not a node" % first["var"])
            cands = [bound]
        elif first["labels"]:
            ids = self.g.by_label.get(first["labels"][0], set())
            cands = [self.g.nodes[i] for i in sorted(ids)]
        else:
            cands = [self.g.nodes[i] for i in sorted(self.g.nodes)]
        for node in cands:
            if self.node_ok(first, props[0], node, row):
                r2 = dict(row)
                if first["var"]:
                    r2[first["var"]] = node
                for out in self.extend(elems, props, 1, node, r2, used):
                    yield out

    def extend(self, elems, props, i, cur, row, used):
        if i >= len(elems):
            yield row, used
            return
        rel, nxt, rprops, nprops = elems[i], elems[i + 1], props[i], props[i + 1]
        if rel["var"] and rel["var"] in row and rel["varlen"] is None:
            bound = row[rel["var"]]
        else:
            bound = False
        if rel["varlen"] is None:
            steps = [(r, o, [r]) for r, o in self.rel_steps(cur, rel, rprops)]
        else:
            steps = self.trails(cur, rel, rprops, used)
        for r, other, trail in steps:
            if any(x.id in used for x in trail) or (bound is not False and bound is not r):
                continue
            if not self.node_ok(nxt, nprops, other, row):
                continue
            r2 = dict(row)
            if rel["var"]:
                r2[rel["var"]] = r
            if nxt["var"]:
                r2[nxt["var"]] = other
            for out in self.extend(elems, props, i + 2, other, r2, used | {x.id for x in trail}):
                yield out

    def trails(self, start, rel, rprops, used):
        """Variable-length step: breadth-first trails (no relationship twice)."""
        lo, hi = rel["varlen"]
        found = [(list(), start, [])] if lo == 0 else []
        frontier, depth = [(start, [])], 0
        while frontier and depth < hi:
            depth += 1
            nxt = []
            for node, path in frontier:
                for r, other in self.rel_steps(node, rel, rprops):
                    if r.id in used or any(r is p for p in path):
                        continue
                    np = path + [r]
                    nxt.append((other, np))
                    if depth >= lo:
                        found.append((np, other, np))
            frontier = nxt
        return found

    # -- clauses ------------------------------------------------------------
    def run(self, src):
        clauses = cypher.parse(src)
        rows, columns = [{}], []
        for c in clauses:
            rows = getattr(self, "c_" + c[0].lower())(c, rows)
            if c[0] == "RETURN":
                columns, rows = rows
        if clauses[-1][0] != "RETURN":
            return [], []
        return columns, rows

    def c_match(self, c, rows):
        _, optional, pats, where = c
        out = []
        for row in rows:
            found = [(row, set())]
            for pat in pats:
                found = [m for r, used in found for m in self.match_path(pat, r, used)]
            matched = [r for r, _ in found if where is None or truth(self.ev(where, r)) is True]
            if matched:
                out += matched
            elif optional:
                r2 = dict(row)
                for pat in pats:
                    for el in pat:
                        if el["var"] and el["var"] not in r2:
                            r2[el["var"]] = None
                out.append(r2)
        return out

    def c_unwind(self, c, rows):
        out = []
        for row in rows:
            v = self.ev(c[1], row)
            for x in (v if isinstance(v, list) else ([] if v is None else [v])):
                r2 = dict(row)
                r2[c[2]] = x
                out.append(r2)
        return out

    def c_create(self, c, rows):
        for row in rows:
            for pat in c[1]:
                self.create_path(pat, row, merge=False)
        return rows

    def create_path(self, elems, row, merge):
        props = [self.props_of(el, row) for el in elems]
        for el, p in zip(elems, props):
            for k, v in (p or {}).items():
                if merge and v is None:
                    raise CypherError("Neo.ClientError.Statement.SemanticError",
                                      "Cannot merge the following %s because of null property value for '%s'"
                                      % ("node" if "labels" in el else "relationship", k))
                check_prop(k, v)
        nodes = []
        for idx in range(0, len(elems), 2):
            el = elems[idx]
            if el["var"] and row.get(el["var"]) is not None:
                nodes.append(row[el["var"]])
            else:
                n = self.g.add_node(el["labels"], {k: v for k, v in (props[idx] or {}).items() if v is not None})
                if el["var"]:
                    row[el["var"]] = n
                nodes.append(n)
        for idx in range(1, len(elems), 2):
            el = elems[idx]
            if len(el["types"]) != 1 or el["varlen"] is not None:
                raise syntax("A single relationship type must be specified for %s" % ("MERGE" if merge else "CREATE"))
            if el["dir"] is None and not merge:
                raise syntax("Only directed relationships are supported in CREATE")
            a, b = nodes[idx // 2], nodes[idx // 2 + 1]
            if el["dir"] == "<":
                a, b = b, a
            r = self.g.add_rel(el["types"][0], a, b, {k: v for k, v in (props[idx] or {}).items() if v is not None})
            if el["var"]:
                row[el["var"]] = r
        return row

    def c_merge(self, c, rows):
        _, pat, on_create, on_match = c
        out = []
        for row in rows:
            found = [r for r, _ in self.match_path(pat, row, set())]
            if found:
                for r in found:
                    self.apply_set(on_match, r)
                out += found
            else:
                r = self.create_path(pat, dict(row), merge=True)
                self.apply_set(on_create, r)
                out.append(r)
        return out

    def c_set(self, c, rows):
        for row in rows:
            self.apply_set(c[1], row)
        return rows

    def apply_set(self, items, row):
        for it in items:
            target = self.ev(("var", it[1]), row)
            if target is None:
                continue
            if not isinstance(target, (Node, Rel)):
                raise type_error("SET target `%s` is not a node or relationship" % it[1])
            if it[0] == "label":
                for lb in it[2]:
                    self.g.add_label(target, lb)
                continue
            if it[0] == "prop":
                updates, replace = {it[2]: self.ev(it[3], row)}, False
            else:
                m = self.ev(it[2], row)
                if isinstance(m, (Node, Rel)):
                    m = dict(m.props)
                if not isinstance(m, dict):
                    raise type_error("expected a map to SET `%s`, got %s" % (it[1], kind(m)))
                updates, replace = m, it[0] == "replace"
            for k, v in updates.items():
                check_prop(k, v)
            if replace:
                target.props.clear()
            for k, v in updates.items():
                if v is None:
                    target.props.pop(k, None)
                else:
                    target.props[k] = list(v) if isinstance(v, list) else v

    def c_delete(self, c, rows):
        _, detach, exprs = c
        for row in rows:
            for e in exprs:
                v = self.ev(e, row)
                for x in (v if isinstance(v, list) else [v]):
                    if isinstance(x, Rel):
                        self.g.del_rel(x)
                    elif isinstance(x, Node):
                        self.g.del_node(x, detach)
                    elif x is not None:
                        raise type_error("DELETE expects nodes or relationships, got %s" % kind(x))
        return rows

    def project(self, p, rows):
        items = list(p["items"])
        if p["star"]:
            names = sorted({k for r in rows for k in r}) if rows else []
            items = [(("var", k), k) for k in names] + items
        names = [n for _, n in items]
        aggs = [cypher.has_agg(e) for e, _ in items]
        out = []
        if any(aggs):
            groups = OrderedDict()
            for r in rows:
                key = tuple(hkey(self.ev(e, r)) for (e, _), a in zip(items, aggs) if not a)
                groups.setdefault(key, []).append(r)
            if not groups and all(aggs):
                groups[()] = []
            for grp in groups.values():
                base = grp[0] if grp else {}
                vals = [self.ev(e, base, grp) for e, _ in items]
                env = dict(base)
                env.update(zip(names, vals))
                out.append((vals, env, grp))
        else:
            for r in rows:
                vals = [self.ev(e, r) for e, _ in items]
                env = dict(r)
                env.update(zip(names, vals))
                out.append((vals, env, None))
        if p["distinct"]:
            seen, uniq = set(), []
            for o in out:
                k = hkey(o[0])
                if k not in seen:
                    seen.add(k)
                    uniq.append(o)
            out = uniq
        for e, desc in reversed(p["order"]):
            out.sort(key=lambda o: okey(self.ev(e, o[1], o[2])), reverse=desc)
        skip = self.count_of(p["skip"], "SKIP")
        limit = self.count_of(p["limit"], "LIMIT")
        out = out[skip:] if limit is None else out[skip:skip + limit]
        return names, [dict(zip(names, o[0])) for o in out]

    def count_of(self, e, what):
        if e is None:
            return 0 if what == "SKIP" else None
        v = self.ev(e, {})
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise CypherError("Neo.ClientError.Statement.ArgumentError",
                              "Invalid input. '%s' is not a valid value. Must be a non-negative integer." % (v,))
        return v

    def c_with(self, c, rows):
        _, p, where = c
        _, out = self.project(p, rows)
        if where is not None:
            out = [r for r in out if truth(self.ev(where, r)) is True]
        return out

    def c_return(self, c, rows):
        names, out = self.project(c[1], rows)
        return names, [[r[n] for n in names] for r in out]
