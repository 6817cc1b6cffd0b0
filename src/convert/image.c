/* convert/image.c: JPEG, PNG and TIFF images into bilevel fax pages.
 *
 * The route, in order of what can go wrong cheaply:
 *  1. the pixel size of every page is read from the file's header (JPEG frame header,
 *     PNG IHDR, TIFF directories through libtiff) WITHOUT decoding, and an image over
 *     the pixel cap (a decompression bomb: 151 kB on disk, 900 Mpixel decoded) or over
 *     the fax's page cap is refused before any engine runs;
 *  2. MuPDF (`mutool draw`, AGPL, so a separate sandboxed program) decodes each page to
 *     8-bit grey PGM. It honours EXIF orientation and composites alpha over white with
 *     `-c gray` (checked on photo_exif_rotated.jpg and logo_alpha.png). It is asked for
 *     the image's own pixel size (never an upscale), or a downscale when the image is
 *     far bigger than a fax page; the exit code is not trusted, the PGMs are checked;
 *  3. here, in process (our own bounded data): landscape pages are turned to portrait,
 *     fitted inside the fax page with X and Y scaled separately (204 dpi across, 196 or
 *     98 lpi down), area-averaged down or bilinear up (at most 2×), centred on white;
 *  4. bilevel: with `enhance` a page is classified as text or photo — text gets a
 *     local-mean (Bradley) adaptive threshold, which keeps vignetted phone photos of
 *     paper clean, photos get a 45° clustered-dot ordered halftone (never error
 *     diffusion: it makes 1.35 MB, 770 s pages on the line); without it, a plain 50 %
 *     threshold. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tiffio.h>

#include "convert/convert_priv.h"

#define ST_IMAGE "failed_image_preparation"
#define ST_PAGES "failed_convert_to_tiff_issue"

/* The longest side asked of MuPDF: twice a fax page's long side at 204 dpi (11.7 in),
 * so our area-averaging still has detail to work with while a 64 Mpixel photo is
 * decoded into at most 23 MB of grey. */
#define IMG_MAX_SIDE 4800
#define IMG_MAX_UPSCALE 2.0
#define IMG_DEFAULT_PIXEL_CAP INT64_C(64000000)
/* Bradley: the window is 41 px across (at 204 dpi) and as tall physically; a pixel is
 * black when it is 12 % darker than the mean of its window. */
#define BRADLEY_WINDOW 41
#define BRADLEY_PERCENT 12
/* Anything darker than the floor is black whatever its neighbourhood: a solid bar or
 * logo would otherwise be hollowed out to an outline by the local mean. On a page with
 * truly white paper (a digital document or graphic) the floor is the plain 50 %
 * threshold; on a photographed page it stays low, since its paper can be darker than
 * 50 % in vignetted corners. */
#define DARK_FLOOR 64
#define GLOBAL_THRESHOLD 128
#define WHITE_PAPER_SHARE 0.5

enum img_fmt { IMG_NONE, IMG_JPEG, IMG_PNG, IMG_TIFF };

static const char *const fmt_ext[] = {"", "jpg", "png", "tif"};
static const char *const fmt_name[] = {"unknown", "jpeg", "png", "tiff"};

/* One page as its header describes it. */
struct img_page {
    int64_t w, h; /* pixels */
    int box;      /* the longest side of the grey render asked of MuPDF */
};

struct img_info {
    enum img_fmt fmt;
    int n, cap;
    struct img_page *pages;
};

struct grey {
    int w, h;
    uint8_t *px;
};

/* ---------------------------------------------------------------- headers ---- */

static enum img_fmt sniff_magic(FILE *f)
{
    unsigned char b[8];
    if (fread(b, 1, sizeof b, f) != sizeof b) return IMG_NONE;
    if (b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return IMG_JPEG;
    if (memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return IMG_PNG;
    if (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0 || memcmp(b, "II+\0", 4) == 0 ||
        memcmp(b, "MM\0+", 4) == 0)
        return IMG_TIFF;
    return IMG_NONE;
}

static int read_be16(FILE *f)
{
    int a = getc(f), b = getc(f);
    return (a == EOF || b == EOF) ? -1 : (a << 8) | b;
}

/* Walks the JPEG markers to the first frame header (SOF0..SOF15 except DHT, JPG and
 * DAC, which share the range). A scan or the end before any frame is unreadable, and
 * so is a height deferred to a DNL marker: its size cannot be checked up front. */
static bool jpeg_size(FILE *f, int64_t *w, int64_t *h)
{
    if (fseek(f, 2, SEEK_SET) != 0) return false;
    for (;;) {
        int c = getc(f);
        while (c != EOF && c != 0xFF) /* stray bytes before a marker (libjpeg skips them) */
            c = getc(f);
        while (c == 0xFF) /* fill bytes */
            c = getc(f);
        if (c == EOF || c == 0xD9 || c == 0xDA) return false;
        if (c == 0x01 || c == 0xD8 || (c >= 0xD0 && c <= 0xD7))
            continue; /* markers without a length */
        int len = read_be16(f);
        if (len < 2) return false;
        if (c >= 0xC0 && c <= 0xCF && c != 0xC4 && c != 0xC8 && c != 0xCC) {
            if (len < 8 || getc(f) == EOF) return false;
            int hh = read_be16(f), ww = read_be16(f);
            *w = ww;
            *h = hh;
            return ww > 0 && hh > 0;
        }
        if (fseek(f, len - 2, SEEK_CUR) != 0) return false;
    }
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The IHDR chunk must come first and say 13 bytes. */
static bool png_size(FILE *f, int64_t *w, int64_t *h)
{
    unsigned char b[16];
    if (fseek(f, 8, SEEK_SET) != 0 || fread(b, 1, sizeof b, f) != sizeof b) return false;
    if (be32(b) != 13 || memcmp(b + 4, "IHDR", 4) != 0) return false;
    *w = be32(b + 8);
    *h = be32(b + 12);
    return *w > 0 && *h > 0 && *w <= INT32_MAX && *h <= INT32_MAX;
}

/* libtiff must not print to faxd's stderr: keep the last message for the detail. */
static int tiff_quiet(TIFF *t, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)t;
    (void)module;
    if (user) vsnprintf(user, 120, fmt, ap);
    return 1;
}

/* The box MuPDF renders a page into: its longest side, measured in its finer
 * resolution when the TIFF says the pixels are not square (MuPDF sizes the page from
 * both), capped at IMG_MAX_SIDE. */
static int page_box(int64_t w, int64_t h, float xres, float yres)
{
    double pw = (double)w, ph = (double)h;
    if (xres > 0 && yres > 0 && xres != yres && xres / yres < 8 && yres / xres < 8) {
        double r = xres > yres ? xres : yres;
        pw = pw * r / xres;
        ph = ph * r / yres;
    }
    double side = pw > ph ? pw : ph;
    return side > IMG_MAX_SIDE ? IMG_MAX_SIDE : (int)ceil(side);
}

static enum fx_err info_add(struct img_info *in, int64_t w, int64_t h, float xres, float yres)
{
    if (in->n == in->cap) {
        int cap = in->cap ? in->cap * 2 : 4;
        struct img_page *p = realloc(in->pages, (size_t)cap * sizeof *p);
        if (!p) return FX_ERR_NOMEM;
        in->pages = p;
        in->cap = cap;
    }
    in->pages[in->n++] = (struct img_page){w, h, page_box(w, h, xres, yres)};
    return FX_OK;
}

/* Reads every TIFF directory (TIFFOpen and TIFFReadDirectory read IFDs only, no image
 * data), stopping once more than `stop_after` pages are seen: that is over the cap. */
static enum fx_err tiff_pages(const char *path, struct img_info *in, int stop_after, char *why,
                              size_t why_len)
{
    char msg[128] = "";
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) return FX_ERR_NOMEM;
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_quiet, msg);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_quiet, NULL);
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, 64 << 20);
    TIFF *t = TIFFOpenExt(path, "rm", opts); /* "m": no mmap of a file we do not trust */
    TIFFOpenOptionsFree(opts);
    if (!t) {
        snprintf(why, why_len, "unreadable TIFF header%s%s", msg[0] ? ": " : "", msg);
        return FX_ERR_INVALID;
    }
    enum fx_err e = FX_OK;
    do {
        uint32_t w = 0, h = 0;
        float xr = 0, yr = 0;
        if (!TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h) ||
            w == 0 || h == 0) {
            snprintf(why, why_len, "TIFF page %d has no size", in->n + 1);
            e = FX_ERR_INVALID;
            break;
        }
        TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr);
        TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr);
        if ((e = info_add(in, w, h, xr, yr)) != FX_OK) break;
    } while (in->n <= stop_after && TIFFReadDirectory(t));
    TIFFClose(t);
    return e;
}

/* Fills `in` from the file's header. FX_ERR_INVALID (why[] filled) when the header
 * cannot be read: that is the document's fault, not ours. */
static enum fx_err read_info(const char *path, int stop_after, struct img_info *in, char *why,
                             size_t why_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_len, "cannot open the image: %s", strerror(errno));
        return FX_ERR_INVALID;
    }
    in->fmt = sniff_magic(f);
    int64_t w = 0, h = 0;
    bool ok = false;
    if (in->fmt == IMG_JPEG)
        ok = jpeg_size(f, &w, &h);
    else if (in->fmt == IMG_PNG)
        ok = png_size(f, &w, &h);
    fclose(f);
    if (in->fmt == IMG_NONE) {
        snprintf(why, why_len, "not a JPEG, PNG or TIFF image");
        return FX_ERR_INVALID;
    }
    if (in->fmt == IMG_TIFF) return tiff_pages(path, in, stop_after, why, why_len);
    if (!ok) {
        snprintf(why, why_len, "unreadable %s header", fmt_name[in->fmt]);
        return FX_ERR_INVALID;
    }
    return info_add(in, w, h, 0, 0);
}

/* ------------------------------------------------------------ MuPDF render ---- */

/* Reads a binary PGM (P5, maxval 255) as MuPDF writes it, checking that its size is
 * what was asked for: no side longer than the box (plus rounding). */
static bool pgm_load(const char *path, int box, struct grey *g)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    int v[3], n = 0;
    bool ok = getc(f) == 'P' && getc(f) == '5';
    while (ok && n < 3) {
        int c = getc(f);
        if (c == '#') {
            while (c != EOF && c != '\n')
                c = getc(f);
        } else if (c >= '0' && c <= '9') {
            long x = 0;
            for (; c >= '0' && c <= '9' && x < 100000; c = getc(f))
                x = x * 10 + (c - '0');
            v[n++] = (int)x;
            ok = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        } else {
            ok = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        }
    }
    ok = ok && v[2] == 255 && v[0] >= 1 && v[1] >= 1 && v[0] <= box + 2 && v[1] <= box + 2;
    if (ok) {
        size_t len = (size_t)v[0] * (size_t)v[1];
        g->px = malloc(len);
        ok = g->px && fread(g->px, 1, len, f) == len;
        g->w = v[0];
        g->h = v[1];
    }
    fclose(f);
    if (!ok) {
        free(g->px);
        g->px = NULL;
    }
    return ok;
}

/* Pages first..last (1-based) of the linked image, rendered to <base>-<page>.pgm. The
 * anti-aliasing bits only matter when MuPDF scales the image: at its own size the
 * output is identical either way, and when MuPDF must shrink a huge image, -A 0 would
 * point-sample it (aliasing), so then it filters (-A 8). There are no glyphs here. */
static enum fx_err render_pages(struct fx_convert *c, const char *workdir, const char *in,
                                const char *base, int first, int last, int box, bool shrink,
                                struct fx_convert_result *res, bool *ok)
{
    char boxs[16], pages[32], out[PATH_MAX];
    snprintf(boxs, sizeof boxs, "%d", box);
    snprintf(pages, sizeof pages, "%d-%d", first, last);
    if ((size_t)snprintf(out, sizeof out, "%s-%%d.pgm", base) >= sizeof out) return FX_ERR_INTERNAL;
    const char *argv[] = {c->cfg.mutool,
                          "draw",
                          "-q",
                          "-A",
                          shrink ? "8" : "0",
                          "-c",
                          "gray",
                          "-F",
                          "pnm",
                          "-w",
                          boxs,
                          "-h",
                          boxs,
                          "-o",
                          out,
                          in,
                          pages,
                          NULL};
    struct fx_proc_spec spec = {
        .argv = argv,
        .dir = workdir,
        .timeout_s = c->cfg.timeout_s,
        .as_limit = c->cfg.mem_limit,
        .fsize_limit = (int64_t)(box + 2) * (box + 2) + 4096,
        .cpu_s = c->cfg.timeout_s,
        .allow_network = false,
    };
    struct fx_proc_result pr;
    memset(&pr, 0, sizeof pr);
    enum fx_err e = fx_proc_run(&spec, &pr);
    if (e != FX_OK) return e;
    *ok = !pr.timed_out && pr.term_signal == 0;
    if (pr.timed_out)
        fx_convert_fail(res, ST_IMAGE, "MuPDF did not decode the image within %d s",
                        c->cfg.timeout_s);
    else if (pr.term_signal)
        fx_convert_fail(res, ST_IMAGE, "MuPDF was killed by signal %d decoding the image",
                        pr.term_signal);
    if (!*ok || pr.exit_code != 0)
        fx_warn("convert image engine=mutool pages=%d-%d rc=%d signal=%d timed_out=%d ms=%.0f",
                first, last, pr.exit_code, pr.term_signal, pr.timed_out, pr.seconds * 1000);
    return FX_OK;
}

/* ------------------------------------------------------------ geometry ---- */

/* Fixed-point resampling taps for one axis: output i = Σ wt[k]·src[first+k] >> 14. */
struct taps {
    int n;      /* taps per output sample */
    int *first; /* [dn] */
    int *wt;    /* [dn * n] */
};

static void taps_free(struct taps *t)
{
    free(t->first);
    free(t->wt);
}

/* Area averaging when shrinking (each output sample is the mean of the source span it
 * covers), bilinear when growing. Weights of a sample sum to exactly 1 << 14. */
static enum fx_err taps_make(int sn, int dn, struct taps *t)
{
    double scale = (double)sn / dn;
    t->n = dn < sn ? (int)ceil(scale) + 1 : 2;
    t->first = calloc((size_t)dn, sizeof *t->first);
    t->wt = calloc((size_t)dn * (size_t)t->n, sizeof *t->wt);
    double *fw = calloc((size_t)t->n, sizeof *fw);
    if (!t->first || !t->wt || !fw) {
        free(fw);
        return FX_ERR_NOMEM;
    }
    for (int i = 0; i < dn; i++) {
        int cnt = 0;
        if (dn < sn) {
            double a = i * scale, b = (i + 1) * scale;
            t->first[i] = (int)floor(a);
            for (int j = t->first[i]; j < sn && j < b && cnt < t->n; j++)
                fw[cnt++] = fmin(b, j + 1) - fmax(a, j);
        } else {
            double pos = fmax(0, fmin((i + 0.5) * scale - 0.5, sn - 1));
            int j = (int)floor(pos);
            if (j >= sn - 1) j = sn > 1 ? sn - 2 : 0;
            t->first[i] = j;
            fw[0] = sn > 1 ? 1 - (pos - j) : 1;
            fw[1] = sn > 1 ? pos - j : 0;
            cnt = 2;
        }
        double sum = 0;
        for (int k = 0; k < cnt; k++)
            sum += fw[k];
        int *w = t->wt + (size_t)i * (size_t)t->n, isum = 0, big = 0;
        for (int k = 0; k < cnt; k++) {
            w[k] = (int)lround(fw[k] / sum * 16384);
            isum += w[k];
            if (w[k] > w[big]) big = k;
        }
        w[big] += 16384 - isum; /* rounding must not tint the page */
    }
    free(fw);
    return FX_OK;
}

static uint8_t clamp_px(int64_t v)
{
    v = (v + 8192) >> 14;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Separable resample of s into a new dw×dh image: rows first, then columns. */
static enum fx_err resample(const struct grey *s, int dw, int dh, struct grey *d)
{
    struct taps tx = {0}, ty = {0};
    uint8_t *tmp = malloc((size_t)dw * (size_t)s->h);
    int32_t *acc = malloc((size_t)dw * sizeof *acc);
    d->px = malloc((size_t)dw * (size_t)dh);
    enum fx_err e = FX_ERR_NOMEM;
    if (!tmp || !acc || !d->px || taps_make(s->w, dw, &tx) != FX_OK ||
        taps_make(s->h, dh, &ty) != FX_OK)
        goto out;
    for (int y = 0; y < s->h; y++) {
        const uint8_t *row = s->px + (size_t)y * (size_t)s->w;
        for (int x = 0; x < dw; x++) {
            const int *w = tx.wt + (size_t)x * (size_t)tx.n;
            const uint8_t *p = row + tx.first[x];
            int64_t sum = 0;
            for (int k = 0; k < tx.n && tx.first[x] + k < s->w; k++)
                sum += (int64_t)w[k] * p[k];
            tmp[(size_t)y * (size_t)dw + (size_t)x] = clamp_px(sum);
        }
    }
    for (int y = 0; y < dh; y++) {
        memset(acc, 0, (size_t)dw * sizeof *acc);
        const int *w = ty.wt + (size_t)y * (size_t)ty.n;
        for (int k = 0; k < ty.n && ty.first[y] + k < s->h; k++) {
            const uint8_t *row = tmp + (size_t)(ty.first[y] + k) * (size_t)dw;
            for (int x = 0; x < dw; x++)
                acc[x] += w[k] * row[x];
        }
        for (int x = 0; x < dw; x++)
            d->px[(size_t)y * (size_t)dw + (size_t)x] = clamp_px(acc[x]);
    }
    d->w = dw;
    d->h = dh;
    e = FX_OK;
out:
    taps_free(&tx);
    taps_free(&ty);
    free(tmp);
    free(acc);
    if (e != FX_OK) {
        free(d->px);
        d->px = NULL;
    }
    return e;
}

/* Turns a landscape image a quarter turn counter-clockwise, as Ghostscript's
 * -dPDFFitPage does with landscape PDF pages: the top of the picture goes to the left
 * edge of the fax page. */
static enum fx_err rotate_ccw(const struct grey *s, struct grey *d)
{
    d->w = s->h;
    d->h = s->w;
    d->px = malloc((size_t)s->w * (size_t)s->h);
    if (!d->px) return FX_ERR_NOMEM;
    for (int y = 0; y < d->h; y++) {
        const uint8_t *col = s->px + (size_t)(s->w - 1 - y);
        uint8_t *out = d->px + (size_t)y * (size_t)d->w;
        for (int x = 0; x < d->w; x++)
            out[x] = col[(size_t)x * (size_t)s->w];
    }
    return FX_OK;
}

/* Where the picture goes on the page. */
struct fit {
    bool rotate;
    int ow, oh, ox, oy; /* fitted size and offset in fax pixels */
};

/* The MuPDF render has square pixels; fax pixels are 1/204 in across and 1/lpi in
 * down, so X and Y scale separately to keep the picture's physical shape. */
static void fit_page(int gw, int gh, int lines, int lpi, struct fit *f)
{
    f->rotate = gw > gh;
    double rw = f->rotate ? gh : gw, rh = f->rotate ? gw : gh;
    double sx = fmin((double)FX_PAGE_WIDTH / rw, (double)lines * 204.0 / ((double)lpi * rh));
    sx = fmin(sx, IMG_MAX_UPSCALE);
    double sy = sx * lpi / 204.0;
    f->ow = (int)lround(rw * sx);
    f->oh = (int)lround(rh * sy);
    f->ow = f->ow < 1 ? 1 : f->ow > FX_PAGE_WIDTH ? FX_PAGE_WIDTH : f->ow;
    f->oh = f->oh < 1 ? 1 : f->oh > lines ? lines : f->oh;
    f->ox = (FX_PAGE_WIDTH - f->ow) / 2;
    f->oy = (lines - f->oh) / 2;
}

/* The render g, turned and scaled to the fitted size (g is consumed). */
static enum fx_err fit_grey(struct grey *g, const struct fit *f, struct grey *out)
{
    struct grey scaled = {0};
    /* Scale before turning: the smaller image is the one we rotate. */
    enum fx_err e =
        f->rotate ? resample(g, f->oh, f->ow, &scaled) : resample(g, f->ow, f->oh, &scaled);
    free(g->px);
    g->px = NULL;
    if (e != FX_OK) return e;
    if (!f->rotate) {
        *out = scaled;
        return FX_OK;
    }
    e = rotate_ccw(&scaled, out);
    free(scaled.px);
    return e;
}

/* ------------------------------------------------------------ bilevel ---- */

/* What decides text vs photo, over the picture only (not the white margins). */
struct page_stats {
    double flat, texture, edge; /* shares of windows by local standard deviation */
    double mid;                 /* share of mid-tones (64..191) */
    double white;               /* share of near-white (≥ 224) */
};

/* Integral image of g: (w+1)×(h+1) sums; 1728×2292×255 fits in 32 bits. */
static uint32_t *integral_new(const struct grey *g)
{
    size_t iw = (size_t)g->w + 1;
    uint32_t *s = calloc(iw * ((size_t)g->h + 1), sizeof *s);
    if (!s) return NULL;
    for (int y = 0; y < g->h; y++) {
        uint32_t run = 0;
        const uint8_t *row = g->px + (size_t)y * (size_t)g->w;
        for (int x = 0; x < g->w; x++) {
            run += row[x];
            s[(size_t)(y + 1) * iw + (size_t)x + 1] = s[(size_t)y * iw + (size_t)x + 1] + run;
        }
    }
    return s;
}

/* Sum and pixel count of the window of half-size rx×ry around (x, y), clipped. */
static void window_sum(const uint32_t *s, const struct grey *g, int x, int y, int rx, int ry,
                       uint64_t *sum, uint64_t *count)
{
    size_t iw = (size_t)g->w + 1;
    int x0 = x - rx < 0 ? 0 : x - rx, x1 = x + rx + 1 > g->w ? g->w : x + rx + 1;
    int y0 = y - ry < 0 ? 0 : y - ry, y1 = y + ry + 1 > g->h ? g->h : y + ry + 1;
    *sum = (uint64_t)s[(size_t)y1 * iw + (size_t)x1] - s[(size_t)y0 * iw + (size_t)x1] -
           s[(size_t)y1 * iw + (size_t)x0] + s[(size_t)y0 * iw + (size_t)x0];
    *count = (uint64_t)(x1 - x0) * (uint64_t)(y1 - y0);
}

/* Standard deviation of the (2rx+1)×(2ry+1) window around (x, y), which must fit
 * in g. */
static double local_sd(const struct grey *g, int x, int y, int rx, int ry)
{
    uint32_t s = 0, s2 = 0, n = 0;
    for (int j = y - ry; j <= y + ry; j++) {
        const uint8_t *row = g->px + (size_t)j * (size_t)g->w;
        for (int i = x - rx; i <= x + rx; i++) {
            s += row[i];
            s2 += (uint32_t)row[i] * row[i];
            n++;
        }
    }
    double m = (double)s / n, v = (double)s2 / n - m * m;
    return v > 0 ? sqrt(v) : 0;
}

#define SD_R 4 /* windows of 9 fax pixels across (about 1 mm) and as tall */

/* Sampled every 4 pixels across and every 1 mm or so down: plenty for page shares. */
static void page_stats(const struct grey *g, int lpi, struct page_stats *st)
{
    uint64_t flat = 0, texture = 0, edge = 0, mid = 0, white = 0, n = 0;
    int ry = (int)lround(SD_R * lpi / 204.0), step_y = ry > 0 ? ry : 1;
    for (int y = ry; y < g->h - ry; y += step_y) {
        for (int x = SD_R; x < g->w - SD_R; x += 4) {
            int p = g->px[(size_t)y * (size_t)g->w + (size_t)x];
            double sd = local_sd(g, x, y, SD_R, ry);
            flat += sd < 3;
            texture += sd >= 3 && sd < 20;
            edge += sd >= 20;
            mid += p >= 64 && p < 192;
            white += p >= 224;
            n++;
        }
    }
    if (!n) n = 1;
    st->flat = (double)flat / (double)n;
    st->texture = (double)texture / (double)n;
    st->edge = (double)edge / (double)n;
    st->mid = (double)mid / (double)n;
    st->white = (double)white / (double)n;
}

/* A photo is mostly mid-tones, with few sharp edges or more texture than edges. A
 * text page is mostly paper (white, or mid-grey on a vignetted phone photo) with sharp
 * strokes: 10-25 % edge windows against 2.5-3.5 % for the fixtures' photos. Doubt goes
 * to text: a text page halftoned is a grey, slow, 300 kB page, while a photo through
 * the adaptive threshold still shows its outlines. */
static bool looks_like_photo(const struct page_stats *st)
{
    return st->mid > 0.30 && (st->edge < 0.08 || st->texture > st->edge);
}

static void set_black(uint8_t *bits, int x, int y)
{
    bits[(size_t)y * (FX_PAGE_WIDTH / 8) + (size_t)(x >> 3)] |= (uint8_t)(0x80 >> (x & 7));
}

static void bradley(const struct grey *g, const uint32_t *integ, int rx, int ry, int floor_, int ox,
                    int oy, uint8_t *bits)
{
    for (int y = 0; y < g->h; y++) {
        for (int x = 0; x < g->w; x++) {
            int p = g->px[(size_t)y * (size_t)g->w + (size_t)x];
            uint64_t sum, cnt;
            window_sum(integ, g, x, y, rx, ry, &sum, &cnt);
            if (p < floor_ || (uint64_t)p * cnt * 100 < sum * (100 - BRADLEY_PERCENT))
                set_black(bits, ox + x, oy + y);
        }
    }
}

static void global_threshold(const struct grey *g, int ox, int oy, uint8_t *bits)
{
    for (int y = 0; y < g->h; y++)
        for (int x = 0; x < g->w; x++)
            if (g->px[(size_t)y * (size_t)g->w + (size_t)x] < GLOBAL_THRESHOLD)
                set_black(bits, ox + x, oy + y);
}

#define SCREEN_W 8 /* the halftone tile: two dots on a 45° lattice, ~36 lpi at 204 dpi */
#define SCREEN_MAX_H 8

struct screen {
    int h;
    uint8_t t[SCREEN_MAX_H][SCREEN_W]; /* black when the grey is under t */
};

/* A 45° clustered-dot screen: the dots sit on the lattice spanned by (4,4) and (4,-4)
 * in physical units (8 × 8 of them per tile, however many lines that is) and grow
 * round, then into a checkerboard at 50 %, ranked by the classic cos+cos spot
 * function. Clustered dots keep long runs for G4: a photo page is ~3× smaller than
 * with error diffusion and much faster on the line. */
static void screen_make(int lpi, struct screen *sc)
{
    sc->h = (int)lround(SCREEN_W * lpi / 204.0);
    sc->h = sc->h < 2 ? 2 : sc->h > SCREEN_MAX_H ? SCREEN_MAX_H : sc->h;
    int n = SCREEN_W * sc->h;
    double spot[SCREEN_W * SCREEN_MAX_H];
    for (int y = 0; y < sc->h; y++) {
        for (int x = 0; x < SCREEN_W; x++) {
            double px = x + 0.5, py = (y + 0.5) * SCREEN_W / sc->h;
            double u = (px + py) / SCREEN_W, v = (px - py) / SCREEN_W;
            spot[y * SCREEN_W + x] = cos(2 * M_PI * u) + cos(2 * M_PI * v);
        }
    }
    for (int i = 0; i < n; i++) {
        int rank = 0; /* how many cells turn black before this one */
        for (int j = 0; j < n; j++)
            rank += spot[j] > spot[i] + 1e-9 || (fabs(spot[j] - spot[i]) <= 1e-9 && j < i);
        double t = 255.0 * (1.0 - (rank + 0.5) / n);
        sc->t[i / SCREEN_W][i % SCREEN_W] = (uint8_t)lround(t);
    }
}

static void halftone(const struct grey *g, int lpi, int ox, int oy, uint8_t *bits)
{
    struct screen sc;
    screen_make(lpi, &sc);
    for (int y = 0; y < g->h; y++) {
        /* The screen is anchored to the page, not the picture, so it lines up across it. */
        const uint8_t *trow = sc.t[(oy + y) % sc.h];
        for (int x = 0; x < g->w; x++)
            if (g->px[(size_t)y * (size_t)g->w + (size_t)x] < trow[(ox + x) % SCREEN_W])
                set_black(bits, ox + x, oy + y);
    }
}

/* The fitted grey picture into a full page of bits (1 = black). *photo says what the
 * classifier decided. */
static enum fx_err binarise(struct grey *g, const struct fit *f, int lpi, bool enhance,
                            uint8_t *bits, bool *photo)
{
    *photo = false;
    if (!enhance) {
        global_threshold(g, f->ox, f->oy, bits);
        return FX_OK;
    }
    struct page_stats st;
    page_stats(g, lpi, &st);
    *photo = looks_like_photo(&st);
    fx_debug("convert image class=%s flat=%.3f texture=%.3f edge=%.3f mid=%.3f white=%.3f",
             *photo ? "photo" : "text", st.flat, st.texture, st.edge, st.mid, st.white);
    if (*photo) {
        halftone(g, lpi, f->ox, f->oy, bits);
        return FX_OK;
    }
    uint32_t *integ = integral_new(g);
    if (!integ) return FX_ERR_NOMEM;
    int rx = BRADLEY_WINDOW / 2, ry = (int)lround(BRADLEY_WINDOW * lpi / 204.0) / 2;
    bradley(g, integ, rx, ry, st.white > WHITE_PAPER_SHARE ? GLOBAL_THRESHOLD : DARK_FLOOR, f->ox,
            f->oy, bits);
    free(integ);
    return FX_OK;
}

/* ------------------------------------------------------------ the route ---- */

/* One rendered page: load, fit, binarise, add to the writer. FX_ERR_INVALID when the
 * PGM is missing or malformed (the engine failed, whatever it said). */
static enum fx_err page_add(const char *pgm, int box, struct fx_pagew *w, bool enhance, bool *photo)
{
    struct grey g = {0}, fitted = {0};
    if (!pgm_load(pgm, box, &g)) return FX_ERR_INVALID;
    enum fx_res r = fx_pagew_res(w);
    int lines = fx_page_lines(fx_pagew_paper(w), r), lpi = fx_res_lpi(r);
    struct fit f;
    fit_page(g.w, g.h, lines, lpi, &f);
    enum fx_err e = fit_grey(&g, &f, &fitted);
    if (e != FX_OK) return e;
    size_t stride = FX_PAGE_WIDTH / 8;
    uint8_t *bits = calloc((size_t)lines, stride);
    if (!bits) {
        free(fitted.px);
        return FX_ERR_NOMEM;
    }
    e = binarise(&fitted, &f, lpi, enhance, bits, photo);
    if (e == FX_OK) e = fx_pagew_add_bitmap(w, -1, bits, FX_PAGE_WIDTH, lines, stride);
    free(bits);
    free(fitted.px);
    return e;
}

/* Checks the header's sizes against the page cap and the pixel cap. False (res set)
 * when the image is refused. */
static bool info_acceptable(const struct fx_convert *c, const struct img_info *in, int pages_left,
                            struct fx_convert_result *res)
{
    int64_t cap = c->cfg.max_image_pixels > 0 ? c->cfg.max_image_pixels : IMG_DEFAULT_PIXEL_CAP;
    if (in->n > pages_left) {
        /* TIFF directories are only read up to one past the cap. */
        fx_convert_fail(res, ST_PAGES, "the image has more than %d pages (page cap)",
                        pages_left < 0 ? 0 : pages_left);
        return false;
    }
    for (int i = 0; i < in->n; i++) {
        const struct img_page *p = &in->pages[i];
        if (p->w > cap / p->h) {
            char which[32] = "";
            if (in->n > 1) snprintf(which, sizeof which, " page %d", i + 1);
            fx_convert_fail(res, ST_IMAGE,
                            "the image%s is %" PRId64 "×%" PRId64 " pixels; the limit is %" PRId64,
                            which, p->w, p->h, cap);
            return false;
        }
    }
    return true;
}

/* Links the image into the work directory under a name with the right extension:
 * MuPDF 1.21 picks its decoder from the file name, and documents are stored under
 * names that say nothing (or lie, like png_named.pdf). *n gets a number free in it. */
static bool link_input(const char *path, const char *workdir, enum img_fmt fmt, int *n, char *link,
                       size_t len)
{
    char abs[PATH_MAX];
    if (!realpath(path, abs)) return false;
    for (*n = 1; *n < 10000; (*n)++) {
        if ((size_t)snprintf(link, len, "%s/img%d.%s", workdir, *n, fmt_ext[fmt]) >= len)
            return false;
        if (symlink(abs, link) == 0) return true;
        if (errno != EEXIST) return false;
    }
    return false;
}

static void remove_pgms(const char *base, int first, int last)
{
    char p[PATH_MAX];
    for (int i = first; i <= last; i++)
        if ((size_t)snprintf(p, sizeof p, "%s-%d.pgm", base, i) < sizeof p) unlink(p);
}

/* Renders and adds pages [first, last], which share one render box. *failed is set
 * (with res) when the image could not be decoded. */
static enum fx_err run_group(struct fx_convert *c, const struct img_info *in, const char *workdir,
                             const char *link, const char *base, int first, int last,
                             struct fx_pagew *w, bool enhance, struct fx_convert_result *res,
                             int *photos, bool *failed)
{
    const struct img_page *pg = &in->pages[first - 1];
    bool shrink = pg->w > pg->box || pg->h > pg->box, ran = false;
    enum fx_err e = render_pages(c, workdir, link, base, first, last, pg->box, shrink, res, &ran);
    *failed = e == FX_OK && !ran;
    for (int i = first; e == FX_OK && !*failed && i <= last; i++) {
        char pgm[PATH_MAX], page[32] = "";
        bool photo = false;
        if ((size_t)snprintf(pgm, sizeof pgm, "%s-%d.pgm", base, i) >= sizeof pgm) {
            e = FX_ERR_INTERNAL;
            break;
        }
        e = page_add(pgm, pg->box, w, enhance, &photo);
        *photos += photo;
        if (e == FX_ERR_INVALID) {
            if (in->n > 1) snprintf(page, sizeof page, "page %d of ", i);
            e = fx_convert_fail(res, ST_IMAGE, "MuPDF could not decode %sthe %s image", page,
                                fmt_name[in->fmt]);
            *failed = true;
        }
    }
    remove_pgms(base, first, last);
    return e;
}

enum fx_err fx_route_image(struct fx_convert *c, const char *path, const char *mime,
                           const char *workdir, struct fx_pagew *w, bool enhance, int pages_left,
                           struct fx_convert_result *res)
{
    int64_t t0 = fx_clock_mono_ms();
    struct img_info in = {0};
    char why[160] = "", link[PATH_MAX] = "", base[PATH_MAX];
    int n = 0, photos = 0;
    bool failed = false;
    enum fx_err e = read_info(path, pages_left < 0 ? 0 : pages_left, &in, why, sizeof why);
    if (e == FX_ERR_INVALID) {
        e = fx_convert_fail(res, ST_IMAGE, "%s", why);
        goto out;
    }
    if (e != FX_OK || !info_acceptable(c, &in, pages_left, res)) goto out;
    if (!link_input(path, workdir, in.fmt, &n, link, sizeof link)) {
        fx_error("convert image cannot link the input into workdir=%s errno=%d", workdir, errno);
        e = FX_ERR_IO;
        goto out;
    }
    snprintf(base, sizeof base, "%s/img%d", workdir, n);
    /* Consecutive pages with the same render box go through one MuPDF run. */
    for (int first = 1; e == FX_OK && !failed && first <= in.n;) {
        int last = first;
        while (last < in.n && in.pages[last].box == in.pages[first - 1].box)
            last++;
        e = run_group(c, &in, workdir, link, base, first, last, w, enhance, res, &photos, &failed);
        first = last + 1;
    }
    unlink(link);
out:
    fx_info("convert image mime=%s format=%s pages=%d photos=%d enhance=%d ms=%" PRId64
            " status=%s",
            mime ? mime : "-", fmt_name[in.fmt], in.n, photos, enhance, fx_clock_mono_ms() - t0,
            res->status ? res->status : "ok");
    free(in.pages);
    return e;
}
