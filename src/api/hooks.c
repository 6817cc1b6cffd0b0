/* api: webhooks (W1–W3) and their delivery history (a faxd extension). They belong to
 * the token's account; there is no user_id in the path. Delivery (signatures, retries,
 * target address checks) is notify/'s job. */
#include <string.h>

#include "api/api_priv.h"

static const char *const events[] = {"fax_sent", "fax_received", NULL};

/* http(s)://host[:port][/path], no spaces or control characters. */
static bool target_ok(const char *t)
{
    const char *host;
    if (strncmp(t, "https://", 8) == 0) host = t + 8;
    else if (strncmp(t, "http://", 7) == 0) host = t + 7;
    else return false;
    if (!*host || *host == '/' || *host == ':' || *host == '?' || *host == '#') return false;
    for (const char *p = t; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) return false;
    return true;
}

enum fx_err fx_h_hook_create(struct fx_req *r)
{
    json_t *body = NULL;
    const char *target = NULL, *event = NULL;
    bool have_t = false, have_e = false;
    enum fx_err e = fx_req_body(r, &body);
    if (!e) e = fx_json_get_str(r, body, "target", &target, &have_t);
    if (!e) e = fx_json_get_str(r, body, "event", &event, &have_e);
    if (!e && (!have_t || !target_ok(target) || strlen(target) >= 2048))
        e = fx_req_fail(r, FX_ERR_INVALID, "target must be an http:// or https:// URL");
    if (!e && (!have_e || !fx_str_in(event, events)))
        e = fx_req_fail(r, FX_ERR_INVALID, "event must be fax_sent or fax_received");
    struct fx_hook h = {0};
    if (!e) {
        fx_strlcpy(h.uid, r->caller.uid, sizeof h.uid);
        fx_strlcpy(h.target, target, sizeof h.target);
        fx_strlcpy(h.event, event, sizeof h.event);
        e = fx_store_hook_create(r->api->store, &h);
    }
    json_decref(body);
    if (e) return e;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(h.id));
    return fx_reply_json(r, 200, o);
}

static enum fx_err append_hook(const struct fx_hook *h, void *arg)
{
    return json_array_append_new(arg, fx_json_hook(h)) ? FX_ERR_NOMEM : FX_OK;
}

enum fx_err fx_h_hooks_list(struct fx_req *r)
{
    const char *event = fx_req_query(r, "event");
    if (!fx_str_in(event, events))
        return fx_req_fail(r, FX_ERR_INVALID, "event is required: fax_sent or fax_received");
    json_t *arr = json_array();
    enum fx_err e = fx_store_hook_list(r->api->store, r->caller.uid, event, append_hook, arr);
    if (e) {
        json_decref(arr);
        return e;
    }
    json_t *o = json_object();
    json_object_set_new(o, "data", arr);
    return fx_reply_json(r, 200, o);
}

/* The caller's hook named by the path; someone else's answers 404 like a missing one. */
static enum fx_err own_hook(struct fx_req *r, struct fx_hook *h)
{
    enum fx_err e = fx_id_valid(r->params[0]) ? fx_store_hook_get(r->api->store, r->params[0], h)
                                              : FX_ERR_NOT_FOUND;
    if (e == FX_OK && strcmp(h->uid, r->caller.uid) != 0) e = FX_ERR_NOT_FOUND;
    if (e == FX_ERR_NOT_FOUND) return fx_req_fail(r, e, "No such webhook");
    return e;
}

enum fx_err fx_h_hook_delete(struct fx_req *r)
{
    struct fx_hook h;
    enum fx_err e = own_hook(r, &h);
    if (e) return e;
    e = fx_store_hook_delete(r->api->store, h.id);
    return e ? e : fx_reply_empty(r);
}

/* faxd extension: the delivery history of one of the caller's hooks, newest first. */
#define DELIVERIES_MAX 1000

static enum fx_err append_delivery(const struct fx_delivery *d, void *arg)
{
    char created[FX_TIME_LEN], delivered[FX_TIME_LEN] = "";
    fx_time_format(d->created, created);
    if (d->delivered) fx_time_format(d->delivered, delivered);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(d->id));
    json_object_set_new(o, "fax_id", json_string(d->fax_id));
    json_object_set_new(o, "event", json_string(d->event));
    json_object_set_new(o, "state", json_string(d->state));
    json_object_set_new(o, "attempts", json_integer(d->attempts));
    json_object_set_new(o, "last_status", json_integer(d->last_status));
    json_object_set_new(o, "last_error", json_string(d->last_error));
    json_object_set_new(o, "created", json_string(created));
    json_object_set_new(o, "delivered", d->delivered ? json_string(delivered) : json_null());
    return json_array_append_new(arg, o) ? FX_ERR_NOMEM : FX_OK;
}

enum fx_err fx_h_hook_deliveries(struct fx_req *r)
{
    struct fx_hook h;
    enum fx_err e = own_hook(r, &h);
    if (e) return e;
    json_t *arr = json_array();
    e = fx_store_delivery_list(r->api->store, h.id, DELIVERIES_MAX, append_delivery, arr);
    if (e) {
        json_decref(arr);
        return e;
    }
    json_t *o = json_object();
    json_object_set_new(o, "data", arr);
    return fx_reply_json(r, 200, o);
}
