-- API keys apart from accounts, so an account can have two live keys while a rotation's
-- grace period runs, and keys can be revoked. Times are Unix milliseconds (UTC).
--
-- accounts.key_hash stays (a UNIQUE column cannot be dropped in SQLite): it is the hash of
-- the account's first key and is no longer read; api_keys is what authenticates.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL,
    -- SHA-256 of the key; the key itself is never stored.
    key_hash     BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    -- Set on the old key by `keys rotate`: it works until then.
    expires_at   INTEGER,
    revoked_at   INTEGER,
    -- Written at most once a minute per key, so it costs no write per request.
    last_used_at INTEGER
);
CREATE INDEX api_keys_by_account ON api_keys (account_id);

INSERT INTO api_keys (account_id, key_hash, created_at)
    SELECT id, key_hash, created_at FROM accounts;

ALTER TABLE accounts ADD COLUMN revoked_at INTEGER;

-- Increased by every revocation and rotation. Each server polls it a few times a second
-- and drops its cache of authenticated keys when it changes, so a revoked key is refused
-- by every process on this database within a second.
CREATE TABLE key_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO key_generation (id, generation) VALUES (1, 0);
