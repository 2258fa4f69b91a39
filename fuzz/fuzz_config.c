/*
** fuzz_config.c — the YAML/JSON config path through the Lua layer:
** require("astrocyte.config").load(path) on a file holding the input, once
** as .yaml (lyaml) and once as .json (lua-cjson), in a Lua 5.4 state that
** loads the checkout's lua/ tree and this build's lua54/ C modules.
**
** load must return a config table or nil plus an error; a Lua error raised
** out of it (or out of masked() / for_bank() on a config it accepted) is a
** crash: the harness prints it and aborts.
**
** Paths come from ASTRO_FUZZ_LUA_PATH / ASTRO_FUZZ_LUA_CPATH (set by ctest
** and scripts/fuzz), else from this checkout and build. Feedback: the Lua
** code is not compiled with coverage, so a line hook maps (chunk, line,
** previous line) onto libFuzzer's extra counters — new Lua paths count as
** new coverage. The state lives for the whole run (modules stay loaded).
** Sandbox: profile names may be paths, so io.open only opens files under
** the checkout or the harness's temp dir (no /dev/zero, /dev/stdin, ...).
** Leak detection is off (fuzz/config.options, read by scripts/fuzz): the
** state keeps modules and caches across inputs, so libFuzzer's per-input
** leak check would scan the heap after almost every input.
*/
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_input.h"

#ifndef ASTRO_FUZZ_SOURCE_DIR
#define ASTRO_FUZZ_SOURCE_DIR "."
#endif
#ifndef ASTRO_FUZZ_BUILD_DIR
#define ASTRO_FUZZ_BUILD_DIR "build-fuzz"
#endif

#define NCOV 8192
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t cov[NCOV];

static lua_State *L;
static int driver_ref = LUA_NOREF;
static char dir[64], yaml_path[96], json_path[96];
static uintptr_t prev_edge;

static void line_hook(lua_State *Ls, lua_Debug *ar) {
    if (!lua_getinfo(Ls, "S", ar)) return;
    uintptr_t cur = ((uintptr_t)ar->source * 0x9E3779B1u) ^ (uintptr_t)ar->currentline * 0x85EBCA6Bu;
    cov[(cur ^ (prev_edge >> 1)) % NCOV]++;
    prev_edge = cur;
}

static const char *SETUP =
    "local src, build, tmp, lpath, cpath = ...\n"
    "package.path = (lpath ~= '' and lpath .. ';' or '') .. src .. '/lua/?.lua;' .. src ..\n"
    "  '/lua/?/init.lua;' .. package.path\n"
    "package.cpath = (cpath ~= '' and cpath .. ';' or '') .. build .. '/lua54/?.so;' .. package.cpath\n"
    "local real_open, allowed = io.open, { src .. '/', tmp .. '/' }\n"
    "io.open = function(path, mode)\n"
    "  if type(path) == 'string' then\n"
    "    local ok = not path:find('..', 1, true)\n"
    "    if ok then\n"
    "      ok = false\n"
    "      for _, p in ipairs(allowed) do if path:sub(1, #p) == p then ok = true end end\n"
    "    end\n"
    "    if not ok then return nil, path .. ': No such file or directory (fuzz sandbox)', 2 end\n"
    "  end\n"
    "  return real_open(path, mode)\n"
    "end\n"
    "local config = require 'astrocyte.config'\n"
    "return function(path)\n"
    "  local ok, cfg, err = pcall(config.load, path)\n"
    "  if not ok then return 'raised', tostring(cfg) end\n"
    "  if cfg == nil then\n"
    "    if err == nil then return 'bad', 'nil without an error' end\n"
    "    if type(err) == 'table' and type(err.message) ~= 'string' then return 'bad', 'error without message' end\n"
    "    return 'error', tostring(type(err) == 'table' and err.message or err)\n"
    "  end\n"
    "  if type(cfg) ~= 'table' then return 'bad', 'config is a ' .. type(cfg) end\n"
    "  local mok, merr = pcall(config.masked, cfg)\n"
    "  if not mok then return 'raised', 'masked: ' .. tostring(merr) end\n"
    "  if type(cfg.banks) == 'table' then\n"
    "    for id in pairs(cfg.banks) do\n"
    "      local bok, berr = pcall(config.for_bank, cfg, id)\n"
    "      if not bok then return 'raised', 'for_bank: ' .. tostring(berr) end\n"
    "    end\n"
    "  end\n"
    "  return 'ok', ''\n"
    "end\n";

/* The Lua state allocates and frees much per input: a small quarantine
 * keeps ASan from touching fresh pages all the time (most of the run time
 * went to page faults), short allocation stacks keep its bookkeeping cheap. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=16:malloc_context_size=4"; }

static void cleanup(void) {
    remove(yaml_path);
    remove(json_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    /* the input is written twice per run: tmpfs when there is one */
    const char *tmp = getenv("TMPDIR");
    if (!tmp || strlen(tmp) >= 32) tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/astro-fuzz-config.XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    snprintf(yaml_path, sizeof yaml_path, "%s/config.yaml", dir);
    snprintf(json_path, sizeof json_path, "%s/config.json", dir);
    atexit(cleanup);
    L = luaL_newstate();
    if (!L) abort();
    luaL_openlibs(L);
    const char *src = getenv("ASTRO_FUZZ_SOURCE_DIR");
    const char *build = getenv("ASTRO_FUZZ_BUILD_DIR");
    const char *lpath = getenv("ASTRO_FUZZ_LUA_PATH");
    const char *cpath = getenv("ASTRO_FUZZ_LUA_CPATH");
    if (luaL_loadstring(L, SETUP) != LUA_OK) {
        fprintf(stderr, "fuzz_config: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_pushstring(L, src && *src ? src : ASTRO_FUZZ_SOURCE_DIR);
    lua_pushstring(L, build && *build ? build : ASTRO_FUZZ_BUILD_DIR);
    lua_pushstring(L, dir);
    lua_pushstring(L, lpath ? lpath : "");
    lua_pushstring(L, cpath ? cpath : "");
    if (lua_pcall(L, 5, 1, 0) != LUA_OK) {
        fprintf(stderr, "fuzz_config: setup failed: %s\n", lua_tostring(L, -1));
        abort();
    }
    driver_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (!getenv("ASTRO_FUZZ_NO_HOOK")) lua_sethook(L, line_hook, LUA_MASKLINE, 0);
    return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static void run(const char *path) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, driver_ref);
    lua_pushstring(L, path);
    prev_edge = 0;
    if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
        fprintf(stderr, "fuzz_config: driver failed: %s\n", lua_tostring(L, -1));
        abort();
    }
    const char *verdict = lua_tostring(L, -2);
    if (!verdict || strcmp(verdict, "raised") == 0 || strcmp(verdict, "bad") == 0) {
        fprintf(stderr, "fuzz_config: config.load(%s) %s: %s\n", path, verdict ? verdict : "?",
                lua_tostring(L, -1));
        abort();
    }
    lua_pop(L, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 64 * 1024) return 0;
    write_file(yaml_path, data, size);
    write_file(json_path, data, size);
    run(yaml_path);
    run(json_path);
    lua_gc(L, LUA_GCSTEP, 64);
    return 0;
}
