/* convert: fax TIFF handling — the page writer that assembles a fax's TIFF/F, TIFF/F
 * validation, and grey thumbnails of fax pages.
 *
 * The page writer keeps each page's encoded strip in memory (a G4 page is 10–100 kB) and
 * writes the whole file at the end, so the cover page can be inserted first once the
 * page count is known. Pages are encoded by libtiff's own CCITT coder through a scratch
 * file: faxd never writes a codec by hand. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>
#include <tiffio.h>

#include "convert/convert_priv.h"

int fx_page_lines(enum fx_paper paper, enum fx_res res)
{
    int fine = paper == FX_PAPER_LETTER ? 2156 : 2292;
    return res == FX_RES_NORMAL ? fine / 2 : fine;
}

int fx_res_lpi(enum fx_res res)
{
    return res == FX_RES_NORMAL ? 98 : 196;
}

static void quiet(void)
{
    TIFFSetWarningHandler(NULL);
    TIFFSetErrorHandler(NULL);
}

/* ---- reading page properties ---- */

struct pageinfo {
    uint32_t w, h;
    uint16_t bps, spp, comp, photometric, fill, planar;
    uint32_t t4opts;
    double xres, yres; /* per inch */
    uint32_t strips;
    bool tiled;
};

static void page_info(TIFF *t, struct pageinfo *p)
{
    float xr = 0, yr = 0;
    uint16_t unit = RESUNIT_INCH;
    memset(p, 0, sizeof *p);
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &p->w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &p->h);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &p->bps);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &p->spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &p->comp);
    if (!TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &p->photometric))
        p->photometric = PHOTOMETRIC_MINISWHITE;
    TIFFGetFieldDefaulted(t, TIFFTAG_FILLORDER, &p->fill);
    TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &p->planar);
    if (p->comp == COMPRESSION_CCITTFAX3) TIFFGetField(t, TIFFTAG_GROUP3OPTIONS, &p->t4opts);
    TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr);
    TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr);
    TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &unit);
    double k = unit == RESUNIT_CENTIMETER ? 2.54 : 1;
    p->xres = xr > 0 ? xr * k : 0;
    p->yres = yr > 0 ? yr * k : 0;
    p->tiled = TIFFIsTiled(t);
    p->strips = p->tiled ? 0 : TIFFNumberOfStrips(t);
}

static bool near(double v, double want)
{
    return fabs(v - want) <= want * 0.02;
}

/* Why a page is not TIFF/F, or NULL when it is; *res gets its resolution. */
static const char *page_not_fax(const struct pageinfo *p, enum fx_res *res)
{
    if (p->w != FX_PAGE_WIDTH) return "width is not 1728 pixels";
    if (p->bps != 1 || p->spp != 1) return "not bilevel";
    if (p->photometric != PHOTOMETRIC_MINISWHITE) return "not min-is-white";
    if (p->comp != COMPRESSION_CCITTFAX3 && p->comp != COMPRESSION_CCITTFAX4)
        return "not CCITT T.4/T.6 coded";
    if (p->tiled || p->strips != 1) return "not one strip per page";
    if (!near(p->xres, 204)) return "horizontal resolution is not 204 dpi";
    if (near(p->yres, 196)) *res = FX_RES_FINE;
    else if (near(p->yres, 98)) *res = FX_RES_NORMAL;
    else return "vertical resolution is not 196 or 98 lpi";
    if (p->h == 0 || p->h > 2 * 2292) return "page length out of range";
    return NULL;
}

bool fx_convert_tiff_is_fax(const char *path, int *pages, enum fx_res *res, char *why,
                            size_t why_len)
{
    quiet();
    TIFF *t = TIFFOpen(path, "r");
    if (!t) {
        snprintf(why, why_len, "not a readable TIFF");
        return false;
    }
    int n = 0;
    enum fx_res first = FX_RES_FINE, r = FX_RES_FINE;
    const char *bad = NULL;
    do {
        struct pageinfo p;
        page_info(t, &p);
        bad = page_not_fax(&p, &r);
        if (!bad && n > 0 && r != first) bad = "pages have different resolutions";
        if (n == 0) first = r;
        n++;
    } while (!bad && TIFFReadDirectory(t));
    TIFFClose(t);
    if (bad) {
        snprintf(why, why_len, "page %d: %s", n, bad);
        return false;
    }
    if (pages) *pages = n;
    if (res) *res = first;
    return true;
}

/* ---- the page writer ---- */

struct enc_page {
    uint8_t *data;
    tmsize_t len;
    uint16_t comp, fill;
    uint32_t t4opts, height;
};

struct fx_pagew {
    enum fx_paper paper;
    enum fx_res res;
    char scratch[4200];
    struct enc_page *pages;
    int n, cap;
};

enum fx_err fx_pagew_new(enum fx_paper paper, enum fx_res res, const char *scratch_dir,
                         struct fx_pagew **out)
{
    struct fx_pagew *w = calloc(1, sizeof *w);
    if (!w) return FX_ERR_NOMEM;
    w->paper = paper;
    w->res = res;
    snprintf(w->scratch, sizeof w->scratch, "%s/pagew-scratch.tif", scratch_dir);
    *out = w;
    return FX_OK;
}

int fx_pagew_pages(const struct fx_pagew *w)
{
    return w->n;
}

enum fx_paper fx_pagew_paper(const struct fx_pagew *w)
{
    return w->paper;
}

enum fx_res fx_pagew_res(const struct fx_pagew *w)
{
    return w->res;
}

void fx_pagew_free(struct fx_pagew *w)
{
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->pages[i].data);
    free(w->pages);
    free(w);
}

static enum fx_err insert_page(struct fx_pagew *w, int at, const struct enc_page *pg)
{
    if (w->n == w->cap) {
        int cap = w->cap ? w->cap * 2 : 16;
        struct enc_page *p = realloc(w->pages, (size_t)cap * sizeof *p);
        if (!p) return FX_ERR_NOMEM;
        w->pages = p;
        w->cap = cap;
    }
    if (at < 0 || at > w->n) at = w->n;
    memmove(&w->pages[at + 1], &w->pages[at], (size_t)(w->n - at) * sizeof *pg);
    w->pages[at] = *pg;
    w->n++;
    return FX_OK;
}

/* Reads the current directory's single strip as stored. */
static enum fx_err read_raw_strip(TIFF *t, struct enc_page *pg)
{
    uint64_t *counts = NULL;
    if (!TIFFGetField(t, TIFFTAG_STRIPBYTECOUNTS, &counts) || !counts || counts[0] == 0 ||
        counts[0] > 64u * 1024 * 1024)
        return FX_ERR_INVALID;
    pg->len = (tmsize_t)counts[0];
    pg->data = malloc((size_t)pg->len);
    if (!pg->data) return FX_ERR_NOMEM;
    if (TIFFReadRawStrip(t, 0, pg->data, pg->len) != pg->len) {
        free(pg->data);
        pg->data = NULL;
        return FX_ERR_INVALID;
    }
    return FX_OK;
}

/* Encodes rows of 1-bit pixels (1 = black) as one G4 strip via a scratch TIFF. */
static enum fx_err encode_g4(const char *scratch, const uint8_t *bits, int height,
                             size_t stride, struct enc_page *pg)
{
    TIFF *o = TIFFOpen(scratch, "w");
    if (!o) return FX_ERR_IO;
    TIFFSetField(o, TIFFTAG_IMAGEWIDTH, (uint32_t)FX_PAGE_WIDTH);
    TIFFSetField(o, TIFFTAG_IMAGELENGTH, (uint32_t)height);
    TIFFSetField(o, TIFFTAG_BITSPERSAMPLE, 1);
    TIFFSetField(o, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(o, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
    TIFFSetField(o, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
    TIFFSetField(o, TIFFTAG_FILLORDER, FILLORDER_MSB2LSB);
    TIFFSetField(o, TIFFTAG_ROWSPERSTRIP, (uint32_t)height);
    enum fx_err e = FX_OK;
    for (int y = 0; !e && y < height; y++)
        if (TIFFWriteScanline(o, (void *)(bits + (size_t)y * stride), (uint32_t)y, 0) < 0)
            e = FX_ERR_IO;
    TIFFClose(o);
    if (!e) {
        TIFF *back = TIFFOpen(scratch, "r");
        e = back ? read_raw_strip(back, pg) : FX_ERR_IO;
        if (back) TIFFClose(back);
    }
    unlink(scratch);
    pg->comp = COMPRESSION_CCITTFAX4;
    pg->fill = FILLORDER_MSB2LSB;
    pg->t4opts = 0;
    pg->height = (uint32_t)height;
    return e;
}

enum fx_err fx_pagew_add_bitmap(struct fx_pagew *w, int at, const uint8_t *bits, int width,
                                int height, size_t stride)
{
    if (width != FX_PAGE_WIDTH || height <= 0 || height > fx_page_lines(w->paper, w->res) ||
        stride < FX_PAGE_WIDTH / 8)
        return FX_ERR_INVALID;
    struct enc_page pg = {0};
    enum fx_err e = encode_g4(w->scratch, bits, height, stride, &pg);
    if (!e) e = insert_page(w, at, &pg);
    if (e) free(pg.data);
    return e;
}

/* Decodes the current page into 1-bit rows (1 = black), scaled to the fax width and
 * the writer's resolution, then encodes it as G4. Used for bilevel TIFF pages that
 * are not TIFF/F at the writer's resolution (e.g. 300 dpi scans, normal-resolution
 * pages inside a fine fax). Nearest-neighbour keeps bilevel edges sharp. */
static enum fx_err resample_page(struct fx_pagew *w, TIFF *t, const struct pageinfo *p)
{
    if (p->tiled || p->planar != PLANARCONFIG_CONTIG) return FX_ERR_INVALID;
    double xres = p->xres > 0 ? p->xres : 204, yres = p->yres > 0 ? p->yres : xres;
    double lpi = fx_res_lpi(w->res), max_lines = fx_page_lines(w->paper, w->res);
    /* Physical size kept, unless wider than the fax line or longer than the page. */
    double fit = fmin(1.0, (FX_PAGE_WIDTH / 204.0) / (p->w / xres));
    fit = fmin(fit, max_lines / (p->h / yres * lpi));
    int out_w = (int)lround(p->w / xres * 204 * fit), out_h = (int)lround(p->h / yres * lpi * fit);
    if (out_w < 1 || out_h < 1 || out_w > FX_PAGE_WIDTH) return FX_ERR_INVALID;
    int left = (FX_PAGE_WIDTH - out_w) / 2;
    size_t stride = FX_PAGE_WIDTH / 8;
    tmsize_t line = TIFFScanlineSize(t);
    uint8_t *src = malloc((size_t)p->h * (size_t)line), *dst = calloc((size_t)out_h, stride);
    enum fx_err e = src && dst ? FX_OK : FX_ERR_NOMEM;
    for (uint32_t y = 0; !e && y < p->h; y++)
        if (TIFFReadScanline(t, src + (size_t)y * (size_t)line, y, 0) < 0) e = FX_ERR_INVALID;
    bool invert = p->photometric == PHOTOMETRIC_MINISBLACK;
    for (int y = 0; !e && y < out_h; y++) {
        const uint8_t *row = src + (size_t)((int64_t)y * p->h / out_h) * (size_t)line;
        uint8_t *o = dst + (size_t)y * stride;
        for (int x = 0; x < out_w; x++) {
            uint32_t sx = (uint32_t)((int64_t)x * p->w / out_w);
            int black = (row[sx >> 3] >> (7 - (sx & 7))) & 1;
            if (invert) black = !black;
            if (black) o[(left + x) >> 3] |= (uint8_t)(0x80 >> ((left + x) & 7));
        }
    }
    free(src);
    if (!e) e = fx_pagew_add_bitmap(w, -1, dst, FX_PAGE_WIDTH, out_h, stride);
    free(dst);
    return e;
}

enum fx_err fx_pagew_add_tiff(struct fx_pagew *w, const char *path, int *added)
{
    quiet();
    TIFF *t = TIFFOpen(path, "r");
    if (!t) return FX_ERR_INVALID;
    int n = 0;
    enum fx_err e = FX_OK;
    do {
        struct pageinfo p;
        enum fx_res r;
        page_info(t, &p);
        if (p.bps != 1 || p.spp != 1) {
            e = FX_ERR_INVALID;
        } else if (!page_not_fax(&p, &r) && r == w->res &&
                   (int)p.h <= fx_page_lines(w->paper, w->res)) {
            struct enc_page pg = {.comp = p.comp, .fill = p.fill, .t4opts = p.t4opts,
                                  .height = p.h};
            e = read_raw_strip(t, &pg);
            if (!e) e = insert_page(w, -1, &pg);
            if (e) free(pg.data);
        } else {
            e = resample_page(w, t, &p);
        }
        n += !e;
    } while (!e && TIFFReadDirectory(t));
    TIFFClose(t);
    if (added) *added = n;
    return e;
}

enum fx_err fx_pagew_write(struct fx_pagew *w, const char *path)
{
    quiet();
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return FX_ERR_IO;
    enum fx_err e = FX_OK;
    for (int i = 0; !e && i < w->n; i++) {
        const struct enc_page *pg = &w->pages[i];
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)FX_PAGE_WIDTH);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, pg->height);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_COMPRESSION, pg->comp);
        if (pg->comp == COMPRESSION_CCITTFAX3)
            TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, pg->t4opts);
        TIFFSetField(t, TIFFTAG_FILLORDER, pg->fill);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0f);
        TIFFSetField(t, TIFFTAG_YRESOLUTION, (float)fx_res_lpi(w->res));
        TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, pg->height);
        TIFFSetField(t, TIFFTAG_PAGENUMBER, (uint16_t)i, (uint16_t)w->n);
        if (TIFFWriteRawStrip(t, 0, pg->data, pg->len) < 0 || !TIFFWriteDirectory(t))
            e = FX_ERR_IO;
    }
    TIFFClose(t);
    int fd = e ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    if (!e && (fd < 0 || fsync(fd) != 0)) e = FX_ERR_IO;
    if (fd >= 0) close(fd);
    return e;
}

/* ---- copying pages as they are (received faxes) ---- */

/* Descriptive text tags kept with a copied page. */
static const ttag_t text_tags[] = {TIFFTAG_SOFTWARE, TIFFTAG_IMAGEDESCRIPTION, TIFFTAG_DATETIME,
                                   TIFFTAG_MAKE, TIFFTAG_MODEL};

/* Appends the current page of in to out as page no of total, strip by strip as stored. */
static enum fx_err copy_page(TIFF *in, TIFF *out, int no, int total)
{
    struct pageinfo p;
    page_info(in, &p);
    uint64_t *counts = NULL;
    uint32_t rows = 0;
    if (p.tiled || p.bps != 1 || p.spp != 1 || !p.strips || !p.w || !p.h ||
        !TIFFGetField(in, TIFFTAG_STRIPBYTECOUNTS, &counts) || !counts)
        return FX_ERR_INVALID;
    TIFFGetFieldDefaulted(in, TIFFTAG_ROWSPERSTRIP, &rows);
    TIFFSetField(out, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    TIFFSetField(out, TIFFTAG_IMAGEWIDTH, p.w);
    TIFFSetField(out, TIFFTAG_IMAGELENGTH, p.h);
    TIFFSetField(out, TIFFTAG_BITSPERSAMPLE, 1);
    TIFFSetField(out, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(out, TIFFTAG_COMPRESSION, p.comp);
    if (p.comp == COMPRESSION_CCITTFAX3) TIFFSetField(out, TIFFTAG_GROUP3OPTIONS, p.t4opts);
    TIFFSetField(out, TIFFTAG_FILLORDER, p.fill);
    TIFFSetField(out, TIFFTAG_PHOTOMETRIC, p.photometric);
    TIFFSetField(out, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    if (p.xres > 0 && p.yres > 0) {
        TIFFSetField(out, TIFFTAG_XRESOLUTION, (float)p.xres);
        TIFFSetField(out, TIFFTAG_YRESOLUTION, (float)p.yres);
        TIFFSetField(out, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
    }
    TIFFSetField(out, TIFFTAG_ROWSPERSTRIP, rows);
    TIFFSetField(out, TIFFTAG_PAGENUMBER, (uint16_t)no, (uint16_t)total);
    for (size_t i = 0; i < sizeof text_tags / sizeof *text_tags; i++) {
        const char *v = NULL;
        if (TIFFGetField(in, text_tags[i], &v) && v) TIFFSetField(out, text_tags[i], v);
    }
    enum fx_err e = FX_OK;
    void *buf = NULL;
    for (uint32_t i = 0; !e && i < p.strips; i++) {
        if (counts[i] > 64u * 1024 * 1024) {
            e = FX_ERR_INVALID;
            break;
        }
        void *bigger = realloc(buf, counts[i] ? (size_t)counts[i] : 1);
        if (!bigger) e = FX_ERR_NOMEM;
        else buf = bigger;
        tmsize_t n = (tmsize_t)counts[i];
        if (!e && TIFFReadRawStrip(in, i, buf, n) != n) e = FX_ERR_INVALID;
        if (!e && TIFFWriteRawStrip(out, i, buf, n) != n) e = FX_ERR_IO;
    }
    free(buf);
    if (!e && !TIFFWriteDirectory(out)) e = FX_ERR_IO;
    return e;
}

enum fx_err fx_convert_tiff_gather(const char *const *srcs, int n, int page, const char *dst)
{
    quiet();
    if (n <= 0 || page < 0 || page > 65535) return FX_ERR_INVALID;
    TIFF *out = TIFFOpen(dst, "w");
    if (!out) return FX_ERR_IO;
    enum fx_err e = FX_OK;
    for (int i = 0; !e && i < n; i++) {
        TIFF *in = TIFFOpen(srcs[i], "r");
        if (!in) e = FX_ERR_INVALID;
        else if (!TIFFSetDirectory(in, (tdir_t)page)) e = FX_ERR_INVALID;
        else e = copy_page(in, out, i, n);
        if (in) TIFFClose(in);
    }
    TIFFClose(out);
    if (e) unlink(dst);
    return e;
}

/* ---- thumbnails ---- */

/* Box-filters the current page into grey (0 black … 255 white), `width` pixels wide
 * with the height corrected for non-square pixels. *out is new (free()). */
static enum fx_err page_thumb(TIFF *t, int width, uint8_t **out, int *height)
{
    struct pageinfo p;
    page_info(t, &p);
    if (p.bps != 1 || p.spp != 1 || p.tiled || p.w == 0 || width <= 0 || width > (int)p.w)
        return FX_ERR_INVALID;
    double xres = p.xres > 0 ? p.xres : 204, yres = p.yres > 0 ? p.yres : xres;
    int h = (int)lround((double)p.h * xres / yres * width / p.w);
    if (h < 1) h = 1;
    tmsize_t line = TIFFScanlineSize(t);
    uint8_t *row = malloc((size_t)line), *grey = malloc((size_t)width * (size_t)h);
    uint32_t *sum = calloc((size_t)width * (size_t)h, sizeof *sum);
    uint32_t *cnt = calloc((size_t)width * (size_t)h, sizeof *cnt);
    enum fx_err e = row && grey && sum && cnt ? FX_OK : FX_ERR_NOMEM;
    bool invert = p.photometric == PHOTOMETRIC_MINISBLACK;
    for (uint32_t y = 0; !e && y < p.h; y++) {
        if (TIFFReadScanline(t, row, y, 0) < 0) {
            e = FX_ERR_INVALID;
            break;
        }
        size_t ty = (size_t)((int64_t)y * h / p.h);
        for (uint32_t x = 0; x < p.w; x++) {
            int black = ((row[x >> 3] >> (7 - (x & 7))) & 1) ^ invert;
            size_t i = ty * (size_t)width + (size_t)((int64_t)x * width / p.w);
            sum[i] += black ? 0 : 255;
            cnt[i]++;
        }
    }
    /* When the thumbnail has more rows than the page (a full-width thumbnail of a
     * 204×196 page is stretched to square pixels), some rows get no source line:
     * they repeat the row above instead of staying white. */
    for (size_t i = 0; !e && i < (size_t)width * (size_t)h; i++)
        grey[i] = cnt[i]                ? (uint8_t)(sum[i] / cnt[i])
                  : i >= (size_t)width ? grey[i - (size_t)width]
                                       : 255;
    free(row);
    free(sum);
    free(cnt);
    if (e) {
        free(grey);
        return e;
    }
    *out = grey;
    *height = h;
    return FX_OK;
}

enum fx_err fx_convert_page_thumb(const char *tiff_path, int page, int width, uint8_t **out,
                                  int *height)
{
    quiet();
    TIFF *t = TIFFOpen(tiff_path, "r");
    if (!t) return FX_ERR_INVALID;
    enum fx_err e = TIFFSetDirectory(t, (tdir_t)page) ? page_thumb(t, width, out, height)
                                                      : FX_ERR_NOT_FOUND;
    TIFFClose(t);
    return e;
}

static enum fx_err write_png(const uint8_t *grey, int width, int height, const char *path)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return FX_ERR_NOMEM;
    }
    cairo_surface_flush(s);
    uint8_t *px = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            uint32_t g = grey[(size_t)y * (size_t)width + (size_t)x];
            ((uint32_t *)(px + (size_t)y * (size_t)stride))[x] = (g << 16) | (g << 8) | g;
        }
    cairo_surface_mark_dirty(s);
    cairo_status_t st = cairo_surface_write_to_png(s, path);
    cairo_surface_destroy(s);
    return st == CAIRO_STATUS_SUCCESS ? FX_OK : FX_ERR_IO;
}

enum fx_err fx_convert_page_png(const char *tiff_path, int page, int width,
                                const char *png_path, int *pages)
{
    quiet();
    TIFF *t = TIFFOpen(tiff_path, "r");
    if (!t) return FX_ERR_INVALID;
    *pages = (int)TIFFNumberOfDirectories(t);
    uint8_t *grey = NULL;
    int h = 0;
    enum fx_err e = page >= 1 && page <= *pages && TIFFSetDirectory(t, (tdir_t)(page - 1))
                        ? page_thumb(t, width, &grey, &h)
                        : FX_ERR_NOT_FOUND;
    TIFFClose(t);
    if (!e) e = write_png(grey, width, h, png_path);
    free(grey);
    return e;
}

enum fx_err fx_convert_thumbnails(const char *tiff_path, const char *prefix, int max_pages,
                                  int width, int *written)
{
    quiet();
    TIFF *t = TIFFOpen(tiff_path, "r");
    if (!t) return FX_ERR_INVALID;
    enum fx_err e = FX_OK;
    int n = 0;
    do {
        uint8_t *grey = NULL;
        int h = 0;
        char path[4400];
        e = page_thumb(t, width, &grey, &h);
        snprintf(path, sizeof path, "%s-%d.png", prefix, n + 1);
        if (!e) e = write_png(grey, width, h, path);
        free(grey);
        n += !e;
    } while (!e && n < max_pages && TIFFReadDirectory(t));
    TIFFClose(t);
    *written = n;
    return e;
}
