/* store (private): the numbered schema migrations compiled from store/migrations/NNNN_name.sql. */
#ifndef FX_STORE_MIGRATIONS_H
#define FX_STORE_MIGRATIONS_H

struct fx_migration {
    int version;       /* from the file name's leading number */
    const char *name;  /* file name without .sql */
    const char *sql;   /* the whole file; may hold several statements */
};

/* Sorted by version, terminated by a row with version 0. */
extern const struct fx_migration fx_migrations[];

#endif
