/* line: the loopback line and the sandbox numbers (see line.h).
 *
 * A call is two fax sessions joined back to back: each 20 ms tick the caller's audio
 * goes to the callee and the callee's back (G.711), or the T.38 packets each side queued
 * are delivered to the other. The far end is faxd's own receiving session for faxd's
 * numbers, or a simulated fax machine / phone line for sandbox numbers. In real-time mode
 * every tick waits for its 20 ms slot; accelerated, ticks run back to back. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdatomic.h>

#include "line/line_priv.h"

static const char *const call_end_names[FX_CALL__COUNT] = {
    [FX_CALL_ANSWERED] = "answered",   [FX_CALL_BUSY] = "busy",
    [FX_CALL_NO_ANSWER] = "no_answer", [FX_CALL_UNALLOCATED] = "unallocated",
    [FX_CALL_BAD_NUMBER] = "bad_number", [FX_CALL_REFUSED] = "refused",
    [FX_CALL_CONGESTION] = "congestion", [FX_CALL_TEMPORARY] = "temporary_failure",
    [FX_CALL_CLEARED] = "cleared",     [FX_CALL_NO_ROUTE] = "no_route",
    [FX_CALL_FAILED] = "failed",
};

const char *fx_call_end_name(enum fx_call_end e)
{
    return (unsigned)e < FX_CALL__COUNT ? call_end_names[e] : "unknown";
}

/* ---- the sandbox ---- */

enum far_end {
    FAR_RECEIVER,      /* a fax machine that receives */
    FAR_SETUP,         /* the call never connects: end with `end`/`sip` */
    FAR_SILENCE,       /* a voice line: answered, silence, no fax tones */
    FAR_HANGUP_EARLY,  /* answers as a fax, hangs up during training */
    FAR_HANGUP_PAGE1,  /* hangs up right after the first confirmed page */
    FAR_NOT_READY,     /* a fax machine that cannot receive (no paper) */
};

static const struct {
    const char *suffix;
    enum far_end far;
    enum fx_call_end end;
    int sip;
} sandbox[] = {
    {"0001", FAR_RECEIVER, FX_CALL_ANSWERED, 200},
    {"0002", FAR_SETUP, FX_CALL_BUSY, 486},
    {"0003", FAR_SETUP, FX_CALL_NO_ANSWER, 487},
    {"0004", FAR_SETUP, FX_CALL_UNALLOCATED, 404},
    {"0005", FAR_SETUP, FX_CALL_BAD_NUMBER, 484},
    {"0006", FAR_SETUP, FX_CALL_REFUSED, 403},
    {"0007", FAR_SILENCE, FX_CALL_ANSWERED, 200},
    {"0008", FAR_HANGUP_EARLY, FX_CALL_ANSWERED, 200},
    {"0009", FAR_HANGUP_PAGE1, FX_CALL_ANSWERED, 200},
    {"0010", FAR_NOT_READY, FX_CALL_ANSWERED, 200},
    {"0011", FAR_SETUP, FX_CALL_TEMPORARY, 502},
    {"0012", FAR_SETUP, FX_CALL_CLEARED, 200},
    {"0013", FAR_SETUP, FX_CALL_CONGESTION, 503},
};

const struct fx_sandbox_row fx_sandbox_rows[] = {
    {"0001", "a fax machine receives every page", "success"},
    {"0002", "busy (SIP 486)", "failed_user_busy"},
    {"0003", "rings, nobody answers (faxd cancels; 487)", "failed_no_answer"},
    {"0004", "number does not exist (SIP 404)", "failed_unallocated_number"},
    {"0005", "address incomplete (SIP 484)", "failed_invalid_number_format"},
    {"0006", "destination refused (SIP 403)", "failed_destination_not_supported"},
    {"0007", "a voice line answers: silence, no fax tones (T.30 code 2 after 60 s)",
     "failed_fs_2"},
    {"0008", "a fax machine answers and hangs up during training", "failed_fs_49"},
    {"0009", "a fax machine hangs up after the first confirmed page", "partially_sent"},
    {"0010", "a fax machine that is not ready to receive", "failed"},
    {"0011", "temporary network failure (SIP 502)", "failed_normal_temporary_failure"},
    {"0012", "answered and cleared before any fax exchange", "failed_normal_clearing"},
    {"0013", "no circuit available (SIP 503)", "failed_to_send"},
    {NULL, NULL, NULL},
};

struct fx_lines {
    struct fx_lines_cfg cfg;
    atomic_bool stopping;
    atomic_bool draining;
    char sandbox_prefix[32];
    char work_dir[4096];
    char call_log[4096];
    struct fx_sipline *sip; /* NULL: no SIP trunks */
};

enum fx_err fx_lines_new(const struct fx_lines_cfg *cfg, struct fx_lines **out)
{
    struct fx_lines *l = calloc(1, sizeof *l);
    if (!l) return FX_ERR_NOMEM;
    l->cfg = *cfg;
    fx_strlcpy(l->sandbox_prefix, cfg->sandbox_prefix ? cfg->sandbox_prefix : "",
               sizeof l->sandbox_prefix);
    fx_strlcpy(l->work_dir, cfg->work_dir, sizeof l->work_dir);
    fx_strlcpy(l->call_log, cfg->call_log ? cfg->call_log : "", sizeof l->call_log);
    l->cfg.sandbox_prefix = l->sandbox_prefix;
    l->cfg.work_dir = l->work_dir;
    l->cfg.call_log = l->call_log;
    enum fx_err e = fx_mkdirs(l->work_dir);
    if (!e && cfg->conf && cfg->conf->sip_port) e = fx_sipline_new(&l->cfg, l, &l->sip);
    if (e) {
        free(l);
        return e;
    }
    *out = l;
    return FX_OK;
}

void fx_lines_stop(struct fx_lines *l)
{
    if (l) atomic_store(&l->stopping, true);
}

bool fx_lines_stopping(const struct fx_lines *l)
{
    return l && atomic_load(&((struct fx_lines *)l)->stopping);
}

void fx_lines_drain(struct fx_lines *l, bool on)
{
    if (l) atomic_store(&l->draining, on);
}

bool fx_lines_draining(const struct fx_lines *l)
{
    return l && atomic_load(&((struct fx_lines *)l)->draining);
}

int fx_lines_inbound_calls(const struct fx_lines *l)
{
    return l && l->sip ? fx_sipline_inbound_calls(l->sip) : 0;
}

void fx_lines_free(struct fx_lines *l)
{
    if (!l) return;
    fx_lines_stop(l);
    fx_sipline_free(l->sip);
    free(l);
}

/* ---- T.38 packet queues between the two sides ---- */

#define QLEN 512
#define QPKT 512
struct pktq {
    uint8_t data[QLEN][QPKT];
    uint16_t len[QLEN];
    unsigned head, tail;
    uint16_t seq;
};

static void pkt_push(const uint8_t *ifp, size_t len, int count, void *arg)
{
    (void)count; /* one copy is enough in memory: nothing is lost here */
    struct pktq *q = arg;
    if (q->tail - q->head == QLEN || len > QPKT) return; /* overflow: like loss */
    memcpy(q->data[q->tail % QLEN], ifp, len);
    q->len[q->tail % QLEN] = (uint16_t)len;
    q->tail++;
}

static void pkt_deliver(struct pktq *q, struct fx_fax_session *to)
{
    while (q->head != q->tail) {
        unsigned i = q->head++ % QLEN;
        if (to) fx_fax_t38_rx(to, q->data[i], q->len[i], q->seq);
        q->seq++;
    }
}

/* ---- running a call ---- */

struct leg {
    struct fx_fax_session *s;
    struct pktq *out; /* T.38: what this side sends */
};

struct call {
    struct fx_lines *l;
    const struct fx_dial *d;
    struct leg a, b;  /* a = caller (sends), b = far end (NULL session: silence) */
    enum far_end far;
    int64_t samples;
    int pages_told;   /* confirmed pages already reported through d->progress */
    const struct fx_inbound *rx_in; /* a call to our own number: told to cfg.rx */
    int rx_told;      /* complete received pages already reported through cfg.rx */
};

static void sleep_until(int64_t start_ms, int64_t ticks)
{
    struct timespec ts;
    int64_t due = start_ms + ticks * 20;
    ts.tv_sec = due / 1000;
    ts.tv_nsec = (due % 1000) * 1000000;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* One 20 ms tick of both sides. */
static void tick(struct call *c)
{
    if (c->l->cfg.t38) {
        pkt_deliver(c->a.out, c->b.s);
        pkt_deliver(c->b.out, c->a.s);
    } else {
        uint8_t ab[FX_FAX_FRAME], ba[FX_FAX_FRAME];
        fx_fax_audio_tx(c->a.s, ab, sizeof ab);
        if (c->b.s) {
            fx_fax_audio_tx(c->b.s, ba, sizeof ba);
            fx_fax_audio_rx(c->b.s, ab, sizeof ab);
        } else {
            memset(ba, 0xD5, sizeof ba); /* A-law silence: a voice line saying nothing */
        }
        fx_fax_audio_rx(c->a.s, ba, sizeof ba);
    }
    fx_fax_tick(c->a.s, FX_FAX_FRAME);
    if (c->b.s) fx_fax_tick(c->b.s, FX_FAX_FRAME);
    c->samples += FX_FAX_FRAME;
}

/* Ticks until both sides are done (or the far end's scripted hang-up). */
static void run(struct call *c)
{
    int64_t start = fx_clock_mono_ms(), ticks = 0;
    int64_t limit = (int64_t)c->l->cfg.max_call_ms * 8 + 8000 * 60; /* samples, + slack */
    bool hung = false;
    while (!fx_fax_done(c->a.s) || (c->b.s && !fx_fax_done(c->b.s))) {
        if (c->l->cfg.realtime) sleep_until(start, ++ticks);
        tick(c);
        int confirmed = fx_fax_result(c->a.s)->pages_confirmed;
        if (confirmed > c->pages_told && c->d->progress) {
            c->pages_told = confirmed;
            c->d->progress(confirmed, c->d->progress_arg);
        }
        int received = c->rx_in && c->b.s ? fx_fax_result(c->b.s)->pages_confirmed : 0;
        if (received > c->rx_told) {
            c->rx_told = received;
            c->l->cfg.rx(c->rx_in, FX_LINE_RX_PAGE, received, c->l->cfg.arg);
        }
        bool hang = (c->far == FAR_HANGUP_EARLY && c->samples >= 8000 * 5) ||
                    (c->far == FAR_HANGUP_PAGE1 &&
                     fx_fax_result(c->a.s)->pages_confirmed >= 1);
        if (hang && !hung) {
            /* The far end hangs up: both sides see the call end. */
            hung = true;
            fx_fax_hangup(c->a.s);
            if (c->b.s) fx_fax_hangup(c->b.s);
        }
        /* faxd is stopping, or the queue lost its claim on the fax: hang up. */
        if ((atomic_load(&c->l->stopping) || !fx_line_kept(c->d)) && !hung) {
            hung = true;
            fx_fax_hangup(c->a.s);
            if (c->b.s) fx_fax_hangup(c->b.s);
        }
        if (c->samples > limit) { /* a fax engine that never ends: faxd ends it */
            fx_fax_hangup(c->a.s);
            if (c->b.s) fx_fax_hangup(c->b.s);
            if (c->samples > limit + 8000 * 10) break;
        }
    }
}

static enum fx_err session(struct fx_lines *l, bool sending, const char *path,
                           const struct fx_dial *d, struct pktq *out, const char *ident,
                           struct fx_fax_session **s)
{
    struct fx_fax_config fc = {
        .calling = sending,
        .sending = sending,
        .mode = l->cfg.t38 ? FX_FAX_T38 : FX_FAX_ALAW,
        .tiff_path = path,
        .start_page = sending ? d->start_page : -1,
        .stop_page = -1,
        .ident = ident,
        .header_info = sending ? d->header : NULL,
        .header_total_pages = sending ? d->total_pages : 0,
        .ecm = l->cfg.ecm,
        .no_media_timeout_ms = l->cfg.no_media_timeout_ms,
        .max_duration_ms = l->cfg.max_call_ms,
        .log_tag = d->log_tag,
        .t38_tx = pkt_push,
        .t38_arg = out,
        .t38_version = 0,
        .t38_max_datagram = 400,
        .t38_max_rate = 14400,
    };
    return fx_fax_new(&fc, s);
}

static bool is_sandbox(const struct fx_lines *l, const char *to, int *row)
{
    size_t n = strlen(l->sandbox_prefix);
    if (!n || strncmp(to, l->sandbox_prefix, n) != 0 || strlen(to) != n + 4) return false;
    for (size_t i = 0; i < sizeof sandbox / sizeof *sandbox; i++)
        if (strcmp(to + n, sandbox[i].suffix) == 0) {
            *row = (int)i;
            return true;
        }
    *row = -1; /* a sandbox number with no behaviour: it does not exist */
    return true;
}

/* Runs the answered call: our sender against the far end; the received file (if the far
 * end receives) is left at rx_path. */
static enum fx_err run_answered(struct fx_lines *l, const struct fx_dial *d, enum far_end far,
                                const char *rx_path, struct fx_call_result *out,
                                struct fx_fax_result *far_res, const struct fx_inbound *rx_in)
{
    struct pktq *qa = calloc(1, sizeof *qa), *qb = calloc(1, sizeof *qb);
    struct call c = {.l = l, .d = d, .far = far, .a = {.out = qa}, .b = {.out = qb},
                     .rx_in = rx_in};
    enum fx_err e = qa && qb ? FX_OK : FX_ERR_NOMEM;
    if (!e) e = session(l, true, d->tiff_path, d, qa, d->ident, &c.a.s);
    if (!e && far != FAR_SILENCE) {
        /* A machine that is not ready has nowhere to put pages. */
        const char *path = far == FAR_NOT_READY ? NULL : rx_path;
        e = session(l, false, path, d, qb, "", &c.b.s);
        if (e == FX_ERR_INVALID && far == FAR_NOT_READY) e = FX_OK, c.b.s = NULL;
    }
    if (!e) {
        run(&c);
        out->fax_ran = true;
        out->fax = *fx_fax_result(c.a.s);
    }
    if (!e && c.b.s) *far_res = *fx_fax_result(c.b.s);
    fx_fax_free(c.a.s);
    fx_fax_free(c.b.s);
    free(qa);
    free(qb);
    return e;
}

/* ---- the call log and inbound calls cut short ---- */

bool fx_line_kept(const struct fx_dial *d)
{
    return !d || !d->keep || d->keep(d->keep_arg);
}

/* Appends one line for a call about to ring; O_APPEND keeps concurrent lines whole. */
void fx_line_log_call(const struct fx_lines_cfg *cfg, const struct fx_dial *d, const char *line)
{
    if (!cfg->call_log || !cfg->call_log[0]) return;
    int fd = open(cfg->call_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        fx_warn("line call log cannot be opened path=%s", cfg->call_log);
        return;
    }
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%lld line=%s to=%s from=%s %s\n",
                     (long long)fx_clock_now(), line, d->to, d->from ? d->from : "",
                     d->log_tag ? d->log_tag : "");
    if (n >= (int)sizeof buf) n = (int)sizeof buf - 1, buf[n - 1] = '\n';
    if (n > 0 && write(fd, buf, (size_t)n) != n)
        fx_warn("line call log write failed path=%s", cfg->call_log);
    close(fd);
}

/* An inbound call's description sits beside its page file (rx-<id>.meta next to
 * rx-<id>.tiff) while the call runs, so that after a crash fx_lines_recover can store
 * the pages that were complete. The receiving session writes each page to the file as
 * it completes. */
void fx_line_rx_path(const struct fx_lines_cfg *cfg, const char *id, const char *ext, char *out,
                     size_t len)
{
    snprintf(out, len, "%s/rx-%s.%s", cfg->work_dir, id, ext);
}

void fx_line_meta_write(const struct fx_lines_cfg *cfg, const char *id,
                        const struct fx_inbound *in)
{
    char path[4200];
    fx_line_rx_path(cfg, id, "meta", path, sizeof path);
    FILE *f = fopen(path, "we");
    if (!f) {
        fx_warn("line cannot write %s", path);
        return;
    }
    fprintf(f, "%s\n%s\n%lld\n%s\n%s\n", in->to, in->from, (long long)in->started,
            in->transport, in->line);
    fclose(f);
}

static void recover_one(struct fx_lines *l, const char *id)
{
    char meta[4200], tiff[4200], to[64] = "", from[64] = "", transport[8] = "", line[32] = "";
    long long started = 0;
    fx_line_rx_path(&l->cfg, id, "meta", meta, sizeof meta);
    fx_line_rx_path(&l->cfg, id, "tiff", tiff, sizeof tiff);
    FILE *f = fopen(meta, "re");
    /* Fields are one per line; from may be empty. */
    char *field[5] = {to, from, NULL, transport, line}, num[32];
    size_t size[5] = {sizeof to, sizeof from, sizeof num, sizeof transport, sizeof line};
    field[2] = num;
    bool ok = f != NULL;
    for (int i = 0; ok && i < 5; i++) {
        ok = fgets(field[i], (int)size[i], f) != NULL;
        if (ok) field[i][strcspn(field[i], "\n")] = 0;
    }
    if (f) fclose(f);
    if (ok) started = strtoll(num, NULL, 10);
    ok = ok && to[0];
    int pages = 0;
    if (ok && fx_fax_tiff_pages(tiff, &pages) == FX_OK && pages > 0 && l->cfg.inbound) {
        struct fx_fax_result fr = {.t30_code = 49, .pages_confirmed = pages,
                                   .pages_in_file = pages};
        snprintf(fr.t30_text, sizeof fr.t30_text,
                 "faxd stopped during the call; the complete pages were kept");
        struct fx_inbound in = {.id = id, .to = to, .from = from, .tiff_path = tiff, .fax = &fr,
                                .transport = transport, .line = line, .started = started,
                                .recovered = true};
        fx_info("line recovering an interrupted inbound fax id=%s to=%s pages=%d", id, to,
                pages);
        l->cfg.inbound(&in, l->cfg.arg);
    } else {
        fx_info("line interrupted inbound call left no complete page id=%s", id);
    }
    unlink(tiff);
    unlink(meta);
}

enum fx_err fx_lines_recover(struct fx_lines *l)
{
    DIR *dir = opendir(l->work_dir);
    if (!dir) return FX_ERR_IO;
    struct dirent *de;
    while ((de = readdir(dir))) {
        const char *name = de->d_name;
        size_t n = strlen(name);
        if (strncmp(name, "rx-", 3) != 0 || n != 3 + FX_ID_LEN + 5) continue;
        char id[FX_ID_LEN + 1];
        memcpy(id, name + 3, FX_ID_LEN);
        id[FX_ID_LEN] = 0;
        if (!strcmp(name + n - 5, ".meta")) {
            recover_one(l, id);
        } else if (!strcmp(name + n - 5, ".tiff")) {
            /* A page file with no description: a sandbox receiver's, nothing to keep —
             * unless its description is still to come in this listing. */
            char meta[4200];
            fx_line_rx_path(&l->cfg, id, "meta", meta, sizeof meta);
            if (access(meta, F_OK) != 0) {
                char path[4200];
                fx_line_rx_path(&l->cfg, id, "tiff", path, sizeof path);
                unlink(path);
            }
        }
    }
    closedir(dir);
    return FX_OK;
}

enum fx_err fx_lines_call(struct fx_lines *l, const struct fx_dial *d, struct fx_call_result *out)
{
    memset(out, 0, sizeof *out);
    fx_strlcpy(out->transport, l->cfg.t38 ? "t38" : "audio", sizeof out->transport);
    int row = -1;
    bool sb = is_sandbox(l, d->to, &row);
    bool local = !sb && l->cfg.is_local && l->cfg.is_local(d->to, l->cfg.arg);
    fx_strlcpy(out->line, sb ? "sandbox" : "loopback", sizeof out->line);
    if (atomic_load(&l->stopping)) {
        out->end = FX_CALL_CONGESTION;
        snprintf(out->detail, sizeof out->detail, "faxd is stopping");
        return FX_OK;
    }
    if (!sb && !local && l->sip && fx_sipline_routes(l->sip, d->to))
        return fx_sipline_call(l->sip, d, out);
    if (!sb && !local) {
        out->end = FX_CALL_NO_ROUTE;
        snprintf(out->detail, sizeof out->detail, "no line reaches %s", d->to);
        return FX_OK;
    }
    if (sb && row < 0) {
        out->end = FX_CALL_UNALLOCATED;
        out->sip_code = 404;
        snprintf(out->detail, sizeof out->detail, "sandbox number %s is not assigned", d->to);
        fx_line_log_call(&l->cfg, d, out->line);
        return FX_OK;
    }
    if (sb && sandbox[row].far == FAR_SETUP) {
        out->end = sandbox[row].end;
        out->sip_code = sandbox[row].sip;
        snprintf(out->detail, sizeof out->detail, "sandbox: %s", fx_sandbox_rows[row].outcome);
        fx_line_log_call(&l->cfg, d, out->line);
        return FX_OK;
    }
    char rx[4200], meta[4200], id[FX_ID_LEN + 1];
    fx_id_new(id);
    fx_line_rx_path(&l->cfg, id, "tiff", rx, sizeof rx);
    fx_line_rx_path(&l->cfg, id, "meta", meta, sizeof meta);
    enum far_end far = sb ? sandbox[row].far : FAR_RECEIVER;
    out->sip_code = 200;
    struct fx_fax_result far_res = {0};
    /* The receiving side's view: the complete pages it wrote into rx. */
    struct fx_inbound in = {.id = id, .to = d->to, .from = d->from ? d->from : "",
                            .tiff_path = rx, .fax = &far_res, .transport = out->transport,
                            .line = out->line, .started = fx_clock_now()};
    bool rx_told = local && l->cfg.rx; /* its pages are kept beyond this node as they come */
    if (local) fx_line_meta_write(&l->cfg, id, &in);
    if (rx_told) l->cfg.rx(&in, FX_LINE_RX_BEGIN, 0, l->cfg.arg);
    fx_line_log_call(&l->cfg, d, out->line);
    enum fx_err e = run_answered(l, d, far, rx, out, &far_res, rx_told ? &in : NULL);
    if (!e && local && l->cfg.inbound) l->cfg.inbound(&in, l->cfg.arg);
    if (rx_told) l->cfg.rx(&in, FX_LINE_RX_END, far_res.pages_confirmed, l->cfg.arg);
    unlink(rx);
    unlink(meta);
    return e;
}
