/* api: the health checks a load balancer or an orchestrator polls — liveness (the
 * process answers HTTP) and readiness (the store answers and this node is not
 * draining). They are the only routes besides signing in that need no token: a probe
 * has none, so they reveal nothing but "ok" or why the node is not ready. */
#include <stdio.h>

#include "api/api_priv.h"
#include "queue/queue.h"
#include "store/store.h"

enum fx_err fx_h_healthz(struct fx_req *r)
{
    return fx_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

enum fx_err fx_h_readyz(struct fx_req *r)
{
    struct fx_queue_load load;
    fx_queue_load(r->api->queue, &load);
    if (load.draining)
        return fx_req_fail(r, FX_ERR_UNAVAILABLE,
                           "This node is draining: conversions=%d outbound_calls=%d "
                           "inbound_calls=%d still in progress",
                           load.converting, load.dialling, load.receiving);
    /* On PostgreSQL a dead server fails the query within the driver's connection
     * timeouts; the reply never says more than "the store does not answer". */
    if (fx_store_ping(r->api->store) != FX_OK)
        return fx_req_fail(r, FX_ERR_UNAVAILABLE, "The store does not answer");
    return fx_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}
