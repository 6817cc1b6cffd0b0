/* notify: webhook delivery (see notify.h for the design).
 *
 * One notifier thread drives up to MAX_INFLIGHT requests at once through a curl multi
 * handle: it claims due deliveries in batches (a lease of LEASE_SECONDS, longer than a
 * request can take), builds each body from its fax record, starts the POST (10 s overall
 * timeout, no redirects, no proxy from the environment, http/https only), and records the
 * outcomes of the requests that finished in one transaction per turn of its loop. A slow
 * or hanging receiver holds one slot until its timeout, not the thread. The socket is
 * opened by our own callback, which refuses disallowed addresses before connect(), so
 * what is checked is what is connected to; connections are kept alive between requests
 * to the same receiver.
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

#define MAX_INFLIGHT 64 /* requests in flight at once */
#define CLAIM_BATCH 32
#define LEASE_SECONDS 60
#define REQUEST_TIMEOUT_MS 10000L
#define GIVE_UP_SECONDS (24 * 3600)
#define MAX_BACKOFF 3600
#define POLL_MS 1000

struct fx_notify {
    const struct fx_conf *conf;
    struct fx_store *store;
    bool allow_private;
    CURLM *multi;  /* the notifier thread's; curl_multi_wakeup from others */
    struct xfer *live; /* requests in flight (the notifier thread's) */
    bool stopping; /* atomic: set by fx_notify_stop, read by the thread and callbacks */
    bool started;
    pthread_t thread;
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

/* One delivery in flight: the easy handle and everything it points to. */
struct xfer {
    struct fx_notify *n;
    struct xfer *prev, *next; /* the requests in flight */
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    bool refused; /* the opensocket callback refused the address */
    char ebuf[CURL_ERROR_SIZE];
    struct fx_delivery d;
};

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct xfer *x = arg;
    if (purpose != CURLSOCKTYPE_IPCXN ||
        !fx_notify_addr_allowed(&addr->addr, x->n->allow_private)) {
        x->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

static size_t discard(char *p, size_t size, size_t nmemb, void *arg)
{
    (void)p, (void)arg;
    return size * nmemb;
}

static void xfer_free(struct xfer *x)
{
    if (!x) return;
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->body);
    free(x);
}

/* The signed headers: X-Faxd-Timestamp, X-Faxd-Signature = HMAC-SHA256 of
 * "<timestamp>.<body>", and X-Faxd-Delivery (deliveries are at least once: a crash
 * between the answer and its record sends again, and the id lets a receiver drop the
 * repeat). */
static struct curl_slist *sign(const char *delivery, const char *body, const char *secret)
{
    char ts[24], sig[65], line[128];
    snprintf(ts, sizeof ts, "%lld", (long long)fx_clock_now());
    size_t blen = strlen(body), tlen = strlen(ts);
    char *text = malloc(tlen + 1 + blen + 1);
    if (!text) return NULL;
    memcpy(text, ts, tlen);
    text[tlen] = '.';
    memcpy(text + tlen + 1, body, blen + 1);
    fx_hmac_sha256_hex(secret, text, tlen + 1 + blen, sig);
    free(text);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(line, sizeof line, "X-Faxd-Timestamp: %s", ts);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "X-Faxd-Signature: %s", sig);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "X-Faxd-Delivery: %s", delivery);
    h = curl_slist_append(h, line);
    return curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
}

static void xfer_setup(struct xfer *x)
{
    CURL *c = x->easy;
    curl_easy_setopt(c, CURLOPT_URL, x->d.target);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never an environment proxy */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, REQUEST_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "faxd-webhook/0.1");
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->ebuf);
    curl_easy_setopt(c, CURLOPT_PRIVATE, x);
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

/* ---- the notifier thread ---- */

/* The outcome of one attempt: the row's next state. */
static void outcome(struct fx_notify *n, const struct fx_delivery *d, int status,
                    const char *err, struct fx_delivery_result *r)
{
    int64_t now = fx_clock_now();
    int attempts = d->attempts + 1;
    *r = (struct fx_delivery_result){.id = d->id, .state = "done", .http_status = status,
                                     .error = err, .now = now, .next_at = now};
    if (err[0]) {
        r->next_at = now + fx_notify_backoff(n->conf->webhook_retry_base, attempts);
        r->state = r->next_at > d->created + GIVE_UP_SECONDS ? "failed" : "pending";
        fx_warn("webhook attempt failed delivery=%s hook=%s fax=%s status=%d attempt=%d "
                "state=%s error=\"%s\"",
                d->id, d->hook_id, d->fax_id, status, attempts, r->state, err);
    } else {
        fx_info("webhook delivered delivery=%s hook=%s fax=%s event=%s status=%d attempt=%d",
                d->id, d->hook_id, d->fax_id, d->event, status, attempts);
    }
}

/* Outcomes waiting to be recorded in one transaction. */
struct batch {
    struct fx_delivery_result r[MAX_INFLIGHT + CLAIM_BATCH];
    char id[MAX_INFLIGHT + CLAIM_BATCH][FX_UID_SIZE];
    char err[MAX_INFLIGHT + CLAIM_BATCH][256];
    struct xfer *done[MAX_INFLIGHT + CLAIM_BATCH]; /* freed after recording */
    int n;
};

static void batch_add(struct fx_notify *n, struct batch *b, const struct fx_delivery *d,
                      int status, const char *err, struct xfer *x)
{
    fx_strlcpy(b->err[b->n], err, sizeof b->err[b->n]);
    fx_strlcpy(b->id[b->n], d->id, sizeof b->id[b->n]);
    outcome(n, d, status, b->err[b->n], &b->r[b->n]);
    b->r[b->n].id = b->id[b->n];
    b->done[b->n++] = x;
}

static void batch_flush(struct fx_notify *n, struct batch *b, const char *owner)
{
    if (!b->n) return;
    enum fx_err e = fx_store_delivery_attempted_many(n->store, owner, b->r, b->n);
    if (e) /* the leases expire and the deliveries are sent again: at least once */
        fx_warn("webhook outcomes not recorded count=%d error=%s", b->n, fx_err_code(e));
    for (int i = 0; i < b->n; i++) xfer_free(b->done[i]);
    b->n = 0;
}

/* Builds and starts the request of a claimed delivery; a delivery that cannot be sent
 * (fax deleted, no payload) gets its outcome in b at once. Returns true when started. */
static bool start(struct fx_notify *n, struct batch *b, const struct fx_delivery *d)
{
    struct fx_fax f;
    char secret[FX_WEBHOOK_SECRET_SIZE], err[256] = "";
    enum fx_err e = fx_store_fax_get(n->store, d->fax_id, &f);
    if (e == FX_ERR_NOT_FOUND) {
        /* Deleted before it could be announced: nothing left to send. */
        struct fx_delivery gone = *d;
        gone.created = 0; /* past 24 h: fails now, not retried */
        batch_add(n, b, &gone, 0, "fax record deleted", NULL);
        return false;
    }
    struct xfer *x = NULL;
    if (e) {
        snprintf(err, sizeof err, "store: %s", fx_err_code(e));
    } else {
        x = calloc(1, sizeof *x);
        if (x) {
            x->n = n;
            x->d = *d;
            x->body = payload(n->store, d, &f);
            x->easy = curl_easy_init();
        }
        fx_store_fax_clear(&f);
        if (!x || !x->body || !x->easy) snprintf(err, sizeof err, "cannot build the request");
        else if ((e = fx_store_account_webhook_secret(n->store, d->uid, secret)))
            snprintf(err, sizeof err, "no webhook secret: %s", fx_err_code(e));
        else if (!(x->headers = sign(d->id, x->body, secret)))
            snprintf(err, sizeof err, "out of memory");
    }
    if (!err[0]) {
        xfer_setup(x);
        if (curl_multi_add_handle(n->multi, x->easy) == CURLM_OK) {
            x->next = n->live;
            if (n->live) n->live->prev = x;
            n->live = x;
            return true;
        }
        snprintf(err, sizeof err, "cannot start the request");
    }
    xfer_free(x);
    batch_add(n, b, d, 0, err, NULL);
    return false;
}

/* Collects the requests that finished. */
static int reap(struct fx_notify *n, struct batch *b)
{
    int finished = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(n->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode rc = m->data.result;
        curl_multi_remove_handle(n->multi, m->easy_handle);
        if (x->prev) x->prev->next = x->next;
        else n->live = x->next;
        if (x->next) x->next->prev = x->prev;
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        int status = rc == CURLE_OK ? (int)code : 0;
        char err[256] = "";
        if (x->refused) snprintf(err, sizeof err, "address not allowed");
        else if (rc != CURLE_OK)
            snprintf(err, sizeof err, "%s", x->ebuf[0] ? x->ebuf : curl_easy_strerror(rc));
        else if (code < 200 || code > 299) snprintf(err, sizeof err, "HTTP %ld", code);
        if (!err[0]) fx_crash_point("webhook_sent");
        batch_add(n, b, &x->d, status, err, x);
        finished++;
    }
    return finished;
}

static void *worker(void *arg)
{
    struct fx_notify *n = arg;
    char owner[FX_UID_SIZE];
    fx_store_lease_owner(n->store, owner);
    struct batch *bp = calloc(1, sizeof *bp);
    struct fx_delivery *claimed = calloc(CLAIM_BATCH, sizeof *claimed);
    if (!bp || !claimed) {
        fx_error("webhook notifier out of memory");
        free(bp);
        free(claimed);
        return NULL;
    }
    int inflight = 0;
    int64_t next_claim = 0; /* ms: when to look for due deliveries again */
    while (!__atomic_load_n(&n->stopping, __ATOMIC_RELAXED)) {
        int64_t now_ms = fx_clock_mono_ms();
        if (inflight < MAX_INFLIGHT && now_ms >= next_claim) {
            int want = MAX_INFLIGHT - inflight, got = 0;
            if (want > CLAIM_BATCH) want = CLAIM_BATCH;
            enum fx_err e = fx_store_delivery_claim_many(n->store, owner, fx_clock_now(),
                                                         LEASE_SECONDS, want, claimed, &got);
            if (e && e != FX_ERR_NOT_FOUND)
                fx_warn("webhook claim failed error=%s", fx_err_code(e));
            for (int i = 0; i < got; i++) inflight += start(n, bp, &claimed[i]);
            /* A full batch means more may be due: look again at once. */
            next_claim = got == want ? now_ms : now_ms + POLL_MS;
        }
        int running = 0;
        curl_multi_perform(n->multi, &running);
        inflight -= reap(n, bp);
        batch_flush(n, bp, owner);
        int64_t wait = next_claim - fx_clock_mono_ms();
        if (inflight == MAX_INFLIGHT || wait > POLL_MS) wait = POLL_MS;
        if (wait > 0) curl_multi_poll(n->multi, NULL, 0, (int)wait, NULL);
    }
    /* Stopping: requests in flight are abandoned; their leases are released at the next
     * start and they are sent again. */
    batch_flush(n, bp, owner);
    while (n->live) {
        struct xfer *x = n->live;
        n->live = x->next;
        curl_multi_remove_handle(n->multi, x->easy);
        xfer_free(x);
    }
    free(bp);
    free(claimed);
    return NULL;
}

enum fx_err fx_notify_start(const struct fx_conf *conf, struct fx_store *store,
                            struct fx_notify **out)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return FX_ERR_INTERNAL;
    struct fx_notify *n = calloc(1, sizeof *n);
    if (!n) {
        curl_global_cleanup();
        return FX_ERR_NOMEM;
    }
    n->conf = conf;
    n->store = store;
    n->allow_private = !strcmp(conf->webhook_allow_private, "on");
    n->multi = curl_multi_init();
    /* One process per store: any lease left belongs to a process that died. */
    enum fx_err e = n->multi ? fx_store_delivery_release_leases(store) : FX_ERR_NOMEM;
    if (!e && pthread_create(&n->thread, NULL, worker, n)) e = FX_ERR_INTERNAL;
    n->started = !e;
    if (e) {
        fx_notify_stop(n);
        return e;
    }
    fx_info("notify started in_flight=%d allow_private=%s retry_base=%lld", MAX_INFLIGHT,
            conf->webhook_allow_private, (long long)conf->webhook_retry_base);
    *out = n;
    return FX_OK;
}

void fx_notify_stop(struct fx_notify *n)
{
    if (!n) return;
    __atomic_store_n(&n->stopping, true, __ATOMIC_RELAXED);
    if (n->multi) curl_multi_wakeup(n->multi);
    if (n->started) pthread_join(n->thread, NULL);
    curl_multi_cleanup(n->multi);
    free(n);
    curl_global_cleanup();
}
