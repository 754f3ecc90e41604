-- Up Migration

-- A foreign key checks every telemetry row against devices (one lookup and a
-- FOR KEY SHARE lock on the device row per row, with multixacts when batches
-- of one device commit side by side): measured on the reference machine it
-- held ingest to 114k rows/s against 146k without it. Telemetry rows are only
-- written for a device the broker has authenticated, and devices are revoked
-- rather than deleted; should one be deleted all the same, this trigger keeps
-- ON DELETE CASCADE's promise once per statement instead of once per row.
ALTER TABLE telemetry DROP CONSTRAINT telemetry_tenant_id_device_id_fkey;

CREATE FUNCTION gatehouse_delete_device_telemetry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM telemetry t USING deleted_devices d WHERE t.tenant_id = d.tenant_id AND t.device_id = d.id;
  RETURN NULL;
END;
$$;

CREATE TRIGGER devices_delete_telemetry AFTER DELETE ON devices
  REFERENCING OLD TABLE AS deleted_devices
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_delete_device_telemetry();

-- Down Migration

DROP TRIGGER IF EXISTS devices_delete_telemetry ON devices;
DROP FUNCTION IF EXISTS gatehouse_delete_device_telemetry();
DELETE FROM telemetry t WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.tenant_id = t.tenant_id AND d.id = t.device_id);
ALTER TABLE telemetry ADD CONSTRAINT telemetry_tenant_id_device_id_fkey
  FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE;
