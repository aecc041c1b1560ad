-- Times are Unix milliseconds (UTC). Every row belongs to one account (one API key).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    plan       TEXT NOT NULL,
    -- SHA-256 of the key. Keys are 192-bit random strings, so a fast hash is enough.
    key_hash   BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE instances (
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    instance_id  TEXT NOT NULL,
    label        TEXT NOT NULL,
    status       TEXT NOT NULL,
    phone        TEXT,
    -- Pacing: the earliest time this number may send again (shared by every replica).
    next_send_at INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, instance_id)
);

CREATE TABLE groups (
    account_id   INTEGER NOT NULL,
    instance_id  TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    name         TEXT NOT NULL,
    name_lower   TEXT NOT NULL,
    participants INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, instance_id, group_id)
);
CREATE INDEX groups_by_name ON groups (account_id, instance_id, name_lower);

CREATE TABLE channels (
    id          TEXT PRIMARY KEY,
    account_id  INTEGER NOT NULL,
    instance_id TEXT NOT NULL,
    jid         TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    subscribers INTEGER NOT NULL,
    is_admin    INTEGER NOT NULL,
    invite_link TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (account_id, instance_id, jid)
);

CREATE TABLE queue (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL,
    instance_id     TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    -- 'group' | 'phone' | 'community' | 'channel'
    recipient_kind  TEXT NOT NULL,
    content         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    lease_until     INTEGER,
    next_attempt_at INTEGER NOT NULL,
    schedule_id     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    delivered_at    INTEGER,
    read_at         INTEGER
);
CREATE INDEX queue_due ON queue (status, next_attempt_at);
CREATE INDEX queue_by_account ON queue (account_id, id);

-- What the sandbox transport "sent": the outbox developers read back.
CREATE TABLE outbox (
    queue_id    INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL,
    instance_id TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    content     TEXT NOT NULL,
    sent_at     INTEGER NOT NULL
);
CREATE INDEX outbox_by_instance ON outbox (account_id, instance_id, queue_id);

CREATE TABLE schedules (
    id          TEXT PRIMARY KEY,
    account_id  INTEGER NOT NULL,
    instance_id TEXT NOT NULL,
    -- The CreateScheduleRequest as JSON: one shape for every recipient and content kind.
    spec        TEXT NOT NULL,
    next_run_at INTEGER,
    last_run_at INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_run_at);

-- Webhook events, written in the same transaction as the change that raised them.
-- payload is the exact JSON that is signed and sent.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL UNIQUE,
    account_id  INTEGER NOT NULL,
    event_type  TEXT NOT NULL,
    payload     BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    -- 0 until the delivery worker has fanned it out to the account's webhooks.
    dispatched  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_undispatched ON events (dispatched, seq);
