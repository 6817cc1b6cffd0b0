/* Unit tests for core/: the error table, time formats, ids, SHA-256, constant-time
 * compare, buffers, strlcpy, UTF-8 validation, E.164 normalisation, fax statuses, the
 * injectable clock and mkdir -p.
 */
#include "core/core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

/* ---- errors ---- */

static void test_err_table(void)
{
    static const struct {
        enum fx_err e;
        unsigned http;
        const char *code;
    } want[] = {
        {FX_OK, 200, "ok"},
        {FX_ERR_INVALID, 400, "invalid_request"},
        {FX_ERR_BAD_JSON, 400, "invalid_json"},
        {FX_ERR_TOO_MANY_FILES, 400, "too_many_files"},
        {FX_ERR_TOO_MANY_DESTS, 400, "too_many_destinations"},
        {FX_ERR_UNAUTHORIZED, 401, "unauthorized"},
        {FX_ERR_FORBIDDEN, 403, "forbidden"},
        {FX_ERR_SCOPE, 403, "insufficient_scope"},
        {FX_ERR_NOT_FOUND, 404, "not_found"},
        {FX_ERR_METHOD, 405, "method_not_allowed"},
        {FX_ERR_CONFLICT, 409, "conflict"},
        {FX_ERR_TOO_LARGE, 413, "payload_too_large"},
        {FX_ERR_RATE, 429, "too_many_requests"},
        {FX_ERR_HEADERS_TOO_LARGE, 431, "headers_too_large"},
        {FX_ERR_NOMEM, 500, "internal_error"},
        {FX_ERR_IO, 500, "internal_error"},
        {FX_ERR_DB, 500, "internal_error"},
        {FX_ERR_INTERNAL, 500, "internal_error"},
        {FX_ERR_UNAVAILABLE, 503, "unavailable"},
    };
    size_t n = sizeof want / sizeof *want;
    /* The expectation table above covers every enum value exactly once (a new enum
     * value needs a row here too). */
    CHECK(n == (size_t)FX_ERR__COUNT);
    int seen[FX_ERR__COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)want[i].e < FX_ERR__COUNT) seen[want[i].e]++;
        CHECK_STR(fx_err_code(want[i].e), want[i].code);
        CHECK(fx_err_http_status(want[i].e) == want[i].http);
    }
    /* The table is complete: no value below FX_ERR__COUNT lacks a row. */
    for (int e = 0; e < FX_ERR__COUNT; e++) {
        CHECK(seen[e] == 1);
        const char *code = fx_err_code((enum fx_err)e);
        const char *text = fx_err_text((enum fx_err)e);
        CHECK(code != NULL && code[0] != 0);
        CHECK(text != NULL && text[0] != 0);
        unsigned st = fx_err_http_status((enum fx_err)e);
        CHECK(st >= 200 && st <= 599);
    }
    /* Errors map to 4xx/5xx, never 200. */
    for (int e = 1; e < FX_ERR__COUNT; e++) CHECK(fx_err_http_status((enum fx_err)e) >= 400);
    /* Out of range values answer like an internal error. */
    CHECK_STR(fx_err_code(FX_ERR__COUNT), "internal_error");
    CHECK(fx_err_http_status(FX_ERR__COUNT) == 500);
    CHECK_STR(fx_err_text(FX_ERR__COUNT), "Internal error");
    CHECK_STR(fx_err_code((enum fx_err)-1), "internal_error");
    CHECK(fx_err_http_status((enum fx_err)-1) == 500);
    CHECK_STR(fx_err_text(FX_ERR_NOT_FOUND), "No such resource");
}

static void test_log_level_parse(void)
{
    enum fx_log_level l = FX_LOG_INFO;
    CHECK(fx_log_level_parse("debug", &l) && l == FX_LOG_DEBUG);
    CHECK(fx_log_level_parse("info", &l) && l == FX_LOG_INFO);
    CHECK(fx_log_level_parse("warn", &l) && l == FX_LOG_WARN);
    CHECK(fx_log_level_parse("error", &l) && l == FX_LOG_ERROR);
    l = FX_LOG_WARN;
    CHECK(!fx_log_level_parse("verbose", &l) && l == FX_LOG_WARN);
    CHECK(!fx_log_level_parse("INFO", &l));
    CHECK(!fx_log_level_parse("", &l));
    CHECK(!fx_log_level_parse(NULL, &l));
}

/* ---- time ---- */

static void test_time_format(void)
{
    char ts[FX_TIME_LEN];
    fx_time_format(0, ts);
    CHECK_STR(ts, "1970-01-01 00:00:00");
    fx_time_format(951782400, ts); /* leap day of a year divisible by 400 */
    CHECK_STR(ts, "2000-02-29 00:00:00");
    fx_time_format(1709210096, ts);
    CHECK_STR(ts, "2024-02-29 12:34:56");
    fx_time_format(1767254400, ts);
    CHECK_STR(ts, "2026-01-01 08:00:00");
    fx_time_format(1767225599, ts);
    CHECK_STR(ts, "2025-12-31 23:59:59");
    fx_time_format(4102444800LL, ts); /* past 2038 */
    CHECK_STR(ts, "2100-01-01 00:00:00");

    char tz[26];
    fx_time_format_zone(1767254400, tz);
    CHECK_STR(tz, "2026-01-01 08:00:00 +0000");
    CHECK(strlen(tz) == 25);
    fx_time_format_zone(0, tz);
    CHECK_STR(tz, "1970-01-01 00:00:00 +0000");
}

static void test_time_parse(void)
{
    int64_t t = -1;
    CHECK(fx_time_parse("1970-01-01 00:00:00", &t) && t == 0);
    CHECK(fx_time_parse("2026-01-01 08:00:00", &t) && t == 1767254400);
    CHECK(fx_time_parse("2000-02-29 00:00:00", &t) && t == 951782400);
    CHECK(fx_time_parse("2024-02-29 12:34:56", &t) && t == 1709210096);
    CHECK(fx_time_parse("2025-12-31 23:59:59", &t) && t == 1767225599);
    CHECK(fx_time_parse("2100-01-01 00:00:00", &t) && t == 4102444800LL);

    /* Round trip over a spread of instants, including leap days and year ends. */
    static const int64_t samples[] = {0,          1,          59,         86399,
                                      86400,      68169599,   68169600,   951782400,
                                      951868799,  1709164800, 1709251199, 1735689599,
                                      1767225599, 2147483647, 2147483648LL, 4107542399LL};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        char ts[FX_TIME_LEN];
        int64_t back = -1;
        fx_time_format(samples[i], ts);
        CHECK(fx_time_parse(ts, &back));
        CHECK(back == samples[i]);
    }
    /* Every day of a leap year and a common year round-trips. */
    int bad = 0;
    for (int64_t d = 0; d < 366 + 365; d++) {
        int64_t x = 1704067200 + d * 86400 + 3723, back = -1; /* 2024-01-01 01:02:03 + d days */
        char ts[FX_TIME_LEN];
        fx_time_format(x, ts);
        if (!fx_time_parse(ts, &back) || back != x) bad++;
    }
    CHECK(bad == 0);

    /* Invalid dates and times are refused and leave *out alone. */
    static const char *const invalid[] = {
        "2023-02-29 00:00:00", /* not a leap year */
        "2100-02-29 00:00:00", /* divisible by 100, not by 400 */
        "2024-02-30 00:00:00",
        "2024-04-31 00:00:00",
        "2024-13-01 00:00:00",
        "2024-00-10 00:00:00",
        "2024-01-00 00:00:00",
        "2024-01-32 00:00:00",
        "2026-01-01 24:00:00",
        "2026-01-01 23:60:00",
        "2026-01-01 23:59:60",
        "2026/01/01 00:00:00", /* wrong separators */
        "2026-01-01T00:00:00",
        "2026-01-01 00.00.00",
        "2026-01-01 00:00",
        "26-01-01 00:00:00",
        "2026-1-01 00:00:00",
        "2026-01-01 0a:00:00",
        "2026-01-01 -1:00:00",
        "1969-12-31 23:59:59",
        "",
        "not a date at all",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        t = 12345;
        bool ok = fx_time_parse(invalid[i], &t);
        CHECK(!ok);
        CHECK(t == 12345);
        if (ok) fprintf(stderr, "  accepted: \"%s\"\n", invalid[i]);
    }
    CHECK(!fx_time_parse(NULL, &t));
    /* "Parses YYYY-MM-DD HH:MM:SS": text after the seconds should be refused. */
    CHECK(!fx_time_parse("2026-01-01 10:00:00Z", &t));
    CHECK(!fx_time_parse("2026-01-01 10:00:00 +0200", &t));
}

static void test_time_parse_zone(void)
{
    int64_t t = -1;
    char ts[FX_TIME_LEN];
    CHECK(fx_time_parse_zone("2026-01-01 10:00:00 +0200", &t));
    fx_time_format(t, ts);
    CHECK_STR(ts, "2026-01-01 08:00:00");
    CHECK(t == 1767254400);
    CHECK(fx_time_parse_zone("2026-01-01 03:00:00 -0500", &t));
    fx_time_format(t, ts);
    CHECK_STR(ts, "2026-01-01 08:00:00");
    CHECK(fx_time_parse_zone("2026-01-01 08:00:00 +0000", &t) && t == 1767254400);
    CHECK(fx_time_parse_zone("2026-01-01 08:00:00 -0000", &t) && t == 1767254400);
    CHECK(fx_time_parse_zone("2026-01-01 13:30:00 +0530", &t));
    fx_time_format(t, ts);
    CHECK_STR(ts, "2026-01-01 08:00:00");
    CHECK(fx_time_parse_zone("2025-12-31 22:15:00 -0945", &t));
    fx_time_format(t, ts);
    CHECK_STR(ts, "2026-01-01 08:00:00");
    /* Crossing a date (and a leap day) backwards and forwards. */
    CHECK(fx_time_parse_zone("2024-03-01 01:00:00 +0200", &t));
    fx_time_format(t, ts);
    CHECK_STR(ts, "2024-02-29 23:00:00");
    CHECK(fx_time_parse_zone("2024-02-28 22:00:00 -0300", &t));
    fx_time_format(t, ts);
    CHECK_STR(ts, "2024-02-29 01:00:00");
    CHECK(fx_time_parse_zone("2026-01-01 08:00:00 +1400", &t) && t == 1767254400 - 14 * 3600);

    /* A zone-format round trip. */
    char tz[26];
    fx_time_format_zone(1709210096, tz);
    CHECK(fx_time_parse_zone(tz, &t) && t == 1709210096);

    static const char *const invalid[] = {
        "2026-01-01 10:00:00",        /* no zone */
        "2026-01-01 10:00:00 0200",   /* no sign */
        "2026-01-01 10:00:00 +02:00", /* colon */
        "2026-01-01 10:00:00+0200",   /* no space */
        "2026-01-01 10:00:00 +020",
        "2026-01-01 10:00:00 +02000",
        "2026-01-01 10:00:00 +1500",  /* no zone is 15 hours off */
        "2026-01-01 10:00:00 +0260",
        "2026-01-01 10:00:00 Z    ",
        "2026-01-01 10:00:00 +02a0",
        "2023-02-29 10:00:00 +0200",  /* invalid date part */
        "2026-01-01 24:00:00 +0200",
        "2026-01-01T10:00:00 +0200",
        "",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        t = 777;
        bool ok = fx_time_parse_zone(invalid[i], &t);
        CHECK(!ok);
        CHECK(t == 777);
        if (ok) fprintf(stderr, "  accepted: \"%s\"\n", invalid[i]);
    }
    CHECK(!fx_time_parse_zone(NULL, &t));
}

/* ---- ids, randomness and hashing ---- */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_ids(void)
{
    enum { N = 1000 };
    static char ids[N][FX_ID_LEN + 1];
    int invalid = 0;
    for (int i = 0; i < N; i++) {
        memset(ids[i], 'X', sizeof ids[i]);
        fx_id_new(ids[i]);
        if (strlen(ids[i]) != FX_ID_LEN || !fx_id_valid(ids[i])) invalid++;
        for (int k = 0; k < FX_ID_LEN; k++) {
            char c = ids[i][k];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) invalid++;
        }
    }
    CHECK(invalid == 0);
    qsort(ids, N, sizeof ids[0], cmp_id);
    int dups = 0;
    for (int i = 1; i < N; i++) dups += strcmp(ids[i - 1], ids[i]) == 0;
    CHECK(dups == 0);

    CHECK(fx_id_valid("0123456789abcdef0123456789abcdef"));
    CHECK(!fx_id_valid("0123456789ABCDEF0123456789abcdef")); /* upper case */
    CHECK(!fx_id_valid("0123456789abcdef0123456789abcde"));  /* 31 */
    CHECK(!fx_id_valid("0123456789abcdef0123456789abcdef0")); /* 33 */
    CHECK(!fx_id_valid("0123456789abcdef0123456789abcdeg"));
    CHECK(!fx_id_valid("0123456789abcdef 123456789abcdef"));
    CHECK(!fx_id_valid("../3456789abcdef0123456789abcdef"));
    CHECK(!fx_id_valid(""));
    CHECK(!fx_id_valid(NULL));

    unsigned char a[32] = {0}, b[32] = {0}, zero[32] = {0};
    fx_random_bytes(a, sizeof a);
    fx_random_bytes(b, sizeof b);
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK(memcmp(a, zero, sizeof a) != 0);
}

static void test_sha256(void)
{
    char hex[65];
    fx_sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    fx_sha256_hex("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    fx_sha256_hex(two, strlen(two), hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    /* Streaming, one byte at a time and in uneven chunks, gives the same digests. */
    struct fx_sha256 h;
    fx_sha256_init(&h);
    fx_sha256_update(&h, "a", 1);
    fx_sha256_update(&h, "", 0);
    fx_sha256_update(&h, "b", 1);
    fx_sha256_update(&h, "c", 1);
    fx_sha256_final_hex(&h, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    static unsigned char big[100000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 131 + (i >> 7));
    char once[65], streamed[65];
    fx_sha256_hex(big, sizeof big, once);
    fx_sha256_init(&h);
    size_t off = 0, step = 1;
    while (off < sizeof big) {
        size_t k = step < sizeof big - off ? step : sizeof big - off;
        fx_sha256_update(&h, big + off, k);
        off += k;
        step = step * 3 + 7;
    }
    fx_sha256_final_hex(&h, streamed);
    CHECK_STR(streamed, once);
    CHECK(strlen(once) == 64);

    /* One million 'a' (FIPS 180-2 test vector), streamed. */
    static char as[1000];
    memset(as, 'a', sizeof as);
    fx_sha256_init(&h);
    for (int i = 0; i < 1000; i++) fx_sha256_update(&h, as, sizeof as);
    fx_sha256_final_hex(&h, hex);
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_str_equal_ct(void)
{
    CHECK(fx_str_equal_ct("secret-token", "secret-token"));
    CHECK(fx_str_equal_ct("", ""));
    CHECK(!fx_str_equal_ct("secret-token", "secret-tokeN"));
    CHECK(!fx_str_equal_ct("secret-token", "secret-token2"));
    CHECK(!fx_str_equal_ct("secret", "secret-token"));
    CHECK(!fx_str_equal_ct("", "x"));
    CHECK(!fx_str_equal_ct("x", ""));
    CHECK(!fx_str_equal_ct("abc", "abd"));
}

/* ---- buffers and strings ---- */

static void test_buf(void)
{
    struct fx_buf b;
    fx_buf_init(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    CHECK(fx_buf_append(&b, "abc", 3) == FX_OK);
    CHECK(b.len == 3);
    CHECK_STR(b.data, "abc");
    CHECK(fx_buf_printf(&b, "%d-%s", 42, "x") == FX_OK);
    CHECK(b.len == 7);
    CHECK_STR(b.data, "abc42-x");
    CHECK(fx_buf_append(&b, "", 0) == FX_OK);
    CHECK(b.len == 7);
    CHECK_STR(b.data, "abc42-x");
    CHECK(fx_buf_printf(&b, "%s", "") == FX_OK);
    CHECK(b.len == 7);
    /* Binary data with NULs keeps its length. */
    CHECK(fx_buf_append(&b, "\0z", 2) == FX_OK);
    CHECK(b.len == 9);
    CHECK(memcmp(b.data, "abc42-x\0z", 10) == 0);
    /* Growth well beyond the first allocation keeps every byte. */
    char chunk[1000];
    for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (char)('a' + i % 26);
    for (int i = 0; i < 50; i++) CHECK(fx_buf_append(&b, chunk, sizeof chunk) == FX_OK);
    CHECK(b.len == 9 + 50 * sizeof chunk);
    CHECK(b.cap > b.len);
    CHECK(b.data[b.len] == 0);
    int wrong = 0;
    for (size_t i = 0; i < 50 * sizeof chunk; i++)
        wrong += b.data[9 + i] != (char)('a' + (i % sizeof chunk) % 26);
    CHECK(wrong == 0);
    /* A long printf result. */
    CHECK(fx_buf_printf(&b, "%0600d|", 7) == FX_OK);
    CHECK(b.len == 9 + 50 * sizeof chunk + 601);
    CHECK(b.data[b.len - 1] == '|' && b.data[b.len - 2] == '7' && b.data[b.len - 3] == '0');
    CHECK(b.data[b.len] == 0);

    size_t len = b.len;
    char *s = fx_buf_steal(&b);
    CHECK(s != NULL);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    CHECK(s && strlen(s) == 7); /* stops at the embedded NUL */
    CHECK(s && s[len] == 0);
    free(s);

    /* Steal of an empty buffer gives an empty string, not NULL. */
    s = fx_buf_steal(&b);
    CHECK(s != NULL && s[0] == 0);
    free(s);

    /* printf into a fresh buffer. */
    CHECK(fx_buf_printf(&b, "%s=%u", "n", 5u) == FX_OK);
    CHECK_STR(b.data, "n=5");
    CHECK(b.len == 3);
    fx_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    fx_buf_free(&b); /* twice is harmless */
    fx_buf_free(NULL);
}

static void test_strings(void)
{
    char d[4];
    memset(d, 'X', sizeof d);
    CHECK(!fx_strlcpy(d, "abcdef", sizeof d));
    CHECK_STR(d, "abc");
    CHECK(fx_strlcpy(d, "abc", sizeof d));
    CHECK_STR(d, "abc");
    CHECK(fx_strlcpy(d, "", sizeof d));
    CHECK_STR(d, "");
    CHECK(!fx_strlcpy(d, "abcd", sizeof d));
    CHECK_STR(d, "abc");
    char one[1] = {'X'};
    CHECK(!fx_strlcpy(one, "a", 1));
    CHECK(one[0] == 0);
    CHECK(fx_strlcpy(one, "", 1));
    char none[1] = {'X'};
    CHECK(!fx_strlcpy(none, "a", 0));
    CHECK(none[0] == 'X'); /* size 0 writes nothing */

    char *p = fx_strdup("hello");
    CHECK_STR(p, "hello");
    free(p);
    CHECK(fx_strdup(NULL) == NULL);
}

static void test_utf8(void)
{
    static const struct {
        const char *s;
        size_t len; /* 0: strlen */
        bool ok;
    } cases[] = {
        {"", 0, true},
        {"plain ascii", 0, true},
        {"h\xc3\xa9llo", 0, true},          /* é */
        {"\xc2\x80", 0, true},              /* U+0080, smallest 2-byte */
        {"\xdf\xbf", 0, true},              /* U+07FF */
        {"\xe0\xa0\x80", 0, true},          /* U+0800, smallest 3-byte */
        {"\xe2\x82\xac", 0, true},          /* € */
        {"\xed\x9f\xbf", 0, true},          /* U+D7FF, just below surrogates */
        {"\xee\x80\x80", 0, true},          /* U+E000, just above */
        {"\xef\xbf\xbf", 0, true},          /* U+FFFF */
        {"\xf0\x90\x80\x80", 0, true},      /* U+10000, smallest 4-byte */
        {"\xf0\x9f\x98\x80", 0, true},      /* 😀 */
        {"\xf4\x8f\xbf\xbf", 0, true},      /* U+10FFFF */
        {"a\0b", 3, true},                  /* NUL is a character like any other */
        {"\xc0\xaf", 0, false},             /* overlong '/' */
        {"\xc1\xbf", 0, false},             /* overlong */
        {"\xc0\x80", 0, false},             /* overlong NUL */
        {"\xe0\x80\xaf", 0, false},         /* overlong 3-byte */
        {"\xe0\x9f\xbf", 0, false},         /* overlong U+07FF */
        {"\xf0\x80\x80\xaf", 0, false},     /* overlong 4-byte */
        {"\xf0\x8f\xbf\xbf", 0, false},     /* overlong U+FFFF */
        {"\xed\xa0\x80", 0, false},         /* U+D800 surrogate */
        {"\xed\xbf\xbf", 0, false},         /* U+DFFF surrogate */
        {"\xed\xa0\xbd\xed\xb8\x80", 0, false}, /* CESU-8 pair */
        {"\xf4\x90\x80\x80", 0, false},     /* U+110000 */
        {"\xf5\x80\x80\x80", 0, false},
        {"\xf7\xbf\xbf\xbf", 0, false},
        {"\xf8\x88\x80\x80\x80", 0, false}, /* 5-byte form */
        {"\xfc\x84\x80\x80\x80\x80", 0, false},
        {"\xfe", 0, false},
        {"\xff", 0, false},
        {"\x80", 0, false},                 /* lone continuation */
        {"a\xbf", 0, false},
        {"\xc3", 0, false},                 /* truncated 2-byte */
        {"\xe2\x82", 0, false},             /* truncated 3-byte */
        {"\xf0\x9f\x98", 0, false},         /* truncated 4-byte */
        {"abc\xf0\x9f", 0, false},
        {"\xc3(", 0, false},                /* bad continuation */
        {"\xe2\x28\xa1", 0, false},
        {"\xf0\x9f\x98\x28", 0, false},
        {"\xc3\xa9", 1, false},             /* length cuts the character */
        {"\xe2\x82\xac", 2, false},
        {"\xf0\x9f\x98\x80", 3, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].s);
        bool got = fx_utf8_valid(cases[i].s, len);
        CHECK(got == cases[i].ok);
        if (got != cases[i].ok) fprintf(stderr, "  utf8 case %zu\n", i);
    }
}

/* ---- phone numbers ---- */

static void test_e164(void)
{
    static const struct {
        const char *in, *cc, *out; /* out NULL: refused */
    } cases[] = {
        {"+1 (202) 555-0100", "1", "+12025550100"},
        {"+1 (202) 555-0100", "49", "+12025550100"},
        {"+1-202-555-0100", "1", "+12025550100"},
        {"+1.202.555.0100", "1", "+12025550100"},
        {"+1/202/555/0100", "1", "+12025550100"},
        {"+12025550100", "1", "+12025550100"},
        {"0049 30 1234567", "1", "+49301234567"},
        {"0049 30 1234567", "49", "+49301234567"},
        {"2025550100", "1", "+12025550100"},
        {"12025550100", "1", "+12025550100"},
        {"030 1234567", "49", "+49301234567"},
        {"030-123 4567", "49", "+49301234567"},
        {"+44 20 7946 0958", "1", "+442079460958"},
        {"+123456789012345", "1", "+123456789012345"}, /* 15 digits: the maximum */
        {"+12345678", "1", "+12345678"},               /* 8 digits: the minimum */
        {"abc", "1", NULL},
        {"12", "1", NULL},
        {"", "1", NULL},
        {"+", "1", NULL},
        {"+0123456789", "1", NULL},
        {"+1234567890123456", "1", NULL}, /* 16 digits */
        {"+1234567", "1", NULL},          /* 7 digits */
        {"00 0123456789", "1", NULL},
        {"+1 202 555 0100 ext 5", "1", NULL},
        {"*67 2025550100", "1", NULL},
        {"2025550100#", "1", NULL},
        {"+1+2025550100", "1", NULL},
        {"1+2025550100", "1", NULL},
        {"++12025550100", "1", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[24];
        memset(out, 'X', sizeof out);
        bool ok = fx_e164_normalize(cases[i].in, cases[i].cc, out);
        CHECK(ok == (cases[i].out != NULL));
        if (ok != (cases[i].out != NULL))
            fprintf(stderr, "  e164 \"%s\" cc %s: %s\n", cases[i].in, cases[i].cc,
                    ok ? out : "refused");
        if (ok && cases[i].out) CHECK_STR(out, cases[i].out);
    }
    /* Far too many digits is refused, not overflowed. */
    char out[24];
    char longnum[200];
    memset(longnum, '9', sizeof longnum - 1);
    longnum[sizeof longnum - 1] = 0;
    CHECK(!fx_e164_normalize(longnum, "1", out));

    CHECK(fx_e164_valid("+12025550100"));
    CHECK(fx_e164_valid("+12345678"));
    CHECK(fx_e164_valid("+123456789012345"));
    CHECK(!fx_e164_valid("+1234567"));
    CHECK(!fx_e164_valid("+1234567890123456"));
    CHECK(!fx_e164_valid("12025550100"));
    CHECK(!fx_e164_valid("+02025550100"));
    CHECK(!fx_e164_valid("+1 2025550100"));
    CHECK(!fx_e164_valid("+1-202-555-0100"));
    CHECK(!fx_e164_valid("+"));
    CHECK(!fx_e164_valid(""));
    CHECK(!fx_e164_valid(NULL));
    /* With no default country a national number cannot be made international (it must
     * not silently become +301234567, a Greek number). */
    CHECK(!fx_e164_normalize("030 1234567", NULL, out));
    CHECK(!fx_e164_normalize("030 1234567", "", out));
}

/* ---- statuses ---- */

static void test_statuses(void)
{
    static const char *const all[] = {
        "success",
        "partially_sent",
        "partially_received",
        "insufficient_credit",
        "failed",
        "failed_internal_process_error",
        "failed_user_busy",
        "failed_no_answer",
        "failed_unallocated_number",
        "failed_office_converter_issue",
        "failed_separate_file_pages_issue",
        "failed_render_header_issue",
        "failed_invalid_number_format",
        "failed_mimetype_not_supported",
        "failed_destination_not_supported",
        "failed_image_preparation",
        "failed_to_send",
        "failed_normal_temporary_failure",
        "failed_unknown_converter_issue",
        "failed_normal_clearing",
        "failed_convert_to_tiff_issue",
        "failed_fs_49",
        "failed_fs_2",
    };
    CHECK(sizeof all / sizeof *all == 23);
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        CHECK(fx_status_valid(all[i]));
        const char *t = fx_status_text(all[i]);
        CHECK(t != NULL && t[0] != 0 && strcmp(t, "Unknown status") != 0);
    }
    static const char *const not_final[] = {
        "in_progress", "submitted", "converting", "scheduled_for_sending", "sending",
        "SUCCESS",     "success ",  "",           "failed_fs_",            "fail",
    };
    for (size_t i = 0; i < sizeof not_final / sizeof *not_final; i++) {
        CHECK(!fx_status_valid(not_final[i]));
        CHECK_STR(fx_status_text(not_final[i]), "Unknown status");
    }
    CHECK(!fx_status_valid(NULL));
    CHECK_STR(fx_status_text(NULL), "Unknown status");
    CHECK_STR(fx_status_text("success"), "Delivered");
    CHECK_STR(fx_status_text("failed_user_busy"), "The line was busy");
    CHECK_STR(fx_status_text("failed_no_answer"), "Nobody answered");
    CHECK_STR(fx_status_text("failed_fs_2"), "No fax machine answered");
}

/* ---- clock ---- */

static void test_clock(void)
{
    fx_clock_set_offset(0);
    int64_t base = fx_clock_now();
    int64_t base_ms = fx_clock_now_ms();
    CHECK(base > 1700000000); /* a sane real clock */
    CHECK(base_ms / 1000 - base >= 0 && base_ms / 1000 - base <= 1);
    int64_t mono = fx_clock_mono_ms();

    fx_clock_set_offset(3600);
    int64_t later = fx_clock_now();
    CHECK(later - base >= 3600 && later - base <= 3602);
    int64_t later_ms = fx_clock_now_ms();
    CHECK(later_ms - base_ms >= 3600000 && later_ms - base_ms <= 3602000);
    /* The monotonic clock does not move with the offset. */
    CHECK(fx_clock_mono_ms() - mono < 2000);

    fx_clock_set_offset(-86400);
    int64_t earlier = fx_clock_now();
    CHECK(base - earlier >= 86398 && base - earlier <= 86400);

    fx_clock_set_offset(0);
    CHECK(fx_clock_now() - base >= 0 && fx_clock_now() - base <= 2);
}

/* ---- files ---- */

static void test_mkdirs(void)
{
    const char *tmp = getenv("TMPDIR");
    char base[256];
    snprintf(base, sizeof base, "%s/test_core_XXXXXX", tmp && strlen(tmp) < 100 ? tmp : "/tmp");
    CHECK(mkdtemp(base) != NULL);
    char deep[400], mid[400], top[400], file[400], under_file[420];
    snprintf(top, sizeof top, "%s/a", base);
    snprintf(mid, sizeof mid, "%s/a/b", base);
    snprintf(deep, sizeof deep, "%s/a/b/c", base);
    CHECK(fx_mkdirs(deep) == FX_OK);
    struct stat st;
    CHECK(stat(deep, &st) == 0 && S_ISDIR(st.st_mode));
    mode_t um = umask(0);
    umask(um);
    CHECK(stat(deep, &st) == 0 && (st.st_mode & 0777) == (0750 & ~um));
    CHECK(fx_mkdirs(deep) == FX_OK); /* exists already: fine */
    char trailing[420];
    snprintf(trailing, sizeof trailing, "%s/", deep);
    CHECK(fx_mkdirs(trailing) == FX_OK);
    /* A regular file in the way is an I/O error. */
    snprintf(file, sizeof file, "%s/file", base);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    snprintf(under_file, sizeof under_file, "%s/x/y", file);
    CHECK(fx_mkdirs(under_file) == FX_ERR_IO);
    /* A path longer than the internal buffer is refused. */
    static char huge[5000];
    memset(huge, 'a', sizeof huge - 1);
    huge[0] = '/';
    CHECK(fx_mkdirs(huge) == FX_ERR_INVALID);

    CHECK(fx_fsync_dir(deep) == FX_OK);
    CHECK(fx_fsync_dir(file) == FX_ERR_IO);

    unlink(file);
    rmdir(deep);
    rmdir(mid);
    rmdir(top);
    CHECK(rmdir(base) == 0);
}

int main(void)
{
    fx_log_set_level(FX_LOG_ERROR);
    test_err_table();
    test_log_level_parse();
    test_time_format();
    test_time_parse();
    test_time_parse_zone();
    test_ids();
    test_sha256();
    test_str_equal_ct();
    test_buf();
    test_strings();
    test_utf8();
    test_e164();
    test_statuses();
    test_clock();
    test_mkdirs();
    return fx_check_result("test_core");
}
