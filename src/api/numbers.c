/* api: fax numbers (N1–N4). An admin (or individual) owns numbers; an admin assigns
 * them to members. A member sees the numbers assigned to it. */
#include <stdlib.h>
#include <string.h>

#include "api/api_priv.h"

static bool is_member(const struct fx_account *a)
{
    return strcmp(a->account_type, "corporate_member") == 0;
}

static bool assigned_has(const struct fx_number *n, const char *uid)
{
    json_t *arr = fx_json_parse_stored(n->assigned_to, true);
    size_t i;
    json_t *v;
    bool found = false;
    json_array_foreach(arr, i, v) if (json_is_string(v) && strcmp(json_string_value(v), uid) == 0)
        found = true;
    json_decref(arr);
    return found;
}

static enum fx_err append_number(const struct fx_number *n, void *arg)
{
    return json_array_append_new(arg, fx_json_number(n)) ? FX_ERR_NOMEM : FX_OK;
}

enum fx_err fx_h_numbers_list(struct fx_req *r)
{
    struct fx_account who;
    enum fx_err e = fx_req_user(r, r->params[0], &who);
    if (e) return e;
    json_t *arr = json_array();
    e = fx_store_number_list(r->api->store, who.uid, !is_member(&who), append_number, arr);
    fx_store_account_clear(&who);
    if (e) {
        json_decref(arr);
        return e;
    }
    json_t *o = json_object();
    json_object_set_new(o, "numbers", arr);
    return fx_reply_json(r, 200, o);
}

/* Loads the path's number as seen by account `who`: its own, or assigned to it. */
static enum fx_err visible_number(struct fx_req *r, const struct fx_account *who,
                                  struct fx_number *n)
{
    const char *num = r->params[1];
    if (!fx_e164_valid(num)) return fx_req_fail(r, FX_ERR_NOT_FOUND, "No such number");
    enum fx_err e = fx_store_number_get(r->api->store, num, n);
    if (e == FX_ERR_NOT_FOUND) return fx_req_fail(r, e, "No such number");
    if (e) return e;
    bool ok = is_member(who) ? assigned_has(n, who->uid) : strcmp(n->owner_id, who->uid) == 0;
    if (ok) return FX_OK;
    fx_store_number_clear(n);
    return fx_req_fail(r, FX_ERR_NOT_FOUND, "No such number");
}

enum fx_err fx_h_number_get(struct fx_req *r)
{
    struct fx_account who;
    struct fx_number n;
    enum fx_err e = fx_req_user(r, r->params[0], &who);
    if (e) return e;
    e = visible_number(r, &who, &n);
    fx_store_account_clear(&who);
    if (e) return e;
    json_t *j = fx_json_number(&n);
    fx_store_number_clear(&n);
    return fx_reply_json(r, 200, j);
}

/* Rewrites n's assigned_to with uid added (add) or removed (!add). */
static enum fx_err set_assignment(struct fx_store *s, struct fx_number *n, const char *uid,
                                  bool add)
{
    json_t *arr = fx_json_parse_stored(n->assigned_to, true), *out = json_array(), *v;
    size_t i;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), uid) == 0) continue;
        json_array_append(out, v);
    }
    if (add) json_array_append_new(out, json_string(uid));
    free(n->assigned_to);
    n->assigned_to = fx_json_dump(out);
    json_decref(arr);
    json_decref(out);
    return n->assigned_to ? fx_store_number_update(s, n) : FX_ERR_NOMEM;
}

enum fx_err fx_h_number_update(struct fx_req *r)
{
    if (is_member(&r->caller))
        return fx_req_fail(r, FX_ERR_FORBIDDEN, "Only the number's owner can assign it");
    struct fx_account owner, member;
    struct fx_number n;
    json_t *body = NULL;
    const char *uid = NULL;
    bool have = false;
    enum fx_err e = fx_req_user(r, r->params[0], &owner);
    if (e) return e;
    if (strcmp(owner.uid, r->caller.uid) != 0)
        e = fx_req_fail(r, FX_ERR_FORBIDDEN, "Only the number's owner can assign it");
    if (!e) e = visible_number(r, &owner, &n);
    fx_store_account_clear(&owner);
    if (e) return e;
    if (!(e = fx_req_body(r, &body)) && !(e = fx_json_get_str(r, body, "assigned_to", &uid, &have)))
        if (!have) e = fx_req_fail(r, FX_ERR_INVALID, "assigned_to is required");
    if (!e) {
        enum fx_err ge = fx_store_account_get(r->api->store, uid, &member);
        if (ge == FX_OK) {
            if (strcmp(member.admin_uid, r->caller.uid) != 0) ge = FX_ERR_NOT_FOUND;
            fx_store_account_clear(&member);
        }
        if (ge == FX_ERR_NOT_FOUND)
            e = fx_req_fail(r, FX_ERR_INVALID, "assigned_to must be one of your members");
        else
            e = ge;
    }
    if (!e) e = set_assignment(r->api->store, &n, uid, true);
    json_decref(body);
    fx_store_number_clear(&n);
    return e ? e : fx_reply_empty(r);
}

enum fx_err fx_h_number_revoke(struct fx_req *r)
{
    if (is_member(&r->caller))
        return fx_req_fail(r, FX_ERR_FORBIDDEN, "Only the number's owner can revoke it");
    struct fx_account who;
    struct fx_number n;
    enum fx_err e = fx_req_user(r, r->params[0], &who);
    if (e) return e;
    e = visible_number(r, &who, &n);
    if (!e) {
        if (!is_member(&who))
            e = fx_req_fail(r, FX_ERR_INVALID, "A number cannot be removed from its owner; "
                                               "name the member to revoke it from");
        else if (strcmp(n.owner_id, r->caller.uid) != 0)
            e = fx_req_fail(r, FX_ERR_NOT_FOUND, "No such number");
        else
            e = set_assignment(r->api->store, &n, who.uid, false);
        fx_store_number_clear(&n);
    }
    fx_store_account_clear(&who);
    return e ? e : fx_reply_empty(r);
}
