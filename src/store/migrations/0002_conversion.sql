-- faxd schema, version 2: conversion. The API resolves everything the converter needs
-- into plain columns at submit time (page size, resolution, cover page text), so no
-- module but the API parses JSON; the converted fax image and the worker's lease are
-- kept on the outbox record.

ALTER TABLE accounts ADD COLUMN paper TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN resolution TEXT NOT NULL DEFAULT '';

ALTER TABLE outbox ADD COLUMN comment_text TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN paper TEXT NOT NULL DEFAULT 'a4';
ALTER TABLE outbox ADD COLUMN resolution TEXT NOT NULL DEFAULT 'fine';
ALTER TABLE outbox ADD COLUMN cover_to TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN cover_from TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN cover_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN cover_message TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN cover_flags INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN company TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN doc_blob TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;

CREATE INDEX outbox_claim ON outbox (status, lease_until);

-- The documents of an outbox record in order (the API's `files` array, as rows).
CREATE TABLE outbox_files (
    outbox_id TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (outbox_id, idx)
);
