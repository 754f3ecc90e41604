-- Up Migration

-- Scenes and automations (issue 23).

-- The tenant's time zone (IANA name): schedules and time-window conditions are read in it.
ALTER TABLE tenants ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC' CHECK (char_length(time_zone) BETWEEN 1 AND 64);

-- A named list of device commands ({ device, deviceId, command, params }), run under the activating caller's own context.
-- `voice`: offered to the tenant's voice platforms (Google Scene trait, Alexa SceneController); each command still passes the voice policy.
CREATE TABLE scenes (
  id          uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  voice       boolean NOT NULL DEFAULT false,
  commands    jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

-- Trigger, conditions, actions (validated documents, src/core/automations/automation-schema.ts). trigger_kind and
-- trigger_device_id are the trigger's, copied out so a cause's transaction finds its automations by index.
-- next_fire_at: a schedule's next firing (UTC), claimed fleet-wide with FOR UPDATE SKIP LOCKED.
CREATE TABLE automations (
  id                 uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name               text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  enabled            boolean NOT NULL DEFAULT true,
  disabled_reason    text,
  trigger            jsonb NOT NULL,
  conditions         jsonb NOT NULL DEFAULT '[]',
  actions            jsonb NOT NULL,
  trigger_kind       text NOT NULL CHECK (trigger_kind IN ('event', 'threshold', 'offline', 'schedule', 'command_failed')),
  trigger_device_id  uuid,
  next_fire_at       timestamptz,
  created_by         jsonb NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);
CREATE INDEX automations_trigger_idx ON automations (tenant_id, trigger_kind, trigger_device_id) WHERE enabled;
CREATE INDEX automations_schedule_idx ON automations (next_fire_at) WHERE enabled AND trigger_kind = 'schedule';

-- Per automation and device: a threshold's hysteresis (armed again once the value went back past the band),
-- and which absence an offline trigger already fired for (the device's last_seen_at then).
CREATE TABLE automation_trigger_state (
  tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  automation_id  uuid NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
  device_id      uuid NOT NULL,
  armed          boolean NOT NULL DEFAULT true,
  fired_for      timestamptz,
  PRIMARY KEY (automation_id, device_id)
);

-- The run outbox and its history: written in the trigger's transaction (queued), claimed by a worker
-- (FOR UPDATE SKIP LOCKED, leased), finished with the conditions as evaluated and each action's outcome.
-- limited: over the tenant's runs per minute; loop_stopped: retriggered by its own effect beyond the bound.
CREATE TABLE automation_runs (
  id               uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  automation_id    uuid NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
  status           text NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'skipped', 'limited', 'loop_stopped')),
  trigger          jsonb NOT NULL,
  triggered_at     timestamptz NOT NULL DEFAULT now(),
  scheduled_for    timestamptz,
  late             boolean NOT NULL DEFAULT false,
  chain_id         uuid,
  depth            integer NOT NULL DEFAULT 0,
  touched_devices  uuid[] NOT NULL DEFAULT '{}',
  conditions       jsonb,
  actions          jsonb,
  attempts         integer NOT NULL DEFAULT 0,
  lease_until      timestamptz,
  started_at       timestamptz,
  finished_at      timestamptz,
  UNIQUE (automation_id, scheduled_for)
);
CREATE INDEX automation_runs_due_idx ON automation_runs (triggered_at) WHERE status IN ('queued', 'running');
CREATE INDEX automation_runs_history_idx ON automation_runs (tenant_id, automation_id, triggered_at DESC, id DESC);
CREATE INDEX automation_runs_rate_idx ON automation_runs (tenant_id, triggered_at);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['scenes', 'automations', 'automation_trigger_state', 'automation_runs'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (tenant_id = gatehouse_current_tenant()) WITH CHECK (tenant_id = gatehouse_current_tenant())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO gatehouse_app', t);
  END LOOP;
END
$$;

-- Down Migration

DROP TABLE IF EXISTS automation_runs, automation_trigger_state, automations, scenes;
ALTER TABLE tenants DROP COLUMN IF EXISTS time_zone;
