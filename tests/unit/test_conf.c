/* Unit tests for conf/: defaults, INI parsing, every kind of error message, FAXD_*
 * environment overrides, size suffixes, the dump → load round trip, and that the
 * sample conf/faxd.conf documents every option with its default. */
#include "conf/conf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* Every variable fx_conf_load reads, so a developer's own FAXD_* settings cannot leak
 * into the results, and each gets a non-default value in test_env_names. */
static const struct {
    const char *var, *value, *dump_line;
} env_cases[] = {
    {"FAXD_GENERAL_DATA_DIR", "/srv/fax", "data_dir = \"/srv/fax\"\n"},
    {"FAXD_GENERAL_LOG_LEVEL", "debug", "log_level = \"debug\"\n"},
    {"FAXD_GENERAL_DEFAULT_COUNTRY_CODE", "49", "default_country_code = \"49\"\n"},
    {"FAXD_HTTP_ADDRESS", "0.0.0.0", "address = \"0.0.0.0\"\n"},
    {"FAXD_HTTP_PORT", "9090", "port = 9090\n"},
    {"FAXD_HTTP_THREADS", "8", "threads = 8\n"},
    {"FAXD_HTTP_MAX_BODY_BYTES", "2M", "max_body_bytes = 2097152\n"},
    {"FAXD_HTTP_MAX_HEADER_BYTES", "8K", "max_header_bytes = 8192\n"},
    {"FAXD_HTTP_CONNECTION_TIMEOUT", "60", "connection_timeout = 60\n"},
    {"FAXD_HTTP_RATE_LIMIT", "5", "rate_limit = 5\n"},
    {"FAXD_HTTP_PUBLIC_URL", "https://fax.example.com",
     "public_url = \"https://fax.example.com\"\n"},
    {"FAXD_STORE_DRIVER", "sqlite", "driver = \"sqlite\"\n"},
    {"FAXD_FAX_MAX_FILES", "3", "max_files = 3\n"},
    {"FAXD_FAX_MAX_BYTES", "1G", "max_bytes = 1073741824\n"},
    {"FAXD_FAX_MAX_DESTINATIONS", "100", "max_destinations = 100\n"},
    {"FAXD_FAX_RETRY_COUNT", "2", "retry_count = 2\n"},
    {"FAXD_FAX_RETRY_DELAY", "720", "retry_delay = 720\n"},
    {"FAXD_FAX_UPLOAD_TTL", "3600", "upload_ttl = 3600\n"},
};
#define N_ENV (sizeof env_cases / sizeof env_cases[0])

static void clear_env(void)
{
    for (size_t i = 0; i < N_ENV; i++)
        unsetenv(env_cases[i].var);
}

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* Writes text to a new temporary file; path[] receives its name. */
static void write_temp(const char *text, char path[64])
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, 64, "%s/test_conf_XXXXXX", dir && strlen(dir) < 40 ? dir : "/tmp");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    size_t n = strlen(text);
    CHECK(write(fd, text, n) == (ssize_t)n);
    close(fd);
}

/* Loads `text` as a config file; returns the error and the message in why. */
static enum fx_err load_text(const char *text, struct fx_conf **out, char *why, size_t len,
                             char path[64])
{
    write_temp(text, path);
    enum fx_err e = fx_conf_load(path, out, why, len);
    unlink(path);
    return e;
}

/* The dump as a string (free with free()). */
static char *dump_str(const struct fx_conf *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fx_conf_dump(c, f);
    fclose(f);
    return buf;
}

static void test_defaults(void)
{
    struct fx_conf *c = NULL;
    char why[256] = "";
    CHECK(fx_conf_load(NULL, &c, why, sizeof why) == FX_OK);
    if (!c) return;
    CHECK_STR(c->data_dir, "/var/lib/faxd");
    CHECK_STR(c->log_level, "info");
    CHECK_STR(c->default_country, "1");
    CHECK_STR(c->http_address, "127.0.0.1");
    CHECK(c->http_port == 8080);
    CHECK(c->http_threads == 4);
    CHECK(c->http_max_body == 1048576);
    CHECK(c->http_max_header == 16384);
    CHECK(c->http_timeout == 30);
    CHECK(c->http_rate_limit == 0);
    CHECK_STR(c->public_url, "");
    CHECK_STR(c->store_driver, "sqlite");
    CHECK(c->max_files == 10);
    CHECK(c->max_fax_bytes == 31457280);
    CHECK(c->max_destinations == 4000);
    CHECK(c->default_retry_count == 0);
    CHECK(c->default_retry_delay == 10);
    CHECK(c->upload_ttl == 86400);
    fx_conf_free(c);
    fx_conf_free(NULL);
}

static void test_file(void)
{
    const char *text = "\xEF\xBB\xBF# faxd test config\n"
                       "; another comment style\n"
                       "\n"
                       "[general]\n"
                       "  data_dir   =   /tmp/fax data  \n"
                       "log_level=debug\n"
                       "default_country_code = \"44\"\r\n"
                       "   # indented comment\n"
                       "[ http ]\n"
                       "address = \"0.0.0.0\"\n"
                       "port = \"9000\"\n"
                       "port = 9001\n" /* the last value wins */
                       "public_url = https://x.example/fax\n"
                       "[fax]\n"
                       "retry_count = 3\n"
                       "[store]\n"
                       "driver = postgresql://faxd@db.example:5432/faxd\n";
    struct fx_conf *c = NULL;
    char why[256] = "", path[64];
    CHECK(load_text(text, &c, why, sizeof why, path) == FX_OK);
    if (!c) {
        fprintf(stderr, "  why: %s\n", why);
        return;
    }
    CHECK_STR(c->data_dir, "/tmp/fax data");
    CHECK_STR(c->log_level, "debug");
    CHECK_STR(c->default_country, "44");
    CHECK_STR(c->http_address, "0.0.0.0");
    CHECK(c->http_port == 9001);
    CHECK_STR(c->public_url, "https://x.example/fax");
    CHECK(c->default_retry_count == 3);
    CHECK(c->http_threads == 4); /* untouched options keep their defaults */
    CHECK_STR(c->store_driver, "postgresql://faxd@db.example:5432/faxd");
    fx_conf_free(c);

    /* Quotes keep surrounding spaces; a # inside a value is part of it. This value is
     * invalid as a URL, so check through a string option with no validation. */
    CHECK(load_text("[general]\ndata_dir = \" /a b # c \"\n", &c, why, sizeof why, path) == FX_OK);
    if (c) CHECK_STR(c->data_dir, " /a b # c ");
    fx_conf_free(c);
    CHECK(load_text("[http]\npublic_url = \"\"\n", &c, why, sizeof why, path) == FX_OK);
    if (c) CHECK_STR(c->public_url, "");
    fx_conf_free(c);
    /* An empty file is valid: all defaults. */
    CHECK(load_text("", &c, why, sizeof why, path) == FX_OK);
    if (c) CHECK(c->http_port == 8080);
    fx_conf_free(c);
}

/* Each case: file text, the line the error is on, and fragments the message must hold
 * (the option name and what is wrong). */
static const struct {
    const char *text;
    unsigned line;
    const char *want1, *want2;
} error_cases[] = {
    {"[http]\nprot = 1\n", 2, "http.prot", "unknown option"},
    {"[htp]\nport = 1\n", 1, "[htp]", "unknown section"},
    {"[http\n", 1, "[http", "']'"},
    {"[http]\nport 8080\n", 2, "port 8080", "key = value"},
    {"port = 8080\n", 1, "\"port\"", "outside any [section]"},
    {"[http]\n = 8080\n", 2, "missing option name", "="},
    {"[http]\nport = 12abc\n", 2, "http.port: \"12abc\"", "not a whole number"},
    {"[http]\nport = \n", 2, "http.port: \"\"", "not a whole number"},
    {"[http]\nport = 0x50\n", 2, "http.port", "not a whole number"},
    {"[http]\nport = +80\n", 2, "http.port", "not a whole number"},
    {"[http]\nport = 1K\n", 2, "http.port: \"1K\"", "not a whole number"},
    {"[http]\nport = 70000\n", 2, "http.port: \"70000\" is out of range 1..65535", ""},
    {"[http]\nport = 0\n", 2, "http.port: \"0\" is out of range 1..65535", ""},
    {"[fax]\nretry_count = -1\n", 2, "fax.retry_count: \"-1\" is out of range 0..3", ""},
    {"[fax]\nmax_files = 99999999999999999999\n", 2, "fax.max_files", "out of range 1..10"},
    {"[http]\naddress = localhost\n", 2, "http.address: \"localhost\"", "IPv4"},
    {"[http]\naddress = 256.1.1.1\n", 2, "http.address", "IPv4"},
    {"[http]\naddress = ::1\n", 2, "http.address", "IPv4"},
    {"[general]\nlog_level = verbose\n", 2, "general.log_level: \"verbose\"",
     "not one of debug, info, warn, error"},
    {"[store]\ndriver = postgresql\n", 2, "store.driver: \"postgresql\"",
     "sqlite or a postgresql://"},
    {"[store]\ndriver = postgresql://\n", 2, "store.driver", "postgresql://"},
    {"[store]\ndriver = \"postgresql://a b\"\n", 2, "store.driver", "postgresql://"},
    {"[http]\npublic_url = ftp://x\n", 2, "http.public_url: \"ftp://x\"", "http://"},
    {"[http]\npublic_url = https://\n", 2, "http.public_url", "https://"},
    {"[http]\npublic_url = \"https://a b\"\n", 2, "http.public_url", "https://"},
    {"[general]\ndefault_country_code = 1234\n", 2, "general.default_country_code", "digits"},
    {"[general]\ndefault_country_code = +1\n", 2, "general.default_country_code", "digits"},
    {"[general]\ndata_dir = \"\"\n", 2, "general.data_dir", "non-empty"},
    {"[general]\ndata_dir = \"/x\n", 2, "general.data_dir", "unterminated"},
    {"[general]\ndata_dir = \"\n", 2, "general.data_dir", "unterminated"},
    {"[general]\n\n# c\ndata_dir = /a\tb\n", 4, "general.data_dir", "control character"},
    {"[http]\nmax_body_bytes = 1.5M\n", 2, "http.max_body_bytes: \"1.5M\"", "not a size"},
    {"[http]\nmax_body_bytes = 1KB\n", 2, "http.max_body_bytes", "not a size"},
    {"[http]\nmax_body_bytes = M\n", 2, "http.max_body_bytes", "not a size"},
    {"[http]\nmax_body_bytes = 65M\n", 2, "http.max_body_bytes", "out of range 1024..67108864"},
    {"[http]\nmax_body_bytes = 99999999999G\n", 2, "http.max_body_bytes", "out of range"},
    {"[fax]\nmax_bytes = 2G\n", 2, "fax.max_bytes: \"2G\"", "out of range 1024..1073741824"},
};

static void test_errors(void)
{
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        struct fx_conf *c = NULL;
        char why[512] = "", path[64], where[96];
        CHECK(load_text(error_cases[i].text, &c, why, sizeof why, path) == FX_ERR_INVALID);
        CHECK(c == NULL);
        snprintf(where, sizeof where, "%s:%u: ", path, error_cases[i].line);
        bool ok = strncmp(why, where, strlen(where)) == 0 && contains(why, error_cases[i].want1) &&
                  contains(why, error_cases[i].want2);
        CHECK(ok);
        if (!ok) fprintf(stderr, "  case %zu: why = %s\n", i, why);
        fx_conf_free(c);
    }

    /* A named file that cannot be opened is an error naming it. */
    struct fx_conf *c = NULL;
    char why[256] = "";
    CHECK(fx_conf_load("/nonexistent/faxd.conf", &c, why, sizeof why) == FX_ERR_IO);
    CHECK(c == NULL);
    CHECK(contains(why, "/nonexistent/faxd.conf"));
    /* A directory opens but cannot be read. */
    CHECK(fx_conf_load("/", &c, why, sizeof why) == FX_ERR_IO);
    CHECK(c == NULL);
    CHECK(strncmp(why, "/: ", 3) == 0);
    /* A message that does not fit is truncated, and no buffer at all is fine. */
    char tiny[8];
    CHECK(fx_conf_load("/nonexistent/faxd.conf", &c, tiny, sizeof tiny) == FX_ERR_IO);
    CHECK(strlen(tiny) == 7);
    CHECK(fx_conf_load("/nonexistent/faxd.conf", &c, NULL, 0) == FX_ERR_IO);

    /* Inbound credentials: a user needs a password and names one trunk only. */
    static const struct {
        const char *text, *want;
    } inbound[] = {
        {"[trunk a]\ninbound_username = pbx\n", "trunk.a.inbound_username is set without"},
        {"[trunk a]\ninbound_username = pbx\ninbound_password = x\n"
         "[trunk b]\ninbound_username = pbx\ninbound_password = y\n",
         "trunk.b.inbound_username is also trunk a's"},
    };
    for (size_t i = 0; i < sizeof inbound / sizeof inbound[0]; i++) {
        char path[64];
        CHECK(load_text(inbound[i].text, &c, why, sizeof why, path) == FX_ERR_INVALID);
        CHECK(contains(why, inbound[i].want));
    }
    CHECK(load_text("[trunk a]\ninbound_username = pbx\ninbound_password = x\n", &c, why,
                    sizeof why, (char[64]){0}) == FX_OK);
    CHECK(c && c->n_trunks == 1 && !strcmp(c->trunks[0].inbound_password, "x") &&
          !strcmp(c->sip_auth_realm, "faxd"));
    fx_conf_free(c);
}

static void test_set(void)
{
    struct fx_conf *c = NULL;
    char why[256] = "";
    CHECK(fx_conf_load(NULL, &c, why, sizeof why) == FX_OK);
    if (!c) return;
    CHECK(fx_conf_set(c, "http.port", "1234", why, sizeof why) == FX_OK);
    CHECK(c->http_port == 1234);
    /* A refused value leaves the previous one in place. */
    CHECK(fx_conf_set(c, "http.port", "65536", why, sizeof why) == FX_ERR_INVALID);
    CHECK_STR(why, "http.port: \"65536\" is out of range 1..65535");
    CHECK(c->http_port == 1234);
    CHECK(fx_conf_set(c, "general.log_level", "warn", why, sizeof why) == FX_OK);
    CHECK(fx_conf_set(c, "general.log_level", "WARN", why, sizeof why) == FX_ERR_INVALID);
    CHECK_STR(c->log_level, "warn");
    CHECK(fx_conf_set(c, "http.nope", "1", why, sizeof why) == FX_ERR_INVALID);
    CHECK_STR(why, "unknown option \"http.nope\"");
    CHECK(fx_conf_set(c, "port", "1", why, sizeof why) == FX_ERR_INVALID);
    CHECK(fx_conf_set(c, "http.port", NULL, why, sizeof why) == FX_ERR_INVALID);
    CHECK(fx_conf_set(c, "http.port", "2", NULL, 0) == FX_OK);
    CHECK(fx_conf_set(c, "http.port", "x", NULL, 0) == FX_ERR_INVALID);
    /* Range ends are inclusive. */
    CHECK(fx_conf_set(c, "http.port", "65535", why, sizeof why) == FX_OK);
    CHECK(fx_conf_set(c, "fax.retry_delay", "0", why, sizeof why) == FX_OK);
    CHECK(fx_conf_set(c, "fax.upload_ttl", "31536000", why, sizeof why) == FX_OK);
    CHECK(fx_conf_set(c, "fax.upload_ttl", "31536001", why, sizeof why) == FX_ERR_INVALID);
    fx_conf_free(c);
}

static void test_sizes(void)
{
    struct fx_conf *c = NULL;
    char why[256] = "";
    CHECK(fx_conf_load(NULL, &c, why, sizeof why) == FX_OK);
    if (!c) return;
    CHECK(fx_conf_set(c, "http.max_body_bytes", "64K", why, sizeof why) == FX_OK);
    CHECK(c->http_max_body == 65536);
    CHECK(fx_conf_set(c, "http.max_body_bytes", "2m", why, sizeof why) == FX_OK);
    CHECK(c->http_max_body == 2097152);
    CHECK(fx_conf_set(c, "http.max_body_bytes", "64M", why, sizeof why) == FX_OK);
    CHECK(c->http_max_body == 67108864);
    CHECK(fx_conf_set(c, "http.max_body_bytes", "1K", why, sizeof why) == FX_OK);
    CHECK(c->http_max_body == 1024);
    CHECK(fx_conf_set(c, "http.max_body_bytes", "1023", why, sizeof why) == FX_ERR_INVALID);
    CHECK(fx_conf_set(c, "http.max_header_bytes", "1M", why, sizeof why) == FX_OK);
    CHECK(c->http_max_header == 1048576);
    CHECK(fx_conf_set(c, "fax.max_bytes", "1G", why, sizeof why) == FX_OK);
    CHECK(c->max_fax_bytes == 1073741824);
    CHECK(fx_conf_set(c, "fax.max_bytes", "30M", why, sizeof why) == FX_OK);
    CHECK(c->max_fax_bytes == 31457280);
    CHECK(fx_conf_set(c, "fax.max_bytes", "1024", why, sizeof why) == FX_OK);
    CHECK(c->max_fax_bytes == 1024);
    CHECK(fx_conf_set(c, "fax.max_bytes", "10 M", why, sizeof why) == FX_ERR_INVALID);
    CHECK(fx_conf_set(c, "fax.max_bytes", "10MM", why, sizeof why) == FX_ERR_INVALID);
    CHECK(fx_conf_set(c, "fax.max_bytes", " 10M", why, sizeof why) == FX_ERR_INVALID);
    CHECK(fx_conf_set(c, "fax.max_bytes", "9223372036854775807G", why, sizeof why) ==
          FX_ERR_INVALID);
    CHECK(contains(why, "out of range"));
    CHECK(c->max_fax_bytes == 1024);
    /* Suffixes belong to *_bytes options only. */
    CHECK(fx_conf_set(c, "fax.upload_ttl", "1K", why, sizeof why) == FX_ERR_INVALID);
    CHECK(contains(why, "fax.upload_ttl"));
    fx_conf_free(c);
}

static void test_env(void)
{
    struct fx_conf *c = NULL;
    char why[256] = "", path[64];

    /* Precedence: default < file < environment. */
    write_temp("[http]\nport = 9000\nthreads = 2\n", path);
    setenv("FAXD_HTTP_PORT", "9100", 1);
    CHECK(fx_conf_load(path, &c, why, sizeof why) == FX_OK);
    if (c) CHECK(c->http_port == 9100);
    if (c) CHECK(c->http_threads == 2);
    fx_conf_free(c);
    unsetenv("FAXD_HTTP_PORT");
    c = NULL;
    CHECK(fx_conf_load(path, &c, why, sizeof why) == FX_OK);
    if (c) CHECK(c->http_port == 9000);
    fx_conf_free(c);

    /* Environment over defaults when there is no file. */
    setenv("FAXD_FAX_MAX_BYTES", "5M", 1);
    c = NULL;
    CHECK(fx_conf_load(NULL, &c, why, sizeof why) == FX_OK);
    if (c) CHECK(c->max_fax_bytes == 5242880);
    fx_conf_free(c);
    unsetenv("FAXD_FAX_MAX_BYTES");

    /* An invalid variable names itself and the option; it wins over a valid file. */
    setenv("FAXD_HTTP_PORT", "70000", 1);
    c = NULL;
    CHECK(fx_conf_load(path, &c, why, sizeof why) == FX_ERR_INVALID);
    CHECK(c == NULL);
    CHECK_STR(why, "FAXD_HTTP_PORT: http.port: \"70000\" is out of range 1..65535");
    setenv("FAXD_HTTP_PORT", "", 1); /* set but empty is a value, and not a number */
    CHECK(fx_conf_load(NULL, &c, why, sizeof why) == FX_ERR_INVALID);
    CHECK(contains(why, "FAXD_HTTP_PORT") && contains(why, "http.port"));
    unsetenv("FAXD_HTTP_PORT");
    setenv("FAXD_GENERAL_LOG_LEVEL", "loud", 1);
    CHECK(fx_conf_load(NULL, &c, why, sizeof why) == FX_ERR_INVALID);
    CHECK(contains(why, "FAXD_GENERAL_LOG_LEVEL") && contains(why, "general.log_level"));
    unsetenv("FAXD_GENERAL_LOG_LEVEL");
    unlink(path);
}

/* Every option's variable name, checked through the dump. */
static void test_env_names(void)
{
    for (size_t i = 0; i < N_ENV; i++)
        setenv(env_cases[i].var, env_cases[i].value, 1);
    struct fx_conf *c = NULL;
    char why[256] = "";
    CHECK(fx_conf_load(NULL, &c, why, sizeof why) == FX_OK);
    char *d = c ? dump_str(c) : NULL;
    for (size_t i = 0; i < N_ENV; i++) {
        char line[128];
        snprintf(line, sizeof line, "\n%s", env_cases[i].dump_line);
        bool ok = contains(d, line);
        CHECK(ok);
        if (!ok) fprintf(stderr, "  %s not applied\n", env_cases[i].var);
    }
    free(d);
    fx_conf_free(c);
    clear_env();
}

static void test_round_trip(void)
{
    struct fx_conf *c = NULL, *back = NULL;
    char why[256] = "", path[64];
    CHECK(fx_conf_load(NULL, &c, why, sizeof why) == FX_OK);
    if (!c) return;
    /* Values that only survive if the dump quotes them. */
    CHECK(fx_conf_set(c, "general.data_dir", "  /srv/fax \"x\" # y ; z = 1  ", why, sizeof why) ==
          FX_OK);
    CHECK(fx_conf_set(c, "http.public_url", "http://fax.example:8080/base", why, sizeof why) ==
          FX_OK);
    CHECK(fx_conf_set(c, "http.port", "65535", why, sizeof why) == FX_OK);
    CHECK(fx_conf_set(c, "http.max_body_bytes", "3M", why, sizeof why) == FX_OK);
    CHECK(fx_conf_set(c, "fax.retry_count", "2", why, sizeof why) == FX_OK);
    char *d1 = dump_str(c);
    CHECK(contains(d1, "\n[http]\n") && contains(d1, "\n[fax]\n"));
    CHECK(contains(d1, "\n# TCP port the HTTP server listens on.\nport = 65535\n"));
    CHECK(load_text(d1 ? d1 : "", &back, why, sizeof why, path) == FX_OK);
    if (back) {
        CHECK_STR(back->data_dir, "  /srv/fax \"x\" # y ; z = 1  ");
        CHECK_STR(back->public_url, "http://fax.example:8080/base");
        CHECK(back->http_port == 65535);
        CHECK(back->http_max_body == 3145728);
        CHECK(back->default_retry_count == 2);
        char *d2 = dump_str(back);
        CHECK_STR(d2, d1);
        free(d2);
    } else {
        fprintf(stderr, "  why: %s\n", why);
    }
    free(d1);
    fx_conf_free(back);
    fx_conf_free(c);
}

/* The sample file is the documentation: it must load, hold exactly the defaults, and
 * spell out every option's `key = value` line the way the dump writes it. */
static void test_sample(void)
{
    char sample[4096];
    const char *data = getenv("FAXD_TEST_DATA");
    if (data)
        snprintf(sample, sizeof sample, "%s/../../conf/faxd.conf", data);
    else { /* built by hand: find it next to this source file */
        snprintf(sample, sizeof sample, "%s", __FILE__);
        char *slash = strrchr(sample, '/');
        snprintf(slash ? slash + 1 : sample,
                 sizeof sample - (size_t)(slash ? slash + 1 - sample : 0), "../../conf/faxd.conf");
    }
    struct fx_conf *c = NULL, *def = NULL;
    char why[512] = "";
    CHECK(fx_conf_load(sample, &c, why, sizeof why) == FX_OK);
    CHECK(fx_conf_load(NULL, &def, why, sizeof why) == FX_OK);
    if (!c || !def) {
        fprintf(stderr, "  sample %s: %s\n", sample, why);
        fx_conf_free(c);
        fx_conf_free(def);
        return;
    }
    char *ds = dump_str(c), *dd = dump_str(def);
    CHECK_STR(ds, dd);
    FILE *f = fopen(sample, "r");
    char text[32768] = "\n";
    size_t n = f ? fread(text + 1, 1, sizeof text - 2, f) : 0;
    text[n + 1] = '\0';
    if (f) fclose(f);
    /* Each non-comment line of the dump is "[section]" or "key = value". */
    for (char *line = dd, *end; line && *line; line = end ? end + 1 : NULL) {
        end = strchr(line, '\n');
        if (end) *end = '\0';
        if (*line == '#' || *line == '\0') continue;
        char want[256];
        snprintf(want, sizeof want, "\n%s\n", line);
        bool ok = contains(text, want);
        CHECK(ok);
        if (!ok) fprintf(stderr, "  sample lacks: %s\n", line);
    }
    free(ds);
    free(dd);
    fx_conf_free(c);
    fx_conf_free(def);
}

int main(void)
{
    clear_env();
    test_defaults();
    test_file();
    test_errors();
    test_set();
    test_sizes();
    test_env();
    test_env_names();
    test_round_trip();
    test_sample();
    return fx_check_result("test_conf");
}
