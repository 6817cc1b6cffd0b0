-- faxd schema, version 1: accounts, tokens, numbers, uploads, the outbox with its
-- destinations, finished fax records and webhooks. Portable SQL (SQLite and PostgreSQL):
-- TEXT ids, BIGINT unix-second timestamps, JSON kept as TEXT and parsed by the API.

CREATE TABLE accounts (
    uid TEXT PRIMARY KEY,
    account_type TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    email TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    lastname TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    profile_image TEXT NOT NULL DEFAULT '',
    admin_uid TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT '',
    quota BIGINT NOT NULL DEFAULT 0,
    credit BIGINT NOT NULL DEFAULT 0,
    account_data TEXT NOT NULL DEFAULT '{}',
    settings TEXT NOT NULL DEFAULT '{}',
    notifications TEXT NOT NULL DEFAULT '',
    created BIGINT NOT NULL
);
CREATE INDEX accounts_admin ON accounts (admin_uid);

CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    uid TEXT NOT NULL REFERENCES accounts (uid),
    hash TEXT NOT NULL UNIQUE,
    scopes INTEGER NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    created BIGINT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tokens_uid ON tokens (uid);

CREATE TABLE numbers (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    owner_id TEXT NOT NULL REFERENCES accounts (uid),
    assigned_to TEXT NOT NULL DEFAULT '[]',
    acquired BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    expires BIGINT NOT NULL DEFAULT 0,
    is_canceled INTEGER NOT NULL DEFAULT 0,
    notifications TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX numbers_owner ON numbers (owner_id);

CREATE TABLE uploads (
    path TEXT PRIMARY KEY,
    uid TEXT NOT NULL REFERENCES accounts (uid),
    name TEXT NOT NULL,
    mime TEXT NOT NULL,
    format TEXT NOT NULL DEFAULT '',
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    blob TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX uploads_uid ON uploads (uid);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    uid TEXT NOT NULL REFERENCES accounts (uid),
    status TEXT NOT NULL,
    src TEXT NOT NULL,
    designated_src TEXT NOT NULL DEFAULT '',
    dests TEXT NOT NULL,
    files TEXT NOT NULL,
    comment TEXT NOT NULL,
    options TEXT NOT NULL,
    retry_count INTEGER NOT NULL,
    retry_delay INTEGER NOT NULL,
    send_time BIGINT NOT NULL DEFAULT 0,
    submit_time BIGINT NOT NULL,
    status_time BIGINT NOT NULL,
    status_changes TEXT NOT NULL,
    file_changes TEXT NOT NULL,
    page_count INTEGER NOT NULL DEFAULT 0,
    ip TEXT NOT NULL DEFAULT '',
    initiated_from TEXT NOT NULL DEFAULT '',
    cover_page TEXT NOT NULL DEFAULT '',
    should_enhance INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX outbox_uid ON outbox (uid, submit_time);
CREATE INDEX outbox_status ON outbox (status, send_time);

-- One row per destination of an outbox record: the fax id handed out by return_ids.
CREATE TABLE outbox_dests (
    fax_id TEXT PRIMARY KEY,
    outbox_id TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    raw TEXT NOT NULL,
    number TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
);
CREATE INDEX outbox_dests_outbox ON outbox_dests (outbox_id, idx);

CREATE TABLE faxes (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES accounts (uid),
    direction TEXT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    pages INTEGER NOT NULL DEFAULT 0,
    comment TEXT NOT NULL DEFAULT '',
    cost BIGINT NOT NULL DEFAULT 0,
    cost_multiplier DOUBLE PRECISION NOT NULL DEFAULT 1,
    description TEXT NOT NULL DEFAULT '',
    duration INTEGER NOT NULL DEFAULT 0,
    file TEXT NOT NULL DEFAULT '',
    file_name TEXT NOT NULL DEFAULT '',
    blob TEXT NOT NULL DEFAULT '',
    src TEXT NOT NULL DEFAULT '',
    dst TEXT NOT NULL DEFAULT '',
    header TEXT NOT NULL DEFAULT '',
    is_read INTEGER NOT NULL DEFAULT 0,
    is_spam INTEGER NOT NULL DEFAULT 0,
    last_update BIGINT NOT NULL,
    scheduled_time BIGINT NOT NULL DEFAULT 0,
    start_time BIGINT NOT NULL DEFAULT 0,
    submit_time BIGINT NOT NULL DEFAULT 0,
    sort_time BIGINT NOT NULL,
    max_retry INTEGER NOT NULL DEFAULT 0,
    retry_delay INTEGER NOT NULL DEFAULT 0,
    cover_page TEXT NOT NULL DEFAULT '',
    outbox_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX faxes_list ON faxes (owner_id, category, sort_time);
CREATE INDEX faxes_file ON faxes (file);

CREATE TABLE hooks (
    id TEXT PRIMARY KEY,
    uid TEXT NOT NULL REFERENCES accounts (uid),
    target TEXT NOT NULL,
    event TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX hooks_uid ON hooks (uid, event);
