/* store: faxd's records in portable SQL over the driver interface (db.h). This file
 * holds the connections, the query and transaction helpers (store_priv.h), opening and
 * migrating; the records themselves are in accounts.c, outbox.c, faxes.c and hooks.c.
 *
 * Concurrency: a thread holds a connection from the start of a statement or transaction
 * to its end (fx_store_hold / fx_store_let_go). On PostgreSQL connections come from a
 * pool of at most store.pool and go back between store calls; holds nest (a list's
 * callback querying the store while its SELECT is open, the statements of a
 * transaction), so a thread never holds two connections nor waits for one while holding
 * one: the pool cannot deadlock. On SQLite each thread keeps its own connection (the
 * stamp is per connection; a file needs no server-side bound). Every connection opened
 * is listed so fx_store_close can close them all. Multi-row changes run in one write
 * transaction, so a crash leaves either all or nothing. */
#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/db.h"
#include "store/migrations.h"
#include "store/store_priv.h"

struct conn_node {
    struct fx_db *db;
    struct conn_node *next;
};

/* ---- connections ---- */

/* A borrower waits this long for a free pooled connection: as long as a writer waits for
 * the write lock (db_pg.c's lock_timeout), the longest a lender legitimately holds one. */
#define POOL_WAIT_S 60

static enum fx_err conn_open(struct fx_store *s, struct fx_db **out)
{
    struct fx_db *db;
    enum fx_err e = s->ops->open(s->target, &db);
    if (e) return e;
    struct conn_node *n = malloc(sizeof *n);
    if (!n) {
        s->ops->close(db);
        return FX_ERR_NOMEM;
    }
    n->db = db;
    pthread_mutex_lock(&s->mu);
    n->next = s->conns;
    s->conns = n;
    pthread_mutex_unlock(&s->mu);
    *out = db;
    return FX_OK;
}

/* An idle pooled connection, a new one while fewer than s->pool are open, or the first
 * one given back within POOL_WAIT_S. */
static enum fx_err pool_borrow(struct fx_store *s, struct fx_db **out)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += POOL_WAIT_S;
    pthread_mutex_lock(&s->mu);
    if (!s->n_idle && s->n_open >= s->pool) s->waits++;
    int rc = 0;
    while (!s->n_idle && s->n_open >= s->pool && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->freed, &s->mu, &until);
    enum fx_err e = FX_OK;
    struct fx_db *db = NULL;
    if (s->n_idle) {
        db = s->idle[--s->n_idle];
    } else if (s->n_open < s->pool) {
        s->n_open++; /* reserved: connecting takes a round trip, done unlocked */
        pthread_mutex_unlock(&s->mu);
        e = conn_open(s, &db);
        pthread_mutex_lock(&s->mu);
        if (e) {
            s->n_open--;
            pthread_cond_signal(&s->freed);
        }
    } else {
        e = FX_ERR_UNAVAILABLE;
        fx_error("store pool exhausted: no connection free within %d s pool=%d", POOL_WAIT_S,
                 s->pool);
    }
    if (!e && ++s->n_busy > s->peak) s->peak = s->n_busy;
    pthread_mutex_unlock(&s->mu);
    if (!e) *out = db;
    return e;
}

enum fx_err fx_store_hold(struct fx_store *s, struct fx_db **out)
{
    struct fx_db *db = pthread_getspecific(s->key);
    if (!db) {
        enum fx_err e = s->pool ? pool_borrow(s, &db) : conn_open(s, &db);
        if (e) return e;
        pthread_setspecific(s->key, db);
    }
    intptr_t depth = (intptr_t)pthread_getspecific(s->depth);
    pthread_setspecific(s->depth, (void *)(depth + 1));
    *out = db;
    return FX_OK;
}

void fx_store_let_go(struct fx_store *s)
{
    intptr_t depth = (intptr_t)pthread_getspecific(s->depth) - 1;
    if (depth < 0) depth = 0; /* unbalanced: a bug, but never lend one connection twice */
    pthread_setspecific(s->depth, (void *)depth);
    if (depth || !s->pool) return; /* SQLite: the thread keeps its connection */
    struct fx_db *db = pthread_getspecific(s->key);
    if (!db) return;
    pthread_setspecific(s->key, NULL);
    pthread_mutex_lock(&s->mu);
    s->idle[s->n_idle++] = db;
    s->n_busy--;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->mu);
}

void fx_store_pool_use(struct fx_store *s, struct fx_store_pool_use *out)
{
    pthread_mutex_lock(&s->mu);
    *out = (struct fx_store_pool_use){.size = s->pool, .open = s->n_open, .busy = s->n_busy,
                                      .peak = s->peak, .waits = s->waits};
    pthread_mutex_unlock(&s->mu);
}

/* ---- the query helper (struct q and its column readers: store_priv.h) ---- */

static enum fx_err q_vstart(struct fx_store *s, struct q *q, const char *sql, const char *types,
                            va_list ap)
{
    enum fx_err e = fx_store_hold(s, &q->db);
    if (e) return e;
    q->s = s;
    if ((e = s->ops->prepare(q->db, sql, &q->st))) {
        fx_store_let_go(s);
        return e;
    }
    for (int i = 0; types && types[i] && !e; i++) {
        switch (types[i]) {
        case 't': e = s->ops->bind_text(q->st, i + 1, va_arg(ap, const char *)); break;
        case 'i': e = s->ops->bind_int(q->st, i + 1, va_arg(ap, int64_t)); break;
        case 'n': e = s->ops->bind_int(q->st, i + 1, va_arg(ap, int)); break;
        case 'd': e = s->ops->bind_double(q->st, i + 1, va_arg(ap, double)); break;
        default: e = FX_ERR_INTERNAL;
        }
    }
    if (e) {
        s->ops->stmt_done(q->st);
        fx_store_let_go(s);
    }
    return e;
}

enum fx_err fx_store_q_start(struct fx_store *s, struct q *q, const char *sql,
                             const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    enum fx_err e = q_vstart(s, q, sql, types, ap);
    va_end(ap);
    return e;
}

/* One statement stepped once: the step's result (FX_DB_ROW, FX_DB_DONE or a negative
 * fx_err); the first column of its row into *first, the rows it changed into *changed
 * (each may be NULL). */
static int step_once(struct fx_store *s, int64_t *first, int64_t *changed, const char *sql,
                     const char *types, va_list ap)
{
    struct q q;
    enum fx_err e = q_vstart(s, &q, sql, types, ap);
    if (e) return -(int)e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW && first) *first = qi(&q, 0);
    if (rc >= 0 && changed) *changed = s->ops->changes(q.db); /* before it goes back */
    q_end(&q);
    return rc;
}

enum fx_err fx_store_q_int(struct fx_store *s, int64_t *out, const char *sql,
                           const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = step_once(s, out, NULL, sql, types, ap);
    va_end(ap);
    return q_found(rc);
}

enum fx_err fx_store_run(struct fx_store *s, int64_t *changed, const char *sql,
                         const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = step_once(s, NULL, changed, sql, types, ap);
    va_end(ap);
    return rc < 0 ? (enum fx_err)-rc : FX_OK;
}

/* Holds a connection and begins (begin or begin_claim) on it; released by tx_end. */
static enum fx_err tx_open(struct fx_store *s, enum fx_err (*begin)(struct fx_db *db))
{
    struct fx_db *db;
    enum fx_err e = fx_store_hold(s, &db);
    if (!e && (e = begin(db))) fx_store_let_go(s);
    return e;
}

enum fx_err fx_store_tx_begin(struct fx_store *s)
{
    return tx_open(s, s->ops->begin);
}

/* A claim (db.h's begin_claim): its SELECT ends with FOR UPDATE SKIP LOCKED. */
enum fx_err fx_store_tx_begin_claim(struct fx_store *s)
{
    return tx_open(s, s->ops->begin_claim);
}

enum fx_err fx_store_tx_end(struct fx_store *s, enum fx_err e)
{
    struct fx_db *db = pthread_getspecific(s->key);
    if (!db) return FX_ERR_DB; /* no tx_begin */
    if (!e) e = s->ops->commit(db);
    /* A failed COMMIT leaves the transaction open: roll it back so the connection can
     * begin the next one. */
    if (e) s->ops->rollback(db);
    fx_store_let_go(s);
    return e;
}

/* ---- open / migrate / close ---- */

/* Inside the migration transaction: applies the migrations after *current. */
static enum fx_err migrate_from(struct fx_store *s, struct fx_db *db, int *current)
{
    for (const struct fx_migration *m = fx_migrations; m->version; m++) {
        if (m->version <= *current) continue;
        enum fx_err e = s->ops->exec(db, m->sql);
        if (!e)
            e = q_run(s, NULL, "INSERT INTO schema_migrations (version, name, applied) "
                               "VALUES (?, ?, ?)",
                      "nti", m->version, m->name, fx_clock_now());
        if (e) {
            fx_error("store migration failed version=%d name=%s", m->version, m->name);
            return e;
        }
        fx_info("store migration applied version=%d name=%s", m->version, m->name);
        *current = m->version;
    }
    return FX_OK;
}

/* One write transaction from reading the version to the last migration: processes
 * starting together on one database (several nodes, faxctl) take turns, and a failed
 * migration leaves the schema as it was. */
static enum fx_err migrate(struct fx_store *s)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    struct fx_db *db = pthread_getspecific(s->key);
    e = s->ops->exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                         "applied BIGINT NOT NULL)");
    int64_t version = 0;
    if (!e) e = q_int(s, &version, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                      NULL);
    int current = (int)version;
    if (!e) e = migrate_from(s, db, &current);
    if ((e = tx_end(s, e))) return e;
    s->schema_version = current;
    return FX_OK;
}

/* "sqlite" (a file in data_dir) or a postgresql:// (postgres://) connection URI. */
static enum fx_err pick_driver(struct fx_store *s, const char *driver)
{
    if (!driver) return FX_ERR_INVALID;
    if (!strcmp(driver, "sqlite")) {
        s->ops = &fx_db_sqlite;
        return fx_strlcpy(s->target, s->data_dir, sizeof s->target) ? FX_OK : FX_ERR_INVALID;
    }
    if (strncmp(driver, "postgresql://", 13) && strncmp(driver, "postgres://", 11))
        return FX_ERR_INVALID;
    s->ops = &fx_db_pg;
    s->blobs_in_db = true;
    return fx_strlcpy(s->target, driver, sizeof s->target) ? FX_OK : FX_ERR_INVALID;
}

/* This node's lease prefix: 8 hex of its name (default: host name and data_dir). On
 * SQLite one process owns the store, so every lease left is a dead process's; on
 * PostgreSQL a node releases only its own at start, never a live node's. */
static void node_init(struct fx_store *s, const char *node)
{
    char name[4500], sha[65];
    if (node && node[0]) {
        fx_strlcpy(name, node, sizeof name);
    } else {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        snprintf(name, sizeof name, "%s\n%s", host, s->data_dir);
    }
    fx_sha256_hex(name, strlen(name), sha);
    memcpy(s->node, sha, 8);
    s->node[8] = 0;
    snprintf(s->own_leases, sizeof s->own_leases, "%s%%", s->blobs_in_db ? s->node : "");
}

void fx_store_lease_owner(struct fx_store *s, char owner[FX_ID_LEN + 1])
{
    fx_id_new(owner);
    memcpy(owner, s->node, 8);
}

bool fx_store_duty_claim(struct fx_store *s, const char *name, int64_t now, int64_t period_s)
{
    int64_t n = 0;
    if (q_run(s, NULL,
              "INSERT INTO duties (name, owner, until) VALUES (?, '', 0) "
              "ON CONFLICT (name) DO NOTHING",
              "t", name) ||
        q_run(s, &n, "UPDATE duties SET owner = ?, until = ? WHERE name = ? AND until <= ?",
              "titi", s->node, now + period_s, name, now))
        return false;
    return n == 1;
}

/* PostgreSQL: a pool of at most `size` connections, each named faxd-<node> in
 * pg_stat_activity (unless the URI names one) so operators see which node holds what. */
static enum fx_err pool_init(struct fx_store *s, int size)
{
    s->pool = size > 0 ? size : FX_STORE_POOL_DEFAULT;
    s->idle = calloc((size_t)s->pool, sizeof *s->idle);
    if (!s->idle) return FX_ERR_NOMEM;
    if (strstr(s->target, "application_name=")) return FX_OK;
    size_t n = strlen(s->target);
    int k = snprintf(s->target + n, sizeof s->target - n, "%capplication_name=faxd-%s",
                     strchr(s->target, '?') ? '&' : '?', s->node);
    return k > 0 && (size_t)k < sizeof s->target - n ? FX_OK : FX_ERR_INVALID;
}

enum fx_err fx_store_open(const struct fx_store_cfg *cfg, struct fx_store **out)
{
    struct fx_store *s = calloc(1, sizeof *s);
    if (!s) return FX_ERR_NOMEM;
    s->ops = &fx_db_sqlite;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->freed, NULL);
    pthread_key_create(&s->key, NULL);
    pthread_key_create(&s->depth, NULL);
    enum fx_err e = FX_ERR_INVALID;
    if (!fx_strlcpy(s->data_dir, cfg->data_dir, sizeof s->data_dir)) goto out;
    if ((e = pick_driver(s, cfg->driver))) goto out;
    node_init(s, cfg->node);
    if (s->ops == &fx_db_pg && (e = pool_init(s, cfg->pool))) goto out;
    if ((e = fx_mkdirs(s->data_dir))) goto out;
    if ((e = migrate(s))) goto out;
    e = fx_blob_init(s);
out:
    if (e) {
        fx_store_close(s);
        return e;
    }
    *out = s;
    return FX_OK;
}

void fx_store_close(struct fx_store *s)
{
    if (!s) return;
    struct conn_node *n = s->conns;
    while (n) {
        struct conn_node *next = n->next;
        s->ops->close(n->db);
        free(n);
        n = next;
    }
    pthread_key_delete(s->key);
    pthread_key_delete(s->depth);
    pthread_cond_destroy(&s->freed);
    pthread_mutex_destroy(&s->mu);
    free(s->idle);
    free(s);
}

int fx_store_schema_version(struct fx_store *s)
{
    return s->schema_version;
}

enum fx_err fx_store_ping(struct fx_store *s)
{
    /* Reads a table, so SQLite opens the file and PostgreSQL runs a real round trip. */
    return q_run(s, NULL, "SELECT 1 FROM duties LIMIT 1", NULL);
}

enum fx_err fx_store_stamp(struct fx_store *s, struct fx_store_stamp *out)
{
    struct fx_db *db;
    enum fx_err e = fx_store_hold(s, &db);
    if (e) return e;
    e = s->ops->stamp(db, out->v);
    fx_store_let_go(s);
    return e;
}

const char *fx_store_data_dir(struct fx_store *s)
{
    return s->data_dir;
}
