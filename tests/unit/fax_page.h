/* Reading fax pages back for the fax and media unit tests: one TIFF directory decoded with
 * libtiff into rows of 1728 / 8 bytes, 1 = black whatever the file's photometric. */
#ifndef FX_TEST_FAX_PAGE_H
#define FX_TEST_FAX_PAGE_H

#include <stdint.h>
#include <stdlib.h>

#include <tiffio.h>

#define FX_TEST_PAGE_W 1728
#define FX_TEST_PAGE_STRIDE (FX_TEST_PAGE_W / 8)

/* Page `index` (0-based) of path, *height rows; NULL when it cannot be read or is not
 * 1728 pixels wide. The caller frees the result. */
static inline uint8_t *fx_test_read_page(const char *path, int index, uint32_t *height)
{
    TIFF *t = TIFFOpen(path, "r");
    if (!t) return NULL;
    uint32_t w = 0, h = 0;
    uint16_t photo = PHOTOMETRIC_MINISWHITE;
    int ok = TIFFSetDirectory(t, (tdir_t)index) && TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w) &&
             TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h) && w == FX_TEST_PAGE_W && h > 0;
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
    uint8_t *bits = ok ? malloc((size_t)h * FX_TEST_PAGE_STRIDE) : NULL;
    for (uint32_t y = 0; bits && y < h; y++) {
        uint8_t *row = bits + (size_t)y * FX_TEST_PAGE_STRIDE;
        if (TIFFReadScanline(t, row, y, 0) != 1) {
            free(bits);
            bits = NULL;
            break;
        }
        for (int i = 0; photo == PHOTOMETRIC_MINISBLACK && i < FX_TEST_PAGE_STRIDE; i++)
            row[i] = (uint8_t)~row[i];
    }
    TIFFClose(t);
    *height = h;
    return bits;
}

#endif
