/* Unit tests for the JSON models of api/json.c (Account, Number, Fax, Outbox, Webhook),
 * fx_json_parse_stored, fx_json_dump, fx_str_in and the typed request-body readers.
 * The rules under test are the SDKs': required fields present and never null, optional
 * objects omitted rather than sent empty, times in the API's formats.
 */
#include "api/api_priv.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check.h"

#define SET(field, text) fx_strlcpy((field), (text), sizeof(field))

/* ---- helpers ---- */

/* True when s matches \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} and then exactly `tail`. */
static bool is_time(const char *s, const char *tail)
{
    static const char pat[] = "dddd-dd-dd dd:dd:dd";
    if (!s) return false;
    for (size_t i = 0; i < sizeof pat - 1; i++) {
        if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i]) return false;
    }
    return strcmp(s + sizeof pat - 1, tail) == 0;
}

static const char *str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool has(const json_t *o, const char *key)
{
    return json_object_get(o, key) != NULL;
}

/* Every value of the object is non-null (no field is ever sent as null). */
static bool no_nulls(const json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (json_is_null(v)) {
            fprintf(stderr, "  %s is null\n", k);
            return false;
        }
    }
    return true;
}

/* A compact dump of j, for whole-document comparisons (keys sorted). */
static char *dump_sorted(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* ---- Account ---- */

static void test_account(void)
{
    /* An empty record: every required field is still a string. */
    struct fx_account a;
    memset(&a, 0, sizeof a);
    json_t *j = fx_json_account(&a);
    CHECK(json_is_object(j));
    static const char *const required[] = {"uid", "account_type", "status", "email",
                                           "creation_date"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        CHECK(json_is_string(json_object_get(j, required[i])));
    CHECK(is_time(str_of(j, "creation_date"), ""));
    CHECK_STR(str_of(j, "creation_date"), "1970-01-01 00:00:00");
    CHECK_STR(str_of(j, "uid"), "");
    CHECK(json_is_array(json_object_get(j, "member_of")));
    CHECK(json_array_size(json_object_get(j, "member_of")) == 0);
    CHECK(!has(j, "notifications")); /* NULL text */
    CHECK(!has(j, "phone"));
    CHECK(json_is_object(json_object_get(j, "account_data")));
    CHECK(json_object_size(json_object_get(j, "account_data")) == 0);
    CHECK(json_is_object(json_object_get(j, "settings")));
    CHECK(json_object_size(json_object_get(j, "settings")) == 0);
    CHECK(json_is_string(json_object_get(j, "name")));
    CHECK(json_is_string(json_object_get(j, "lastname")));
    CHECK(json_is_string(json_object_get(j, "profile_image")));
    CHECK(no_nulls(j));
    json_decref(j);

    /* A full individual account. */
    SET(a.uid, "0123456789abcdef0123456789abcdef");
    SET(a.account_type, "individual");
    SET(a.status, "active");
    SET(a.email, "ada@example.com");
    SET(a.name, "Ada");
    SET(a.lastname, "Lovelace");
    SET(a.profile_image, "https://example.com/a.png");
    a.created = 1767254400;
    a.account_data = "{\"company\":\"ACME\"}";
    a.settings = "{\"caller_id_name\":\"ACME\"}";
    a.notifications = "";
    j = fx_json_account(&a);
    CHECK_STR(str_of(j, "uid"), "0123456789abcdef0123456789abcdef");
    CHECK_STR(str_of(j, "account_type"), "individual");
    CHECK_STR(str_of(j, "status"), "active");
    CHECK_STR(str_of(j, "email"), "ada@example.com");
    CHECK_STR(str_of(j, "name"), "Ada");
    CHECK_STR(str_of(j, "lastname"), "Lovelace");
    CHECK_STR(str_of(j, "profile_image"), "https://example.com/a.png");
    CHECK_STR(str_of(j, "creation_date"), "2026-01-01 08:00:00");
    CHECK(is_time(str_of(j, "creation_date"), ""));
    CHECK(json_array_size(json_object_get(j, "member_of")) == 0);
    CHECK(!has(j, "notifications")); /* "" = never set */
    CHECK(!has(j, "phone"));
    CHECK_STR(str_of(json_object_get(j, "account_data"), "company"), "ACME");
    CHECK(!has(json_object_get(j, "account_data"), "role")); /* no role */
    CHECK_STR(str_of(json_object_get(j, "settings"), "caller_id_name"), "ACME");
    CHECK(no_nulls(j));
    json_decref(j);

    /* A member: member_of holds the admin; role goes into account_data; phone and
     * notifications appear once set. */
    SET(a.account_type, "corporate_member");
    SET(a.admin_uid, "fedcba9876543210fedcba9876543210");
    SET(a.role, "accounting");
    SET(a.phone, "+12025550100");
    a.notifications = "{\"types\":{\"fax_received\":true}}";
    j = fx_json_account(&a);
    json_t *mo = json_object_get(j, "member_of");
    CHECK(json_is_array(mo) && json_array_size(mo) == 1);
    CHECK_STR(json_string_value(json_array_get(mo, 0)), "fedcba9876543210fedcba9876543210");
    CHECK_STR(str_of(json_object_get(j, "account_data"), "role"), "accounting");
    CHECK_STR(str_of(json_object_get(j, "account_data"), "company"), "ACME");
    CHECK_STR(str_of(j, "phone"), "+12025550100");
    json_t *nt = json_object_get(j, "notifications");
    CHECK(json_is_object(nt));
    CHECK(json_is_true(json_object_get(json_object_get(nt, "types"), "fax_received")));
    CHECK(no_nulls(j));
    json_decref(j);

    /* Garbage stored text becomes empty objects, never null or absent. */
    memset(&a, 0, sizeof a);
    a.account_data = "not json";
    a.settings = "[1,2]";
    a.notifications = "{broken";
    SET(a.role, "r");
    j = fx_json_account(&a);
    CHECK(json_is_object(json_object_get(j, "account_data")));
    CHECK(json_object_size(json_object_get(j, "account_data")) == 1); /* just role */
    CHECK(json_is_object(json_object_get(j, "settings")));
    CHECK(json_object_size(json_object_get(j, "settings")) == 0);
    CHECK(json_is_object(json_object_get(j, "notifications")));
    CHECK(no_nulls(j));
    json_decref(j);
}

/* ---- Number ---- */

static void test_number(void)
{
    struct fx_number n;
    memset(&n, 0, sizeof n);
    SET(n.id, "0123456789abcdef0123456789abcdef");
    SET(n.number, "+12025550100");
    SET(n.owner_id, "fedcba9876543210fedcba9876543210");
    SET(n.status, "active");
    n.assigned_to = "[]";
    n.acquired = 1767254400;
    n.notifications = "[]";
    json_t *j = fx_json_number(&n);
    CHECK_STR(str_of(j, "id"), "0123456789abcdef0123456789abcdef");
    CHECK_STR(str_of(j, "number"), "+12025550100");
    CHECK_STR(str_of(j, "owner_id"), "fedcba9876543210fedcba9876543210");
    CHECK_STR(str_of(j, "status"), "active");
    CHECK_STR(str_of(j, "acquired_date"), "2026-01-01 08:00:00");
    CHECK(json_is_array(json_object_get(j, "assigned_to")));
    CHECK(json_array_size(json_object_get(j, "assigned_to")) == 0);
    CHECK(!has(j, "expiration_date"));
    CHECK(json_is_false(json_object_get(j, "is_canceled")));
    CHECK(json_is_array(json_object_get(j, "notifications")));
    CHECK(no_nulls(j));
    json_decref(j);

    /* Garbage or the wrong kind of JSON in assigned_to → []. */
    static const char *const junk[] = {"garbage", "{\"a\":1}", "", "\"x\"", "42", NULL};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        n.assigned_to = (char *)junk[i];
        n.notifications = (char *)junk[i];
        j = fx_json_number(&n);
        json_t *at = json_object_get(j, "assigned_to");
        CHECK(json_is_array(at) && json_array_size(at) == 0);
        CHECK(json_is_array(json_object_get(j, "notifications")));
        CHECK(no_nulls(j));
        json_decref(j);
    }

    n.assigned_to = "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"]";
    n.notifications = "[{\"type\":\"email\"}]";
    n.expires = 1767254400 + 86400;
    n.is_canceled = true;
    j = fx_json_number(&n);
    json_t *at = json_object_get(j, "assigned_to");
    CHECK(json_array_size(at) == 2);
    CHECK_STR(json_string_value(json_array_get(at, 1)), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    CHECK_STR(str_of(j, "expiration_date"), "2026-01-02 08:00:00");
    CHECK(is_time(str_of(j, "expiration_date"), ""));
    CHECK(json_is_true(json_object_get(j, "is_canceled")));
    CHECK(json_array_size(json_object_get(j, "notifications")) == 1);
    json_decref(j);
}

/* ---- Fax ---- */

static void test_fax(void)
{
    struct fx_fax f;
    memset(&f, 0, sizeof f);
    SET(f.id, "0123456789abcdef0123456789abcdef");
    SET(f.owner_id, "fedcba9876543210fedcba9876543210");
    SET(f.direction, "outgoing");
    SET(f.category, "sent");
    SET(f.status, "success");
    f.pages = 3;
    f.cost = 6;
    f.cost_multiplier = 2;
    SET(f.description, "Delivered");
    f.duration = 61;
    SET(f.file_name, "fax-to-+12025550100");
    SET(f.from, "+15550001111");
    SET(f.to, "+12025550100");
    SET(f.header, "ACME");
    f.last_update = 1767254400;
    f.submit_time = 1767254000;
    f.max_retry = 2;
    f.retry_delay = 10;
    f.cover_page = "";
    json_t *j = fx_json_fax(&f);
    CHECK_STR(str_of(j, "id"), "0123456789abcdef0123456789abcdef");
    CHECK_STR(str_of(j, "owner_id"), "fedcba9876543210fedcba9876543210");
    CHECK_STR(str_of(j, "status"), "success");
    CHECK(json_is_integer(json_object_get(j, "pages")));
    CHECK(json_integer_value(json_object_get(j, "pages")) == 3);
    CHECK(json_is_string(json_object_get(j, "comment")));
    CHECK_STR(str_of(j, "comment"), ""); /* NULL comment → "" */
    json_t *cd = json_object_get(j, "cost_details");
    CHECK(json_is_object(cd));
    CHECK(json_number_value(json_object_get(cd, "multiplier")) == 2.0);
    CHECK(json_is_number(json_object_get(cd, "notification_cost")));
    CHECK(json_integer_value(json_object_get(j, "cost")) == 6);
    CHECK_STR(str_of(j, "from"), "+15550001111");
    CHECK_STR(str_of(j, "from_number"), "+15550001111");
    CHECK_STR(str_of(j, "to"), "+12025550100");
    CHECK_STR(str_of(j, "direction"), "outgoing");
    CHECK_STR(str_of(j, "description"), "Delivered");
    CHECK_STR(str_of(j, "header"), "ACME");
    CHECK_STR(str_of(j, "file_name"), "fax-to-+12025550100");
    CHECK(json_integer_value(json_object_get(j, "duration")) == 61);
    CHECK(json_is_false(json_object_get(j, "is_read")));
    CHECK(json_is_false(json_object_get(j, "is_spam")));
    CHECK_STR(str_of(j, "last_update"), "2026-01-01 08:00:00");
    CHECK_STR(str_of(j, "submit_time"), "2026-01-01 07:53:20"); /* outgoing: present */
    CHECK(is_time(str_of(j, "submit_time"), ""));
    CHECK(!has(j, "scheduled_time"));
    CHECK(!has(j, "start_time"));
    CHECK(!has(j, "cover_page")); /* "" */
    CHECK(!has(j, "file"));       /* empty */
    CHECK(json_integer_value(json_object_get(j, "max_retry")) == 2);
    CHECK(json_integer_value(json_object_get(j, "retry_delay")) == 10);
    CHECK(no_nulls(j));
    json_decref(j);

    /* NULL cover page is omitted too. */
    f.cover_page = NULL;
    j = fx_json_fax(&f);
    CHECK(!has(j, "cover_page"));
    json_decref(j);

    /* Incoming with a file, a comment, a cover page and the optional times. */
    SET(f.direction, "incoming");
    SET(f.category, "inbox");
    SET(f.file, "0123456789abcdef0123456789abcdef.tiff");
    f.comment = "for the files";
    f.cover_page = "{\"name_to\":\"Bob\"}";
    f.scheduled_time = 1767254100;
    f.start_time = 1767254200;
    f.is_read = true;
    f.is_spam = true;
    f.cost_multiplier = 1.25;
    j = fx_json_fax(&f);
    CHECK(!has(j, "submit_time")); /* only for outgoing */
    CHECK_STR(str_of(j, "file"), "0123456789abcdef0123456789abcdef.tiff");
    CHECK_STR(str_of(j, "comment"), "for the files");
    json_t *cp = json_object_get(j, "cover_page");
    CHECK(json_is_object(cp));
    CHECK_STR(str_of(cp, "name_to"), "Bob");
    CHECK_STR(str_of(j, "scheduled_time"), "2026-01-01 07:55:00");
    CHECK_STR(str_of(j, "start_time"), "2026-01-01 07:56:40");
    CHECK(json_is_true(json_object_get(j, "is_read")));
    CHECK(json_is_true(json_object_get(j, "is_spam")));
    CHECK(json_number_value(json_object_get(json_object_get(j, "cost_details"), "multiplier")) ==
          1.25);
    CHECK(no_nulls(j));
    json_decref(j);

    /* A garbage cover page still gives an object. */
    f.cover_page = "{oops";
    j = fx_json_fax(&f);
    CHECK(json_is_object(json_object_get(j, "cover_page")));
    json_decref(j);

    /* Outgoing without submit_time: omitted rather than 1970. */
    SET(f.direction, "outgoing");
    f.submit_time = 0;
    j = fx_json_fax(&f);
    CHECK(!has(j, "submit_time"));
    json_decref(j);

    /* Required string fields must survive text that is not valid UTF-8 (e.g. a raw
     * destination cut at a byte limit in the middle of a character). */
    SET(f.to, "caf\xc3");
    f.comment = "bad \xff byte";
    j = fx_json_fax(&f);
    CHECK(json_is_string(json_object_get(j, "to")));
    CHECK(json_is_string(json_object_get(j, "comment")));
    json_decref(j);
}

/* ---- Outbox ---- */

static void test_outbox(void)
{
    struct fx_outbox o;
    memset(&o, 0, sizeof o);
    SET(o.id, "0123456789abcdef0123456789abcdef");
    SET(o.uid, "fedcba9876543210fedcba9876543210");
    SET(o.status, "submitted");
    SET(o.src, "+15550001111");
    SET(o.ip, "192.0.2.1");
    o.files = "[\"/transient-0123456789abcdef0123456789abcdef\"]";
    o.comment = "{\"text\":\"hi\",\"tags\":[]}";
    o.options = "{\"enhancement\":true}";
    o.retry_count = 2;
    o.retry_delay = 15;
    o.submit_time = 1767254400;
    o.status_time = 1767254460;
    o.status_changes = "[{\"at\":\"2026-01-01 08:00:00\",\"status\":\"submitted\"}]";
    o.file_changes = "[]";
    o.page_count = 4;
    o.initiated_from = "";
    o.cover_page = "";
    o.should_enhance = true;
    o.dests = "[\"+12025550100\",\"+4930123456\"]";
    json_t *j = fx_json_outbox(&o);
    CHECK_STR(str_of(j, "id"), "0123456789abcdef0123456789abcdef");
    CHECK_STR(str_of(j, "uid"), "fedcba9876543210fedcba9876543210");
    CHECK_STR(str_of(j, "status"), "submitted");
    CHECK_STR(str_of(j, "src"), "+15550001111");
    CHECK_STR(str_of(j, "designated_src"), "");
    CHECK_STR(str_of(j, "ip"), "192.0.2.1");
    json_t *to = json_object_get(j, "to");
    CHECK(json_is_array(to) && json_array_size(to) == 2);
    CHECK_STR(json_string_value(json_array_get(to, 0)), "+12025550100");
    json_t *files = json_object_get(j, "files");
    CHECK(json_is_array(files) && json_array_size(files) == 1);
    CHECK_STR(json_string_value(json_array_get(files, 0)),
              "/transient-0123456789abcdef0123456789abcdef");
    CHECK_STR(str_of(json_object_get(j, "comment"), "text"), "hi");
    CHECK(json_is_true(json_object_get(json_object_get(j, "options"), "enhancement")));
    json_t *retry = json_object_get(j, "retry");
    CHECK(json_is_object(retry));
    CHECK(json_object_size(retry) == 2);
    CHECK(json_integer_value(json_object_get(retry, "count")) == 2);
    CHECK(json_integer_value(json_object_get(retry, "delay")) == 15);
    const char *st = str_of(j, "submit_time");
    CHECK_STR(st, "2026-01-01 08:00:00 +0000");
    CHECK(is_time(st, " +0000"));
    CHECK(!has(j, "send_time")); /* 0 = as soon as possible */
    CHECK_STR(str_of(j, "last_updated_status_time"), "2026-01-01 08:01:00");
    CHECK(json_array_size(json_object_get(j, "status_changes")) == 1);
    CHECK(json_is_array(json_object_get(j, "file_changes")));
    CHECK(!has(j, "initiated_from"));
    CHECK(!has(j, "cover_page"));
    CHECK(json_integer_value(json_object_get(j, "page_count")) == 4);
    CHECK(json_is_true(json_object_get(j, "should_enhance")));
    CHECK(no_nulls(j));
    json_decref(j);

    /* send_time, cover page and initiated_from when set. */
    o.send_time = 1767258000;
    o.cover_page = "{\"name_to\":\"Bob\",\"subject\":\"Hi\"}";
    o.initiated_from = "{\"type\":\"api\",\"from_id\":\"x\"}";
    o.should_enhance = false;
    j = fx_json_outbox(&o);
    CHECK_STR(str_of(j, "send_time"), "2026-01-01 09:00:00 +0000");
    CHECK(is_time(str_of(j, "send_time"), " +0000"));
    json_t *cp = json_object_get(j, "cover_page");
    CHECK(json_is_object(cp) && json_object_size(cp) == 2);
    CHECK_STR(str_of(cp, "subject"), "Hi");
    CHECK_STR(str_of(json_object_get(j, "initiated_from"), "type"), "api");
    CHECK(json_is_false(json_object_get(j, "should_enhance")));
    json_decref(j);

    /* NULL and garbage stored text: required arrays and objects stay the right kind. */
    struct fx_outbox e;
    memset(&e, 0, sizeof e);
    e.files = "garbage";
    e.dests = "{\"not\":\"an array\"}";
    e.comment = "[1]";
    j = fx_json_outbox(&e);
    CHECK(json_is_array(json_object_get(j, "to")) && json_array_size(json_object_get(j, "to")) == 0);
    CHECK(json_is_array(json_object_get(j, "files")));
    CHECK(json_array_size(json_object_get(j, "files")) == 0);
    CHECK(json_is_object(json_object_get(j, "comment")));
    CHECK(json_object_size(json_object_get(j, "comment")) == 0);
    CHECK(json_is_object(json_object_get(j, "options")));
    CHECK(json_is_array(json_object_get(j, "status_changes")));
    CHECK(json_is_array(json_object_get(j, "file_changes")));
    CHECK_STR(str_of(j, "id"), "");
    CHECK_STR(str_of(j, "uid"), "");
    CHECK_STR(str_of(j, "status"), "");
    CHECK_STR(str_of(j, "submit_time"), "1970-01-01 00:00:00 +0000");
    CHECK(!has(j, "cover_page"));
    CHECK(!has(j, "initiated_from"));
    CHECK(no_nulls(j));
    json_decref(j);
}

/* ---- Webhook ---- */

static void test_hook(void)
{
    struct fx_hook h;
    memset(&h, 0, sizeof h);
    SET(h.id, "0123456789abcdef0123456789abcdef");
    SET(h.uid, "fedcba9876543210fedcba9876543210");
    SET(h.target, "https://example.com/hook?x=1");
    SET(h.event, "fax_received");
    h.created = 5;
    json_t *j = fx_json_hook(&h);
    char *s = dump_sorted(j);
    CHECK_STR(s, "{\"event\":\"fax_received\",\"id\":\"0123456789abcdef0123456789abcdef\","
                 "\"target\":\"https://example.com/hook?x=1\"}");
    free(s);
    json_decref(j);
}

/* ---- stored text, dump, fx_str_in ---- */

static void test_parse_stored(void)
{
    static const struct {
        const char *text;
        bool array;
        const char *want; /* sorted compact dump */
    } cases[] = {
        {NULL, false, "{}"},
        {NULL, true, "[]"},
        {"", false, "{}"},
        {"", true, "[]"},
        {"garbage", false, "{}"},
        {"garbage", true, "[]"},
        {"{\"a\":", false, "{}"},
        {"[1,", true, "[]"},
        {"[1,2]", false, "{}"}, /* wrong kind */
        {"{\"a\":1}", true, "[]"},
        {"42", false, "{}"},
        {"\"s\"", true, "[]"},
        {"null", false, "{}"},
        {"null", true, "[]"},
        {"true", true, "[]"},
        {"{\"b\":2,\"a\":[1]}", false, "{\"a\":[1],\"b\":2}"},
        {"[1,\"x\",{}]", true, "[1,\"x\",{}]"},
        {"  {\"a\":1}  ", false, "{\"a\":1}"},
        {"{\"a\":1} trailing", false, "{}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *j = fx_json_parse_stored(cases[i].text, cases[i].array);
        CHECK(j != NULL);
        CHECK(cases[i].array ? json_is_array(j) : json_is_object(j));
        char *s = dump_sorted(j);
        CHECK_STR(s, cases[i].want);
        free(s);
        json_decref(j);
    }

    /* fx_json_dump is compact. */
    json_t *j = json_pack("{s:i,s:[s,b],s:n}", "n", 1, "a", "x", 1, "z");
    char *s = fx_json_dump(j);
    CHECK(s != NULL && strchr(s, ' ') == NULL && strchr(s, '\n') == NULL);
    json_t *back = s ? json_loads(s, 0, NULL) : NULL;
    CHECK(json_equal(back, j));
    json_decref(back);
    free(s);
    json_decref(j);
    j = json_string("bare");
    s = fx_json_dump(j); /* any value, not only containers */
    CHECK_STR(s, "\"bare\"");
    free(s);
    json_decref(j);

    static const char *const list[] = {"inbox", "sent", "spam", NULL};
    CHECK(fx_str_in("inbox", list));
    CHECK(fx_str_in("spam", list));
    CHECK(!fx_str_in("Inbox", list));
    CHECK(!fx_str_in("", list));
    CHECK(!fx_str_in(NULL, list));
    static const char *const empty[] = {NULL};
    CHECK(!fx_str_in("inbox", empty));
}

/* ---- request-body readers ---- */

static void test_readers(void)
{
    struct fx_req r;
    memset(&r, 0, sizeof r);
    json_error_t err;
    json_t *o = json_loads("{\"n\":5,\"lo\":-3,\"hi\":10,\"s\":\"x\",\"big\":1000,\"nul\":null,"
                           "\"f\":1.5,\"b\":true,\"bf\":false,\"arr\":[1],\"huge\":"
                           "9223372036854775807}",
                           0, &err);
    CHECK(o != NULL);

    int64_t v = -99;
    bool present = false;
    CHECK(fx_json_get_int(&r, o, "n", 0, 10, &v, &present) == FX_OK);
    CHECK(present && v == 5);
    CHECK(r.why[0] == 0);
    CHECK(fx_json_get_int(&r, o, "hi", 0, 10, &v, &present) == FX_OK); /* bounds inclusive */
    CHECK(present && v == 10);
    CHECK(fx_json_get_int(&r, o, "lo", -3, 10, &v, &present) == FX_OK);
    CHECK(present && v == -3);
    CHECK(fx_json_get_int(&r, o, "huge", 0, INT64_MAX, &v, &present) == FX_OK);
    CHECK(v == INT64_MAX);

    /* Out of range. */
    v = -99;
    CHECK(fx_json_get_int(&r, o, "big", 0, 720, &v, &present) == FX_ERR_INVALID);
    CHECK_STR(r.why, "big must be between 0 and 720");
    CHECK(present);
    CHECK(v == -99); /* not written */
    memset(r.why, 0, sizeof r.why);
    CHECK(fx_json_get_int(&r, o, "lo", 0, 3, &v, &present) == FX_ERR_INVALID);
    CHECK_STR(r.why, "lo must be between 0 and 3");
    CHECK(fx_json_get_int(&r, o, "hi", 0, 9, &v, &present) == FX_ERR_INVALID);
    CHECK_STR(r.why, "hi must be between 0 and 9");

    /* Wrong types. */
    CHECK(fx_json_get_int(&r, o, "s", 0, 10, &v, &present) == FX_ERR_INVALID);
    CHECK_STR(r.why, "s must be an integer");
    CHECK(fx_json_get_int(&r, o, "f", 0, 10, &v, &present) == FX_ERR_INVALID);
    CHECK_STR(r.why, "f must be an integer");
    CHECK(fx_json_get_int(&r, o, "b", 0, 10, &v, &present) == FX_ERR_INVALID);
    CHECK_STR(r.why, "b must be an integer");
    CHECK(fx_json_get_int(&r, o, "arr", 0, 10, &v, &present) == FX_ERR_INVALID);
    CHECK_STR(r.why, "arr must be an integer");
    CHECK(v == -99);

    /* Absent and null: not present, no error, nothing written. */
    memset(r.why, 0, sizeof r.why);
    present = true;
    CHECK(fx_json_get_int(&r, o, "zz", 0, 10, &v, &present) == FX_OK);
    CHECK(!present);
    CHECK(v == -99);
    present = true;
    CHECK(fx_json_get_int(&r, o, "nul", 0, 10, &v, &present) == FX_OK);
    CHECK(!present);
    CHECK(r.why[0] == 0);

    /* Strings. */
    const char *sv = NULL;
    CHECK(fx_json_get_str(&r, o, "s", &sv, &present) == FX_OK);
    CHECK(present);
    CHECK_STR(sv, "x");
    sv = "unchanged";
    CHECK(fx_json_get_str(&r, o, "n", &sv, &present) == FX_ERR_INVALID);
    CHECK_STR(r.why, "n must be a string");
    CHECK_STR(sv, "unchanged");
    memset(r.why, 0, sizeof r.why);
    CHECK(fx_json_get_str(&r, o, "zz", &sv, &present) == FX_OK);
    CHECK(!present);
    CHECK(fx_json_get_str(&r, o, "nul", &sv, &present) == FX_OK);
    CHECK(!present);
    CHECK(r.why[0] == 0);

    /* Booleans. */
    bool bv = false;
    CHECK(fx_json_get_bool(&r, o, "b", &bv, &present) == FX_OK);
    CHECK(present && bv);
    CHECK(fx_json_get_bool(&r, o, "bf", &bv, &present) == FX_OK);
    CHECK(present && !bv);
    CHECK(fx_json_get_bool(&r, o, "n", &bv, &present) == FX_ERR_INVALID);
    CHECK_STR(r.why, "n must be a boolean");
    CHECK(fx_json_get_bool(&r, o, "s", &bv, &present) == FX_ERR_INVALID);
    CHECK_STR(r.why, "s must be a boolean");
    memset(r.why, 0, sizeof r.why);
    present = true;
    CHECK(fx_json_get_bool(&r, o, "zz", &bv, &present) == FX_OK);
    CHECK(!present);
    CHECK(r.why[0] == 0);

    json_decref(o);
}

int main(void)
{
    test_account();
    test_number();
    test_fax();
    test_outbox();
    test_hook();
    test_parse_stored();
    test_readers();
    return fx_check_result("test_json");
}
