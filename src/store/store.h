/* store: the only code that speaks SQL or touches faxd's files on disk.
 *
 * One handle (struct fx_store, opaque) serves every thread: each thread gets its own
 * database connection on first use. Domain functions below are written once in
 * portable SQL over a small driver interface (store/db.h) that SQLite implements
 * today and PostgreSQL can implement without touching callers.
 *
 * Records are plain value structs: fixed-size fields for short values, and `char *`
 * fields for free text and JSON documents (JSON is kept as text; the API parses it).
 * A record filled by the store owns its `char *` fields: release with the matching
 * fx_store_*_clear(). A record passed *to* the store is borrowed.
 * List functions call a callback per row; the row is borrowed for the call only. */
#ifndef FX_STORE_H
#define FX_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

struct fx_store;

struct fx_store_cfg {
    const char *data_dir; /* borrowed; faxd.db and blobs/ live here */
    const char *driver;   /* "sqlite" or a "postgresql://" connection URI (borrowed) */
    const char *node;     /* this node's name among processes sharing a PostgreSQL store;
                           * NULL = derived from the host name and data_dir */
    int pool;             /* PostgreSQL: most connections open at once (store.pool), lent
                           * to a thread per statement or transaction; 0 = the default.
                           * SQLite ignores it: each thread keeps its own connection */
};
#define FX_STORE_POOL_DEFAULT 8

/* Opens (creating if needed) the store in cfg->data_dir and applies pending
 * migrations. *out is new: close with fx_store_close. */
enum fx_err fx_store_open(const struct fx_store_cfg *cfg, struct fx_store **out);
/* Accepts NULL. Closes every thread's connection: call once no thread uses it. */
void fx_store_close(struct fx_store *s);
/* The PostgreSQL pool: its size, connections open, lent now, most lent at once, and
 * how many borrowers had to wait (all 0 on SQLite). */
struct fx_store_pool_use {
    int size, open, busy, peak, waits;
};
void fx_store_pool_use(struct fx_store *s, struct fx_store_pool_use *out);
/* Latest schema version applied. */
int fx_store_schema_version(struct fx_store *s);
/* A trivial query against the database (a readiness check): FX_OK when it answers. */
enum fx_err fx_store_ping(struct fx_store *s);
/* A stamp of the database as this thread sees it: equal stamps from the same thread
 * mean nothing was committed in between, by anyone. Lets a thread reuse what it
 * rendered from the database (see api/faxes.c). */
struct fx_store_stamp {
    uint64_t v[2];
};
enum fx_err fx_store_stamp(struct fx_store *s, struct fx_store_stamp *out);

/* Several nodes may share a PostgreSQL store. A worker's lease owner id (out, 32 hex)
 * starts with its node's prefix, so that the *_release_leases calls at start-up release
 * only this node's leases (all of them on SQLite, where one process owns the store). */
void fx_store_lease_owner(struct fx_store *s, char out[FX_ID_LEN + 1]);
/* A periodic duty that one node of all sharing the store runs: true when this call
 * claimed `name` until now + period_s (nobody held it past now). */
bool fx_store_duty_claim(struct fx_store *s, const char *name, int64_t now, int64_t period_s);

/* ---- accounts ---- */
#define FX_UID_SIZE (FX_ID_LEN + 1)
struct fx_account {
    char uid[FX_UID_SIZE];
    char account_type[24]; /* individual | corporate_admin | corporate_member */
    char status[24];
    char email[256];
    char name[128];
    char lastname[128];
    char phone[32];
    char profile_image[512];
    char admin_uid[FX_UID_SIZE]; /* members: their admin; else "" */
    char role[128];
    int64_t quota;  /* pages per month a member may send; 0 = no limit */
    int64_t credit; /* balance in pages */
    int64_t created;
    char *account_data;  /* JSON object text */
    char *settings;      /* JSON object text */
    char *notifications; /* JSON object text or "" when never set */
    char paper[8];       /* "a4" | "letter" | "" (the configured default) */
    char resolution[8];  /* "fine" | "normal" | "" (the configured default) */
    char logo_blob[96];  /* the company logo (PNG) for cover pages, or "" */
    bool refuse_anonymous; /* inbound faxes without a caller id are spam */
};
void fx_store_account_clear(struct fx_account *a);
/* Inserts a (uid is generated when empty; written back into a->uid). */
enum fx_err fx_store_account_create(struct fx_store *s, struct fx_account *a);
/* FX_ERR_NOT_FOUND when absent. *out filled on success. */
enum fx_err fx_store_account_get(struct fx_store *s, const char *uid, struct fx_account *out);
/* Writes every mutable column of a (matched by a->uid). */
enum fx_err fx_store_account_update(struct fx_store *s, const struct fx_account *a);
typedef enum fx_err (*fx_store_account_cb)(const struct fx_account *a, void *arg);
/* Members of admin_uid, oldest first. */
enum fx_err fx_store_account_list_members(struct fx_store *s, const char *admin_uid,
                                          fx_store_account_cb cb, void *arg);
/* Every account, oldest first (operators' listing). */
enum fx_err fx_store_account_list_all(struct fx_store *s, fx_store_account_cb cb, void *arg);
/* One ledger row: the change, the balance after it, why, and the fax it was for. */
typedef enum fx_err (*fx_store_ledger_cb)(int64_t delta, int64_t balance, const char *reason,
                                          const char *fax_id, int64_t at, void *arg);
/* Pages of uid's outgoing fax records finished since `since` (a member's monthly quota). */
enum fx_err fx_store_pages_sent(struct fx_store *s, const char *uid, int64_t since,
                                int64_t *pages);
enum fx_err fx_store_ledger_list(struct fx_store *s, const char *uid, fx_store_ledger_cb cb,
                                 void *arg);
/* Adds pages (may be negative) to the balance with a ledger row; *balance (may be NULL)
 * gets the result. Final fax records debit their cost the same way, in their own
 * transaction. */
enum fx_err fx_store_account_credit_add(struct fx_store *s, const char *uid, int64_t pages,
                                        int64_t *balance);

/* ---- tokens: only the SHA-256 of a token is ever stored ---- */
enum { FX_SCOPE_READ = 1, FX_SCOPE_EDIT = 2 };
struct fx_token {
    char id[FX_UID_SIZE];
    char uid[FX_UID_SIZE];
    char hash[65];
    int scopes; /* FX_SCOPE_* bits */
    char name[128];
    int64_t created;
    int64_t revoked; /* 0 = active */
};
enum fx_err fx_store_token_create(struct fx_store *s, struct fx_token *t); /* t->id generated */
/* Looks an active (not revoked) token up by hash; FX_ERR_NOT_FOUND otherwise. */
enum fx_err fx_store_token_find(struct fx_store *s, const char *hash, struct fx_token *out);
/* fx_store_token_find and fx_store_account_get of its owner in one query: what every
 * API request does first. acct owns its strings on success. */
enum fx_err fx_store_token_auth(struct fx_store *s, const char *hash, struct fx_token *tok,
                                struct fx_account *acct);
enum fx_err fx_store_token_revoke(struct fx_store *s, const char *id);
typedef enum fx_err (*fx_store_token_cb)(const struct fx_token *t, void *arg);
enum fx_err fx_store_token_list(struct fx_store *s, const char *uid, fx_store_token_cb cb,
                                void *arg);

/* ---- fax numbers ---- */
struct fx_number {
    char id[FX_UID_SIZE];
    char number[24]; /* E.164 with '+' */
    char owner_id[FX_UID_SIZE];
    char *assigned_to; /* JSON array of uids */
    int64_t acquired;
    char status[24];
    int64_t expires; /* 0 = never */
    bool is_canceled;
    char *notifications; /* JSON array */
};
void fx_store_number_clear(struct fx_number *n);
enum fx_err fx_store_number_create(struct fx_store *s, struct fx_number *n); /* id generated */
enum fx_err fx_store_number_get(struct fx_store *s, const char *number, struct fx_number *out);
/* Writes assigned_to, status, expires, is_canceled, notifications. */
enum fx_err fx_store_number_update(struct fx_store *s, const struct fx_number *n);
typedef enum fx_err (*fx_store_number_cb)(const struct fx_number *n, void *arg);
/* Numbers owned by owner_uid (when owned) or assigned to uid (when !owned). */
enum fx_err fx_store_number_list(struct fx_store *s, const char *uid, bool owned,
                                 fx_store_number_cb cb, void *arg);

/* ---- uploads (documents waiting to be faxed) ---- */
struct fx_upload {
    char path[48]; /* "/transient-<id>" */
    char uid[FX_UID_SIZE];
    char name[256]; /* sanitised file name as sent */
    char mime[128]; /* the MIME type the client claimed */
    char format[8]; /* "pdf" | "tiff" | "" */
    int64_t size;
    char sha256[65];
    char blob[96]; /* blob key */
    int64_t created;
};
enum fx_err fx_store_upload_create(struct fx_store *s, struct fx_upload *u); /* path generated */
enum fx_err fx_store_upload_get(struct fx_store *s, const char *path, struct fx_upload *out);

/* Deletes uploads created before `before` that no outbox record still names, with
 * their blobs. *removed (may be NULL) gets the count. */
enum fx_err fx_store_upload_expire(struct fx_store *s, int64_t before, int *removed);

/* ---- the outbox ---- */
struct fx_outbox {
    char id[FX_UID_SIZE];
    char uid[FX_UID_SIZE];
    char status[24]; /* submitted | converting | scheduled_for_sending | sending */
    char src[256];
    char designated_src[256];
    char *files;          /* JSON array of upload paths */
    char *comment;        /* JSON OutboxComment */
    char *options;        /* JSON OutboxOptions */
    int retry_count;
    int retry_delay;      /* minutes */
    int64_t send_time;    /* 0 = as soon as possible */
    int64_t submit_time;
    int64_t status_time;
    char *status_changes; /* JSON array of {at,status} */
    char *file_changes;   /* JSON array of {at,files:[…]} */
    int page_count;
    char ip[64];
    char *initiated_from; /* JSON object or "" */
    char *cover_page;     /* JSON OutboxCoverPage or "" */
    bool should_enhance;
    char *dests;          /* JSON array of normalised numbers still pending */
    /* What the converter needs, resolved by the API at submit time. */
    char *comment_text;
    char paper[8];        /* a4 | letter */
    char resolution[8];   /* fine | normal */
    char *cover_to, *cover_from, *cover_subject, *cover_message; /* "" = none */
    int cover_flags;      /* FX_COVER_* bits of convert.h */
    char *company;
    char logo_blob[96];   /* the company logo for the cover page, or "" */
    /* Conversion state. */
    char doc_blob[96];    /* the fax TIFF once converted, else "" */
    char lease_owner[FX_UID_SIZE];
    int64_t lease_until;
};
void fx_store_outbox_clear(struct fx_outbox *o);

/* One destination of a send request. */
struct fx_dest {
    char fax_id[FX_UID_SIZE];
    char raw[64];    /* as the client wrote it */
    char number[24]; /* E.164, or "" when it could not be normalised */
};

/* A finished fax: the CDR record (Fax model). */
struct fx_fax {
    char id[FX_UID_SIZE];
    char owner_id[FX_UID_SIZE];
    char direction[12]; /* outgoing | incoming */
    char category[8];   /* sent | inbox | spam */
    char status[48];    /* one of the 23 FaxStatus values */
    int pages;
    char *comment;
    int64_t cost;
    double cost_multiplier;
    char description[512];
    int duration;
    char file[48];      /* file id ("<hex>.tiff") or "" */
    char file_name[128];
    char blob[96];      /* blob key of the TIFF, or "" */
    char from[256];
    char to[64];
    char header[128];
    bool is_read;
    bool is_spam;
    int64_t last_update, scheduled_time, start_time, submit_time, sort_time;
    int max_retry;
    int retry_delay;
    char *cover_page; /* JSON or "" */
    char outbox_id[FX_UID_SIZE];
    /* The last attempt's detail. */
    int attempts;
    char remote_ident[24];
    int bit_rate;
    bool ecm;
    char transport[8];
};
void fx_store_fax_clear(struct fx_fax *f);

/* Creates the outbox record o (id generated) with its documents (upload paths, in
 * order), its destinations (valid ones pending) and, in the same transaction, a final
 * fax record for every entry of `finals` (destinations refused at submit time). When
 * no destination is pending the outbox row is not kept. All arrays are borrowed. */
enum fx_err fx_store_outbox_create(struct fx_store *s, struct fx_outbox *o,
                                   const char *const *files, int n_files,
                                   const struct fx_dest *dests, int n_dests,
                                   const struct fx_fax *finals, int n_finals);
typedef enum fx_err (*fx_store_upload_cb)(const struct fx_upload *u, void *arg);
/* The documents of an outbox record, in order. */
enum fx_err fx_store_outbox_uploads(struct fx_store *s, const char *id, fx_store_upload_cb cb,
                                    void *arg);
typedef enum fx_err (*fx_store_dest_cb)(const struct fx_dest *d, void *arg);
/* The pending destinations of an outbox record, in order. */
enum fx_err fx_store_outbox_dests(struct fx_store *s, const char *id, fx_store_dest_cb cb,
                                  void *arg);
/* Makes this node's conversion leases claimable again: at start-up, they can only belong
 * to a process of this node that died (see fx_store_lease_owner). */
enum fx_err fx_store_outbox_release_leases(struct fx_store *s);
enum fx_err fx_store_outbox_get(struct fx_store *s, const char *id, struct fx_outbox *out);
typedef enum fx_err (*fx_store_outbox_cb)(const struct fx_outbox *o, void *arg);
/* The outbox records of uid, oldest first. */
enum fx_err fx_store_outbox_list(struct fx_store *s, const char *uid, fx_store_outbox_cb cb,
                                 void *arg);
/* Replaces comment (JSON text) and its text while the record is not yet sending:
 * FX_ERR_CONFLICT once sending, FX_ERR_NOT_FOUND when gone. */
enum fx_err fx_store_outbox_set_comment(struct fx_store *s, const char *id, const char *comment,
                                        const char *text);
/* Cancels (removes) the record and its pending destinations unless it is sending. */
enum fx_err fx_store_outbox_cancel(struct fx_store *s, const char *id);
/* Claims the oldest record waiting for conversion — `submitted`, or `converting` with
 * an expired lease (its worker died) — for `owner` until now + lease_s, moving it to
 * `converting`. FX_ERR_NOT_FOUND when there is none. */
enum fx_err fx_store_outbox_claim_convert(struct fx_store *s, const char *owner, int64_t now,
                                          int64_t lease_s, struct fx_outbox *out);
/* Records a finished conversion (the fax TIFF blob and its page count) and moves the
 * record to scheduled_for_sending. FX_ERR_NOT_FOUND when the record was cancelled or
 * claimed by someone else meanwhile (the caller then removes its blob). */
enum fx_err fx_store_outbox_converted(struct fx_store *s, const char *id, const char *owner,
                                      const char *doc_blob, int pages, int64_t now);
/* Ends every pending destination of the record with a final fax record of `status`
 * (e.g. a conversion failure) and removes the record, in one transaction. *n (may be
 * NULL) gets the number of records written. */
enum fx_err fx_store_outbox_fail_all(struct fx_store *s, const char *id, const char *owner,
                                     const char *status, const char *description, int64_t now,
                                     int *n);

/* Moves the record to status at time `at`, appending to status_changes. */
enum fx_err fx_store_outbox_set_status(struct fx_store *s, const char *id, const char *status,
                                       int64_t at);

/* ---- sending: destinations, attempts ---- */

/* One destination claimed for an attempt, with what the dialer needs. */
struct fx_send_job {
    struct fx_dest dest; /* fax_id, raw, number */
    char outbox_id[FX_UID_SIZE];
    char uid[FX_UID_SIZE];
    char src[256];
    char doc_blob[96];
    int page_count;
    int attempt;      /* this attempt's number, 1-based (counted at claim, so a crash counts) */
    int pages_done;   /* pages confirmed by earlier attempts: where this one resumes */
    int retry_count;  /* extra attempts allowed */
    int retry_delay;  /* minutes between attempts */
    int64_t first_start;
};

/* One call, outgoing or incoming, with its call and T.30 detail. */
struct fx_attempt {
    char id[FX_UID_SIZE];
    char fax_id[FX_UID_SIZE];
    char direction[12];   /* outgoing | incoming */
    char number[64];      /* the far end */
    char line[32];        /* which line carried it ("loopback", a trunk name) */
    int64_t started, ended;
    char status[48];      /* the fax status this attempt came to */
    char call_end[24];    /* how the call ended (line.h's names) */
    int sip_code;
    int t30_code;         /* -1 when T.30 never ran */
    char t30_text[128];
    int pages;            /* pages confirmed / received in this attempt */
    int bit_rate;
    bool ecm;
    char transport[8];    /* audio | t38 | "" */
    char remote_ident[24];
};

/* Claims the oldest due destination — its record converted (scheduled_for_sending or
 * sending), due by send_time, the destination's next attempt due, no live lease — for
 * owner until now + lease_s, counting the attempt. The record moves to `sending` on its
 * first claim. FX_ERR_NOT_FOUND when nothing is due. */
enum fx_err fx_store_dest_claim(struct fx_store *s, const char *owner, int64_t now,
                                int64_t lease_s, struct fx_send_job *out);
/* Records attempt a of job and schedules the next attempt at next_at, resuming after
 * pages_done confirmed pages; releases the lease. refund: the attempt does not count
 * against the retry policy (faxd itself ended it, e.g. to stop). */
enum fx_err fx_store_dest_retry(struct fx_store *s, const struct fx_send_job *job,
                                const char *owner, const struct fx_attempt *a, int pages_done,
                                int64_t next_at, bool refund);
/* Keeps the progress of the call in flight durable: pages_done confirmed pages in all,
 * while owner holds the lease. A crash then resumes after them (or, when all pages were
 * confirmed, finishes without dialling again). FX_ERR_NOT_FOUND when the lease was lost. */
enum fx_err fx_store_dest_progress(struct fx_store *s, const struct fx_send_job *job,
                                   const char *owner, int pages_done);
/* What a lease is on: an outbox record being converted, a destination being dialled, an
 * inbound call whose pages are being stored (fx_store_rx_*). */
enum fx_store_lease { FX_STORE_LEASE_CONVERT, FX_STORE_LEASE_DIAL, FX_STORE_LEASE_RX };
/* Renews owner's lease on id (the record's id, the destination's fax id, the inbound
 * call's id) until `until`, while the work goes on. FX_ERR_NOT_FOUND when owner no longer holds it (another worker
 * claimed it after it expired, or the work ended): the owner must then stop trusting
 * its claim. Nodes sharing a store compare leases with their own clocks. */
enum fx_err fx_store_lease_renew(struct fx_store *s, enum fx_store_lease kind, const char *id,
                                 const char *owner, int64_t until);
/* Records the final attempt a of job and writes the destination's fax record (f, whose
 * id is the fax id); removes the outbox record (and its document blob) when this was
 * its last pending destination. FX_ERR_NOT_FOUND when the lease was lost. */
enum fx_err fx_store_dest_finish(struct fx_store *s, const struct fx_send_job *job,
                                 const char *owner, const struct fx_attempt *a,
                                 const struct fx_fax *f);
/* Releases this node's destination leases (at start-up: they belong to a dead process). */
enum fx_err fx_store_dest_release_leases(struct fx_store *s);
/* Records an incoming call's attempt and its fax record in one transaction, which also
 * removes the call's in-progress row (fx_store_rx_*, same id as f) and its pages; their
 * blobs are removed once it committed. */
enum fx_err fx_store_fax_received(struct fx_store *s, const struct fx_attempt *a,
                                  const struct fx_fax *f);

/* ---- inbound calls in progress ----
 * While an inbound call runs, its row holds who called whom and a lease its node renews,
 * and each complete page is a blob (a one-page TIFF) of the call, so that the pages of a
 * node that dies are not lost: once the lease expired any node claims the row and makes
 * the pages a record under the row's id (the fax id chosen when the call began). */
struct fx_rx_call {
    char id[FX_UID_SIZE]; /* the id the fax record takes */
    char to[64], from[64];
    char transport[8];
    char line[32];
    int64_t started;
    int pages;            /* pages stored so far: 1..pages */
    char lease_owner[FX_UID_SIZE];
    int64_t lease_until;
};
/* Inserts the row of a call that was just answered, leased to c->lease_owner until
 * c->lease_until (c->pages is ignored: 0). FX_ERR_CONFLICT when the id exists. */
enum fx_err fx_store_rx_begin(struct fx_store *s, const struct fx_rx_call *c);
/* Adds page `page` (1-based, the next one) of call id as blob and renews the lease to
 * lease_until, while owner holds it. FX_ERR_NOT_FOUND when it does not (the row is gone
 * or another node took it over): the caller then removes its blob. */
enum fx_err fx_store_rx_page(struct fx_store *s, const char *id, const char *owner, int page,
                             const char *blob, int64_t lease_until);
/* (The lease of call id is renewed with fx_store_lease_renew, FX_STORE_LEASE_RX.) */
/* Claims the oldest row whose lease expired before now (its node died, or released it)
 * for owner until now + lease_s; *out gets it. FX_ERR_NOT_FOUND when there is none. Two
 * nodes never claim one row at once. */
enum fx_err fx_store_rx_claim(struct fx_store *s, const char *owner, int64_t now,
                              int64_t lease_s, struct fx_rx_call *out);
/* The page blobs of call id, in page order (blob borrowed for the call). */
typedef enum fx_err (*fx_store_rx_page_cb)(int page, const char *blob, void *arg);
enum fx_err fx_store_rx_pages(struct fx_store *s, const char *id, fx_store_rx_page_cb cb,
                              void *arg);
/* Removes call id's row and pages (a call that ended with nothing to keep, or whose
 * record exists); then their blobs. A missing row is not an error. */
enum fx_err fx_store_rx_end(struct fx_store *s, const char *id);
/* Makes this node's rows claimable at once (at start-up: they belong to a process of
 * this node that died; all of them on SQLite). */
enum fx_err fx_store_rx_release_leases(struct fx_store *s);
typedef enum fx_err (*fx_store_attempt_cb)(const struct fx_attempt *a, void *arg);
/* The attempts of a fax, oldest first. */
enum fx_err fx_store_attempt_list(struct fx_store *s, const char *fax_id, fx_store_attempt_cb cb,
                                  void *arg);

/* ---- idempotency keys ---- */
struct fx_idem {
    char request[96];  /* "POST /accounts/{user_id}/outbox" as the route names it */
    char body_sha256[65];
    int status;
    char *response;    /* the JSON answered the first time */
};
void fx_store_idem_clear(struct fx_idem *i);
/* The answer kept for (uid, key) if younger than `since`; FX_ERR_NOT_FOUND otherwise. */
enum fx_err fx_store_idem_get(struct fx_store *s, const char *uid, const char *key,
                              int64_t since, struct fx_idem *out);
/* Claims (uid, key) for a request in progress (status 0), replacing an entry older than
 * `since`. FX_ERR_CONFLICT when a live entry exists (another request has the key). */
enum fx_err fx_store_idem_put(struct fx_store *s, const char *uid, const char *key,
                              const struct fx_idem *i, int64_t now, int64_t since);
/* Records the answer of the request that claimed (uid, key). */
enum fx_err fx_store_idem_done(struct fx_store *s, const char *uid, const char *key, int status,
                               const char *response);
/* Forgets (uid, key): the request failed, so the client may try again with it. */
enum fx_err fx_store_idem_delete(struct fx_store *s, const char *uid, const char *key);

/* ---- finished fax records ---- */
/* Inserts f as is (id must be set). */
enum fx_err fx_store_fax_create(struct fx_store *s, const struct fx_fax *f);
/* Inserts f as a finished fax: with its cost debited and its webhook deliveries, in one
 * transaction (what every path that finishes a fax does). */
enum fx_err fx_store_fax_finish(struct fx_store *s, const struct fx_fax *f);
enum fx_err fx_store_fax_get(struct fx_store *s, const char *id, struct fx_fax *out);
/* Finds the record whose `file` value equals file. */
enum fx_err fx_store_fax_get_by_file(struct fx_store *s, const char *file, struct fx_fax *out);
struct fx_fax_query {
    const char *owner_id;
    const char *category; /* NULL = sent + inbox */
    int64_t after;        /* exclusive; 0 = unbounded */
    int64_t before;       /* exclusive; 0 = unbounded */
    int limit;
};
typedef enum fx_err (*fx_store_fax_cb)(const struct fx_fax *f, void *arg);
/* Newest first by sort_time (then id). */
enum fx_err fx_store_fax_list(struct fx_store *s, const struct fx_fax_query *q,
                              fx_store_fax_cb cb, void *arg);
/* Sets comment (when non-NULL) and/or is_read (when is_read >= 0); bumps last_update. */
enum fx_err fx_store_fax_update(struct fx_store *s, const char *id, const char *comment,
                                int is_read, int64_t now);
/* Deletes the record and, once that committed, its image blob. */
enum fx_err fx_store_fax_delete(struct fx_store *s, const char *id);
/* Marks an incoming fax as spam (category spam) or not (category inbox). */
enum fx_err fx_store_fax_set_spam(struct fx_store *s, const char *id, bool spam, int64_t now);

/* ---- spam: each account's blocked caller numbers ---- */
enum fx_err fx_store_block_add(struct fx_store *s, const char *uid, const char *number);
enum fx_err fx_store_block_remove(struct fx_store *s, const char *uid, const char *number);
/* Replaces the whole list (numbers: n borrowed strings). */
enum fx_err fx_store_block_set(struct fx_store *s, const char *uid, const char *const *numbers,
                               int n);
bool fx_store_block_has(struct fx_store *s, const char *uid, const char *number);
typedef enum fx_err (*fx_store_text_cb)(const char *text, void *arg);
enum fx_err fx_store_block_list(struct fx_store *s, const char *uid, fx_store_text_cb cb,
                                void *arg);

/* ---- the web interface: passwords, sessions, failed sign-ins ---- */
/* Sets uid's password hash (an encoded Argon2id string; "" = no password) and ends the
 * account's sessions, in one transaction. FX_ERR_NOT_FOUND when there is no account. */
enum fx_err fx_store_password_set(struct fx_store *s, const char *uid, const char *hash);
/* The oldest account whose e-mail is email (ASCII case ignored): its uid and password
 * hash (hash[FX_PASSWORD_HASH_SIZE], "" when it has none). FX_ERR_NOT_FOUND otherwise. */
enum fx_err fx_store_password_find(struct fx_store *s, const char *email,
                                   char uid[FX_UID_SIZE], char *hash);
struct fx_session {
    char hash[65];  /* SHA-256 (hex) of the session id the browser holds */
    char uid[FX_UID_SIZE];
    char csrf[65];  /* the token state-changing requests must echo */
    int64_t created, expires;
    char ip[64];
};
enum fx_err fx_store_session_create(struct fx_store *s, const struct fx_session *se);
/* The session with this hash that has not expired at now, and its account, in one
 * query. FX_ERR_NOT_FOUND otherwise. acct owns its strings on success. */
enum fx_err fx_store_session_auth(struct fx_store *s, const char *hash, int64_t now,
                                  struct fx_session *se, struct fx_account *acct);
/* Ends one session (signing out); a missing one is not an error. */
enum fx_err fx_store_session_delete(struct fx_store *s, const char *hash);
/* Deletes sessions that expired before now. */
enum fx_err fx_store_session_expire(struct fx_store *s, int64_t now);
/* Failed sign-ins of one subject ("account:<email>", "address:<ip>"): counts a failure
 * (a count older than `window` seconds starts again); at `max` failures the subject is
 * locked until now + lock_s. *locked_until gets the lock's end (0 = not locked). */
enum fx_err fx_store_login_failed(struct fx_store *s, const char *subject, int64_t now,
                                  int64_t window, int max, int64_t lock_s,
                                  int64_t *locked_until);
/* When subject is locked at now, *locked_until gets the end of the lock, else 0. */
enum fx_err fx_store_login_locked(struct fx_store *s, const char *subject, int64_t now,
                                  int64_t *locked_until);
/* Forgets subject's failures (after a successful sign-in). */
enum fx_err fx_store_login_clear(struct fx_store *s, const char *subject);

/* ---- webhooks ---- */
struct fx_hook {
    char id[FX_UID_SIZE];
    char uid[FX_UID_SIZE];
    char target[2048];
    char event[16];
    int64_t created;
};
enum fx_err fx_store_hook_create(struct fx_store *s, struct fx_hook *h); /* id generated */
enum fx_err fx_store_hook_get(struct fx_store *s, const char *id, struct fx_hook *out);
typedef enum fx_err (*fx_store_hook_cb)(const struct fx_hook *h, void *arg);
enum fx_err fx_store_hook_list(struct fx_store *s, const char *uid, const char *event,
                               fx_store_hook_cb cb, void *arg);
/* Also ends the hook's pending deliveries (failed, "hook deleted"). */
enum fx_err fx_store_hook_delete(struct fx_store *s, const char *id);

/* ---- webhook deliveries (notify/) ----
 * A delivery is written in the same transaction as the final fax record that causes it:
 * one per hook of the record's owner whose event matches (outgoing records → fax_sent,
 * incoming non-spam records → fax_received). The store keeps ids only; notify builds
 * the payload from the fax record when it sends. */
#define FX_WEBHOOK_SECRET_SIZE 72 /* "whsec_" + 64 hex + NUL, with room */
struct fx_delivery {
    char id[FX_UID_SIZE];
    char hook_id[FX_UID_SIZE];
    char uid[FX_UID_SIZE];
    char fax_id[FX_UID_SIZE];
    char event[16];     /* fax_sent | fax_received */
    char target[2048];  /* the hook's target when the event happened */
    int attempts;       /* attempts made (finished) */
    int64_t next_at;    /* when the next attempt is due */
    char state[12];     /* pending | done | failed */
    int last_status;    /* HTTP status of the last attempt, 0 = no answer */
    char last_error[256];
    int64_t created;
    int64_t delivered;  /* 0 = not delivered */
};
/* The account's webhook signing secret into out, generating and storing it when the
 * account has none yet (accounts created before schema 6). FX_ERR_NOT_FOUND when the
 * account does not exist. */
enum fx_err fx_store_account_webhook_secret(struct fx_store *s, const char *uid,
                                            char out[FX_WEBHOOK_SECRET_SIZE]);
/* Claims the oldest due pending delivery (next_at <= now, no live lease) for owner until
 * now + lease_s. FX_ERR_NOT_FOUND when none is due. */
enum fx_err fx_store_delivery_claim(struct fx_store *s, const char *owner, int64_t now,
                                    int64_t lease_s, struct fx_delivery *out);
/* Records one finished attempt of a claimed delivery and releases its lease: state is
 * "done" (delivered at now), "pending" (retry at next_at) or "failed" (given up).
 * http_status 0 = no HTTP answer; error (may be NULL) explains a failure.
 * FX_ERR_NOT_FOUND when owner no longer holds the lease. */
enum fx_err fx_store_delivery_attempted(struct fx_store *s, const char *id, const char *owner,
                                        const char *state, int http_status, const char *error,
                                        int64_t now, int64_t next_at);
/* Claims up to max due deliveries at once (one transaction), oldest first, into out[];
 * *n gets how many. FX_ERR_NOT_FOUND when none is due. */
enum fx_err fx_store_delivery_claim_many(struct fx_store *s, const char *owner, int64_t now,
                                         int64_t lease_s, int max, struct fx_delivery *out,
                                         int *n);
/* One finished attempt, for fx_store_delivery_attempted_many (fields as in
 * fx_store_delivery_attempted; strings borrowed). */
struct fx_delivery_result {
    const char *id, *state;
    int http_status;
    const char *error;
    int64_t now, next_at;
};
/* Records n finished attempts in one transaction; a row whose lease owner no longer
 * holds is skipped. */
enum fx_err fx_store_delivery_attempted_many(struct fx_store *s, const char *owner,
                                             const struct fx_delivery_result *v, int n);
/* Releases this node's delivery leases (at start-up: they belong to a dead process). */
enum fx_err fx_store_delivery_release_leases(struct fx_store *s);
typedef enum fx_err (*fx_store_delivery_cb)(const struct fx_delivery *d, void *arg);
/* The deliveries of a hook, newest first, at most limit. */
enum fx_err fx_store_delivery_list(struct fx_store *s, const char *hook_id, int limit,
                                   fx_store_delivery_cb cb, void *arg);

/* ---- blobs: documents and fax images, written durably before acknowledgement ----
 * A writer streams into a temporary file in blobs/tmp; commit fsyncs it, renames it
 * to its final key and fsyncs the directory, so a committed blob survives a crash.
 * Keys look like "ab/abcdef…" and are relative to <data_dir>/blobs. */
struct fx_blob_writer;
/* *out is new: finish with fx_blob_commit or fx_blob_abort (both free it). */
enum fx_err fx_blob_begin(struct fx_store *s, struct fx_blob_writer **out);
enum fx_err fx_blob_write(struct fx_blob_writer *w, const void *data, size_t n);
/* Bytes written so far. */
int64_t fx_blob_size(const struct fx_blob_writer *w);
/* Makes the blob durable; key[96] and sha256[65] receive its key and digest. Frees w. */
enum fx_err fx_blob_commit(struct fx_blob_writer *w, const char *suffix, char key[96],
                           char sha256[65]);
/* Discards the data. Accepts NULL. Frees w. */
void fx_blob_abort(struct fx_blob_writer *w);
/* Copies a whole file into a new blob (used by operators' imports). */
enum fx_err fx_blob_put_file(struct fx_store *s, const char *src_path, const char *suffix,
                             char key[96], char sha256[65], int64_t *size);
/* A second name for a blob (a hard link: no copy), so records sharing one document can
 * each be deleted on their own. new_key[96] gets its key. */
enum fx_err fx_blob_link(struct fx_store *s, const char *key, const char *suffix,
                         char new_key[96]);
/* Deletes a blob that no record names (e.g. one written for a request that then
 * failed). A missing blob is not an error. The store itself removes the blobs of the
 * records it deletes. */
enum fx_err fx_blob_remove(struct fx_store *s, const char *key);
/* Removes the blobs whose records were deleted but which a crash (or a failing store)
 * kept from being removed; returns how many. For housekeeping. */
int fx_blob_trash_empty(struct fx_store *s);
/* Removes the blobs that no record names once they are age_s old (written or linked
 * that long ago; a crash between a blob's commit and its record's leaves such a blob);
 * returns how many. Removes none, and logs why, when more than 10 and more than a tenth
 * of the old blobs are unnamed (a database replaced or restored beside its blobs). Holds
 * every key in memory (~100 bytes each) for the pass: housekeeping runs it once a day. */
int fx_blob_orphans_remove(struct fx_store *s, int64_t age_s);
/* Drops this node's copies of database blobs (PostgreSQL) and derived files unused for
 * a day, at most once an hour. For the housekeeping of every node. */
void fx_blob_sweep(struct fx_store *s);
/* Where this node caches a file derived from a blob (e.g. a page image): out[out_len]
 * gets <data_dir>/blobs/cache/derived/<key>.<variant>, its directory made. A key always
 * names the same bytes, so a derived file never goes stale: write it once (to a
 * temporary name beside it, then rename), and serve it while it exists. Removing the
 * blob removes this node's derived files; fx_blob_sweep drops those unused for a day
 * (a cache hit should touch the file's mtime). variant: letters, digits, '-', '.'. */
enum fx_err fx_blob_derived_path(struct fx_store *s, const char *key, const char *variant,
                                 char *out, size_t out_len);
/* Absolute path of a blob into out[out_len]: its file, or (PostgreSQL) a local copy
 * fetched from the database on first use. */
enum fx_err fx_blob_path(struct fx_store *s, const char *key, char *out, size_t out_len);

/* ---- trunk channels, counted across every node sharing the store ----
 * A call up on a trunk holds a claim on one of its channels: a row whose lease the
 * call's thread renews, so a dead node's calls stop counting once it runs out. */

/* Takes one of `limit` channels of trunk (its configured name, the same on every node)
 * until `until`; claim (out, 32 hex) names it and, by its first 8 hex, this node.
 * limit <= 0 counts the call without refusing it (an inbound call: the carrier placed
 * it already). FX_ERR_UNAVAILABLE when `limit` live claims exist. */
enum fx_err fx_store_channel_take(struct fx_store *s, const char *trunk, int64_t limit,
                                  int64_t now, int64_t until, char claim[FX_ID_LEN + 1]);
/* Moves the claim's lease to until; FX_ERR_NOT_FOUND when it is gone. */
enum fx_err fx_store_channel_renew(struct fx_store *s, const char *claim, int64_t until);
/* The call is over: its channel is free for every node. */
enum fx_err fx_store_channel_give(struct fx_store *s, const char *claim);
/* Live claims of trunk at now, from every node. */
enum fx_err fx_store_channel_count(struct fx_store *s, const char *trunk, int64_t now,
                                   int64_t *out);
/* At start: drops the claims this node left (a crash), like the other release_leases. */
enum fx_err fx_store_channel_release_leases(struct fx_store *s);
/* Gives a claimed destination back untouched: it was not dialled (no trunk had a free
 * channel), so the claim's attempt does not count; due again at next_at.
 * FX_ERR_NOT_FOUND when owner no longer holds its lease. */
enum fx_err fx_store_dest_unclaim(struct fx_store *s, const struct fx_send_job *job,
                                  const char *owner, int64_t next_at);

#endif
