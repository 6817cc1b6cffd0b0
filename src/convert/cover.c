/* convert: the cover page. Runs faxd-cover (Cairo + Pango, in a sandboxed child process
 * like every engine: timeout, memory limit, no network) to render page 1 as a PBM at the
 * fax's exact page geometry, checks that PBM byte for byte, and inserts it before the
 * document pages. The child's exit code alone is never trusted: a page of the wrong size
 * or a short file fails the cover just like a crash or a timeout does, with the status
 * "failed_render_header_issue". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "convert/convert_priv.h"

#define STATUS_COVER "failed_render_header_issue"
/* Bytes passed of a one-line field: the page shows far less, and the kernel refuses an
 * argument over 128 KiB. faxd-cover applies the same cap. */
#define MAX_FIELD 2000
#define ROW_BYTES (FX_PAGE_WIDTH / 8)

/* argv for faxd-cover, with the storage its strings live in. */
struct cover_argv {
    const char *argv[40];
    int n;
    char prog[4200], out[4200], msg[4200];
    char fields[6][MAX_FIELD + 1];
    int nfields;
    char flags[64], date[32], pages[16];
};

static void arg_add(struct cover_argv *a, const char *opt, const char *val)
{
    if (!val || !*val || a->n + 3 > (int)(sizeof a->argv / sizeof a->argv[0])) return;
    a->argv[a->n++] = opt;
    a->argv[a->n++] = val;
}

/* Adds a text field, cut to MAX_FIELD bytes at a character boundary. */
static void arg_field(struct cover_argv *a, const char *opt, const char *val)
{
    if (!val || !*val || a->nfields >= 6) return;
    char *f = a->fields[a->nfields++];
    size_t n = strlen(val);
    if (n > MAX_FIELD) {
        n = MAX_FIELD;
        while (n > 0 && ((unsigned char)val[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(f, val, n);
    f[n] = '\0';
    arg_add(a, opt, f);
}

static void flags_text(unsigned flags, char *out, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{FX_COVER_URGENT, "urgent"},
                 {FX_COVER_FOR_REVIEW, "for_review"},
                 {FX_COVER_PLEASE_REPLY, "please_reply"},
                 {FX_COVER_CONFIDENTIAL, "confidential"}};
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(flags & names[i].bit)) continue;
        if (out[0]) strncat(out, ",", len - strlen(out) - 1);
        strncat(out, names[i].name, len - strlen(out) - 1);
    }
}

static void build_argv(struct cover_argv *a, const struct fx_convert_cfg *cfg,
                       const struct fx_cover *cv, int total_pages, const char *workdir,
                       const struct fx_pagew *w, bool has_message)
{
    const char *dir = cfg->libexec_dir && *cfg->libexec_dir ? cfg->libexec_dir : NULL;
    if (dir)
        snprintf(a->prog, sizeof a->prog, "%s/faxd-cover", dir);
    else
        snprintf(a->prog, sizeof a->prog, "faxd-cover"); /* from the child's PATH */
    snprintf(a->out, sizeof a->out, "%s/cover.pbm", workdir);
    snprintf(a->msg, sizeof a->msg, "%s/cover-message.txt", workdir);
    a->argv[a->n++] = a->prog;
    arg_add(a, "--out", a->out);
    arg_add(a, "--paper", fx_pagew_paper(w) == FX_PAPER_LETTER ? "letter" : "a4");
    arg_add(a, "--res", fx_pagew_res(w) == FX_RES_NORMAL ? "normal" : "fine");
    arg_field(a, "--to", cv->name_to);
    arg_field(a, "--from", cv->name_from);
    arg_field(a, "--subject", cv->subject);
    arg_field(a, "--company", cv->company);
    arg_field(a, "--from-number", cv->from_number);
    arg_field(a, "--to-numbers", cv->to_numbers);
    if (has_message) arg_add(a, "--message-file", a->msg);
    flags_text(cv->flags, a->flags, sizeof a->flags);
    arg_add(a, "--flags", a->flags);
    arg_add(a, "--logo", cv->logo_path);
    /* The date the fax is sent, as a UTC day; no date given means today. */
    time_t t = (time_t)(cv->date > 0 ? cv->date : fx_clock_now());
    struct tm tm;
    if (gmtime_r(&t, &tm) && strftime(a->date, sizeof a->date, "%Y-%m-%d", &tm) > 0)
        arg_add(a, "--date", a->date);
    if (total_pages > 0) {
        snprintf(a->pages, sizeof a->pages, "%d", total_pages);
        arg_add(a, "--pages", a->pages);
    }
    a->argv[a->n] = NULL;
}

static enum fx_err write_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return FX_ERR_IO;
    size_t len = strlen(data), off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    return close(fd) == 0 && off == len ? FX_OK : FX_ERR_IO;
}

/* Reads the next unsigned decimal of a PBM header after whitespace; false if none. */
static bool pbm_number(const unsigned char *h, size_t n, size_t *pos, long *out)
{
    size_t p = *pos, start;
    while (p < n && (h[p] == ' ' || h[p] == '\t' || h[p] == '\r' || h[p] == '\n'))
        p++;
    start = p;
    long v = 0;
    while (p < n && h[p] >= '0' && h[p] <= '9' && v < 1000000)
        v = v * 10 + (h[p++] - '0');
    if (p == start) return false;
    *pos = p;
    *out = v;
    return true;
}

/* Parses a P4 header ("P4 <width> <height>" and one whitespace byte); *body_at gets
 * the offset of the pixels. */
static bool pbm_header(const unsigned char *h, size_t n, long *width, long *height, size_t *body_at)
{
    size_t pos = 2;
    if (n <= 2 || h[0] != 'P' || h[1] != '4' || !pbm_number(h, n, &pos, width) ||
        !pbm_number(h, n, &pos, height) || pos >= n)
        return false;
    if (h[pos] != '\n' && h[pos] != ' ' && h[pos] != '\t' && h[pos] != '\r') return false;
    *body_at = pos + 1;
    return true;
}

/* Loads the PBM the renderer wrote and checks it is exactly one full fax page: a P4
 * header for 1728 × `lines` pixels and exactly that many bytes after it. *bits is new
 * (free). FX_ERR_INVALID with why[] when the file is unusable. */
static enum fx_err read_page(const char *path, int lines, uint8_t **bits, char *why, size_t why_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_len, "no output file");
        return FX_ERR_INVALID;
    }
    unsigned char h[32];
    size_t n = fread(h, 1, sizeof h, f), at = 0;
    size_t body = (size_t)lines * ROW_BYTES;
    long width = 0, height = 0;
    struct stat st;
    enum fx_err e = FX_ERR_INVALID;
    if (!pbm_header(h, n, &width, &height, &at))
        snprintf(why, why_len, "not a binary PBM");
    else if (width != FX_PAGE_WIDTH || height != lines)
        snprintf(why, why_len, "page is %ldx%ld, expected %dx%d", width, height, FX_PAGE_WIDTH,
                 lines);
    else if (fstat(fileno(f), &st) != 0)
        snprintf(why, why_len, "output cannot be examined");
    else if ((size_t)st.st_size != at + body)
        snprintf(why, why_len, "output has %lld bytes, expected %zu", (long long)st.st_size,
                 at + body);
    else if (!(*bits = malloc(body)))
        e = FX_ERR_NOMEM;
    else if (fseek(f, (long)at, SEEK_SET) != 0 || fread(*bits, 1, body, f) != body) {
        snprintf(why, why_len, "output could not be read");
        free(*bits);
        *bits = NULL;
    } else
        e = FX_OK;
    fclose(f);
    return e;
}

/* The first line of the child's stderr, for the record's detail. */
static void first_line(const char *tail, char *out, size_t len)
{
    size_t n = strcspn(tail, "\n");
    if (n >= len) n = len - 1;
    memcpy(out, tail, n);
    out[n] = '\0';
}

static enum fx_err run_renderer(struct fx_convert *c, const struct cover_argv *a,
                                const char *workdir, struct fx_proc_result *pr,
                                struct fx_convert_result *res)
{
    struct fx_proc_spec spec = {
        .argv = a->argv,
        .dir = workdir,
        .timeout_s = c->cfg.timeout_s,
        .as_limit = c->cfg.mem_limit,
        .fsize_limit = 16 * 1024 * 1024, /* a page is 0.5 MB; fontconfig may add a cache */
        .cpu_s = c->cfg.timeout_s,
        .allow_network = false,
    };
#if defined(__SANITIZE_ADDRESS__)
    /* faxd-cover is built with AddressSanitizer too, which reserves terabytes of
     * address space for its shadow memory and cannot start under RLIMIT_AS. */
    spec.as_limit = 0;
#endif
    enum fx_err e = fx_proc_run(&spec, pr);
    if (e == FX_ERR_NOMEM) return e;
    if (e) {
        fx_error("convert cover start_failed prog=%s error=%s", a->prog, fx_err_code(e));
        return fx_convert_fail(res, STATUS_COVER, "the cover page renderer could not be started");
    }
    if (pr->timed_out)
        return fx_convert_fail(res, STATUS_COVER,
                               "the cover page renderer did not finish within %d s",
                               c->cfg.timeout_s);
    if (pr->term_signal)
        return fx_convert_fail(res, STATUS_COVER, "the cover page renderer was killed by signal %d",
                               pr->term_signal);
    if (pr->exit_code != 0) {
        char line[160];
        first_line(pr->err_tail, line, sizeof line);
        return fx_convert_fail(res, STATUS_COVER, "the cover page renderer failed (exit %d): %s",
                               pr->exit_code, line);
    }
    return FX_OK;
}

enum fx_err fx_route_cover(struct fx_convert *c, const struct fx_cover *cover, int total_pages,
                           const char *workdir, struct fx_pagew *w, struct fx_convert_result *res)
{
    struct cover_argv *a = calloc(1, sizeof *a);
    if (!a) return FX_ERR_NOMEM;
    bool has_message = cover->message && *cover->message;
    build_argv(a, &c->cfg, cover, total_pages, workdir, w, has_message);
    enum fx_err e = has_message ? write_file(a->msg, cover->message) : FX_OK;
    struct fx_proc_result pr;
    memset(&pr, 0, sizeof pr);
    if (!e) e = run_renderer(c, a, workdir, &pr, res);
    const int lines = fx_page_lines(fx_pagew_paper(w), fx_pagew_res(w));
    uint8_t *bits = NULL;
    if (!e && !res->status) {
        char why[128] = "";
        e = read_page(a->out, lines, &bits, why, sizeof why);
        if (e == FX_ERR_INVALID)
            e = fx_convert_fail(res, STATUS_COVER,
                                "the cover page renderer's output is unusable: %s", why);
    }
    if (!e && bits) e = fx_pagew_add_bitmap(w, 0, bits, FX_PAGE_WIDTH, lines, ROW_BYTES);
    free(bits);
    unlink(a->out);
    if (has_message) unlink(a->msg);
    if (!e && !res->status)
        fx_info("convert cover rendered seconds=%.2f rss_kb=%lld pages=%d", pr.seconds,
                (long long)pr.max_rss_kb, total_pages);
    else if (res->status)
        fx_warn("convert cover failed exit=%d signal=%d timed_out=%d seconds=%.2f", pr.exit_code,
                pr.term_signal, pr.timed_out, pr.seconds);
    free(a);
    return e;
}
