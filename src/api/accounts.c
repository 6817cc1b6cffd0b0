/* api: accounts (A1–A5) — the caller's own account, a corporate admin's members and
 * their member details (role and monthly page quota). */
#include <string.h>

#include "api/api_priv.h"

#define LOGO_PREFIX "data:image/png;base64,"

static bool is_admin(const struct fx_req *r)
{
    return strcmp(r->caller.account_type, "corporate_admin") == 0;
}

static enum fx_err append_member(const struct fx_account *a, void *arg)
{
    return json_array_append_new(arg, fx_json_account(a)) ? FX_ERR_NOMEM : FX_OK;
}

enum fx_err fx_h_accounts_list(struct fx_req *r)
{
    if (!is_admin(r))
        return fx_req_fail(r, FX_ERR_FORBIDDEN, "Only a corporate admin can list accounts");
    json_t *members = json_array();
    enum fx_err e =
        fx_store_account_list_members(r->api->store, r->caller.uid, append_member, members);
    if (e) {
        json_decref(members);
        return e;
    }
    json_t *o = json_object();
    json_object_set_new(o, "members", members);
    return fx_reply_json(r, 200, o);
}

enum fx_err fx_h_account_get(struct fx_req *r)
{
    struct fx_account a;
    enum fx_err e = fx_req_user(r, r->params[0], &a);
    if (e) return e;
    json_t *j = fx_json_account(&a);
    fx_store_account_clear(&a);
    return fx_reply_json(r, 200, j);
}

/* Python SDK patterns, checked only on non-empty values as the SDK does. */
static bool email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!s[0]) return true;
    if (!at || at == s || strchr(at + 1, '@')) return false;
    for (const char *p = s; p < at; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-", *p))
            return false;
    const char *dot = strchr(at + 2, '.');
    if (at[1] == 0 || !dot || dot[1] == 0) return false;
    for (const char *p = at + 1; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.", *p))
            return false;
    return true;
}

static bool phone_ok(const char *s)
{
    if (!s[0]) return true;
    if (*s == '+') s++;
    size_t n = strlen(s);
    if (n < 8 || n > 20) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

static enum fx_err check_retry(struct fx_req *r, json_t *retry)
{
    if (!json_is_object(retry)) return fx_req_fail(r, FX_ERR_INVALID, "retry must be an object");
    int64_t v;
    bool have;
    enum fx_err e = fx_json_get_int(r, retry, "count", 0, 3, &v, &have);
    if (!e) e = fx_json_get_int(r, retry, "delay", 0, 720, &v, &have);
    return e;
}

static enum fx_err check_settings(struct fx_req *r, json_t *s)
{
    if (!json_is_object(s)) return fx_req_fail(r, FX_ERR_INVALID, "settings must be an object");
    const char *str;
    bool have, b;
    enum fx_err e = fx_json_get_str(r, s, "caller_id_name", &str, &have);
    if (!e) e = fx_json_get_bool(r, s, "should_enhance", &b, &have);
    if (e) return e;
    json_t *opt = json_object_get(s, "options");
    if (opt && !json_is_object(opt))
        return fx_req_fail(r, FX_ERR_INVALID, "settings.options must be an object");
    json_t *bl = json_object_get(opt, "blocklist"), *v;
    size_t i;
    if (bl && !json_is_array(bl))
        return fx_req_fail(r, FX_ERR_INVALID, "settings.options.blocklist must be an array");
    json_array_foreach(bl, i, v) if (!json_is_string(v) || !fx_e164_valid(json_string_value(v)))
        return fx_req_fail(r, FX_ERR_INVALID,
                           "settings.options.blocklist must hold E.164 numbers");
    json_t *anon = json_object_get(opt, "refuse_anonymous");
    if (anon && !json_is_boolean(anon))
        return fx_req_fail(r, FX_ERR_INVALID,
                           "settings.options.refuse_anonymous must be a boolean");
    static const char *const papers[] = {"a4", "letter", NULL};
    static const char *const resolutions[] = {"fine", "normal", NULL};
    json_t *paper = json_object_get(opt, "paper"), *res = json_object_get(opt, "resolution");
    if (paper && !fx_str_in(json_string_value(paper), papers))
        return fx_req_fail(r, FX_ERR_INVALID, "settings.options.paper must be a4 or letter");
    if (res && !fx_str_in(json_string_value(res), resolutions))
        return fx_req_fail(r, FX_ERR_INVALID,
                           "settings.options.resolution must be fine or normal");
    json_t *sf = json_object_get(s, "send_fax");
    if (sf && !json_is_object(sf))
        return fx_req_fail(r, FX_ERR_INVALID, "settings.send_fax must be an object");
    if (sf && json_object_get(sf, "retry")) return check_retry(r, json_object_get(sf, "retry"));
    return FX_OK;
}

static enum fx_err check_account_data(struct fx_req *r, json_t *d)
{
    if (!json_is_object(d))
        return fx_req_fail(r, FX_ERR_INVALID, "account_data must be an object");
    static const char *const strs[] = {"company_logo", "company_name", "deactivation_reason"};
    const char *logo = json_string_value(json_object_get(d, "company_logo"));
    if (logo && strncmp(logo, "data:", 5) == 0 && strncmp(logo, LOGO_PREFIX, strlen(LOGO_PREFIX)))
        return fx_req_fail(r, FX_ERR_INVALID,
                           "company_logo as a data: URI must be data:image/png;base64,…");
    const char *str;
    bool have, b;
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        enum fx_err e = fx_json_get_str(r, d, strs[i], &str, &have);
        if (e) return e;
    }
    enum fx_err e = fx_json_get_str(r, d, "default_file_type", &str, &have);
    if (e) return e;
    if (have && strcmp(str, "pdf") != 0 && strcmp(str, "tiff") != 0)
        return fx_req_fail(r, FX_ERR_INVALID, "default_file_type must be pdf or tiff");
    if ((e = fx_json_get_bool(r, d, "save_history", &b, &have))) return e;
    if (json_object_get(d, "role"))
        return fx_req_fail(r, FX_ERR_INVALID,
                           "role is set by the corporate admin through member-details");
    return FX_OK;
}

/* notifications is all-or-nothing in the SDK model: require its required parts. */
static enum fx_err check_notifications(struct fx_req *r, json_t *n)
{
    json_t *s = json_is_object(n) ? json_object_get(n, "settings") : NULL;
    if (!json_is_object(s) || !json_is_object(json_object_get(s, "email")) ||
        !json_is_object(json_object_get(s, "push_notifications")) ||
        !json_is_object(json_object_get(s, "sms")))
        return fx_req_fail(r, FX_ERR_INVALID,
                           "notifications must be complete: settings.email, "
                           "settings.push_notifications and settings.sms are required");
    return FX_OK;
}

/* A PNG logo given as a data: URI is kept as a blob for cover pages; any other value
 * (a URL) is stored as text only: faxd never fetches anything from the network. */
static enum fx_err store_logo(struct fx_req *r, const char *logo, struct fx_account *a)
{
    a->logo_blob[0] = 0;
    if (strncmp(logo, LOGO_PREFIX, strlen(LOGO_PREFIX)) != 0) return FX_OK;
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t max = 1024 * 1024, len = 0;
    unsigned char *buf = malloc(max);
    if (!buf) return FX_ERR_NOMEM;
    enum fx_err e = FX_OK;
    if (!fx_base64_decode(logo + strlen(LOGO_PREFIX), buf, max, &len) || len < 8 ||
        memcmp(buf, png, 8) != 0)
        e = fx_req_fail(r, FX_ERR_INVALID,
                        "company_logo must be a base64 PNG of at most 1 MiB");
    struct fx_blob_writer *w = NULL;
    char sha[65];
    if (!e) e = fx_blob_begin(r->api->store, &w);
    if (!e) e = fx_blob_write(w, buf, len);
    if (!e) e = fx_blob_commit(w, ".png", a->logo_blob, sha);
    else fx_blob_abort(w);
    free(buf);
    return e;
}

/* The spam blocklist lives in its own table (the inbound path looks numbers up). */
static enum fx_err set_blocklist(struct fx_req *r, const char *uid, json_t *list)
{
    size_t n = json_array_size(list), i;
    const char **numbers = calloc(n + 1, sizeof *numbers);
    if (!numbers) return FX_ERR_NOMEM;
    json_t *v;
    json_array_foreach(list, i, v) numbers[i] = json_string_value(v);
    enum fx_err e = fx_store_block_set(r->api->store, uid, numbers, (int)n);
    free(numbers);
    return e;
}

/* Merges the object patch's keys into stored JSON text; returns new text. */
static char *merge_stored(const char *stored, json_t *patch)
{
    json_t *base = fx_json_parse_stored(stored, false);
    json_object_update_recursive(base, patch);
    char *out = fx_json_dump(base);
    json_decref(base);
    return out;
}

static enum fx_err apply_strings(struct fx_req *r, json_t *body, struct fx_account *a)
{
    static const struct {
        const char *key;
        size_t off, size;
    } fields[] = {
        {"email", offsetof(struct fx_account, email), sizeof a->email},
        {"name", offsetof(struct fx_account, name), sizeof a->name},
        {"lastname", offsetof(struct fx_account, lastname), sizeof a->lastname},
        {"phone", offsetof(struct fx_account, phone), sizeof a->phone},
        {"profile_image", offsetof(struct fx_account, profile_image), sizeof a->profile_image},
    };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *v;
        bool have;
        enum fx_err e = fx_json_get_str(r, body, fields[i].key, &v, &have);
        if (e) return e;
        if (!have) continue;
        if (strlen(v) >= fields[i].size)
            return fx_req_fail(r, FX_ERR_INVALID, "%s is too long", fields[i].key);
        if (i == 0 && !email_ok(v)) return fx_req_fail(r, FX_ERR_INVALID, "email is not valid");
        if (i == 3 && !phone_ok(v))
            return fx_req_fail(r, FX_ERR_INVALID, "phone must match ^[+]?[0-9]{8,}$");
        fx_strlcpy((char *)a + fields[i].off, v, fields[i].size);
    }
    return FX_OK;
}

static enum fx_err apply_objects(struct fx_req *r, json_t *body, struct fx_account *a)
{
    json_t *v;
    enum fx_err e = FX_OK;
    if ((v = json_object_get(body, "account_data")) && !(e = check_account_data(r, v))) {
        const char *logo = json_string_value(json_object_get(v, "company_logo"));
        if (logo && (e = store_logo(r, logo, a))) return e;
        char *m = merge_stored(a->account_data, v);
        free(a->account_data);
        a->account_data = m;
    }
    if (!e && (v = json_object_get(body, "settings")) && !(e = check_settings(r, v))) {
        char *m = merge_stored(a->settings, v);
        free(a->settings);
        a->settings = m;
        /* The converter reads page size and resolution from plain columns. */
        json_t *opt = json_object_get(v, "options");
        const char *paper = json_string_value(json_object_get(opt, "paper"));
        const char *res = json_string_value(json_object_get(opt, "resolution"));
        if (paper) fx_strlcpy(a->paper, paper, sizeof a->paper);
        if (res) fx_strlcpy(a->resolution, res, sizeof a->resolution);
        json_t *anon = json_object_get(opt, "refuse_anonymous");
        if (anon) a->refuse_anonymous = json_is_true(anon);
        json_t *bl = json_object_get(opt, "blocklist");
        if (bl && !e) e = set_blocklist(r, a->uid, bl);
    }
    if (!e && (v = json_object_get(body, "notifications")) && !(e = check_notifications(r, v))) {
        free(a->notifications);
        a->notifications = fx_json_dump(v);
    }
    return e;
}

enum fx_err fx_h_account_update(struct fx_req *r)
{
    struct fx_account a;
    json_t *body = NULL;
    enum fx_err e = fx_req_user(r, r->params[0], &a);
    if (e) return e;
    if (!(e = fx_req_body(r, &body)) && !(e = apply_strings(r, body, &a)) &&
        !(e = apply_objects(r, body, &a)))
        e = fx_store_account_update(r->api->store, &a);
    json_decref(body);
    fx_store_account_clear(&a);
    return e ? e : fx_reply_empty(r);
}

/* The member named in the path, when the caller is its admin. */
static enum fx_err member_of_caller(struct fx_req *r, struct fx_account *m)
{
    if (!is_admin(r))
        return fx_req_fail(r, FX_ERR_FORBIDDEN, "Only a corporate admin has member details");
    enum fx_err e = fx_store_account_get(r->api->store, r->params[0], m);
    if (e == FX_OK && strcmp(m->admin_uid, r->caller.uid) == 0) return FX_OK;
    if (e == FX_OK) fx_store_account_clear(m);
    if (e && e != FX_ERR_NOT_FOUND) return e;
    return fx_req_fail(r, FX_ERR_NOT_FOUND, "No such member");
}

enum fx_err fx_h_member_get(struct fx_req *r)
{
    struct fx_account m;
    enum fx_err e = member_of_caller(r, &m);
    if (e) return e;
    json_t *o = json_object();
    json_object_set_new(o, "quota", json_integer(m.quota));
    json_object_set_new(o, "role", json_string(m.role));
    fx_store_account_clear(&m);
    return fx_reply_json(r, 200, o);
}

enum fx_err fx_h_member_update(struct fx_req *r)
{
    struct fx_account m;
    json_t *body = NULL;
    enum fx_err e = member_of_caller(r, &m);
    if (e) return e;
    int64_t quota;
    const char *role;
    bool have_q = false, have_r = false;
    if (!(e = fx_req_body(r, &body)) &&
        !(e = fx_json_get_int(r, body, "quota", 0, INT32_MAX, &quota, &have_q)) &&
        !(e = fx_json_get_str(r, body, "role", &role, &have_r))) {
        if (have_q) m.quota = quota;
        if (have_r && !fx_strlcpy(m.role, role, sizeof m.role))
            e = fx_req_fail(r, FX_ERR_INVALID, "role is too long");
        if (!e) e = fx_store_account_update(r->api->store, &m);
    }
    json_decref(body);
    fx_store_account_clear(&m);
    return e ? e : fx_reply_empty(r);
}
