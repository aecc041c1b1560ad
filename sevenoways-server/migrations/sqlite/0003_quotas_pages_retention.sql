-- Issue 9 (one tenant must not stall the others): schedules that pause after repeated
-- runs over the plan's cap, and the indexes behind quotas, pagination and retention.
-- Times are Unix milliseconds (UTC), as in 0001.

-- Runs skipped in a row for a message cap; at the plan's `schedule_pause_after` the
-- schedule is paused (next_run_at NULL) until POST /api/schedules/{id}/resume.
ALTER TABLE schedules ADD COLUMN skipped_runs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN paused_at INTEGER;
ALTER TABLE schedules ADD COLUMN pause_reason TEXT;

-- Lists are read a page at a time in (created_at, id) order per account, and quotas
-- count per account, from these.
CREATE INDEX instances_by_account ON instances (account_id, created_at, instance_id);
CREATE INDEX channels_by_account ON channels (account_id, created_at, id);
CREATE INDEX schedules_by_account ON schedules (account_id, created_at, id);

-- Retention prunes finished queue entries and outbox rows older than retention_days.
-- The partial index holds only finished entries, so it costs the hot queued/sending
-- path nothing; the pruning query repeats its WHERE exactly, which SQLite requires.
CREATE INDEX queue_finished ON queue (updated_at)
    WHERE status IN ('sent', 'delivered', 'read', 'failed');
CREATE INDEX outbox_by_time ON outbox (sent_at);
