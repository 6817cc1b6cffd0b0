-- faxd schema, version 4: sending and receiving. Each destination of an outbox record
-- keeps its own attempts, next due time, resume point and lease; every attempt (out or
-- in) is a row with its call and T.30 detail; fax records show the last attempt's
-- detail and carry the fax image.

ALTER TABLE outbox_dests ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_dests ADD COLUMN next_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox_dests ADD COLUMN pages_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_dests ADD COLUMN first_start BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox_dests ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox_dests ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX outbox_dests_due ON outbox_dests (state, next_at);

CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    fax_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    number TEXT NOT NULL,
    line TEXT NOT NULL DEFAULT '',
    started BIGINT NOT NULL,
    ended BIGINT NOT NULL,
    status TEXT NOT NULL,
    call_end TEXT NOT NULL DEFAULT '',
    sip_code INTEGER NOT NULL DEFAULT 0,
    t30_code INTEGER NOT NULL DEFAULT -1,
    t30_text TEXT NOT NULL DEFAULT '',
    pages INTEGER NOT NULL DEFAULT 0,
    bit_rate INTEGER NOT NULL DEFAULT 0,
    ecm INTEGER NOT NULL DEFAULT 0,
    transport TEXT NOT NULL DEFAULT '',
    remote_ident TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_fax ON attempts (fax_id, started);

ALTER TABLE faxes ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE faxes ADD COLUMN remote_ident TEXT NOT NULL DEFAULT '';
ALTER TABLE faxes ADD COLUMN bit_rate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE faxes ADD COLUMN ecm INTEGER NOT NULL DEFAULT 0;
ALTER TABLE faxes ADD COLUMN transport TEXT NOT NULL DEFAULT '';
