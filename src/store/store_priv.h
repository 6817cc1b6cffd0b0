/* store (private): the store handle, shared by store.c and blob.c. */
#ifndef FX_STORE_PRIV_H
#define FX_STORE_PRIV_H

#include <pthread.h>

#include "store/db.h"
#include "store/store.h"

struct conn_node;

struct fx_store {
    const struct fx_db_ops *ops;
    char data_dir[4096];
    char blob_dir[4200];
    pthread_key_t key;      /* this thread's struct fx_db */
    pthread_mutex_t mu;     /* guards conns */
    struct conn_node *conns;
    int schema_version;
};

/* Creates blobs/ and blobs/tmp, and removes temporaries left by a crash. */
enum fx_err fx_blob_init(struct fx_store *s);
const char *fx_store_data_dir(struct fx_store *s);

#endif
