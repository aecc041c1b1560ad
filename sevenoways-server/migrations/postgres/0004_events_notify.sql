-- Every replica's webhook delivery loop hears when events commit (Store::events_committed)
-- rather than finding them at its next poll. A notification raised in a transaction is
-- delivered to every listener when the transaction commits, and not at all if it rolls
-- back; one per transaction however many rows it inserted (a statement-level trigger, and
-- Postgres folds identical notifications of one transaction).
CREATE FUNCTION sevenoways_events_committed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('sevenoways_events', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_committed AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION sevenoways_events_committed();
