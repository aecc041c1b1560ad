-- Which engine serves each instance, and the random reference its QR links carry.
-- Times are Unix milliseconds (UTC), as in 0001.

-- 'sandbox' | 'waha' | 'meta'. Every instance made before engines existed is a sandbox one.
ALTER TABLE instances ADD COLUMN engine TEXT NOT NULL DEFAULT 'sandbox';

-- 128 random bits, made with the instance. QR links name it instead of the account id and
-- are signed over it, so a link dies with its instance: one re-created under the same id
-- gets a new reference. Existing instances get theirs here; their old links, which named
-- the account, stop working.
ALTER TABLE instances ADD COLUMN qr_ref TEXT NOT NULL DEFAULT '';
UPDATE instances SET qr_ref = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX instances_by_qr_ref ON instances (qr_ref);
