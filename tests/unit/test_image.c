/* Tests for the image route (convert/image.c) with the real mutool: every image
 * fixture becomes the right number of fax pages; the pixel cap refuses a decompression
 * bomb from its header without running MuPDF; transparency comes out white; EXIF
 * orientation is honoured; a vignetted phone photo of paper keeps white corners; a
 * photo becomes a clustered-dot halftone; the plain-threshold path; the page cap; bad
 * headers and bodies; and an engine that hangs is killed at the timeout.
 *
 * The route is tested as a black box: its pages are written with the real page writer
 * (fx_pagew_write) and read back with libtiff, so what is checked is the fax TIFF. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tiffio.h>

#include "check.h"
#include "convert/convert_priv.h"
#include "core/core.h"

#define STRIDE (FX_PAGE_WIDTH / 8)

static char g_base[256];
static char g_fixtures[512];

/* One page of the fax TIFF the route produced. */
struct page {
    int h;
    uint8_t *bits; /* h rows of STRIDE bytes, 1 = black */
    uint64_t g4;   /* encoded size of the page */
};

struct outcome {
    enum fx_err err;
    struct fx_convert_result res;
    int pages;
    struct page pg[4];
    int64_t ms;
    int leftovers; /* files the route left in its work directory */
};

static void outcome_free(struct outcome *o)
{
    for (int i = 0; i < 4; i++)
        free(o->pg[i].bits);
}

static void cfg_default(struct fx_convert *c)
{
    memset(c, 0, sizeof *c);
    c->cfg.work_dir = g_base;
    c->cfg.timeout_s = 30;
    c->cfg.mem_limit = INT64_C(1) << 30;
    c->cfg.max_image_pixels = 64000000;
    c->cfg.mutool = "mutool";
    c->lo = NULL;
    c->strings = NULL;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static bool read_pages(const char *tif, struct outcome *o)
{
    TIFF *t = TIFFOpen(tif, "r");
    if (!t) return false;
    int i = 0;
    do {
        uint32_t w = 0, h = 0;
        uint16_t photometric = PHOTOMETRIC_MINISWHITE;
        uint64_t *counts = NULL;
        TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
        TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
        TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photometric);
        if (w != FX_PAGE_WIDTH || i >= 4 || !TIFFGetField(t, TIFFTAG_STRIPBYTECOUNTS, &counts))
            break;
        struct page *p = &o->pg[i++];
        p->h = (int)h;
        p->g4 = counts[0];
        p->bits = malloc((size_t)h * STRIDE);
        for (uint32_t y = 0; p->bits && y < h; y++) {
            uint8_t *row = p->bits + (size_t)y * STRIDE;
            TIFFReadScanline(t, row, y, 0);
            if (photometric == PHOTOMETRIC_MINISBLACK)
                for (int x = 0; x < STRIDE; x++)
                    row[x] ^= 0xFF;
        }
    } while (TIFFReadDirectory(t));
    TIFFClose(t);
    return true;
}

/* Runs the route on one file into a fresh writer and reads the result back. */
static void run(struct fx_convert *c, const char *file, const char *mime, bool enhance,
                enum fx_res r, int pages_left, struct outcome *o)
{
    char path[1024], dir[512], tif[600];
    memset(o, 0, sizeof *o);
    if (file[0] == '/')
        snprintf(path, sizeof path, "%s", file);
    else
        snprintf(path, sizeof path, "%s/%s", g_fixtures, file);
    struct fx_pagew *w = NULL;
    if (fx_workdir_new(g_base, dir, sizeof dir) != FX_OK ||
        fx_pagew_new(FX_PAPER_A4, r, dir, &w) != FX_OK) {
        o->err = FX_ERR_IO;
        return;
    }
    int64_t t0 = fx_clock_mono_ms();
    o->err = fx_route_image(c, path, mime, dir, w, enhance, pages_left, &o->res);
    o->ms = fx_clock_mono_ms() - t0;
    o->pages = fx_pagew_pages(w);
    o->leftovers = count_files(dir);
    snprintf(tif, sizeof tif, "%s/out.tif", dir);
    if (o->pages > 0 && fx_pagew_write(w, tif) == FX_OK) read_pages(tif, o);
    fx_pagew_free(w);
    fx_workdir_remove(dir);
}

static bool black(const struct page *p, int x, int y)
{
    return (p->bits[(size_t)y * STRIDE + (size_t)(x >> 3)] >> (7 - (x & 7))) & 1;
}

/* Share of black pixels in the rectangle [x0, x1) × [y0, y1). */
static double black_share(const struct page *p, int x0, int y0, int x1, int y1)
{
    long n = 0, b = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++, n++)
            b += black(p, x, y);
    return n ? (double)b / (double)n : 0;
}

/* The bounding box of the black pixels. */
static void ink_box(const struct page *p, int box[4])
{
    box[0] = FX_PAGE_WIDTH, box[1] = p->h, box[2] = 0, box[3] = 0;
    for (int y = 0; y < p->h; y++)
        for (int x = 0; x < FX_PAGE_WIDTH; x++)
            if (black(p, x, y)) {
                box[0] = x < box[0] ? x : box[0];
                box[1] = y < box[1] ? y : box[1];
                box[2] = x + 1 > box[2] ? x + 1 : box[2];
                box[3] = y + 1 > box[3] ? y + 1 : box[3];
            }
}

#define GRID 8

/* Black share of each cell of a GRID×GRID division of the ink box: the picture's
 * tones, whatever its scale on the page. */
static void tone_grid(const struct page *p, double g[GRID][GRID])
{
    int b[4];
    ink_box(p, b);
    int w = b[2] - b[0], h = b[3] - b[1];
    for (int j = 0; j < GRID; j++)
        for (int i = 0; i < GRID; i++)
            g[j][i] = black_share(p, b[0] + i * w / GRID, b[1] + j * h / GRID,
                                  b[0] + (i + 1) * w / GRID, b[1] + (j + 1) * h / GRID);
}

static double grid_diff(double a[GRID][GRID], double b[GRID][GRID], bool turn)
{
    double d = 0;
    for (int j = 0; j < GRID; j++)
        for (int i = 0; i < GRID; i++)
            d += fabs(a[j][i] - (turn ? b[GRID - 1 - j][GRID - 1 - i] : b[j][i]));
    return d / (GRID * GRID);
}

static void test_fixtures_pages(void)
{
    static const struct {
        const char *file, *mime;
        int pages;
    } cases[] = {
        {"photo.jpg", "image/jpeg", 1},        {"photo_exif_rotated.jpg", "image/jpeg", 1},
        {"scan_phone.jpg", "image/jpeg", 1},   {"logo_alpha.png", "image/png", 1},
        {"document_page.png", "image/png", 1}, {"multipage_mixed.tiff", "image/tiff", 3},
        {"png_named.pdf", "image/png", 1},
    };
    struct fx_convert c;
    cfg_default(&c);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct outcome o;
        run(&c, cases[i].file, cases[i].mime, true, FX_RES_FINE, 100, &o);
        printf("  %-24s pages=%d ms=%lld g4=", cases[i].file, o.pages, (long long)o.ms);
        for (int p = 0; p < o.pages && p < 4; p++)
            printf("%s%llu", p ? "," : "", (unsigned long long)o.pg[p].g4);
        printf(" status=%s\n", o.res.status ? o.res.status : "ok");
        CHECK(o.err == FX_OK);
        CHECK(o.res.status == NULL);
        CHECK(o.pages == cases[i].pages);
        CHECK(o.leftovers == 0); /* PGMs and the input link are gone */
        for (int p = 0; p < o.pages && p < 4; p++) {
            CHECK(o.pg[p].h == 2292);
            CHECK(o.pg[p].g4 > 1000 && o.pg[p].g4 < 600000);
        }
        outcome_free(&o);
    }
}

/* A fake mutool that leaves a mark if it is ever run. */
static void write_script(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "#!/bin/sh\n%s\n", body);
        fclose(f);
    }
    chmod(path, 0755);
}

static void test_bomb(void)
{
    struct fx_convert c;
    cfg_default(&c);
    char fake[400], mark[400], body[900];
    snprintf(fake, sizeof fake, "%s/fake-mutool-mark", g_base);
    snprintf(mark, sizeof mark, "%s/mutool-was-run", g_base);
    snprintf(body, sizeof body, "touch '%s'\nexec mutool \"$@\"", mark);
    write_script(fake, body);
    c.cfg.mutool = fake;
    struct outcome o;
    run(&c, "bad_bomb.png", "image/png", true, FX_RES_FINE, 100, &o);
    CHECK(o.err == FX_OK);
    CHECK_STR(o.res.status, "failed_image_preparation");
    CHECK(strstr(o.res.detail, "30000×30000") != NULL);
    CHECK(o.pages == 0);
    CHECK(o.ms < 1000);
    CHECK(o.leftovers == 0); /* no PGM, nothing */
    CHECK(access(mark, F_OK) != 0);
    outcome_free(&o);

    /* The same fake does run (the check above can fail) for an image under the cap. */
    run(&c, "logo_alpha.png", "image/png", true, FX_RES_FINE, 100, &o);
    CHECK(o.res.status == NULL && o.pages == 1);
    CHECK(access(mark, F_OK) == 0);
    outcome_free(&o);

    /* The cap is inclusive: 1200×900 passes at 1080000 and fails one pixel below. */
    cfg_default(&c);
    c.cfg.max_image_pixels = 1200 * 900;
    run(&c, "photo.jpg", "image/jpeg", true, FX_RES_FINE, 100, &o);
    CHECK(o.res.status == NULL && o.pages == 1);
    outcome_free(&o);
    c.cfg.max_image_pixels = 1200 * 900 - 1;
    run(&c, "photo.jpg", "image/jpeg", true, FX_RES_FINE, 100, &o);
    CHECK_STR(o.res.status, "failed_image_preparation");
    CHECK(strstr(o.res.detail, "1200×900") != NULL);
    outcome_free(&o);

    /* Every TIFF page is checked: page 3 (2481×3508) is over 5 Mpixel. */
    c.cfg.max_image_pixels = 5000000;
    run(&c, "multipage_mixed.tiff", "image/tiff", true, FX_RES_FINE, 100, &o);
    CHECK_STR(o.res.status, "failed_image_preparation");
    CHECK(strstr(o.res.detail, "page 3") != NULL);
    CHECK(o.pages == 0);
    outcome_free(&o);
}

static void test_page_cap(void)
{
    struct fx_convert c;
    cfg_default(&c);
    struct outcome o;
    run(&c, "multipage_mixed.tiff", "image/tiff", true, FX_RES_FINE, 2, &o);
    CHECK(o.err == FX_OK);
    CHECK_STR(o.res.status, "failed_convert_to_tiff_issue");
    CHECK(o.pages == 0);
    outcome_free(&o);
    run(&c, "multipage_mixed.tiff", "image/tiff", true, FX_RES_FINE, 3, &o);
    CHECK(o.res.status == NULL && o.pages == 3);
    outcome_free(&o);
    run(&c, "photo.jpg", "image/jpeg", true, FX_RES_FINE, 0, &o);
    CHECK_STR(o.res.status, "failed_convert_to_tiff_issue");
    outcome_free(&o);
}

/* logo_alpha.png is 900×500 with a transparent background and nothing drawn within
 * 25 px of its edges. Turned to portrait (500×900) and enlarged by the 2× cap it is
 * 1000×1729 fax pixels at (364, 281): its corners there, and everything around it,
 * must be white. Dropping alpha would make them black. */
static void test_alpha_white(void)
{
    struct fx_convert c;
    cfg_default(&c);
    struct outcome o;
    run(&c, "logo_alpha.png", "image/png", true, FX_RES_FINE, 100, &o);
    CHECK(o.pages == 1);
    if (o.pages == 1 && o.pg[0].bits) {
        const struct page *p = &o.pg[0];
        int x0 = 364, y0 = 281, x1 = 1364, y1 = 2010, m = 40;
        CHECK(black_share(p, x0, y0, x0 + m, y0 + m) == 0);
        CHECK(black_share(p, x1 - m, y0, x1, y0 + m) == 0);
        CHECK(black_share(p, x0, y1 - m, x0 + m, y1) == 0);
        CHECK(black_share(p, x1 - m, y1 - m, x1, y1) == 0);
        CHECK(black_share(p, 0, 0, FX_PAGE_WIDTH, y0) == 0);
        CHECK(black_share(p, 0, y1, FX_PAGE_WIDTH, p->h) == 0);
        double inside = black_share(p, x0, y0, x1, y1);
        CHECK(inside > 0.02 && inside < 0.3); /* the drawing is there, on white */
        int b[4];
        ink_box(p, b); /* and it is inside the fitted rectangle */
        CHECK(b[0] >= x0 && b[1] >= y0 && b[2] <= x1 && b[3] <= y1);
    }
    outcome_free(&o);
}

/* photo_exif_rotated.jpg is photo.jpg stored sideways with EXIF orientation 6: both
 * must give the same picture (at different scales: the smaller one is capped at 2×).
 * Turned upside down, the comparison must fail, or it proves nothing. */
static void test_exif(void)
{
    struct fx_convert c;
    cfg_default(&c);
    struct outcome a, b;
    run(&c, "photo.jpg", "image/jpeg", true, FX_RES_FINE, 100, &a);
    run(&c, "photo_exif_rotated.jpg", "image/jpeg", true, FX_RES_FINE, 100, &b);
    CHECK(a.pages == 1 && b.pages == 1);
    if (a.pg[0].bits && b.pg[0].bits) {
        double ga[GRID][GRID], gb[GRID][GRID];
        tone_grid(&a.pg[0], ga);
        tone_grid(&b.pg[0], gb);
        double same = grid_diff(ga, gb, false), turned = grid_diff(ga, gb, true);
        printf("  exif: mean tone difference %.3f, upside down %.3f\n", same, turned);
        CHECK(same < 0.05);
        CHECK(turned > 0.15);
    }
    outcome_free(&a);
    outcome_free(&b);
}

/* scan_phone.jpg fills the page; its corners are vignetted paper (grey 116) and a
 * dark table edge (86). The adaptive threshold keeps them white but for the lines of
 * the paper's edges (12-15 % of a 400 px corner); the plain 50 % threshold of
 * !enhance blackens them (75-80 %), which shows the check can fail. */
static void test_scan_corners(void)
{
    struct fx_convert c;
    cfg_default(&c);
    struct outcome on, off;
    run(&c, "scan_phone.jpg", "image/jpeg", true, FX_RES_FINE, 100, &on);
    run(&c, "scan_phone.jpg", "image/jpeg", false, FX_RES_FINE, 100, &off);
    CHECK(on.pages == 1 && off.pages == 1);
    if (on.pg[0].bits && off.pg[0].bits) {
        int s = 400, h = on.pg[0].h, w = FX_PAGE_WIDTH;
        int corners[4][2] = {{0, 0}, {w - s, 0}, {0, h - s}, {w - s, h - s}};
        for (int i = 0; i < 4; i++) {
            int x = corners[i][0], y = corners[i][1];
            double a = black_share(&on.pg[0], x, y, x + s, y + s);
            double b = black_share(&off.pg[0], x, y, x + s, y + s);
            printf("  scan corner %d: adaptive %.3f, global %.3f\n", i, a, b);
            CHECK(a < 0.2);
            CHECK(b > 0.5);
        }
        /* The letter itself is there: text, not an empty page. */
        double text = black_share(&on.pg[0], 0, 0, w, h);
        CHECK(text > 0.01 && text < 0.15);
        CHECK(on.pg[0].g4 < 60000);
    }
    outcome_free(&on);
    outcome_free(&off);
}

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* photo.jpg becomes a halftone: mid-grey areas hold both black and white, in
 * clustered dots. Scattering the same pixels randomly inside each 8×8 cell keeps every
 * tone and makes a much bigger G4 page: that is what the clustering buys. With
 * !enhance the page is a plain threshold: few mixed cells, a tiny page. */
static void test_halftone(void)
{
    struct fx_convert c;
    cfg_default(&c);
    struct outcome o, plain;
    run(&c, "photo.jpg", "image/jpeg", true, FX_RES_FINE, 100, &o);
    run(&c, "photo.jpg", "image/jpeg", false, FX_RES_FINE, 100, &plain);
    CHECK(o.pages == 1 && plain.pages == 1);
    if (!o.pg[0].bits || !plain.pg[0].bits) goto out;
    double g[GRID][GRID], gp[GRID][GRID];
    tone_grid(&o.pg[0], g);
    tone_grid(&plain.pg[0], gp);
    int mixed = 0, mixed_plain = 0;
    for (int j = 0; j < GRID; j++)
        for (int i = 0; i < GRID; i++) {
            mixed += g[j][i] > 0.1 && g[j][i] < 0.9;
            mixed_plain += gp[j][i] > 0.1 && gp[j][i] < 0.9;
        }
    printf("  halftone: %d of 64 cells mixed (plain threshold %d); g4 %llu vs plain %llu\n", mixed,
           mixed_plain, (unsigned long long)o.pg[0].g4, (unsigned long long)plain.pg[0].g4);
    CHECK(mixed >= 32);
    CHECK(mixed_plain <= 16);
    CHECK(plain.pg[0].g4 < 30000);
    CHECK(o.pg[0].g4 < 500000);

    /* Same tones, scattered: re-encode through a page writer and compare sizes. */
    const struct page *p = &o.pg[0];
    uint8_t *scat = calloc((size_t)p->h, STRIDE);
    uint32_t seed = 12345;
    for (int y0 = 0; scat && y0 + 8 <= p->h; y0 += 8)
        for (int x0 = 0; x0 < FX_PAGE_WIDTH; x0 += 8) {
            int n = 0, cell[64];
            for (int k = 0; k < 64; k++)
                n += black(p, x0 + k % 8, y0 + k / 8);
            for (int k = 0; k < 64; k++)
                cell[k] = k < n;
            for (int k = 63; k > 0; k--) { /* Fisher-Yates */
                int r = (int)(rng_next(&seed) % (uint32_t)(k + 1)), t = cell[k];
                cell[k] = cell[r];
                cell[r] = t;
            }
            for (int k = 0; k < 64; k++)
                if (cell[k])
                    scat[(size_t)(y0 + k / 8) * STRIDE + (size_t)((x0 + k % 8) >> 3)] |=
                        (uint8_t)(0x80 >> ((x0 + k % 8) & 7));
        }
    char dir[512], tif[600];
    struct fx_pagew *w = NULL;
    if (scat && fx_workdir_new(g_base, dir, sizeof dir) == FX_OK &&
        fx_pagew_new(FX_PAPER_A4, FX_RES_FINE, dir, &w) == FX_OK &&
        fx_pagew_add_bitmap(w, -1, scat, FX_PAGE_WIDTH, p->h, STRIDE) == FX_OK) {
        snprintf(tif, sizeof tif, "%s/scattered.tif", dir);
        struct outcome s;
        memset(&s, 0, sizeof s);
        CHECK(fx_pagew_write(w, tif) == FX_OK && read_pages(tif, &s));
        printf("  clustered %llu bytes, scattered %llu bytes\n", (unsigned long long)p->g4,
               (unsigned long long)s.pg[0].g4);
        CHECK(s.pg[0].g4 > 2 * p->g4);
        outcome_free(&s);
        fx_workdir_remove(dir);
    } else {
        CHECK(!"scattered page not encoded");
    }
    fx_pagew_free(w);
    free(scat);
out:
    outcome_free(&o);
    outcome_free(&plain);
}

/* Normal resolution: 1146 lines, and the picture keeps its physical shape (scan_phone
 * is 1000×1380: at 204×98 dpi it is about 1728 × 1146 fax pixels, i.e. full page). */
static void test_normal_res(void)
{
    struct fx_convert c;
    cfg_default(&c);
    struct outcome o;
    run(&c, "multipage_mixed.tiff", "image/tiff", true, FX_RES_NORMAL, 100, &o);
    CHECK(o.pages == 3);
    for (int i = 0; i < o.pages && i < 4; i++)
        CHECK(o.pg[i].h == 1146);
    outcome_free(&o);
    /* photo_exif_rotated: 600×800 upright → 2× → 1200 wide, 800×2×98/204 = 769 lines. */
    run(&c, "photo_exif_rotated.jpg", "image/jpeg", true, FX_RES_NORMAL, 100, &o);
    CHECK(o.pages == 1);
    if (o.pg[0].bits) {
        int b[4];
        ink_box(&o.pg[0], b);
        printf("  normal: photo box %d×%d at (%d,%d)\n", b[2] - b[0], b[3] - b[1], b[0], b[1]);
        CHECK(abs((b[2] - b[0]) - 1200) <= 8);
        CHECK(abs((b[3] - b[1]) - 769) <= 8);
    }
    outcome_free(&o);
}

/* Headers that cannot be read, and a PNG whose header is fine but whose data is not
 * (MuPDF fails; it is the missing output that says so). */
static void test_bad_files(void)
{
    struct fx_convert c;
    cfg_default(&c);
    char path[400];
    struct outcome o;
    static const struct {
        const char *name;
        const unsigned char *bytes;
        size_t len;
    } bad[] = {
        {"soi_eoi.jpg", (const unsigned char *)"\xFF\xD8\xFF\xD9", 4},
        {"sos_first.jpg", (const unsigned char *)"\xFF\xD8\xFF\xDA\x00\x02", 6},
        {"short.png", (const unsigned char *)"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16},
        {"notiff.tif", (const unsigned char *)"II*\0\xff\xff\xff\x7f", 8},
        {"text.txt", (const unsigned char *)"hello, world", 12},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(path, sizeof path, "%s/%s", g_base, bad[i].name);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(bad[i].bytes, 1, bad[i].len, f);
            fclose(f);
        }
        run(&c, path, "image/png", true, FX_RES_FINE, 100, &o);
        CHECK(o.err == FX_OK);
        CHECK_STR(o.res.status, "failed_image_preparation");
        CHECK(o.pages == 0);
        outcome_free(&o);
    }

    /* logo_alpha.png's first 200 bytes (signature, IHDR) and then seeded noise. */
    char src[700];
    snprintf(src, sizeof src, "%s/logo_alpha.png", g_fixtures);
    snprintf(path, sizeof path, "%s/noise.png", g_base);
    FILE *in = fopen(src, "rb"), *out = fopen(path, "wb");
    unsigned char head[200];
    uint32_t seed = 99;
    if (in && out && fread(head, 1, sizeof head, in) == sizeof head) {
        fwrite(head, 1, sizeof head, out);
        for (int i = 0; i < 20000; i++)
            fputc((int)(rng_next(&seed) & 0xFF), out);
    }
    if (in) fclose(in);
    if (out) fclose(out);
    run(&c, path, "image/png", true, FX_RES_FINE, 100, &o);
    CHECK(o.err == FX_OK);
    CHECK_STR(o.res.status, "failed_image_preparation");
    CHECK(o.pages == 0);
    CHECK(o.leftovers == 0);
    outcome_free(&o);
}

/* An engine that hangs is killed at the timeout: the route fails cleanly. */
static void test_timeout(void)
{
    struct fx_convert c;
    cfg_default(&c);
    char fake[400];
    snprintf(fake, sizeof fake, "%s/fake-mutool-sleep", g_base);
    write_script(fake, "exec sleep 600");
    c.cfg.mutool = fake;
    c.cfg.timeout_s = 2;
    struct outcome o;
    run(&c, "photo.jpg", "image/jpeg", true, FX_RES_FINE, 100, &o);
    printf("  hanging engine: %lld ms, %s\n", (long long)o.ms, o.res.detail);
    CHECK(o.err == FX_OK);
    CHECK_STR(o.res.status, "failed_image_preparation");
    CHECK(o.ms >= 1500 && o.ms < 6000);
    CHECK(o.pages == 0);
    CHECK(o.leftovers == 0);
    outcome_free(&o);
}

int main(void)
{
    const char *data = getenv("FAXD_TEST_DATA");
    snprintf(g_fixtures, sizeof g_fixtures, "%s/fixtures", data ? data : "tests/data");
    const char *tmp = getenv("TMPDIR");
    snprintf(g_base, sizeof g_base, "%s/faxd-test-image-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(g_base)) {
        perror("mkdtemp");
        return 1;
    }
    fx_log_set_level(FX_LOG_WARN);
    test_fixtures_pages();
    test_bomb();
    test_page_cap();
    test_alpha_white();
    test_exif();
    test_scan_corners();
    test_halftone();
    test_normal_res();
    test_bad_files();
    test_timeout();
    fx_workdir_remove(g_base);
    return fx_check_result("test_image");
}
