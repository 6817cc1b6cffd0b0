/* store: accounts and their credit ledger, API tokens, fax numbers, and the web
 * interface's passwords, sessions and failed sign-ins. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_priv.h"

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

enum fx_err fx_store_account_create(struct fx_store *s, struct fx_account *a)
{
    if (!a->uid[0]) fx_id_new(a->uid);
    if (!a->created) a->created = fx_clock_now();
    if (!a->status[0]) CP(a->status, "active");
    char secret[FX_WEBHOOK_SECRET_SIZE];
    fx_store_webhook_secret_new(secret);
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
    return q_found(rc);
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
enum fx_err fx_store_ledger_move(struct fx_store *s, const char *uid, int64_t delta,
                                 const char *reason, const char *fax_id, int64_t *balance)
{
    int64_t n = 0, bal = 0;
    enum fx_err e =
        q_run(s, &n, "UPDATE accounts SET credit = credit + ? WHERE uid = ?", "it", delta, uid);
    if (!e && !n) e = FX_ERR_NOT_FOUND;
    if (!e) e = q_int(s, &bal, "SELECT credit FROM accounts WHERE uid = ?", "t", uid);
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
    return tx_end(s, fx_store_ledger_move(s, uid, pages, "credit added", NULL, balance));
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
    return q_found(rc);
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
    return q_found(rc);
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
    return q_found(rc);
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
    return q_found(rc);
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
    return q_found(rc);
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
    int64_t until = 0;
    enum fx_err e = q_int(s, &until, "SELECT locked_until FROM login_failures WHERE subject = ?",
                          "t", subject);
    if (e && e != FX_ERR_NOT_FOUND) return e; /* no row: never failed */
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
