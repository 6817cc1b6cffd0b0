-- faxd schema, version 10: the web interface. Each account's password (an Argon2id
-- string; '' = cannot sign in), browser sessions (only the SHA-256 of a session id is
-- kept, with its CSRF token) and recent failed sign-ins per account and per address.
ALTER TABLE accounts ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_uid ON sessions (uid);
CREATE INDEX sessions_expires ON sessions (expires);
CREATE TABLE login_failures (
    subject TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
