-- Up Migration

-- The gate for dangerous actions (issue 15). A critical command is persisted
-- awaiting a person's approval and is not sent; approved it moves on to
-- pending, denied it ends denied. The device never sees either of the new
-- states: only pending and delivered commands are published.
ALTER TABLE commands DROP CONSTRAINT commands_status_check;
ALTER TABLE commands ADD CONSTRAINT commands_status_check
  CHECK (status IN ('awaiting_approval', 'pending', 'delivered', 'succeeded', 'failed', 'expired', 'denied'));

-- Who decided, and when ({kind, id, channel} as issued_by).
ALTER TABLE commands ADD COLUMN decided_by jsonb;
ALTER TABLE commands ADD COLUMN decided_at timestamptz;

-- Idempotency-Key, scoped to its caller ("<kind>:<id>:<key>"): the voice
-- platforms retry, and the same key from the same caller within a day answers
-- with the same command. Looked up under an advisory lock, so no unique index.
ALTER TABLE commands ADD COLUMN idempotency_key text CHECK (char_length(idempotency_key) <= 400);
CREATE INDEX commands_idempotency_idx ON commands (tenant_id, idempotency_key, created_at DESC) WHERE idempotency_key IS NOT NULL;

-- Commands waiting for approval expire with their TTL like open ones.
CREATE INDEX commands_awaiting_expiry_idx ON commands (expires_at) WHERE status = 'awaiting_approval';

-- The tenant's approval rule: when true, the person who asked for a critical
-- command may not approve it alone (a second owner or admin must). A column of
-- the tenant because it is one switch per tenant, read with the command under
-- the tenant's own row-level security; changed by owners through the core.
ALTER TABLE tenants ADD COLUMN approval_second_person boolean NOT NULL DEFAULT false;

-- Down Migration

ALTER TABLE tenants DROP COLUMN IF EXISTS approval_second_person;
DROP INDEX IF EXISTS commands_awaiting_expiry_idx;
DROP INDEX IF EXISTS commands_idempotency_idx;
ALTER TABLE commands DROP COLUMN IF EXISTS idempotency_key;
ALTER TABLE commands DROP COLUMN IF EXISTS decided_at;
ALTER TABLE commands DROP COLUMN IF EXISTS decided_by;
UPDATE commands SET status = 'expired' WHERE status IN ('awaiting_approval', 'denied');
ALTER TABLE commands DROP CONSTRAINT commands_status_check;
ALTER TABLE commands ADD CONSTRAINT commands_status_check CHECK (status IN ('pending', 'delivered', 'succeeded', 'failed', 'expired'));
