-- faxd schema, version 6: webhook deliveries. One row per (final fax record, matching
-- hook of its owner), written in the same transaction as the record; notify/ claims due
-- rows with a lease, POSTs them and records the outcome. The target is copied so a
-- delivery goes where the hook pointed when the event happened. Each account gets a
-- secret that signs its deliveries (generated at creation, or on first use for accounts
-- created before this version).
ALTER TABLE accounts ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    hook_id TEXT NOT NULL,
    uid TEXT NOT NULL,
    fax_id TEXT NOT NULL,
    event TEXT NOT NULL,
    target TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', -- pending | done | failed
    last_status INTEGER NOT NULL DEFAULT 0, -- HTTP status of the last attempt, 0 = none
    last_error TEXT NOT NULL DEFAULT '',
    created BIGINT NOT NULL,
    delivered BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_due ON deliveries (state, next_at);
CREATE INDEX deliveries_hook ON deliveries (hook_id, created);
