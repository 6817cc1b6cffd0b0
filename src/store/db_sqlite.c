/* store: the SQLite driver. One connection per thread (WAL lets readers run beside the
 * writer), synchronous=FULL so an acknowledged write survives power loss, a busy
 * timeout so writers queue instead of failing, and prepared statements cached per
 * connection by the address of their SQL text. */
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sqlite3.h>

#define STMT_CACHE 96

struct fx_db_stmt {
    sqlite3_stmt *st;
    struct fx_db *db;
    const char *sql; /* cache key */
    int in_use;
    int cached; /* 0: finalize on done (cache full or the cached one was busy) */
};

struct fx_db {
    sqlite3 *h;
    struct fx_db_stmt cache[STMT_CACHE];
};

static enum fx_err lite_exec(struct fx_db *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        fx_error("store sqlite exec failed rc=%d msg=\"%s\"", rc, msg ? msg : "");
        sqlite3_free(msg);
        return FX_ERR_DB;
    }
    return FX_OK;
}

/* Process-wide SQLite settings, before the first connection: no global memory
 * statistics (their mutex serialises every allocation across threads). */
static void lite_global_init(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static enum fx_err lite_open(const char *data_dir, struct fx_db **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, lite_global_init);
    char path[4096];
    snprintf(path, sizeof path, "%s/faxd.db", data_dir);
    struct fx_db *db = calloc(1, sizeof *db);
    if (!db) return FX_ERR_NOMEM;
    int rc = sqlite3_open_v2(path, &db->h,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        fx_error("store sqlite open failed path=%s rc=%d", path, rc);
        sqlite3_close(db->h);
        free(db);
        return FX_ERR_DB;
    }
    /* Writers queue for the write lock rather than fail: hundreds of calls can end at
     * once, each writing its records. */
    sqlite3_busy_timeout(db->h, 60000);
    /* A memory-mapped database and a 16 MB page cache keep listings off read(2). */
    enum fx_err e = lite_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                  "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
                                  "PRAGMA mmap_size=268435456; PRAGMA cache_size=-16384;");
    if (e) {
        sqlite3_close(db->h);
        free(db);
        return e;
    }
    *out = db;
    return FX_OK;
}

static void lite_close(struct fx_db *db)
{
    if (!db) return;
    for (int i = 0; i < STMT_CACHE; i++)
        if (db->cache[i].st) sqlite3_finalize(db->cache[i].st);
    sqlite3_close(db->h);
    free(db);
}

static enum fx_err lite_begin(struct fx_db *db)
{
    return lite_exec(db, "BEGIN IMMEDIATE");
}

static enum fx_err lite_commit(struct fx_db *db)
{
    return lite_exec(db, "COMMIT");
}

static void lite_rollback(struct fx_db *db)
{
    sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

/* The bytes of sql SQLite runs: a trailing row-lock clause of claims (db.h) goes. */
static int lite_len(const char *sql)
{
    static const char lock[] = " FOR UPDATE SKIP LOCKED";
    size_t n = strlen(sql), k = sizeof lock - 1;
    return (int)(n > k && !strcmp(sql + n - k, lock) ? n - k : n);
}

static enum fx_err lite_prepare(struct fx_db *db, const char *sql, struct fx_db_stmt **out)
{
    size_t slot = ((uintptr_t)sql >> 3) % STMT_CACHE;
    for (size_t i = 0; i < STMT_CACHE; i++) {
        struct fx_db_stmt *c = &db->cache[(slot + i) % STMT_CACHE];
        if (c->sql == sql && !c->in_use) {
            c->in_use = 1;
            *out = c;
            return FX_OK;
        }
        if (!c->sql) {
            if (sqlite3_prepare_v3(db->h, sql, lite_len(sql), SQLITE_PREPARE_PERSISTENT, &c->st,
                                   NULL) !=
                SQLITE_OK)
                goto fail;
            c->sql = sql;
            c->db = db;
            c->cached = 1;
            c->in_use = 1;
            *out = c;
            return FX_OK;
        }
    }
    /* Cache full, or the cached statement is busy (a nested query): use a one-off. */
    struct fx_db_stmt *t = calloc(1, sizeof *t);
    if (!t) return FX_ERR_NOMEM;
    if (sqlite3_prepare_v2(db->h, sql, lite_len(sql), &t->st, NULL) != SQLITE_OK) {
        free(t);
        goto fail;
    }
    t->db = db;
    t->sql = sql;
    t->in_use = 1;
    *out = t;
    return FX_OK;
fail:
    fx_error("store sqlite prepare failed msg=\"%s\"", sqlite3_errmsg(db->h));
    return FX_ERR_DB;
}

static enum fx_err lite_bind_text(struct fx_db_stmt *st, int idx, const char *v)
{
    int rc = v ? sqlite3_bind_text(st->st, idx, v, -1, SQLITE_TRANSIENT)
               : sqlite3_bind_text(st->st, idx, "", 0, SQLITE_STATIC);
    return rc == SQLITE_OK ? FX_OK : FX_ERR_DB;
}

static enum fx_err lite_bind_int(struct fx_db_stmt *st, int idx, int64_t v)
{
    return sqlite3_bind_int64(st->st, idx, v) == SQLITE_OK ? FX_OK : FX_ERR_DB;
}

static enum fx_err lite_bind_double(struct fx_db_stmt *st, int idx, double v)
{
    return sqlite3_bind_double(st->st, idx, v) == SQLITE_OK ? FX_OK : FX_ERR_DB;
}

static enum fx_err lite_bind_blob(struct fx_db_stmt *st, int idx, const void *v, size_t n)
{
    return sqlite3_bind_blob64(st->st, idx, v, n, SQLITE_STATIC) == SQLITE_OK ? FX_OK
                                                                            : FX_ERR_DB;
}

static int lite_step(struct fx_db_stmt *st)
{
    int rc = sqlite3_step(st->st);
    if (rc == SQLITE_ROW) return FX_DB_ROW;
    if (rc == SQLITE_DONE) return FX_DB_DONE;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return -(int)FX_ERR_CONFLICT;
    fx_error("store sqlite step failed rc=%d msg=\"%s\"", rc, sqlite3_errmsg(st->db->h));
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return -(int)FX_ERR_UNAVAILABLE;
    return -(int)FX_ERR_DB;
}

static const char *lite_col_text(struct fx_db_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st->st, i);
    return t ? (const char *)t : "";
}

static int64_t lite_col_int(struct fx_db_stmt *st, int i)
{
    return sqlite3_column_int64(st->st, i);
}

static double lite_col_double(struct fx_db_stmt *st, int i)
{
    return sqlite3_column_double(st->st, i);
}

static const void *lite_col_blob(struct fx_db_stmt *st, int i, size_t *n)
{
    const void *p = sqlite3_column_blob(st->st, i);
    *n = (size_t)sqlite3_column_bytes(st->st, i);
    return p;
}

static void lite_stmt_done(struct fx_db_stmt *st)
{
    if (!st) return;
    if (st->cached) {
        sqlite3_reset(st->st);
        sqlite3_clear_bindings(st->st);
        st->in_use = 0;
    } else {
        sqlite3_finalize(st->st);
        free(st);
    }
}

static int64_t lite_changes(struct fx_db *db)
{
    return sqlite3_changes64(db->h);
}

static enum fx_err lite_stamp(struct fx_db *db, uint64_t out[2])
{
    /* PRAGMA data_version reads within a transaction, so it sees the latest commit of
     * every other connection; this connection's own commits show in total_changes. */
    static const char sql[] = "PRAGMA data_version";
    struct fx_db_stmt *st;
    enum fx_err e = lite_prepare(db, sql, &st);
    if (e) return e;
    int rc = lite_step(st);
    out[1] = rc == FX_DB_ROW ? (uint64_t)lite_col_int(st, 0) : 0;
    lite_stmt_done(st);
    out[0] = (uint64_t)sqlite3_total_changes64(db->h);
    return rc == FX_DB_ROW ? FX_OK : FX_ERR_DB;
}

const struct fx_db_ops fx_db_sqlite = {
    .name = "sqlite",
    .open = lite_open,
    .close = lite_close,
    .exec = lite_exec,
    .begin = lite_begin,
    .begin_claim = lite_begin,
    .commit = lite_commit,
    .rollback = lite_rollback,
    .prepare = lite_prepare,
    .bind_text = lite_bind_text,
    .bind_int = lite_bind_int,
    .bind_double = lite_bind_double,
    .bind_blob = lite_bind_blob,
    .step = lite_step,
    .col_text = lite_col_text,
    .col_int = lite_col_int,
    .col_double = lite_col_double,
    .col_blob = lite_col_blob,
    .stmt_done = lite_stmt_done,
    .changes = lite_changes,
    .stamp = lite_stamp,
};
