/* queue: the lease keeper — one thread per node that keeps the store leases of its
 * workers' claims (a conversion, an outbound call) alive while they work.
 *
 * A claim lasts store.lease seconds from its last renewal. The keeper renews it when
 * two thirds of it are left, so a live node renews every third of the lease, and a node
 * that dies (kill -9, power) stops renewing: its work becomes claimable by the other
 * nodes once the lease has run out, instead of waiting for that node to come back.
 *
 * Renewal runs on its own thread (and store connection) rather than on the workers: a
 * dialler's thread may be driving a real-time fax, and a slow database must not stall
 * it. The worker only reads its lease's state (fx_queue_lease_valid, a mutex and a
 * clock read): a lease the store says was lost, or one that could not be renewed and is
 * about to run out, means another node may take the fax, so a dialler hangs up rather
 * than send it twice. Each renewal is fenced by the owner id, so a lease that another
 * worker claimed meanwhile is never taken back. */
#include <string.h>
#include <time.h>

#include "queue/queue_priv.h"

int64_t fx_queue_lease_len(const struct fx_queue *q)
{
    return q->conf->store_lease;
}

/* Seconds before a lease's end at which its holder stops trusting it. Renewal is tried
 * every second from a third of the lease on, so by then it has failed for half of the
 * lease; the margin covers a small clock difference between nodes and the time a
 * hang-up takes. */
static int64_t margin(const struct fx_queue *q)
{
    int64_t m = fx_queue_lease_len(q) / 6;
    return m < 1 ? 1 : m;
}

void fx_queue_lease_hold(struct worker_ctx *w, enum fx_store_lease kind, const char *id,
                         int64_t until)
{
    struct fx_queue *q = w->q;
    pthread_mutex_lock(&q->lease_mu);
    unsigned gen = w->lease.gen + 1;
    w->lease = (struct lease){.held = true, .kind = kind, .until = until, .gen = gen};
    fx_strlcpy(w->lease.id, id, sizeof w->lease.id);
    pthread_mutex_unlock(&q->lease_mu);
}

void fx_queue_lease_drop(struct worker_ctx *w)
{
    pthread_mutex_lock(&w->q->lease_mu);
    w->lease.held = false;
    pthread_mutex_unlock(&w->q->lease_mu);
}

bool fx_queue_lease_valid(struct worker_ctx *w)
{
    struct fx_queue *q = w->q;
    int64_t now = fx_clock_now();
    pthread_mutex_lock(&q->lease_mu);
    bool ok = w->lease.held && !w->lease.lost && now < w->lease.until - margin(q);
    pthread_mutex_unlock(&q->lease_mu);
    return ok;
}

#define RENEW_WARN_EVERY 10 /* seconds between repeated "not renewed" warnings */

/* Renews w's lease when a third of it has passed since its last renewal. The store is
 * called outside the lock; the answer applies only to the claim it was made for (gen):
 * the worker may have ended it and claimed again meanwhile. */
static void renew_one(struct fx_queue *q, struct worker_ctx *w, int64_t now)
{
    int64_t len = fx_queue_lease_len(q);
    pthread_mutex_lock(&q->lease_mu);
    struct lease l = w->lease;
    pthread_mutex_unlock(&q->lease_mu);
    if (!l.held || l.lost || l.until - now > len * 2 / 3) return;
    int64_t until = now + len;
    enum fx_err e = fx_store_lease_renew(q->store, l.kind, l.id, w->owner, until);
    pthread_mutex_lock(&q->lease_mu);
    bool same = w->lease.held && w->lease.gen == l.gen;
    if (same && !e && until > w->lease.until) w->lease.until = until;
    if (same && e == FX_ERR_NOT_FOUND) w->lease.lost = true;
    /* While the store is unreachable renewal is retried every second; the failure is
     * logged when it starts and then every RENEW_WARN_EVERY seconds, not each time. */
    bool warn = same && e && e != FX_ERR_NOT_FOUND &&
                (!w->lease.warned || now - w->lease.warned >= RENEW_WARN_EVERY);
    if (warn) w->lease.warned = now;
    pthread_mutex_unlock(&q->lease_mu);
    const char *what = l.kind == FX_STORE_LEASE_DIAL ? "fax" : "outbox";
    if (same && e == FX_ERR_NOT_FOUND)
        fx_warn("queue lease lost %s=%s: another worker holds it now", what, l.id);
    else if (warn)
        fx_warn("queue lease not renewed %s=%s until=%lld error=%s", what, l.id,
                (long long)l.until, fx_err_code(e));
}

static void *keeper_main(void *arg)
{
    struct fx_queue *q = arg;
    pthread_mutex_lock(&q->lease_mu);
    while (!q->keeper_stop) {
        pthread_mutex_unlock(&q->lease_mu);
        int64_t now = fx_clock_now();
        for (int i = 0; i < q->n_workers; i++) renew_one(q, &q->workers[i], now);
        pthread_mutex_lock(&q->lease_mu);
        if (q->keeper_stop) break;
        struct timespec ts;
        fx_deadline_ms(&ts, 1000); /* leases are whole seconds */
        pthread_cond_timedwait(&q->lease_cond, &q->lease_mu, &ts);
    }
    pthread_mutex_unlock(&q->lease_mu);
    return NULL;
}

enum fx_err fx_queue_keeper_start(struct fx_queue *q)
{
    if (pthread_create(&q->keeper, NULL, keeper_main, q) != 0) return FX_ERR_INTERNAL;
    q->keeper_started = true;
    return FX_OK;
}

void fx_queue_keeper_stop(struct fx_queue *q)
{
    if (!q->keeper_started) return;
    pthread_mutex_lock(&q->lease_mu);
    q->keeper_stop = true;
    pthread_cond_broadcast(&q->lease_cond);
    pthread_mutex_unlock(&q->lease_mu);
    pthread_join(q->keeper, NULL);
    q->keeper_started = false;
}
