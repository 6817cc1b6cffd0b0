/* convert: the PDF route — password check, page count and cap, Ghostscript to G4.
 *
 * Ghostscript exits 0 on encrypted, truncated, garbage and page-less PDFs alike, so
 * nothing here trusts an exit code: qpdf answers the password question (exit 0 = a
 * user password is needed, 2 = not encrypted, 3 = encrypted with an empty user
 * password, which every renderer opens), qpdf counts pages (falling back to
 * Ghostscript's own count for files qpdf cannot parse, which gs may still recover),
 * the count is checked against the page cap BEFORE anything is rasterised, and the
 * TIFF Ghostscript writes must hold exactly that many fax-valid pages. Each call works
 * in its own sub-directory of the job's work directory (also the engines' TMPDIR). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/convert_priv.h"

/* No status names a page-cap overflow; the fax cannot be made into a TIFF that may be
 * sent, which is what this one means (the image route uses the same). */
#define PAGE_CAP_STATUS "failed_convert_to_tiff_issue"

struct pdf_job {
    struct fx_convert *c;
    char pdf[PATH_MAX]; /* absolute: engines run in dir */
    char dir[PATH_MAX];
    struct fx_convert_result *res;
};

static enum fx_err run(struct pdf_job *j, const char *const *argv, const char *stdout_path,
                       int64_t fsize, struct fx_proc_result *pr)
{
    const struct fx_convert_cfg *cfg = &j->c->cfg;
    struct fx_proc_spec spec = {
        .argv = argv,
        .dir = j->dir,
        .stdout_path = stdout_path,
        .timeout_s = cfg->timeout_s,
        .as_limit = cfg->mem_limit,
        .fsize_limit = fsize,
        .cpu_s = cfg->timeout_s > 0 ? 2 * cfg->timeout_s : 0,
    };
    enum fx_err e = fx_proc_run(&spec, pr);
    if (e) fx_error("convert engine not started prog=%s error=%s", argv[0], fx_err_code(e));
    return e;
}

/* The last line of a small file that is a plain non-negative number, or -1. */
static int read_count(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    char line[256];
    int n = -1;
    while (fgets(line, sizeof line, f)) {
        char *end;
        errno = 0;
        long v = strtol(line, &end, 10);
        while (*end == '\n' || *end == '\r' || *end == ' ') end++;
        if (end != line && !*end && !errno && v >= 0 && v <= INT_MAX && line[0] >= '0' &&
            line[0] <= '9')
            n = (int)v;
    }
    fclose(f);
    return n;
}

/* Does the PDF need a password to open? Sets res->status when it does. */
static enum fx_err check_password(struct pdf_job *j)
{
    const char *argv[] = {j->c->cfg.qpdf, "--requires-password", j->pdf, NULL};
    struct fx_proc_result pr;
    enum fx_err e = run(j, argv, NULL, 1 << 20, &pr);
    if (e) return e;
    if (pr.exit_code == 0)
        return fx_convert_fail(j->res, "failed_unknown_converter_issue",
                               "the PDF is password-protected");
    if (pr.timed_out)
        return fx_convert_fail(j->res, "failed_convert_to_tiff_issue",
                               "qpdf did not finish within %d s", j->c->cfg.timeout_s);
    return FX_OK; /* 2 = not encrypted (or unreadable: counting decides), 3 = no user password */
}

/* Writes s into out as a PostScript string body: ( ) and \ escaped. */
static bool ps_escape(const char *s, char *out, size_t len)
{
    size_t o = 0;
    for (; *s; s++) {
        bool esc = *s == '(' || *s == ')' || *s == '\\';
        if (o + 2 + esc >= len) return false;
        if (esc) out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = 0;
    return true;
}

/* Ghostscript's own page count, for PDFs qpdf cannot parse (gs repairs some). 0 when
 * it finds nothing; -1 when it did not run to completion. */
static enum fx_err count_with_gs(struct pdf_job *j, int *pages)
{
    char esc[2 * PATH_MAX + 8], prog[2 * PATH_MAX + 80], permit[PATH_MAX + 32], out[PATH_MAX + 16];
    if (!ps_escape(j->pdf, esc, sizeof esc)) return FX_ERR_INVALID;
    snprintf(prog, sizeof prog, "(%s) (r) file runpdfbegin pdfpagecount = quit", esc);
    snprintf(permit, sizeof permit, "--permit-file-read=%s", j->pdf);
    snprintf(out, sizeof out, "%s/gs-count.txt", j->dir);
    const char *argv[] = {j->c->cfg.gs, "-q", "-dNODISPLAY", "-dSAFER", permit, "-c", prog, NULL};
    struct fx_proc_result pr;
    enum fx_err e = run(j, argv, out, 1 << 20, &pr);
    if (e) return e;
    *pages = pr.timed_out || pr.exit_code != 0 ? -1 : read_count(out);
    return FX_OK;
}

static enum fx_err count_pages(struct pdf_job *j, int *pages, bool *qpdf_read)
{
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/npages.txt", j->dir);
    const char *argv[] = {j->c->cfg.qpdf, "--show-npages", j->pdf, NULL};
    struct fx_proc_result pr;
    enum fx_err e = run(j, argv, out, 1 << 20, &pr);
    if (e) return e;
    /* 3 = read with warnings (e.g. a rebuilt xref): the count is still good. */
    *pages = !pr.timed_out && (pr.exit_code == 0 || pr.exit_code == 3) ? read_count(out) : -1;
    *qpdf_read = *pages >= 0;
    if (*pages >= 0) return FX_OK;
    fx_info("convert pdf not parsed by qpdf rc=%d, counting with gs", pr.exit_code);
    return count_with_gs(j, pages);
}

static enum fx_err render(struct pdf_job *j, struct fx_pagew *w, int pages, bool *timed_out)
{
    enum fx_paper paper = fx_pagew_paper(w);
    enum fx_res res = fx_pagew_res(w);
    char r[32], g[32], last[32];
    snprintf(r, sizeof r, "-r204x%d", fx_res_lpi(res));
    snprintf(g, sizeof g, "-g%dx%d", FX_PAGE_WIDTH, fx_page_lines(paper, res));
    snprintf(last, sizeof last, "-dLastPage=%d", pages);
    /* The output name is relative (gs expands '%' in it, and the work dir is ours). */
    const char *argv[] = {j->c->cfg.gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE",
                          "-sDEVICE=tiffg4", r, g, "-dFIXEDMEDIA", "-dPDFFitPage",
                          "-dMaxStripSize=0", "-dFirstPage=1", last,
                          "-sOutputFile=out.tif", "-f", j->pdf, NULL};
    struct fx_proc_result pr;
    /* A G4 page is rarely above 100 kB; even a worst-case pattern stays under 2 MB. */
    enum fx_err e = run(j, argv, NULL, ((int64_t)pages + 2) * (2 << 20), &pr);
    if (e) return e;
    *timed_out = pr.timed_out;
    if (pr.exit_code != 0 || pr.timed_out)
        fx_warn("convert gs failed rc=%d signal=%d timed_out=%d seconds=%.1f rss_kb=%lld",
                pr.exit_code, pr.term_signal, pr.timed_out, pr.seconds, (long long)pr.max_rss_kb);
    else
        fx_debug("convert gs done pages=%d seconds=%.2f rss_kb=%lld", pages, pr.seconds,
                 (long long)pr.max_rss_kb);
    return FX_OK;
}

/* Checks Ghostscript's output and adds it to the fax. Sets res->status on failure. */
static enum fx_err take_output(struct pdf_job *j, struct fx_pagew *w, int pages, const char *tif,
                               bool timed_out, bool qpdf_read)
{
    if (timed_out)
        return fx_convert_fail(j->res, "failed_convert_to_tiff_issue",
                               "Ghostscript did not finish within %d s", j->c->cfg.timeout_s);
    int got = 0;
    enum fx_res r;
    char why[160] = "";
    bool fax = access(tif, F_OK) == 0 && fx_convert_tiff_is_fax(tif, &got, &r, why, sizeof why);
    if (!fax || got != pages || r != fx_pagew_res(w)) {
        fx_warn("convert gs output refused pages=%d expected=%d why=\"%s\"", got, pages, why);
        if (!qpdf_read && got == 0)
            return fx_convert_fail(j->res, "failed_separate_file_pages_issue",
                                   "no page of the PDF could be read");
        return fx_convert_fail(j->res, "failed_convert_to_tiff_issue",
                               "Ghostscript rendered %d of %d pages", fax ? got : 0, pages);
    }
    int added = 0;
    enum fx_err e = fx_pagew_add_tiff(w, tif, &added);
    if (e == FX_ERR_INVALID || (!e && added != pages))
        return fx_convert_fail(j->res, "failed_convert_to_tiff_issue",
                               "the rendered pages could not be used");
    return e;
}

enum fx_err fx_route_pdf(struct fx_convert *c, const char *pdf, const char *workdir,
                         struct fx_pagew *w, int pages_left, struct fx_convert_result *res)
{
    struct pdf_job j = {.c = c, .res = res};
    if (!realpath(pdf, j.pdf)) return errno == ENOMEM ? FX_ERR_NOMEM : FX_ERR_IO;
    enum fx_err e = fx_workdir_new(workdir, j.dir, sizeof j.dir);
    if (e) return e;
    int pages = -1;
    bool qpdf_read = false, timed_out = false;
    e = check_password(&j);
    if (e || res->status) goto out;
    e = count_pages(&j, &pages, &qpdf_read);
    if (e) goto out;
    if (pages <= 0) {
        fx_convert_fail(res, "failed_separate_file_pages_issue",
                        pages == 0 ? "the PDF has no pages" : "the PDF's pages could not be read");
        goto out;
    }
    if (pages > pages_left) {
        /* Counted against the whole fax (earlier documents and the cover included). */
        fx_convert_fail(res, PAGE_CAP_STATUS, "the fax has %d pages; the limit is %d",
                        c->cfg.max_pages - pages_left + pages, c->cfg.max_pages);
        goto out;
    }
    char tif[PATH_MAX + 16];
    snprintf(tif, sizeof tif, "%s/out.tif", j.dir);
    e = render(&j, w, pages, &timed_out);
    if (!e) e = take_output(&j, w, pages, tif, timed_out, qpdf_read);
out:
    fx_workdir_remove(j.dir);
    return e;
}
