/* Which back-end the store tests run on: SQLite, or PostgreSQL when FAXD_TEST_STORE
 * holds a server's base URI (postgresql://user@host:port) or FAXD_TEST_PG_DIR names the
 * directory of a server started by tests/pg/pgctl.sh (its base URI is in DIR/url).
 * On PostgreSQL each data directory gets its own database, created on first use (a
 * marker file in the directory remembers it), so reopening a directory finds its data.
 * Tests read the database through psql, as they cannot link libpq. */
#ifndef FX_TEST_STORE_BACKEND_H
#define FX_TEST_STORE_BACKEND_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store/store.h"

/* The server's base URI, or NULL for SQLite. */
static inline const char *fx_test_pg_base(void)
{
    static char base[512];
    static int done;
    if (done) return base[0] ? base : NULL;
    done = 1;
    const char *env = getenv("FAXD_TEST_STORE");
    const char *dir = getenv("FAXD_TEST_PG_DIR");
    if (env && env[0]) {
        snprintf(base, sizeof base, "%s", env);
    } else if (dir && dir[0]) {
        char path[1024];
        snprintf(path, sizeof path, "%s/url", dir);
        FILE *f = fopen(path, "r");
        if (!f || !fgets(base, sizeof base, f)) {
            fprintf(stderr, "no PostgreSQL server URI in %s\n", path);
            abort();
        }
        fclose(f);
        base[strcspn(base, "\r\n")] = 0;
    }
    return base[0] ? base : NULL;
}

static inline bool fx_test_on_pg(void)
{
    return fx_test_pg_base() != NULL;
}

/* A database name from the data directory's name: t_<letters and digits, lowercased>. */
static inline void fx_test_db_name(const char *dir, char *out, size_t len)
{
    const char *b = strrchr(dir, '/');
    b = b ? b + 1 : dir;
    size_t n = (size_t)snprintf(out, len, "t_");
    for (; *b && n + 1 < len; b++)
        if ((*b >= 'a' && *b <= 'z') || (*b >= '0' && *b <= '9')) out[n++] = *b;
        else if (*b >= 'A' && *b <= 'Z') out[n++] = (char)(*b - 'A' + 'a');
        else out[n++] = '_';
    out[n] = 0;
}

/* The store driver for data directory dir: "sqlite", or the URI of its database
 * (created when new) in buf. */
static inline const char *fx_test_store_driver(const char *dir, char *buf, size_t len)
{
    const char *base = fx_test_pg_base();
    if (!base) return "sqlite";
    char name[128], marker[1024], cmd[2048];
    fx_test_db_name(dir, name, sizeof name);
    snprintf(buf, len, "%s/%s", base, name);
    snprintf(marker, sizeof marker, "%s/.pgdb", dir);
    if (access(marker, F_OK) != 0) {
        snprintf(cmd, sizeof cmd, "psql -qX -v ON_ERROR_STOP=1 -d '%s/postgres' -c "
                 "'CREATE DATABASE %s' >/dev/null", base, name);
        if (system(cmd) != 0) {
            fprintf(stderr, "cannot create database %s\n", name);
            abort();
        }
        FILE *f = fopen(marker, "w");
        if (f) fclose(f);
    }
    return buf;
}

/* The store of data directory dir as node `node` (NULL: the default name) with a pool
 * of `pool` connections (0: the default); NULL when it does not open. */
static inline struct fx_store *fx_test_store_open(const char *dir, const char *node, int pool)
{
    char uri[1024];
    struct fx_store_cfg cfg = {.data_dir = dir,
                               .driver = fx_test_store_driver(dir, uri, sizeof uri),
                               .node = node,
                               .pool = pool};
    struct fx_store *s = NULL;
    return fx_store_open(&cfg, &s) == FX_OK ? s : NULL;
}

/* The first column of the first row of sql on dir's PostgreSQL database; -1 on error. */
static inline long long fx_test_pg_int(const char *dir, const char *sql)
{
    char uri[1024], cmd[4096], out[64] = "";
    fx_test_store_driver(dir, uri, sizeof uri);
    snprintf(cmd, sizeof cmd, "psql -qAtX -d '%s' -c \"%s\"", uri, sql);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    bool got = fgets(out, sizeof out, p) != NULL;
    int rc = pclose(p);
    return got && rc == 0 ? strtoll(out, NULL, 10) : -1;
}

/* A committed blob (".tiff") holding text; its key into key[96]. */
static inline void fx_test_put_blob(struct fx_store *s, const char *text, char key[96])
{
    struct fx_blob_writer *w = NULL;
    char sha[65];
    CHECK(fx_blob_begin(s, &w) == FX_OK);
    CHECK(fx_blob_write(w, text, strlen(text)) == FX_OK);
    CHECK(fx_blob_commit(w, ".tiff", key, sha) == FX_OK);
}

#endif
