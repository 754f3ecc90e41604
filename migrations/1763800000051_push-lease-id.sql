-- Up Migration

-- Each claim of push deliveries gets an id of its own, and a settle records only
-- where the row still carries its claim's id. The attempt count could not fence
-- alone: a refused credential gives an attempt back and a retried dead letter
-- starts again at 0, so a stale worker's attempt number can come round again on
-- another worker's lease. Fencing on (id, lease_id) also lets the settle find its
-- rows by primary key instead of through the partial index of queued and leased
-- rows (planned as a nested loop over the unnest, ~180 ms for 400 rows).
ALTER TABLE push_deliveries ADD COLUMN lease_id uuid;

-- Down Migration

ALTER TABLE push_deliveries DROP COLUMN IF EXISTS lease_id;
