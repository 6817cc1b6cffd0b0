/* convert: the pipeline — a fax's documents and cover page into one TIFF/F.
 *
 * Each document is sniffed and sent down its route (PDF; Office via LibreOffice then
 * the PDF route; text re-coded to UTF-8, then like Office; images; fax TIFFs copied).
 * The routes add pages to one page writer; the first document that fails stops the
 * run. The page cap counts the whole fax and keeps one page for the cover, which is
 * rendered last (it shows the page count) and inserted first. Everything happens in a
 * private work directory that is always removed, and the written TIFF is validated
 * before it is reported as done. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/convert_priv.h"

/* ---- the converter context ---- */

enum fx_err fx_convert_new(const struct fx_convert_cfg *cfg, struct fx_convert **out)
{
    if (!cfg || !cfg->work_dir || !cfg->work_dir[0]) return FX_ERR_INVALID;
    struct fx_convert *c = calloc(1, sizeof *c);
    if (!c) return FX_ERR_NOMEM;
    c->cfg = *cfg;
    /* Unset program names mean the usual programs in PATH. */
    const char **field[] = {&c->cfg.work_dir, &c->cfg.libexec_dir, &c->cfg.gs, &c->cfg.mutool,
                            &c->cfg.qpdf,     &c->cfg.soffice,     &c->cfg.python};
    const char *dflt[] = {NULL, "", "gs", "mutool", "qpdf", "soffice", "python3"};
    enum { N = sizeof field / sizeof *field };
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        if (!*field[i]) *field[i] = dflt[i];
        total += strlen(*field[i]) + 1;
    }
    /* One allocation holds every string, so the copy cannot half-fail. */
    c->strings = malloc(total);
    if (!c->strings) {
        free(c);
        return FX_ERR_NOMEM;
    }
    char *p = c->strings;
    for (int i = 0; i < N; i++) {
        size_t n = strlen(*field[i]) + 1;
        memcpy(p, *field[i], n);
        *field[i] = p;
        p += n;
    }
    *out = c;
    return FX_OK;
}

void fx_convert_free(struct fx_convert *c)
{
    if (!c) return;
    fx_lo_free(c->lo);
    free(c->strings);
    free(c);
}

enum fx_err fx_convert_fail(struct fx_convert_result *res, const char *status, const char *fmt,
                            ...)
{
    res->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->detail, sizeof res->detail, fmt, ap);
    va_end(ap);
    return FX_OK;
}

/* ---- one document ---- */

static const char *kind_name(enum fx_doc_kind k)
{
    static const char *names[] = {"unsupported", "pdf", "office", "text", "image", "fax_tiff"};
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

/* A document LibreOffice turns into a PDF (Office, or text already in UTF-8). A PDF it
 * made that then has no usable pages is LibreOffice's failure, not a broken PDF. */
static enum fx_err route_office(struct fx_convert *c, const char *in, int idx, const char *wd,
                                struct fx_pagew *w, int pages_left, struct fx_convert_result *res)
{
    char pdf[PATH_MAX + 32];
    snprintf(pdf, sizeof pdf, "%s/doc%d.pdf", wd, idx);
    enum fx_err e = fx_lo_to_pdf(c, in, pdf, wd, res);
    if (e || res->status) return e;
    e = fx_route_pdf(c, pdf, wd, w, pages_left, res);
    if (!e && res->status && strcmp(res->status, "failed_separate_file_pages_issue") == 0)
        res->status = "failed_office_converter_issue";
    unlink(pdf);
    return e;
}

static enum fx_err route_fax_tiff(struct fx_convert *c, const char *path, struct fx_pagew *w,
                                  int pages_left, struct fx_convert_result *res)
{
    int pages = 0;
    if (fx_convert_tiff_pages(path, &pages) != FX_OK || pages <= 0)
        return fx_convert_fail(res, "failed_separate_file_pages_issue",
                               "the TIFF's pages could not be read");
    if (pages > pages_left)
        return fx_convert_fail(res, "failed_convert_to_tiff_issue",
                               "the fax has %d pages; the limit is %d",
                               c->cfg.max_pages - pages_left + pages, c->cfg.max_pages);
    int added = 0;
    enum fx_err e = fx_pagew_add_tiff(w, path, &added);
    if (e == FX_ERR_INVALID)
        return fx_convert_fail(res, "failed_image_preparation",
                               "the fax TIFF's pages could not be copied");
    return e;
}

static enum fx_err convert_doc(struct fx_convert *c, const struct fx_convert_job *job, int idx,
                               const char *wd, struct fx_pagew *w, int pages_left,
                               struct fx_convert_result *res)
{
    const struct fx_convert_doc *d = &job->docs[idx];
    const char *name = d->name && d->name[0] ? d->name : "document";
    char path[PATH_MAX];
    /* Engines run in their own directory: every path they get is absolute. */
    if (!realpath(d->path, path)) {
        fx_error("convert document missing doc=%d error=\"%s\"", idx, strerror(errno));
        return FX_ERR_IO;
    }
    struct fx_sniff sn;
    enum fx_err e = fx_convert_sniff(path, &sn);
    if (e) return e;
    int before = fx_pagew_pages(w);
    int64_t t0 = fx_clock_mono_ms();
    char txt[PATH_MAX + 32];
    switch (sn.kind) {
    case FX_DOC_PDF:
        e = fx_route_pdf(c, path, wd, w, pages_left, res);
        break;
    case FX_DOC_OFFICE:
        /* Encrypted OOXML is recognisable from its container: no need to ask LibreOffice. */
        if (strcmp(sn.mime, "application/encrypted") == 0)
            e = fx_convert_fail(res, "failed_unknown_converter_issue",
                                "%s is password-protected", name);
        else
            e = route_office(c, path, idx, wd, w, pages_left, res);
        break;
    case FX_DOC_TEXT:
        snprintf(txt, sizeof txt, "%s/doc%d.txt", wd, idx);
        e = fx_text_to_utf8(path, txt);
        if (!e) e = route_office(c, txt, idx, wd, w, pages_left, res);
        unlink(txt);
        break;
    case FX_DOC_IMAGE:
        e = fx_route_image(c, path, sn.mime, wd, w, job->enhance, pages_left, res);
        break;
    case FX_DOC_FAX_TIFF:
        e = route_fax_tiff(c, path, w, pages_left, res);
        break;
    default:
        e = fx_convert_fail(res, "failed_mimetype_not_supported", "%s is not a supported type (%s)", name, sn.why);
        break;
    }
    fx_info("convert document doc=%d kind=%s mime=%s pages=%d ms=%lld%s%s", idx,
            kind_name(sn.kind), sn.mime, fx_pagew_pages(w) - before,
            (long long)(fx_clock_mono_ms() - t0), res->status ? " status=" : "",
            res->status ? res->status : "");
    return e;
}

/* ---- the whole fax ---- */

static enum fx_err finish(struct fx_pagew *w, const char *out_path, struct fx_convert_result *res)
{
    enum fx_err e = fx_pagew_write(w, out_path);
    if (e) {
        unlink(out_path);
        return e;
    }
    int pages = 0;
    enum fx_res r;
    char why[160] = "";
    if (!fx_convert_tiff_is_fax(out_path, &pages, &r, why, sizeof why) ||
        pages != fx_pagew_pages(w)) {
        unlink(out_path);
        return fx_convert_fail(res, "failed_convert_to_tiff_issue",
                               "the fax TIFF failed validation: %s", why);
    }
    res->pages = pages;
    return FX_OK;
}

static enum fx_err run_docs(struct fx_convert *c, const struct fx_convert_job *job,
                            const char *wd, struct fx_pagew *w, struct fx_convert_result *res)
{
    int reserve = job->cover ? 1 : 0;
    for (int i = 0; i < job->n_docs; i++) {
        int pages_left = c->cfg.max_pages - fx_pagew_pages(w) - reserve;
        if (pages_left < 0) pages_left = 0;
        enum fx_err e = convert_doc(c, job, i, wd, w, pages_left, res);
        if (e || res->status) {
            res->failed_doc = i;
            return e;
        }
        fx_crash_point("convert_doc");
    }
    if (job->cover) {
        enum fx_err e = fx_route_cover(c, job->cover, fx_pagew_pages(w) + 1, wd, w, res);
        if (e || res->status) return e;
    }
    return FX_OK;
}

enum fx_err fx_convert_run(struct fx_convert *c, const struct fx_convert_job *job,
                           struct fx_convert_result *res)
{
    memset(res, 0, sizeof *res);
    res->failed_doc = -1;
    if (!job || job->n_docs < 0 || (job->n_docs > 0 && !job->docs) || !job->out_path ||
        (job->n_docs == 0 && !job->cover))
        return FX_ERR_INVALID;
    char wd[PATH_MAX];
    enum fx_err e = fx_workdir_new(c->cfg.work_dir, wd, sizeof wd);
    if (e) return e;
    int64_t t0 = fx_clock_mono_ms();
    struct fx_pagew *w = NULL;
    e = fx_pagew_new(job->paper, job->res, wd, &w);
    if (!e) e = run_docs(c, job, wd, w, res);
    if (!e && !res->status) e = finish(w, job->out_path, res);
    fx_pagew_free(w);
    fx_workdir_remove(wd);
    if (e)
        fx_error("convert failed docs=%d error=%s failed_doc=%d", job->n_docs, fx_err_code(e),
                 res->failed_doc);
    else if (res->status)
        fx_warn("convert refused docs=%d status=%s failed_doc=%d detail=\"%s\"", job->n_docs,
                res->status, res->failed_doc, res->detail);
    else
        fx_info("convert done docs=%d cover=%d pages=%d ms=%lld", job->n_docs, job->cover != NULL,
                res->pages, (long long)(fx_clock_mono_ms() - t0));
    return e;
}
