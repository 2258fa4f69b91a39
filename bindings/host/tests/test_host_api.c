/*
** test_host_api.c — ctest host.api: every call of astrocyte.h on one engine
** (synchronous verbs, typed recall hits, reload, host functions, submit and
** poll) and the error paths: bad JSON, wrong types, a missing bank, a bad
** config, a closed engine, a poll after close.
*/
#include "host_test.h"

#include <stdint.h>
#include <string.h>

/* A Lua LLM provider whose completions come from the host function
 * "npc_voice": reflect reaches C through astrocyte.host. */
static const char hostllm_lua[] =
    "local host = require 'astrocyte.host'\n"
    "local P = { SPI_VERSION = 1 }\n"
    "P.__index = P\n"
    "function P.new(conf) return setmetatable({ name = 'hostllm', conf = conf }, P) end\n"
    "function P:complete(messages)\n"
    "  local r, err = host.call('npc_voice', { prompt = messages[#messages].content, n = 2 })\n"
    "  if not r then error(err) end\n"
    "  return { text = r.text, model = 'host' }\n"
    "end\n"
    "function P:embed() return nil, 'no embeddings here' end\n"
    "function P:capabilities() return { completion = true } end\n"
    "function P:health() return { healthy = host.has('npc_voice') } end\n"
    "return { Provider = P }\n";

/* Host function: answers with the length of the prompt it got. */
static int npc_voice(void *ud, const char *args, char **out)
{
    int *calls = ud;
    char buf[128];
    (*calls)++;
    if (!strstr(args, "\"prompt\"") || !strstr(args, "\"n\":2"))
        return -1;
    snprintf(buf, sizeof buf, "{\"text\":\"voice of %zu bytes\"}", strlen(args));
    *out = malloc(strlen(buf) + 1);
    if (!*out)
        return -1;
    strcpy(*out, buf);
    return 0;
}

static int failing_fn(void *ud, const char *args, char **out)
{
    (void)ud;
    (void)args;
    *out = malloc(16);
    if (*out)
        strcpy(*out, "cellar flooded");
    return 3;
}

typedef struct polled {
    int n;
    uint64_t tickets[16];
    int codes[16];
    int hit_counts[16];
    char kinds[16][32];
} polled;

static void on_result(astro_result *r, void *ud)
{
    polled *p = ud;
    if (p->n >= 16)
        return;
    p->tickets[p->n] = r->ticket;
    p->codes[p->n] = r->code;
    p->hit_counts[p->n] = r->hits ? (int)r->hits->count : -1;
    snprintf(p->kinds[p->n], sizeof p->kinds[0], "%s", r->error ? r->error->kind : "");
    p->n++;
}

int main(void)
{
    astro_error err;
    astro_open_opts o;
    astro_engine *e;
    astro_hits *hits = NULL;
    char *json = NULL, path[512], db[512], lp[600], cfg[1024];
    int rc, calls = 0;
    const char *dir = scratch_dir();

    /* api-1: opening */
    e = astro_engine_open("/nonexistent/astro.yaml", &err);
    CHECK("api-1.1", e == NULL && err.code == ASTRO_E_CONFIG && strcmp(err.kind, "ConfigError") == 0);
    CHECK("api-1.2", strstr(err.message, "/nonexistent/astro.yaml") != NULL);
    e = astro_engine_open("vector_store: sqlite\nnot_a_key: [1\n", &err);
    CHECK("api-1.3", e == NULL && err.code == ASTRO_E_CONFIG);
    e = astro_engine_open("{\"vector_store\": 5}", &err);
    CHECK("api-1.4", e == NULL && err.code == ASTRO_E_CONFIG);
    astro_open_opts_init(&o);
    o.workers = 99;
    CHECK("api-1.5", astro_engine_open_ex(NULL, &o, &err) == NULL && err.code == ASTRO_E_ARG);
    astro_open_opts_init(&o);
    o.worker_nice = 25;
    CHECK("api-1.6", astro_engine_open_ex(NULL, &o, &err) == NULL && err.code == ASTRO_E_ARG);
    astro_open_opts_init(&o);
    o.workers = 3;      /* every worker fails to open: one error, nothing leaked */
    CHECK("api-1.7", astro_engine_open_ex("/nonexistent/x.yaml", &o, &err) == NULL && err.code == ASTRO_E_CONFIG);

    scratch_file(lp, sizeof lp, "hostllm.lua", hostllm_lua);
    snprintf(lp, sizeof lp, "%s/?.lua", dir);
    snprintf(db, sizeof db, "%s/api.db", dir);
    snprintf(cfg, sizeof cfg,
             "vector_store: sqlite\n"
             "vector_store_config: { path: %s }\n"
             "llm_provider: hostllm:Provider\n"
             "default_bank_id: town\n", db);
    scratch_file(path, sizeof path, "astro.yaml", cfg);
    astro_open_opts_init(&o);
    o.lua_path = lp;
    e = astro_engine_open_ex(path, &o, &err);
    CHECK("api-1.8", e != NULL);
    if (!e) {
        fprintf(stderr, "open: %s: %s\n", err.kind, err.message);
        return 1;
    }

    /* api-2: retain */
    rc = astro_retain(e, "{\"content\":\"The blacksmith Hilda sells iron swords near the north gate.\","
                         "\"bank_id\":\"npc-guard\",\"tags\":[\"shop\",\"iron\"],"
                         "\"occurred_at\":\"2024-05-01T12:30:00Z\"}", &json, &err);
    CHECK("api-2.1", ok(rc, &err) && json && strstr(json, "\"memory_id\":\"") && strstr(json, "\"stored\":true"));
    astro_free(json);
    rc = astro_retain(e, "{\"content\":\"Wolves were seen in the east forest at dusk.\",\"bank_id\":\"npc-guard\","
                         "\"metadata\":null}", NULL, &err);
    CHECK("api-2.2", ok(rc, &err));
    rc = astro_retain(e, "{\"content\": \"unterminated", &json, &err);
    CHECK("api-2.3", rc == ASTRO_E_JSON && err.code == ASTRO_E_JSON && json == NULL);
    rc = astro_retain(e, "[1, 2]", &json, &err);
    CHECK("api-2.4", rc == ASTRO_E_JSON && strstr(err.message, "array"));
    rc = astro_retain(e, "\"just a string\"", &json, &err);
    CHECK("api-2.5", rc == ASTRO_E_JSON);
    rc = astro_retain(e, "{\"content\": 42, \"bank_id\": \"npc-guard\"}", &json, &err);
    CHECK("api-2.6", rc == ASTRO_E_VALIDATION && strcmp(err.kind, "ValidationError") == 0 && json == NULL);
    rc = astro_retain(e, "{\"content\": \"x\", \"tags\": \"not-a-list\"}", &json, &err);
    CHECK("api-2.7", rc == ASTRO_E_VALIDATION);
    rc = astro_retain(e, NULL, &json, &err);
    CHECK("api-2.8", rc == ASTRO_E_ARG);
    rc = astro_retain(e, "{\"content\": \"x\", \"bank_id\": \"bad bank!\"}", &json, &err);
    CHECK("api-2.9", rc == ASTRO_E_VALIDATION && strstr(err.message, "bank"));
    rc = astro_call(e, (astro_verb)42, "{}", &json, &err);
    CHECK("api-2.10", rc == ASTRO_E_ARG);

    /* api-3: recall, JSON and typed */
    rc = astro_recall(e, "{\"query\":\"where can I buy an iron sword?\",\"bank_id\":\"npc-guard\",\"max_results\":3}",
                      &json, &err);
    CHECK("api-3.1", ok(rc, &err) && json && strstr(json, "Hilda") && strstr(json, "\"hits\":["));
    astro_free(json);
    rc = astro_recall_hits(e, "{\"query\":\"iron sword\",\"bank_id\":\"npc-guard\",\"max_results\":5}", &hits,
                           NULL, &err);
    CHECK("api-3.2", ok(rc, &err) && hits && hits->count >= 1);
    if (hits && hits->count >= 1) {
        const astro_hit *h = &hits->hits[0];
        CHECK("api-3.3", strstr(h->text, "Hilda") != NULL);
        CHECK("api-3.4", strlen(h->memory_id) > 0 && strcmp(h->bank_id, "npc-guard") == 0);
        CHECK("api-3.5", h->score > 0.0 && h->score <= 1.0);
        CHECK("api-3.6", h->tag_count == 2 && strcmp(h->tags[0], "shop") == 0 && strcmp(h->tags[1], "iron") == 0);
        CHECK("api-3.7", h->occurred_at_ms == 1714566600000LL);
        CHECK("api-3.8", h->retained_at_ms > 1700000000000LL);
        CHECK("api-3.9", hits->total_available >= hits->count);
    }
    astro_hits_free(hits);
    hits = NULL;
    rc = astro_recall_hits(e, "{\"query\": 7}", &hits, &json, &err);
    CHECK("api-3.10", rc == ASTRO_E_VALIDATION && hits == NULL && json == NULL);
    rc = astro_recall_hits(e, "{\"query\":\"x\",\"max_results\":\"many\"}", &hits, NULL, &err);
    CHECK("api-3.11", rc == ASTRO_E_VALIDATION && hits == NULL);
    CHECK("api-3.12", astro_recall_hits(e, "{\"query\":\"x\"}", NULL, NULL, &err) == ASTRO_E_ARG);

    /* api-4: a bank nobody wrote to is empty, not an error */
    rc = astro_recall_hits(e, "{\"query\":\"iron sword\",\"bank_id\":\"npc-nobody\"}", &hits, NULL, &err);
    CHECK("api-4.1", ok(rc, &err) && hits && hits->count == 0);
    astro_hits_free(hits);
    hits = NULL;

    /* api-5: reflect through the Lua provider that calls the host function */
    rc = astro_reflect(e, "{\"query\":\"who sells swords?\",\"bank_id\":\"npc-guard\"}", &json, &err);
    CHECK("api-5.1", ok(rc, &err) && json && strstr(json, "voice of ") == NULL);   /* not registered yet: extractive */
    astro_free(json);
    CHECK("api-5.2", ok(astro_register_function(e, "npc_voice", npc_voice, &calls, &err), &err));
    rc = astro_reflect(e, "{\"query\":\"who sells swords?\",\"bank_id\":\"npc-guard\"}", &json, &err);
    CHECK("api-5.3", ok(rc, &err) && json && strstr(json, "\"answer\":\"voice of ") && calls == 1);
    astro_free(json);
    CHECK("api-5.4", ok(astro_register_function(e, "npc_voice", failing_fn, NULL, &err), &err));
    rc = astro_reflect(e, "{\"query\":\"who sells swords?\",\"bank_id\":\"npc-guard\"}", &json, &err);
    CHECK("api-5.5", ok(rc, &err) && json && strstr(json, "cellar flooded") && strstr(json, "\"degraded\":true"));
    astro_free(json);
    CHECK("api-5.6", ok(astro_register_function(e, "npc_voice", NULL, NULL, &err), &err));
    CHECK("api-5.7", astro_register_function(e, "", npc_voice, NULL, &err) == ASTRO_E_ARG);

    /* api-6: banks */
    rc = astro_banks(e, &json, &err);
    CHECK("api-6.1", ok(rc, &err) && json && json[0] == '[' && strstr(json, "\"bank_id\":\"npc-guard\""));
    astro_free(json);

    /* api-7: forget, then the memory is gone */
    rc = astro_forget(e, "{\"bank_id\":\"npc-guard\",\"tags\":[\"shop\"]}", &json, &err);
    CHECK("api-7.1", ok(rc, &err) && json && strstr(json, "\"deleted_count\":1"));
    astro_free(json);
    rc = astro_recall_hits(e, "{\"query\":\"iron sword Hilda\",\"bank_id\":\"npc-guard\"}", &hits, NULL, &err);
    CHECK("api-7.2", ok(rc, &err) && hits);
    if (hits) {
        size_t i;
        for (i = 0; i < hits->count; i++)
            CHECK("api-7.3", strstr(hits->hits[i].text, "Hilda") == NULL);
    }
    astro_hits_free(hits);
    hits = NULL;
    CHECK("api-7.4", astro_forget(e, "{\"bank_id\":\"npc-guard\",\"memory_ids\":\"x\"}", NULL, &err) == ASTRO_E_VALIDATION);

    /* api-8: reload picks up an edited config file (a new default bank) */
    snprintf(cfg, sizeof cfg,
             "vector_store: sqlite\n"
             "vector_store_config: { path: %s }\n"
             "llm_provider: hostllm:Provider\n"
             "default_bank_id: village\n", db);
    scratch_file(path, sizeof path, "astro.yaml", cfg);
    CHECK("api-8.1", ok(astro_engine_reload(e, &err), &err));
    CHECK("api-8.2", ok(astro_retain(e, "{\"content\":\"The mill burned down.\"}", NULL, &err), &err));
    rc = astro_banks(e, &json, &err);
    CHECK("api-8.3", ok(rc, &err) && json && strstr(json, "\"bank_id\":\"village\""));
    astro_free(json);
    scratch_file(path, sizeof path, "astro.yaml", "vector_store: [broken\n");
    CHECK("api-8.4", astro_engine_reload(e, &err) == ASTRO_E_CONFIG);
    CHECK("api-8.5", ok(astro_retain(e, "{\"content\":\"Still open after a failed reload.\"}", NULL, &err), &err));

    /* api-8.6: an edited profile file takes effect at reload, no rebuild */
    {
        char prof[600];
        scratch_file(prof, sizeof prof, "npc.yaml", "barriers: { validation: { max_content_length: 1000 } }\n");
        snprintf(cfg, sizeof cfg,
                 "vector_store: sqlite\n"
                 "vector_store_config: { path: %s }\n"
                 "llm_provider: hostllm:Provider\n"
                 "profile: npc\n"
                 "profile_dirs: [ \"%s\" ]\n"
                 "default_bank_id: village\n", db, scratch);
        scratch_file(path, sizeof path, "astro.yaml", cfg);
        CHECK("api-8.6", ok(astro_engine_reload(e, &err), &err));
        CHECK("api-8.7", ok(astro_retain(e, "{\"content\":\"The baker sells rye bread at dawn.\"}", NULL, &err), &err));
        scratch_file(prof, sizeof prof, "npc.yaml", "barriers: { validation: { max_content_length: 10 } }\n");
        CHECK("api-8.8", ok(astro_engine_reload(e, &err), &err));
        CHECK("api-8.9", astro_retain(e, "{\"content\":\"The baker sells rye bread at noon.\"}", NULL, &err)
                         == ASTRO_E_VALIDATION && strstr(err.message, "too long"));
        scratch_file(prof, sizeof prof, "npc.yaml", "barriers: { validation: { max_content_length: 1000 } }\n");
        CHECK("api-8.10", ok(astro_engine_reload(e, &err), &err));
    }

    /* api-9: submit and poll on the same engine (one worker) */
    {
        polled p;
        uint64_t t1, t2, t3;
        memset(&p, 0, sizeof p);
        CHECK("api-9.1", ok(astro_submit(e, ASTRO_RETAIN, "{\"content\":\"A merchant arrived from the south.\","
                                         "\"bank_id\":\"npc-guard\"}", NULL, &t1, &err), &err));
        CHECK("api-9.2", ok(astro_submit(e, ASTRO_RECALL, "{\"query\":\"merchant\",\"bank_id\":\"npc-guard\"}",
                                         NULL, &t2, &err), &err));
        CHECK("api-9.3", ok(astro_submit(e, ASTRO_RECALL, "{bad json", NULL, &t3, &err), &err));
        CHECK("api-9.4", t1 > 0 && t2 == t1 + 1 && t3 == t2 + 1);
        CHECK("api-9.5", astro_pending(e) == 3);
        while (p.n < 3 && astro_wait(e, 5000))
            astro_poll(e, on_result, &p, 1);
        CHECK("api-9.6", p.n == 3 && astro_pending(e) == 0);
        CHECK("api-9.7", p.tickets[0] == t1 && p.codes[0] == ASTRO_OK && p.hit_counts[0] == -1);
        CHECK("api-9.8", p.tickets[1] == t2 && p.codes[1] == ASTRO_OK && p.hit_counts[1] >= 1);
        CHECK("api-9.9", p.tickets[2] == t3 && p.codes[2] == ASTRO_E_JSON && strcmp(p.kinds[2], "JSONError") == 0);
        CHECK("api-9.10", astro_poll(e, NULL, NULL, 0) == ASTRO_E_ARG);
        CHECK("api-9.11", astro_submit(e, (astro_verb)0, "{}", NULL, &t1, &err) == ASTRO_E_ARG && t1 == 0);

        /* api-10: close runs what was submitted; results poll after close */
        memset(&p, 0, sizeof p);
        CHECK("api-10.1", ok(astro_submit(e, ASTRO_BANKS, NULL, NULL, &t1, &err), &err));
        CHECK("api-10.2", ok(astro_engine_close(e, &err), &err));
        CHECK("api-10.3", ok(astro_engine_close(e, &err), &err));
        CHECK("api-10.4", astro_retain(e, "{\"content\":\"late\"}", &json, &err) == ASTRO_E_CLOSED && json == NULL);
        CHECK("api-10.5", strcmp(err.kind, "EngineClosed") == 0);
        CHECK("api-10.6", astro_recall_hits(e, "{\"query\":\"x\"}", &hits, NULL, &err) == ASTRO_E_CLOSED);
        CHECK("api-10.7", astro_banks(e, NULL, &err) == ASTRO_E_CLOSED);
        CHECK("api-10.8", astro_engine_reload(e, &err) == ASTRO_E_CLOSED);
        CHECK("api-10.9", astro_submit(e, ASTRO_BANKS, NULL, NULL, &t2, &err) == ASTRO_E_CLOSED);
        CHECK("api-10.10", astro_poll(e, on_result, &p, 0) == 1 && p.tickets[0] == t1 && p.codes[0] == ASTRO_OK);
        CHECK("api-10.11", astro_poll(e, on_result, &p, 0) == 0 && astro_pending(e) == 0);
    }
    astro_engine_free(e);
    astro_engine_free(NULL);

    /* api-11: workers = 0 is synchronous only; an unpolled result is freed with the engine */
    astro_open_opts_init(&o);
    o.workers = 0;
    o.db = db;
    e = astro_engine_open_ex("vector_store: sqlite\n", &o, &err);
    CHECK("api-11.1", e != NULL);
    if (e) {
        uint64_t t;
        CHECK("api-11.2", astro_submit(e, ASTRO_BANKS, NULL, NULL, &t, &err) == ASTRO_E_ARG);
        CHECK("api-11.2b", astro_wait(e, 10) == 0 && astro_pending(e) == 0);
        CHECK("api-11.3", ok(astro_banks(e, &json, &err), &err) && strstr(json, "village"));
        astro_free(json);
        /* retain_many: two items in one transaction; a bad item stores none */
        rc = astro_retain_many(e, "{\"items\":[\"The miller Otto grinds rye at the river mill.\","
                                  "{\"content\":\"Otto's daughter Greta keeps geese.\",\"tags\":[\"family\"]}],"
                                  "\"bank_id\":\"npc-miller\"}", &json, &err);
        const char *first_id = json ? strstr(json, "\"memory_id\"") : NULL;
        CHECK("api-11.10", ok(rc, &err) && json && json[0] == '[' && strstr(json, "\"stored\":true")
                          && first_id && strstr(first_id + 1, "\"memory_id\""));
        astro_free(json);
        rc = astro_retain_many(e, "{\"items\":[\"fine\",{\"content\":7}],\"bank_id\":\"npc-miller\"}", &json, &err);
        CHECK("api-11.11", rc == ASTRO_E_VALIDATION && strstr(err.message, "items[2]") && json == NULL);
        rc = astro_banks(e, &json, &err);
        CHECK("api-11.12", ok(rc, &err) && json && strstr(json, "{\"bank_id\":\"npc-miller\",\"memory_count\":2}"));
        astro_free(json);
        astro_engine_free(e);
    }
    astro_open_opts_init(&o);
    o.db = db;
    o.queue_capacity = 2;
    e = astro_engine_open_ex(NULL, &o, &err);
    CHECK("api-11.4", e != NULL);
    if (e) {
        uint64_t t;
        CHECK("api-11.5", ok(astro_submit(e, ASTRO_BANKS, NULL, NULL, &t, &err), &err));
        CHECK("api-11.6", ok(astro_submit(e, ASTRO_BANKS, NULL, NULL, &t, &err), &err));
        CHECK("api-11.7", astro_submit(e, ASTRO_BANKS, NULL, NULL, &t, &err) == ASTRO_E_BUSY);
        astro_engine_free(e);   /* two results never polled */
    }
    CHECK("api-12.1", strcmp(astro_code_name(ASTRO_E_RATE_LIMITED), "RateLimited") == 0);
    CHECK("api-12.2", strcmp(astro_code_name(12345), "UnknownError") == 0);
    if (failures == 0)
        printf("host.api: ok\n");
    return failures != 0;
}
