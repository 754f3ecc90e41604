-- Up Migration

-- Two more choices in a tenant's voice policy (issues 17 and 18):
-- requires_ack: Google asks the person to acknowledge ("Are you sure?",
--   ackNeeded) before the command is sent. Google only: Alexa's Smart Home API
--   has no acknowledgement step.
-- platform_voice_code: Alexa's own voice code stands in for the Gatehouse PIN
--   on this capability's sensitive command. Alexa sends LockController.Unlock
--   without any PIN (it asks its own voice code, which Gatehouse never sees),
--   so a tenant that wants unlock through Alexa Smart Home must choose to trust
--   it. Alexa only; off by default.
ALTER TABLE voice_capabilities
  ADD COLUMN requires_ack boolean NOT NULL DEFAULT false,
  ADD COLUMN platform_voice_code boolean NOT NULL DEFAULT false,
  ADD CONSTRAINT voice_capabilities_ack_is_google CHECK (NOT requires_ack OR provider = 'google'),
  ADD CONSTRAINT voice_capabilities_voice_code_is_alexa CHECK (NOT platform_voice_code OR provider = 'alexa');

-- Down Migration

ALTER TABLE voice_capabilities DROP COLUMN IF EXISTS requires_ack, DROP COLUMN IF EXISTS platform_voice_code;
