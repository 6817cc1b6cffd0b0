/* Unit tests for inbound calls in progress in the store (issue 8): a call's row and
 * pages under a lease, the takeover of a dead node's call by another node (one claim per
 * row, one record per fax), the record's transaction removing the row and its page
 * blobs, start-up release; and fx_convert_tiff_gather, which copies received pages out
 * and joins them back. Runs on SQLite and PostgreSQL (store_backend.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h>

#include "check.h"
#include "convert/convert.h"
#include "store/store.h"
#include "store_backend.h"

static char fixtures[2048];

static struct fx_store *open_tmp(char *dir, const char *node)
{
    strcpy(dir, "/tmp/faxd-storerx-XXXXXX");
    return mkdtemp(dir) ? fx_test_store_open(dir, node, 0) : NULL;
}

static bool blob_exists(struct fx_store *s, const char *key)
{
    char path[4400];
    return fx_blob_path(s, key, path, sizeof path) == FX_OK && access(path, F_OK) == 0;
}

static void new_call(struct fx_rx_call *c, const char *owner, int64_t started, int64_t until)
{
    memset(c, 0, sizeof *c);
    fx_id_new(c->id);
    strcpy(c->to, "+12025550100");
    strcpy(c->from, "+13035550199");
    strcpy(c->transport, "audio");
    strcpy(c->line, "trunk-a");
    strcpy(c->lease_owner, owner);
    c->started = started;
    c->lease_until = until;
}

struct pages {
    int n;
    int page[8];
    char blob[8][96];
};

static enum fx_err on_page(int page, const char *blob, void *arg)
{
    struct pages *p = arg;
    if (p->n < 8) {
        p->page[p->n] = page;
        strcpy(p->blob[p->n], blob);
    }
    p->n++;
    return FX_OK;
}

static struct pages pages_of(struct fx_store *s, const char *id)
{
    struct pages p = {0};
    CHECK(fx_store_rx_pages(s, id, on_page, &p) == FX_OK);
    return p;
}

/* A call's row and its pages while its node holds the lease. */
static void test_pages_under_lease(void)
{
    char dir[64], me[FX_UID_SIZE], k1[96], k2[96], k3[96];
    struct fx_store *s = open_tmp(dir, NULL);
    CHECK(s != NULL);
    if (!s) return;
    fx_store_lease_owner(s, me);
    struct fx_rx_call c, got;
    new_call(&c, me, 1000, 1060);
    CHECK(fx_store_rx_begin(s, &c) == FX_OK);
    CHECK(fx_store_rx_begin(s, &c) == FX_ERR_CONFLICT);
    fx_test_put_blob(s, "page one", k1);
    fx_test_put_blob(s, "page two", k2);
    fx_test_put_blob(s, "page three", k3);
    CHECK(fx_store_rx_page(s, c.id, me, 2, k2, 1070) == FX_ERR_NOT_FOUND); /* not the next */
    CHECK(fx_store_rx_page(s, c.id, "someone else", 1, k1, 1070) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_rx_page(s, "no such call", me, 1, k1, 1070) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_rx_page(s, c.id, me, 1, k1, 1070) == FX_OK);
    CHECK(fx_store_rx_page(s, c.id, me, 1, k1, 1070) == FX_ERR_NOT_FOUND); /* stored once */
    CHECK(fx_store_rx_page(s, c.id, me, 2, k2, 1080) == FX_OK);
    struct pages p = pages_of(s, c.id);
    CHECK(p.n == 2 && p.page[0] == 1 && p.page[1] == 2);
    CHECK_STR(p.blob[0], k1);
    CHECK_STR(p.blob[1], k2);
    /* Renewed by each page and on its own: nobody can claim it while it lives. */
    CHECK(fx_store_rx_claim(s, "other", 1079, 60, &got) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_lease_renew(s, FX_STORE_LEASE_RX, c.id, me, 1200) == FX_OK);
    CHECK(fx_store_lease_renew(s, FX_STORE_LEASE_RX, c.id, "someone else", 1300) ==
          FX_ERR_NOT_FOUND);
    CHECK(fx_store_rx_claim(s, "other", 1199, 60, &got) == FX_ERR_NOT_FOUND);
    /* A call that ends with nothing to keep takes its pages with it. */
    CHECK(fx_store_rx_end(s, c.id) == FX_OK);
    CHECK(pages_of(s, c.id).n == 0);
    CHECK(!blob_exists(s, k1) && !blob_exists(s, k2) && blob_exists(s, k3));
    CHECK(fx_store_rx_end(s, c.id) == FX_OK); /* already gone: fine */
    CHECK(fx_store_rx_claim(s, "other", 5000, 60, &got) == FX_ERR_NOT_FOUND);
    fx_store_close(s);
}

static void make_number(struct fx_store *s, const char *number, char uid[FX_UID_SIZE])
{
    struct fx_account a = {0};
    strcpy(a.account_type, "individual");
    CHECK(fx_store_account_create(s, &a) == FX_OK);
    strcpy(uid, a.uid);
    struct fx_number n = {0};
    strcpy(n.number, number);
    strcpy(n.owner_id, uid);
    n.assigned_to = "[]";
    n.notifications = "[]";
    strcpy(n.status, "active");
    CHECK(fx_store_number_create(s, &n) == FX_OK);
    struct fx_hook h = {0};
    strcpy(h.uid, uid);
    strcpy(h.target, "https://example.com/hook");
    strcpy(h.event, "fax_received");
    CHECK(fx_store_hook_create(s, &h) == FX_OK);
}

/* The record a takeover (or the call's own node) writes under the call's id. */
static void received(const struct fx_rx_call *c, const char *uid, int pages, const char *blob,
                     struct fx_attempt *a, struct fx_fax *f)
{
    memset(a, 0, sizeof *a);
    memset(f, 0, sizeof *f);
    strcpy(f->id, c->id);
    strcpy(f->owner_id, uid);
    strcpy(f->direction, "incoming");
    strcpy(f->category, "inbox");
    strcpy(f->status, "partially_received");
    f->pages = pages;
    strcpy(f->blob, blob);
    strcpy(f->to, c->to);
    strcpy(f->from, c->from);
    f->start_time = f->sort_time = c->started;
    strcpy(a->fax_id, c->id);
    strcpy(a->direction, "incoming");
    strcpy(a->status, f->status);
    a->pages = pages;
}

static int hook_deliveries;

static enum fx_err count_delivery(const struct fx_delivery *d, void *arg)
{
    CHECK_STR(d->fax_id, (const char *)arg);
    CHECK_STR(d->event, "fax_received");
    hook_deliveries++;
    return FX_OK;
}

/* Node a dies during a call; nodes b and c race for it once its lease expired: one
 * claims it, the fax is recorded once, the row and its page blobs go with the record. */
static void test_takeover_by_another_node(void)
{
    char dir[64], wa[FX_UID_SIZE], wb[FX_UID_SIZE], wc[FX_UID_SIZE], uid[FX_UID_SIZE];
    struct fx_store *a = open_tmp(dir, "node-a");
    struct fx_store *b = a ? fx_test_store_open(dir, "node-b", 0) : NULL;
    struct fx_store *c = b ? fx_test_store_open(dir, "node-c", 0) : NULL;
    CHECK(a && b && c);
    if (!a || !b || !c) return;
    fx_store_lease_owner(a, wa);
    fx_store_lease_owner(b, wb);
    fx_store_lease_owner(c, wc);
    make_number(a, "+12025550100", uid);
    struct fx_rx_call call, older, got, got2;
    new_call(&call, wa, 2000, 2010);
    new_call(&older, wa, 1500, 2030);
    CHECK(fx_store_rx_begin(a, &call) == FX_OK);
    CHECK(fx_store_rx_begin(a, &older) == FX_OK);
    char k1[96], k2[96], whole[96];
    fx_test_put_blob(a, "page one", k1);
    fx_test_put_blob(a, "page two", k2);
    CHECK(fx_store_rx_page(a, call.id, wa, 1, k1, 2020) == FX_OK);
    CHECK(fx_store_rx_page(a, call.id, wa, 2, k2, 2030) == FX_OK);
    /* Node a is gone: nothing renews. Before the lease ends nobody takes the calls. */
    CHECK(fx_store_rx_claim(b, wb, 2030, 5, &got) == FX_ERR_NOT_FOUND);
    /* The oldest call first. */
    CHECK(fx_store_rx_claim(b, wb, 2031, 5, &got) == FX_OK);
    CHECK_STR(got.id, older.id);
    CHECK(fx_store_rx_end(b, older.id) == FX_OK); /* no page: nothing to keep */
    CHECK(fx_store_rx_claim(b, wb, 2031, 5, &got) == FX_OK);
    CHECK_STR(got.id, call.id);
    CHECK_STR(got.to, "+12025550100");
    CHECK_STR(got.from, "+13035550199");
    CHECK_STR(got.transport, "audio");
    CHECK_STR(got.line, "trunk-a");
    CHECK(got.started == 2000 && got.pages == 2);
    CHECK_STR(got.lease_owner, wb);
    CHECK(got.lease_until == 2036);
    /* b holds it now: c finds nothing, and a (had it lived on) lost it. */
    CHECK(fx_store_rx_claim(c, wc, 2032, 5, &got2) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_lease_renew(a, FX_STORE_LEASE_RX, call.id, wa, 2100) == FX_ERR_NOT_FOUND);
    char k3[96];
    fx_test_put_blob(a, "page three", k3);
    CHECK(fx_store_rx_page(a, call.id, wa, 3, k3, 2100) == FX_ERR_NOT_FOUND);
    fx_blob_remove(a, k3);
    /* b is slow: its lease ends too and c claims the call as well. */
    CHECK(fx_store_rx_claim(c, wc, 2037, 5, &got2) == FX_OK);
    CHECK_STR(got2.id, call.id);
    CHECK(pages_of(c, call.id).n == 2);
    /* Both store the fax under the call's id: it exists once, with one webhook. */
    struct fx_attempt at;
    struct fx_fax f;
    fx_test_put_blob(c, "the joined pages", whole);
    received(&got2, uid, 2, whole, &at, &f);
    CHECK(fx_store_fax_received(c, &at, &f) == FX_OK);
    CHECK(pages_of(c, call.id).n == 0);
    CHECK(!blob_exists(c, k1) && !blob_exists(c, k2) && blob_exists(c, whole));
    CHECK(fx_store_rx_claim(b, wb, 9000, 5, &got) == FX_ERR_NOT_FOUND);
    char whole_b[96];
    fx_test_put_blob(b, "the joined pages", whole_b);
    received(&got, uid, 2, whole_b, &at, &f);
    strcpy(f.id, call.id);
    strcpy(at.fax_id, call.id);
    CHECK(fx_store_fax_received(b, &at, &f) == FX_ERR_CONFLICT);
    struct fx_fax rec;
    CHECK(fx_store_fax_get(a, call.id, &rec) == FX_OK);
    CHECK(rec.pages == 2);
    CHECK_STR(rec.status, "partially_received");
    CHECK_STR(rec.blob, whole);
    fx_store_fax_clear(&rec);
    hook_deliveries = 0;
    struct fx_delivery d;
    int64_t now = fx_clock_now() + 10; /* deliveries are due from their real creation time */
    while (fx_store_delivery_claim(a, wa, now, 60, &d) == FX_OK) {
        CHECK(count_delivery(&d, call.id) == FX_OK);
        CHECK(fx_store_delivery_attempted(a, d.id, wa, "done", 200, NULL, now, 0) == FX_OK);
    }
    CHECK(hook_deliveries == 1);
    fx_store_close(c);
    fx_store_close(b);
    fx_store_close(a);
}

/* A node restarting takes its own rows back at once (PostgreSQL: only its own; SQLite:
 * one process owns the store, so all). */
static void test_release_at_start(void)
{
    char dir[64], wa[FX_UID_SIZE], wb[FX_UID_SIZE];
    struct fx_store *a = open_tmp(dir, "node-a");
    struct fx_store *b = a ? fx_test_store_open(dir, "node-b", 0) : NULL;
    CHECK(a && b);
    if (!a || !b) return;
    fx_store_lease_owner(a, wa);
    fx_store_lease_owner(b, wb);
    struct fx_rx_call ca, cb, got;
    new_call(&ca, wa, 1000, 5000);
    new_call(&cb, wb, 1001, 5000);
    CHECK(fx_store_rx_begin(a, &ca) == FX_OK);
    CHECK(fx_store_rx_begin(b, &cb) == FX_OK);
    CHECK(fx_store_rx_claim(a, wa, 1100, 60, &got) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_rx_release_leases(a) == FX_OK);
    CHECK(fx_store_rx_claim(a, wa, 1100, 60, &got) == FX_OK);
    CHECK_STR(got.id, ca.id);
    enum fx_err e = fx_store_rx_claim(a, wa, 1100, 60, &got);
    CHECK(e == (fx_test_on_pg() ? FX_ERR_NOT_FOUND : FX_OK));
    if (!e) CHECK_STR(got.id, cb.id);
    fx_store_close(b);
    fx_store_close(a);
}

/* Pixels of page `page` of a TIFF, row by row, into a new buffer (*n bytes). */
static unsigned char *pixels(const char *path, int page, size_t *n)
{
    TIFF *t = TIFFOpen(path, "r");
    if (!t) return NULL;
    unsigned char *buf = NULL;
    uint32_t h = 0;
    if (TIFFSetDirectory(t, (tdir_t)page) && TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h)) {
        tmsize_t line = TIFFScanlineSize(t);
        *n = (size_t)line * h;
        buf = malloc(*n);
        for (uint32_t y = 0; buf && y < h; y++)
            if (TIFFReadScanline(t, buf + (size_t)y * (size_t)line, y, 0) < 0) {
                free(buf);
                buf = NULL;
            }
    }
    TIFFClose(t);
    return buf;
}

static bool same_page(const char *a, int pa, const char *b, int pb)
{
    size_t na = 0, nb = 0;
    unsigned char *x = pixels(a, pa, &na), *y = pixels(b, pb, &nb);
    bool same = x && y && na == nb && na > 0 && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

/* Pages copied out one by one and joined back, in another order: the same images. */
static void test_tiff_gather(void)
{
    char dir[64] = "/tmp/faxd-gather-XXXXXX", src[2200], p0[128], p1[128], joined[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(src, sizeof src, "%s/fax_g3_fine.tif", fixtures);
    snprintf(p0, sizeof p0, "%s/p0.tif", dir);
    snprintf(p1, sizeof p1, "%s/p1.tif", dir);
    snprintf(joined, sizeof joined, "%s/joined.tif", dir);
    const char *one[1] = {src};
    CHECK(fx_convert_tiff_gather(one, 1, 0, p0) == FX_OK);
    CHECK(fx_convert_tiff_gather(one, 1, 1, p1) == FX_OK);
    CHECK(fx_convert_tiff_gather(one, 1, 2, joined) == FX_ERR_INVALID); /* no third page */
    CHECK(access(joined, F_OK) != 0);
    int n = 0;
    CHECK(fx_convert_tiff_pages(p1, &n) == FX_OK && n == 1);
    const char *both[2] = {p1, p0};
    CHECK(fx_convert_tiff_gather(both, 2, 0, joined) == FX_OK);
    CHECK(fx_convert_tiff_pages(joined, &n) == FX_OK && n == 2);
    CHECK(same_page(joined, 0, src, 1));
    CHECK(same_page(joined, 1, src, 0));
    char gray[2200];
    snprintf(gray, sizeof gray, "%s/multipage_mixed.tiff", fixtures);
    const char *g[1] = {gray};
    CHECK(fx_convert_tiff_gather(g, 1, 0, joined) == FX_ERR_INVALID); /* not bilevel */
    unlink(p0);
    unlink(p1);
    unlink(joined);
    rmdir(dir);
}

int main(void)
{
    const char *data = getenv("FAXD_TEST_DATA");
    snprintf(fixtures, sizeof fixtures, "%s/fixtures", data ? data : "tests/data");
    test_pages_under_lease();
    test_takeover_by_another_node();
    test_release_at_start();
    test_tiff_gather();
    return fx_check_result("test_store_rx");
}
