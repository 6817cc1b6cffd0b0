/* Unit tests for notify/ and the store's webhook deliveries: the target address check
 * (IPv4, IPv6, mapped forms, allow_private), the backoff schedule, and deliveries written
 * with the fax records that cause them, claimed with a lease, retried, listed, ended by a
 * hook's deletion, and none for spam. */
#include "notify/notify.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define SET(field, text) fx_strlcpy((field), (text), sizeof(field))

static bool allowed(const char *ip, bool allow_private)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, ip, &a->sin6_addr) != 1) abort();
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        if (inet_pton(AF_INET, ip, &a->sin_addr) != 1) abort();
    }
    return fx_notify_addr_allowed((struct sockaddr *)&ss, allow_private);
}

static void test_addresses(void)
{
    static const char *const refused[] = {
        "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.255", "0.0.0.0",
        "224.0.0.1", "239.1.1.1", "255.255.255.255", "::", "::1", "fc00::1", "fd12:3456::1",
        "fe80::1", "febf::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3",
        "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "::127.0.0.1", NULL};
    static const char *const ok[] = {"8.8.8.8", "93.184.216.34", "172.15.0.1", "172.32.0.1",
                                     "100.63.255.255", "100.128.0.1", "169.253.1.1",
                                     "2606:4700::1111", "::ffff:8.8.8.8", "2001:db8::1",
                                     NULL};
    for (int i = 0; refused[i]; i++) {
        if (allowed(refused[i], false)) fprintf(stderr, "  allowed: %s\n", refused[i]);
        CHECK(!allowed(refused[i], false));
        CHECK(allowed(refused[i], true));
    }
    for (int i = 0; ok[i]; i++) {
        if (!allowed(ok[i], false)) fprintf(stderr, "  refused: %s\n", ok[i]);
        CHECK(allowed(ok[i], false));
    }
}

static void test_backoff(void)
{
    CHECK(fx_notify_backoff(30, 1) == 30);
    CHECK(fx_notify_backoff(30, 2) == 60);
    CHECK(fx_notify_backoff(30, 3) == 120);
    CHECK(fx_notify_backoff(30, 7) == 1920);
    CHECK(fx_notify_backoff(30, 8) == 3600);
    CHECK(fx_notify_backoff(30, 1000) == 3600);
    CHECK(fx_notify_backoff(1, 1) == 1);
}

struct collect {
    int n;
    struct fx_delivery d[8];
};

static enum fx_err collect(const struct fx_delivery *d, void *arg)
{
    struct collect *c = arg;
    if (c->n < 8) c->d[c->n] = *d;
    c->n++;
    return FX_OK;
}

static void test_store_deliveries(void)
{
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/test_notify_XXXXXX");
    if (!mkdtemp(dir)) abort();
    struct fx_store_cfg cfg = {.data_dir = dir, .driver = "sqlite"};
    struct fx_store *s = NULL;
    CHECK(fx_store_open(&cfg, &s) == FX_OK);
    if (!s) return;
    struct fx_account a = {0}, other = {0};
    SET(a.account_type, "individual");
    SET(other.account_type, "individual");
    CHECK(fx_store_account_create(s, &a) == FX_OK);
    CHECK(fx_store_account_create(s, &other) == FX_OK);
    char sec1[FX_WEBHOOK_SECRET_SIZE], sec2[FX_WEBHOOK_SECRET_SIZE];
    CHECK(fx_store_account_webhook_secret(s, a.uid, sec1) == FX_OK);
    CHECK(fx_store_account_webhook_secret(s, a.uid, sec2) == FX_OK);
    CHECK(strlen(sec1) == 70 && !strncmp(sec1, "whsec_", 6));
    CHECK_STR(sec1, sec2);
    CHECK(fx_store_account_webhook_secret(s, "0123", sec2) == FX_ERR_NOT_FOUND);

    struct fx_hook h1 = {0}, h2 = {0}, hr = {0}, ho = {0};
    SET(h1.uid, a.uid), SET(h1.event, "fax_sent"), SET(h1.target, "http://a.example/1");
    SET(h2.uid, a.uid), SET(h2.event, "fax_sent"), SET(h2.target, "http://a.example/2");
    SET(hr.uid, a.uid), SET(hr.event, "fax_received"), SET(hr.target, "http://a.example/r");
    SET(ho.uid, other.uid), SET(ho.event, "fax_sent"), SET(ho.target, "http://o.example/");
    CHECK(fx_store_hook_create(s, &h1) == FX_OK);
    CHECK(fx_store_hook_create(s, &h2) == FX_OK);
    CHECK(fx_store_hook_create(s, &hr) == FX_OK);
    CHECK(fx_store_hook_create(s, &ho) == FX_OK);

    /* A send whose only destination is refused at submit: its final record fires
     * fax_sent to both of a's sent hooks, in the same transaction. */
    struct fx_outbox o = {0};
    SET(o.uid, a.uid);
    SET(o.status, "submitted");
    struct fx_dest dest = {0};
    fx_id_new(dest.fax_id);
    SET(dest.raw, "12");
    struct fx_fax f = {0};
    SET(f.id, dest.fax_id), SET(f.owner_id, a.uid), SET(f.direction, "outgoing");
    SET(f.category, "sent"), SET(f.status, "failed_invalid_number_format");
    CHECK(fx_store_outbox_create(s, &o, NULL, 0, &dest, 1, &f, 1) == FX_OK);
    struct collect c1 = {0}, c2 = {0}, cr = {0}, co = {0};
    CHECK(fx_store_delivery_list(s, h1.id, 100, collect, &c1) == FX_OK);
    CHECK(fx_store_delivery_list(s, h2.id, 100, collect, &c2) == FX_OK);
    CHECK(fx_store_delivery_list(s, hr.id, 100, collect, &cr) == FX_OK);
    CHECK(fx_store_delivery_list(s, ho.id, 100, collect, &co) == FX_OK);
    CHECK(c1.n == 1 && c2.n == 1 && cr.n == 0 && co.n == 0);
    CHECK_STR(c1.d[0].fax_id, f.id);
    CHECK_STR(c1.d[0].event, "fax_sent");
    CHECK_STR(c1.d[0].state, "pending");
    CHECK_STR(c1.d[0].target, "http://a.example/1");

    /* Inbound: spam raises nothing, a normal fax one fax_received. */
    struct fx_attempt at = {0};
    struct fx_fax in = {0};
    fx_id_new(in.id);
    SET(in.owner_id, a.uid), SET(in.direction, "incoming"), SET(in.category, "spam");
    SET(in.status, "success");
    in.is_spam = true;
    SET(at.fax_id, in.id), SET(at.direction, "incoming");
    CHECK(fx_store_fax_received(s, &at, &in) == FX_OK);
    fx_id_new(in.id);
    SET(in.category, "inbox");
    in.is_spam = false;
    SET(at.fax_id, in.id);
    CHECK(fx_store_fax_received(s, &at, &in) == FX_OK);
    cr.n = 0;
    CHECK(fx_store_delivery_list(s, hr.id, 100, collect, &cr) == FX_OK);
    CHECK(cr.n == 1);
    CHECK_STR(cr.d[0].fax_id, in.id);

    /* Claims: three due, each once while leased; a retry is due again only later. */
    int64_t now = fx_clock_now() + 1;
    struct fx_delivery d1, d2, d3, d4;
    CHECK(fx_store_delivery_claim(s, "w1", now, 60, &d1) == FX_OK);
    CHECK(fx_store_delivery_claim(s, "w1", now, 60, &d2) == FX_OK);
    CHECK(fx_store_delivery_claim(s, "w2", now, 60, &d3) == FX_OK);
    CHECK(fx_store_delivery_claim(s, "w2", now, 60, &d4) == FX_ERR_NOT_FOUND);
    CHECK(strcmp(d1.id, d2.id) && strcmp(d2.id, d3.id) && strcmp(d1.id, d3.id));
    CHECK(fx_store_delivery_attempted(s, d1.id, "other", "done", 200, NULL, now, now) ==
          FX_ERR_NOT_FOUND);
    CHECK(fx_store_delivery_attempted(s, d1.id, "w1", "pending", 500, "HTTP 500", now,
                                      now + 30) == FX_OK);
    CHECK(fx_store_delivery_claim(s, "w2", now + 29, 60, &d4) == FX_ERR_NOT_FOUND);
    CHECK(fx_store_delivery_claim(s, "w2", now + 30, 60, &d4) == FX_OK);
    CHECK_STR(d4.id, d1.id);
    CHECK(d4.attempts == 1 && d4.last_status == 500);
    CHECK_STR(d4.last_error, "HTTP 500");
    CHECK(fx_store_delivery_attempted(s, d4.id, "w2", "done", 204, NULL, now + 31, now + 31) ==
          FX_OK);
    /* A dead worker's leases are released at start-up. */
    CHECK(fx_store_delivery_release_leases(s) == FX_OK);
    struct fx_delivery d5, d6;
    CHECK(fx_store_delivery_claim(s, "w3", now, 60, &d5) == FX_OK);
    CHECK(fx_store_delivery_claim(s, "w3", now, 60, &d6) == FX_OK);
    /* Deleting a hook ends its pending deliveries. Delivery ids are random, so which
     * hook's delivery was claimed first (and is now done) varies: delete the other. */
    const char *pending_hook = strcmp(d4.hook_id, h1.id) == 0 ? h2.id : h1.id;
    CHECK(fx_store_hook_delete(s, pending_hook) == FX_OK);
    c2.n = 0;
    CHECK(fx_store_delivery_list(s, pending_hook, 100, collect, &c2) == FX_OK);
    CHECK(c2.n == 1);
    CHECK_STR(c2.d[0].state, "failed");
    CHECK_STR(c2.d[0].last_error, "hook deleted");
    c1.n = 0;
    CHECK(fx_store_delivery_list(s, d4.hook_id, 100, collect, &c1) == FX_OK);
    CHECK(c1.n == 1);
    CHECK_STR(c1.d[0].state, "done");
    CHECK(c1.d[0].attempts == 2 && c1.d[0].last_status == 204 && c1.d[0].delivered == now + 31);

    fx_store_outbox_clear(&o);
    fx_store_account_clear(&a);
    fx_store_account_clear(&other);
    fx_store_close(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "  cannot remove %s\n", dir);
}

int main(void)
{
    fx_log_set_level(FX_LOG_ERROR);
    test_addresses();
    test_backoff();
    test_store_deliveries();
    return fx_check_result("test_notify");
}
