-- Up Migration

-- Telemetry that ages out (issue 19). telemetry and device_events are range
-- partitioned on received_at into partitions the gateway creates ahead
-- (src/core/telemetry/partition-maintenance.ts, daily or monthly, under an
-- advisory lock so that one node of several does it). A partition is named
-- <table>_p<from>_<to> (UTC dates, YYYYMMDD), which is how the gateway reads
-- its range back. Whole partitions are dropped once every tenant's retention
-- has passed them; a tenant keeping less is deleted in bounded batches. The
-- DEFAULT partition only catches what falls outside every partition, and stays
-- empty in normal operation: the rows it holds today are moved below.

ALTER TABLE tenants ADD COLUMN telemetry_retention_days integer NOT NULL DEFAULT 90
  CHECK (telemetry_retention_days BETWEEN 1 AND 36500);
-- A tenant's admins set it in their own transaction; the tenants policy (id = the current tenant) scopes it.
GRANT UPDATE (telemetry_retention_days) ON tenants TO gatehouse_app;

-- What every partition needs and does not inherit from its parent: row-level
-- security and its policy, gatehouse_app's grant and, for telemetry, the
-- device-in-tenant statement triggers (a parent's statement triggers do not
-- fire for a statement that names the partition).
CREATE FUNCTION gatehouse_guard_partition(partition text, parent text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', partition);
  EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = gatehouse_current_tenant()) WITH CHECK (tenant_id = gatehouse_current_tenant())', partition);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO gatehouse_app', partition);
  IF parent = 'telemetry' THEN
    EXECUTE format('CREATE TRIGGER telemetry_device_in_tenant_insert AFTER INSERT ON %I REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_check_telemetry_devices()', partition);
    EXECUTE format('CREATE TRIGGER telemetry_device_in_tenant_update AFTER UPDATE ON %I REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_check_telemetry_devices()', partition);
  END IF;
END;
$$;

CREATE FUNCTION gatehouse_create_partition(parent text, range_from timestamptz, range_to timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  partition text := format('%s_p%s_%s', parent, to_char(range_from AT TIME ZONE 'UTC', 'YYYYMMDD'), to_char(range_to AT TIME ZONE 'UTC', 'YYYYMMDD'));
BEGIN
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', partition, parent, range_from, range_to);
  PERFORM gatehouse_guard_partition(partition, parent);
  RETURN partition;
END;
$$;

-- device_events becomes partitioned as telemetry is: a new table, its rows copied.
ALTER TABLE device_events RENAME TO device_events_unpartitioned;
ALTER INDEX device_events_device_time_idx RENAME TO device_events_unpartitioned_device_time_idx;
ALTER INDEX device_events_pkey RENAME TO device_events_unpartitioned_pkey;
CREATE TABLE device_events (
  id           uuid NOT NULL DEFAULT gatehouse_uuidv7(),
  tenant_id    uuid NOT NULL,
  device_id    uuid NOT NULL,
  kind         text NOT NULL DEFAULT '' CHECK (char_length(kind) <= 200),
  payload      jsonb NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, received_at),
  FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (received_at);
CREATE INDEX device_events_device_time_idx ON device_events (tenant_id, device_id, received_at DESC, id DESC);
ALTER TABLE device_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON device_events USING (tenant_id = gatehouse_current_tenant()) WITH CHECK (tenant_id = gatehouse_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON device_events TO gatehouse_app;
CREATE TABLE device_events_default PARTITION OF device_events DEFAULT;
SELECT gatehouse_guard_partition('device_events_default', 'device_events');

-- telemetry's rows leave its DEFAULT partition: a fresh DEFAULT, daily
-- partitions for the days the old one held, and the rows moved through the parent.
ALTER TABLE telemetry DETACH PARTITION telemetry_default;
ALTER TABLE telemetry_default RENAME TO telemetry_unpartitioned;
CREATE TABLE telemetry_default PARTITION OF telemetry DEFAULT;
SELECT gatehouse_guard_partition('telemetry_default', 'telemetry');

DO $$
DECLARE
  parent text;
  day date;
BEGIN
  FOREACH parent IN ARRAY ARRAY['telemetry', 'device_events'] LOOP
    FOR day IN EXECUTE format(
      'SELECT DISTINCT (received_at AT TIME ZONE ''UTC'')::date FROM %I', parent || '_unpartitioned') LOOP
      PERFORM gatehouse_create_partition(parent, (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
    END LOOP;
  END LOOP;
END
$$;

INSERT INTO telemetry (id, tenant_id, device_id, stream, received_at, payload, payload_bytes, content_type)
  SELECT id, tenant_id, device_id, stream, received_at, payload, payload_bytes, content_type FROM telemetry_unpartitioned;
INSERT INTO device_events (id, tenant_id, device_id, kind, payload, received_at)
  SELECT id, tenant_id, device_id, kind, payload, received_at FROM device_events_unpartitioned;
DROP TABLE telemetry_unpartitioned;
DROP TABLE device_events_unpartitioned;

-- Down Migration

-- The partitions stay (their rows are telemetry); device_events stays partitioned.
DROP FUNCTION IF EXISTS gatehouse_create_partition(text, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS gatehouse_guard_partition(text, text);
REVOKE UPDATE (telemetry_retention_days) ON tenants FROM gatehouse_app;
ALTER TABLE tenants DROP COLUMN IF EXISTS telemetry_retention_days;
