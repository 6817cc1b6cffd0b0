/* store: uploads, the outbox (a submitted fax before and while it is converted, with
 * its files and destinations) and idempotency keys. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_priv.h"

/* ---- uploads ---- */

static void upload_read(struct q *q, struct fx_upload *out);

enum fx_err fx_store_upload_create(struct fx_store *s, struct fx_upload *u)
{
    char id[FX_UID_SIZE];
    fx_id_new(id);
    snprintf(u->path, sizeof u->path, "/transient-%s", id);
    if (!u->created) u->created = fx_clock_now();
    return q_run(s, NULL,
                 "INSERT INTO uploads (path, uid, name, mime, format, size, sha256, blob, "
                 "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 "tttttitti", u->path, u->uid, u->name, u->mime, u->format, u->size, u->sha256,
                 u->blob, u->created);
}

enum fx_err fx_store_upload_get(struct fx_store *s, const char *path, struct fx_upload *out)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT path, uid, name, mime, format, size, sha256, blob, created "
                            "FROM uploads WHERE path = ?",
                            "t", path);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) upload_read(&q, out);
    q_end(&q);
    return q_found(rc);
}

enum fx_err fx_store_upload_expire(struct fx_store *s, int64_t before, int *removed)
{
    /* Collect first, then delete: each row goes in its own statement so a crash
     * between the row and its blob leaves at worst an orphan file, never a row
     * pointing at nothing. */
    struct expired {
        char path[48];
        char blob[96];
    } *list = NULL;
    int n = 0, cap = 0;
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT u.path, u.blob FROM uploads u WHERE u.created < ? AND "
                            "NOT EXISTS (SELECT 1 FROM outbox o WHERE o.files LIKE "
                            "'%\"' || u.path || '\"%') LIMIT 1000",
                            "i", before);
    if (e) return e;
    int rc;
    while ((rc = q_step(&q)) == FX_DB_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            struct expired *l = realloc(list, (size_t)cap * sizeof *l);
            if (!l) {
                e = FX_ERR_NOMEM;
                break;
            }
            list = l;
        }
        CP(list[n].path, qt(&q, 0));
        CP(list[n].blob, qt(&q, 1));
        n++;
    }
    q_end(&q);
    if (!e && rc < 0) e = (enum fx_err)-rc;
    int done = 0;
    for (int i = 0; !e && i < n; i++) {
        /* The condition is checked again in the DELETE itself, so an upload that a send
         * named since the scan above stays. */
        int64_t gone = 0;
        if ((e = tx_begin(s))) break;
        e = q_run(s, &gone,
                  "DELETE FROM uploads WHERE path = ? AND NOT EXISTS (SELECT 1 FROM outbox o "
                  "WHERE o.files LIKE '%\"' || uploads.path || '\"%')",
                  "t", list[i].path);
        if (!e && gone) e = fx_store_blob_drop(s, list[i].blob);
        if ((e = tx_end(s, e))) break;
        if (gone) fx_store_blob_purge(s, list[i].blob);
        done += gone != 0;
    }
    free(list);
    if (removed) *removed = done;
    return e;
}

/* ---- outbox ---- */

#define OUTBOX_COLS                                                                        \
    "id, uid, status, src, designated_src, dests, files, comment, options, retry_count, "   \
    "retry_delay, send_time, submit_time, status_time, status_changes, file_changes, "     \
    "page_count, ip, initiated_from, cover_page, should_enhance, comment_text, paper, "      \
    "resolution, cover_to, cover_from, cover_subject, cover_message, cover_flags, company, " \
    "doc_blob, lease_owner, lease_until, logo_blob"

void fx_store_outbox_clear(struct fx_outbox *o)
{
    if (!o) return;
    free(o->files);
    free(o->comment);
    free(o->options);
    free(o->status_changes);
    free(o->file_changes);
    free(o->initiated_from);
    free(o->cover_page);
    free(o->dests);
    free(o->comment_text);
    free(o->cover_to);
    free(o->cover_from);
    free(o->cover_subject);
    free(o->cover_message);
    free(o->company);
    memset(o, 0, sizeof *o);
}

static void outbox_read(struct q *q, struct fx_outbox *o)
{
    memset(o, 0, sizeof *o);
    CP(o->id, qt(q, 0));
    CP(o->uid, qt(q, 1));
    CP(o->status, qt(q, 2));
    CP(o->src, qt(q, 3));
    CP(o->designated_src, qt(q, 4));
    o->dests = strdup(qt(q, 5));
    o->files = strdup(qt(q, 6));
    o->comment = strdup(qt(q, 7));
    o->options = strdup(qt(q, 8));
    o->retry_count = (int)qi(q, 9);
    o->retry_delay = (int)qi(q, 10);
    o->send_time = qi(q, 11);
    o->submit_time = qi(q, 12);
    o->status_time = qi(q, 13);
    o->status_changes = strdup(qt(q, 14));
    o->file_changes = strdup(qt(q, 15));
    o->page_count = (int)qi(q, 16);
    CP(o->ip, qt(q, 17));
    o->initiated_from = strdup(qt(q, 18));
    o->cover_page = strdup(qt(q, 19));
    o->should_enhance = qi(q, 20) != 0;
    o->comment_text = strdup(qt(q, 21));
    CP(o->paper, qt(q, 22));
    CP(o->resolution, qt(q, 23));
    o->cover_to = strdup(qt(q, 24));
    o->cover_from = strdup(qt(q, 25));
    o->cover_subject = strdup(qt(q, 26));
    o->cover_message = strdup(qt(q, 27));
    o->cover_flags = (int)qi(q, 28);
    o->company = strdup(qt(q, 29));
    CP(o->doc_blob, qt(q, 30));
    CP(o->lease_owner, qt(q, 31));
    o->lease_until = qi(q, 32);
    CP(o->logo_blob, qt(q, 33));
}

static enum fx_err outbox_insert(struct fx_store *s, const struct fx_outbox *o)
{
    return q_run(s, NULL,
                 "INSERT INTO outbox (" OUTBOX_COLS ") VALUES "
                 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "?, ?, ?, ?, ?, ?, ?, ?)",
                 "tttttttttnniiittntttntttttttntttit", o->id, o->uid, o->status, o->src,
                 o->designated_src,
                 nz(o->dests, "[]"), nz(o->files, "[]"), nz(o->comment, "{}"),
                 nz(o->options, "{}"), o->retry_count, o->retry_delay, o->send_time,
                 o->submit_time, o->status_time, nz(o->status_changes, "[]"),
                 nz(o->file_changes, "[]"), o->page_count, o->ip, nz(o->initiated_from, ""),
                 nz(o->cover_page, ""), (int)o->should_enhance, nz(o->comment_text, ""),
                 o->paper[0] ? o->paper : "a4", o->resolution[0] ? o->resolution : "fine",
                 nz(o->cover_to, ""), nz(o->cover_from, ""), nz(o->cover_subject, ""),
                 nz(o->cover_message, ""), o->cover_flags, nz(o->company, ""), o->doc_blob,
                 o->lease_owner, o->lease_until, o->logo_blob);
}

enum fx_err fx_store_outbox_create(struct fx_store *s, struct fx_outbox *o,
                                   const char *const *files, int n_files,
                                   const struct fx_dest *dests, int n_dests,
                                   const struct fx_fax *finals, int n_finals)
{
    fx_id_new(o->id);
    int pending = 0;
    for (int i = 0; i < n_dests; i++) pending += dests[i].number[0] != 0;
    enum fx_err e = tx_begin(s);
    if (e) return e;
    if (pending) e = outbox_insert(s, o);
    for (int i = 0; !e && pending && i < n_files; i++)
        e = q_run(s, NULL, "INSERT INTO outbox_files (outbox_id, idx, path) VALUES (?, ?, ?)",
                  "tnt", o->id, i, files[i]);
    for (int i = 0; !e && pending && i < n_dests; i++) {
        if (!dests[i].number[0]) continue;
        e = q_run(s, NULL,
                  "INSERT INTO outbox_dests (fax_id, outbox_id, idx, raw, number, state) "
                  "VALUES (?, ?, ?, ?, ?, 'pending')",
                  "ttntt", dests[i].fax_id, o->id, i, dests[i].raw, dests[i].number);
    }
    for (int i = 0; !e && i < n_finals; i++) e = fx_store_fax_create_notify(s, &finals[i]);
    return tx_end(s, e);
}

static void upload_read(struct q *q, struct fx_upload *out)
{
    memset(out, 0, sizeof *out);
    CP(out->path, qt(q, 0));
    CP(out->uid, qt(q, 1));
    CP(out->name, qt(q, 2));
    CP(out->mime, qt(q, 3));
    CP(out->format, qt(q, 4));
    out->size = qi(q, 5);
    CP(out->sha256, qt(q, 6));
    CP(out->blob, qt(q, 7));
    out->created = qi(q, 8);
}

enum fx_err fx_store_outbox_uploads(struct fx_store *s, const char *id, fx_store_upload_cb cb,
                                    void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT u.path, u.uid, u.name, u.mime, u.format, u.size, u.sha256, "
                            "u.blob, u.created FROM outbox_files f JOIN uploads u "
                            "ON u.path = f.path WHERE f.outbox_id = ? ORDER BY f.idx",
                            "t", id);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_upload u;
        upload_read(&q, &u);
        e = cb(&u, arg);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_outbox_dests(struct fx_store *s, const char *id, fx_store_dest_cb cb,
                                  void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT fax_id, raw, number FROM outbox_dests WHERE outbox_id = ? "
                            "AND state = 'pending' ORDER BY idx",
                            "t", id);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_dest d;
        CP(d.fax_id, qt(&q, 0));
        CP(d.raw, qt(&q, 1));
        CP(d.number, qt(&q, 2));
        e = cb(&d, arg);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_outbox_release_leases(struct fx_store *s)
{
    return q_run(s, NULL,
                 "UPDATE outbox SET lease_until = 0 WHERE status = 'converting' AND "
                 "lease_owner LIKE ?",
                 "t", s->own_leases);
}

enum fx_err fx_store_outbox_get(struct fx_store *s, const char *id, struct fx_outbox *out)
{
    struct q q;
    enum fx_err e =
        q_start(s, &q, "SELECT " OUTBOX_COLS " FROM outbox WHERE id = ?", "t", id);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) outbox_read(&q, out);
    q_end(&q);
    return q_found(rc);
}

enum fx_err fx_store_outbox_list(struct fx_store *s, const char *uid, fx_store_outbox_cb cb,
                                 void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT " OUTBOX_COLS " FROM outbox WHERE uid = ? "
                            "ORDER BY submit_time, id",
                            "t", uid);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_outbox o;
        outbox_read(&q, &o);
        e = cb(&o, arg);
        fx_store_outbox_clear(&o);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

/* FX_OK when the record exists and is not yet sending. */
static enum fx_err outbox_check_mutable(struct fx_store *s, const char *id)
{
    struct q q;
    enum fx_err e = q_start(s, &q, "SELECT status FROM outbox WHERE id = ?", "t", id);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) e = strcmp(qt(&q, 0), "sending") == 0 ? FX_ERR_CONFLICT : FX_OK;
    else e = q_found(rc);
    q_end(&q);
    return e;
}

enum fx_err fx_store_outbox_set_comment(struct fx_store *s, const char *id, const char *comment,
                                        const char *text)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = outbox_check_mutable(s, id);
    if (!e)
        e = q_run(s, NULL, "UPDATE outbox SET comment = ?, comment_text = ? WHERE id = ?",
                  "ttt", comment, text, id);
    return tx_end(s, e);
}

enum fx_err fx_store_outbox_cancel(struct fx_store *s, const char *id)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = outbox_check_mutable(s, id);
    if (!e) e = q_run(s, NULL, "DELETE FROM outbox_dests WHERE outbox_id = ?", "t", id);
    if (!e) e = q_run(s, NULL, "DELETE FROM outbox_files WHERE outbox_id = ?", "t", id);
    if (!e) e = q_run(s, NULL, "DELETE FROM outbox WHERE id = ?", "t", id);
    return tx_end(s, e);
}

/* Appends {"at": …, "status": …} to a JSON array held as text. new; NULL on OOM. */
static char *json_array_append_status(const char *arr, const char *status, int64_t at)
{
    char ts[FX_TIME_LEN];
    fx_time_format(at, ts);
    struct fx_buf b;
    fx_buf_init(&b);
    const char *end = strrchr(arr, ']');
    bool empty = true;
    for (const char *p = arr; end && p < end; p++)
        if (*p == '{') empty = false;
    if (!end || empty) fx_buf_append(&b, "[", 1);
    else fx_buf_append(&b, arr, (size_t)(end - arr)), fx_buf_append(&b, ",", 1);
    if (fx_buf_printf(&b, "{\"at\":\"%s\",\"status\":\"%s\"}]", ts, status)) {
        fx_buf_free(&b);
        return NULL;
    }
    return fx_buf_steal(&b);
}

/* Inside a transaction: moves the record to status, appending to its history. */
enum fx_err fx_store_outbox_status_append(struct fx_store *s, const char *id,
                                          const char *status, int64_t at)
{
    struct q q;
    char *changes = NULL;
    enum fx_err e = q_start(s, &q, "SELECT status_changes FROM outbox WHERE id = ?", "t", id);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) changes = json_array_append_status(qt(&q, 0), status, at);
    e = q_found(rc);
    if (!e && !changes) e = FX_ERR_NOMEM;
    q_end(&q);
    if (!e)
        e = q_run(s, NULL,
                  "UPDATE outbox SET status = ?, status_time = ?, status_changes = ? "
                  "WHERE id = ?",
                  "titt", status, at, changes, id);
    free(changes);
    return e;
}

enum fx_err fx_store_outbox_set_status(struct fx_store *s, const char *id, const char *status,
                                       int64_t at)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    return tx_end(s, fx_store_outbox_status_append(s, id, status, at));
}

enum fx_err fx_store_outbox_claim_convert(struct fx_store *s, const char *owner, int64_t now,
                                          int64_t lease_s, struct fx_outbox *out)
{
    /* A read first: idle workers poll, and must not take the write lock to find nothing. */
    struct q pre;
    if (!q_start(s, &pre,
                 "SELECT 1 FROM outbox WHERE status = 'submitted' OR "
                 "(status = 'converting' AND lease_until < ?) LIMIT 1",
                 "i", now)) {
        int rc = q_step(&pre);
        q_end(&pre);
        if (rc == FX_DB_DONE) return FX_ERR_NOT_FOUND;
    }
    enum fx_err e = fx_store_tx_begin_claim(s);
    if (e) return e;
    char id[FX_UID_SIZE] = "";
    bool fresh = false;
    struct q q;
    if (!(e = q_start(s, &q,
                      "SELECT id, status FROM outbox WHERE status = 'submitted' OR "
                      "(status = 'converting' AND lease_until < ?) "
                      "ORDER BY submit_time, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                      "i", now))) {
        int rc = q_step(&q);
        if (rc == FX_DB_ROW) {
            CP(id, qt(&q, 0));
            fresh = strcmp(qt(&q, 1), "submitted") == 0;
        }
        e = q_found(rc);
        q_end(&q);
    }
    /* A record whose worker died keeps its history: only a fresh claim adds a step. */
    if (!e && fresh) e = fx_store_outbox_status_append(s, id, "converting", now);
    if (!e)
        e = q_run(s, NULL, "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                  "tit", owner, now + lease_s, id);
    if ((e = tx_end(s, e))) return e;
    return fx_store_outbox_get(s, id, out);
}

/* Inside a transaction: FX_OK when id is converting under owner's lease. */
static enum fx_err check_lease(struct fx_store *s, const char *id, const char *owner)
{
    return q_int(s, NULL,
                 "SELECT 1 FROM outbox WHERE id = ? AND status = 'converting' "
                 "AND lease_owner = ?",
                 "tt", id, owner);
}

enum fx_err fx_store_outbox_converted(struct fx_store *s, const char *id, const char *owner,
                                      const char *doc_blob, int pages, int64_t now)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = check_lease(s, id, owner);
    if (!e) e = fx_store_outbox_status_append(s, id, "scheduled_for_sending", now);
    if (!e)
        e = q_run(s, NULL,
                  "UPDATE outbox SET doc_blob = ?, page_count = ?, lease_owner = '', "
                  "lease_until = 0 WHERE id = ?",
                  "tnt", doc_blob, pages, id);
    return tx_end(s, e);
}

/* The final record of one destination of o that never reached the line. */
static void fax_from_outbox(const struct fx_outbox *o, const char *fax_id, const char *raw,
                            const char *status, const char *description, int64_t now,
                            struct fx_fax *f)
{
    memset(f, 0, sizeof *f);
    CP(f->id, fax_id);
    CP(f->owner_id, o->uid);
    CP(f->direction, "outgoing");
    CP(f->category, "sent");
    CP(f->status, status);
    f->comment = o->comment_text;
    f->cost_multiplier = 1;
    CP(f->description, description);
    snprintf(f->file_name, sizeof f->file_name, "fax-to-%s", raw);
    CP(f->from, o->src);
    CP(f->to, raw);
    f->last_update = now;
    f->scheduled_time = o->send_time;
    f->submit_time = f->sort_time = o->submit_time;
    f->max_retry = o->retry_count;
    f->retry_delay = o->retry_delay;
    f->cover_page = o->cover_page;
    CP(f->outbox_id, o->id);
}

enum fx_err fx_store_outbox_fail_all(struct fx_store *s, const char *id, const char *owner,
                                     const char *status, const char *description, int64_t now,
                                     int *n)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    struct fx_outbox o = {0};
    int written = 0;
    if (owner) e = check_lease(s, id, owner);
    if (!e) e = fx_store_outbox_get(s, id, &o);
    struct q q;
    if (!e && !(e = q_start(s, &q,
                            "SELECT fax_id, raw FROM outbox_dests WHERE outbox_id = ? AND "
                            "state = 'pending' ORDER BY idx",
                            "t", id))) {
        int rc;
        /* Each insert uses other statements than this SELECT, so rows can be written
         * while it is open (same connection, same transaction). */
        while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
            struct fx_fax f;
            fax_from_outbox(&o, qt(&q, 0), qt(&q, 1), status, description, now, &f);
            e = fx_store_fax_create_notify(s, &f);
            written += !e;
        }
        if (!e && rc < 0) e = (enum fx_err)-rc;
        q_end(&q);
    }
    if (!e) e = q_run(s, NULL, "DELETE FROM outbox_dests WHERE outbox_id = ?", "t", id);
    if (!e) e = q_run(s, NULL, "DELETE FROM outbox_files WHERE outbox_id = ?", "t", id);
    if (!e) e = q_run(s, NULL, "DELETE FROM outbox WHERE id = ?", "t", id);
    fx_store_outbox_clear(&o);
    e = tx_end(s, e);
    if (n) *n = e ? 0 : written;
    return e;
}

/* ---- idempotency keys ---- */

void fx_store_idem_clear(struct fx_idem *i)
{
    if (!i) return;
    free(i->response);
    memset(i, 0, sizeof *i);
}

enum fx_err fx_store_idem_get(struct fx_store *s, const char *uid, const char *key,
                              int64_t since, struct fx_idem *out)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT request, body_sha256, status, response FROM idempotency "
                            "WHERE uid = ? AND idem_key = ? AND created >= ?",
                            "tti", uid, key, since);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) {
        memset(out, 0, sizeof *out);
        CP(out->request, qt(&q, 0));
        CP(out->body_sha256, qt(&q, 1));
        out->status = (int)qi(&q, 2);
        out->response = strdup(qt(&q, 3));
    }
    q_end(&q);
    if (rc == FX_DB_ROW) return out->response ? FX_OK : FX_ERR_NOMEM;
    return q_found(rc);
}

enum fx_err fx_store_idem_put(struct fx_store *s, const char *uid, const char *key,
                              const struct fx_idem *i, int64_t now, int64_t since)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = q_run(s, NULL, "DELETE FROM idempotency WHERE uid = ? AND idem_key = ? AND created < ?",
              "tti", uid, key, since);
    if (!e)
        e = q_run(s, NULL,
                  "INSERT INTO idempotency (uid, idem_key, request, body_sha256, status, "
                  "response, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  "ttttnti", uid, key, i->request, i->body_sha256, i->status, i->response, now);
    /* Expired keys of everyone go in passing: the table stays small. */
    if (!e) e = q_run(s, NULL, "DELETE FROM idempotency WHERE created < ?", "i", since);
    return tx_end(s, e);
}

enum fx_err fx_store_idem_done(struct fx_store *s, const char *uid, const char *key, int status,
                               const char *response)
{
    return q_run(s, NULL,
                 "UPDATE idempotency SET status = ?, response = ? WHERE uid = ? AND idem_key = ?",
                 "ntt" "t", status, response, uid, key);
}

enum fx_err fx_store_idem_delete(struct fx_store *s, const char *uid, const char *key)
{
    return q_run(s, NULL, "DELETE FROM idempotency WHERE uid = ? AND idem_key = ?", "tt", uid,
                 key);
}
