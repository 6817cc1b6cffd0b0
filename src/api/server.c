/* api: the HTTP server — libmicrohttpd set-up, the request lifecycle, authentication,
 * scopes, rate limiting and the one place where errors become JSON replies.
 *
 * Lifecycle of a request (libmicrohttpd calls on_request several times):
 *   1st call: headers only. Route, authenticate, check scope and rate, check the
 *             declared size; errors are answered at once (the body is then skipped).
 *   body calls: JSON bodies accumulate up to http.max_body_bytes; uploads stream into
 *             the blob store through files.c, so memory does not grow with size.
 *   last call: run the handler (or answer the error met while reading the body).
 * on_completed frees the request whatever happened (client gone, timeout, error). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "api/api_priv.h"
#include "conf/conf.h"

/* ---- rate limiting: a fixed one-second window per token, in a small hash table.
 * Collisions share a slot, which can only make the limit stricter for both. ---- */
#define RATE_SLOTS 4096
struct rate_slot {
    char token_id[FX_UID_SIZE];
    int64_t window;
    int64_t count;
};
struct fx_rate {
    pthread_mutex_t mu;
    int64_t limit;
    struct rate_slot slots[RATE_SLOTS];
};

static bool rate_allow(struct fx_rate *rt, const char *token_id)
{
    uint32_t h = 2166136261u;
    for (const char *p = token_id; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    int64_t now = fx_clock_mono_ms() / 1000;
    pthread_mutex_lock(&rt->mu);
    struct rate_slot *s = &rt->slots[h % RATE_SLOTS];
    if (s->window != now || strcmp(s->token_id, token_id) != 0) {
        fx_strlcpy(s->token_id, token_id, sizeof s->token_id);
        s->window = now;
        s->count = 0;
    }
    bool ok = ++s->count <= rt->limit;
    pthread_mutex_unlock(&rt->mu);
    return ok;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* ---- replies ---- */

enum fx_err fx_req_fail(struct fx_req *r, enum fx_err e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return e;
}

static void add_common_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

enum fx_err fx_reply_response(struct fx_req *r, unsigned status, struct MHD_Response *resp)
{
    if (!resp) return FX_ERR_NOMEM;
    add_common_headers(resp);
    if (r->resp) MHD_destroy_response(r->resp);
    r->resp = resp;
    r->status = status;
    return FX_OK;
}

static struct MHD_Response *json_response(char *text)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    return resp;
}

enum fx_err fx_reply_json(struct fx_req *r, unsigned status, json_t *j)
{
    char *text = j ? fx_json_dump(j) : NULL;
    json_decref(j);
    if (!text) return FX_ERR_NOMEM;
    if (r->idem_key[0]) {
        free(r->reply_text);
        r->reply_text = strdup(text);
    }
    return fx_reply_response(r, status, json_response(text));
}

/* ---- idempotency keys ---- */

#define IDEM_TTL (24 * 3600)

static enum fx_err idem_answer(struct fx_req *r, const struct fx_idem *seen, const char *sha,
                               bool *replayed)
{
    if (seen->status == 0)
        return fx_req_fail(r, FX_ERR_CONFLICT, "A request with this Idempotency-Key is still "
                                               "in progress");
    if (strcmp(seen->body_sha256, sha) != 0 || strcmp(seen->request, r->route->path) != 0)
        return fx_req_fail(r, FX_ERR_CONFLICT,
                           "This Idempotency-Key was used with a different request");
    *replayed = true;
    struct MHD_Response *resp = json_response(strdup(seen->response));
    if (resp) MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    return fx_reply_response(r, (unsigned)seen->status, resp);
}

enum fx_err fx_idem_begin(struct fx_req *r, const char *body_sha256, bool *replayed)
{
    *replayed = false;
    const char *key = fx_req_header(r, "Idempotency-Key");
    if (!key) return FX_OK;
    size_t n = strlen(key);
    for (const char *p = key; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) n = 0;
    if (n == 0 || n > 255)
        return fx_req_fail(r, FX_ERR_INVALID, "Idempotency-Key must be 1 to 255 visible "
                                              "ASCII characters");
    int64_t now = fx_clock_now();
    struct fx_idem seen = {0}, mine = {0};
    fx_strlcpy(mine.request, r->route->path, sizeof mine.request);
    fx_strlcpy(mine.body_sha256, body_sha256, sizeof mine.body_sha256);
    mine.response = "";
    for (int tries = 0; tries < 2; tries++) {
        enum fx_err e = fx_store_idem_get(r->api->store, r->caller.uid, key, now - IDEM_TTL, &seen);
        if (e == FX_OK) {
            e = idem_answer(r, &seen, body_sha256, replayed);
            fx_store_idem_clear(&seen);
            return e;
        }
        if (e != FX_ERR_NOT_FOUND) return e;
        e = fx_store_idem_put(r->api->store, r->caller.uid, key, &mine, now, now - IDEM_TTL);
        if (e == FX_OK) {
            fx_strlcpy(r->idem_key, key, sizeof r->idem_key);
            return FX_OK;
        }
        if (e != FX_ERR_CONFLICT) return e; /* else another request just took it: look again */
    }
    return fx_req_fail(r, FX_ERR_CONFLICT, "A request with this Idempotency-Key is in progress");
}

/* When the request that claimed a key ends: keep a successful answer, forget a failed
 * one (the client may retry with the same key). */
static void idem_end(struct fx_req *r)
{
    if (!r->idem_key[0]) return;
    bool ok = r->resp && r->status >= 200 && r->status < 300 && r->reply_text;
    enum fx_err e = ok ? fx_store_idem_done(r->api->store, r->caller.uid, r->idem_key,
                                            (int)r->status, r->reply_text)
                       : fx_store_idem_delete(r->api->store, r->caller.uid, r->idem_key);
    if (e) fx_warn("api idempotency key not recorded error=%s", fx_err_code(e));
    r->idem_key[0] = 0;
}

enum fx_err fx_reply_json_text(struct fx_req *r, unsigned status, const char *text, size_t len)
{
    if (r->idem_key[0]) {
        free(r->reply_text);
        r->reply_text = strndup(text, len);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!resp) return FX_ERR_NOMEM;
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    return fx_reply_response(r, status, resp);
}

enum fx_err fx_reply_empty(struct fx_req *r)
{
    return fx_reply_json(r, 200, json_object());
}

static void add_disposition(struct MHD_Response *resp, const char *content_type,
                            const char *filename)
{
    char cd[256];
    MHD_add_response_header(resp, "Content-Type", content_type);
    snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", filename);
    MHD_add_response_header(resp, "Content-Disposition", cd);
}

enum fx_err fx_reply_file(struct fx_req *r, const char *path, const char *content_type,
                          const char *filename)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) close(fd);
        fx_error("api file open failed path=%s", path);
        return FX_ERR_IO;
    }
    /* libmicrohttpd owns fd from here and closes it with the response. */
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return FX_ERR_NOMEM;
    }
    add_disposition(resp, content_type, filename);
    return fx_reply_response(r, 200, resp);
}

enum fx_err fx_reply_bytes(struct fx_req *r, const void *data, size_t len,
                           const char *content_type, const char *filename)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp) return FX_ERR_NOMEM;
    add_disposition(resp, content_type, filename);
    return fx_reply_response(r, 200, resp);
}

/* The single place where an fx_err becomes an HTTP reply. */
static void reply_error(struct fx_req *r, enum fx_err e)
{
    json_t *j = json_object();
    json_object_set_new(j, "error", json_string(fx_err_code(e)));
    json_object_set_new(j, "description", json_string(r->why[0] ? r->why : fx_err_text(e)));
    unsigned status = fx_err_http_status(e);
    fx_reply_json(r, status, j);
    if (r->resp && e == FX_ERR_UNAUTHORIZED)
        MHD_add_response_header(r->resp, "WWW-Authenticate", "Bearer");
    if (r->resp && r->retry_after > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%lld", (long long)r->retry_after);
        MHD_add_response_header(r->resp, "Retry-After", ra);
    }
    if (status >= 500)
        fx_warn("api request failed method=%s status=%u error=%s why=\"%s\"", r->method,
                status, fx_err_code(e), r->why);
}

/* ---- request accessors ---- */

const char *fx_req_query(struct fx_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *fx_req_header(struct fx_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

enum fx_err fx_req_body(struct fx_req *r, json_t **out)
{
    if (r->body.len == 0) {
        *out = json_object();
        return FX_OK;
    }
    json_error_t err;
    json_t *j = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &err);
    if (!j)
        return fx_req_fail(r, FX_ERR_BAD_JSON, "Malformed JSON body at line %d column %d: %s",
                           err.line, err.column, err.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return fx_req_fail(r, FX_ERR_BAD_JSON, "The request body must be a JSON object");
    }
    *out = j;
    return FX_OK;
}

/* A copy of the caller's account (read once per request, at authentication). */
static enum fx_err caller_copy(const struct fx_req *r, struct fx_account *out)
{
    *out = r->caller;
    out->account_data = strdup(r->caller.account_data);
    out->settings = strdup(r->caller.settings);
    out->notifications = strdup(r->caller.notifications);
    if (out->account_data && out->settings && out->notifications) return FX_OK;
    fx_store_account_clear(out);
    return FX_ERR_NOMEM;
}

enum fx_err fx_req_user(struct fx_req *r, const char *user_id, struct fx_account *out)
{
    if (strcmp(user_id, "self") == 0 || strcmp(user_id, r->caller.uid) == 0)
        return caller_copy(r, out);
    if (strcmp(r->caller.account_type, "corporate_admin") == 0 && fx_id_valid(user_id)) {
        enum fx_err e = fx_store_account_get(r->api->store, user_id, out);
        if (e == FX_OK && strcmp(out->admin_uid, r->caller.uid) == 0) return FX_OK;
        if (e == FX_OK) fx_store_account_clear(out);
        if (e && e != FX_ERR_NOT_FOUND) return e;
    }
    return fx_req_fail(r, FX_ERR_FORBIDDEN, "You may not act for user %s", user_id);
}

/* ---- authentication ---- */

/* The caller from an Authorization: Bearer header. */
static enum fx_err bearer_auth(struct fx_req *r, const char *h)
{
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != 0))
        return fx_req_fail(r, FX_ERR_UNAUTHORIZED, "Authorization must be a Bearer token");
    const char *tok = h + 6;
    while (*tok == ' ') tok++;
    size_t n = strlen(tok);
    while (n && tok[n - 1] == ' ') n--;
    if (n == 0) return fx_req_fail(r, FX_ERR_UNAUTHORIZED, "Empty bearer token");
    if (n > 256) return fx_req_fail(r, FX_ERR_UNAUTHORIZED, "Unknown or revoked token");
    char hash[65];
    fx_sha256_hex(tok, n, hash);
    enum fx_err e = fx_store_token_auth(r->api->store, hash, &r->token, &r->caller);
    if (e == FX_ERR_NOT_FOUND)
        return fx_req_fail(r, FX_ERR_UNAUTHORIZED, "Unknown or revoked token");
    if (e) return e;
    r->authed = true;
    return FX_OK;
}

/* The one place that decides who the caller is: a bearer token (the SDKs, scripts) or,
 * without one, the web interface's session cookie. Then the checks both share. */
static enum fx_err authenticate(struct fx_req *r)
{
    const char *h = fx_req_header(r, "Authorization");
    enum fx_err e = h ? bearer_auth(r, h) : fx_web_session_auth(r);
    if (e == FX_ERR_NOT_FOUND && !h)
        return fx_req_fail(r, FX_ERR_UNAUTHORIZED, "Missing Authorization header");
    if (e) return e;
    if (strcmp(r->caller.status, "active") != 0)
        return fx_req_fail(r, FX_ERR_FORBIDDEN, "The account is %s", r->caller.status);
    int need = strcmp(r->method, "GET") == 0 ? FX_SCOPE_READ : FX_SCOPE_EDIT;
    if (!(r->token.scopes & need))
        return fx_req_fail(r, FX_ERR_SCOPE, "This operation needs a token with the %s scope",
                           need == FX_SCOPE_READ ? "read" : "edit");
    if (r->api->rate && !rate_allow(r->api->rate, r->token.id))
        return fx_req_fail(r, FX_ERR_RATE, "More than %lld requests per second",
                           (long long)r->api->rate->limit);
    return FX_OK;
}

/* ---- the request lifecycle ---- */

static void client_ip(struct fx_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return;
    if (ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, r->ip,
                  sizeof r->ip);
    else if (ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, r->ip,
                  sizeof r->ip);
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* Everything decided from the headers alone. */
static enum fx_err on_headers(struct fx_req *r, const char *url)
{
    char allow[64] = "";
    size_t header_bytes = strlen(url) + strlen(r->method);
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &header_bytes);
    if (header_bytes > (size_t)r->api->conf->http_max_header)
        return fx_req_fail(r, FX_ERR_HEADERS_TOO_LARGE,
                           "The request line and headers are limited to %lld bytes",
                           (long long)r->api->conf->http_max_header);
    /* The health checks also at the root, where load balancers look for them. */
    if (!strcmp(url, "/healthz")) url = "/v3/healthz";
    else if (!strcmp(url, "/readyz")) url = "/v3/readyz";
    if (strncmp(url, "/v3/", 4) != 0) {
        enum fx_err e = fx_web_static(r, url); /* the web interface's files */
        if (e == FX_ERR_NOT_FOUND)
            return fx_req_fail(r, FX_ERR_NOT_FOUND, "No such resource; the API lives under /v3");
        return e;
    }
    enum fx_err e = fx_route_match(r->method, url + 3, &r->route, r->params, &r->n_params,
                                   allow, sizeof allow);
    if (e == FX_ERR_METHOD) {
        snprintf(r->why, sizeof r->why, "Use one of: %s", allow);
        return e;
    }
    if (e) return fx_req_fail(r, e, "No such resource");
    if (!(r->route->flags & FX_ROUTE_PUBLIC) && (e = authenticate(r))) return e;
    const char *cl = fx_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    long long len = cl ? strtoll(cl, NULL, 10) : 0;
    if (r->route->flags & FX_ROUTE_UPLOAD) {
        /* Room for the multipart framing around the file. */
        if (len > r->api->conf->max_fax_bytes + 65536)
            return fx_req_fail(r, FX_ERR_TOO_LARGE, "Uploads are limited to %lld bytes",
                               (long long)r->api->conf->max_fax_bytes);
        return fx_upload_begin(r);
    }
    if (len > r->api->conf->http_max_body)
        return fx_req_fail(r, FX_ERR_TOO_LARGE, "Request bodies are limited to %lld bytes",
                           (long long)r->api->conf->http_max_body);
    return FX_OK;
}

static enum fx_err on_body(struct fx_req *r, const char *data, size_t len)
{
    if (r->upload) return fx_upload_feed(r, data, len);
    if (r->body.len + len > (size_t)r->api->conf->http_max_body)
        return fx_req_fail(r, FX_ERR_TOO_LARGE, "Request bodies are limited to %lld bytes",
                           (long long)r->api->conf->http_max_body);
    return fx_buf_append(&r->body, data, len);
}

static enum MHD_Result queue(struct fx_req *r)
{
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, r->resp);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct fx_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        *con_cls = r;
        r->api = cls;
        r->conn = conn;
        r->method = method;
        fx_buf_init(&r->body);
        client_ip(r);
        enum fx_err e = on_headers(r, url);
        if (e) {
            r->early = e;
            reply_error(r, e);
            return r->resp ? queue(r) : MHD_NO;
        }
        if (r->resp) return queue(r); /* a static file, answered from the headers */
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!r->early) {
            enum fx_err e = on_body(r, upload_data, n);
            if (e) {
                r->early = e;
                fx_upload_end(r);
                fx_buf_free(&r->body);
            }
        } else if (r->early != FX_ERR_TOO_LARGE) {
            return MHD_NO; /* nothing useful will come of reading more */
        }
        return MHD_YES;
    }
    if (r->resp) return MHD_YES; /* already answered; libmicrohttpd is flushing */
    enum fx_err e = r->early ? r->early : r->route->fn(r);
    /* A handler that suspended the connection answers when it is resumed. */
    if (!e && !r->resp && r->preview) return MHD_YES;
    if (e || !r->resp) reply_error(r, e ? e : FX_ERR_INTERNAL);
    idem_end(r);
    return r->resp ? queue(r) : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    struct fx_req *r = *con_cls;
    if (!r) return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        fx_debug("api request ended early method=%s code=%d", r->method, (int)toe);
    fx_upload_end(r);
    fx_preview_end(r);
    fx_buf_free(&r->body);
    for (int i = 0; i < r->n_params; i++) free(r->params[i]);
    if (r->idem_key[0]) fx_store_idem_delete(r->api->store, r->caller.uid, r->idem_key);
    free(r->reply_text);
    fx_store_account_clear(&r->caller);
    if (r->resp) MHD_destroy_response(r->resp);
    free(r);
    *con_cls = NULL;
}

/* Percent-decodes the path and query values in place, as libmicrohttpd would, except
 * that %00 stays as it is: a NUL would silently cut the text short ("/faxes/%00"
 * would become "/faxes/"), while "%00" is simply an id that matches nothing. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    fx_debug("http msg=\"%s\"", msg);
}

enum fx_err fx_api_start(const struct fx_conf *conf, struct fx_store *store,
                         struct fx_queue *queue, struct fx_api **out)
{
    struct fx_api *api = calloc(1, sizeof *api);
    if (!api) return FX_ERR_NOMEM;
    api->conf = conf;
    api->store = store;
    api->queue = queue;
    fx_web_init(api);
    pthread_key_create(&api->list_cache, fx_faxes_cache_free);
    char why[160];
    fx_rates_parse(conf->billing_rates, &api->rates, why, sizeof why); /* validated by conf */
    if (conf->http_rate_limit > 0) {
        api->rate = calloc(1, sizeof *api->rate);
        if (!api->rate) {
            free(api);
            return FX_ERR_NOMEM;
        }
        pthread_mutex_init(&api->rate->mu, NULL);
        api->rate->limit = conf->http_rate_limit;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)conf->http_port)};
    inet_pton(AF_INET, conf->http_address, &sa.sin_addr);
    /* The connection's memory pool holds the request line and headers plus the read
     * buffer. libmicrohttpd 0.9.75 clears the whole pool between requests, so its size
     * costs on every keep-alive request: keep it just above http.max_header_bytes.
     * Headers between the cap and the pool get faxd's JSON 431; larger ones overflow
     * the pool and get the library's own 431. */
    size_t mem = (size_t)conf->http_max_header + 16384;
    api->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME,
        0, NULL, NULL,
        on_request, api, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)conf->http_threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)conf->http_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_CONNECTION_LIMIT, 1000u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, api, MHD_OPTION_UNESCAPE_CALLBACK,
        unescape, NULL, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_END);
    if (!api->daemon) {
        fx_error("api listen failed address=%s port=%lld", conf->http_address,
                 (long long)conf->http_port);
        fx_api_stop(api);
        return FX_ERR_IO;
    }
    fx_info("api listening address=%s port=%lld threads=%lld", conf->http_address,
            (long long)conf->http_port, (long long)conf->http_threads);
    *out = api;
    return FX_OK;
}

void fx_api_stop(struct fx_api *api)
{
    if (!api) return;
    if (api->daemon) MHD_stop_daemon(api->daemon);
    pthread_key_delete(api->list_cache);
    if (api->rate) {
        pthread_mutex_destroy(&api->rate->mu);
        free(api->rate);
    }
    free(api);
}
