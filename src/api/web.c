/* api: the web interface's side of the server — sign-in with e-mail and password,
 * browser sessions, personal access tokens for the settings page, and the interface's
 * own static files (web/, served at /).
 *
 * Sessions: the browser holds a random 256-bit id in the faxd_session cookie (HttpOnly,
 * SameSite=Strict, Path=/); the store keeps only its SHA-256, so a copy of the database
 * opens no session. Each session has its own CSRF token, handed to the page at sign-in
 * and by GET /v3/session; every request made with the cookie that is not a GET must
 * carry it in X-CSRF-Token (server.c asks fx_web_session_auth, the one place that
 * decides whether a cookie names a caller). Bearer-token requests need no CSRF token:
 * a browser never adds an Authorization header by itself.
 *
 * Lock-out: failed sign-ins are counted per account (its e-mail) and per client
 * address; past FAIL_MAX_* failures within FAIL_WINDOW seconds the subject is refused
 * (429 with Retry-After) for FAIL_LOCK seconds, even with the right password. */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_priv.h"
#include "conf/conf.h"

#define COOKIE "faxd_session"
#define FAIL_WINDOW 900
#define FAIL_LOCK 900
#define FAIL_MAX_ACCOUNT 5
#define FAIL_MAX_ADDRESS 20

/* ---- sessions ---- */

enum fx_err fx_web_session_auth(struct fx_req *r)
{
    const char *id = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, COOKIE);
    if (!id) return FX_ERR_NOT_FOUND;
    char hash[65];
    fx_sha256_hex(id, strlen(id), hash);
    enum fx_err e = fx_store_session_auth(r->api->store, hash, fx_clock_now(), &r->session,
                                          &r->caller);
    if (e == FX_ERR_NOT_FOUND)
        return fx_req_fail(r, FX_ERR_UNAUTHORIZED, "The session has ended; sign in again");
    if (e) return e;
    r->authed = r->via_session = true;
    /* The session acts with both scopes; rate limiting counts per session. */
    r->token.scopes = FX_SCOPE_READ | FX_SCOPE_EDIT;
    fx_strlcpy(r->token.id, hash, sizeof r->token.id);
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        const char *csrf = fx_req_header(r, "X-CSRF-Token");
        if (!csrf || !fx_str_equal_ct(csrf, r->session.csrf))
            return fx_req_fail(r, FX_ERR_FORBIDDEN,
                               "Missing or wrong X-CSRF-Token header (sign in again)");
    }
    return FX_OK;
}

static void random_hex(char out[65])
{
    unsigned char raw[32];
    fx_random_bytes(raw, sizeof raw);
    for (size_t i = 0; i < sizeof raw; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static void set_cookie(struct fx_req *r, const char *value, int64_t max_age)
{
    char c[256];
    bool secure = strncmp(r->api->conf->public_url, "https://", 8) == 0;
    snprintf(c, sizeof c, COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
             value, (long long)max_age, secure ? "; Secure" : "");
    MHD_add_response_header(r->resp, "Set-Cookie", c);
}

/* What the page needs to know about its session. */
static json_t *session_json(struct fx_req *r, const char *csrf, int64_t expires)
{
    char exp[FX_TIME_LEN];
    fx_time_format(expires, exp);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "uid", r->caller.uid, "email",
                          r->caller.email, "name", r->caller.name, "lastname",
                          r->caller.lastname, "account_type", r->caller.account_type);
    if (j && csrf) json_object_set_new(j, "csrf_token", json_string(csrf));
    if (j && expires) json_object_set_new(j, "expires", json_string(exp));
    return j;
}

/* A locked subject (or one that just became locked) is answered 429 with Retry-After. */
static enum fx_err locked_reply(struct fx_req *r, int64_t until, int64_t now)
{
    r->retry_after = until - now;
    return fx_req_fail(r, FX_ERR_RATE, "Too many failed sign-ins; try again in %lld minutes",
                       (long long)((until - now + 59) / 60));
}

/* Checks the password; counts a failure against both subjects. */
static enum fx_err check_password(struct fx_req *r, const char *email, const char *password,
                                  char uid[FX_UID_SIZE], const char *subjects[2], int64_t now)
{
    struct fx_store *s = r->api->store;
    int64_t until = 0, u;
    for (int i = 0; i < 2; i++) {
        enum fx_err e = fx_store_login_locked(s, subjects[i], now, &u);
        if (e) return e;
        if (u > until) until = u;
    }
    if (until) return locked_reply(r, until, now);
    char hash[FX_PASSWORD_HASH_SIZE] = "";
    enum fx_err e = fx_store_password_find(s, email, uid, hash);
    if (e && e != FX_ERR_NOT_FOUND) return e;
    /* Verified even for an unknown e-mail, so the answer takes as long either way. */
    if (fx_password_verify(password, hash) && !e) return FX_OK;
    const int max[2] = {FAIL_MAX_ACCOUNT, FAIL_MAX_ADDRESS};
    for (int i = 0; i < 2; i++) {
        e = fx_store_login_failed(s, subjects[i], now, FAIL_WINDOW, max[i], FAIL_LOCK, &u);
        if (e) return e;
        if (u > until) until = u;
    }
    fx_info("api sign-in refused address=%s", r->ip);
    if (until) return locked_reply(r, until, now);
    return fx_req_fail(r, FX_ERR_UNAUTHORIZED, "Wrong e-mail or password");
}

static enum fx_err open_session(struct fx_req *r, const char *uid, int64_t now)
{
    enum fx_err e = fx_store_account_get(r->api->store, uid, &r->caller);
    if (e) return e;
    r->authed = true; /* r->caller is freed with the request */
    if (strcmp(r->caller.status, "active") != 0)
        return fx_req_fail(r, FX_ERR_FORBIDDEN, "The account is %s", r->caller.status);
    char id[65];
    struct fx_session se = {.created = now, .expires = now + r->api->conf->session_ttl};
    random_hex(id);
    random_hex(se.csrf);
    fx_sha256_hex(id, strlen(id), se.hash);
    fx_strlcpy(se.uid, uid, sizeof se.uid);
    fx_strlcpy(se.ip, r->ip, sizeof se.ip);
    fx_store_session_expire(r->api->store, now); /* old rows go as new ones come */
    if ((e = fx_store_session_create(r->api->store, &se))) return e;
    if ((e = fx_reply_json(r, 200, session_json(r, se.csrf, se.expires)))) return e;
    set_cookie(r, id, r->api->conf->session_ttl);
    fx_info("api signed in uid=%s address=%s", uid, r->ip);
    return FX_OK;
}

/* POST /v3/session {email, password}: signs in. */
enum fx_err fx_h_session_create(struct fx_req *r)
{
    /* A page on another site can POST a form to us, but not with this type (that needs
     * CORS, which faxd never grants): so nobody is signed in behind their back. */
    const char *ct = fx_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "application/json", 16) != 0)
        return fx_req_fail(r, FX_ERR_INVALID, "Sign in with a JSON body (application/json)");
    json_t *body;
    enum fx_err e = fx_req_body(r, &body);
    if (e) return e;
    const char *email = NULL, *password = NULL;
    bool have_e = false, have_p = false;
    e = fx_json_get_str(r, body, "email", &email, &have_e);
    if (!e) e = fx_json_get_str(r, body, "password", &password, &have_p);
    if (!e && (!have_e || !have_p || !email[0] || !password[0]))
        e = fx_req_fail(r, FX_ERR_INVALID, "email and password are required");
    if (!e && (strlen(email) > 255 || strlen(password) > 1024))
        e = fx_req_fail(r, FX_ERR_INVALID, "email or password too long");
    char acct[300], addr[100], uid[FX_UID_SIZE];
    if (!e) {
        snprintf(acct, sizeof acct, "account:%s", email);
        for (char *p = acct; *p; p++) *p = (char)tolower((unsigned char)*p);
        snprintf(addr, sizeof addr, "address:%s", r->ip);
        const char *subjects[2] = {acct, addr};
        int64_t now = fx_clock_now();
        e = check_password(r, email, password, uid, subjects, now);
        if (!e) fx_store_login_clear(r->api->store, acct);
        if (!e) e = open_session(r, uid, now);
    }
    json_decref(body);
    return e;
}

/* GET /v3/session: who the caller is (and, for a browser session, its CSRF token). */
enum fx_err fx_h_session_get(struct fx_req *r)
{
    if (!r->via_session) return fx_reply_json(r, 200, session_json(r, NULL, 0));
    return fx_reply_json(r, 200, session_json(r, r->session.csrf, r->session.expires));
}

/* DELETE /v3/session: signs out (ends the session and clears the cookie). */
enum fx_err fx_h_session_delete(struct fx_req *r)
{
    if (!r->via_session)
        return fx_req_fail(r, FX_ERR_INVALID, "Only a browser session can sign out");
    enum fx_err e = fx_store_session_delete(r->api->store, r->session.hash);
    if (!e) e = fx_reply_empty(r);
    if (!e) set_cookie(r, "", 0);
    return e;
}

/* ---- personal access tokens (the settings page) ---- */

static json_t *scopes_json(int scopes)
{
    json_t *a = json_array();
    if (scopes & FX_SCOPE_READ) json_array_append_new(a, json_string("read"));
    if (scopes & FX_SCOPE_EDIT) json_array_append_new(a, json_string("edit"));
    return a;
}

static json_t *token_json(const struct fx_token *t)
{
    char created[FX_TIME_LEN];
    fx_time_format(t->created, created);
    return json_pack("{s:s, s:s, s:o, s:s}", "id", t->id, "name", t->name, "scopes",
                     scopes_json(t->scopes), "created", created);
}

static enum fx_err token_add(const struct fx_token *t, void *arg)
{
    if (!t->revoked) json_array_append_new(arg, token_json(t));
    return FX_OK;
}

/* GET /v3/tokens: the caller's active tokens (never their secrets). */
enum fx_err fx_h_tokens_list(struct fx_req *r)
{
    json_t *list = json_array();
    enum fx_err e = fx_store_token_list(r->api->store, r->caller.uid, token_add, list);
    if (e) {
        json_decref(list);
        return e;
    }
    return fx_reply_json(r, 200, json_pack("{s:o}", "tokens", list));
}

static enum fx_err read_scopes(struct fx_req *r, json_t *arr, int *out)
{
    size_t i;
    json_t *v;
    int scopes = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return fx_req_fail(r, FX_ERR_INVALID, "scopes must be a non-empty array");
    json_array_foreach(arr, i, v)
    {
        const char *sv = json_string_value(v);
        if (sv && !strcmp(sv, "read")) scopes |= FX_SCOPE_READ;
        else if (sv && !strcmp(sv, "edit")) scopes |= FX_SCOPE_EDIT;
        else return fx_req_fail(r, FX_ERR_INVALID, "scopes may hold \"read\" and \"edit\"");
    }
    *out = scopes;
    return FX_OK;
}

/* POST /v3/tokens {name, scopes}: a new token, whose secret is answered this once. */
enum fx_err fx_h_token_create(struct fx_req *r)
{
    json_t *body;
    enum fx_err e = fx_req_body(r, &body);
    if (e) return e;
    const char *name = "";
    bool have;
    struct fx_token t = {0};
    char secret[80];
    e = fx_json_get_str(r, body, "name", &name, &have);
    if (!e && strlen(name) >= sizeof t.name)
        e = fx_req_fail(r, FX_ERR_INVALID, "name is limited to %zu bytes", sizeof t.name - 1);
    if (!e) e = read_scopes(r, json_object_get(body, "scopes"), &t.scopes);
    if (!e) {
        fx_token_secret(secret, t.hash);
        fx_strlcpy(t.uid, r->caller.uid, sizeof t.uid);
        fx_strlcpy(t.name, name, sizeof t.name);
        e = fx_store_token_create(r->api->store, &t);
    }
    json_decref(body);
    if (e) return e;
    json_t *j = token_json(&t);
    json_object_set_new(j, "token", json_string(secret));
    return fx_reply_json(r, 201, j);
}

struct token_find {
    const char *id;
    bool active;
};

static enum fx_err token_match(const struct fx_token *t, void *arg)
{
    struct token_find *f = arg;
    if (!t->revoked && strcmp(t->id, f->id) == 0) f->active = true;
    return FX_OK;
}

/* DELETE /v3/tokens/{token_id}: revokes one of the caller's tokens. Looked up in the
 * caller's own list, so another account's token id answers 404 like an unknown one. */
enum fx_err fx_h_token_revoke(struct fx_req *r)
{
    struct token_find f = {r->params[0], false};
    enum fx_err e = fx_store_token_list(r->api->store, r->caller.uid, token_match, &f);
    if (!e && !f.active) e = FX_ERR_NOT_FOUND;
    if (!e) e = fx_store_token_revoke(r->api->store, f.id);
    if (e == FX_ERR_NOT_FOUND) return fx_req_fail(r, e, "No such token");
    return e ? e : fx_reply_empty(r);
}

/* ---- the interface's own files ---- */

static const struct {
    const char *ext, *type;
} static_types[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
    {".png", "image/png"},                 {".ico", "image/x-icon"},
    {".json", "application/json; charset=utf-8"},
    {".webmanifest", "application/manifest+json"},
};

/* No inline script or style anywhere: everything comes from faxd itself. Page images
 * arrive as data: URIs (previews) or from the API (img-src 'self'). */
#define CSP                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " \
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; object-src 'none'; "        \
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

void fx_web_init(struct fx_api *api)
{
    char dir[PATH_MAX + 64];
    if (api->conf->web_dir[0]) {
        fx_strlcpy(dir, api->conf->web_dir, sizeof dir);
    } else {
        /* ../share/faxd/web from the program: the build tree copies web/ there too. */
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(dir, sizeof dir, "%s/../share/faxd/web", exe);
    }
    if (!realpath(dir, api->web_dir)) {
        api->web_dir[0] = 0;
        fx_warn("api web interface not found dir=%s", dir);
        return;
    }
    fx_info("api web interface dir=%s", api->web_dir);
}

/* A safe relative path: letters, digits, '-', '_', '.', '/' only; no empty segment and
 * no segment starting with '.' (so no "..", no hidden files). */
static bool static_name_ok(const char *rel)
{
    if (!*rel || strlen(rel) > 200) return false;
    bool seg_start = true;
    for (const char *p = rel; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (seg_start && (c == '.' || c == '/')) return false;
        if (!isalnum(c) && c != '-' && c != '_' && c != '.' && c != '/') return false;
        seg_start = c == '/';
    }
    return !seg_start;
}

static const char *static_type(const char *rel)
{
    const char *dot = strrchr(rel, '.');
    for (size_t i = 0; dot && i < sizeof static_types / sizeof static_types[0]; i++)
        if (strcmp(dot, static_types[i].ext) == 0) return static_types[i].type;
    return NULL;
}

enum fx_err fx_web_static(struct fx_req *r, const char *url)
{
    const char *rel = url[0] == '/' ? url + 1 : url;
    if (!*rel) rel = "index.html";
    const char *type = static_type(rel);
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (!r->api->web_dir[0] || !get || !static_name_ok(rel) || !type) return FX_ERR_NOT_FOUND;
    char path[PATH_MAX * 2], real[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", r->api->web_dir, rel);
    /* Symbolic links may not lead out of the folder either. */
    size_t root = strlen(r->api->web_dir);
    if (!realpath(path, real) || strncmp(real, r->api->web_dir, root) != 0 || real[root] != '/')
        return FX_ERR_NOT_FOUND;
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        return FX_ERR_NOT_FOUND;
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return FX_ERR_NOMEM;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    return fx_reply_response(r, 200, resp);
}
