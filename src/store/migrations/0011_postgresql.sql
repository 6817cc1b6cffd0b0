-- faxd schema, version 11: one schema for SQLite and PostgreSQL. The ledger keeps its
-- order in a per-account sequence number (PostgreSQL has no rowid; rows already written
-- are numbered by time, then id). Blobs may live in the database, as a PostgreSQL store
-- keeps them so that nodes share no filesystem: each content is a row with its chunks
-- in order, and keys name contents (a linked blob is a second key for one content).
ALTER TABLE ledger ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE ledger SET seq = (SELECT COUNT(*) FROM ledger l WHERE l.uid = ledger.uid AND
    (l.created < ledger.created OR (l.created = ledger.created AND l.id <= ledger.id)));
CREATE INDEX ledger_seq ON ledger (uid, seq);

CREATE TABLE blob_data (
    id TEXT PRIMARY KEY,
    size BIGINT NOT NULL DEFAULT 0,
    sha256 TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0, -- 0 while being written; swept when old
    created BIGINT NOT NULL
);
CREATE TABLE blob_chunks (
    data_id TEXT NOT NULL REFERENCES blob_data (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (data_id, seq)
);
CREATE TABLE blobs (
    blob_key TEXT PRIMARY KEY,
    data_id TEXT NOT NULL REFERENCES blob_data (id),
    created BIGINT NOT NULL
);
CREATE INDEX blobs_data ON blobs (data_id);

-- Periodic duties that one node of all sharing the store runs (fx_store_duty_claim).
CREATE TABLE duties (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL DEFAULT '',
    until BIGINT NOT NULL DEFAULT 0
);
