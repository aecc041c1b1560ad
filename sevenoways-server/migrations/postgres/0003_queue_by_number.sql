-- The claim takes each ready number's oldest due entry. It found them through
-- `queue_due`, which holds every queued entry of every number in time order, so a claim
-- cost as much as the whole backlog. Per number, in id order, only while queued: the
-- claim reads one entry per number (past any waiting for a retry), whatever the backlog.
CREATE INDEX queue_next ON queue (account_id, instance_id, id) WHERE status = 'queued';

-- The sandbox's receipt clock reads the entries that wait for a receipt number by number,
-- only those of group and phone sends. It read them by status, so every entry that never
-- gets one (a channel's, a community's, another engine's) was read on every tick, twice a
-- second, for as long as retention keeps it.
CREATE INDEX queue_awaiting_sent ON queue (account_id, instance_id, sent_at)
    WHERE status = 'sent' AND recipient_kind IN ('group', 'phone');
CREATE INDEX queue_awaiting_delivered ON queue (account_id, instance_id, delivered_at)
    WHERE status = 'delivered' AND recipient_kind IN ('group', 'phone');
