-- Up Migration

-- What voice platforms show of a device (issue 22): Google SYNC's name.name,
-- name.nicknames and roomHint, Alexa Discovery's friendlyName and description.
-- NULL display name: the platforms use the device's name. The bounds are the
-- core's (src/core/devices/device-input.ts), repeated here as the last wall.
ALTER TABLE devices
  ADD COLUMN display_name text CHECK (char_length(display_name) BETWEEN 1 AND 128),
  ADD COLUMN nicknames text[] NOT NULL DEFAULT '{}' CHECK (cardinality(nicknames) <= 10),
  ADD COLUMN room text CHECK (char_length(room) BETWEEN 1 AND 64),
  -- The CN of the client certificate an mTLS device presents, when it is not the
  -- device's username. Global, like usernames: the TLS listener and its client
  -- CA are shared by every tenant, so one CN names one device. No "@": that
  -- belongs to usernames (<name>@<slug>), so a CN can never name another
  -- tenant's device by its username.
  ADD COLUMN certificate_cn text UNIQUE CHECK (char_length(certificate_cn) BETWEEN 1 AND 256 AND strpos(certificate_cn, '@') = 0);

-- A removed device's telemetry outlives it (issue 22: "its telemetry stays
-- until retention removes it, or is purged with ?purge=true", which deletes it
-- explicitly in the same transaction). 1763800000002's trigger removed it with
-- the device; a tenant's telemetry still goes with the tenant. Device ids are
-- UUIDv7, never reused, so a new device of the same name never inherits it.
DROP TRIGGER devices_delete_telemetry ON devices;
DROP FUNCTION gatehouse_delete_device_telemetry();

CREATE FUNCTION gatehouse_delete_tenant_telemetry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM telemetry t USING deleted_tenants d WHERE t.tenant_id = d.id;
  RETURN NULL;
END;
$$;

CREATE TRIGGER tenants_delete_telemetry AFTER DELETE ON tenants
  REFERENCING OLD TABLE AS deleted_tenants
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_delete_tenant_telemetry();

-- Down Migration

DROP TRIGGER IF EXISTS tenants_delete_telemetry ON tenants;
DROP FUNCTION IF EXISTS gatehouse_delete_tenant_telemetry();
DELETE FROM telemetry t WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.tenant_id = t.tenant_id AND d.id = t.device_id);
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
ALTER TABLE devices
  DROP COLUMN IF EXISTS certificate_cn,
  DROP COLUMN IF EXISTS room,
  DROP COLUMN IF EXISTS nicknames,
  DROP COLUMN IF EXISTS display_name;
