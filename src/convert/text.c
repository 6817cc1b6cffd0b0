/* convert: plain-text re-coding — every text document reaches LibreOffice as UTF-8.
 *
 * LibreOffice's default text import turns every non-UTF-8 accent into U+FFFD, and
 * text written on Windows is usually Windows-1252. So: a file that is valid UTF-8 is
 * copied (without its byte-order mark); anything else is read as Windows-1252, with
 * the five bytes that code page leaves undefined taken as Latin-1 (C1 controls) so no
 * byte is ever lost or refused. Both passes stream in fixed chunks. */
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "convert/convert_priv.h"

enum { CHUNK = 16 * 1024 };

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static ssize_t read_full(int fd, char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Length of the prefix of buf[n] that ends on a UTF-8 sequence boundary: a lead byte in
 * the last three bytes whose sequence runs past the end is held back for the next
 * chunk. */
static size_t utf8_cut(const unsigned char *buf, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = buf[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation: look further back */
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? n - back : n;
    }
    return n;
}

static bool file_is_utf8(int fd)
{
    char buf[CHUNK + 4];
    size_t keep = 0;
    for (;;) {
        ssize_t r = read_full(fd, buf + keep, CHUNK);
        if (r < 0) return false;
        size_t n = keep + (size_t)r;
        if (r == 0) return fx_utf8_valid(buf, n); /* a cut sequence at EOF fails here */
        size_t cut = utf8_cut((const unsigned char *)buf, n);
        if (!fx_utf8_valid(buf, cut)) return false;
        keep = n - cut;
        memmove(buf, buf + cut, keep);
    }
}

static bool copy_utf8(int in, int out)
{
    char buf[CHUNK];
    bool first = true;
    for (;;) {
        ssize_t r = read_full(in, buf, sizeof buf);
        if (r < 0) return false;
        if (r == 0) return true;
        size_t skip = first && r >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
        first = false;
        if (!write_all(out, buf + skip, (size_t)r - skip)) return false;
    }
}

/* Converts one chunk; the bytes Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90,
 * 0x9D), which iconv refuses, become the C1 code points of the same value. */
static bool cp1252_chunk(iconv_t cd, int out, char *in, size_t n)
{
    char obuf[CHUNK * 3 + 8];
    char *op = obuf;
    size_t oleft = sizeof obuf;
    while (n) {
        size_t rc = iconv(cd, &in, &n, &op, &oleft);
        if (rc != (size_t)-1) break;
        if (errno != EILSEQ || oleft < 2) return false;
        unsigned char c = (unsigned char)*in++;
        n--;
        *op++ = (char)(0xC0 | c >> 6);
        *op++ = (char)(0x80 | (c & 0x3F));
        oleft -= 2;
    }
    return write_all(out, obuf, (size_t)(op - obuf));
}

static bool copy_cp1252(int in, int out)
{
    iconv_t cd = iconv_open("UTF-8", "WINDOWS-1252");
    if (cd == (iconv_t)-1) return false;
    char buf[CHUNK];
    bool ok = true;
    for (;;) {
        ssize_t r = read_full(in, buf, sizeof buf);
        if (r <= 0) {
            ok = r == 0;
            break;
        }
        if (!cp1252_chunk(cd, out, buf, (size_t)r)) {
            ok = false;
            break;
        }
    }
    iconv_close(cd);
    return ok;
}

enum fx_err fx_text_to_utf8(const char *in_path, const char *out_path)
{
    int in = open(in_path, O_RDONLY | O_CLOEXEC);
    if (in < 0) return FX_ERR_IO;
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return FX_ERR_IO;
    }
    bool utf8 = file_is_utf8(in);
    bool ok = lseek(in, 0, SEEK_SET) == 0 && (utf8 ? copy_utf8(in, out) : copy_cp1252(in, out));
    if (close(out) != 0) ok = false;
    close(in);
    if (!ok) {
        fx_error("convert text not re-coded path=%s error=\"%s\"", out_path, strerror(errno));
        unlink(out_path);
        return FX_ERR_IO;
    }
    fx_debug("convert text re-coded from=%s", utf8 ? "utf-8" : "windows-1252");
    return FX_OK;
}
