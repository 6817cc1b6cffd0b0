/* store: faxd's records in portable SQL over the driver interface (db.h).
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

/* ---- the query helper: bind by a type string, step, read columns ----
 * types: 't' const char *, 'i' int64_t, 'n' int, 'd' double. */
struct q {
    struct fx_store *s;
    struct fx_db *db; /* held from q_start to q_end */
    struct fx_db_stmt *st;
};

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

static enum fx_err q_start(struct fx_store *s, struct q *q, const char *sql, const char *types,
                           ...)
{
    va_list ap;
    va_start(ap, types);
    enum fx_err e = q_vstart(s, q, sql, types, ap);
    va_end(ap);
    return e;
}

/* FX_DB_ROW, FX_DB_DONE or negative fx_err. */
static int q_step(struct q *q)
{
    return q->s->ops->step(q->st);
}

static void q_end(struct q *q)
{
    q->s->ops->stmt_done(q->st);
    fx_store_let_go(q->s);
}

static const char *qt(struct q *q, int i)
{
    return q->s->ops->col_text(q->st, i);
}

static int64_t qi(struct q *q, int i)
{
    return q->s->ops->col_int(q->st, i);
}

#define q_run fx_store_run
enum fx_err fx_store_run(struct fx_store *s, int64_t *changed, const char *sql,
                         const char *types, ...)
{
    struct q q;
    va_list ap;
    va_start(ap, types);
    enum fx_err e = q_vstart(s, &q, sql, types, ap);
    va_end(ap);
    if (e) return e;
    int rc = q_step(&q);
    if (rc >= 0 && changed) *changed = s->ops->changes(q.db); /* before it goes back */
    q_end(&q);
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

#define tx_begin fx_store_tx_begin
enum fx_err fx_store_tx_begin(struct fx_store *s)
{
    return tx_open(s, s->ops->begin);
}

/* A claim (db.h's begin_claim): its SELECT ends with FOR UPDATE SKIP LOCKED. */
static enum fx_err tx_begin_claim(struct fx_store *s)
{
    return tx_open(s, s->ops->begin_claim);
}

#define tx_end fx_store_tx_end
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

static void cp(char *dst, size_t size, const char *src)
{
    fx_strlcpy(dst, src ? src : "", size);
}

#define CP(field, text) cp((field), sizeof(field), (text))

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
    int current = 0;
    struct q q;
    if (!e && !(e = q_start(s, &q, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                            NULL))) {
        if (q_step(&q) == FX_DB_ROW) current = (int)qi(&q, 0);
        q_end(&q);
    }
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

/* ---- accounts ---- */

#define ACCOUNT_COLS                                                                       \
    "uid, account_type, status, email, name, lastname, phone, profile_image, admin_uid, "  \
    "role, quota, credit, account_data, settings, notifications, created, paper, resolution, " \
    "logo_blob, refuse_anonymous"

void fx_store_account_clear(struct fx_account *a)
{
    if (!a) return;
    free(a->account_data);
    free(a->settings);
    free(a->notifications);
    memset(a, 0, sizeof *a);
}

static void account_read(struct q *q, struct fx_account *a)
{
    memset(a, 0, sizeof *a);
    CP(a->uid, qt(q, 0));
    CP(a->account_type, qt(q, 1));
    CP(a->status, qt(q, 2));
    CP(a->email, qt(q, 3));
    CP(a->name, qt(q, 4));
    CP(a->lastname, qt(q, 5));
    CP(a->phone, qt(q, 6));
    CP(a->profile_image, qt(q, 7));
    CP(a->admin_uid, qt(q, 8));
    CP(a->role, qt(q, 9));
    a->quota = qi(q, 10);
    a->credit = qi(q, 11);
    a->account_data = strdup(qt(q, 12));
    a->settings = strdup(qt(q, 13));
    a->notifications = strdup(qt(q, 14));
    a->created = qi(q, 15);
    CP(a->paper, qt(q, 16));
    CP(a->resolution, qt(q, 17));
    CP(a->logo_blob, qt(q, 18));
    a->refuse_anonymous = qi(q, 19) != 0;
}

static void new_webhook_secret(char out[FX_WEBHOOK_SECRET_SIZE]); /* webhook deliveries */

enum fx_err fx_store_account_create(struct fx_store *s, struct fx_account *a)
{
    if (!a->uid[0]) fx_id_new(a->uid);
    if (!a->created) a->created = fx_clock_now();
    if (!a->status[0]) CP(a->status, "active");
    char secret[FX_WEBHOOK_SECRET_SIZE];
    new_webhook_secret(secret);
    return q_run(s, NULL,
                 "INSERT INTO accounts (" ACCOUNT_COLS ", webhook_secret) VALUES "
                 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 "ttttttttttiitttitttnt", a->uid, a->account_type, a->status, a->email, a->name,
                 a->lastname, a->phone, a->profile_image, a->admin_uid, a->role, a->quota,
                 a->credit, a->account_data ? a->account_data : "{}",
                 a->settings ? a->settings : "{}", a->notifications ? a->notifications : "",
                 a->created, a->paper, a->resolution, a->logo_blob, (int)a->refuse_anonymous,
                 secret);
}

enum fx_err fx_store_account_get(struct fx_store *s, const char *uid, struct fx_account *out)
{
    struct q q;
    enum fx_err e = q_start(s, &q, "SELECT " ACCOUNT_COLS " FROM accounts WHERE uid = ?", "t",
                            uid);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) account_read(&q, out);
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

enum fx_err fx_store_account_update(struct fx_store *s, const struct fx_account *a)
{
    int64_t n = 0;
    enum fx_err e = q_run(
        s, &n,
        "UPDATE accounts SET status = ?, email = ?, name = ?, lastname = ?, phone = ?, "
        "profile_image = ?, role = ?, quota = ?, account_data = ?, settings = ?, "
        "notifications = ?, paper = ?, resolution = ?, logo_blob = ?, refuse_anonymous = ? "
        "WHERE uid = ?",
        "tttttttittttttnt", a->status, a->email, a->name, a->lastname, a->phone, a->profile_image,
        a->role, a->quota, a->account_data ? a->account_data : "{}",
        a->settings ? a->settings : "{}", a->notifications ? a->notifications : "", a->paper,
        a->resolution, a->logo_blob, (int)a->refuse_anonymous, a->uid);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

static enum fx_err account_each(struct fx_store *s, const char *sql, const char *arg,
                                fx_store_account_cb cb, void *cb_arg)
{
    struct q q;
    enum fx_err e = arg ? q_start(s, &q, sql, "t", arg) : q_start(s, &q, sql, NULL);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_account a;
        account_read(&q, &a);
        e = cb(&a, cb_arg);
        fx_store_account_clear(&a);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_account_list_members(struct fx_store *s, const char *admin_uid,
                                          fx_store_account_cb cb, void *arg)
{
    return account_each(s,
                        "SELECT " ACCOUNT_COLS " FROM accounts WHERE admin_uid = ? "
                        "AND account_type = 'corporate_member' ORDER BY created, uid",
                        admin_uid, cb, arg);
}

enum fx_err fx_store_account_list_all(struct fx_store *s, fx_store_account_cb cb, void *arg)
{
    return account_each(s, "SELECT " ACCOUNT_COLS " FROM accounts ORDER BY created, uid", NULL,
                        cb, arg);
}

/* Inside a transaction: moves uid's credit by delta and writes the ledger row. */
static enum fx_err ledger_move(struct fx_store *s, const char *uid, int64_t delta,
                               const char *reason, const char *fax_id, int64_t *balance)
{
    int64_t n = 0, bal = 0;
    enum fx_err e =
        q_run(s, &n, "UPDATE accounts SET credit = credit + ? WHERE uid = ?", "it", delta, uid);
    if (!e && !n) e = FX_ERR_NOT_FOUND;
    struct q q;
    if (!e && !(e = q_start(s, &q, "SELECT credit FROM accounts WHERE uid = ?", "t", uid))) {
        if (q_step(&q) == FX_DB_ROW) bal = qi(&q, 0);
        q_end(&q);
    }
    char id[FX_UID_SIZE];
    fx_id_new(id);
    if (!e)
        e = q_run(s, NULL,
                  "INSERT INTO ledger (id, uid, delta, balance, reason, fax_id, created, seq) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, "
                  "(SELECT COALESCE(MAX(seq), 0) + 1 FROM ledger WHERE uid = ?))",
                  "ttiittit", id, uid, delta, bal, reason, fax_id ? fax_id : "", fx_clock_now(),
                  uid);
    if (!e && balance) *balance = bal;
    return e;
}

enum fx_err fx_store_account_credit_add(struct fx_store *s, const char *uid, int64_t pages,
                                        int64_t *balance)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    return tx_end(s, ledger_move(s, uid, pages, "credit added", NULL, balance));
}

enum fx_err fx_store_ledger_list(struct fx_store *s, const char *uid, fx_store_ledger_cb cb,
                                 void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT delta, balance, reason, fax_id, created FROM ledger "
                            "WHERE uid = ? ORDER BY seq",
                            "t", uid);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW)
        e = cb(qi(&q, 0), qi(&q, 1), qt(&q, 2), qt(&q, 3), qi(&q, 4), arg);
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

/* ---- tokens ---- */

static void token_read(struct q *q, struct fx_token *t)
{
    memset(t, 0, sizeof *t);
    CP(t->id, qt(q, 0));
    CP(t->uid, qt(q, 1));
    CP(t->hash, qt(q, 2));
    t->scopes = (int)qi(q, 3);
    CP(t->name, qt(q, 4));
    t->created = qi(q, 5);
    t->revoked = qi(q, 6);
}

enum fx_err fx_store_token_create(struct fx_store *s, struct fx_token *t)
{
    fx_id_new(t->id);
    if (!t->created) t->created = fx_clock_now();
    return q_run(s, NULL,
                 "INSERT INTO tokens (id, uid, hash, scopes, name, created, revoked) "
                 "VALUES (?, ?, ?, ?, ?, ?, 0)",
                 "tttnti", t->id, t->uid, t->hash, t->scopes, t->name, t->created);
}

enum fx_err fx_store_token_find(struct fx_store *s, const char *hash, struct fx_token *out)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT id, uid, hash, scopes, name, created, revoked FROM tokens "
                            "WHERE hash = ? AND revoked = 0",
                            "t", hash);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) token_read(&q, out);
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

enum fx_err fx_store_token_auth(struct fx_store *s, const char *hash, struct fx_token *tok,
                                struct fx_account *acct)
{
    struct q q;
    /* The account's columns come first so account_read's indexes hold. */
    enum fx_err e = q_start(s, &q,
                            "SELECT a.uid, a.account_type, a.status, a.email, a.name, "
                            "a.lastname, a.phone, a.profile_image, a.admin_uid, a.role, a.quota, "
                            "a.credit, a.account_data, a.settings, a.notifications, a.created, "
                            "a.paper, a.resolution, a.logo_blob, a.refuse_anonymous, t.id, "
                            "t.scopes, t.name, t.created "
                            "FROM tokens t JOIN accounts a ON a.uid = t.uid "
                            "WHERE t.hash = ? AND t.revoked = 0",
                            "t", hash);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) {
        account_read(&q, acct);
        memset(tok, 0, sizeof *tok);
        CP(tok->id, qt(&q, 20));
        CP(tok->uid, acct->uid);
        CP(tok->hash, hash);
        tok->scopes = (int)qi(&q, 21);
        CP(tok->name, qt(&q, 22));
        tok->created = qi(&q, 23);
    }
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

enum fx_err fx_store_token_revoke(struct fx_store *s, const char *id)
{
    int64_t n = 0;
    enum fx_err e = q_run(s, &n, "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked = 0",
                          "it", fx_clock_now(), id);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

enum fx_err fx_store_token_list(struct fx_store *s, const char *uid, fx_store_token_cb cb,
                                void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT id, uid, hash, scopes, name, created, revoked FROM tokens "
                            "WHERE uid = ? ORDER BY created, id",
                            "t", uid);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_token t;
        token_read(&q, &t);
        e = cb(&t, arg);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

/* ---- numbers ---- */

#define NUMBER_COLS                                                                        \
    "id, number, owner_id, assigned_to, acquired, status, expires, is_canceled, notifications"

void fx_store_number_clear(struct fx_number *n)
{
    if (!n) return;
    free(n->assigned_to);
    free(n->notifications);
    memset(n, 0, sizeof *n);
}

static void number_read(struct q *q, struct fx_number *n)
{
    memset(n, 0, sizeof *n);
    CP(n->id, qt(q, 0));
    CP(n->number, qt(q, 1));
    CP(n->owner_id, qt(q, 2));
    n->assigned_to = strdup(qt(q, 3));
    n->acquired = qi(q, 4);
    CP(n->status, qt(q, 5));
    n->expires = qi(q, 6);
    n->is_canceled = qi(q, 7) != 0;
    n->notifications = strdup(qt(q, 8));
}

enum fx_err fx_store_number_create(struct fx_store *s, struct fx_number *n)
{
    fx_id_new(n->id);
    if (!n->acquired) n->acquired = fx_clock_now();
    if (!n->status[0]) CP(n->status, "active");
    return q_run(s, NULL,
                 "INSERT INTO numbers (" NUMBER_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 "ttttitint", n->id, n->number, n->owner_id,
                 n->assigned_to ? n->assigned_to : "[]", n->acquired, n->status, n->expires,
                 (int)n->is_canceled, n->notifications ? n->notifications : "[]");
}

enum fx_err fx_store_number_get(struct fx_store *s, const char *number, struct fx_number *out)
{
    struct q q;
    enum fx_err e =
        q_start(s, &q, "SELECT " NUMBER_COLS " FROM numbers WHERE number = ?", "t", number);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) number_read(&q, out);
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

enum fx_err fx_store_number_update(struct fx_store *s, const struct fx_number *n)
{
    int64_t c = 0;
    enum fx_err e = q_run(s, &c,
                          "UPDATE numbers SET assigned_to = ?, status = ?, expires = ?, "
                          "is_canceled = ?, notifications = ? WHERE id = ?",
                          "ttintt", n->assigned_to ? n->assigned_to : "[]", n->status,
                          n->expires, (int)n->is_canceled,
                          n->notifications ? n->notifications : "[]", n->id);
    return e ? e : c ? FX_OK : FX_ERR_NOT_FOUND;
}

enum fx_err fx_store_number_list(struct fx_store *s, const char *uid, bool owned,
                                 fx_store_number_cb cb, void *arg)
{
    /* assigned_to is a JSON array of 32-hex uids, so a quoted substring match is exact. */
    char pattern[FX_UID_SIZE + 8];
    snprintf(pattern, sizeof pattern, "%%\"%s\"%%", uid);
    struct q q;
    enum fx_err e =
        owned ? q_start(s, &q,
                        "SELECT " NUMBER_COLS " FROM numbers WHERE owner_id = ? "
                        "ORDER BY acquired, number",
                        "t", uid)
              : q_start(s, &q,
                        "SELECT " NUMBER_COLS " FROM numbers WHERE assigned_to LIKE ? "
                        "ORDER BY acquired, number",
                        "t", pattern);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_number n;
        number_read(&q, &n);
        e = cb(&n, arg);
        fx_store_number_clear(&n);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

/* ---- uploads ---- */

static void upload_read(struct q *q, struct fx_upload *out);

enum fx_err fx_store_upload_create(struct fx_store *s, struct fx_upload *u)
{
    char id[FX_UID_SIZE];
    fx_id_new(id);
    snprintf(u->path, sizeof u->path, "/transient-%s", id);
    if (!u->created) u->created = fx_clock_now();
    return q_run(s, NULL,
                 "INSERT INTO uploads (path, uid, name, mime, format, size, sha256, blob, "
                 "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 "tttttitti", u->path, u->uid, u->name, u->mime, u->format, u->size, u->sha256,
                 u->blob, u->created);
}

enum fx_err fx_store_upload_get(struct fx_store *s, const char *path, struct fx_upload *out)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT path, uid, name, mime, format, size, sha256, blob, created "
                            "FROM uploads WHERE path = ?",
                            "t", path);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) upload_read(&q, out);
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

enum fx_err fx_store_upload_expire(struct fx_store *s, int64_t before, int *removed)
{
    /* Collect first, then delete: each row goes in its own statement so a crash
     * between the row and its blob leaves at worst an orphan file, never a row
     * pointing at nothing. */
    struct expired {
        char path[48];
        char blob[96];
    } *list = NULL;
    int n = 0, cap = 0;
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT u.path, u.blob FROM uploads u WHERE u.created < ? AND "
                            "NOT EXISTS (SELECT 1 FROM outbox o WHERE o.files LIKE "
                            "'%\"' || u.path || '\"%') LIMIT 1000",
                            "i", before);
    if (e) return e;
    int rc;
    while ((rc = q_step(&q)) == FX_DB_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            struct expired *l = realloc(list, (size_t)cap * sizeof *l);
            if (!l) {
                e = FX_ERR_NOMEM;
                break;
            }
            list = l;
        }
        CP(list[n].path, qt(&q, 0));
        CP(list[n].blob, qt(&q, 1));
        n++;
    }
    q_end(&q);
    if (!e && rc < 0) e = (enum fx_err)-rc;
    int done = 0;
    for (int i = 0; !e && i < n; i++) {
        /* The condition is checked again in the DELETE itself, so an upload that a send
         * named since the scan above stays. */
        int64_t gone = 0;
        e = q_run(s, &gone,
                  "DELETE FROM uploads WHERE path = ? AND NOT EXISTS (SELECT 1 FROM outbox o "
                  "WHERE o.files LIKE '%\"' || uploads.path || '\"%')",
                  "t", list[i].path);
        if (!e && gone && fx_blob_remove(s, list[i].blob))
            fx_warn("store upload blob not removed path=%s", list[i].path);
        done += !e && gone;
    }
    free(list);
    if (removed) *removed = done;
    return e;
}

/* ---- outbox ---- */

#define OUTBOX_COLS                                                                        \
    "id, uid, status, src, designated_src, dests, files, comment, options, retry_count, "   \
    "retry_delay, send_time, submit_time, status_time, status_changes, file_changes, "     \
    "page_count, ip, initiated_from, cover_page, should_enhance, comment_text, paper, "      \
    "resolution, cover_to, cover_from, cover_subject, cover_message, cover_flags, company, " \
    "doc_blob, lease_owner, lease_until, logo_blob"

void fx_store_outbox_clear(struct fx_outbox *o)
{
    if (!o) return;
    free(o->files);
    free(o->comment);
    free(o->options);
    free(o->status_changes);
    free(o->file_changes);
    free(o->initiated_from);
    free(o->cover_page);
    free(o->dests);
    free(o->comment_text);
    free(o->cover_to);
    free(o->cover_from);
    free(o->cover_subject);
    free(o->cover_message);
    free(o->company);
    memset(o, 0, sizeof *o);
}

static void outbox_read(struct q *q, struct fx_outbox *o)
{
    memset(o, 0, sizeof *o);
    CP(o->id, qt(q, 0));
    CP(o->uid, qt(q, 1));
    CP(o->status, qt(q, 2));
    CP(o->src, qt(q, 3));
    CP(o->designated_src, qt(q, 4));
    o->dests = strdup(qt(q, 5));
    o->files = strdup(qt(q, 6));
    o->comment = strdup(qt(q, 7));
    o->options = strdup(qt(q, 8));
    o->retry_count = (int)qi(q, 9);
    o->retry_delay = (int)qi(q, 10);
    o->send_time = qi(q, 11);
    o->submit_time = qi(q, 12);
    o->status_time = qi(q, 13);
    o->status_changes = strdup(qt(q, 14));
    o->file_changes = strdup(qt(q, 15));
    o->page_count = (int)qi(q, 16);
    CP(o->ip, qt(q, 17));
    o->initiated_from = strdup(qt(q, 18));
    o->cover_page = strdup(qt(q, 19));
    o->should_enhance = qi(q, 20) != 0;
    o->comment_text = strdup(qt(q, 21));
    CP(o->paper, qt(q, 22));
    CP(o->resolution, qt(q, 23));
    o->cover_to = strdup(qt(q, 24));
    o->cover_from = strdup(qt(q, 25));
    o->cover_subject = strdup(qt(q, 26));
    o->cover_message = strdup(qt(q, 27));
    o->cover_flags = (int)qi(q, 28);
    o->company = strdup(qt(q, 29));
    CP(o->doc_blob, qt(q, 30));
    CP(o->lease_owner, qt(q, 31));
    o->lease_until = qi(q, 32);
    CP(o->logo_blob, qt(q, 33));
}

static const char *nz(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

static enum fx_err outbox_insert(struct fx_store *s, const struct fx_outbox *o)
{
    return q_run(s, NULL,
                 "INSERT INTO outbox (" OUTBOX_COLS ") VALUES "
                 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "?, ?, ?, ?, ?, ?, ?, ?)",
                 "tttttttttnniiittntttntttttttntttit", o->id, o->uid, o->status, o->src, o->designated_src,
                 nz(o->dests, "[]"), nz(o->files, "[]"), nz(o->comment, "{}"),
                 nz(o->options, "{}"), o->retry_count, o->retry_delay, o->send_time,
                 o->submit_time, o->status_time, nz(o->status_changes, "[]"),
                 nz(o->file_changes, "[]"), o->page_count, o->ip, nz(o->initiated_from, ""),
                 nz(o->cover_page, ""), (int)o->should_enhance, nz(o->comment_text, ""),
                 o->paper[0] ? o->paper : "a4", o->resolution[0] ? o->resolution : "fine",
                 nz(o->cover_to, ""), nz(o->cover_from, ""), nz(o->cover_subject, ""),
                 nz(o->cover_message, ""), o->cover_flags, nz(o->company, ""), o->doc_blob,
                 o->lease_owner, o->lease_until, o->logo_blob);
}

/* Inserts a final fax record and its webhook deliveries (see "webhook deliveries"). */
static enum fx_err fax_create_notify(struct fx_store *s, const struct fx_fax *f);

enum fx_err fx_store_outbox_create(struct fx_store *s, struct fx_outbox *o,
                                   const char *const *files, int n_files,
                                   const struct fx_dest *dests, int n_dests,
                                   const struct fx_fax *finals, int n_finals)
{
    fx_id_new(o->id);
    int pending = 0;
    for (int i = 0; i < n_dests; i++) pending += dests[i].number[0] != 0;
    enum fx_err e = tx_begin(s);
    if (e) return e;
    if (pending) e = outbox_insert(s, o);
    for (int i = 0; !e && pending && i < n_files; i++)
        e = q_run(s, NULL, "INSERT INTO outbox_files (outbox_id, idx, path) VALUES (?, ?, ?)",
                  "tnt", o->id, i, files[i]);
    for (int i = 0; !e && pending && i < n_dests; i++) {
        if (!dests[i].number[0]) continue;
        e = q_run(s, NULL,
                  "INSERT INTO outbox_dests (fax_id, outbox_id, idx, raw, number, state) "
                  "VALUES (?, ?, ?, ?, ?, 'pending')",
                  "ttntt", dests[i].fax_id, o->id, i, dests[i].raw, dests[i].number);
    }
    for (int i = 0; !e && i < n_finals; i++) e = fax_create_notify(s, &finals[i]);
    return tx_end(s, e);
}

static void upload_read(struct q *q, struct fx_upload *out)
{
    memset(out, 0, sizeof *out);
    CP(out->path, qt(q, 0));
    CP(out->uid, qt(q, 1));
    CP(out->name, qt(q, 2));
    CP(out->mime, qt(q, 3));
    CP(out->format, qt(q, 4));
    out->size = qi(q, 5);
    CP(out->sha256, qt(q, 6));
    CP(out->blob, qt(q, 7));
    out->created = qi(q, 8);
}

enum fx_err fx_store_outbox_uploads(struct fx_store *s, const char *id, fx_store_upload_cb cb,
                                    void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT u.path, u.uid, u.name, u.mime, u.format, u.size, u.sha256, "
                            "u.blob, u.created FROM outbox_files f JOIN uploads u "
                            "ON u.path = f.path WHERE f.outbox_id = ? ORDER BY f.idx",
                            "t", id);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_upload u;
        upload_read(&q, &u);
        e = cb(&u, arg);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_outbox_dests(struct fx_store *s, const char *id, fx_store_dest_cb cb,
                                  void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT fax_id, raw, number FROM outbox_dests WHERE outbox_id = ? "
                            "AND state = 'pending' ORDER BY idx",
                            "t", id);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_dest d;
        CP(d.fax_id, qt(&q, 0));
        CP(d.raw, qt(&q, 1));
        CP(d.number, qt(&q, 2));
        e = cb(&d, arg);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_outbox_release_leases(struct fx_store *s)
{
    return q_run(s, NULL,
                 "UPDATE outbox SET lease_until = 0 WHERE status = 'converting' AND "
                 "lease_owner LIKE ?",
                 "t", s->own_leases);
}

enum fx_err fx_store_outbox_get(struct fx_store *s, const char *id, struct fx_outbox *out)
{
    struct q q;
    enum fx_err e =
        q_start(s, &q, "SELECT " OUTBOX_COLS " FROM outbox WHERE id = ?", "t", id);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) outbox_read(&q, out);
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

enum fx_err fx_store_outbox_list(struct fx_store *s, const char *uid, fx_store_outbox_cb cb,
                                 void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT " OUTBOX_COLS " FROM outbox WHERE uid = ? "
                            "ORDER BY submit_time, id",
                            "t", uid);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_outbox o;
        outbox_read(&q, &o);
        e = cb(&o, arg);
        fx_store_outbox_clear(&o);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

/* FX_OK when the record exists and is not yet sending. */
static enum fx_err outbox_check_mutable(struct fx_store *s, const char *id)
{
    struct q q;
    enum fx_err e = q_start(s, &q, "SELECT status FROM outbox WHERE id = ?", "t", id);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) e = strcmp(qt(&q, 0), "sending") == 0 ? FX_ERR_CONFLICT : FX_OK;
    else e = rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
    q_end(&q);
    return e;
}

enum fx_err fx_store_outbox_set_comment(struct fx_store *s, const char *id, const char *comment,
                                        const char *text)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = outbox_check_mutable(s, id);
    if (!e)
        e = q_run(s, NULL, "UPDATE outbox SET comment = ?, comment_text = ? WHERE id = ?",
                  "ttt", comment, text, id);
    return tx_end(s, e);
}

enum fx_err fx_store_outbox_cancel(struct fx_store *s, const char *id)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = outbox_check_mutable(s, id);
    if (!e) e = q_run(s, NULL, "DELETE FROM outbox_dests WHERE outbox_id = ?", "t", id);
    if (!e) e = q_run(s, NULL, "DELETE FROM outbox_files WHERE outbox_id = ?", "t", id);
    if (!e) e = q_run(s, NULL, "DELETE FROM outbox WHERE id = ?", "t", id);
    return tx_end(s, e);
}

/* Appends {"at": …, "status": …} to a JSON array held as text. new; NULL on OOM. */
static char *json_array_append_status(const char *arr, const char *status, int64_t at)
{
    char ts[FX_TIME_LEN];
    fx_time_format(at, ts);
    struct fx_buf b;
    fx_buf_init(&b);
    const char *end = strrchr(arr, ']');
    bool empty = true;
    for (const char *p = arr; end && p < end; p++)
        if (*p == '{') empty = false;
    if (!end || empty) fx_buf_append(&b, "[", 1);
    else fx_buf_append(&b, arr, (size_t)(end - arr)), fx_buf_append(&b, ",", 1);
    if (fx_buf_printf(&b, "{\"at\":\"%s\",\"status\":\"%s\"}]", ts, status)) {
        fx_buf_free(&b);
        return NULL;
    }
    return fx_buf_steal(&b);
}

/* Inside a transaction: moves the record to status, appending to its history. */
static enum fx_err status_append(struct fx_store *s, const char *id, const char *status,
                                 int64_t at)
{
    struct q q;
    char *changes = NULL;
    enum fx_err e = q_start(s, &q, "SELECT status_changes FROM outbox WHERE id = ?", "t", id);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) changes = json_array_append_status(qt(&q, 0), status, at);
    e = rc == FX_DB_ROW ? (changes ? FX_OK : FX_ERR_NOMEM)
        : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
    q_end(&q);
    if (!e)
        e = q_run(s, NULL,
                  "UPDATE outbox SET status = ?, status_time = ?, status_changes = ? "
                  "WHERE id = ?",
                  "titt", status, at, changes, id);
    free(changes);
    return e;
}

enum fx_err fx_store_outbox_set_status(struct fx_store *s, const char *id, const char *status,
                                       int64_t at)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    return tx_end(s, status_append(s, id, status, at));
}

enum fx_err fx_store_outbox_claim_convert(struct fx_store *s, const char *owner, int64_t now,
                                          int64_t lease_s, struct fx_outbox *out)
{
    /* A read first: idle workers poll, and must not take the write lock to find nothing. */
    struct q pre;
    if (!q_start(s, &pre,
                 "SELECT 1 FROM outbox WHERE status = 'submitted' OR "
                 "(status = 'converting' AND lease_until < ?) LIMIT 1",
                 "i", now)) {
        int rc = q_step(&pre);
        q_end(&pre);
        if (rc == FX_DB_DONE) return FX_ERR_NOT_FOUND;
    }
    enum fx_err e = tx_begin_claim(s);
    if (e) return e;
    char id[FX_UID_SIZE] = "";
    bool fresh = false;
    struct q q;
    if (!(e = q_start(s, &q,
                      "SELECT id, status FROM outbox WHERE status = 'submitted' OR "
                      "(status = 'converting' AND lease_until < ?) "
                      "ORDER BY submit_time, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                      "i", now))) {
        int rc = q_step(&q);
        if (rc == FX_DB_ROW) {
            CP(id, qt(&q, 0));
            fresh = strcmp(qt(&q, 1), "submitted") == 0;
        }
        e = rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
        q_end(&q);
    }
    /* A record whose worker died keeps its history: only a fresh claim adds a step. */
    if (!e && fresh) e = status_append(s, id, "converting", now);
    if (!e)
        e = q_run(s, NULL, "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                  "tit", owner, now + lease_s, id);
    if ((e = tx_end(s, e))) return e;
    return fx_store_outbox_get(s, id, out);
}

/* Inside a transaction: FX_OK when id is converting under owner's lease. */
static enum fx_err check_lease(struct fx_store *s, const char *id, const char *owner)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT 1 FROM outbox WHERE id = ? AND status = 'converting' "
                            "AND lease_owner = ?",
                            "tt", id, owner);
    if (e) return e;
    int rc = q_step(&q);
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

enum fx_err fx_store_outbox_converted(struct fx_store *s, const char *id, const char *owner,
                                      const char *doc_blob, int pages, int64_t now)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = check_lease(s, id, owner);
    if (!e) e = status_append(s, id, "scheduled_for_sending", now);
    if (!e)
        e = q_run(s, NULL,
                  "UPDATE outbox SET doc_blob = ?, page_count = ?, lease_owner = '', "
                  "lease_until = 0 WHERE id = ?",
                  "tnt", doc_blob, pages, id);
    return tx_end(s, e);
}

/* The final record of one destination of o that never reached the line. */
static void fax_from_outbox(const struct fx_outbox *o, const char *fax_id, const char *raw,
                            const char *status, const char *description, int64_t now,
                            struct fx_fax *f)
{
    memset(f, 0, sizeof *f);
    CP(f->id, fax_id);
    CP(f->owner_id, o->uid);
    CP(f->direction, "outgoing");
    CP(f->category, "sent");
    CP(f->status, status);
    f->comment = o->comment_text;
    f->cost_multiplier = 1;
    CP(f->description, description);
    snprintf(f->file_name, sizeof f->file_name, "fax-to-%s", raw);
    CP(f->from, o->src);
    CP(f->to, raw);
    f->last_update = now;
    f->scheduled_time = o->send_time;
    f->submit_time = f->sort_time = o->submit_time;
    f->max_retry = o->retry_count;
    f->retry_delay = o->retry_delay;
    f->cover_page = o->cover_page;
    CP(f->outbox_id, o->id);
}

enum fx_err fx_store_outbox_fail_all(struct fx_store *s, const char *id, const char *owner,
                                     const char *status, const char *description, int64_t now,
                                     int *n)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    struct fx_outbox o = {0};
    int written = 0;
    if (owner) e = check_lease(s, id, owner);
    if (!e) e = fx_store_outbox_get(s, id, &o);
    struct q q;
    if (!e && !(e = q_start(s, &q,
                            "SELECT fax_id, raw FROM outbox_dests WHERE outbox_id = ? AND "
                            "state = 'pending' ORDER BY idx",
                            "t", id))) {
        int rc;
        /* Each insert uses other statements than this SELECT, so rows can be written
         * while it is open (same connection, same transaction). */
        while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
            struct fx_fax f;
            fax_from_outbox(&o, qt(&q, 0), qt(&q, 1), status, description, now, &f);
            e = fax_create_notify(s, &f);
            written += !e;
        }
        if (!e && rc < 0) e = (enum fx_err)-rc;
        q_end(&q);
    }
    if (!e) e = q_run(s, NULL, "DELETE FROM outbox_dests WHERE outbox_id = ?", "t", id);
    if (!e) e = q_run(s, NULL, "DELETE FROM outbox_files WHERE outbox_id = ?", "t", id);
    if (!e) e = q_run(s, NULL, "DELETE FROM outbox WHERE id = ?", "t", id);
    fx_store_outbox_clear(&o);
    e = tx_end(s, e);
    if (n) *n = e ? 0 : written;
    return e;
}

/* ---- faxes ---- */

#define FAX_COLS                                                                           \
    "id, owner_id, direction, category, status, pages, comment, cost, cost_multiplier, "    \
    "description, duration, file, file_name, blob, src, dst, header, is_read, is_spam, "   \
    "last_update, scheduled_time, start_time, submit_time, sort_time, max_retry, "         \
    "retry_delay, cover_page, outbox_id, attempts, remote_ident, bit_rate, ecm, transport"

void fx_store_fax_clear(struct fx_fax *f)
{
    if (!f) return;
    free(f->comment);
    free(f->cover_page);
    memset(f, 0, sizeof *f);
}

static void fax_read(struct q *q, struct fx_fax *f)
{
    memset(f, 0, sizeof *f);
    CP(f->id, qt(q, 0));
    CP(f->owner_id, qt(q, 1));
    CP(f->direction, qt(q, 2));
    CP(f->category, qt(q, 3));
    CP(f->status, qt(q, 4));
    f->pages = (int)qi(q, 5);
    f->comment = strdup(qt(q, 6));
    f->cost = qi(q, 7);
    f->cost_multiplier = q->s->ops->col_double(q->st, 8);
    CP(f->description, qt(q, 9));
    f->duration = (int)qi(q, 10);
    CP(f->file, qt(q, 11));
    CP(f->file_name, qt(q, 12));
    CP(f->blob, qt(q, 13));
    CP(f->from, qt(q, 14));
    CP(f->to, qt(q, 15));
    CP(f->header, qt(q, 16));
    f->is_read = qi(q, 17) != 0;
    f->is_spam = qi(q, 18) != 0;
    f->last_update = qi(q, 19);
    f->scheduled_time = qi(q, 20);
    f->start_time = qi(q, 21);
    f->submit_time = qi(q, 22);
    f->sort_time = qi(q, 23);
    f->max_retry = (int)qi(q, 24);
    f->retry_delay = (int)qi(q, 25);
    f->cover_page = strdup(qt(q, 26));
    CP(f->outbox_id, qt(q, 27));
    f->attempts = (int)qi(q, 28);
    CP(f->remote_ident, qt(q, 29));
    f->bit_rate = (int)qi(q, 30);
    f->ecm = qi(q, 31) != 0;
    CP(f->transport, qt(q, 32));
}

enum fx_err fx_store_fax_create(struct fx_store *s, const struct fx_fax *f)
{
    return q_run(s, NULL,
                 "INSERT INTO faxes (" FAX_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 "tttttntidtnttttttnniiiiinnttntnnt", f->id, f->owner_id, f->direction, f->category,
                 f->status, f->pages, nz(f->comment, ""), f->cost, f->cost_multiplier,
                 f->description, f->duration, f->file, f->file_name, f->blob, f->from, f->to,
                 f->header, (int)f->is_read, (int)f->is_spam, f->last_update, f->scheduled_time,
                 f->start_time, f->submit_time, f->sort_time, f->max_retry, f->retry_delay,
                 nz(f->cover_page, ""), f->outbox_id, f->attempts, f->remote_ident, f->bit_rate,
                 (int)f->ecm, f->transport);
}

static enum fx_err fax_get_by(struct fx_store *s, const char *sql, const char *key,
                              struct fx_fax *out)
{
    struct q q;
    enum fx_err e = q_start(s, &q, sql, "t", key);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) fax_read(&q, out);
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

enum fx_err fx_store_fax_get(struct fx_store *s, const char *id, struct fx_fax *out)
{
    return fax_get_by(s, "SELECT " FAX_COLS " FROM faxes WHERE id = ?", id, out);
}

enum fx_err fx_store_fax_get_by_file(struct fx_store *s, const char *file, struct fx_fax *out)
{
    if (!file[0]) return FX_ERR_NOT_FOUND;
    return fax_get_by(s, "SELECT " FAX_COLS " FROM faxes WHERE file = ?", file, out);
}

enum fx_err fx_store_fax_list(struct fx_store *s, const struct fx_fax_query *qy,
                              fx_store_fax_cb cb, void *arg)
{
    int64_t after = qy->after ? qy->after : INT64_MIN;
    int64_t before = qy->before ? qy->before : INT64_MAX;
    struct q q;
    enum fx_err e =
        qy->category
            ? q_start(s, &q,
                      "SELECT " FAX_COLS " FROM faxes WHERE owner_id = ? AND category = ? "
                      "AND sort_time > ? AND sort_time < ? "
                      "ORDER BY sort_time DESC, id DESC LIMIT ?",
                      "ttiin", qy->owner_id, qy->category, after, before, qy->limit)
            : q_start(s, &q,
                      "SELECT " FAX_COLS " FROM faxes WHERE owner_id = ? "
                      "AND category IN ('inbox', 'sent') AND sort_time > ? AND sort_time < ? "
                      "ORDER BY sort_time DESC, id DESC LIMIT ?",
                      "tiin", qy->owner_id, after, before, qy->limit);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_fax f;
        fax_read(&q, &f);
        e = cb(&f, arg);
        fx_store_fax_clear(&f);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_fax_update(struct fx_store *s, const char *id, const char *comment,
                                int is_read, int64_t now)
{
    int64_t n = 0;
    /* One statement: CASE keeps each field unchanged unless given. */
    enum fx_err e = q_run(s, &n,
                          "UPDATE faxes SET comment = CASE WHEN ? = 1 THEN ? ELSE comment END, "
                          "is_read = CASE WHEN ? >= 0 THEN ? ELSE is_read END, "
                          "last_update = ? WHERE id = ?",
                          "ntnnit", comment ? 1 : 0, comment ? comment : "", is_read,
                          is_read > 0 ? 1 : 0, now, id);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

enum fx_err fx_store_fax_delete(struct fx_store *s, const char *id)
{
    int64_t n = 0;
    enum fx_err e = q_run(s, &n, "DELETE FROM faxes WHERE id = ?", "t", id);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

/* ---- hooks ---- */

static void hook_read(struct q *q, struct fx_hook *h)
{
    memset(h, 0, sizeof *h);
    CP(h->id, qt(q, 0));
    CP(h->uid, qt(q, 1));
    CP(h->target, qt(q, 2));
    CP(h->event, qt(q, 3));
    h->created = qi(q, 4);
}

enum fx_err fx_store_hook_create(struct fx_store *s, struct fx_hook *h)
{
    fx_id_new(h->id);
    if (!h->created) h->created = fx_clock_now();
    return q_run(s, NULL,
                 "INSERT INTO hooks (id, uid, target, event, created) VALUES (?, ?, ?, ?, ?)",
                 "tttti", h->id, h->uid, h->target, h->event, h->created);
}

enum fx_err fx_store_hook_get(struct fx_store *s, const char *id, struct fx_hook *out)
{
    struct q q;
    enum fx_err e = q_start(
        s, &q, "SELECT id, uid, target, event, created FROM hooks WHERE id = ?", "t", id);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) hook_read(&q, out);
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

enum fx_err fx_store_hook_list(struct fx_store *s, const char *uid, const char *event,
                               fx_store_hook_cb cb, void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT id, uid, target, event, created FROM hooks "
                            "WHERE uid = ? AND event = ? ORDER BY created, id",
                            "tt", uid, event);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_hook h;
        hook_read(&q, &h);
        e = cb(&h, arg);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_hook_delete(struct fx_store *s, const char *id)
{
    int64_t n = 0;
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = q_run(s, &n, "DELETE FROM hooks WHERE id = ?", "t", id);
    if (!e && !n) e = FX_ERR_NOT_FOUND;
    /* Its pending deliveries end here (webhook deliveries). */
    if (!e)
        e = q_run(s, NULL,
                  "UPDATE deliveries SET state = 'failed', last_error = 'hook deleted' "
                  "WHERE hook_id = ? AND state = 'pending'",
                  "t", id);
    return tx_end(s, e);
}

/* ---- sending ---- */

enum fx_err fx_store_dest_release_leases(struct fx_store *s)
{
    return q_run(s, NULL,
                 "UPDATE outbox_dests SET lease_until = 0 WHERE lease_owner <> '' AND "
                 "lease_owner LIKE ?",
                 "t", s->own_leases);
}

static enum fx_err job_read(struct fx_store *s, const char *fax_id, struct fx_send_job *j)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT d.fax_id, d.raw, d.number, o.id, o.uid, o.src, o.doc_blob, "
                            "o.page_count, d.attempts, d.pages_done, o.retry_count, "
                            "o.retry_delay, d.first_start FROM outbox_dests d "
                            "JOIN outbox o ON o.id = d.outbox_id WHERE d.fax_id = ?",
                            "t", fax_id);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) {
        memset(j, 0, sizeof *j);
        CP(j->dest.fax_id, qt(&q, 0));
        CP(j->dest.raw, qt(&q, 1));
        CP(j->dest.number, qt(&q, 2));
        CP(j->outbox_id, qt(&q, 3));
        CP(j->uid, qt(&q, 4));
        CP(j->src, qt(&q, 5));
        CP(j->doc_blob, qt(&q, 6));
        j->page_count = (int)qi(&q, 7);
        j->attempt = (int)qi(&q, 8);
        j->pages_done = (int)qi(&q, 9);
        j->retry_count = (int)qi(&q, 10);
        j->retry_delay = (int)qi(&q, 11);
        j->first_start = qi(&q, 12);
    }
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

/* Outside any transaction: is anything due? Idle dialers ask every second, and this
 * keeps them from taking the write lock just to find nothing. */
static bool dest_due(struct fx_store *s, int64_t now)
{
    struct q q;
    if (q_start(s, &q,
                "SELECT 1 FROM outbox_dests d JOIN outbox o ON o.id = d.outbox_id "
                "WHERE d.state = 'pending' AND o.status IN ('scheduled_for_sending', "
                "'sending') AND o.send_time <= ? AND d.next_at <= ? AND d.lease_until < ? "
                "LIMIT 1",
                "iii", now, now, now))
        return true; /* let the claim itself report the error */
    int rc = q_step(&q);
    q_end(&q);
    return rc != FX_DB_DONE;
}

enum fx_err fx_store_dest_claim(struct fx_store *s, const char *owner, int64_t now,
                                int64_t lease_s, struct fx_send_job *out)
{
    if (!dest_due(s, now)) return FX_ERR_NOT_FOUND;
    enum fx_err e = tx_begin_claim(s);
    if (e) return e;
    char fax_id[FX_UID_SIZE] = "", outbox_id[FX_UID_SIZE] = "";
    bool first = false;
    struct q q;
    if (!(e = q_start(s, &q,
                      "SELECT d.fax_id, o.id, o.status FROM outbox_dests d JOIN outbox o "
                      "ON o.id = d.outbox_id WHERE d.state = 'pending' AND o.status IN "
                      "('scheduled_for_sending', 'sending') AND o.send_time <= ? AND "
                      "d.next_at <= ? AND d.lease_until < ? "
                      "ORDER BY d.next_at, o.submit_time, d.idx LIMIT 1 "
                      "FOR UPDATE SKIP LOCKED",
                      "iii", now, now, now))) {
        int rc = q_step(&q);
        if (rc == FX_DB_ROW) {
            CP(fax_id, qt(&q, 0));
            CP(outbox_id, qt(&q, 1));
            first = strcmp(qt(&q, 2), "sending") != 0;
        }
        e = rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
        q_end(&q);
    }
    if (!e && first) e = status_append(s, outbox_id, "sending", now);
    if (!e)
        e = q_run(s, NULL,
                  "UPDATE outbox_dests SET lease_owner = ?, lease_until = ?, "
                  "attempts = attempts + 1, first_start = CASE WHEN first_start = 0 THEN ? "
                  "ELSE first_start END WHERE fax_id = ?",
                  "tiit", owner, now + lease_s, now, fax_id);
    if (!e) e = job_read(s, fax_id, out);
    return tx_end(s, e);
}

/* Inside a transaction: FX_OK when owner holds the destination's lease. */
static enum fx_err check_dest_lease(struct fx_store *s, const char *fax_id, const char *owner)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT 1 FROM outbox_dests WHERE fax_id = ? AND lease_owner = ? "
                            "AND state = 'pending'",
                            "tt", fax_id, owner);
    if (e) return e;
    int rc = q_step(&q);
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

static enum fx_err attempt_insert(struct fx_store *s, const struct fx_attempt *a)
{
    char id[FX_UID_SIZE];
    if (a->id[0]) CP(id, a->id);
    else fx_id_new(id);
    return q_run(s, NULL,
                 "INSERT INTO attempts (id, fax_id, direction, number, line, started, ended, "
                 "status, call_end, sip_code, t30_code, t30_text, pages, bit_rate, ecm, "
                 "transport, remote_ident) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "?, ?, ?)",
                 "tttttiittnntnnntt", id, a->fax_id, a->direction, a->number, a->line,
                 a->started, a->ended, a->status, a->call_end, a->sip_code, a->t30_code,
                 a->t30_text, a->pages, a->bit_rate, (int)a->ecm, a->transport, a->remote_ident);
}

enum fx_err fx_store_dest_retry(struct fx_store *s, const struct fx_send_job *job,
                                const char *owner, const struct fx_attempt *a, int pages_done,
                                int64_t next_at, bool refund)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = check_dest_lease(s, job->dest.fax_id, owner);
    if (!e) e = attempt_insert(s, a);
    if (!e)
        e = q_run(s, NULL,
                  "UPDATE outbox_dests SET lease_owner = '', lease_until = 0, next_at = ?, "
                  "pages_done = ?, attempts = attempts - ? WHERE fax_id = ?",
                  "innt", next_at, pages_done, refund ? 1 : 0, job->dest.fax_id);
    return tx_end(s, e);
}

enum fx_err fx_store_dest_progress(struct fx_store *s, const struct fx_send_job *job,
                                   const char *owner, int pages_done)
{
    int64_t changed = 0;
    enum fx_err e = q_run(s, &changed,
                          "UPDATE outbox_dests SET pages_done = ? WHERE fax_id = ? AND "
                          "lease_owner = ? AND state = 'pending'",
                          "ntt", pages_done, job->dest.fax_id, owner);
    if (!e && changed == 0) e = FX_ERR_NOT_FOUND;
    return e;
}

/* Lease renewal: one UPDATE fenced by the owner, so a lease another worker has since
 * claimed is never taken back. An expired lease nobody claimed yet is extended: its
 * owner still is the only one working on it. */
enum fx_err fx_store_lease_renew(struct fx_store *s, enum fx_store_lease kind, const char *id,
                                 const char *owner, int64_t until)
{
    const char *sql = kind == FX_STORE_LEASE_DIAL
                          ? "UPDATE outbox_dests SET lease_until = ? WHERE fax_id = ? AND "
                            "lease_owner = ? AND state = 'pending'"
                      : kind == FX_STORE_LEASE_RX
                          ? "UPDATE rx_calls SET lease_until = ? WHERE id = ? AND lease_owner = ?"
                          : "UPDATE outbox SET lease_until = ? WHERE id = ? AND lease_owner = ? "
                            "AND status = 'converting'";
    int64_t changed = 0;
    enum fx_err e = q_run(s, &changed, sql, "itt", until, id, owner);
    return !e && changed == 0 ? FX_ERR_NOT_FOUND : e;
}

enum fx_err fx_store_dest_finish(struct fx_store *s, const struct fx_send_job *job,
                                 const char *owner, const struct fx_attempt *a,
                                 const struct fx_fax *f)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = check_dest_lease(s, job->dest.fax_id, owner);
    if (!e) e = attempt_insert(s, a);
    if (!e) e = fax_create_notify(s, f);
    if (!e)
        e = q_run(s, NULL, "UPDATE outbox_dests SET state = 'done', lease_owner = '' "
                           "WHERE fax_id = ?",
                  "t", job->dest.fax_id);
    /* The last destination takes the outbox record (and its document) with it. */
    int64_t pending = 1;
    struct q q;
    if (!e && !(e = q_start(s, &q,
                            "SELECT COUNT(*) FROM outbox_dests WHERE outbox_id = ? AND "
                            "state = 'pending'",
                            "t", job->outbox_id))) {
        if (q_step(&q) == FX_DB_ROW) pending = qi(&q, 0);
        q_end(&q);
    }
    if (!e && pending == 0) {
        e = q_run(s, NULL, "DELETE FROM outbox_dests WHERE outbox_id = ?", "t", job->outbox_id);
        if (!e)
            e = q_run(s, NULL, "DELETE FROM outbox_files WHERE outbox_id = ?", "t",
                      job->outbox_id);
        if (!e) e = q_run(s, NULL, "DELETE FROM outbox WHERE id = ?", "t", job->outbox_id);
    }
    if ((e = tx_end(s, e))) return e;
    if (pending == 0 && job->doc_blob[0]) fx_blob_remove(s, job->doc_blob);
    return FX_OK;
}

/* ---- inbound calls in progress ---- */

/* The blob keys of a call's pages, collected inside the transaction that drops their
 * rows and removed once it committed (blob removal runs transactions of its own). */
struct rx_keys {
    char (*v)[96];
    int n, cap;
};

static enum fx_err rx_key_add(int page, const char *blob, void *arg)
{
    (void)page;
    struct rx_keys *k = arg;
    if (k->n == k->cap) {
        int cap = k->cap ? k->cap * 2 : 8;
        void *v = realloc(k->v, (size_t)cap * sizeof *k->v);
        if (!v) return FX_ERR_NOMEM;
        k->v = v;
        k->cap = cap;
    }
    CP(k->v[k->n++], blob);
    return FX_OK;
}

/* Inside a transaction: removes call id's row and pages, their keys into k. */
static enum fx_err rx_drop(struct fx_store *s, const char *id, struct rx_keys *k)
{
    enum fx_err e = fx_store_rx_pages(s, id, rx_key_add, k);
    if (!e) e = q_run(s, NULL, "DELETE FROM rx_pages WHERE call_id = ?", "t", id);
    if (!e) e = q_run(s, NULL, "DELETE FROM rx_calls WHERE id = ?", "t", id);
    return e;
}

/* After the transaction: removes the blobs when it committed. */
static enum fx_err rx_keys_done(struct fx_store *s, struct rx_keys *k, enum fx_err e)
{
    for (int i = 0; !e && i < k->n; i++) fx_blob_remove(s, k->v[i]);
    free(k->v);
    return e;
}

enum fx_err fx_store_fax_received(struct fx_store *s, const struct fx_attempt *a,
                                  const struct fx_fax *f)
{
    struct rx_keys k = {0};
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = attempt_insert(s, a);
    if (!e) e = fax_create_notify(s, f);
    if (!e) e = rx_drop(s, f->id, &k);
    return rx_keys_done(s, &k, tx_end(s, e));
}

enum fx_err fx_store_rx_begin(struct fx_store *s, const struct fx_rx_call *c)
{
    return q_run(s, NULL,
                 "INSERT INTO rx_calls (id, to_number, from_number, transport, line, started, "
                 "lease_owner, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 "tttttiti", c->id, c->to, c->from, c->transport, c->line, c->started,
                 c->lease_owner, c->lease_until);
}

enum fx_err fx_store_rx_page(struct fx_store *s, const char *id, const char *owner, int page,
                             const char *blob, int64_t lease_until)
{
    int64_t n = 0;
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = q_run(s, &n,
              "UPDATE rx_calls SET pages = ?, lease_until = ? WHERE id = ? AND lease_owner = ? "
              "AND pages = ?",
              "nittn", page, lease_until, id, owner, page - 1);
    if (!e && n == 0) e = FX_ERR_NOT_FOUND;
    if (!e)
        e = q_run(s, NULL, "INSERT INTO rx_pages (call_id, page, blob) VALUES (?, ?, ?)", "tnt",
                  id, page, blob);
    return tx_end(s, e);
}

enum fx_err fx_store_rx_claim(struct fx_store *s, const char *owner, int64_t now,
                              int64_t lease_s, struct fx_rx_call *out)
{
    /* Every node asks every few seconds and nearly always finds nothing: a plain read
     * first keeps that off the write lock. */
    struct q q;
    enum fx_err e = q_start(s, &q, "SELECT 1 FROM rx_calls WHERE lease_until < ? LIMIT 1", "i",
                            now);
    if (e) return e;
    int rc = q_step(&q);
    q_end(&q);
    if (rc != FX_DB_ROW) return rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
    if ((e = tx_begin_claim(s))) return e;
    memset(out, 0, sizeof *out);
    if (!(e = q_start(s, &q,
                      "SELECT id, to_number, from_number, transport, line, started, pages "
                      "FROM rx_calls WHERE lease_until < ? ORDER BY started, id LIMIT 1 "
                      "FOR UPDATE SKIP LOCKED",
                      "i", now))) {
        rc = q_step(&q);
        if (rc == FX_DB_ROW) {
            CP(out->id, qt(&q, 0));
            CP(out->to, qt(&q, 1));
            CP(out->from, qt(&q, 2));
            CP(out->transport, qt(&q, 3));
            CP(out->line, qt(&q, 4));
            out->started = qi(&q, 5);
            out->pages = (int)qi(&q, 6);
        }
        e = rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
        q_end(&q);
    }
    CP(out->lease_owner, owner);
    out->lease_until = now + lease_s;
    if (!e)
        e = q_run(s, NULL, "UPDATE rx_calls SET lease_owner = ?, lease_until = ? WHERE id = ?",
                  "tit", owner, out->lease_until, out->id);
    return tx_end(s, e);
}

enum fx_err fx_store_rx_pages(struct fx_store *s, const char *id, fx_store_rx_page_cb cb,
                              void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT page, blob FROM rx_pages WHERE call_id = ? ORDER BY page",
                            "t", id);
    if (e) return e;
    int rc = FX_DB_DONE;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) e = cb((int)qi(&q, 0), qt(&q, 1), arg);
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_rx_end(struct fx_store *s, const char *id)
{
    struct rx_keys k = {0};
    enum fx_err e = tx_begin(s);
    if (e) return e;
    return rx_keys_done(s, &k, tx_end(s, rx_drop(s, id, &k)));
}

enum fx_err fx_store_rx_release_leases(struct fx_store *s)
{
    return q_run(s, NULL,
                 "UPDATE rx_calls SET lease_until = 0 WHERE lease_owner <> '' AND "
                 "lease_owner LIKE ?",
                 "t", s->own_leases);
}

enum fx_err fx_store_attempt_list(struct fx_store *s, const char *fax_id, fx_store_attempt_cb cb,
                                  void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT id, fax_id, direction, number, line, started, ended, status, "
                            "call_end, sip_code, t30_code, t30_text, pages, bit_rate, ecm, "
                            "transport, remote_ident FROM attempts WHERE fax_id = ? "
                            "ORDER BY started, id",
                            "t", fax_id);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_attempt a;
        memset(&a, 0, sizeof a);
        CP(a.id, qt(&q, 0));
        CP(a.fax_id, qt(&q, 1));
        CP(a.direction, qt(&q, 2));
        CP(a.number, qt(&q, 3));
        CP(a.line, qt(&q, 4));
        a.started = qi(&q, 5);
        a.ended = qi(&q, 6);
        CP(a.status, qt(&q, 7));
        CP(a.call_end, qt(&q, 8));
        a.sip_code = (int)qi(&q, 9);
        a.t30_code = (int)qi(&q, 10);
        CP(a.t30_text, qt(&q, 11));
        a.pages = (int)qi(&q, 12);
        a.bit_rate = (int)qi(&q, 13);
        a.ecm = qi(&q, 14) != 0;
        CP(a.transport, qt(&q, 15));
        CP(a.remote_ident, qt(&q, 16));
        e = cb(&a, arg);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

/* ---- webhook deliveries ----
 * Written by fax_create_notify inside the transaction of the fax record they announce;
 * claimed and updated by notify/. */

static void new_webhook_secret(char out[FX_WEBHOOK_SECRET_SIZE])
{
    unsigned char raw[32];
    fx_random_bytes(raw, sizeof raw);
    strcpy(out, "whsec_");
    for (size_t i = 0; i < sizeof raw; i++) snprintf(out + 6 + 2 * i, 3, "%02x", raw[i]);
}

enum fx_err fx_store_account_webhook_secret(struct fx_store *s, const char *uid,
                                            char out[FX_WEBHOOK_SECRET_SIZE])
{
    for (int round = 0; round < 2; round++) {
        struct q q;
        enum fx_err e = q_start(s, &q, "SELECT webhook_secret FROM accounts WHERE uid = ?",
                                "t", uid);
        if (e) return e;
        int rc = q_step(&q);
        if (rc == FX_DB_ROW) fx_strlcpy(out, qt(&q, 0), FX_WEBHOOK_SECRET_SIZE);
        q_end(&q);
        if (rc == FX_DB_DONE) return FX_ERR_NOT_FOUND;
        if (rc < 0) return (enum fx_err)-rc;
        if (out[0]) return FX_OK;
        /* Lazily for older accounts; the WHERE keeps a concurrent writer's secret. */
        char fresh[FX_WEBHOOK_SECRET_SIZE];
        new_webhook_secret(fresh);
        if ((e = q_run(s, NULL,
                       "UPDATE accounts SET webhook_secret = ? WHERE uid = ? AND "
                       "webhook_secret = ''",
                       "tt", fresh, uid)))
            return e;
    }
    return FX_ERR_INTERNAL;
}

struct delivery_add {
    struct fx_store *s;
    const struct fx_fax *f;
    int64_t now;
};

static enum fx_err delivery_add(const struct fx_hook *h, void *arg)
{
    struct delivery_add *d = arg;
    char id[FX_UID_SIZE];
    fx_id_new(id);
    return q_run(d->s, NULL,
                 "INSERT INTO deliveries (id, hook_id, uid, fax_id, event, target, next_at, "
                 "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 "ttttttii", id, h->id, h->uid, d->f->id, h->event, h->target, d->now, d->now);
}

static enum fx_err fax_create_notify(struct fx_store *s, const struct fx_fax *f)
{
    enum fx_err e = fx_store_fax_create(s, f);
    /* The record's cost is debited in the same transaction, with its ledger row. */
    if (!e && f->cost > 0)
        e = ledger_move(s, f->owner_id, -f->cost,
                        strcmp(f->direction, "outgoing") ? "fax received" : "fax sent", f->id,
                        NULL);
    if (e) return e;
    const char *event = !strcmp(f->direction, "outgoing") ? "fax_sent"
                        : f->is_spam                     ? NULL /* spam raises nothing */
                                                         : "fax_received";
    if (!event) return FX_OK;
    struct delivery_add d = {s, f, fx_clock_now()};
    /* Inserting while the hook SELECT is open is fine: same connection and transaction,
     * other statements. */
    return fx_store_hook_list(s, f->owner_id, event, delivery_add, &d);
}

#define DELIVERY_COLS                                                                      \
    "id, hook_id, uid, fax_id, event, target, attempts, next_at, state, last_status, "      \
    "last_error, created, delivered"

static void delivery_read(struct q *q, struct fx_delivery *d)
{
    memset(d, 0, sizeof *d);
    CP(d->id, qt(q, 0));
    CP(d->hook_id, qt(q, 1));
    CP(d->uid, qt(q, 2));
    CP(d->fax_id, qt(q, 3));
    CP(d->event, qt(q, 4));
    CP(d->target, qt(q, 5));
    d->attempts = (int)qi(q, 6);
    d->next_at = qi(q, 7);
    CP(d->state, qt(q, 8));
    d->last_status = (int)qi(q, 9);
    CP(d->last_error, qt(q, 10));
    d->created = qi(q, 11);
    d->delivered = qi(q, 12);
}

enum fx_err fx_store_delivery_claim_many(struct fx_store *s, const char *owner, int64_t now,
                                         int64_t lease_s, int max, struct fx_delivery *out,
                                         int *n)
{
    if (max < 1) return FX_ERR_INVALID;
    enum fx_err e = tx_begin_claim(s);
    if (e) return e;
    int got = 0;
    struct q q;
    if (!(e = q_start(s, &q,
                      "SELECT " DELIVERY_COLS " FROM deliveries WHERE state = 'pending' AND "
                      "next_at <= ? AND lease_until < ? ORDER BY next_at, created, id LIMIT ? "
                      "FOR UPDATE SKIP LOCKED",
                      "iin", now, now, max))) {
        int rc = FX_DB_DONE;
        while (got < max && (rc = q_step(&q)) == FX_DB_ROW) delivery_read(&q, &out[got++]);
        if (got < max && rc < 0) e = (enum fx_err)-rc;
        q_end(&q);
    }
    for (int i = 0; !e && i < got; i++)
        e = q_run(s, NULL,
                  "UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE id = ?", "tit",
                  owner, now + lease_s, out[i].id);
    if (!e && got == 0) e = FX_ERR_NOT_FOUND;
    if ((e = tx_end(s, e))) return e;
    *n = got;
    return FX_OK;
}

enum fx_err fx_store_delivery_claim(struct fx_store *s, const char *owner, int64_t now,
                                    int64_t lease_s, struct fx_delivery *out)
{
    int n;
    return fx_store_delivery_claim_many(s, owner, now, lease_s, 1, out, &n);
}

static enum fx_err delivery_update(struct fx_store *s, const char *owner,
                                   const struct fx_delivery_result *r)
{
    int64_t n = 0;
    enum fx_err e = q_run(s, &n,
                          "UPDATE deliveries SET attempts = attempts + 1, state = ?, "
                          "last_status = ?, last_error = ?, next_at = ?, "
                          "delivered = CASE WHEN ? = 'done' THEN ? ELSE delivered END, "
                          "lease_owner = '', lease_until = 0 "
                          "WHERE id = ? AND lease_owner = ? AND state = 'pending'",
                          "tntititt", r->state, r->http_status, r->error ? r->error : "",
                          r->next_at, r->state, r->now, r->id, owner);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

enum fx_err fx_store_delivery_attempted(struct fx_store *s, const char *id, const char *owner,
                                        const char *state, int http_status, const char *error,
                                        int64_t now, int64_t next_at)
{
    struct fx_delivery_result r = {.id = id, .state = state, .http_status = http_status,
                                   .error = error, .now = now, .next_at = next_at};
    return delivery_update(s, owner, &r);
}

enum fx_err fx_store_delivery_attempted_many(struct fx_store *s, const char *owner,
                                             const struct fx_delivery_result *v, int n)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    for (int i = 0; !e && i < n; i++) {
        e = delivery_update(s, owner, &v[i]);
        if (e == FX_ERR_NOT_FOUND) e = FX_OK; /* that lease was lost: the others still count */
    }
    return tx_end(s, e);
}

enum fx_err fx_store_delivery_release_leases(struct fx_store *s)
{
    return q_run(s, NULL,
                 "UPDATE deliveries SET lease_until = 0, lease_owner = '' WHERE "
                 "lease_owner <> '' AND lease_owner LIKE ?",
                 "t", s->own_leases);
}

enum fx_err fx_store_delivery_list(struct fx_store *s, const char *hook_id, int limit,
                                   fx_store_delivery_cb cb, void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT " DELIVERY_COLS " FROM deliveries WHERE hook_id = ? "
                            "ORDER BY created DESC, id DESC LIMIT ?",
                            "tn", hook_id, limit);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) {
        struct fx_delivery d;
        delivery_read(&q, &d);
        e = cb(&d, arg);
    }
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

/* ---- idempotency keys ---- */

void fx_store_idem_clear(struct fx_idem *i)
{
    if (!i) return;
    free(i->response);
    memset(i, 0, sizeof *i);
}

enum fx_err fx_store_idem_get(struct fx_store *s, const char *uid, const char *key,
                              int64_t since, struct fx_idem *out)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT request, body_sha256, status, response FROM idempotency "
                            "WHERE uid = ? AND idem_key = ? AND created >= ?",
                            "tti", uid, key, since);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) {
        memset(out, 0, sizeof *out);
        CP(out->request, qt(&q, 0));
        CP(out->body_sha256, qt(&q, 1));
        out->status = (int)qi(&q, 2);
        out->response = strdup(qt(&q, 3));
    }
    q_end(&q);
    if (rc == FX_DB_ROW) return out->response ? FX_OK : FX_ERR_NOMEM;
    return rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

enum fx_err fx_store_idem_put(struct fx_store *s, const char *uid, const char *key,
                              const struct fx_idem *i, int64_t now, int64_t since)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = q_run(s, NULL, "DELETE FROM idempotency WHERE uid = ? AND idem_key = ? AND created < ?",
              "tti", uid, key, since);
    if (!e)
        e = q_run(s, NULL,
                  "INSERT INTO idempotency (uid, idem_key, request, body_sha256, status, "
                  "response, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  "ttttnti", uid, key, i->request, i->body_sha256, i->status, i->response, now);
    /* Expired keys of everyone go in passing: the table stays small. */
    if (!e) e = q_run(s, NULL, "DELETE FROM idempotency WHERE created < ?", "i", since);
    return tx_end(s, e);
}

enum fx_err fx_store_idem_done(struct fx_store *s, const char *uid, const char *key, int status,
                               const char *response)
{
    return q_run(s, NULL,
                 "UPDATE idempotency SET status = ?, response = ? WHERE uid = ? AND idem_key = ?",
                 "ntt" "t", status, response, uid, key);
}

enum fx_err fx_store_idem_delete(struct fx_store *s, const char *uid, const char *key)
{
    return q_run(s, NULL, "DELETE FROM idempotency WHERE uid = ? AND idem_key = ?", "tt", uid,
                 key);
}

/* ---- spam ---- */

enum fx_err fx_store_fax_set_spam(struct fx_store *s, const char *id, bool spam, int64_t now)
{
    int64_t n = 0;
    enum fx_err e = q_run(s, &n,
                          "UPDATE faxes SET is_spam = ?, category = ?, last_update = ? "
                          "WHERE id = ? AND direction = 'incoming'",
                          "ntit", (int)spam, spam ? "spam" : "inbox", now, id);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

enum fx_err fx_store_block_add(struct fx_store *s, const char *uid, const char *number)
{
    return q_run(s, NULL,
                 "INSERT INTO blocklist (uid, number, created) VALUES (?, ?, ?) "
                 "ON CONFLICT (uid, number) DO NOTHING",
                 "tti", uid, number, fx_clock_now());
}

enum fx_err fx_store_block_remove(struct fx_store *s, const char *uid, const char *number)
{
    int64_t n = 0;
    enum fx_err e = q_run(s, &n, "DELETE FROM blocklist WHERE uid = ? AND number = ?", "tt", uid,
                          number);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

enum fx_err fx_store_block_set(struct fx_store *s, const char *uid, const char *const *numbers,
                               int n)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    e = q_run(s, NULL, "DELETE FROM blocklist WHERE uid = ?", "t", uid);
    for (int i = 0; !e && i < n; i++) e = fx_store_block_add(s, uid, numbers[i]);
    return tx_end(s, e);
}

bool fx_store_block_has(struct fx_store *s, const char *uid, const char *number)
{
    struct q q;
    if (!number[0] ||
        q_start(s, &q, "SELECT 1 FROM blocklist WHERE uid = ? AND number = ?", "tt", uid,
                number))
        return false;
    int rc = q_step(&q);
    q_end(&q);
    return rc == FX_DB_ROW;
}

enum fx_err fx_store_block_list(struct fx_store *s, const char *uid, fx_store_text_cb cb,
                                void *arg)
{
    struct q q;
    enum fx_err e = q_start(s, &q, "SELECT number FROM blocklist WHERE uid = ? ORDER BY number",
                            "t", uid);
    if (e) return e;
    int rc;
    while (!e && (rc = q_step(&q)) == FX_DB_ROW) e = cb(qt(&q, 0), arg);
    q_end(&q);
    return e ? e : rc < 0 ? (enum fx_err)-rc : FX_OK;
}

enum fx_err fx_store_pages_sent(struct fx_store *s, const char *uid, int64_t since,
                                int64_t *pages)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT COALESCE(SUM(pages), 0) FROM faxes WHERE owner_id = ? AND "
                            "direction = 'outgoing' AND last_update >= ?",
                            "ti", uid, since);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) *pages = qi(&q, 0);
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : (enum fx_err)-rc;
}

enum fx_err fx_store_fax_finish(struct fx_store *s, const struct fx_fax *f)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    return tx_end(s, fax_create_notify(s, f));
}

/* ---- the web interface: passwords, sessions, failed sign-ins ---- */

enum fx_err fx_store_password_set(struct fx_store *s, const char *uid, const char *hash)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    int64_t n = 0;
    e = q_run(s, &n, "UPDATE accounts SET password_hash = ? WHERE uid = ?", "tt", hash, uid);
    if (!e && !n) e = FX_ERR_NOT_FOUND;
    /* A new password ends every session opened with the old one. */
    if (!e) e = q_run(s, NULL, "DELETE FROM sessions WHERE uid = ?", "t", uid);
    return tx_end(s, e);
}

enum fx_err fx_store_password_find(struct fx_store *s, const char *email,
                                   char uid[FX_UID_SIZE], char *hash)
{
    struct q q;
    enum fx_err e = q_start(s, &q,
                            "SELECT uid, password_hash FROM accounts WHERE LOWER(email) = "
                            "LOWER(?) AND email <> '' ORDER BY created, uid",
                            "t", email);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) {
        fx_strlcpy(uid, qt(&q, 0), FX_UID_SIZE);
        fx_strlcpy(hash, qt(&q, 1), FX_PASSWORD_HASH_SIZE);
    }
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

enum fx_err fx_store_session_create(struct fx_store *s, const struct fx_session *se)
{
    return q_run(s, NULL,
                 "INSERT INTO sessions (hash, uid, csrf, created, expires, ip) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 "tttiit", se->hash, se->uid, se->csrf, se->created, se->expires, se->ip);
}

enum fx_err fx_store_session_auth(struct fx_store *s, const char *hash, int64_t now,
                                  struct fx_session *se, struct fx_account *acct)
{
    struct q q;
    /* The account's columns come first so account_read's indexes hold. */
    enum fx_err e = q_start(s, &q,
                            "SELECT a.uid, a.account_type, a.status, a.email, a.name, "
                            "a.lastname, a.phone, a.profile_image, a.admin_uid, a.role, a.quota, "
                            "a.credit, a.account_data, a.settings, a.notifications, a.created, "
                            "a.paper, a.resolution, a.logo_blob, a.refuse_anonymous, "
                            "x.csrf, x.created, x.expires, x.ip "
                            "FROM sessions x JOIN accounts a ON a.uid = x.uid "
                            "WHERE x.hash = ? AND x.expires > ?",
                            "ti", hash, now);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) {
        account_read(&q, acct);
        memset(se, 0, sizeof *se);
        CP(se->hash, hash);
        CP(se->uid, acct->uid);
        CP(se->csrf, qt(&q, 20));
        se->created = qi(&q, 21);
        se->expires = qi(&q, 22);
        CP(se->ip, qt(&q, 23));
    }
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

enum fx_err fx_store_session_delete(struct fx_store *s, const char *hash)
{
    return q_run(s, NULL, "DELETE FROM sessions WHERE hash = ?", "t", hash);
}

enum fx_err fx_store_session_expire(struct fx_store *s, int64_t now)
{
    return q_run(s, NULL, "DELETE FROM sessions WHERE expires <= ?", "i", now);
}

enum fx_err fx_store_login_locked(struct fx_store *s, const char *subject, int64_t now,
                                  int64_t *locked_until)
{
    struct q q;
    enum fx_err e = q_start(s, &q, "SELECT locked_until FROM login_failures WHERE subject = ?",
                            "t", subject);
    if (e) return e;
    int rc = q_step(&q);
    int64_t until = rc == FX_DB_ROW ? qi(&q, 0) : 0;
    q_end(&q);
    if (rc < 0) return (enum fx_err)-rc;
    *locked_until = until > now ? until : 0;
    return FX_OK;
}

enum fx_err fx_store_login_failed(struct fx_store *s, const char *subject, int64_t now,
                                  int64_t window, int max, int64_t lock_s,
                                  int64_t *locked_until)
{
    enum fx_err e = tx_begin(s);
    if (e) return e;
    struct q q;
    int64_t failures = 0, first = now, until = 0;
    e = q_start(s, &q,
                "SELECT failures, first_at, locked_until FROM login_failures WHERE subject = ?",
                "t", subject);
    if (!e) {
        int rc = q_step(&q);
        if (rc == FX_DB_ROW) failures = qi(&q, 0), first = qi(&q, 1), until = qi(&q, 2);
        q_end(&q);
        if (rc < 0) e = (enum fx_err)-rc;
    }
    if (!e && first + window <= now && until <= now) failures = 0, first = now, until = 0;
    if (!e && ++failures >= max && until <= now) until = now + lock_s;
    if (!e) e = q_run(s, NULL, "DELETE FROM login_failures WHERE subject = ?", "t", subject);
    if (!e)
        e = q_run(s, NULL,
                  "INSERT INTO login_failures (subject, failures, first_at, locked_until) "
                  "VALUES (?, ?, ?, ?)",
                  "tiii", subject, failures, first, until);
    e = tx_end(s, e);
    if (!e) *locked_until = until > now ? until : 0;
    return e;
}

enum fx_err fx_store_login_clear(struct fx_store *s, const char *subject)
{
    return q_run(s, NULL, "DELETE FROM login_failures WHERE subject = ?", "t", subject);
}

/* ---- trunk channels across nodes ----
 * Taking a channel is a write transaction: it queues behind every other writer of every
 * node (the write lock), so two nodes never both see the last channel free. */

enum fx_err fx_store_channel_take(struct fx_store *s, const char *trunk, int64_t limit,
                                  int64_t now, int64_t until, char claim[FX_ID_LEN + 1])
{
    char id[FX_ID_LEN + 1];
    fx_store_lease_owner(s, id);
    enum fx_err e = tx_begin(s);
    if (e) return e;
    int64_t used = 0;
    e = q_run(s, NULL, "DELETE FROM channels WHERE trunk = ? AND until <= ?", "ti", trunk, now);
    if (!e && limit > 0) e = fx_store_channel_count(s, trunk, now, &used);
    if (!e && limit > 0 && used >= limit) e = FX_ERR_UNAVAILABLE;
    if (!e)
        e = q_run(s, NULL, "INSERT INTO channels (claim, trunk, until) VALUES (?, ?, ?)", "tti",
                  id, trunk, until);
    if ((e = tx_end(s, e))) return e;
    memcpy(claim, id, sizeof id);
    return FX_OK;
}

enum fx_err fx_store_channel_renew(struct fx_store *s, const char *claim, int64_t until)
{
    int64_t n = 0;
    enum fx_err e = q_run(s, &n, "UPDATE channels SET until = ? WHERE claim = ?", "it", until,
                          claim);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}

enum fx_err fx_store_channel_give(struct fx_store *s, const char *claim)
{
    return q_run(s, NULL, "DELETE FROM channels WHERE claim = ?", "t", claim);
}

enum fx_err fx_store_channel_count(struct fx_store *s, const char *trunk, int64_t now,
                                   int64_t *out)
{
    struct q q;
    enum fx_err e = q_start(s, &q, "SELECT COUNT(*) FROM channels WHERE trunk = ? AND until > ?",
                            "ti", trunk, now);
    if (e) return e;
    int rc = q_step(&q);
    if (rc == FX_DB_ROW) *out = qi(&q, 0);
    q_end(&q);
    return rc == FX_DB_ROW ? FX_OK : rc < 0 ? (enum fx_err)-rc : FX_ERR_DB;
}

enum fx_err fx_store_channel_release_leases(struct fx_store *s)
{
    return q_run(s, NULL, "DELETE FROM channels WHERE claim LIKE ?", "t", s->own_leases);
}

enum fx_err fx_store_dest_unclaim(struct fx_store *s, const struct fx_send_job *job,
                                  const char *owner, int64_t next_at)
{
    int64_t n = 0;
    enum fx_err e = q_run(s, &n,
                          "UPDATE outbox_dests SET lease_owner = '', lease_until = 0, "
                          "next_at = ?, attempts = attempts - 1, first_start = CASE WHEN "
                          "attempts = 1 THEN 0 ELSE first_start END WHERE fax_id = ? AND "
                          "lease_owner = ? AND state = 'pending'",
                          "itt", next_at, job->dest.fax_id, owner);
    return e ? e : n ? FX_OK : FX_ERR_NOT_FOUND;
}
