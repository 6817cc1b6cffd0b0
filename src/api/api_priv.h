/* api (private): the request context, the route table and the helpers every
 * resource file (accounts.c, numbers.c, …) uses to read requests and write replies. */
#ifndef FX_API_PRIV_H
#define FX_API_PRIV_H

#include <pthread.h>
#include <stdbool.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api/api.h"
#include "core/core.h"

struct fx_req;
struct fx_upload_state;
struct fx_preview_wait;

/* A handler fills the reply through fx_reply_* and returns FX_OK, or returns an error
 * (after fx_req_why() for a precise description) that server.c turns into the JSON
 * error body. */
typedef enum fx_err (*fx_handler)(struct fx_req *r);

enum {
    FX_ROUTE_UPLOAD = 1, /* body is multipart and streams to the blob store */
    FX_ROUTE_PUBLIC = 2, /* no token needed: signing in and the two health checks only */
};

struct fx_route {
    const char *method;
    const char *path; /* "/accounts/{user_id}/faxes/{fax_id}", under /v3 */
    fx_handler fn;
    int flags;
};

#define FX_MAX_PARAMS 4

struct fx_api {
    struct MHD_Daemon *daemon;
    const struct fx_conf *conf;
    struct fx_store *store;
    struct fx_queue *queue; /* may be NULL */
    struct fx_rate *rate; /* NULL when http.rate_limit is 0 */
    pthread_key_t list_cache; /* each HTTP thread's cache of rendered fax lists */
    struct fx_rates rates;    /* billing.rates: refused destination prefixes */
    char web_dir[4096];       /* the web interface's files (resolved), or "" */
};

/* ---- faxes.c ---- */
/* Frees a thread's fax-list cache (the list_cache key's destructor). */
void fx_faxes_cache_free(void *cache);

struct fx_req {
    struct fx_api *api;
    struct MHD_Connection *conn;
    const struct fx_route *route;
    const char *method;
    char *params[FX_MAX_PARAMS]; /* percent-decoded path parameters, in order */
    int n_params;
    char ip[64];
    struct fx_token token;       /* the caller's token (a session: its scopes) */
    struct fx_session session;   /* the caller's browser session, when via_session */
    bool via_session;            /* signed in with the session cookie, not a token */
    int64_t retry_after;         /* seconds for a Retry-After header, 0 = none */
    struct fx_account caller;    /* the token's account (owns its strings) */
    bool authed;
    struct fx_buf body;          /* JSON body, capped at http.max_body_bytes */
    struct fx_upload_state *upload;
    enum fx_err early;           /* error found while reading the body */
    char why[512];               /* description for the error reply */
    struct MHD_Response *resp;   /* the reply, once made */
    unsigned status;
    struct fx_preview_wait *preview; /* a suspended preview request (preview.c) */
    char idem_key[256];          /* Idempotency-Key claimed by this request, or "" */
    char *reply_text;            /* copy of the JSON answered, kept while idem_key is set */
};

/* ---- server.c ---- */
/* Sets the error description (printf-style) and returns e, so handlers can write
 * `return fx_req_fail(r, FX_ERR_INVALID, "limit must be 1..1000");`. */
enum fx_err fx_req_fail(struct fx_req *r, enum fx_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Replies with a JSON document (steals j) and the given status. */
enum fx_err fx_reply_json(struct fx_req *r, unsigned status, json_t *j);
/* Replies with JSON text already rendered (copied). */
enum fx_err fx_reply_json_text(struct fx_req *r, unsigned status, const char *text, size_t len);
/* Replies with a response made by the caller (steals resp). */
enum fx_err fx_reply_response(struct fx_req *r, unsigned status, struct MHD_Response *resp);
/* Replies 200 {} — what update and delete operations answer. */
enum fx_err fx_reply_empty(struct fx_req *r);
/* Replies with a file from disk (streamed): content type and download file name. */
enum fx_err fx_reply_file(struct fx_req *r, const char *path, const char *content_type,
                          const char *filename);
/* Replies with bytes held in memory (copied). */
enum fx_err fx_reply_bytes(struct fx_req *r, const void *data, size_t len,
                           const char *content_type, const char *filename);
/* Idempotency-Key on a creating POST: with no key, nothing happens. Otherwise, a key seen
 * before with the same body_sha256 replies the first answer again (*replayed = true,
 * nothing must be created); with another body, or still in progress, it fails with 409;
 * a new key is claimed and server.c keeps the answer when the request ends. */
enum fx_err fx_idem_begin(struct fx_req *r, const char *body_sha256, bool *replayed);
/* A query-string value, or NULL. */
const char *fx_req_query(struct fx_req *r, const char *key);
/* A request header value, or NULL. */
const char *fx_req_header(struct fx_req *r, const char *key);
/* Parses the JSON body as an object. An absent/empty body gives {} (the SDKs send
 * no body or "{}" when a payload is optional). *out is new (json_decref). */
enum fx_err fx_req_body(struct fx_req *r, json_t **out);
/* Resolves a {user_id} path value to the account it names, as seen by the caller:
 * "self" or the caller's uid → the caller; a member's uid when the caller is its
 * corporate admin. Anything else → FX_ERR_FORBIDDEN. out owns its strings. */
enum fx_err fx_req_user(struct fx_req *r, const char *user_id, struct fx_account *out);

/* ---- web.c: sessions and the web interface's files ---- */
/* Finds the web interface's folder (http.web_dir or ../share/faxd/web from faxd). */
void fx_web_init(struct fx_api *api);
/* Authenticates a request by its session cookie (and, unless it is a GET, its
 * X-CSRF-Token header). FX_ERR_NOT_FOUND when it has no session cookie. */
enum fx_err fx_web_session_auth(struct fx_req *r);
/* Replies with one of the interface's files for a path outside /v3, or returns
 * FX_ERR_NOT_FOUND. */
enum fx_err fx_web_static(struct fx_req *r, const char *url);

/* ---- preview.c ---- */
/* Frees a finished or abandoned preview (called when the request ends). */
void fx_preview_end(struct fx_req *r);

/* ---- routes.c ---- */
extern const struct fx_route fx_routes[];
/* Finds the route for method + path; fills params. FX_ERR_NOT_FOUND for an unknown
 * path, FX_ERR_METHOD when only the method is wrong (allow[] gets the methods). */
enum fx_err fx_route_match(const char *method, const char *path, const struct fx_route **out,
                           char *params[FX_MAX_PARAMS], int *n_params, char *allow,
                           size_t allow_len);

/* ---- files.c: multipart upload streaming (called by server.c) ---- */
enum fx_err fx_upload_begin(struct fx_req *r);
enum fx_err fx_upload_feed(struct fx_req *r, const char *data, size_t len);
/* Frees the upload state; discards an uncommitted blob. Accepts r->upload == NULL. */
void fx_upload_end(struct fx_req *r);

/* ---- json.c: models and validation helpers ---- */
json_t *fx_json_account(const struct fx_account *a);
json_t *fx_json_number(const struct fx_number *n);
json_t *fx_json_fax(const struct fx_fax *f);
json_t *fx_json_outbox(const struct fx_outbox *o);
json_t *fx_json_hook(const struct fx_hook *h);
/* Parses stored JSON text; never NULL (an empty object/array on bad text). new. */
json_t *fx_json_parse_stored(const char *text, bool array);
/* Dumps compactly; new (free()). */
char *fx_json_dump(const json_t *j);
/* Field readers for request bodies: absent → FX_OK and *present=false; wrong type →
 * fx_req_fail naming the field. */
enum fx_err fx_json_get_str(struct fx_req *r, json_t *obj, const char *key, const char **out,
                            bool *present);
enum fx_err fx_json_get_int(struct fx_req *r, json_t *obj, const char *key, int64_t lo,
                            int64_t hi, int64_t *out, bool *present);
enum fx_err fx_json_get_bool(struct fx_req *r, json_t *obj, const char *key, bool *out,
                             bool *present);
/* Reads a cover_page's "flags" (absent = none) into FX_COVER_* bits; refuses anything but
 * an array of urgent, for_review, please_reply, confidential. */
enum fx_err fx_json_cover_flags(struct fx_req *r, json_t *flags, unsigned *out);
/* True when value is one of the NULL-terminated list. */
bool fx_str_in(const char *value, const char *const *list);

/* ---- resource handlers ---- */
enum fx_err fx_h_accounts_list(struct fx_req *r);
enum fx_err fx_h_account_get(struct fx_req *r);
enum fx_err fx_h_account_update(struct fx_req *r);
enum fx_err fx_h_member_get(struct fx_req *r);
enum fx_err fx_h_member_update(struct fx_req *r);
enum fx_err fx_h_numbers_list(struct fx_req *r);
enum fx_err fx_h_number_get(struct fx_req *r);
enum fx_err fx_h_number_update(struct fx_req *r);
enum fx_err fx_h_number_revoke(struct fx_req *r);
enum fx_err fx_h_faxes_list(struct fx_req *r);
enum fx_err fx_h_fax_get(struct fx_req *r);
enum fx_err fx_h_fax_update(struct fx_req *r);
enum fx_err fx_h_fax_delete(struct fx_req *r);
enum fx_err fx_h_file_upload(struct fx_req *r);
enum fx_err fx_h_file_get(struct fx_req *r);
enum fx_err fx_h_report_get(struct fx_req *r);
enum fx_err fx_h_outbox_list(struct fx_req *r);
enum fx_err fx_h_outbox_send(struct fx_req *r);
enum fx_err fx_h_outbox_get(struct fx_req *r);
enum fx_err fx_h_outbox_update(struct fx_req *r);
enum fx_err fx_h_outbox_delete(struct fx_req *r);
enum fx_err fx_h_hook_create(struct fx_req *r);
enum fx_err fx_h_hooks_list(struct fx_req *r);
enum fx_err fx_h_hook_delete(struct fx_req *r);
enum fx_err fx_h_hook_deliveries(struct fx_req *r);
enum fx_err fx_h_openapi(struct fx_req *r);
/* ---- health.c ---- */
enum fx_err fx_h_healthz(struct fx_req *r);
enum fx_err fx_h_readyz(struct fx_req *r);
enum fx_err fx_h_preview(struct fx_req *r);
enum fx_err fx_h_page_get(struct fx_req *r);
enum fx_err fx_h_session_create(struct fx_req *r);
enum fx_err fx_h_session_get(struct fx_req *r);
enum fx_err fx_h_session_delete(struct fx_req *r);
enum fx_err fx_h_tokens_list(struct fx_req *r);
enum fx_err fx_h_token_create(struct fx_req *r);
enum fx_err fx_h_token_revoke(struct fx_req *r);

#endif
