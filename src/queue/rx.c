/* queue: inbound calls' pages in the store while the calls run, and the takeover of the
 * calls of nodes that died (issue 8: a node crash during an inbound fax loses at most
 * the page in progress, whichever node survives).
 *
 * Design: the lines tell fx_queue_rx_event about each inbound call (BEGIN, PAGE with the
 * pages complete in its file, END). That runs on the call's own thread — for a loopback
 * call, between two ticks of its fax sessions — so it only updates the call's entry in
 * a list and wakes this module's thread. The thread does every store write: the call's
 * row (fx_store_rx_begin, with a lease), then each page as a one-page TIFF blob copied
 * out of the growing file (fx_convert_tiff_gather reads complete pages only) and its row
 * (fx_store_rx_page, renewing the lease). A write that waits for the database (a 60 s
 * lock wait at worst) therefore never delays a fax session. Every third of
 * store.lease the thread renews the leases of this node's calls and claims rows whose
 * lease expired (fx_store_rx_claim: one node per row); a claimed row's pages are joined
 * into one TIFF and stored through fx_queue_inbound as a partially received fax under
 * the row's id, so a fax is stored once however many nodes race for it.
 *
 * When a call ends, fx_queue_inbound settles its entry first (no more writes; one in
 * progress finishes), and the record's transaction removes the row; END then removes
 * what is left (a call with nothing to keep) unless the record could not be written:
 * then the row stays, unrenewed, for a takeover.
 *
 * Lock order: rx->mu only, never held across a store call. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue_priv.h"

/* Calls taken over per tick at most, so this node's own renewals are never held up long. */
#define TAKEOVERS_PER_TICK 8

struct rx_call {
    struct fx_rx_call row; /* id, numbers, line, start, lease owner */
    char path[4200];       /* the file the call's pages go to */
    int want;              /* pages complete in the file (PAGE) */
    int stored;            /* pages in the store (the thread's) */
    bool begun;            /* its row is in the store (the thread's) */
    bool ended;            /* settled: nothing more is written */
    bool keep;             /* its fax was not stored: leave the row to a takeover */
    bool lost;             /* another node took the row over */
    bool busy;             /* the thread is writing for it */
    int64_t retry_ms;      /* after a failed write: not before this (monotonic) */
    struct rx_call *next;
};

struct fx_queue_rx {
    struct fx_queue *q;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* work arrived, stop, or a write finished */
    pthread_t thread;
    bool started, stop;
    struct rx_call *calls;
    char owner[FX_UID_SIZE];
    char dir[4200]; /* <data_dir>/tmp/rx: pages being stored, faxes being joined */
    int64_t lease_s;
};

static struct rx_call *find(struct fx_queue_rx *rx, const char *id)
{
    for (struct rx_call *c = rx->calls; c; c = c->next)
        if (!strcmp(c->row.id, id)) return c;
    return NULL;
}

/* Under mu: stops writes for c and waits for one in progress. */
static void settle_locked(struct fx_queue_rx *rx, struct rx_call *c)
{
    c->ended = true;
    while (c->busy) pthread_cond_wait(&rx->cv, &rx->mu);
}

/* ---- the lines' side ---- */

static void on_begin(struct fx_queue_rx *rx, const struct fx_inbound *in)
{
    struct rx_call *c = calloc(1, sizeof *c);
    if (!c) {
        fx_warn("queue rx no memory: pages of fax=%s kept on this node only", in->id);
        return;
    }
    struct fx_rx_call *r = &c->row;
    fx_strlcpy(r->id, in->id, sizeof r->id);
    fx_strlcpy(r->to, in->to, sizeof r->to);
    fx_strlcpy(r->from, in->from, sizeof r->from);
    fx_strlcpy(r->transport, in->transport, sizeof r->transport);
    fx_strlcpy(r->line, in->line, sizeof r->line);
    fx_strlcpy(r->lease_owner, rx->owner, sizeof r->lease_owner);
    r->started = in->started;
    fx_strlcpy(c->path, in->tiff_path, sizeof c->path);
    pthread_mutex_lock(&rx->mu);
    c->next = rx->calls;
    rx->calls = c;
    pthread_cond_broadcast(&rx->cv);
    pthread_mutex_unlock(&rx->mu);
}

static void on_end(struct fx_queue_rx *rx, const char *id)
{
    pthread_mutex_lock(&rx->mu);
    struct rx_call *c = find(rx, id), **pp = &rx->calls;
    if (c) settle_locked(rx, c);
    while (*pp && *pp != c) pp = &(*pp)->next;
    if (c) *pp = c->next;
    pthread_mutex_unlock(&rx->mu);
    if (!c) return;
    /* Stored whole: the record's transaction took the row. Else nothing is to be kept,
     * unless the record failed: the row then waits, unrenewed, for a takeover. */
    if (c->begun && !c->keep && !c->lost) {
        enum fx_err e = fx_store_rx_end(rx->q->store, id);
        if (e) fx_warn("queue rx row not removed fax=%s error=%s", id, fx_err_code(e));
    }
    free(c);
}

void fx_queue_rx_event(const struct fx_inbound *in, enum fx_line_rx what, int pages, void *arg)
{
    struct fx_queue_rx *rx = ((struct fx_queue *)arg)->rx;
    if (!rx || !in->id || !in->id[0]) return;
    if (what == FX_LINE_RX_BEGIN) {
        on_begin(rx, in);
    } else if (what == FX_LINE_RX_END) {
        on_end(rx, in->id);
    } else {
        pthread_mutex_lock(&rx->mu);
        struct rx_call *c = find(rx, in->id);
        if (c && pages > c->want) {
            c->want = pages;
            pthread_cond_broadcast(&rx->cv);
        }
        pthread_mutex_unlock(&rx->mu);
    }
}

/* Settles call id, or marks it kept. */
static void mark(struct fx_queue *q, const char *id, bool keep)
{
    struct fx_queue_rx *rx = q->rx;
    if (!rx || !id) return;
    pthread_mutex_lock(&rx->mu);
    struct rx_call *c = find(rx, id);
    if (c && keep) c->keep = true;
    else if (c) settle_locked(rx, c);
    pthread_mutex_unlock(&rx->mu);
}

void fx_queue_rx_settle(struct fx_queue *q, const char *id)
{
    mark(q, id, false);
}

void fx_queue_rx_keep(struct fx_queue *q, const char *id)
{
    mark(q, id, true);
}

/* ---- the thread: writing a call's pages ---- */

/* Copies page `page` (1-based) out of the call's file into a blob and adds it. */
static enum fx_err store_page(struct fx_queue_rx *rx, const struct rx_call *c, int page)
{
    struct fx_store *s = rx->q->store;
    char tmp[4400], key[96], sha[65];
    snprintf(tmp, sizeof tmp, "%s/page-%s-%d.tiff", rx->dir, c->row.id, page);
    const char *src = c->path;
    enum fx_err e = fx_convert_tiff_gather(&src, 1, page - 1, tmp);
    if (!e) e = fx_blob_put_file(s, tmp, ".tiff", key, sha, NULL);
    unlink(tmp);
    if (e) return e;
    e = fx_store_rx_page(s, c->row.id, rx->owner, page, key, fx_clock_now() + rx->lease_s);
    if (e) fx_blob_remove(s, key);
    return e;
}

/* Writes what the store still lacks of c, up to `want` pages. Only this thread changes
 * begun/stored, and c stays while busy. */
static enum fx_err write_call(struct fx_queue_rx *rx, struct rx_call *c, int want)
{
    if (!c->begun) {
        c->row.lease_until = fx_clock_now() + rx->lease_s;
        enum fx_err e = fx_store_rx_begin(rx->q->store, &c->row);
        if (e) return e;
        c->begun = true;
    }
    while (c->stored < want) {
        enum fx_err e = store_page(rx, c, c->stored + 1);
        if (e) return e;
        c->stored++;
        fx_debug("queue rx page stored fax=%s page=%d", c->row.id, c->stored);
        fx_crash_point("page_stored");
    }
    return FX_OK;
}

/* Under mu: a call with something to write now, or NULL. */
static struct rx_call *next_work(struct fx_queue_rx *rx, int64_t now_ms)
{
    for (struct rx_call *c = rx->calls; c; c = c->next)
        if (!c->ended && !c->lost && !c->busy && now_ms >= c->retry_ms &&
            (!c->begun || c->stored < c->want))
            return c;
    return NULL;
}

/* Under mu, released meanwhile: one call's writes. */
static void work_on(struct fx_queue_rx *rx, struct rx_call *c)
{
    c->busy = true;
    int want = c->want;
    pthread_mutex_unlock(&rx->mu);
    enum fx_err e = write_call(rx, c, want);
    pthread_mutex_lock(&rx->mu);
    c->busy = false;
    if (e == FX_ERR_NOT_FOUND && c->begun) {
        c->lost = true;
        fx_warn("queue rx fax=%s was taken over by another node: its pages stay there",
                c->row.id);
    } else if (e) {
        /* The store is busy or the page not readable yet: try again in a second. */
        c->retry_ms = fx_clock_mono_ms() + 1000;
        fx_warn("queue rx write failed fax=%s page=%d error=%s", c->row.id, c->stored + 1,
                fx_err_code(e));
    }
    pthread_cond_broadcast(&rx->cv);
}

/* ---- the thread: leases and takeovers ---- */

static void renew(struct fx_queue_rx *rx)
{
    struct fx_store *s = rx->q->store;
    pthread_mutex_lock(&rx->mu);
    int n = 0;
    for (struct rx_call *c = rx->calls; c; c = c->next) n++;
    char(*ids)[FX_UID_SIZE] = n ? calloc((size_t)n, sizeof *ids) : NULL;
    int k = 0;
    for (struct rx_call *c = rx->calls; ids && c; c = c->next)
        if (c->begun && !c->ended && !c->lost) fx_strlcpy(ids[k++], c->row.id, sizeof *ids);
    pthread_mutex_unlock(&rx->mu);
    for (int i = 0; i < k; i++) {
        enum fx_err e = fx_store_lease_renew(s, FX_STORE_LEASE_RX, ids[i], rx->owner,
                                             fx_clock_now() + rx->lease_s);
        if (e) fx_warn("queue rx lease not renewed fax=%s error=%s", ids[i], fx_err_code(e));
        if (e != FX_ERR_NOT_FOUND) continue;
        pthread_mutex_lock(&rx->mu);
        struct rx_call *c = find(rx, ids[i]);
        if (c) c->lost = true;
        pthread_mutex_unlock(&rx->mu);
    }
    free(ids);
}

struct page_files {
    struct fx_store *s;
    char (*paths)[4400];
    int n, cap;
};

static enum fx_err page_file(int page, const char *blob, void *arg)
{
    (void)page; /* rows come in page order */
    struct page_files *pf = arg;
    if (pf->n == pf->cap) {
        int cap = pf->cap ? pf->cap * 2 : 8;
        void *p = realloc(pf->paths, (size_t)cap * sizeof *pf->paths);
        if (!p) return FX_ERR_NOMEM;
        pf->paths = p;
        pf->cap = cap;
    }
    return fx_blob_path(pf->s, blob, pf->paths[pf->n++], sizeof *pf->paths);
}

/* Stores the pages of a call whose node died: claimed row r, now this node's. */
static void take_over(struct fx_queue_rx *rx, const struct fx_rx_call *r)
{
    struct fx_queue *q = rx->q;
    struct page_files pf = {.s = q->store};
    enum fx_err e = fx_store_rx_pages(q->store, r->id, page_file, &pf);
    char joined[4400];
    snprintf(joined, sizeof joined, "%s/fax-%s.tiff", rx->dir, r->id);
    const char **v = !e && pf.n > 0 ? calloc((size_t)pf.n, sizeof *v) : NULL;
    if (!e && pf.n > 0 && !v) e = FX_ERR_NOMEM;
    for (int i = 0; v && i < pf.n; i++) v[i] = pf.paths[i];
    if (!e && pf.n > 0) e = fx_convert_tiff_gather(v, pf.n, 0, joined);
    if (!e) {
        struct fx_fax_result fr = {.t30_code = 49, .pages_confirmed = pf.n,
                                   .pages_in_file = pf.n};
        snprintf(fr.t30_text, sizeof fr.t30_text,
                 "faxd stopped during the call; the complete pages were kept");
        struct fx_inbound in = {.id = r->id, .to = r->to, .from = r->from,
                                .tiff_path = joined, .fax = &fr, .transport = r->transport,
                                .line = r->line, .started = r->started, .recovered = true};
        fx_info("queue rx taking over an interrupted inbound fax fax=%s to=%s pages=%d", r->id,
                r->to, pf.n);
        /* Stored (or nothing to store): the row goes; if not, it stays under this
         * node's lease, which expires, and is tried again. */
        fx_queue_inbound(&in, q);
    } else {
        fx_warn("queue rx takeover failed fax=%s error=%s", r->id, fx_err_code(e));
    }
    unlink(joined);
    free(pf.paths);
    free(v);
}

static bool stopping(struct fx_queue_rx *rx)
{
    pthread_mutex_lock(&rx->mu);
    bool stop = rx->stop;
    pthread_mutex_unlock(&rx->mu);
    return stop;
}

static void take_overs(struct fx_queue_rx *rx)
{
    for (int i = 0; i < TAKEOVERS_PER_TICK && !stopping(rx); i++) {
        struct fx_rx_call r;
        enum fx_err e = fx_store_rx_claim(rx->q->store, rx->owner, fx_clock_now(),
                                          rx->lease_s, &r);
        if (e == FX_ERR_NOT_FOUND) return;
        if (e) {
            fx_warn("queue rx claim failed error=%s", fx_err_code(e));
            return;
        }
        take_over(rx, &r);
    }
}

static void *rx_main(void *arg)
{
    struct fx_queue_rx *rx = arg;
    int64_t tick_ms = rx->lease_s * 1000 / 3, next_tick = 0;
    pthread_mutex_lock(&rx->mu);
    while (!rx->stop) {
        int64_t now = fx_clock_mono_ms();
        struct rx_call *c = next_work(rx, now);
        if (c) {
            work_on(rx, c);
            continue;
        }
        if (now >= next_tick) {
            next_tick = now + tick_ms;
            pthread_mutex_unlock(&rx->mu);
            renew(rx);
            take_overs(rx);
            pthread_mutex_lock(&rx->mu);
            continue;
        }
        /* Wake for new work, the tick, or a call's retry (at most a second away). */
        int64_t wait_ms = next_tick - now < 1000 ? next_tick - now : 1000;
        struct timespec ts;
        fx_deadline_ms(&ts, wait_ms);
        pthread_cond_timedwait(&rx->cv, &rx->mu, &ts);
    }
    pthread_mutex_unlock(&rx->mu);
    return NULL;
}

/* ---- lifetime ---- */

enum fx_err fx_queue_rx_new(struct fx_queue *q)
{
    struct fx_queue_rx *rx = calloc(1, sizeof *rx);
    if (!rx) return FX_ERR_NOMEM;
    rx->q = q;
    rx->lease_s = q->conf->store_lease;
    fx_store_lease_owner(q->store, rx->owner);
    snprintf(rx->dir, sizeof rx->dir, "%s/tmp/rx", q->conf->data_dir);
    enum fx_err e = fx_mkdirs(rx->dir);
    if (e) {
        free(rx);
        return e;
    }
    fx_dir_clear(rx->dir); /* pages half copied, faxes half joined by a killed process */
    pthread_mutex_init(&rx->mu, NULL);
    pthread_cond_init(&rx->cv, NULL);
    q->rx = rx;
    return FX_OK;
}

enum fx_err fx_queue_rx_run(struct fx_queue *q)
{
    struct fx_queue_rx *rx = q->rx;
    /* This node's rows belong to a process that died (on SQLite: every row): claimable
     * now, by the thread's first tick. */
    enum fx_err e = fx_store_rx_release_leases(q->store);
    if (e) return e;
    if (pthread_create(&rx->thread, NULL, rx_main, rx) != 0) return FX_ERR_INTERNAL;
    rx->started = true;
    return FX_OK;
}

void fx_queue_rx_free(struct fx_queue *q)
{
    struct fx_queue_rx *rx = q->rx;
    if (!rx) return;
    pthread_mutex_lock(&rx->mu);
    rx->stop = true;
    pthread_cond_broadcast(&rx->cv);
    pthread_mutex_unlock(&rx->mu);
    if (rx->started) pthread_join(rx->thread, NULL);
    /* The lines are gone, so every call ended; an entry left means a line never said END. */
    while (rx->calls) {
        struct rx_call *c = rx->calls;
        rx->calls = c->next;
        free(c);
    }
    pthread_cond_destroy(&rx->cv);
    pthread_mutex_destroy(&rx->mu);
    free(rx);
    q->rx = NULL;
}
