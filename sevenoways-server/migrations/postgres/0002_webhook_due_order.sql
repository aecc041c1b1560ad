-- As SQLite's 0010: the claim's ORDER BY next_attempt_at, created_at read off the index.
CREATE INDEX webhook_deliveries_due_in_order
    ON webhook_deliveries (webhook_id, status, next_attempt_at, created_at);
DROP INDEX webhook_deliveries_due_by_webhook;
