/*
** astro_fs.c — the file-system primitives of astrocyte.core that standard
** Lua lacks: core.fsync_path(path) makes a file's data (or a directory's
** entries, after a rename) durable. Lua's io library can flush its buffers
** but cannot fsync, and the JSONL export sink promises durability on
** flush(). Failures return nil plus the system's message with the path.
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "astro_lua.h"

/* core.fsync_path(path) → true | nil, "fsync <path>: <reason>". Opens the
 * path read-only (which works for files and directories), fsyncs, closes. */
static int l_fsync_path(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int fd, rc, e;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "fsync %s: %s", path, strerror(errno));
        return 2;
    }
    do {
        rc = fsync(fd);
    } while (rc != 0 && errno == EINTR);
    e = errno;
    close(fd);
    if (rc != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "fsync %s: %s", path, strerror(e));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg fs_funcs[] = {
    {"fsync_path", l_fsync_path},
    {NULL, NULL}
};

void astro_lua_open_fs(lua_State *L)
{
    luaL_setfuncs(L, fs_funcs, 0);
}
