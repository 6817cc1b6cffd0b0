-- faxd schema, version 8: spam. Each account's blocked caller numbers, and whether it
-- treats faxes without a caller id as spam.
CREATE TABLE blocklist (
    uid TEXT NOT NULL,
    number TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (uid, number)
);
ALTER TABLE accounts ADD COLUMN refuse_anonymous INTEGER NOT NULL DEFAULT 0;
