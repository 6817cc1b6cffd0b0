/* Unit tests for the cover page: fx_route_cover runs the real faxd-cover into a page
 * writer, and the page is read back by OCR (tesseract) at fine and at normal resolution,
 * so the test fails when the page is not legible. Also: a 5000-word message stays one
 * full page, non-Latin text renders, and a failing, hanging or lying renderer gives
 * "failed_render_header_issue".
 *
 * faxd-cover is found in $FAXD_LIBEXEC_DIR, else in ../src next to this test's binary
 * (the build tree). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cairo.h>
#include <tiffio.h>

#include "check.h"
#include "convert/convert_priv.h"

static char g_base[PATH_MAX];    /* scratch root for this test run */
static char g_libexec[PATH_MAX]; /* where the real faxd-cover is */

static const struct fx_cover k_cover = {
    .name_to = "Margaret Thornbury",
    .name_from = "Oliver Kensington",
    .subject = "Warehouse inventory reconciliation",
    .message = "Dear Margaret,\n\nplease find attached the reconciled pineapple shipment "
               "figures for the northern region. The discrepancy we discussed on Monday "
               "has been resolved.\n\nSincerely,\nOliver",
    .flags = FX_COVER_URGENT | FX_COVER_CONFIDENTIAL,
    .company = "Northwind Logistics",
    .logo_path = NULL,
    .from_number = "+1 212 555 0199",
    .to_numbers = "+44 20 7946 0958",
    .date = 1714560000, /* 2024-05-01 10:40 UTC */
};

/* Words the OCR must find on k_cover's page. */
static const char *const k_words[] = {
    "Margaret Thornbury",
    "Oliver Kensington",
    "Warehouse inventory reconciliation",
    "pineapple",
    "Sincerely",
    "Northwind Logistics",
    "FAX",
    "2024-05-01",
    "Urgent",
    "For review",
    "Please reply",
    "Confidential",
    "7946",
    "0199",
    "including cover",
};

static bool find_libexec(void)
{
    const char *env = getenv("FAXD_LIBEXEC_DIR");
    if (env && *env) {
        snprintf(g_libexec, sizeof g_libexec, "%s", env);
    } else {
        char self[PATH_MAX - 16];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) return false;
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (!slash) return false;
        *slash = '\0'; /* <build>/tests */
        snprintf(g_libexec, sizeof g_libexec, "%s/../src", self);
    }
    char prog[PATH_MAX + 16];
    snprintf(prog, sizeof prog, "%s/faxd-cover", g_libexec);
    return access(prog, X_OK) == 0;
}

static struct fx_convert *new_converter(const char *libexec, int timeout_s)
{
    struct fx_convert_cfg cfg = {
        .work_dir = g_base,
        .libexec_dir = libexec,
        .timeout_s = timeout_s,
        .mem_limit = 1024LL * 1024 * 1024,
        .max_pages = 100,
    };
    struct fx_convert *c = NULL;
    CHECK(fx_convert_new(&cfg, &c) == FX_OK);
    return c;
}

/* Renders a cover into a fresh page writer; returns the result's status (NULL = ok),
 * and the writer in *wout when wout is given. */
static const char *render(struct fx_convert *c, const struct fx_cover *cv, enum fx_paper paper,
                          enum fx_res res, const char *wd, struct fx_pagew **wout,
                          struct fx_convert_result *r)
{
    memset(r, 0, sizeof *r);
    struct fx_pagew *w = NULL;
    CHECK(fx_pagew_new(paper, res, wd, &w) == FX_OK);
    if (!w) return "no writer";
    enum fx_err e = fx_route_cover(c, cv, 3, wd, w, r);
    CHECK(e == FX_OK);
    if (wout)
        *wout = w;
    else
        fx_pagew_free(w);
    return r->status;
}

/* Writes page 1 of a TIFF as a PBM, each row repeated `rep` times. */
static bool tiff_to_pbm(const char *tif, const char *pbm, int rep, uint32_t *height)
{
    TIFF *t = TIFFOpen(tif, "r");
    if (!t) return false;
    uint32_t w = 0, h = 0;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    *height = h;
    FILE *f = fopen(pbm, "wb");
    bool ok = f && w == FX_PAGE_WIDTH;
    uint8_t row[FX_PAGE_WIDTH / 8];
    if (ok) fprintf(f, "P4\n%u %u\n", w, h * (uint32_t)rep);
    for (uint32_t y = 0; ok && y < h; y++) {
        ok = TIFFReadScanline(t, row, y, 0) >= 0; /* min-is-white: 1 = black, as in PBM */
        for (int i = 0; ok && i < rep; i++)
            ok = fwrite(row, sizeof row, 1, f) == 1;
    }
    if (f && fclose(f) != 0) ok = false;
    TIFFClose(t);
    return ok;
}

/* OCR of a PBM with tesseract; the text with whitespace runs collapsed, or NULL. */
static char *ocr(const char *pbm, const char *wd)
{
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/ocr.txt", wd);
    const char *argv[] = {"tesseract", pbm, "stdout", "--dpi", "204", "-l", "eng", NULL};
    struct fx_proc_spec spec = {.argv = argv, .dir = wd, .stdout_path = out, .timeout_s = 120};
    struct fx_proc_result pr;
    if (fx_proc_run(&spec, &pr) != FX_OK || pr.exit_code != 0) {
        fprintf(stderr, "tesseract failed: exit=%d %s\n", pr.exit_code, pr.err_tail);
        return NULL;
    }
    FILE *f = fopen(out, "rb");
    if (!f) return NULL;
    char *text = calloc(1, 65536);
    size_t n = text ? fread(text, 1, 65535, f) : 0;
    fclose(f);
    if (!text) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool space = text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r';
        if (space && (k == 0 || text[k - 1] == ' ')) continue;
        text[k++] = space ? ' ' : text[i];
    }
    text[k] = '\0';
    return text;
}

static void check_words(const char *text, const char *what)
{
    int missing = 0;
    for (size_t i = 0; i < sizeof k_words / sizeof k_words[0]; i++) {
        bool found = text && strstr(text, k_words[i]) != NULL;
        if (!found) fprintf(stderr, "%s: OCR did not find \"%s\"\n", what, k_words[i]);
        missing += !found;
        CHECK(found);
    }
    if (missing)
        fprintf(stderr, "%s: OCR text: %s\n", what, text ? text : "(none)");
    else
        printf("%s: OCR found all %zu key phrases\n", what, sizeof k_words / sizeof k_words[0]);
}

/* Renders k_cover (with a logo), writes the TIFF, checks it is TIFF/F with one full page,
 * and OCRs it (rows doubled at normal resolution, where pixels are 2:1). */
static void test_ocr(struct fx_convert *c, enum fx_paper paper, enum fx_res res, const char *what)
{
    char wd[PATH_MAX], tif[PATH_MAX + 16], pbm[PATH_MAX + 16], logo[PATH_MAX + 16];
    CHECK(fx_workdir_new(g_base, wd, sizeof wd) == FX_OK);
    snprintf(tif, sizeof tif, "%s/fax.tif", wd);
    snprintf(pbm, sizeof pbm, "%s/page.pbm", wd);
    snprintf(logo, sizeof logo, "%s/logo.png", wd);
    /* A grey, partly transparent logo: exercises PNG loading and dithering. */
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 300, 120);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgba(cr, 0.2, 0.3, 0.6, 0.8);
    cairo_arc(cr, 60, 60, 55, 0, 6.2832);
    cairo_fill(cr);
    cairo_rectangle(cr, 130, 20, 160, 80);
    cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
    cairo_fill(cr);
    cairo_destroy(cr);
    CHECK(cairo_surface_write_to_png(s, logo) == CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(s);
    struct fx_cover cv = k_cover;
    cv.logo_path = logo;

    struct fx_convert_result r;
    struct fx_pagew *w = NULL;
    const char *st = render(c, &cv, paper, res, wd, &w, &r);
    CHECK(st == NULL);
    if (st) fprintf(stderr, "%s: %s (%s)\n", what, st, r.detail);
    if (w) {
        CHECK(fx_pagew_pages(w) == 1);
        CHECK(fx_pagew_write(w, tif) == FX_OK);
        fx_pagew_free(w);
        int pages = 0;
        enum fx_res got = FX_RES_FINE;
        char why[160] = "";
        CHECK(fx_convert_tiff_is_fax(tif, &pages, &got, why, sizeof why));
        CHECK(pages == 1 && got == res);
        uint32_t h = 0;
        CHECK(tiff_to_pbm(tif, pbm, res == FX_RES_NORMAL ? 2 : 1, &h));
        CHECK(h == (uint32_t)fx_page_lines(paper, res));
        char *text = ocr(pbm, wd);
        check_words(text, what);
        free(text);
    }
    fx_workdir_remove(wd);
}

static void test_long_and_intl(struct fx_convert *c)
{
    char wd[PATH_MAX];
    CHECK(fx_workdir_new(g_base, wd, sizeof wd) == FX_OK);
    static const char *words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"};
    size_t cap = 5000 * 9 + 1, n = 0;
    char *msg = malloc(cap);
    CHECK(msg != NULL);
    if (!msg) return;
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(msg + n, cap - n, "%s%s", i ? (i % 97 ? " " : "\n") : "",
                              words[(i * 7) % 6]);
    struct fx_cover cv = k_cover;
    cv.message = msg;
    struct fx_convert_result r;
    struct fx_pagew *w = NULL;
    /* Exactly one full page: fx_route_cover checks the PBM size byte for byte. */
    CHECK(render(c, &cv, FX_PAPER_A4, FX_RES_FINE, wd, &w, &r) == NULL);
    CHECK(w && fx_pagew_pages(w) == 1);
    fx_pagew_free(w);
    CHECK(render(c, &cv, FX_PAPER_LETTER, FX_RES_NORMAL, wd, NULL, &r) == NULL);
    free(msg);

    cv = k_cover;
    cv.name_to = "Zoë Ærøskøbing — 東京";
    cv.subject = "Grüße — Łódź — 東京 — مرحبا";
    cv.message = "Grüße — Łódź — 東京 — مرحبا\n"
                 "Καλημέρα — Привет — שלום\r\nend";
    cv.company = "Société Générale d'Exemple";
    CHECK(render(c, &cv, FX_PAPER_A4, FX_RES_NORMAL, wd, NULL, &r) == NULL);
    /* Invalid UTF-8 is shown as U+FFFD, never refused. */
    cv.name_from = "bad \xff\xfe bytes \xc3";
    CHECK(render(c, &cv, FX_PAPER_A4, FX_RES_FINE, wd, NULL, &r) == NULL);
    /* Nothing but the page itself. */
    struct fx_cover empty = {0};
    CHECK(render(c, &empty, FX_PAPER_LETTER, FX_RES_FINE, wd, NULL, &r) == NULL);
    /* A logo that is not a PNG fails the cover rather than being silently dropped. */
    cv.logo_path = "/dev/null";
    CHECK_STR(render(c, &cv, FX_PAPER_A4, FX_RES_FINE, wd, NULL, &r), "failed_render_header_issue");
    fx_workdir_remove(wd);
}

/* A fake renderer: a shell script named faxd-cover in its own directory. */
static void fake_renderer(const char *dir, const char *body)
{
    char path[PATH_MAX + 64];
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/faxd-cover", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0700);
}

static void test_failing_renderers(void)
{
    static const struct {
        const char *name, *body, *detail;
    } fakes[] = {
        {"fail", "echo 'faxd-cover: kaboom' >&2; exit 1", "kaboom"},
        {"hang", "exec sleep 30", "did not finish"},
        {"crash", "kill -SEGV $$", "signal"},
        {"silent", "exit 0", "no output file"},
        {"short", "printf 'P4\\n1728 2292\\n' > \"$2\"; head -c 1000 /dev/zero >> \"$2\"", "bytes"},
        {"size", "printf 'P4\\n1728 100\\n' > \"$2\"; head -c 21600 /dev/zero >> \"$2\"",
         "1728x100"},
        {"notpbm", "echo hello > \"$2\"", "not a binary PBM"},
    };
    for (size_t i = 0; i < sizeof fakes / sizeof fakes[0]; i++) {
        char dir[PATH_MAX + 32], wd[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/fake-%s", g_base, fakes[i].name);
        fake_renderer(dir, fakes[i].body);
        struct fx_convert *c = new_converter(dir, 2);
        CHECK(fx_workdir_new(g_base, wd, sizeof wd) == FX_OK);
        struct fx_convert_result r;
        struct fx_pagew *w = NULL;
        int64_t t0 = fx_clock_mono_ms();
        CHECK_STR(render(c, &k_cover, FX_PAPER_A4, FX_RES_FINE, wd, &w, &r),
                  "failed_render_header_issue");
        CHECK(fx_clock_mono_ms() - t0 < 10000); /* the hang is cut at 2 s */
        CHECK(w && fx_pagew_pages(w) == 0);
        if (!strstr(r.detail, fakes[i].detail))
            fprintf(stderr, "fake %s: detail \"%s\"\n", fakes[i].name, r.detail);
        CHECK(strstr(r.detail, fakes[i].detail) != NULL);
        fx_pagew_free(w);
        fx_workdir_remove(wd);
        fx_convert_free(c);
    }
}

/* How long a real render takes through the sandbox (reported, not asserted). */
static void report_time(struct fx_convert *c)
{
    char wd[PATH_MAX];
    CHECK(fx_workdir_new(g_base, wd, sizeof wd) == FX_OK);
    struct fx_convert_result r;
    int64_t t0 = fx_clock_mono_ms();
    for (int i = 0; i < 5; i++)
        CHECK(render(c, &k_cover, FX_PAPER_A4, FX_RES_FINE, wd, NULL, &r) == NULL);
    printf("cover render (A4 fine, via fx_route_cover): %.0f ms each\n",
           (double)(fx_clock_mono_ms() - t0) / 5);
    fx_workdir_remove(wd);
}

int main(void)
{
    fx_log_set_level(FX_LOG_WARN);
    snprintf(g_base, sizeof g_base, "/tmp/fx-test-cover-XXXXXX");
    CHECK(mkdtemp(g_base) != NULL);
    bool have = find_libexec();
    if (!have) fprintf(stderr, "faxd-cover not found in %s (set FAXD_LIBEXEC_DIR)\n", g_libexec);
    CHECK(have);
    if (have) {
        struct fx_convert *c = new_converter(g_libexec, 60);
        if (c) {
            test_ocr(c, FX_PAPER_A4, FX_RES_FINE, "A4 fine");
            test_ocr(c, FX_PAPER_A4, FX_RES_NORMAL, "A4 normal");
            test_ocr(c, FX_PAPER_LETTER, FX_RES_NORMAL, "Letter normal");
            test_long_and_intl(c);
            report_time(c);
        }
        fx_convert_free(c);
    }
    test_failing_renderers();
    fx_workdir_remove(g_base);
    return fx_check_result("test_cover");
}
