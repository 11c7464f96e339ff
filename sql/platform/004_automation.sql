-- Automation on the job queue. Timers are jobs whose run_at lies ahead; every
-- job may carry an effect key (unique per tenant and kind), so scheduling the
-- same effect twice queues it once. A tenant's pending outbox events are one
-- queued `events` job at most, queued by a trigger on the tenant's outbox.
ALTER TABLE jobs ADD COLUMN key text;
ALTER TABLE jobs ADD COLUMN payload jsonb;
CREATE UNIQUE INDEX jobs_effect ON jobs (tenant_id, kind, key) WHERE key IS NOT NULL;
CREATE UNIQUE INDEX jobs_one_events ON jobs (tenant_id) WHERE kind = 'events' AND status = 'queued';
CREATE INDEX jobs_finished ON jobs (updated_at) WHERE status = 'done';
GRANT DELETE ON jobs TO crm_api;

-- Tenant roles may not use the public schema; what they may call of the
-- platform lives in its own schema.
CREATE SCHEMA platform;
GRANT USAGE ON SCHEMA platform TO PUBLIC;

-- The tenant whose context the transaction is in (the role crm-api set).
CREATE FUNCTION platform.current_tenant() RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT substring(current_setting('role') FROM '^crm_t_([0-9]+)$')::bigint
$$;

-- Queues a job of the current tenant (a timer when run_at is ahead) and wakes
-- the workers at commit when a row was added. An effect key already queued
-- or done keeps its first row: scheduling is idempotent.
CREATE FUNCTION platform.enqueue(kind text, ref_id bigint, key text DEFAULT NULL,
	run_at timestamptz DEFAULT now(), payload jsonb DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tid bigint := platform.current_tenant();
	added int;
BEGIN
	IF tid IS NULL THEN
		RAISE EXCEPTION 'platform.enqueue outside a tenant context';
	END IF;
	INSERT INTO public.jobs (tenant_id, kind, ref_id, key, run_at, payload)
	VALUES (tid, kind, ref_id, key, run_at, payload) ON CONFLICT DO NOTHING;
	GET DIAGNOSTICS added = ROW_COUNT;
	IF added > 0 AND run_at <= now() + interval '1 second' THEN
		NOTIFY crm_jobs;
	END IF;
END
$$;
GRANT EXECUTE ON FUNCTION platform.current_tenant() TO PUBLIC;
GRANT EXECUTE ON FUNCTION platform.enqueue(text, bigint, text, timestamptz, jsonb) TO PUBLIC;
