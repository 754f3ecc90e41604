-- Up Migration

-- Loops across automations (issue 23). A run triggered by the effect of another run (an event or a state of a
-- device that run touched, within the loop window; the run may be of any automation of the tenant) records that
-- run as its cause and goes on with its chain: chain_id is the chain's first run, depth how far down it is. So
-- A retriggering itself and A -> B -> A are one chain, stopped at the bound.
ALTER TABLE automation_runs ADD COLUMN caused_by uuid REFERENCES automation_runs (id) ON DELETE SET NULL;

-- The cause is looked up in the trigger's transaction: the tenant's latest runs, newest first.
CREATE INDEX automation_runs_started_idx ON automation_runs (tenant_id, started_at DESC) WHERE started_at IS NOT NULL;

-- Down Migration

DROP INDEX IF EXISTS automation_runs_started_idx;
ALTER TABLE automation_runs DROP COLUMN IF EXISTS caused_by;
