/* store: the blob store — documents and fax images as files under <data_dir>/blobs.
 * A blob is written to blobs/tmp, fsynced, renamed to blobs/<2 hex>/<id><suffix> and
 * its directory fsynced: only then is it acknowledged, so an acknowledged upload
 * survives kill -9 and power loss. Writes stream; memory does not grow with size.
 * With a PostgreSQL store each call goes to the database blob store (blob_db.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_priv.h"

enum fx_err fx_blob_init(struct fx_store *s)
{
    snprintf(s->blob_dir, sizeof s->blob_dir, "%s/blobs", s->data_dir);
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s/tmp", s->blob_dir);
    enum fx_err e = fx_mkdirs(tmp);
    if (e) return e;
    /* Temporaries belong to writes that were never acknowledged: drop them. */
    if ((e = fx_dir_clear(tmp))) return e;
    return s->blobs_in_db ? fx_blob_db_init(s) : FX_OK;
}

void fx_blob_new_key(const char *suffix, char key[96])
{
    char id[FX_ID_LEN + 1];
    fx_id_new(id);
    snprintf(key, 96, "%.2s/%s%s", id, id, suffix ? suffix : "");
}

enum fx_err fx_blob_begin(struct fx_store *s, struct fx_blob_writer **out)
{
    struct fx_blob_writer *w = calloc(1, sizeof *w);
    if (!w) return FX_ERR_NOMEM;
    w->s = s;
    w->fd = -1;
    fx_sha256_init(&w->sha);
    if (s->blobs_in_db) {
        enum fx_err e = fx_blob_db_begin(w);
        if (e) {
            free(w);
            return e;
        }
        *out = w;
        return FX_OK;
    }
    char id[FX_ID_LEN + 1];
    fx_id_new(id);
    snprintf(w->tmp, sizeof w->tmp, "%s/tmp/%s", s->blob_dir, id);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (w->fd < 0) {
        fx_error("blob create failed path=%s errno=%d", w->tmp, errno);
        free(w);
        return FX_ERR_IO;
    }
    *out = w;
    return FX_OK;
}

enum fx_err fx_blob_write(struct fx_blob_writer *w, const void *data, size_t n)
{
    if (w->s->blobs_in_db) {
        enum fx_err e = fx_blob_db_write(w, data, n);
        if (e) return e;
        fx_sha256_update(&w->sha, data, n);
        w->size += (int64_t)n;
        return FX_OK;
    }
    const char *p = data;
    size_t left = n;
    while (left) {
        ssize_t k = write(w->fd, p, left);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return FX_ERR_IO;
        p += k;
        left -= (size_t)k;
    }
    fx_sha256_update(&w->sha, data, n);
    w->size += (int64_t)n;
    return FX_OK;
}

int64_t fx_blob_size(const struct fx_blob_writer *w)
{
    return w->size;
}

enum fx_err fx_blob_commit(struct fx_blob_writer *w, const char *suffix, char key[96],
                           char sha256[65])
{
    enum fx_err e = FX_ERR_IO;
    char dir[4400], final[4600];
    fx_blob_new_key(suffix, key);
    if (w->s->blobs_in_db) {
        if (!(e = fx_blob_db_commit(w, key))) fx_sha256_final_hex(&w->sha, sha256);
        goto out;
    }
    if (fsync(w->fd) != 0) goto out;
    snprintf(dir, sizeof dir, "%s/%.2s", w->s->blob_dir, key);
    if ((e = fx_mkdirs(dir))) goto out;
    snprintf(final, sizeof final, "%s/%s", w->s->blob_dir, key);
    e = FX_ERR_IO;
    if (rename(w->tmp, final) != 0) goto out;
    w->tmp[0] = 0;
    if ((e = fx_fsync_dir(dir))) goto out;
    fx_sha256_final_hex(&w->sha, sha256);
out:
    if (e) fx_error("blob commit failed errno=%d", errno);
    fx_blob_abort(w);
    return e;
}

void fx_blob_abort(struct fx_blob_writer *w)
{
    if (!w) return;
    if (w->s->blobs_in_db) fx_blob_db_abort(w);
    if (w->fd >= 0) close(w->fd);
    if (w->tmp[0]) unlink(w->tmp);
    free(w);
}

enum fx_err fx_blob_put_file(struct fx_store *s, const char *src_path, const char *suffix,
                             char key[96], char sha256[65], int64_t *size)
{
    int fd = open(src_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return FX_ERR_NOT_FOUND;
    struct fx_blob_writer *w = NULL;
    enum fx_err e = fx_blob_begin(s, &w);
    if (e) {
        close(fd);
        return e;
    }
    char buf[65536];
    ssize_t n;
    while (!e && (n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            e = FX_ERR_IO;
            break;
        }
        e = fx_blob_write(w, buf, (size_t)n);
    }
    close(fd);
    if (e) {
        fx_blob_abort(w);
        return e;
    }
    if (size) *size = fx_blob_size(w);
    return fx_blob_commit(w, suffix, key, sha256);
}

/* Keys are made by fx_blob_commit; refuse anything that could leave blobs/. */
static bool key_ok(const char *key)
{
    return key[0] && !strstr(key, "..") && key[0] != '/';
}

enum fx_err fx_blob_path(struct fx_store *s, const char *key, char *out, size_t out_len)
{
    if (!key_ok(key)) return FX_ERR_INVALID;
    if (s->blobs_in_db) return fx_blob_db_path(s, key, out, out_len);
    int n = snprintf(out, out_len, "%s/%s", s->blob_dir, key);
    return n > 0 && (size_t)n < out_len ? FX_OK : FX_ERR_INVALID;
}

enum fx_err fx_blob_derived_path(struct fx_store *s, const char *key, const char *variant,
                                 char *out, size_t out_len)
{
    if (!key_ok(key) || !variant[0] || strspn(variant, "abcdefghijklmnopqrstuvwxyz"
                                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                       "0123456789-.") != strlen(variant))
        return FX_ERR_INVALID;
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/cache/derived/%.2s", s->blob_dir, key);
    enum fx_err e = fx_mkdirs(dir);
    if (e) return e;
    int n = snprintf(out, out_len, "%s/cache/derived/%s.%s", s->blob_dir, key, variant);
    return n > 0 && (size_t)n < out_len ? FX_OK : FX_ERR_INVALID;
}

/* Removes this node's derived files of key: <key>.<variant> in key's directory. */
static void derived_remove(struct fx_store *s, const char *key)
{
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/cache/derived/%.2s", s->blob_dir, key);
    const char *base = strchr(key, '/') ? strchr(key, '/') + 1 : key;
    size_t len = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, base, len) && de->d_name[len] == '.')
            unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
}

enum fx_err fx_blob_remove(struct fx_store *s, const char *key)
{
    if (!key_ok(key)) return FX_ERR_INVALID;
    derived_remove(s, key);
    if (s->blobs_in_db) return fx_blob_db_remove(s, key);
    char path[4400];
    enum fx_err e = fx_blob_path(s, key, path, sizeof path);
    if (e) return e;
    return unlink(path) == 0 || errno == ENOENT ? FX_OK : FX_ERR_IO;
}

enum fx_err fx_blob_link(struct fx_store *s, const char *key, const char *suffix,
                         char new_key[96])
{
    char src[4400], dir[4400], dst[4600];
    if (s->blobs_in_db) {
        char k[96];
        fx_blob_new_key(suffix, k);
        enum fx_err e = fx_blob_db_link(s, key, k);
        if (!e) memcpy(new_key, k, sizeof k);
        return e;
    }
    enum fx_err e = fx_blob_path(s, key, src, sizeof src);
    if (e) return e;
    fx_blob_new_key(suffix, new_key);
    snprintf(dir, sizeof dir, "%s/%.2s", s->blob_dir, new_key);
    if ((e = fx_mkdirs(dir))) return e;
    snprintf(dst, sizeof dst, "%s/%s", s->blob_dir, new_key);
    if (link(src, dst) != 0) return FX_ERR_IO;
    return fx_fsync_dir(dir);
}

/* ---- blobs whose last record is gone (blob_trash, migration 14) ----
 * A blob cannot be removed inside the transaction that deletes its record (a file is not
 * transactional, and the database blob store runs transactions of its own), and removing
 * it before the commit would leave a record without its bytes. So the transaction notes
 * the key, the blob goes after the commit, and the note with it; housekeeping removes
 * what a crash left noted. */

enum fx_err fx_store_blob_drop(struct fx_store *s, const char *key)
{
    if (!key || !key[0]) return FX_OK;
    return q_run(s, NULL,
                 "INSERT INTO blob_trash (key, since) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                 "ti", key, fx_clock_now());
}

enum fx_err fx_store_blob_purge(struct fx_store *s, const char *key)
{
    if (!key || !key[0]) return FX_OK;
    fx_crash_point("blob_purge");
    enum fx_err e = fx_blob_remove(s, key);
    /* A key that is not a blob key names nothing to remove: its note goes too. */
    if (!e || e == FX_ERR_INVALID)
        e = q_run(s, NULL, "DELETE FROM blob_trash WHERE key = ?", "t", key);
    if (e) fx_warn("store blob not removed key=%s error=%s", key, fx_err_code(e));
    return e;
}

int fx_blob_trash_empty(struct fx_store *s)
{
    enum { BATCH = 256 };
    int done = 0;
    for (;;) {
        char(*keys)[96] = calloc(BATCH, sizeof *keys);
        if (!keys) return done;
        int n = 0;
        struct q q;
        if (!q_start(s, &q, "SELECT key FROM blob_trash ORDER BY since, key LIMIT ?", "n",
                     (int)BATCH)) {
            while (n < BATCH && q_step(&q) == FX_DB_ROW) CP(keys[n++], qt(&q, 0));
            q_end(&q);
        }
        int removed = 0;
        for (int i = 0; i < n; i++) removed += fx_store_blob_purge(s, keys[i]) == FX_OK;
        free(keys);
        done += removed;
        /* A batch that removed nothing (the store is failing) waits for the next pass. */
        if (n < BATCH || removed == 0) return done;
    }
}

/* ---- blobs that no record names ----
 * A crash between a blob's commit and its record's leaves a blob that no record names,
 * and so does replacing an account's logo (outbox records may still name the old one,
 * so it is kept then). Every writer names its blob moments after committing it, so a
 * blob a day old that nothing names is named by nothing: fx_blob_orphans_remove removes
 * those. NAMERS reads the columns that name blobs; the pass checks it against the schema
 * (every column whose name holds "blob", outside the blob store's own tables) and
 * removes nothing when the schema has one NAMERS lacks, or when so many blobs are unnamed
 * that the records, not the blobs, must be what is missing. */

static const struct {
    const char *column, *sql; /* statements are cached by their text's address: literals */
} NAMERS[] = {
    {"accounts.logo_blob", "SELECT logo_blob FROM accounts"},
    {"uploads.blob", "SELECT blob FROM uploads"},
    {"outbox.doc_blob", "SELECT doc_blob FROM outbox"},
    {"outbox.logo_blob", "SELECT logo_blob FROM outbox"},
    {"faxes.blob", "SELECT blob FROM faxes"},
    {"rx_pages.blob", "SELECT blob FROM rx_pages"},
};
enum { N_NAMERS = sizeof NAMERS / sizeof *NAMERS };
#define ORPHANS_MAX 10 /* more, and over a tenth of the old blobs: removes none */

struct keyset {
    char **v;
    size_t n, cap;
};

static bool keyset_add(struct keyset *k, const char *key)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 1024;
        char **v = realloc(k->v, cap * sizeof *v);
        if (!v) return false;
        k->v = v;
        k->cap = cap;
    }
    if (!(k->v[k->n] = strdup(key))) return false;
    k->n++;
    return true;
}

static void keyset_free(struct keyset *k)
{
    for (size_t i = 0; i < k->n; i++) free(k->v[i]);
    free(k->v);
    memset(k, 0, sizeof *k);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool keyset_has(const struct keyset *k, const char *key)
{
    return k->n && bsearch(&key, k->v, k->n, sizeof *k->v, key_cmp); /* v is NULL when empty */
}

/* Reads the rows of sql (one text column) into k, skipping empty ones. */
static bool keyset_query(struct fx_store *s, struct keyset *k, const char *sql,
                         const char *types, int64_t arg)
{
    struct q q;
    if (*types ? q_start(s, &q, sql, types, arg) : q_start(s, &q, sql, ""))
        return false;
    int rc = FX_DB_DONE;
    bool ok = true;
    while (ok && (rc = q_step(&q)) == FX_DB_ROW) {
        const char *t = qt(&q, 0);
        if (t && t[0]) ok = keyset_add(k, t);
    }
    q_end(&q);
    return ok && rc == FX_DB_DONE;
}

/* Every blob key a record names, sorted. */
static bool named_keys(struct fx_store *s, struct keyset *named)
{
    struct keyset cols = {0};
    bool ok = keyset_query(
        s, &cols,
        s->blobs_in_db
            ? "SELECT table_name || '.' || column_name FROM information_schema.columns "
              "WHERE table_schema = current_schema() AND column_name LIKE '%blob%' "
              "AND table_name NOT LIKE 'blob%'"
            : "SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p "
              "WHERE m.type = 'table' AND p.name LIKE '%blob%' AND m.name NOT LIKE 'blob%'",
        "", 0);
    for (size_t i = 0; ok && i < cols.n; i++) {
        size_t k = 0;
        while (k < N_NAMERS && strcmp(NAMERS[k].column, cols.v[i])) k++;
        if (k == N_NAMERS) {
            fx_error("store blob column %s is not read for blob names", cols.v[i]);
            ok = false;
        }
    }
    for (size_t i = 0; ok && i < N_NAMERS; i++)
        ok = keyset_query(s, named, NAMERS[i].sql, "", 0);
    keyset_free(&cols);
    if (ok && named->n) qsort(named->v, named->n, sizeof *named->v, key_cmp);
    return ok;
}

/* The file blob store's keys whose files changed (written or linked) at or before
 * cutoff. */
static bool old_files(struct fx_store *s, time_t cutoff, struct keyset *old)
{
    DIR *top = opendir(s->blob_dir);
    if (!top) return false;
    bool ok = true;
    struct dirent *de;
    while (ok && (de = readdir(top))) {
        /* Blobs live in two-hex-digit directories; tmp and cache are not blobs. */
        if (strlen(de->d_name) != 2 || strspn(de->d_name, "0123456789abcdef") != 2) continue;
        int fd = openat(dirfd(top), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
            if (fd >= 0) close(fd);
            ok = false;
            break;
        }
        struct dirent *f;
        struct stat st;
        while (ok && (f = readdir(d))) {
            if (fstatat(dirfd(d), f->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
                st.st_ctime > cutoff)
                continue;
            char key[96];
            if (snprintf(key, sizeof key, "%s/%s", de->d_name, f->d_name) < (int)sizeof key)
                ok = keyset_add(old, key);
        }
        closedir(d);
    }
    closedir(top);
    return ok;
}

int fx_blob_orphans_remove(struct fx_store *s, int64_t age_s)
{
    struct keyset named = {0}, old = {0};
    int removed = 0;
    /* A record deleted meanwhile: its blob is in the trash too, and whichever removes it
     * first wins. */
    int64_t cutoff = fx_clock_now() - age_s;
    bool ok = s->blobs_in_db
                  ? keyset_query(s, &old, "SELECT blob_key FROM blobs WHERE created <= ?", "i",
                                 cutoff)
                  : old_files(s, (time_t)cutoff, &old);
    ok = ok && named_keys(s, &named);
    size_t unnamed = 0;
    for (size_t i = 0; ok && i < old.n; i++) unnamed += !keyset_has(&named, old.v[i]);
    /* Crashes leave a few such blobs. Many of them means a store that lost its records
     * (a database restored or replaced beside the blobs): those blobs may be all that is
     * left of the faxes, so the operator decides, not the pass. */
    if (ok && unnamed > ORPHANS_MAX && unnamed > old.n / 10) {
        fx_error("store %zu of %zu blobs are named by no record: none removed; was the "
                 "database replaced or restored without them?",
                 unnamed, old.n);
        ok = false;
    }
    for (size_t i = 0; ok && unnamed && i < old.n; i++) {
        if (keyset_has(&named, old.v[i])) continue;
        if (fx_blob_remove(s, old.v[i]) == FX_OK) {
            fx_info("store blob that no record names removed key=%s", old.v[i]);
            removed++;
        }
    }
    if (!ok) fx_warn("store blobs that no record names not removed");
    keyset_free(&named);
    keyset_free(&old);
    return removed;
}
