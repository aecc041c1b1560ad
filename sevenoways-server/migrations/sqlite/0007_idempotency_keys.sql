-- Idempotency-Key: the first answer to a request, kept under the key it came with.
-- Times are Unix milliseconds (UTC), as in 0001.
--
-- A row is inserted in the same transaction as the effect it answers for (the queue
-- insert of a send, the insert of an instance, ...), never on its own: a row exists if
-- and only if the effect committed, so a retry after a crash between the commit and the
-- answer finds the answer, and a retry after a crash before the commit runs again.
-- The primary key is the claim: of two requests with one key, on one process or on two,
-- the second insert finds the first's row and its transaction rolls back.
CREATE TABLE idempotency_keys (
    account_id  INTEGER NOT NULL,
    key         TEXT NOT NULL,
    -- What the key was first used for, to tell a retry from a different request (422).
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    body_sha256 BLOB NOT NULL,
    -- The answer, replayed as it was sent.
    status      INTEGER NOT NULL,
    body        BLOB NOT NULL,
    -- 1 when the answer shows a webhook signing secret (POST /api/webhooks and
    -- /rotate-secret: a lost answer's retry must get it). With SEVENOWAYS_SECRETS_KEY set
    -- such a body is kept sealed here and `body` is empty, as for the webhooks table's
    -- secrets (sealed, re-sealed and checked at startup with them).
    holds_secret INTEGER NOT NULL DEFAULT 0,
    body_sealed BLOB,
    created_at  INTEGER NOT NULL,
    -- Past this the key is free again (`[idempotency] ttl_secs`); pruned hourly.
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
