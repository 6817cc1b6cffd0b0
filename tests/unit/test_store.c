/* Unit tests for store/: migrations and reopening, every record type (accounts, tokens,
 * numbers, uploads, the outbox and its destinations, finished faxes, webhooks), the
 * blob store, and many threads writing through one handle. Each test runs in a fresh
 * mkdtemp data directory that is removed afterwards. The same tests run on SQLite and,
 * when store_backend.h finds a server, on PostgreSQL (a database per directory).
 */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "check.h"
#include "store/migrations.h"
#include "store/store_priv.h" /* fx_store_blob_drop: a crash before the purge */
#include "store_backend.h"

#define SET(field, text) fx_strlcpy((field), (text), sizeof(field))

/* ---- helpers ---- */

static void make_data_dir(char dir[256])
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, 256, "%s/test_store_XXXXXX", tmp && strlen(tmp) < 100 ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp failed: %s\n", strerror(errno));
        abort();
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct fx_store *open_store(const char *dir)
{
    char uri[1024];
    struct fx_store_cfg cfg = {.data_dir = dir,
                               .driver = fx_test_store_driver(dir, uri, sizeof uri)};
    struct fx_store *s = NULL;
    enum fx_err e = fx_store_open(&cfg, &s);
    CHECK(e == FX_OK);
    CHECK(s != NULL);
    if (e || !s) {
        fprintf(stderr, "fx_store_open(%s) failed: %s\n", dir, fx_err_code(e));
        abort();
    }
    return s;
}

/* The first integer column of the first row of sql, run on a separate read-only
 * connection to <dir>/faxd.db; -1 on error. */
static long long sql_int(const char *dir, const char *sql)
{
    if (fx_test_on_pg()) return fx_test_pg_int(dir, sql);
    char path[512];
    snprintf(path, sizeof path, "%s/faxd.db", dir);
    sqlite3 *db = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

/* Runs one statement that returns no rows (e.g. DDL) on a separate connection. */
static bool sql_exec(const char *dir, const char *sql)
{
    if (fx_test_on_pg()) {
        char uri[1024], cmd[4096];
        fx_test_store_driver(dir, uri, sizeof uri);
        snprintf(cmd, sizeof cmd, "psql -qAtX -v ON_ERROR_STOP=1 -d '%s' -c \"%s\"", uri, sql);
        return system(cmd) == 0;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/faxd.db", dir);
    sqlite3 *db = NULL;
    bool ok = sqlite3_open(path, &db) == SQLITE_OK &&
              sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db);
    return ok;
}

/* The migrations compiled in (the numbers may have gaps). */
static long long fx_test_count_migrations(void)
{
    long long n = 0;
    for (const struct fx_migration *m = fx_migrations; m->version; m++) n++;
    return n;
}

/* Entries (not . or ..) in a directory; -1 when it cannot be opened. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* The whole file as a new buffer (free()); NULL when unreadable. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct fx_buf b;
    fx_buf_init(&b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) fx_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return fx_buf_steal(&b);
}

static bool write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void fixture_path(const char *name, char *out, size_t len)
{
    const char *data = getenv("FAXD_TEST_DATA");
    if (data && data[0]) {
        snprintf(out, len, "%s/fixtures/%s", data, name);
        return;
    }
    char here[512];
    fx_strlcpy(here, __FILE__, sizeof here);
    snprintf(out, len, "%s/../data/fixtures/%s", dirname(here), name);
}

/* Creates an account and returns its uid in uid[]. */
static void new_account(struct fx_store *s, const char *type, const char *admin, int64_t created,
                        char uid[FX_UID_SIZE])
{
    struct fx_account a;
    memset(&a, 0, sizeof a);
    SET(a.account_type, type);
    SET(a.admin_uid, admin ? admin : "");
    a.created = created;
    snprintf(a.email, sizeof a.email, "user%lld@example.com", (long long)created);
    CHECK(fx_store_account_create(s, &a) == FX_OK);
    fx_strlcpy(uid, a.uid, FX_UID_SIZE);
}

/* Collected ids from list callbacks. */
struct ids {
    int n;
    char id[256][FX_UID_SIZE];
};

static void ids_add(struct ids *l, const char *id)
{
    if (l->n < 256) fx_strlcpy(l->id[l->n], id, FX_UID_SIZE);
    l->n++;
}

static enum fx_err collect_account(const struct fx_account *a, void *arg)
{
    ids_add(arg, a->uid);
    return FX_OK;
}

static enum fx_err collect_token(const struct fx_token *t, void *arg)
{
    ids_add(arg, t->id);
    return FX_OK;
}

static enum fx_err collect_number(const struct fx_number *n, void *arg)
{
    ids_add(arg, n->number);
    return FX_OK;
}

static enum fx_err collect_outbox(const struct fx_outbox *o, void *arg)
{
    ids_add(arg, o->id);
    return FX_OK;
}

static enum fx_err collect_fax(const struct fx_fax *f, void *arg)
{
    ids_add(arg, f->id);
    return FX_OK;
}

static enum fx_err collect_hook(const struct fx_hook *h, void *arg)
{
    ids_add(arg, h->id);
    return FX_OK;
}

static enum fx_err stop_at_first(const struct fx_account *a, void *arg)
{
    ids_add(arg, a->uid);
    return FX_ERR_INTERNAL;
}

/* ---- open, migrations, reopen ---- */

static void test_open_reopen(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    CHECK(fx_store_schema_version(s) == 14);
    char path[512];
    snprintf(path, sizeof path, "%s/faxd.db", dir);
    CHECK(file_exists(path) == !fx_test_on_pg());
    snprintf(path, sizeof path, "%s/blobs/tmp", dir);
    CHECK(count_entries(path) == 0);
    char uid[FX_UID_SIZE];
    new_account(s, "individual", NULL, 1000, uid);
    fx_store_close(s);

    /* Reopening applies nothing new and keeps the data. */
    s = open_store(dir);
    CHECK(fx_store_schema_version(s) == 14);
    struct fx_account a;
    CHECK(fx_store_account_get(s, uid, &a) == FX_OK);
    CHECK_STR(a.uid, uid);
    CHECK(a.created == 1000);
    fx_store_account_clear(&a);
    fx_store_close(s);
    CHECK(sql_int(dir, "SELECT COUNT(*) FROM schema_migrations") ==
          fx_test_count_migrations());
    CHECK(sql_int(dir, "SELECT MAX(version) FROM schema_migrations") == 14);
    CHECK(sql_int(dir, "SELECT COUNT(*) FROM accounts") == 1);

    s = open_store(dir);
    CHECK(fx_store_schema_version(s) == 14);
    fx_store_close(s);
    CHECK(sql_int(dir, "SELECT COUNT(*) FROM schema_migrations") ==
          fx_test_count_migrations());

    /* Bad configurations. */
    struct fx_store *bad = (struct fx_store *)&a; /* any non-NULL marker */
    struct fx_store_cfg cfg = {.data_dir = dir, .driver = "postgres"};
    CHECK(fx_store_open(&cfg, &bad) == FX_ERR_INVALID);
    /* A PostgreSQL URI that reaches no server. */
    cfg.driver = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2";
    CHECK(fx_store_open(&cfg, &bad) == FX_ERR_DB);
    CHECK(bad == (struct fx_store *)&a); /* untouched on failure */
    cfg.driver = NULL;
    CHECK(fx_store_open(&cfg, &bad) == FX_ERR_INVALID);
    /* A data directory that is a regular file. */
    char file[512];
    snprintf(file, sizeof file, "%s/plainfile", dir);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    cfg.driver = "sqlite";
    cfg.data_dir = file;
    CHECK(fx_store_open(&cfg, &bad) != FX_OK);
    CHECK(bad == (struct fx_store *)&a);
    fx_store_close(NULL);
    rm_rf(dir);
}

static void test_wal_mode(void)
{
    if (fx_test_on_pg()) return; /* SQLite's journal */
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    fx_store_close(s);
    char path[512];
    snprintf(path, sizeof path, "%s/faxd.db", dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    CHECK_STR(mode, "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    rm_rf(dir);
}

/* ---- accounts ---- */

static void test_accounts(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);

    struct fx_account a;
    memset(&a, 0, sizeof a);
    SET(a.account_type, "corporate_admin");
    SET(a.email, "admin@example.com");
    SET(a.name, "Ada");
    SET(a.lastname, "Lovelace");
    SET(a.phone, "+12025550100");
    SET(a.profile_image, "https://example.com/a.png");
    SET(a.role, "owner");
    a.quota = 100;
    a.credit = 5;
    a.account_data = "{\"company\":\"ACME\"}";
    int64_t before = fx_clock_now();
    CHECK(fx_store_account_create(s, &a) == FX_OK);
    CHECK(fx_id_valid(a.uid));
    CHECK_STR(a.status, "active"); /* defaulted and written back */
    CHECK(a.created >= before && a.created <= fx_clock_now());

    struct fx_account g;
    CHECK(fx_store_account_get(s, a.uid, &g) == FX_OK);
    CHECK_STR(g.uid, a.uid);
    CHECK_STR(g.account_type, "corporate_admin");
    CHECK_STR(g.status, "active");
    CHECK_STR(g.email, "admin@example.com");
    CHECK_STR(g.name, "Ada");
    CHECK_STR(g.lastname, "Lovelace");
    CHECK_STR(g.phone, "+12025550100");
    CHECK_STR(g.profile_image, "https://example.com/a.png");
    CHECK_STR(g.admin_uid, "");
    CHECK_STR(g.role, "owner");
    CHECK(g.quota == 100);
    CHECK(g.credit == 5);
    CHECK(g.created == a.created);
    CHECK_STR(g.account_data, "{\"company\":\"ACME\"}");
    CHECK_STR(g.settings, "{}");     /* NULL stored as the empty object */
    CHECK_STR(g.notifications, ""); /* never set */

    /* Update every mutable column. */
    SET(g.status, "inactive");
    SET(g.email, "ada@example.org");
    SET(g.name, "Augusta");
    SET(g.lastname, "King");
    SET(g.phone, "");
    SET(g.profile_image, "");
    SET(g.role, "boss");
    g.quota = 7;
    free(g.settings);
    g.settings = strdup("{\"send_fax\":{\"retry\":{\"count\":2}}}");
    free(g.notifications);
    g.notifications = strdup("{\"types\":{}}");
    CHECK(fx_store_account_update(s, &g) == FX_OK);
    fx_store_account_clear(&g);
    CHECK(g.account_data == NULL && g.settings == NULL && g.uid[0] == 0);
    CHECK(fx_store_account_get(s, a.uid, &g) == FX_OK);
    CHECK_STR(g.status, "inactive");
    CHECK_STR(g.email, "ada@example.org");
    CHECK_STR(g.name, "Augusta");
    CHECK_STR(g.lastname, "King");
    CHECK_STR(g.phone, "");
    CHECK_STR(g.profile_image, "");
    CHECK_STR(g.role, "boss");
    CHECK(g.quota == 7);
    CHECK(g.credit == 5); /* credit changes only through credit_add */
    CHECK_STR(g.account_type, "corporate_admin");
    CHECK_STR(g.settings, "{\"send_fax\":{\"retry\":{\"count\":2}}}");
    CHECK_STR(g.notifications, "{\"types\":{}}");
    fx_store_account_clear(&g);

    /* Unknown accounts. */
    struct fx_account none;
    memset(&none, 0, sizeof none);
    CHECK(fx_store_account_get(s, "0123456789abcdef0123456789abcdef", &g) == FX_ERR_NOT_FOUND);
    SET(none.uid, "0123456789abcdef0123456789abcdef");
    CHECK(fx_store_account_update(s, &none) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_account_credit_add(s, none.uid, 5, NULL) == FX_ERR_NOT_FOUND);

    /* A duplicate uid conflicts. */
    struct fx_account dup;
    memset(&dup, 0, sizeof dup);
    SET(dup.uid, a.uid);
    SET(dup.account_type, "individual");
    CHECK(fx_store_account_create(s, &dup) == FX_ERR_CONFLICT);

    /* Members: oldest first, only corporate_member rows of this admin. */
    char m1[FX_UID_SIZE], m2[FX_UID_SIZE], m3[FX_UID_SIZE], other[FX_UID_SIZE],
        solo[FX_UID_SIZE];
    new_account(s, "corporate_member", a.uid, 2000, m1);
    new_account(s, "corporate_member", a.uid, 1500, m2);
    new_account(s, "corporate_member", a.uid, 3000, m3);
    new_account(s, "corporate_admin", NULL, 1200, other);
    new_account(s, "individual", NULL, 100, solo);
    char om[FX_UID_SIZE];
    new_account(s, "corporate_member", other, 1600, om);

    struct ids *l = calloc(1, sizeof *l);
    CHECK(fx_store_account_list_members(s, a.uid, collect_account, l) == FX_OK);
    CHECK(l->n == 3);
    CHECK_STR(l->id[0], m2);
    CHECK_STR(l->id[1], m1);
    CHECK_STR(l->id[2], m3);
    struct fx_account mg;
    CHECK(fx_store_account_get(s, m1, &mg) == FX_OK);
    CHECK_STR(mg.admin_uid, a.uid);
    CHECK_STR(mg.account_type, "corporate_member");
    fx_store_account_clear(&mg);

    memset(l, 0, sizeof *l);
    CHECK(fx_store_account_list_members(s, other, collect_account, l) == FX_OK);
    CHECK(l->n == 1);
    CHECK_STR(l->id[0], om);
    memset(l, 0, sizeof *l);
    CHECK(fx_store_account_list_members(s, solo, collect_account, l) == FX_OK);
    CHECK(l->n == 0);

    /* Everyone, oldest first. */
    memset(l, 0, sizeof *l);
    CHECK(fx_store_account_list_all(s, collect_account, l) == FX_OK);
    CHECK(l->n == 7);
    CHECK_STR(l->id[0], solo);       /* 100 */
    CHECK_STR(l->id[1], other);      /* 1200 */
    CHECK_STR(l->id[2], m2);         /* 1500 */
    CHECK_STR(l->id[3], om);         /* 1600 */
    CHECK_STR(l->id[4], m1);         /* 2000 */
    CHECK_STR(l->id[5], m3);         /* 3000 */
    CHECK_STR(l->id[6], a.uid);      /* now */

    /* A callback's error stops the listing and is returned. */
    memset(l, 0, sizeof *l);
    CHECK(fx_store_account_list_all(s, stop_at_first, l) == FX_ERR_INTERNAL);
    CHECK(l->n == 1);
    free(l);

    /* Credit. */
    int64_t bal = -1;
    CHECK(fx_store_account_credit_add(s, solo, 10, &bal) == FX_OK);
    CHECK(bal == 10);
    CHECK(fx_store_account_credit_add(s, solo, -3, &bal) == FX_OK);
    CHECK(bal == 7);
    CHECK(fx_store_account_credit_add(s, solo, 0, NULL) == FX_OK);
    CHECK(fx_store_account_credit_add(s, a.uid, 20, &bal) == FX_OK);
    CHECK(bal == 25);
    CHECK(fx_store_account_get(s, solo, &g) == FX_OK);
    CHECK(g.credit == 7);
    fx_store_account_clear(&g);
    fx_store_account_clear(NULL);

    fx_store_close(s);
    rm_rf(dir);
}

/* ---- tokens ---- */

static void test_tokens(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    char uid[FX_UID_SIZE], uid2[FX_UID_SIZE];
    new_account(s, "individual", NULL, 100, uid);
    new_account(s, "individual", NULL, 200, uid2);

    struct fx_token t;
    memset(&t, 0, sizeof t);
    SET(t.uid, uid);
    fx_sha256_hex("secret-one", 10, t.hash);
    t.scopes = FX_SCOPE_READ | FX_SCOPE_EDIT;
    SET(t.name, "cli");
    t.created = 500;
    CHECK(fx_store_token_create(s, &t) == FX_OK);
    CHECK(fx_id_valid(t.id));

    struct fx_token t2;
    memset(&t2, 0, sizeof t2);
    SET(t2.uid, uid);
    fx_sha256_hex("secret-two", 10, t2.hash);
    t2.scopes = FX_SCOPE_READ;
    SET(t2.name, "read only");
    t2.created = 400;
    CHECK(fx_store_token_create(s, &t2) == FX_OK);
    CHECK(strcmp(t.id, t2.id) != 0);

    struct fx_token t3;
    memset(&t3, 0, sizeof t3);
    SET(t3.uid, uid2);
    fx_sha256_hex("secret-three", 12, t3.hash);
    t3.scopes = FX_SCOPE_READ;
    CHECK(fx_store_token_create(s, &t3) == FX_OK);
    CHECK(t3.created > 0); /* defaulted to now */

    struct fx_token f;
    CHECK(fx_store_token_find(s, t.hash, &f) == FX_OK);
    CHECK_STR(f.id, t.id);
    CHECK_STR(f.uid, uid);
    CHECK_STR(f.hash, t.hash);
    CHECK(f.scopes == (FX_SCOPE_READ | FX_SCOPE_EDIT));
    CHECK_STR(f.name, "cli");
    CHECK(f.created == 500);
    CHECK(f.revoked == 0);
    char nohash[65];
    fx_sha256_hex("nope", 4, nohash);
    CHECK(fx_store_token_find(s, nohash, &f) == FX_ERR_NOT_FOUND);

    /* The same hash twice conflicts. */
    struct fx_token same = t2;
    CHECK(fx_store_token_create(s, &same) == FX_ERR_CONFLICT);
    /* A token for an account that does not exist violates the foreign key. */
    struct fx_token orphan;
    memset(&orphan, 0, sizeof orphan);
    SET(orphan.uid, "0123456789abcdef0123456789abcdef");
    fx_sha256_hex("orphan", 6, orphan.hash);
    CHECK(fx_store_token_create(s, &orphan) == FX_ERR_CONFLICT);

    /* Listing: oldest first, this account's only. */
    struct ids *l = calloc(1, sizeof *l);
    CHECK(fx_store_token_list(s, uid, collect_token, l) == FX_OK);
    CHECK(l->n == 2);
    CHECK_STR(l->id[0], t2.id);
    CHECK_STR(l->id[1], t.id);

    /* Revoking: find stops finding it, a second revoke is NOT_FOUND. */
    int64_t now = fx_clock_now();
    CHECK(fx_store_token_revoke(s, t.id) == FX_OK);
    CHECK(fx_store_token_find(s, t.hash, &f) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_token_revoke(s, t.id) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_token_revoke(s, "0123456789abcdef0123456789abcdef") == FX_ERR_NOT_FOUND);
    CHECK(fx_store_token_find(s, t2.hash, &f) == FX_OK);
    CHECK_STR(f.id, t2.id);
    /* The revoked one is still listed, with its revocation time. */
    memset(l, 0, sizeof *l);
    CHECK(fx_store_token_list(s, uid, collect_token, l) == FX_OK);
    CHECK(l->n == 2);
    CHECK(sql_int(dir, "SELECT COUNT(*) FROM tokens WHERE revoked = 0") == 2);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT revoked FROM tokens WHERE id = '%s'", t.id);
    long long rv = sql_int(dir, sql);
    CHECK(rv >= now && rv <= now + 2);
    free(l);

    fx_store_close(s);
    rm_rf(dir);
}

/* ---- numbers ---- */

static void test_numbers(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    char admin[FX_UID_SIZE], m1[FX_UID_SIZE], m2[FX_UID_SIZE];
    new_account(s, "corporate_admin", NULL, 100, admin);
    new_account(s, "corporate_member", admin, 200, m1);
    new_account(s, "corporate_member", admin, 300, m2);

    char assigned[100];
    snprintf(assigned, sizeof assigned, "[\"%s\"]", m1);
    struct fx_number n;
    memset(&n, 0, sizeof n);
    SET(n.number, "+12025550100");
    SET(n.owner_id, admin);
    n.assigned_to = assigned;
    n.acquired = 5000;
    CHECK(fx_store_number_create(s, &n) == FX_OK);
    CHECK(fx_id_valid(n.id));
    CHECK_STR(n.status, "active");

    struct fx_number n2;
    memset(&n2, 0, sizeof n2);
    SET(n2.number, "+442079460958");
    SET(n2.owner_id, admin);
    SET(n2.status, "active");
    n2.acquired = 4000;
    n2.expires = 9000;
    CHECK(fx_store_number_create(s, &n2) == FX_OK);

    /* The same number twice conflicts. */
    struct fx_number dup;
    memset(&dup, 0, sizeof dup);
    SET(dup.number, "+12025550100");
    SET(dup.owner_id, m2);
    CHECK(fx_store_number_create(s, &dup) == FX_ERR_CONFLICT);

    struct fx_number g;
    CHECK(fx_store_number_get(s, "+12025550100", &g) == FX_OK);
    CHECK_STR(g.id, n.id);
    CHECK_STR(g.number, "+12025550100");
    CHECK_STR(g.owner_id, admin);
    CHECK_STR(g.assigned_to, assigned);
    CHECK(g.acquired == 5000);
    CHECK_STR(g.status, "active");
    CHECK(g.expires == 0);
    CHECK(!g.is_canceled);
    CHECK_STR(g.notifications, "[]");
    CHECK(fx_store_number_get(s, "+19999999999", &dup) == FX_ERR_NOT_FOUND);

    /* Owned: oldest acquisition first. Assigned: by membership in assigned_to. */
    struct ids *l = calloc(1, sizeof *l);
    CHECK(fx_store_number_list(s, admin, true, collect_number, l) == FX_OK);
    CHECK(l->n == 2);
    CHECK_STR(l->id[0], "+442079460958");
    CHECK_STR(l->id[1], "+12025550100");
    memset(l, 0, sizeof *l);
    CHECK(fx_store_number_list(s, m1, false, collect_number, l) == FX_OK);
    CHECK(l->n == 1);
    CHECK_STR(l->id[0], "+12025550100");
    memset(l, 0, sizeof *l);
    CHECK(fx_store_number_list(s, m2, false, collect_number, l) == FX_OK);
    CHECK(l->n == 0);
    memset(l, 0, sizeof *l);
    CHECK(fx_store_number_list(s, m1, true, collect_number, l) == FX_OK);
    CHECK(l->n == 0);

    /* Reassign to m2, cancel and set notifications. */
    char assigned2[100];
    snprintf(assigned2, sizeof assigned2, "[\"%s\"]", m2);
    free(g.assigned_to);
    g.assigned_to = strdup(assigned2);
    free(g.notifications);
    g.notifications = strdup("[{\"type\":\"email\"}]");
    g.is_canceled = true;
    g.expires = 7777;
    SET(g.status, "canceled");
    CHECK(fx_store_number_update(s, &g) == FX_OK);
    fx_store_number_clear(&g);
    CHECK(g.assigned_to == NULL && g.notifications == NULL);
    CHECK(fx_store_number_get(s, "+12025550100", &g) == FX_OK);
    CHECK_STR(g.assigned_to, assigned2);
    CHECK_STR(g.notifications, "[{\"type\":\"email\"}]");
    CHECK(g.is_canceled);
    CHECK(g.expires == 7777);
    CHECK_STR(g.status, "canceled");
    CHECK_STR(g.owner_id, admin); /* not changed by update */
    CHECK(g.acquired == 5000);
    fx_store_number_clear(&g);
    memset(l, 0, sizeof *l);
    CHECK(fx_store_number_list(s, m1, false, collect_number, l) == FX_OK);
    CHECK(l->n == 0);
    memset(l, 0, sizeof *l);
    CHECK(fx_store_number_list(s, m2, false, collect_number, l) == FX_OK);
    CHECK(l->n == 1);
    CHECK_STR(l->id[0], "+12025550100");

    /* Both members at once. */
    char both[120];
    snprintf(both, sizeof both, "[\"%s\",\"%s\"]", m1, m2);
    CHECK(fx_store_number_get(s, "+442079460958", &g) == FX_OK);
    CHECK(g.expires == 9000);
    free(g.assigned_to);
    g.assigned_to = strdup(both);
    CHECK(fx_store_number_update(s, &g) == FX_OK);
    fx_store_number_clear(&g);
    memset(l, 0, sizeof *l);
    CHECK(fx_store_number_list(s, m1, false, collect_number, l) == FX_OK);
    CHECK(l->n == 1);
    CHECK_STR(l->id[0], "+442079460958");
    memset(l, 0, sizeof *l);
    CHECK(fx_store_number_list(s, m2, false, collect_number, l) == FX_OK);
    CHECK(l->n == 2);
    CHECK_STR(l->id[0], "+442079460958");
    CHECK_STR(l->id[1], "+12025550100");
    free(l);

    struct fx_number ghost;
    memset(&ghost, 0, sizeof ghost);
    SET(ghost.id, "0123456789abcdef0123456789abcdef");
    CHECK(fx_store_number_update(s, &ghost) == FX_ERR_NOT_FOUND);
    fx_store_number_clear(NULL);

    fx_store_close(s);
    rm_rf(dir);
}

/* ---- uploads ---- */

/* Stores an upload of uid, "letter.pdf" of 12345 bytes, whose bytes are blob. */
static void pdf_upload(struct fx_store *s, const char *uid, const char *blob, struct fx_upload *u)
{
    memset(u, 0, sizeof *u);
    SET(u->uid, uid);
    SET(u->name, "letter.pdf");
    SET(u->mime, "application/pdf");
    SET(u->format, "pdf");
    u->size = 12345;
    fx_sha256_hex("pdf bytes", 9, u->sha256);
    SET(u->blob, blob);
    CHECK(fx_store_upload_create(s, u) == FX_OK);
}

static void test_uploads(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    char uid[FX_UID_SIZE];
    new_account(s, "individual", NULL, 100, uid);

    struct fx_upload u;
    pdf_upload(s, uid, "ab/ab0123.pdf", &u);
    CHECK(strlen(u.path) == 11 + FX_ID_LEN);
    CHECK(strncmp(u.path, "/transient-", 11) == 0);
    CHECK(fx_id_valid(u.path + 11));
    CHECK(u.created > 0);

    struct fx_upload u2 = u;
    CHECK(fx_store_upload_create(s, &u2) == FX_OK);
    CHECK(strcmp(u.path, u2.path) != 0);

    struct fx_upload g;
    CHECK(fx_store_upload_get(s, u.path, &g) == FX_OK);
    CHECK_STR(g.path, u.path);
    CHECK_STR(g.uid, uid);
    CHECK_STR(g.name, "letter.pdf");
    CHECK_STR(g.mime, "application/pdf");
    CHECK_STR(g.format, "pdf");
    CHECK(g.size == 12345);
    CHECK_STR(g.sha256, u.sha256);
    CHECK_STR(g.blob, "ab/ab0123.pdf");
    CHECK(g.created == u.created);
    CHECK(fx_store_upload_get(s, "/transient-0123456789abcdef0123456789abcdef", &g) ==
          FX_ERR_NOT_FOUND);
    CHECK(fx_store_upload_get(s, "", &g) == FX_ERR_NOT_FOUND);

    fx_store_close(s);
    rm_rf(dir);
}

/* Expiry: old uploads no outbox record names go, with their blobs. */
static void test_upload_expire(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    char uid[FX_UID_SIZE];
    new_account(s, "individual", NULL, 100, uid);

    struct fx_upload used, stale, fresh;
    struct fx_upload *ups[3] = {&used, &stale, &fresh};
    int64_t created[3] = {100, 100, 5000};
    char blob_path[3][512];
    for (int i = 0; i < 3; i++) {
        memset(ups[i], 0, sizeof *ups[i]);
        SET(ups[i]->uid, uid);
        SET(ups[i]->name, "doc.pdf");
        SET(ups[i]->mime, "application/pdf");
        struct fx_blob_writer *w = NULL;
        CHECK(fx_blob_begin(s, &w) == FX_OK);
        if (w) {
            CHECK(fx_blob_write(w, "%PDF-1.4\n", 9) == FX_OK);
            ups[i]->size = fx_blob_size(w);
            CHECK(fx_blob_commit(w, ".pdf", ups[i]->blob, ups[i]->sha256) == FX_OK);
        }
        CHECK(fx_blob_path(s, ups[i]->blob, blob_path[i], sizeof blob_path[i]) == FX_OK);
        ups[i]->created = created[i];
        CHECK(fx_store_upload_create(s, ups[i]) == FX_OK);
    }
    /* An outbox record names `used`. */
    char files[100];
    snprintf(files, sizeof files, "[\"%s\"]", used.path);
    struct fx_outbox o;
    memset(&o, 0, sizeof o);
    SET(o.uid, uid);
    SET(o.status, "submitted");
    o.files = files;
    o.submit_time = o.status_time = 100;
    struct fx_dest d;
    memset(&d, 0, sizeof d);
    fx_id_new(d.fax_id);
    SET(d.raw, "+12025550100");
    SET(d.number, "+12025550100");
    CHECK(fx_store_outbox_create(s, &o, NULL, 0, &d, 1, NULL, 0) == FX_OK);

    int removed = -1;
    CHECK(fx_store_upload_expire(s, 1000, &removed) == FX_OK);
    CHECK(removed == 1);
    struct fx_upload g;
    CHECK(fx_store_upload_get(s, used.path, &g) == FX_OK);
    CHECK(fx_store_upload_get(s, stale.path, &g) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_upload_get(s, fresh.path, &g) == FX_OK);
    CHECK(file_exists(blob_path[0]));
    CHECK(!file_exists(blob_path[1]));
    CHECK(file_exists(blob_path[2]));
    /* Nothing more to do. */
    CHECK(fx_store_upload_expire(s, 1000, &removed) == FX_OK);
    CHECK(removed == 0);
    /* Once the outbox record is gone, the used upload expires too. */
    CHECK(fx_store_outbox_cancel(s, o.id) == FX_OK);
    CHECK(fx_store_upload_expire(s, 1000, NULL) == FX_OK);
    CHECK(fx_store_upload_get(s, used.path, &g) == FX_ERR_NOT_FOUND);
    CHECK(!file_exists(blob_path[0]));
    CHECK(fx_store_upload_get(s, fresh.path, &g) == FX_OK);

    fx_store_close(s);
    rm_rf(dir);
}

/* ---- the outbox ---- */

static void fill_final(struct fx_fax *f, const char *id, const char *owner, const char *to)
{
    memset(f, 0, sizeof *f);
    SET(f->id, id);
    SET(f->owner_id, owner);
    SET(f->direction, "outgoing");
    SET(f->category, "sent");
    SET(f->status, "failed_invalid_number_format");
    SET(f->to, to);
    SET(f->from, "+15550001111");
    SET(f->description, "The destination is not a valid phone number");
    f->comment = "hello";
    f->cost_multiplier = 1;
    f->last_update = f->submit_time = f->sort_time = 1000;
}

static void fill_outbox(struct fx_outbox *o, const char *uid, int64_t submit)
{
    memset(o, 0, sizeof *o);
    SET(o->uid, uid);
    SET(o->status, "submitted");
    SET(o->src, "+15550001111");
    SET(o->designated_src, "+15550002222");
    o->files = "[\"/transient-0123456789abcdef0123456789abcdef\"]";
    o->comment = "{\"text\":\"hello\",\"tags\":[\"a\"]}";
    o->options = "{\"enhancement\":true}";
    o->retry_count = 2;
    o->retry_delay = 10;
    o->send_time = 0;
    o->submit_time = submit;
    o->status_time = submit;
    o->status_changes = "[{\"at\":\"1970-01-01 00:16:40\",\"status\":\"submitted\"}]";
    o->file_changes = "[]";
    o->page_count = 3;
    SET(o->ip, "192.0.2.1");
    o->initiated_from = "{\"type\":\"api\"}";
    o->cover_page = "";
    o->should_enhance = true;
    o->dests = "[\"+12025550100\",\"+4930123456\"]";
}

static long long dest_count(const char *dir, const char *outbox_id)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM outbox_dests WHERE outbox_id = '%s'",
             outbox_id);
    return sql_int(dir, sql);
}

static void test_outbox(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    char uid[FX_UID_SIZE], uid2[FX_UID_SIZE];
    new_account(s, "individual", NULL, 100, uid);
    new_account(s, "individual", NULL, 200, uid2);

    /* Three destinations, one refused at submit time with its final record. */
    struct fx_dest d[3];
    memset(d, 0, sizeof d);
    for (int i = 0; i < 3; i++) fx_id_new(d[i].fax_id);
    SET(d[0].raw, "+1 202 555 0100");
    SET(d[0].number, "+12025550100");
    SET(d[1].raw, "not a number");
    SET(d[1].number, "");
    SET(d[2].raw, "030 123456");
    SET(d[2].number, "+4930123456");
    struct fx_fax fin;
    fill_final(&fin, d[1].fax_id, uid, d[1].raw);

    struct fx_outbox o1;
    fill_outbox(&o1, uid, 1000);
    CHECK(fx_store_outbox_create(s, &o1, NULL, 0, d, 3, &fin, 1) == FX_OK);
    CHECK(fx_id_valid(o1.id));

    struct fx_outbox g;
    CHECK(fx_store_outbox_get(s, o1.id, &g) == FX_OK);
    CHECK_STR(g.id, o1.id);
    CHECK_STR(g.uid, uid);
    CHECK_STR(g.status, "submitted");
    CHECK_STR(g.src, "+15550001111");
    CHECK_STR(g.designated_src, "+15550002222");
    CHECK_STR(g.files, "[\"/transient-0123456789abcdef0123456789abcdef\"]");
    CHECK_STR(g.comment, "{\"text\":\"hello\",\"tags\":[\"a\"]}");
    CHECK_STR(g.options, "{\"enhancement\":true}");
    CHECK(g.retry_count == 2);
    CHECK(g.retry_delay == 10);
    CHECK(g.send_time == 0);
    CHECK(g.submit_time == 1000);
    CHECK(g.status_time == 1000);
    CHECK_STR(g.status_changes, "[{\"at\":\"1970-01-01 00:16:40\",\"status\":\"submitted\"}]");
    CHECK_STR(g.file_changes, "[]");
    CHECK(g.page_count == 3);
    CHECK_STR(g.ip, "192.0.2.1");
    CHECK_STR(g.initiated_from, "{\"type\":\"api\"}");
    CHECK_STR(g.cover_page, "");
    CHECK(g.should_enhance);
    CHECK_STR(g.dests, "[\"+12025550100\",\"+4930123456\"]");
    fx_store_outbox_clear(&g);
    CHECK(g.files == NULL && g.dests == NULL && g.id[0] == 0);
    fx_store_outbox_clear(NULL);

    /* Only the two valid destinations are pending; the refused one has its record. */
    CHECK(dest_count(dir, o1.id) == 2);
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM outbox_dests WHERE fax_id = '%s'",
             d[1].fax_id);
    CHECK(sql_int(dir, sql) == 0);
    snprintf(sql, sizeof sql, "SELECT idx FROM outbox_dests WHERE fax_id = '%s'", d[2].fax_id);
    CHECK(sql_int(dir, sql) == 2); /* position in the request */
    struct fx_fax f;
    CHECK(fx_store_fax_get(s, d[1].fax_id, &f) == FX_OK);
    CHECK_STR(f.status, "failed_invalid_number_format");
    CHECK_STR(f.to, "not a number");
    CHECK_STR(f.owner_id, uid);
    CHECK_STR(f.comment, "hello");
    fx_store_fax_clear(&f);
    CHECK(fx_store_fax_get(s, d[0].fax_id, &f) == FX_ERR_NOT_FOUND);

    /* Every destination refused: no outbox row, but the records exist. */
    struct fx_dest bad[2];
    memset(bad, 0, sizeof bad);
    struct fx_fax fins[2];
    for (int i = 0; i < 2; i++) {
        fx_id_new(bad[i].fax_id);
        snprintf(bad[i].raw, sizeof bad[i].raw, "bad%d", i);
        fill_final(&fins[i], bad[i].fax_id, uid, bad[i].raw);
    }
    struct fx_outbox o2;
    fill_outbox(&o2, uid, 1500);
    CHECK(fx_store_outbox_create(s, &o2, NULL, 0, bad, 2, fins, 2) == FX_OK);
    CHECK(fx_store_outbox_get(s, o2.id, &g) == FX_ERR_NOT_FOUND);
    CHECK(dest_count(dir, o2.id) == 0);
    for (int i = 0; i < 2; i++) {
        CHECK(fx_store_fax_get(s, bad[i].fax_id, &f) == FX_OK);
        CHECK_STR(f.to, bad[i].raw);
        CHECK_STR(f.status, "failed_invalid_number_format");
        fx_store_fax_clear(&f);
    }

    /* A failing final record rolls the whole request back. */
    struct fx_dest d3[2];
    memset(d3, 0, sizeof d3);
    fx_id_new(d3[0].fax_id);
    SET(d3[0].number, "+12025550100");
    fx_id_new(d3[1].fax_id);
    struct fx_fax fin3;
    fill_final(&fin3, d3[1].fax_id, "0123456789abcdef0123456789abcdef", "x"); /* no owner */
    struct fx_outbox o3;
    fill_outbox(&o3, uid, 1600);
    CHECK(fx_store_outbox_create(s, &o3, NULL, 0, d3, 2, &fin3, 1) == FX_ERR_CONFLICT);
    CHECK(fx_store_outbox_get(s, o3.id, &g) == FX_ERR_NOT_FOUND);
    CHECK(dest_count(dir, o3.id) == 0);
    CHECK(fx_store_fax_get(s, d3[1].fax_id, &f) == FX_ERR_NOT_FOUND);

    /* More records for the listing: oldest submit_time first, per account. */
    struct fx_dest one;
    memset(&one, 0, sizeof one);
    fx_id_new(one.fax_id);
    SET(one.number, "+12025550100");
    struct fx_outbox o4, o5, o6;
    fill_outbox(&o4, uid, 500);
    o4.status_changes = NULL; /* stored as [] */
    o4.cover_page = "{\"name_to\":\"Bob\"}";
    o4.send_time = 99999;
    CHECK(fx_store_outbox_create(s, &o4, NULL, 0, &one, 1, NULL, 0) == FX_OK);
    fx_id_new(one.fax_id);
    fill_outbox(&o5, uid2, 700);
    CHECK(fx_store_outbox_create(s, &o5, NULL, 0, &one, 1, NULL, 0) == FX_OK);
    fx_id_new(one.fax_id);
    fill_outbox(&o6, uid, 2000);
    CHECK(fx_store_outbox_create(s, &o6, NULL, 0, &one, 1, NULL, 0) == FX_OK);
    /* A reused fax id conflicts. */
    struct fx_outbox o7;
    fill_outbox(&o7, uid, 3000);
    CHECK(fx_store_outbox_create(s, &o7, NULL, 0, &one, 1, NULL, 0) == FX_ERR_CONFLICT);
    CHECK(fx_store_outbox_get(s, o7.id, &g) == FX_ERR_NOT_FOUND);

    struct ids *l = calloc(1, sizeof *l);
    CHECK(fx_store_outbox_list(s, uid, collect_outbox, l) == FX_OK);
    CHECK(l->n == 3);
    CHECK_STR(l->id[0], o4.id);
    CHECK_STR(l->id[1], o1.id);
    CHECK_STR(l->id[2], o6.id);
    memset(l, 0, sizeof *l);
    CHECK(fx_store_outbox_list(s, uid2, collect_outbox, l) == FX_OK);
    CHECK(l->n == 1);
    CHECK_STR(l->id[0], o5.id);
    free(l);

    CHECK(fx_store_outbox_get(s, o4.id, &g) == FX_OK);
    CHECK_STR(g.status_changes, "[]");
    CHECK_STR(g.cover_page, "{\"name_to\":\"Bob\"}");
    CHECK(g.send_time == 99999);
    fx_store_outbox_clear(&g);

    /* Comment. */
    CHECK(fx_store_outbox_set_comment(s, o1.id, "{\"text\":\"changed\"}", "changed") == FX_OK);
    CHECK(fx_store_outbox_get(s, o1.id, &g) == FX_OK);
    CHECK_STR(g.comment, "{\"text\":\"changed\"}");
    CHECK_STR(g.comment_text, "changed");
    fx_store_outbox_clear(&g);
    CHECK(fx_store_outbox_set_comment(s, "0123456789abcdef0123456789abcdef", "{}", "") ==
          FX_ERR_NOT_FOUND);

    /* Status changes are appended in order. */
    CHECK(fx_store_outbox_set_status(s, o1.id, "converting", 2000) == FX_OK);
    CHECK(fx_store_outbox_set_status(s, o1.id, "scheduled_for_sending", 3000) == FX_OK);
    CHECK(fx_store_outbox_get(s, o1.id, &g) == FX_OK);
    CHECK_STR(g.status, "scheduled_for_sending");
    CHECK(g.status_time == 3000);
    CHECK_STR(g.status_changes, "[{\"at\":\"1970-01-01 00:16:40\",\"status\":\"submitted\"},"
                                "{\"at\":\"1970-01-01 00:33:20\",\"status\":\"converting\"},"
                                "{\"at\":\"1970-01-01 00:50:00\",\"status\":"
                                "\"scheduled_for_sending\"}]");
    const char *conv = strstr(g.status_changes, "\"converting\"");
    const char *sched = strstr(g.status_changes, "\"scheduled_for_sending\"");
    CHECK(conv && sched && conv < sched);
    json_error_t jerr;
    json_t *arr = json_loads(g.status_changes, 0, &jerr);
    CHECK(json_is_array(arr) && json_array_size(arr) == 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 2), "status")),
              "scheduled_for_sending");
    CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 1), "at")),
              "1970-01-01 00:33:20");
    json_decref(arr);
    CHECK_STR(g.comment, "{\"text\":\"changed\"}");
    CHECK_STR(g.comment_text, "changed"); /* untouched */
    fx_store_outbox_clear(&g);

    /* From an empty array. */
    CHECK(fx_store_outbox_set_status(s, o4.id, "converting", 60) == FX_OK);
    CHECK(fx_store_outbox_get(s, o4.id, &g) == FX_OK);
    CHECK_STR(g.status_changes, "[{\"at\":\"1970-01-01 00:01:00\",\"status\":\"converting\"}]");
    fx_store_outbox_clear(&g);
    CHECK(fx_store_outbox_set_status(s, "0123456789abcdef0123456789abcdef", "sending", 1) ==
          FX_ERR_NOT_FOUND);

    /* Once sending: no comment change, no cancel. */
    CHECK(fx_store_outbox_set_status(s, o1.id, "sending", 4000) == FX_OK);
    CHECK(fx_store_outbox_set_comment(s, o1.id, "{\"text\":\"late\"}", "late") == FX_ERR_CONFLICT);
    CHECK(fx_store_outbox_cancel(s, o1.id) == FX_ERR_CONFLICT);
    CHECK(fx_store_outbox_get(s, o1.id, &g) == FX_OK);
    CHECK_STR(g.status, "sending");
    CHECK_STR(g.comment, "{\"text\":\"changed\"}");
    CHECK_STR(g.comment_text, "changed");
    fx_store_outbox_clear(&g);
    CHECK(dest_count(dir, o1.id) == 2);

    /* Cancel: the record and its destinations go. */
    CHECK(dest_count(dir, o6.id) == 1);
    CHECK(fx_store_outbox_cancel(s, o6.id) == FX_OK);
    CHECK(fx_store_outbox_get(s, o6.id, &g) == FX_ERR_NOT_FOUND);
    CHECK(dest_count(dir, o6.id) == 0);
    CHECK(fx_store_outbox_cancel(s, o6.id) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_outbox_set_comment(s, o6.id, "{}", "") == FX_ERR_NOT_FOUND);
    CHECK(fx_store_outbox_set_status(s, o6.id, "converting", 5) == FX_ERR_NOT_FOUND);
    /* Cancelling a converting record is allowed. */
    CHECK(fx_store_outbox_cancel(s, o4.id) == FX_OK);
    CHECK(fx_store_outbox_get(s, o4.id, &g) == FX_ERR_NOT_FOUND);

    fx_store_close(s);
    rm_rf(dir);
}

/* ---- finished faxes ---- */

static void add_fax(struct fx_store *s, const char *id, const char *owner, const char *category,
                    int64_t sort_time, const char *file)
{
    struct fx_fax f;
    memset(&f, 0, sizeof f);
    SET(f.id, id);
    SET(f.owner_id, owner);
    SET(f.direction, strcmp(category, "sent") == 0 ? "outgoing" : "incoming");
    SET(f.category, category);
    SET(f.status, "success");
    SET(f.file, file ? file : "");
    f.is_spam = strcmp(category, "spam") == 0;
    f.cost_multiplier = 1;
    f.last_update = f.sort_time = sort_time;
    CHECK(fx_store_fax_create(s, &f) == FX_OK);
}

static void list_faxes(struct fx_store *s, const char *owner, const char *category, int64_t after,
                       int64_t before, int limit, struct ids *l)
{
    memset(l, 0, sizeof *l);
    struct fx_fax_query q = {.owner_id = owner,
                             .category = category,
                             .after = after,
                             .before = before,
                             .limit = limit};
    CHECK(fx_store_fax_list(s, &q, collect_fax, l) == FX_OK);
}

static void test_faxes(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    char uid[FX_UID_SIZE], uid2[FX_UID_SIZE];
    new_account(s, "individual", NULL, 100, uid);
    new_account(s, "individual", NULL, 200, uid2);

    /* Every field round-trips. */
    struct fx_fax f;
    memset(&f, 0, sizeof f);
    fx_id_new(f.id);
    SET(f.owner_id, uid);
    SET(f.direction, "outgoing");
    SET(f.category, "sent");
    SET(f.status, "partially_sent");
    f.pages = 4;
    f.comment = "quarterly report";
    f.cost = 3;
    f.cost_multiplier = 1.5;
    SET(f.description, "SIP 200; T.30 code 49");
    f.duration = 93;
    SET(f.file, "0123456789abcdef0123456789abcdef.tiff");
    SET(f.file_name, "fax-to-+12025550100");
    SET(f.blob, "01/0123.tiff");
    SET(f.from, "+15550001111");
    SET(f.to, "+12025550100");
    SET(f.header, "ACME Corp");
    f.is_read = true;
    f.is_spam = false;
    f.last_update = 1001;
    f.scheduled_time = 1002;
    f.start_time = 1003;
    f.submit_time = 1004;
    f.sort_time = 1005;
    f.max_retry = 3;
    f.retry_delay = 15;
    f.cover_page = "{\"name_to\":\"Bob\"}";
    SET(f.outbox_id, "fedcba9876543210fedcba9876543210");
    CHECK(fx_store_fax_create(s, &f) == FX_OK);
    CHECK(fx_store_fax_create(s, &f) == FX_ERR_CONFLICT); /* same id */

    struct fx_fax g;
    CHECK(fx_store_fax_get(s, f.id, &g) == FX_OK);
    CHECK_STR(g.id, f.id);
    CHECK_STR(g.owner_id, uid);
    CHECK_STR(g.direction, "outgoing");
    CHECK_STR(g.category, "sent");
    CHECK_STR(g.status, "partially_sent");
    CHECK(g.pages == 4);
    CHECK_STR(g.comment, "quarterly report");
    CHECK(g.cost == 3);
    CHECK(g.cost_multiplier == 1.5);
    CHECK_STR(g.description, "SIP 200; T.30 code 49");
    CHECK(g.duration == 93);
    CHECK_STR(g.file, "0123456789abcdef0123456789abcdef.tiff");
    CHECK_STR(g.file_name, "fax-to-+12025550100");
    CHECK_STR(g.blob, "01/0123.tiff");
    CHECK_STR(g.from, "+15550001111");
    CHECK_STR(g.to, "+12025550100");
    CHECK_STR(g.header, "ACME Corp");
    CHECK(g.is_read);
    CHECK(!g.is_spam);
    CHECK(g.last_update == 1001);
    CHECK(g.scheduled_time == 1002);
    CHECK(g.start_time == 1003);
    CHECK(g.submit_time == 1004);
    CHECK(g.sort_time == 1005);
    CHECK(g.max_retry == 3);
    CHECK(g.retry_delay == 15);
    CHECK_STR(g.cover_page, "{\"name_to\":\"Bob\"}");
    CHECK_STR(g.outbox_id, "fedcba9876543210fedcba9876543210");
    fx_store_fax_clear(&g);
    CHECK(g.comment == NULL && g.cover_page == NULL);
    fx_store_fax_clear(NULL);

    /* By file. */
    CHECK(fx_store_fax_get_by_file(s, "0123456789abcdef0123456789abcdef.tiff", &g) == FX_OK);
    CHECK_STR(g.id, f.id);
    fx_store_fax_clear(&g);
    CHECK(fx_store_fax_get_by_file(s, "", &g) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_fax_get_by_file(s, "nope.tiff", &g) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_fax_get(s, "0123456789abcdef0123456789abcdef", &g) == FX_ERR_NOT_FOUND);

    /* Update: comment only, then is_read only. */
    CHECK(fx_store_fax_update(s, f.id, "new comment", -1, 2000) == FX_OK);
    CHECK(fx_store_fax_get(s, f.id, &g) == FX_OK);
    CHECK_STR(g.comment, "new comment");
    CHECK(g.is_read); /* unchanged */
    CHECK(g.last_update == 2000);
    fx_store_fax_clear(&g);
    CHECK(fx_store_fax_update(s, f.id, NULL, 0, 2100) == FX_OK);
    CHECK(fx_store_fax_get(s, f.id, &g) == FX_OK);
    CHECK_STR(g.comment, "new comment"); /* unchanged */
    CHECK(!g.is_read);
    CHECK(g.last_update == 2100);
    fx_store_fax_clear(&g);
    CHECK(fx_store_fax_update(s, f.id, NULL, 1, 2200) == FX_OK);
    CHECK(fx_store_fax_get(s, f.id, &g) == FX_OK);
    CHECK(g.is_read);
    CHECK_STR(g.comment, "new comment");
    fx_store_fax_clear(&g);
    CHECK(fx_store_fax_update(s, f.id, "", -1, 2300) == FX_OK); /* empty comment is a value */
    CHECK(fx_store_fax_get(s, f.id, &g) == FX_OK);
    CHECK_STR(g.comment, "");
    CHECK(g.is_read);
    CHECK(g.sort_time == 1005); /* updates do not reorder */
    fx_store_fax_clear(&g);
    CHECK(fx_store_fax_update(s, "0123456789abcdef0123456789abcdef", "x", 1, 1) ==
          FX_ERR_NOT_FOUND);

    /* Delete. */
    CHECK(fx_store_fax_delete(s, f.id) == FX_OK);
    CHECK(fx_store_fax_get(s, f.id, &g) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_fax_delete(s, f.id) == FX_ERR_NOT_FOUND);

    /* Listing. Ids sort so that ties on sort_time are ordered by id, newest first. */
    add_fax(s, "10000000000000000000000000000001", uid, "inbox", 100, NULL);
    add_fax(s, "10000000000000000000000000000002", uid, "sent", 200, NULL);
    add_fax(s, "10000000000000000000000000000003", uid, "spam", 300, NULL);
    add_fax(s, "10000000000000000000000000000004", uid, "inbox", 400, NULL);
    add_fax(s, "10000000000000000000000000000005", uid, "sent", 500, "x.tiff");
    add_fax(s, "10000000000000000000000000000006", uid2, "inbox", 600, NULL);
    add_fax(s, "10000000000000000000000000000007", uid, "inbox", 500, NULL); /* tie with 5 */

    struct ids *l = calloc(1, sizeof *l);
    list_faxes(s, uid, NULL, 0, 0, 100, l); /* inbox + sent, no spam, no other owner */
    CHECK(l->n == 5);
    CHECK_STR(l->id[0], "10000000000000000000000000000007");
    CHECK_STR(l->id[1], "10000000000000000000000000000005");
    CHECK_STR(l->id[2], "10000000000000000000000000000004");
    CHECK_STR(l->id[3], "10000000000000000000000000000002");
    CHECK_STR(l->id[4], "10000000000000000000000000000001");

    list_faxes(s, uid, "inbox", 0, 0, 100, l);
    CHECK(l->n == 3);
    CHECK_STR(l->id[0], "10000000000000000000000000000007");
    CHECK_STR(l->id[1], "10000000000000000000000000000004");
    CHECK_STR(l->id[2], "10000000000000000000000000000001");

    list_faxes(s, uid, "sent", 0, 0, 100, l);
    CHECK(l->n == 2);
    CHECK_STR(l->id[0], "10000000000000000000000000000005");
    CHECK_STR(l->id[1], "10000000000000000000000000000002");

    list_faxes(s, uid, "spam", 0, 0, 100, l);
    CHECK(l->n == 1);
    CHECK_STR(l->id[0], "10000000000000000000000000000003");

    /* Exclusive bounds. */
    list_faxes(s, uid, NULL, 100, 500, 100, l);
    CHECK(l->n == 2);
    CHECK_STR(l->id[0], "10000000000000000000000000000004");
    CHECK_STR(l->id[1], "10000000000000000000000000000002");
    list_faxes(s, uid, NULL, 400, 0, 100, l);
    CHECK(l->n == 2);
    CHECK_STR(l->id[0], "10000000000000000000000000000007");
    CHECK_STR(l->id[1], "10000000000000000000000000000005");
    list_faxes(s, uid, NULL, 0, 200, 100, l);
    CHECK(l->n == 1);
    CHECK_STR(l->id[0], "10000000000000000000000000000001");
    list_faxes(s, uid, NULL, 200, 201, 100, l);
    CHECK(l->n == 0);
    list_faxes(s, uid, "spam", 0, 300, 100, l);
    CHECK(l->n == 0);

    /* Limit. */
    list_faxes(s, uid, NULL, 0, 0, 2, l);
    CHECK(l->n == 2);
    CHECK_STR(l->id[0], "10000000000000000000000000000007");
    CHECK_STR(l->id[1], "10000000000000000000000000000005");
    list_faxes(s, uid, "inbox", 0, 0, 1, l);
    CHECK(l->n == 1);
    CHECK_STR(l->id[0], "10000000000000000000000000000007");

    /* Other owner. */
    list_faxes(s, uid2, NULL, 0, 0, 100, l);
    CHECK(l->n == 1);
    CHECK_STR(l->id[0], "10000000000000000000000000000006");
    list_faxes(s, "0123456789abcdef0123456789abcdef", NULL, 0, 0, 100, l);
    CHECK(l->n == 0);
    free(l);

    CHECK(fx_store_fax_get_by_file(s, "x.tiff", &g) == FX_OK);
    CHECK_STR(g.id, "10000000000000000000000000000005");
    CHECK_STR(g.comment, ""); /* NULL stored as "" */
    CHECK_STR(g.cover_page, "");
    fx_store_fax_clear(&g);

    fx_store_close(s);
    rm_rf(dir);
}

/* ---- webhooks ---- */

static void test_hooks(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    char uid[FX_UID_SIZE], uid2[FX_UID_SIZE];
    new_account(s, "individual", NULL, 100, uid);
    new_account(s, "individual", NULL, 200, uid2);

    struct fx_hook h1, h2, h3, h4;
    memset(&h1, 0, sizeof h1);
    SET(h1.uid, uid);
    SET(h1.target, "https://example.com/hook1");
    SET(h1.event, "fax_received");
    h1.created = 300;
    h2 = h1;
    SET(h2.target, "https://example.com/hook2");
    h2.created = 100;
    h3 = h1;
    SET(h3.event, "fax_sent");
    h4 = h1;
    SET(h4.uid, uid2);
    CHECK(fx_store_hook_create(s, &h1) == FX_OK);
    CHECK(fx_store_hook_create(s, &h2) == FX_OK);
    CHECK(fx_store_hook_create(s, &h3) == FX_OK);
    CHECK(fx_store_hook_create(s, &h4) == FX_OK);
    CHECK(fx_id_valid(h1.id));
    CHECK(strcmp(h1.id, h2.id) != 0);

    struct fx_hook g;
    CHECK(fx_store_hook_get(s, h1.id, &g) == FX_OK);
    CHECK_STR(g.id, h1.id);
    CHECK_STR(g.uid, uid);
    CHECK_STR(g.target, "https://example.com/hook1");
    CHECK_STR(g.event, "fax_received");
    CHECK(g.created == 300);
    CHECK(fx_store_hook_get(s, "0123456789abcdef0123456789abcdef", &g) == FX_ERR_NOT_FOUND);

    struct ids *l = calloc(1, sizeof *l);
    CHECK(fx_store_hook_list(s, uid, "fax_received", collect_hook, l) == FX_OK);
    CHECK(l->n == 2);
    CHECK_STR(l->id[0], h2.id); /* oldest first */
    CHECK_STR(l->id[1], h1.id);
    memset(l, 0, sizeof *l);
    CHECK(fx_store_hook_list(s, uid, "fax_sent", collect_hook, l) == FX_OK);
    CHECK(l->n == 1);
    CHECK_STR(l->id[0], h3.id);
    memset(l, 0, sizeof *l);
    CHECK(fx_store_hook_list(s, uid2, "fax_received", collect_hook, l) == FX_OK);
    CHECK(l->n == 1);
    CHECK_STR(l->id[0], h4.id);
    memset(l, 0, sizeof *l);
    CHECK(fx_store_hook_list(s, uid2, "fax_sent", collect_hook, l) == FX_OK);
    CHECK(l->n == 0);

    CHECK(fx_store_hook_delete(s, h1.id) == FX_OK);
    CHECK(fx_store_hook_get(s, h1.id, &g) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_hook_delete(s, h1.id) == FX_ERR_NOT_FOUND);
    memset(l, 0, sizeof *l);
    CHECK(fx_store_hook_list(s, uid, "fax_received", collect_hook, l) == FX_OK);
    CHECK(l->n == 1);
    CHECK_STR(l->id[0], h2.id);
    free(l);

    /* A hook for an account that does not exist violates the foreign key. */
    struct fx_hook orphan = h1;
    SET(orphan.uid, "0123456789abcdef0123456789abcdef");
    CHECK(fx_store_hook_create(s, &orphan) == FX_ERR_CONFLICT);

    fx_store_close(s);
    rm_rf(dir);
}

/* ---- blobs ---- */

/* Blobs being written: files in blobs/tmp, or unfinished contents in the database. */
static long long writing(const char *dir, const char *tmpdir)
{
    return fx_test_on_pg() ? sql_int(dir, "SELECT COUNT(*) FROM blob_data WHERE done = 0")
                           : count_entries(tmpdir);
}

/* PostgreSQL: a content left unfinished by a crash goes on the next open once a day
 * old (a younger one may be another node's write in progress); committed blobs stay.
 * Closes s. */
static void test_blobs_pg_crash(struct fx_store *s, const char *dir, const char *key)
{
    fx_store_close(s);
    CHECK(sql_int(dir, "INSERT INTO blob_data (id, done, created) VALUES ('old', 0, 1), "
                       "('young', 0, extract(epoch from now())::bigint) RETURNING 1") == 1);
    CHECK(sql_int(dir, "INSERT INTO blob_chunks (data_id, seq, bytes) VALUES "
                       "('old', 0, 'x'), ('young', 0, 'y') RETURNING 1") == 1);
    s = open_store(dir);
    CHECK(sql_int(dir, "SELECT COUNT(*) FROM blob_data WHERE done = 0") == 1);
    CHECK(sql_int(dir, "SELECT COUNT(*) FROM blob_data WHERE id = 'young'") == 1);
    CHECK(sql_int(dir, "SELECT COUNT(*) FROM blob_chunks WHERE data_id = 'old'") == 0);
    /* This node's copies are a cache: without them the blob comes from the database. */
    char path[600];
    CHECK(fx_blob_path(s, key, path, sizeof path) == FX_OK);
    CHECK(unlink(path) == 0);
    CHECK(fx_blob_path(s, key, path, sizeof path) == FX_OK);
    size_t len = 0;
    char *got = slurp(path, &len);
    CHECK(got && len == 3 && memcmp(got, "abc", 3) == 0);
    free(got);
    /* Copies unused for a day go at the next sweep (at open, then hourly); a use keeps
     * a copy. */
    time_t then = time(NULL) - 2 * 86400;
    struct timespec old[2] = {{.tv_sec = then}, {.tv_sec = then}};
    CHECK(utimensat(AT_FDCWD, path, old, 0) == 0);
    CHECK(fx_blob_path(s, key, path, sizeof path) == FX_OK); /* used now */
    fx_store_close(s);
    s = open_store(dir);
    CHECK(file_exists(path));
    CHECK(utimensat(AT_FDCWD, path, old, 0) == 0);
    fx_blob_sweep(s); /* swept at open: not again within the hour */
    CHECK(file_exists(path));
    fx_store_close(s);
    s = open_store(dir);
    CHECK(!file_exists(path));
    CHECK(fx_blob_path(s, key, path, sizeof path) == FX_OK);
    CHECK(file_exists(path));
    fx_store_close(s);
}

/* A received fax of uid whose image is blob. */
static void inbox_fax(struct fx_store *s, const char *uid, const char *blob, struct fx_fax *f)
{
    memset(f, 0, sizeof *f);
    fx_id_new(f->id);
    SET(f->owner_id, uid);
    SET(f->direction, "incoming");
    SET(f->category, "inbox");
    SET(f->status, "success");
    SET(f->blob, blob);
    f->cost_multiplier = 1;
    CHECK(fx_store_fax_create(s, f) == FX_OK);
}

/* Whether the store still holds key: its file, or (PostgreSQL) its row. */
static bool blob_held(struct fx_store *s, const char *dir, const char *key)
{
    if (fx_test_on_pg()) {
        char sql[300];
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM blobs WHERE blob_key = '%s'", key);
        return sql_int(dir, sql) == 1;
    }
    char path[600];
    return fx_blob_path(s, key, path, sizeof path) == FX_OK && file_exists(path);
}

/* Deleting a record removes its blob after the commit; what a crash kept from being
 * removed is noted in blob_trash and removed by fx_blob_trash_empty. */
static void test_blob_trash(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    char image[96], left[96];
    fx_test_put_blob(s, "image", image);
    fx_test_put_blob(s, "left", left);
    char uid[FX_UID_SIZE];
    new_account(s, "individual", NULL, 100, uid);
    struct fx_fax f;
    inbox_fax(s, uid, image, &f);
    CHECK(blob_held(s, dir, image));
    CHECK(fx_store_fax_delete(s, f.id) == FX_OK);
    CHECK(!blob_held(s, dir, image));
    CHECK(sql_int(dir, "SELECT COUNT(*) FROM blob_trash") == 0);
    CHECK(fx_store_fax_delete(s, f.id) == FX_ERR_NOT_FOUND);

    /* A crash between the commit and the removal: the note stays, across a restart. */
    CHECK(fx_store_blob_drop(s, left) == FX_OK);
    CHECK(fx_store_blob_drop(s, left) == FX_OK); /* noted once */
    CHECK(fx_store_blob_drop(s, "") == FX_OK);   /* no blob: nothing noted */
    fx_store_close(s);
    s = open_store(dir);
    CHECK(sql_int(dir, "SELECT COUNT(*) FROM blob_trash") == 1);
    CHECK(blob_held(s, dir, left));
    CHECK(fx_blob_trash_empty(s) == 1);
    CHECK(!blob_held(s, dir, left));
    CHECK(sql_int(dir, "SELECT COUNT(*) FROM blob_trash") == 0);
    CHECK(fx_blob_trash_empty(s) == 0);
    /* Notes of blobs already gone, or of no blob key at all, are dropped too. */
    CHECK(fx_store_blob_drop(s, left) == FX_OK);
    CHECK(fx_store_blob_drop(s, "../outside") == FX_OK);
    CHECK(fx_blob_trash_empty(s) == 2);
    CHECK(sql_int(dir, "SELECT COUNT(*) FROM blob_trash") == 0);
    fx_store_close(s);
    rm_rf(dir);
}

/* Blobs that no record names (a crash between a blob's commit and its record's) go once
 * they are old enough; those named by any table's blob column stay. */
static void test_blob_orphans(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    char uid[FX_UID_SIZE], image[96], upload[96], logo[96], lost[96], linked[96];
    new_account(s, "individual", NULL, 100, uid);
    fx_test_put_blob(s, "image", image);
    fx_test_put_blob(s, "upload", upload);
    fx_test_put_blob(s, "logo", logo);
    fx_test_put_blob(s, "lost", lost);
    CHECK(fx_blob_link(s, image, ".tiff", linked) == FX_OK);

    struct fx_fax f;
    inbox_fax(s, uid, image, &f);
    struct fx_upload u;
    pdf_upload(s, uid, upload, &u);
    struct fx_account a;
    CHECK(fx_store_account_get(s, uid, &a) == FX_OK);
    SET(a.logo_blob, logo);
    CHECK(fx_store_account_update(s, &a) == FX_OK);
    fx_store_account_clear(&a);

    /* Young: a writer may be about to name them. */
    CHECK(fx_blob_orphans_remove(s, 3600) == 0);
    CHECK(blob_held(s, dir, lost) && blob_held(s, dir, linked));
    /* Old enough: the two that nothing names go, the linked one without its source. */
    CHECK(fx_blob_orphans_remove(s, 0) == 2);
    CHECK(!blob_held(s, dir, lost) && !blob_held(s, dir, linked));
    CHECK(blob_held(s, dir, image) && blob_held(s, dir, upload) && blob_held(s, dir, logo));
    char path[600];
    CHECK(fx_blob_path(s, image, path, sizeof path) == FX_OK);
    size_t len = 0;
    char *got = slurp(path, &len);
    CHECK(got && len == 5 && !memcmp(got, "image", 5));
    free(got);
    CHECK(fx_blob_orphans_remove(s, 0) == 0);
    /* Ten unnamed of thirteen old blobs go; eleven of fourteen look like lost records
     * (a database replaced beside its blobs), and none go. */
    char many[11][96];
    for (int i = 0; i < 11; i++) fx_test_put_blob(s, "many", many[i]);
    CHECK(fx_blob_orphans_remove(s, 0) == 0);
    for (int i = 0; i < 11; i++) CHECK(blob_held(s, dir, many[i]));
    CHECK(fx_blob_remove(s, many[10]) == FX_OK);
    CHECK(fx_blob_orphans_remove(s, 0) == 10);
    for (int i = 0; i < 10; i++) CHECK(!blob_held(s, dir, many[i]));
    /* A blob column the pass does not read: nothing is removed. */
    fx_test_put_blob(s, "lost", lost);
    CHECK(sql_exec(dir, "ALTER TABLE faxes ADD COLUMN extra_blob TEXT"));
    CHECK(fx_blob_orphans_remove(s, 0) == 0);
    CHECK(blob_held(s, dir, lost));
    fx_store_close(s);
    rm_rf(dir);
}

static void test_blobs(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    char tmpdir[512];
    snprintf(tmpdir, sizeof tmpdir, "%s/blobs/tmp", dir);
    bool pg = fx_test_on_pg();

    /* Several chunks, one of them larger than any internal buffer. */
    struct fx_buf all;
    fx_buf_init(&all);
    static unsigned char big[600000]; /* over two database chunks */
    for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7 + (i >> 9));
    struct fx_blob_writer *w = NULL;
    CHECK(fx_blob_begin(s, &w) == FX_OK);
    CHECK(w != NULL);
    CHECK(writing(dir, tmpdir) == 1); /* streams into blobs/tmp or the database */
    CHECK(fx_blob_size(w) == 0);
    CHECK(fx_blob_write(w, "%PDF-1.4\n", 9) == FX_OK);
    fx_buf_append(&all, "%PDF-1.4\n", 9);
    CHECK(fx_blob_size(w) == 9);
    CHECK(fx_blob_write(w, big, sizeof big) == FX_OK);
    fx_buf_append(&all, big, sizeof big);
    CHECK(fx_blob_write(w, "", 0) == FX_OK);
    CHECK(fx_blob_write(w, "\0\0%%EOF\n", 8) == FX_OK);
    fx_buf_append(&all, "\0\0%%EOF\n", 8);
    CHECK(fx_blob_size(w) == (int64_t)all.len);
    CHECK(fx_blob_size(w) == 9 + (int64_t)sizeof big + 8);
    char key[96], sha[65];
    memset(key, 0, sizeof key);
    CHECK(fx_blob_commit(w, ".pdf", key, sha) == FX_OK);
    CHECK(writing(dir, tmpdir) == 0);

    /* Key: "<2 hex>/<32 hex>.pdf" with the directory being the id's first two. */
    CHECK(strlen(key) == 3 + FX_ID_LEN + 4);
    CHECK(key[2] == '/');
    CHECK(strncmp(key, key + 3, 2) == 0);
    char id[FX_ID_LEN + 1];
    memcpy(id, key + 3, FX_ID_LEN);
    id[FX_ID_LEN] = 0;
    CHECK(fx_id_valid(id));
    CHECK(strcmp(key + 3 + FX_ID_LEN, ".pdf") == 0);
    char want_sha[65];
    fx_sha256_hex(all.data, all.len, want_sha);
    CHECK_STR(sha, want_sha);

    char path[600], expect[600];
    CHECK(fx_blob_path(s, key, path, sizeof path) == FX_OK);
    snprintf(expect, sizeof expect, "%s/blobs/%s%s", dir, pg ? "cache/" : "", key);
    CHECK_STR(path, expect);
    size_t len = 0;
    char *got = slurp(path, &len);
    CHECK(got != NULL);
    CHECK(len == all.len);
    CHECK(got && len == all.len && memcmp(got, all.data, len) == 0);
    free(got);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0077) == (st.st_mode & 0040));

    /* A blob without suffix. */
    CHECK(fx_blob_begin(s, &w) == FX_OK);
    CHECK(fx_blob_write(w, "abc", 3) == FX_OK);
    char key2[96], sha2[65];
    CHECK(fx_blob_commit(w, NULL, key2, sha2) == FX_OK);
    CHECK(strlen(key2) == 3 + FX_ID_LEN);
    CHECK_STR(sha2, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(strcmp(key, key2) != 0);

    /* Abort leaves nothing behind. */
    CHECK(fx_blob_begin(s, &w) == FX_OK);
    CHECK(fx_blob_write(w, "discard me", 10) == FX_OK);
    CHECK(writing(dir, tmpdir) == 1);
    fx_blob_abort(w);
    CHECK(writing(dir, tmpdir) == 0);
    fx_blob_abort(NULL);
    /* An empty blob. */
    CHECK(fx_blob_begin(s, &w) == FX_OK);
    char key3[96], sha3[65];
    CHECK(fx_blob_commit(w, ".bin", key3, sha3) == FX_OK);
    CHECK_STR(sha3, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(fx_blob_path(s, key3, path, sizeof path) == FX_OK);
    CHECK(stat(path, &st) == 0 && st.st_size == 0);

    /* A fixture, copied whole. */
    char fixture[1024];
    fixture_path("letter.txt", fixture, sizeof fixture);
    size_t flen = 0;
    char *fdata = slurp(fixture, &flen);
    CHECK(fdata != NULL && flen > 0);
    char fkey[96], fsha[65];
    int64_t fsize = -1;
    CHECK(fx_blob_put_file(s, fixture, ".txt", fkey, fsha, &fsize) == FX_OK);
    CHECK(fsize == (int64_t)flen);
    char fwant[65];
    fx_sha256_hex(fdata ? fdata : "", flen, fwant);
    CHECK_STR(fsha, fwant);
    CHECK(fx_blob_path(s, fkey, path, sizeof path) == FX_OK);
    size_t clen = 0;
    char *copy = slurp(path, &clen);
    CHECK(copy && fdata && clen == flen && memcmp(copy, fdata, flen) == 0);
    free(copy);
    free(fdata);
    /* A larger binary fixture, in several read() calls. */
    fixture_path("fax_g3_fine.tif", fixture, sizeof fixture);
    fdata = slurp(fixture, &flen);
    CHECK(fdata != NULL && flen > 0);
    CHECK(fx_blob_put_file(s, fixture, ".tiff", fkey, fsha, NULL) == FX_OK);
    fx_sha256_hex(fdata ? fdata : "", flen, fwant);
    CHECK_STR(fsha, fwant);
    free(fdata);
    char missing[1100];
    snprintf(missing, sizeof missing, "%s/no-such-file", dir);
    CHECK(fx_blob_put_file(s, missing, ".txt", fkey, fsha, &fsize) == FX_ERR_NOT_FOUND);
    CHECK(writing(dir, tmpdir) == 0);

    /* A link is a second name: the bytes stay until both names are removed. */
    char lkey[96];
    CHECK(fx_blob_link(s, key2, ".tiff", lkey) == FX_OK);
    CHECK(strcmp(lkey, key2) != 0 && strlen(lkey) == 3 + FX_ID_LEN + 5);
    CHECK(fx_blob_link(s, "ab/0123456789abcdef0123456789abcdef", NULL, lkey) != FX_OK);
    CHECK(fx_blob_link(s, key2, ".tiff", lkey) == FX_OK);
    char lkey2[96];
    CHECK(fx_blob_link(s, lkey, NULL, lkey2) == FX_OK);
    CHECK(fx_blob_remove(s, lkey) == FX_OK);
    CHECK(fx_blob_path(s, lkey2, path, sizeof path) == FX_OK);
    got = slurp(path, &len);
    CHECK(got && len == 3 && memcmp(got, "abc", 3) == 0);
    free(got);
    CHECK(fx_blob_remove(s, lkey2) == FX_OK);
    CHECK(!file_exists(path));

    /* Paths that could leave blobs/ are refused. */
    CHECK(fx_blob_path(s, "../x", path, sizeof path) == FX_ERR_INVALID);
    CHECK(fx_blob_path(s, "ab/../../faxd.db", path, sizeof path) == FX_ERR_INVALID);
    CHECK(fx_blob_path(s, "/abs", path, sizeof path) == FX_ERR_INVALID);
    CHECK(fx_blob_path(s, "/etc/passwd", path, sizeof path) == FX_ERR_INVALID);
    CHECK(fx_blob_path(s, "", path, sizeof path) == FX_ERR_INVALID);
    char tiny[8];
    CHECK(fx_blob_path(s, key, tiny, sizeof tiny) == FX_ERR_INVALID);

    /* Derived files: beside the blob's key, named by variant; removing the blob removes
     * them (not those of another blob). */
    char dpath[600], dpath2[600], other[600];
    CHECK(fx_blob_derived_path(s, key, "p1-w200.png", dpath, sizeof dpath) == FX_OK);
    CHECK(fx_blob_derived_path(s, key, "p2-w200.png", dpath2, sizeof dpath2) == FX_OK);
    CHECK(fx_blob_derived_path(s, key2, "p1-w200.png", other, sizeof other) == FX_OK);
    CHECK(strstr(dpath, "/blobs/cache/derived/") && strcmp(dpath, dpath2) && strcmp(dpath, other));
    CHECK(write_file(dpath, "x", 1) && write_file(dpath2, "x", 1) && write_file(other, "x", 1));
    CHECK(fx_blob_derived_path(s, key, "../x", dpath2, sizeof dpath2) == FX_ERR_INVALID);
    CHECK(fx_blob_derived_path(s, key, "", dpath2, sizeof dpath2) == FX_ERR_INVALID);
    CHECK(fx_blob_derived_path(s, "../x", "a", dpath2, sizeof dpath2) == FX_ERR_INVALID);
    CHECK(fx_blob_derived_path(s, key, "p2-w200.png", dpath2, sizeof dpath2) == FX_OK);

    /* Remove: gone, and a second remove is fine. */
    CHECK(fx_blob_path(s, key, path, sizeof path) == FX_OK);
    CHECK(file_exists(path));
    long long contents = pg ? sql_int(dir, "SELECT COUNT(*) FROM blob_data") : 0;
    CHECK(fx_blob_remove(s, key) == FX_OK);
    CHECK(!file_exists(path));
    CHECK(!file_exists(dpath) && !file_exists(dpath2) && file_exists(other));
    if (pg) CHECK(sql_int(dir, "SELECT COUNT(*) FROM blob_data") == contents - 1);
    CHECK(fx_blob_path(s, key, path, sizeof path) == (pg ? FX_ERR_NOT_FOUND : FX_OK));
    CHECK(fx_blob_remove(s, key) == FX_OK);
    CHECK(fx_blob_remove(s, "../faxd.db") == FX_ERR_INVALID);
    snprintf(expect, sizeof expect, "%s/faxd.db", dir);
    CHECK(file_exists(expect) == !pg);
    if (pg) {
        test_blobs_pg_crash(s, dir, key2);
        fx_buf_free(&all);
        rm_rf(dir);
        return;
    }

    /* When blobs/tmp cannot be written, begin fails cleanly. */
    CHECK(rmdir(tmpdir) == 0);
    w = (struct fx_blob_writer *)&all; /* any non-NULL marker */
    CHECK(fx_blob_begin(s, &w) == FX_ERR_IO);
    CHECK(w == (struct fx_blob_writer *)&all);
    /* fx_blob_put_file reports that failure without touching a writer it never got. */
    fixture_path("letter.txt", fixture, sizeof fixture);
    CHECK(fx_blob_put_file(s, fixture, ".txt", fkey, fsha, &fsize) == FX_ERR_IO);
    CHECK(fx_mkdirs(tmpdir) == FX_OK);

    /* A temporary left by a crash is removed on the next open; committed blobs stay. */
    char left[700];
    snprintf(left, sizeof left, "%s/leftover-0123", tmpdir);
    FILE *f = fopen(left, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("half a document", f);
        fclose(f);
    }
    CHECK(count_entries(tmpdir) == 1);
    fx_store_close(s);
    s = open_store(dir);
    CHECK(count_entries(tmpdir) == 0);
    CHECK(!file_exists(left));
    CHECK(fx_blob_path(s, key2, path, sizeof path) == FX_OK);
    got = slurp(path, &len);
    CHECK(got && len == 3 && memcmp(got, "abc", 3) == 0);
    free(got);

    fx_buf_free(&all);
    fx_store_close(s);
    rm_rf(dir);
}

/* ---- many threads, one handle ---- */

struct worker {
    struct fx_store *s;
    int idx;
    int failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 50; i++) {
        struct fx_account a;
        memset(&a, 0, sizeof a);
        SET(a.account_type, "individual");
        snprintf(a.email, sizeof a.email, "t%d-%d@example.com", w->idx, i);
        if (fx_store_account_create(w->s, &a) != FX_OK) w->failures++;
        /* Reads interleave with the other threads' writes. */
        struct fx_account g;
        if (fx_store_account_get(w->s, a.uid, &g) != FX_OK) {
            w->failures++;
        } else {
            if (strcmp(g.email, a.email) != 0) w->failures++;
            fx_store_account_clear(&g);
        }
        if (fx_store_account_credit_add(w->s, a.uid, 1, NULL) != FX_OK) w->failures++;
    }
    return NULL;
}

static enum fx_err count_cb(const struct fx_account *a, void *arg)
{
    int *n = arg;
    (*n)++;
    if (a->credit != 1) (*n) += 1000000;
    return FX_OK;
}

static void test_threads(void)
{
    char dir[256];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.s = s, .idx = i};
        CHECK(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        failures += w[i].failures;
    }
    CHECK(failures == 0);
    int n = 0;
    CHECK(fx_store_account_list_all(s, count_cb, &n) == FX_OK);
    CHECK(n == 200);
    fx_store_close(s);
    CHECK(sql_int(dir, "SELECT COUNT(DISTINCT email) FROM accounts") == 200);
    rm_rf(dir);
}

/* ---- stamp, lost connections ---- */

static void *write_one(void *arg)
{
    char uid[FX_UID_SIZE];
    new_account(arg, "individual", NULL, 77, uid); /* on this thread's own connection */
    return NULL;
}

/* The stamp moves with every commit, from this connection or another. (Equal stamps
 * are only asserted on SQLite: on PostgreSQL a write anywhere on the server moves it.) */
static void test_stamp(void)
{
    char dir[256], uid[FX_UID_SIZE];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    struct fx_store_stamp a, b;
    CHECK(fx_store_stamp(s, &a) == FX_OK);
    CHECK(fx_store_stamp(s, &b) == FX_OK);
    if (!fx_test_on_pg()) CHECK(!memcmp(&a, &b, sizeof a));
    new_account(s, "individual", NULL, 5, uid);
    CHECK(fx_store_stamp(s, &a) == FX_OK);
    CHECK(memcmp(&a, &b, sizeof a) != 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, write_one, s) == 0);
    pthread_join(th, NULL);
    CHECK(fx_store_stamp(s, &b) == FX_OK);
    CHECK(memcmp(&a, &b, sizeof a) != 0);
    fx_store_close(s);
    rm_rf(dir);
}

/* PostgreSQL: a connection the server dropped (restart, failover) is opened again on
 * the next statement outside a transaction, with its prepared statements. */
static void test_pg_reconnect(void)
{
    if (!fx_test_on_pg()) return;
    char dir[256], uid[FX_UID_SIZE];
    make_data_dir(dir);
    struct fx_store *s = open_store(dir);
    new_account(s, "individual", NULL, 9, uid);
    struct fx_account a;
    CHECK(fx_store_account_get(s, uid, &a) == FX_OK);
    fx_store_account_clear(&a);
    CHECK(sql_int(dir, "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                       "datname = current_database() AND pid <> pg_backend_pid()") >= 1);
    usleep(100 * 1000);
    CHECK(fx_store_account_get(s, uid, &a) == FX_OK);
    CHECK(a.created == 9);
    fx_store_account_clear(&a);
    /* Dropped again: the next call begins a write transaction. */
    CHECK(sql_int(dir, "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                       "datname = current_database() AND pid <> pg_backend_pid()") >= 1);
    usleep(100 * 1000);
    int64_t balance = 0;
    CHECK(fx_store_account_credit_add(s, uid, 3, &balance) == FX_OK);
    CHECK(balance == 3);
    new_account(s, "individual", NULL, 10, uid);
    fx_store_close(s);
    rm_rf(dir);
}

int main(void)
{
    fx_log_set_level(FX_LOG_ERROR);
    test_stamp();
    test_pg_reconnect();
    test_open_reopen();
    test_wal_mode();
    test_accounts();
    test_tokens();
    test_numbers();
    test_uploads();
    test_upload_expire();
    test_outbox();
    test_faxes();
    test_hooks();
    test_blobs();
    test_blob_trash();
    test_blob_orphans();
    test_threads();
    return fx_check_result("test_store");
}
