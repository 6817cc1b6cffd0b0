/* store (private): the database driver interface. store.c writes portable SQL with
 * `?` placeholders once; a driver (db_sqlite.c, db_pg.c) runs it.
 * One struct fx_db is one connection, used by one thread at a time. */
#ifndef FX_STORE_DB_H
#define FX_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct fx_db;
struct fx_db_stmt;

enum { FX_DB_DONE = 0, FX_DB_ROW = 1 };

struct fx_db_ops {
    const char *name;
    /* Opens a connection; *out is new (close frees it). target: the data directory
     * (SQLite) or the connection URI (PostgreSQL). */
    enum fx_err (*open)(const char *target, struct fx_db **out);
    void (*close)(struct fx_db *db);
    /* Runs one or more statements that return no rows. */
    enum fx_err (*exec)(struct fx_db *db, const char *sql);
    /* Write transaction: begin takes the write lock up front so two writers never
     * deadlock on an upgrade. */
    enum fx_err (*begin)(struct fx_db *db);
    /* A claim transaction: it selects its rows with a trailing FOR UPDATE SKIP LOCKED and
     * writes only those rows. Claims may run beside each other (PostgreSQL: they skip
     * each other's rows) but never beside a begin() transaction. SQLite, which has no row
     * locks, drops the FOR UPDATE SKIP LOCKED clause and runs it as begin(). */
    enum fx_err (*begin_claim)(struct fx_db *db);
    enum fx_err (*commit)(struct fx_db *db);
    void (*rollback)(struct fx_db *db);
    /* `sql` must stay valid for the connection's life (a string literal): drivers
     * cache the prepared statement by its address. Finish with stmt_done. */
    enum fx_err (*prepare)(struct fx_db *db, const char *sql, struct fx_db_stmt **out);
    enum fx_err (*bind_text)(struct fx_db_stmt *st, int idx, const char *v);
    enum fx_err (*bind_int)(struct fx_db_stmt *st, int idx, int64_t v);
    enum fx_err (*bind_double)(struct fx_db_stmt *st, int idx, double v);
    /* Binary data, borrowed: v must stay valid until the statement's first step. */
    enum fx_err (*bind_blob)(struct fx_db_stmt *st, int idx, const void *v, size_t n);
    /* FX_DB_ROW, FX_DB_DONE, or a negative fx_err (e.g. -FX_ERR_CONFLICT for a
     * uniqueness violation). */
    int (*step)(struct fx_db_stmt *st);
    /* Column values of the current row; text is never NULL ("" for NULL) and stays
     * valid until the next step or stmt_done. */
    const char *(*col_text)(struct fx_db_stmt *st, int i);
    int64_t (*col_int)(struct fx_db_stmt *st, int i);
    double (*col_double)(struct fx_db_stmt *st, int i);
    /* Binary column: *n gets its length; valid like col_text. NULL when empty. */
    const void *(*col_blob)(struct fx_db_stmt *st, int i, size_t *n);
    void (*stmt_done)(struct fx_db_stmt *st);
    /* Rows changed by the last statement. */
    int64_t (*changes)(struct fx_db *db);
    /* Two numbers that differ whenever any committed change may have reached the
     * database since the last call on this connection, from this connection
     * (out[0]) or from any other connection or process (out[1]). */
    enum fx_err (*stamp)(struct fx_db *db, uint64_t out[2]);
};

extern const struct fx_db_ops fx_db_sqlite;
extern const struct fx_db_ops fx_db_pg;

#endif
