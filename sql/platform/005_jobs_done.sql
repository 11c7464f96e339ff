-- Marks timer jobs of the current tenant done, in the transaction that fired
-- them: the effect and the end of its job commit together, with no second
-- transaction and no window in which a fired timer is still running.
-- Only running jobs of the caller's own tenant, so a tenant role cannot end
-- anything else.
CREATE FUNCTION platform.jobs_done(ids bigint[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	UPDATE public.jobs SET status = 'done', last_error = NULL, locked_until = NULL, updated_at = now()
	WHERE id = ANY(ids) AND tenant_id = platform.current_tenant() AND kind = 'timer'
		AND status = 'running'
$$;
GRANT EXECUTE ON FUNCTION platform.jobs_done(bigint[]) TO PUBLIC;
