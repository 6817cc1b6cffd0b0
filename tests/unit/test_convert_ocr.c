/* Unit test for convert/: "the text survives". Real documents go through fx_convert_run
 * with the real engines (Ghostscript, qpdf, LibreOffice, MuPDF, faxd-cover); the fax
 * pages that come out are turned into full-width grey PNGs with fx_convert_thumbnails
 * (which corrects the 204×196 and 204×98 dpi aspect) and read back with Debian's
 * tesseract (eng). Each page must yield a minimum number of words (a blank, garbled or
 * truncated page fails) and most of a list of distinctive words taken from the
 * fixture's own text: names, amounts, totals, footers ("Page 4 of 4": order and count).
 *
 * OCR is noisy, so matching is tolerant: ASCII case is ignored, whitespace is dropped
 * (tesseract splits and joins words: "COBADEFFX XX", "Page 1of 4"), ',' and '.' count
 * as the same character (it confuses them in amounts), a word may list alternatives
 * ("märz|marz"), and a page passes when at least 80 % of its words are found. The lists
 * hold words tesseract reads back from today's correct output, chosen so that a real
 * fault (a blank page, a lost page, a cut-off page, text not re-coded) removes many.
 * Words printed on tinted table-header cells are left out: Ghostscript turns the tint
 * into a dot screen that a person reads but tesseract does not (see below).
 *
 * Controls show the checks can fail: a blank fax page, a page of another document, and
 * the Windows-1252 letter with its accents replaced by U+FFFD (what LibreOffice makes of
 * it when it is not re-coded) must all be rejected by the same matchers. A geometric
 * check (full-width thumbnail of a solid black area) names the thumbnail fault that
 * otherwise shows up only as bad OCR.
 *
 * FAXD_TEST_DATA points at tests/data; FAXD_LIBEXEC_DIR is where faxd-cover and
 * lo_helper.py are (derived from this program's path when unset). tesseract-ocr and
 * tesseract-ocr-eng must be installed. FAXD_TEST_OCR_VERBOSE=1 prints what tesseract
 * read and the time of each step. Runtime: ~15 pages OCR'd at 1–5 s each (tesseract
 * is run single-threaded: OpenMP on a busy 2-core machine is 2–4× slower). */
#include "convert/convert_priv.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h>

#include "check.h"
#include "convert_cfg.h"

#define MIN_SHARE 0.8 /* of a page's distinctive words that must be read back */
#define MAX_CHECKS 3  /* pages checked per document */
#define MAX_WORDS 24

static char fixtures[2048];
static char libexec[PATH_MAX];
static char tmp[256];
static bool verbose;

/* ---- helpers ---- */

static void base_cfg(struct fx_convert_cfg *cfg)
{
    fx_test_convert_cfg(cfg, tmp, libexec);
}

/* Reads a whole small file; caller frees. NULL when it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 18;
    char *buf = malloc(cap);
    size_t n = buf ? fread(buf, 1, cap - 1, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* The form both OCR text and expected words are compared in: ASCII lower-cased,
 * whitespace dropped, ',' read as '.'. UTF-8 bytes are kept. In place. */
static void normalise(char *s)
{
    char *o = s;
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (isspace(ch)) continue;
        *o++ = ch == ',' ? '.' : (char)(ch < 0x80 ? tolower(ch) : ch);
    }
    *o = 0;
}

/* Words of three or more ASCII letters: a page that really holds text yields dozens. */
static int count_words(const char *s)
{
    int words = 0, run = 0;
    for (const char *p = s;; p++) {
        if (*p && isalpha((unsigned char)*p)) {
            run++;
            continue;
        }
        if (run >= 3) words++;
        run = 0;
        if (!*p) break;
    }
    return words;
}

/* Whether one expected word — alternatives separated by '|' — is in the normalised
 * text. */
static bool has_word(const char *norm, const char *word)
{
    char alts[256];
    snprintf(alts, sizeof alts, "%s", word);
    char *save = NULL;
    for (char *a = strtok_r(alts, "|", &save); a; a = strtok_r(NULL, "|", &save)) {
        normalise(a);
        if (a[0] && strstr(norm, a)) return true;
    }
    return false;
}

/* How many of the NULL-terminated words the raw OCR text holds; *total gets how many
 * there are. Missing ones are listed when `what` is set. */
static int found_words(const char *raw, const char *const *words, int *total, const char *what)
{
    char *norm = strdup(raw);
    if (!norm) return 0;
    normalise(norm);
    int found = 0, n = 0;
    for (; words[n]; n++) {
        if (has_word(norm, words[n]))
            found++;
        else if (what)
            fprintf(stderr, "  %s: not read back: \"%s\"\n", what, words[n]);
    }
    free(norm);
    *total = n;
    return found;
}

/* True when the page text holds at least min_words words and MIN_SHARE of `words`.
 * With `what` set, the outcome and the missing words are printed. */
static bool page_text_ok(const char *raw, const char *const *words, int min_words,
                         const char *what)
{
    int total = 0;
    int found = found_words(raw, words, &total, what);
    int nw = count_words(raw);
    bool ok = nw >= min_words && total > 0 && found >= (int)(MIN_SHARE * total + 0.999);
    if (what)
        fprintf(stderr, "  %s: %d words read (min %d), %d/%d expected found%s\n", what, nw,
                min_words, found, total, ok ? "" : " -- FAIL");
    return ok;
}

/* OCRs one PNG with tesseract through the sandboxed runner (its stdout goes to a file
 * through stdout_path). The runner passes a fixed environment, so `env` sets
 * OMP_THREAD_LIMIT. Returns the raw text (caller frees), NULL on failure. */
static char *ocr_png(const char *png)
{
    char out[PATH_MAX + 32];
    snprintf(out, sizeof out, "%s.txt", png);
    /* 1728 px across the 8.47 in of a fax page: 204 dpi (the PNG says nothing). */
    const char *argv[] = {"env", "OMP_THREAD_LIMIT=1", "tesseract", png, "stdout",
                          "--dpi", "204", "-l", "eng", NULL};
    struct fx_proc_spec spec = {.argv = argv, .dir = tmp, .stdout_path = out, .timeout_s = 60};
    struct fx_proc_result pr;
    int64_t t0 = fx_clock_mono_ms();
    enum fx_err e = fx_proc_run(&spec, &pr);
    CHECK(e == FX_OK);
    CHECK(e || (!pr.timed_out && pr.exit_code == 0));
    if (e || pr.timed_out || pr.exit_code != 0) {
        fprintf(stderr, "  tesseract %s: err=%d rc=%d: %s\n", png, e, pr.exit_code, pr.err_tail);
        unlink(out);
        return NULL;
    }
    char *text = slurp(out, NULL);
    unlink(out);
    CHECK(text != NULL);
    if (text && verbose)
        fprintf(stderr, "----- %s (%lld ms) -----\n%s\n", png,
                (long long)(fx_clock_mono_ms() - t0), text);
    return text;
}

/* OCRs page `page` (1-based) of a fax TIFF: the full-width thumbnails of pages
 * 1..page are written (the API makes the first N) and removed again. */
static char *ocr_page(const char *tiff, int page)
{
    char prefix[PATH_MAX], png[PATH_MAX + 16];
    snprintf(prefix, sizeof prefix, "%s/page", tmp);
    int written = 0;
    enum fx_err e = fx_convert_thumbnails(tiff, prefix, page, FX_PAGE_WIDTH, &written);
    CHECK(e == FX_OK);
    CHECK(written == page);
    char *text = NULL;
    if (!e && written == page) {
        snprintf(png, sizeof png, "%s-%d.png", prefix, page);
        text = ocr_png(png);
    }
    for (int i = 1; i <= written; i++) {
        snprintf(png, sizeof png, "%s-%d.png", prefix, i);
        unlink(png);
    }
    return text;
}

/* Converts one fixture (or any file) alone into out; true when it made `pages` pages. */
static bool convert_file(struct fx_convert *c, const char *path, const char *name,
                         const struct fx_cover *cover, enum fx_paper paper, enum fx_res res,
                         bool enhance, int pages, const char *out)
{
    struct fx_convert_doc doc = {.path = path, .name = name};
    struct fx_convert_job job = {.docs = &doc, .n_docs = path ? 1 : 0, .cover = cover,
                                 .paper = paper, .res = res, .enhance = enhance, .out_path = out};
    struct fx_convert_result r;
    int64_t t0 = fx_clock_mono_ms();
    enum fx_err e = fx_convert_run(c, &job, &r);
    CHECK(e == FX_OK);
    CHECK(r.status == NULL);
    CHECK(r.pages == pages);
    if (e || r.status || r.pages != pages) {
        fprintf(stderr, "  %s: err=%d status=%s pages=%d (want %d): %s\n", name, e,
                r.status ? r.status : "-", r.pages, pages, r.detail);
        return false;
    }
    if (verbose)
        fprintf(stderr, "  %s: converted in %lld ms\n", name, (long long)(fx_clock_mono_ms() - t0));
    return true;
}

/* ---- the documents ---- */

struct page_check {
    int page;                     /* 1-based; 0 ends the list */
    int min_words;                /* words of 3+ letters tesseract must find */
    const char *words[MAX_WORDS]; /* distinctive text; NULL-terminated */
};

struct doc_case {
    const char *file;
    bool enhance;
    enum fx_paper paper;
    enum fx_res res;
    int pages; /* pages the fax must have */
    struct page_check checks[MAX_CHECKS + 1];
};

/* The business letter (letter_a4.pdf, letter.docx): names, the amounts of the text and
 * of the table (its last row, the total, included), the bank details, the signature.
 * ASCII only: eng OCR of accents is tested on its own below. */
#define LETTER_WORDS                                                                       \
    "Stuttgart", "Madrid", "Sonrisa", "Invoice no. 2025-0317", "outstanding balance",     \
        "1,284.50", "215.50", "breakdown", "Contract review", "Translation", "Postage",     \
        "franqueo", "750.00", "360.00", "375.00", "1,500.00", "IBAN DE89 3704",            \
        "COBADEFFXXX", "sincerely", "Partner", "Rechtsanw", NULL
#define LETTER_MIN_WORDS 70 /* ~100 are read */

static const char *const letter_words[] = {LETTER_WORDS};

/* The 20-country table of the report (page 2), with its first and last rows. */
#define REPORT_TABLE_WORDS                                                                 \
    "Delivery statistics", "Deutschland 3001", "France", "Schweiz", "Polska",              \
        "Nederland 4348", "United Kingdom", "United States", "Canada", "Brasil",           \
        "Suomi 7244", "(Greece)", "Page 2 of 4", NULL

static const struct doc_case cases[] = {
    {"letter_a4.pdf", false, FX_PAPER_A4, FX_RES_FINE, 1, {{1, LETTER_MIN_WORDS, {LETTER_WORDS}}}},
    {"letter.docx", false, FX_PAPER_A4, FX_RES_FINE, 1, {{1, LETTER_MIN_WORDS, {LETTER_WORDS}}}},
    /* Normal resolution on Letter paper: half the lines, still legible. */
    {"letter.docx", false, FX_PAPER_LETTER, FX_RES_NORMAL, 1,
     {{1, LETTER_MIN_WORDS, {LETTER_WORDS}}}},
    /* First and last page: the footers show that all four pages came, in order. */
    {"report.docx", false, FX_PAPER_A4, FX_RES_FINE, 4,
     {{1, 400,
       {"Fax Operations Review", "Service Desk", "Version 1.3", "Summary", "transmission log",
        "retry policy", "service window", "recipient", "1.1 Volumes", "black and white",
        "Page 1 of 4", NULL}},
      {4, 100,
       {"Appendix", "raw log excerpt", "job=4100", "result=BUSY", "dest=+34", "job=4141",
        "result=OK", "End of report", "Page 4 of 4", NULL}}}},
    {"report.pdf", false, FX_PAPER_A4, FX_RES_FINE, 4, {{2, 120, {REPORT_TABLE_WORDS}}}},
    {"invoice.xlsx", false, FX_PAPER_A4, FX_RES_FINE, 1,
     {{1, 12,
       {"Toner cartridge", "Paper A4", "Fax line rental", "Support hours", "Thermal printer",
        "A-100", "A-101", "S-200", "S-201", "H-300", "359.6", "227.5", "Total", "980.1",
        NULL}}}},
    /* Six pages: the first (the ledger's first 48 rows, the last one included, so the
     * page is not cut) and the last (the SUMIF summary sheet with its totals). */
    {"ledger.xlsx", false, FX_PAPER_A4, FX_RES_FINE, 6,
     {{1, 100,
       {"INV-25000", "INV-25013", "2025-01-01", "1029.23", "3182.82", "2611.61",
        "Nordea Bank Abp", "Raiffeisen", "Banco Sabadell", "Soci\xc3\xa9t\xc3\xa9|Societe",
        "PKO BP", "INV-25048", "2363.16", NULL}},
      {6, 10,
       {"Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale|Societe Generale", "Banco Sabadell",
        "Nordea Bank Abp", "Raiffeisen", "PKO BP", "23016.22", "39125.63", "63469.47",
        "50139.99", "56889.34", "33918.22", NULL}}}},
    /* A phone photo of the letter (tilted, vignetted, blurred, 110 dpi): only the
     * adaptive threshold of `enhance` keeps it readable. Its own list: the words the
     * photo's blur leaves readable. */
    {"scan_phone.jpg", true, FX_PAPER_A4, FX_RES_FINE, 1,
     {{1, 60,
       {"Madrid", "Clinica Dental", "Sonrisa", "Invoice no. 2025-0317", "outstanding balance",
        "1,284.50", "215.50", "breakdown", "750.00", "360.00", "1,500.00", "Total", "IBAN",
        "COBADEFFXXX", "sincerely", NULL}}}},
};

static void test_documents(struct fx_convert *c)
{
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/fax.tif", tmp);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct doc_case *dc = &cases[i];
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", fixtures, dc->file);
        if (!convert_file(c, path, dc->file, NULL, dc->paper, dc->res, dc->enhance, dc->pages,
                          out))
            continue;
        for (const struct page_check *pc = dc->checks; pc->page; pc++) {
            char what[128];
            snprintf(what, sizeof what, "%s%s page %d", dc->file,
                     dc->res == FX_RES_NORMAL ? " (normal, Letter)" : "", pc->page);
            char *text = ocr_page(out, pc->page);
            CHECK(text && page_text_ok(text, pc->words, pc->min_words, what));
            free(text);
        }
        unlink(out);
    }
}

/* ---- the Windows-1252 letter: re-coded, accents kept ---- */

static const char *const cp1252_ascii[] = {
    "Stuttgart", "Madrid", "Rechnung Nr. 2025-0317", "Factura", "Zahlung", "1.284,50",
    "215,50", "IBAN DE89", "COBADEFFXXX", "Summary / Resumen", "contract review",
    "translation", "franqueo", "Gesamt", "1.500,00", "Atentamente", NULL};

/* Words with accents. tesseract's eng model reads é reliably but usually drops the
 * marks of ü, ä, á (and reads ñ as "fi", ß as "B"), so a word counts when it is read
 * with its accents or as the same letters without them. Either way, the accented
 * letter was printed as a letter: had the file not been re-coded, LibreOffice would
 * have printed U+FFFD boxes there, which tesseract reads as "?", "@" or nothing, and
 * none of these words would match (checked by the control below). */
static const char *const cp1252_accented[] = {
    "M\xc3\xbcller|Muller",                    /* Müller */
    "M\xc3\xa4rz 2025|Marz 2025",              /* März */
    "In\xc3\xa9s",                             /* Inés: é is read as é */
    "Fern\xc3\xa1ndez|Fernandez",              /* Fernández */
    "Alcal\xc3\xa1|Alcala",                    /* Alcalá */
    "best\xc3\xa4tigen|bestatigen",            /* bestätigen */
    "Zahlung \xc3\xbc" "ber|Zahlung uber",     /* Zahlung über */
    "f\xc3\xbcr die Beratung|fur die Beratung", /* für */
    "J\xc3\xbcrgen|Jurgen",                    /* Jürgen */
    "Vertragspr\xc3\xbc" "fung|Vertragsprufung", /* Vertragsprüfung */
    "\xc3\x9c" "bersetzung|Ubersetzung",       /* Übersetzung */
    "Lef\xc3\xa8vre|Lef\xc3\xa9vre|Lefevre",   /* Lefèvre (eng often says é) */
    NULL};

/* Writes the letter as LibreOffice reads it without re-coding: every byte ≥ 0x80 (an
 * accent in Windows-1252) becomes U+FFFD. */
static bool write_unrecoded(const char *in, const char *out)
{
    size_t n = 0;
    char *src = slurp(in, &n);
    FILE *f = fopen(out, "wb");
    bool ok = src && f;
    for (size_t i = 0; ok && i < n; i++) {
        if ((unsigned char)src[i] >= 0x80)
            ok = fputs("\xef\xbf\xbd", f) >= 0;
        else
            ok = fputc(src[i], f) != EOF;
    }
    if (f && fclose(f) != 0) ok = false;
    free(src);
    return ok;
}

static void test_text_cp1252(struct fx_convert *c)
{
    char path[PATH_MAX + 64], out[PATH_MAX], bad[PATH_MAX];
    snprintf(path, sizeof path, "%s/letter_cp1252.txt", fixtures);
    snprintf(out, sizeof out, "%s/fax.tif", tmp);
    snprintf(bad, sizeof bad, "%s/unrecoded.txt", tmp);
    if (convert_file(c, path, "letter_cp1252.txt", NULL, FX_PAPER_A4, FX_RES_FINE, false, 1,
                     out)) {
        char *text = ocr_page(out, 1);
        CHECK(text != NULL);
        if (text) {
            CHECK(page_text_ok(text, cp1252_ascii, 80, "letter_cp1252.txt page 1"));
            CHECK(page_text_ok(text, cp1252_accented, 80, "letter_cp1252.txt accents"));
        }
        free(text);
    }
    /* Control: the same letter with its accents lost reads as well in ASCII, but its
     * accented words are gone. */
    CHECK(write_unrecoded(path, bad));
    if (convert_file(c, bad, "unrecoded.txt", NULL, FX_PAPER_A4, FX_RES_FINE, false, 1, out)) {
        char *text = ocr_page(out, 1);
        CHECK(text != NULL);
        if (text) {
            CHECK(page_text_ok(text, cp1252_ascii, 80, verbose ? "unrecoded control" : NULL));
            int total = 0;
            int found = found_words(text, cp1252_accented, &total, NULL);
            if (verbose) fprintf(stderr, "  unrecoded control: %d/%d accented found\n", found, total);
            CHECK(found <= total / 4);
        }
        free(text);
    }
    unlink(bad);
    unlink(out);
}

/* ---- the cover page ---- */

/* A cover page with words found nowhere else, before the letter: page 1 must be the
 * cover (its words, not the letter's) and show the fax's page count. */
static void test_cover(struct fx_convert *c)
{
    struct fx_cover cover = {
        .name_to = "Quentin Harrowgate",
        .name_from = "Beatrix Ollerton",
        .subject = "Harbour inventory reconciliation",
        .message = "Please countersign the harbour manifest and return it before Thursday. "
                   "The pallet count for warehouse seven is still missing.",
        .flags = FX_COVER_URGENT | FX_COVER_PLEASE_REPLY,
        .company = "Brightwater Logistics",
        .from_number = "+44 20 7946 0958",
        .to_numbers = "+49 711 555 0143",
        .date = 1741910400, /* 2025-03-14 */
    };
    static const char *const cover_words[] = {
        "Quentin Harrowgate", "Beatrix Ollerton", "Harbour inventory reconciliation",
        "countersign", "harbour manifest", "Thursday", "pallet count", "warehouse seven",
        "Brightwater Logistics", "Urgent", "Please reply", "7946 0958", "711 555 0143",
        "2025-03-14", "Subject", "Pages: 2", NULL};
    char path[PATH_MAX + 64], out[PATH_MAX];
    snprintf(path, sizeof path, "%s/letter_a4.pdf", fixtures);
    snprintf(out, sizeof out, "%s/fax.tif", tmp);
    if (!convert_file(c, path, "cover + letter_a4.pdf", &cover, FX_PAPER_A4, FX_RES_FINE, false,
                      2, out))
        return;
    char *text = ocr_page(out, 1);
    CHECK(text != NULL);
    if (text) {
        CHECK(page_text_ok(text, cover_words, 25, "cover page 1"));
        /* It is not the letter. */
        int total = 0;
        int found = found_words(text, letter_words, &total, NULL);
        CHECK(total > 0 && found < total / 4);
    }
    free(text);
    unlink(out);
}

/* ---- the checks themselves must be able to fail ---- */

/* Writes a one-page fax whose page is white, or black from line `from` to `to`. */
static bool write_page(const char *out, enum fx_res res, int from, int to)
{
    struct fx_pagew *w = NULL;
    if (fx_pagew_new(FX_PAPER_A4, res, tmp, &w) != FX_OK) return false;
    int lines = fx_page_lines(FX_PAPER_A4, res);
    size_t stride = FX_PAGE_WIDTH / 8;
    uint8_t *bits = calloc((size_t)lines, stride);
    bool ok = bits != NULL;
    if (ok && to > from) memset(bits + (size_t)from * stride, 0xFF, (size_t)(to - from) * stride);
    ok = ok && fx_pagew_add_bitmap(w, -1, bits, FX_PAGE_WIDTH, lines, stride) == FX_OK &&
         fx_pagew_write(w, out) == FX_OK;
    free(bits);
    fx_pagew_free(w);
    return ok;
}

/* A fax with one white page, OCR'd like the others: no words, so it fails. */
static void test_blank_page_fails(void)
{
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/blank.tif", tmp);
    CHECK(write_page(out, FX_RES_FINE, 0, 0));
    char *text = ocr_page(out, 1);
    CHECK(text != NULL);
    if (text) {
        CHECK(count_words(text) == 0);
        CHECK(!page_text_ok(text, letter_words, LETTER_MIN_WORDS, NULL));
        CHECK(!page_text_ok(text, letter_words, 0, NULL));
    }
    free(text);
    unlink(out);
}

/* The full-width thumbnail the OCR reads is 1728 × 2386 for a fine page of 2292 lines
 * (204 dpi both ways), so every thumbnail row must take its colour from some page
 * line: a solid black band must stay solid. A row left white cuts every glyph it
 * crosses (every ~25th row at fine, every other row at normal resolution), and OCR
 * then fails on pages a person reads without trouble. */
static void test_thumbnail_rows(void)
{
    const enum fx_res resolutions[] = {FX_RES_FINE, FX_RES_NORMAL};
    for (int k = 0; k < 2; k++) {
        char out[PATH_MAX];
        snprintf(out, sizeof out, "%s/band.tif", tmp);
        int lines = fx_page_lines(FX_PAPER_A4, resolutions[k]);
        CHECK(write_page(out, resolutions[k], lines / 4, lines / 2));
        uint8_t *g = NULL;
        int h = 0;
        CHECK(fx_convert_page_thumb(out, 0, FX_PAGE_WIDTH, &g, &h) == FX_OK);
        CHECK(h == 2386); /* 2292·204/196 = 1146·204/98 = 2385.6 */
        int white_rows = 0, first = -1;
        /* Rows well inside the band (its edges may be grey). */
        for (int y = h / 4 + 2; g && y < h / 2 - 2; y++) {
            if (g[(size_t)y * FX_PAGE_WIDTH + FX_PAGE_WIDTH / 2] > 128) {
                white_rows++;
                if (first < 0) first = y;
            }
        }
        CHECK(white_rows == 0);
        if (white_rows)
            fprintf(stderr,
                    "  thumbnail (%s): %d rows inside a black band are white (first: row %d): "
                    "rows that no page line maps to are left white when the thumbnail "
                    "stretches the page vertically\n",
                    k == 0 ? "fine" : "normal", white_rows, first);
        free(g);
        unlink(out);
    }
}

/* The matcher on made-up text: normalising, alternatives, the share and the minimum. */
static void test_matcher(void)
{
    char text[] = "Total\n  DEBIT 23016,22\tNordea   Bank alpha beta gamma";
    CHECK(count_words(text) == 7);
    const char *const all[] = {"Total debit", "NORDEA BANK", "23016.22", "gamma", "alpha", NULL};
    const char *const most[] = {"Total debit", "nordea bank", "23016.22", "gamma", "delta", NULL};
    const char *const half[] = {"Total debit", "nordea bank", "epsilon", "delta", NULL};
    const char *const alts[] = {"delta|gamma", "epsilon|Nordea Bank", NULL};
    CHECK(page_text_ok(text, all, 7, NULL));
    CHECK(!page_text_ok(text, all, 8, NULL));
    CHECK(page_text_ok(text, most, 7, NULL)); /* 4/5 = 80 % */
    CHECK(!page_text_ok(text, half, 0, NULL));
    CHECK(page_text_ok(text, alts, 0, NULL));
    char norm[] = "A b,C\n\xc3\x89t\xc3\xa9";
    normalise(norm);
    CHECK_STR(norm, "ab.c\xc3\x89t\xc3\xa9");
}

int main(void)
{
    const char *data = getenv("FAXD_TEST_DATA");
    if (!data) data = "tests/data";
    snprintf(fixtures, sizeof fixtures, "%s/fixtures", data);
    fx_test_libexec(libexec, sizeof libexec);
    const char *v = getenv("FAXD_TEST_OCR_VERBOSE");
    verbose = v && *v && strcmp(v, "0") != 0;
    TIFFSetWarningHandler(NULL);
    snprintf(tmp, sizeof tmp, "/tmp/faxd-test-ocr-XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    int64_t t0 = fx_clock_mono_ms();
    test_matcher();
    test_thumbnail_rows();
    test_blank_page_fails();
    struct fx_convert_cfg cfg;
    base_cfg(&cfg);
    struct fx_convert *c = NULL;
    CHECK(fx_convert_new(&cfg, &c) == FX_OK);
    if (c) {
        /* One converter, as a worker has: LibreOffice starts once and stays warm. */
        test_documents(c);
        test_text_cp1252(c);
        test_cover(c);
        fx_convert_free(c);
    }
    fprintf(stderr, "test_convert_ocr: %.1f s\n", (double)(fx_clock_mono_ms() - t0) / 1000.0);
    fx_workdir_remove(tmp);
    return fx_check_result("test_convert_ocr");
}
