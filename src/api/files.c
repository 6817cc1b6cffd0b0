/* api: files (U1–U3) — multipart uploads streamed into the blob store, fax image
 * downloads as TIFF or PDF, and the confirmation report.
 *
 * An upload is answered only after its bytes are fsynced and its row committed, so an
 * acknowledged path always has its document. Memory stays flat: libmicrohttpd's post
 * processor hands us the part in chunks that go straight to disk. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_priv.h"
#include "conf/conf.h"
#include "convert/convert.h"

struct fx_upload_state {
    struct MHD_PostProcessor *pp;
    struct fx_blob_writer *w;
    char uid[FX_UID_SIZE];
    char name[256];
    char mime[128];
    char format[8];
    int parts;
    enum fx_err err;
    char why[128];
};

/* Keeps the last path component, drops control characters and quotes. */
static void sanitize_name(const char *in, char *out, size_t size)
{
    const char *base = in;
    for (const char *p = in; *p; p++)
        if (*p == '/' || *p == '\\') base = p + 1;
    size_t n = 0;
    for (const char *p = base; *p && n + 1 < size; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == '"') continue;
        out[n++] = (char)c;
    }
    out[n] = 0;
    if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        fx_strlcpy(out, "document", size);
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind;
    (void)transfer_encoding;
    struct fx_req *r = cls;
    struct fx_upload_state *u = r->upload;
    if (!key || strcmp(key, "fax_file") != 0) return MHD_YES; /* other fields: ignored */
    if (off == 0 && (u->parts == 0 || (u->w && fx_blob_size(u->w) > 0))) {
        if (++u->parts > 1) {
            u->err = FX_ERR_INVALID;
            snprintf(u->why, sizeof u->why, "Send exactly one fax_file part");
            return MHD_NO;
        }
        sanitize_name(filename ? filename : "", u->name, sizeof u->name);
        fx_strlcpy(u->mime, content_type ? content_type : "application/octet-stream",
                   sizeof u->mime);
        if ((u->err = fx_blob_begin(r->api->store, &u->w))) return MHD_NO;
    }
    if (!size) return MHD_YES;
    if (fx_blob_size(u->w) + (int64_t)size > r->api->conf->max_fax_bytes) {
        u->err = FX_ERR_TOO_LARGE;
        snprintf(u->why, sizeof u->why, "Uploads are limited to %lld bytes",
                 (long long)r->api->conf->max_fax_bytes);
        return MHD_NO;
    }
    if ((u->err = fx_blob_write(u->w, data, size))) return MHD_NO;
    fx_crash_point("upload");
    return MHD_YES;
}

enum fx_err fx_upload_begin(struct fx_req *r)
{
    const char *ct = fx_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return fx_req_fail(r, FX_ERR_INVALID,
                           "Upload the document as multipart/form-data in a fax_file part");
    const char *format = fx_req_query(r, "format");
    if (format && strcmp(format, "pdf") != 0 && strcmp(format, "tiff") != 0)
        return fx_req_fail(r, FX_ERR_INVALID, "format must be pdf or tiff");
    struct fx_account who;
    enum fx_err e = fx_req_user(r, r->params[0], &who);
    if (e) return e;
    r->upload = calloc(1, sizeof *r->upload);
    if (!r->upload) {
        fx_store_account_clear(&who);
        return FX_ERR_NOMEM;
    }
    fx_strlcpy(r->upload->uid, who.uid, sizeof r->upload->uid);
    fx_strlcpy(r->upload->format, format ? format : "", sizeof r->upload->format);
    fx_store_account_clear(&who);
    r->upload->pp = MHD_create_post_processor(r->conn, 65536, on_part, r);
    if (!r->upload->pp)
        return fx_req_fail(r, FX_ERR_INVALID, "The multipart body has no valid boundary");
    return FX_OK;
}

enum fx_err fx_upload_feed(struct fx_req *r, const char *data, size_t len)
{
    struct fx_upload_state *u = r->upload;
    if (MHD_post_process(u->pp, data, len) == MHD_YES) return FX_OK;
    if (!u->err) return fx_req_fail(r, FX_ERR_INVALID, "The multipart body is malformed");
    return fx_req_fail(r, u->err, "%s", u->why[0] ? u->why : fx_err_text(u->err));
}

void fx_upload_end(struct fx_req *r)
{
    struct fx_upload_state *u = r->upload;
    if (!u) return;
    if (u->pp) MHD_destroy_post_processor(u->pp);
    fx_blob_abort(u->w);
    free(u);
    r->upload = NULL;
}

/* Extra fields of the upload reply (ignored by the SDKs): the type faxd sees in the
 * bytes and whether it can be faxed, so clients can warn before sending. */
static void add_sniff(struct fx_req *r, const struct fx_upload *up, json_t *o)
{
    char path[4400];
    struct fx_sniff sn;
    if (fx_blob_path(r->api->store, up->blob, path, sizeof path) || fx_convert_sniff(path, &sn))
        return;
    json_object_set_new(o, "mime_type", json_string(sn.mime));
    json_object_set_new(o, "supported", json_boolean(sn.kind != FX_DOC_UNSUPPORTED));
    if (sn.kind == FX_DOC_UNSUPPORTED) {
        char warn[320];
        snprintf(warn, sizeof warn,
                 "This file cannot be faxed (%s); a fax with it ends as "
                 "failed_mimetype_not_supported",
                 sn.why[0] ? sn.why : sn.mime);
        json_object_set_new(o, "warning", json_string(warn));
    }
}

enum fx_err fx_h_file_upload(struct fx_req *r)
{
    struct fx_upload_state *u = r->upload;
    /* The post processor says whether it saw the closing boundary. */
    enum MHD_Result complete = MHD_destroy_post_processor(u->pp);
    u->pp = NULL;
    if (complete != MHD_YES)
        return fx_req_fail(r, FX_ERR_INVALID, "The multipart body is truncated");
    if (!u->w) return fx_req_fail(r, FX_ERR_INVALID, "The fax_file part is missing");
    struct fx_upload up = {0};
    fx_strlcpy(up.uid, u->uid, sizeof up.uid);
    fx_strlcpy(up.name, u->name, sizeof up.name);
    fx_strlcpy(up.mime, u->mime, sizeof up.mime);
    fx_strlcpy(up.format, u->format, sizeof up.format);
    up.size = fx_blob_size(u->w);
    enum fx_err e = fx_blob_commit(u->w, "", up.blob, up.sha256);
    u->w = NULL;
    if (e) return e;
    /* An Idempotency-Key repeat of the same file (name and bytes) answers as the first
     * time and keeps nothing new. */
    char ident[512], sha[65];
    bool replayed = false;
    snprintf(ident, sizeof ident, "%s/%s/%s", up.sha256, up.format, up.name);
    fx_sha256_hex(ident, strlen(ident), sha);
    e = fx_idem_begin(r, sha, &replayed);
    if (e || replayed) {
        fx_blob_remove(r->api->store, up.blob);
        return e;
    }
    if ((e = fx_store_upload_create(r->api->store, &up))) return e;
    fx_info("api upload stored path=%s uid=%s size=%lld", up.path, up.uid, (long long)up.size);
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(up.path));
    add_sniff(r, &up, o);
    return fx_reply_json(r, 200, o);
}

/* The fax named by a record id or by its `file` value, owned by the path's account. */
static enum fx_err fax_for_file(struct fx_req *r, struct fx_fax *f)
{
    struct fx_account who;
    enum fx_err e = fx_req_user(r, r->params[0], &who);
    if (e) return e;
    const char *id = r->params[1];
    e = fx_id_valid(id) ? fx_store_fax_get(r->api->store, id, f)
                        : fx_store_fax_get_by_file(r->api->store, id, f);
    if (e == FX_OK && strcmp(f->owner_id, who.uid) != 0) {
        fx_store_fax_clear(f);
        e = FX_ERR_NOT_FOUND;
    }
    fx_store_account_clear(&who);
    return e == FX_ERR_NOT_FOUND ? fx_req_fail(r, e, "No such fax") : e;
}

/* A private temporary file under <data_dir>/tmp; the caller unlinks it. */
static void temp_path(struct fx_req *r, const char *suffix, char *out, size_t size)
{
    char id[FX_ID_LEN + 1];
    fx_id_new(id);
    snprintf(out, size, "%s/tmp/%s%s", r->api->conf->data_dir, id, suffix);
}

/* Replies with a generated temporary file, then removes its name (the open
 * descriptor keeps the data until the reply is sent). */
static enum fx_err reply_temp(struct fx_req *r, const char *path, const char *type,
                              const char *filename)
{
    enum fx_err e = fx_reply_file(r, path, type, filename);
    unlink(path);
    return e;
}

enum fx_err fx_h_file_get(struct fx_req *r)
{
    const char *format = fx_req_query(r, "format");
    if (format && strcmp(format, "pdf") != 0 && strcmp(format, "tiff") != 0)
        return fx_req_fail(r, FX_ERR_INVALID, "format must be pdf or tiff");
    if (!format) {
        /* ?format wins over Accept; the Python SDK always sends Accept: application/json,
         * so only an explicit image/tiff selects TIFF. */
        const char *accept = fx_req_header(r, "Accept");
        format = accept && strstr(accept, "image/tiff") ? "tiff" : "pdf";
    }
    struct fx_fax f;
    enum fx_err e = fax_for_file(r, &f);
    if (e) return e;
    char src[4400], name[64];
    if (!f.blob[0]) e = fx_req_fail(r, FX_ERR_NOT_FOUND, "This fax has no image");
    else e = fx_blob_path(r->api->store, f.blob, src, sizeof src);
    if (!e && strcmp(format, "tiff") == 0) {
        snprintf(name, sizeof name, "%s.tiff", f.id);
        e = fx_reply_file(r, src, "image/tiff", name);
    } else if (!e) {
        char pdf[4400];
        temp_path(r, ".pdf", pdf, sizeof pdf);
        snprintf(name, sizeof name, "%s.pdf", f.id);
        e = fx_convert_tiff_to_pdf(src, pdf);
        if (!e) e = reply_temp(r, pdf, "application/pdf", name);
        else unlink(pdf);
    }
    fx_store_fax_clear(&f);
    return e;
}

enum fx_err fx_h_report_get(struct fx_req *r)
{
    struct fx_fax f;
    enum fx_err e = fax_for_file(r, &f);
    if (e) return e;
    struct fx_report rep = {
        .id = f.id,
        .direction = f.direction,
        .status = f.status,
        .description = f.description,
        .from = f.from,
        .to = f.to,
        .comment = f.comment,
        .pages = f.pages,
        .duration = f.duration,
        .max_retry = f.max_retry,
        .submit_time = f.submit_time,
        .start_time = f.start_time,
        .attempts = f.attempts,
        .bit_rate = f.bit_rate,
        .ecm = f.ecm,
        .remote_ident = f.remote_ident,
        .transport = f.transport,
    };
    char tiff[4400], pdf[4400], name[64];
    if (f.blob[0] && !fx_blob_path(r->api->store, f.blob, tiff, sizeof tiff)) rep.tiff_path = tiff;
    temp_path(r, ".pdf", pdf, sizeof pdf);
    snprintf(name, sizeof name, "%s-report.pdf", f.id);
    e = fx_convert_report_pdf(&rep, pdf);
    if (!e) e = reply_temp(r, pdf, "application/pdf", name);
    else unlink(pdf);
    fx_store_fax_clear(&f);
    return e;
}

/* Renders page `page` of f's image into png (under a temporary name, then renamed:
 * a concurrent request never serves half a file). */
static enum fx_err render_page(struct fx_req *r, const struct fx_fax *f, int page, int width,
                               const char *png)
{
    char src[4400], tmp[4500], id[FX_ID_LEN + 1];
    int pages = 0;
    enum fx_err e = fx_blob_path(r->api->store, f->blob, src, sizeof src);
    if (e) return e;
    fx_id_new(id);
    snprintf(tmp, sizeof tmp, "%s.%s.tmp", png, id);
    e = fx_convert_page_png(src, page, width, tmp, &pages);
    if (e == FX_ERR_NOT_FOUND) return fx_req_fail(r, e, "The fax has %d pages", pages);
    if (!e && rename(tmp, png) != 0) e = FX_ERR_IO;
    unlink(tmp);
    return e;
}

/* GET …/pages/{fax_id}?page=N&width=W (web interface extension): page N of the fax
 * image as a grey PNG W pixels wide, for thumbnails and the page viewer. */
enum fx_err fx_h_page_get(struct fx_req *r)
{
    int64_t page = 1, width = 200;
    const char *v;
    char *end;
    if ((v = fx_req_query(r, "page"))) {
        page = strtoll(v, &end, 10);
        if (!*v || *end || page < 1 || page > 1000)
            return fx_req_fail(r, FX_ERR_INVALID, "page must be an integer from 1 to 1000");
    }
    if ((v = fx_req_query(r, "width"))) {
        width = strtoll(v, &end, 10);
        if (!*v || *end || width < 50 || width > 1728)
            return fx_req_fail(r, FX_ERR_INVALID, "width must be an integer from 50 to 1728");
    }
    struct fx_fax f;
    enum fx_err e = fax_for_file(r, &f);
    if (e) return e;
    char variant[64], png[4400], name[80];
    snprintf(variant, sizeof variant, "p%lld-w%lld.png", (long long)page, (long long)width);
    snprintf(name, sizeof name, "%s-%lld.png", f.id, (long long)page);
    if (!f.blob[0]) e = fx_req_fail(r, FX_ERR_NOT_FOUND, "This fax has no image");
    else e = fx_blob_derived_path(r->api->store, f.blob, variant, png, sizeof png);
    /* A page image is rendered once per size and then served from the node's cache: a
     * viewer asks for the same pages again and again, and an HTTP thread should not
     * decode a 100-page fax for each. */
    if (!e && utimensat(AT_FDCWD, png, NULL, 0) != 0) e = render_page(r, &f, (int)page,
                                                                   (int)width, png);
    if (!e) e = fx_reply_file(r, png, "image/png", name);
    fx_store_fax_clear(&f);
    return e;
}
