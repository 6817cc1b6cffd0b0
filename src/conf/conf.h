/* conf: faxd's configuration. One option table (conf.c) drives parsing of the INI
 * file, FAXD_* environment overrides, defaults, validation and --dump-config.
 *
 * Option names are "section.key" ("http.port"); in the INI file they are written as
 * `[http]` then `port = 8080`; the environment override is FAXD_HTTP_PORT.
 * Precedence: default < file < environment. */
#ifndef FX_CONF_H
#define FX_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

/* One SIP trunk: a `[trunk NAME]` section. Strings owned like fx_conf's. */
struct fx_conf_trunk {
    char name[32];           /* the section's NAME: letters, digits, '-', '_' */
    char *host;              /* trunk.host: proxy/registrar host or IPv4 address (required) */
    int64_t port;            /* trunk.port */
    char *transport;         /* trunk.transport: udp | tcp */
    char *registration;      /* trunk.register: on | off */
    int64_t register_expires;/* trunk.register_expires: seconds asked for */
    char *username;          /* trunk.username: digest user ("" = no credentials) */
    char *password;          /* trunk.password */
    char *from_user;         /* trunk.from_user: From user part ("" = the fax's number) */
    char *display_name;      /* trunk.display_name: From display name */
    char *pai;               /* trunk.pai: P-Asserted-Identity user ("" = none) */
    int64_t channels;        /* trunk.channels: concurrent calls in and out */
    char *codecs;            /* trunk.codecs: "pcma,pcmu" in order of preference */
    char *t38;               /* trunk.t38: off | prefer | only */
    char *number_plus;       /* trunk.number_plus: on | off: '+' in the called user part */
    char *prefixes;          /* trunk.prefixes: "+1,+44" or "" = every number */
    char *inbound;           /* trunk.inbound: addresses/networks allowed to call us */
    char *inbound_username;  /* trunk.inbound_username: digest user a peer calling from an
                              * address outside `inbound` authenticates as ("" = none) */
    char *inbound_password;  /* trunk.inbound_password: its password (never logged) */
};

/* The parsed configuration. Plain values; strings are owned by the struct and freed
 * by fx_conf_free. Every field has exactly one row in conf.c's option table. */
struct fx_conf {
    /* [general] */
    char *data_dir;         /* general.data_dir: everything faxd writes lives here */
    char *log_level;        /* general.log_level: debug|info|warn|error */
    char *default_country;  /* general.default_country_code: digits added to national numbers */
    /* [http] */
    char *http_address;     /* http.address: IPv4 address to listen on */
    int64_t http_port;      /* http.port */
    int64_t http_threads;   /* http.threads: worker threads serving requests */
    int64_t http_max_body;  /* http.max_body_bytes: cap for JSON request bodies */
    int64_t http_max_header;/* http.max_header_bytes: cap for request line + headers */
    int64_t http_timeout;   /* http.connection_timeout: idle seconds before a connection closes */
    int64_t http_rate_limit;/* http.rate_limit: requests per second per token, 0 = off */
    char *public_url;       /* http.public_url: base URL printed to users ("" = derived) */
    char *web_dir;          /* http.web_dir: the web interface's files ("" = found) */
    int64_t session_ttl;    /* http.session_ttl: seconds a web sign-in lasts */
    /* [store] */
    char *store_driver;     /* store.driver: sqlite or a postgresql:// URI */
    char *store_node;       /* store.node: this node's name ("" = host name and data_dir) */
    int64_t store_pool;     /* store.pool: PostgreSQL connections open at most */
    int64_t store_lease;    /* store.lease: seconds a claim on a conversion or call lasts unrenewed */
    /* [fax] */
    int64_t max_files;      /* fax.max_files: files per fax (Fax.Plus: 10) */
    int64_t max_fax_bytes;  /* fax.max_bytes: total bytes of a fax's files and of one upload */
    int64_t max_destinations; /* fax.max_destinations: destinations per send (Fax.Plus: 4000) */
    int64_t default_retry_count; /* fax.retry_count: extra attempts when a send names none */
    int64_t default_retry_delay; /* fax.retry_delay: minutes between attempts by default */
    int64_t upload_ttl;     /* fax.upload_ttl: seconds an unused upload is kept */
    char *paper;            /* fax.paper: a4 | letter, unless the account chooses */
    char *resolution;       /* fax.resolution: fine | normal, unless the account chooses */
    /* [convert] */
    int64_t convert_workers;    /* convert.workers: conversions at once */
    int64_t convert_timeout;    /* convert.timeout: seconds per converter program */
    int64_t convert_mem;        /* convert.memory_limit: RLIMIT_AS of the engines */
    int64_t convert_lo_mem;     /* convert.office_memory_limit: LibreOffice recycle RSS */
    int64_t convert_lo_docs;    /* convert.office_max_documents: LibreOffice recycle count */
    int64_t convert_max_pages;  /* convert.max_pages: page cap per fax */
    int64_t convert_max_pixels; /* convert.max_image_pixels: pixel cap per image */
    char *libexec_dir;          /* convert.libexec_dir: faxd-cover, lo_helper.py */
    char *prog_gs, *prog_mutool, *prog_qpdf, *prog_soffice, *prog_python; /* programs */
    /* [line] */
    int64_t line_channels;      /* line.channels: calls at once */
    char *line_speed;           /* line.loopback_speed: accelerated | realtime */
    char *line_transport;       /* line.loopback_transport: audio | t38 */
    char *line_ecm;             /* line.ecm: on | off */
    char *line_sandbox_prefix;  /* line.sandbox_prefix: "" = no sandbox */
    int64_t line_no_media;      /* line.no_media_timeout: seconds */
    int64_t line_max_call;      /* line.max_call: seconds */
    char *line_call_log;        /* line.call_log: file every placed call is appended to */
    /* [sip] */
    int64_t sip_port;           /* sip.port: 0 = SIP off */
    char *sip_address;          /* sip.address: IPv4 address SIP and media bind to */
    char *sip_public_address;   /* sip.public_address: address written in SDP/Contact ("" = address) */
    int64_t sip_rtp_min, sip_rtp_max; /* sip.rtp_port_min/max: media ports */
    int64_t sip_media_threads;  /* sip.media_threads */
    int64_t sip_media_priority; /* sip.media_priority: SCHED_RR priority, 0 = normal */
    int64_t sip_jitter_ms;      /* sip.jitter_ms */
    int64_t sip_t38_redundancy; /* sip.t38_redundancy: copies of each IFP packet */
    int64_t sip_ring_timeout;   /* sip.ring_timeout: seconds before CANCEL */
    int64_t sip_session_expires;/* sip.session_expires: session timer, 0 = off */
    char *sip_user_agent;       /* sip.user_agent */
    char *sip_auth_realm;       /* sip.auth_realm: realm of faxd's digest challenges */
    /* [trunk NAME] sections, in file order */
    struct fx_conf_trunk *trunks;
    int n_trunks;
    /* [billing] */
    char *billing_enforce;      /* billing.enforce: on | off */
    char *billing_rates;        /* billing.rates: "+PREFIX:MULT,…" ("" = all 1) */
    /* [webhook] */
    char *webhook_allow_private; /* webhook.allow_private: on | off (loopback, private, link-local targets) */
    int64_t webhook_retry_base;  /* webhook.retry_base: seconds before the first retry (doubling) */
};

/* Loads defaults, then `path` (NULL = no file; a missing file is an error when named),
 * then FAXD_* variables from the environment. On failure returns FX_ERR_INVALID and
 * writes a message naming the option (and file line) into why[why_len].
 * On success *out is new: free with fx_conf_free.
 * Other codes: FX_ERR_IO when the named file cannot be opened or read (why names the
 * file), FX_ERR_NOMEM. why may be NULL (why_len 0); a long message is truncated.
 * Messages look like `/etc/faxd.conf:12: http.port: "70000" is out of range 1..65535`
 * or `FAXD_HTTP_PORT: http.port: ...`. */
enum fx_err fx_conf_load(const char *path, struct fx_conf **out, char *why, size_t why_len);

/* Sets one option by its "section.key" name from text, with full validation.
 * Trunk options are named "trunk.NAME.key"; the first one names a new trunk.
 * Used by the loader and by tests. On FX_ERR_INVALID (unknown name, bad value) the
 * previous value is kept and why names the option. */
enum fx_err fx_conf_set(struct fx_conf *c, const char *name, const char *value, char *why,
                        size_t why_len);

/* Writes every option as an INI file (sections, `key = value`, a comment with its help
 * text) to f: the effective configuration after file and environment. */
void fx_conf_dump(const struct fx_conf *c, FILE *f);

/* Accepts NULL. */
void fx_conf_free(struct fx_conf *c);

#endif
