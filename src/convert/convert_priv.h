/* convert (private): what the files of the convert module share — the sandboxed child
 * process runner, private work directories, the page writer that assembles the fax
 * TIFF, and one entry point per route. Nothing outside src/convert includes this. */
#ifndef FX_CONVERT_PRIV_H
#define FX_CONVERT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "convert/convert.h"

#define FX_PAGE_WIDTH 1728 /* pixels across every fax page */

/* Lines of a full page: A4 2292 fine / 1146 normal; Letter 2156 / 1078. */
int fx_page_lines(enum fx_paper paper, enum fx_res res);
/* Vertical resolution in lines per inch: 196 or 98. */
int fx_res_lpi(enum fx_res res);

/* ---- child processes (proc.c) ----
 * Every engine runs through here: its own process group, rlimits, stdin from a file or
 * /dev/null, stdout to a file or /dev/null, stderr captured (tail kept), the working
 * directory and TMPDIR/HOME set to the job's private directory, no network (a new,
 * empty network namespace where the kernel allows it), and a wall-clock timeout that
 * kills the whole process group. */
struct fx_proc_spec {
    const char *const *argv;  /* argv[0] is the program (path or name in PATH) */
    const char *dir;          /* working directory, also TMPDIR and HOME */
    const char *stdin_path;   /* NULL = /dev/null */
    const char *stdout_path;  /* NULL = /dev/null */
    int timeout_s;            /* wall clock; 0 = none (never used for engines) */
    int64_t as_limit;         /* RLIMIT_AS bytes; 0 = unlimited */
    int64_t fsize_limit;      /* RLIMIT_FSIZE bytes; 0 = unlimited */
    int cpu_s;                /* RLIMIT_CPU seconds; 0 = unlimited */
    bool allow_network;       /* false: the child gets no network */
};

struct fx_proc_result {
    int exit_code;      /* exit status, or -1 when killed by a signal */
    int term_signal;    /* the signal that ended it, or 0 */
    bool timed_out;     /* killed by our wall-clock timeout */
    double seconds;     /* wall clock */
    int64_t max_rss_kb; /* peak resident memory of the child (getrusage) */
    char err_tail[512]; /* the last bytes it wrote to stderr */
};

/* Runs to completion (or timeout). FX_OK when it ran, whatever it returned;
 * FX_ERR_IO/NOMEM when it could not be started. */
enum fx_err fx_proc_run(const struct fx_proc_spec *spec, struct fx_proc_result *res);

/* Starts a long-lived child (a warm LibreOffice helper) with pipes for stdin and
 * stdout; stderr goes to faxd's log. *pid is the process group leader. */
enum fx_err fx_proc_spawn(const struct fx_proc_spec *spec, pid_t *pid, int *to_child,
                          int *from_child);
/* SIGKILLs the whole process group of pid and reaps pid. */
void fx_proc_kill(pid_t pid);
/* Resident memory (kB) of pid and its descendants in its process group, from /proc. */
int64_t fx_proc_group_rss_kb(pid_t pid);

/* ---- private work directories (proc.c) ---- */
/* Makes a new mode-0700 directory under base; out[len] gets its path. */
enum fx_err fx_workdir_new(const char *base, char *out, size_t len);
/* Removes the directory and everything in it. Accepts "" (does nothing). */
void fx_workdir_remove(const char *dir);

/* ---- the page writer (tiff.c) ----
 * Collects encoded pages in memory (G4, or T.4 for copied fax pages) and writes them as
 * one multi-page TIFF/F at close, so a page can be inserted before others (the cover
 * page is rendered last, once the page count is known, and goes first). */
struct fx_pagew;
enum fx_err fx_pagew_new(enum fx_paper paper, enum fx_res res, const char *scratch_dir,
                         struct fx_pagew **out);
/* Adds a bilevel page at index `at` (-1 = at the end). bits: `height` rows of `stride`
 * bytes, MSB first, 1 = black; width must be FX_PAGE_WIDTH; height at most a full page
 * (shorter pages are kept short, as fax allows). */
enum fx_err fx_pagew_add_bitmap(struct fx_pagew *w, int at, const uint8_t *bits, int width,
                                int height, size_t stride);
/* Appends every page of a bilevel TIFF. Pages that are TIFF/F at the writer's
 * resolution are copied as they are; others are scaled to FX_PAGE_WIDTH and the
 * writer's resolution. FX_ERR_INVALID when the file or a page cannot be used. */
enum fx_err fx_pagew_add_tiff(struct fx_pagew *w, const char *path, int *added);
int fx_pagew_pages(const struct fx_pagew *w);
enum fx_paper fx_pagew_paper(const struct fx_pagew *w);
enum fx_res fx_pagew_res(const struct fx_pagew *w);
/* Writes the TIFF to path (fsynced). Does not free w. */
enum fx_err fx_pagew_write(struct fx_pagew *w, const char *path);
/* Accepts NULL. */
void fx_pagew_free(struct fx_pagew *w);

/* Grey thumbnail (0 black … 255 white) of page `page` (0-based) of a bilevel TIFF,
 * `width` pixels wide, height corrected for non-square pixels. *out is new (free()). */
enum fx_err fx_convert_page_thumb(const char *tiff_path, int page, int width, uint8_t **out,
                                  int *height);

/* ---- the converter context ---- */
struct fx_lo; /* a warm LibreOffice instance (lopool.c) */

struct fx_convert {
    struct fx_convert_cfg cfg; /* strings point into `strings` */
    char *strings;
    struct fx_lo *lo; /* started on first use */
};

/* ---- routes: each adds pages to w, or sets res->status and returns FX_OK ----
 * pages_left: how many pages the fax may still grow by (the page cap). */

/* route_pdf.c: password check, page count and cap, Ghostscript to G4. */
enum fx_err fx_route_pdf(struct fx_convert *c, const char *pdf, const char *workdir,
                         struct fx_pagew *w, int pages_left, struct fx_convert_result *res);
/* image.c: JPEG/PNG/TIFF → fitted, oriented, bilevel pages. */
enum fx_err fx_route_image(struct fx_convert *c, const char *path, const char *mime,
                           const char *workdir, struct fx_pagew *w, bool enhance,
                           int pages_left, struct fx_convert_result *res);
/* lopool.c: an Office/RTF/ODF/UTF-8 text document → PDF at out_pdf through this
 * converter's warm LibreOffice instance (started, recycled and restarted as needed). */
enum fx_err fx_lo_to_pdf(struct fx_convert *c, const char *in, const char *out_pdf,
                         const char *workdir, struct fx_convert_result *res);
void fx_lo_free(struct fx_lo *lo);
/* text.c: re-codes a text file to UTF-8 (from Windows-1252/Latin-1 when it is not
 * UTF-8) into out_path. */
enum fx_err fx_text_to_utf8(const char *in, const char *out_path);
/* cover.c: renders the cover page with faxd-cover and inserts it as page 1. */
enum fx_err fx_route_cover(struct fx_convert *c, const struct fx_cover *cover, int total_pages,
                           const char *workdir, struct fx_pagew *w,
                           struct fx_convert_result *res);

/* Sets res->status and res->detail (printf-style); returns FX_OK for chaining. */
enum fx_err fx_convert_fail(struct fx_convert_result *res, const char *status, const char *fmt,
                            ...) __attribute__((format(printf, 3, 4)));

#endif
