-- Up Migration

-- Presence on a fleet (issue 20): a device is online while some live gateway process holds a connection of it.
-- Each process (node) records its own connections and a heartbeat; any node removes the connections of a node
-- whose heartbeat stopped (killed, its machine gone) and marks the devices it held offline.

CREATE TABLE gateway_nodes (
  node_id     text PRIMARY KEY CHECK (char_length(node_id) BETWEEN 1 AND 64),
  started_at  timestamptz NOT NULL DEFAULT now(),
  seen_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE device_connections (
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  device_id    uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  node_id      text NOT NULL,
  connections  integer NOT NULL CHECK (connections > 0),
  PRIMARY KEY (device_id, node_id)
);
CREATE INDEX device_connections_node_idx ON device_connections (node_id);

ALTER TABLE device_connections ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON device_connections USING (tenant_id = gatehouse_current_tenant()) WITH CHECK (tenant_id = gatehouse_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON device_connections TO gatehouse_app;

-- Online flags written before there were per-node connections were counted by processes that are gone:
-- each device is online again when it reconnects.
UPDATE devices SET online = false WHERE online;

-- Down Migration

DROP TABLE IF EXISTS device_connections, gateway_nodes;
