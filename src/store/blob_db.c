/* store: the database blob store, used with PostgreSQL so that nodes share no
 * filesystem. A content is a blob_data row and its blob_chunks (64 KB each, written
 * as the writer fills them, so memory stays at one chunk whatever the size); keys name
 * contents in `blobs`, written in the same transaction that marks the content done, so
 * a blob is acknowledged only once it is whole. A crashed writer leaves a content that
 * is not done: swept at start-up once a day old (a live writer elsewhere may still be
 * filling a young one).
 *
 * Readers want files (converters, libtiff, spandsp): fx_blob_path copies a blob once,
 * chunk by chunk, into <data_dir>/blobs/cache/<key> and hands out that path. A key
 * always names the same bytes, so a cached copy never goes stale; removing a blob drops
 * this node's copy, and copies unused for a day go (at start-up, then hourly through
 * fx_blob_sweep: another node may have removed their blob). Derived files
 * (fx_blob_derived_path, on both back-ends) live in cache/derived and are swept alike.
 * The blob tables' SQL lives here, beside the file blob store, rather than in store.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_priv.h"

#define CHUNK (64 * 1024)
#define STALE_S (24 * 3600)

static pthread_mutex_t g_sweep_mu = PTHREAD_MUTEX_INITIALIZER;
static time_t g_cache_cutoff; /* nftw has no argument: set and used under g_sweep_mu */

static int evict_old(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)f;
    if (type == FTW_F && st->st_mtime < g_cache_cutoff) unlink(path);
    return 0;
}

enum fx_err fx_blob_db_init(struct fx_store *s)
{
    char cache[4400];
    snprintf(cache, sizeof cache, "%s/cache/tmp", s->blob_dir);
    enum fx_err e = fx_mkdirs(cache);
    if (e) return e;
    fx_blob_sweep(s);
    return fx_store_run(s, NULL, "DELETE FROM blob_data WHERE done = 0 AND created < ?", "i",
                        fx_clock_now() - STALE_S);
}

void fx_blob_sweep(struct fx_store *s)
{
    time_t now = time(NULL);
    char cache[4400];
    snprintf(cache, sizeof cache, "%s/cache", s->blob_dir);
    pthread_mutex_lock(&g_sweep_mu);
    if (now - s->cache_swept >= 3600) {
        s->cache_swept = now;
        g_cache_cutoff = now - STALE_S;
        nftw(cache, evict_old, 16, FTW_PHYS);
    }
    pthread_mutex_unlock(&g_sweep_mu);
}

enum fx_err fx_blob_db_begin(struct fx_blob_writer *w)
{
    w->buf = malloc(CHUNK);
    if (!w->buf) return FX_ERR_NOMEM;
    fx_id_new(w->data_id);
    enum fx_err e = fx_store_run(w->s, NULL,
                                 "INSERT INTO blob_data (id, size, sha256, done, created) "
                                 "VALUES (?, 0, '', 0, ?)",
                                 "ti", w->data_id, fx_clock_now());
    if (e) {
        free(w->buf);
        w->buf = NULL;
        w->data_id[0] = 0;
    }
    return e;
}

/* A statement on a held connection (sql: a literal), ended by stmt_end. */
static enum fx_err stmt_begin(struct fx_store *s, const char *sql, struct fx_db_stmt **st)
{
    struct fx_db *db;
    enum fx_err e = fx_store_hold(s, &db);
    if (!e && (e = s->ops->prepare(db, sql, st))) fx_store_let_go(s);
    return e;
}

static void stmt_end(struct fx_store *s, struct fx_db_stmt *st)
{
    s->ops->stmt_done(st);
    fx_store_let_go(s);
}

/* Writes the chunk being filled (when it holds anything). */
static enum fx_err flush(struct fx_blob_writer *w)
{
    if (!w->used) return FX_OK;
    struct fx_store *s = w->s;
    static const char sql[] = "INSERT INTO blob_chunks (data_id, seq, bytes) VALUES (?, ?, ?)";
    struct fx_db_stmt *st;
    enum fx_err e = stmt_begin(s, sql, &st);
    if (e) return e;
    if (!(e = s->ops->bind_text(st, 1, w->data_id)) && !(e = s->ops->bind_int(st, 2, w->seq)) &&
        !(e = s->ops->bind_blob(st, 3, w->buf, w->used))) {
        int rc = s->ops->step(st);
        if (rc < 0) e = (enum fx_err)-rc;
    }
    stmt_end(s, st);
    if (e) return e == FX_ERR_CONFLICT ? FX_ERR_IO : e;
    w->seq++;
    w->used = 0;
    return FX_OK;
}

enum fx_err fx_blob_db_write(struct fx_blob_writer *w, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n) {
        size_t k = CHUNK - w->used < n ? CHUNK - w->used : n;
        memcpy(w->buf + w->used, p, k);
        w->used += k;
        p += k;
        n -= k;
        if (w->used == CHUNK) {
            enum fx_err e = flush(w);
            if (e) return e;
        }
    }
    return FX_OK;
}

enum fx_err fx_blob_db_commit(struct fx_blob_writer *w, const char *key)
{
    enum fx_err e = flush(w);
    if (e) return e;
    char sha[65];
    struct fx_sha256 copy = w->sha; /* the caller finalises its own */
    fx_sha256_final_hex(&copy, sha);
    struct fx_store *s = w->s;
    if ((e = fx_store_tx_begin(s))) return e;
    e = fx_store_run(s, NULL, "UPDATE blob_data SET size = ?, sha256 = ?, done = 1 WHERE id = ?",
                     "itt", w->size, sha, w->data_id);
    if (!e)
        e = fx_store_run(s, NULL, "INSERT INTO blobs (blob_key, data_id, created) VALUES (?, ?, ?)",
                         "tti", key, w->data_id, fx_clock_now());
    if ((e = fx_store_tx_end(s, e))) return e;
    w->data_id[0] = 0; /* it is the key's now: abort keeps it */
    return FX_OK;
}

void fx_blob_db_abort(struct fx_blob_writer *w)
{
    if (w->data_id[0] &&
        fx_store_run(w->s, NULL, "DELETE FROM blob_data WHERE id = ?", "t", w->data_id))
        fx_warn("blob db abort: content not removed id=%s", w->data_id);
    free(w->buf);
    w->buf = NULL;
}

/* The content id a key names into id; FX_ERR_NOT_FOUND when none. */
static enum fx_err data_of(struct fx_store *s, const char *key, char id[FX_ID_LEN + 1])
{
    static const char sql[] = "SELECT data_id FROM blobs WHERE blob_key = ?";
    struct fx_db_stmt *st;
    enum fx_err e = stmt_begin(s, sql, &st);
    if (e) return e;
    if (!(e = s->ops->bind_text(st, 1, key))) {
        int rc = s->ops->step(st);
        if (rc == FX_DB_ROW) fx_strlcpy(id, s->ops->col_text(st, 0), FX_ID_LEN + 1);
        e = q_found(rc);
    }
    stmt_end(s, st);
    return e;
}

/* Writes chunk seq of content id to fd; *more = false past the last one. */
static enum fx_err copy_chunk(struct fx_store *s, const char *id, int seq, int fd, bool *more)
{
    static const char sql[] = "SELECT bytes FROM blob_chunks WHERE data_id = ? AND seq = ?";
    struct fx_db_stmt *st;
    enum fx_err e = stmt_begin(s, sql, &st);
    if (e) return e;
    *more = false;
    if (!(e = s->ops->bind_text(st, 1, id)) && !(e = s->ops->bind_int(st, 2, seq))) {
        int rc = s->ops->step(st);
        if (rc == FX_DB_ROW) {
            size_t n = 0;
            const unsigned char *p = s->ops->col_blob(st, 0, &n);
            for (size_t off = 0; !e && off < n;) {
                ssize_t k = write(fd, p + off, n - off);
                if (k < 0 && errno == EINTR) continue;
                if (k <= 0) e = FX_ERR_IO;
                else off += (size_t)k;
            }
            *more = true;
        } else if (rc < 0) {
            e = (enum fx_err)-rc;
        }
    }
    stmt_end(s, st);
    return e;
}

/* Copies the blob into path through a temporary next to it, renamed when whole, so
 * two threads fetching one blob never see half a file. */
static enum fx_err fetch(struct fx_store *s, const char *key, const char *path)
{
    char id[FX_ID_LEN + 1], tmp[4500], rnd[FX_ID_LEN + 1];
    enum fx_err e = data_of(s, key, id);
    if (e) return e;
    fx_id_new(rnd);
    snprintf(tmp, sizeof tmp, "%s/cache/tmp/%s", s->blob_dir, rnd);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) return FX_ERR_IO;
    bool more = true;
    for (int seq = 0; !e && more; seq++) e = copy_chunk(s, id, seq, fd, &more);
    if (close(fd) != 0 && !e) e = FX_ERR_IO;
    char dir[4400];
    fx_strlcpy(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    if (!e) e = fx_mkdirs(dir);
    if (!e && rename(tmp, path) != 0) e = FX_ERR_IO;
    if (e) unlink(tmp);
    return e;
}

enum fx_err fx_blob_db_path(struct fx_store *s, const char *key, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "%s/cache/%s", s->blob_dir, key);
    if (n <= 0 || (size_t)n >= out_len) return FX_ERR_INVALID;
    /* A hit marks the copy used (the sweep drops copies unused for a day). */
    if (utimensat(AT_FDCWD, out, NULL, 0) == 0) return FX_OK;
    enum fx_err e = fetch(s, key, out);
    if (e && e != FX_ERR_NOT_FOUND) fx_error("blob db fetch failed key=%s", key);
    return e;
}

enum fx_err fx_blob_db_remove(struct fx_store *s, const char *key)
{
    char path[4600];
    snprintf(path, sizeof path, "%s/cache/%s", s->blob_dir, key);
    unlink(path);
    char id[FX_ID_LEN + 1];
    enum fx_err e = fx_store_tx_begin(s);
    if (e) return e;
    e = data_of(s, key, id);
    if (e == FX_ERR_NOT_FOUND) return fx_store_tx_end(s, FX_ERR_NOT_FOUND) == FX_ERR_NOT_FOUND
                                          ? FX_OK
                                          : FX_ERR_DB;
    if (!e) e = fx_store_run(s, NULL, "DELETE FROM blobs WHERE blob_key = ?", "t", key);
    /* The content goes with its last key. */
    if (!e)
        e = fx_store_run(s, NULL,
                         "DELETE FROM blob_data WHERE id = ? AND NOT EXISTS "
                         "(SELECT 1 FROM blobs WHERE data_id = ?)",
                         "tt", id, id);
    return fx_store_tx_end(s, e);
}

enum fx_err fx_blob_db_link(struct fx_store *s, const char *key, const char *new_key)
{
    int64_t n = 0;
    enum fx_err e = fx_store_run(s, &n,
                                 "INSERT INTO blobs (blob_key, data_id, created) "
                                 "SELECT ?, data_id, ? FROM blobs WHERE blob_key = ?",
                                 "tit", new_key, fx_clock_now(), key);
    return e ? e : n ? FX_OK : FX_ERR_IO;
}
