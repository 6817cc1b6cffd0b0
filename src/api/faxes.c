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
    q.owner_id = who.uid;
    json_t *records = json_array();
    e = fx_store_fax_list(r->api->store, &q, append_fax, records);
    fx_store_account_clear(&who);
    if (e) {
        json_decref(records);
        return e;
    }
    json_t *data = json_object(), *o = json_object();
    json_object_set_new(data, "records", records);
    json_object_set_new(o, "data", data);
    return fx_reply_json(r, 200, o);
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
    bool have_c = false, have_r = false, is_read = false;
    enum fx_err e = owned_fax(r, &f);
    if (e) return e;
    if (!(e = fx_req_body(r, &body)) &&
        !(e = fx_json_get_str(r, body, "comment", &comment, &have_c)) &&
        !(e = fx_json_get_bool(r, body, "is_read", &is_read, &have_r))) {
        if (have_c && strlen(comment) > 10000)
            e = fx_req_fail(r, FX_ERR_INVALID, "comment is longer than 10000 bytes");
        else
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
    e = fx_store_fax_delete(r->api->store, f.id);
    /* The record is gone first, so a failure below leaves an orphan file, never a
     * record without its image. */
    if (!e && f.blob[0] && fx_blob_remove(r->api->store, f.blob))
        fx_warn("api fax image not removed fax=%s", f.id);
    fx_store_fax_clear(&f);
    return e ? e : fx_reply_empty(r);
}
