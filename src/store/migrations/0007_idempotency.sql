-- faxd schema, version 7: Idempotency-Key. The first answer to a POST carrying a key is
-- kept for 24 hours with a hash of what was sent; a repeat with the same key and body
-- gets the same answer and creates nothing.
CREATE TABLE idempotency (
    uid TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (uid, idem_key)
);
CREATE INDEX idempotency_created ON idempotency (created);
