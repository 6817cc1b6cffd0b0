/* queue (private): the queue's state, shared by its converter workers (queue.c) and
 * dialer workers (dial.c). */
#ifndef FX_QUEUE_PRIV_H
#define FX_QUEUE_PRIV_H

#include <pthread.h>
#include <stdbool.h>

#include "line/line.h"
#include "queue/queue.h"

struct preview;
struct fx_queue_rx;

/* The claim a worker holds in the store while it works: the lease keeper (lease.c)
 * renews it; the worker asks fx_queue_lease_valid before trusting it. Under q->lease_mu. */
struct lease {
    bool held;
    enum fx_store_lease kind;
    char id[FX_UID_SIZE]; /* the outbox record (convert) or the destination's fax id (dial) */
    int64_t until;        /* the lease's end as last written to the store */
    bool lost;            /* the store said the worker no longer holds it */
    unsigned gen;         /* counts the worker's claims: a late renewal answer is not
                           * applied to a newer claim */
    int64_t warned;       /* when a failed renewal was last logged (0: not yet) */
};

/* One worker thread: a converter (conv != NULL) or a dialer. */
struct worker_ctx {
    struct fx_queue *q;
    pthread_t thread;
    struct fx_convert *conv;
    char owner[FX_UID_SIZE]; /* this worker's lease owner id */
    bool started;
    bool busy;
    struct lease lease;
};

struct fx_queue {
    const struct fx_conf *conf;
    struct fx_store *store;
    struct fx_lines *lines;
    struct fx_rates rates;      /* billing.rates */
    bool enforce_credit;        /* billing.enforce */
    struct fx_convert_cfg ccfg;
    char libexec[4096], work_dir[4200], line_dir[4200];
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;
    bool draining;              /* fx_queue_drain: claim nothing new */
    int converting, dialling;   /* records being converted, calls being placed */
    unsigned kicks;
    struct preview *previews, **previews_tail;
    struct worker_ctx *workers; /* converters first, then dialers */
    int n_converters, n_workers;
    struct fx_queue_rx *rx;     /* rx.c: inbound calls' pages in the store */
    /* The lease keeper (lease.c): its thread, and the lock over every worker's lease. */
    pthread_mutex_t lease_mu;
    pthread_cond_t lease_cond;
    pthread_t keeper;
    bool keeper_started, keeper_stop;
};

/* Sleeps until kicked or a second passed; true when the queue is stopping. */
bool fx_queue_wait(struct fx_queue *q, struct worker_ctx *w, bool previews_wake);
/* Adds delta to one of q's in-progress counters (under q->mu). */
void fx_queue_count(struct fx_queue *q, int *counter, int delta);
void *fx_queue_dialer_main(void *arg);

/* Leases (lease.c). Each claim lasts store.lease seconds and is renewed every third of
 * it by one keeper thread per node while the worker holds it. */
int64_t fx_queue_lease_len(const struct fx_queue *q);
/* w claimed `id` with a lease ending at `until`: keep it renewed. */
void fx_queue_lease_hold(struct worker_ctx *w, enum fx_store_lease kind, const char *id,
                         int64_t until);
/* w is done with its claim (recorded or abandoned): stop renewing it. */
void fx_queue_lease_drop(struct worker_ctx *w);
/* Whether w may still act on its claim: the store never said it was lost and it runs
 * for a while yet (a margin before its end, so a dialler that cannot renew hangs up
 * before another node may claim the fax). */
bool fx_queue_lease_valid(struct worker_ctx *w);
/* Starts / stops (after the workers ended) the keeper thread. */
enum fx_err fx_queue_keeper_start(struct fx_queue *q);
void fx_queue_keeper_stop(struct fx_queue *q);
/* The lines' callbacks: inbound delivery and "is this one of our numbers". */
void fx_queue_inbound(const struct fx_inbound *in, void *arg);
bool fx_queue_is_local(const char *number, void *arg);
/* line.h's channel callbacks over fx_store_channel_*. */
bool fx_queue_channel_take(const char *trunk, int limit, int lease_s,
                           char claim[FX_ID_LEN + 1], void *arg);
void fx_queue_channel_keep(const char *claim, int lease_s, void *arg);

/* rx.c: the pages of inbound calls in progress, written to the store as they complete
 * by one thread (never the call's), under a lease it renews while the call is up; and
 * the takeover of calls whose node died (their lease expired): their stored pages
 * become partially received faxes. fx_queue_rx_new (before the lines start: it takes
 * their fx_queue_rx_event calls) makes q->rx; fx_queue_rx_run (once fx_lines_recover
 * delivered what a crash left on this node's disk) releases this node's rows and starts
 * the thread; fx_queue_rx_free (once the lines are freed) stops it. */
enum fx_err fx_queue_rx_new(struct fx_queue *q);
enum fx_err fx_queue_rx_run(struct fx_queue *q);
void fx_queue_rx_free(struct fx_queue *q);
/* The lines' fx_line_rx_cb (arg: the queue). */
void fx_queue_rx_event(const struct fx_inbound *in, enum fx_line_rx what, int pages, void *arg);
/* Call id's fax is about to be stored whole: no more of its pages are written (one being
 * written finishes first). */
void fx_queue_rx_settle(struct fx_queue *q, const char *id);
/* Call id's fax could not be stored: its row and pages stay, unrenewed, for a takeover. */
void fx_queue_rx_keep(struct fx_queue *q, const char *id);

#endif
