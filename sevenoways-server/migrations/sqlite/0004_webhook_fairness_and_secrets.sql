-- Webhook delivery that one tenant cannot starve, and secrets that can be rotated and
-- sealed at rest. Times are Unix milliseconds (UTC), as in 0001.

-- Secrets at rest. With SEVENOWAYS_SECRETS_KEY set, `secret_sealed` holds the secret
-- sealed with it (XChaCha20-Poly1305: version byte, 24-byte nonce, ciphertext and tag)
-- and `secret` is ''. Without the key, `secret` holds it as before and the sealed column
-- is NULL. See docs/security.md.
ALTER TABLE webhooks ADD COLUMN secret_sealed BLOB;
-- The secret before the last rotation: it signs as well until `previous_expires_at`.
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_sealed BLOB;
ALTER TABLE webhooks ADD COLUMN previous_expires_at INTEGER;

-- The circuit breaker: consecutive failed attempts, since when, and how long the endpoint
-- rests before the next probe.
ALTER TABLE webhooks ADD COLUMN failure_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN failing_since INTEGER;
ALTER TABLE webhooks ADD COLUMN paused_until INTEGER;
-- Disabled after a long failure streak; nothing is delivered until it is enabled again.
ALTER TABLE webhooks ADD COLUMN disabled_at INTEGER;
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
-- Fair claiming: the endpoint served longest ago goes first.
ALTER TABLE webhooks ADD COLUMN last_claimed_at INTEGER NOT NULL DEFAULT 0;

-- A subscription's due deliveries, oldest first (the claim reads a few per endpoint).
CREATE INDEX webhook_deliveries_due_by_webhook
    ON webhook_deliveries (webhook_id, status, next_attempt_at);
-- Attempts in flight (leased), to count them per endpoint and per account.
CREATE INDEX webhook_deliveries_leased
    ON webhook_deliveries (lease_until) WHERE lease_until IS NOT NULL;

-- `POST /api/webhooks/:id/test` and `.../redeliver` calls per key in the last minute.
CREATE TABLE webhook_manual_calls (
    account_id INTEGER NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX webhook_manual_calls_by_account ON webhook_manual_calls (account_id, at);
