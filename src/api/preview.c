/* api: preview — converts uploaded files (and an optional cover page) exactly as a
 * send would, without sending, and answers the page count and page thumbnails, so
 * people see what the recipient will get.
 *
 * The conversion runs on the queue's converter workers, never on an HTTP thread: the
 * request's connection is suspended while it waits and resumed by the worker's
 * callback. The wait state is shared by the request and the callback and freed by
 * whichever finishes last. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_priv.h"
#include "conf/conf.h"

#define MAX_THUMBS 50

struct fx_preview_wait {
    pthread_mutex_t mu;
    int refs;
    bool done;
    struct MHD_Connection *conn;
    char thumb_prefix[4300];
    int max_thumbs, width;
    /* The outcome, filled by the worker. */
    char status[48];
    char detail[256];
    int pages, failed_doc;
    json_t *thumbs; /* array of data: URIs */
};

static void wait_unref(struct fx_preview_wait *w)
{
    pthread_mutex_lock(&w->mu);
    int left = --w->refs;
    pthread_mutex_unlock(&w->mu);
    if (left) return;
    json_decref(w->thumbs);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void fx_preview_end(struct fx_req *r)
{
    if (r->preview) wait_unref(r->preview);
    r->preview = NULL;
}

/* Reads a PNG written by fx_convert_thumbnails into a data: URI. */
static json_t *png_uri(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct fx_buf b;
    fx_buf_init(&b);
    char chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) fx_buf_append(&b, chunk, n);
    fclose(f);
    char *b64 = fx_base64(b.data, b.len);
    fx_buf_free(&b);
    if (!b64) return NULL;
    json_t *s = json_pack("s++", "data:image/png;base64,", b64, "");
    free(b64);
    return s;
}

/* Runs on a converter worker. */
static void on_converted(const struct fx_convert_result *res, const char *tiff, void *arg)
{
    struct fx_preview_wait *w = arg;
    w->pages = res->pages;
    w->failed_doc = res->failed_doc;
    fx_strlcpy(w->status, res->status ? res->status : "", sizeof w->status);
    fx_strlcpy(w->detail, res->detail, sizeof w->detail);
    int made = 0;
    if (tiff && fx_convert_thumbnails(tiff, w->thumb_prefix, w->max_thumbs, w->width, &made))
        fx_warn("api preview thumbnails failed");
    for (int i = 1; i <= made; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s-%d.png", w->thumb_prefix, i);
        json_t *uri = png_uri(path);
        if (uri) json_array_append_new(w->thumbs, uri);
        unlink(path);
    }
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_mutex_unlock(&w->mu);
    /* The request cannot end while suspended, so the connection is still valid. */
    MHD_resume_connection(w->conn);
    wait_unref(w);
}

/* The documents named by body.files: upload paths of the account. */
static enum fx_err preview_docs(struct fx_req *r, const char *uid, json_t *files,
                                struct fx_convert_doc *docs, char (*paths)[4400],
                                char (*names)[256], int *n)
{
    size_t i;
    json_t *v;
    if (!json_is_array(files) || json_array_size(files) == 0)
        return fx_req_fail(r, FX_ERR_INVALID, "files must be a non-empty array of paths");
    if (json_array_size(files) > (size_t)r->api->conf->max_files)
        return fx_req_fail(r, FX_ERR_TOO_MANY_FILES, "At most %lld files",
                           (long long)r->api->conf->max_files);
    json_array_foreach(files, i, v)
    {
        struct fx_upload u;
        enum fx_err e = json_is_string(v)
                            ? fx_store_upload_get(r->api->store, json_string_value(v), &u)
                            : FX_ERR_NOT_FOUND;
        if (e == FX_OK && strcmp(u.uid, uid) != 0) e = FX_ERR_NOT_FOUND;
        if (e == FX_ERR_NOT_FOUND)
            return fx_req_fail(r, FX_ERR_INVALID, "files[%zu] is not a file you uploaded", i);
        if (e || (e = fx_blob_path(r->api->store, u.blob, paths[i], sizeof paths[0]))) return e;
        fx_strlcpy(names[i], u.name, sizeof names[0]);
        docs[i].path = paths[i];
        docs[i].name = names[i];
    }
    *n = (int)json_array_size(files);
    return FX_OK;
}

/* The optional cover page: the same fields as a send's cover_page. */
static enum fx_err preview_cover(struct fx_req *r, json_t *c, struct fx_cover *cover)
{
    if (!json_is_object(c)) return fx_req_fail(r, FX_ERR_INVALID, "cover_page must be an object");
    const char **dst[] = {&cover->name_to, &cover->name_from, &cover->subject, &cover->message};
    static const char *const keys[] = {"name_to", "name_from", "subject", "message"};
    for (int i = 0; i < 4; i++) {
        bool have;
        enum fx_err e = fx_json_get_str(r, c, keys[i], dst[i], &have);
        if (e) return e;
    }
    cover->date = fx_clock_now();
    return fx_json_cover_flags(r, json_object_get(c, "flags"), &cover->flags);
}

/* Second call, after the worker resumed the connection: the answer. */
static enum fx_err preview_reply(struct fx_req *r)
{
    struct fx_preview_wait *w = r->preview;
    pthread_mutex_lock(&w->mu);
    bool done = w->done;
    pthread_mutex_unlock(&w->mu);
    if (!done) return FX_ERR_INTERNAL; /* resumed by someone else: cannot happen */
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_boolean(!w->status[0]));
    json_object_set_new(o, "pages", json_integer(w->status[0] ? 0 : w->pages));
    if (w->status[0]) {
        json_object_set_new(o, "status", json_string(w->status));
        json_object_set_new(o, "description", json_string(w->detail));
        if (w->failed_doc >= 0) json_object_set_new(o, "file_index", json_integer(w->failed_doc));
    }
    json_object_set(o, "thumbnails", w->thumbs);
    json_object_set_new(o, "thumbnails_truncated",
                        json_boolean(!w->status[0] && w->pages > w->max_thumbs));
    return fx_reply_json(r, 200, o);
}

enum fx_err fx_h_preview(struct fx_req *r)
{
    if (r->preview) return preview_reply(r);
    if (!r->api->queue)
        return fx_req_fail(r, FX_ERR_UNAVAILABLE, "Conversion is not running on this server");
    struct fx_account who;
    json_t *body = NULL;
    enum fx_err e = fx_req_user(r, r->params[0], &who);
    if (e) return e;
    struct fx_convert_doc docs[16];
    char paths[16][4400], names[16][256];
    struct fx_cover cover = {0};
    bool enhance = true, have;
    int64_t max_thumbs = 10, width = 200;
    int n = 0;
    if (!(e = fx_req_body(r, &body)))
        e = preview_docs(r, who.uid, json_object_get(body, "files"), docs, paths, names, &n);
    json_t *c = json_object_get(body, "cover_page"), *opt = json_object_get(body, "options");
    if (!e && c && !json_is_null(c)) e = preview_cover(r, c, &cover);
    if (!e && json_is_object(opt)) e = fx_json_get_bool(r, opt, "enhancement", &enhance, &have);
    if (!e) e = fx_json_get_int(r, body, "thumbnails", 0, MAX_THUMBS, &max_thumbs, &have);
    if (!e) e = fx_json_get_int(r, body, "width", 50, 800, &width, &have);
    if (!e) {
        char logo[4400];
        if (who.logo_blob[0] && !fx_blob_path(r->api->store, who.logo_blob, logo, sizeof logo))
            cover.logo_path = logo;
        json_t *data = fx_json_parse_stored(who.account_data, false);
        const char *company = json_string_value(json_object_get(data, "company_name"));
        char company_buf[256] = "";
        if (company) fx_strlcpy(company_buf, company, sizeof company_buf);
        json_decref(data);
        cover.company = company_buf;
        const char *paper = who.paper[0] ? who.paper : r->api->conf->paper;
        const char *res = who.resolution[0] ? who.resolution : r->api->conf->resolution;
        struct fx_convert_job job = {.docs = docs, .n_docs = n,
                                     .cover = c && !json_is_null(c) ? &cover : NULL,
                                     .paper = fx_queue_paper(paper), .res = fx_queue_res(res),
                                     .enhance = enhance};
        struct fx_preview_wait *w = calloc(1, sizeof *w);
        if (!w) e = FX_ERR_NOMEM;
        if (!e) {
            char id[FX_ID_LEN + 1];
            fx_id_new(id);
            pthread_mutex_init(&w->mu, NULL);
            w->refs = 2; /* the request and the worker's callback */
            w->conn = r->conn;
            w->max_thumbs = (int)max_thumbs;
            w->width = (int)width;
            w->thumbs = json_array();
            snprintf(w->thumb_prefix, sizeof w->thumb_prefix, "%s/tmp/preview-%s",
                     r->api->conf->data_dir, id);
            r->preview = w;
            MHD_suspend_connection(r->conn);
            e = fx_queue_preview(r->api->queue, &job, on_converted, w);
            if (e) { /* never queued: nobody will resume us */
                MHD_resume_connection(r->conn);
                wait_unref(w);
                r->preview = NULL;
            }
        }
    }
    json_decref(body);
    fx_store_account_clear(&who);
    return e; /* no reply yet: server.c sees r->preview and waits for the resume */
}
