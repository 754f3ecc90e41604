-- Up Migration

-- The device-in-tenant check (1763800000101) probes the devices index once per
-- distinct device of the statement, whatever the planner estimates.
--
-- The planner sized its anti-join by the statement's rows: from a few rows up
-- it chose a hash join over a sequential scan of devices, reading every
-- device of every tenant to check a handful. Measured with
-- `npm run bench commit-cost` (3 000 devices in the table, one backend
-- alone): up to 250 µs of Postgres CPU for the check of an eight-row commit,
-- 390-1 100 µs for eighty rows, a cost that grows with the fleet rather than
-- the batch. Probing costs 2-3 µs a device (an index scan of devices).
ALTER FUNCTION gatehouse_check_telemetry_devices() SET enable_hashjoin = off;
ALTER FUNCTION gatehouse_check_telemetry_devices() SET enable_mergejoin = off;

-- Down Migration

ALTER FUNCTION gatehouse_check_telemetry_devices() RESET enable_hashjoin;
ALTER FUNCTION gatehouse_check_telemetry_devices() RESET enable_mergejoin;
