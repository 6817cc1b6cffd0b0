/* Unit tests for the store functions the converter workers use: claiming outbox
 * records with a lease, recording a conversion, failing every destination, the
 * documents and destinations of a record, and releasing leases at start-up. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store_backend.h"
#include "store/store.h"

static struct fx_store *open_tmp(char *dir)
{
    strcpy(dir, "/tmp/faxd-storeq-XXXXXX");
    return mkdtemp(dir) ? fx_test_store_open(dir, NULL, 0) : NULL;
}

static void make_account(struct fx_store *s, char uid[FX_UID_SIZE])
{
    struct fx_account a = {0};
    strcpy(a.account_type, "individual");
    CHECK(fx_store_account_create(s, &a) == FX_OK);
    strcpy(uid, a.uid);
}

static void make_upload(struct fx_store *s, const char *uid, const char *name, char path[48])
{
    struct fx_upload u = {0};
    strcpy(u.uid, uid);
    strcpy(u.name, name);
    strcpy(u.mime, "application/pdf");
    strcpy(u.blob, "ab/abcdef");
    strcpy(u.sha256, "00");
    u.size = 10;
    CHECK(fx_store_upload_create(s, &u) == FX_OK);
    strcpy(path, u.path);
}

/* An outbox record with two documents and three destinations, one refused. */
static void make_outbox(struct fx_store *s, const char *uid, const char *const files[2],
                        int64_t submit, struct fx_outbox *o, struct fx_dest d[3])
{
    memset(o, 0, sizeof *o);
    strcpy(o->uid, uid);
    strcpy(o->status, "submitted");
    strcpy(o->src, "+15550100001");
    o->submit_time = o->status_time = submit;
    o->comment_text = "hello";
    o->cover_page = "{\"name_to\":\"Bob\",\"name_from\":\"Ann\",\"subject\":\"Hi\"}";
    o->retry_count = 2;
    o->retry_delay = 5;
    memset(d, 0, 3 * sizeof *d);
    const char *raw[3] = {"+1 202 555 0100", "bogus", "+12025550101"};
    const char *num[3] = {"+12025550100", "", "+12025550101"};
    for (int i = 0; i < 3; i++) {
        fx_id_new(d[i].fax_id);
        strcpy(d[i].raw, raw[i]);
        strcpy(d[i].number, num[i]);
    }
    CHECK(fx_store_outbox_create(s, o, files, 2, d, 3, NULL, 0) == FX_OK);
}

/* A fresh store with an account (uid) and one upload (p1). */
static struct fx_store *open_with_upload(char dir[64], char uid[FX_UID_SIZE], char p1[48])
{
    struct fx_store *s = open_tmp(dir);
    CHECK(s != NULL);
    if (!s) return NULL;
    make_account(s, uid);
    make_upload(s, uid, "a.pdf", p1);
    return s;
}

struct seen {
    char names[4][64];
    int n;
};

static enum fx_err on_upload(const struct fx_upload *u, void *arg)
{
    struct seen *sn = arg;
    if (sn->n < 4) strcpy(sn->names[sn->n], u->name);
    sn->n++;
    return FX_OK;
}

static enum fx_err on_dest(const struct fx_dest *d, void *arg)
{
    struct seen *sn = arg;
    if (sn->n < 4) strcpy(sn->names[sn->n], d->number);
    sn->n++;
    return FX_OK;
}

static enum fx_err count_fax(const struct fx_fax *f, void *arg)
{
    CHECK_STR(f->status, "failed_office_converter_issue");
    CHECK_STR(f->description, "letter.docx: corrupt");
    CHECK_STR(f->comment, "hello");
    CHECK(f->max_retry == 2 && f->retry_delay == 5);
    CHECK(f->pages == 0);
    CHECK(strstr(f->cover_page, "\"Bob\"") != NULL);
    (*(int *)arg)++;
    return FX_OK;
}

static void test_claim_and_convert(void)
{
    char dir[64], uid[FX_UID_SIZE], p1[48], p2[48];
    struct fx_store *s = open_tmp(dir);
    CHECK(s != NULL);
    if (!s) return;
    make_account(s, uid);
    make_upload(s, uid, "a.pdf", p1);
    make_upload(s, uid, "b.docx", p2);
    const char *files[2] = {p2, p1}; /* order is the request's, not the upload's */
    struct fx_outbox o, late, c;
    struct fx_dest d[3], d2[3];
    make_outbox(s, uid, files, 100, &o, d);
    make_outbox(s, uid, files, 200, &late, d2);

    struct seen sn = {0};
    CHECK(fx_store_outbox_uploads(s, o.id, on_upload, &sn) == FX_OK);
    CHECK(sn.n == 2);
    CHECK_STR(sn.names[0], "b.docx");
    CHECK_STR(sn.names[1], "a.pdf");
    memset(&sn, 0, sizeof sn);
    CHECK(fx_store_outbox_dests(s, o.id, on_dest, &sn) == FX_OK);
    CHECK(sn.n == 2); /* the refused destination is not pending */
    CHECK_STR(sn.names[0], "+12025550100");
    CHECK_STR(sn.names[1], "+12025550101");

    /* Oldest first; a claimed record is not claimed twice while its lease runs. */
    CHECK(fx_store_outbox_claim_convert(s, "w1", 1000, 60, &c) == FX_OK);
    CHECK_STR(c.id, o.id);
    CHECK_STR(c.status, "converting");
    CHECK_STR(c.comment_text, "hello");
    CHECK(strstr(c.status_changes, "\"converting\"") != NULL);
    fx_store_outbox_clear(&c);
    CHECK(fx_store_outbox_claim_convert(s, "w2", 1001, 60, &c) == FX_OK);
    CHECK_STR(c.id, late.id);
    fx_store_outbox_clear(&c);
    CHECK(fx_store_outbox_claim_convert(s, "w3", 1002, 60, &c) == FX_ERR_NOT_FOUND);
    /* After the lease expires, another worker takes it over (no second history step). */
    CHECK(fx_store_outbox_claim_convert(s, "w3", 1061, 60, &c) == FX_OK);
    CHECK_STR(c.id, o.id);
    CHECK_STR(c.lease_owner, "w3");
    const char *first = strstr(c.status_changes, "\"converting\"");
    CHECK(first && !strstr(first + 1, "\"converting\""));
    fx_store_outbox_clear(&c);

    /* Only the lease holder records the outcome. */
    CHECK(fx_store_outbox_converted(s, o.id, "w1", "cd/cdef.tiff", 3, 1100) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_outbox_converted(s, o.id, "w3", "cd/cdef.tiff", 3, 1100) == FX_OK);
    CHECK(fx_store_outbox_get(s, o.id, &c) == FX_OK);
    CHECK_STR(c.status, "scheduled_for_sending");
    CHECK_STR(c.doc_blob, "cd/cdef.tiff");
    CHECK(c.page_count == 3);
    CHECK(c.lease_owner[0] == 0);
    fx_store_outbox_clear(&c);
    /* A converted record is no longer claimable. */
    CHECK(fx_store_outbox_claim_convert(s, "w4", 99999, 60, &c) == FX_OK);
    CHECK_STR(c.id, late.id); /* only the other one, its lease long expired */
    fx_store_outbox_clear(&c);

    /* Failing every destination writes one record each and removes the outbox. */
    int n = 0;
    CHECK(fx_store_outbox_fail_all(s, late.id, "w2", "failed_office_converter_issue",
                                   "letter.docx: corrupt", 2000, &n) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_outbox_fail_all(s, late.id, "w4", "failed_office_converter_issue",
                                   "letter.docx: corrupt", 2000, &n) == FX_OK);
    CHECK(n == 2);
    CHECK(fx_store_outbox_get(s, late.id, &c) == FX_ERR_NOT_FOUND);
    struct fx_fax f;
    CHECK(fx_store_fax_get(s, d2[0].fax_id, &f) == FX_OK);
    CHECK_STR(f.to, "+1 202 555 0100");
    CHECK_STR(f.from, "+15550100001");
    CHECK_STR(f.category, "sent");
    CHECK(f.submit_time == 200 && f.sort_time == 200);
    fx_store_fax_clear(&f);
    int counted = 0;
    struct fx_fax_query qy = {.owner_id = uid, .category = "sent", .limit = 50};
    CHECK(fx_store_fax_list(s, &qy, count_fax, &counted) == FX_OK);
    CHECK(counted == 2);
    memset(&sn, 0, sizeof sn);
    CHECK(fx_store_outbox_uploads(s, late.id, on_upload, &sn) == FX_OK);
    CHECK(sn.n == 0);
    fx_store_close(s);
}

static void test_release_leases(void)
{
    char dir[64], uid[FX_UID_SIZE], p1[48];
    struct fx_store *s = open_tmp(dir);
    CHECK(s != NULL);
    if (!s) return;
    make_account(s, uid);
    make_upload(s, uid, "a.pdf", p1);
    const char *files[2] = {p1, p1};
    struct fx_outbox o, c;
    struct fx_dest d[3];
    make_outbox(s, uid, files, 100, &o, d);
    char dead[FX_UID_SIZE];
    fx_store_lease_owner(s, dead); /* a worker of this node, before a crash */
    CHECK(fx_store_outbox_claim_convert(s, dead, 1000, 3600, &c) == FX_OK);
    fx_store_outbox_clear(&c);
    CHECK(fx_store_outbox_claim_convert(s, "new", 1001, 60, &c) == FX_ERR_NOT_FOUND);
    /* Start-up after a crash: the dead worker's lease is released at once. */
    CHECK(fx_store_outbox_release_leases(s) == FX_OK);
    CHECK(fx_store_outbox_claim_convert(s, "new", 1002, 60, &c) == FX_OK);
    CHECK_STR(c.id, o.id);
    fx_store_outbox_clear(&c);
    /* Cancelling while converting removes it; the worker's outcome then finds nothing. */
    CHECK(fx_store_outbox_cancel(s, o.id) == FX_OK);
    CHECK(fx_store_outbox_converted(s, o.id, "new", "x/y", 1, 1003) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_outbox_fail_all(s, o.id, "new", "failed", "x", 1003, NULL) ==
          FX_ERR_NOT_FOUND);
    fx_store_close(s);
}

/* Another process on the same store, named node (NULL: the default name). */
static struct fx_store *open_node(const char *dir, const char *node)
{
    return fx_test_store_open(dir, node, 0);
}

/* Two nodes' handles on one store (the second named node-b), a worker owner id of the
 * first and two of the second, and an account with an upload. */
struct pair {
    char dir[64], uid[FX_UID_SIZE], p1[48];
    const char *files[2];
    struct fx_store *a, *b;
    char wa[FX_UID_SIZE], wb[FX_UID_SIZE], wb2[FX_UID_SIZE];
};

static bool open_pair(struct pair *p)
{
    p->a = open_tmp(p->dir);
    p->b = p->a ? open_node(p->dir, "node-b") : NULL;
    CHECK(p->a && p->b);
    if (!p->a || !p->b) return false;
    fx_store_lease_owner(p->a, p->wa);
    fx_store_lease_owner(p->b, p->wb);
    fx_store_lease_owner(p->b, p->wb2);
    make_account(p->a, p->uid);
    make_upload(p->a, p->uid, "a.pdf", p->p1);
    p->files[0] = p->files[1] = p->p1;
    return true;
}

/* Two nodes on one store: a start-up releases only its own node's leases on PostgreSQL
 * (on SQLite one process owns the store, so all); a periodic duty runs on one node. */
static void test_two_nodes(void)
{
    struct pair p;
    if (!open_pair(&p)) return;
    struct fx_store *a = p.a, *b = p.b;
    const char *wa = p.wa, *wb = p.wb, *wb2 = p.wb2, *uid = p.uid;
    const char *const *files = p.files;
    CHECK(fx_id_valid(wa) && fx_id_valid(wb) && strcmp(wb, wb2) != 0);
    CHECK(strncmp(wa, wb, 8) != 0 && strncmp(wb, wb2, 8) == 0); /* node prefix */
    struct fx_outbox o1, o2, c;
    struct fx_dest d[3];
    make_outbox(a, uid, files, 100, &o1, d);
    make_outbox(a, uid, files, 200, &o2, d);
    CHECK(fx_store_outbox_claim_convert(a, wa, 1000, 3600, &c) == FX_OK);
    CHECK_STR(c.id, o1.id);
    fx_store_outbox_clear(&c);
    CHECK(fx_store_outbox_claim_convert(b, wb, 1000, 3600, &c) == FX_OK);
    CHECK_STR(c.id, o2.id);
    fx_store_outbox_clear(&c);
    /* Node b restarts: its lease goes, node a's live one stays (PostgreSQL). */
    CHECK(fx_store_outbox_release_leases(b) == FX_OK);
    CHECK(fx_store_outbox_claim_convert(b, wb2, 1001, 60, &c) == FX_OK);
    CHECK_STR(c.id, fx_test_on_pg() ? o2.id : o1.id);
    fx_store_outbox_clear(&c);
    enum fx_err e = fx_store_outbox_claim_convert(b, wb2, 1001, 60, &c);
    CHECK(e == (fx_test_on_pg() ? FX_ERR_NOT_FOUND : FX_OK));
    if (!e) fx_store_outbox_clear(&c);
    CHECK(fx_store_dest_release_leases(b) == FX_OK);
    CHECK(fx_store_delivery_release_leases(b) == FX_OK);

    /* One turn per period, whichever node asks first. */
    CHECK(fx_store_duty_claim(a, "housekeeping", 5000, 59));
    CHECK(!fx_store_duty_claim(b, "housekeeping", 5010, 59));
    CHECK(!fx_store_duty_claim(a, "housekeeping", 5058, 59));
    CHECK(fx_store_duty_claim(b, "other duty", 5010, 59));
    CHECK(fx_store_duty_claim(b, "housekeeping", 5059, 59));
    CHECK(!fx_store_duty_claim(a, "housekeeping", 5060, 59));
    fx_store_close(b);
    fx_store_close(a);
}

/* Leases are renewed while work runs; once a node stops renewing (it died), another node
 * takes the work over where it stood — a destination as a new attempt, resuming after
 * its confirmed pages — and the first node's late writes are refused. */
static void test_lease_takeover(void)
{
    struct pair p;
    if (!open_pair(&p)) return;
    struct fx_store *a = p.a, *b = p.b;
    const enum fx_store_lease CONV = FX_STORE_LEASE_CONVERT, DIAL = FX_STORE_LEASE_DIAL;
    struct fx_outbox o, c;
    struct fx_dest d[3];
    make_outbox(a, p.uid, p.files, 100, &o, d);

    /* Conversion: renewed by a, b cannot take it; once a stops renewing, b can. */
    CHECK(fx_store_outbox_claim_convert(a, p.wa, 1000, 60, &c) == FX_OK);
    fx_store_outbox_clear(&c);
    CHECK(fx_store_lease_renew(a, CONV, o.id, p.wa, 1100) == FX_OK);
    CHECK(fx_store_outbox_claim_convert(b, p.wb, 1061, 60, &c) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_outbox_claim_convert(b, p.wb, 1101, 60, &c) == FX_OK);
    fx_store_outbox_clear(&c);
    CHECK(fx_store_lease_renew(a, CONV, o.id, p.wa, 1200) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_outbox_converted(a, o.id, p.wa, "ab/x.tiff", 3, 1102) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_lease_renew(b, CONV, o.id, p.wb, 1200) == FX_OK);
    CHECK(fx_store_outbox_converted(b, o.id, p.wb, "ab/x.tiff", 3, 1102) == FX_OK);
    CHECK(fx_store_lease_renew(b, CONV, o.id, p.wb, 1300) == FX_ERR_NOT_FOUND); /* done */

    /* Sending: a confirms a page and renews; b takes the other destination meanwhile. */
    struct fx_send_job j, k, t;
    CHECK(fx_store_dest_claim(a, p.wa, 2000, 60, &j) == FX_OK);
    CHECK(j.attempt == 1 && j.pages_done == 0 && j.page_count == 3);
    CHECK(fx_store_dest_progress(a, &j, p.wa, 1) == FX_OK);
    CHECK(fx_store_lease_renew(a, DIAL, j.dest.fax_id, p.wa, 2080) == FX_OK);
    CHECK(fx_store_dest_claim(b, p.wb, 2061, 60, &k) == FX_OK);
    CHECK(strcmp(k.dest.fax_id, j.dest.fax_id) != 0);
    /* a dies: its lease runs out at 2080, then b resumes after the confirmed page. */
    CHECK(fx_store_dest_claim(b, p.wb2, 2080, 60, &t) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_dest_claim(b, p.wb2, 2081, 60, &t) == FX_OK);
    CHECK_STR(t.dest.fax_id, j.dest.fax_id);
    CHECK(t.attempt == 2 && t.pages_done == 1);
    /* a's late writes (a node that was only cut off) are refused. */
    struct fx_attempt at = {0};
    strcpy(at.fax_id, j.dest.fax_id);
    strcpy(at.direction, "outgoing");
    CHECK(fx_store_lease_renew(a, DIAL, j.dest.fax_id, p.wa, 2200) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_dest_progress(a, &j, p.wa, 2) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_dest_retry(a, &j, p.wa, &at, 2, 0, false) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_lease_renew(b, DIAL, t.dest.fax_id, p.wb2, 2200) == FX_OK);
    CHECK(fx_store_dest_retry(b, &t, p.wb2, &at, 2, 3000, false) == FX_OK);
    CHECK(fx_store_lease_renew(b, DIAL, t.dest.fax_id, p.wb2, 2300) == FX_ERR_NOT_FOUND);
    fx_store_close(b);
    fx_store_close(a);
}

/* Many workers claiming at once never take the same work twice (on PostgreSQL their
 * claims run together and skip each other's rows). */
enum { RECORDS = 8, CLAIMERS = 4, DESTS = 2 * RECORDS };

struct claimer {
    struct fx_store *s;
    bool sending; /* destinations, else conversions */
    char got[DESTS][FX_UID_SIZE];
    int n;
};

static void *claim_all(void *arg)
{
    struct claimer *c = arg;
    char owner[FX_UID_SIZE];
    fx_store_lease_owner(c->s, owner);
    for (;;) {
        enum fx_err e;
        if (c->sending) {
            struct fx_send_job j;
            e = fx_store_dest_claim(c->s, owner, 2000, 600, &j);
            if (!e && c->n < DESTS) strcpy(c->got[c->n], j.dest.fax_id);
        } else {
            struct fx_outbox o;
            e = fx_store_outbox_claim_convert(c->s, owner, 1000, 600, &o);
            if (!e && c->n < DESTS) strcpy(c->got[c->n], o.id);
            if (!e) {
                e = fx_store_outbox_converted(c->s, o.id, owner, "ab/x.tiff", 1, 1000);
                fx_store_outbox_clear(&o);
                CHECK(e == FX_OK);
            }
        }
        if (e) break;
        c->n++;
    }
    return NULL;
}

/* Runs CLAIMERS threads, then claims what their skipping left on this thread; returns
 * how many claims were made and checks that no item was claimed twice. */
static int claim_together(struct fx_store *s, bool sending)
{
    static struct claimer c[CLAIMERS + 1];
    pthread_t th[CLAIMERS];
    for (int i = 0; i <= CLAIMERS; i++) c[i] = (struct claimer){.s = s, .sending = sending};
    for (int i = 0; i < CLAIMERS; i++) CHECK(pthread_create(&th[i], NULL, claim_all, &c[i]) == 0);
    for (int i = 0; i < CLAIMERS; i++) pthread_join(th[i], NULL);
    claim_all(&c[CLAIMERS]);
    int total = 0, dup = 0;
    for (int i = 0; i <= CLAIMERS; i++)
        for (int k = 0; k < c[i].n && k < DESTS; k++, total++)
            for (int j = 0; j <= i; j++)
                for (int m = 0; m < (j == i ? k : c[j].n) && m < DESTS; m++)
                    dup += !strcmp(c[i].got[k], c[j].got[m]);
    CHECK(dup == 0);
    return total;
}

static void test_claims_in_parallel(void)
{
    char dir[64], uid[FX_UID_SIZE], p1[48];
    struct fx_store *s = open_with_upload(dir, uid, p1);
    if (!s) return;
    const char *files[2] = {p1, p1};
    for (int i = 0; i < RECORDS; i++) {
        struct fx_outbox o;
        struct fx_dest d[3];
        make_outbox(s, uid, files, 100 + i, &o, d);
    }
    CHECK(claim_together(s, false) == RECORDS);
    CHECK(claim_together(s, true) == DESTS);
    fx_store_close(s);
}

/* Trunk channels across two nodes: a trunk's limit holds for both together, an inbound
 * call counts without being refused, an expired lease stops counting, and a restart
 * drops only its own node's claims (PostgreSQL; SQLite: all, one process owns it). */
static int64_t channels_up(struct fx_store *s, const char *trunk, int64_t now)
{
    int64_t n = -1;
    CHECK(fx_store_channel_count(s, trunk, now, &n) == FX_OK);
    return n;
}

static void test_channels(void)
{
    char dir[64];
    struct fx_store *a = open_tmp(dir);
    struct fx_store *b = a ? open_node(dir, "node-b") : NULL;
    CHECK(a && b);
    if (!a || !b) return;
    char c1[FX_ID_LEN + 1], c2[FX_ID_LEN + 1], c3[FX_ID_LEN + 1], in[FX_ID_LEN + 1];
    CHECK(fx_store_channel_take(a, "carrier", 2, 1000, 1090, c1) == FX_OK);
    CHECK(fx_store_channel_take(b, "carrier", 2, 1000, 1090, c2) == FX_OK);
    CHECK(strcmp(c1, c2) != 0 && strncmp(c2, c1, 8) != 0); /* each names its node */
    CHECK(fx_store_channel_take(a, "carrier", 2, 1001, 1091, c3) == FX_ERR_UNAVAILABLE);
    CHECK(fx_store_channel_take(b, "carrier", 2, 1001, 1091, c3) == FX_ERR_UNAVAILABLE);
    CHECK(fx_store_channel_take(a, "other", 1, 1001, 1091, c3) == FX_OK); /* its own count */
    CHECK(fx_store_channel_take(b, "carrier", 0, 1001, 1091, in) == FX_OK); /* inbound */
    CHECK(channels_up(a, "carrier", 1001) == 3);
    CHECK(fx_store_channel_give(a, c1) == FX_OK);
    CHECK(channels_up(b, "carrier", 1001) == 2);
    CHECK(fx_store_channel_take(a, "carrier", 2, 1002, 1092, c1) == FX_ERR_UNAVAILABLE);
    /* A renewed lease keeps counting; the inbound call's lapsed (its node died). */
    CHECK(fx_store_channel_renew(b, c2, 1200) == FX_OK);
    CHECK(channels_up(a, "carrier", 1091) == 1);
    CHECK(fx_store_channel_take(a, "carrier", 2, 1091, 1181, c1) == FX_OK);
    CHECK(fx_store_channel_renew(a, in, 1300) == FX_ERR_NOT_FOUND); /* swept by the take */
    /* Node b restarts: its claim goes, node a's stays. */
    CHECK(fx_store_channel_release_leases(b) == FX_OK);
    CHECK(channels_up(a, "carrier", 1100) == (fx_test_on_pg() ? 1 : 0));
    CHECK(fx_store_channel_renew(b, c2, 1300) == FX_ERR_NOT_FOUND);
    fx_store_close(b);
    fx_store_close(a);
}

static enum fx_err count_attempt(const struct fx_attempt *at, void *arg)
{
    (void)at;
    (*(int *)arg)++;
    return FX_OK;
}

/* A destination given back undialled: due again later, its attempt not counted, no
 * attempt recorded, and only by the lease's owner. */
static void test_dest_unclaim(void)
{
    char dir[64], uid[FX_UID_SIZE], p1[48];
    struct fx_store *s = open_with_upload(dir, uid, p1);
    if (!s) return;
    const char *files[2] = {p1, p1};
    struct fx_outbox o, c;
    struct fx_dest d[3];
    make_outbox(s, uid, files, 100, &o, d);
    CHECK(fx_store_outbox_claim_convert(s, "w1", 1000, 60, &c) == FX_OK);
    fx_store_outbox_clear(&c);
    CHECK(fx_store_outbox_converted(s, o.id, "w1", "ab/x.tiff", 1, 1000) == FX_OK);
    struct fx_send_job j, k;
    CHECK(fx_store_dest_claim(s, "d1", 2000, 600, &j) == FX_OK);
    CHECK(j.attempt == 1);
    CHECK(fx_store_dest_unclaim(s, &j, "d2", 2005) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_dest_unclaim(s, &j, "d1", 2005) == FX_OK);
    CHECK(fx_store_dest_claim(s, "d1", 2001, 600, &k) == FX_OK); /* the other one */
    CHECK(strcmp(k.dest.fax_id, j.dest.fax_id) != 0);
    CHECK(fx_store_dest_claim(s, "d1", 2004, 600, &k) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_dest_claim(s, "d1", 2005, 600, &k) == FX_OK);
    CHECK_STR(k.dest.fax_id, j.dest.fax_id);
    CHECK(k.attempt == 1);
    int n = 0;
    CHECK(fx_store_attempt_list(s, j.dest.fax_id, count_attempt, &n) == FX_OK);
    CHECK(n == 0);
    fx_store_close(s);
}

int main(void)
{
    test_channels();
    test_dest_unclaim();
    test_claims_in_parallel();
    test_claim_and_convert();
    test_release_leases();
    test_two_nodes();
    test_lease_takeover();
    return fx_check_result("test_store_queue");
}
