/* faxd-cover: renders one fax cover page and writes it as a binary PBM (P4, 1 = black).
 *
 * The converter runs this program as a sandboxed child (timeout, RLIMIT_AS, no network)
 * so that Cairo, Pango, fontconfig and the PNG loader never run inside faxd itself. It is
 * standalone on purpose: libc, GLib (for Pango), Cairo and Pango only.
 *
 * The page is drawn at exactly the fax page's pixel geometry (1728 px across at 204 dpi;
 * 196 or 98 lines per inch down) with the context scaled anisotropically, so the layout
 * is written in points on a real A4/Letter page. Text and lines are drawn without
 * antialiasing and with full hinting: bilevel glyphs hinted for the actual pixel grid
 * stay legible even at 204×98, where thresholding antialiased text would not. Only the
 * logo (a photo-like PNG) is grey, so the page is error-diffused when it has one.
 *
 * Exit status: 0 done, 2 bad arguments, 1 rendering or output failure (with a message
 * on stderr). Every text argument is made valid UTF-8 first (U+FFFD for bad bytes). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <pango/pangocairo.h>

#define PAGE_WIDTH 1728
#define XDPI 204.0
#define MAX_FIELD 2000          /* bytes kept of a one-line field: more can never show */
#define MAX_MESSAGE (64 * 1024) /* bytes read of the message: a page holds ~8 kB */
#define MAX_LOGO_PIXELS (40L * 1000 * 1000)

#define FONT_FAMILY "Liberation Sans,DejaVu Sans"

enum { EXIT_RENDER = 1, EXIT_ARGS = 2 };

enum {
    FLAG_URGENT = 1,
    FLAG_FOR_REVIEW = 2,
    FLAG_PLEASE_REPLY = 4,
    FLAG_CONFIDENTIAL = 8,
};

struct opts {
    const char *out, *logo, *message_file;
    bool letter, normal;
    unsigned flags;
    int pages; /* 0 = not shown */
    /* valid UTF-8, owned (g_free) */
    char *to, *from, *subject, *company, *from_number, *to_numbers, *date, *message;
};

/* What the drawing code shares: the context, the page in points and a cursor. */
struct render {
    cairo_t *cr;
    PangoContext *pc;
    double w_pt, h_pt;
    double line_pt;             /* one device line (72 / lpi) */
    double left, right, bottom; /* content box */
    double y;                   /* top of the next block */
};

/* ---- arguments ---- */

static void usage(const char *why)
{
    fprintf(stderr,
            "faxd-cover: %s\n"
            "usage: faxd-cover --out FILE [--paper a4|letter] [--res fine|normal]\n"
            "  [--to NAME] [--from NAME] [--subject TEXT] [--message-file FILE]\n"
            "  [--flags urgent,for_review,please_reply,confidential] [--company TEXT]\n"
            "  [--logo PNGFILE] [--from-number TEXT] [--to-numbers TEXT]\n"
            "  [--date YYYY-MM-DD] [--pages N]\n",
            why);
}

/* Valid UTF-8 with C0 controls and DEL replaced: by spaces in one-line fields; in the
 * message, CR and CRLF become LF and tabs stay. Cut to max bytes (at a character) first. */
static char *clean_text(const char *s, size_t len, size_t max, bool multiline)
{
    if (len > max) {
        /* Drop a character cut in two, which would otherwise show as U+FFFD. */
        len = max;
        for (int back = 0; len > 0 && back < 4 && ((unsigned char)s[len] & 0xC0) == 0x80; back++)
            len--;
    }
    char *tmp = g_malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (multiline && (ch == '\r' || ch == '\n')) {
            if (ch == '\r' && i + 1 < len && s[i + 1] == '\n') i++;
            tmp[n++] = '\n';
        } else if (multiline && ch == '\t') {
            tmp[n++] = '\t';
        } else {
            tmp[n++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
        }
    }
    char *out = g_utf8_make_valid(tmp, (gssize)n);
    g_free(tmp);
    return out;
}

static char *clean_field(const char *s)
{
    return clean_text(s, strlen(s), MAX_FIELD, false);
}

static bool parse_flags(const char *s, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"urgent", FLAG_URGENT},
                 {"for_review", FLAG_FOR_REVIEW},
                 {"please_reply", FLAG_PLEASE_REPLY},
                 {"confidential", FLAG_CONFIDENTIAL}};
    *out = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        bool known = len == 0; /* empty items ("a,,b", "") are harmless */
        for (size_t i = 0; i < sizeof names / sizeof names[0] && !known; i++)
            if (strlen(names[i].name) == len && strncmp(s, names[i].name, len) == 0) {
                *out |= names[i].bit;
                known = true;
            }
        if (!known) return false;
        s += len;
        if (*s == ',') s++;
    }
    return true;
}

/* Reads at most MAX_MESSAGE bytes of the message file (the page cannot show more). */
static bool read_message(const char *path, struct opts *o)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "faxd-cover: cannot open message file %s: %s\n", path, strerror(errno));
        return false;
    }
    char *buf = g_malloc(MAX_MESSAGE + 2);
    size_t n = fread(buf, 1, MAX_MESSAGE + 1, f); /* one more byte tells a cut */
    bool ok = !ferror(f);
    fclose(f);
    if (ok) {
        g_free(o->message);
        o->message = clean_text(buf, n, MAX_MESSAGE, true);
    } else {
        fprintf(stderr, "faxd-cover: cannot read message file %s\n", path);
    }
    g_free(buf);
    return ok;
}

static void set_field(char **dst, const char *src)
{
    g_free(*dst);
    *dst = clean_field(src);
}

static bool parse_pages(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 100000) return false;
    *out = (int)v;
    return true;
}

/* Applies one option; false (after a message) when its value is bad. */
static bool apply_option(int ch, const char *arg, struct opts *o)
{
    const char *bad = NULL;
    switch (ch) {
    case 'o':
        o->out = arg;
        break;
    case 'P':
        if (strcmp(arg, "a4") != 0 && strcmp(arg, "letter") != 0) bad = "bad --paper";
        o->letter = strcmp(arg, "letter") == 0;
        break;
    case 'r':
        if (strcmp(arg, "fine") != 0 && strcmp(arg, "normal") != 0) bad = "bad --res";
        o->normal = strcmp(arg, "normal") == 0;
        break;
    case 't':
        set_field(&o->to, arg);
        break;
    case 'f':
        set_field(&o->from, arg);
        break;
    case 's':
        set_field(&o->subject, arg);
        break;
    case 'm':
        o->message_file = arg;
        break;
    case 'F':
        if (!parse_flags(arg, &o->flags)) bad = "bad --flags";
        break;
    case 'c':
        set_field(&o->company, arg);
        break;
    case 'l':
        o->logo = *arg ? arg : NULL;
        break;
    case 'n':
        set_field(&o->from_number, arg);
        break;
    case 'N':
        set_field(&o->to_numbers, arg);
        break;
    case 'd':
        set_field(&o->date, arg);
        break;
    case 'p':
        if (!parse_pages(arg, &o->pages)) bad = "bad --pages";
        break;
    default:
        bad = "unknown option or missing value";
        break;
    }
    if (bad) usage(bad);
    return !bad;
}

/* Parses argv into o; returns false (after a message) on a bad argument. */
static bool parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {{"out", required_argument, NULL, 'o'},
                                             {"paper", required_argument, NULL, 'P'},
                                             {"res", required_argument, NULL, 'r'},
                                             {"to", required_argument, NULL, 't'},
                                             {"from", required_argument, NULL, 'f'},
                                             {"subject", required_argument, NULL, 's'},
                                             {"message-file", required_argument, NULL, 'm'},
                                             {"flags", required_argument, NULL, 'F'},
                                             {"company", required_argument, NULL, 'c'},
                                             {"logo", required_argument, NULL, 'l'},
                                             {"from-number", required_argument, NULL, 'n'},
                                             {"to-numbers", required_argument, NULL, 'N'},
                                             {"date", required_argument, NULL, 'd'},
                                             {"pages", required_argument, NULL, 'p'},
                                             {NULL, 0, NULL, 0}};
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (!apply_option(ch, optarg, o)) return false;
    if (optind < argc) return usage("unexpected argument"), false;
    if (!o->out || !*o->out) return usage("--out is required"), false;
    if (o->message_file && !read_message(o->message_file, o)) return false;
    return true;
}

static void free_opts(struct opts *o)
{
    g_free(o->to);
    g_free(o->from);
    g_free(o->subject);
    g_free(o->company);
    g_free(o->from_number);
    g_free(o->to_numbers);
    g_free(o->date);
    g_free(o->message);
}

/* ---- drawing helpers (all coordinates in points) ---- */

/* A layout of `text` in `font` ("Bold 12"), wrapped to width (0 = no wrap), at most
 * max_lines lines with an ellipsis (0 = no limit). */
static PangoLayout *make_layout(struct render *r, const char *font, const char *text, double width,
                                int max_lines)
{
    PangoLayout *l = pango_layout_new(r->pc);
    char desc[96];
    snprintf(desc, sizeof desc, "%s %s", FONT_FAMILY, font);
    PangoFontDescription *fd = pango_font_description_from_string(desc);
    pango_layout_set_font_description(l, fd);
    pango_font_description_free(fd);
    if (width > 0) {
        pango_layout_set_width(l, (int)(width * PANGO_SCALE));
        pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
    }
    if (max_lines > 0) {
        pango_layout_set_height(l, -max_lines);
        pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
    }
    pango_layout_set_text(l, text ? text : "", -1);
    return l;
}

static double layout_height(PangoLayout *l)
{
    int w, h;
    pango_layout_get_size(l, &w, &h);
    return (double)h / PANGO_SCALE;
}

static double layout_width(PangoLayout *l)
{
    int w, h;
    pango_layout_get_size(l, &w, &h);
    return (double)w / PANGO_SCALE;
}

static void show_layout(struct render *r, PangoLayout *l, double x, double y)
{
    cairo_move_to(r->cr, x, y);
    pango_cairo_show_layout(r->cr, l);
}

/* Draws text and returns its height. */
static double draw_text(struct render *r, const char *font, const char *text, double x, double y,
                        double width, int max_lines)
{
    PangoLayout *l = make_layout(r, font, text, width, max_lines);
    show_layout(r, l, x, y);
    double h = layout_height(l);
    g_object_unref(l);
    return h;
}

/* A horizontal rule at least one device line thick, so thin rules survive 98 lpi. */
static void hrule(struct render *r, double x0, double x1, double y, double thick)
{
    if (thick < r->line_pt * 1.05) thick = r->line_pt * 1.05;
    cairo_rectangle(r->cr, x0, y, x1 - x0, thick);
    cairo_fill(r->cr);
}

static void vrule(struct render *r, double x, double y0, double y1, double thick)
{
    cairo_rectangle(r->cr, x, y0, thick, y1 - y0);
    cairo_fill(r->cr);
}

/* ---- the logo ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks the PNG header before decoding, so a decompression bomb is refused cheaply
 * rather than by the memory limit. */
static bool logo_header_ok(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char h[24];
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "faxd-cover: cannot open logo %s: %s\n", path, strerror(errno));
        return false;
    }
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    if (n != sizeof h || memcmp(h, sig, 8) != 0 || memcmp(h + 12, "IHDR", 4) != 0) {
        fprintf(stderr, "faxd-cover: logo is not a PNG file\n");
        return false;
    }
    uint32_t w = be32(h + 16), ht = be32(h + 20);
    if (w == 0 || ht == 0 || w > 20000 || ht > 20000 || (long)w * (long)ht > MAX_LOGO_PIXELS) {
        fprintf(stderr, "faxd-cover: logo size %ux%u refused\n", w, ht);
        return false;
    }
    return true;
}

static cairo_surface_t *load_logo(const char *path)
{
    if (!logo_header_ok(path)) return NULL;
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "faxd-cover: cannot decode logo: %s\n",
                cairo_status_to_string(cairo_surface_status(s)));
        cairo_surface_destroy(s);
        return NULL;
    }
    return s;
}

/* Paints the logo fitted into box_w × box_h at (x, y), keeping its aspect on paper;
 * *w and *h get the size used. Transparent parts show the white page. */
static void draw_logo(struct render *r, cairo_surface_t *img, double x, double y, double box_w,
                      double box_h, double *w, double *h)
{
    double iw = cairo_image_surface_get_width(img), ih = cairo_image_surface_get_height(img);
    double s = box_w / iw < box_h / ih ? box_w / iw : box_h / ih;
    *w = iw * s;
    *h = ih * s;
    cairo_save(r->cr);
    cairo_translate(r->cr, x, y);
    cairo_scale(r->cr, s, s);
    cairo_rectangle(r->cr, 0, 0, iw, ih);
    cairo_clip(r->cr);
    cairo_set_source_surface(r->cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(r->cr), CAIRO_FILTER_GOOD);
    cairo_paint(r->cr);
    cairo_restore(r->cr);
}

/* ---- page sections ---- */

/* Logo and company name on the left, the "FAX" title on the right; then a thick rule. */
static void draw_header(struct render *r, const struct opts *o, cairo_surface_t *logo)
{
    double top = r->y, lw = 0, lh = 0;
    PangoLayout *title = make_layout(r, "Bold 44", "FAX", 0, 0);
    double tw = layout_width(title), th = layout_height(title);
    bool left_part = logo || (o->company && *o->company);
    if (logo) draw_logo(r, logo, r->left, top, 170, 60, &lw, &lh);
    double cx = r->left + (logo ? lw + 14 : 0);
    double cw = r->right - tw - 20 - cx;
    double ch = 0;
    if (o->company && *o->company) {
        PangoLayout *c = make_layout(r, "Bold 18", o->company, cw, 2);
        ch = layout_height(c);
        double row = lh > th ? lh : th;
        show_layout(r, c, cx, top + (row > ch ? (row - ch) / 2 : 0));
        g_object_unref(c);
    }
    show_layout(r, title, left_part ? r->right - tw : r->left, top);
    g_object_unref(title);
    double bottom = top + th;
    if (lh > bottom - top) bottom = top + lh;
    if (ch > bottom - top) bottom = top + ch;
    r->y = bottom + 6;
    hrule(r, r->left, r->right, r->y, 2.5);
    r->y += 2.5;
}

/* One table cell: a bold label in a column of width label_w, the value beside it. */
static double draw_cell(struct render *r, double x, double width, double label_w, const char *label,
                        const char *value, int max_lines, double y)
{
    double h1 = draw_text(r, "Bold 12", label, x, y, 0, 1);
    double h2 = draw_text(r, "12", value ? value : "", x + label_w, y, width - label_w, max_lines);
    return h1 > h2 ? h1 : h2;
}

static double text_width(struct render *r, const char *font, const char *text)
{
    PangoLayout *l = make_layout(r, font, text, 0, 0);
    double w = layout_width(l);
    g_object_unref(l);
    return w;
}

/* The To / From / Date / Pages grid and the full-width Subject row. */
static void draw_table(struct render *r, const struct opts *o)
{
    const double pad = 5, gap = 8, rule = 0.6;
    double mid = (r->left + r->right) / 2;
    double lw = text_width(r, "Bold 12", "Subject:") + gap;
    double rw = text_width(r, "Bold 12", "Pages:") + gap;
    char pages[64] = "";
    if (o->pages > 0) snprintf(pages, sizeof pages, "%d (including cover)", o->pages);
    const struct {
        const char *l1, *v1, *l2, *v2;
        int lines;
    } rows[] = {
        {"To:", o->to, "From:", o->from, 2},
        {"Fax:", o->to_numbers, "Fax:", o->from_number, 3},
        {"Date:", o->date, "Pages:", pages, 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        double y = r->y + pad;
        double h1 = draw_cell(r, r->left + 2, mid - r->left - 2 - gap, lw, rows[i].l1, rows[i].v1,
                              rows[i].lines, y);
        double h2 = draw_cell(r, mid + gap, r->right - mid - gap, rw, rows[i].l2, rows[i].v2,
                              rows[i].lines, y);
        double h = (h1 > h2 ? h1 : h2) + 2 * pad;
        vrule(r, mid, r->y, r->y + h, rule);
        r->y += h;
        hrule(r, r->left, r->right, r->y, rule);
        r->y += rule;
    }
    double h = draw_cell(r, r->left + 2, r->right - r->left - 2, lw, "Subject:", o->subject, 3,
                         r->y + pad);
    r->y += h + 2 * pad;
    hrule(r, r->left, r->right, r->y, rule);
    r->y += rule;
}

/* A check box drawn with lines (no glyph needed), crossed when ticked. */
static void draw_box(struct render *r, double x, double y, double size, bool ticked)
{
    cairo_t *cr = r->cr;
    cairo_set_line_width(cr, 1.3);
    cairo_rectangle(cr, x, y, size, size);
    cairo_stroke(cr);
    if (ticked) {
        double in = 2.4;
        cairo_set_line_width(cr, 1.8);
        cairo_move_to(cr, x + in, y + in);
        cairo_line_to(cr, x + size - in, y + size - in);
        cairo_move_to(cr, x + size - in, y + in);
        cairo_line_to(cr, x + in, y + size - in);
        cairo_stroke(cr);
    }
}

static void draw_flags(struct render *r, unsigned flags)
{
    static const struct {
        const char *label;
        unsigned bit;
    } items[] = {{"Urgent", FLAG_URGENT},
                 {"For review", FLAG_FOR_REVIEW},
                 {"Please reply", FLAG_PLEASE_REPLY},
                 {"Confidential", FLAG_CONFIDENTIAL}};
    const double box = 11, pad = 8;
    double cell = (r->right - r->left) / 4, y = r->y + pad, h = 0;
    for (int i = 0; i < 4; i++) {
        double x = r->left + 2 + i * cell;
        PangoLayout *l = make_layout(r, "12", items[i].label, cell - box - 10, 1);
        double base = (double)pango_layout_get_baseline(l) / PANGO_SCALE;
        draw_box(r, x, y + base - box + 0.5, box, flags & items[i].bit);
        show_layout(r, l, x + box + 6, y);
        if (layout_height(l) > h) h = layout_height(l);
        g_object_unref(l);
    }
    r->y = y + h + pad;
    hrule(r, r->left, r->right, r->y, 2.5);
    r->y += 2.5;
}

/* Counts the message lines that fit above r->bottom when the layout's top is at `top`;
 * *all says whether every line fits. */
static int lines_that_fit(struct render *r, PangoLayout *l, double top, bool *all)
{
    PangoLayoutIter *it = pango_layout_get_iter(l);
    int n = 0;
    *all = true;
    do {
        PangoRectangle log;
        pango_layout_iter_get_line_extents(it, NULL, &log);
        if (top + (double)(log.y + log.height) / PANGO_SCALE > r->bottom) {
            *all = false;
            break;
        }
        n++;
    } while (pango_layout_iter_next_line(it));
    pango_layout_iter_free(it);
    return n;
}

/* One line holding the start of the text from `from` on, cut with an ellipsis: what
 * replaces the last line when the message does not fit on the page. */
static PangoLayout *rest_layout(struct render *r, const char *from, double width)
{
    size_t n = strlen(from);
    if (n > 4000) { /* one line never shows more; cut at a character boundary */
        n = 4000;
        while (n > 0 && ((unsigned char)from[n] & 0xC0) == 0x80)
            n--;
    }
    char *rest = g_strndup(from, n);
    for (char *p = rest; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
    PangoLayout *l = make_layout(r, "11", rest, width, 1);
    g_free(rest);
    return l;
}

/* The message, wrapped to the content width and honouring its line breaks, drawn line by
 * line down to the bottom margin; text that does not fit ends in an ellipsis. */
static void draw_message(struct render *r, const char *msg)
{
    if (!msg || !*msg) return;
    double width = r->right - r->left, top = r->y + 12;
    PangoLayout *l = make_layout(r, "11", msg, width, 0);
    bool all;
    int fit = lines_that_fit(r, l, top, &all);
    PangoLayoutIter *it = pango_layout_get_iter(l);
    for (int i = 0; i < fit; i++, pango_layout_iter_next_line(it)) {
        PangoRectangle log;
        pango_layout_iter_get_line_extents(it, NULL, &log);
        double base = top + (double)pango_layout_iter_get_baseline(it) / PANGO_SCALE;
        PangoLayoutLine *line = pango_layout_iter_get_line_readonly(it);
        if (!all && i == fit - 1) {
            PangoLayout *rest = rest_layout(r, msg + line->start_index, width);
            double rb = (double)pango_layout_get_baseline(rest) / PANGO_SCALE;
            show_layout(r, rest, r->left, base - rb);
            g_object_unref(rest);
            break;
        }
        cairo_move_to(r->cr, r->left + (double)log.x / PANGO_SCALE, base);
        pango_cairo_show_layout_line(r->cr, line);
    }
    pango_layout_iter_free(it);
    g_object_unref(l);
}

static void draw_page(struct render *r, const struct opts *o, cairo_surface_t *logo)
{
    draw_header(r, o, logo);
    draw_table(r, o);
    draw_flags(r, o->flags);
    draw_message(r, o->message);
}

/* ---- output ---- */

/* The page as 1-bit rows (MSB first, 1 = black). Text and rules are already pure black
 * or white; a logo's greys are error-diffused (Floyd–Steinberg), which leaves pure
 * pixels unchanged, so only pages with a logo pay for it. */
static uint8_t *page_bits(cairo_surface_t *s, int lines, bool dither)
{
    const int stride = cairo_image_surface_get_stride(s);
    const unsigned char *data = cairo_image_surface_get_data(s);
    uint8_t *bits = calloc((size_t)lines, PAGE_WIDTH / 8);
    int *err = calloc(2 * (PAGE_WIDTH + 2), sizeof *err);
    if (!bits || !err) {
        free(bits);
        free(err);
        return NULL;
    }
    for (int y = 0; y < lines; y++) {
        const uint32_t *px = (const uint32_t *)(const void *)(data + (size_t)y * stride);
        int *cur = err + (y & 1) * (PAGE_WIDTH + 2) + 1;
        int *next = err + ((y + 1) & 1) * (PAGE_WIDTH + 2) + 1;
        memset(next - 1, 0, (PAGE_WIDTH + 2) * sizeof *next);
        for (int x = 0; x < PAGE_WIDTH; x++) {
            uint32_t p = px[x];
            int luma =
                (int)(((p >> 16 & 0xff) * 299 + (p >> 8 & 0xff) * 587 + (p & 0xff) * 114) / 1000);
            int v = luma + (dither ? cur[x] / 16 : 0);
            int e = v < 128 ? v : v - 255;
            if (v < 128) bits[(size_t)y * (PAGE_WIDTH / 8) + x / 8] |= (uint8_t)(0x80 >> (x & 7));
            if (dither) {
                cur[x + 1] += e * 7;
                next[x - 1] += e * 3;
                next[x] += e * 5;
                next[x + 1] += e;
            }
        }
    }
    free(err);
    return bits;
}

static bool write_pbm(const char *path, const uint8_t *bits, int lines)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "faxd-cover: cannot create %s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = fprintf(f, "P4\n%d %d\n", PAGE_WIDTH, lines) > 0 &&
              fwrite(bits, PAGE_WIDTH / 8, (size_t)lines, f) == (size_t)lines;
    ok = fflush(f) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok) fprintf(stderr, "faxd-cover: cannot write %s: %s\n", path, strerror(errno));
    return ok;
}

/* A Pango context drawing on cr with crisp bilevel glyphs hinted to the device grid.
 *
 * Pango 1.50 mishandles an anisotropic matrix: given 204×98 it shapes and sizes glyphs
 * as if the page were 98×98 (text squeezed to half its width, empty lines a third of
 * their height). So Pango lays text out in plain points (identity matrix, unhinted
 * metrics, unrounded positions) and only cairo sees the real transformation: cairo-ft
 * rasterises each glyph with different x and y sizes, hinted for the device grid. */
static PangoContext *bilevel_context(cairo_t *cr)
{
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_NONE);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_FULL);
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    PangoContext *pc = pango_cairo_create_context(cr);
    pango_cairo_context_set_font_options(pc, fo);
    pango_cairo_context_set_resolution(pc, 72); /* user units are points: "12" = 12 pt */
    pango_context_set_round_glyph_positions(pc, FALSE);
    pango_context_set_matrix(pc, NULL);
    cairo_font_options_destroy(fo);
    return pc;
}

static int render(const struct opts *o)
{
    const int lpi = o->normal ? 98 : 196;
    const int lines = (o->letter ? 2156 : 2292) / (o->normal ? 2 : 1);
    cairo_surface_t *logo = NULL;
    if (o->logo && !(logo = load_logo(o->logo))) return EXIT_RENDER;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, PAGE_WIDTH, lines);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    /* Draw in points on the real page: 1728 px at 204 dpi is 215 mm across. */
    cairo_scale(cr, XDPI / 72.0, lpi / 72.0);
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
    cairo_set_source_rgb(cr, 0, 0, 0);
    struct render r = {.cr = cr, .pc = bilevel_context(cr)};
    r.w_pt = PAGE_WIDTH * 72.0 / XDPI;
    r.h_pt = lines * 72.0 / lpi;
    r.line_pt = 72.0 / lpi;
    r.left = 48;
    r.right = r.w_pt - 48;
    r.bottom = r.h_pt - 40;
    r.y = 36;
    draw_page(&r, o, logo);
    g_object_unref(r.pc);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    int rc = EXIT_RENDER;
    uint8_t *bits = NULL;
    if (st != CAIRO_STATUS_SUCCESS)
        fprintf(stderr, "faxd-cover: cairo: %s\n", cairo_status_to_string(st));
    else if (!(bits = page_bits(s, lines, logo != NULL)))
        fprintf(stderr, "faxd-cover: out of memory\n");
    else if (write_pbm(o->out, bits, lines))
        rc = 0;
    free(bits);
    cairo_surface_destroy(s);
    if (logo) cairo_surface_destroy(logo);
    return rc;
}

/* In sanitizer builds LeakSanitizer reads this: fontconfig 2.14 leaks a little while it
 * parses its configuration (not ours to fix), and a leak report would make this program
 * exit non-zero. Every other leak is still reported. Unused in normal builds. */
const char *__lsan_default_suppressions(void);
__attribute__((used)) const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    int rc = parse_args(argc, argv, &o) ? render(&o) : EXIT_ARGS;
    free_opts(&o);
    /* Drop Pango's and cairo's caches so a leak checker sees only real leaks. */
    pango_cairo_font_map_set_default(NULL);
    return rc;
}
