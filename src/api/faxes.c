/* api: finished fax records (F1–F4) — the sent and received history. */
#include <stdlib.h>
#include <string.h>

#include "api/api_priv.h"

static enum fx_err append_fax(const struct fx_fax *f, void *arg)
{
    return json_array_append_new(arg, fx_json_fax(f)) ? FX_ERR_NOMEM : FX_OK;
}

static enum fx_err query_time(struct fx_req *r, const char *key, int64_t *out)
{
    const char *v = fx_req_query(r, key);
    *out = 0;
    if (!v) return FX_OK;
    if (!fx_time_parse(v, out) || strlen(v) != 19)
        return fx_req_fail(r, FX_ERR_INVALID, "%s must be YYYY-MM-DD HH:MM:SS (UTC)", key);
    return FX_OK;
}

/* ---- the fax-list cache ----
 * Listing is the hottest read (clients poll it). Each HTTP thread keeps the JSON it
 * rendered for its last few list queries, tagged with the store stamp taken before
 * the query; a later identical query on the same thread reuses it only if the stamp
 * is unchanged, i.e. nothing at all was committed to the store in between, by this
 * process or any other. Correct by construction, and simple: no invalidation. */
#define CACHE_SLOTS 32
struct cached_list {
    char key[160];
    struct fx_store_stamp stamp;
    char *text;
    size_t len;
};
struct list_cache {
    struct cached_list slot[CACHE_SLOTS];
    unsigned next;
};

void fx_faxes_cache_free(void *p)
{
    struct list_cache *c = p;
    for (int i = 0; c && i < CACHE_SLOTS; i++) free(c->slot[i].text);
    free(c);
}

static struct cached_list *cache_find(struct fx_req *r, const char *key,
                                      const struct fx_store_stamp *st)
{
    struct list_cache *c = pthread_getspecific(r->api->list_cache);
    for (int i = 0; c && i < CACHE_SLOTS; i++)
        if (c->slot[i].text && strcmp(c->slot[i].key, key) == 0 &&
            !memcmp(&c->slot[i].stamp, st, sizeof *st))
            return &c->slot[i];
    return NULL;
}

/* Keeps text (takes ownership) under key. */
static void cache_put(struct fx_req *r, const char *key, const struct fx_store_stamp *st,
                      char *text)
{
    struct list_cache *c = pthread_getspecific(r->api->list_cache);
    if (!c && (c = calloc(1, sizeof *c))) pthread_setspecific(r->api->list_cache, c);
    if (!c) {
        free(text);
        return;
    }
    struct cached_list *s = &c->slot[c->next++ % CACHE_SLOTS];
    for (int i = 0; i < CACHE_SLOTS; i++) /* an older render of the same query */
        if (c->slot[i].text && strcmp(c->slot[i].key, key) == 0) s = &c->slot[i];
    free(s->text);
    fx_strlcpy(s->key, key, sizeof s->key);
    s->stamp = *st;
    s->text = text;
    s->len = strlen(text);
}

static enum fx_err render_list(struct fx_req *r, const struct fx_fax_query *q, char **out)
{
    json_t *records = json_array();
    enum fx_err e = fx_store_fax_list(r->api->store, q, append_fax, records);
    if (e) {
        json_decref(records);
        return e;
    }
    json_t *o = json_pack("{s:{s:o}}", "data", "records", records);
    *out = o ? fx_json_dump(o) : NULL;
    json_decref(o);
    return *out ? FX_OK : FX_ERR_NOMEM;
}

enum fx_err fx_h_faxes_list(struct fx_req *r)
{
    static const char *const categories[] = {"inbox", "sent", "spam", NULL};
    struct fx_account who;
    struct fx_fax_query q = {.limit = 50};
    enum fx_err e;
    q.category = fx_req_query(r, "category");
    if (q.category && !fx_str_in(q.category, categories))
        return fx_req_fail(r, FX_ERR_INVALID, "category must be inbox, sent or spam");
    const char *limit = fx_req_query(r, "limit");
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (!limit[0] || *end || v < 1 || v > 1000)
            return fx_req_fail(r, FX_ERR_INVALID, "limit must be an integer from 1 to 1000");
        q.limit = (int)v;
    }
    if ((e = query_time(r, "after", &q.after)) || (e = query_time(r, "before", &q.before)))
        return e;
    if ((e = fx_req_user(r, r->params[0], &who))) return e;
    char owner[FX_UID_SIZE], key[160];
    fx_strlcpy(owner, who.uid, sizeof owner);
    q.owner_id = owner;
    snprintf(key, sizeof key, "%s|%s|%lld|%lld|%d", who.uid, q.category ? q.category : "",
             (long long)q.after, (long long)q.before, q.limit);
    fx_store_account_clear(&who);
    struct fx_store_stamp st;
    if ((e = fx_store_stamp(r->api->store, &st))) return e;
    struct cached_list *hit = cache_find(r, key, &st);
    if (hit) return fx_reply_json_text(r, 200, hit->text, hit->len);
    char *text = NULL;
    if ((e = render_list(r, &q, &text))) return e;
    e = fx_reply_json_text(r, 200, text, strlen(text));
    cache_put(r, key, &st, text);
    return e;
}

/* Loads the fax named by params[1] when it belongs to the account of params[0]. */
static enum fx_err owned_fax(struct fx_req *r, struct fx_fax *f)
{
    struct fx_account who;
    enum fx_err e = fx_req_user(r, r->params[0], &who);
    if (e) return e;
    e = fx_id_valid(r->params[1]) ? fx_store_fax_get(r->api->store, r->params[1], f)
                                  : FX_ERR_NOT_FOUND;
    if (e == FX_OK && strcmp(f->owner_id, who.uid) != 0) {
        fx_store_fax_clear(f);
        e = FX_ERR_NOT_FOUND;
    }
    fx_store_account_clear(&who);
    return e == FX_ERR_NOT_FOUND ? fx_req_fail(r, e, "No such fax") : e;
}

enum fx_err fx_h_fax_get(struct fx_req *r)
{
    struct fx_fax f;
    enum fx_err e = owned_fax(r, &f);
    if (e) return e;
    json_t *j = fx_json_fax(&f);
    fx_store_fax_clear(&f);
    return fx_reply_json(r, 200, j);
}

enum fx_err fx_h_fax_update(struct fx_req *r)
{
    struct fx_fax f;
    json_t *body = NULL;
    const char *comment = NULL;
    bool have_c = false, have_r = false, is_read = false, have_s = false, spam = false;
    enum fx_err e = owned_fax(r, &f);
    if (e) return e;
    if (!(e = fx_req_body(r, &body)) &&
        !(e = fx_json_get_str(r, body, "comment", &comment, &have_c)) &&
        !(e = fx_json_get_bool(r, body, "is_read", &is_read, &have_r)) &&
        !(e = fx_json_get_bool(r, body, "is_spam", &spam, &have_s))) {
        /* is_spam (a faxd extension) moves an incoming fax between inbox and spam. */
        if (have_c && strlen(comment) > 10000)
            e = fx_req_fail(r, FX_ERR_INVALID, "comment is longer than 10000 bytes");
        else if (have_s && strcmp(f.direction, "incoming") != 0)
            e = fx_req_fail(r, FX_ERR_INVALID, "only incoming faxes can be marked as spam");
        if (!e && have_s) e = fx_store_fax_set_spam(r->api->store, f.id, spam, fx_clock_now());
        if (!e)
            e = fx_store_fax_update(r->api->store, f.id, have_c ? comment : NULL,
                                    have_r ? is_read : -1, fx_clock_now());
    }
    json_decref(body);
    fx_store_fax_clear(&f);
    return e ? e : fx_reply_empty(r);
}

enum fx_err fx_h_fax_delete(struct fx_req *r)
{
    struct fx_fax f;
    enum fx_err e = owned_fax(r, &f);
    if (e) return e;
    e = fx_store_fax_delete(r->api->store, f.id); /* with its image */
    fx_store_fax_clear(&f);
    return e ? e : fx_reply_empty(r);
}
