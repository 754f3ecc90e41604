-- Up Migration

-- Each claim of push deliveries gets an id of its own, held while the row is
-- leased and cleared when the lease ends (settled, or dropped by a token move),
-- and a settle records only where the row still carries its claim's id. The
-- attempt count could not fence alone: a refused credential gives an attempt
-- back and a retried dead letter starts again at 0, so a stale worker's attempt
-- number can come round again on another worker's lease. The settle then needs
-- no `state = 'leased'` test, whose statistics (stale, near 0 after a burst is
-- queued) planned it as a nested loop over the unnest (~180 ms for 400 rows).
ALTER TABLE push_deliveries ADD COLUMN lease_id uuid;
-- Deliveries leased when this runs belong to no claim a new worker holds: their leases run out and they are claimed again.
UPDATE push_deliveries SET lease_id = gen_random_uuid() WHERE state = 'leased';
ALTER TABLE push_deliveries ADD CONSTRAINT push_deliveries_lease_while_leased CHECK ((state = 'leased') = (lease_id IS NOT NULL));

-- Down Migration

ALTER TABLE push_deliveries DROP CONSTRAINT IF EXISTS push_deliveries_lease_while_leased;
ALTER TABLE push_deliveries DROP COLUMN IF EXISTS lease_id;
