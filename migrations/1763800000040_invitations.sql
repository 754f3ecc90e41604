-- Up Migration

-- Invitations to join a tenant (issue 22). Gatehouse sends no e-mail: the
-- inviting admin is handed a link to a set-password page. Only the token's
-- SHA-256 is kept (256 random bits need no slow hash, as for refresh tokens).
-- Accepting creates the user and the membership and burns the token
-- (accepted_at); an admin may revoke it first (revoked_at); past expires_at it
-- is refused. The page looks the token up before any tenant is known, as the
-- owner (src/auth, like refresh tokens); everything else reads it as the tenant.
CREATE TABLE invitations (
  id           uuid PRIMARY KEY DEFAULT gatehouse_uuidv7(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  email        text NOT NULL CHECK (char_length(email) <= 320),
  role         text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  token_hash   text NOT NULL UNIQUE,
  -- Who invited: the principal ({kind, id}) as the audit log records it.
  invited_by   jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  accepted_at  timestamptz,
  accepted_by  uuid REFERENCES users (id) ON DELETE SET NULL,
  revoked_at   timestamptz
);
-- The open invitations of a tenant, by address: listed, and replaced when the same address is invited again.
CREATE INDEX invitations_open_idx ON invitations (tenant_id, lower(email)) WHERE accepted_at IS NULL AND revoked_at IS NULL;

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invitations
  USING (tenant_id = gatehouse_current_tenant()) WITH CHECK (tenant_id = gatehouse_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON invitations TO gatehouse_app;

-- Down Migration

DROP TABLE IF EXISTS invitations;
