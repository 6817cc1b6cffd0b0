/* notify: webhook delivery threads (see notify.h for the design).
 *
 * Each notifier thread loops: claim the oldest due delivery (a lease of LEASE_SECONDS,
 * longer than a request can take), build its body from the fax record, POST it with a
 * blocking curl easy handle (10 s overall timeout, no redirects, no proxy from the
 * environment, http/https only), and record the outcome. The socket is opened by our
 * own callback, which refuses disallowed addresses before connect(), so what is checked
 * is what is connected to.
 *
 * notify also builds JSON (with jansson, otherwise api/'s library) for the outgoing
 * payloads: the store keeps only ids, and the body is made at send time. */
#include "notify/notify.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOTIFY_WORKERS 4
#define LEASE_SECONDS 60
#define REQUEST_TIMEOUT_MS 10000L
#define GIVE_UP_SECONDS (24 * 3600)
#define MAX_BACKOFF 3600
#define POLL_MS 1000

struct fx_notify {
    const struct fx_conf *conf;
    struct fx_store *store;
    bool allow_private;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping; /* under mu; also read unlocked by the progress callback */
    int n_threads;
    pthread_t threads[NOTIFY_WORKERS];
};

/* ---- address checks ---- */

static bool v4_allowed(uint32_t a) /* host order */
{
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16);
    if (b0 == 0) return false;                         /* 0/8 unspecified, "this network" */
    if (b0 == 127) return false;                       /* loopback */
    if (b0 == 10) return false;                        /* private */
    if (b0 == 172 && (b1 & 0xf0) == 16) return false;  /* 172.16/12 private */
    if (b0 == 192 && b1 == 168) return false;          /* private */
    if (b0 == 169 && b1 == 254) return false;          /* link-local, cloud metadata */
    if (b0 == 100 && (b1 & 0xc0) == 64) return false;  /* 100.64/10 CGNAT */
    if (b0 >= 224) return false;                       /* multicast, reserved, broadcast */
    return true;
}

bool fx_notify_addr_allowed(const struct sockaddr *sa, bool allow_private)
{
    if (allow_private) return true;
    if (sa->sa_family == AF_INET)
        return v4_allowed(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6) return false;
    const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t zero[12] = {0};
    uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
    /* ::a.b.c.d (deprecated compatible form, also :: and ::1), ::ffff:a.b.c.d, 64:ff9b:: */
    if (!memcmp(b, zero, 12) || !memcmp(b, mapped, 12) || !memcmp(b, nat64, 12))
        return v4_allowed(v4);
    if ((b[0] & 0xfe) == 0xfc) return false;                 /* fc00::/7 unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return false; /* fe80::/10 link-local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return false; /* fec0::/10 site-local */
    if (b[0] == 0xff) return false;                          /* multicast */
    return true;
}

int64_t fx_notify_backoff(int64_t base, int attempts)
{
    int64_t d = base > 0 ? base : 1;
    for (int i = 1; i < attempts && d < MAX_BACKOFF; i++) d *= 2;
    return d < MAX_BACKOFF ? d : MAX_BACKOFF;
}

/* ---- one request ---- */

struct send_ctx {
    struct fx_notify *n;
    bool refused; /* the opensocket callback refused the address */
};

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct send_ctx *c = arg;
    if (purpose != CURLSOCKTYPE_IPCXN ||
        !fx_notify_addr_allowed(&addr->addr, c->n->allow_private)) {
        c->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

static size_t discard(char *p, size_t size, size_t nmemb, void *arg)
{
    (void)p, (void)arg;
    return size * nmemb;
}

static int progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct send_ctx *c = arg;
    return __atomic_load_n(&c->n->stopping, __ATOMIC_RELAXED) ? 1 : 0;
}

/* POSTs body to target. *status gets the HTTP status (0 = none) and err[] a reason
 * when the attempt failed; returns true when the notifier is stopping (no outcome). */
static bool post(struct fx_notify *n, CURL *curl, const char *target, const char *body,
                 const char *secret, int *status, char err[256])
{
    char ts[24], sig[65], hdr_ts[64], hdr_sig[128];
    snprintf(ts, sizeof ts, "%lld", (long long)fx_clock_now());
    size_t blen = strlen(body), tlen = strlen(ts);
    char *signed_text = malloc(tlen + 1 + blen + 1);
    if (!signed_text) {
        snprintf(err, 256, "out of memory");
        return false;
    }
    memcpy(signed_text, ts, tlen);
    signed_text[tlen] = '.';
    memcpy(signed_text + tlen + 1, body, blen + 1);
    fx_hmac_sha256_hex(secret, signed_text, tlen + 1 + blen, sig);
    free(signed_text);
    snprintf(hdr_ts, sizeof hdr_ts, "X-Faxd-Timestamp: %s", ts);
    snprintf(hdr_sig, sizeof hdr_sig, "X-Faxd-Signature: %s", sig);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, hdr_ts);
    h = curl_slist_append(h, hdr_sig);
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */

    struct send_ctx ctx = {.n = n};
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, target);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* never an environment proxy */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, REQUEST_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "faxd-webhook/0.1");
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &ctx);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &ctx);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    *status = rc == CURLE_OK ? (int)code : 0;
    if (rc == CURLE_ABORTED_BY_CALLBACK) return true;
    if (ctx.refused) snprintf(err, 256, "address not allowed");
    else if (rc != CURLE_OK) snprintf(err, 256, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    else if (code < 200 || code > 299) snprintf(err, 256, "HTTP %ld", code);
    else err[0] = '\0';
    return false;
}

/* ---- the payload (API.md §7) ---- */

static enum fx_err newest_attempt(const struct fx_attempt *a, void *arg)
{
    fx_strlcpy(arg, a->id, FX_UID_SIZE); /* listed oldest first: the last one wins */
    return FX_OK;
}

static char *payload(struct fx_store *s, const struct fx_delivery *d, const struct fx_fax *f)
{
    char attempt[FX_UID_SIZE] = "", event_time[FX_TIME_LEN], start[FX_TIME_LEN];
    if (fx_store_attempt_list(s, f->id, newest_attempt, attempt) || !attempt[0])
        fx_strlcpy(attempt, f->id, sizeof attempt);
    fx_time_format(d->created, event_time);
    fx_time_format(f->start_time ? f->start_time : f->last_update, start);
    json_t *hook = json_pack("{s:s, s:s, s:s, s:s}", "id", f->id, "event", d->event,
                             "event_time", event_time, "target", d->target);
    json_t *data = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}",
                             "id", attempt, "uid", f->owner_id, "pages", f->pages, "from",
                             f->from, "to", f->to, "from_number", f->from, "to_number", f->to,
                             "start_time", start, "file", f->file, "file_name", f->file_name,
                             "cost", (json_int_t)f->cost, "status", f->status);
    json_t *root = json_pack("{s:o, s:o}", "hook", hook, "data", data);
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return body;
}

/* ---- the threads ---- */

static void record(struct fx_notify *n, const struct fx_delivery *d, const char *owner,
                   int status, const char *err)
{
    int64_t now = fx_clock_now();
    int attempts = d->attempts + 1;
    const char *state = "done";
    int64_t next = now;
    if (err[0]) {
        next = now + fx_notify_backoff(n->conf->webhook_retry_base, attempts);
        state = next > d->created + GIVE_UP_SECONDS ? "failed" : "pending";
    }
    enum fx_err e =
        fx_store_delivery_attempted(n->store, d->id, owner, state, status, err, now, next);
    if (e) fx_warn("webhook record failed delivery=%s error=%s", d->id, fx_err_code(e));
    else if (!err[0])
        fx_info("webhook delivered delivery=%s hook=%s fax=%s event=%s status=%d attempt=%d",
                d->id, d->hook_id, d->fax_id, d->event, status, attempts);
    else
        fx_warn("webhook attempt failed delivery=%s hook=%s fax=%s status=%d attempt=%d "
                "state=%s error=\"%s\"",
                d->id, d->hook_id, d->fax_id, status, attempts, state, err);
}

static void deliver(struct fx_notify *n, CURL *curl, const struct fx_delivery *d,
                    const char *owner)
{
    struct fx_fax f;
    char secret[FX_WEBHOOK_SECRET_SIZE], err[256] = "";
    int status = 0;
    enum fx_err e = fx_store_fax_get(n->store, d->fax_id, &f);
    if (e == FX_ERR_NOT_FOUND) {
        /* Deleted before it could be announced: nothing left to send. */
        fx_store_delivery_attempted(n->store, d->id, owner, "failed", 0, "fax record deleted",
                                    fx_clock_now(), fx_clock_now());
        return;
    }
    if (e) {
        snprintf(err, sizeof err, "store: %s", fx_err_code(e));
        record(n, d, owner, 0, err);
        return;
    }
    char *body = payload(n->store, d, &f);
    fx_store_fax_clear(&f);
    if (!body) snprintf(err, sizeof err, "cannot build the payload");
    else if ((e = fx_store_account_webhook_secret(n->store, d->uid, secret)))
        snprintf(err, sizeof err, "no webhook secret: %s", fx_err_code(e));
    else if (post(n, curl, d->target, body, secret, &status, err)) {
        free(body); /* stopping: the lease is released at the next start */
        return;
    }
    free(body);
    record(n, d, owner, status, err);
}

static void *worker(void *arg)
{
    struct fx_notify *n = arg;
    char owner[FX_UID_SIZE];
    fx_store_lease_owner(n->store, owner);
    CURL *curl = curl_easy_init();
    pthread_mutex_lock(&n->mu);
    while (curl && !n->stopping) {
        pthread_mutex_unlock(&n->mu);
        struct fx_delivery d;
        enum fx_err e = fx_store_delivery_claim(n->store, owner, fx_clock_now(), LEASE_SECONDS,
                                                &d);
        if (!e) deliver(n, curl, &d, owner);
        else if (e != FX_ERR_NOT_FOUND) fx_warn("webhook claim failed error=%s", fx_err_code(e));
        pthread_mutex_lock(&n->mu);
        if (e && !n->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += POLL_MS / 1000;
            pthread_cond_timedwait(&n->cv, &n->mu, &ts);
        }
    }
    pthread_mutex_unlock(&n->mu);
    if (!curl) fx_error("webhook worker cannot create a curl handle");
    curl_easy_cleanup(curl);
    return NULL;
}

enum fx_err fx_notify_start(const struct fx_conf *conf, struct fx_store *store,
                            struct fx_notify **out)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return FX_ERR_INTERNAL;
    struct fx_notify *n = calloc(1, sizeof *n);
    if (!n) return FX_ERR_NOMEM;
    n->conf = conf;
    n->store = store;
    n->allow_private = !strcmp(conf->webhook_allow_private, "on");
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    /* One process per store: any lease left belongs to a process that died. */
    enum fx_err e = fx_store_delivery_release_leases(store);
    for (int i = 0; !e && i < NOTIFY_WORKERS; i++) {
        if (pthread_create(&n->threads[i], NULL, worker, n)) e = FX_ERR_INTERNAL;
        else n->n_threads++;
    }
    if (e) {
        fx_notify_stop(n);
        return e;
    }
    fx_info("notify started workers=%d allow_private=%s retry_base=%lld", n->n_threads,
            conf->webhook_allow_private, (long long)conf->webhook_retry_base);
    *out = n;
    return FX_OK;
}

void fx_notify_stop(struct fx_notify *n)
{
    if (!n) return;
    pthread_mutex_lock(&n->mu);
    __atomic_store_n(&n->stopping, true, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    for (int i = 0; i < n->n_threads; i++) pthread_join(n->threads[i], NULL);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
    curl_global_cleanup();
}
