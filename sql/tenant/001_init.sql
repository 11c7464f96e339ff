-- A tenant's own schema: roles, members, pipelines, the audit log and the
-- outbox. Runs as the tenant role with search_path = t_<id>; never names a
-- schema.

CREATE TABLE roles (
	key text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_-]{0,31}$'),
	name text NOT NULL,
	permissions jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(permissions) = 'array'),
	record_scope text NOT NULL DEFAULT 'own' CHECK (record_scope IN ('own', 'team', 'all')),
	is_system bool NOT NULL DEFAULT false,
	version int NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE members (
	id bigserial PRIMARY KEY,
	user_id bigint UNIQUE,	-- public.users.id; NULL while invited
	email text NOT NULL CHECK (email = lower(email)),
	name text NOT NULL,
	role text NOT NULL REFERENCES roles (key) ON UPDATE CASCADE,
	manager_id bigint REFERENCES members (id),
	status text NOT NULL DEFAULT 'active' CHECK (status IN ('invited', 'active', 'disabled')),
	locale text NOT NULL DEFAULT 'zh-CN',
	invite_token_hash text UNIQUE,
	invite_expires_at timestamptz,
	invited_by bigint REFERENCES members (id),
	version int NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX members_email_key ON members (email);

-- A member as the API shows it.
CREATE FUNCTION member_json(m members) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', m.id, 'user_id', m.user_id, 'email', m.email,
		'name', m.name, 'role', m.role, 'manager_id', m.manager_id,
		'status', m.status, 'locale', m.locale, 'version', m.version,
		'created_at', m.created_at, 'updated_at', m.updated_at)
$$;

CREATE TABLE pipelines (
	id bigserial PRIMARY KEY,
	name text NOT NULL,
	position int NOT NULL DEFAULT 0,
	is_default bool NOT NULL DEFAULT false,
	version int NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pipeline_stages (
	id bigserial PRIMARY KEY,
	pipeline_id bigint NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
	name text NOT NULL,
	position int NOT NULL,
	probability int NOT NULL CHECK (probability BETWEEN 0 AND 100),
	kind text NOT NULL CHECK (kind IN ('open', 'won', 'lost')),
	UNIQUE (pipeline_id, position)
);

-- Who changed which field of which record, from what, to what, when.
CREATE TABLE audit_log (
	id bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	actor_user_id bigint,
	object text NOT NULL,
	record_id bigint NOT NULL,
	action text NOT NULL,
	field text,
	old_value jsonb,
	new_value jsonb
);
CREATE INDEX audit_log_record ON audit_log (object, record_id, id);

-- Changes for automations and webhooks, written in the same transaction.
CREATE TABLE outbox (
	id bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	event text NOT NULL,
	object text NOT NULL,
	record_id bigint NOT NULL,
	payload jsonb NOT NULL DEFAULT '{}',
	processed_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE processed_at IS NULL;

-- Raises CRM03 unless the role grants the permission (checked by crm-api in
-- the same round trip as a request's first statement).
CREATE FUNCTION require_permission(role_key text, perm text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
	-- perm may name several, "a|b": any one of them will do
	IF NOT EXISTS (SELECT 1 FROM roles WHERE key = role_key AND permissions ?| string_to_array(perm, '|')) THEN
		RAISE EXCEPTION 'role % lacks %', role_key, perm USING ERRCODE = 'CRM03';
	END IF;
END
$$;

-- Every table of this schema as {"table": [rows…]}: the tenant's export
-- (written before a tenant is deleted).
CREATE FUNCTION export_data() RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	t text;
	rows jsonb;
	out jsonb := '{}';
BEGIN
	FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
		ORDER BY tablename
	LOOP
		EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(x)), ''[]'') FROM %I x', t)
			INTO rows;
		out := out || jsonb_build_object(t, rows);
	END LOOP;
	RETURN out;
END
$$;
