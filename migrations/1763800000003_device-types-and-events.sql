-- Up Migration

-- What a device is, for the voice platforms' device lists; the values are the
-- catalogue's DEVICE_TYPES (src/core/capabilities/catalogue.ts). Devices
-- registered before there were types are 'other'.
ALTER TABLE devices ADD COLUMN type text NOT NULL DEFAULT 'other'
  CHECK (type IN ('light', 'switch', 'outlet', 'lock', 'thermostat', 'sensor', 'garage', 'blinds', 'fan', 'security_panel', 'other'));

-- Per-device risk tightening needs no new column: device_capabilities'
-- requires_pin and requires_approval (seed 003) raise the catalogue's risk
-- class of every command of that capability on that device, and can only
-- raise it (false means "as the catalogue says").

-- What devices publish on devices/<name>/events[/<kind>] (alarms, button
-- presses, low battery), kept for the API and for push notifications. Far
-- fewer rows than telemetry, so one plain table with the device foreign key.
CREATE TABLE device_events (
  id           uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id    uuid NOT NULL,
  device_id    uuid NOT NULL,
  -- The topic levels after events/ ('' for devices/<name>/events itself).
  kind         text NOT NULL DEFAULT '' CHECK (char_length(kind) <= 200),
  payload      jsonb NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);
-- Newest first per device, keyset-paged on (received_at, id).
CREATE INDEX device_events_device_time_idx ON device_events (tenant_id, device_id, received_at DESC, id DESC);

ALTER TABLE device_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON device_events
  USING (tenant_id = gatehouse_current_tenant()) WITH CHECK (tenant_id = gatehouse_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON device_events TO gatehouse_app;

-- Down Migration

DROP TABLE IF EXISTS device_events;
ALTER TABLE devices DROP COLUMN IF EXISTS type;
