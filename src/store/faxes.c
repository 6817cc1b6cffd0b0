/* store: fax records, the sending queue (destinations claimed, retried and finished
 * under leases), inbound calls stored page by page, spam, and trunk channels shared by
 * the nodes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_priv.h"

/* ---- faxes ---- */

#define FAX_COLS                                                                           \
    "id, owner_id, direction, category, status, pages, comment, cost, cost_multiplier, "    \
    "description, duration, file, file_name, blob, src, dst, header, is_read, is_spam, "   \
    "last_update, scheduled_time, start_time, submit_time, sort_time, max_retry, "         \
    "retry_delay, cover_page, outbox_id, attempts, remote_ident, bit_rate, ecm, transport"

void fx_store_fax_clear(struct fx_fax *f)
{
    if (!f) return;
    free(f->comment);
    free(f->cover_page);
    memset(f, 0, sizeof *f);
}

static void fax_read(struct q *q, struct fx_fax *f)
{
    memset(f, 0, sizeof *f);
    CP(f->id, qt(q, 0));
    CP(f->owner_id, qt(q, 1));
    CP(f->direction, qt(q, 2));
    CP(f->category, qt(q, 3));
    CP(f->status, qt(q, 4));
    f->pages = (int)qi(q, 5);
    f->comment = strdup(qt(q, 6));
    f->cost = qi(q, 7);
    f->cost_multiplier = q->s->ops->col_double(q->st, 8);
    CP(f->description, qt(q, 9));
    f->duration = (int)qi(q, 10);
    CP(f->file, qt(q, 11));
    CP(f->file_name, qt(q, 12));
    CP(f->blob, qt(q, 13));
    CP(f->from, qt(q, 14));
    CP(f->to, qt(q, 15));
    CP(f->header, qt(q, 16));
    f->is_read = qi(q, 17) != 0;
    f->is_spam = qi(q, 18) != 0;
    f->last_update = qi(q, 19);
    f->scheduled_time = qi(q, 20);
    f->start_time = qi(q, 21);
    f->submit_time = qi(q, 22);
    f->sort_time = qi(q, 23);
    f->max_retry = (int)qi(q, 24);
    f->retry_delay = (int)qi(q, 25);
    f->cover_page = strdup(qt(q, 26));
    CP(f->outbox_id, qt(q, 27));
    f->attempts = (int)qi(q, 28);
    CP(f->remote_ident, qt(q, 29));
    f->bit_rate = (int)qi(q, 30);
    f->ecm = qi(q, 31) != 0;
    CP(f->transport, qt(q, 32));
}

enum fx_err fx_store_fax_create(struct fx_store *s, const struct fx_fax *f)
{
    return q_run(s, NULL,
                 "INSERT INTO faxes (" FAX_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 "tttttntidtnttttttnniiiiinnttntnnt", f->id, f->owner_id, f->direction, f->category,
                 f->status, f->pages, nz(f->comment, ""), f->cost, f->cost_multiplier,
                 f->description, f->duration, f->file, f->file_name, f->blob, f->from, f->to,
                 f->header, (int)f->is_read, (int)f->is_spam, f->last_update, f->scheduled_time,
                 f->start_time, f->submit_time, f->sort_time, f->max_retry, f->retry_delay,
                 nz(f->cover_page, ""), f->outbox_id, f->attempts, f->remote_ident, f->bit_rate,
                 (int)f->ecm, f->transport);
}

static enum fx_err fax_get_by(struct fx_store *s, const char *sql, const char *key,
                              struct fx_fax *out)
{
    struct q q;
    enum fx_err e = q_start(s, &q, sql, "t", key);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) fax_read(&q, out);
    q_end(&q);
    return q_found(rc);
}

enum fx_err fx_store_fax_get(struct fx_store *s, const char *id, struct fx_fax *out)
{
    return fax_get_by(s, "SELECT " FAX_COLS " FROM faxes WHERE id = ?", id, out);
}

enum fx_err fx_store_fax_get_by_file(struct fx_store *s, const char *file, struct fx_fax *out)
{
    if (!file[0]) return FX_ERR_NOT_FOUND;
    return fax_get_by(s, "SELECT " FAX_COLS " FROM faxes WHERE file = ?", file, out);
}

enum fx_err fx_store_fax_list(struct fx_store *s, const struct fx_fax_query *qy,
                              fx_store_fax_cb cb, void *arg)
{
    int64_t after = qy->after ? qy->after : INT64_MIN;
    int64_t before = qy->before ? qy->before : INT64_MAX;
    struct q q;
    enum fx_err e =
        qy->category
            ? q_start(s, &q,
                      "SELECT " FAX_COLS " FROM faxes WHERE owner_id = ? AND category = ? "
                      "AND sort_time > ? AND sort_time < ? "
                      "ORDER BY sort_time DESC, id DESC LIMIT ?",
                      "ttiin", qy->owner_id, qy->category, after, before, qy->limit)
            : q_start(s, &q,
                      "SELECT " FAX_COLS " FROM faxes WHERE owner_id = ? "
                      "AND category IN ('inbox', 'sent') AND sort_time > ? AND sort_time < ? "
                      "ORDER BY sort_time DESC, id DESC LIMIT ?",
                      "tiin", qy->owner_id, after, before, qy->limit);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_fax f;
        fax_read(&q, &f);
        e = cb(&f, arg);
        fx_store_fax_clear(&f);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_fax_update(struct fx_store *s, const char *id, const char *comment,
                                int is_read, int64_t now)
{
    int64_t n = 0;
    /* One statement: CASE keeps each field unchanged unless given. */
    enum fx_err e = q_run(s, &n,
                          "UPDATE faxes SET comment = CASE WHEN ? = 1 THEN ? ELSE comment END, "
                          "is_read = CASE WHEN ? >= 0 THEN ? ELSE is_read END, "
                          "last_update = ? WHERE id = ?",
                          "ntnnit", comment ? 1 : 0, comment ? comment : "", is_read,
                          is_read > 0 ? 1 : 0, now, id);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

enum fx_err fx_store_fax_delete(struct fx_store *s, const char *id)
{
    char blob[96] = "";
    int64_t n = 0;
    enum fx_err e = tx_begin(s);
    if (e) return e;
    struct q q;
    if (!(e = q_start(s, &q, "SELECT blob FROM faxes WHERE id = ?", "t", id))) {
        if (q_step(&q) == FX_DB_ROW) CP(blob, qt(&q, 0));
        q_end(&q);
    }
    if (!e) e = q_run(s, &n, "DELETE FROM faxes WHERE id = ?", "t", id);
    if (!e && !n) e = FX_ERR_NOT_FOUND;
    if (!e) e = fx_store_blob_drop(s, blob);
    if ((e = tx_end(s, e))) return e;
    fx_store_blob_purge(s, blob);
    return FX_OK;
}

/* ---- sending ---- */

enum fx_err fx_store_dest_release_leases(struct fx_store *s)
{
    return q_run(s, NULL,
                 "UPDATE outbox_dests SET lease_until = 0 WHERE lease_owner <> '' AND "
                 "lease_owner LIKE ?",
                 "t", s->own_leases);
}

static enum fx_err job_read(struct fx_store *s, const char *fax_id, struct fx_send_job *j)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT d.fax_id, d.raw, d.number, o.id, o.uid, o.src, o.doc_blob, "
                            "o.page_count, d.attempts, d.pages_done, o.retry_count, "
                            "o.retry_delay, d.first_start FROM outbox_dests d "
                            "JOIN outbox o ON o.id = d.outbox_id WHERE d.fax_id = ?",
                            "t", fax_id);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) {
        memset(j, 0, sizeof *j);
        CP(j->dest.fax_id, qt(&q, 0));
        CP(j->dest.raw, qt(&q, 1));
        CP(j->dest.number, qt(&q, 2));
        CP(j->outbox_id, qt(&q, 3));
        CP(j->uid, qt(&q, 4));
        CP(j->src, qt(&q, 5));
        CP(j->doc_blob, qt(&q, 6));
        j->page_count = (int)qi(&q, 7);
        j->attempt = (int)qi(&q, 8);
        j->pages_done = (int)qi(&q, 9);
        j->retry_count = (int)qi(&q, 10);
        j->retry_delay = (int)qi(&q, 11);
        j->first_start = qi(&q, 12);
    }
    q_end(&q);
    return q_found(rc);
}

/* Outside any transaction: is anything due? Idle dialers ask every second, and this
 * keeps them from taking the write lock just to find nothing. */
static bool dest_due(struct fx_store *s, int64_t now)
{
    enum fx_err e = q_int(s, NULL,
                          "SELECT 1 FROM outbox_dests d JOIN outbox o ON o.id = d.outbox_id "
                          "WHERE d.state = 'pending' AND o.status IN ('scheduled_for_sending', "
                          "'sending') AND o.send_time <= ? AND d.next_at <= ? AND "
                          "d.lease_until < ? LIMIT 1",
                          "iii", now, now, now);
    return e != FX_ERR_NOT_FOUND; /* an error: let the claim itself report it */
}

enum fx_err fx_store_dest_claim(struct fx_store *s, const char *owner, int64_t now,
                                int64_t lease_s, struct fx_send_job *out)
{
    if (!dest_due(s, now)) return FX_ERR_NOT_FOUND;
    enum fx_err e = fx_store_tx_begin_claim(s);
    if (e) return e;
    char fax_id[FX_UID_SIZE] = "", outbox_id[FX_UID_SIZE] = "";
    bool first = false;
    struct q q;
    if (!(e = q_start(s, &q,
                      "SELECT d.fax_id, o.id, o.status FROM outbox_dests d JOIN outbox o "
                      "ON o.id = d.outbox_id WHERE d.state = 'pending' AND o.status IN "
                      "('scheduled_for_sending', 'sending') AND o.send_time <= ? AND "
                      "d.next_at <= ? AND d.lease_until < ? "
                      "ORDER BY d.next_at, o.submit_time, d.idx LIMIT 1 "
                      "FOR UPDATE SKIP LOCKED",
                      "iii", now, now, now))) {
        int rc = q_step(&q);
        if (rc == FX_DB_ROW) {
            CP(fax_id, qt(&q, 0));
            CP(outbox_id, qt(&q, 1));
            first = strcmp(qt(&q, 2), "sending") != 0;
        }
        e = q_found(rc);
        q_end(&q);
    }
    if (!e && first) e = fx_store_outbox_status_append(s, outbox_id, "sending", now);
    if (!e)
        e = q_run(s, NULL,
                  "UPDATE outbox_dests SET lease_owner = ?, lease_until = ?, "
                  "attempts = attempts + 1, first_start = CASE WHEN first_start = 0 THEN ? "
                  "ELSE first_start END WHERE fax_id = ?",
                  "tiit", owner, now + lease_s, now, fax_id);
    if (!e) e = job_read(s, fax_id, out);
    return tx_end(s, e);
}

/* Inside a transaction: FX_OK when owner holds the destination's lease. */
static enum fx_err check_dest_lease(struct fx_store *s, const char *fax_id, const char *owner)
{
    return q_int(s, NULL,
                 "SELECT 1 FROM outbox_dests WHERE fax_id = ? AND lease_owner = ? "
                 "AND state = 'pending'",
                 "tt", fax_id, owner);
}

static enum fx_err attempt_insert(struct fx_store *s, const struct fx_attempt *a)
{
    char id[FX_UID_SIZE];
    if (a->id[0]) CP(id, a->id);
    else fx_id_new(id);
    return q_run(s, NULL,
                 "INSERT INTO attempts (id, fax_id, direction, number, line, started, ended, "
                 "status, call_end, sip_code, t30_code, t30_text, pages, bit_rate, ecm, "
                 "transport, remote_ident) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "?, ?, ?)",
                 "tttttiittnntnnntt", id, a->fax_id, a->direction, a->number, a->line,
                 a->started, a->ended, a->status, a->call_end, a->sip_code, a->t30_code,
                 a->t30_text, a->pages, a->bit_rate, (int)a->ecm, a->transport, a->remote_ident);
}

enum fx_err fx_store_dest_retry(struct fx_store *s, const struct fx_send_job *job,
                                const char *owner, const struct fx_attempt *a, int pages_done,
                                int64_t next_at, bool refund)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = check_dest_lease(s, job->dest.fax_id, owner);
    if (!e) e = attempt_insert(s, a);
    if (!e)
        e = q_run(s, NULL,
                  "UPDATE outbox_dests SET lease_owner = '', lease_until = 0, next_at = ?, "
                  "pages_done = ?, attempts = attempts - ? WHERE fax_id = ?",
                  "innt", next_at, pages_done, refund ? 1 : 0, job->dest.fax_id);
    return tx_end(s, e);
}

enum fx_err fx_store_dest_progress(struct fx_store *s, const struct fx_send_job *job,
                                   const char *owner, int pages_done)
{
    int64_t changed = 0;
    enum fx_err e = q_run(s, &changed,
                          "UPDATE outbox_dests SET pages_done = ? WHERE fax_id = ? AND "
                          "lease_owner = ? AND state = 'pending'",
                          "ntt", pages_done, job->dest.fax_id, owner);
    if (!e && changed == 0) e = FX_ERR_NOT_FOUND;
    return e;
}

/* Lease renewal: one UPDATE fenced by the owner, so a lease another worker has since
 * claimed is never taken back. An expired lease nobody claimed yet is extended: its
 * owner still is the only one working on it. */
enum fx_err fx_store_lease_renew(struct fx_store *s, enum fx_store_lease kind, const char *id,
                                 const char *owner, int64_t until)
{
    const char *sql = kind == FX_STORE_LEASE_DIAL
                          ? "UPDATE outbox_dests SET lease_until = ? WHERE fax_id = ? AND "
                            "lease_owner = ? AND state = 'pending'"
                      : kind == FX_STORE_LEASE_RX
                          ? "UPDATE rx_calls SET lease_until = ? WHERE id = ? AND lease_owner = ?"
                          : "UPDATE outbox SET lease_until = ? WHERE id = ? AND lease_owner = ? "
                            "AND status = 'converting'";
    int64_t changed = 0;
    enum fx_err e = q_run(s, &changed, sql, "itt", until, id, owner);
    return !e && changed == 0 ? FX_ERR_NOT_FOUND : e;
}

enum fx_err fx_store_dest_finish(struct fx_store *s, const struct fx_send_job *job,
                                 const char *owner, const struct fx_attempt *a,
                                 const struct fx_fax *f)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = check_dest_lease(s, job->dest.fax_id, owner);
    if (!e) e = attempt_insert(s, a);
    if (!e) e = fx_store_fax_create_notify(s, f);
    if (!e)
        e = q_run(s, NULL, "UPDATE outbox_dests SET state = 'done', lease_owner = '' "
                           "WHERE fax_id = ?",
                  "t", job->dest.fax_id);
    /* The last destination takes the outbox record (and its document) with it. */
    int64_t pending = 1;
    if (!e)
        e = q_int(s, &pending,
                  "SELECT COUNT(*) FROM outbox_dests WHERE outbox_id = ? AND state = 'pending'",
                  "t", job->outbox_id);
    if (!e && pending == 0) {
        e = q_run(s, NULL, "DELETE FROM outbox_dests WHERE outbox_id = ?", "t", job->outbox_id);
        if (!e)
            e = q_run(s, NULL, "DELETE FROM outbox_files WHERE outbox_id = ?", "t",
                      job->outbox_id);
        if (!e) e = q_run(s, NULL, "DELETE FROM outbox WHERE id = ?", "t", job->outbox_id);
        if (!e) e = fx_store_blob_drop(s, job->doc_blob);
    }
    if ((e = tx_end(s, e))) return e;
    if (pending == 0) fx_store_blob_purge(s, job->doc_blob);
    return FX_OK;
}

/* ---- inbound calls in progress ---- */

/* The blob keys of a call's pages, collected and noted (fx_store_blob_drop) inside the
 * transaction that drops their rows, and removed once it committed. */
struct rx_keys {
    char (*v)[96];
    int n, cap;
};

static enum fx_err rx_key_add(int page, const char *blob, void *arg)
{
    (void)page;
    struct rx_keys *k = arg;
    if (k->n == k->cap) {
        int cap = k->cap ? k->cap * 2 : 8;
        void *v = realloc(k->v, (size_t)cap * sizeof *k->v);
        if (!v) return FX_ERR_NOMEM;
        k->v = v;
        k->cap = cap;
    }
    CP(k->v[k->n++], blob);
    return FX_OK;
}

/* Inside a transaction: removes call id's row and pages, their keys into k. */
static enum fx_err rx_drop(struct fx_store *s, const char *id, struct rx_keys *k)
{
    enum fx_err e = fx_store_rx_pages(s, id, rx_key_add, k);
    for (int i = 0; !e && i < k->n; i++) e = fx_store_blob_drop(s, k->v[i]);
    if (!e) e = q_run(s, NULL, "DELETE FROM rx_pages WHERE call_id = ?", "t", id);
    if (!e) e = q_run(s, NULL, "DELETE FROM rx_calls WHERE id = ?", "t", id);
    return e;
}

/* After the transaction: removes the blobs when it committed. */
static enum fx_err rx_keys_done(struct fx_store *s, struct rx_keys *k, enum fx_err e)
{
    for (int i = 0; !e && i < k->n; i++) fx_store_blob_purge(s, k->v[i]);
    free(k->v);
    return e;
}

enum fx_err fx_store_fax_received(struct fx_store *s, const struct fx_attempt *a,
                                  const struct fx_fax *f)
{
    struct rx_keys k = {0};
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = attempt_insert(s, a);
    if (!e) e = fx_store_fax_create_notify(s, f);
    if (!e) e = rx_drop(s, f->id, &k);
    return rx_keys_done(s, &k, tx_end(s, e));
}

enum fx_err fx_store_rx_begin(struct fx_store *s, const struct fx_rx_call *c)
{
    return q_run(s, NULL,
                 "INSERT INTO rx_calls (id, to_number, from_number, transport, line, started, "
                 "lease_owner, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 "tttttiti", c->id, c->to, c->from, c->transport, c->line, c->started,
                 c->lease_owner, c->lease_until);
}

enum fx_err fx_store_rx_page(struct fx_store *s, const char *id, const char *owner, int page,
                             const char *blob, int64_t lease_until)
{
    int64_t n = 0;
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = q_run(s, &n,
              "UPDATE rx_calls SET pages = ?, lease_until = ? WHERE id = ? AND lease_owner = ? "
              "AND pages = ?",
              "nittn", page, lease_until, id, owner, page - 1);
    if (!e && n == 0) e = FX_ERR_NOT_FOUND;
    if (!e)
        e = q_run(s, NULL, "INSERT INTO rx_pages (call_id, page, blob) VALUES (?, ?, ?)", "tnt",
                  id, page, blob);
    return tx_end(s, e);
}

enum fx_err fx_store_rx_claim(struct fx_store *s, const char *owner, int64_t now,
                              int64_t lease_s, struct fx_rx_call *out)
{
    /* Every node asks every few seconds and nearly always finds nothing: a plain read
     * first keeps that off the write lock. */
    enum fx_err e = q_int(s, NULL, "SELECT 1 FROM rx_calls WHERE lease_until < ? LIMIT 1",
                          "i", now);
    if (e) return e;
    if ((e = fx_store_tx_begin_claim(s))) return e;
    struct q q;
    memset(out, 0, sizeof *out);
    if (!(e = q_start(s, &q,
                      "SELECT id, to_number, from_number, transport, line, started, pages "
                      "FROM rx_calls WHERE lease_until < ? ORDER BY started, id LIMIT 1 "
                      "FOR UPDATE SKIP LOCKED",
                      "i", now))) {
        int rc = q_step(&q);
        if (rc == FX_DB_ROW) {
            CP(out->id, qt(&q, 0));
            CP(out->to, qt(&q, 1));
            CP(out->from, qt(&q, 2));
            CP(out->transport, qt(&q, 3));
            CP(out->line, qt(&q, 4));
            out->started = qi(&q, 5);
            out->pages = (int)qi(&q, 6);
        }
        e = q_found(rc);
        q_end(&q);
    }
    CP(out->lease_owner, owner);
    out->lease_until = now + lease_s;
    if (!e)
        e = q_run(s, NULL, "UPDATE rx_calls SET lease_owner = ?, lease_until = ? WHERE id = ?",
                  "tit", owner, out->lease_until, out->id);
    return tx_end(s, e);
}

enum fx_err fx_store_rx_pages(struct fx_store *s, const char *id, fx_store_rx_page_cb cb,
                              void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT page, blob FROM rx_pages WHERE call_id = ? ORDER BY page",
                            "t", id);
    if (e) return e;
    int rc = FX_DB_DONE;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) e = cb((int)qi(&q, 0), qt(&q, 1), arg);
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_rx_end(struct fx_store *s, const char *id)
{
    struct rx_keys k = {0};
    enum fx_err e = tx_begin(s);
    if (e) return e;
    return rx_keys_done(s, &k, tx_end(s, rx_drop(s, id, &k)));
}

enum fx_err fx_store_rx_release_leases(struct fx_store *s)
{
    return q_run(s, NULL,
                 "UPDATE rx_calls SET lease_until = 0 WHERE lease_owner <> '' AND "
                 "lease_owner LIKE ?",
                 "t", s->own_leases);
}

enum fx_err fx_store_attempt_list(struct fx_store *s, const char *fax_id, fx_store_attempt_cb cb,
                                  void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT id, fax_id, direction, number, line, started, ended, status, "
                            "call_end, sip_code, t30_code, t30_text, pages, bit_rate, ecm, "
                            "transport, remote_ident FROM attempts WHERE fax_id = ? "
                            "ORDER BY started, id",
                            "t", fax_id);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_attempt a;
        memset(&a, 0, sizeof a);
        CP(a.id, qt(&q, 0));
        CP(a.fax_id, qt(&q, 1));
        CP(a.direction, qt(&q, 2));
        CP(a.number, qt(&q, 3));
        CP(a.line, qt(&q, 4));
        a.started = qi(&q, 5);
        a.ended = qi(&q, 6);
        CP(a.status, qt(&q, 7));
        CP(a.call_end, qt(&q, 8));
        a.sip_code = (int)qi(&q, 9);
        a.t30_code = (int)qi(&q, 10);
        CP(a.t30_text, qt(&q, 11));
        a.pages = (int)qi(&q, 12);
        a.bit_rate = (int)qi(&q, 13);
        a.ecm = qi(&q, 14) != 0;
        CP(a.transport, qt(&q, 15));
        CP(a.remote_ident, qt(&q, 16));
        e = cb(&a, arg);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

/* ---- spam ---- */

enum fx_err fx_store_fax_set_spam(struct fx_store *s, const char *id, bool spam, int64_t now)
{
    int64_t n = 0;
    enum fx_err e = q_run(s, &n,
                          "UPDATE faxes SET is_spam = ?, category = ?, last_update = ? "
                          "WHERE id = ? AND direction = 'incoming'",
                          "ntit", (int)spam, spam ? "spam" : "inbox", now, id);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

enum fx_err fx_store_block_add(struct fx_store *s, const char *uid, const char *number)
{
    return q_run(s, NULL,
                 "INSERT INTO blocklist (uid, number, created) VALUES (?, ?, ?) "
                 "ON CONFLICT (uid, number) DO NOTHING",
                 "tti", uid, number, fx_clock_now());
}

enum fx_err fx_store_block_remove(struct fx_store *s, const char *uid, const char *number)
{
    int64_t n = 0;
    enum fx_err e = q_run(s, &n, "DELETE FROM blocklist WHERE uid = ? AND number = ?", "tt", uid,
                          number);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

enum fx_err fx_store_block_set(struct fx_store *s, const char *uid, const char *const *numbers,
                               int n)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = q_run(s, NULL, "DELETE FROM blocklist WHERE uid = ?", "t", uid);
    for (int i = 0; !e && i < n; i++) e = fx_store_block_add(s, uid, numbers[i]);
    return tx_end(s, e);
}

bool fx_store_block_has(struct fx_store *s, const char *uid, const char *number)
{
    return number[0] && q_int(s, NULL, "SELECT 1 FROM blocklist WHERE uid = ? AND number = ?",
                              "tt", uid, number) == FX_OK;
}

enum fx_err fx_store_block_list(struct fx_store *s, const char *uid, fx_store_text_cb cb,
                                void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q, "SELECT number FROM blocklist WHERE uid = ? ORDER BY number",
                            "t", uid);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) e = cb(qt(&q, 0), arg);
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_pages_sent(struct fx_store *s, const char *uid, int64_t since,
                                int64_t *pages)
{
    return q_int(s, pages,
                 "SELECT COALESCE(SUM(pages), 0) FROM faxes WHERE owner_id = ? AND "
                 "direction = 'outgoing' AND last_update >= ?",
                 "ti", uid, since);
}

enum fx_err fx_store_fax_finish(struct fx_store *s, const struct fx_fax *f)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    return tx_end(s, fx_store_fax_create_notify(s, f));
}

/* ---- trunk channels across nodes ----
 * Taking a channel is a write transaction: it queues behind every other writer of every
 * node (the write lock), so two nodes never both see the last channel free. */

enum fx_err fx_store_channel_take(struct fx_store *s, const char *trunk, int64_t limit,
                                  int64_t now, int64_t until, char claim[FX_ID_LEN + 1])
{
    char id[FX_ID_LEN + 1];
    fx_store_lease_owner(s, id);
    enum fx_err e = tx_begin(s);
    if (e) return e;
    int64_t used = 0;
    e = q_run(s, NULL, "DELETE FROM channels WHERE trunk = ? AND until <= ?", "ti", trunk, now);
    if (!e && limit > 0) e = fx_store_channel_count(s, trunk, now, &used);
    if (!e && limit > 0 && used >= limit) e = FX_ERR_UNAVAILABLE;
    if (!e)
        e = q_run(s, NULL, "INSERT INTO channels (claim, trunk, until) VALUES (?, ?, ?)", "tti",
                  id, trunk, until);
    if ((e = tx_end(s, e))) return e;
    memcpy(claim, id, sizeof id);
    return FX_OK;
}

enum fx_err fx_store_channel_renew(struct fx_store *s, const char *claim, int64_t until)
{
    int64_t n = 0;
    enum fx_err e = q_run(s, &n, "UPDATE channels SET until = ? WHERE claim = ?", "it", until,
                          claim);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

enum fx_err fx_store_channel_give(struct fx_store *s, const char *claim)
{
    return q_run(s, NULL, "DELETE FROM channels WHERE claim = ?", "t", claim);
}

enum fx_err fx_store_channel_count(struct fx_store *s, const char *trunk, int64_t now,
                                   int64_t *out)
{
    return q_int(s, out, "SELECT COUNT(*) FROM channels WHERE trunk = ? AND until > ?", "ti",
                 trunk, now);
}

enum fx_err fx_store_channel_release_leases(struct fx_store *s)
{
    return q_run(s, NULL, "DELETE FROM channels WHERE claim LIKE ?", "t", s->own_leases);
}

enum fx_err fx_store_dest_unclaim(struct fx_store *s, const struct fx_send_job *job,
                                  const char *owner, int64_t next_at)
{
    int64_t n = 0;
    enum fx_err e = q_run(s, &n,
                          "UPDATE outbox_dests SET lease_owner = '', lease_until = 0, "
                          "next_at = ?, attempts = attempts - 1, first_start = CASE WHEN "
                          "attempts = 1 THEN 0 ELSE first_start END WHERE fax_id = ? AND "
                          "lease_owner = ? AND state = 'pending'",
                          "itt", next_at, job->dest.fax_id, owner);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}
