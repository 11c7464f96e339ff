-- Durable background jobs: a row per job, claimed by any crm-worker with
-- FOR UPDATE SKIP LOCKED under a lease, so a killed worker's job is taken up
-- again when the lease runs out. crm-api enqueues in the platform context
-- of the transaction that creates the tenant's work (db_switch_tenant(r, 0)).
CREATE TABLE jobs (
	id bigserial PRIMARY KEY,
	tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	kind text NOT NULL,
	ref_id bigint NOT NULL,
	status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'dead')),
	attempts int NOT NULL DEFAULT 0,
	run_at timestamptz NOT NULL DEFAULT now(),
	locked_until timestamptz,
	last_error text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE status IN ('queued', 'running');
GRANT SELECT, INSERT, UPDATE ON jobs TO crm_api;
GRANT USAGE ON SEQUENCE jobs_id_seq TO crm_api;
