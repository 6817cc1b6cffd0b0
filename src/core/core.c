/* core: error table, logging, clock, ids, hashing, time formats, buffers.
 * libsodium is used only here (random bytes, SHA-256, constant-time compare). */
#include "core/core.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

/* ---- errors ---- */
static const struct {
    unsigned http;
    const char *code;
    const char *text;
} err_table[FX_ERR__COUNT] = {
    [FX_OK] = {200, "ok", "ok"},
    [FX_ERR_INVALID] = {400, "invalid_request", "The request is not valid"},
    [FX_ERR_BAD_JSON] = {400, "invalid_json", "The request body is not valid JSON"},
    [FX_ERR_TOO_MANY_FILES] = {400, "too_many_files", "Too many files in one fax"},
    [FX_ERR_TOO_MANY_DESTS] = {400, "too_many_destinations", "Too many destinations in one fax"},
    [FX_ERR_UNAUTHORIZED] = {401, "unauthorized", "A valid access token is required"},
    [FX_ERR_FORBIDDEN] = {403, "forbidden", "You may not access this resource"},
    [FX_ERR_SCOPE] = {403, "insufficient_scope", "The token lacks the scope for this operation"},
    [FX_ERR_NOT_FOUND] = {404, "not_found", "No such resource"},
    [FX_ERR_METHOD] = {405, "method_not_allowed", "Method not allowed on this resource"},
    [FX_ERR_CONFLICT] = {409, "conflict", "The resource is in a state that does not allow this"},
    [FX_ERR_TOO_LARGE] = {413, "payload_too_large", "The request is too large"},
    [FX_ERR_RATE] = {429, "too_many_requests", "Too many requests; slow down"},
    [FX_ERR_HEADERS_TOO_LARGE] = {431, "headers_too_large", "The request headers are too large"},
    [FX_ERR_NOMEM] = {500, "internal_error", "Out of memory"},
    [FX_ERR_IO] = {500, "internal_error", "Storage error"},
    [FX_ERR_DB] = {500, "internal_error", "Database error"},
    [FX_ERR_INTERNAL] = {500, "internal_error", "Internal error"},
    [FX_ERR_UNAVAILABLE] = {503, "unavailable", "Service temporarily unavailable"},
};

const char *fx_err_code(enum fx_err e)
{
    return (unsigned)e < FX_ERR__COUNT ? err_table[e].code : "internal_error";
}

unsigned fx_err_http_status(enum fx_err e)
{
    return (unsigned)e < FX_ERR__COUNT ? err_table[e].http : 500;
}

const char *fx_err_text(enum fx_err e)
{
    return (unsigned)e < FX_ERR__COUNT ? err_table[e].text : "Internal error";
}

/* ---- logging ---- */
static enum fx_log_level log_level = FX_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void fx_log_set_level(enum fx_log_level lvl)
{
    log_level = lvl;
}

bool fx_log_level_parse(const char *s, enum fx_log_level *out)
{
    for (unsigned i = 0; i < 4; i++) {
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (enum fx_log_level)i;
            return true;
        }
    }
    return false;
}

bool fx_log_enabled(enum fx_log_level lvl)
{
    return lvl >= log_level;
}

void fx_log(enum fx_log_level lvl, const char *fmt, ...)
{
    if (lvl < log_level) return;
    char line[2048];
    char ts[FX_TIME_LEN];
    int64_t ms = fx_clock_now_ms();
    fx_time_format(ms / 1000, ts);
    int n = snprintf(line, sizeof line, "%s.%03d %s ", ts, (int)(ms % 1000), level_names[lvl]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    /* One write per line keeps lines whole when threads log at once. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

/* ---- clock ---- */
static int64_t clock_offset;
static bool clock_offset_loaded;

static void clock_load_offset(void)
{
    if (clock_offset_loaded) return;
    const char *s = getenv("FAXD_TEST_CLOCK_OFFSET");
    if (s) clock_offset = strtoll(s, NULL, 10);
    clock_offset_loaded = true;
}

int64_t fx_clock_now(void)
{
    return fx_clock_now_ms() / 1000;
}

int64_t fx_clock_now_ms(void)
{
    clock_load_offset();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset * 1000;
}

int64_t fx_clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fx_clock_set_offset(int64_t seconds)
{
    clock_offset = seconds;
    clock_offset_loaded = true;
}

/* ---- ids and hashing ---- */
static void sodium_once(void)
{
    /* sodium_init is idempotent and thread-safe after the first call. */
    if (sodium_init() < 0) abort();
}

void fx_random_bytes(void *buf, size_t n)
{
    sodium_once();
    randombytes_buf(buf, n);
}

void fx_id_new(char out[FX_ID_LEN + 1])
{
    unsigned char raw[FX_ID_LEN / 2];
    fx_random_bytes(raw, sizeof raw);
    sodium_bin2hex(out, FX_ID_LEN + 1, raw, sizeof raw);
}

bool fx_id_valid(const char *s)
{
    if (!s || strlen(s) != FX_ID_LEN) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(struct fx_sha256),
               "fx_sha256 too small for libsodium's state");

void fx_sha256_init(struct fx_sha256 *h)
{
    sodium_once();
    crypto_hash_sha256_init((crypto_hash_sha256_state *)h->opaque);
}

void fx_sha256_update(struct fx_sha256 *h, const void *data, size_t len)
{
    crypto_hash_sha256_update((crypto_hash_sha256_state *)h->opaque, data, len);
}

void fx_sha256_final_hex(struct fx_sha256 *h, char out[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final((crypto_hash_sha256_state *)h->opaque, d);
    sodium_bin2hex(out, 65, d, sizeof d);
}

void fx_sha256_hex(const void *data, size_t len, char out[65])
{
    struct fx_sha256 h;
    fx_sha256_init(&h);
    fx_sha256_update(&h, data, len);
    fx_sha256_final_hex(&h, out);
}

void fx_hmac_sha256_hex(const char *key, const void *data, size_t len, char out[65])
{
    sodium_once();
    crypto_auth_hmacsha256_state st;
    unsigned char d[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, data, len);
    crypto_auth_hmacsha256_final(&st, d);
    sodium_bin2hex(out, 65, d, sizeof d);
}

char *fx_base64(const void *data, size_t len)
{
    sodium_once();
    size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(n);
    if (out) sodium_bin2base64(out, n, data, len, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

bool fx_base64_decode(const char *text, void *out, size_t max, size_t *len)
{
    sodium_once();
    const char *end = NULL;
    size_t n = strlen(text);
    if (sodium_base642bin(out, max, text, n, NULL, len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    return end == text + n;
}

bool fx_str_equal_ct(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb) return false;
    return sodium_memcmp(a, b, la) == 0;
}

void fx_token_secret(char secret[80], char hash[65])
{
    unsigned char raw[32]; /* 256 random bits */
    fx_random_bytes(raw, sizeof raw);
    memcpy(secret, "faxd_", 5);
    sodium_bin2hex(secret + 5, 80 - 5, raw, sizeof raw);
    fx_sha256_hex(secret, strlen(secret), hash);
}

/* ---- passwords ---- */
_Static_assert(FX_PASSWORD_HASH_SIZE >= crypto_pwhash_STRBYTES, "password hash buffer");

/* A fixed hash of a random password stands in for a missing one, so the work done (and
 * the time taken) does not depend on whether the account has a password. */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[FX_PASSWORD_HASH_SIZE];
static void make_dummy_hash(void)
{
    char pw[FX_ID_LEN + 1];
    fx_id_new(pw);
    if (fx_password_hash(pw, dummy_hash)) dummy_hash[0] = 0;
}

enum fx_err fx_password_hash(const char *password, char out[FX_PASSWORD_HASH_SIZE])
{
    sodium_once();
    char h[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(h, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13))
        return FX_ERR_NOMEM;
    fx_strlcpy(out, h, FX_PASSWORD_HASH_SIZE);
    return FX_OK;
}

bool fx_password_verify(const char *password, const char *hash)
{
    sodium_once();
    bool real = hash && strncmp(hash, "$argon2", 7) == 0;
    if (!real) {
        pthread_once(&dummy_once, make_dummy_hash);
        hash = dummy_hash;
    }
    bool ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
    return ok && real;
}

/* ---- time formats ---- */
void fx_time_format(int64_t t, char out[FX_TIME_LEN])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, FX_TIME_LEN, "%Y-%m-%d %H:%M:%S", &tm);
}

void fx_time_format_zone(int64_t t, char out[26])
{
    fx_time_format(t, out);
    memcpy(out + 19, " +0000", 7);
}

static bool parse_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool fx_time_parse(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se;
    if (!s || strlen(s) != 19) return false;
    if (s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':') return false;
    if (!parse_digits(s, 4, &y) || !parse_digits(s + 5, 2, &mo) || !parse_digits(s + 8, 2, &d) ||
        !parse_digits(s + 11, 2, &h) || !parse_digits(s + 14, 2, &mi) ||
        !parse_digits(s + 17, 2, &se))
        return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return false;
    if (d > mdays[mo - 1] + (mo == 2 && is_leap(y))) return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = se};
    *out = (int64_t)timegm(&tm);
    return true;
}

bool fx_time_parse_zone(const char *s, int64_t *out)
{
    int64_t t;
    int zh, zm;
    if (!s || strlen(s) != 25 || s[19] != ' ' || (s[20] != '+' && s[20] != '-')) return false;
    char base[20];
    memcpy(base, s, 19);
    base[19] = 0;
    if (!fx_time_parse(base, &t)) return false;
    if (!parse_digits(s + 21, 2, &zh) || !parse_digits(s + 23, 2, &zm) || zh > 14 || zm > 59)
        return false;
    int64_t off = (int64_t)zh * 3600 + zm * 60;
    *out = s[20] == '+' ? t - off : t + off;
    return true;
}

/* ---- buffers ---- */
void fx_buf_init(struct fx_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void fx_buf_free(struct fx_buf *b)
{
    if (!b) return;
    free(b->data);
    fx_buf_init(b);
}

static enum fx_err buf_reserve(struct fx_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return FX_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return FX_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return FX_OK;
}

enum fx_err fx_buf_append(struct fx_buf *b, const void *data, size_t n)
{
    enum fx_err e = buf_reserve(b, n);
    if (e) return e;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
    return FX_OK;
}

enum fx_err fx_buf_printf(struct fx_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return FX_ERR_INTERNAL;
    enum fx_err e = buf_reserve(b, (size_t)n);
    if (e) return e;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return FX_OK;
}

char *fx_buf_steal(struct fx_buf *b)
{
    char *p = b->data;
    if (!p) p = calloc(1, 1);
    fx_buf_init(b);
    return p;
}

/* ---- strings ---- */
char *fx_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

bool fx_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size == 0) return n == 0;
    size_t c = n < size - 1 ? n : size - 1;
    /* Never cut a UTF-8 sequence in half: back off to the start of the character. */
    if (c < n)
        while (c > 0 && ((unsigned char)src[c] & 0xC0) == 0x80) c--;
    memcpy(dst, src, c);
    dst[c] = 0;
    return c == n;
}

bool fx_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= n) return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

/* ---- files ---- */
/* ---- crash points ---- */
static pthread_once_t crash_once = PTHREAD_ONCE_INIT;
static char crash_name[64];
static long crash_left; /* passages before the kill; 0 = no crash point set */
static int crash_signal = SIGKILL;
static pthread_mutex_t crash_mu = PTHREAD_MUTEX_INITIALIZER;

static void crash_load(void)
{
    const char *s = getenv("FAXD_TEST_CRASH_AT");
    if (!s || !*s) return;
    fx_strlcpy(crash_name, s, sizeof crash_name);
    const char *sig = getenv("FAXD_TEST_CRASH_SIGNAL");
    if (sig && !strcmp(sig, "TERM")) crash_signal = SIGTERM;
    char *colon = strchr(crash_name, ':');
    crash_left = 1;
    if (colon) {
        *colon = 0;
        crash_left = strtol(colon + 1, NULL, 10);
        if (crash_left < 1) crash_left = 1;
    }
}

void fx_crash_point(const char *name)
{
    pthread_once(&crash_once, crash_load);
    if (!crash_name[0] || strcmp(name, crash_name) != 0) return;
    pthread_mutex_lock(&crash_mu);
    bool now = crash_left > 0 && --crash_left == 0;
    pthread_mutex_unlock(&crash_mu);
    if (now) {
        fprintf(stderr, "faxd crash point %s reached: %s\n", name,
                crash_signal == SIGKILL ? "SIGKILL" : "SIGTERM");
        /* SIGTERM goes to the process (blocked in threads, taken by main's sigwait). */
        if (crash_signal == SIGKILL) raise(SIGKILL);
        else kill(getpid(), SIGTERM);
    }
}

enum fx_err fx_mkdirs(const char *path)
{
    char tmp[4096];
    if (!path[0] || !fx_strlcpy(tmp, path, sizeof tmp)) return FX_ERR_INVALID;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0750) != 0 && errno != EEXIST) return FX_ERR_IO;
        *p = '/';
    }
    if (mkdir(tmp, 0750) != 0 && errno != EEXIST) return FX_ERR_IO;
    return FX_OK;
}

enum fx_err fx_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return FX_ERR_IO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? FX_OK : FX_ERR_IO;
}

enum fx_err fx_dir_clear(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return FX_ERR_IO;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
    return FX_OK;
}

void fx_deadline_ms(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static long pidfile_read(int fd)
{
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    return n > 0 ? strtol(buf, NULL, 10) : 0;
}

static int pidfile_open(const char *data_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/faxd.pid", data_dir);
    return open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
}

enum fx_err fx_pidfile_take(const char *data_dir, int *fd, long *holder)
{
    *holder = 0;
    int f = pidfile_open(data_dir);
    if (f < 0) return FX_ERR_IO;
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        *holder = pidfile_read(f);
        close(f);
        return FX_ERR_CONFLICT;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(f, 0) != 0 || pwrite(f, buf, (size_t)n, 0) != n) {
        close(f);
        return FX_ERR_IO;
    }
    *fd = f;
    return FX_OK;
}

enum fx_err fx_pidfile_holder(const char *data_dir, long *pid)
{
    int f = pidfile_open(data_dir);
    if (f < 0) return FX_ERR_NOT_FOUND;
    /* A shared lock succeeds only when no faxd holds the exclusive one. */
    bool running = flock(f, LOCK_SH | LOCK_NB) != 0;
    *pid = running ? pidfile_read(f) : 0;
    close(f);
    return running && *pid > 0 ? FX_OK : FX_ERR_NOT_FOUND;
}

/* ---- phone numbers ---- */
bool fx_e164_valid(const char *s)
{
    if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9') return false;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++)
        if (*p < '0' || *p > '9') return false;
    return n >= 8 && n <= 15;
}

bool fx_e164_normalize(const char *in, const char *default_cc, char out[24])
{
    char digits[64];
    size_t n = 0;
    bool plus = false;
    for (const char *p = in; *p; p++) {
        if (*p == '+' && n == 0 && !plus) {
            plus = true;
        } else if (*p >= '0' && *p <= '9') {
            if (n >= sizeof digits - 1) return false;
            digits[n++] = *p;
        } else if (!strchr(" -./()\t", *p)) {
            return false; /* letters, '*', '#' and the like are not dialable here */
        }
    }
    digits[n] = 0;
    const char *d = digits;
    char buf[80];
    bool national = !plus && !(d[0] == '0' && d[1] == '0');
    if (national && (!default_cc || !default_cc[0])) return false; /* no country to add */
    if (plus) {
        snprintf(buf, sizeof buf, "+%s", d);
    } else if (d[0] == '0' && d[1] == '0') {
        snprintf(buf, sizeof buf, "+%s", d + 2);
    } else if (d[0] == '0') {
        snprintf(buf, sizeof buf, "+%s%s", default_cc ? default_cc : "", d + 1);
    } else {
        /* No prefix: a number that already starts with the country code and is long
         * enough to be international keeps its digits ("12025550100" with cc 1). */
        size_t cl = default_cc ? strlen(default_cc) : 0;
        if (cl && strncmp(d, default_cc, cl) == 0 && n >= 10 + cl)
            snprintf(buf, sizeof buf, "+%s", d);
        else
            snprintf(buf, sizeof buf, "+%s%s", default_cc ? default_cc : "", d);
    }
    if (!fx_e164_valid(buf)) return false;
    return fx_strlcpy(out, buf, 24);
}

/* ---- fax statuses ---- */
static const struct {
    const char *code, *text;
} statuses[] = {
    {"success", "Delivered"},
    {"partially_sent", "Some pages were delivered before the call failed"},
    {"partially_received", "Some pages were received before the call failed"},
    {"insufficient_credit", "Not enough credit to send the fax"},
    {"failed", "The fax transmission failed"},
    {"failed_internal_process_error", "An internal error stopped the fax"},
    {"failed_user_busy", "The line was busy"},
    {"failed_no_answer", "Nobody answered"},
    {"failed_unallocated_number", "The number does not exist"},
    {"failed_office_converter_issue", "The office document could not be converted"},
    {"failed_separate_file_pages_issue", "The document's pages could not be read"},
    {"failed_render_header_issue", "The cover page or header could not be rendered"},
    {"failed_invalid_number_format", "The destination is not a valid phone number"},
    {"failed_mimetype_not_supported", "The file type is not supported"},
    {"failed_destination_not_supported", "Faxes to this destination are not allowed"},
    {"failed_image_preparation", "The image could not be prepared for faxing"},
    {"failed_to_send", "The call could not be placed"},
    {"failed_normal_temporary_failure", "The network failed temporarily"},
    {"failed_unknown_converter_issue", "The document could not be converted"},
    {"failed_normal_clearing", "The far end hung up before the fax started"},
    {"failed_convert_to_tiff_issue", "The pages could not be rendered for faxing"},
    {"failed_fs_49", "The call dropped during the fax exchange"},
    {"failed_fs_2", "No fax machine answered"},
};

bool fx_status_valid(const char *status)
{
    for (size_t i = 0; status && i < sizeof statuses / sizeof *statuses; i++)
        if (strcmp(statuses[i].code, status) == 0) return true;
    return false;
}

const char *fx_status_text(const char *status)
{
    for (size_t i = 0; status && i < sizeof statuses / sizeof *statuses; i++)
        if (strcmp(statuses[i].code, status) == 0) return statuses[i].text;
    return "Unknown status";
}

/* ---- billing rates ---- */
bool fx_rates_parse(const char *spec, struct fx_rates *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof *out);
    char buf[2048];
    if (!fx_strlcpy(buf, spec ? spec : "", sizeof buf)) {
        snprintf(why, why_len, "the rate list is too long");
        return false;
    }
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        char *colon = strchr(tok, ':');
        if (!colon || out->n == FX_RATES_MAX || colon - tok < 2 || colon - tok > 16 ||
            tok[0] != '+') {
            snprintf(why, why_len, "bad rate entry \"%s\" (want +PREFIX:MULTIPLIER)", tok);
            return false;
        }
        *colon = 0;
        for (const char *p = tok + 1; *p; p++)
            if (*p < '0' || *p > '9') {
                snprintf(why, why_len, "bad prefix \"%s\"", tok);
                return false;
            }
        fx_strlcpy(out->row[out->n].prefix, tok, sizeof out->row[0].prefix);
        if (strcmp(colon + 1, "refuse") == 0) {
            out->row[out->n].refused = true;
        } else {
            char *end;
            double m = strtod(colon + 1, &end);
            if (*end || !(m >= 0 && m <= 1000)) {
                snprintf(why, why_len, "bad multiplier \"%s\" for %s", colon + 1, tok);
                return false;
            }
            out->row[out->n].multiplier = m;
        }
        out->n++;
    }
    return true;
}

bool fx_rates_find(const struct fx_rates *r, const char *number, double *multiplier)
{
    int best = -1;
    size_t best_len = 0;
    for (int i = 0; r && i < r->n; i++) {
        size_t n = strlen(r->row[i].prefix);
        if (n > best_len && strncmp(number, r->row[i].prefix, n) == 0) {
            best = i;
            best_len = n;
        }
    }
    *multiplier = best < 0 ? 1 : r->row[best].multiplier;
    return best >= 0 && r->row[best].refused;
}
