-- The claim takes each ready number's oldest due entry. It found them through
-- `queue_due`, which holds every queued entry of every number in time order, so a claim
-- cost as much as the whole backlog. Per number, in id order, only while queued: the
-- claim reads one entry per number (past any waiting for a retry), whatever the backlog.
CREATE INDEX queue_next ON queue (account_id, instance_id, id) WHERE status = 'queued';
