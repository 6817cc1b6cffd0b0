/* store: the PostgreSQL driver (libpq). A connection is used by one thread at a time
 * (store.c lends them from its pool, one statement or transaction at a time).
 * store.c's `?` placeholders become $1, $2, … (outside quoted text) once per
 * statement; statements are prepared on first use with the types of their first
 * bindings (integers int8, doubles float8, blobs bytea, text left for the server to
 * infer) and cached per connection by the address of their SQL text. Results are
 * fetched whole per statement (store.c runs other statements while a SELECT is open),
 * so queries that could return many large rows (blob chunks) fetch one row at a time.
 *
 * Write transactions take one advisory lock per database at BEGIN: writers queue as
 * with SQLite's BEGIN IMMEDIATE, so store.c's read-then-write transactions hold across
 * connections and processes. Claims (work taken by queue and notifier workers on any
 * node) share that lock among themselves and pick rows with FOR UPDATE SKIP LOCKED, so
 * they run in parallel without ever taking the same row. A lost connection is reset
 * when no transaction is open. */
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#define STMT_CACHE 128
#define MAX_PARAMS 64
#define WRITE_LOCK "7366193504" /* pg_advisory_xact_lock key of write transactions */

enum { OID_UNKNOWN = 0, OID_BYTEA = 17, OID_INT8 = 20, OID_FLOAT8 = 701 };

struct prep {
    const char *sql; /* cache key: the address of store.c's SQL text */
    char *text;      /* with $n placeholders */
    int nparams;
    int prepared;    /* on the server as "s<index>" */
};

struct fx_db_stmt {
    struct fx_db *db;
    struct prep *p;
    int own_prep; /* one-off: p is this statement's and never prepared */
    int cached;   /* one of db->stmts */
    int in_use;
    const char *val[MAX_PARAMS];
    char *heap[MAX_PARAMS]; /* copies of text values */
    int len[MAX_PARAMS], fmt[MAX_PARAMS];
    unsigned int type[MAX_PARAMS];
    char num[MAX_PARAMS][32];
    PGresult *res;
    int row, rows;
    unsigned char *unesc; /* the last col_blob value */
};

struct fx_db {
    PGconn *c;
    int64_t changes;
    int in_tx;
    struct prep preps[STMT_CACHE];
    struct fx_db_stmt stmts[STMT_CACHE];
};

static void quiet_notices(void *arg, const char *msg)
{
    (void)arg;
    fx_debug("store pg notice: %s", msg);
}

static void forget_prepared(struct fx_db *db);

/* After a failure outside a transaction on a connection the server dropped (restart,
 * failover): reconnects, and says whether to run the statement again. */
static bool reconnected(struct fx_db *db)
{
    if (db->in_tx || PQstatus(db->c) != CONNECTION_BAD) return false;
    PQreset(db->c);
    forget_prepared(db); /* they went with the old session */
    if (PQstatus(db->c) != CONNECTION_OK) {
        fx_error("store pg reconnect failed msg=\"%s\"", PQerrorMessage(db->c));
        return false;
    }
    fx_warn("store pg reconnected");
    return true;
}

/* Runs sql (one or more statements, no parameters). */
static enum fx_err pg_exec(struct fx_db *db, const char *sql)
{
    PGresult *r = PQexec(db->c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && reconnected(db)) {
        PQclear(r);
        r = PQexec(db->c, sql);
        st = PQresultStatus(r);
    }
    enum fx_err e = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? FX_OK : FX_ERR_DB;
    if (e) fx_error("store pg exec failed msg=\"%s\"", PQresultErrorMessage(r));
    PQclear(r);
    return e;
}

static enum fx_err pg_open(const char *target, struct fx_db **out)
{
    struct fx_db *db = calloc(1, sizeof *db);
    if (!db) return FX_ERR_NOMEM;
    db->c = PQconnectdb(target);
    if (PQstatus(db->c) != CONNECTION_OK) {
        /* The message names host and port, never the password. */
        fx_error("store pg connect failed msg=\"%s\"", PQerrorMessage(db->c));
        PQfinish(db->c);
        free(db);
        return FX_ERR_DB;
    }
    PQsetNoticeProcessor(db->c, quiet_notices, NULL);
    /* A writer waits for the write lock at most a minute, like SQLite's busy timeout. */
    enum fx_err e = pg_exec(db, "SET client_encoding = 'UTF8'; SET lock_timeout = '60s'");
    if (e) {
        PQfinish(db->c);
        free(db);
        return e;
    }
    *out = db;
    return FX_OK;
}

static void stmt_reset(struct fx_db_stmt *st)
{
    PQclear(st->res);
    st->res = NULL;
    PQfreemem(st->unesc);
    st->unesc = NULL;
    for (int i = 0; i < MAX_PARAMS; i++) {
        free(st->heap[i]);
        st->heap[i] = NULL;
        st->val[i] = NULL;
        st->len[i] = st->fmt[i] = 0;
        st->type[i] = OID_UNKNOWN;
    }
}

static void pg_close(struct fx_db *db)
{
    if (!db) return;
    for (int i = 0; i < STMT_CACHE; i++) {
        stmt_reset(&db->stmts[i]);
        free(db->preps[i].text);
    }
    PQfinish(db->c);
    free(db);
}

static void forget_prepared(struct fx_db *db)
{
    for (int i = 0; i < STMT_CACHE; i++) db->preps[i].prepared = 0;
}

static enum fx_err pg_begin(struct fx_db *db)
{
    enum fx_err e = pg_exec(db, "BEGIN; SELECT pg_advisory_xact_lock(" WRITE_LOCK ")");
    if (e) pg_exec(db, "ROLLBACK");
    db->in_tx = !e;
    return e;
}

/* Shared: claims run together, each holding the rows it selected FOR UPDATE SKIP LOCKED;
 * a begin() transaction waits for them and they for it. A claim's best plan depends on
 * how much work is due, which swings from none to thousands: its statements are planned
 * at each run (a generic plan cached while the queue was empty took 93 ms per claim
 * under 1,000 due destinations, against 5 ms; docs/PERFORMANCE.md). */
static enum fx_err pg_begin_claim(struct fx_db *db)
{
    enum fx_err e = pg_exec(db, "BEGIN; SET LOCAL plan_cache_mode = force_custom_plan; "
                                "SELECT pg_advisory_xact_lock_shared(" WRITE_LOCK ")");
    if (e) pg_exec(db, "ROLLBACK");
    db->in_tx = !e;
    return e;
}

static enum fx_err pg_commit(struct fx_db *db)
{
    PGresult *r = PQexec(db->c, "COMMIT");
    /* COMMIT of a transaction that failed earlier answers ROLLBACK: not a success. */
    enum fx_err e = PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), "COMMIT")
                        ? FX_OK
                        : FX_ERR_DB;
    if (e) fx_error("store pg commit failed msg=\"%s\"", PQresultErrorMessage(r));
    PQclear(r);
    db->in_tx = 0;
    return e;
}

static void pg_rollback(struct fx_db *db)
{
    PQclear(PQexec(db->c, "ROLLBACK"));
    db->in_tx = 0;
}

/* The SQL with each `?` outside quotes replaced by $1, $2, …; new. */
static char *translate(const char *sql, int *nparams)
{
    size_t n = strlen(sql);
    char *out = malloc(n * 4 + 1);
    if (!out) return NULL;
    char quote = 0, *o = out;
    int k = 0;
    for (const char *p = sql; *p; p++) {
        if (quote) {
            if (*p == quote) quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '?') {
            o += sprintf(o, "$%d", ++k);
            continue;
        }
        *o++ = *p;
    }
    *o = 0;
    *nparams = k;
    return out;
}

static enum fx_err prep_fill(struct prep *p, const char *sql)
{
    p->text = translate(sql, &p->nparams);
    if (!p->text) return FX_ERR_NOMEM;
    if (p->nparams > MAX_PARAMS) {
        free(p->text);
        p->text = NULL;
        return FX_ERR_INTERNAL;
    }
    p->sql = sql;
    p->prepared = 0;
    return FX_OK;
}

static enum fx_err one_off(struct fx_db *db, struct prep *shared, const char *sql,
                           struct fx_db_stmt **out)
{
    struct fx_db_stmt *t = calloc(1, sizeof *t);
    if (!t) return FX_ERR_NOMEM;
    t->db = db;
    t->in_use = 1;
    t->p = shared;
    if (!shared) {
        t->p = calloc(1, sizeof *t->p);
        t->own_prep = 1;
        enum fx_err e = t->p ? prep_fill(t->p, sql) : FX_ERR_NOMEM;
        if (e) {
            free(t->p);
            free(t);
            return e;
        }
    }
    *out = t;
    return FX_OK;
}

static enum fx_err pg_prepare(struct fx_db *db, const char *sql, struct fx_db_stmt **out)
{
    size_t slot = ((uintptr_t)sql >> 3) % STMT_CACHE;
    for (size_t i = 0; i < STMT_CACHE; i++) {
        size_t k = (slot + i) % STMT_CACHE;
        struct prep *p = &db->preps[k];
        struct fx_db_stmt *c = &db->stmts[k];
        if (p->sql == sql) {
            /* Busy (a nested use of the same SQL): share the prepared statement. */
            if (c->in_use) return one_off(db, p, sql, out);
            c->in_use = 1;
            *out = c;
            return FX_OK;
        }
        if (!p->sql) {
            enum fx_err e = prep_fill(p, sql);
            if (e) return e;
            c->db = db;
            c->p = p;
            c->cached = 1;
            c->in_use = 1;
            *out = c;
            return FX_OK;
        }
    }
    return one_off(db, NULL, sql, out);
}

static enum fx_err check_idx(struct fx_db_stmt *st, int idx)
{
    return idx >= 1 && idx <= st->p->nparams ? FX_OK : FX_ERR_INTERNAL;
}

static enum fx_err pg_bind_text(struct fx_db_stmt *st, int idx, const char *v)
{
    if (check_idx(st, idx)) return FX_ERR_INTERNAL;
    int i = idx - 1;
    free(st->heap[i]);
    st->heap[i] = strdup(v ? v : "");
    if (!st->heap[i]) return FX_ERR_NOMEM;
    st->val[i] = st->heap[i];
    st->fmt[i] = 0;
    st->type[i] = OID_UNKNOWN;
    return FX_OK;
}

static enum fx_err pg_bind_int(struct fx_db_stmt *st, int idx, int64_t v)
{
    if (check_idx(st, idx)) return FX_ERR_INTERNAL;
    int i = idx - 1;
    snprintf(st->num[i], sizeof st->num[i], "%lld", (long long)v);
    st->val[i] = st->num[i];
    st->fmt[i] = 0;
    st->type[i] = OID_INT8;
    return FX_OK;
}

static enum fx_err pg_bind_double(struct fx_db_stmt *st, int idx, double v)
{
    if (check_idx(st, idx)) return FX_ERR_INTERNAL;
    int i = idx - 1;
    snprintf(st->num[i], sizeof st->num[i], "%.17g", v);
    st->val[i] = st->num[i];
    st->fmt[i] = 0;
    st->type[i] = OID_FLOAT8;
    return FX_OK;
}

static enum fx_err pg_bind_blob(struct fx_db_stmt *st, int idx, const void *v, size_t n)
{
    if (check_idx(st, idx) || n > INT32_MAX) return FX_ERR_INTERNAL;
    int i = idx - 1;
    free(st->heap[i]);
    st->heap[i] = NULL;
    st->val[i] = n ? v : "";
    st->len[i] = (int)n;
    st->fmt[i] = 1;
    st->type[i] = OID_BYTEA;
    return FX_OK;
}

static PGresult *run(struct fx_db_stmt *st)
{
    struct fx_db *db = st->db;
    struct prep *p = st->p;
    if (st->own_prep)
        return PQexecParams(db->c, p->text, p->nparams, st->type, st->val, st->len, st->fmt, 0);
    char name[16];
    snprintf(name, sizeof name, "s%d", (int)(p - db->preps));
    if (!p->prepared) {
        PGresult *r = PQprepare(db->c, name, p->text, p->nparams, st->type);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) return r;
        PQclear(r);
        p->prepared = 1;
    }
    return PQexecPrepared(db->c, name, p->nparams, st->val, st->len, st->fmt, 0);
}

/* The error of a failed statement as a negative fx_err. */
static int failed(PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    /* Class 23 is SQLite's SQLITE_CONSTRAINT: unique, foreign key, not null. */
    if (state && !strncmp(state, "23", 2)) return -(int)FX_ERR_CONFLICT;
    fx_error("store pg step failed state=%s msg=\"%s\"", state ? state : "",
             PQresultErrorMessage(r));
    /* Serialization failure, deadlock, lock_timeout, a lost connection: try later. */
    if (!state || !strcmp(state, "40001") || !strcmp(state, "40P01") ||
        !strcmp(state, "55P03") || !strncmp(state, "08", 2))
        return -(int)FX_ERR_UNAVAILABLE;
    return -(int)FX_ERR_DB;
}

static int pg_step(struct fx_db_stmt *st)
{
    struct fx_db *db = st->db;
    if (!st->res) {
        PGresult *r = run(st);
        ExecStatusType s = PQresultStatus(r);
        if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK && reconnected(db)) {
            PQclear(r);
            r = run(st);
            s = PQresultStatus(r);
        }
        if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
            int rc = failed(r);
            PQclear(r);
            return rc;
        }
        st->res = r;
        st->row = -1;
        st->rows = s == PGRES_TUPLES_OK ? PQntuples(r) : 0;
        if (s == PGRES_COMMAND_OK) db->changes = strtoll(PQcmdTuples(r), NULL, 10);
    }
    return ++st->row < st->rows ? FX_DB_ROW : FX_DB_DONE;
}

static int have(struct fx_db_stmt *st, int i)
{
    return st->res && st->row >= 0 && st->row < st->rows && i < PQnfields(st->res) &&
           !PQgetisnull(st->res, st->row, i);
}

static const char *pg_col_text(struct fx_db_stmt *st, int i)
{
    return have(st, i) ? PQgetvalue(st->res, st->row, i) : "";
}

static int64_t pg_col_int(struct fx_db_stmt *st, int i)
{
    const char *v = pg_col_text(st, i);
    /* Booleans (EXISTS, comparisons) come as t / f. */
    if (v[0] == 't' && !v[1]) return 1;
    return strtoll(v, NULL, 10);
}

static double pg_col_double(struct fx_db_stmt *st, int i)
{
    return strtod(pg_col_text(st, i), NULL);
}

static const void *pg_col_blob(struct fx_db_stmt *st, int i, size_t *n)
{
    *n = 0;
    if (!have(st, i)) return NULL;
    PQfreemem(st->unesc);
    st->unesc = PQunescapeBytea((const unsigned char *)PQgetvalue(st->res, st->row, i), n);
    return st->unesc;
}

static void pg_stmt_done(struct fx_db_stmt *st)
{
    if (!st) return;
    stmt_reset(st);
    if (st->cached) {
        st->in_use = 0;
        return;
    }
    if (st->own_prep) {
        free(st->p->text);
        free(st->p);
    }
    free(st);
}

static int64_t pg_changes(struct fx_db *db)
{
    return db->changes;
}

static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static enum fx_err pg_stamp(struct fx_db *db, uint64_t out[2])
{
    /* The snapshot (xmin:xmax:in-progress xids) changes whenever a transaction that
     * wrote anything commits, from any connection: it leaves the in-progress list or
     * was begun after the last one (xmax moved). Read-only transactions take no xid, so
     * they leave it alone. Two different hashes of its text make the stamp. */
    static const char sql[] = "SELECT pg_current_snapshot()::text";
    struct fx_db_stmt *st;
    enum fx_err e = pg_prepare(db, sql, &st);
    if (e) return e;
    int rc = pg_step(st);
    if (rc == FX_DB_ROW) {
        const char *snap = pg_col_text(st, 0);
        out[0] = fnv1a(snap, 0xcbf29ce484222325ULL);
        out[1] = fnv1a(snap, 0x84222325cbf29ce4ULL) ^ strlen(snap);
    }
    pg_stmt_done(st);
    return rc == FX_DB_ROW ? FX_OK : FX_ERR_DB;
}

const struct fx_db_ops fx_db_pg = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .begin = pg_begin,
    .begin_claim = pg_begin_claim,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .prepare = pg_prepare,
    .bind_text = pg_bind_text,
    .bind_int = pg_bind_int,
    .bind_double = pg_bind_double,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .col_text = pg_col_text,
    .col_int = pg_col_int,
    .col_double = pg_col_double,
    .col_blob = pg_col_blob,
    .stmt_done = pg_stmt_done,
    .changes = pg_changes,
    .stamp = pg_stamp,
};
