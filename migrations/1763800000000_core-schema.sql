-- Up Migration

-- The whole core schema of Gatehouse. Every tenant-owned table has tenant_id
-- NOT NULL and a row-level security policy on app.tenant_id: tenant
-- transactions (Database.withTenant) run as gatehouse_app, which sees only the
-- rows of the tenant set in app.tenant_id, and none when it is unset.

-- UUIDv7: time-ordered ids (seed 004), so B-tree inserts stay at the right edge.
-- Postgres 18 has uuidv7(); this one works on 13+.
CREATE OR REPLACE FUNCTION gatehouse_uuidv7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;

-- The tenant set by withTenant, or NULL (which matches no row: fail closed).
CREATE OR REPLACE FUNCTION gatehouse_current_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT nullif(current_setting('app.tenant_id', true), '')::uuid
$$;

-- Role names are cluster-wide; several databases (tests) may race to create it. An owner without
-- CREATEROLE may have it created and granted beforehand (README): then neither statement is needed,
-- and each would fail on permissions, so each runs only if still needed.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gatehouse_app') THEN
    CREATE ROLE gatehouse_app NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;
-- What tenant transactions need is SET ROLE: since PostgreSQL 16 a CREATEROLE creator holds the role
-- with ADMIN but without SET, so membership alone does not tell (before 16 there is no 'SET' to ask).
DO $$
DECLARE
  can_set boolean;
BEGIN
  BEGIN
    can_set := pg_has_role(current_user, 'gatehouse_app', 'SET');
  EXCEPTION WHEN invalid_parameter_value THEN
    can_set := pg_has_role(current_user, 'gatehouse_app', 'MEMBER');
  END;
  IF NOT can_set THEN
    EXECUTE format('GRANT gatehouse_app TO %I', current_user);
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;

CREATE TABLE tenants (
  id          uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  name        text NOT NULL,
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Users are global identities (one person may belong to several tenants);
-- memberships bind them to tenants with a role.
CREATE TABLE users (
  id                   uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  email                text NOT NULL,
  password_hash        text NOT NULL,
  status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  is_platform_admin    boolean NOT NULL DEFAULT false,
  password_changed_at  timestamptz NOT NULL DEFAULT now(),
  created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- Credentials for backend services, dashboards and load tests (MQTT and API).
-- Topic filters are relative to the tenant; deny filters win over allow filters.
CREATE TABLE app_credentials (
  id               uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name             text NOT NULL,
  username         text NOT NULL UNIQUE,
  secret_hash      text NOT NULL,
  publish_allow    text[] NOT NULL DEFAULT '{#}',
  subscribe_allow  text[] NOT NULL DEFAULT '{#}',
  publish_deny     text[] NOT NULL DEFAULT '{}',
  subscribe_deny   text[] NOT NULL DEFAULT '{}',
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

CREATE TABLE devices (
  id              uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name            text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  username        text NOT NULL UNIQUE,
  secret_hash     text NOT NULL,
  status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
  owner_user_id   uuid REFERENCES users (id) ON DELETE SET NULL,
  online          boolean NOT NULL DEFAULT false,
  last_seen_at    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name),
  -- Lets child tables reference (tenant_id, id), so a row can never point into another tenant.
  UNIQUE (tenant_id, id)
);

CREATE TABLE device_capabilities (
  id                 uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id          uuid NOT NULL,
  device_id          uuid NOT NULL,
  capability         text NOT NULL CHECK (capability ~ '^[a-z][a-z0-9_.-]{0,63}$'),
  requires_pin       boolean NOT NULL DEFAULT false,
  requires_approval  boolean NOT NULL DEFAULT false,
  created_at         timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE,
  UNIQUE (device_id, capability)
);
CREATE INDEX device_capabilities_tenant_idx ON device_capabilities (tenant_id);

-- Partitioned by time: a DEFAULT partition now, monthly partitions attachable
-- later without touching the writers (and old months dropped, not deleted).
CREATE TABLE telemetry (
  id           uuid NOT NULL DEFAULT gatehouse_uuidv7(),
  tenant_id    uuid NOT NULL,
  device_id    uuid NOT NULL,
  stream       text NOT NULL DEFAULT '',
  received_at  timestamptz NOT NULL DEFAULT now(),
  payload      jsonb NOT NULL,
  PRIMARY KEY (id, received_at),
  FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (received_at);
CREATE TABLE telemetry_default PARTITION OF telemetry DEFAULT;
CREATE INDEX telemetry_device_time_idx ON telemetry (tenant_id, device_id, received_at DESC);

CREATE TABLE device_state (
  tenant_id   uuid NOT NULL,
  device_id   uuid PRIMARY KEY,
  state       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX device_state_tenant_idx ON device_state (tenant_id);

CREATE TABLE commands (
  id            uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id     uuid NOT NULL,
  device_id     uuid NOT NULL,
  name          text NOT NULL,
  params        jsonb NOT NULL DEFAULT '{}',
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'succeeded', 'failed', 'expired')),
  issued_by     jsonb NOT NULL,
  result        jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  delivered_at  timestamptz,
  completed_at  timestamptz,
  FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX commands_device_status_idx ON commands (tenant_id, device_id, status);
CREATE INDEX commands_open_expiry_idx ON commands (expires_at) WHERE status IN ('pending', 'delivered');

-- The audit log. tenant_id is NULL only for events that no tenant owns
-- (a failed login for an unknown account); tenants never see those rows.
CREATE TABLE security_events (
  id          uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id   uuid REFERENCES tenants (id) ON DELETE CASCADE,
  event_type  text NOT NULL,
  channel     text,
  principal   jsonb,
  user_id     uuid,
  device_id   uuid,
  source_ip   inet,
  details     jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_tenant_time_idx ON security_events (tenant_id, created_at DESC);
CREATE INDEX security_events_type_time_idx ON security_events (event_type, created_at DESC);

-- Signing keys for ES256 access tokens; retired keys keep verifying until their tokens expire.
CREATE TABLE signing_keys (
  kid          text PRIMARY KEY,
  alg          text NOT NULL DEFAULT 'ES256',
  private_jwk  jsonb NOT NULL,
  public_jwk   jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  retired_at   timestamptz
);

CREATE TABLE refresh_tokens (
  id           uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  family_id    uuid NOT NULL,
  token_hash   text NOT NULL UNIQUE,
  channel      text NOT NULL,
  client_id    text,
  scopes       text[] NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (tenant_id, user_id);

-- OAuth2 clients for account linking (Alexa, Google): platform-level, not tenant-owned.
CREATE TABLE oauth_clients (
  id             uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  client_id      text NOT NULL UNIQUE,
  secret_hash    text NOT NULL,
  platform       text NOT NULL CHECK (platform IN ('alexa', 'google')),
  name           text NOT NULL,
  redirect_uris  text[] NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_codes (
  code_hash       text PRIMARY KEY,
  client_id       text NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  redirect_uri    text NOT NULL,
  code_challenge  text NOT NULL,
  scopes          text[] NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  used_at         timestamptz
);
CREATE INDEX oauth_codes_tenant_idx ON oauth_codes (tenant_id);

CREATE TABLE voice_accounts (
  id                uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  provider          text NOT NULL CHECK (provider IN ('alexa', 'google')),
  provider_user_id  text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, provider_user_id)
);
CREATE INDEX voice_accounts_tenant_user_idx ON voice_accounts (tenant_id, user_id);

-- Per-tenant overrides of which capabilities each voice platform may use.
CREATE TABLE voice_capabilities (
  id            uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  provider      text NOT NULL CHECK (provider IN ('alexa', 'google')),
  capability    text NOT NULL,
  enabled       boolean NOT NULL DEFAULT true,
  requires_pin  boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, provider, capability)
);

CREATE TABLE voice_pins (
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  pin_hash         text NOT NULL,
  failed_attempts  integer NOT NULL DEFAULT 0,
  locked_until     timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE push_tokens (
  id              uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  platform        text NOT NULL CHECK (platform IN ('apns', 'fcm')),
  token           text NOT NULL,
  app_id          text NOT NULL,
  environment     text NOT NULL DEFAULT 'production' CHECK (environment IN ('sandbox', 'production')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_used_at    timestamptz,
  invalidated_at  timestamptz,
  UNIQUE (tenant_id, platform, token)
);
CREATE INDEX push_tokens_user_idx ON push_tokens (tenant_id, user_id) WHERE invalidated_at IS NULL;

-- Transactional outbox: written in the same transaction as its cause,
-- delivered at least once by the push worker; idempotency_key dedupes.
CREATE TABLE notification_outbox (
  id               uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id          uuid REFERENCES users (id) ON DELETE CASCADE,
  kind             text NOT NULL,
  payload          jsonb NOT NULL,
  idempotency_key  text NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at) WHERE status IN ('pending', 'failed');

-- Row-level security: the second wall behind tenant-scoped queries.
-- The owner (migrations, src/auth's platform lookups) is not subject to it;
-- gatehouse_app (every tenant transaction) is.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY[
    'memberships', 'app_credentials', 'devices', 'device_capabilities', 'telemetry', 'device_state',
    'commands', 'security_events', 'refresh_tokens', 'oauth_codes', 'voice_accounts',
    'voice_capabilities', 'voice_pins', 'push_tokens', 'notification_outbox',
    -- Partitions too: the parent's policy does not guard a query that names a partition directly.
    'telemetry_default'
  ] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (tenant_id = gatehouse_current_tenant()) WITH CHECK (tenant_id = gatehouse_current_tenant())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO gatehouse_app', t);
  END LOOP;
END
$$;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants USING (id = gatehouse_current_tenant());
GRANT SELECT ON tenants TO gatehouse_app;

-- A tenant sees the users that are its members, and nobody else.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users USING (
  EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.tenant_id = gatehouse_current_tenant())
);
GRANT SELECT ON users TO gatehouse_app;

GRANT USAGE ON SCHEMA public TO gatehouse_app;
GRANT EXECUTE ON FUNCTION gatehouse_uuidv7() TO gatehouse_app;
GRANT EXECUTE ON FUNCTION gatehouse_current_tenant() TO gatehouse_app;

-- Down Migration

DROP TABLE IF EXISTS notification_outbox, push_tokens, voice_pins, voice_capabilities, voice_accounts,
  oauth_codes, oauth_clients, refresh_tokens, signing_keys, security_events, commands, device_state,
  telemetry, device_capabilities, devices, app_credentials, memberships, users, tenants CASCADE;
DROP FUNCTION IF EXISTS gatehouse_current_tenant();
DROP FUNCTION IF EXISTS gatehouse_uuidv7();
