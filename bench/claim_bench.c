/* claim_bench: how long a dialer's claim of the next due destination takes
 * (fx_store_dest_claim) with a backlog of BACKLOG due destinations, against the same
 * claim with one due destination, measured in the same run on the same store.
 *
 *   claim_bench DRIVER DATA_DIR [BACKLOG [CLAIMS]]
 *
 * DRIVER is store.driver (a postgresql:// URI, or sqlite); DATA_DIR an empty directory.
 * It seeds an account, an upload and one converted send request with one destination,
 * then times CLAIMS claims (default 200); each claimed destination is given straight
 * back (fx_store_dest_unclaim, due at once), so the backlog stays what it is. Then it
 * adds BACKLOG - 1 more send requests (default 1000 in all) and times CLAIMS claims again.
 * Only the claim is timed (its quick "anything due?" read and its FOR UPDATE SKIP LOCKED
 * transaction), not the give-back.
 *
 * Output: `RESULT backlog=N p50_us=… p99_us=…` for each, then
 * `RESULT ratio_p50=… ratio_p99=…` (backlog / one). Exit status: 0, or 2 could not run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "store/store.h"

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int die(const char *what, enum fx_err e)
{
    fprintf(stderr, "claim_bench: %s failed (%s)\n", what, fx_err_code(e));
    return 2;
}

/* One send request with one destination, converted, so its destination is due. */
static enum fx_err add_due(struct fx_store *s, const char *uid, const char *upload, int i)
{
    struct fx_outbox o = {0}, c;
    fx_strlcpy(o.uid, uid, sizeof o.uid);
    fx_strlcpy(o.status, "submitted", sizeof o.status);
    fx_strlcpy(o.src, "+12025550100", sizeof o.src);
    o.submit_time = o.status_time = 1000 + i;
    struct fx_dest d = {0};
    fx_id_new(d.fax_id);
    snprintf(d.number, sizeof d.number, "+1555%07d", i);
    fx_strlcpy(d.raw, d.number, sizeof d.raw);
    const char *files[1] = {upload};
    enum fx_err e = fx_store_outbox_create(s, &o, files, 1, &d, 1, NULL, 0);
    if (!e) e = fx_store_outbox_claim_convert(s, "bench-convert", 2000, 600, &c);
    if (e) return e;
    e = fx_store_outbox_converted(s, c.id, "bench-convert", "ab/bench.tiff", 1, 2000);
    fx_store_outbox_clear(&c);
    return e;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Times n claims into us[] (sorted on return). */
static enum fx_err time_claims(struct fx_store *s, int n, int64_t *us)
{
    char owner[FX_ID_LEN + 1];
    fx_store_lease_owner(s, owner);
    int64_t now = fx_clock_now();
    for (int i = 0; i < n; i++) {
        struct fx_send_job j;
        int64_t t0 = mono_us();
        enum fx_err e = fx_store_dest_claim(s, owner, now, 600, &j);
        us[i] = mono_us() - t0;
        if (!e) e = fx_store_dest_unclaim(s, &j, owner, 0);
        if (e) return e;
    }
    qsort(us, (size_t)n, sizeof *us, cmp64);
    return FX_OK;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: claim_bench DRIVER DATA_DIR [BACKLOG [CLAIMS]]\n");
        return 2;
    }
    int backlog = argc > 3 ? atoi(argv[3]) : 1000, claims = argc > 4 ? atoi(argv[4]) : 200;
    if (backlog < 1 || claims < 1) return 2;
    fx_log_set_level(FX_LOG_WARN);
    struct fx_store_cfg cfg = {.data_dir = argv[2], .driver = argv[1], .pool = 2};
    struct fx_store *s;
    enum fx_err e = fx_store_open(&cfg, &s);
    if (e) return die("opening the store", e);
    struct fx_account a = {0};
    fx_strlcpy(a.account_type, "individual", sizeof a.account_type);
    struct fx_upload u = {0};
    if (!(e = fx_store_account_create(s, &a))) {
        fx_strlcpy(u.uid, a.uid, sizeof u.uid);
        fx_strlcpy(u.name, "bench.pdf", sizeof u.name);
        fx_strlcpy(u.mime, "application/pdf", sizeof u.mime);
        fx_strlcpy(u.blob, "ab/bench", sizeof u.blob);
        e = fx_store_upload_create(s, &u);
    }
    int64_t *one = calloc((size_t)claims, sizeof *one), *many = calloc((size_t)claims, sizeof *many);
    if (!e && (!one || !many)) e = FX_ERR_NOMEM;
    if (!e) e = add_due(s, a.uid, u.path, 0);
    if (!e) e = time_claims(s, claims, one);
    for (int i = 1; !e && i < backlog; i++) e = add_due(s, a.uid, u.path, i);
    if (!e) e = time_claims(s, claims, many);
    if (!e) {
        int p50 = claims / 2, p99 = claims * 99 / 100;
        printf("RESULT backlog=1 p50_us=%lld p99_us=%lld\n", (long long)one[p50],
               (long long)one[p99]);
        printf("RESULT backlog=%d p50_us=%lld p99_us=%lld\n", backlog, (long long)many[p50],
               (long long)many[p99]);
        printf("RESULT ratio_p50=%.2f ratio_p99=%.2f\n", (double)many[p50] / (double)one[p50],
               (double)many[p99] / (double)one[p99]);
    }
    free(one);
    free(many);
    fx_store_close(s);
    return e ? die("seeding or claiming", e) : 0;
}
