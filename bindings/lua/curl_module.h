/*
** curl_module.h — the luaopen of the standalone modules that talk libcurl
** (astrocyte.http_curl, astrocyte.webhook): libcurl's global init (reference
** counted, thread-safe from libcurl 7.84), their userdata class, and the
** module table with VERSION and curl_version. Include after <curl/curl.h>
** and standalone.h.
*/
#ifndef ASTRO_LUA_CURL_MODULE_H
#define ASTRO_LUA_CURL_MODULE_H

/* Pushes the module table of modname (funcs) after registering class tname;
 * raises "<modname>: curl_global_init failed" when libcurl cannot start. */
static inline int astro_curl_module(lua_State *L, const char *modname, const char *tname,
                                    const luaL_Reg *methods, lua_CFunction gc, lua_CFunction tostring,
                                    const luaL_Reg *funcs)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return luaL_error(L, "%s: curl_global_init failed", modname);
    astro_mod_newclass(L, tname, methods, gc, tostring);
    astro_mod_newlib(L, funcs);
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
    return 1;
}

#endif
