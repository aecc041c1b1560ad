-- The real engines (WAHA, Meta's Cloud API): how an instance is known to its engine, the
-- engine's message ids of our queue entries, receipts that came before we knew whose they
-- were, and the engine events already handled. Times are Unix milliseconds (UTC), as in 0001.

-- How the engine names the number: the WAHA session, or the Meta phone number id. NULL for
-- sandbox instances. Unique per engine: engines' webhooks are routed by it.
ALTER TABLE instances ADD COLUMN engine_ref TEXT;
CREATE UNIQUE INDEX instances_by_engine_ref ON instances (engine, engine_ref)
    WHERE engine_ref IS NOT NULL;
-- The WAHA session's webhook HMAC key, made by the relay: the relay verifies WAHA's
-- signatures with it, so a hash would not do. Like webhook secrets (0004), it is sealed with
-- SEVENOWAYS_SECRETS_KEY into engine_secret_sealed when that key is set (engine_secret is
-- then NULL), and kept as given in engine_secret when it is not. Never logged, never in an
-- answer.
ALTER TABLE instances ADD COLUMN engine_secret TEXT;
ALTER TABLE instances ADD COLUMN engine_secret_sealed BLOB;

-- The engine's id of a message we sent (WAHA's message id, Meta's wamid), per instance: how
-- receipts find their queue entry. Several ids may name one entry (a pre-generated id, then
-- the one the engine answered with).
CREATE TABLE engine_messages (
    account_id  INTEGER NOT NULL,
    instance_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    queue_id    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, instance_id, provider_id)
);
CREATE INDEX engine_messages_by_queue ON engine_messages (queue_id);

-- Receipts not applied yet: the entry was still being sent (the receipt overtook the
-- send's answer), or the id was not known yet. Applied when the send is recorded; pruned
-- after a day. level: 1 sent (the engine has it), 2 delivered, 3 read; failed is separate.
CREATE TABLE engine_receipts (
    account_id  INTEGER NOT NULL,
    instance_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    level       INTEGER NOT NULL,
    failed      TEXT,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, instance_id, provider_id)
);
CREATE INDEX engine_receipts_by_age ON engine_receipts (received_at);

-- Engine events already applied (WAHA's event id, an inbound message id), so a redelivery
-- changes nothing. Pruned after a day: engines stop retrying long before.
CREATE TABLE engine_events (
    engine      TEXT NOT NULL,
    event_key   TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (engine, event_key)
);
CREATE INDEX engine_events_by_age ON engine_events (received_at);
