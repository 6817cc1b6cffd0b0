/* conf: faxd's configuration. Everything — defaults, the INI file, FAXD_* environment
 * overrides, validation, the error messages and --dump-config — is driven by the one
 * option table below, so adding an option means adding one row and its struct field.
 *
 * Parsing is deliberately strict: an unknown key or a value that does not validate is
 * an error at start-up, never a silently ignored line, because a typo in a config file
 * should not leave faxd listening on the wrong port or keeping documents forever. */
#include "conf/conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- the option table ---------------------------------------------------- */

enum conf_type {
    CONF_STR,  /* char *, owned by the struct */
    CONF_INT,  /* int64_t, plain decimal */
    CONF_SIZE, /* int64_t, decimal with an optional K/M/G (x1024) suffix */
};

/* Extra validation for a string option; `want` completes "<value> is not ...". */
struct conf_check {
    bool (*ok)(const char *v);
    const char *want;
};

struct conf_option {
    const char *name; /* "section.key" */
    enum conf_type type;
    size_t offset;                  /* into struct fx_conf */
    const char *def;                /* default, as text: it goes through the same validation */
    int64_t min, max;               /* ints and sizes, inclusive */
    const char *const *allowed;     /* strings: NULL-terminated list, NULL = anything */
    const struct conf_check *check; /* strings: NULL = no extra check */
    const char *help;               /* one line, printed by fx_conf_dump */
};

static bool is_nonempty(const char *v)
{
    return v[0] != '\0';
}

static bool is_ipv4(const char *v)
{
    struct in_addr a;
    return inet_pton(AF_INET, v, &a) == 1;
}

static bool is_country_code(const char *v)
{
    size_t n = strlen(v);
    if (n < 1 || n > 3) return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)v[i])) return false;
    return true;
}

/* "" means "derive it"; otherwise the API prints it to users as a link base, so it
 * must at least be an http(s) URL with something after the scheme and no spaces. */
static bool is_public_url(const char *v)
{
    if (v[0] == '\0') return true;
    if (strchr(v, ' ')) return false;
    if (strncmp(v, "http://", 7) == 0) return v[7] != '\0';
    if (strncmp(v, "https://", 8) == 0) return v[8] != '\0';
    return false;
}

/* The store: SQLite in data_dir, or a PostgreSQL connection URI. */
static bool is_store(const char *v)
{
    if (!strcmp(v, "sqlite")) return true;
    if (strchr(v, ' ')) return false;
    if (!strncmp(v, "postgresql://", 13)) return v[13] != '\0';
    if (!strncmp(v, "postgres://", 11)) return v[11] != '\0';
    return false;
}

static bool is_rates(const char *v)
{
    struct fx_rates r;
    char why[160];
    return fx_rates_parse(v, &r, why, sizeof why);
}

static const struct conf_check check_rates = {is_rates,
                                              "comma-separated +PREFIX:MULTIPLIER or "
                                              "+PREFIX:refuse entries"};
static bool is_ipv4_or_empty(const char *v)
{
    return !v[0] || is_ipv4(v);
}

static bool is_token(const char *v)
{
    if (!v[0]) return false;
    for (; *v; v++)
        if (!isalnum((unsigned char)*v) && !strchr("-._/+", *v)) return false;
    return true;
}

static bool is_host(const char *v)
{
    if (!v[0] || strlen(v) > 200) return false;
    for (; *v; v++)
        if (!isalnum((unsigned char)*v) && !strchr("-._", *v)) return false;
    return true;
}

/* "+1,+44" or "" (every number): the destinations a trunk serves. */
static bool is_prefixes(const char *v)
{
    for (const char *p = v; *p; p++)
        if (!isdigit((unsigned char)*p) && *p != '+' && *p != ',') return false;
    return true;
}

/* "pcma,pcmu": the G.711 laws offered, in order. */
static bool is_codecs(const char *v)
{
    char buf[64];
    if (!fx_strlcpy(buf, v, sizeof buf) || !buf[0]) return false;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (strcmp(t, "pcma") && strcmp(t, "pcmu")) return false;
    return true;
}

/* "127.0.0.1,10.0.0.0/8": IPv4 addresses or networks, or "". */
static bool is_networks(const char *v)
{
    char buf[512];
    if (!fx_strlcpy(buf, v, sizeof buf)) return false;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(t, '/');
        if (slash) {
            *slash = 0;
            char *end;
            long bits = strtol(slash + 1, &end, 10);
            if (*end || end == slash + 1 || bits < 0 || bits > 32) return false;
        }
        if (!is_ipv4(t)) return false;
    }
    return true;
}

static const struct conf_check check_ipv4_or_empty = {is_ipv4_or_empty, "empty or an IPv4 address"};
static const struct conf_check check_token = {is_token, "a word of letters, digits, -._/+"};
static const struct conf_check check_host = {is_host, "a host name or IPv4 address"};
static const struct conf_check check_prefixes = {is_prefixes, "comma-separated +PREFIX entries"};
static const struct conf_check check_codecs = {is_codecs, "pcma, pcmu or both, comma-separated"};
static const struct conf_check check_networks = {is_networks,
                                                 "comma-separated IPv4 addresses or networks"};
static const struct conf_check check_nonempty = {is_nonempty, "a non-empty path"};
static const struct conf_check check_ipv4 = {is_ipv4, "an IPv4 address"};
static const struct conf_check check_country = {is_country_code, "1 to 3 digits"};
static const struct conf_check check_url = {is_public_url, "empty or an http:// or https:// URL"};
static const struct conf_check check_store = {is_store,
                                              "sqlite or a postgresql:// connection URI"};

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const papers[] = {"a4", "letter", NULL};
static const char *const resolutions[] = {"fine", "normal", NULL};
static const char *const speeds[] = {"accelerated", "realtime", NULL};
static const char *const transports[] = {"audio", "t38", NULL};
static const char *const on_off[] = {"on", "off", NULL};
static const char *const sip_transports[] = {"udp", "tcp", NULL};
static const char *const t38_modes[] = {"off", "prefer", "only", NULL};

/* The _Generic makes a row whose type does not match its struct field fail to compile
 * (no association matches), instead of corrupting memory at run time. */
#define FIELD_OF(T, field, ctype) _Generic(((T *)0)->field, ctype : offsetof(T, field))
#define STR_ROW(T, nm, field, dflt, allow, chk, hlp)                                               \
    {                                                                                              \
        .name = nm, .type = CONF_STR, .offset = FIELD_OF(T, field, char *), .def = dflt,           \
        .allowed = allow, .check = chk, .help = hlp                                                \
    }
#define NUM_ROW(T, kind, nm, field, dflt, lo, hi, hlp)                                             \
    {                                                                                              \
        .name = nm, .type = kind, .offset = FIELD_OF(T, field, int64_t), .def = dflt, .min = lo,   \
        .max = hi, .help = hlp                                                                     \
    }
#define OPT_STR(...) STR_ROW(struct fx_conf, __VA_ARGS__)
#define OPT_INT(...) NUM_ROW(struct fx_conf, CONF_INT, __VA_ARGS__)
#define OPT_SIZE(...) NUM_ROW(struct fx_conf, CONF_SIZE, __VA_ARGS__)

/* Rows of one section must be adjacent: fx_conf_dump prints a [section] header
 * whenever the section changes. */
static const struct conf_option options[] = {
    OPT_STR("general.data_dir", data_dir, "/var/lib/faxd", NULL, &check_nonempty,
            "Directory holding the database, documents and fax images."),
    OPT_STR("general.log_level", log_level, "info", log_levels, NULL,
            "Least severe log level written: debug, info, warn or error."),
    OPT_STR("general.default_country_code", default_country, "1", NULL, &check_country,
            "Country calling code (1-3 digits) added to numbers given without one."),

    OPT_STR("http.address", http_address, "127.0.0.1", NULL, &check_ipv4,
            "IPv4 address the HTTP server listens on (0.0.0.0 = all interfaces)."),
    OPT_INT("http.port", http_port, "8080", 1, 65535, "TCP port the HTTP server listens on."),
    OPT_INT("http.threads", http_threads, "4", 1, 64, "Worker threads serving HTTP requests."),
    OPT_SIZE("http.max_body_bytes", http_max_body, "1048576", 1024, 67108864,
             "Largest JSON request body accepted (K/M/G suffixes allowed)."),
    OPT_SIZE("http.max_header_bytes", http_max_header, "16384", 4096, 1048576,
             "Largest request line plus headers accepted (K/M/G suffixes allowed)."),
    OPT_INT("http.connection_timeout", http_timeout, "30", 1, 3600,
            "Seconds an idle HTTP connection stays open."),
    OPT_INT("http.rate_limit", http_rate_limit, "0", 0, 1000000,
            "Requests per second allowed per access token; 0 = no limit."),
    OPT_STR("http.public_url", public_url, "", NULL, &check_url,
            "Base URL users reach faxd at, e.g. https://fax.example.com; empty = derived."),
    OPT_STR("http.web_dir", web_dir, "", NULL, NULL,
            "Directory of the web interface's files; empty = ../share/faxd/web from faxd."),
    OPT_INT("http.session_ttl", session_ttl, "43200", 60, 2592000,
            "Seconds a web interface sign-in lasts before the password is asked again."),

    OPT_STR("store.driver", store_driver, "sqlite", NULL, &check_store,
            "Database: sqlite, or a postgresql://user@host:port/db connection URI."),
    OPT_STR("store.node", store_node, "", NULL, NULL,
            "This node's name among nodes sharing a PostgreSQL store; empty = from the host "
            "name and data_dir."),
    OPT_INT("store.pool", store_pool, "8", 1, 1000,
            "PostgreSQL connections a node opens at most (lent per statement or transaction)."),
    OPT_INT("store.lease", store_lease, "60", 6, 3600,
            "Seconds a node's claim on a conversion or a call (either way) lasts unless "
            "renewed (every third of it while the work runs); a dead node's work is taken "
            "over after it."),

    OPT_INT("fax.max_files", max_files, "10", 1, 10, "Most files one fax may carry."),
    OPT_SIZE("fax.max_bytes", max_fax_bytes, "31457280", 1024, 1073741824,
             "Most bytes of one upload and of all files of one fax (K/M/G suffixes allowed)."),
    OPT_INT("fax.max_destinations", max_destinations, "4000", 1, 4000,
            "Most destination numbers in one send request."),
    OPT_INT("fax.retry_count", default_retry_count, "0", 0, 3,
            "Extra attempts per destination when a send request names none."),
    OPT_INT("fax.retry_delay", default_retry_delay, "10", 0, 720,
            "Minutes between attempts when a send request names none."),
    OPT_INT("fax.upload_ttl", upload_ttl, "86400", 60, 31536000,
            "Seconds an uploaded file not yet used by a fax is kept."),
    OPT_STR("fax.paper", paper, "a4", papers, NULL,
            "Page size faxes are rendered on unless the account chooses: a4 or letter."),
    OPT_STR("fax.resolution", resolution, "fine", resolutions, NULL,
            "Fax resolution unless the account chooses: fine (204x196) or normal (204x98)."),

    OPT_INT("convert.workers", convert_workers, "2", 1, 64,
            "Documents converted at once (each worker keeps one warm LibreOffice)."),
    OPT_INT("convert.timeout", convert_timeout, "120", 1, 3600,
            "Seconds one converter program may run before its process group is killed."),
    OPT_SIZE("convert.memory_limit", convert_mem, "1G", 67108864, 17179869184,
             "Address-space limit of Ghostscript, MuPDF, qpdf and the cover renderer."),
    OPT_SIZE("convert.office_memory_limit", convert_lo_mem, "1G", 67108864, 17179869184,
             "Resident memory above which a LibreOffice instance is recycled."),
    OPT_INT("convert.office_max_documents", convert_lo_docs, "200", 1, 100000,
            "Documents a LibreOffice instance converts before it is recycled."),
    OPT_INT("convert.max_pages", convert_max_pages, "200", 1, 10000,
            "Most pages one fax may have, cover page included (checked before rendering)."),
    OPT_INT("convert.max_image_pixels", convert_max_pixels, "64000000", 1000000, 1000000000,
            "Most pixels one image may have (checked from its header before decoding)."),
    OPT_STR("convert.libexec_dir", libexec_dir, "", NULL, NULL,
            "Directory holding faxd-cover and lo_helper.py; empty = next to the faxd binary."),
    OPT_STR("convert.ghostscript", prog_gs, "gs", NULL, &check_nonempty,
            "Ghostscript program."),
    OPT_STR("convert.mutool", prog_mutool, "mutool", NULL, &check_nonempty,
            "MuPDF's mutool program."),
    OPT_STR("convert.qpdf", prog_qpdf, "qpdf", NULL, &check_nonempty, "qpdf program."),
    OPT_STR("convert.soffice", prog_soffice, "soffice", NULL, &check_nonempty,
            "LibreOffice program."),
    OPT_STR("convert.python", prog_python, "/usr/bin/python3", NULL, &check_nonempty,
            "Python 3 with the LibreOffice UNO bridge (Debian's python3-uno)."),

    OPT_INT("line.channels", line_channels, "4", 1, 1000,
            "Calls placed at once (dialer workers)."),
    OPT_STR("line.loopback_speed", line_speed, "accelerated", speeds, NULL,
            "Loopback and sandbox calls: accelerated (CPU speed) or realtime (20 ms ticks)."),
    OPT_STR("line.loopback_transport", line_transport, "audio", transports, NULL,
            "Loopback and sandbox calls carry the fax as G.711 audio or T.38."),
    OPT_STR("line.ecm", line_ecm, "on", on_off, NULL, "T.30 error correction mode: on or off."),
    OPT_STR("line.sandbox_prefix", line_sandbox_prefix, "+1555000", NULL, NULL,
            "Numbers made of this prefix and 4 digits are sandbox numbers; empty = none."),
    OPT_INT("line.no_media_timeout", line_no_media, "30", 1, 3600,
            "Seconds without media after which a fax call is ended."),
    OPT_INT("line.max_call", line_max_call, "3600", 60, 86400,
            "Seconds after which any fax call is ended."),
    OPT_STR("line.call_log", line_call_log, "", NULL, NULL,
            "A file every call placed is appended to (time, line, numbers, fax and attempt); "
            "empty = none."),

    OPT_INT("sip.port", sip_port, "0", 0, 65535,
            "UDP/TCP port the SIP user agent listens on; 0 = no SIP trunks."),
    OPT_STR("sip.address", sip_address, "127.0.0.1", NULL, &check_ipv4,
            "IPv4 address SIP and media (RTP/UDPTL) bind to."),
    OPT_STR("sip.public_address", sip_public_address, "", NULL, &check_ipv4_or_empty,
            "IPv4 address written in SDP and Contact; empty = sip.address."),
    OPT_INT("sip.rtp_port_min", sip_rtp_min, "20000", 1024, 65535,
            "Lowest UDP port for RTP/UDPTL media."),
    OPT_INT("sip.rtp_port_max", sip_rtp_max, "29999", 1024, 65535,
            "Highest UDP port for RTP/UDPTL media."),
    OPT_INT("sip.media_threads", sip_media_threads, "2", 1, 64,
            "Threads running the 20 ms media clock of SIP calls."),
    OPT_INT("sip.media_priority", sip_media_priority, "10", 0, 99,
            "Real-time (SCHED_RR) priority of the media threads; 0 = normal scheduling."),
    OPT_INT("sip.jitter_ms", sip_jitter_ms, "60", 0, 500,
            "RTP jitter buffer depth in milliseconds."),
    OPT_INT("sip.t38_redundancy", sip_t38_redundancy, "3", 0, 7,
            "Redundant IFP packets carried in each UDPTL datagram."),
    OPT_INT("sip.ring_timeout", sip_ring_timeout, "60", 5, 600,
            "Seconds an outgoing call may ring before faxd cancels it."),
    OPT_INT("sip.session_expires", sip_session_expires, "0", 0, 86400,
            "Session timer interval asked for on calls (RFC 4028); 0 = none."),
    OPT_STR("sip.user_agent", sip_user_agent, "faxd", NULL, &check_token,
            "User-Agent and Server header value."),
    OPT_STR("sip.auth_realm", sip_auth_realm, "faxd", NULL, &check_token,
            "Realm of the digest challenges (407) faxd sends to callers that authenticate "
            "with a trunk's inbound_username/inbound_password."),

    OPT_STR("webhook.allow_private", webhook_allow_private, "off", on_off, NULL,
            "Allow webhook targets on loopback, private, link-local or CGNAT addresses: on or off."),
    OPT_INT("webhook.retry_base", webhook_retry_base, "30", 1, 3600,
            "Seconds before a failed webhook delivery is retried; doubles each time, up to 1 h."),

    OPT_STR("billing.enforce", billing_enforce, "off", on_off, NULL,
            "on: a fax is dialled only if the account's credit covers it (else insufficient_credit)."),
    OPT_STR("billing.rates", billing_rates, "", NULL, &check_rates,
            "Cost multipliers by destination prefix, e.g. +1:1,+44:2,+1900:refuse."),
};

#define N_OPTIONS (sizeof options / sizeof options[0])

/* The keys of a `[trunk NAME]` section; offsets into struct fx_conf_trunk. Names are
 * "trunk.key"; a trunk's options are set as "trunk.NAME.key". */
#define TOPT_STR(...) STR_ROW(struct fx_conf_trunk, __VA_ARGS__)
#define TOPT_INT(...) NUM_ROW(struct fx_conf_trunk, CONF_INT, __VA_ARGS__)
static const struct conf_option trunk_options[] = {
    TOPT_STR("trunk.host", host, "127.0.0.1", NULL, &check_host,
             "Proxy/registrar host name or IPv4 address calls are sent to."),
    TOPT_INT("trunk.port", port, "5060", 1, 65535, "Its SIP port."),
    TOPT_STR("trunk.transport", transport, "udp", sip_transports, NULL, "udp or tcp."),
    TOPT_STR("trunk.register", registration, "off", on_off, NULL,
             "on: REGISTER with the trunk and keep the registration refreshed."),
    TOPT_INT("trunk.register_expires", register_expires, "600", 60, 86400,
             "Seconds a registration is asked to last (refreshed before it ends)."),
    TOPT_STR("trunk.username", username, "", NULL, NULL,
             "Digest user name answering 401/407 challenges; empty = no credentials."),
    TOPT_STR("trunk.password", password, "", NULL, NULL, "Digest password."),
    TOPT_STR("trunk.from_user", from_user, "", NULL, NULL,
             "User part of From on outgoing calls; empty = the fax's sender number."),
    TOPT_STR("trunk.display_name", display_name, "", NULL, NULL,
             "Display name of From on outgoing calls; empty = none."),
    TOPT_STR("trunk.pai", pai, "", NULL, NULL,
             "User part of P-Asserted-Identity on outgoing calls; empty = no header."),
    TOPT_INT("trunk.channels", channels, "30", 1, 10000,
             "Calls (in and out) the trunk carries at once."),
    TOPT_STR("trunk.codecs", codecs, "pcma,pcmu", NULL, &check_codecs,
             "G.711 laws offered and accepted, in order of preference."),
    TOPT_STR("trunk.t38", t38, "prefer", t38_modes, NULL,
             "T.38: off (G.711 only), prefer (G.711, switch to T.38 on fax tones), only."),
    TOPT_STR("trunk.number_plus", number_plus, "on", on_off, NULL,
             "on: called numbers are sent as +E.164; off: without the '+'."),
    TOPT_STR("trunk.prefixes", prefixes, "", NULL, &check_prefixes,
             "Destination prefixes this trunk serves, e.g. +1,+44; empty = every number."),
    TOPT_STR("trunk.inbound", inbound, "", NULL, &check_networks,
             "Addresses/networks whose INVITEs are accepted as this trunk's; empty = the host's."),
    TOPT_STR("trunk.inbound_username", inbound_username, "", NULL, NULL,
             "Digest user a peer calling from any other address authenticates as (407 "
             "challenge); its calls are then this trunk's. Empty = none."),
    TOPT_STR("trunk.inbound_password", inbound_password, "", NULL, NULL,
             "Password of inbound_username."),
};
#define N_TRUNK_OPTIONS (sizeof trunk_options / sizeof trunk_options[0])

/* ---- helpers ------------------------------------------------------------------ */

/* why may be NULL or empty: callers that only need the code need not pass a buffer. */
__attribute__((format(printf, 3, 4))) static void set_why(char *why, size_t why_len,
                                                          const char *fmt, ...)
{
    if (!why || why_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

/* Prepends "where: " (or "where:line: ") to the message already in why, so that
 * fx_conf_set can word the option-level message without knowing its source (file line,
 * environment variable). */
static void prefix_why(char *why, size_t why_len, const char *where, unsigned line)
{
    if (!why || why_len == 0) return;
    char *msg = strdup(why);
    if (!msg) return; /* keep the unprefixed message rather than none */
    if (line)
        set_why(why, why_len, "%s:%u: %s", where, line, msg);
    else
        set_why(why, why_len, "%s: %s", where, msg);
    free(msg);
}

/* `base` is the struct a table's offsets point into: struct fx_conf for `options`,
 * one struct fx_conf_trunk for `trunk_options`. */
static char **str_field(void *base, const struct conf_option *o)
{
    return (char **)(void *)((char *)base + o->offset);
}

static int64_t *int_field(void *base, const struct conf_option *o)
{
    return (int64_t *)(void *)((char *)base + o->offset);
}

static const char *str_value(const void *base, const struct conf_option *o)
{
    const char *v = *(char *const *)(const void *)((const char *)base + o->offset);
    return v ? v : "";
}

static int64_t int_value(const void *base, const struct conf_option *o)
{
    return *(const int64_t *)(const void *)((const char *)base + o->offset);
}

static const struct conf_option *find_option(const char *name)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(options[i].name, name) == 0) return &options[i];
    return NULL;
}

/* Length of the "section" part of o's name. */
static size_t section_len(const struct conf_option *o)
{
    return (size_t)(strchr(o->name, '.') - o->name);
}

static bool section_known(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (section_len(&options[i]) == n && strncmp(options[i].name, s, n) == 0) return true;
    return false;
}

/* ---- value parsing ------------------------------------------------------------ */

enum num_result { NUM_OK, NUM_SYNTAX, NUM_OVERFLOW };

/* Plain decimal with an optional sign; with `suffix`, one trailing K, M or G
 * (either case) multiplies by 1024, 1024^2 or 1024^3. Nothing else: no spaces, no
 * hex, no "KB", no fractions, so a typo cannot turn into a surprising number. */
static enum num_result parse_num(const char *s, bool suffix, int64_t *out)
{
    bool neg = *s == '-';
    if (neg) s++;
    if (!isdigit((unsigned char)*s)) return NUM_SYNTAX;
    int64_t v = 0;
    bool overflow = false;
    for (; isdigit((unsigned char)*s); s++) {
        int d = *s - '0';
        if (v > (INT64_MAX - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    static const char units[] = "KMG";
    int shift = 0;
    const char *unit = suffix && *s ? strchr(units, toupper((unsigned char)*s)) : NULL;
    if (unit) {
        shift = 10 * (int)(unit - units + 1);
        s++;
    }
    if (*s) return NUM_SYNTAX;
    if (overflow || v > (INT64_MAX >> shift)) return NUM_OVERFLOW;
    v <<= shift;
    *out = neg ? -v : v;
    return NUM_OK;
}

static enum fx_err set_num(void *c, const struct conf_option *o, const char *value,
                           char *why, size_t why_len)
{
    int64_t v = 0;
    enum num_result r = parse_num(value, o->type == CONF_SIZE, &v);
    if (r == NUM_SYNTAX) {
        set_why(why, why_len, "%s: \"%s\" is not %s", o->name, value,
                o->type == CONF_SIZE ? "a size (digits, optionally followed by K, M or G)"
                                     : "a whole number");
        return FX_ERR_INVALID;
    }
    if (r == NUM_OVERFLOW || v < o->min || v > o->max) {
        set_why(why, why_len, "%s: \"%s\" is out of range %" PRId64 "..%" PRId64, o->name, value,
                o->min, o->max);
        return FX_ERR_INVALID;
    }
    *int_field(c, o) = v;
    return FX_OK;
}

static bool has_control_char(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return true;
    return false;
}

/* Writes "a, b, c" into buf for the "is not one of" message. */
static void join_allowed(const char *const *allowed, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; allowed[i] && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", allowed[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

static enum fx_err set_str(void *c, const struct conf_option *o, const char *value,
                           char *why, size_t why_len)
{
    /* A control character could not be written back by fx_conf_dump (no escapes in
     * our INI) and has no business in any of these values. */
    if (has_control_char(value)) {
        set_why(why, why_len, "%s: value contains a control character", o->name);
        return FX_ERR_INVALID;
    }
    if (o->allowed) {
        bool found = false;
        for (size_t i = 0; o->allowed[i] && !found; i++)
            found = strcmp(o->allowed[i], value) == 0;
        if (!found) {
            char list[256];
            join_allowed(o->allowed, list, sizeof list);
            set_why(why, why_len, "%s: \"%s\" is not one of %s", o->name, value, list);
            return FX_ERR_INVALID;
        }
    }
    if (o->check && !o->check->ok(value)) {
        set_why(why, why_len, "%s: \"%s\" is not %s", o->name, value, o->check->want);
        return FX_ERR_INVALID;
    }
    char *copy = strdup(value);
    if (!copy) {
        set_why(why, why_len, "%s: out of memory", o->name);
        return FX_ERR_NOMEM;
    }
    char **field = str_field(c, o);
    free(*field);
    *field = copy;
    return FX_OK;
}

static bool trunk_name_ok(const char *n, size_t len)
{
    if (len < 1 || len > 31) return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_') return false;
    return true;
}

static void trunk_clear(struct fx_conf_trunk *t)
{
    for (size_t i = 0; i < N_TRUNK_OPTIONS; i++)
        if (trunk_options[i].type == CONF_STR) free(*str_field(t, &trunk_options[i]));
}

/* The trunk called name[0..len), added with its defaults if new. */
static enum fx_err trunk_get(struct fx_conf *c, const char *name, size_t len,
                             struct fx_conf_trunk **out, char *why, size_t why_len)
{
    if (!trunk_name_ok(name, len)) {
        set_why(why, why_len, "trunk name \"%.*s\" is not 1-31 letters, digits, - or _",
                (int)(len > 64 ? 64 : len), name);
        return FX_ERR_INVALID;
    }
    for (int i = 0; i < c->n_trunks; i++)
        if (strlen(c->trunks[i].name) == len && !strncmp(c->trunks[i].name, name, len)) {
            *out = &c->trunks[i];
            return FX_OK;
        }
    struct fx_conf_trunk *grown = realloc(c->trunks, sizeof *grown * (size_t)(c->n_trunks + 1));
    if (!grown) return FX_ERR_NOMEM;
    c->trunks = grown;
    struct fx_conf_trunk *t = &grown[c->n_trunks];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, len);
    c->n_trunks++;
    for (size_t i = 0; i < N_TRUNK_OPTIONS; i++) {
        enum fx_err e = trunk_options[i].type == CONF_STR
                            ? set_str(t, &trunk_options[i], trunk_options[i].def, why, why_len)
                            : set_num(t, &trunk_options[i], trunk_options[i].def, why, why_len);
        if (e) return e;
    }
    *out = t;
    return FX_OK;
}

/* "trunk.NAME.key". */
static enum fx_err trunk_set(struct fx_conf *c, const char *name, const char *value, char *why,
                             size_t why_len)
{
    const char *tn = name + 6, *dot = strchr(tn, '.');
    if (!dot) {
        set_why(why, why_len, "unknown option \"%s\"", name);
        return FX_ERR_INVALID;
    }
    const struct conf_option *o = NULL;
    for (size_t i = 0; i < N_TRUNK_OPTIONS && !o; i++)
        if (!strcmp(trunk_options[i].name + 6, dot + 1)) o = &trunk_options[i];
    if (!o) {
        set_why(why, why_len, "unknown option \"trunk.%s\"", dot + 1);
        return FX_ERR_INVALID;
    }
    struct fx_conf_trunk *t;
    enum fx_err e = trunk_get(c, tn, (size_t)(dot - tn), &t, why, why_len);
    if (e) return e;
    return o->type == CONF_STR ? set_str(t, o, value, why, why_len)
                               : set_num(t, o, value, why, why_len);
}

enum fx_err fx_conf_set(struct fx_conf *c, const char *name, const char *value, char *why,
                        size_t why_len)
{
    if (!c || !name || !value) {
        set_why(why, why_len, "missing option name or value");
        return FX_ERR_INVALID;
    }
    if (!strncmp(name, "trunk.", 6)) return trunk_set(c, name, value, why, why_len);
    const struct conf_option *o = find_option(name);
    if (!o) {
        set_why(why, why_len, "unknown option \"%s\"", name);
        return FX_ERR_INVALID;
    }
    if (o->type == CONF_STR) return set_str(c, o, value, why, why_len);
    return set_num(c, o, value, why, why_len);
}

/* ---- INI file --------------------------------------------------------------------- */

/* Trims surrounding whitespace (including the \r of CRLF files) in place. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* `[name]`: remembers the section after checking that some option lives in it, so a
 * misspelt header is reported on its own line rather than on every key below it. */
static enum fx_err parse_section(char *line, char *section, size_t section_size, char *why,
                                 size_t why_len)
{
    size_t n = strlen(line);
    if (line[n - 1] != ']') {
        set_why(why, why_len, "section header \"%s\" lacks a closing ']'", line);
        return FX_ERR_INVALID;
    }
    line[n - 1] = '\0';
    char *name = trim(line + 1);
    if (!strncmp(name, "trunk", 5) && isspace((unsigned char)name[5])) {
        /* [trunk NAME]: keys below are "trunk.NAME.key". */
        char *tn = trim(name + 6);
        if (!trunk_name_ok(tn, strlen(tn))) {
            set_why(why, why_len, "trunk name \"%s\" is not 1-31 letters, digits, - or _", tn);
            return FX_ERR_INVALID;
        }
        snprintf(section, section_size, "trunk.%s", tn);
        return FX_OK;
    }
    if (!section_known(name) || !fx_strlcpy(section, name, section_size)) {
        set_why(why, why_len, "unknown section [%s]", name);
        return FX_ERR_INVALID;
    }
    return FX_OK;
}

/* `key = value` inside the current section. A value may be wrapped in double quotes to
 * keep surrounding spaces or to write an empty string; there are no escapes, the outer
 * pair is simply removed. */
static enum fx_err parse_assignment(struct fx_conf *c, char *line, const char *section, char *why,
                                    size_t why_len)
{
    char *eq = strchr(line, '=');
    if (!eq) {
        set_why(why, why_len, "\"%s\" is not a section header or key = value", line);
        return FX_ERR_INVALID;
    }
    *eq = '\0';
    char *key = trim(line), *value = trim(eq + 1);
    if (!*key) {
        set_why(why, why_len, "missing option name before '='");
        return FX_ERR_INVALID;
    }
    if (!*section) {
        set_why(why, why_len, "key \"%s\" is outside any [section]", key);
        return FX_ERR_INVALID;
    }
    size_t vn = strlen(value);
    if (value[0] == '"') {
        if (vn < 2 || value[vn - 1] != '"') {
            set_why(why, why_len, "%s.%s: unterminated quoted value", section, key);
            return FX_ERR_INVALID;
        }
        value[vn - 1] = '\0';
        value++;
    }
    char name[256];
    if (snprintf(name, sizeof name, "%s.%s", section, key) >= (int)sizeof name) {
        set_why(why, why_len, "unknown option \"%s.%s\"", section, key);
        return FX_ERR_INVALID;
    }
    return fx_conf_set(c, name, value, why, why_len);
}

static enum fx_err parse_line(struct fx_conf *c, char *raw, char *section, size_t section_size,
                              char *why, size_t why_len)
{
    char *line = trim(raw);
    if (!*line || *line == '#' || *line == ';') return FX_OK;
    if (*line == '[') return parse_section(line, section, section_size, why, why_len);
    return parse_assignment(c, line, section, why, why_len);
}

static enum fx_err load_file(struct fx_conf *c, const char *path, char *why, size_t why_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        set_why(why, why_len, "%s: cannot open: %s", path, strerror(errno));
        return FX_ERR_IO;
    }
    enum fx_err e = FX_OK;
    char *line = NULL, section[64] = "";  /* "http", or "trunk.NAME" */
    size_t cap = 0;
    unsigned lineno = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        char *text = line;
        /* Editors on some systems start files with a UTF-8 byte order mark. */
        if (lineno == 1 && strncmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3;
        e = parse_line(c, text, section, sizeof section, why, why_len);
        if (e) {
            prefix_why(why, why_len, path, lineno);
            goto out;
        }
    }
    if (ferror(f)) {
        set_why(why, why_len, "%s: read error: %s", path, strerror(errno));
        e = FX_ERR_IO;
    }
out:
    free(line);
    fclose(f);
    return e;
}

/* ---- environment ------------------------------------------------------------------- */

/* "http.max_body_bytes" → "FAXD_HTTP_MAX_BODY_BYTES". */
static void env_name(const struct conf_option *o, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "FAXD_%s", o->name);
    for (size_t i = 5; i < n && i < len; i++)
        buf[i] = buf[i] == '.' ? '_' : (char)toupper((unsigned char)buf[i]);
}

static enum fx_err load_env(struct fx_conf *c, char *why, size_t why_len)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        char var[128];
        env_name(&options[i], var, sizeof var);
        const char *v = getenv(var);
        if (!v) continue;
        enum fx_err e = fx_conf_set(c, options[i].name, v, why, why_len);
        if (e) {
            prefix_why(why, why_len, var, 0);
            return e;
        }
    }
    return FX_OK;
}

/* ---- public ---------------------------------------------------------------------- */

/* A caller's digest user names one trunk: it needs a password, and two trunks with the
 * same user would make the trunk its calls belong to a guess. */
static enum fx_err check_inbound_users(const struct fx_conf *c, char *why, size_t why_len)
{
    for (int i = 0; i < c->n_trunks; i++) {
        const struct fx_conf_trunk *t = &c->trunks[i];
        if (!t->inbound_username[0]) continue;
        if (!t->inbound_password[0]) {
            set_why(why, why_len, "trunk.%s.inbound_username is set without inbound_password",
                    t->name);
            return FX_ERR_INVALID;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(c->trunks[j].inbound_username, t->inbound_username)) {
                set_why(why, why_len, "trunk.%s.inbound_username is also trunk %s's", t->name,
                        c->trunks[j].name);
                return FX_ERR_INVALID;
            }
    }
    return FX_OK;
}

enum fx_err fx_conf_load(const char *path, struct fx_conf **out, char *why, size_t why_len)
{
    enum fx_err e = FX_OK;
    struct fx_conf *c = calloc(1, sizeof *c);
    if (!c) {
        set_why(why, why_len, "out of memory");
        return FX_ERR_NOMEM;
    }
    for (size_t i = 0; i < N_OPTIONS; i++) {
        e = fx_conf_set(c, options[i].name, options[i].def, why, why_len);
        if (e) {
            /* A default that fails its own validation is a bug in the table. */
            prefix_why(why, why_len, "built-in default", 0);
            if (e == FX_ERR_INVALID) e = FX_ERR_INTERNAL;
            goto out;
        }
    }
    if (path && (e = load_file(c, path, why, why_len))) goto out;
    if ((e = load_env(c, why, why_len))) goto out;
    if (c->sip_rtp_min > c->sip_rtp_max) {
        set_why(why, why_len, "sip.rtp_port_min is above sip.rtp_port_max");
        e = FX_ERR_INVALID;
        goto out;
    }
    if ((e = check_inbound_users(c, why, why_len))) goto out;
    *out = c;
    c = NULL;
out:
    fx_conf_free(c);
    return e;
}

void fx_conf_dump(const struct fx_conf *c, FILE *f)
{
    fprintf(f, "# faxd configuration: effective values (defaults < file < FAXD_* environment).\n");
    const char *prev = NULL;
    size_t prev_len = 0;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct conf_option *o = &options[i];
        size_t sl = section_len(o);
        if (!prev || sl != prev_len || strncmp(prev, o->name, sl) != 0)
            fprintf(f, "\n[%.*s]\n", (int)sl, o->name);
        prev = o->name;
        prev_len = sl;
        fprintf(f, "# %s\n", o->help);
        /* Strings are always quoted so that empty values and surrounding spaces
         * survive the trip back through fx_conf_load. */
        if (o->type == CONF_STR)
            fprintf(f, "%s = \"%s\"\n", o->name + sl + 1, str_value(c, o));
        else
            fprintf(f, "%s = %" PRId64 "\n", o->name + sl + 1, int_value(c, o));
    }
    for (int t = 0; t < c->n_trunks; t++) {
        fprintf(f, "\n[trunk %s]\n", c->trunks[t].name);
        for (size_t i = 0; i < N_TRUNK_OPTIONS; i++) {
            const struct conf_option *o = &trunk_options[i];
            fprintf(f, "# %s\n", o->help);
            if (o->type == CONF_STR)
                fprintf(f, "%s = \"%s\"\n", o->name + 6, str_value(&c->trunks[t], o));
            else
                fprintf(f, "%s = %" PRId64 "\n", o->name + 6, int_value(&c->trunks[t], o));
        }
    }
}

void fx_conf_free(struct fx_conf *c)
{
    if (!c) return;
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].type == CONF_STR) free(*str_field(c, &options[i]));
    for (int t = 0; t < c->n_trunks; t++)
        trunk_clear(&c->trunks[t]);
    free(c->trunks);
    free(c);
}
