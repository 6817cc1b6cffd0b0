-- faxd schema, version 12: inbound calls in progress (issue 8, scale-out). A row is
-- written when a call is answered, under the fax id its record will take, with a lease
-- the receiving node renews while the call is up; each page is stored (a one-page TIFF
-- blob in rx_pages) as soon as it is complete. The record's transaction removes both.
-- A row whose lease expired was left by a node that died: any node turns its pages into
-- a partially_received record (queue/rx.c).
CREATE TABLE rx_calls (
    id TEXT PRIMARY KEY,
    to_number TEXT NOT NULL,
    from_number TEXT NOT NULL DEFAULT '',
    transport TEXT NOT NULL DEFAULT '',
    line TEXT NOT NULL DEFAULT '',
    started BIGINT NOT NULL,
    pages INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX rx_calls_lease ON rx_calls (lease_until);
CREATE TABLE rx_pages (
    call_id TEXT NOT NULL,
    page INTEGER NOT NULL,
    blob TEXT NOT NULL,
    PRIMARY KEY (call_id, page)
);
