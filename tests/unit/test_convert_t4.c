/* Every kind of document faxd converts is accepted by spandsp's T.4 transmitter: each
 * converted fax (PDF, Office, text, images, pass-through fax TIFFs in both codings and
 * bit orders, a cover page) is sent through two fax sessions back to back over T.38 on
 * sample time, and must end with T.30 code 0 and every page confirmed. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "convert_cfg.h"
#include "convert/convert.h"
#include "fax/fax.h"

static char fixtures[2048], libexec[PATH_MAX], tmp[256];

struct pktq {
    uint8_t data[256][512];
    uint16_t len[256];
    unsigned head, tail;
    uint16_t seq;
};

static void push(const uint8_t *ifp, size_t len, int count, void *arg)
{
    (void)count;
    struct pktq *q = arg;
    if (q->tail - q->head < 256 && len <= 512) {
        memcpy(q->data[q->tail % 256], ifp, len);
        q->len[q->tail % 256] = (uint16_t)len;
        q->tail++;
    }
}

static void deliver(struct pktq *q, struct fx_fax_session *to)
{
    while (q->head != q->tail) {
        unsigned i = q->head++ % 256;
        fx_fax_t38_rx(to, q->data[i], q->len[i], q->seq++);
    }
}

/* Sends tiff through T.38 back to back; returns the sender's confirmed pages or -1. */
static int send_through_t38(const char *tiff, int *code)
{
    static struct pktq qa, qb;
    memset(&qa, 0, sizeof qa);
    memset(&qb, 0, sizeof qb);
    char rx[512];
    snprintf(rx, sizeof rx, "%s/rx.tif", tmp);
    struct fx_fax_config tx = {.calling = true, .sending = true, .mode = FX_FAX_T38,
                               .tiff_path = tiff, .start_page = -1, .stop_page = -1,
                               .ident = "+15550100001", .header_info = "faxd test",
                               .ecm = true, .no_media_timeout_ms = 30000,
                               .max_duration_ms = 3600000, .log_tag = "t4test",
                               .t38_tx = push, .t38_arg = &qa, .t38_max_rate = 14400};
    struct fx_fax_config rc = tx;
    rc.calling = rc.sending = false;
    rc.tiff_path = rx;
    rc.header_info = NULL;
    rc.t38_arg = &qb;
    struct fx_fax_session *a = NULL, *b = NULL;
    if (fx_fax_new(&tx, &a) || fx_fax_new(&rc, &b)) {
        fx_fax_free(a);
        fx_fax_free(b);
        return -1;
    }
    for (int t = 0; t < 3000 * 60 && (!fx_fax_done(a) || !fx_fax_done(b)); t++) {
        deliver(&qa, b);
        deliver(&qb, a);
        fx_fax_tick(a, FX_FAX_FRAME);
        fx_fax_tick(b, FX_FAX_FRAME);
    }
    *code = fx_fax_result(a)->t30_code;
    int pages = fx_fax_result(a)->pages_confirmed;
    fx_fax_free(a);
    fx_fax_free(b);
    unlink(rx);
    return pages;
}

static void check_doc(struct fx_convert *c, const char *name, bool cover, enum fx_res res)
{
    char path[2300], out[512];
    snprintf(path, sizeof path, "%s/%s", fixtures, name);
    snprintf(out, sizeof out, "%s/out.tif", tmp);
    struct fx_convert_doc doc = {.path = path, .name = name};
    struct fx_cover cv = {.name_to = "Bob", .name_from = "Ana", .subject = "T.4",
                          .to_numbers = "+15550100002", .from_number = "+15550100001"};
    struct fx_convert_job job = {.docs = &doc, .n_docs = 1, .cover = cover ? &cv : NULL,
                                 .paper = FX_PAPER_A4, .res = res, .enhance = true,
                                 .out_path = out};
    struct fx_convert_result r = {.failed_doc = -1};
    CHECK(fx_convert_run(c, &job, &r) == FX_OK);
    CHECK(r.status == NULL);
    if (r.status) {
        fprintf(stderr, "%s: %s (%s)\n", name, r.status, r.detail);
        return;
    }
    int code = -1, sent = send_through_t38(out, &code);
    printf("  %-24s pages=%d sent=%d t30=%d\n", name, r.pages, sent, code);
    CHECK(code == 0);
    CHECK(sent == r.pages);
    unlink(out);
}

int main(void)
{
    const char *data = getenv("FAXD_TEST_DATA");
    snprintf(fixtures, sizeof fixtures, "%s/fixtures", data ? data : "tests/data");
    fx_test_libexec(libexec, sizeof libexec);
    snprintf(tmp, sizeof tmp, "/tmp/faxd-test-t4-XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    struct fx_convert_cfg cfg;
    fx_test_convert_cfg(&cfg, tmp, libexec);
    struct fx_convert *c = NULL;
    CHECK(fx_convert_new(&cfg, &c) == FX_OK);
    if (c) {
        static const char *const docs[] = {
            "letter_a4.pdf", "letter_us.pdf", "mixed_orientation.pdf", "scan_image.pdf",
            "huge_page.pdf", "letter.docx", "invoice.xlsx", "report.txt", "letter_cp1252.txt",
            "photo.jpg", "scan_phone.jpg", "logo_alpha.png", "multipage_mixed.tiff",
            "fax_g3_fine.tif", "fax_g3_normal.tif"};
        for (size_t i = 0; i < sizeof docs / sizeof *docs; i++)
            check_doc(c, docs[i], false, FX_RES_FINE);
        check_doc(c, "letter_a4.pdf", true, FX_RES_FINE);
        check_doc(c, "letter.docx", true, FX_RES_NORMAL);
        check_doc(c, "fax_g3_normal.tif", false, FX_RES_NORMAL);
        fx_convert_free(c);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return fx_check_result("test_convert_t4");
}
