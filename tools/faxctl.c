/* faxctl: the operator's command line. It opens the same store as faxd (same config
 * file and FAXD_* environment) so accounts, tokens, numbers and credit are managed
 * without touching the database by hand. With --json every command prints what it
 * did as one JSON object, for scripts and tests. SQLite's WAL lets it run beside a
 * live faxd. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "convert/convert.h"
#include "core/core.h"
#include "sip/sip.h"
#include "store/store.h"

static bool json_out;
static const struct fx_conf *g_conf;

static void usage(void)
{
    fputs(
        "usage: faxctl [-c FILE] [--json] COMMAND ...\n"
        "  account create --type individual|corporate_admin|corporate_member [--admin UID]\n"
        "                 [--email E] [--name N] [--lastname L] [--company C]\n"
        "  account list\n"
        "  account show --account UID\n"
        "  token create --account UID [--scope read|edit|read,edit] [--name NAME]\n"
        "  token list --account UID\n"
        "  token revoke --id ID\n"
        "  password set --account UID [--password P]   (web sign-in; without --password\n"
        "               the first line of standard input; an empty one removes it)\n"
        "  number add --account UID --number +E164 [--assign MEMBER_UID]\n"
        "  credit add --account UID --pages N\n"
        "  credit show --account UID     (balance and ledger)\n"
        "  blocklist add|remove --account UID --number +E164   (spam senders)\n"
        "  blocklist list --account UID\n"
        "  fax import --account UID --file FAX.tiff --from NUM --to NUM\n"
        "             [--direction incoming|outgoing] [--pages N]\n"
        "  demo       create (once) a demo account with a number; print a new token and\n"
        "             a new web password\n"
        "  trunk list the configured SIP trunks and their live state (registered, channels\n"
        "             in use, last error) as the running faxd last wrote it\n"
        "  drain      the faxd running on this data directory takes no new calls or work;\n"
        "             its calls and conversions in progress finish (see GET /readyz)\n"
        "  undrain    it takes calls and work again\n",
        stderr);
}

/* ---- output: minimal JSON writer (strings escaped per RFC 8259) ---- */
static void jstr(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

/* Prints {"k": v, ...}: pairs of key and printf-formatted raw JSON or 's'-prefixed
 * string values: fields are given as "key", "s", value or "key", "i", int64. */
static void emit(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    bool open = false;
    for (const char *key = first; key; key = va_arg(ap, const char *)) {
        const char *kind = va_arg(ap, const char *);
        if (json_out) printf("%s", open ? ", " : "{");
        open = true;
        if (json_out) {
            jstr(key);
            printf(": ");
        } else {
            printf("%s: ", key);
        }
        if (*kind == 's') {
            const char *v = va_arg(ap, const char *);
            if (json_out) jstr(v);
            else printf("%s", v);
        } else if (*kind == 'i') {
            printf("%lld", (long long)va_arg(ap, int64_t));
        } else { /* 'r': raw JSON */
            printf("%s", va_arg(ap, const char *));
        }
        if (!json_out) putchar('\n');
    }
    va_end(ap);
    if (json_out) puts(open ? "}" : "{}");
}

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("faxctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* --key value options after the command words. */
static const char *opt(int argc, char **argv, const char *key)
{
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], key)) return argv[i + 1];
    return NULL;
}

/* ---- commands ---- */

static int account_create(struct fx_store *s, int argc, char **argv)
{
    static const char *const types[] = {"individual", "corporate_admin", "corporate_member"};
    const char *type = opt(argc, argv, "--type"), *admin = opt(argc, argv, "--admin");
    const char *email = opt(argc, argv, "--email"), *name = opt(argc, argv, "--name");
    const char *last = opt(argc, argv, "--lastname"), *company = opt(argc, argv, "--company");
    bool ok = false;
    for (int i = 0; type && i < 3; i++) ok |= !strcmp(type, types[i]);
    if (!ok) return fail("--type must be individual, corporate_admin or corporate_member");
    bool member = !strcmp(type, "corporate_member");
    if (member != (admin != NULL)) return fail("--admin UID is required for (only) members");
    struct fx_account a = {0}, adm;
    if (admin) {
        if (fx_store_account_get(s, admin, &adm)) return fail("no account %s", admin);
        bool is_admin = !strcmp(adm.account_type, "corporate_admin");
        fx_store_account_clear(&adm);
        if (!is_admin) return fail("%s is not a corporate_admin", admin);
        fx_strlcpy(a.admin_uid, admin, sizeof a.admin_uid);
    }
    fx_strlcpy(a.account_type, type, sizeof a.account_type);
    fx_strlcpy(a.email, email ? email : "", sizeof a.email);
    fx_strlcpy(a.name, name ? name : "", sizeof a.name);
    fx_strlcpy(a.lastname, last ? last : "", sizeof a.lastname);
    char data[600] = "{}";
    if (company && strlen(company) < 400 && !strpbrk(company, "\"\\"))
        snprintf(data, sizeof data, "{\"company_name\":\"%s\"}", company);
    a.account_data = data;
    enum fx_err e = fx_store_account_create(s, &a);
    if (e) return fail("cannot create the account (%s)", fx_err_code(e));
    emit("uid", "s", a.uid, "account_type", "s", a.account_type, "email", "s", a.email,
         "admin_uid", "s", a.admin_uid, NULL);
    return 0;
}

static enum fx_err print_account(const struct fx_account *a, void *arg)
{
    (void)arg;
    if (json_out) {
        printf("%s", *(int *)arg ? ", " : "");
        (*(int *)arg)++;
        printf("{\"uid\": ");
        jstr(a->uid);
        printf(", \"account_type\": ");
        jstr(a->account_type);
        printf(", \"email\": ");
        jstr(a->email);
        printf(", \"credit\": %lld}", (long long)a->credit);
    } else {
        printf("%s %-16s credit=%lld %s\n", a->uid, a->account_type, (long long)a->credit,
               a->email);
    }
    return FX_OK;
}

static int account_list(struct fx_store *s)
{
    int n = 0;
    if (json_out) printf("{\"accounts\": [");
    enum fx_err e = fx_store_account_list_all(s, print_account, &n);
    if (json_out) puts("]}");
    return e ? fail("cannot list accounts (%s)", fx_err_code(e)) : 0;
}

static int account_show(struct fx_store *s, int argc, char **argv)
{
    const char *uid = opt(argc, argv, "--account");
    struct fx_account a;
    char secret[FX_WEBHOOK_SECRET_SIZE];
    if (!uid || fx_store_account_get(s, uid, &a)) return fail("no such account");
    /* The key webhook deliveries are signed with (X-Faxd-Signature); made on first use
     * for accounts older than the webhooks. */
    if (fx_store_account_webhook_secret(s, uid, secret)) secret[0] = '\0';
    emit("uid", "s", a.uid, "account_type", "s", a.account_type, "status", "s", a.status,
         "email", "s", a.email, "admin_uid", "s", a.admin_uid, "credit", "i", a.credit,
         "webhook_secret", "s", secret, NULL);
    fx_store_account_clear(&a);
    return 0;
}

/* Creates a token for uid with t->scopes; token[80] receives the secret. Only its
 * SHA-256 is stored, so the secret is shown once. */
static enum fx_err make_token(struct fx_store *s, const char *uid, const char *name,
                              struct fx_token *t, char token[80])
{
    fx_token_secret(token, t->hash);
    fx_strlcpy(t->uid, uid, sizeof t->uid);
    fx_strlcpy(t->name, name ? name : "", sizeof t->name);
    return fx_store_token_create(s, t);
}

static int token_create(struct fx_store *s, int argc, char **argv)
{
    const char *uid = opt(argc, argv, "--account"), *scope = opt(argc, argv, "--scope");
    const char *name = opt(argc, argv, "--name");
    struct fx_account a;
    if (!uid || fx_store_account_get(s, uid, &a)) return fail("--account UID: no such account");
    fx_store_account_clear(&a);
    struct fx_token t = {0};
    if (!scope || !strcmp(scope, "read,edit") || !strcmp(scope, "edit,read"))
        t.scopes = FX_SCOPE_READ | FX_SCOPE_EDIT;
    else if (!strcmp(scope, "read")) t.scopes = FX_SCOPE_READ;
    else if (!strcmp(scope, "edit")) t.scopes = FX_SCOPE_EDIT;
    else return fail("--scope must be read, edit or read,edit");
    char token[80];
    enum fx_err e = make_token(s, uid, name, &t, token);
    if (e) return fail("cannot create the token (%s)", fx_err_code(e));
    const char *scopes = t.scopes == 3 ? "[\"read\", \"edit\"]"
                         : t.scopes == 1 ? "[\"read\"]" : "[\"edit\"]";
    emit("id", "s", t.id, "uid", "s", t.uid, "token", "s", token, "scopes",
         json_out ? "r" : "s", json_out ? scopes : (t.scopes == 3 ? "read,edit" : scope), NULL);
    return 0;
}

static enum fx_err print_token(const struct fx_token *t, void *arg)
{
    if (json_out) {
        printf("%s{\"id\": ", (*(int *)arg)++ ? ", " : "");
        jstr(t->id);
        printf(", \"scopes\": %d, \"revoked\": %s, \"name\": ", t->scopes,
               t->revoked ? "true" : "false");
        jstr(t->name);
        putchar('}');
    } else {
        printf("%s scopes=%s%s%s %s\n", t->id, t->scopes & 1 ? "read" : "",
               t->scopes == 3 ? "," : "", t->scopes & 2 ? "edit" : "",
               t->revoked ? "revoked" : "active");
    }
    return FX_OK;
}

static int token_list(struct fx_store *s, int argc, char **argv)
{
    const char *uid = opt(argc, argv, "--account");
    if (!uid) return fail("--account UID is required");
    int n = 0;
    if (json_out) printf("{\"tokens\": [");
    enum fx_err e = fx_store_token_list(s, uid, print_token, &n);
    if (json_out) puts("]}");
    return e ? fail("cannot list tokens (%s)", fx_err_code(e)) : 0;
}

static int token_revoke(struct fx_store *s, int argc, char **argv)
{
    const char *id = opt(argc, argv, "--id");
    if (!id || fx_store_token_revoke(s, id)) return fail("no active token with that --id");
    emit("id", "s", id, "revoked", "r", "true", NULL);
    return 0;
}

/* Hashes and stores a password (Argon2id); "" removes it. Ends the account's sessions. */
static enum fx_err store_password(struct fx_store *s, const char *uid, const char *password)
{
    char hash[FX_PASSWORD_HASH_SIZE] = "";
    enum fx_err e = password[0] ? fx_password_hash(password, hash) : FX_OK;
    return e ? e : fx_store_password_set(s, uid, hash);
}

static int password_set(struct fx_store *s, int argc, char **argv)
{
    const char *uid = opt(argc, argv, "--account"), *pw = opt(argc, argv, "--password");
    char line[1100];
    if (!uid) return fail("--account UID is required");
    if (!pw) {
        if (!fgets(line, sizeof line, stdin)) line[0] = 0;
        line[strcspn(line, "\r\n")] = 0;
        pw = line;
    }
    if (strlen(pw) > 1024) return fail("the password is limited to 1024 bytes");
    if (pw[0] && strlen(pw) < 8) return fail("the password needs at least 8 characters");
    enum fx_err e = store_password(s, uid, pw);
    if (e == FX_ERR_NOT_FOUND) return fail("--account UID: no such account");
    if (e) return fail("cannot set the password (%s)", fx_err_code(e));
    emit("uid", "s", uid, "password", "r", pw[0] ? "true" : "false", NULL);
    return 0;
}

static int number_add(struct fx_store *s, int argc, char **argv)
{
    const char *uid = opt(argc, argv, "--account"), *num = opt(argc, argv, "--number");
    const char *assign = opt(argc, argv, "--assign");
    struct fx_account a;
    if (!uid || fx_store_account_get(s, uid, &a)) return fail("--account UID: no such account");
    bool member = !strcmp(a.account_type, "corporate_member");
    fx_store_account_clear(&a);
    if (member) return fail("numbers belong to an individual or a corporate admin");
    if (!num || !fx_e164_valid(num)) return fail("--number must be E.164, e.g. +12025550100");
    char assigned[64] = "[]";
    if (assign) {
        struct fx_account m;
        if (fx_store_account_get(s, assign, &m)) return fail("--assign: no such account");
        bool mine = !strcmp(m.admin_uid, uid);
        fx_store_account_clear(&m);
        if (!mine) return fail("--assign must name a member of %s", uid);
        snprintf(assigned, sizeof assigned, "[\"%s\"]", assign);
    }
    struct fx_number n = {.assigned_to = assigned};
    fx_strlcpy(n.number, num, sizeof n.number);
    fx_strlcpy(n.owner_id, uid, sizeof n.owner_id);
    enum fx_err e = fx_store_number_create(s, &n);
    if (e == FX_ERR_CONFLICT) return fail("%s is already in use", num);
    if (e) return fail("cannot add the number (%s)", fx_err_code(e));
    emit("id", "s", n.id, "number", "s", n.number, "owner_id", "s", n.owner_id, NULL);
    return 0;
}

static int credit_add(struct fx_store *s, int argc, char **argv)
{
    const char *uid = opt(argc, argv, "--account"), *pages = opt(argc, argv, "--pages");
    char *end = NULL;
    long long n = pages ? strtoll(pages, &end, 10) : 0;
    if (!uid || !pages || *end || n < -1000000000LL || n > 1000000000LL)
        return fail("usage: credit add --account UID --pages N");
    int64_t balance = 0;
    enum fx_err e = fx_store_account_credit_add(s, uid, n, &balance);
    if (e) return fail("cannot add credit (%s)", fx_err_code(e));
    emit("uid", "s", uid, "credit", "i", balance, NULL);
    return 0;
}

static enum fx_err print_ledger(int64_t delta, int64_t balance, const char *reason,
                                const char *fax_id, int64_t at, void *arg)
{
    char ts[FX_TIME_LEN];
    fx_time_format(at, ts);
    if (json_out) {
        printf("%s{\"at\": \"%s\", \"delta\": %lld, \"balance\": %lld, \"reason\": ",
               (*(int *)arg)++ ? ", " : "", ts, (long long)delta, (long long)balance);
        jstr(reason);
        printf(", \"fax_id\": ");
        jstr(fax_id);
        putchar('}');
    } else {
        printf("%s %+6lld = %6lld  %s %s\n", ts, (long long)delta, (long long)balance, reason,
               fax_id);
    }
    return FX_OK;
}

/* credit show --account UID: the balance and every debit and credit. */
static int credit_show(struct fx_store *s, int argc, char **argv)
{
    const char *uid = opt(argc, argv, "--account");
    struct fx_account a;
    if (!uid || fx_store_account_get(s, uid, &a)) return fail("--account UID: no such account");
    int n = 0;
    if (json_out) printf("{\"uid\": \"%s\", \"credit\": %lld, \"ledger\": [", a.uid,
                         (long long)a.credit);
    else printf("balance %lld pages\n", (long long)a.credit);
    fx_store_account_clear(&a);
    enum fx_err e = fx_store_ledger_list(s, uid, print_ledger, &n);
    if (json_out) puts("]}");
    return e ? fail("cannot read the ledger (%s)", fx_err_code(e)) : 0;
}

static int fax_import(struct fx_store *s, int argc, char **argv)
{
    const char *uid = opt(argc, argv, "--account"), *file = opt(argc, argv, "--file");
    const char *from = opt(argc, argv, "--from"), *to = opt(argc, argv, "--to");
    const char *dir = opt(argc, argv, "--direction"), *pages = opt(argc, argv, "--pages");
    if (!dir) dir = "incoming";
    if (!uid || !file || !from || !to || (strcmp(dir, "incoming") && strcmp(dir, "outgoing")))
        return fail("usage: fax import --account UID --file FAX.tiff --from N --to N");
    struct fx_account a;
    if (fx_store_account_get(s, uid, &a)) return fail("--account UID: no such account");
    fx_store_account_clear(&a);
    int n = 0;
    if (fx_convert_tiff_pages(file, &n)) return fail("%s is not a TIFF file", file);
    if (pages) n = atoi(pages);
    struct fx_fax f = {.pages = n, .cost_multiplier = 1};
    int64_t size;
    char sha[65];
    enum fx_err e = fx_blob_put_file(s, file, ".tiff", f.blob, sha, &size);
    if (e) return fail("cannot store %s (%s)", file, fx_err_code(e));
    fx_id_new(f.id);
    snprintf(f.file, sizeof f.file, "%s.tiff", f.id);
    fx_strlcpy(f.owner_id, uid, sizeof f.owner_id);
    fx_strlcpy(f.direction, dir, sizeof f.direction);
    fx_strlcpy(f.category, strcmp(dir, "incoming") ? "sent" : "inbox", sizeof f.category);
    fx_strlcpy(f.status, "success", sizeof f.status);
    fx_strlcpy(f.from, from, sizeof f.from);
    fx_strlcpy(f.to, to, sizeof f.to);
    snprintf(f.file_name, sizeof f.file_name, "fax-%s-%s", strcmp(dir, "incoming") ? "to" : "from",
             strcmp(dir, "incoming") ? to : from);
    fx_strlcpy(f.description, "Imported by the operator", sizeof f.description);
    f.last_update = f.start_time = f.sort_time = fx_clock_now();
    if (!strcmp(dir, "outgoing")) f.submit_time = f.start_time;
    /* Like any finished fax: webhook deliveries (and a debit, were there a cost). */
    if ((e = fx_store_fax_finish(s, &f))) return fail("cannot store the record (%s)", fx_err_code(e));
    emit("id", "s", f.id, "file", "s", f.file, "pages", "i", (int64_t)f.pages, NULL);
    return 0;
}

static enum fx_err find_demo(const struct fx_account *a, void *arg)
{
    if (!strcmp(a->email, "demo@faxd.example") && !((char *)arg)[0])
        fx_strlcpy(arg, a->uid, FX_UID_SIZE);
    return FX_OK;
}

static int demo(struct fx_store *s)
{
    char uid[FX_UID_SIZE] = "";
    const char *number = "+15550100001";
    fx_store_account_list_all(s, find_demo, uid);
    if (!uid[0]) {
        struct fx_account a = {.credit = 1000, .account_data = "{\"company_name\":\"Demo\"}"};
        fx_strlcpy(a.account_type, "individual", sizeof a.account_type);
        fx_strlcpy(a.email, "demo@faxd.example", sizeof a.email);
        fx_strlcpy(a.name, "Demo", sizeof a.name);
        struct fx_number n = {0};
        fx_strlcpy(n.number, number, sizeof n.number);
        if (fx_store_account_create(s, &a)) return fail("cannot create the demo account");
        fx_strlcpy(n.owner_id, a.uid, sizeof n.owner_id);
        if (fx_store_number_create(s, &n)) return fail("cannot add the demo number");
        fx_strlcpy(uid, a.uid, sizeof uid);
    }
    struct fx_token t = {.scopes = FX_SCOPE_READ | FX_SCOPE_EDIT};
    char token[80];
    if (make_token(s, uid, "demo", &t, token)) return fail("cannot create the demo token");
    char password[FX_ID_LEN + 1];
    fx_id_new(password);
    password[16] = 0; /* 64 random bits: plenty behind the sign-in lock-out */
    if (store_password(s, uid, password)) return fail("cannot set the demo password");
    char base[512];
    if (g_conf->public_url[0]) snprintf(base, sizeof base, "%s/v3", g_conf->public_url);
    else snprintf(base, sizeof base, "http://%s:%lld/v3", g_conf->http_address,
                  (long long)g_conf->http_port);
    char web[512];
    snprintf(web, sizeof web, "%.*s/", (int)strlen(base) - 3, base);
    emit("uid", "s", uid, "token", "s", token, "number", "s", number, "base_url", "s", base,
         "web_url", "s", web, "email", "s", "demo@faxd.example", "password", "s", password, NULL);
    return 0;
}

static enum fx_err print_blocked(const char *number, void *arg)
{
    if (json_out) {
        printf("%s", (*(int *)arg)++ ? ", " : "");
        jstr(number);
    } else {
        puts(number);
    }
    return FX_OK;
}

/* blocklist add|remove|list --account UID [--number N]: spam senders of an account. */
static int blocklist(struct fx_store *s, const char *verb, int argc, char **argv)
{
    const char *uid = opt(argc, argv, "--account"), *num = opt(argc, argv, "--number");
    struct fx_account a;
    if (!uid || fx_store_account_get(s, uid, &a)) return fail("--account UID: no such account");
    fx_store_account_clear(&a);
    if (!strcmp(verb, "list")) {
        int n = 0;
        if (json_out) printf("{\"blocked\": [");
        enum fx_err e = fx_store_block_list(s, uid, print_blocked, &n);
        if (json_out) puts("]}");
        return e ? fail("cannot list (%s)", fx_err_code(e)) : 0;
    }
    if (!num || !fx_e164_valid(num)) return fail("--number must be E.164, e.g. +12025550100");
    enum fx_err e = !strcmp(verb, "add")      ? fx_store_block_add(s, uid, num)
                    : !strcmp(verb, "remove") ? fx_store_block_remove(s, uid, num)
                                              : FX_ERR_INVALID;
    if (e == FX_ERR_INVALID) return usage(), 2;
    if (e) return fail("cannot %s %s (%s)", verb, num, fx_err_code(e));
    emit("uid", "s", uid, "number", "s", num, verb, "r", "true", NULL);
    return 0;
}

/* The state line of trunk `name` in the file faxd's SIP thread keeps current
 * ("name\tregistered\tin_use/channels\tlast_error"). */
static bool trunk_state(const char *text, const char *name, char reg[8], char chans[32],
                        char err[128])
{
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char n[64];
        if (sscanf(l, "%63[^\t]\t%7[^\t]\t%31[^\t]\t%127[^\n]", n, reg, chans, err) == 4 &&
            !strcmp(n, name))
            return true;
    }
    return false;
}

static int trunk_list(void)
{
    char path[4200], text[8192] = "";
    snprintf(path, sizeof path, "%s/trunks.state", g_conf->data_dir);
    bool running = fx_sip_state_read(path, text, sizeof text) == FX_OK;
    if (json_out) printf("{\"running\": %s, \"trunks\": [", running ? "true" : "false");
    for (int i = 0; i < g_conf->n_trunks; i++) {
        const struct fx_conf_trunk *t = &g_conf->trunks[i];
        char reg[8] = "?", chans[32] = "?", err[128] = "-";
        bool live = running && trunk_state(text, t->name, reg, chans, err);
        if (!json_out) {
            printf("%-16s %s:%lld/%s prefixes=%s t38=%s registered=%s channels=%s "
                   "last_error=%s\n", t->name, t->host, (long long)t->port, t->transport,
                   t->prefixes[0] ? t->prefixes : "*", t->t38, live ? reg : "?",
                   live ? chans : "?", live ? err : "-");
            continue;
        }
        printf("%s{\"name\": ", i ? ", " : "");
        jstr(t->name);
        printf(", \"host\": ");
        jstr(t->host);
        printf(", \"port\": %lld, \"transport\": ", (long long)t->port);
        jstr(t->transport);
        printf(", \"prefixes\": ");
        jstr(t->prefixes);
        printf(", \"t38\": ");
        jstr(t->t38);
        printf(", \"registered\": ");
        jstr(live ? reg : "unknown");
        printf(", \"channels\": ");
        jstr(live ? chans : "");
        printf(", \"last_error\": ");
        jstr(live && strcmp(err, "-") ? err : "");
        printf("}");
    }
    if (json_out) puts("]}");
    return 0;
}

static int dispatch(struct fx_store *s, int argc, char **argv)
{
    if (argc < 1) return usage(), 2;
    const char *a = argv[0], *b = argc > 1 ? argv[1] : "";
    int rest = argc - 2;
    char **r = argv + 2;
    if (!strcmp(a, "account") && !strcmp(b, "create")) return account_create(s, rest, r);
    if (!strcmp(a, "account") && !strcmp(b, "list")) return account_list(s);
    if (!strcmp(a, "account") && !strcmp(b, "show")) return account_show(s, rest, r);
    if (!strcmp(a, "token") && !strcmp(b, "create")) return token_create(s, rest, r);
    if (!strcmp(a, "token") && !strcmp(b, "list")) return token_list(s, rest, r);
    if (!strcmp(a, "token") && !strcmp(b, "revoke")) return token_revoke(s, rest, r);
    if (!strcmp(a, "number") && !strcmp(b, "add")) return number_add(s, rest, r);
    if (!strcmp(a, "password") && !strcmp(b, "set")) return password_set(s, rest, r);
    if (!strcmp(a, "credit") && !strcmp(b, "add")) return credit_add(s, rest, r);
    if (!strcmp(a, "credit") && !strcmp(b, "show")) return credit_show(s, rest, r);
    if (!strcmp(a, "fax") && !strcmp(b, "import")) return fax_import(s, rest, r);
    if (!strcmp(a, "blocklist")) return blocklist(s, b, rest, r);
    if (!strcmp(a, "demo")) return demo(s);
    if (!strcmp(a, "trunk") && !strcmp(b, "list")) return trunk_list();
    usage();
    return 2;
}

/* drain/undrain: the running faxd's drain signals (SIGUSR1/SIGUSR2), found through its
 * pid file, with no store needed: it works while the database is down too. */
static int drain(const char *data_dir, bool on)
{
    long pid = 0;
    if (fx_pidfile_holder(data_dir, &pid) != FX_OK)
        return fail("no faxd is running on %s", data_dir);
    if (kill((pid_t)pid, on ? SIGUSR1 : SIGUSR2) != 0)
        return fail("cannot signal faxd (pid %ld): %s", pid, strerror(errno));
    if (json_out) printf("{\"pid\": %ld, \"draining\": %s}\n", pid, on ? "true" : "false");
    else printf("faxd (pid %ld) %s\n", pid, on ? "draining" : "undrained");
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--json")) json_out = true;
        else if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            config = argv[++i];
        else return usage(), 2;
    }
    char why[512] = "";
    struct fx_conf *conf = NULL;
    if (fx_conf_load(config, &conf, why, sizeof why) != FX_OK)
        return fail("configuration error: %s", why);
    g_conf = conf;
    if (i + 1 == argc && (!strcmp(argv[i], "drain") || !strcmp(argv[i], "undrain"))) {
        int rc = drain(conf->data_dir, !strcmp(argv[i], "drain"));
        fx_conf_free(conf);
        return rc;
    }
    fx_log_set_level(FX_LOG_WARN);
    struct fx_store_cfg scfg = {.data_dir = conf->data_dir, .driver = conf->store_driver,
                                .pool = (int)conf->store_pool};
    struct fx_store *s = NULL;
    enum fx_err e = fx_store_open(&scfg, &s);
    if (e) {
        fx_conf_free(conf);
        return fail("cannot open the store in %s (%s)", conf->data_dir, fx_err_code(e));
    }
    int rc = dispatch(s, argc - i, argv + i);
    fx_store_close(s);
    fx_conf_free(conf);
    return rc;
}
