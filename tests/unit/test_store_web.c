/* Unit tests for what the web interface keeps in the store and core: Argon2id password
 * hashes, finding an account by e-mail, sessions (expiry, sign-out, a new password
 * ending them) and the counting of failed sign-ins behind the lock-out. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/store.h"

static struct fx_store *open_tmp(char *dir)
{
    strcpy(dir, "/tmp/faxd-storew-XXXXXX");
    if (!mkdtemp(dir)) return NULL;
    struct fx_store_cfg cfg = {.data_dir = dir, .driver = "sqlite"};
    struct fx_store *s = NULL;
    return fx_store_open(&cfg, &s) == FX_OK ? s : NULL;
}

static void make_account(struct fx_store *s, const char *email, char uid[FX_UID_SIZE])
{
    struct fx_account a = {0};
    strcpy(a.account_type, "individual");
    strcpy(a.email, email);
    CHECK(fx_store_account_create(s, &a) == FX_OK);
    strcpy(uid, a.uid);
}

static void test_password_hash(void)
{
    char h1[FX_PASSWORD_HASH_SIZE], h2[FX_PASSWORD_HASH_SIZE];
    CHECK(fx_password_hash("s3cret pass", h1) == FX_OK);
    CHECK(fx_password_hash("s3cret pass", h2) == FX_OK);
    CHECK(strncmp(h1, "$argon2id$", 10) == 0);
    CHECK(strcmp(h1, h2) != 0); /* salted */
    CHECK(fx_password_verify("s3cret pass", h1));
    CHECK(!fx_password_verify("s3cret pasS", h1));
    CHECK(!fx_password_verify("", h1));
    /* No hash, or a broken one, never matches. */
    CHECK(!fx_password_verify("s3cret pass", ""));
    CHECK(!fx_password_verify("", ""));
    CHECK(!fx_password_verify("x", "$argon2id$garbage"));
    char secret[80], hash[65], again[65];
    fx_token_secret(secret, hash);
    CHECK(strncmp(secret, "faxd_", 5) == 0 && strlen(secret) == 69);
    fx_sha256_hex(secret, strlen(secret), again);
    CHECK_STR(hash, again);
}

static void test_sessions(void)
{
    char dir[64], uid[FX_UID_SIZE], other[FX_UID_SIZE], got[FX_UID_SIZE];
    char hash[FX_PASSWORD_HASH_SIZE];
    struct fx_store *s = open_tmp(dir);
    CHECK(s != NULL);
    make_account(s, "Ana@Example.com", uid);
    make_account(s, "bob@example.com", other);
    CHECK(fx_store_password_find(s, "ana@example.COM", got, hash) == FX_OK);
    CHECK_STR(got, uid);
    CHECK_STR(hash, "");
    CHECK(fx_store_password_find(s, "nobody@example.com", got, hash) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_password_find(s, "", got, hash) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_password_set(s, uid, "$argon2id$x") == FX_OK);
    CHECK(fx_store_password_find(s, "ana@example.com", got, hash) == FX_OK);
    CHECK_STR(hash, "$argon2id$x");
    CHECK(fx_store_password_set(s, "0123456789abcdef0123456789abcdef", "x") == FX_ERR_NOT_FOUND);

    struct fx_session se = {.created = 1000, .expires = 2000};
    strcpy(se.hash, "aa");
    strcpy(se.uid, uid);
    strcpy(se.csrf, "cc");
    CHECK(fx_store_session_create(s, &se) == FX_OK);
    strcpy(se.hash, "bb");
    strcpy(se.uid, other);
    CHECK(fx_store_session_create(s, &se) == FX_OK);
    struct fx_session g;
    struct fx_account a;
    CHECK(fx_store_session_auth(s, "aa", 1999, &g, &a) == FX_OK);
    CHECK_STR(a.uid, uid);
    CHECK_STR(a.email, "Ana@Example.com");
    CHECK_STR(g.csrf, "cc");
    CHECK(g.expires == 2000);
    fx_store_account_clear(&a);
    CHECK(fx_store_session_auth(s, "aa", 2000, &g, &a) == FX_ERR_NOT_FOUND); /* expired */
    CHECK(fx_store_session_auth(s, "zz", 1500, &g, &a) == FX_ERR_NOT_FOUND);
    /* A new password ends the account's sessions, not others'. */
    CHECK(fx_store_password_set(s, uid, "$argon2id$y") == FX_OK);
    CHECK(fx_store_session_auth(s, "aa", 1500, &g, &a) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_session_auth(s, "bb", 1500, &g, &a) == FX_OK);
    fx_store_account_clear(&a);
    CHECK(fx_store_session_delete(s, "bb") == FX_OK);
    CHECK(fx_store_session_auth(s, "bb", 1500, &g, &a) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_session_delete(s, "bb") == FX_OK); /* already gone: fine */
    fx_store_close(s);
}

static void test_lockout(void)
{
    char dir[64];
    struct fx_store *s = open_tmp(dir);
    CHECK(s != NULL);
    int64_t until = -1;
    CHECK(fx_store_login_locked(s, "account:a", 100, &until) == FX_OK);
    CHECK(until == 0);
    /* Three allowed within a 60 s window; the third locks for 300 s. */
    CHECK(fx_store_login_failed(s, "account:a", 100, 60, 3, 300, &until) == FX_OK);
    CHECK(until == 0);
    CHECK(fx_store_login_failed(s, "account:a", 110, 60, 3, 300, &until) == FX_OK);
    CHECK(until == 0);
    CHECK(fx_store_login_failed(s, "account:b", 110, 60, 3, 300, &until) == FX_OK);
    CHECK(until == 0);
    CHECK(fx_store_login_failed(s, "account:a", 120, 60, 3, 300, &until) == FX_OK);
    CHECK(until == 420);
    CHECK(fx_store_login_locked(s, "account:a", 419, &until) == FX_OK);
    CHECK(until == 420);
    CHECK(fx_store_login_locked(s, "account:b", 200, &until) == FX_OK);
    CHECK(until == 0);
    /* More failures while locked do not move the end. */
    CHECK(fx_store_login_failed(s, "account:a", 200, 60, 3, 300, &until) == FX_OK);
    CHECK(until == 420);
    CHECK(fx_store_login_locked(s, "account:a", 420, &until) == FX_OK);
    CHECK(until == 0);
    /* After the lock and the window, counting starts again. */
    CHECK(fx_store_login_failed(s, "account:a", 500, 60, 3, 300, &until) == FX_OK);
    CHECK(until == 0);
    /* Failures spread wider than the window never lock. */
    for (int i = 0; i < 5; i++) {
        CHECK(fx_store_login_failed(s, "address:x", 1000 + 61 * i, 60, 2, 300, &until) == FX_OK);
        CHECK(until == 0);
    }
    /* Success forgets. */
    CHECK(fx_store_login_failed(s, "account:b", 111, 60, 3, 300, &until) == FX_OK);
    CHECK(fx_store_login_clear(s, "account:b") == FX_OK);
    CHECK(fx_store_login_failed(s, "account:b", 112, 60, 3, 300, &until) == FX_OK);
    CHECK(until == 0);
    fx_store_close(s);
}

int main(void)
{
    test_password_hash();
    test_sessions();
    test_lockout();
    return fx_check_result("test_store_web");
}
