-- faxd schema, version 13: trunk channels in use, counted across every node sharing the
-- store, so a trunk's `channels` holds for the cluster. One row per call up on a trunk
-- (named as in the configuration); `claim` is a lease owner id whose first 8 hex name
-- the node, and the call's thread renews `until` while the call lasts, so a dead node's
-- calls stop counting once their lease runs out.
CREATE TABLE channels (
    claim TEXT PRIMARY KEY,
    trunk TEXT NOT NULL,
    until BIGINT NOT NULL
);
CREATE INDEX channels_trunk ON channels (trunk, until);
