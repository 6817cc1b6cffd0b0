/* convert: sniffing — what a document really is, from its bytes (never its name).
 *
 * libmagic decides; a table maps its MIME answer onto a route, and everything not on the
 * allow-list is refused before any engine sees it (engines happily turn an executable
 * into pages of mojibake). libmagic handles are not thread-safe and loading the compiled
 * database costs ~7 MB each time, so one handle is loaded once and shared under a mutex
 * (a sniff takes about a millisecond). Two refinements:
 * a ZIP that libmagic cannot name (OOXML written by tools that order the members
 * differently) is identified from its central directory, and a TIFF that is already
 * fax-valid is told apart from other TIFFs so it can be copied through. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <magic.h>
#include <pthread.h>

#include "convert/convert_priv.h"

static pthread_once_t magic_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t magic_mu = PTHREAD_MUTEX_INITIALIZER;
static magic_t magic_handle; /* loaded once, used under magic_mu, kept for the process */

static void magic_setup(void)
{
    magic_t m = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
    if (!m || magic_load(m, NULL) != 0) {
        fx_error("convert libmagic not loaded error=\"%s\"", m ? magic_error(m) : "open");
        if (m) magic_close(m);
        return;
    }
    /* libmagic reads up to 7 MiB of a file by default; every type faxd accepts is
     * recognised from its first bytes (OOXML from its first zip members). */
    size_t bytes_max = 1024 * 1024;
    magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes_max);
    magic_handle = m;
}

static const struct {
    const char *mime;
    enum fx_doc_kind kind;
} mime_table[] = {
    {"application/pdf", FX_DOC_PDF},
    {"application/msword", FX_DOC_OFFICE},
    {"application/vnd.ms-excel", FX_DOC_OFFICE},
    /* libmagic's answer for an OLE file whose application it cannot name. */
    {"application/vnd.ms-office", FX_DOC_OFFICE},
    {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", FX_DOC_OFFICE},
    {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", FX_DOC_OFFICE},
    {"application/vnd.oasis.opendocument.text", FX_DOC_OFFICE},
    {"application/vnd.oasis.opendocument.spreadsheet", FX_DOC_OFFICE},
    {"text/rtf", FX_DOC_OFFICE},
    {"application/rtf", FX_DOC_OFFICE},
    /* An OOXML file inside an encrypted CFB container: the pipeline reports the
     * password without starting LibreOffice. */
    {"application/encrypted", FX_DOC_OFFICE},
    {"image/jpeg", FX_DOC_IMAGE},
    {"image/png", FX_DOC_IMAGE},
    {"image/tiff", FX_DOC_IMAGE},
    {"application/csv", FX_DOC_TEXT},
};

/* Text types that are markup an importer would interpret rather than print. */
static const char *const text_refused[] = {"text/html", "text/xml"};

static enum fx_doc_kind kind_of(const char *mime)
{
    for (size_t i = 0; i < sizeof mime_table / sizeof *mime_table; i++)
        if (strcmp(mime, mime_table[i].mime) == 0) return mime_table[i].kind;
    if (strncmp(mime, "text/", 5) != 0) return FX_DOC_UNSUPPORTED;
    for (size_t i = 0; i < sizeof text_refused / sizeof *text_refused; i++)
        if (strcmp(mime, text_refused[i]) == 0) return FX_DOC_UNSUPPORTED;
    /* Any other text is printed as text: libmagic often calls a plain letter
     * "text/x-c", "text/x-Algol68" or "text/troff" from a few words in it. */
    return FX_DOC_TEXT;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned le16(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* Reads the ZIP central directory and names the Office format it holds, or NULL. The
 * end record is in the last 64 kB + 22 bytes; only member names are looked at. */
static const char *zip_office_mime(int fd, off_t size)
{
    enum { TAIL = 65557 };
    off_t start = size > TAIL ? size - TAIL : 0;
    size_t n = (size_t)(size - start);
    unsigned char *b = malloc(n);
    const char *mime = NULL;
    unsigned char magic[4];
    if (pread(fd, magic, 4, 0) != 4 || memcmp(magic, "PK\3\4", 4) != 0) goto out;
    if (!b || pread(fd, b, n, start) != (ssize_t)n) goto out;
    size_t eocd = n;
    for (size_t i = n >= 22 ? n - 22 : 0; i + 22 <= n; i--) {
        if (memcmp(b + i, "PK\5\6", 4) == 0) {
            eocd = i;
            break;
        }
        if (i == 0) break;
    }
    if (eocd == n) goto out;
    uint32_t cd_size = le32(b + eocd + 12), cd_off = le32(b + eocd + 16);
    if (cd_size > (1u << 22) || (off_t)cd_off + cd_size > size) goto out;
    unsigned char *cd = malloc(cd_size ? cd_size : 1);
    if (!cd || pread(fd, cd, cd_size, cd_off) != (ssize_t)cd_size) {
        free(cd);
        goto out;
    }
    for (size_t p = 0; p + 46 <= cd_size && memcmp(cd + p, "PK\1\2", 4) == 0;) {
        size_t nl = le16(cd + p + 28), xl = le16(cd + p + 30), cl = le16(cd + p + 32);
        if (p + 46 + nl > cd_size) break;
        const char *name = (const char *)cd + p + 46;
        if (nl == 17 && memcmp(name, "word/document.xml", 17) == 0)
            mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        else if (nl == 15 && memcmp(name, "xl/workbook.xml", 15) == 0)
            mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        if (mime) break;
        p += 46 + nl + xl + cl;
    }
    free(cd);
out:
    free(b);
    return mime;
}

static void set_unsupported(struct fx_sniff *out, const char *why)
{
    out->kind = FX_DOC_UNSUPPORTED;
    fx_strlcpy(out->why, why, sizeof out->why);
}

enum fx_err fx_convert_sniff(const char *path, struct fx_sniff *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? FX_ERR_NOT_FOUND : FX_ERR_IO;
    struct stat sb;
    enum fx_err e = FX_OK;
    magic_t m = NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        e = FX_ERR_IO;
        goto out;
    }
    if (sb.st_size == 0) { /* engines turn nothing into a blank page: refuse first */
        fx_strlcpy(out->mime, "inode/x-empty", sizeof out->mime);
        set_unsupported(out, "empty file");
        goto out;
    }
    pthread_once(&magic_once, magic_setup);
    if (!(m = magic_handle)) {
        e = FX_ERR_INTERNAL;
        goto out;
    }
    /* libmagic's answer lives in the handle: copy it before another thread sniffs. */
    pthread_mutex_lock(&magic_mu);
    const char *mime = magic_descriptor(m, fd);
    bool found = mime != NULL;
    if (found) fx_strlcpy(out->mime, mime, sizeof out->mime);
    pthread_mutex_unlock(&magic_mu);
    if (!found) {
        e = FX_ERR_IO;
        goto out;
    }
    if (strcmp(out->mime, "application/zip") == 0 ||
        strcmp(out->mime, "application/octet-stream") == 0) {
        const char *office = zip_office_mime(fd, sb.st_size);
        if (office) fx_strlcpy(out->mime, office, sizeof out->mime);
    }
    out->kind = kind_of(out->mime);
    if (out->kind == FX_DOC_UNSUPPORTED) set_unsupported(out, out->mime);
    if (strcmp(out->mime, "image/tiff") == 0) {
        int pages;
        enum fx_res res;
        char why[160];
        if (fx_convert_tiff_is_fax(path, &pages, &res, why, sizeof why)) out->kind = FX_DOC_FAX_TIFF;
    }
out:
    close(fd);
    return e;
}
