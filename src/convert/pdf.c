/* convert: PDF output — fax TIFFs as PDF (G4 pages embedded as they are, so the PDF
 * is small and pixel-exact) and the one-page confirmation report.
 *
 * The writer records each object's byte offset for the xref table; pages are written
 * as they are read, so memory holds one page's compressed data at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h>

#include "convert/convert_priv.h"

struct pdfw {
    FILE *f;
    long *off; /* off[n] = byte offset of object n */
    int cap;
    int next; /* next free object number */
};

static int pdf_reserve(struct pdfw *w)
{
    if (w->next >= w->cap) {
        int cap = w->cap ? w->cap * 2 : 64;
        long *p = realloc(w->off, (size_t)cap * sizeof *p);
        if (!p) return -1;
        memset(p + w->cap, 0, (size_t)(cap - w->cap) * sizeof *p);
        w->off = p;
        w->cap = cap;
    }
    return w->next++;
}

static void pdf_obj(struct pdfw *w, int n)
{
    w->off[n] = ftell(w->f);
    fprintf(w->f, "%d 0 obj\n", n);
}

static enum fx_err pdf_open(struct pdfw *w, const char *path)
{
    memset(w, 0, sizeof *w);
    w->f = fopen(path, "wb");
    if (!w->f) return FX_ERR_IO;
    w->next = 1;
    /* 1 = catalog, 2 = page tree; the binary comment marks the file as binary. */
    pdf_reserve(w);
    pdf_reserve(w);
    fputs("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", w->f);
    pdf_obj(w, 1);
    fputs("<< /Type /Catalog /Pages 2 0 R >>\nendobj\n", w->f);
    return FX_OK;
}

/* Writes the page tree (kids are page objects), the xref and the trailer. */
static enum fx_err pdf_close(struct pdfw *w, const int *kids, int n_kids)
{
    pdf_obj(w, 2);
    fprintf(w->f, "<< /Type /Pages /Count %d /Kids [", n_kids);
    for (int i = 0; i < n_kids; i++) fprintf(w->f, " %d 0 R", kids[i]);
    fputs(" ] >>\nendobj\n", w->f);
    long xref = ftell(w->f);
    fprintf(w->f, "xref\n0 %d\n0000000000 65535 f \n", w->next);
    for (int i = 1; i < w->next; i++) fprintf(w->f, "%010ld 00000 n \n", w->off[i]);
    fprintf(w->f, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%ld\n%%%%EOF\n", w->next,
            xref);
    int bad = ferror(w->f);
    bad |= fflush(w->f) != 0;
    bad |= fclose(w->f) != 0;
    free(w->off);
    return bad ? FX_ERR_IO : FX_OK;
}

static void pdf_abort(struct pdfw *w, const char *path)
{
    if (w->f) fclose(w->f);
    free(w->off);
    unlink(path);
}

/* ---- TIFF pages ---- */

static void quiet_tiff(void)
{
    /* libtiff prints to stderr by default; faxd reports failures itself. */
    TIFFSetWarningHandler(NULL);
    TIFFSetErrorHandler(NULL);
}

enum fx_err fx_convert_tiff_pages(const char *path, int *pages)
{
    quiet_tiff();
    TIFF *t = TIFFOpen(path, "r");
    if (!t) return FX_ERR_INVALID;
    int n = 0;
    do n++;
    while (TIFFReadDirectory(t));
    TIFFClose(t);
    *pages = n;
    return FX_OK;
}

struct page {
    uint32_t w, h;
    double xres, yres; /* dots per inch */
    unsigned char *data; /* G4 bytes */
    tmsize_t len;
};

static void page_geometry(TIFF *t, struct page *p)
{
    float xr = 0, yr = 0;
    uint16_t unit = RESUNIT_INCH;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &p->w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &p->h);
    TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr);
    TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr);
    TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &unit);
    double k = unit == RESUNIT_CENTIMETER ? 2.54 : 1;
    p->xres = xr > 0 ? xr * k : 204;
    p->yres = yr > 0 ? yr * k : 196;
}

/* Reads the page's single G4 strip as it is stored (bit order normalised). */
static enum fx_err page_raw_g4(TIFF *t, struct page *p)
{
    uint64_t *counts = NULL;
    uint16_t fill = FILLORDER_MSB2LSB;
    TIFFGetFieldDefaulted(t, TIFFTAG_FILLORDER, &fill);
    if (!TIFFGetField(t, TIFFTAG_STRIPBYTECOUNTS, &counts) || !counts) return FX_ERR_INVALID;
    p->len = (tmsize_t)counts[0];
    p->data = malloc((size_t)p->len + 1);
    if (!p->data) return FX_ERR_NOMEM;
    if (TIFFReadRawStrip(t, 0, p->data, p->len) != p->len) return FX_ERR_INVALID;
    if (fill == FILLORDER_LSB2MSB) TIFFReverseBits(p->data, p->len);
    return FX_OK;
}

/* Decodes any bilevel page and re-encodes it as one G4 strip through a scratch TIFF
 * (libtiff's own CCITT coder), so every PDF page carries G4 data. */
static enum fx_err page_reencode(TIFF *t, struct page *p, const char *scratch)
{
    uint16_t photometric = PHOTOMETRIC_MINISWHITE;
    TIFFGetFieldDefaulted(t, TIFFTAG_PHOTOMETRIC, &photometric);
    tmsize_t line = TIFFScanlineSize(t);
    unsigned char *row = malloc((size_t)line);
    TIFF *o = TIFFOpen(scratch, "w");
    enum fx_err e = row && o ? FX_OK : FX_ERR_IO;
    if (!e) {
        TIFFSetField(o, TIFFTAG_IMAGEWIDTH, p->w);
        TIFFSetField(o, TIFFTAG_IMAGELENGTH, p->h);
        TIFFSetField(o, TIFFTAG_BITSPERSAMPLE, 1);
        TIFFSetField(o, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(o, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
        TIFFSetField(o, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
        TIFFSetField(o, TIFFTAG_FILLORDER, FILLORDER_MSB2LSB);
        TIFFSetField(o, TIFFTAG_ROWSPERSTRIP, p->h);
    }
    for (uint32_t y = 0; !e && y < p->h; y++) {
        if (TIFFReadScanline(t, row, y, 0) < 0) e = FX_ERR_INVALID;
        if (!e && photometric == PHOTOMETRIC_MINISBLACK)
            for (tmsize_t i = 0; i < line; i++) row[i] = (unsigned char)~row[i];
        if (!e && TIFFWriteScanline(o, row, y, 0) < 0) e = FX_ERR_IO;
    }
    free(row);
    if (o) TIFFClose(o);
    if (!e) {
        TIFF *back = TIFFOpen(scratch, "r");
        e = back ? page_raw_g4(back, p) : FX_ERR_IO;
        if (back) TIFFClose(back);
    }
    unlink(scratch);
    return e;
}

static enum fx_err page_read(TIFF *t, struct page *p, const char *scratch)
{
    uint16_t bps = 1, spp = 1, comp = COMPRESSION_NONE, photometric = PHOTOMETRIC_MINISWHITE;
    memset(p, 0, sizeof *p);
    page_geometry(t, p);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &comp);
    TIFFGetFieldDefaulted(t, TIFFTAG_PHOTOMETRIC, &photometric);
    if (bps != 1 || spp != 1 || p->w == 0 || p->h == 0 || p->w > 20000 || p->h > 40000)
        return FX_ERR_INVALID;
    if (comp == COMPRESSION_CCITTFAX4 && TIFFNumberOfStrips(t) == 1 &&
        photometric == PHOTOMETRIC_MINISWHITE)
        return page_raw_g4(t, p);
    return page_reencode(t, p, scratch);
}

static enum fx_err write_page(struct pdfw *w, const struct page *p, int *page_obj)
{
    int img = pdf_reserve(w), content = pdf_reserve(w), page = pdf_reserve(w);
    if (img < 0 || content < 0 || page < 0) return FX_ERR_NOMEM;
    double pw = p->w * 72.0 / p->xres, ph = p->h * 72.0 / p->yres;
    pdf_obj(w, img);
    fprintf(w->f,
            "<< /Type /XObject /Subtype /Image /Width %u /Height %u /ColorSpace /DeviceGray "
            "/BitsPerComponent 1 /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns %u "
            "/Rows %u /BlackIs1 false >> /Length %ld >>\nstream\n",
            p->w, p->h, p->w, p->h, (long)p->len);
    fwrite(p->data, 1, (size_t)p->len, w->f);
    fputs("\nendstream\nendobj\n", w->f);
    char ops[128];
    int n = snprintf(ops, sizeof ops, "q %.3f 0 0 %.3f 0 0 cm /Im0 Do Q\n", pw, ph);
    pdf_obj(w, content);
    fprintf(w->f, "<< /Length %d >>\nstream\n%sendstream\nendobj\n", n, ops);
    pdf_obj(w, page);
    fprintf(w->f,
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.3f %.3f] /Contents %d 0 R "
            "/Resources << /XObject << /Im0 %d 0 R >> >> >>\nendobj\n",
            pw, ph, content, img);
    *page_obj = page;
    return FX_OK;
}

enum fx_err fx_convert_tiff_to_pdf(const char *tiff_path, const char *pdf_path)
{
    quiet_tiff();
    TIFF *t = TIFFOpen(tiff_path, "r");
    if (!t) return FX_ERR_INVALID;
    struct pdfw w;
    enum fx_err e = pdf_open(&w, pdf_path);
    int *kids = NULL, n = 0, cap = 0;
    char scratch[4200];
    snprintf(scratch, sizeof scratch, "%s.page.tif", pdf_path);
    do {
        struct page p;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            int *k = realloc(kids, (size_t)cap * sizeof *k);
            if (!k) e = FX_ERR_NOMEM;
            else kids = k;
        }
        if (!e) e = page_read(t, &p, scratch);
        if (!e) e = write_page(&w, &p, &kids[n++]);
        free(p.data);
    } while (!e && TIFFReadDirectory(t));
    TIFFClose(t);
    if (!e) e = pdf_close(&w, kids, n);
    else pdf_abort(&w, pdf_path);
    free(kids);
    return e;
}

/* ---- the confirmation report ---- */

/* PDF string literal in WinAnsi (Latin-1 subset): escapes, non-Latin-1 as '?'. */
static void pdf_text(FILE *f, const char *s)
{
    fputc('(', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        unsigned cp = *p;
        if (cp >= 0xC0 && cp < 0xE0 && (p[1] & 0xC0) == 0x80) {
            cp = ((cp & 0x1F) << 6) | (p[1] & 0x3F);
            p++;
        } else if (cp >= 0x80) {
            while ((p[1] & 0xC0) == 0x80) p++;
            cp = '?';
        }
        if (cp > 0xFF || cp < 0x20) cp = '?';
        if (cp == '(' || cp == ')' || cp == '\\') fputc('\\', f);
        if (cp >= 0x80) fprintf(f, "\\%03o", cp);
        else fputc((int)cp, f);
    }
    fputc(')', f);
}

static void report_row(FILE *f, double y, const char *key, const char *value)
{
    fprintf(f, "BT /F2 11 Tf 56 %.1f Td ", y);
    pdf_text(f, key);
    fprintf(f, " Tj ET\nBT /F1 11 Tf 200 %.1f Td ", y);
    pdf_text(f, value);
    fputs(" Tj ET\n", f);
}

static void fmt_time(int64_t t, char *out)
{
    if (t) fx_time_format(t, out);
    else strcpy(out, "-");
}

/* Writes the report's page content into a memory stream; new text in *out. */
static enum fx_err report_content(const struct fx_report *r, char **out, size_t *len)
{
    FILE *f = open_memstream(out, len);
    if (!f) return FX_ERR_NOMEM;
    char status[256], pages[32], dur[32], tries[64], sub[FX_TIME_LEN], start[FX_TIME_LEN];
    char speed[32] = "-", line[64] = "-";
    snprintf(status, sizeof status, "%s (%s)", fx_status_text(r->status), r->status);
    snprintf(pages, sizeof pages, "%d", r->pages);
    snprintf(dur, sizeof dur, "%d s", r->duration);
    snprintf(tries, sizeof tries, "%d (retries allowed: %d)", r->attempts, r->max_retry);
    if (r->bit_rate) snprintf(speed, sizeof speed, "%d bit/s", r->bit_rate);
    if (r->transport && r->transport[0])
        snprintf(line, sizeof line, "%s, ECM %s",
                 strcmp(r->transport, "t38") == 0 ? "T.38" : "audio (G.711)",
                 r->ecm ? "on" : "off");
    fmt_time(r->submit_time, sub);
    fmt_time(r->start_time, start);
    fputs("BT /F2 18 Tf 56 770 Td (Fax confirmation report) Tj ET\n", f);
    const char *rows[][2] = {
        {"Fax id", r->id},           {"Direction", r->direction}, {"From", r->from},
        {"To", r->to},               {"Status", status},          {"Details", r->description},
        {"Pages", pages},            {"Submitted (UTC)", sub},    {"Started (UTC)", start},
        {"Duration", dur},           {"Attempts", tries},         {"Remote fax", r->remote_ident},
        {"Speed", speed},            {"Line", line},              {"Comment", r->comment},
    };
    double y = 730;
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++, y -= 20)
        report_row(f, y, rows[i][0], rows[i][1]);
    fputs("BT /F1 8 Tf 56 40 Td (Generated by faxd) Tj ET\n", f);
    return fclose(f) == 0 ? FX_OK : FX_ERR_NOMEM;
}

/* The thumbnail of the fax's first page, as an 8-bit grey image object; 0 = none. */
static int report_thumb(struct pdfw *w, const char *tiff_path, int *tw, int *th)
{
    uint8_t *grey = NULL;
    if (!tiff_path || fx_convert_page_thumb(tiff_path, 0, 170, &grey, th)) return 0;
    *tw = 170;
    int obj = pdf_reserve(w);
    pdf_obj(w, obj);
    fprintf(w->f,
            "<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
            "/BitsPerComponent 8 /Length %d >>\nstream\n",
            *tw, *th, *tw * *th);
    fwrite(grey, 1, (size_t)*tw * (size_t)*th, w->f);
    fputs("\nendstream\nendobj\n", w->f);
    free(grey);
    return obj;
}

enum fx_err fx_convert_report_pdf(const struct fx_report *rep, const char *pdf_path)
{
    char *content = NULL;
    size_t len = 0;
    enum fx_err e = report_content(rep, &content, &len);
    if (e) return e;
    struct pdfw w;
    if ((e = pdf_open(&w, pdf_path))) {
        free(content);
        return e;
    }
    int tw = 0, th = 0, thumb = report_thumb(&w, rep->tiff_path, &tw, &th);
    char thumb_ops[160] = "", thumb_res[48] = "";
    if (thumb) {
        /* Bottom-right, framed: a glance at what was sent or received. */
        snprintf(thumb_ops, sizeof thumb_ops,
                 "q 0.5 w 369 79 %d %d re S %d 0 0 %d 370 80 cm /Th Do Q\n", tw + 2, th + 2, tw,
                 th);
        snprintf(thumb_res, sizeof thumb_res, " /XObject << /Th %d 0 R >>", thumb);
    }
    size_t extra = strlen(thumb_ops);
    int f1 = pdf_reserve(&w), f2 = pdf_reserve(&w), c = pdf_reserve(&w), page = pdf_reserve(&w);
    pdf_obj(&w, f1);
    fputs("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>\n"
          "endobj\n",
          w.f);
    pdf_obj(&w, f2);
    fputs("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
          "/Encoding /WinAnsiEncoding >>\nendobj\n",
          w.f);
    pdf_obj(&w, c);
    fprintf(w.f, "<< /Length %zu >>\nstream\n", len + extra);
    fwrite(content, 1, len, w.f);
    fputs(thumb_ops, w.f);
    fputs("endstream\nendobj\n", w.f);
    pdf_obj(&w, page);
    fprintf(w.f,
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            "/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >>%s >> >>\nendobj\n",
            c, f1, f2, thumb_res);
    free(content);
    return pdf_close(&w, &page, 1);
}
