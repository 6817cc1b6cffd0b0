/* api: the outbox (O1–O5) — send requests that are not finished yet. A send creates
 * one outbox record holding every destination, each with the fax id handed out by
 * return_ids; a destination that is not a phone number gets its final record at once. */
#include <stdlib.h>
#include <string.h>

#include "api/api_priv.h"
#include "conf/conf.h"


/* A parsed and validated send request. */
struct send {
    struct fx_account who; /* the account the fax is sent for */
    json_t *body;
    const char *from;
    json_t *to, *files;
    json_t *file_info;     /* [{file_name, mime_type, size}] for file_changes */
    json_t *comment;       /* OutboxComment */
    json_t *cover;         /* OutboxCoverPage or NULL */
    unsigned cover_flags;  /* its flags as FX_COVER_* bits */
    bool enhancement, return_ids;
    int64_t retry_count, retry_delay, send_time;
};

/* Every number in the comma-separated `from` must be the account's own (or assigned). */
static enum fx_err check_from(struct fx_req *r, struct send *s)
{
    if (strcmp(s->from, "no_number") == 0 || strcmp(s->from, "NO_NUMBER") == 0) return FX_OK;
    char buf[256];
    if (!fx_strlcpy(buf, s->from, sizeof buf))
        return fx_req_fail(r, FX_ERR_INVALID, "from is too long");
    bool member = strcmp(s->who.account_type, "corporate_member") == 0;
    char *save = NULL;
    int count = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        count++;
        struct fx_number n;
        enum fx_err e = fx_e164_valid(tok) ? fx_store_number_get(r->api->store, tok, &n)
                                           : FX_ERR_NOT_FOUND;
        if (e && e != FX_ERR_NOT_FOUND) return e;
        bool ok = false;
        if (!e) {
            char quoted[FX_UID_SIZE + 3];
            snprintf(quoted, sizeof quoted, "\"%s\"", s->who.uid);
            ok = member ? strstr(n.assigned_to, quoted) != NULL
                        : strcmp(n.owner_id, s->who.uid) == 0;
            fx_store_number_clear(&n);
        }
        if (!ok)
            return fx_req_fail(r, FX_ERR_INVALID,
                               "from must be one of your fax numbers or no_number (%s is not)",
                               tok);
    }
    if (!count) return fx_req_fail(r, FX_ERR_INVALID, "from must name a number or no_number");
    return FX_OK;
}

/* files: upload paths of the account; sums sizes against fax.max_bytes. */
static enum fx_err check_files(struct fx_req *r, struct send *s)
{
    size_t i;
    json_t *v;
    int64_t total = 0;
    s->file_info = json_array();
    json_array_foreach(s->files, i, v)
    {
        if (!json_is_string(v)) return fx_req_fail(r, FX_ERR_INVALID, "files must be strings");
        struct fx_upload u;
        enum fx_err e = fx_store_upload_get(r->api->store, json_string_value(v), &u);
        if (e == FX_OK && strcmp(u.uid, s->who.uid) != 0) e = FX_ERR_NOT_FOUND;
        if (e == FX_ERR_NOT_FOUND)
            return fx_req_fail(r, FX_ERR_INVALID, "files[%zu] is not a file you uploaded", i);
        if (e) return e;
        total += u.size;
        json_t *fi = json_object();
        json_object_set_new(fi, "file_name", json_string(u.name));
        json_object_set_new(fi, "mime_type", json_string(u.mime));
        json_object_set_new(fi, "size", json_integer(u.size));
        json_array_append_new(s->file_info, fi);
    }
    if (total > r->api->conf->max_fax_bytes)
        return fx_req_fail(r, FX_ERR_TOO_LARGE, "The files of one fax are limited to %lld bytes",
                           (long long)r->api->conf->max_fax_bytes);
    return FX_OK;
}

static enum fx_err parse_comment(struct fx_req *r, struct send *s)
{
    json_t *c = json_object_get(s->body, "comment");
    s->comment = json_object();
    json_object_set_new(s->comment, "tags", json_array());
    json_object_set_new(s->comment, "text", json_string(""));
    if (!c || json_is_null(c)) return FX_OK;
    if (json_is_string(c)) {
        json_object_set(s->comment, "text", c);
        return FX_OK;
    }
    if (!json_is_object(c))
        return fx_req_fail(r, FX_ERR_INVALID, "comment must be an object {text, tags}");
    json_t *text = json_object_get(c, "text"), *tags = json_object_get(c, "tags"), *v;
    if (text && !json_is_string(text))
        return fx_req_fail(r, FX_ERR_INVALID, "comment.text must be a string");
    if (tags && !json_is_array(tags))
        return fx_req_fail(r, FX_ERR_INVALID, "comment.tags must be an array of strings");
    size_t i;
    json_array_foreach(tags, i, v) if (!json_is_string(v)) return fx_req_fail(
        r, FX_ERR_INVALID, "comment.tags must be an array of strings");
    if (text) json_object_set(s->comment, "text", text);
    if (tags) json_object_set(s->comment, "tags", tags);
    return FX_OK;
}

static enum fx_err parse_cover(struct fx_req *r, struct send *s)
{
    json_t *c = json_object_get(s->body, "cover_page"), *v;
    if (!c || json_is_null(c)) return FX_OK;
    if (!json_is_object(c)) return fx_req_fail(r, FX_ERR_INVALID, "cover_page must be an object");
    s->cover = json_object();
    static const char *const strs[] = {"name_to", "name_from", "subject", "message"};
    for (size_t i = 0; i < 4; i++) {
        v = json_object_get(c, strs[i]);
        if (v && !json_is_string(v))
            return fx_req_fail(r, FX_ERR_INVALID, "cover_page.%s must be a string", strs[i]);
        /* name_to, name_from and subject are required in the model: never omit them. */
        if (v || i < 3) json_object_set_new(s->cover, strs[i], json_string(v ? json_string_value(v) : ""));
    }
    json_t *flags = json_object_get(c, "flags");
    enum fx_err e = fx_json_cover_flags(r, flags, &s->cover_flags);
    if (!e && flags && !json_is_null(flags)) json_object_set(s->cover, "flags", flags);
    return e;
}

/* Account default retry (settings.send_fax.retry), else the configured default. */
static void default_retry(struct fx_req *r, struct send *s)
{
    s->retry_count = r->api->conf->default_retry_count;
    s->retry_delay = r->api->conf->default_retry_delay;
    json_t *st = fx_json_parse_stored(s->who.settings, false);
    json_t *rt = json_object_get(json_object_get(st, "send_fax"), "retry");
    json_t *c = json_object_get(rt, "count"), *d = json_object_get(rt, "delay");
    if (json_is_integer(c)) s->retry_count = json_integer_value(c);
    if (json_is_integer(d)) s->retry_delay = json_integer_value(d);
    json_decref(st);
}

static enum fx_err parse_options(struct fx_req *r, struct send *s)
{
    json_t *o = json_object_get(s->body, "options");
    bool have;
    s->enhancement = true;
    default_retry(r, s);
    if (!o || json_is_null(o)) return FX_OK;
    if (!json_is_object(o)) return fx_req_fail(r, FX_ERR_INVALID, "options must be an object");
    enum fx_err e = fx_json_get_bool(r, o, "enhancement", &s->enhancement, &have);
    json_t *rt = json_object_get(o, "retry");
    if (e || !rt || json_is_null(rt)) return e;
    if (!json_is_object(rt))
        return fx_req_fail(r, FX_ERR_INVALID, "options.retry must be an object");
    if ((e = fx_json_get_int(r, rt, "count", 0, 3, &s->retry_count, &have))) return e;
    return fx_json_get_int(r, rt, "delay", 0, 720, &s->retry_delay, &have);
}

static enum fx_err parse_send(struct fx_req *r, struct send *s)
{
    const struct fx_conf *c = r->api->conf;
    bool have;
    const char *st;
    enum fx_err e = fx_json_get_str(r, s->body, "from", &s->from, &have);
    if (!e && !have) e = fx_req_fail(r, FX_ERR_INVALID, "from is required");
    if (e) return e;
    s->to = json_object_get(s->body, "to");
    s->files = json_object_get(s->body, "files");
    if (!json_is_array(s->to) || json_array_size(s->to) == 0)
        return fx_req_fail(r, FX_ERR_INVALID, "to must be a non-empty array of numbers");
    if (!json_is_array(s->files) || json_array_size(s->files) == 0)
        return fx_req_fail(r, FX_ERR_INVALID, "files must be a non-empty array of paths");
    if (json_array_size(s->files) > (size_t)c->max_files)
        return fx_req_fail(r, FX_ERR_TOO_MANY_FILES, "A fax may have at most %lld files",
                           (long long)c->max_files);
    if (json_array_size(s->to) > (size_t)c->max_destinations)
        return fx_req_fail(r, FX_ERR_TOO_MANY_DESTS, "A fax may have at most %lld destinations",
                           (long long)c->max_destinations);
    if ((e = fx_json_get_bool(r, s->body, "return_ids", &s->return_ids, &have))) return e;
    if ((e = fx_json_get_str(r, s->body, "send_time", &st, &have))) return e;
    if (have && !fx_time_parse_zone(st, &s->send_time))
        return fx_req_fail(r, FX_ERR_INVALID, "send_time must be YYYY-MM-DD HH:MM:SS +HHMM");
    if ((e = parse_options(r, s)) || (e = parse_comment(r, s)) || (e = parse_cover(r, s)))
        return e;
    if ((e = check_from(r, s))) return e;
    return check_files(r, s);
}

/* Builds the destinations (deduplicated by their text) and the records of the ones
 * that cannot be dialled. dests/finals are new arrays (free()). */
static enum fx_err build_dests(struct fx_req *r, struct send *s, struct fx_dest **dests_out,
                               int *n_dests, struct fx_fax **finals_out, int *n_finals,
                               json_t **pending)
{
    size_t n = json_array_size(s->to), i;
    json_t *v;
    struct fx_dest *d = calloc(n, sizeof *d);
    struct fx_fax *f = calloc(n, sizeof *f);
    if (!d || !f) {
        free(d);
        free(f);
        return FX_ERR_NOMEM;
    }
    int nd = 0, nf = 0;
    *pending = json_array();
    json_array_foreach(s->to, i, v)
    {
        if (!json_is_string(v)) {
            free(d);
            free(f);
            json_decref(*pending);
            *pending = NULL;
            return fx_req_fail(r, FX_ERR_INVALID, "to[%zu] must be a string", i);
        }
        const char *raw = json_string_value(v);
        bool dup = false;
        for (int k = 0; k < nd; k++) dup |= strcmp(d[k].raw, raw) == 0;
        if (dup) continue;
        struct fx_dest *x = &d[nd++];
        fx_id_new(x->fax_id);
        fx_strlcpy(x->raw, raw, sizeof x->raw);
        double mult;
        bool valid = strlen(raw) < sizeof x->raw &&
                     fx_e164_normalize(raw, r->api->conf->default_country, x->number);
        bool refused = valid && fx_rates_find(&r->api->rates, x->number, &mult);
        if (valid && !refused) {
            json_array_append_new(*pending, json_string(x->number));
            continue;
        }
        x->number[0] = 0;
        struct fx_fax *fx = &f[nf++];
        fx_strlcpy(fx->id, x->fax_id, sizeof fx->id);
        fx_strlcpy(fx->to, x->raw, sizeof fx->to);
        fx_strlcpy(fx->status, refused ? "failed_destination_not_supported"
                                       : "failed_invalid_number_format",
                   sizeof fx->status);
        fx_strlcpy(fx->description,
                   refused ? "Faxes to this destination are not allowed on this server"
                           : "The destination is not a valid phone number",
                   sizeof fx->description);
    }
    *dests_out = d;
    *n_dests = nd;
    *finals_out = f;
    *n_finals = nf;
    return FX_OK;
}

/* Fills the fields shared by every record refused at submit time. */
static void fill_finals(struct fx_req *r, struct send *s, struct fx_fax *f, int n,
                        const char *comment_text, const char *cover, int64_t now)
{
    for (int i = 0; i < n; i++) {
        fx_strlcpy(f[i].owner_id, s->who.uid, sizeof f[i].owner_id);
        fx_strlcpy(f[i].direction, "outgoing", sizeof f[i].direction);
        fx_strlcpy(f[i].category, "sent", sizeof f[i].category);
        fx_strlcpy(f[i].from, s->from, sizeof f[i].from);
        snprintf(f[i].file_name, sizeof f[i].file_name, "fax-to-%s", f[i].to);
        f[i].comment = (char *)comment_text;
        f[i].cover_page = (char *)cover;
        f[i].cost_multiplier = 1;
        f[i].last_update = f[i].submit_time = f[i].sort_time = now;
        f[i].scheduled_time = s->send_time;
        f[i].max_retry = (int)s->retry_count;
        f[i].retry_delay = (int)s->retry_delay;
    }
    (void)r;
}

/* Resolves what the converter needs into the record's plain columns: the comment's
 * text, page size and resolution (account setting, else configuration), the cover
 * page's fields and the company name. */
static enum fx_err conversion_inputs(struct fx_req *r, struct send *s, struct fx_outbox *o)
{
    const struct fx_conf *c = r->api->conf;
    o->comment_text = strdup(json_string_value(json_object_get(s->comment, "text")));
    fx_strlcpy(o->paper, s->who.paper[0] ? s->who.paper : c->paper, sizeof o->paper);
    fx_strlcpy(o->resolution, s->who.resolution[0] ? s->who.resolution : c->resolution,
               sizeof o->resolution);
    fx_strlcpy(o->logo_blob, s->who.logo_blob, sizeof o->logo_blob);
    json_t *data = fx_json_parse_stored(s->who.account_data, false);
    const char *company = json_string_value(json_object_get(data, "company_name"));
    o->company = strdup(company ? company : "");
    json_decref(data);
    if (s->cover) {
        static const char *const keys[] = {"name_to", "name_from", "subject", "message"};
        char **dst[] = {&o->cover_to, &o->cover_from, &o->cover_subject, &o->cover_message};
        for (int i = 0; i < 4; i++) {
            const char *v = json_string_value(json_object_get(s->cover, keys[i]));
            *dst[i] = strdup(v ? v : "");
        }
        o->cover_flags = (int)s->cover_flags;
    }
    return o->comment_text && o->company ? FX_OK : FX_ERR_NOMEM;
}

static json_t *status_changes(const char *status, int64_t at)
{
    char ts[FX_TIME_LEN];
    fx_time_format(at, ts);
    return json_pack("[{s:s,s:s}]", "at", ts, "status", status);
}

static enum fx_err store_send(struct fx_req *r, struct send *s, json_t **reply)
{
    struct fx_dest *d = NULL;
    struct fx_fax *f = NULL;
    int nd = 0, nf = 0;
    json_t *pending = NULL;
    enum fx_err e = build_dests(r, s, &d, &nd, &f, &nf, &pending);
    if (e) return e;
    int64_t now = fx_clock_now();
    char ts[FX_TIME_LEN];
    fx_time_format(now, ts);
    json_t *options = json_pack("{s:b,s:{s:I,s:I}}", "enhancement", s->enhancement, "retry",
                                "count", (json_int_t)s->retry_count, "delay",
                                (json_int_t)s->retry_delay);
    json_t *fchanges = json_pack("[{s:s,s:O}]", "at", ts, "files", s->file_info);
    json_t *sc = status_changes("submitted", now);
    /* A fax sent from the web interface names the account, not a token. */
    json_t *init = r->via_session
                       ? json_pack("{s:s,s:s}", "from_id", r->caller.uid, "type", "web")
                       : json_pack("{s:s,s:s}", "from_id", r->token.id, "type", "api");
    struct fx_outbox o = {.retry_count = (int)s->retry_count,
                          .retry_delay = (int)s->retry_delay,
                          .send_time = s->send_time,
                          .submit_time = now,
                          .status_time = now,
                          .should_enhance = s->enhancement};
    fx_strlcpy(o.uid, s->who.uid, sizeof o.uid);
    fx_strlcpy(o.status, "submitted", sizeof o.status);
    fx_strlcpy(o.src, s->from, sizeof o.src);
    fx_strlcpy(o.ip, r->ip, sizeof o.ip);
    o.dests = fx_json_dump(pending);
    o.files = fx_json_dump(s->files);
    o.comment = fx_json_dump(s->comment);
    o.options = fx_json_dump(options);
    o.status_changes = fx_json_dump(sc);
    o.file_changes = fx_json_dump(fchanges);
    o.initiated_from = fx_json_dump(init);
    o.cover_page = s->cover ? fx_json_dump(s->cover) : strdup("");
    fill_finals(r, s, f, nf, json_string_value(json_object_get(s->comment, "text")),
                o.cover_page, now);
    for (int i = 0; i < nf; i++) fx_strlcpy(f[i].outbox_id, "", sizeof f[i].outbox_id);
    e = conversion_inputs(r, s, &o);
    const char **paths = calloc(json_array_size(s->files) + 1, sizeof *paths);
    if (!paths && !e) e = FX_ERR_NOMEM;
    for (size_t i = 0; !e && i < json_array_size(s->files); i++)
        paths[i] = json_string_value(json_array_get(s->files, i));
    if (!e)
        e = fx_store_outbox_create(r->api->store, &o, paths, (int)json_array_size(s->files), d,
                                   nd, f, nf);
    free(paths);
    if (!e && nd > nf) fx_queue_kick(r->api->queue);
    if (!e) {
        json_t *ids = json_object();
        for (int i = 0; i < nd; i++) json_object_set_new(ids, d[i].raw, json_string(d[i].fax_id));
        *reply = json_object();
        if (s->return_ids) json_object_set_new(*reply, "ids", ids);
        else json_decref(ids);
        fx_info("api fax submitted outbox=%s uid=%s destinations=%d refused=%d", o.id, o.uid, nd,
                nf);
    }
    fx_store_outbox_clear(&o);
    json_decref(pending), json_decref(options), json_decref(fchanges), json_decref(sc);
    json_decref(init);
    free(d);
    free(f);
    return e;
}

enum fx_err fx_h_outbox_send(struct fx_req *r)
{
    struct send s = {0};
    json_t *reply = NULL;
    enum fx_err e = fx_req_user(r, r->params[0], &s.who);
    if (e) return e;
    char sha[65];
    bool replayed = false;
    fx_sha256_hex(r->body.data ? r->body.data : "", r->body.len, sha);
    /* The key is checked after validation: a request refused as invalid claims nothing. */
    if (!(e = fx_req_body(r, &s.body)) && !(e = parse_send(r, &s)) &&
        !(e = fx_idem_begin(r, sha, &replayed)) && !replayed)
        e = store_send(r, &s, &reply);
    json_decref(s.body), json_decref(s.file_info), json_decref(s.comment), json_decref(s.cover);
    fx_store_account_clear(&s.who);
    if (replayed) return FX_OK;
    return e ? e : fx_reply_json(r, 201, reply);
}

static enum fx_err append_outbox(const struct fx_outbox *o, void *arg)
{
    return json_array_append_new(arg, fx_json_outbox(o)) ? FX_ERR_NOMEM : FX_OK;
}

enum fx_err fx_h_outbox_list(struct fx_req *r)
{
    struct fx_account who;
    enum fx_err e = fx_req_user(r, r->params[0], &who);
    if (e) return e;
    json_t *arr = json_array();
    e = fx_store_outbox_list(r->api->store, who.uid, append_outbox, arr);
    fx_store_account_clear(&who);
    if (e) {
        json_decref(arr);
        return e;
    }
    json_t *o = json_object();
    json_object_set_new(o, "records", arr);
    return fx_reply_json(r, 200, o);
}

static enum fx_err owned_outbox(struct fx_req *r, struct fx_outbox *o)
{
    struct fx_account who;
    enum fx_err e = fx_req_user(r, r->params[0], &who);
    if (e) return e;
    e = fx_id_valid(r->params[1]) ? fx_store_outbox_get(r->api->store, r->params[1], o)
                                  : FX_ERR_NOT_FOUND;
    if (e == FX_OK && strcmp(o->uid, who.uid) != 0) {
        fx_store_outbox_clear(o);
        e = FX_ERR_NOT_FOUND;
    }
    fx_store_account_clear(&who);
    return e == FX_ERR_NOT_FOUND ? fx_req_fail(r, e, "No such fax in the outbox") : e;
}

enum fx_err fx_h_outbox_get(struct fx_req *r)
{
    struct fx_outbox o;
    enum fx_err e = owned_outbox(r, &o);
    if (e) return e;
    json_t *j = fx_json_outbox(&o);
    fx_store_outbox_clear(&o);
    return fx_reply_json(r, 200, j);
}

static enum fx_err state_error(struct fx_req *r, enum fx_err e)
{
    if (e == FX_ERR_CONFLICT)
        return fx_req_fail(r, e, "The fax is already being sent and can no longer change");
    if (e == FX_ERR_NOT_FOUND) return fx_req_fail(r, e, "No such fax in the outbox");
    return e;
}

enum fx_err fx_h_outbox_update(struct fx_req *r)
{
    struct fx_outbox o;
    json_t *body = NULL;
    const char *text = NULL;
    bool have = false;
    enum fx_err e = owned_outbox(r, &o);
    if (e) return e;
    if (!(e = fx_req_body(r, &body)) && !(e = fx_json_get_str(r, body, "comment", &text, &have)) &&
        have) {
        json_t *c = fx_json_parse_stored(o.comment, false);
        json_object_set_new(c, "text", json_string(text));
        if (!json_object_get(c, "tags")) json_object_set_new(c, "tags", json_array());
        char *dumped = fx_json_dump(c);
        json_decref(c);
        e = dumped ? state_error(r, fx_store_outbox_set_comment(r->api->store, o.id, dumped,
                                                                 text))
                   : FX_ERR_NOMEM;
        free(dumped);
    }
    json_decref(body);
    fx_store_outbox_clear(&o);
    return e ? e : fx_reply_empty(r);
}

enum fx_err fx_h_outbox_delete(struct fx_req *r)
{
    struct fx_outbox o;
    enum fx_err e = owned_outbox(r, &o);
    if (e) return e;
    e = state_error(r, fx_store_outbox_cancel(r->api->store, o.id));
    if (!e) fx_info("api fax cancelled outbox=%s uid=%s", o.id, o.uid);
    fx_store_outbox_clear(&o);
    return e ? e : fx_reply_empty(r);
}
