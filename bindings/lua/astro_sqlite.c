/*
** astro_sqlite.c — astrocyte.sqlite, a thin and safe sqlite3 binding for the
** embedded store. Only what the store needs: open/close, exec, prepared
** statements with typed binds, row fetch as arrays or name-keyed tables.
** Safety rules: a statement keeps its database userdata alive through its
** user value, handles are closed with sqlite3_close_v2 so finalization order
** under the garbage collector does not matter, and using a finalized
** statement or a closed database raises instead of touching freed memory.
** Runtime failures return nil, "sqlite: <message>".
*/
#include <math.h>
#include <string.h>

#include <sqlite3.h>

#include "standalone.h"

#define MT_DB   "astrocyte.sqlite.db"
#define MT_STMT "astrocyte.sqlite.stmt"

typedef struct ldb {
    sqlite3 *db;
} ldb;

typedef struct lstmt {
    sqlite3_stmt *st;
    ldb *owner;         /* kept alive by the statement's user value */
} lstmt;

/* Pushes nil, "sqlite: <msg>" and returns 2. */
static int fail(lua_State *L, const char *msg)
{
    lua_pushnil(L);
    lua_pushfstring(L, "sqlite: %s", msg);
    return 2;
}

static ldb *check_db(lua_State *L, int idx)
{
    ldb *d = (ldb *)luaL_checkudata(L, idx, MT_DB);
    if (d->db == NULL)
        luaL_error(L, "sqlite: database is closed");
    return d;
}

static lstmt *check_stmt(lua_State *L)
{
    lstmt *s = (lstmt *)luaL_checkudata(L, 1, MT_STMT);
    if (s->st == NULL)
        luaL_error(L, "sqlite: statement is finalized");
    if (s->owner->db == NULL)
        luaL_error(L, "sqlite: database is closed");
    return s;
}

/* sqlite.open(path [, {readonly=false, create=true}]) -> db | nil, err */
static int l_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int readonly = 0, create = 1, flags, rc;
    ldb *d;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        readonly = astro_mod_optbool(L, 2, "readonly", 0);
        create = astro_mod_optbool(L, 2, "create", 1);
    }
    if (readonly)
        flags = SQLITE_OPEN_READONLY;
    else
        flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    flags |= SQLITE_OPEN_NOMUTEX;
    /* The userdata (with __gc) exists first so a handle can never leak. */
    d = (ldb *)lua_newuserdata(L, sizeof *d);
    d->db = NULL;
    luaL_getmetatable(L, MT_DB);
    lua_setmetatable(L, -2);
    rc = sqlite3_open_v2(path, &d->db, flags, NULL);
    if (rc != SQLITE_OK) {
        const char *msg = d->db != NULL ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc);
        lua_pushnil(L);
        lua_pushfstring(L, "sqlite: cannot open '%s': %s", path, msg);
        sqlite3_close_v2(d->db);
        d->db = NULL;
        return 2;
    }
    sqlite3_extended_result_codes(d->db, 0);
    return 1;
}

/* db:exec(sql) -> true | nil, err (runs every statement in sql) */
static int m_db_exec(lua_State *L)
{
    ldb *d = check_db(L, 1);
    const char *sql = luaL_checkstring(L, 2);
    char *errmsg = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &errmsg) != SQLITE_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "sqlite: %s", errmsg != NULL ? errmsg : sqlite3_errmsg(d->db));
        sqlite3_free(errmsg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* db:prepare(sql) -> stmt | nil, err. Only the first statement of sql is
 * compiled; SQL with no statement at all is an error. */
static int m_db_prepare(lua_State *L)
{
    ldb *d = check_db(L, 1);
    size_t len;
    const char *sql = luaL_checklstring(L, 2, &len);
    lstmt *s = (lstmt *)astro_newud(L, sizeof *s);
    s->st = NULL;
    s->owner = d;
    luaL_getmetatable(L, MT_STMT);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, 1);
    astro_setuservalue(L, -2);
    if (sqlite3_prepare_v2(d->db, sql, (int)len, &s->st, NULL) != SQLITE_OK)
        return fail(L, sqlite3_errmsg(d->db));
    if (s->st == NULL)
        return fail(L, "no SQL statement to prepare");
    return 1;
}

static int m_db_changes(lua_State *L)
{
    ldb *d = check_db(L, 1);
    lua_pushinteger(L, (lua_Integer)sqlite3_changes(d->db));
    return 1;
}

static int m_db_last_insert_rowid(lua_State *L)
{
    ldb *d = check_db(L, 1);
    lua_pushinteger(L, (lua_Integer)sqlite3_last_insert_rowid(d->db));
    return 1;
}

static int m_db_errmsg(lua_State *L)
{
    ldb *d = check_db(L, 1);
    lua_pushstring(L, sqlite3_errmsg(d->db));
    return 1;
}

/* db:busy_timeout(ms) -> true */
static int m_db_busy_timeout(lua_State *L)
{
    ldb *d = check_db(L, 1);
    lua_Number ms = luaL_checknumber(L, 2);
    if (!(ms >= 0 && ms <= 2147483647.0))
        return luaL_argerror(L, 2, "timeout must be 0..2^31-1 milliseconds");
    sqlite3_busy_timeout(d->db, (int)ms);
    lua_pushboolean(L, 1);
    return 1;
}

/* db:close() -> true. Idempotent; statements still open keep the connection
 * as a zombie until they are finalized, but raise if used. */
static int m_db_close(lua_State *L)
{
    ldb *d = (ldb *)luaL_checkudata(L, 1, MT_DB);
    if (d->db != NULL) {
        sqlite3_close_v2(d->db);
        d->db = NULL;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int m_db_is_open(lua_State *L)
{
    ldb *d = (ldb *)luaL_checkudata(L, 1, MT_DB);
    lua_pushboolean(L, d->db != NULL);
    return 1;
}

static int m_db_tostring(lua_State *L)
{
    ldb *d = (ldb *)luaL_checkudata(L, 1, MT_DB);
    lua_pushfstring(L, MT_DB ": %p%s", (void *)d, d->db == NULL ? " (closed)" : "");
    return 1;
}

/* Binds the value at idx to parameter i; returns the sqlite3 result code,
 * raises for values that have no SQL counterpart (tables, functions...). */
static int bind_value(lua_State *L, sqlite3_stmt *st, int i, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TNONE:
        return sqlite3_bind_null(st, i);
    case LUA_TBOOLEAN:
        return sqlite3_bind_int(st, i, lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        lua_Number n;
        if (lua_isinteger(L, idx))
            return sqlite3_bind_int64(st, i, (sqlite3_int64)lua_tointeger(L, idx));
        n = lua_tonumber(L, idx);
#if LUA_VERSION_NUM == 501
        /* No integer subtype: integral doubles that are exact go in as INTEGER. */
        if (n == floor(n) && fabs(n) < 9007199254740992.0)
            return sqlite3_bind_int64(st, i, (sqlite3_int64)n);
#endif
        return sqlite3_bind_double(st, i, (double)n);
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return sqlite3_bind_text64(st, i, s, (sqlite3_uint64)len, SQLITE_TRANSIENT,
                                   SQLITE_UTF8);
    }
    default:
        lua_pushfstring(L, "cannot bind a %s", luaL_typename(L, idx));
        return luaL_argerror(L, idx, lua_tostring(L, -1));
    }
}

/* Turns a bind result code into the Lua return values. */
static int bind_result(lua_State *L, lstmt *s, int rc)
{
    if (rc != SQLITE_OK)
        return fail(L, rc == SQLITE_RANGE ? "bind index out of range"
                                          : sqlite3_errmsg(s->owner->db));
    lua_pushboolean(L, 1);
    return 1;
}

/* Returns parameter index idx as an int; values outside 1..INT_MAX map to 0,
 * which sqlite3_bind_* rejects with SQLITE_RANGE. */
static int check_index(lua_State *L, int idx)
{
    lua_Integer i = luaL_checkinteger(L, idx);
    return (i >= 1 && i <= 2147483647) ? (int)i : 0;
}

/* stmt:bind(i, v) -> true | nil, err */
static int m_stmt_bind(lua_State *L)
{
    lstmt *s = check_stmt(L);
    int i = check_index(L, 2);
    luaL_checkany(L, 3);
    return bind_result(L, s, bind_value(L, s->st, i, 3));
}

/* stmt:bind_blob(i, s) -> true | nil, err */
static int m_stmt_bind_blob(lua_State *L)
{
    lstmt *s = check_stmt(L);
    int i = check_index(L, 2);
    size_t len;
    const char *b = luaL_checklstring(L, 3, &len);
    return bind_result(L, s, sqlite3_bind_blob64(s->st, i, b, (sqlite3_uint64)len,
                                                 SQLITE_TRANSIENT));
}

/* stmt:bind_values(...) binds parameters 1..n -> true | nil, err */
static int m_stmt_bind_values(lua_State *L)
{
    lstmt *s = check_stmt(L);
    int n = lua_gettop(L) - 1, i, rc;
    for (i = 1; i <= n; i++) {
        rc = bind_value(L, s->st, i, i + 1);
        if (rc != SQLITE_OK)
            return bind_result(L, s, rc);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* stmt:step() -> true (row ready) | false (done) | nil, err (statement reset) */
static int m_stmt_step(lua_State *L)
{
    lstmt *s = check_stmt(L);
    int rc = sqlite3_step(s->st);
    if (rc == SQLITE_ROW) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (rc == SQLITE_DONE) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pushnil(L);
    lua_pushfstring(L, "sqlite: %s", sqlite3_errmsg(s->owner->db));
    sqlite3_reset(s->st);
    return 2;
}

/* Pushes column i of the current row. */
static void push_column(lua_State *L, sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        lua_pushinteger(L, (lua_Integer)sqlite3_column_int64(st, i));
        break;
    case SQLITE_FLOAT:
        lua_pushnumber(L, (lua_Number)sqlite3_column_double(st, i));
        break;
    case SQLITE_TEXT: {
        const unsigned char *t = sqlite3_column_text(st, i);
        lua_pushlstring(L, (const char *)t, (size_t)sqlite3_column_bytes(st, i));
        break;
    }
    case SQLITE_BLOB: {
        const void *b = sqlite3_column_blob(st, i);
        int n = sqlite3_column_bytes(st, i);
        lua_pushlstring(L, b != NULL ? (const char *)b : "", (size_t)n);
        break;
    }
    default:
        lua_pushnil(L);
        break;
    }
}

/* stmt:row() -> {v1, v2, ..., n = ncols} (NULL columns are nil holes) */
static int m_stmt_row(lua_State *L)
{
    lstmt *s = check_stmt(L);
    int n = sqlite3_data_count(s->st), i;
    lua_createtable(L, n, 1);
    for (i = 0; i < n; i++) {
        push_column(L, s->st, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushinteger(L, n);
    lua_setfield(L, -2, "n");
    return 1;
}

/* stmt:named() -> {colname = value, ...} */
static int m_stmt_named(lua_State *L)
{
    lstmt *s = check_stmt(L);
    int n = sqlite3_data_count(s->st), i;
    lua_createtable(L, 0, n);
    for (i = 0; i < n; i++) {
        lua_pushstring(L, sqlite3_column_name(s->st, i));
        push_column(L, s->st, i);
        lua_rawset(L, -3);
    }
    return 1;
}

/* stmt:columns() -> array of column names */
static int m_stmt_columns(lua_State *L)
{
    lstmt *s = check_stmt(L);
    int n = sqlite3_column_count(s->st), i;
    lua_createtable(L, n, 0);
    for (i = 0; i < n; i++) {
        lua_pushstring(L, sqlite3_column_name(s->st, i));
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* stmt:reset() -> true; also clears the bindings. */
static int m_stmt_reset(lua_State *L)
{
    lstmt *s = check_stmt(L);
    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    lua_pushboolean(L, 1);
    return 1;
}

/* stmt:finalize() -> true; idempotent, also allowed after db:close(). */
static int m_stmt_finalize(lua_State *L)
{
    lstmt *s = (lstmt *)luaL_checkudata(L, 1, MT_STMT);
    if (s->st != NULL) {
        sqlite3_finalize(s->st);
        s->st = NULL;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int m_stmt_tostring(lua_State *L)
{
    lstmt *s = (lstmt *)luaL_checkudata(L, 1, MT_STMT);
    lua_pushfstring(L, MT_STMT ": %p%s", (void *)s, s->st == NULL ? " (finalized)" : "");
    return 1;
}

static const luaL_Reg db_methods[] = {
    {"exec", m_db_exec},
    {"prepare", m_db_prepare},
    {"changes", m_db_changes},
    {"last_insert_rowid", m_db_last_insert_rowid},
    {"errmsg", m_db_errmsg},
    {"busy_timeout", m_db_busy_timeout},
    {"close", m_db_close},
    {"is_open", m_db_is_open},
    {NULL, NULL}
};

static const luaL_Reg stmt_methods[] = {
    {"bind", m_stmt_bind},
    {"bind_blob", m_stmt_bind_blob},
    {"bind_values", m_stmt_bind_values},
    {"step", m_stmt_step},
    {"row", m_stmt_row},
    {"named", m_stmt_named},
    {"columns", m_stmt_columns},
    {"reset", m_stmt_reset},
    {"finalize", m_stmt_finalize},
    {NULL, NULL}
};

/* sqlite.sleep_ms(ms): sqlite3_sleep, for retrying a lock SQLite does not
 * wait for itself (two connections setting up one new file at once). */
static int l_sleep_ms(lua_State *L)
{
    lua_Integer ms = luaL_checkinteger(L, 1);
    luaL_argcheck(L, ms >= 0 && ms <= 60000, 1, "milliseconds must be in 0..60000");
    sqlite3_sleep((int)ms);
    return 0;
}

static const luaL_Reg module_funcs[] = {
    {"open", l_open},
    {"sleep_ms", l_sleep_ms},
    {NULL, NULL}
};

ASTRO_LUA_EXPORT int luaopen_astrocyte_sqlite(lua_State *L);

ASTRO_LUA_EXPORT int luaopen_astrocyte_sqlite(lua_State *L)
{
    astro_mod_newclass(L, MT_DB, db_methods, m_db_close, m_db_tostring);
    astro_mod_newclass(L, MT_STMT, stmt_methods, m_stmt_finalize, m_stmt_tostring);
    astro_mod_newlib(L, module_funcs);
    lua_pushstring(L, sqlite3_libversion());
    lua_setfield(L, -2, "sqlite_version");
    return 1;
}
