/* fax: one T.30 fax session over G.711 audio or T.38 — faxd's only wrapper of spandsp 0.0.6.
 *
 * Design (see FAXENGINE.md for the measured behaviour this follows):
 * - A session is a spandsp fax_state_t (audio) or t38_terminal_state_t (T.38) plus its T.30
 *   engine, driven by the caller once per 20 ms tick. The session's clock is the sample count
 *   advanced by fx_fax_tick, so a call runs identically in real time or back to back on sample
 *   time; durations and watchdogs are measured on it, never on the wall clock.
 * - Results: the phase B/D/E handlers copy spandsp's transfer statistics into struct
 *   fx_fax_result as the call goes (pages_confirmed grows page by page); phase E makes it final.
 *   Phase E stats lose the resolution once the document is closed, so the last non-zero values
 *   seen in phase D are kept.
 * - Watchdogs: spandsp's own timers can leave a call hanging (T.38+ECM when media dies, comfort
 *   noise), so fx_fax_tick ends the session with t30_terminate after no_media_timeout_ms
 *   without media, or after max_duration_ms; 0 disables either. Media over audio is a non-NULL
 *   payload (RTP flows both ways all the time). Over T.38 it is a packet either way: a T.38
 *   receiver sends nothing while a page comes in and a sender hears nothing while it sends
 *   one (a minute at V.17 for a dense page), so only a session where nothing moves either
 *   way is dead; a sender whose far end vanished mid-page ends on T.30's own timers (21).
 *   t30_terminate runs phase E at once (49, or 0 when the final MCF had already arrived).
 * - Receiving without a file (tiff_path NULL) is allowed: DIS then says "not ready to
 *   receive" and the far end's sender fails with 9 (used for sandbox far ends).
 * - spandsp 0.0.6 still calls localtime() once per received page (the TIFF DateTime tag):
 *   receivers on two threads finishing a page at once can race on its static buffer, at
 *   worst writing a wrong DateTime. Nothing else on this path calls localtime/gmtime.
 * - Page header: spandsp draws it (16 font rows, doubled at fine: 32 rows added at fine, 16 at
 *   normal) with "p.N" from the TIFF directory index. "Page n of M" is ours, written into the
 *   header info before the first page and again from the phase D handler before each next page.
 *   The time zone is always set (UTC) so drawing the header never calls localtime().
 * - Logging: 0.0.6's message handler has no user pointer, so every entry point records the
 *   session it runs in a thread-local; the handler reads it to tag lines with cfg.log_tag.
 *   T.30, FAX (audio front end and its modem switching) and T.38 terminal detail goes to debug,
 *   spandsp errors to warn; T.38 core only logs protocol warnings (at FLOW it hex-dumps every
 *   IFP packet). Hex dumps of long HDLC frames (ECM image data) are dropped: never log document
 *   contents. Text is cleaned to printable ASCII (the far end's ident appears in it).
 * - TIFF: fx_fax_tiff_check reads the file with libtiff to check what spandsp's T.4 encoder
 *   needs before a call (spandsp itself reads the TIFF through libtiff; image conversion stays
 *   in convert/). libtiff's process-wide warning/error handlers are routed to fx_debug once.
 *
 * Threads: a session is used by one thread at a time; sessions share nothing but the
 * read-only tables and the once-initialised libtiff handlers. */
#include "fax/fax.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h>

#include <spandsp.h>

#define FAX_RATE 8000         /* samples per second */
#define FAX_TZ "UTC0"         /* POSIX zone for the page header's timestamp */
#define FAX_PATH_MAX 256      /* spandsp's rx_file/tx_file buffers (private/t30.h) */
#define FAX_DUMP_MAX_BYTES 32 /* longer HDLC hex dumps are image data: not logged */

struct fx_fax_session {
    enum fx_fax_mode mode;
    bool sending, calling;
    char *path, *ident, *header_info, *log_tag;
    int first_page;  /* 0-based index of the first page sent */
    int last_page;   /* 0-based index of the last page sent */
    int total_pages; /* header "of M"; 0 = none */
    int no_media_ms, max_ms;
    fx_fax_t38_tx_cb t38_tx;
    void *t38_arg;

    fax_state_t *fax;          /* audio */
    t38_terminal_state_t *t38; /* T.38 */
    t38_core_state_t *core;    /* T.38 */
    t30_state_t *t30;
    modem_connect_tones_rx_state_t *tone_rx[2]; /* audio with detect_tones */
    enum fx_fax_tone tone;

    int64_t samples;    /* session clock */
    int64_t last_media; /* clock at the end of the last tick with media */
    bool media_this_tick;
    bool negotiated; /* a DCS went by: the bit rate/ECM in the stats mean something */
    bool done;
    struct fx_fax_result res;
    char header[T30_MAX_PAGE_HEADER_INFO + 1];
    int16_t pcm[FX_FAX_FRAME];
};

/* The session whose spandsp code runs on this thread (see "Logging" above). */
static _Thread_local struct fx_fax_session *tl_session;

static struct fx_fax_session *enter(struct fx_fax_session *s)
{
    struct fx_fax_session *prev = tl_session;
    tl_session = s;
    return prev;
}

static void leave(struct fx_fax_session *prev)
{
    tl_session = prev;
}

static const char *tag_of(const struct fx_fax_session *s)
{
    return s && s->log_tag ? s->log_tag : "";
}

/* ---- logging ----------------------------------------------------------------- */

/* Copies n bytes of src into dst[size] with anything but printable ASCII, and '"', as '?':
 * text from the far end (its ident, echoed in T.30 logs) must not forge log lines. */
static void clean_copy(char *dst, size_t size, const char *src, size_t n)
{
    if (size == 0) return;
    if (n > size - 1) n = size - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c < 0x20 || c > 0x7E || c == '"' ? '?' : (char)c;
    }
    dst[n] = '\0';
}

/* True for span_log_buf output ("<prefix>Tx:  ff 13 80 ...") longer than max bytes. */
static bool long_hex_dump(const char *text, size_t n, int max_bytes)
{
    int groups = 0;
    while (n >= 3 && text[n - 3] == ' ' && isxdigit((unsigned char)text[n - 2]) &&
           isxdigit((unsigned char)text[n - 1])) {
        n -= 3;
        groups++;
    }
    return groups > max_bytes && n >= 2 && text[n - 1] == ' ' && text[n - 2] == ':';
}

static void span_message(int level, const char *text)
{
    struct fx_fax_session *s = tl_session;
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    if (n == 0 || long_hex_dump(text, n, FAX_DUMP_MAX_BYTES)) return;
    int sev = level & SPAN_LOG_SEVERITY_MASK;
    /* spandsp's WARNING level also fires in healthy calls ("ECM carrier not found" on every
       ECM receive): only ERROR is a faxd warning; the outcome is phase E's line anyway. */
    enum fx_log_level lvl = sev == SPAN_LOG_ERROR ? FX_LOG_WARN : FX_LOG_DEBUG;
    long long ms = s ? (long long)(s->samples * 1000 / FAX_RATE) : 0;
    char msg[1100];
    clean_copy(msg, sizeof msg, text, n);
    fx_log(lvl, "fax spandsp %s t=%lld.%03lld msg=\"%s\"", tag_of(s), ms / 1000, ms % 1000, msg);
}

static void span_error(const char *text)
{
    span_message(SPAN_LOG_ERROR, text);
}

static void log_route(logging_state_t *log, int level)
{
    if (!log) return;
    /* No SPAN_LOG_SHOW_SAMPLE_TIME: spandsp formats it with gmtime(), which is not
       thread-safe; the handler prints the session clock instead. */
    span_log_set_level(log, level | SPAN_LOG_SHOW_PROTOCOL);
    span_log_set_message_handler(log, span_message);
    span_log_set_error_handler(log, span_error);
}

/* Every logging state this session owns, with the level it logs at. */
static int log_states(struct fx_fax_session *s, logging_state_t *out[4], int levels[4])
{
    /* spandsp formats FLOW detail (every T.30 frame, ECM frame dumps) whether or not it
     * is written: ~20 % of a call's CPU. Ask for it only when debug lines are kept. */
    int detail = fx_log_enabled(FX_LOG_DEBUG) ? SPAN_LOG_FLOW : SPAN_LOG_WARNING;
    int n = 0;
    out[n] = t30_get_logging_state(s->t30);
    levels[n++] = detail;
    if (s->fax) {
        out[n] = fax_get_logging_state(s->fax);
        levels[n++] = detail;
    }
    if (s->t38) {
        out[n] = t38_terminal_get_logging_state(s->t38);
        levels[n++] = detail;
        out[n] = t38_core_get_logging_state(s->core);
        levels[n++] = SPAN_LOG_PROTOCOL_WARNING;
    }
    return n;
}

static void tiff_log(const char *module, const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fx_debug("fax libtiff module=%s msg=\"%s\"", module ? module : "", msg);
}

static void tiff_handlers_install(void)
{
    TIFFSetWarningHandler(tiff_log);
    TIFFSetErrorHandler(tiff_log);
}

static void tiff_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, tiff_handlers_install);
}

/* ---- TIFF check ----------------------------------------------------------------- */

static void why_set(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void why_set(char *why, size_t why_len, const char *fmt, ...)
{
    if (!why || why_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

/* Resolution in dots per inch, as spandsp reads it: any unit but inch counts as centimetre. */
static double to_dpi(float value, uint16_t unit)
{
    return unit == RESUNIT_INCH ? (double)value : (double)value * 2.54;
}

static bool near(double actual, double expected)
{
    return actual >= expected * 0.95 && actual <= expected * 1.05;
}

/* Checks the current directory; page is 1-based for messages. */
static bool tiff_page_ok(TIFF *t, int page, char *why, size_t why_len)
{
    uint32_t width = 0, length = 0;
    uint16_t bps = 1, spp = 1, unit = RESUNIT_INCH, photo = 0xFFFF, comp = COMPRESSION_NONE;
    float xres = 0, yres = 0;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &width);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &length);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &unit);
    TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &comp);
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
    TIFFGetField(t, TIFFTAG_XRESOLUTION, &xres);
    TIFFGetField(t, TIFFTAG_YRESOLUTION, &yres);
    double xdpi = to_dpi(xres, unit), ydpi = to_dpi(yres, unit);
    if (bps != 1 || spp != 1) {
        why_set(why, why_len, "page %d is not bilevel (%u bits x %u samples)", page, bps, spp);
    } else if (photo != PHOTOMETRIC_MINISWHITE && photo != PHOTOMETRIC_MINISBLACK) {
        why_set(why, why_len, "page %d photometric %u is not black and white", page, photo);
    } else if (width != 1728) {
        why_set(why, why_len, "page %d is %u px wide, fax needs 1728", page, width);
    } else if (length == 0) {
        why_set(why, why_len, "page %d is empty", page);
    } else if (TIFFIsTiled(t)) {
        why_set(why, why_len, "page %d is tiled", page);
    } else if (!TIFFIsCODECConfigured(comp)) {
        why_set(why, why_len, "page %d compression %u cannot be decoded", page, comp);
    } else if (!near(xdpi, 204.0)) {
        why_set(why, why_len, "page %d is %.0f dpi across, fax needs 204", page, xdpi);
    } else if (!near(ydpi, 98.0) && !near(ydpi, 196.0)) {
        why_set(why, why_len, "page %d is %.0f lpi, fax needs 98 or 196", page, ydpi);
    } else {
        return true;
    }
    return false;
}

/* FX_ERR_IO when the file cannot be opened as TIFF, FX_ERR_INVALID when a page is unfit. */
enum fx_err fx_fax_tiff_check(const char *path, int *pages, char *why, size_t why_len)
{
    if (!path || !*path) {
        why_set(why, why_len, "no file");
        return FX_ERR_INVALID;
    }
    tiff_init();
    TIFF *t = TIFFOpen(path, "r");
    if (!t) {
        why_set(why, why_len, "cannot open the file as TIFF");
        return FX_ERR_IO;
    }
    enum fx_err err = FX_OK;
    int n = 0;
    do {
        n++;
        if (!tiff_page_ok(t, n, why, why_len)) {
            err = FX_ERR_INVALID;
            break;
        }
    } while (TIFFReadDirectory(t));
    TIFFClose(t);
    if (err == FX_OK && pages) *pages = n;
    return err;
}

/* ---- results ------------------------------------------------------------------ */

static void stats_update(struct fx_fax_session *s)
{
    t30_stats_t st;
    memset(&st, 0, sizeof st);
    t30_get_transfer_statistics(s->t30, &st);
    s->res.pages_confirmed = s->sending ? st.pages_tx : st.pages_rx;
    if (!s->sending) s->res.pages_in_file = st.pages_rx;
    if (st.x_resolution > 0) s->res.x_res = st.x_resolution;
    if (st.y_resolution > 0) s->res.y_res = st.y_resolution;
    if (s->negotiated) {
        s->res.bit_rate = st.bit_rate;
        s->res.ecm = st.error_correcting_mode != 0;
    }
    const char *id = t30_get_rx_ident(s->t30);
    if (id && *id) clean_copy(s->res.remote_ident, sizeof s->res.remote_ident, id, strlen(id));
    s->res.duration_ms = s->samples * 1000 / FAX_RATE;
}

/* Writes the header info for the page with 1-based document number page. */
static void header_set(struct fx_fax_session *s, int page)
{
    if (!s->sending || !s->header_info) return;
    if (s->total_pages <= 0) {
        fx_strlcpy(s->header, s->header_info, sizeof s->header);
    } else {
        char suffix[32];
        int k = snprintf(suffix, sizeof suffix, "Page %d of %d", page, s->total_pages);
        int room = T30_MAX_PAGE_HEADER_INFO - k;
        int info = (int)strlen(s->header_info);
        if (info == 0 || room < 3) {
            fx_strlcpy(s->header, suffix, sizeof s->header);
        } else {
            /* The info on the left, the page counter right-aligned in spandsp's 50 columns. */
            if (info > room - 2) info = room - 2;
            memset(s->header, ' ', (size_t)room);
            memcpy(s->header, s->header_info, (size_t)info);
            memcpy(s->header + room, suffix, (size_t)k + 1);
        }
    }
    t30_set_tx_page_header_info(s->t30, s->header);
}

static int phase_b_handler(t30_state_t *t30, void *arg, int result)
{
    (void)t30;
    struct fx_fax_session *s = arg;
    stats_update(s);
    fx_debug("fax phase_b %s frame=%s remote=\"%s\"", tag_of(s), t30_frametype((uint8_t)result),
             s->res.remote_ident);
    return T30_ERR_OK;
}

/* Sees every HDLC frame either way: a DCS means a bit rate and ECM choice now exist. */
static void frame_handler(t30_state_t *t30, void *arg, int incoming, const uint8_t *msg, int len)
{
    (void)t30;
    (void)incoming;
    struct fx_fax_session *s = arg;
    if (len >= 3 && (msg[2] & 0xFE) == T30_DCS) s->negotiated = true;
}

static int phase_d_handler(t30_state_t *t30, void *arg, int result)
{
    (void)t30;
    struct fx_fax_session *s = arg;
    stats_update(s);
    fx_debug("fax phase_d %s frame=%s pages=%d rate=%d ecm=%d", tag_of(s),
             t30_frametype((uint8_t)result), s->res.pages_confirmed, s->res.bit_rate,
             (int)s->res.ecm);
    /* The next page spandsp starts (after this handler returns) is the one after the confirmed
       ones; set its "Page n of M" now. */
    int next = s->first_page + s->res.pages_confirmed; /* 0-based */
    if (s->sending && next <= s->last_page) header_set(s, next + 1);
    return T30_ERR_OK;
}

static void phase_e_handler(t30_state_t *t30, void *arg, int code)
{
    (void)t30;
    struct fx_fax_session *s = arg;
    stats_update(s);
    s->res.t30_code = code;
    const char *text = t30_completion_code_to_str(code);
    fx_strlcpy(s->res.t30_text, text ? text : "", sizeof s->res.t30_text);
    s->done = true;
    fx_info("fax phase_e %s direction=%s mode=%s code=%d text=\"%s\" pages=%d/%d rate=%d ecm=%d"
            " res=%dx%d remote=\"%s\" duration_ms=%lld watchdog=%d",
            tag_of(s), s->sending ? "send" : "receive",
            s->mode == FX_FAX_T38    ? "t38"
            : s->mode == FX_FAX_ALAW ? "alaw"
                                     : "ulaw",
            code, s->res.t30_text, s->res.pages_confirmed, s->res.pages_in_file, s->res.bit_rate,
            (int)s->res.ecm, s->res.x_res, s->res.y_res, s->res.remote_ident,
            (long long)s->res.duration_ms, (int)s->res.watchdog);
}

static int t38_tx_handler(t38_core_state_t *core, void *arg, const uint8_t *buf, int len, int count)
{
    (void)core;
    struct fx_fax_session *s = arg;
    s->media_this_tick = true; /* T.38 activity either way: see watchdog() */
    if (s->t38_tx && buf && len > 0) s->t38_tx(buf, (size_t)len, count, s->t38_arg);
    return 0;
}

/* ---- session set-up ------------------------------------------------------------ */

static bool printable_ascii(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= max || (unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7E) return false;
    return true;
}

static bool config_valid(const struct fx_fax_config *c)
{
    if (!c) return false;
    if (c->sending && (!c->tiff_path || !*c->tiff_path)) return false;
    if (c->tiff_path && strlen(c->tiff_path) >= FAX_PATH_MAX) return false;
    if (c->mode != FX_FAX_ALAW && c->mode != FX_FAX_ULAW && c->mode != FX_FAX_T38) return false;
    if (c->ident && !printable_ascii(c->ident, T30_MAX_IDENT_LEN)) return false;
    if (c->header_info && !printable_ascii(c->header_info, T30_MAX_PAGE_HEADER_INFO)) return false;
    if (c->header_total_pages < 0 || c->no_media_timeout_ms < 0 || c->max_duration_ms < 0)
        return false;
    if (c->start_page < -1 || c->stop_page < -1) return false;
    if (c->start_page >= 0 && c->stop_page >= 0 && c->stop_page < c->start_page) return false;
    if (c->mode == FX_FAX_T38) {
        if (!c->t38_tx || c->t38_version < 0 || c->t38_version > 3) return false;
        if (c->t38_max_datagram < 0 || c->t38_max_rate < 0) return false;
        if (c->t38_rate_management < 0 || c->t38_rate_management > 2) return false;
    }
    return true;
}

/* The directory a received fax goes to must exist and be writable: spandsp only opens the
 * file when the first page starts. */
static bool rx_dir_writable(const char *path)
{
    char dir[FAX_PATH_MAX];
    fx_strlcpy(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (!slash) return access(".", W_OK | X_OK) == 0;
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    return access(dir, W_OK | X_OK) == 0;
}

static int supported_modems(const struct fx_fax_session *s, int max_rate)
{
    int m = T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17;
    if (s->mode == FX_FAX_T38) {
        if (max_rate > 0 && max_rate < 14400) m &= ~T30_SUPPORT_V17;
        if (max_rate > 0 && max_rate < 9600) m &= ~T30_SUPPORT_V29;
        m |= T30_SUPPORT_IAF; /* as t38_terminal_init sets it */
    }
    return m;
}

static void tone_report(void *arg, int code, int level, int delay)
{
    (void)level;
    (void)delay;
    struct fx_fax_session *s = arg;
    enum fx_fax_tone t = code == MODEM_CONNECT_TONES_FAX_CNG        ? FX_FAX_TONE_CNG
                         : code == MODEM_CONNECT_TONES_FAX_PREAMBLE ? FX_FAX_TONE_PREAMBLE
                         : code == MODEM_CONNECT_TONES_FAX_CED      ? FX_FAX_TONE_CED
                                                                    : FX_FAX_TONE_NONE;
    if (s->tone == FX_FAX_TONE_NONE && t != FX_FAX_TONE_NONE) {
        s->tone = t;
        fx_debug("fax tone %s heard=%s t_ms=%lld", tag_of(s), modem_connect_tone_to_str(code),
                 (long long)(s->samples * 1000 / FAX_RATE));
    }
}

/* The far end's signal: when we call, CED or the V.21 flags of its DIS; when we answer, CNG
 * or (a caller that sends no CNG) the flags of its DCS. */
static enum fx_err tones_init(struct fx_fax_session *s)
{
    int types[2] = {MODEM_CONNECT_TONES_FAX_CED_OR_PREAMBLE, 0};
    if (!s->calling) {
        types[0] = MODEM_CONNECT_TONES_FAX_CNG;
        types[1] = MODEM_CONNECT_TONES_FAX_PREAMBLE;
    }
    for (int i = 0; i < 2 && types[i]; i++) {
        s->tone_rx[i] = modem_connect_tones_rx_init(NULL, types[i], tone_report, s);
        if (!s->tone_rx[i]) return FX_ERR_NOMEM;
    }
    return FX_OK;
}

static enum fx_err engine_init(struct fx_fax_session *s, const struct fx_fax_config *c)
{
    if (s->mode == FX_FAX_T38) {
        s->t38 = t38_terminal_init(NULL, c->calling, t38_tx_handler, s);
        if (!s->t38) return FX_ERR_NOMEM;
        t38_terminal_set_config(s->t38, 0);
        t38_terminal_set_tep_mode(s->t38, FALSE);
        s->core = t38_terminal_get_t38_core_state(s->t38);
        t38_set_t38_version(s->core, c->t38_version);
        if (c->t38_max_datagram > 0) t38_set_max_datagram_size(s->core, c->t38_max_datagram);
        t38_set_fastest_image_data_rate(s->core, c->t38_max_rate > 0 ? c->t38_max_rate : 14400);
        if (c->t38_rate_management == 1 || c->t38_rate_management == 2)
            t38_set_data_rate_management_method(s->core, c->t38_rate_management);
        s->t30 = t38_terminal_get_t30_state(s->t38);
    } else {
        s->fax = fax_init(NULL, c->calling);
        if (!s->fax) return FX_ERR_NOMEM;
        fax_set_transmit_on_idle(s->fax, TRUE);
        fax_set_tep_mode(s->fax, FALSE);
        s->t30 = fax_get_t30_state(s->fax);
        if (c->detect_tones && tones_init(s) != FX_OK) return FX_ERR_NOMEM;
    }
    logging_state_t *logs[4];
    int levels[4];
    int n = log_states(s, logs, levels);
    for (int i = 0; i < n; i++)
        log_route(logs[i], levels[i]);

    t30_state_t *t = s->t30;
    if (s->ident) t30_set_tx_ident(t, s->ident);
    t30_set_tx_page_header_tz(t, FAX_TZ);
    t30_set_supported_modems(t, supported_modems(s, c->t38_max_rate));
    t30_set_supported_compressions(t, T30_SUPPORT_T4_1D_COMPRESSION |
                                          T30_SUPPORT_T4_2D_COMPRESSION |
                                          T30_SUPPORT_T6_COMPRESSION);
    t30_set_ecm_capability(t, c->ecm ? TRUE : FALSE);
    t30_set_phase_b_handler(t, phase_b_handler, s);
    t30_set_phase_d_handler(t, phase_d_handler, s);
    t30_set_phase_e_handler(t, phase_e_handler, s);
    t30_set_real_time_frame_handler(t, frame_handler, s);
    if (s->sending) {
        header_set(s, s->first_page + 1);
        t30_set_tx_file(t, s->path, c->start_page, c->stop_page);
    } else if (s->path) {
        t30_set_rx_file(t, s->path, -1);
        t30_set_rx_encoding(t, T4_COMPRESSION_ITU_T6);
    } /* else: no file, so DIS says "not ready to receive" (a sandbox far end) */
    return FX_OK;
}

enum fx_err fx_fax_new(const struct fx_fax_config *cfg, struct fx_fax_session **out)
{
    if (!out || !config_valid(cfg)) return FX_ERR_INVALID;
    int pages = 0;
    if (cfg->sending) {
        char why[160];
        enum fx_err e = fx_fax_tiff_check(cfg->tiff_path, &pages, why, sizeof why);
        if (e != FX_OK) {
            fx_warn("fax refused %s file=\"%s\" why=\"%s\"", cfg->log_tag ? cfg->log_tag : "",
                    cfg->tiff_path, why);
            return e;
        }
        if (cfg->start_page >= pages || cfg->stop_page >= pages) return FX_ERR_INVALID;
    } else if (cfg->tiff_path && *cfg->tiff_path && !rx_dir_writable(cfg->tiff_path)) {
        return FX_ERR_IO;
    }
    tiff_init();

    struct fx_fax_session *s = calloc(1, sizeof *s);
    if (!s) return FX_ERR_NOMEM;
    s->mode = cfg->mode;
    s->sending = cfg->sending;
    s->calling = cfg->calling;
    s->path = cfg->tiff_path && *cfg->tiff_path ? fx_strdup(cfg->tiff_path) : NULL;
    s->ident = fx_strdup(cfg->ident);
    s->header_info = fx_strdup(cfg->header_info);
    s->log_tag = fx_strdup(cfg->log_tag);
    s->first_page = cfg->start_page >= 0 ? cfg->start_page : 0;
    s->last_page = cfg->stop_page >= 0 ? cfg->stop_page : (pages > 0 ? pages - 1 : INT_MAX);
    s->total_pages = cfg->header_total_pages;
    s->no_media_ms = cfg->no_media_timeout_ms;
    s->max_ms = cfg->max_duration_ms;
    s->t38_tx = cfg->t38_tx;
    s->t38_arg = cfg->t38_arg;
    s->res.pages_in_file = cfg->sending ? pages : 0;
    enum fx_err err = FX_ERR_NOMEM;
    if ((cfg->sending && !s->path) || (cfg->ident && !s->ident) ||
        (cfg->header_info && !s->header_info) || (cfg->log_tag && !s->log_tag))
        goto out;
    struct fx_fax_session *prev = enter(s);
    err = engine_init(s, cfg);
    leave(prev);
    if (err != FX_OK) goto out;
    fx_debug("fax session new %s direction=%s calling=%d mode=%s ecm=%d pages=%d", tag_of(s),
             s->sending ? "send" : "receive", (int)s->calling,
             s->mode == FX_FAX_T38    ? "t38"
             : s->mode == FX_FAX_ALAW ? "alaw"
                                      : "ulaw",
             (int)cfg->ecm, pages);
    *out = s;
    return FX_OK;
out:
    fx_fax_free(s);
    return err;
}

/* Ends T.30 now (hang-up or watchdog); phase E runs inside t30_terminate. */
static void terminate(struct fx_fax_session *s)
{
    if (s->done || !s->t30) return;
    t30_terminate(s->t30);
    if (!s->done) phase_e_handler(s->t30, s, T30_ERR_CALLDROPPED);
}

void fx_fax_free(struct fx_fax_session *s)
{
    if (!s) return;
    struct fx_fax_session *prev = enter(s);
    terminate(s); /* closes a file being received, keeping its complete pages */
    if (s->fax) fax_free(s->fax);
    if (s->t38) t38_terminal_free(s->t38);
    for (int i = 0; i < 2; i++)
        if (s->tone_rx[i]) modem_connect_tones_rx_free(s->tone_rx[i]);
    leave(prev);
    free(s->path);
    free(s->ident);
    free(s->header_info);
    free(s->log_tag);
    free(s);
}

/* ---- media ------------------------------------------------------------------------ */

void fx_fax_audio_rx(struct fx_fax_session *s, const uint8_t *g711, size_t n)
{
    if (!s || !s->fax || s->done) return;
    struct fx_fax_session *prev = enter(s);
    if (!g711 || n == 0) {
        fax_rx_fillin(s->fax, FX_FAX_FRAME);
    } else {
        s->media_this_tick = true;
        bool alaw = s->mode == FX_FAX_ALAW;
        for (size_t off = 0; off < n && !s->done; off += FX_FAX_FRAME) {
            size_t k = n - off < FX_FAX_FRAME ? n - off : FX_FAX_FRAME;
            for (size_t i = 0; i < k; i++)
                s->pcm[i] = alaw ? alaw_to_linear(g711[off + i]) : ulaw_to_linear(g711[off + i]);
            for (int t = 0; t < 2 && s->tone == FX_FAX_TONE_NONE; t++)
                if (s->tone_rx[t]) modem_connect_tones_rx(s->tone_rx[t], s->pcm, (int)k);
            fax_rx(s->fax, s->pcm, (int)k);
        }
    }
    leave(prev);
}

void fx_fax_audio_tx(struct fx_fax_session *s, uint8_t *g711, size_t n)
{
    if (!s || !g711) return;
    bool alaw = s->mode != FX_FAX_ULAW;
    struct fx_fax_session *prev = enter(s);
    for (size_t off = 0; off < n; off += FX_FAX_FRAME) {
        size_t k = n - off < FX_FAX_FRAME ? n - off : FX_FAX_FRAME;
        int got = 0;
        if (s->fax && !s->done) got = fax_tx(s->fax, s->pcm, (int)k);
        if (got < 0) got = 0;
        for (size_t i = (size_t)got; i < k; i++)
            s->pcm[i] = 0;
        for (size_t i = 0; i < k; i++)
            g711[off + i] = alaw ? linear_to_alaw(s->pcm[i]) : linear_to_ulaw(s->pcm[i]);
    }
    leave(prev);
}

void fx_fax_t38_rx(struct fx_fax_session *s, const uint8_t *ifp, size_t len, uint16_t seq)
{
    if (!s || !s->t38 || s->done || !ifp || len == 0 || len > INT_MAX) return;
    struct fx_fax_session *prev = enter(s);
    s->media_this_tick = true;
    t38_core_rx_ifp_packet(s->core, ifp, (int)len, seq);
    leave(prev);
}

static void watchdog(struct fx_fax_session *s)
{
    if (s->media_this_tick) s->last_media = s->samples;
    s->media_this_tick = false;
    int64_t silent_ms = (s->samples - s->last_media) * 1000 / FAX_RATE;
    int64_t ms = s->samples * 1000 / FAX_RATE;
    const char *why = NULL;
    if (s->no_media_ms > 0 && silent_ms >= s->no_media_ms)
        why = "no_media";
    else if (s->max_ms > 0 && ms >= s->max_ms)
        why = "max_duration";
    if (!why) return;
    fx_info("fax watchdog %s reason=%s silent_ms=%lld duration_ms=%lld", tag_of(s), why,
            (long long)silent_ms, (long long)ms);
    s->res.watchdog = true;
    terminate(s);
}

void fx_fax_tick(struct fx_fax_session *s, int samples)
{
    if (!s || samples <= 0 || s->done) return;
    struct fx_fax_session *prev = enter(s);
    s->samples += samples;
    if (s->t38) t38_terminal_send_timeout(s->t38, samples);
    if (!s->done) watchdog(s);
    leave(prev);
}

void fx_fax_hangup(struct fx_fax_session *s)
{
    if (!s || s->done) return;
    struct fx_fax_session *prev = enter(s);
    fx_debug("fax hangup %s duration_ms=%lld", tag_of(s),
             (long long)(s->samples * 1000 / FAX_RATE));
    terminate(s);
    leave(prev);
}

enum fx_fax_tone fx_fax_tone_heard(const struct fx_fax_session *s)
{
    return s ? s->tone : FX_FAX_TONE_NONE;
}

bool fx_fax_done(const struct fx_fax_session *s)
{
    return s && s->done;
}

const struct fx_fax_result *fx_fax_result(const struct fx_fax_session *s)
{
    return s ? &s->res : NULL;
}
