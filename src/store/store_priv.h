/* store (private): the store handle and the helpers shared by the store's files:
 * store.c (connections, queries, transactions, open and migrate), the record files by
 * domain (accounts.c, outbox.c, faxes.c, hooks.c) and the blob store (blob.c,
 * blob_db.c). */
#ifndef FX_STORE_PRIV_H
#define FX_STORE_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"

struct conn_node;

struct fx_store {
    const struct fx_db_ops *ops;
    char data_dir[4096];
    char target[4096];      /* what the driver opens: data_dir or the connection URI */
    bool blobs_in_db;       /* blobs in the database (PostgreSQL), else files */
    char node[9];           /* this node's lease-owner prefix (8 hex) */
    char own_leases[16];    /* LIKE pattern of the leases a start-up releases */
    int64_t cache_swept;    /* when fx_blob_sweep last ran (blob_db.c's lock) */
    char blob_dir[4200];
    pthread_key_t key;      /* the struct fx_db this thread holds */
    pthread_key_t depth;    /* this thread's nested holds (an intptr_t) */
    pthread_mutex_t mu;     /* guards conns and the pool below */
    pthread_cond_t freed;   /* a pooled connection came back */
    struct conn_node *conns;
    int pool;               /* most connections open; 0 = one per thread, kept (SQLite) */
    struct fx_db **idle;    /* pool: connections not lent, n_idle of them */
    int n_idle, n_open, n_busy, peak, waits;
    int schema_version;
};

/* A blob being written: to a file in blobs/tmp, or in chunks to the database. */
struct fx_blob_writer {
    struct fx_store *s;
    int fd;
    char tmp[4400];
    char data_id[FX_ID_LEN + 1]; /* database: the content row being filled */
    unsigned char *buf;          /* database: the chunk being filled */
    size_t used;
    int seq;                     /* database: chunks written */
    int64_t size;
    struct fx_sha256 sha;
};

/* Creates blobs/ and blobs/tmp, and removes temporaries left by a crash. */
enum fx_err fx_blob_init(struct fx_store *s);
/* "ab/<id><suffix>" for a new blob into key[96]. */
void fx_blob_new_key(const char *suffix, char key[96]);

/* The database blob store (blob_db.c), used when s->blobs_in_db. */
enum fx_err fx_blob_db_init(struct fx_store *s);
enum fx_err fx_blob_db_begin(struct fx_blob_writer *w);
enum fx_err fx_blob_db_write(struct fx_blob_writer *w, const void *data, size_t n);
enum fx_err fx_blob_db_commit(struct fx_blob_writer *w, const char *key);
void fx_blob_db_abort(struct fx_blob_writer *w);
enum fx_err fx_blob_db_path(struct fx_store *s, const char *key, char *out, size_t out_len);
enum fx_err fx_blob_db_remove(struct fx_store *s, const char *key);
enum fx_err fx_blob_db_link(struct fx_store *s, const char *key, const char *new_key);

/* store.c's helpers: a connection held by this thread (from the pool on PostgreSQL)
 * from fx_store_hold until the matching fx_store_let_go — holds nest, so a call made
 * while one statement or transaction is open uses the same connection; one
 * statement without rows (types as q_start: t text, i int64, n int, d double);
 * a write transaction (holds from tx_begin to tx_end; tx_end commits when e is FX_OK,
 * else rolls back; returns the outcome). */
enum fx_err fx_store_hold(struct fx_store *s, struct fx_db **out);
void fx_store_let_go(struct fx_store *s);
enum fx_err fx_store_run(struct fx_store *s, int64_t *changed, const char *sql,
                         const char *types, ...);
enum fx_err fx_store_tx_begin(struct fx_store *s);
enum fx_err fx_store_tx_end(struct fx_store *s, enum fx_err e);
const char *fx_store_data_dir(struct fx_store *s);
#define q_run fx_store_run
#define tx_begin fx_store_tx_begin
#define tx_end fx_store_tx_end
/* A claim's transaction (db.h's begin_claim): its SELECT ends with FOR UPDATE SKIP
 * LOCKED. Ended by fx_store_tx_end. */
enum fx_err fx_store_tx_begin_claim(struct fx_store *s);

/* The query helper: q_start binds by a type string (as fx_store_run) and holds the
 * connection until q_end; q_step gives FX_DB_ROW, FX_DB_DONE or a negative fx_err;
 * qt and qi read a row's columns (qt's text is the statement's until the next step). */
struct q {
    struct fx_store *s;
    struct fx_db *db; /* held from fx_store_q_start to q_end */
    struct fx_db_stmt *st;
};

enum fx_err fx_store_q_start(struct fx_store *s, struct q *q, const char *sql,
                             const char *types, ...);
#define q_start fx_store_q_start
/* One statement's first column of its first row, as an integer (out may be NULL: does a
 * row exist?): FX_OK, or FX_ERR_NOT_FOUND when there is no row. */
enum fx_err fx_store_q_int(struct fx_store *s, int64_t *out, const char *sql,
                           const char *types, ...);
#define q_int fx_store_q_int

static inline int q_step(struct q *q)
{
    return q->s->ops->step(q->st);
}

static inline void q_end(struct q *q)
{
    q->s->ops->stmt_done(q->st);
    fx_store_let_go(q->s);
}

static inline const char *qt(struct q *q, int i)
{
    return q->s->ops->col_text(q->st, i);
}

static inline int64_t qi(struct q *q, int i)
{
    return q->s->ops->col_int(q->st, i);
}

/* A lookup's outcome from its step: FX_OK for a row, FX_ERR_NOT_FOUND for none, else the
 * step's error. */
static inline enum fx_err q_found(int rc)
{
    return rc == FX_DB_ROW ? FX_OK : rc == FX_DB_DONE ? FX_ERR_NOT_FOUND : (enum fx_err)-rc;
}

/* Copies a column's text (NULL as "") into a fixed-size field, truncating. */
static inline void cp(char *dst, size_t size, const char *src)
{
    fx_strlcpy(dst, src ? src : "", size);
}
#define CP(field, text) cp((field), sizeof(field), (text))

static inline const char *nz(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

/* Helpers one record file lends another; each runs inside the caller's transaction. */
/* accounts.c: moves uid's credit by delta and writes its ledger row (balance: the new
 * credit, may be NULL). */
enum fx_err fx_store_ledger_move(struct fx_store *s, const char *uid, int64_t delta,
                                 const char *reason, const char *fax_id, int64_t *balance);
/* hooks.c: a new account's webhook signing secret, "whsec_" and 64 hex. */
void fx_store_webhook_secret_new(char out[FX_WEBHOOK_SECRET_SIZE]);
/* hooks.c: inserts a final fax record, debits its cost and adds its webhook deliveries. */
enum fx_err fx_store_fax_create_notify(struct fx_store *s, const struct fx_fax *f);
/* blob.c: inside the transaction that deletes a blob's last record, notes its key
 * (empty: nothing); after the commit fx_store_blob_purge removes the blob and the note.
 * A purge that fails leaves the note for fx_blob_trash_empty. */
enum fx_err fx_store_blob_drop(struct fx_store *s, const char *key);
enum fx_err fx_store_blob_purge(struct fx_store *s, const char *key);
/* outbox.c: moves an outbox record to status, appending to its status history. */
enum fx_err fx_store_outbox_status_append(struct fx_store *s, const char *id,
                                          const char *status, int64_t at);

#endif
