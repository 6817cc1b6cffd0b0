/* api: JSON models of API.md §4 built from store records, and typed readers for
 * request bodies. Rules the SDKs impose: required fields always present and never
 * null; optional objects with required fields omitted rather than sent empty; only
 * enum values the SDKs know. */
#include <stdlib.h>
#include <string.h>

#include "api/api_priv.h"

/* Bit i is FX_COVER_* 1 << i (convert.h). */
static const char *const cover_flag_names[] = {"urgent", "for_review", "please_reply",
                                               "confidential", NULL};

enum fx_err fx_json_cover_flags(struct fx_req *r, json_t *flags, unsigned *out)
{
    *out = 0;
    if (!flags || json_is_null(flags)) return FX_OK;
    size_t i;
    json_t *v;
    if (!json_is_array(flags))
        return fx_req_fail(r, FX_ERR_INVALID, "cover_page.flags must be an array");
    json_array_foreach(flags, i, v)
    {
        int k = 0;
        while (cover_flag_names[k] && !(json_is_string(v) &&
                                        strcmp(json_string_value(v), cover_flag_names[k]) == 0))
            k++;
        if (!cover_flag_names[k])
            return fx_req_fail(r, FX_ERR_INVALID, "cover_page.flags may hold urgent, "
                                                  "for_review, please_reply, confidential");
        *out |= 1u << k;
    }
    return FX_OK;
}

bool fx_str_in(const char *value, const char *const *list)
{
    for (; value && *list; list++)
        if (strcmp(value, *list) == 0) return true;
    return false;
}

char *fx_json_dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

json_t *fx_json_parse_stored(const char *text, bool array)
{
    json_t *j = text && text[0] ? json_loads(text, 0, NULL) : NULL;
    if (j && (array ? json_is_array(j) : json_is_object(j))) return j;
    json_decref(j);
    return array ? json_array() : json_object();
}

static void set_str(json_t *o, const char *key, const char *v)
{
    json_t *s = json_string(v ? v : "");
    /* Stored text is UTF-8, but a required field must never vanish: replace anything
     * that is not with "?" bytes rather than drop the key. */
    if (!s) {
        char *copy = strdup(v);
        for (char *p = copy; p && *p; p++)
            if ((unsigned char)*p >= 0x80) *p = '?';
        s = json_string(copy ? copy : "");
        free(copy);
    }
    json_object_set_new(o, key, s);
}

static void set_time(json_t *o, const char *key, int64_t t)
{
    char ts[FX_TIME_LEN];
    fx_time_format(t, ts);
    json_object_set_new(o, key, json_string(ts));
}

static void set_time_zone(json_t *o, const char *key, int64_t t)
{
    char ts[26];
    fx_time_format_zone(t, ts);
    json_object_set_new(o, key, json_string(ts));
}

/* ---- Account ---- */
json_t *fx_json_account(const struct fx_account *a)
{
    json_t *o = json_object();
    set_str(o, "uid", a->uid);
    set_str(o, "account_type", a->account_type);
    set_str(o, "status", a->status);
    set_str(o, "email", a->email);
    set_time(o, "creation_date", a->created);
    set_str(o, "name", a->name);
    set_str(o, "lastname", a->lastname);
    set_str(o, "profile_image", a->profile_image);
    if (a->phone[0]) set_str(o, "phone", a->phone);
    json_t *member_of = json_array();
    if (a->admin_uid[0]) json_array_append_new(member_of, json_string(a->admin_uid));
    json_object_set_new(o, "member_of", member_of);
    json_t *data = fx_json_parse_stored(a->account_data, false);
    if (a->role[0]) set_str(data, "role", a->role);
    json_object_set_new(o, "account_data", data);
    json_object_set_new(o, "settings", fx_json_parse_stored(a->settings, false));
    /* notifications has required parts: send it only when it was set complete. */
    if (a->notifications && a->notifications[0])
        json_object_set_new(o, "notifications", fx_json_parse_stored(a->notifications, false));
    return o;
}

/* ---- Number ---- */
json_t *fx_json_number(const struct fx_number *n)
{
    json_t *o = json_object();
    set_str(o, "id", n->id);
    set_str(o, "number", n->number);
    set_str(o, "owner_id", n->owner_id);
    json_object_set_new(o, "assigned_to", fx_json_parse_stored(n->assigned_to, true));
    set_time(o, "acquired_date", n->acquired);
    set_str(o, "status", n->status);
    if (n->expires) set_time(o, "expiration_date", n->expires);
    json_object_set_new(o, "is_canceled", json_boolean(n->is_canceled));
    json_object_set_new(o, "notifications", fx_json_parse_stored(n->notifications, true));
    return o;
}

/* ---- Fax ---- */
json_t *fx_json_fax(const struct fx_fax *f)
{
    json_t *o = json_object();
    set_str(o, "id", f->id);
    set_str(o, "owner_id", f->owner_id);
    set_str(o, "status", f->status);
    json_object_set_new(o, "pages", json_integer(f->pages));
    set_str(o, "comment", f->comment);
    json_t *cd = json_object();
    json_object_set_new(cd, "multiplier", json_real(f->cost_multiplier));
    json_object_set_new(cd, "notification_cost", json_real(0));
    json_object_set_new(o, "cost_details", cd);
    json_object_set_new(o, "cost", json_integer(f->cost));
    set_str(o, "description", f->description);
    set_str(o, "direction", f->direction);
    json_object_set_new(o, "duration", json_integer(f->duration));
    if (f->file[0]) set_str(o, "file", f->file);
    set_str(o, "file_name", f->file_name);
    /* The SDK reads "from"; Fax.Plus's documentation prints "from_number": send both. */
    set_str(o, "from", f->from);
    set_str(o, "from_number", f->from);
    set_str(o, "to", f->to);
    set_str(o, "header", f->header);
    json_object_set_new(o, "is_read", json_boolean(f->is_read));
    json_object_set_new(o, "is_spam", json_boolean(f->is_spam));
    set_time(o, "last_update", f->last_update);
    if (f->scheduled_time) set_time(o, "scheduled_time", f->scheduled_time);
    if (f->start_time) set_time(o, "start_time", f->start_time);
    if (f->submit_time && strcmp(f->direction, "outgoing") == 0)
        set_time(o, "submit_time", f->submit_time);
    json_object_set_new(o, "max_retry", json_integer(f->max_retry));
    json_object_set_new(o, "retry_delay", json_integer(f->retry_delay));
    if (f->cover_page && f->cover_page[0])
        json_object_set_new(o, "cover_page", fx_json_parse_stored(f->cover_page, false));
    return o;
}

/* ---- Outbox ---- */
json_t *fx_json_outbox(const struct fx_outbox *ob)
{
    json_t *o = json_object();
    set_str(o, "id", ob->id);
    set_str(o, "uid", ob->uid);
    set_str(o, "status", ob->status);
    json_object_set_new(o, "to", fx_json_parse_stored(ob->dests, true));
    json_object_set_new(o, "files", fx_json_parse_stored(ob->files, true));
    set_str(o, "src", ob->src);
    set_str(o, "designated_src", ob->designated_src);
    json_object_set_new(o, "comment", fx_json_parse_stored(ob->comment, false));
    json_object_set_new(o, "options", fx_json_parse_stored(ob->options, false));
    json_t *retry = json_object();
    json_object_set_new(retry, "count", json_integer(ob->retry_count));
    json_object_set_new(retry, "delay", json_integer(ob->retry_delay));
    json_object_set_new(o, "retry", retry);
    if (ob->send_time) set_time_zone(o, "send_time", ob->send_time);
    set_time_zone(o, "submit_time", ob->submit_time);
    set_time(o, "last_updated_status_time", ob->status_time);
    json_object_set_new(o, "status_changes", fx_json_parse_stored(ob->status_changes, true));
    json_object_set_new(o, "file_changes", fx_json_parse_stored(ob->file_changes, true));
    if (ob->initiated_from && ob->initiated_from[0])
        json_object_set_new(o, "initiated_from",
                            fx_json_parse_stored(ob->initiated_from, false));
    json_object_set_new(o, "page_count", json_integer(ob->page_count));
    set_str(o, "ip", ob->ip);
    json_object_set_new(o, "should_enhance", json_boolean(ob->should_enhance));
    /* `{}` breaks the Python SDK: cover_page is omitted when there is none. */
    if (ob->cover_page && ob->cover_page[0])
        json_object_set_new(o, "cover_page", fx_json_parse_stored(ob->cover_page, false));
    return o;
}

/* ---- Webhook ---- */
json_t *fx_json_hook(const struct fx_hook *h)
{
    json_t *o = json_object();
    set_str(o, "id", h->id);
    set_str(o, "target", h->target);
    set_str(o, "event", h->event);
    return o;
}

/* ---- request body readers ---- */
enum fx_err fx_json_get_str(struct fx_req *r, json_t *obj, const char *key, const char **out,
                            bool *present)
{
    json_t *v = json_object_get(obj, key);
    *present = v != NULL && !json_is_null(v);
    if (!*present) return FX_OK;
    if (!json_is_string(v)) return fx_req_fail(r, FX_ERR_INVALID, "%s must be a string", key);
    *out = json_string_value(v);
    return FX_OK;
}

enum fx_err fx_json_get_int(struct fx_req *r, json_t *obj, const char *key, int64_t lo,
                            int64_t hi, int64_t *out, bool *present)
{
    json_t *v = json_object_get(obj, key);
    *present = v != NULL && !json_is_null(v);
    if (!*present) return FX_OK;
    if (!json_is_integer(v))
        return fx_req_fail(r, FX_ERR_INVALID, "%s must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return fx_req_fail(r, FX_ERR_INVALID, "%s must be between %lld and %lld", key,
                           (long long)lo, (long long)hi);
    *out = x;
    return FX_OK;
}

enum fx_err fx_json_get_bool(struct fx_req *r, json_t *obj, const char *key, bool *out,
                             bool *present)
{
    json_t *v = json_object_get(obj, key);
    *present = v != NULL && !json_is_null(v);
    if (!*present) return FX_OK;
    if (!json_is_boolean(v)) return fx_req_fail(r, FX_ERR_INVALID, "%s must be a boolean", key);
    *out = json_is_true(v);
    return FX_OK;
}
