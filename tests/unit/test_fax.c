/* Tests for the fax session (fax/fax.c): two sessions back to back on sample time (no
 * sleeping), over G.711 A-law and µ-law audio and over T.38 (IFP packets queued in memory,
 * in order, delivered each tick), ECM on and off, 1 and 10 pages, fine and normal resolution.
 *
 * What is checked: both ends finish with code 0 and every page confirmed, with the far end's
 * ident, 14400 bit/s, the ECM choice and the resolution; each received page decodes (libtiff,
 * row by row) to exactly the sent bitmap below the header rows spandsp adds (32 at fine, 16 at
 * normal) or to the whole page without a header; the header band holds black pixels, its
 * "Page n of M" and "p.N" parts change from page 1 to page 2, and a resumed send draws the
 * full send's page-k header on its page k (date/time columns excluded). A hang-up during
 * page 2 leaves 49 on both sides with exactly page 1 in the received file; a hang-up in the
 * tick of the final MCF leaves 0. A sender facing silence ends with 2 after T0 (60 s). The
 * no-media and maximum-duration watchdogs end a call with watchdog = true and 49 (over T.38
 * the sender of a page whose far end vanished ends on T.30's timers with 21 instead); a call
 * ended during page 1 leaves no receive file. A receiver without a file makes the sender fail
 * with 9. Bad TIFFs and configurations are refused before any call.
 *
 * Test documents are generated with libtiff in a temporary directory. Each scenario prints
 * its wall time and CPU per second of line time for both ends together (not asserted). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tiffio.h>

#include "check.h"
#include "fax_page.h"
#include "core/core.h"
#include "fax/fax.h"

#define W 1728
#define STRIDE (W / 8)
#define FINE_H 2292
#define NORMAL_H 1146
#define HDR_FINE 32
#define HDR_NORMAL 16
#define FONT_W 16 /* header glyph width in pixels */

static char g_dir[256];

/* ---- test documents ----------------------------------------------------------- */

static uint32_t rnd(uint32_t *st)
{
    *st = *st * 1664525u + 1013904223u;
    return *st >> 8;
}

static void set_black(uint8_t *bm, int x, int y)
{
    bm[(size_t)y * STRIDE + (size_t)(x >> 3)] |= (uint8_t)(0x80 >> (x & 7));
}

/* Text-like content: lines of random 5x7 glyphs, some full-width rules, a page mark. */
static void draw_page(uint8_t *bm, int h, bool fine, uint32_t seed, int text_lines)
{
    memset(bm, 0, (size_t)h * STRIDE);
    uint32_t st = seed * 2654435761u + 1;
    int sy = fine ? 2 : 1;            /* glyph pixel height */
    int line_h = 7 * sy * 2 + 4 * sy; /* glyph + leading */
    int y = 120 * sy / 2 + 40;
    for (int l = 0; l < text_lines && y + 7 * sy * 2 < h - 40; l++, y += line_h) {
        if (rnd(&st) % 5 == 0) continue; /* blank line */
        int x = 100;
        int end = 100 + (int)(rnd(&st) % 1500);
        while (x < end && x + 12 < W - 100) {
            int word = 2 + (int)(rnd(&st) % 8);
            for (int c = 0; c < word && x + 12 < W - 100; c++, x += 12) {
                uint32_t glyph = rnd(&st);
                for (int gy = 0; gy < 7; gy++)
                    for (int gx = 0; gx < 5; gx++)
                        if ((glyph >> ((gy * 5 + gx) % 24)) & 1)
                            for (int py = 0; py < 2 * sy; py++)
                                for (int px = 0; px < 2; px++)
                                    set_black(bm, x + gx * 2 + px, y + gy * 2 * sy + py);
            }
            x += 12;
        }
    }
    for (int r = 0; r < 3; r++) { /* full-width rules */
        int ry = 60 + (int)(rnd(&st) % (uint32_t)(h - 120));
        for (int t = 0; t < sy * 2; t++)
            memset(bm + (size_t)(ry + t) * STRIDE, 0xFF, STRIDE);
    }
    for (int yy = h - 80; yy < h - 40; yy++) /* a block whose place depends on the page */
        for (int xx = 0; xx < 40; xx++)
            set_black(bm, 200 + (int)(seed % 30) * 40 + xx, yy);
}

static bool write_doc(const char *path, int pages, bool fine, uint32_t seed, int text_lines)
{
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return false;
    int h = fine ? FINE_H : NORMAL_H;
    uint8_t *bm = malloc((size_t)h * STRIDE);
    bool ok = bm != NULL;
    for (int p = 0; ok && p < pages; p++) {
        draw_page(bm, h, fine, seed + (uint32_t)p, text_lines);
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, W);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
        TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_MSB2LSB);
        TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0f);
        TIFFSetField(t, TIFFTAG_YRESOLUTION, fine ? 196.0f : 98.0f);
        TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, h);
        TIFFSetField(t, TIFFTAG_PAGENUMBER, p, pages);
        for (int y = 0; ok && y < h; y++)
            ok = TIFFWriteScanline(t, bm + (size_t)y * STRIDE, (uint32_t)y, 0) == 1;
        ok = ok && TIFFWriteDirectory(t);
    }
    TIFFClose(t);
    free(bm);
    return ok;
}

/* A TIFF with one page of the given shape, for the refusal tests. */
static bool write_odd(const char *path, int width, int bps, float xres, float yres)
{
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return false;
    int h = 64;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, width);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bps);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC,
                 bps == 1 ? PHOTOMETRIC_MINISWHITE : PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_XRESOLUTION, xres);
    TIFFSetField(t, TIFFTAG_YRESOLUTION, yres);
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, h);
    size_t stride = ((size_t)width * (size_t)bps + 7) / 8;
    uint8_t *row = calloc(1, stride);
    bool ok = row != NULL;
    for (int y = 0; ok && y < h; y++)
        ok = TIFFWriteScanline(t, row, (uint32_t)y, 0) == 1;
    ok = ok && TIFFWriteDirectory(t);
    free(row);
    TIFFClose(t);
    return ok;
}

/* ---- reading pages back ---------------------------------------------------------- */

struct page {
    int h;
    uint8_t *bits; /* h rows of STRIDE bytes, 1 = black */
};

static int count_dirs(const char *path)
{
    TIFF *t = TIFFOpen(path, "r");
    if (!t) return 0;
    int n = 0;
    do
        n++;
    while (TIFFReadDirectory(t));
    TIFFClose(t);
    return n;
}

static bool read_page(const char *path, int index, struct page *pg)
{
    uint32_t h = 0;
    pg->bits = fx_test_read_page(path, index, &h);
    pg->h = pg->bits ? (int)h : 0;
    return pg->bits != NULL;
}

/* Number of rows of the sent page that differ from the received page below hdr rows;
 * -1 when the heights do not match. */
static int rows_differing(const struct page *sent, const struct page *got, int hdr)
{
    if (got->h != sent->h + hdr) return -1;
    int bad = 0;
    for (int y = 0; y < sent->h; y++)
        if (memcmp(sent->bits + (size_t)y * STRIDE, got->bits + (size_t)(y + hdr) * STRIDE,
                   STRIDE) != 0)
            bad++;
    return bad;
}

static long black_in(const struct page *pg, int y0, int y1, int x0, int x1)
{
    long n = 0;
    for (int y = y0; y < y1 && y < pg->h; y++)
        for (int x = x0; x < x1; x++)
            if (pg->bits[(size_t)y * STRIDE + (size_t)(x >> 3)] & (0x80 >> (x & 7))) n++;
    return n;
}

static bool band_equal(const struct page *a, const struct page *b, int rows, int x0, int x1)
{
    for (int y = 0; y < rows; y++)
        for (int x = x0; x < x1; x++) {
            int m = 0x80 >> (x & 7);
            size_t i = (size_t)y * STRIDE + (size_t)(x >> 3);
            if ((a->bits[i] & m) != (b->bits[i] & m)) return false;
        }
    return true;
}

/* ---- two sessions back to back ------------------------------------------------------ */

struct pkt {
    uint8_t *data;
    size_t len;
};

struct pktq {
    struct pkt *v;
    size_t n, cap, head;
    uint16_t seq;
    bool drop; /* media stopped: packets vanish */
};

static void q_push(const uint8_t *ifp, size_t len, int count, void *arg)
{
    (void)count; /* UDPTL redundancy: one copy is enough on a lossless path */
    struct pktq *q = arg;
    if (q->drop) return;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        struct pkt *v = realloc(q->v, cap * sizeof *v);
        if (!v) abort();
        q->v = v;
        q->cap = cap;
    }
    uint8_t *d = malloc(len);
    if (!d) abort();
    memcpy(d, ifp, len);
    q->v[q->n++] = (struct pkt){d, len};
}

/* Delivers what is queued now, in order; packets queued meanwhile wait for the next tick. */
static void q_deliver(struct pktq *q, struct fx_fax_session *to)
{
    size_t end = q->n;
    for (; q->head < end; q->head++) {
        struct pkt *p = &q->v[q->head];
        if (!q->drop) fx_fax_t38_rx(to, p->data, p->len, q->seq++);
        free(p->data);
        p->data = NULL;
    }
    if (q->head == q->n) q->head = q->n = 0;
}

static void q_free(struct pktq *q)
{
    for (size_t i = q->head; i < q->n; i++)
        free(q->v[i].data);
    free(q->v);
    memset(q, 0, sizeof *q);
}

struct scenario {
    const char *name;
    enum fx_fax_mode mode;
    bool ecm;
    const char *tx_path;
    int start_page, stop_page;
    const char *header; /* NULL = no header */
    int header_total;
    int no_media_ms, max_ms;
    int hangup_after_ticks;     /* >0: hang up both this long after page 1 is confirmed */
    int stop_media_after_ticks; /* >0: media stops this long after page 1 is confirmed */
    bool rx_no_file;            /* the receiver has nowhere to put pages */
    int hangup_at_pages;        /* >0: hang up both the tick the sender has this many pages */
    int max_ticks;
};

struct run {
    struct fx_fax_result tx, rx;
    bool tx_done, rx_done;
    char rx_path[300];
    int ticks;
    double wall_s, cpu_s;
    enum fx_err err;
};

static double now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cfg_base(struct fx_fax_config *c, const struct scenario *sc, bool sending,
                     struct pktq *out_q)
{
    memset(c, 0, sizeof *c);
    c->calling = sending;
    c->sending = sending;
    c->mode = sc->mode;
    c->start_page = sending ? sc->start_page : -1;
    c->stop_page = sending ? sc->stop_page : -1;
    c->ident = sending ? "+1 555 0100" : "+44 20 7946 0999";
    c->header_info = sending ? sc->header : NULL;
    c->header_total_pages = sending ? sc->header_total : 0;
    c->ecm = sc->ecm;
    c->no_media_timeout_ms = sc->no_media_ms;
    c->max_duration_ms = sc->max_ms;
    c->log_tag = sending ? "attempt=tx" : "attempt=rx";
    c->t38_tx = q_push;
    c->t38_arg = out_q;
    c->t38_version = 0;
    c->t38_max_datagram = 400;
    c->t38_max_rate = 14400;
}

static void run_pair(const struct scenario *sc, struct run *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->rx_path, sizeof r->rx_path, "%s/rx-%s.tif", g_dir, sc->name);
    struct pktq ab = {0}, ba = {0};
    struct fx_fax_config ct, cr;
    cfg_base(&ct, sc, true, &ab);
    ct.tiff_path = sc->tx_path;
    cfg_base(&cr, sc, false, &ba);
    cr.tiff_path = sc->rx_no_file ? NULL : r->rx_path;
    struct fx_fax_session *a = NULL, *b = NULL;
    r->err = fx_fax_new(&ct, &a);
    if (r->err == FX_OK) r->err = fx_fax_new(&cr, &b);
    if (r->err != FX_OK) {
        fx_fax_free(a);
        return;
    }
    uint8_t silence = sc->mode == FX_FAX_ULAW ? 0xFF : 0xD5;
    uint8_t a2b[FX_FAX_FRAME], b2a[FX_FAX_FRAME];
    memset(a2b, silence, sizeof a2b);
    memset(b2a, silence, sizeof b2a);
    double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    int confirmed_at = -1;
    bool media = true, hung = false;
    int max_ticks = sc->max_ticks ? sc->max_ticks : 60000;
    for (r->ticks = 0; r->ticks < max_ticks; r->ticks++) {
        if (sc->mode == FX_FAX_T38) {
            q_deliver(&ab, b);
            q_deliver(&ba, a);
        } else {
            fx_fax_audio_rx(a, media ? b2a : NULL, FX_FAX_FRAME);
            fx_fax_audio_rx(b, media ? a2b : NULL, FX_FAX_FRAME);
            fx_fax_audio_tx(a, a2b, FX_FAX_FRAME);
            fx_fax_audio_tx(b, b2a, FX_FAX_FRAME);
        }
        fx_fax_tick(a, FX_FAX_FRAME);
        fx_fax_tick(b, FX_FAX_FRAME);
        if (fx_fax_done(a) && fx_fax_done(b)) {
            r->ticks++;
            break;
        }
        if (confirmed_at < 0 && fx_fax_result(a)->pages_confirmed >= 1) confirmed_at = r->ticks;
        if (sc->hangup_at_pages > 0 && !hung &&
            fx_fax_result(a)->pages_confirmed >= sc->hangup_at_pages) {
            fx_fax_hangup(a);
            fx_fax_hangup(b);
            hung = true;
        }
        if (confirmed_at >= 0 && sc->hangup_after_ticks > 0 && !hung &&
            r->ticks - confirmed_at >= sc->hangup_after_ticks) {
            fx_fax_hangup(a);
            fx_fax_hangup(b);
            hung = true;
        }
        if (confirmed_at >= 0 && sc->stop_media_after_ticks > 0 && media &&
            r->ticks - confirmed_at >= sc->stop_media_after_ticks) {
            media = false;
            ab.drop = ba.drop = true;
        }
    }
    r->wall_s = now_s(CLOCK_MONOTONIC) - w0;
    r->cpu_s = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    r->tx_done = fx_fax_done(a);
    r->rx_done = fx_fax_done(b);
    r->tx = *fx_fax_result(a);
    r->rx = *fx_fax_result(b);
    fx_fax_free(a);
    fx_fax_free(b);
    q_free(&ab);
    q_free(&ba);
    double line_s = r->ticks * 0.02;
    printf("  %-22s tx=%d/%d rx=%d/%d pages=%d/%d rate=%d ecm=%d line=%.1fs wall=%.3fs "
           "cpu=%.3fs cpu/line-s=%.3fms (both ends)%s%s\n",
           sc->name, r->tx.t30_code, r->tx_done, r->rx.t30_code, r->rx_done, r->tx.pages_confirmed,
           r->rx.pages_confirmed, r->tx.bit_rate, (int)r->tx.ecm, line_s, r->wall_s, r->cpu_s,
           line_s > 0 ? r->cpu_s * 1000 / line_s : 0, r->tx.watchdog ? " tx-watchdog" : "",
           r->rx.watchdog ? " rx-watchdog" : "");
}

/* Every received page equals the sent page below hdr rows; returns pages compared. */
static int compare_doc(const char *sent_path, int first, const char *got_path, int pages, int hdr)
{
    int ok_pages = 0;
    for (int i = 0; i < pages; i++) {
        struct page s, g;
        bool rs = read_page(sent_path, first + i, &s), rg = read_page(got_path, i, &g);
        CHECK(rs && rg);
        if (rs && rg) {
            int bad = rows_differing(&s, &g, hdr);
            if (bad != 0)
                fprintf(stderr, "page %d: sent %d rows, got %d rows, %d differ (hdr %d)\n", i + 1,
                        s.h, g.h, bad, hdr);
            CHECK(bad == 0);
            if (bad == 0) ok_pages++;
            if (hdr > 0)
                CHECK(black_in(&g, 0, hdr, 0, W) > 0);
            else
                CHECK(g.h == s.h);
        }
        free(s.bits);
        free(g.bits);
    }
    return ok_pages;
}

static void check_success(const struct run *r, int pages, bool ecm, int yres)
{
    CHECK(r->err == FX_OK);
    CHECK(r->tx_done && r->rx_done);
    CHECK(r->tx.t30_code == 0);
    CHECK(r->rx.t30_code == 0);
    CHECK_STR(r->tx.t30_text, "OK");
    CHECK(r->tx.pages_confirmed == pages);
    CHECK(r->rx.pages_confirmed == pages);
    CHECK(r->rx.pages_in_file == pages);
    CHECK(r->tx.bit_rate == 14400 && r->rx.bit_rate == 14400);
    CHECK(r->tx.ecm == ecm && r->rx.ecm == ecm);
    CHECK(r->tx.x_res == 8031 && r->rx.x_res == 8031); /* 204 dpi in pixels per metre */
    CHECK(r->tx.y_res == yres && r->rx.y_res == yres);
    CHECK_STR(r->tx.remote_ident, "+44 20 7946 0999");
    CHECK_STR(r->rx.remote_ident, "+1 555 0100");
    CHECK(!r->tx.watchdog && !r->rx.watchdog);
    CHECK(r->tx.duration_ms > 5000 && r->tx.duration_ms <= r->ticks * 20);
    CHECK(count_dirs(r->rx_path) == pages);
    uint16_t comp = 0;
    TIFF *t = TIFFOpen(r->rx_path, "r");
    if (t) {
        TIFFGetField(t, TIFFTAG_COMPRESSION, &comp);
        TIFFClose(t);
    }
    CHECK(comp == COMPRESSION_CCITTFAX4); /* received files are stored as compact G4 */
}

/* ---- scenarios ------------------------------------------------------------------------ */

static char g_one[300], g_ten[300], g_normal[300];

static void test_transfers(void)
{
    const struct {
        const char *name;
        enum fx_fax_mode mode;
        bool ecm;
        const char *doc;
        int pages;
        bool header;
    } cases[] = {
        {"alaw-ecm-1p-hdr", FX_FAX_ALAW, true, g_one, 1, true},
        {"ulaw-ecm-1p", FX_FAX_ULAW, true, g_one, 1, false},
        {"alaw-noecm-1p", FX_FAX_ALAW, false, g_one, 1, false},
        {"ulaw-noecm-10p-hdr", FX_FAX_ULAW, false, g_ten, 10, true},
        {"alaw-ecm-10p", FX_FAX_ALAW, true, g_ten, 10, false},
        {"t38-ecm-1p-hdr", FX_FAX_T38, true, g_one, 1, true},
        {"t38-noecm-1p", FX_FAX_T38, false, g_one, 1, false},
        {"t38-ecm-10p-hdr", FX_FAX_T38, true, g_ten, 10, true},
        {"t38-noecm-10p", FX_FAX_T38, false, g_ten, 10, false},
        {"alaw-ecm-normal-hdr", FX_FAX_ALAW, true, g_normal, 1, true},
        {"t38-noecm-normal", FX_FAX_T38, false, g_normal, 1, false},
    };
    printf("transfers:\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool normal = cases[i].doc == g_normal;
        struct scenario sc = {
            .name = cases[i].name,
            .mode = cases[i].mode,
            .ecm = cases[i].ecm,
            .tx_path = cases[i].doc,
            .start_page = -1,
            .stop_page = -1,
            .header = cases[i].header ? "ACME Corp fax" : NULL,
            .header_total = cases[i].header ? cases[i].pages : 0,
            .no_media_ms = 5000,
            .max_ms = 3600 * 1000,
        };
        struct run r;
        run_pair(&sc, &r);
        check_success(&r, cases[i].pages, cases[i].ecm, normal ? 3850 : 7700);
        int hdr = cases[i].header ? (normal ? HDR_NORMAL : HDR_FINE) : 0;
        CHECK(compare_doc(sc.tx_path, 0, r.rx_path, cases[i].pages, hdr) == cases[i].pages);
        unlink(r.rx_path);
    }
}

/* Page header: black pixels in the band, "Page n of M" and "p.N" change between pages, and
 * a resumed send (pages 4..10) draws the full send's page-4 header on its first page. */
static void test_header(void)
{
    printf("page header:\n");
    struct scenario full = {
        .name = "t38-hdr-full",
        .mode = FX_FAX_T38,
        .ecm = true,
        .tx_path = g_ten,
        .start_page = 0,
        .stop_page = 4,
        .header = "ACME Corp fax",
        .header_total = 10,
        .no_media_ms = 5000,
    };
    struct run rf;
    run_pair(&full, &rf);
    CHECK(rf.tx.t30_code == 0 && rf.tx.pages_confirmed == 5 && rf.rx.pages_confirmed == 5);
    CHECK(rf.tx.pages_in_file == 10); /* the whole file, even when sending a range */
    CHECK(compare_doc(g_ten, 0, rf.rx_path, 5, HDR_FINE) == 5);

    struct scenario resumed = full;
    resumed.name = "t38-hdr-resumed";
    resumed.start_page = 3;
    resumed.stop_page = -1;
    struct run rr;
    run_pair(&resumed, &rr);
    CHECK(rr.tx.t30_code == 0 && rr.tx.pages_confirmed == 7 && rr.rx.pages_confirmed == 7);
    CHECK(count_dirs(rr.rx_path) == 7);
    CHECK(compare_doc(g_ten, 3, rr.rx_path, 7, HDR_FINE) == 7);

    struct page p1 = {0}, p2 = {0}, p4 = {0}, q4 = {0};
    bool ok = read_page(rf.rx_path, 0, &p1) && read_page(rf.rx_path, 1, &p2) &&
              read_page(rf.rx_path, 3, &p4) && read_page(rr.rx_path, 0, &q4);
    CHECK(ok);
    if (ok) {
        const int info0 = 24 * FONT_W, info1 = 74 * FONT_W; /* our 50 columns of info */
        const int pn0 = 96 * FONT_W;                        /* spandsp's "p.N" */
        long black = black_in(&p1, 0, HDR_FINE, 0, W);
        printf("  header band: %ld black pixels on page 1\n", black);
        CHECK(black > 1000);
        CHECK(black_in(&p1, 0, HDR_FINE, info0, info1) > 0);
        CHECK(!band_equal(&p1, &p2, HDR_FINE, info0, info1)); /* "Page 1 of 10" -> "Page 2 of 10" */
        CHECK(!band_equal(&p1, &p2, HDR_FINE, pn0, W));       /* "p.1" → "p.2" */
        CHECK(band_equal(&p1, &p2, HDR_FINE, 74 * FONT_W, 96 * FONT_W)); /* same ident */
        /* Resumed at page 4: same "Page 4 of 10" and "p.4" as the full send's page 4. */
        CHECK(band_equal(&p4, &q4, HDR_FINE, info0, W));
        CHECK(!band_equal(&p1, &q4, HDR_FINE, info0, W));
    }
    free(p1.bits);
    free(p2.bits);
    free(p4.bits);
    free(q4.bits);
    unlink(rf.rx_path);
    unlink(rr.rx_path);
}

/* Hang-up during page 2 (250 ticks = 5 s after page 1's MCF): 49 on both sides, page 1 kept. */
static void test_hangup(void)
{
    printf("hang-up during page 2:\n");
    static const struct {
        const char *name;
        enum fx_fax_mode mode;
        bool ecm;
    } cases[] = {
        {"hangup-alaw-ecm", FX_FAX_ALAW, true},
        {"hangup-ulaw-noecm", FX_FAX_ULAW, false},
        {"hangup-t38-ecm", FX_FAX_T38, true},
        {"hangup-t38-noecm", FX_FAX_T38, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct scenario sc = {
            .name = cases[i].name,
            .mode = cases[i].mode,
            .ecm = cases[i].ecm,
            .tx_path = g_ten,
            .start_page = -1,
            .stop_page = -1,
            .no_media_ms = 5000,
            .hangup_after_ticks = 250,
        };
        struct run r;
        run_pair(&sc, &r);
        CHECK(r.tx_done && r.rx_done);
        CHECK(r.tx.t30_code == 49 && r.rx.t30_code == 49);
        CHECK_STR(r.tx.t30_text, "The call dropped prematurely");
        CHECK(r.tx.pages_confirmed == 1);
        CHECK(r.rx.pages_confirmed == 1);
        CHECK(!r.tx.watchdog && !r.rx.watchdog);
        CHECK(count_dirs(r.rx_path) == 1);
        CHECK(compare_doc(g_ten, 0, r.rx_path, 1, 0) == 1);
        unlink(r.rx_path);
    }
}

/* Hang-up in the tick the sender gets the final MCF: the document is delivered. */
static void test_hangup_after_mcf(void)
{
    printf("hang-up right after the final MCF:\n");
    const enum fx_fax_mode modes[] = {FX_FAX_ALAW, FX_FAX_T38};
    for (size_t i = 0; i < 2; i++) {
        struct scenario sc = {
            .name = i ? "hangup-mcf-t38" : "hangup-mcf-alaw",
            .mode = modes[i],
            .ecm = true,
            .tx_path = g_one,
            .start_page = -1,
            .stop_page = -1,
            .no_media_ms = 5000,
            .hangup_at_pages = 1,
        };
        struct run r;
        run_pair(&sc, &r);
        CHECK(r.tx_done && r.rx_done);
        CHECK(r.tx.t30_code == 0 && r.tx.pages_confirmed == 1);
        CHECK(r.rx.t30_code == 0 && r.rx.pages_confirmed == 1);
        CHECK(count_dirs(r.rx_path) == 1);
        CHECK(compare_doc(g_one, 0, r.rx_path, 1, 0) == 1);
        unlink(r.rx_path);
    }
}

/* Watchdogs: media stops 5 s into page 2 (nothing more arrives), and a call longer than
 * allowed. Over audio both ends see RTP stop: both watchdogs fire 5 s later with 49. Over T.38
 * the receiver's watchdog fires the same way, but the sender is still sending page 2 (its own
 * packets count as activity: a T.38 receiver is silent for a whole page by design), then gets
 * no answer to its post-page command and ends on spandsp's own timers with 21. */
static void test_watchdogs(void)
{
    printf("watchdogs:\n");
    static const struct {
        const char *name;
        enum fx_fax_mode mode;
        bool ecm;
    } cases[] = {
        {"media-stop-alaw-ecm", FX_FAX_ALAW, true},
        {"media-stop-ulaw-noecm", FX_FAX_ULAW, false},
        {"media-stop-t38-ecm", FX_FAX_T38, true}, /* spandsp alone: the receiver never ends */
        {"media-stop-t38-noecm", FX_FAX_T38, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct scenario sc = {
            .name = cases[i].name,
            .mode = cases[i].mode,
            .ecm = cases[i].ecm,
            .tx_path = g_ten,
            .start_page = -1,
            .stop_page = -1,
            .no_media_ms = 5000,
            .stop_media_after_ticks = 250,
        };
        struct run r;
        run_pair(&sc, &r);
        CHECK(r.tx_done && r.rx_done);
        CHECK(r.rx.watchdog && r.rx.t30_code == 49);
        if (sc.mode == FX_FAX_T38) {
            CHECK(!r.tx.watchdog && r.tx.t30_code == 21);
        } else {
            CHECK(r.tx.watchdog && r.tx.t30_code == 49);
            CHECK(r.tx.duration_ms == r.rx.duration_ms);
        }
        CHECK(r.tx.pages_confirmed == 1 && r.rx.pages_confirmed == 1);
        CHECK(count_dirs(r.rx_path) == 1);
        unlink(r.rx_path);
    }
    struct scenario sc = {
        .name = "max-duration-t38",
        .mode = FX_FAX_T38,
        .ecm = true,
        .tx_path = g_ten,
        .start_page = -1,
        .stop_page = -1,
        .no_media_ms = 5000,
        .max_ms = 60000,
    };
    struct run r;
    run_pair(&sc, &r);
    CHECK(r.tx.watchdog && r.rx.watchdog);
    CHECK(r.tx.t30_code == 49 && r.rx.t30_code == 49);
    CHECK(r.tx.duration_ms == 60000 && r.rx.duration_ms == 60000);
    CHECK(r.tx.pages_confirmed >= 1 && r.tx.pages_confirmed < 10);
    CHECK(r.rx.pages_confirmed == r.tx.pages_confirmed);
    CHECK(count_dirs(r.rx_path) == r.rx.pages_confirmed);
    unlink(r.rx_path);
    /* Ended during page 1: nothing complete, and spandsp removes the empty receive file. */
    sc.name = "max-duration-page1";
    sc.tx_path = g_one;
    sc.max_ms = 20000;
    run_pair(&sc, &r);
    CHECK(r.tx.watchdog && r.tx.t30_code == 49 && r.tx.pages_confirmed == 0);
    CHECK(r.rx.watchdog && r.rx.t30_code == 49 && r.rx.pages_confirmed == 0);
    CHECK(r.tx.bit_rate == 14400 && r.tx.ecm); /* negotiated before the page */
    CHECK(access(r.rx_path, F_OK) != 0);
    unlink(r.rx_path);
    sc.tx_path = g_ten;
    sc.name = "max-duration-alaw";
    sc.mode = FX_FAX_ALAW;
    sc.max_ms = 30000;
    run_pair(&sc, &r);
    CHECK(r.tx.watchdog && r.rx.watchdog);
    CHECK(r.tx.t30_code == 49 && r.rx.t30_code == 49);
    CHECK(r.tx.duration_ms == 30000);
    CHECK(r.rx.pages_confirmed == r.tx.pages_confirmed);
    CHECK(count_dirs(r.rx_path) == r.rx.pages_confirmed);
    unlink(r.rx_path);
}

/* A sender alone. Audio fed silence (media present): T0, code 2 at 60 s. Fed nothing with the
 * no-media watchdog off: the same. Fed nothing with the watchdog on: 49 after 5 s. T.38 with
 * no far end: the watchdog 5 s after its last own packet, or T0 without the watchdog. */
static void run_alone(const char *name, enum fx_fax_mode mode, bool feed_silence, int no_media_ms,
                      int *code, int64_t *ms, bool *wd)
{
    struct fx_fax_config c;
    struct pktq q = {0};
    struct scenario sc = {
        .mode = mode, .ecm = true, .start_page = -1, .stop_page = -1, .no_media_ms = no_media_ms};
    cfg_base(&c, &sc, true, &q);
    c.tiff_path = g_one;
    struct fx_fax_session *s = NULL;
    *code = -1;
    if (fx_fax_new(&c, &s) != FX_OK) return;
    uint8_t in[FX_FAX_FRAME], out[FX_FAX_FRAME];
    memset(in, mode == FX_FAX_ULAW ? 0xFF : 0xD5, sizeof in);
    double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    int ticks = 0;
    for (; ticks < 5000 && !fx_fax_done(s); ticks++) {
        if (mode != FX_FAX_T38) {
            fx_fax_audio_rx(s, feed_silence ? in : NULL, sizeof in);
            fx_fax_audio_tx(s, out, sizeof out);
        }
        fx_fax_tick(s, FX_FAX_FRAME);
    }
    *code = fx_fax_done(s) ? fx_fax_result(s)->t30_code : -1;
    *ms = fx_fax_result(s)->duration_ms;
    *wd = fx_fax_result(s)->watchdog;
    printf("  %-22s code=%d after %lld ms (%d ticks) watchdog=%d packets=%zu cpu=%.3fs\n", name,
           *code, (long long)*ms, ticks, (int)*wd, q.n, now_s(CLOCK_PROCESS_CPUTIME_ID) - c0);
    fx_fax_free(s);
    q_free(&q);
}

static void test_alone(void)
{
    printf("sender alone:\n");
    int code;
    int64_t ms;
    bool wd;
    run_alone("silence", FX_FAX_ALAW, true, 5000, &code, &ms, &wd);
    CHECK(code == 2 && !wd);
    CHECK(ms >= 59000 && ms <= 62000);
    run_alone("nothing-no-watchdog", FX_FAX_ULAW, false, 0, &code, &ms, &wd);
    CHECK(code == 2 && !wd);
    CHECK(ms >= 59000 && ms <= 62000);
    run_alone("nothing-watchdog", FX_FAX_ALAW, false, 5000, &code, &ms, &wd);
    CHECK(code == 49 && wd);
    CHECK(ms == 5000);
    run_alone("t38-nothing-no-watchdog", FX_FAX_T38, false, 0, &code, &ms, &wd);
    CHECK(code == 2 && !wd);
    CHECK(ms >= 59000 && ms <= 62000);
    run_alone("t38-nothing-watchdog", FX_FAX_T38, false, 5000, &code, &ms, &wd);
    CHECK(code == 49 && wd);
    CHECK(ms >= 5000 && ms <= 10000);
}

/* A receiver without a file (tiff_path NULL) answers with a DIS saying it cannot receive:
 * the sender ends with 9, audio and T.38. */
static void test_not_ready(void)
{
    printf("far end not ready:\n");
    const enum fx_fax_mode modes[] = {FX_FAX_ALAW, FX_FAX_T38};
    for (size_t i = 0; i < 2; i++) {
        struct scenario sc = {
            .name = i ? "not-ready-t38" : "not-ready-alaw",
            .mode = modes[i],
            .ecm = true,
            .tx_path = g_one,
            .start_page = -1,
            .stop_page = -1,
            .no_media_ms = 5000,
            .rx_no_file = true,
        };
        struct run r;
        run_pair(&sc, &r);
        printf("  %s: sender %d \"%s\", receiver %d \"%s\"\n", sc.name, r.tx.t30_code,
               r.tx.t30_text, r.rx.t30_code, r.rx.t30_text);
        CHECK(r.err == FX_OK && r.tx_done && r.rx_done);
        CHECK(r.tx.t30_code == 9);
        CHECK_STR(r.tx.t30_text, "Far end is not able to receive");
        CHECK(r.tx.pages_confirmed == 0 && r.rx.pages_confirmed == 0);
        CHECK(r.tx.bit_rate == 0 && !r.tx.ecm); /* no DCS: nothing was negotiated */
        CHECK(!r.tx.watchdog);
        CHECK_STR(r.tx.remote_ident, "+44 20 7946 0999");
    }
}

/* Refusals before any call: TIFFs spandsp cannot send, and bad configurations. */
static void test_refusals(void)
{
    char path[300], why[160];
    int pages = -1;
    CHECK(fx_fax_tiff_check(g_ten, &pages, why, sizeof why) == FX_OK && pages == 10);
    CHECK(fx_fax_tiff_check(g_normal, &pages, why, sizeof why) == FX_OK && pages == 1);

    snprintf(path, sizeof path, "%s/missing.tif", g_dir);
    pages = -1;
    CHECK(fx_fax_tiff_check(path, &pages, why, sizeof why) == FX_ERR_IO && pages == -1);
    snprintf(path, sizeof path, "%s/grey.tif", g_dir);
    CHECK(write_odd(path, W, 8, 204, 196));
    CHECK(fx_fax_tiff_check(path, &pages, why, sizeof why) == FX_ERR_INVALID);
    CHECK(strstr(why, "bilevel") != NULL);
    snprintf(path, sizeof path, "%s/narrow.tif", g_dir);
    CHECK(write_odd(path, 1700, 1, 204, 196));
    CHECK(fx_fax_tiff_check(path, &pages, why, sizeof why) == FX_ERR_INVALID);
    CHECK(strstr(why, "1728") != NULL);
    snprintf(path, sizeof path, "%s/square.tif", g_dir);
    CHECK(write_odd(path, W, 1, 300, 300));
    CHECK(fx_fax_tiff_check(path, &pages, why, sizeof why) == FX_ERR_INVALID);
    CHECK(strstr(why, "dpi") != NULL);
    snprintf(path, sizeof path, "%s/superfine.tif", g_dir);
    CHECK(write_odd(path, W, 1, 204, 391));
    CHECK(fx_fax_tiff_check(path, &pages, why, sizeof why) == FX_ERR_INVALID);

    struct pktq q = {0};
    struct scenario sc = {.mode = FX_FAX_ALAW, .ecm = true, .start_page = -1, .stop_page = -1};
    struct fx_fax_config c;
    struct fx_fax_session *s = NULL;
    cfg_base(&c, &sc, true, &q);
    snprintf(path, sizeof path, "%s/grey.tif", g_dir);
    c.tiff_path = path;
    CHECK(fx_fax_new(&c, &s) == FX_ERR_INVALID && s == NULL);
    snprintf(path, sizeof path, "%s/missing.tif", g_dir);
    CHECK(fx_fax_new(&c, &s) == FX_ERR_IO && s == NULL);
    c.tiff_path = g_one;
    c.ident = "123456789012345678901"; /* 21 characters */
    CHECK(fx_fax_new(&c, &s) == FX_ERR_INVALID);
    c.ident = "+1 555 0100";
    c.header_info = "Ünïcode header";
    CHECK(fx_fax_new(&c, &s) == FX_ERR_INVALID);
    c.header_info = "123456789012345678901234567890123456789012345678901"; /* 51 */
    CHECK(fx_fax_new(&c, &s) == FX_ERR_INVALID);
    c.header_info = NULL;
    c.start_page = 1; /* g_one has one page */
    CHECK(fx_fax_new(&c, &s) == FX_ERR_INVALID);
    c.start_page = -1;
    c.mode = FX_FAX_T38;
    c.t38_tx = NULL;
    CHECK(fx_fax_new(&c, &s) == FX_ERR_INVALID);
    c.mode = FX_FAX_ALAW;
    c.sending = false;
    c.tiff_path = "/nonexistent-dir/rx.tif";
    CHECK(fx_fax_new(&c, &s) == FX_ERR_IO);
    CHECK(s == NULL);
    /* NULL-safe calls. */
    fx_fax_free(NULL);
    fx_fax_tick(NULL, 160);
    fx_fax_hangup(NULL);
    CHECK(!fx_fax_done(NULL));
    CHECK(fx_fax_result(NULL) == NULL);
    /* A receiver freed before any page leaves no file behind, and reports 49 on free. */
    c.tiff_path = g_dir;
    char rx[300];
    snprintf(rx, sizeof rx, "%s/never.tif", g_dir);
    c.tiff_path = rx;
    CHECK(fx_fax_new(&c, &s) == FX_OK);
    fx_fax_free(s);
    CHECK(access(rx, F_OK) != 0);
}

static void rm_dir(const char *dir)
{
    static const char *const names[] = {"one.tif",    "ten.tif",    "normal.tif",   "grey.tif",
                                        "narrow.tif", "square.tif", "superfine.tif"};
    char p[400];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/faxd-test-fax-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    TIFFSetWarningHandler(NULL);
    if (getenv("FAXD_TEST_FAX_DEBUG")) fx_log_set_level(FX_LOG_DEBUG);
    snprintf(g_one, sizeof g_one, "%s/one.tif", g_dir);
    snprintf(g_ten, sizeof g_ten, "%s/ten.tif", g_dir);
    snprintf(g_normal, sizeof g_normal, "%s/normal.tif", g_dir);
    CHECK(write_doc(g_one, 1, true, 7, 60));
    CHECK(write_doc(g_ten, 10, true, 100, 12));
    CHECK(write_doc(g_normal, 1, false, 55, 30));

    double w0 = now_s(CLOCK_MONOTONIC);
    test_refusals();
    test_transfers();
    test_header();
    test_hangup();
    test_hangup_after_mcf();
    test_watchdogs();
    test_alone();
    test_not_ready();
    printf("total wall %.2fs\n", now_s(CLOCK_MONOTONIC) - w0);

    rm_dir(g_dir);
    return fx_check_result("test_fax");
}
