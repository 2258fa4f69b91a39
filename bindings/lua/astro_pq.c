/*
** astro_pq.c — astrocyte.pq, a thin libpq binding for the postgres provider.
** Only parameterized statements exist here: exec_params (PQexecParams) and
** prepare/exec_prepared, always with a single SQL statement and every value
** sent as a separate text-format parameter, so no value can ever become SQL.
** There is deliberately no PQexec. Pooling, health checks, reconnect and
** transactions live in Lua (providers/postgres/pool.lua): a connection is
** any object with the methods below, so a non-blocking backend for OpenResty
** (cosockets speaking the wire protocol) can stand in for this one.
**
** Lua API
**   pq.connect(conninfo) -> conn | nil, err
**   conn:exec_params(sql, params) -> res | nil, err, sqlstate
**   conn:prepare(name, sql) -> true | nil, err, sqlstate
**   conn:exec_prepared(name, params) -> res | nil, err, sqlstate
**   conn:status() -> "ok" | "bad";  conn:transaction_status() -> "idle" |
**     "active" | "intrans" | "inerror" | "unknown"
**   conn:reset() -> true | nil, err;  conn:close() -> true (idempotent)
**   conn:server_version() -> integer (e.g. 150018)
**   pq.sleep_ms(ms) -- blocking; reconnect backoff outside OpenResty
**   pq.vector_literal(packed_f32) -> "[1,2,3]";  pq.parse_vector(text) ->
**     packed float32 string | nil, err
** params is an array; params.n (when set) gives its length so nil holes
** survive. nil -> NULL, booleans -> t/f, numbers -> decimal text, strings as
** they are (no embedded NUL). res = { rows = {{col = value}}, ntuples,
** cmd_tuples, fields = {names} }. int2/int4/int8/oid -> integer, float4/
** float8/numeric -> number, bool -> boolean, everything else (text, json,
** jsonb, vector, timestamps) -> string, SQL NULL -> absent key.
** Errors are "pq: <message> (SQLSTATE xxxxx)"; libpq never puts the password
** into a message, and connect errors quote no part of conninfo.
*/
#define _POSIX_C_SOURCE 200809L  /* nanosleep */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "standalone.h"

#define MT_CONN "astrocyte.pq.conn"
#define MAX_PARAMS 65535

typedef struct lconn {
    PGconn *pg;
} lconn;

/* Built-in type OIDs (catalog/pg_type.h is a server header). */
enum {
    OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_OID = 26,
    OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_NUMERIC = 1700
};

/* Swallows NOTICE messages (e.g. "extension already exists") that libpq
 * would otherwise print to stderr. */
static void quiet_notices(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Pushes nil, "pq: <msg>" with trailing newlines trimmed; returns 2. */
static int fail_msg(lua_State *L, const char *msg)
{
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    lua_pushnil(L);
    lua_pushliteral(L, "pq: ");
    lua_pushlstring(L, msg, n);
    lua_concat(L, 2);
    return 2;
}

static lconn *check_conn(lua_State *L)
{
    lconn *c = (lconn *)luaL_checkudata(L, 1, MT_CONN);
    if (c->pg == NULL)
        luaL_error(L, "pq: connection is closed");
    return c;
}

/* pq.connect(conninfo) -> conn | nil, err */
static int l_connect(lua_State *L)
{
    const char *info = luaL_checkstring(L, 1);
    lconn *c = (lconn *)lua_newuserdata(L, sizeof *c);
    c->pg = NULL;
    luaL_getmetatable(L, MT_CONN);
    lua_setmetatable(L, -2);
    c->pg = PQconnectdb(info);
    if (c->pg == NULL)
        return fail_msg(L, "out of memory allocating a connection");
    if (PQstatus(c->pg) != CONNECTION_OK) {
        int n = fail_msg(L, PQerrorMessage(c->pg));
        PQfinish(c->pg);
        c->pg = NULL;
        return n;
    }
    PQsetNoticeProcessor(c->pg, quiet_notices, NULL);
    return 1;
}

/* Converts the params array at idx into text values. The strings made for
 * numbers and booleans are left on the Lua stack, which keeps them alive
 * until the call returns. Sets *np; returns the values array (a userdata
 * on the stack) or raises on a value that cannot be a parameter. */
static const char **build_params(lua_State *L, int idx, int *np)
{
    int n = 0, i;
    const char **vals;
    if (lua_isnoneornil(L, idx)) {
        *np = 0;
        return NULL;
    }
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_getfield(L, idx, "n");
    if (lua_isnumber(L, -1))
        n = (int)lua_tointeger(L, -1);
    else
        n = (int)lua_rawlen(L, idx);
    lua_pop(L, 1);
    if (n < 0 || n > MAX_PARAMS)
        luaL_error(L, "pq: params.n must be between 0 and %d", MAX_PARAMS);
    *np = n;
    if (n == 0)
        return NULL;
    luaL_checkstack(L, n + 4, "pq: too many parameters");
    vals = (const char **)lua_newuserdata(L, (size_t)n * sizeof *vals);
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, idx, i + 1);
        switch (lua_type(L, -1)) {
        case LUA_TNIL:
            vals[i] = NULL;
            lua_pop(L, 1);
            break;
        case LUA_TBOOLEAN:
            vals[i] = lua_toboolean(L, -1) ? "t" : "f";
            lua_pop(L, 1);
            break;
        case LUA_TNUMBER: {
            char buf[64];
            lua_Number d = lua_tonumber(L, -1);
            if (lua_isinteger(L, -1))
                snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, -1));
            else if (d != d || d == HUGE_VAL || d == -HUGE_VAL)
                luaL_error(L, "pq: parameter $%d is not a finite number", i + 1);
            else if (d == floor(d) && fabs(d) < 9.007199254740992e15)
                snprintf(buf, sizeof buf, "%.0f", (double)d);
            else
                snprintf(buf, sizeof buf, "%.17g", (double)d);
            lua_pop(L, 1);
            lua_pushstring(L, buf);     /* stays on the stack */
            vals[i] = lua_tostring(L, -1);
            break;
        }
        case LUA_TSTRING: {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            if (strlen(s) != len)
                luaL_error(L, "pq: parameter $%d contains a NUL byte", i + 1);
            vals[i] = s;                /* stays on the stack */
            break;
        }
        default:
            luaL_error(L, "pq: parameter $%d has unsupported type %s", i + 1,
                       luaL_typename(L, -1));
        }
    }
    return vals;
}

/* Pushes one field value converted by its type OID. */
static void push_value(lua_State *L, const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);
    switch (PQftype(r, col)) {
    case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID:
        lua_pushinteger(L, (lua_Integer)strtoll(v, NULL, 10));
        break;
    case OID_FLOAT4: case OID_FLOAT8: case OID_NUMERIC:
        lua_pushnumber(L, (lua_Number)strtod(v, NULL));
        break;
    case OID_BOOL:
        lua_pushboolean(L, v[0] == 't');
        break;
    default:
        lua_pushlstring(L, v, (size_t)len);
    }
}

/* Turns a PGresult into the Lua result (or nil, err, sqlstate) and clears
 * it. Returns the number of values pushed. */
static int push_result(lua_State *L, lconn *c, PGresult *r)
{
    ExecStatusType st;
    int nt, nf, i, j;
    if (r == NULL)
        return fail_msg(L, PQerrorMessage(c->pg));
    st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *msg = PQresultErrorMessage(r);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (msg == NULL || msg[0] == '\0')
            msg = PQerrorMessage(c->pg);
        fail_msg(L, msg);
        if (state != NULL) {
            lua_pushfstring(L, " (SQLSTATE %s)", state);
            lua_concat(L, 2);
            lua_pushstring(L, state);
        } else {
            lua_pushnil(L);
        }
        PQclear(r);
        return 3;
    }
    nt = PQntuples(r);
    nf = PQnfields(r);
    lua_createtable(L, 0, 4);
    lua_createtable(L, nf, 0);
    for (j = 0; j < nf; j++) {
        lua_pushstring(L, PQfname(r, j));
        lua_rawseti(L, -2, j + 1);
    }
    lua_setfield(L, -2, "fields");
    lua_createtable(L, nt, 0);
    for (i = 0; i < nt; i++) {
        lua_createtable(L, 0, nf);
        for (j = 0; j < nf; j++) {
            if (PQgetisnull(r, i, j))
                continue;
            push_value(L, r, i, j);
            lua_setfield(L, -2, PQfname(r, j));
        }
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "rows");
    lua_pushinteger(L, nt);
    lua_setfield(L, -2, "ntuples");
    lua_pushinteger(L, (lua_Integer)strtoll(PQcmdTuples(r), NULL, 10));
    lua_setfield(L, -2, "cmd_tuples");
    PQclear(r);
    return 1;
}

/* conn:exec_params(sql, params) -> res | nil, err, sqlstate */
static int m_exec_params(lua_State *L)
{
    lconn *c = check_conn(L);
    const char *sql = luaL_checkstring(L, 2);
    int n;
    const char **vals = build_params(L, 3, &n);
    PGresult *r = PQexecParams(c->pg, sql, n, NULL, vals, NULL, NULL, 0);
    return push_result(L, c, r);
}

/* conn:prepare(name, sql) -> true | nil, err, sqlstate */
static int m_prepare(lua_State *L)
{
    lconn *c = check_conn(L);
    const char *name = luaL_checkstring(L, 2);
    const char *sql = luaL_checkstring(L, 3);
    PGresult *r = PQprepare(c->pg, name, sql, 0, NULL);
    int n = push_result(L, c, r);
    if (n == 1) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    return n;
}

/* conn:exec_prepared(name, params) -> res | nil, err, sqlstate */
static int m_exec_prepared(lua_State *L)
{
    lconn *c = check_conn(L);
    const char *name = luaL_checkstring(L, 2);
    int n;
    const char **vals = build_params(L, 3, &n);
    PGresult *r = PQexecPrepared(c->pg, name, n, vals, NULL, NULL, 0);
    return push_result(L, c, r);
}

/* conn:status() -> "ok" | "bad" ("bad" also after close). */
static int m_status(lua_State *L)
{
    lconn *c = (lconn *)luaL_checkudata(L, 1, MT_CONN);
    lua_pushstring(L, c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK ? "ok" : "bad");
    return 1;
}

/* conn:transaction_status() -> "idle" | "active" | "intrans" | "inerror" | "unknown" */
static int m_transaction_status(lua_State *L)
{
    lconn *c = (lconn *)luaL_checkudata(L, 1, MT_CONN);
    const char *s = "unknown";
    if (c->pg != NULL) {
        switch (PQtransactionStatus(c->pg)) {
        case PQTRANS_IDLE: s = "idle"; break;
        case PQTRANS_ACTIVE: s = "active"; break;
        case PQTRANS_INTRANS: s = "intrans"; break;
        case PQTRANS_INERROR: s = "inerror"; break;
        default: break;
        }
    }
    lua_pushstring(L, s);
    return 1;
}

/* conn:reset() -> true | nil, err: reconnects with the same conninfo. */
static int m_reset(lua_State *L)
{
    lconn *c = check_conn(L);
    PQreset(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK)
        return fail_msg(L, PQerrorMessage(c->pg));
    PQsetNoticeProcessor(c->pg, quiet_notices, NULL);
    lua_pushboolean(L, 1);
    return 1;
}

/* conn:server_version() -> integer (0 when unknown) */
static int m_server_version(lua_State *L)
{
    lconn *c = check_conn(L);
    lua_pushinteger(L, PQserverVersion(c->pg));
    return 1;
}

/* conn:close() -> true; idempotent, also the __gc. */
static int m_close(lua_State *L)
{
    lconn *c = (lconn *)luaL_checkudata(L, 1, MT_CONN);
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int m_tostring(lua_State *L)
{
    lconn *c = (lconn *)luaL_checkudata(L, 1, MT_CONN);
    lua_pushfstring(L, MT_CONN ": %p%s", (void *)c, c->pg == NULL ? " (closed)" : "");
    return 1;
}

/* pq.vector_literal(packed) -> "[v1,v2,...]" for a packed float32 string. */
static int l_vector_literal(lua_State *L)
{
    size_t len, i, n;
    const char *p = luaL_checklstring(L, 1, &len);
    luaL_Buffer b;
    if (len % 4 != 0)
        return luaL_argerror(L, 1, "packed vector length is not a multiple of 4");
    n = len / 4;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '[');
    for (i = 0; i < n; i++) {
        float f;
        char num[32];
        int k;
        memcpy(&f, p + 4 * i, sizeof f);
        if (f != f || f == HUGE_VALF || f == -HUGE_VALF)
            return luaL_error(L, "pq: vector[%d] is not finite", (int)i + 1);
        k = snprintf(num, sizeof num, i == 0 ? "%.9g" : ",%.9g", (double)f);
        luaL_addlstring(&b, num, (size_t)k);
    }
    luaL_addchar(&b, ']');
    luaL_pushresult(&b);
    return 1;
}

/* pq.parse_vector(text) -> packed float32 string | nil, err for "[a,b,...]". */
static int l_parse_vector(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *q = s;
    luaL_Buffer b;
    if (*q != '[')
        return fail_msg(L, "vector text must start with '['");
    q++;
    luaL_buffinit(L, &b);
    while (*q != ']') {
        char *end;
        float f = strtof(q, &end);
        if (end == q)
            return fail_msg(L, "vector text has a bad element");
        luaL_addlstring(&b, (const char *)&f, sizeof f);
        q = end;
        while (*q == ' ')
            q++;
        if (*q == ',')
            q++;
        else if (*q != ']')
            return fail_msg(L, "vector text has a bad separator");
    }
    luaL_pushresult(&b);
    return 1;
}

/* pq.sleep_ms(ms): blocks the thread (reconnect backoff in plain Lua hosts;
 * an OpenResty backend sleeps with ngx.sleep instead). */
static int l_sleep_ms(lua_State *L)
{
    astro_mod_sleep_ms(luaL_checknumber(L, 1), 60000);
    return 0;
}

static const luaL_Reg conn_methods[] = {
    {"exec_params", m_exec_params},
    {"prepare", m_prepare},
    {"exec_prepared", m_exec_prepared},
    {"status", m_status},
    {"transaction_status", m_transaction_status},
    {"reset", m_reset},
    {"server_version", m_server_version},
    {"close", m_close},
    {NULL, NULL}
};

static const luaL_Reg module_funcs[] = {
    {"connect", l_connect},
    {"vector_literal", l_vector_literal},
    {"parse_vector", l_parse_vector},
    {"sleep_ms", l_sleep_ms},
    {NULL, NULL}
};

ASTRO_LUA_EXPORT int luaopen_astrocyte_pq(lua_State *L);

ASTRO_LUA_EXPORT int luaopen_astrocyte_pq(lua_State *L)
{
    astro_mod_newclass(L, MT_CONN, conn_methods, m_close, m_tostring);
    astro_mod_newlib(L, module_funcs);
    lua_pushinteger(L, PQlibVersion());
    lua_setfield(L, -2, "libpq_version");
    return 1;
}
