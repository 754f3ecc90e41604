-- Up Migration

-- Push: tokens, who hears what, the notifications themselves (the outbox: each
-- written in its cause's transaction) and their deliveries to each token.
-- The placeholders of the core schema were never used and are replaced.
DROP TABLE IF EXISTS notification_outbox;
DROP TABLE IF EXISTS push_tokens;

-- One app install's token. One install has one current user: a token is
-- unique per platform and environment across tenants, and registering it again
-- moves it to the caller (src/core/push/push-tokens.ts, audited).
CREATE TABLE push_tokens (
  id               uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  platform         text NOT NULL CHECK (platform IN ('ios', 'android')),
  environment      text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  token            text NOT NULL CHECK (char_length(token) BETWEEN 8 AND 4096),
  app_id           text NOT NULL CHECK (char_length(app_id) BETWEEN 1 AND 255),
  locale           text CHECK (char_length(locale) <= 35),
  timezone         text CHECK (char_length(timezone) <= 64),
  -- When this registration began: an APNs 410 invalidates the token only if it was registered before the 410's timestamp.
  registered_at    timestamptz NOT NULL DEFAULT now(),
  invalidated_at   timestamptz,
  invalid_reason   text,
  UNIQUE (platform, environment, token)
);
CREATE INDEX push_tokens_user_idx ON push_tokens (tenant_id, user_id) WHERE invalidated_at IS NULL;

-- Removing a member from a tenant deletes their tokens in it, whichever code path removes the membership.
CREATE FUNCTION gatehouse_forget_member_push_tokens() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM push_tokens t USING removed r WHERE t.tenant_id = r.tenant_id AND t.user_id = r.user_id;
  RETURN NULL;
END;
$$;
CREATE TRIGGER memberships_forget_push_tokens AFTER DELETE ON memberships
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_forget_member_push_tokens();

-- A tenant's notification rules (GET/PUT /v1/push/rules), one validated document; no row: the defaults.
CREATE TABLE push_rules (
  tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  rules       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A person's preferences in a tenant: muted categories, quiet hours (minutes after local midnight) in their time zone.
CREATE TABLE notification_preferences (
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  muted        text[] NOT NULL DEFAULT '{}',
  quiet_start  smallint CHECK (quiet_start BETWEEN 0 AND 1439),
  quiet_end    smallint CHECK (quiet_end BETWEEN 0 AND 1439),
  timezone     text CHECK (char_length(timezone) <= 64),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id)
);

-- What a person was told (seed 003's notifications), written in the same transaction as its cause:
-- the outbox and the user's history at once.
CREATE TABLE notifications (
  id          uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  type        text NOT NULL,
  category    text NOT NULL,
  critical    boolean NOT NULL DEFAULT false,
  device_id   uuid,
  command_id  uuid,
  data        jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  read_at     timestamptz
);
CREATE INDEX notifications_user_time_idx ON notifications (tenant_id, user_id, created_at DESC, id DESC);
-- "Was this device's absence announced already?" (src/core/notifications/offline-watch.ts).
CREATE INDEX notifications_device_offline_idx ON notifications (device_id, created_at) WHERE type = 'device.offline';

-- One notification to one token: leased by a worker (FOR UPDATE SKIP LOCKED), retried with backoff,
-- dead-lettered after its last attempt with the provider's last reason.
CREATE TABLE push_deliveries (
  id               uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  notification_id  uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
  token_id         uuid NOT NULL REFERENCES push_tokens (id) ON DELETE CASCADE,
  state            text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'leased', 'sent', 'dead', 'dropped')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  lease_until      timestamptz,
  last_reason      text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz
);
CREATE INDEX push_deliveries_due_idx ON push_deliveries (tenant_id, next_attempt_at) WHERE state IN ('queued', 'leased');
CREATE INDEX push_deliveries_dead_idx ON push_deliveries (tenant_id, created_at DESC) WHERE state = 'dead';

-- A tenant's delivery lane: paused when its provider credential is refused, until an admin fixes it.
CREATE TABLE push_lanes (
  tenant_id     uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  paused_until  timestamptz,
  pause_reason  text
);

-- Provider credentials per tenant (tenant_id NULL: the platform-wide default), the secret part sealed
-- with AES-256-GCM under a key named by key_id; `settings` holds what is not secret (key id, team id,
-- topic, project id); `fingerprint` is all the API ever shows of the secret.
CREATE TABLE push_credentials (
  id           uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
  provider     text NOT NULL CHECK (provider IN ('apns', 'fcm')),
  settings     jsonb NOT NULL,
  sealed       bytea NOT NULL,
  key_id       text NOT NULL,
  fingerprint  text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX push_credentials_one_per_provider ON push_credentials (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), provider);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['push_tokens', 'push_rules', 'notification_preferences', 'notifications', 'push_deliveries', 'push_lanes', 'push_credentials'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (tenant_id = gatehouse_current_tenant()) WITH CHECK (tenant_id = gatehouse_current_tenant())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO gatehouse_app', t);
  END LOOP;
END
$$;
-- A platform-wide credential (tenant_id NULL) is the platform's alone: no tenant sees it.

-- Down Migration

DROP TABLE IF EXISTS push_credentials, push_lanes, push_deliveries, notifications, notification_preferences, push_rules;
DROP TRIGGER IF EXISTS memberships_forget_push_tokens ON memberships;
DROP FUNCTION IF EXISTS gatehouse_forget_member_push_tokens();
DROP TABLE IF EXISTS push_tokens;
