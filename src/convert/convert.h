/* convert: documents into fax pages, and fax pages into documents.
 *
 * A fax's documents (PDF, DOC, DOCX, XLS, XLSX, ODT, ODS, RTF, TXT, JPG, PNG, TIFF) and
 * its optional cover page become ONE TIFF/F file: 1728 px wide, 204×196 (fine) or
 * 204×98 (normal) dpi, bilevel, G4 (fax-valid input TIFF pages may keep their T.4
 * coding), one strip per page. Every outside engine (Ghostscript, MuPDF, qpdf,
 * LibreOffice, the cover renderer) runs as a child process in its own process group
 * with a wall-clock timeout, resource limits, a private temporary directory and no
 * network; engine exit codes are never trusted — output files, page counts and TIFF
 * validation decide.
 *
 * Threads: a struct fx_convert belongs to one converter worker thread at a time (it
 * owns that worker's warm LibreOffice instance). The free functions below are
 * thread-safe. libtiff and libmagic are used only in this module. */
#ifndef FX_CONVERT_H
#define FX_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

/* ---- configuration (filled from conf by the caller; strings borrowed) ---- */
struct fx_convert_cfg {
    const char *work_dir;    /* private per-job directories are made under it */
    const char *libexec_dir; /* where faxd-cover and lo_helper.py live */
    int timeout_s;           /* wall clock per engine run */
    int64_t mem_limit;       /* RLIMIT_AS for gs, mutool, qpdf, faxd-cover (bytes) */
    int64_t lo_mem_limit;    /* resident-memory limit for a LibreOffice instance (bytes) */
    int lo_max_docs;         /* documents before a LibreOffice instance is recycled */
    int max_pages;           /* page cap per fax, checked before rasterising */
    int64_t max_image_pixels;/* pixel cap for one image, checked from its header */
    /* Programs; tests replace them (e.g. with a program that sleeps). */
    const char *gs, *mutool, *qpdf, *soffice, *python;
};

enum fx_paper { FX_PAPER_A4 = 0, FX_PAPER_LETTER = 1 };
enum fx_res { FX_RES_FINE = 0, FX_RES_NORMAL = 1 };

enum {
    FX_COVER_URGENT = 1,
    FX_COVER_FOR_REVIEW = 2,
    FX_COVER_PLEASE_REPLY = 4,
    FX_COVER_CONFIDENTIAL = 8,
};

/* What the cover page shows. Strings are borrowed UTF-8; NULL or "" = not shown. */
struct fx_cover {
    const char *name_to, *name_from, *subject, *message;
    unsigned flags;               /* FX_COVER_* */
    const char *company;          /* the account's company name */
    const char *logo_path;        /* a PNG file, or NULL */
    const char *from_number;      /* sender fax number */
    const char *to_numbers;       /* recipient fax number(s), already formatted */
    int64_t date;                 /* unix seconds, shown as a UTC date */
};

struct fx_convert_doc {
    const char *path; /* the stored document (borrowed) */
    const char *name; /* the name it was uploaded with, for messages */
};

struct fx_convert_job {
    const struct fx_convert_doc *docs;
    int n_docs;
    const struct fx_cover *cover; /* NULL = no cover page */
    enum fx_paper paper;
    enum fx_res res;
    bool enhance;           /* options.enhancement: content-aware image processing */
    const char *out_path;   /* where the fax TIFF is written */
};

struct fx_convert_result {
    const char *status; /* NULL on success, else one of the 23 fax statuses (static) */
    char detail[256];   /* what happened, for the record's description and logs */
    int pages;          /* pages of the fax TIFF, cover included */
    int failed_doc;     /* index of the document that failed, or -1 */
};

struct fx_convert;

/* *out is new: free with fx_convert_free. cfg is copied. */
enum fx_err fx_convert_new(const struct fx_convert_cfg *cfg, struct fx_convert **out);
/* Stops this converter's LibreOffice instance. Accepts NULL. */
void fx_convert_free(struct fx_convert *c);

/* Converts a fax: the cover page (if any) then every document in order, into one TIFF at
 * job->out_path. Returns FX_OK whenever an outcome was reached — success, or a document
 * problem reported in res->status (e.g. "failed_office_converter_issue") — and an
 * fx_err only when faxd itself failed (disk full, out of memory). */
enum fx_err fx_convert_run(struct fx_convert *c, const struct fx_convert_job *job,
                           struct fx_convert_result *res);

/* ---- sniffing: the real type of a document from its bytes ---- */
enum fx_doc_kind {
    FX_DOC_UNSUPPORTED = 0,
    FX_DOC_PDF,
    FX_DOC_OFFICE, /* DOC, DOCX, XLS, XLSX, ODT, ODS, RTF */
    FX_DOC_TEXT,   /* UTF-8, or Windows-1252/Latin-1 re-coded first */
    FX_DOC_IMAGE,  /* JPEG, PNG, and TIFF that is not already fax-valid */
    FX_DOC_FAX_TIFF, /* TIFF/F: passes through */
};
struct fx_sniff {
    enum fx_doc_kind kind;
    char mime[96];  /* what libmagic says, e.g. "application/pdf" */
    char why[160];  /* for FX_DOC_UNSUPPORTED: why ("empty file", "application/x-dosexec") */
};
enum fx_err fx_convert_sniff(const char *path, struct fx_sniff *out);

/* ---- fax TIFF inspection and export ---- */
/* Counts the pages (TIFF directories) of a TIFF file. FX_ERR_INVALID when the file is
 * not a readable TIFF. */
enum fx_err fx_convert_tiff_pages(const char *path, int *pages);
/* Writes a TIFF at dst holding page `page` (0-based) of each of the n files srcs, in
 * order, copied as stored (strips, compression and resolution kept; nothing decoded):
 * one page out of a received fax, or one-page files joined into one fax. A source may
 * be growing meanwhile (a fax being received): its complete pages are read. srcs is
 * borrowed. FX_ERR_INVALID when a file lacks the page or it is not bilevel in strips. */
enum fx_err fx_convert_tiff_gather(const char *const *srcs, int n, int page, const char *dst);

/* Checks every page is TIFF/F as spandsp needs it (width 1728, 204 dpi across, 196 or 98
 * lpi, 1 bit, 1 sample, min-is-white, CCITT T.4/T.6, one strip). *pages and *res
 * (the first page's resolution) are set when valid; why[] says what is wrong. */
bool fx_convert_tiff_is_fax(const char *path, int *pages, enum fx_res *res, char *why,
                            size_t why_len);

/* Writes a PDF holding every page of the TIFF at tiff_path, each page sized from the
 * image's resolution (1728 px at 204 dpi = 215 mm wide). Single-strip CCITT G4 pages
 * are embedded as they are (lossless, no re-rasterising); other bilevel pages are
 * re-encoded as G4. FX_ERR_INVALID for non-bilevel or unreadable input. */
enum fx_err fx_convert_tiff_to_pdf(const char *tiff_path, const char *pdf_path);

/* Writes page `page` (1-based) of a fax TIFF as a grey PNG `width` pixels wide (aspect
 * corrected) at png_path. FX_ERR_NOT_FOUND past the last page (*pages gets the count
 * whenever the TIFF is readable); FX_ERR_INVALID for an unreadable TIFF. */
enum fx_err fx_convert_page_png(const char *tiff_path, int page, int width,
                                const char *png_path, int *pages);

/* Writes PNG thumbnails of the first n pages of a fax TIFF as <prefix>-<n>.png, each
 * `width` pixels wide (grey, aspect corrected). *written gets how many were made. */
enum fx_err fx_convert_thumbnails(const char *tiff_path, const char *prefix, int max_pages,
                                  int width, int *written);

/* What the confirmation report shows. Every pointer is borrowed; NULL prints "". */
struct fx_report {
    const char *id, *direction, *status, *description, *from, *to, *comment;
    int pages, duration, max_retry;
    int64_t submit_time, start_time;
    const char *tiff_path; /* the fax image, for a thumbnail of page 1; NULL = none */
    /* The last attempt's call detail (0 / "" when the fax never reached a line). */
    int attempts, bit_rate;
    bool ecm;
    const char *remote_ident, *transport;
};
/* Writes the confirmation report for one fax as a one-page A4 PDF. */
enum fx_err fx_convert_report_pdf(const struct fx_report *rep, const char *pdf_path);

#endif
