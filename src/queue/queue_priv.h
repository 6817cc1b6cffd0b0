/* queue (private): the queue's state, shared by its converter workers (queue.c) and
 * dialer workers (dial.c). */
#ifndef FX_QUEUE_PRIV_H
#define FX_QUEUE_PRIV_H

#include <pthread.h>
#include <stdbool.h>

#include "line/line.h"
#include "queue/queue.h"

struct preview;

/* One worker thread: a converter (conv != NULL) or a dialer. */
struct worker_ctx {
    struct fx_queue *q;
    pthread_t thread;
    struct fx_convert *conv;
    char owner[FX_UID_SIZE]; /* this worker's lease owner id */
    bool started;
    bool busy;
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
};

/* Sleeps until kicked or a second passed; true when the queue is stopping. */
bool fx_queue_wait(struct fx_queue *q, struct worker_ctx *w, bool previews_wake);
/* Adds delta to one of q's in-progress counters (under q->mu). */
void fx_queue_count(struct fx_queue *q, int *counter, int delta);
void *fx_queue_dialer_main(void *arg);
/* The lines' callbacks: inbound delivery and "is this one of our numbers". */
void fx_queue_inbound(const struct fx_inbound *in, void *arg);
bool fx_queue_is_local(const char *number, void *arg);
/* line.h's channel callbacks over fx_store_channel_*. */
bool fx_queue_channel_take(const char *trunk, int limit, int lease_s,
                           char claim[FX_ID_LEN + 1], void *arg);
void fx_queue_channel_keep(const char *claim, int lease_s, void *arg);

#endif
