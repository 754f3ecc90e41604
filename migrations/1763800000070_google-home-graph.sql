-- Up Migration

-- Issue 17: the Google service accounts Gatehouse reports state to Home Graph
-- with (devices:reportStateAndNotification, devices:requestSync). One per
-- tenant, and one platform-wide default (tenant_id NULL) for a deployment with
-- a single Actions project. The key is sealed with the push credential keyring
-- (src/core/push/credential-keyring.ts); settings hold what may be shown
-- (project_id, client_email, token_uri), never the key.
CREATE TABLE voice_credentials (
  id           uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
  provider     text NOT NULL CHECK (provider IN ('google')),
  settings     jsonb NOT NULL,
  sealed       bytea NOT NULL,
  key_id       text NOT NULL,
  fingerprint  text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX voice_credentials_one_per_provider ON voice_credentials (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), provider);

ALTER TABLE voice_credentials ENABLE ROW LEVEL SECURITY;
-- A platform-wide credential (tenant_id NULL) is the platform's alone: no tenant sees it.
CREATE POLICY tenant_isolation ON voice_credentials USING (tenant_id = gatehouse_current_tenant()) WITH CHECK (tenant_id = gatehouse_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON voice_credentials TO gatehouse_app;

-- Down Migration

DROP TABLE IF EXISTS voice_credentials;
