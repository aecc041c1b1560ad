-- The claim takes each webhook's due deliveries ORDER BY next_attempt_at, created_at.
-- With created_at in the index, that order is read straight off it and the LIMIT stops
-- the read; without it, every delivery sharing a next_attempt_at (all of one fan-out
-- batch) was read and sorted on each claim.
CREATE INDEX webhook_deliveries_due_in_order
    ON webhook_deliveries (webhook_id, status, next_attempt_at, created_at);
DROP INDEX webhook_deliveries_due_by_webhook;
-- No query reads deliveries by status alone any more (the claim goes by webhook and
-- lease, retention by `status != 'pending'`, which no index serves), and the planner
-- chose this index over the id for the claim: every insert and outcome paid for it.
DROP INDEX webhook_deliveries_due;
