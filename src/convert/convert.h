/* convert: documents into fax pages and fax pages into documents. libtiff is used
 * only here. Today: TIFF/F inspection, the TIFF → PDF export (G4 pages embedded
 * without re-rasterising) and the confirmation report PDF. */
#ifndef FX_CONVERT_H
#define FX_CONVERT_H

#include <stdint.h>

#include "core/core.h"

/* Counts the pages (TIFF directories) of a TIFF file. FX_ERR_INVALID when the file is
 * not a readable TIFF. */
enum fx_err fx_convert_tiff_pages(const char *path, int *pages);

/* Writes a PDF holding every page of the TIFF at tiff_path, each page sized from the
 * image's resolution (1728 px at 204 dpi = 215 mm wide). Single-strip CCITT G3/G4
 * pages are embedded as they are (lossless, no re-rasterising); other bilevel pages
 * are decoded and stored uncompressed. FX_ERR_INVALID for non-bilevel or unreadable
 * input. */
enum fx_err fx_convert_tiff_to_pdf(const char *tiff_path, const char *pdf_path);

/* What the confirmation report shows. Every pointer is borrowed; NULL prints "". */
struct fx_report {
    const char *id, *direction, *status, *description, *from, *to, *comment;
    int pages, duration, max_retry;
    int64_t submit_time, start_time;
};
/* Writes the confirmation report for one fax as a one-page A4 PDF. */
enum fx_err fx_convert_report_pdf(const struct fx_report *rep, const char *pdf_path);

#endif
