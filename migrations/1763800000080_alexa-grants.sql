-- Up Migration

-- Alexa's permission to send events for one linked person (Alexa.Authorization
-- AcceptGrant, issue 18): the Login with Amazon access and refresh tokens that
-- Gatehouse exchanged the grant code for, sealed with the credential keyring
-- (AES-256-GCM, src/core/push/credential-keyring.ts), one per tenant, person
-- and skill (white-label skills each have their own LWA client). session_id is
-- the Gatehouse session family Alexa's link holds: revoking that link ends the
-- grant's ChangeReports as well.
CREATE TABLE alexa_grants (
  tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  skill_id           text NOT NULL CHECK (char_length(skill_id) BETWEEN 1 AND 255),
  session_id         uuid NOT NULL,
  sealed             bytea NOT NULL,
  key_id             text NOT NULL,
  access_expires_at  timestamptz NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, skill_id)
);

ALTER TABLE alexa_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON alexa_grants USING (tenant_id = gatehouse_current_tenant()) WITH CHECK (tenant_id = gatehouse_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON alexa_grants TO gatehouse_app;

-- Down Migration

DROP TABLE IF EXISTS alexa_grants;
