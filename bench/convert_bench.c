/* convert_bench: times faxd's document conversion (src/convert) against the engines it
 * wraps, run bare, in the same process run; and measures the engines' peak memory.
 *
 *   convert_bench pdf50    50-page text PDF: fx_convert_run vs plain `gs … tiffg4`
 *   convert_bench docx     DOCX → PDF through the warm LibreOffice (fx_lo_to_pdf, and the
 *                          whole fx_convert_run) vs a cold `soffice --convert-to pdf`
 *   convert_bench mixed20  20 fixtures, 2 converters in 2 threads vs the same 20 one by one
 *   convert_bench memory   peak RSS of gs, qpdf, mutool, faxd-cover and a warm LibreOffice
 *
 * Environment: FAXD_TEST_DATA (tests/data), FAXD_LIBEXEC_DIR (where faxd-cover and
 * lo_helper.py are: <build>/src), BENCH_WORK (scratch base, default /tmp), BENCH_VERBOSE=1
 * (faxd's info log on stderr). Every figure is printed as it is measured; each mode ends
 * with one machine-readable line `RESULT <mode> key=value …` that bench/convert.sh reads.
 * Exit status: 0 measured, 2 could not run (a conversion failed, an engine is missing).
 *
 * Why in C rather than a shell script: the thing measured is fx_convert_run itself, and
 * the warm LibreOffice only lives inside a converter context. */
#include "convert/convert_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PDF50_PAGES 50
#define PDF50_RUNS 5
#define DOCX_WARM_RUNS 7
#define DOCX_COLD_RUNS 5
#define DOCX_COLD_REUSED_RUNS 3

static char fixtures[1024];
static char libexec[1024];
static enum fx_log_level log_level = FX_LOG_WARN;
static char work[1024]; /* this run's scratch directory (short: paths are made under it) */

/* ---- small utilities ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of n values; sorts a copy. */
static double percentile(const double *v, int n, double p)
{
    if (n <= 0) return 0;
    double s[64];
    if (n > 64) n = 64;
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    int rank = (int)(p / 100.0 * n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return s[rank - 1];
}

static double median(const double *v, int n)
{
    if (n <= 0) return 0;
    double s[64];
    if (n > 64) n = 64;
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void print_runs(const char *label, const double *v, int n)
{
    printf("  %-34s", label);
    for (int i = 0; i < n; i++) printf(" %.3f", v[i]);
    printf("  (s)\n");
}

static void fixture(const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", fixtures, name);
}

static bool file_nonempty(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

/* Runs argv directly (posix_spawnp, faxd's environment, stdout and stderr to
 * /dev/null) and waits. Returns the exit status, or -1 when it did not run or was
 * killed. This is "the engine run bare": no sandbox, no checks. */
static int run_bare(const char *const *argv)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "convert_bench: cannot run %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void base_cfg(struct fx_convert_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->work_dir = work;
    cfg->libexec_dir = libexec;
    cfg->timeout_s = 60;
    cfg->mem_limit = (int64_t)1 << 30;
    cfg->lo_mem_limit = (int64_t)1 << 30;
    cfg->lo_max_docs = 50;
    cfg->max_pages = 200;
    cfg->max_image_pixels = 64000000;
}

static struct fx_convert *converter_new(void)
{
    struct fx_convert_cfg cfg;
    base_cfg(&cfg);
    struct fx_convert *c = NULL;
    if (fx_convert_new(&cfg, &c) != FX_OK) {
        fprintf(stderr, "convert_bench: fx_convert_new failed\n");
        return NULL;
    }
    return c;
}

/* One document as a whole fax (A4, fine, no cover) into out. Returns its wall time in
 * seconds, or -1 when the conversion did not succeed (printed). */
static double convert_timed(struct fx_convert *c, const char *path, const char *out, int *pages)
{
    const char *name = strrchr(path, '/');
    struct fx_convert_doc doc = {.path = path, .name = name ? name + 1 : path};
    struct fx_convert_job job = {.docs = &doc, .n_docs = 1, .paper = FX_PAPER_A4,
                                 .res = FX_RES_FINE, .enhance = true, .out_path = out};
    struct fx_convert_result r;
    double t0 = now_s();
    enum fx_err e = fx_convert_run(c, &job, &r);
    double t = now_s() - t0;
    if (e || r.status) {
        fprintf(stderr, "convert_bench: %s: %s %s (%s)\n", doc.name, e ? fx_err_code(e) : "",
                r.status ? r.status : "", r.detail);
        return -1;
    }
    if (pages) *pages = r.pages;
    return t;
}

/* ---- CPU accounting: how busy the shared machine was with other work ---- */

/* CPU seconds the whole machine spent busy (all cores, from /proc/stat). */
static double machine_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                       &v[3], &v[4], &v[5], &v[6], &v[7])
              : 0;
    if (f) fclose(f);
    if (n < 5) return 0;
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* not idle, iowait */
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds of this process and everything it started: the engines it has reaped
 * (getrusage) and the LibreOffice instances still running (each a process group led by
 * a python3 helper that is a direct child of this process). */
static double own_cpu_s(void)
{
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    double s = (double)(a.ru_utime.tv_sec + b.ru_utime.tv_sec + a.ru_stime.tv_sec +
                        b.ru_stime.tv_sec) +
               (double)(a.ru_utime.tv_usec + b.ru_utime.tv_usec + a.ru_stime.tv_usec +
                        b.ru_stime.tv_usec) / 1e6;
    long helpers[8];
    int nh = 0;
    pid_t me = getpid();
    unsigned long long ticks = 0;
    for (int pass = 0; pass < 2; pass++) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
            char path[300], buf[1024];
            snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
            FILE *f = fopen(path, "r");
            if (!f) continue;
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = 0;
            char *rp = strrchr(buf, ')'), st;
            long ppid, pgrp;
            unsigned long long ut = 0, stt = 0;
            /* After ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt
             * cmajflt utime stime. */
            if (!rp || sscanf(rp + 1, " %c %ld %ld %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                              &st, &ppid, &pgrp, &ut, &stt) != 5)
                continue;
            if (pass == 0 && ppid == me && strstr(buf, "(python") && nh < 8)
                helpers[nh++] = atol(de->d_name);
            for (int i = 0; pass == 1 && i < nh; i++)
                if (pgrp == helpers[i]) ticks += ut + stt;
        }
        if (d) closedir(d);
    }
    return s + (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

struct phase {
    double wall, machine, own; /* seconds: wall clock, machine busy CPU, our CPU */
};

static void phase_begin(struct phase *p)
{
    p->wall = now_s();
    p->machine = machine_busy_s();
    p->own = own_cpu_s();
}

static void phase_end(struct phase *p)
{
    p->wall = now_s() - p->wall;
    p->machine = machine_busy_s() - p->machine;
    p->own = own_cpu_s() - p->own;
}

static void print_others(const struct phase *p)
{
    printf("  CPU busy by other work on the machine meanwhile: %.1f of %.1f CPU-s (%.0f %%)\n",
           p->machine - p->own, p->wall * 2, (p->machine - p->own) / (p->wall * 2) * 100);
}

/* ---- pdf50: faxd's PDF route against Ghostscript alone ---- */

/* Writes a PostScript program of `pages` pages of running text (Times 11 pt, 58 lines,
 * a Helvetica heading and a footer per page) and has Ghostscript make it a PDF: a
 * text PDF like a typical office export, with embedded fonts. */
static bool make_text_pdf(const char *dir, int pages, char *pdf, size_t len)
{
    char ps[PATH_MAX + 16];
    snprintf(ps, sizeof ps, "%s/text.ps", dir);
    snprintf(pdf, len, "%s/text%d.pdf", dir, pages);
    FILE *f = fopen(ps, "w");
    if (!f) return false;
    static const char *const words[] = {
        "the", "transmission", "log", "shows", "that", "each", "outgoing", "document",
        "was", "rendered,", "queued", "and", "dialled", "within", "agreed", "service",
        "window;", "where", "remote", "party", "busy", "retry", "policy", "waited",
        "between", "two", "five", "minutes", "before", "next", "attempt.", "Invoice",
        "2025-0317", "balance", "EUR", "1,500.00", "received", "reference"};
    const int nw = (int)(sizeof words / sizeof *words);
    fprintf(f, "%%!PS-Adobe-3.0\n%%%%Pages: %d\n<< /PageSize [595 842] >> setpagedevice\n",
            pages);
    unsigned seed = 12345;
    for (int p = 1; p <= pages; p++) {
        fprintf(f, "%%%%Page: %d %d\n/Helvetica-Bold findfont 16 scalefont setfont\n"
                   "56 780 moveto (Section %d: delivery report) show\n"
                   "/Times-Roman findfont 11 scalefont setfont\n",
                p, p, p);
        for (int l = 0; l < 58; l++) {
            fprintf(f, "56 %d moveto (", 752 - l * 12);
            int col = 0;
            while (col < 88) {
                seed = seed * 1103515245u + 12345u;
                const char *w = words[(seed >> 16) % (unsigned)nw];
                col += fprintf(f, "%s ", w);
            }
            fprintf(f, ") show\n");
        }
        fprintf(f, "/Helvetica findfont 9 scalefont setfont 270 40 moveto (Page %d of %d) show\n"
                   "showpage\n",
                p, pages);
    }
    fprintf(f, "%%%%EOF\n");
    if (fclose(f) != 0) return false;
    char out_arg[PATH_MAX + 32];
    snprintf(out_arg, sizeof out_arg, "-sOutputFile=%s", pdf);
    const char *argv[] = {"gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite",
                          out_arg, ps, NULL};
    bool ok = run_bare(argv) == 0 && file_nonempty(pdf);
    unlink(ps);
    return ok;
}

/* The plain Ghostscript command of the PDF route (what faxd adds to it: qpdf's password
 * check and page count, the sandbox, re-reading and validating the TIFF). */
static double gs_timed(const char *pdf, const char *out)
{
    char out_arg[PATH_MAX + 32];
    snprintf(out_arg, sizeof out_arg, "-sOutputFile=%s", out);
    const char *argv[] = {"gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=tiffg4",
                          "-r204x196", "-g1728x2292", "-dFIXEDMEDIA", "-dPDFFitPage",
                          "-dMaxStripSize=0", out_arg, pdf, NULL};
    unlink(out);
    double t0 = now_s();
    int rc = run_bare(argv);
    double t = now_s() - t0;
    int pages = 0;
    if (rc != 0 || fx_convert_tiff_pages(out, &pages) != FX_OK || pages != PDF50_PAGES) {
        fprintf(stderr, "convert_bench: gs alone failed rc=%d pages=%d\n", rc, pages);
        return -1;
    }
    return t;
}

static int mode_pdf50(void)
{
    char pdf[PATH_MAX], out[PATH_MAX + 16], gsout[PATH_MAX + 16];
    if (!make_text_pdf(work, PDF50_PAGES, pdf, sizeof pdf)) {
        fprintf(stderr, "convert_bench: could not make the %d-page PDF\n", PDF50_PAGES);
        return 2;
    }
    struct stat st;
    stat(pdf, &st);
    printf("pdf50: %d-page text PDF (%lld bytes), A4 fine; %d runs each, interleaved, after "
           "one warm-up run of each\n",
           PDF50_PAGES, (long long)st.st_size, PDF50_RUNS);
    snprintf(out, sizeof out, "%s/faxd.tif", work);
    snprintf(gsout, sizeof gsout, "%s/gs.tif", work);
    struct fx_convert *c = converter_new();
    if (!c) return 2;
    double faxd[PDF50_RUNS], gs[PDF50_RUNS];
    int pages = 0;
    /* Warm-up: page cache, fonts, libmagic's database. */
    bool ok = convert_timed(c, pdf, out, &pages) >= 0 && gs_timed(pdf, gsout) >= 0;
    struct phase ph;
    phase_begin(&ph);
    for (int i = 0; ok && i < PDF50_RUNS; i++) {
        faxd[i] = convert_timed(c, pdf, out, &pages);
        gs[i] = gs_timed(pdf, gsout);
        ok = faxd[i] >= 0 && gs[i] >= 0 && pages == PDF50_PAGES;
    }
    phase_end(&ph);
    fx_convert_free(c);
    if (!ok) return 2;
    print_runs("faxd fx_convert_run:", faxd, PDF50_RUNS);
    print_runs("gs tiffg4 alone:", gs, PDF50_RUNS);
    double mf = median(faxd, PDF50_RUNS), mg = median(gs, PDF50_RUNS);
    printf("  median faxd %.3f s (%.1f pages/s), gs alone %.3f s (%.1f pages/s); faxd adds "
           "%.0f ms\n",
           mf, PDF50_PAGES / mf, mg, PDF50_PAGES / mg, (mf - mg) * 1000);
    print_others(&ph);
    printf("  ratio gs/faxd = %.3f (goal >= 0.9)\n", mg / mf);
    printf("RESULT pdf50 faxd_p50_s=%.3f gs_p50_s=%.3f ratio=%.3f\n", mf, mg, mg / mf);
    unlink(out);
    unlink(gsout);
    unlink(pdf);
    return 0;
}

/* ---- docx: the warm LibreOffice against a cold soffice ---- */

/* DOCX → PDF through the converter's warm instance, nothing else. */
static double lo_timed(struct fx_convert *c, const char *path)
{
    char wd[PATH_MAX], pdf[PATH_MAX + 16];
    if (fx_workdir_new(work, wd, sizeof wd) != FX_OK) return -1;
    snprintf(pdf, sizeof pdf, "%s/out.pdf", wd);
    struct fx_convert_result r;
    memset(&r, 0, sizeof r);
    double t0 = now_s();
    enum fx_err e = fx_lo_to_pdf(c, path, pdf, wd, &r);
    double t = now_s() - t0;
    bool ok = !e && !r.status && file_nonempty(pdf);
    if (!ok) fprintf(stderr, "convert_bench: fx_lo_to_pdf %s: %s\n", path, r.detail);
    fx_workdir_remove(wd);
    return ok ? t : -1;
}

/* `soffice --headless --convert-to pdf` as a program run per document. With
 * fresh = true, its profile directory is new each time (what a converter without a
 * pool, or a fresh container, pays); otherwise one profile made beforehand is reused. */
static double cold_timed(const char *path, const char *profile_dir, bool fresh)
{
    char prof[PATH_MAX], outdir[PATH_MAX], env_arg[PATH_MAX + 64], pdf[PATH_MAX + 64];
    if (fresh) {
        snprintf(prof, sizeof prof, "%s/fresh-profile-XXXXXX", work);
        if (!mkdtemp(prof)) return -1;
    } else {
        snprintf(prof, sizeof prof, "%s", profile_dir);
    }
    snprintf(outdir, sizeof outdir, "%s/cold-out-XXXXXX", work);
    if (!mkdtemp(outdir)) return -1;
    snprintf(env_arg, sizeof env_arg, "-env:UserInstallation=file://%s", prof);
    const char *argv[] = {"soffice", "--headless", "--convert-to", "pdf", "--outdir", outdir,
                          env_arg, path, NULL};
    double t0 = now_s();
    int rc = run_bare(argv);
    double t = now_s() - t0;
    const char *base = strrchr(path, '/');
    snprintf(pdf, sizeof pdf, "%s/%s", outdir, base ? base + 1 : path);
    char *dot = strrchr(pdf, '.');
    if (dot) snprintf(dot, sizeof pdf - (size_t)(dot - pdf), ".pdf");
    bool ok = rc == 0 && file_nonempty(pdf);
    if (!ok) fprintf(stderr, "convert_bench: cold soffice %s: rc=%d, no PDF\n", path, rc);
    fx_workdir_remove(outdir);
    if (fresh) fx_workdir_remove(prof);
    return ok ? t : -1;
}

struct docx_fig {
    double lo50, full50, cold50, reused50;
};

static bool docx_one(struct fx_convert *c, const char *name, int want_pages, const char *profile,
                     struct docx_fig *fig)
{
    char path[PATH_MAX], out[PATH_MAX + 16], label[96];
    fixture(name, path, sizeof path);
    snprintf(out, sizeof out, "%s/docx.tif", work);
    double lo[DOCX_WARM_RUNS], full[DOCX_WARM_RUNS], cold[DOCX_COLD_RUNS],
        reused[DOCX_COLD_REUSED_RUNS];
    int pages = 0;
    for (int i = 0; i < DOCX_WARM_RUNS; i++) {
        lo[i] = lo_timed(c, path);
        full[i] = convert_timed(c, path, out, &pages);
        if (lo[i] < 0 || full[i] < 0 || pages != want_pages) return false;
    }
    for (int i = 0; i < DOCX_COLD_RUNS; i++)
        if ((cold[i] = cold_timed(path, NULL, true)) < 0) return false;
    for (int i = 0; i < DOCX_COLD_REUSED_RUNS; i++)
        if ((reused[i] = cold_timed(path, profile, false)) < 0) return false;
    printf("%s (%d page%s):\n", name, want_pages, want_pages == 1 ? "" : "s");
    snprintf(label, sizeof label, "warm fx_lo_to_pdf (DOCX->PDF):");
    print_runs(label, lo, DOCX_WARM_RUNS);
    print_runs("warm fx_convert_run (->TIFF):", full, DOCX_WARM_RUNS);
    print_runs("cold soffice, fresh profile:", cold, DOCX_COLD_RUNS);
    print_runs("cold soffice, reused profile:", reused, DOCX_COLD_REUSED_RUNS);
    fig->lo50 = percentile(lo, DOCX_WARM_RUNS, 50);
    fig->full50 = percentile(full, DOCX_WARM_RUNS, 50);
    fig->cold50 = percentile(cold, DOCX_COLD_RUNS, 50);
    fig->reused50 = percentile(reused, DOCX_COLD_REUSED_RUNS, 50);
    printf("  p50: warm DOCX->PDF %.3f s, warm whole conversion %.3f s, cold (fresh profile) "
           "%.3f s, cold (reused profile) %.3f s\n",
           fig->lo50, fig->full50, fig->cold50, fig->reused50);
    printf("  ratio warm/cold (same work, DOCX->PDF) = %.3f; whole conversion/cold = %.3f "
           "(goal <= 0.25); vs reused profile %.3f\n",
           fig->lo50 / fig->cold50, fig->full50 / fig->cold50, fig->lo50 / fig->reused50);
    unlink(out);
    return true;
}

static int mode_docx(void)
{
    printf("docx: warm = this converter's LibreOffice (first conversion excluded), %d runs; "
           "cold = soffice --headless --convert-to pdf, %d runs with a fresh profile each, "
           "%d with one reused profile (informational)\n",
           DOCX_WARM_RUNS, DOCX_COLD_RUNS, DOCX_COLD_REUSED_RUNS);
    struct fx_convert *c = converter_new();
    if (!c) return 2;
    char path[PATH_MAX], out[PATH_MAX + 16], profile[PATH_MAX];
    fixture("letter.docx", path, sizeof path);
    snprintf(out, sizeof out, "%s/warmup.tif", work);
    double first = convert_timed(c, path, out, NULL);
    unlink(out);
    if (first < 0) {
        fx_convert_free(c);
        return 2;
    }
    printf("  first conversion (starts LibreOffice): %.3f s\n", first);
    /* The reused profile is made once, by a first cold run that is not counted. */
    snprintf(profile, sizeof profile, "%s/reused-profile", work);
    double make = cold_timed(path, profile, false);
    printf("  cold run that creates the reused profile (not counted): %.3f s\n", make);
    struct docx_fig f1 = {0}, f4 = {0};
    struct phase ph;
    phase_begin(&ph);
    bool ok = make >= 0 && docx_one(c, "letter.docx", 1, profile, &f1) &&
              docx_one(c, "report.docx", 4, profile, &f4);
    phase_end(&ph);
    print_others(&ph);
    fx_convert_free(c);
    fx_workdir_remove(profile);
    if (!ok) return 2;
    printf("RESULT docx letter_lo_p50_s=%.3f letter_full_p50_s=%.3f letter_cold_p50_s=%.3f "
           "letter_ratio=%.3f letter_full_ratio=%.3f report_lo_p50_s=%.3f "
           "report_full_p50_s=%.3f report_cold_p50_s=%.3f report_ratio=%.3f "
           "report_full_ratio=%.3f\n",
           f1.lo50, f1.full50, f1.cold50, f1.lo50 / f1.cold50, f1.full50 / f1.cold50, f4.lo50,
           f4.full50, f4.cold50, f4.lo50 / f4.cold50, f4.full50 / f4.cold50);
    return 0;
}

/* ---- mixed20: two converters on two cores ---- */

static const char *const mixed[] = {
    "letter_a4.pdf",  "report.pdf",     "letter_us.pdf",      "landscape.pdf",
    "mixed_orientation.pdf", "scan_image.pdf", "letter.docx", "report.docx",
    "letter.odt",     "letter.rtf",     "letter.doc",         "invoice.xlsx",
    "ledger.xlsx",    "invoice.xls",    "photo.jpg",          "scan_phone.jpg",
    "document_page.png", "multipage_mixed.tiff", "letter.txt", "report.txt",
};
#define N_MIXED ((int)(sizeof mixed / sizeof *mixed))

struct pool {
    pthread_mutex_t mu;
    int next;
    int failed;
    double t[N_MIXED];
};

struct worker {
    struct pool *pool;
    struct fx_convert *c;
    int id;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char out[PATH_MAX + 32], path[PATH_MAX];
    snprintf(out, sizeof out, "%s/thread%d.tif", work, w->id);
    for (;;) {
        pthread_mutex_lock(&w->pool->mu);
        int i = w->pool->next++;
        pthread_mutex_unlock(&w->pool->mu);
        if (i >= N_MIXED) break;
        fixture(mixed[i], path, sizeof path);
        double t = convert_timed(w->c, path, out, NULL);
        pthread_mutex_lock(&w->pool->mu);
        w->pool->t[i] = t;
        if (t < 0) w->pool->failed++;
        pthread_mutex_unlock(&w->pool->mu);
    }
    unlink(out);
    return NULL;
}

#define MIXED_ROUNDS 3

/* One round: the 20 documents one by one on c[0] (seq[] gets each time), then the
 * same 20 shared by c[0] and c[1] in two threads (par[] each time). */
static bool mixed_round(struct fx_convert *c[2], double *seq, double *par, struct phase *ps,
                        struct phase *pp)
{
    char path[PATH_MAX], out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/mixed.tif", work);
    bool ok = true;
    phase_begin(ps);
    for (int i = 0; ok && i < N_MIXED; i++) {
        fixture(mixed[i], path, sizeof path);
        seq[i] = convert_timed(c[0], path, out, NULL);
        ok = seq[i] >= 0;
    }
    phase_end(ps);
    unlink(out);
    if (!ok) return false;
    struct pool pool = {.next = 0};
    pthread_mutex_init(&pool.mu, NULL);
    struct worker w[2] = {{&pool, c[0], 0}, {&pool, c[1], 1}};
    pthread_t th[2];
    int started = 0;
    phase_begin(pp);
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) == 0) started++;
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    phase_end(pp);
    pthread_mutex_destroy(&pool.mu);
    memcpy(par, pool.t, sizeof pool.t);
    return started == 2 && pool.failed == 0;
}

static int mode_mixed20(void)
{
    printf("mixed20: %d fixtures (PDF, DOC/DOCX/ODT/RTF, XLS/XLSX, JPG/PNG/TIFF, TXT), each a "
           "one-document fax, A4 fine; both converters' LibreOffice warmed first; %d rounds of "
           "(one by one on one converter, then 2 converters in 2 threads)\n",
           N_MIXED, MIXED_ROUNDS);
    struct fx_convert *c[2] = {converter_new(), converter_new()};
    char path[PATH_MAX], out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/mixed.tif", work);
    fixture("letter.docx", path, sizeof path);
    bool ok = c[0] && c[1] && convert_timed(c[0], path, out, NULL) >= 0 &&
              convert_timed(c[1], path, out, NULL) >= 0;
    unlink(out);
    double seq[MIXED_ROUNDS][N_MIXED], par[MIXED_ROUNDS][N_MIXED], ratio[MIXED_ROUNDS];
    double sums[MIXED_ROUNDS], walls[MIXED_ROUNDS];
    struct phase ps[MIXED_ROUNDS], pp[MIXED_ROUNDS];
    for (int r = 0; ok && r < MIXED_ROUNDS; r++)
        ok = mixed_round(c, seq[r], par[r], &ps[r], &pp[r]);
    fx_convert_free(c[0]);
    fx_convert_free(c[1]);
    if (!ok) return 2;
    printf("  %-24s %12s %12s   (round 1)\n", "document", "alone (s)", "in pair (s)");
    for (int i = 0; i < N_MIXED; i++)
        printf("  %-24s %12.3f %12.3f\n", mixed[i], seq[0][i], par[0][i]);
    for (int r = 0; r < MIXED_ROUNDS; r++) {
        double sum = 0, psum = 0;
        for (int i = 0; i < N_MIXED; i++) {
            sum += seq[r][i];
            psum += par[r][i];
        }
        sums[r] = sum;
        walls[r] = pp[r].wall;
        ratio[r] = pp[r].wall / sum;
        printf("  round %d: sequential sum %.3f s, 2 threads wall %.3f s, ratio %.3f; "
               "conversions %.0f %% slower when paired; CPU busy by others: %.1f of %.1f s "
               "sequential, %.1f of %.1f s paired\n",
               r + 1, sum, pp[r].wall, ratio[r], (psum / sum - 1) * 100,
               ps[r].machine - ps[r].own, ps[r].wall * 2, pp[r].machine - pp[r].own,
               pp[r].wall * 2);
    }
    double mr = median(ratio, MIXED_ROUNDS);
    printf("  ratio wall/sequential: median %.3f of %d rounds (two cores: 0.5 is perfect, "
           "expect 0.5-0.7)\n",
           mr, MIXED_ROUNDS);
    printf("RESULT mixed20 seq_sum_s=%.3f par_wall_s=%.3f ratio=%.3f\n",
           median(sums, MIXED_ROUNDS), median(walls, MIXED_ROUNDS), mr);
    return 0;
}

/* ---- memory: each engine's peak resident memory ---- */

/* Runs one engine as the routes do (fx_proc_run: sandbox, 1 GiB RLIMIT_AS, timeout)
 * and prints its peak RSS (getrusage of the child). */
static int64_t engine_rss(const char *label, const char *const *argv, const char *dir,
                          const char *stdout_path, int64_t as_limit)
{
    struct fx_proc_spec spec = {.argv = argv, .dir = dir, .stdout_path = stdout_path,
                                .timeout_s = 60, .as_limit = as_limit};
    struct fx_proc_result pr;
    if (fx_proc_run(&spec, &pr) != FX_OK) {
        printf("  %-44s could not run\n", label);
        return -1;
    }
    printf("  %-44s %7.1f MB peak RSS  %6.2f s  exit %d\n", label, pr.max_rss_kb / 1024.0,
           pr.seconds, pr.exit_code);
    return pr.exit_code == 0 ? pr.max_rss_kb : -1;
}

static int64_t gs_rss(const char *label, const char *pdf, const char *dir, int pages)
{
    char last[32];
    snprintf(last, sizeof last, "-dLastPage=%d", pages);
    const char *argv[] = {"gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=tiffg4",
                          "-r204x196", "-g1728x2292", "-dFIXEDMEDIA", "-dPDFFitPage",
                          "-dMaxStripSize=0", "-dFirstPage=1", last, "-sOutputFile=out.tif",
                          "-f", pdf, NULL};
    return engine_rss(label, argv, dir, NULL, (int64_t)1 << 30);
}

static int64_t mutool_rss(const char *label, const char *img, int box, const char *dir)
{
    char boxs[16], out[PATH_MAX + 16];
    snprintf(boxs, sizeof boxs, "%d", box);
    snprintf(out, sizeof out, "%s/img-%%d.pgm", dir);
    const char *argv[] = {"mutool", "draw", "-q", "-A", "0", "-c", "gray", "-F", "pnm", "-w",
                          boxs, "-h", boxs, "-o", out, img, "1-1", NULL};
    return engine_rss(label, argv, dir, NULL, (int64_t)1 << 30);
}

static int64_t cover_rss(const char *label, const char *logo, const char *dir)
{
    char prog[PATH_MAX + 16], out[PATH_MAX + 16];
    snprintf(prog, sizeof prog, "%s/faxd-cover", libexec);
    snprintf(out, sizeof out, "%s/cover.pbm", dir);
    const char *argv[24] = {prog, "--out", out, "--paper", "a4", "--res", "fine",
                            "--to", "Quentin Harrowgate", "--from", "Beatrix Ollerton",
                            "--subject", "Harbour inventory", "--company", "Brightwater",
                            "--flags", "urgent,please_reply", "--pages", "5", NULL};
    int n = 19;
    if (logo) {
        argv[n++] = "--logo";
        argv[n++] = logo;
        argv[n] = NULL;
    }
    /* Under AddressSanitizer faxd-cover cannot start with an RLIMIT_AS (cover.c). */
#if defined(__SANITIZE_ADDRESS__)
    return engine_rss(label, argv, dir, NULL, 0);
#else
    return engine_rss(label, argv, dir, NULL, (int64_t)1 << 30);
#endif
}

/* The warm instance's process group: its leader is the helper, a direct child of this
 * process (python3). */
static pid_t find_lo_helper(void)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    pid_t found = 0, me = getpid();
    struct dirent *de;
    while ((de = readdir(d)) && !found) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        char *rp = strrchr(buf, ')');
        char st;
        long ppid = 0;
        if (rp && sscanf(rp + 1, " %c %ld", &st, &ppid) == 2 && ppid == me &&
            strstr(buf, "(python"))
            found = (pid_t)atol(de->d_name);
    }
    closedir(d);
    return found;
}

/* Prints every process of the group with its current and peak RSS (VmRSS, VmHWM). */
static int64_t print_group(pid_t pgid)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    int64_t max_hwm = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        if (getpgid((pid_t)atol(de->d_name)) != pgid) continue;
        char path[300], line[256], name[64] = "?", state[16] = "?";
        long rss = 0, hwm = 0;
        snprintf(path, sizeof path, "/proc/%s/status", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "Name: %63s", name) == 1) continue;
            if (sscanf(line, "State: %15s", state) == 1) continue;
            if (sscanf(line, "VmRSS: %ld", &rss) == 1) continue;
            sscanf(line, "VmHWM: %ld", &hwm);
        }
        fclose(f);
        printf("    pid %-7s %-14s %s %7.1f MB now, %7.1f MB peak\n", de->d_name, name, state,
               rss / 1024.0, hwm / 1024.0);
        if (strcmp(name, "soffice.bin") == 0 && hwm > max_hwm) max_hwm = hwm;
    }
    closedir(d);
    return max_hwm;
}

/* The same figures as the routes themselves log them (route_pdf.c and cover.c log the
 * rss_kb of their fx_proc_result at debug/info level): one real fax, report.pdf with a
 * cover page, converted while faxd's log (stderr) goes to a file. No LibreOffice is
 * started here, so no long-lived child inherits that file as its stderr. */
static void route_logged_rss(void)
{
    char logp[PATH_MAX], pdf[PATH_MAX], out[PATH_MAX + 16];
    snprintf(logp, sizeof logp, "%s/route.log", work);
    snprintf(out, sizeof out, "%s/route.tif", work);
    fixture("report.pdf", pdf, sizeof pdf);
    struct fx_convert *c = converter_new();
    int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (!c || fd < 0 || saved < 0 || dup2(fd, STDERR_FILENO) < 0) {
        if (fd >= 0) close(fd);
        if (saved >= 0) close(saved);
        fx_convert_free(c);
        return;
    }
    close(fd);
    fx_log_set_level(FX_LOG_DEBUG);
    struct fx_cover cover = {.name_to = "Quentin Harrowgate", .subject = "Harbour inventory"};
    struct fx_convert_doc doc = {.path = pdf, .name = "report.pdf"};
    struct fx_convert_job job = {.docs = &doc, .n_docs = 1, .cover = &cover,
                                 .paper = FX_PAPER_A4, .res = FX_RES_FINE, .out_path = out};
    struct fx_convert_result r;
    enum fx_err e = fx_convert_run(c, &job, &r);
    fx_log_set_level(log_level);
    dup2(saved, STDERR_FILENO);
    close(saved);
    fx_convert_free(c);
    unlink(out);
    FILE *f = fopen(logp, "r");
    char line[2048];
    long long gs_kb = -1, cover_kb = -1;
    while (f && fgets(line, sizeof line, f)) {
        const char *rss = strstr(line, "rss_kb=");
        if (!rss) continue;
        if (strstr(line, "convert gs done")) gs_kb = atoll(rss + 7);
        if (strstr(line, "convert cover rendered")) cover_kb = atoll(rss + 7);
    }
    if (f) fclose(f);
    unlink(logp);
    printf("  as the routes log it (report.pdf + cover, %s): gs %.1f MB, faxd-cover %.1f MB\n",
           e || r.status ? "FAILED" : "ok", gs_kb / 1024.0, cover_kb / 1024.0);
}

struct mem_peaks {
    int64_t gs, qpdf, mutool, cover, lo_group, lo_hwm; /* kB */
};

static void keep_max(int64_t *max, int64_t v)
{
    if (v > *max) *max = v;
}

/* gs and qpdf on fixtures and on a 50-page text PDF. */
static bool pdf_engines_rss(const char *dir, struct mem_peaks *m)
{
    char pdf50[PATH_MAX], p[PATH_MAX], npages[PATH_MAX + 16];
    if (!make_text_pdf(work, PDF50_PAGES, pdf50, sizeof pdf50)) return false;
    static const struct {
        const char *name;
        int pages;
    } pdfs[] = {{"letter_a4.pdf", 1}, {"report.pdf", 4}, {"scan_image.pdf", 1},
                {"huge_page.pdf", 1}};
    for (size_t i = 0; i < sizeof pdfs / sizeof *pdfs; i++) {
        char label[96];
        fixture(pdfs[i].name, p, sizeof p);
        snprintf(label, sizeof label, "gs tiffg4 %s", pdfs[i].name);
        keep_max(&m->gs, gs_rss(label, p, dir, pdfs[i].pages));
    }
    keep_max(&m->gs, gs_rss("gs tiffg4 50-page text PDF", pdf50, dir, PDF50_PAGES));
    snprintf(npages, sizeof npages, "%s/npages.txt", dir);
    fixture("report.pdf", p, sizeof p);
    const char *const targets[2] = {pdf50, p};
    for (int i = 0; i < 2; i++) {
        const char *a1[] = {"qpdf", "--requires-password", targets[i], NULL};
        const char *a2[] = {"qpdf", "--show-npages", targets[i], NULL};
        char l1[96], l2[96];
        snprintf(l1, sizeof l1, "qpdf --requires-password %s", i ? "report.pdf" : "50-page PDF");
        snprintf(l2, sizeof l2, "qpdf --show-npages %s", i ? "report.pdf" : "50-page PDF");
        /* --requires-password exits 2 for an unencrypted file: its RSS still counts. */
        struct fx_proc_spec spec = {.argv = a1, .dir = dir, .timeout_s = 60,
                                    .as_limit = (int64_t)1 << 30};
        struct fx_proc_result pr;
        if (fx_proc_run(&spec, &pr) == FX_OK) {
            printf("  %-44s %7.1f MB peak RSS  %6.2f s  exit %d\n", l1, pr.max_rss_kb / 1024.0,
                   pr.seconds, pr.exit_code);
            keep_max(&m->qpdf, pr.max_rss_kb);
        }
        keep_max(&m->qpdf, engine_rss(l2, a2, dir, npages, (int64_t)1 << 30));
    }
    unlink(pdf50);
    return true;
}

/* mutool on the image fixtures (box = the image's longest side, as image.c asks) and
 * faxd-cover with and without a logo. */
static void image_engines_rss(const char *dir, struct mem_peaks *m)
{
    char p[PATH_MAX];
    static const struct {
        const char *name;
        int box;
    } imgs[] = {{"photo.jpg", 1200}, {"scan_phone.jpg", 1380}, {"document_page.png", 2339}};
    for (size_t i = 0; i < sizeof imgs / sizeof *imgs; i++) {
        char label[96];
        fixture(imgs[i].name, p, sizeof p);
        snprintf(label, sizeof label, "mutool draw %s (box %d)", imgs[i].name, imgs[i].box);
        keep_max(&m->mutool, mutool_rss(label, p, imgs[i].box, dir));
    }
    fixture("logo_alpha.png", p, sizeof p);
    keep_max(&m->cover, cover_rss("faxd-cover (text only)", NULL, dir));
    keep_max(&m->cover, cover_rss("faxd-cover (with logo_alpha.png)", p, dir));
}

/* A converter's warm LibreOffice after report.docx and ledger.xlsx. */
static bool lo_rss(struct mem_peaks *m)
{
    struct fx_convert *c = converter_new();
    if (!c) return false;
    char out[PATH_MAX + 16], p[PATH_MAX];
    snprintf(out, sizeof out, "%s/mem.tif", work);
    static const char *const lo_docs[] = {"report.docx", "ledger.xlsx"};
    bool ok = true;
    for (int i = 0; ok && i < 2; i++) {
        fixture(lo_docs[i], p, sizeof p);
        ok = convert_timed(c, p, out, NULL) >= 0;
        pid_t helper = ok ? find_lo_helper() : 0;
        m->lo_group = helper > 0 ? fx_proc_group_rss_kb(helper) : 0;
        if (ok)
            printf("  LibreOffice after %s: group %.1f MB now (fx_proc_group_rss_kb)\n",
                   lo_docs[i], m->lo_group / 1024.0);
        if (helper > 0) m->lo_hwm = print_group(helper);
    }
    unlink(out);
    fx_convert_free(c);
    return ok;
}

static int mode_memory(void)
{
    printf("memory: peak RSS of each engine, run with the routes' exact arguments through "
           "fx_proc_run (getrusage of the child)\n");
    char dir[PATH_MAX];
    struct mem_peaks m = {0};
    if (fx_workdir_new(work, dir, sizeof dir) != FX_OK) return 2;
    bool ok = pdf_engines_rss(dir, &m);
    if (ok) image_engines_rss(dir, &m);
    fx_workdir_remove(dir);
    if (ok) route_logged_rss();
    if (!ok || !lo_rss(&m)) return 2;
    printf("  peaks: gs %.1f MB, qpdf %.1f MB, mutool %.1f MB, faxd-cover %.1f MB, LibreOffice "
           "group %.1f MB (soffice.bin peak %.1f MB)\n",
           m.gs / 1024.0, m.qpdf / 1024.0, m.mutool / 1024.0, m.cover / 1024.0,
           m.lo_group / 1024.0, m.lo_hwm / 1024.0);
    printf("RESULT memory gs_mb=%.1f qpdf_mb=%.1f mutool_mb=%.1f cover_mb=%.1f lo_group_mb=%.1f "
           "lo_soffice_peak_mb=%.1f\n",
           m.gs / 1024.0, m.qpdf / 1024.0, m.mutool / 1024.0, m.cover / 1024.0,
           m.lo_group / 1024.0, m.lo_hwm / 1024.0);
    return 0;
}

/* ---- main ---- */

static void find_libexec(const char *argv0)
{
    const char *env = getenv("FAXD_LIBEXEC_DIR");
    if (env) {
        snprintf(libexec, sizeof libexec, "%s", env);
        return;
    }
    /* <build>/bench/convert_bench: the programs are in <build>/src. */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf(self, sizeof self, "%s", argv0);
        n = (ssize_t)strlen(self);
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(libexec, sizeof libexec, "%s/../src", self);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s pdf50|docx|mixed20|memory\n", argv[0]);
        return 2;
    }
    const char *data = getenv("FAXD_TEST_DATA");
    snprintf(fixtures, sizeof fixtures, "%s/fixtures", data ? data : "tests/data");
    find_libexec(argv[0]);
    const char *verbose = getenv("BENCH_VERBOSE");
    if (verbose && strcmp(verbose, "1") == 0) log_level = FX_LOG_INFO;
    fx_log_set_level(log_level);
    const char *base = getenv("BENCH_WORK");
    snprintf(work, sizeof work, "%s/faxd-convert-bench-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(work)) {
        perror("mkdtemp");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc;
    if (strcmp(argv[1], "pdf50") == 0)
        rc = mode_pdf50();
    else if (strcmp(argv[1], "docx") == 0)
        rc = mode_docx();
    else if (strcmp(argv[1], "mixed20") == 0)
        rc = mode_mixed20();
    else if (strcmp(argv[1], "memory") == 0)
        rc = mode_memory();
    else {
        fprintf(stderr, "convert_bench: unknown mode %s\n", argv[1]);
        rc = 2;
    }
    fx_workdir_remove(work);
    return rc;
}
