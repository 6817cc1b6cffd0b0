/* notify: webhook delivery. The store writes one delivery row per (final fax record,
 * matching hook) in the record's own transaction; the notifier threads here claim due
 * rows with a lease, build the API.md §7 payload from the fax record, sign it
 * (X-Faxd-Timestamp, X-Faxd-Signature = hex HMAC-SHA256 of "<timestamp>.<body>" under
 * the account's webhook secret) and POST it with libcurl (the only code that includes
 * it). Any 2xx answer delivers; anything else is retried with exponential backoff
 * (webhook.retry_base seconds, doubling, at most an hour) until 24 h after the event,
 * then the delivery fails. The address actually connected to is checked (no DNS
 * rebinding gap): loopback, private, link-local, CGNAT, multicast and unspecified
 * addresses are refused unless webhook.allow_private is on.
 *
 * Threads: one notifier thread with its own store connection drives up to 64 requests
 * at once through a curl multi handle, claiming due rows in batches and recording
 * finished ones in one transaction per turn; it looks for due rows every second when
 * idle. A crash mid-delivery leaves a lease that the next start releases, so the
 * delivery is sent again (at least once, with the same X-Faxd-Delivery id). */
#ifndef FX_NOTIFY_H
#define FX_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "store/store.h"

struct fx_notify;

/* Starts the notifier threads. conf and store are borrowed and must outlive the
 * notifier. *out is new: stop with fx_notify_stop. */
enum fx_err fx_notify_start(const struct fx_conf *conf, struct fx_store *store,
                            struct fx_notify **out);
/* Stops the threads (a request in flight is abandoned and sent again at the next start)
 * and frees n. Accepts NULL. */
void fx_notify_stop(struct fx_notify *n);

/* True when a webhook may connect to sa: always when allow_private, else only public
 * unicast addresses (IPv4-mapped and NAT64 IPv6 addresses are judged by their IPv4). */
bool fx_notify_addr_allowed(const struct sockaddr *sa, bool allow_private);
/* Seconds to wait after the attempts-th failed attempt (1-based): base doubling, at most
 * an hour. */
int64_t fx_notify_backoff(int64_t base, int attempts);

#endif
