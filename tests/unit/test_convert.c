/* Unit tests for convert/: every fixture of tests/data/fixtures through fx_convert_run
 * with the real engines (Ghostscript, qpdf, LibreOffice, MuPDF, faxd-cover), checked
 * against the outcome MANIFEST.md records for it; sniffing of every fixture; the page
 * cap; resolutions and paper sizes; the sandbox (clean environment, closed descriptors,
 * rlimits, no network, process-group kill on timeout and after exit); engine timeouts
 * and memory limits with stand-in programs; text re-coding; work directories.
 *
 * FAXD_TEST_DATA points at tests/data. FAXD_LIBEXEC_DIR is where faxd-cover and
 * lo_helper.py are (the build's src directory; derived from this program's path when
 * unset). FAXD_TEST_CONVERT_ONLY=substring limits the fixture run (for development).
 */
#include "convert/convert_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tiffio.h>

#include "check.h"
#include "convert_cfg.h"

static char fixtures[2048];
static char libexec[PATH_MAX];
static char tmp[256];      /* this run's scratch directory */

/* ---- helpers ---- */

static void fixture(const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", fixtures, name);
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(write(fd, data, n) == (ssize_t)n);
    close(fd);
    chmod(path, mode);
}

/* Reads a whole (small) file; caller frees. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static void base_cfg(struct fx_convert_cfg *cfg)
{
    fx_test_convert_cfg(cfg, tmp, libexec);
}

/* Every page of a fax TIFF: 1728 wide, 204 dpi across, `lpi` down, at most `lines`. */
static void check_pages(const char *path, int pages, int lpi, int lines)
{
    int n = 0;
    enum fx_res r;
    char why[160] = "";
    bool ok = fx_convert_tiff_is_fax(path, &n, &r, why, sizeof why);
    CHECK(ok);
    if (!ok) fprintf(stderr, "  %s: %s\n", path, why);
    CHECK(n == pages);
    TIFF *t = TIFFOpen(path, "r");
    CHECK(t != NULL);
    if (!t) return;
    int seen = 0;
    do {
        uint32_t w = 0, h = 0;
        float yres = 0;
        TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
        TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
        TIFFGetField(t, TIFFTAG_YRESOLUTION, &yres);
        CHECK(w == FX_PAGE_WIDTH);
        CHECK((int)(yres + 0.5f) == lpi);
        CHECK(h > 0 && (int)h <= lines);
        seen++;
    } while (TIFFReadDirectory(t));
    TIFFClose(t);
    CHECK(seen == pages);
}

/* Runs one conversion with converter c; returns fx_convert_run's result. */
static enum fx_err convert_with(struct fx_convert *c, const char *const *names, int n,
                                const struct fx_cover *cover, enum fx_paper paper,
                                enum fx_res res, const char *out, struct fx_convert_result *r)
{
    struct fx_convert_doc docs[8];
    char paths[8][PATH_MAX];
    for (int i = 0; i < n && i < 8; i++) {
        fixture(names[i], paths[i], sizeof paths[i]);
        docs[i].path = paths[i];
        docs[i].name = names[i];
    }
    struct fx_convert_job job = {.docs = docs, .n_docs = n, .cover = cover, .paper = paper,
                                 .res = res, .out_path = out};
    return fx_convert_run(c, &job, r);
}

/* The same with a converter of its own (a LibreOffice instance started if needed). */
static enum fx_err convert(const struct fx_convert_cfg *cfg, const char *const *names, int n,
                           const struct fx_cover *cover, enum fx_paper paper, enum fx_res res,
                           const char *out, struct fx_convert_result *r)
{
    struct fx_convert *c = NULL;
    enum fx_err e = fx_convert_new(cfg, &c);
    CHECK(e == FX_OK);
    if (e) return e;
    e = convert_with(c, names, n, cover, paper, res, out, r);
    fx_convert_free(c);
    return e;
}

/* ---- MANIFEST.md ---- */

struct expect {
    char name[64];
    int pages;        /* > 0: ok with this many pages */
    char status[64];  /* else this status */
};
static struct expect expects[80];
static int n_expects;

/* Reads the backticked names of a File cell: "`letter.docx` / `.doc`" names
 * letter.docx and letter.doc. */
static int cell_names(const char *cell, char names[][64], int max)
{
    int n = 0;
    char stem[64] = "";
    for (const char *p = strchr(cell, '`'); p && n < max; p = strchr(p, '`')) {
        const char *e = strchr(p + 1, '`');
        if (!e) break;
        char nm[64];
        snprintf(nm, sizeof nm, "%.*s", (int)(e - p - 1), p + 1);
        if (nm[0] == '.') {
            snprintf(names[n++], 64, "%s%s", stem, nm);
        } else {
            snprintf(names[n++], 64, "%s", nm);
            char *dot = strrchr(nm, '.');
            if (dot) *dot = 0;
            snprintf(stem, sizeof stem, "%s", nm);
        }
        p = e + 1;
    }
    return n;
}

/* Expected: "`status` …", or text holding "ok, N page(s)" (the first number after the
 * first "ok,"; some cells start with a remark such as "**recoverable**: ok, 1 page"). */
static bool cell_expect(const char *cell, struct expect *x)
{
    while (*cell == ' ') cell++;
    if (cell[0] == '`') {
        size_t n = strcspn(cell + 1, "`");
        snprintf(x->status, sizeof x->status, "%.*s", (int)n, cell + 1);
        return fx_status_valid(x->status);
    }
    const char *ok = strstr(cell, "ok,");
    if (!ok) return false;
    const char *d = ok + strcspn(ok, "0123456789");
    x->pages = atoi(d);
    return x->pages > 0;
}

static void parse_manifest(void)
{
    char path[PATH_MAX];
    fixture("MANIFEST.md", path, sizeof path);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "| `", 3) != 0) continue;
        /* Cells: File | What | How | Expected. */
        char *cells[8];
        int nc = 0;
        for (char *p = strchr(line, '|'); p && nc < 8; p = strchr(p + 1, '|')) {
            *p = 0;
            cells[nc++] = p + 1;
        }
        CHECK(nc == 5);
        if (nc != 5) continue;
        char names[8][64];
        int nn = cell_names(cells[0], names, 8);
        struct expect x;
        memset(&x, 0, sizeof x);
        bool ok = cell_expect(cells[3], &x);
        CHECK(ok);
        if (!ok) fprintf(stderr, "  manifest row not understood: %s\n", cells[3]);
        for (int i = 0; i < nn && n_expects < 80; i++) {
            expects[n_expects] = x;
            fx_strlcpy(expects[n_expects].name, names[i], sizeof expects[n_expects].name);
            n_expects++;
        }
    }
    fclose(f);
}

static void test_manifest_covers_fixtures(void)
{
    parse_manifest();
    CHECK(n_expects == 47);
    DIR *d = opendir(fixtures);
    CHECK(d != NULL);
    if (!d) return;
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "MANIFEST.md") == 0) continue;
        files++;
        bool found = false;
        for (int i = 0; i < n_expects; i++) found |= strcmp(expects[i].name, de->d_name) == 0;
        CHECK(found);
        if (!found) fprintf(stderr, "  fixture not in the manifest: %s\n", de->d_name);
    }
    closedir(d);
    CHECK(files == n_expects);
}

/* ---- sniffing ---- */

static const struct {
    const char *name;
    enum fx_doc_kind kind;
} kinds[] = {
    {"bad_binary.docx", FX_DOC_UNSUPPORTED}, {"bad_binary.exe", FX_DOC_UNSUPPORTED},
    {"bad_bomb.png", FX_DOC_IMAGE},          {"bad_corrupt.docx", FX_DOC_OFFICE},
    {"bad_empty.pdf", FX_DOC_UNSUPPORTED},   {"bad_encrypted.docx", FX_DOC_OFFICE},
    {"bad_encrypted.pdf", FX_DOC_PDF},       {"bad_encrypted.xls", FX_DOC_OFFICE},
    {"bad_garbage.pdf", FX_DOC_PDF},         {"bad_truncated.pdf", FX_DOC_PDF},
    {"bad_xref.pdf", FX_DOC_PDF},            {"bad_zero_pages.pdf", FX_DOC_PDF},
    {"document_page.png", FX_DOC_IMAGE},     {"empty.txt", FX_DOC_UNSUPPORTED},
    {"fax_g3_fine.tif", FX_DOC_FAX_TIFF},    {"fax_g3_normal.tif", FX_DOC_FAX_TIFF},
    {"huge_page.pdf", FX_DOC_PDF},           {"invoice.xls", FX_DOC_OFFICE},
    {"invoice.xlsx", FX_DOC_OFFICE},         {"landscape.pdf", FX_DOC_PDF},
    {"ledger.xls", FX_DOC_OFFICE},           {"ledger.xlsx", FX_DOC_OFFICE},
    {"letter.doc", FX_DOC_OFFICE},           {"letter.docx", FX_DOC_OFFICE},
    {"letter.odt", FX_DOC_OFFICE},           {"letter.rtf", FX_DOC_OFFICE},
    {"letter.txt", FX_DOC_TEXT},             {"letter_a4.pdf", FX_DOC_PDF},
    {"letter_cp1252.txt", FX_DOC_TEXT},      {"letter_us.pdf", FX_DOC_PDF},
    {"logo_alpha.png", FX_DOC_IMAGE},        {"mixed_orientation.pdf", FX_DOC_PDF},
    {"multipage_mixed.tiff", FX_DOC_IMAGE},  {"owner_restricted.pdf", FX_DOC_PDF},
    {"photo.jpg", FX_DOC_IMAGE},             {"photo_exif_rotated.jpg", FX_DOC_IMAGE},
    {"png_named.pdf", FX_DOC_IMAGE},         {"report.doc", FX_DOC_OFFICE},
    {"report.docx", FX_DOC_OFFICE},          {"report.odt", FX_DOC_OFFICE},
    {"report.pdf", FX_DOC_PDF},              {"report.rtf", FX_DOC_OFFICE},
    {"report.txt", FX_DOC_TEXT},             {"rtf_named.doc", FX_DOC_OFFICE},
    {"scan_image.pdf", FX_DOC_PDF},          {"scan_phone.jpg", FX_DOC_IMAGE},
    {"wide.xlsx", FX_DOC_OFFICE},
};

static void test_sniff_fixtures(void)
{
    CHECK(sizeof kinds / sizeof *kinds == 47);
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        char path[PATH_MAX];
        fixture(kinds[i].name, path, sizeof path);
        struct fx_sniff s;
        enum fx_err e = fx_convert_sniff(path, &s);
        CHECK(e == FX_OK);
        CHECK(s.kind == kinds[i].kind);
        if (s.kind != kinds[i].kind)
            fprintf(stderr, "  sniff %s: kind %d (%s), expected %d\n", kinds[i].name, s.kind,
                    s.mime, kinds[i].kind);
        CHECK(s.mime[0] != 0);
        CHECK((s.kind == FX_DOC_UNSUPPORTED) == (s.why[0] != 0));
    }
    struct fx_sniff s;
    char path[PATH_MAX];
    fixture("empty.txt", path, sizeof path);
    CHECK(fx_convert_sniff(path, &s) == FX_OK);
    CHECK_STR(s.why, "empty file");
    fixture("bad_binary.docx", path, sizeof path);
    CHECK(fx_convert_sniff(path, &s) == FX_OK);
    CHECK_STR(s.why, "application/octet-stream");
    fixture("png_named.pdf", path, sizeof path);
    CHECK(fx_convert_sniff(path, &s) == FX_OK);
    CHECK_STR(s.mime, "image/png");
    fixture("bad_encrypted.docx", path, sizeof path);
    CHECK(fx_convert_sniff(path, &s) == FX_OK);
    CHECK_STR(s.mime, "application/encrypted");
    fixture("no_such_file", path, sizeof path);
    CHECK(fx_convert_sniff(path, &s) != FX_OK);
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    put16(p, v & 0xFFFF);
    put16(p + 2, v >> 16);
}

/* A ZIP whose members are ordered so that libmagic says application/zip: the central
 * directory still shows it is a DOCX (or an XLSX). */
static void test_sniff_zip(void)
{
    const char *names[2][2] = {{"docProps/app.xml", "word/document.xml"},
                               {"docProps/app.xml", "xl/workbook.xml"}};
    const char *want[2] = {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"};
    for (int k = 0; k < 3; k++) {
        unsigned char z[1024], cd[512];
        size_t n = 0, c = 0;
        uint32_t offs[2];
        for (int m = 0; m < 2; m++) {
            const char *nm = k < 2 ? names[k][m] : (m ? "b.txt" : "a.txt");
            size_t nl = strlen(nm);
            offs[m] = (uint32_t)n;
            memset(z + n, 0, 30);
            memcpy(z + n, "PK\3\4", 4);
            put16(z + n + 4, 20);
            put32(z + n + 18, 1);
            put32(z + n + 22, 1);
            put16(z + n + 26, (unsigned)nl);
            memcpy(z + n + 30, nm, nl);
            n += 30 + nl;
            z[n++] = 'x';
            memset(cd + c, 0, 46);
            memcpy(cd + c, "PK\1\2", 4);
            put16(cd + c + 4, 20);
            put16(cd + c + 6, 20);
            put32(cd + c + 20, 1);
            put32(cd + c + 24, 1);
            put16(cd + c + 28, (unsigned)nl);
            put32(cd + c + 42, offs[m]);
            memcpy(cd + c + 46, nm, nl);
            c += 46 + nl;
        }
        uint32_t cd_off = (uint32_t)n;
        memcpy(z + n, cd, c);
        n += c;
        memset(z + n, 0, 22);
        memcpy(z + n, "PK\5\6", 4);
        put16(z + n + 8, 2);
        put16(z + n + 10, 2);
        put32(z + n + 12, (uint32_t)c);
        put32(z + n + 16, cd_off);
        n += 22;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/zip%d.bin", tmp, k);
        write_file(path, z, n, 0600);
        struct fx_sniff s;
        CHECK(fx_convert_sniff(path, &s) == FX_OK);
        if (k < 2) {
            CHECK(s.kind == FX_DOC_OFFICE);
            CHECK_STR(s.mime, want[k]);
        } else {
            CHECK(s.kind == FX_DOC_UNSUPPORTED); /* a plain ZIP stays refused */
        }
        unlink(path);
    }
}

/* ---- the fixtures through the whole pipeline ---- */

static void test_fixtures(void)
{
    const char *only = getenv("FAXD_TEST_CONVERT_ONLY");
    struct fx_convert_cfg cfg;
    base_cfg(&cfg);
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/fax.tif", tmp);
    /* One converter for all, as a worker uses it: its LibreOffice stays warm across
     * documents, failed ones included. */
    struct fx_convert *c = NULL;
    CHECK(fx_convert_new(&cfg, &c) == FX_OK);
    if (!c) return;
    for (int i = 0; i < n_expects; i++) {
        const struct expect *x = &expects[i];
        if (only && !strstr(x->name, only)) continue;
        const char *names[1] = {x->name};
        struct fx_convert_result r;
        unlink(out);
        enum fx_err e = convert_with(c, names, 1, NULL, FX_PAPER_A4, FX_RES_FINE, out, &r);
        CHECK(e == FX_OK);
        bool ok = e == FX_OK && (x->pages > 0 ? !r.status && r.pages == x->pages
                                              : r.status && strcmp(r.status, x->status) == 0);
        CHECK(ok);
        fprintf(ok ? stdout : stderr, "  %-24s %s: %s pages=%d %s\n", x->name,
                ok ? "ok" : "FAILED", r.status ? r.status : "success", r.pages, r.detail);
        if (x->pages > 0 && !r.status) check_pages(out, x->pages, 196, 2292);
        if (x->pages == 0) {
            CHECK(r.failed_doc == 0);
            CHECK(r.detail[0] != 0);
            CHECK(access(out, F_OK) != 0); /* nothing written for a failed fax */
        }
    }
    fx_convert_free(c);
    unlink(out);
}

/* ---- the page cap ---- */

static void test_page_cap(void)
{
    struct fx_convert_cfg cfg;
    base_cfg(&cfg);
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/cap.tif", tmp);
    struct fx_convert_result r;
    const char *one[] = {"report.pdf"};
    cfg.max_pages = 3;
    CHECK(convert(&cfg, one, 1, NULL, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_OK);
    CHECK_STR(r.status, "failed_convert_to_tiff_issue");
    CHECK_STR(r.detail, "the fax has 4 pages; the limit is 3");
    cfg.max_pages = 4;
    CHECK(convert(&cfg, one, 1, NULL, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_OK);
    CHECK(r.status == NULL && r.pages == 4);
    /* Across documents: the second report takes the fax to 8 pages. */
    const char *two[] = {"report.pdf", "report.pdf"};
    cfg.max_pages = 7;
    CHECK(convert(&cfg, two, 2, NULL, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_OK);
    CHECK_STR(r.status, "failed_convert_to_tiff_issue");
    CHECK(r.failed_doc == 1);
    CHECK_STR(r.detail, "the fax has 8 pages; the limit is 7");
    /* Fax TIFFs count too. */
    const char *tif[] = {"fax_g3_fine.tif"};
    cfg.max_pages = 1;
    CHECK(convert(&cfg, tif, 1, NULL, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_OK);
    CHECK_STR(r.status, "failed_convert_to_tiff_issue");
    unlink(out);
}

/* wide.xlsx explodes into 30 pages: the cap stops it (LibreOffice). */
static void test_page_cap_spreadsheet(void)
{
    const char *only = getenv("FAXD_TEST_CONVERT_ONLY");
    if (only && !strstr("wide.xlsx", only)) return;
    struct fx_convert_cfg cfg;
    base_cfg(&cfg);
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/wide.tif", tmp);
    struct fx_convert_result r;
    const char *one[] = {"wide.xlsx"};
    cfg.max_pages = 20;
    CHECK(convert(&cfg, one, 1, NULL, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_OK);
    CHECK_STR(r.status, "failed_convert_to_tiff_issue");
    CHECK_STR(r.detail, "the fax has 30 pages; the limit is 20");
    unlink(out);
}

/* Several documents in order, other resolutions and paper. */
static void test_multi_and_geometry(void)
{
    struct fx_convert_cfg cfg;
    base_cfg(&cfg);
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/multi.tif", tmp);
    struct fx_convert_result r;
    const char *docs[] = {"letter_a4.pdf", "fax_g3_fine.tif", "mixed_orientation.pdf"};
    CHECK(convert(&cfg, docs, 3, NULL, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_OK);
    CHECK(r.status == NULL && r.pages == 6);
    if (!r.status) check_pages(out, 6, 196, 2292);
    /* Normal resolution: a fine PDF at 98 lpi, and the normal fax TIFF copied. */
    const char *norm[] = {"letter_a4.pdf", "fax_g3_normal.tif", "fax_g3_fine.tif"};
    CHECK(convert(&cfg, norm, 3, NULL, FX_PAPER_A4, FX_RES_NORMAL, out, &r) == FX_OK);
    CHECK(r.status == NULL && r.pages == 4);
    if (!r.status) check_pages(out, 4, 98, 1146);
    const char *us[] = {"letter_us.pdf"};
    CHECK(convert(&cfg, us, 1, NULL, FX_PAPER_LETTER, FX_RES_FINE, out, &r) == FX_OK);
    CHECK(r.status == NULL && r.pages == 1);
    if (!r.status) check_pages(out, 1, 196, 2156);
    /* The first failing document stops the fax. */
    const char *bad[] = {"letter_a4.pdf", "bad_binary.exe", "report.pdf"};
    CHECK(convert(&cfg, bad, 3, NULL, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_OK);
    CHECK_STR(r.status, "failed_mimetype_not_supported");
    CHECK(r.failed_doc == 1);
    CHECK(strstr(r.detail, "bad_binary.exe") && strstr(r.detail, "application/octet-stream"));
    unlink(out);
}

/* A cover page goes first and counts in the cap (faxd-cover). */
static void test_cover(void)
{
    const char *only = getenv("FAXD_TEST_CONVERT_ONLY");
    if (only && !strstr("cover", only)) return;
    struct fx_convert_cfg cfg;
    base_cfg(&cfg);
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/cover.tif", tmp);
    struct fx_cover cover = {.name_to = "Ana Müller", .name_from = "Łukasz", .subject = "Test",
                             .message = "Two pages follow.", .flags = FX_COVER_URGENT,
                             .from_number = "+4930123456", .to_numbers = "+4940654321",
                             .date = 1700000000};
    struct fx_convert_result r;
    const char *docs[] = {"letter_a4.pdf"};
    CHECK(convert(&cfg, docs, 1, &cover, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_OK);
    CHECK(r.status == NULL && r.pages == 2);
    if (!r.status) check_pages(out, 2, 196, 2292);
    /* One page is kept for the cover. */
    cfg.max_pages = 1;
    CHECK(convert(&cfg, docs, 1, &cover, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_OK);
    CHECK_STR(r.status, "failed_convert_to_tiff_issue");
    unlink(out);
}

/* ---- engines that hang or eat memory ---- */

/* Processes of group pgid still alive (zombies are dead: init reaps them later). */
static int group_alive_now(long pgid)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char path[300], buf[512];
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        char *p = strrchr(buf, ')');
        char st;
        long ppid, pg;
        if (p && sscanf(p + 1, " %c %ld %ld", &st, &ppid, &pg) == 3 && pg == pgid && st != 'Z')
            n++;
    }
    if (d) closedir(d);
    return n;
}

/* SIGKILL is delivered asynchronously: give the killed processes a moment to die. */
static int group_alive(long pgid)
{
    int n = 0;
    for (int i = 0; i < 100 && (n = group_alive_now(pgid)) > 0; i++) usleep(10000);
    return n;
}

static void test_engine_timeout(void)
{
    char script[PATH_MAX], pidfile[PATH_MAX], text[PATH_MAX * 2];
    snprintf(script, sizeof script, "%s/slow-gs.sh", tmp);
    snprintf(pidfile, sizeof pidfile, "%s/slow-gs.pid", tmp);
    int n = snprintf(text, sizeof text, "#!/bin/sh\necho $$ > %s\nsleep 600\n", pidfile);
    write_file(script, text, (size_t)n, 0700);
    struct fx_convert_cfg cfg;
    base_cfg(&cfg);
    cfg.gs = script;
    cfg.timeout_s = 2;
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/slow.tif", tmp);
    struct fx_convert_result r;
    const char *docs[] = {"letter_a4.pdf"};
    int64_t t0 = fx_clock_mono_ms();
    CHECK(convert(&cfg, docs, 1, NULL, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_OK);
    int64_t ms = fx_clock_mono_ms() - t0;
    CHECK_STR(r.status, "failed_convert_to_tiff_issue");
    CHECK(ms >= 2000 && ms < 2000 + 5000); /* generous: CI machines are loaded */
    printf("  timeout: %s after %lld ms (%s)\n", r.status ? r.status : "-", (long long)ms,
           r.detail);
    char *pid = read_file(pidfile, NULL);
    CHECK(pid != NULL);
    if (pid) {
        long pg = atol(pid);
        CHECK(pg > 1);
        CHECK(group_alive(pg) == 0); /* sh and its sleep are both gone */
        free(pid);
    }
    unlink(script);
    unlink(pidfile);
}

static void test_engine_memory(void)
{
    char script[PATH_MAX];
    snprintf(script, sizeof script, "%s/greedy-gs.sh", tmp);
    const char *text = "#!/bin/sh\nexec python3 -c 'x = bytearray(2 * 1024 ** 3)'\n";
    write_file(script, text, strlen(text), 0700);
    struct fx_convert_cfg cfg;
    base_cfg(&cfg);
    cfg.gs = script;
    cfg.mem_limit = (int64_t)256 << 20;
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/greedy.tif", tmp);
    struct fx_convert_result r;
    const char *docs[] = {"letter_a4.pdf"};
    CHECK(convert(&cfg, docs, 1, NULL, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_OK);
    CHECK_STR(r.status, "failed_convert_to_tiff_issue");
    /* The real engines under the same limit still convert a normal PDF. */
    base_cfg(&cfg);
    cfg.mem_limit = (int64_t)256 << 20;
    CHECK(convert(&cfg, docs, 1, NULL, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_OK);
    CHECK(r.status == NULL && r.pages == 1);
    unlink(script);
    unlink(out);
}

/* A missing engine is faxd's problem, not the document's. */
static void test_engine_missing(void)
{
    struct fx_convert_cfg cfg;
    base_cfg(&cfg);
    cfg.qpdf = "/nonexistent/qpdf";
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/missing.tif", tmp);
    struct fx_convert_result r;
    const char *docs[] = {"letter_a4.pdf"};
    CHECK(convert(&cfg, docs, 1, NULL, FX_PAPER_A4, FX_RES_FINE, out, &r) == FX_ERR_IO);
    CHECK(r.status == NULL);
}

/* ---- the sandbox ---- */

static void run_sh(const char *cmd, const char *stdout_path, struct fx_proc_result *pr,
                   int timeout_s)
{
    const char *argv[] = {"sh", "-c", cmd, NULL};
    struct fx_proc_spec spec = {.argv = argv, .dir = tmp, .stdout_path = stdout_path,
                                .timeout_s = timeout_s};
    CHECK(fx_proc_run(&spec, pr) == FX_OK);
}

static void test_proc_basics(void)
{
    struct fx_proc_result pr;
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/proc.out", tmp);
    run_sh("echo to-stderr >&2; echo to-stdout; exit 3", out, &pr, 10);
    CHECK(pr.exit_code == 3 && pr.term_signal == 0 && !pr.timed_out);
    CHECK_STR(pr.err_tail, "to-stderr\n");
    char *s = read_file(out, NULL);
    CHECK_STR(s, "to-stdout\n");
    free(s);
    /* Only the last bytes of a long stderr are kept. */
    run_sh("i=0; while [ $i -lt 300 ]; do echo line$i >&2; i=$((i+1)); done", NULL, &pr, 10);
    CHECK(pr.exit_code == 0);
    CHECK(strlen(pr.err_tail) == sizeof pr.err_tail - 1);
    CHECK(strstr(pr.err_tail, "line299\n") != NULL);
    /* Killed by a signal. */
    run_sh("kill -SEGV $$", NULL, &pr, 10);
    CHECK(pr.exit_code == -1 && pr.term_signal == SIGSEGV);
    /* Clean environment, working directory, limits, descriptors, network. */
    int leak = open("/dev/null", O_RDONLY); /* not CLOEXEC: must still not reach the child */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "env | sort; pwd; ulimit -n; ulimit -c; ulimit -v; "
             "[ -e /proc/self/fd/%d ] && echo leaked; grep -c : /proc/net/dev",
             leak);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    struct fx_proc_spec spec = {.argv = argv, .dir = tmp, .stdout_path = out, .timeout_s = 10,
                                .as_limit = (int64_t)512 << 20};
    setenv("FAXD_SECRET_FOR_TEST", "x", 1);
    CHECK(fx_proc_run(&spec, &pr) == FX_OK);
    unsetenv("FAXD_SECRET_FOR_TEST");
    close(leak);
    s = read_file(out, NULL);
    char want[2048];
    snprintf(want, sizeof want,
             "HOME=%s\nLANG=C.UTF-8\nPATH=/usr/bin:/bin\nPWD=%s\nTMPDIR=%s\n%s\n256\n0\n%d\n1\n",
             tmp, tmp, tmp, tmp, 512 * 1024);
    CHECK_STR(s, want);
    free(s);
    unlink(out);
    /* A program that does not exist cannot be started. */
    const char *nope[] = {"/nonexistent/prog", NULL};
    spec.argv = nope;
    CHECK(fx_proc_run(&spec, &pr) == FX_ERR_IO);
    const char *nope2[] = {"no-such-program-here", NULL};
    spec.argv = nope2;
    CHECK(fx_proc_run(&spec, &pr) == FX_ERR_IO);
    /* A working directory that does not exist: chdir fails before exec. */
    const char *t[] = {"true", NULL};
    spec.argv = t;
    spec.dir = "/nonexistent/dir";
    CHECK(fx_proc_run(&spec, &pr) == FX_ERR_IO);
}

static void test_proc_group_kill(void)
{
    char pidfile[PATH_MAX], cmd[PATH_MAX + 64];
    snprintf(pidfile, sizeof pidfile, "%s/stray.pid", tmp);
    struct fx_proc_result pr;
    /* A leader that exits at once leaves a background child: it must not survive. */
    snprintf(cmd, sizeof cmd, "sleep 600 & echo $$ > %s; exit 0", pidfile);
    run_sh(cmd, NULL, &pr, 10);
    CHECK(pr.exit_code == 0 && pr.seconds < 5);
    char *pid = read_file(pidfile, NULL);
    CHECK(pid && atol(pid) > 1 && group_alive(atol(pid)) == 0);
    free(pid);
    /* Timeout: leader and children killed together. */
    snprintf(cmd, sizeof cmd, "echo $$ > %s; sleep 600 & sleep 600", pidfile);
    int64_t t0 = fx_clock_mono_ms();
    run_sh(cmd, NULL, &pr, 1);
    int64_t ms = fx_clock_mono_ms() - t0;
    CHECK(pr.timed_out && pr.term_signal == SIGKILL);
    CHECK(ms >= 1000 && ms < 2500);
    pid = read_file(pidfile, NULL);
    CHECK(pid && atol(pid) > 1 && group_alive(atol(pid)) == 0);
    free(pid);
    unlink(pidfile);
}

static void test_proc_spawn(void)
{
    const char *argv[] = {"cat", NULL};
    struct fx_proc_spec spec = {.argv = argv, .dir = tmp};
    pid_t pid = 0;
    int to = -1, from = -1;
    CHECK(fx_proc_spawn(&spec, &pid, &to, &from) == FX_OK);
    CHECK(pid > 0 && to >= 0 && from >= 0);
    if (pid <= 0) return;
    CHECK(write(to, "ping\n", 5) == 5);
    char buf[16] = "";
    CHECK(read(from, buf, sizeof buf - 1) == 5);
    CHECK_STR(buf, "ping\n");
    CHECK(getpgid(pid) == pid);
    CHECK(fx_proc_group_rss_kb(pid) > 0);
    close(to);
    close(from);
    fx_proc_kill(pid);
    CHECK(kill(pid, 0) != 0);
    CHECK(fx_proc_group_rss_kb(pid) == 0);
}

/* ---- work directories ---- */

static void test_workdir(void)
{
    char base[PATH_MAX], dir[PATH_MAX], sub[PATH_MAX + 32];
    snprintf(base, sizeof base, "%s/wd/a/b", tmp);
    CHECK(fx_workdir_new(base, dir, sizeof dir) == FX_OK);
    struct stat sb;
    CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700);
    snprintf(sub, sizeof sub, "%s/x/y", dir);
    CHECK(fx_mkdirs(sub) == FX_OK);
    snprintf(sub, sizeof sub, "%s/x/y/f", dir);
    write_file(sub, "z", 1, 0600);
    snprintf(sub, sizeof sub, "%s/link", dir);
    CHECK(symlink(tmp, sub) == 0); /* removed as a link, never followed */
    fx_workdir_remove(dir);
    CHECK(stat(dir, &sb) != 0 && errno == ENOENT);
    CHECK(stat(tmp, &sb) == 0);
    fx_workdir_remove("");
    char small[8];
    CHECK(fx_workdir_new(base, small, sizeof small) == FX_ERR_INVALID);
}

/* ---- text ---- */

static void test_text(void)
{
    char in[PATH_MAX], out[PATH_MAX];
    size_t n;
    snprintf(out, sizeof out, "%s/t.txt", tmp);
    /* The Windows-1252 letter becomes the UTF-8 letter. */
    fixture("letter_cp1252.txt", in, sizeof in);
    CHECK(fx_text_to_utf8(in, out) == FX_OK);
    char *got = read_file(out, &n);
    CHECK(got && fx_utf8_valid(got, n));
    CHECK(got && strstr(got, "\xe2\x82\xac") && strstr(got, "\xc3\x9f")); /* € ß */
    free(got);
    /* UTF-8 is copied unchanged, without a byte-order mark. */
    fixture("letter.txt", in, sizeof in);
    size_t ln;
    char *orig = read_file(in, &ln);
    CHECK(fx_text_to_utf8(in, out) == FX_OK);
    got = read_file(out, &n);
    CHECK(orig && got && n == ln && memcmp(orig, got, n) == 0);
    free(got);
    char bom[PATH_MAX];
    snprintf(bom, sizeof bom, "%s/bom.txt", tmp);
    write_file(bom, "\xEF\xBB\xBFhi \xc3\xa9", 9, 0600);
    CHECK(fx_text_to_utf8(bom, out) == FX_OK);
    got = read_file(out, &n);
    CHECK(got && n == 6 && memcmp(got, "hi \xc3\xa9", 6) == 0);
    free(got);
    /* Undefined Windows-1252 bytes are kept as C1 characters; 0x80 is the euro. */
    write_file(bom, "a\x81\x80\x9d", 4, 0600);
    CHECK(fx_text_to_utf8(bom, out) == FX_OK);
    got = read_file(out, &n);
    CHECK(got && n == 8 && memcmp(got, "a\xc2\x81\xe2\x82\xac\xc2\x9d", 8) == 0);
    free(got);
    /* A multi-byte character across the 16 kB read boundary is still UTF-8. */
    size_t big = 40000;
    char *buf = malloc(big);
    CHECK(buf != NULL);
    if (buf) {
        for (size_t i = 0; i < big; i++) buf[i] = 'a';
        for (size_t at = 16383; at + 3 < big; at += 16384) memcpy(buf + at, "\xe2\x82\xac", 3);
        write_file(bom, buf, big, 0600);
        CHECK(fx_text_to_utf8(bom, out) == FX_OK);
        got = read_file(out, &n);
        CHECK(got && n == big && memcmp(got, buf, n) == 0);
        free(got);
        free(buf);
    }
    free(orig);
    unlink(bom);
    unlink(out);
    CHECK(fx_text_to_utf8("/nonexistent/in", out) == FX_ERR_IO);
}

int main(void)
{
    const char *data = getenv("FAXD_TEST_DATA");
    if (!data) data = "tests/data";
    snprintf(fixtures, sizeof fixtures, "%s/fixtures", data);
    fx_test_libexec(libexec, sizeof libexec);
    TIFFSetWarningHandler(NULL);
    snprintf(tmp, sizeof tmp, "/tmp/faxd-test-convert-XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_workdir();
    test_proc_basics();
    test_proc_group_kill();
    test_proc_spawn();
    test_text();
    test_manifest_covers_fixtures();
    test_sniff_fixtures();
    test_sniff_zip();
    test_fixtures();
    test_page_cap();
    test_page_cap_spreadsheet();
    test_multi_and_geometry();
    test_cover();
    test_engine_timeout();
    test_engine_memory();
    test_engine_missing();
    fx_workdir_remove(tmp);
    return fx_check_result("test_convert");
}
