-- The web console (src/console): its sessions, in the database so that every server on
-- it shares them, and failed sign-ins per client, for the sign-in limit.

CREATE TABLE console_sessions (
    -- SHA-256 of the cookie's random token: the database never holds a usable cookie.
    token_hash BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL,
    -- The API key the session signed in with, sealed (XChaCha20-Poly1305) under a key
    -- derived from the cookie's token: only a request carrying the cookie can open it.
    -- Every request authenticates with it exactly as the API does, so a revoked or
    -- expired key ends its sessions.
    sealed_key BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_by_account ON console_sessions (account_id, created_at);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);

-- Failed sign-ins in the last minute, per client address (a minute of rows at most).
CREATE TABLE console_sign_in_failures (
    client TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX console_sign_in_failures_by_client ON console_sign_in_failures (client, at);
CREATE INDEX console_sign_in_failures_by_time ON console_sign_in_failures (at);
