-- Up Migration

-- A platform administrator may hold a session with no tenant at all, so a
-- session row names a tenant only when it has one; tenants never see the others.
ALTER TABLE refresh_tokens ALTER COLUMN tenant_id DROP NOT NULL;

-- The session a code was redeemed into: a second redemption of the same code
-- revokes that session (RFC 6749 §4.1.2: "SHOULD revoke all tokens previously issued").
ALTER TABLE oauth_codes ADD COLUMN family_id uuid;

-- Lookups by user for revocation (suspension, password change).
CREATE INDEX refresh_tokens_user_any_tenant_idx ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

-- Down Migration

DROP INDEX IF EXISTS refresh_tokens_user_any_tenant_idx;
ALTER TABLE oauth_codes DROP COLUMN IF EXISTS family_id;
DELETE FROM refresh_tokens WHERE tenant_id IS NULL;
ALTER TABLE refresh_tokens ALTER COLUMN tenant_id SET NOT NULL;
