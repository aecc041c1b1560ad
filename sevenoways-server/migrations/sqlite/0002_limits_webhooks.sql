-- Rate limits, message caps, webhook subscriptions and their deliveries.
-- Times are Unix milliseconds (UTC), as in 0001.

-- The send rate limit's sliding window log: one row per admitted send request, kept
-- for a minute. Shared by every replica on this database.
CREATE TABLE rate_window (
    account_id INTEGER NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX rate_window_by_account ON rate_window (account_id, at);

-- Messages counted against the caps, per account and period ('d2026-03-29', 'm2026-03',
-- in the plan's time zone).
CREATE TABLE usage_counters (
    account_id INTEGER NOT NULL,
    period     TEXT NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (account_id, period)
);

CREATE TABLE webhooks (
    id         TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL,
    url        TEXT NOT NULL,
    -- JSON array of event names; empty means every event.
    events     TEXT NOT NULL,
    -- The HMAC key. Stored as given because the server must sign with it (a hash would
    -- not do); it is returned only by the create call and never logged.
    secret     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX webhooks_by_account ON webhooks (account_id, created_at);

-- One event to one subscription: created by the fan-out, updated by every attempt.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL,
    account_id      INTEGER NOT NULL,
    event_id        TEXT NOT NULL,
    -- 'pending' | 'succeeded' | 'failed' (gave up)
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    -- A worker holds the delivery until then; expired leases are due again.
    lease_until     INTEGER,
    give_up_at      INTEGER NOT NULL,
    response_code   INTEGER,
    latency_ms      INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at);

-- Every attempt of every delivery.
CREATE TABLE webhook_attempts (
    delivery_id   TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    response_code INTEGER,
    latency_ms    INTEGER NOT NULL,
    error         TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
