"""A small, general Cypher interpreter over an in-memory property graph, for
the loopback Neo4j (neo4j_server.py). Python 3 standard library only.

Clauses: MATCH / OPTIONAL MATCH (comma-separated path patterns, WHERE),
MERGE (single path; ON CREATE SET / ON MATCH SET), CREATE, SET (n.p = e,
n += map, n = map, n:Label), DELETE / DETACH DELETE, UNWIND ... AS, WITH and
RETURN (aliases, *, DISTINCT, aggregation with implicit grouping, ORDER BY
... ASC|DESC, SKIP, LIMIT). Patterns: (v:Label {k: expr}), -[v:T1|T2 {k: e}]->,
<-[...]-, undirected -[...]-, variable length *, *n, *n..m, *..m (bounded
breadth-first trail enumeration; an open upper bound is capped at 15 hops).
Expressions: literals, lists, maps, $parameters, v.prop, x[i], + - * / %,
= <> < > <= >=, AND OR XOR NOT, IN, CONTAINS, STARTS WITH, ENDS WITH,
IS [NOT] NULL, [x IN l WHERE p | e], any/all/none/single(x IN l WHERE p),
scalar functions (toLower, coalesce, size, ...) and the aggregates count,
collect, sum, avg, min, max (DISTINCT allowed), with Cypher's null semantics.
Anything else raises CypherError with a Neo.ClientError.Statement.* code.
"""
import re


class CypherError(Exception):
    def __init__(self, code, message):
        Exception.__init__(self, message)
        self.code, self.message = code, message


def syntax(msg):
    return CypherError("Neo.ClientError.Statement.SyntaxError", msg)


def type_error(msg):
    return CypherError("Neo.ClientError.Statement.TypeError", msg)


TOKEN = re.compile(r"""(?P<ws>\s+|//[^\n]*)|(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
 |(?P<num>\d+\.\d+(?:[eE][-+]?\d+)?|\d+)|(?P<param>\$[A-Za-z_]\w*)|(?P<bq>`[^`]+`)|(?P<id>[A-Za-z_]\w*)
 |(?P<op>->|<-|<>|<=|>=|\.\.|\+=|[()\[\]{}:,.\-<>=+*/%|])""", re.X)
ESC = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", "'": "'", '"': '"'}
AGGREGATES = ("count", "collect", "sum", "avg", "min", "max")
MAX_HOPS = 15
FUNCTION_NAMES = ("tolower", "toupper", "coalesce", "size", "length", "tostring", "tointeger", "tofloat",
                  "abs", "id", "elementid", "type", "labels", "keys", "properties", "timestamp", "head",
                  "last", "range", "trim", "startnode", "endnode", "exists")


def unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n == "u" and i + 5 < len(s):
                out.append(chr(int(s[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(ESC.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def tokenize(src):
    toks, pos = [], 0
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if not m:
            raise syntax("Invalid input '%s' (offset: %d)" % (src[pos], pos))
        kind = m.lastgroup
        text = m.group(kind)
        if kind == "str":
            toks.append(("str", unescape(text[1:-1]), pos))
        elif kind == "num":
            toks.append(("num", float(text) if ("." in text or "e" in text.lower()) else int(text), pos))
        elif kind == "param":
            toks.append(("param", text[1:], pos))
        elif kind == "bq":
            toks.append(("name", text[1:-1], pos))
        elif kind != "ws":
            toks.append((kind, text, pos))
        pos = m.end()
    toks.append(("eof", None, len(src)))
    return toks


class Parser:
    """Recursive descent: query := clause+; expressions by precedence."""

    def __init__(self, src):
        self.src, self.toks, self.i = src, tokenize(src), 0

    def peek(self, k=0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def fail(self, what):
        t = self.peek()
        got = "end of input" if t[0] == "eof" else repr(self.src[t[2]:t[2] + 20])
        raise syntax("Invalid input %s: expected %s (offset: %d)" % (got, what, t[2]))

    def kw(self, *words):
        for k, w in enumerate(words):
            t = self.peek(k)
            if t[0] != "id" or t[1].upper() != w:
                return False
        return True

    def accept_kw(self, *words):
        if self.kw(*words):
            self.i += len(words)
            return True
        return False

    def expect_kw(self, *words):
        if not self.accept_kw(*words):
            self.fail(" ".join(words))

    def is_op(self, v, k=0):
        t = self.peek(k)
        return t[0] == "op" and t[1] == v

    def accept(self, v):
        if self.is_op(v):
            self.i += 1
            return True
        return False

    def expect(self, v):
        if not self.accept(v):
            self.fail("'%s'" % v)

    def name(self):
        t = self.peek()
        if t[0] in ("id", "name"):
            self.i += 1
            return t[1]
        self.fail("a name")

    # -- clauses ------------------------------------------------------------
    def parse(self):
        clauses = []
        while self.peek()[0] != "eof":
            clauses.append(self.clause())
        if not clauses:
            self.fail("a clause")
        last = clauses[-1][0]
        if last in ("MATCH", "WITH", "UNWIND"):
            raise syntax("Query cannot conclude with %s (must be a RETURN clause or an update clause)" % last)
        for c in clauses[:-1]:
            if c[0] == "RETURN":
                raise syntax("RETURN can only be used at the end of the query")
        return clauses

    def clause(self):
        optional = self.accept_kw("OPTIONAL", "MATCH")
        if optional or self.accept_kw("MATCH"):
            pats = self.patterns()
            where = self.expr() if self.accept_kw("WHERE") else None
            return ("MATCH", optional, pats, where)
        if self.accept_kw("MERGE"):
            pat = self.path()
            on_create, on_match = [], []
            while self.kw("ON"):
                if self.accept_kw("ON", "CREATE", "SET"):
                    on_create += self.set_items()
                else:
                    self.expect_kw("ON", "MATCH", "SET")
                    on_match += self.set_items()
            return ("MERGE", pat, on_create, on_match)
        if self.accept_kw("CREATE"):
            return ("CREATE", self.patterns())
        if self.accept_kw("SET"):
            return ("SET", self.set_items())
        detach = self.accept_kw("DETACH", "DELETE")
        if detach or self.accept_kw("DELETE"):
            exprs = [self.expr()]
            while self.accept(","):
                exprs.append(self.expr())
            return ("DELETE", detach, exprs)
        if self.accept_kw("UNWIND"):
            e = self.expr()
            self.expect_kw("AS")
            return ("UNWIND", e, self.name())
        if self.accept_kw("WITH"):
            proj = self.projection()
            where = self.expr() if self.accept_kw("WHERE") else None
            return ("WITH", proj, where)
        if self.accept_kw("RETURN"):
            return ("RETURN", self.projection())
        self.fail("MATCH, OPTIONAL MATCH, MERGE, CREATE, SET, DELETE, UNWIND, WITH or RETURN")

    def set_items(self):
        items = [self.set_item()]
        while self.accept(","):
            items.append(self.set_item())
        return items

    def set_item(self):
        var = self.name()
        if self.accept("."):
            key = self.name()
            self.expect("=")
            return ("prop", var, key, self.expr())
        if self.accept("+="):
            return ("merge", var, self.expr())
        if self.accept("="):
            return ("replace", var, self.expr())
        if self.is_op(":"):
            labels = []
            while self.accept(":"):
                labels.append(self.name())
            return ("label", var, labels)
        self.fail("'.', '=', '+=' or ':'")

    def projection(self):
        p = {"distinct": self.accept_kw("DISTINCT"), "star": False, "items": [], "order": [],
             "skip": None, "limit": None}
        if self.accept("*"):
            p["star"] = True
            if not self.accept(","):
                return self.tail(p)
        while True:
            start = self.peek()[2]
            e = self.expr()
            text = self.src[start:self.peek()[2]].strip()
            alias = self.name() if self.accept_kw("AS") else text
            p["items"].append((e, alias))
            if not self.accept(","):
                break
        return self.tail(p)

    def tail(self, p):
        if self.accept_kw("ORDER", "BY"):
            while True:
                e = self.expr()
                desc = False
                if self.accept_kw("DESC") or self.accept_kw("DESCENDING"):
                    desc = True
                elif not self.accept_kw("ASC"):
                    self.accept_kw("ASCENDING")
                p["order"].append((e, desc))
                if not self.accept(","):
                    break
        if self.accept_kw("SKIP"):
            p["skip"] = self.expr()
        if self.accept_kw("LIMIT"):
            p["limit"] = self.expr()
        return p

    # -- patterns -----------------------------------------------------------
    def patterns(self):
        pats = [self.path()]
        while self.accept(","):
            pats.append(self.path())
        return pats

    def path(self):
        if self.peek()[0] in ("id", "name") and self.is_op("=", 1):
            raise syntax("named paths are not supported by this server (offset: %d)" % self.peek()[2])
        elems = [self.node()]
        while self.is_op("-") or self.is_op("<-"):
            elems.append(self.rel())
            elems.append(self.node())
        return elems

    def node(self):
        self.expect("(")
        var = None
        if self.peek()[0] in ("id", "name"):
            var = self.name()
        labels = []
        while self.accept(":"):
            labels.append(self.name())
        props = self.map_literal() if self.is_op("{") else None
        self.expect(")")
        return {"var": var, "labels": labels, "props": props}

    def rel(self):
        left = self.accept("<-")
        if not left:
            self.expect("-")
        r = {"var": None, "types": [], "props": None, "varlen": None}
        if self.accept("["):
            if self.peek()[0] in ("id", "name"):
                r["var"] = self.name()
            if self.accept(":"):
                r["types"].append(self.name())
                while self.accept("|"):
                    self.accept(":")
                    r["types"].append(self.name())
            if self.accept("*"):
                lo, hi = 1, None
                if self.peek()[0] == "num":
                    lo = hi = self.int_tok()
                if self.accept(".."):
                    hi = self.int_tok() if self.peek()[0] == "num" else None
                r["varlen"] = (lo, MAX_HOPS if hi is None else hi)
            if self.is_op("{"):
                r["props"] = self.map_literal()
            self.expect("]")
        if self.accept("->"):
            right = True
        else:
            self.expect("-")
            right = False
        if left and right:
            raise syntax("a relationship cannot point both ways (offset: %d)" % self.peek()[2])
        r["dir"] = ">" if right else ("<" if left else None)
        return r

    def int_tok(self):
        t = self.peek()
        if t[0] != "num" or not isinstance(t[1], int):
            self.fail("an integer")
        self.i += 1
        return t[1]

    def map_literal(self):
        self.expect("{")
        entries = []
        if not self.accept("}"):
            while True:
                k = self.name() if self.peek()[0] != "str" else self.take()[1]
                self.expect(":")
                entries.append([k, self.expr()])
                if not self.accept(","):
                    break
            self.expect("}")
        return ("map", entries)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    # -- expressions --------------------------------------------------------
    def expr(self):
        e = self.xor_expr()
        while self.accept_kw("OR"):
            e = ("or", e, self.xor_expr())
        return e

    def xor_expr(self):
        e = self.and_expr()
        while self.accept_kw("XOR"):
            e = ("xor", e, self.and_expr())
        return e

    def and_expr(self):
        e = self.not_expr()
        while self.accept_kw("AND"):
            e = ("and", e, self.not_expr())
        return e

    def not_expr(self):
        if self.accept_kw("NOT"):
            return ("not", self.not_expr())
        return self.cmp_expr()

    def cmp_expr(self):
        e = self.add_expr()
        while True:
            t = self.peek()
            if t[0] == "op" and t[1] in ("=", "<>", "<", ">", "<=", ">="):
                self.i += 1
                e = ("cmp", t[1], e, self.add_expr())
            elif self.accept_kw("IN"):
                e = ("in", e, self.add_expr())
            elif self.accept_kw("CONTAINS"):
                e = ("str", "contains", e, self.add_expr())
            elif self.accept_kw("STARTS", "WITH"):
                e = ("str", "starts", e, self.add_expr())
            elif self.accept_kw("ENDS", "WITH"):
                e = ("str", "ends", e, self.add_expr())
            elif self.accept_kw("IS", "NOT", "NULL"):
                e = ("isnull", e, True)
            elif self.accept_kw("IS", "NULL"):
                e = ("isnull", e, False)
            else:
                return e

    def add_expr(self):
        e = self.mul_expr()
        while self.is_op("+") or self.is_op("-"):
            op = self.take()[1]
            e = ("arith", op, e, self.mul_expr())
        return e

    def mul_expr(self):
        e = self.unary()
        while self.is_op("*") or self.is_op("/") or self.is_op("%"):
            op = self.take()[1]
            e = ("arith", op, e, self.unary())
        return e

    def unary(self):
        if self.accept("-"):
            return ("arith", "-", ("lit", 0), self.unary())
        if self.accept("+"):
            return self.unary()
        return self.postfix()

    def postfix(self):
        e = self.atom()
        while True:
            if self.accept("."):
                e = ("prop", e, self.name())
            elif self.accept("["):
                idx = self.expr()
                self.expect("]")
                e = ("index", e, idx)
            else:
                return e

    def atom(self):
        t = self.peek()
        if t[0] in ("str", "num"):
            self.i += 1
            return ("lit", t[1])
        if t[0] == "param":
            self.i += 1
            return ("param", t[1])
        if self.accept("("):
            e = self.expr()
            self.expect(")")
            return e
        if self.is_op("{"):
            return self.map_literal()
        if self.accept("["):
            if self.peek()[0] in ("id", "name") and self.peek(1)[0] == "id" and self.peek(1)[1].upper() == "IN":
                var = self.name()
                self.i += 1
                src = self.expr()
                where = self.expr() if self.accept_kw("WHERE") else None
                proj = self.expr() if self.accept("|") else None
                self.expect("]")
                return ("compr", var, src, where, proj)
            items = []
            if not self.accept("]"):
                while True:
                    items.append(self.expr())
                    if not self.accept(","):
                        break
                self.expect("]")
            return ("list", items)
        if t[0] == "id":
            up = t[1].upper()
            if up in ("TRUE", "FALSE"):
                self.i += 1
                return ("lit", up == "TRUE")
            if up == "NULL":
                self.i += 1
                return ("lit", None)
            if self.is_op("(", 1):
                return self.call()
        if t[0] in ("id", "name"):
            self.i += 1
            return ("var", t[1])
        self.fail("an expression")

    def call(self):
        fname = self.name().lower()
        self.expect("(")
        if fname in ("any", "all", "none", "single"):
            var = self.name()
            self.expect_kw("IN")
            src = self.expr()
            self.expect_kw("WHERE")
            pred = self.expr()
            self.expect(")")
            return ("pred", fname, var, src, pred)
        if fname == "count" and self.accept("*"):
            self.expect(")")
            return ("agg", "count", None, False)
        distinct = self.accept_kw("DISTINCT")
        args = []
        if not self.accept(")"):
            while True:
                args.append(self.expr())
                if not self.accept(","):
                    break
            self.expect(")")
        if fname in AGGREGATES:
            if len(args) != 1:
                raise syntax("%s() takes exactly one argument" % fname)
            return ("agg", fname, args[0], distinct)
        if fname not in FUNCTION_NAMES:
            raise syntax("Unknown function '%s'" % fname)
        return ("fn", fname, args)


def parse(src):
    return Parser(src).parse()


def has_agg(e):
    """True when expression e contains an aggregate call (map entries are lists)."""
    if isinstance(e, tuple):
        return (len(e) > 0 and e[0] == "agg") or any(has_agg(x) for x in e)
    if isinstance(e, list):
        return any(has_agg(x) for x in e)
    return False
