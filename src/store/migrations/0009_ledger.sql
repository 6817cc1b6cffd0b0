-- faxd schema, version 9: the credit ledger. Every debit (a fax's cost) and credit (an
-- operator's top-up) is a row with the balance after it.
CREATE TABLE ledger (
    id TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    delta BIGINT NOT NULL,
    balance BIGINT NOT NULL,
    reason TEXT NOT NULL,
    fax_id TEXT NOT NULL DEFAULT '',
    created BIGINT NOT NULL
);
CREATE INDEX ledger_uid ON ledger (uid, created);
