-- Up Migration

-- Any payload is telemetry (issue 19): a JSON value stays jsonb in `payload`;
-- anything else (CBOR, protobuf, plain text, invalid UTF-8) is kept as its
-- bytes in `payload_bytes`, exactly one of the two set. `content_type` is the
-- publisher's own (MQTT 5's content type, once the broker speaks MQTT 5); NULL
-- reads as application/octet-stream.
ALTER TABLE telemetry
  ALTER COLUMN payload DROP NOT NULL,
  ADD COLUMN payload_bytes bytea,
  ADD COLUMN content_type text CHECK (char_length(content_type) <= 255),
  ADD CONSTRAINT telemetry_one_payload CHECK ((payload IS NULL) <> (payload_bytes IS NULL));

-- Down Migration

DELETE FROM telemetry WHERE payload IS NULL;
ALTER TABLE telemetry
  DROP CONSTRAINT IF EXISTS telemetry_one_payload,
  DROP COLUMN IF EXISTS content_type,
  DROP COLUMN IF EXISTS payload_bytes,
  ALTER COLUMN payload SET NOT NULL;
