/* store: webhook subscriptions and their deliveries, written in the transaction of the
 * fax record they announce. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_priv.h"

/* ---- hooks ---- */

static void hook_read(struct q *q, struct fx_hook *h)
{
    memset(h, 0, sizeof *h);
    CP(h->id, qt(q, 0));
    CP(h->uid, qt(q, 1));
    CP(h->target, qt(q, 2));
    CP(h->event, qt(q, 3));
    h->created = qi(q, 4);
}

enum fx_err fx_store_hook_create(struct fx_store *s, struct fx_hook *h)
{
    fx_id_new(h->id);
    if (!h->created) h->created = fx_clock_now();
    return q_run(s, NULL,
                 "INSERT INTO hooks (id, uid, target, event, created) VALUES (?, ?, ?, ?, ?)",
                 "tttti", h->id, h->uid, h->target, h->event, h->created);
}

enum fx_err fx_store_hook_get(struct fx_store *s, const char *id, struct fx_hook *out)
{
    struct q q;
    enum fx_err e = q_start(
        s, &q, "SELECT id, uid, target, event, created FROM hooks WHERE id = ?", "t", id);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) hook_read(&q, out);
    q_end(&q);
    return q_found(rc);
}

enum fx_err fx_store_hook_list(struct fx_store *s, const char *uid, const char *event,
                               fx_store_hook_cb cb, void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT id, uid, target, event, created FROM hooks "
                            "WHERE uid = ? AND event = ? ORDER BY created, id",
                            "tt", uid, event);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_hook h;
        hook_read(&q, &h);
        e = cb(&h, arg);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_hook_delete(struct fx_store *s, const char *id)
{
    int64_t n = 0;
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = q_run(s, &n, "DELETE FROM hooks WHERE id = ?", "t", id);
    if (!e && !n) e = FX_ERR_NOT_FOUND;
    /* Its pending deliveries end here (webhook deliveries). */
    if (!e)
        e = q_run(s, NULL,
                  "UPDATE deliveries SET state = 'failed', last_error = 'hook deleted' "
                  "WHERE hook_id = ? AND state = 'pending'",
                  "t", id);
    return tx_end(s, e);
}

/* ---- webhook deliveries ----
 * Written by fx_store_fax_create_notify inside the transaction of the fax record they
 * announce; claimed and updated by notify/. */

void fx_store_webhook_secret_new(char out[FX_WEBHOOK_SECRET_SIZE])
{
    unsigned char raw[32];
    fx_random_bytes(raw, sizeof raw);
    strcpy(out, "whsec_");
    for (size_t i = 0; i < sizeof raw; i++) snprintf(out + 6 + 2 * i, 3, "%02x", raw[i]);
}

enum fx_err fx_store_account_webhook_secret(struct fx_store *s, const char *uid,
                                            char out[FX_WEBHOOK_SECRET_SIZE])
{
    for (int round = 0; round < 2; round++) {
        struct q q;
        enum fx_err e = q_start(s, &q, "SELECT webhook_secret FROM accounts WHERE uid = ?",
                                "t", uid);
        if (e) return e;
        int rc = q_step(&q);
        if (rc == FX_DB_ROW) fx_strlcpy(out, qt(&q, 0), FX_WEBHOOK_SECRET_SIZE);
        q_end(&q);
        if (rc == FX_DB_DONE) return FX_ERR_NOT_FOUND;
        if (rc < 0) return (enum fx_err)-rc;
        if (out[0]) return FX_OK;
        /* Lazily for older accounts; the WHERE keeps a concurrent writer's secret. */
        char fresh[FX_WEBHOOK_SECRET_SIZE];
        fx_store_webhook_secret_new(fresh);
        if ((e = q_run(s, NULL,
                       "UPDATE accounts SET webhook_secret = ? WHERE uid = ? AND "
                       "webhook_secret = ''",
                       "tt", fresh, uid)))
            return e;
    }
    return FX_ERR_INTERNAL;
}

struct delivery_add {
    struct fx_store *s;
    const struct fx_fax *f;
    int64_t now;
};

static enum fx_err delivery_add(const struct fx_hook *h, void *arg)
{
    struct delivery_add *d = arg;
    char id[FX_UID_SIZE];
    fx_id_new(id);
    return q_run(d->s, NULL,
                 "INSERT INTO deliveries (id, hook_id, uid, fax_id, event, target, next_at, "
                 "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 "ttttttii", id, h->id, h->uid, d->f->id, h->event, h->target, d->now, d->now);
}

enum fx_err fx_store_fax_create_notify(struct fx_store *s, const struct fx_fax *f)
{
    enum fx_err e = fx_store_fax_create(s, f);
    /* The record's cost is debited in the same transaction, with its ledger row. */
    if (!e && f->cost > 0)
        e = fx_store_ledger_move(s, f->owner_id, -f->cost,
                                 strcmp(f->direction, "outgoing") ? "fax received" : "fax sent",
                                 f->id, NULL);
    if (e) return e;
    const char *event = !strcmp(f->direction, "outgoing") ? "fax_sent"
                        : f->is_spam                     ? NULL /* spam raises nothing */
                                                         : "fax_received";
    if (!event) return FX_OK;
    struct delivery_add d = {s, f, fx_clock_now()};
    /* Inserting while the hook SELECT is open is fine: same connection and transaction,
     * other statements. */
    return fx_store_hook_list(s, f->owner_id, event, delivery_add, &d);
}

#define DELIVERY_COLS                                                                      \
    "id, hook_id, uid, fax_id, event, target, attempts, next_at, state, last_status, "      \
    "last_error, created, delivered"

static void delivery_read(struct q *q, struct fx_delivery *d)
{
    memset(d, 0, sizeof *d);
    CP(d->id, qt(q, 0));
    CP(d->hook_id, qt(q, 1));
    CP(d->uid, qt(q, 2));
    CP(d->fax_id, qt(q, 3));
    CP(d->event, qt(q, 4));
    CP(d->target, qt(q, 5));
    d->attempts = (int)qi(q, 6);
    d->next_at = qi(q, 7);
    CP(d->state, qt(q, 8));
    d->last_status = (int)qi(q, 9);
    CP(d->last_error, qt(q, 10));
    d->created = qi(q, 11);
    d->delivered = qi(q, 12);
}

enum fx_err fx_store_delivery_claim_many(struct fx_store *s, const char *owner, int64_t now,
                                         int64_t lease_s, int max, struct fx_delivery *out,
                                         int *n)
{
    if (max < 1) return FX_ERR_INVALID;
    enum fx_err e = fx_store_tx_begin_claim(s);
    if (e) return e;
    int got = 0;
    struct q q;
    if (!(e = q_start(s, &q,
                      "SELECT " DELIVERY_COLS " FROM deliveries WHERE state = 'pending' AND "
                      "next_at <= ? AND lease_until < ? ORDER BY next_at, created, id LIMIT ? "
                      "FOR UPDATE SKIP LOCKED",
                      "iin", now, now, max))) {
        int rc = FX_DB_DONE;
        while (got < max && (rc = q_step(&q)) == FX_DB_ROW) delivery_read(&q, &out[got++]);
        if (got < max && rc < 0) e = (enum fx_err)-rc;
        q_end(&q);
    }
    for (int i = 0; !e && i < got; i++)
        e = q_run(s, NULL,
                  "UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE id = ?", "tit",
                  owner, now + lease_s, out[i].id);
    if (!e && got == 0) e = FX_ERR_NOT_FOUND;
    if ((e = tx_end(s, e))) return e;
    *n = got;
    return FX_OK;
}

enum fx_err fx_store_delivery_claim(struct fx_store *s, const char *owner, int64_t now,
                                    int64_t lease_s, struct fx_delivery *out)
{
    int n;
    return fx_store_delivery_claim_many(s, owner, now, lease_s, 1, out, &n);
}

static enum fx_err delivery_update(struct fx_store *s, const char *owner,
                                   const struct fx_delivery_result *r)
{
    int64_t n = 0;
    enum fx_err e = q_run(s, &n,
                          "UPDATE deliveries SET attempts = attempts + 1, state = ?, "
                          "last_status = ?, last_error = ?, next_at = ?, "
                          "delivered = CASE WHEN ? = 'done' THEN ? ELSE delivered END, "
                          "lease_owner = '', lease_until = 0 "
                          "WHERE id = ? AND lease_owner = ? AND state = 'pending'",
                          "tntititt", r->state, r->http_status, r->error ? r->error : "",
                          r->next_at, r->state, r->now, r->id, owner);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

enum fx_err fx_store_delivery_attempted(struct fx_store *s, const char *id, const char *owner,
                                        const char *state, int http_status, const char *error,
                                        int64_t now, int64_t next_at)
{
    struct fx_delivery_result r = {.id = id, .state = state, .http_status = http_status,
                                   .error = error, .now = now, .next_at = next_at};
    return delivery_update(s, owner, &r);
}

enum fx_err fx_store_delivery_attempted_many(struct fx_store *s, const char *owner,
                                             const struct fx_delivery_result *v, int n)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    for (int i = 0; !e && i < n; i++) {
        e = delivery_update(s, owner, &v[i]);
        if (e == FX_ERR_NOT_FOUND) e = FX_OK; /* that lease was lost: the others still count */
    }
    return tx_end(s, e);
}

enum fx_err fx_store_delivery_release_leases(struct fx_store *s)
{
    return q_run(s, NULL,
                 "UPDATE deliveries SET lease_until = 0, lease_owner = '' WHERE "
                 "lease_owner <> '' AND lease_owner LIKE ?",
                 "t", s->own_leases);
}

enum fx_err fx_store_delivery_list(struct fx_store *s, const char *hook_id, int limit,
                                   fx_store_delivery_cb cb, void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT " DELIVERY_COLS " FROM deliveries WHERE hook_id = ? "
                            "ORDER BY created DESC, id DESC LIMIT ?",
                            "tn", hook_id, limit);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_delivery d;
        delivery_read(&q, &d);
        e = cb(&d, arg);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}
