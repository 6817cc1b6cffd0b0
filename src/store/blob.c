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
