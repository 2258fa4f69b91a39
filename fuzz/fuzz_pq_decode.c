/*
** fuzz_pq_decode.c — result decoding of astrocyte.pq (bindings/lua/
** astro_pq.c), compiled into this file to reach its static functions:
**   push_result/push_value: a PGresult built with libpq's own constructors
**     (PQmakeEmptyPGresult, PQsetResultAttrs, PQsetvalue; no server) from
**     the input — status, field names, type OIDs (int2/4/8, oid, float4/8,
**     numeric, bool, text, json, unknown), NULLs and arbitrary text values —
**     is turned into the Lua result table. Checks: an error status gives
**     nil, message; otherwise rows/fields/ntuples are consistent and every
**     value has the Lua type its OID maps to (NULL: absent key).
**   parse_vector/vector_literal: arbitrary text must parse or return
**     nil, err; a parsed vector of finite floats prints as a literal that
**     parses back to the very same bytes.
*/
#include "astro_pq.c"

#include "fuzz_input.h"

/* A fresh state per input: everything it allocated is freed by lua_close,
 * so libFuzzer's per-input leak check sees only what the C code leaks. */
static lua_State *L;

static const Oid OIDS[] = { OID_BOOL, OID_INT8, OID_INT2, OID_INT4, OID_OID, OID_FLOAT4,
                            OID_FLOAT8, OID_NUMERIC, 25 /* text */, 114 /* json */, 0, 99999 };
#define NOIDS (sizeof OIDS / sizeof OIDS[0])

/* The Lua type a value of this OID decodes to. */
static int lua_type_of(Oid t) {
    switch (t) {
    case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID:
    case OID_FLOAT4: case OID_FLOAT8: case OID_NUMERIC:
        return LUA_TNUMBER;
    case OID_BOOL:
        return LUA_TBOOLEAN;
    default:
        return LUA_TSTRING;
    }
}

/* pcall'd: push_result(lconn at 1, PGresult at 2); returns its values. */
static int do_result(lua_State *Ls) {
    lconn *c = (lconn *)lua_touserdata(Ls, 1);
    PGresult *r = (PGresult *)lua_touserdata(Ls, 2);
    lua_settop(Ls, 0);
    return push_result(Ls, c, r);
}

#define MAXF 8
#define MAXT 12

static void fuzz_result(fuzz_in *in) {
    static const ExecStatusType ST[] = { PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_FATAL_ERROR,
                                         PGRES_EMPTY_QUERY, PGRES_BAD_RESPONSE, PGRES_TUPLES_OK };
    ExecStatusType st = ST[fi_u8(in) % 6];
    PGresult *r = PQmakeEmptyPGresult(NULL, st);
    if (!r) return;
    int nf = fi_u8(in) % (MAXF + 1), nt = fi_u8(in) % (MAXT + 1);
    PGresAttDesc att[MAXF];
    char names[MAXF][17];
    for (int j = 0; j < nf; j++) {
        size_t nl;
        const uint8_t *p = fi_piece(in, 16, &nl);
        size_t k = 0;
        for (size_t i = 0; i < nl; i++)
            if (p[i]) names[j][k++] = (char)p[i];   /* C strings on the wire */
        names[j][k] = '\0';
        memset(&att[j], 0, sizeof att[j]);
        att[j].name = names[j];
        att[j].typid = OIDS[fi_u8(in) % NOIDS];
        att[j].typlen = -1;
        att[j].atttypmod = -1;
    }
    if (nf > 0 && !PQsetResultAttrs(r, nf, att)) {
        PQclear(r);
        return;
    }
    int isnull[MAXT][MAXF];
    for (int i = 0; i < nt && nf > 0; i++) {
        for (int j = 0; j < nf; j++) {
            size_t vl;
            uint8_t how = fi_u8(in);
            const uint8_t *v = fi_piece(in, 40, &vl);
            isnull[i][j] = (how & 7) == 0;
            if (!PQsetvalue(r, i, j, isnull[i][j] ? NULL : (char *)v, isnull[i][j] ? -1 : (int)vl)) {
                PQclear(r);
                return;
            }
        }
    }
    int ntup = PQntuples(r);
    lconn c = { NULL };
    lua_settop(L, 0);
    lua_pushcfunction(L, do_result);
    lua_pushlightuserdata(L, &c);
    lua_pushlightuserdata(L, r);   /* push_result clears it */
    if (lua_pcall(L, 2, LUA_MULTRET, 0) != LUA_OK) {
        fprintf(stderr, "push_result raised: %s\n", lua_tostring(L, -1));
        abort();
    }
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        FUZZ_CHECK(lua_gettop(L) == 3 && lua_isnil(L, 1) && lua_type(L, 2) == LUA_TSTRING);
        FUZZ_CHECK(strncmp(lua_tostring(L, 2), "pq: ", 4) == 0);
        lua_settop(L, 0);
        return;
    }
    FUZZ_CHECK(lua_gettop(L) == 1 && lua_istable(L, 1));
    lua_getfield(L, 1, "ntuples");
    FUZZ_CHECK(lua_tointeger(L, -1) == ntup);
    lua_pop(L, 1);
    lua_getfield(L, 1, "fields");
    FUZZ_CHECK(lua_istable(L, -1) && (int)lua_rawlen(L, -1) == nf);
    for (int j = 0; j < nf; j++) {
        lua_rawgeti(L, -1, j + 1);
        FUZZ_CHECK(lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), names[j]) == 0);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "rows");
    FUZZ_CHECK(lua_istable(L, -1) && (int)lua_rawlen(L, -1) == ntup);
    for (int i = 0; i < ntup; i++) {
        lua_rawgeti(L, -1, i + 1);
        FUZZ_CHECK(lua_istable(L, -1));
        for (int j = 0; j < nf; j++) {
            /* the last non-NULL field of a name sets it */
            int last = -1;
            for (int x = 0; x < nf; x++)
                if (strcmp(names[x], names[j]) == 0 && !isnull[i][x]) last = x;
            lua_getfield(L, -1, names[j]);
            if (last < 0) FUZZ_CHECK(lua_isnil(L, -1));
            else FUZZ_CHECK(lua_type(L, -1) == lua_type_of(att[last].typid));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_settop(L, 0);
}

static int do_parse(lua_State *Ls) { return l_parse_vector(Ls); }
static int do_literal(lua_State *Ls) { return l_vector_literal(Ls); }

static void fuzz_vector(const char *s, size_t len) {
    lua_settop(L, 0);
    lua_pushcfunction(L, do_parse);
    lua_pushlstring(L, s, len);
    FUZZ_CHECK(lua_pcall(L, 1, LUA_MULTRET, 0) == LUA_OK);   /* never raises: nil, err */
    if (lua_isnil(L, 1)) {
        FUZZ_CHECK(lua_gettop(L) == 2 && lua_type(L, 2) == LUA_TSTRING);
        lua_settop(L, 0);
        return;
    }
    size_t blen;
    const char *bytes = lua_tolstring(L, 1, &blen);
    FUZZ_CHECK(bytes != NULL && blen % 4 == 0);
    int finite = 1;
    for (size_t i = 0; i < blen; i += 4) {
        float f;
        memcpy(&f, bytes + i, 4);
        if (!isfinite(f)) finite = 0;
    }
    lua_pushcfunction(L, do_literal);
    lua_pushvalue(L, 1);
    int rc = lua_pcall(L, 1, 1, 0);   /* stack: bytes, literal|err */
    if (!finite) {
        FUZZ_CHECK(rc != LUA_OK);   /* "vector[i] is not finite" */
        lua_settop(L, 0);
        return;
    }
    FUZZ_CHECK(rc == LUA_OK && lua_type(L, 2) == LUA_TSTRING);
    lua_pushcfunction(L, do_parse);
    lua_pushvalue(L, 2);
    FUZZ_CHECK(lua_pcall(L, 1, 1, 0) == LUA_OK);   /* stack: bytes, literal, bytes again */
    size_t blen2;
    const char *again = lua_tolstring(L, 3, &blen2);
    FUZZ_CHECK(again != NULL && blen2 == blen && memcmp(again, bytes, blen) == 0);
    lua_settop(L, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_in in = { data, size };
    L = luaL_newstate();
    if (!L) return 0;
    uint8_t mode = fi_u8(&in);
    if (mode & 1) fuzz_vector((const char *)in.p, in.n);
    else fuzz_result(&in);
    lua_close(L);
    return 0;
}
