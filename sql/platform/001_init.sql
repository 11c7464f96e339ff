-- Platform schema: tenants, global identity, memberships, operators.
-- Applied by `crmctl migrate` as crm_owner. crm_api gets only the rights it
-- needs; tenant roles get none here.

CREATE TABLE tenants (
	id bigserial PRIMARY KEY,
	slug text NOT NULL,
	name text NOT NULL,
	status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
	schema_version int NOT NULL DEFAULT 0,
	locale text NOT NULL DEFAULT 'zh-CN',
	owner_user_id bigint,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tenants_slug_key ON tenants (slug);

CREATE TABLE users (
	id bigserial PRIMARY KEY,
	email text NOT NULL CHECK (email = lower(email)),
	name text NOT NULL,
	password_hash text NOT NULL,
	locale text NOT NULL DEFAULT 'zh-CN',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);

-- Which tenants a user can sign in to; the member's role and status live in
-- the tenant's own `members` table.
CREATE TABLE memberships (
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, tenant_id)
);
CREATE INDEX memberships_tenant ON memberships (tenant_id);

CREATE TABLE operators (
	id bigserial PRIMARY KEY,
	email text NOT NULL CHECK (email = lower(email)),
	name text NOT NULL,
	password_hash text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX operators_email_key ON operators (email);

-- What operators did to tenants (support access is audited).
CREATE TABLE operator_audit (
	id bigserial PRIMARY KEY,
	operator_id bigint NOT NULL,
	action text NOT NULL,
	tenant_id bigint NOT NULL,
	tenant_slug text NOT NULL,
	detail jsonb NOT NULL DEFAULT '{}',
	at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, users, memberships, operators
	TO crm_api;
GRANT SELECT, INSERT ON operator_audit TO crm_api;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO crm_api;

-- Raises an error with one of our SQLSTATEs (CRM01 suspended, CRM02 schema
-- behind, CRM03 forbidden, CRM04 no such tenant), which crm-api maps to its
-- error codes (app/core/db.c). Used where plain SQL must refuse; the tenant
-- context itself is entered by a statement in app/core/db.c, so that the
-- path every request takes runs no procedural code.
CREATE FUNCTION crm_refuse(code text, message text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '%', message USING ERRCODE = code;
END
$$;

-- A tenant as the platform API shows it.
CREATE FUNCTION crm_tenant_json(t tenants) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', t.id, 'slug', t.slug, 'name', t.name,
		'status', t.status, 'locale', t.locale, 'schema_version', t.schema_version,
		'created_at', t.created_at, 'updated_at', t.updated_at,
		'member_count', (SELECT count(*) FROM public.memberships m WHERE m.tenant_id = t.id))
$$;
GRANT EXECUTE ON FUNCTION crm_tenant_json(tenants) TO crm_api;

-- Creates the role and schema of a new tenant. The only DDL path outside a
-- tenant schema that crm_api has; runs with the rights of its owner.
CREATE FUNCTION crm_tenant_create(tid bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r text := 'crm_t_' || tid;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM public.tenants WHERE id = tid) THEN
		RAISE EXCEPTION 'tenant % does not exist', tid USING ERRCODE = 'CRM04';
	END IF;
	EXECUTE format('CREATE ROLE %I NOLOGIN', r);
	EXECUTE format('GRANT %I TO %I', r, current_user);
	EXECUTE format('GRANT %I TO %I', r, session_user);
	EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', 't_' || tid, r);
END
$$;

-- Drops a tenant's schema and role (after its export, see tenants/export.c).
CREATE FUNCTION crm_tenant_drop(tid bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', 't_' || tid);
	EXECUTE format('DROP ROLE IF EXISTS %I', 'crm_t_' || tid);
END
$$;

REVOKE ALL ON FUNCTION crm_refuse(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_tenant_create(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION crm_tenant_drop(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_refuse(text, text) TO crm_api;
GRANT EXECUTE ON FUNCTION crm_tenant_create(bigint) TO crm_api;
GRANT EXECUTE ON FUNCTION crm_tenant_drop(bigint) TO crm_api;
