/* Unit tests for the store's connection pool (PostgreSQL; on SQLite each thread keeps
 * its own connection and the same operations must simply succeed): many threads doing
 * every kind of store work through a pool of 2 never have more than 2 connections open
 * on the server (pg_stat_activity, watched from another connection while they run), a
 * store call made inside a list callback reuses its thread's connection even with a
 * pool of 1, and a borrower waits while every connection is lent, then gets one. */
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/store.h"
#include "store_backend.h"

static struct fx_store *open_pool(char dir[64], int pool)
{
    strcpy(dir, "/tmp/faxd-pool-XXXXXX");
    return mkdtemp(dir) ? fx_test_store_open(dir, NULL, pool) : NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void close_rm(struct fx_store *s, const char *dir)
{
    fx_store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* faxd's connections to dir's database now (psql's own is not one: other name). */
static long long server_conns(const char *dir)
{
    return fx_test_pg_int(dir, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = "
                               "current_database() AND application_name LIKE 'faxd-%'");
}

/* ---- many threads, pool of 2 ---- */

struct worker {
    struct fx_store *s;
    int idx, failures;
};

static enum fx_err nested_get(const struct fx_account *a, void *arg)
{
    struct worker *w = arg;
    struct fx_account g;
    /* Inside the list's open SELECT: the same connection, never a second one. */
    if (fx_store_account_get(w->s, a->uid, &g) != FX_OK) return FX_ERR_INTERNAL;
    fx_store_account_clear(&g);
    return FX_OK;
}

/* A blob of three chunks written, fetched back to a file and removed. */
static int blob_round_trip(struct fx_store *s)
{
    static unsigned char data[150 * 1024];
    struct fx_blob_writer *bw;
    char key[96], sha[65], path[4096];
    if (fx_blob_begin(s, &bw)) return 1;
    if (fx_blob_write(bw, data, sizeof data)) {
        fx_blob_abort(bw);
        return 1;
    }
    if (fx_blob_commit(bw, ".bin", key, sha)) return 1;
    int bad = fx_blob_path(s, key, path, sizeof path) != FX_OK;
    return bad + (fx_blob_remove(s, key) != FX_OK);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 60; i++) {
        struct fx_account a = {0};
        strcpy(a.account_type, "individual");
        snprintf(a.email, sizeof a.email, "p%d-%d@example.com", w->idx, i);
        w->failures += fx_store_account_create(w->s, &a) != FX_OK;
        w->failures += fx_store_account_credit_add(w->s, a.uid, 1, NULL) != FX_OK;
        if (i % 5 == 0) w->failures += fx_store_account_list_all(w->s, nested_get, w) != FX_OK;
        if (i % 10 == 0) w->failures += blob_round_trip(w->s);
        struct fx_store_stamp st;
        w->failures += fx_store_stamp(w->s, &st) != FX_OK;
    }
    return NULL;
}

struct watch {
    const char *dir;
    atomic_bool done;
    long long most, polls;
};

static void *watch_main(void *arg)
{
    struct watch *wt = arg;
    while (!atomic_load(&wt->done)) {
        long long n = server_conns(wt->dir);
        if (n > wt->most) wt->most = n;
        wt->polls++;
    }
    return NULL;
}

static void test_bound_holds(void)
{
    char dir[64];
    struct fx_store *s = open_pool(dir, 2);
    CHECK(s != NULL);
    if (!s) return;
    enum { THREADS = 8 };
    pthread_t th[THREADS], wth;
    struct worker w[THREADS];
    struct watch wt = {.dir = dir};
    bool pg = fx_test_on_pg();
    if (pg) CHECK(pthread_create(&wth, NULL, watch_main, &wt) == 0);
    for (int i = 0; i < THREADS; i++) w[i] = (struct worker){.s = s, .idx = i};
    for (int i = 0; i < THREADS; i++) CHECK(!pthread_create(&th[i], NULL, worker_main, &w[i]));
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    atomic_store(&wt.done, true);
    if (pg) pthread_join(wth, NULL);
    for (int i = 0; i < THREADS; i++) CHECK(w[i].failures == 0);
    struct fx_store_pool_use u;
    fx_store_pool_use(s, &u);
    if (pg) {
        fprintf(stderr, "pool: size=%d open=%d peak=%d waits=%d; server saw at most %lld "
                        "in %lld polls\n", u.size, u.open, u.peak, u.waits, wt.most, wt.polls);
        CHECK(u.size == 2 && u.open <= 2 && u.peak <= 2 && u.busy == 0);
        CHECK(wt.polls > 0 && wt.most >= 1 && wt.most <= 2);
        CHECK(server_conns(dir) <= 2); /* idle ones stay open for the next borrower */
    } else {
        CHECK(u.size == 0 && u.open == 0); /* SQLite: no pool */
    }
    close_rm(s, dir);
}

/* ---- nested calls with a pool of 1 ---- */

static void test_nested_pool_of_one(void)
{
    char dir[64];
    struct fx_store *s = open_pool(dir, 1);
    CHECK(s != NULL);
    if (!s) return;
    struct worker w = {.s = s};
    for (int i = 0; i < 3; i++) {
        struct fx_account a = {0};
        strcpy(a.account_type, "individual");
        CHECK(fx_store_account_create(s, &a) == FX_OK);
    }
    CHECK(fx_store_account_list_all(s, nested_get, &w) == FX_OK);
    CHECK(blob_round_trip(s) == 0);
    struct fx_store_pool_use u;
    fx_store_pool_use(s, &u);
    if (fx_test_on_pg()) CHECK(u.open == 1 && u.busy == 0 && u.waits == 0);
    close_rm(s, dir);
}

/* ---- a borrower waits while both connections are lent ---- */

struct holder {
    struct fx_store *s;
    atomic_int *inside;
    atomic_bool *release;
    enum fx_err e;
    atomic_bool done;
};

/* Holds its thread's connection (an open SELECT) until told to let go. */
static enum fx_err hold_cb(const struct fx_account *a, void *arg)
{
    (void)a;
    struct holder *h = arg;
    atomic_fetch_add(h->inside, 1);
    while (!atomic_load(h->release)) usleep(1000);
    return FX_ERR_CONFLICT; /* stops the list: one row is enough */
}

static void *holder_main(void *arg)
{
    struct holder *h = arg;
    h->e = fx_store_account_list_all(h->s, hold_cb, h);
    return NULL;
}

static void *getter_main(void *arg)
{
    struct holder *h = arg;
    h->e = fx_store_ping(h->s);
    atomic_store(&h->done, true);
    return NULL;
}

static void test_borrower_waits(void)
{
    if (!fx_test_on_pg()) return; /* SQLite lends nothing */
    char dir[64];
    struct fx_store *s = open_pool(dir, 2);
    CHECK(s != NULL);
    if (!s) return;
    struct fx_account a = {0};
    strcpy(a.account_type, "individual");
    CHECK(fx_store_account_create(s, &a) == FX_OK);
    atomic_int inside = 0;
    atomic_bool release = false;
    struct holder h[3];
    pthread_t th[3];
    for (int i = 0; i < 2; i++) {
        h[i] = (struct holder){.s = s, .inside = &inside, .release = &release};
        CHECK(pthread_create(&th[i], NULL, holder_main, &h[i]) == 0);
    }
    while (atomic_load(&inside) < 2) usleep(1000);
    struct fx_store_pool_use u;
    fx_store_pool_use(s, &u);
    CHECK(u.busy == 2 && u.open == 2);
    h[2] = (struct holder){.s = s};
    CHECK(pthread_create(&th[2], NULL, getter_main, &h[2]) == 0);
    for (fx_store_pool_use(s, &u); u.waits < 1; fx_store_pool_use(s, &u)) usleep(1000);
    usleep(50 * 1000);
    CHECK(!atomic_load(&h[2].done)); /* still waiting */
    atomic_store(&release, true);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    CHECK(h[0].e == FX_ERR_CONFLICT && h[1].e == FX_ERR_CONFLICT);
    CHECK(h[2].e == FX_OK);
    fx_store_pool_use(s, &u);
    CHECK(u.busy == 0 && u.open == 2 && u.peak == 2);
    close_rm(s, dir);
}

int main(void)
{
    fx_log_set_level(FX_LOG_ERROR);
    test_nested_pool_of_one();
    test_borrower_waits();
    test_bound_holds();
    return fx_check_result("test_store_pool");
}
