/* queue: drives every outbox record to its end. Today: the converter workers — each a
 * thread owning one fx_convert (and so one warm LibreOffice) — that claim submitted
 * records from the store with a lease, convert their documents and cover page once
 * into the fax TIFF, and move them to scheduled_for_sending, or end every destination
 * with the conversion's failure status. Dialling is added by the fax engine.
 *
 * Threads: convert.workers worker threads, woken by fx_queue_kick and by a one-second
 * poll (which also picks up records whose worker died). Previews run on the same
 * workers, ahead of fax conversions, so a person waiting on a preview is served first.
 * line.channels dialer threads place the calls; one lease keeper thread renews the
 * store leases of the conversions and calls in progress (store.lease), so that another
 * node sharing the store takes them over only when this one died. */
#ifndef FX_QUEUE_H
#define FX_QUEUE_H

#include "conf/conf.h"
#include "convert/convert.h"
#include "store/store.h"

struct fx_queue;

/* Starts the workers. conf and store are borrowed and must outlive the queue.
 * *out is new: stop with fx_queue_stop. */
enum fx_err fx_queue_start(const struct fx_conf *conf, struct fx_store *store,
                           struct fx_queue **out);
/* Stops the workers (a conversion in progress finishes first) and answers every
 * waiting preview with a failure; later previews fail at once and kicks do nothing,
 * so callers may still hold the queue until fx_queue_free. Accepts NULL. */
void fx_queue_stop(struct fx_queue *q);
/* Frees a stopped queue. Accepts NULL. */
void fx_queue_free(struct fx_queue *q);
/* New work may be waiting (a fax was submitted). Thread-safe; accepts NULL. */
void fx_queue_kick(struct fx_queue *q);

/* Draining (on = true): this node stops taking new work — its converters and dialers
 * claim nothing more (other nodes sharing the store, or this one once undrained, take
 * it) and inbound SIP calls are refused with 503 — while conversions and calls in
 * progress run to their end. Previews (a person waiting on the API) still run.
 * Thread-safe; accepts NULL. */
void fx_queue_drain(struct fx_queue *q, bool on);
/* What a readiness check reports: draining or not, and the work still in progress
 * (conversions, outbound and inbound calls). Thread-safe; NULL: nothing. */
struct fx_queue_load {
    bool draining;
    int converting, dialling, receiving;
};
void fx_queue_load(struct fx_queue *q, struct fx_queue_load *out);

/* A preview: the documents (and cover) of a would-be fax converted without sending.
 * Called on a worker thread when done; tiff_path (the result, NULL on failure) is
 * removed right after the callback returns. */
typedef void (*fx_queue_preview_cb)(const struct fx_convert_result *res, const char *tiff_path,
                                    void *arg);
/* Queues a preview. job and everything it points to are copied. */
enum fx_err fx_queue_preview(struct fx_queue *q, const struct fx_convert_job *job,
                             fx_queue_preview_cb cb, void *arg);

/* The page size and resolution words stored on records ("a4", "fine") as enums. */
enum fx_paper fx_queue_paper(const char *s);
enum fx_res fx_queue_res(const char *s);

#endif
