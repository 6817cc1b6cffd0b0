-- faxd schema, version 14: blobs whose last record is gone. The transaction that deletes
-- a record (a finished outbox's document, a deleted fax's image, an expired upload, the
-- pages of an inbound call now stored as one fax) notes the record's blob here; the blob
-- is removed after the commit and its note with it. A crash between the two leaves the
-- note, and the housekeeping pass removes the blob then, so nothing is left on disk or
-- in the database that no record points to.
CREATE TABLE blob_trash (
    key TEXT PRIMARY KEY,
    since BIGINT NOT NULL
);
