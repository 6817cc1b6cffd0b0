/* api: the Fax.Plus v3 compatible HTTP API (libmicrohttpd + jansson live only here).
 * Threads: libmicrohttpd's pool of http.threads workers; each request runs on one of
 * them from its first byte to its reply, and reads/writes only the store. */
#ifndef FX_API_H
#define FX_API_H

#include <stdio.h>

#include "conf/conf.h"
#include "queue/queue.h"
#include "store/store.h"

struct fx_api;

/* Starts listening on conf's http.address:http.port. conf, store and queue are
 * borrowed and must outlive the server (queue may be NULL: faxes then wait in the
 * outbox). *out is new: stop with fx_api_stop. */
enum fx_err fx_api_start(const struct fx_conf *conf, struct fx_store *store,
                         struct fx_queue *queue, struct fx_api **out);
/* Stops accepting, finishes nothing new, frees the server. Accepts NULL. */
void fx_api_stop(struct fx_api *api);
/* Prints "METHOD /v3/path/{param}" for every route, one per line. */
void fx_api_print_routes(FILE *f);

#endif
