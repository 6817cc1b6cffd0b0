/* convert: one warm LibreOffice instance per converter, for Office, RTF, ODF and text.
 *
 * A cold `soffice --convert-to` spends 1.1–1.8 s starting for every document; a warm
 * instance converts one in 0.05–0.5 s. C has no UNO binding, so lo_helper.py (Python
 * with python3-uno, in libexec_dir) starts soffice with a private profile, connects to
 * it over a named pipe and serves one JSON request per line on its stdin/stdout.
 *
 * Design: struct fx_convert belongs to one worker thread, and so does its fx_lo: no
 * locking here. The helper is started on first use through fx_proc_spawn (own process
 * group holding python, oosplash and soffice.bin; no network), and every reply is
 * awaited with the configured wall-clock timeout. A late reply, a dead helper or a
 * garbled reply kills the whole group and fails the document as
 * failed_office_converter_issue; the next document starts a fresh instance. The
 * instance is recycled after lo_max_docs documents or when its resident memory grows
 * past lo_mem_limit (it grows ~0.5–1 MB per document); a document that drives it past
 * twice that while converting is stopped. The profile directory is kept across
 * recycles but wiped after an instance had to be killed, as it may have been left
 * half-written. Should faxd itself die, the helper kills its own group (soffice would
 * otherwise outlive it as an orphan), and it removes socket files that killed
 * instances left in /tmp.
 *
 * The document is copied into the job's directory under a fixed neutral name: the
 * stored name is the user's, and LibreOffice finds every supported Office format from
 * its content. Files that are not ZIP, OLE2 or RTF are the UTF-8 text the pipeline
 * re-coded; they are loaded with the text filter explicitly, so text that looks like
 * HTML or CSV is still printed as text. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "convert/convert_priv.h"

#define LO_LINE_MAX 4096 /* longest reply line the helper sends */
#define LO_QUIT_WAIT_MS 5000 /* how long a polite quit may take before the group is killed */
#define LO_FSIZE_LIMIT ((int64_t)2 << 30) /* no single file LibreOffice writes gets bigger */
#define LO_RSS_CHECK_MS 1000 /* how often memory is checked while a document converts */

struct fx_lo {
    pid_t pid;                 /* the helper: leader of the instance's process group; 0 = none */
    int to_child, from_child;  /* request and reply pipes; -1 when not running */
    int docs;                  /* documents this instance has converted */
    char pipe_name[48];        /* the UNO pipe soffice listens on */
    char dir[PATH_MAX];        /* the instance's private directory (HOME, TMPDIR) */
    char profile[PATH_MAX + 16]; /* dir/profile: soffice's user installation */
    char line[LO_LINE_MAX];    /* the reply line being read */
    size_t line_len;
};

/* How one request/reply exchange ended. */
enum lo_io { LO_IO_OK, LO_IO_SEND, LO_IO_TIMEOUT, LO_IO_EOF, LO_IO_GARBAGE, LO_IO_MEMORY };

static const char *const office_status = "failed_office_converter_issue";

/* ---- the helper process ---- */

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* Kills the instance's whole process group. `wipe`: it died or was killed mid-work, so
 * its profile and its pipe's socket file cannot be trusted or were left behind. */
static void lo_kill(struct fx_lo *lo, bool wipe)
{
    close_fd(&lo->to_child);
    close_fd(&lo->from_child);
    if (lo->pid > 0) fx_proc_kill(lo->pid);
    lo->pid = 0;
    lo->docs = 0;
    lo->line_len = 0;
    if (wipe) {
        char sock[128];
        snprintf(sock, sizeof sock, "/tmp/OSL_PIPE_%u_%s", (unsigned)getuid(), lo->pipe_name);
        unlink(sock);
        fx_workdir_remove(lo->profile);
    }
}

/* Asks the helper to close soffice and exit, waits a little for it, then makes sure
 * nothing of the group is left. */
static void lo_stop(struct fx_lo *lo)
{
    if (lo->pid <= 0) return;
    static const char quit[] = "{\"quit\":true}\n";
    ssize_t w = write(lo->to_child, quit, sizeof quit - 1);
    close_fd(&lo->to_child);
    int64_t deadline = fx_clock_mono_ms() + LO_QUIT_WAIT_MS;
    char buf[256];
    for (bool eof = w < 0; !eof;) {
        int left = (int)(deadline - fx_clock_mono_ms());
        struct pollfd p = {lo->from_child, POLLIN, 0};
        if (left <= 0 || (poll(&p, 1, left) < 0 && errno != EINTR)) break;
        ssize_t n = read(lo->from_child, buf, sizeof buf);
        eof = n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN);
    }
    lo_kill(lo, false);
}

/* Reads one line from the helper before deadline_ms (monotonic). On LO_IO_OK, lo->line
 * holds it, NUL-terminated, without the newline. While waiting, the group's resident
 * memory is checked every second against max_rss_kb (0 = not checked): soffice cannot
 * be given an RLIMIT_AS, so this is what stops a document that makes it balloon. */
static enum lo_io read_line(struct fx_lo *lo, int64_t deadline_ms, int64_t max_rss_kb)
{
    lo->line_len = 0;
    for (;;) {
        int64_t left = deadline_ms - fx_clock_mono_ms();
        if (left <= 0) return LO_IO_TIMEOUT;
        if (max_rss_kb > 0 && left > LO_RSS_CHECK_MS) left = LO_RSS_CHECK_MS;
        struct pollfd p = {lo->from_child, POLLIN, 0};
        int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return LO_IO_EOF;
        if (r == 0) { /* then the deadline is checked again */
            if (max_rss_kb > 0 && fx_proc_group_rss_kb(lo->pid) > max_rss_kb) return LO_IO_MEMORY;
            continue;
        }
        size_t room = sizeof lo->line - 1 - lo->line_len;
        if (room == 0) return LO_IO_GARBAGE;
        ssize_t n = read(lo->from_child, lo->line + lo->line_len, room);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return LO_IO_EOF;
        char *nl = memchr(lo->line + lo->line_len, '\n', (size_t)n);
        lo->line_len += (size_t)n;
        if (nl) {
            /* One request, one reply: anything after the newline is a protocol error. */
            if (nl != lo->line + lo->line_len - 1) return LO_IO_GARBAGE;
            *nl = 0;
            lo->line_len = 0;
            return LO_IO_OK;
        }
    }
}

/* Reads and parses one JSON object reply. */
static enum lo_io read_reply(struct fx_lo *lo, int64_t deadline_ms, int64_t max_rss_kb,
                             json_t **out)
{
    enum lo_io io = read_line(lo, deadline_ms, max_rss_kb);
    if (io != LO_IO_OK) return io;
    json_t *j = json_loads(lo->line, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return LO_IO_GARBAGE;
    }
    *out = j;
    return LO_IO_OK;
}

static int timeout_s(const struct fx_convert *c)
{
    return c->cfg.timeout_s > 0 ? c->cfg.timeout_s : 120;
}

/* Makes the instance directory on first use. */
static enum fx_err lo_dirs(struct fx_convert *c, struct fx_lo *lo)
{
    if (lo->dir[0]) return FX_OK;
    enum fx_err e = fx_workdir_new(c->cfg.work_dir, lo->dir, sizeof lo->dir);
    if (e) return e;
    snprintf(lo->profile, sizeof lo->profile, "%s/profile", lo->dir);
    return FX_OK;
}

/* lo_helper.py in libexec_dir, or next to the running program when that is empty. */
static void helper_path(const struct fx_convert *c, char *out, size_t len)
{
    char exe[PATH_MAX] = ".";
    const char *dir = c->cfg.libexec_dir;
    if (!dir || !dir[0]) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 1] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) slash[slash == exe] = 0;
        dir = exe;
    }
    snprintf(out, len, "%s/lo_helper.py", dir);
}

/* Starts the helper and waits for soffice to accept connections. On failure why[]
 * says what happened and nothing is left running. */
static enum fx_err lo_start(struct fx_convert *c, struct fx_lo *lo, char *why, size_t why_len)
{
    enum fx_err e = lo_dirs(c, lo);
    if (e) return e;
    char helper[PATH_MAX], start_s[16], id[FX_ID_LEN + 1];
    helper_path(c, helper, sizeof helper);
    snprintf(start_s, sizeof start_s, "%d", timeout_s(c));
    fx_id_new(id);
    snprintf(lo->pipe_name, sizeof lo->pipe_name, "faxd_%.24s", id);
    const char *argv[] = {c->cfg.python ? c->cfg.python : "/usr/bin/python3", helper,
                          "--soffice", c->cfg.soffice ? c->cfg.soffice : "soffice",
                          "--profile", lo->profile, "--pipe", lo->pipe_name,
                          "--start-timeout", start_s, NULL};
    /* No RLIMIT_AS: soffice reserves far more address space than it uses; its resident
     * memory is watched instead. No RLIMIT_CPU: the instance lives for many documents. */
    struct fx_proc_spec spec = {.argv = argv, .dir = lo->dir, .fsize_limit = LO_FSIZE_LIMIT,
                                .allow_network = false};
    int64_t t0 = fx_clock_mono_ms();
    if (fx_proc_spawn(&spec, &lo->pid, &lo->to_child, &lo->from_child) != FX_OK) {
        lo->pid = 0;
        snprintf(why, why_len, "LibreOffice helper could not be started");
        return FX_OK;
    }
    /* The helper gives up by itself after start_s; the extra seconds let its own
     * explanation arrive first. */
    json_t *ready = NULL;
    enum lo_io io = read_reply(lo, t0 + (int64_t)timeout_s(c) * 1000 + 2000, 0, &ready);
    if (io == LO_IO_OK && json_is_true(json_object_get(ready, "ready"))) {
        fx_info("convert lo started pid=%d seconds=%.2f", (int)lo->pid,
                (double)(fx_clock_mono_ms() - t0) / 1000.0);
        json_decref(ready);
        return FX_OK;
    }
    const char *detail = json_string_value(json_object_get(ready, "detail"));
    snprintf(why, why_len, "LibreOffice did not start (%s)",
             io == LO_IO_TIMEOUT ? "timed out" : detail ? detail : "helper failed");
    fx_error("convert lo start failed pid=%d error=\"%s\"", (int)lo->pid, why);
    json_decref(ready);
    lo_kill(lo, true);
    return FX_OK;
}

/* True when a running instance is idle as it should be: the helper has not exited and
 * has sent nothing unasked (a reply or EOF between requests means it broke). */
static bool lo_healthy(struct fx_lo *lo)
{
    struct pollfd p = {lo->from_child, POLLIN, 0};
    if (poll(&p, 1, 0) != 0) return false;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    /* WNOWAIT: a dead helper stays a zombie, so its group id is not reused before
     * lo_kill reaps it. */
    if (waitid(P_PID, (id_t)lo->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
    return si.si_pid == 0;
}

/* Writes the whole buffer; false when the helper is gone (EPIPE: faxd ignores SIGPIPE). */
static bool write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* ---- one document ---- */

/* ZIP (DOCX, XLSX, ODF), OLE2 (DOC, XLS) and RTF go to LibreOffice's own detection;
 * anything else reaching here is UTF-8 text. */
static bool is_text(const unsigned char *head, size_t n)
{
    static const unsigned char ole2[] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    if (n >= 4 && memcmp(head, "PK\x03\x04", 4) == 0) return false;
    if (n >= sizeof ole2 && memcmp(head, ole2, sizeof ole2) == 0) return false;
    if (n >= 5 && memcmp(head, "{\\rtf", 5) == 0) return false;
    return true;
}

/* Copies src to dst (new, 0600) and tells whether it is text. */
static enum fx_err copy_input(const char *src, const char *dst, bool *text)
{
    enum fx_err e = FX_ERR_IO;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (in < 0 || out < 0) goto out;
    unsigned char buf[65536];
    bool first = true;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) goto out;
        if (n == 0) break;
        if (first) *text = is_text(buf, (size_t)n);
        first = false;
        if (!write_all(out, (const char *)buf, (size_t)n)) goto out;
    }
    if (first) *text = true;
    e = FX_OK;
out:
    if (e) fx_error("convert lo input not copied error=\"%s\"", strerror(errno));
    if (in >= 0) close(in);
    if (out >= 0 && close(out) != 0 && !e) e = FX_ERR_IO;
    return e;
}

/* True when path holds a non-empty file starting with %PDF. */
static bool pdf_ok(const char *path)
{
    char head[5] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    return n == (ssize_t)sizeof head && memcmp(head, "%PDF-", 5) == 0;
}

/* Sends the request, restarting a broken instance first; when the helper turns out to
 * be gone before it could read the request, restarts it once more and resends. On
 * LO_IO_OK *reply is set; when no instance could be started, res->status is. */
static enum lo_io lo_exchange(struct fx_convert *c, const char *req, json_t **reply,
                              struct fx_convert_result *res, enum fx_err *err)
{
    struct fx_lo *lo = c->lo;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (lo->pid > 0 && !lo_healthy(lo)) {
            fx_warn("convert lo found dead pid=%d", (int)lo->pid);
            lo_kill(lo, true);
        }
        if (lo->pid <= 0) {
            char why[200] = "";
            *err = lo_start(c, lo, why, sizeof why);
            if (*err || lo->pid <= 0) {
                if (!*err) fx_convert_fail(res, office_status, "%s", why);
                return LO_IO_SEND;
            }
        }
        if (!write_all(lo->to_child, req, strlen(req))) {
            lo_kill(lo, true);
            continue;
        }
        /* Twice the recycling limit: past that, one document is doing it. */
        int64_t max_rss_kb = c->cfg.lo_mem_limit > 0 ? c->cfg.lo_mem_limit / 1024 * 2 : 0;
        return read_reply(lo, fx_clock_mono_ms() + (int64_t)timeout_s(c) * 1000, max_rss_kb,
                          reply);
    }
    fx_convert_fail(res, office_status, "LibreOffice stopped before taking the document");
    return LO_IO_SEND;
}

/* Turns the helper's reply into a result. */
static void judge_reply(json_t *reply, const char *out_pdf, struct fx_convert_result *res,
                        bool *kill)
{
    if (json_is_true(json_object_get(reply, "ok"))) {
        if (!pdf_ok(out_pdf))
            fx_convert_fail(res, office_status, "LibreOffice wrote no PDF");
        return;
    }
    const char *kind = json_string_value(json_object_get(reply, "error"));
    const char *detail = json_string_value(json_object_get(reply, "detail"));
    if (!kind) kind = "internal";
    if (!detail) detail = "";
    fx_warn("convert lo document failed error=%s detail=\"%s\"", kind, detail);
    if (strcmp(kind, "password") == 0) {
        fx_convert_fail(res, "failed_unknown_converter_issue",
                        "the document is password-protected");
    } else if (strcmp(kind, "corrupt") == 0) {
        fx_convert_fail(res, office_status, "the document is damaged (LibreOffice: %s)", detail);
    } else if (strcmp(kind, "load") == 0) {
        fx_convert_fail(res, office_status, "LibreOffice could not open the document (%s)",
                        detail);
    } else if (strcmp(kind, "export") == 0) {
        fx_convert_fail(res, office_status, "LibreOffice could not make a PDF (%s)", detail);
    } else {
        /* "crashed" or an unexpected error: this instance is not to be trusted again. */
        *kill = true;
        fx_convert_fail(res, office_status, "LibreOffice %s (%s)",
                        strcmp(kind, "crashed") == 0 ? "crashed" : "failed", detail);
    }
}

/* After a document: recycle the instance when it has done enough or grown too big. */
static void lo_maybe_recycle(struct fx_convert *c, struct fx_lo *lo)
{
    if (lo->pid <= 0) return;
    lo->docs++;
    int64_t rss_kb = fx_proc_group_rss_kb(lo->pid);
    bool too_many = c->cfg.lo_max_docs > 0 && lo->docs >= c->cfg.lo_max_docs;
    bool too_big = c->cfg.lo_mem_limit > 0 && rss_kb * 1024 > c->cfg.lo_mem_limit;
    if (!too_many && !too_big) return;
    fx_info("convert lo recycled pid=%d docs=%d rss_kb=%lld reason=%s", (int)lo->pid, lo->docs,
            (long long)rss_kb, too_big ? "memory" : "documents");
    lo_stop(lo);
}

enum fx_err fx_lo_to_pdf(struct fx_convert *c, const char *in, const char *out_pdf,
                         const char *workdir, struct fx_convert_result *res)
{
    if (!c->lo) {
        c->lo = calloc(1, sizeof *c->lo);
        if (!c->lo) return FX_ERR_NOMEM;
        c->lo->to_child = c->lo->from_child = -1;
    }
    struct fx_lo *lo = c->lo;
    char copy[PATH_MAX];
    bool text = false;
    if (snprintf(copy, sizeof copy, "%s/lo-input", workdir) >= (int)sizeof copy)
        return FX_ERR_INVALID;
    enum fx_err e = copy_input(in, copy, &text);
    if (e) return e;
    unlink(out_pdf); /* only a PDF made now may count */
    json_t *req = json_pack("{s:s, s:s, s:b}", "in", copy, "out", out_pdf, "text", text);
    if (!req) { /* the paths are faxd's own; only non-UTF-8 ones get here */
        fx_error("convert lo paths not UTF-8 workdir=%s", workdir);
        unlink(copy);
        return FX_ERR_INVALID;
    }
    char *line = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char *msg = line ? malloc(strlen(line) + 2) : NULL;
    if (!msg) {
        free(line);
        unlink(copy);
        return FX_ERR_NOMEM;
    }
    sprintf(msg, "%s\n", line);
    free(line);

    json_t *reply = NULL;
    int64_t t0 = fx_clock_mono_ms();
    enum lo_io io = lo_exchange(c, msg, &reply, res, &e);
    free(msg);
    bool kill = io != LO_IO_OK;
    if (io == LO_IO_OK) {
        judge_reply(reply, out_pdf, res, &kill);
    } else if (io == LO_IO_TIMEOUT) {
        fx_convert_fail(res, office_status, "LibreOffice timed out after %d s", timeout_s(c));
    } else if (io == LO_IO_EOF) {
        fx_convert_fail(res, office_status, "LibreOffice crashed");
    } else if (io == LO_IO_GARBAGE) {
        fx_convert_fail(res, office_status, "LibreOffice helper sent a bad reply");
    } else if (io == LO_IO_MEMORY) {
        fx_convert_fail(res, office_status, "LibreOffice used more than %lld MB",
                        (long long)(c->cfg.lo_mem_limit * 2 >> 20));
    }
    json_decref(reply);
    if (kill && lo->pid > 0) {
        fx_warn("convert lo killed pid=%d reason=%s", (int)lo->pid,
                io == LO_IO_TIMEOUT  ? "timeout"
                : io == LO_IO_MEMORY ? "memory"
                : io == LO_IO_OK     ? "error"
                                     : "broken");
        lo_kill(lo, true);
    }
    if (!kill)
        fx_debug("convert lo document seconds=%.2f ok=%d",
                 (double)(fx_clock_mono_ms() - t0) / 1000.0, !res->status);
    lo_maybe_recycle(c, lo);
    unlink(copy);
    return e;
}

void fx_lo_free(struct fx_lo *lo)
{
    if (!lo) return;
    lo_stop(lo);
    fx_workdir_remove(lo->dir);
    free(lo);
}
