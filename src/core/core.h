/* core: what every faxd module shares — the one error enum, logging, the injectable
 * clock, random ids, timestamp formats, growable buffers and hashing.
 *
 * Ownership: every char* argument is borrowed unless a comment says otherwise. */
#ifndef FX_CORE_H
#define FX_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- errors -------------------------------------------------------------
 * One enum for the whole program. Each value has one row in core.c's table giving
 * its HTTP status and the API error code that clients see, so the API never invents
 * error shapes of its own. Fax and SIP outcomes are *results*, never fx_err. */
enum fx_err {
    FX_OK = 0,
    FX_ERR_INVALID,          /* 400 invalid_request: a value the caller sent is wrong */
    FX_ERR_BAD_JSON,         /* 400 invalid_json */
    FX_ERR_TOO_MANY_FILES,   /* 400 too_many_files */
    FX_ERR_TOO_MANY_DESTS,   /* 400 too_many_destinations */
    FX_ERR_UNAUTHORIZED,     /* 401 unauthorized */
    FX_ERR_FORBIDDEN,        /* 403 forbidden */
    FX_ERR_SCOPE,            /* 403 insufficient_scope */
    FX_ERR_NOT_FOUND,        /* 404 not_found */
    FX_ERR_METHOD,           /* 405 method_not_allowed */
    FX_ERR_CONFLICT,         /* 409 conflict: the record is in a state that forbids this */
    FX_ERR_TOO_LARGE,        /* 413 payload_too_large */
    FX_ERR_RATE,             /* 429 too_many_requests */
    FX_ERR_HEADERS_TOO_LARGE,/* 431 headers_too_large */
    FX_ERR_NOMEM,            /* 500 internal_error */
    FX_ERR_IO,               /* 500 internal_error */
    FX_ERR_DB,               /* 500 internal_error */
    FX_ERR_INTERNAL,         /* 500 internal_error */
    FX_ERR_UNAVAILABLE,      /* 503 unavailable: shutting down, store busy */
    FX_ERR__COUNT
};

/* Short stable name ("FX_ERR_INVALID" → "invalid_request"): the API error code. */
const char *fx_err_code(enum fx_err e);
/* HTTP status that answers this error. */
unsigned fx_err_http_status(enum fx_err e);
/* Default human description for this error, used when no better text is known. */
const char *fx_err_text(enum fx_err e);

/* ---- logging -------------------------------------------------------------
 * One line per event: `ts level msg key=value ...`. Never log secrets or document
 * contents. Thread-safe (one write(2) per line). */
enum fx_log_level { FX_LOG_DEBUG, FX_LOG_INFO, FX_LOG_WARN, FX_LOG_ERROR };
void fx_log_set_level(enum fx_log_level lvl);
/* Parses "debug|info|warn|error"; false when unknown. */
bool fx_log_level_parse(const char *s, enum fx_log_level *out);
void fx_log(enum fx_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when lines of this level are written (lets costly detail be skipped). */
bool fx_log_enabled(enum fx_log_level lvl);
#define fx_debug(...) fx_log(FX_LOG_DEBUG, __VA_ARGS__)
#define fx_info(...) fx_log(FX_LOG_INFO, __VA_ARGS__)
#define fx_warn(...) fx_log(FX_LOG_WARN, __VA_ARGS__)
#define fx_error(...) fx_log(FX_LOG_ERROR, __VA_ARGS__)

/* ---- clock ----------------------------------------------------------------
 * All of faxd reads time through here so tests can move it. The offset is added to
 * the real clock; FAXD_TEST_CLOCK_OFFSET (seconds) sets it at start. */
int64_t fx_clock_now(void);    /* unix seconds */
int64_t fx_clock_now_ms(void); /* unix milliseconds */
int64_t fx_clock_mono_ms(void);/* monotonic milliseconds, for timeouts only */
void fx_clock_set_offset(int64_t seconds);

/* ---- ids and randomness ---------------------------------------------------- */
#define FX_ID_LEN 32 /* hex characters in an id; buffers are FX_ID_LEN + 1 */
/* Fills out[FX_ID_LEN+1] with 128 random bits in lower-case hex. */
void fx_id_new(char out[FX_ID_LEN + 1]);
/* Fills buf with n cryptographically random bytes. */
void fx_random_bytes(void *buf, size_t n);
/* True when s is exactly FX_ID_LEN lower-case hex characters. */
bool fx_id_valid(const char *s);

/* ---- hashing -------------------------------------------------------------- */
/* out[65] = lower-case hex SHA-256 of data. */
void fx_sha256_hex(const void *data, size_t len, char out[65]);
/* HMAC-SHA-256 of data under key (its bytes as given), in lower-case hex. */
void fx_hmac_sha256_hex(const char *key, const void *data, size_t len, char out[65]);
/* Streaming SHA-256: state is opaque storage big enough for the implementation. */
struct fx_sha256 {
    unsigned char opaque[128] __attribute__((aligned(16)));
};
void fx_sha256_init(struct fx_sha256 *h);
void fx_sha256_update(struct fx_sha256 *h, const void *data, size_t len);
void fx_sha256_final_hex(struct fx_sha256 *h, char out[65]);
/* Standard base64 (with padding) of data; new string (free()), NULL on OOM. */
char *fx_base64(const void *data, size_t len);
/* Decodes standard base64 (padding optional, no whitespace) into out[max]; false when the
 * text is not base64 or does not fit. *len gets the decoded size. */
bool fx_base64_decode(const char *text, void *out, size_t max, size_t *len);
/* Constant-time comparison of two equal-length strings. */
bool fx_str_equal_ct(const char *a, const char *b);

/* A new personal access token: secret[80] gets "faxd_" and 256 random bits in hex (shown
 * to its owner once), hash[65] its SHA-256 (all that is stored). */
void fx_token_secret(char secret[80], char hash[65]);

/* ---- passwords: Argon2id (libsodium's crypto_pwhash_str, interactive limits) ---- */
#define FX_PASSWORD_HASH_SIZE 128 /* the encoded hash with its parameters, NUL included */
/* Hashes password into out (a self-describing "$argon2id$..." string). FX_ERR_NOMEM
 * when the memory the hash needs cannot be had. */
enum fx_err fx_password_hash(const char *password, char out[FX_PASSWORD_HASH_SIZE]);
/* True when password matches hash. An empty or malformed hash never matches, but costs
 * the same time as a real check (so an unknown account cannot be told from the timing). */
bool fx_password_verify(const char *password, const char *hash);

/* ---- time formats ------------------------------------------------------------
 * The API speaks UTC "YYYY-MM-DD HH:MM:SS"; send_time adds " +HHMM". */
#define FX_TIME_LEN 20 /* "YYYY-MM-DD HH:MM:SS" + NUL */
void fx_time_format(int64_t t, char out[FX_TIME_LEN]);
/* "YYYY-MM-DD HH:MM:SS +0000" into out[26]. */
void fx_time_format_zone(int64_t t, char out[26]);
/* Parses "YYYY-MM-DD HH:MM:SS" (UTC) with strict ranges. */
bool fx_time_parse(const char *s, int64_t *out);
/* Parses "YYYY-MM-DD HH:MM:SS +HHMM" or "-HHMM"; the result is UTC. */
bool fx_time_parse_zone(const char *s, int64_t *out);

/* ---- buffers ------------------------------------------------------------- */
struct fx_buf {
    char *data; /* NUL-terminated when len < cap */
    size_t len;
    size_t cap;
};
void fx_buf_init(struct fx_buf *b);
void fx_buf_free(struct fx_buf *b);
enum fx_err fx_buf_append(struct fx_buf *b, const void *data, size_t n);
enum fx_err fx_buf_printf(struct fx_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the NUL-terminated data to the caller (free with free()) and resets b. */
char *fx_buf_steal(struct fx_buf *b);

/* ---- strings ------------------------------------------------------------- */
/* strdup that returns NULL for NULL. */
char *fx_strdup(const char *s);
/* Copies src into dst[size], truncating; returns false when truncated. */
bool fx_strlcpy(char *dst, const char *src, size_t size);
/* True when s is valid UTF-8 (no overlongs, no surrogates) of len bytes. */
bool fx_utf8_valid(const char *s, size_t len);

/* ---- fax statuses ------------------------------------------------------------
 * The 23 final statuses of a fax (Fax.Plus's FaxStatus enum; see STATUS in docs). */
bool fx_status_valid(const char *status);
/* A sentence for people ("The line was busy"); "Unknown status" for other values. */
const char *fx_status_text(const char *status);

/* ---- phone numbers ---------------------------------------------------------
 * Normalises a dialable number to E.164 ("+" and 8..15 digits, first digit not 0):
 * spaces, dashes, dots, slashes and parentheses are dropped; "00" becomes "+"; a
 * national number (leading "0" trunk prefix, or no prefix) gets default_cc in front.
 * out[24]. False when the result is not a valid E.164 number. */
bool fx_e164_normalize(const char *in, const char *default_cc, char out[24]);
/* True when s is already E.164 ("+" then 8..15 digits, first not 0). */
bool fx_e164_valid(const char *s);

/* ---- billing rates ----------------------------------------------------------
 * "prefix:multiplier" pairs separated by commas ("+1:1,+44:2,+1900:refuse"); the longest
 * matching prefix wins; numbers matching none cost multiplier 1. */
#define FX_RATES_MAX 64
struct fx_rates {
    int n;
    struct {
        char prefix[20];
        double multiplier;
        bool refused;
    } row[FX_RATES_MAX];
};
/* Parses spec ("" = no rows); false with why[] naming the bad entry. */
bool fx_rates_parse(const char *spec, struct fx_rates *out, char *why, size_t why_len);
/* The multiplier for number; true when calls to it are refused. */
bool fx_rates_find(const struct fx_rates *r, const char *number, double *multiplier);

/* A CLOCK_REALTIME time ms milliseconds from now, for pthread_cond_timedwait. */
void fx_deadline_ms(struct timespec *ts, int64_t ms);

/* ---- crash points ------------------------------------------------------------
 * Named places where a `kill -9` is most dangerous (mid-upload, mid-conversion, mid-page,
 * between a call's end and its record, …). FAXD_TEST_CRASH_AT=name[:n] makes the n-th
 * (default first) passage through `name` kill faxd with SIGKILL, so the crash-safety
 * tests can stop faxd exactly there; FAXD_TEST_CRASH_SIGNAL=TERM makes it a clean stop
 * (SIGTERM) at that point instead. Without the variables this is one cached check. */
void fx_crash_point(const char *name);

/* ---- files ------------------------------------------------------------------ */
/* mkdir -p with mode 0750. */
enum fx_err fx_mkdirs(const char *path);
/* fsync the directory holding path, so a rename inside it is durable. */
enum fx_err fx_fsync_dir(const char *dir);
/* Removes the files directly in dir (not dot files, not subdirectories' contents): the
 * temporaries a killed process left. FX_ERR_IO when dir cannot be read. */
enum fx_err fx_dir_clear(const char *dir);

/* The pid file of the faxd serving a data directory, <data_dir>/faxd.pid, locked (flock)
 * for the process's life: a second faxd on the same directory would release the first
 * one's leases at its start and dial their faxes again, so it must refuse to start; and
 * faxctl finds the running faxd there (to drain it). The kernel drops the lock when the
 * process dies, however it dies.
 * fx_pidfile_take: locks the file and writes our pid; *fd is the open descriptor, to keep
 * open until exit. FX_ERR_CONFLICT when another process holds it (*holder gets its pid,
 * 0 if unknown); FX_ERR_IO when the file cannot be opened. */
enum fx_err fx_pidfile_take(const char *data_dir, int *fd, long *holder);
/* The pid of the faxd holding data_dir's pid file; FX_ERR_NOT_FOUND when none runs. */
enum fx_err fx_pidfile_holder(const char *data_dir, long *pid);

#endif
