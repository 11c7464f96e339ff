-- What a workspace configures and the calls across objects: custom fields
-- and the form layout, roles with object rights and field security,
-- pipelines, tags, global search, the recycle bin, member handover and lead
-- conversion. Writes are audited (object = the catalog's name) and raise the
-- record engine's SQLSTATEs (004_record_engine.sql).

-- Records a catalog change: an audit entry and an outbox event
-- ("<catalog>.<action>d", e.g. field.created), so that automations see
-- configuration changes as they see record changes.
CREATE FUNCTION catalog_log(catalog text, rid bigint, action text, field text,
	old jsonb, new jsonb) RETURNS void LANGUAGE sql AS $$
	INSERT INTO audit_log (actor_user_id, object, record_id, action, field, old_value, new_value)
	VALUES (acting_user(), catalog, rid, action, field, old, new);
	INSERT INTO outbox (event, object, record_id, payload)
	VALUES (rtrim(catalog, 's') || '.' || action || 'd', catalog, rid,
		jsonb_build_object('key', field, 'old', old, 'new', new));
$$;

-- Fields --------------------------------------------------------------------

CREATE FUNCTION field_json(f fields, access text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT jsonb_build_object('key', f.key, 'label', f.label, 'type', f.type, 'core', f.core,
		'system', f.system, 'required', f.required, 'unique', f.is_unique, 'options', f.options,
		'default', f.default_value, 'target', f.target, 'position', f.position,
		'section', f.section, 'version', f.version, 'read_only', f.system OR coalesce(access = 'read_only', false)));
END
$$;

-- GET /api/v1/fields/{object}: the fields the caller may see, and the form
-- layout (sections in order, each with its field keys).
CREATE FUNCTION fields_list(obj text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	WITH acc AS (SELECT field_access(obj) AS a),
	shown AS (SELECT f.* FROM fields f, acc WHERE f.object = obj
		AND coalesce(acc.a->>f.key, '') <> 'hidden'),
	sections AS (SELECT section, min(position) AS first, jsonb_agg(key ORDER BY position, key) AS keys
		FROM shown GROUP BY section)
	SELECT jsonb_build_object(
		'data', coalesce((SELECT jsonb_agg(field_json(s, acc.a->>s.key) ORDER BY s.position, s.key)
			FROM shown s, acc), '[]'),
		'layout', coalesce((SELECT jsonb_agg(jsonb_build_object('section', section, 'fields', keys)
			ORDER BY first, section) FROM sections), '[]'))
$$;

-- The columns of a CSV export: id, the visible fields in form order, tags,
-- times; labelled as the fields are (an import maps 标签 back to tags).
CREATE FUNCTION export_columns(obj text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_array(jsonb_build_object('key', 'id', 'label', 'ID', 'custom', false))
		|| coalesce((SELECT jsonb_agg(jsonb_build_object('key', key, 'label', label, 'custom', NOT core)
			ORDER BY NOT core, position, key)
			FROM fields WHERE object = obj AND NOT key = ANY(hidden_fields(obj))), '[]')
		|| jsonb_build_array(jsonb_build_object('key', 'tags', 'label', '标签', 'custom', false),
			jsonb_build_object('key', 'created_at', 'label', '创建时间', 'custom', false),
			jsonb_build_object('key', 'updated_at', 'label', '更新时间', 'custom', false))
$$;

-- How an export names the given ids, {"id": "name"}: members (what 'user')
-- by name, or by e-mail where another member has the same name; customers
-- (what 'customers') by name, those the caller may see.
CREATE FUNCTION export_names(what text, ids bigint[]) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_object_agg(x.id, x.name), '{}') FROM (
		SELECT m.id, CASE WHEN EXISTS (SELECT 1 FROM members o WHERE o.name = m.name AND o.id <> m.id)
			THEN m.email ELSE m.name END AS name
		FROM members m WHERE what = 'user' AND m.id = ANY(ids)
		UNION ALL
		SELECT c.id, c.name FROM customers c, (SELECT scope_owners() AS owners) s
		WHERE what = 'customers' AND c.id = ANY(ids) AND c.deleted_at IS NULL
			AND record_in_scope('customers', to_jsonb(c), s.owners)) x
$$;

-- A page of an export: the list's page (record_list) with each member field
-- (owner, assignee, custom member fields) as the member's name and each link
-- to a customer as its name, as a person reads them and an import takes them
-- back. A customer the caller may not see keeps its id.
CREATE FUNCTION export_page(obj text, params jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	page jsonb := record_list(obj, params);
	f record;
	names jsonb;
BEGIN
	FOR f IN SELECT CASE WHEN core THEN ARRAY[key] ELSE ARRAY['custom', key] END AS path,
			CASE WHEN type = 'user' THEN 'user' ELSE 'customers' END AS what
		FROM fields WHERE object = obj AND (type = 'user' OR (type = 'ref' AND target = 'customers')) LOOP
		names := export_names(f.what, ARRAY(SELECT DISTINCT (r #>> f.path)::bigint
			FROM jsonb_array_elements(page->'data') r WHERE jsonb_typeof(r #> f.path) = 'number'));
		CONTINUE WHEN names = '{}';
		page := jsonb_set(page, '{data}', (SELECT jsonb_agg(CASE WHEN names ? (r #>> f.path)
				THEN jsonb_set(r, f.path, names->(r #>> f.path)) ELSE r END ORDER BY n)
			FROM jsonb_array_elements(page->'data') WITH ORDINALITY x(r, n)));
	END LOOP;
	RETURN page;
END
$$;

-- A default value checked as a value of a field of type t with the given
-- options: (reason, the value as stored).
CREATE FUNCTION field_default_check(t text, options jsonb, v jsonb, OUT reason text, OUT value jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	chk record := field_check(ROW(NULL, NULL, 'x', t, false, false, false, false,
		coalesce(options, '[]'), NULL, NULL, '{}', 0, 'main', 1, now(), now())::fields, v);
BEGIN
	reason := chk.reason;
	value := nullif(chk.value, 'null');
END
$$;

-- Checks the settable properties of a field definition (body) for a field
-- of type t whose options are now stored_options; returns {reason…} per bad
-- property.
CREATE FUNCTION field_definition_errors(body jsonb, t text, is_core bool,
	stored_options jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	errs jsonb := '{}';
	k text;
	v jsonb;
	chk record;
BEGIN
	FOR k, v IN SELECT * FROM jsonb_each(body) LOOP
		IF k IN ('key', 'type', 'version') THEN
			CONTINUE;
		ELSIF is_core AND k NOT IN ('label', 'position', 'section') THEN
			errs := errs || jsonb_build_object(k, 'read_only');
		ELSIF k = 'label' AND (jsonb_typeof(v) <> 'string' OR length(btrim(v #>> '{}')) NOT BETWEEN 1 AND 100) THEN
			errs := errs || jsonb_build_object(k, 'invalid_value');
		ELSIF k = 'section' AND (jsonb_typeof(v) <> 'string' OR length(btrim(v #>> '{}')) NOT BETWEEN 1 AND 50) THEN
			errs := errs || jsonb_build_object(k, 'invalid_value');
		ELSIF k IN ('required', 'unique') AND jsonb_typeof(v) <> 'boolean' THEN
			errs := errs || jsonb_build_object(k, 'invalid_type');
		ELSIF k = 'unique' AND (v #>> '{}')::bool AND t NOT IN ('text', 'number', 'phone', 'email', 'url', 'date') THEN
			errs := errs || jsonb_build_object(k, 'not_supported');
		ELSIF k = 'position' AND (jsonb_typeof(v) <> 'number' OR (v #>> '{}')::numeric NOT BETWEEN 0 AND 10000
			OR (v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric)) THEN
			errs := errs || jsonb_build_object(k, 'invalid_value');
		ELSIF k = 'options' AND (t NOT IN ('select', 'multiselect') OR jsonb_typeof(v) <> 'array'
			OR jsonb_array_length(v) NOT BETWEEN 1 AND 200
			OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string'
				OR length(btrim(e #>> '{}')) NOT BETWEEN 1 AND 100)
			OR (SELECT count(DISTINCT e) FROM jsonb_array_elements_text(v) e) <> jsonb_array_length(v)) THEN
			errs := errs || jsonb_build_object(k, 'invalid_value');
		ELSIF k = 'default' THEN
			chk := field_default_check(t, coalesce(body->'options', stored_options), v);
			IF chk.reason IS NOT NULL THEN
				errs := errs || jsonb_build_object(k, chk.reason);
			END IF;
		ELSIF k NOT IN ('label', 'section', 'required', 'unique', 'position', 'options', 'default') THEN
			errs := errs || jsonb_build_object(k, 'unknown_field');
		END IF;
	END LOOP;
	RETURN errs;
END
$$;

-- The unique index of a custom field: the name record_store recognises.
CREATE FUNCTION field_unique_index(obj text, key text, on_ bool) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF on_ THEN
		EXECUTE format('CREATE UNIQUE INDEX %I ON %I ((custom->>%L)) WHERE deleted_at IS NULL',
			obj || '_cf_' || key, obj, key);
	ELSE
		EXECUTE format('DROP INDEX IF EXISTS %I', obj || '_cf_' || key);
	END IF;
EXCEPTION WHEN unique_violation THEN
	PERFORM crm_raise('CRM16', 'Existing records hold the same value twice; make them unique first.');
END
$$;

-- POST /api/v1/fields/{object}
CREATE FUNCTION field_create(obj text, body jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	t text := body->>'type';
	k text := body->>'key';
	errs jsonb;
	f fields;
BEGIN
	errs := field_definition_errors(body, t, false, NULL);
	IF jsonb_typeof(body->'key') IS DISTINCT FROM 'string' OR k !~ '^[a-z][a-z0-9_]{0,39}$' THEN
		errs := errs || '{"key": "invalid_format"}';
	ELSIF EXISTS (SELECT 1 FROM fields WHERE object = obj AND key = k)
		OR k IN ('id', 'version', 'tags', 'custom', 'created_at', 'updated_at', 'created_by',
			'deleted_at', 'deleted_by', 'summary') THEN
		errs := errs || '{"key": "taken"}';
	END IF;
	IF t IS NULL OR t NOT IN ('text', 'textarea', 'number', 'money', 'date', 'datetime', 'bool',
		'select', 'multiselect', 'user', 'phone', 'email', 'url') THEN
		errs := errs || '{"type": "invalid_option"}';
	ELSIF t IN ('select', 'multiselect') AND NOT body ? 'options' THEN
		errs := errs || '{"options": "required"}';
	END IF;
	IF NOT body ? 'label' THEN
		errs := errs || '{"label": "required"}';
	END IF;
	IF (SELECT count(*) FROM fields WHERE object = obj AND NOT core) >= 200 THEN
		errs := errs || '{"key": "too_many_fields"}';
	END IF;
	IF errs <> '{}' THEN
		PERFORM crm_raise('CRM10', 'validation_failed', errs);
	END IF;
	INSERT INTO fields (object, key, label, type, required, is_unique, options, default_value,
		position, section)
	VALUES (obj, k, btrim(body->>'label'), t, coalesce((body->>'required')::bool, false),
		coalesce((body->>'unique')::bool, false), body->'options',
		(field_default_check(t, body->'options', body->'default')).value,
		coalesce((body->>'position')::int, 1000), coalesce(btrim(body->>'section'), 'custom'))
	RETURNING * INTO f;
	PERFORM field_unique_index(obj, k, f.is_unique);
	PERFORM catalog_log('fields', 0, 'create', obj || '.' || k, NULL, field_json(f, NULL));
	RETURN field_json(f, NULL);
END
$$;

-- PATCH /api/v1/fields/{object}/{key}: core fields take label, position and
-- section only.
CREATE FUNCTION field_update(obj text, k text, body jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	old fields;
	f fields;
	errs jsonb;
BEGIN
	SELECT * INTO old FROM fields WHERE object = obj AND key = k FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM crm_raise('CRM14', 'no such field');
	END IF;
	errs := field_definition_errors(body, old.type, old.core, old.options);
	IF body ? 'version' AND (body->>'version') IS DISTINCT FROM old.version::text THEN
		PERFORM crm_raise('CRM11', 'version_conflict');
	END IF;
	IF errs <> '{}' THEN
		PERFORM crm_raise('CRM10', 'validation_failed', errs);
	END IF;
	UPDATE fields SET label = coalesce(btrim(body->>'label'), label),
		required = coalesce((body->>'required')::bool, required),
		is_unique = coalesce((body->>'unique')::bool, is_unique),
		options = CASE WHEN body ? 'options' THEN body->'options' ELSE options END,
		default_value = CASE WHEN body ? 'default' THEN (field_default_check(old.type,
			coalesce(body->'options', old.options), body->'default')).value ELSE default_value END,
		position = coalesce((body->>'position')::int, position),
		section = coalesce(btrim(body->>'section'), section),
		version = version + 1, updated_at = now()
	WHERE object = obj AND key = k RETURNING * INTO f;
	IF f.is_unique <> old.is_unique THEN
		PERFORM field_unique_index(obj, k, f.is_unique);
	END IF;
	PERFORM catalog_log('fields', 0, 'update', obj || '.' || k, field_json(old, NULL), field_json(f, NULL));
	RETURN field_json(f, NULL);
END
$$;

-- DELETE /api/v1/fields/{object}/{key}: a custom field and its values (the
-- history keeps them).
CREATE FUNCTION field_delete(obj text, k text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	old fields;
BEGIN
	SELECT * INTO old FROM fields WHERE object = obj AND key = k FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM crm_raise('CRM14', 'no such field');
	ELSIF old.core THEN
		PERFORM crm_raise('CRM16', 'Core fields cannot be deleted.');
	END IF;
	PERFORM field_unique_index(obj, k, false);
	DELETE FROM fields WHERE object = obj AND key = k;
	EXECUTE format('UPDATE %I SET custom = custom - $1 WHERE custom ? $1', obj) USING k;
	PERFORM catalog_log('fields', 0, 'delete', obj || '.' || k, field_json(old, NULL), NULL);
	RETURN '{}';
END
$$;

-- Roles ---------------------------------------------------------------------

-- Every permission key a role may hold.
CREATE FUNCTION permission_keys() RETURNS text[] LANGUAGE sql STABLE AS $$
	SELECT ARRAY['members.read', 'members.manage', 'roles.manage', 'settings.manage', 'data.export']
		|| ARRAY(SELECT o.name || '.' || a FROM objects o,
			unnest(ARRAY['read', 'create', 'update', 'delete', 'export']) a ORDER BY o.position, a)
$$;

CREATE FUNCTION role_json(r roles) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT jsonb_build_object('key', r.key, 'name', r.name, 'record_scope', r.record_scope,
		'permissions', r.permissions, 'is_system', r.is_system, 'version', r.version,
		'fields', coalesce((SELECT jsonb_object_agg(object || '.' || field, access)
			FROM field_rules WHERE role = r.key), '{}')));
END
$$;

-- GET /api/v1/roles
CREATE FUNCTION roles_list() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('data', coalesce(jsonb_agg(role_json(r) ORDER BY r.created_at, r.key), '[]'),
		'permission_keys', to_jsonb(permission_keys()))
	FROM roles r
$$;

-- POST /api/v1/roles (creating) and PATCH /api/v1/roles/{key}: the owner
-- role is not editable. `fields` replaces the role's field rules.
CREATE FUNCTION role_save(k text, body jsonb, creating bool) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	errs jsonb := '{}';
	old roles;
	r roles;
	e record;
BEGIN
	IF creating THEN
		k := body->>'key';
		IF jsonb_typeof(body->'key') IS DISTINCT FROM 'string' OR k !~ '^[a-z][a-z0-9_-]{0,31}$' THEN
			errs := errs || '{"key": "invalid_format"}';
		ELSIF EXISTS (SELECT 1 FROM roles WHERE key = k) THEN
			errs := errs || '{"key": "taken"}';
		END IF;
		IF NOT body ? 'name' THEN
			errs := errs || '{"name": "required"}';
		END IF;
	ELSE
		SELECT * INTO old FROM roles WHERE key = k FOR UPDATE;
		IF NOT FOUND THEN
			PERFORM crm_raise('CRM14', 'no such role');
		ELSIF old.key = 'owner' THEN
			PERFORM crm_raise('CRM03', 'the owner role is not editable');
		ELSIF body ? 'version' AND body->>'version' IS DISTINCT FROM old.version::text THEN
			PERFORM crm_raise('CRM11', 'version_conflict');
		END IF;
	END IF;
	FOR e IN SELECT * FROM jsonb_each(body) LOOP
		IF e.key = 'name' AND (jsonb_typeof(e.value) <> 'string'
			OR length(btrim(e.value #>> '{}')) NOT BETWEEN 1 AND 50) THEN
			errs := errs || '{"name": "invalid_value"}';
		ELSIF e.key = 'record_scope' AND (jsonb_typeof(e.value) <> 'string'
			OR e.value #>> '{}' NOT IN ('own', 'team', 'all')) THEN
			errs := errs || '{"record_scope": "invalid_option"}';
		ELSIF e.key = 'permissions' AND (jsonb_typeof(e.value) <> 'array' OR EXISTS (
			SELECT 1 FROM jsonb_array_elements(e.value) p WHERE jsonb_typeof(p) <> 'string'
				OR NOT p #>> '{}' = ANY(permission_keys()))) THEN
			errs := errs || '{"permissions": "invalid_value"}';
		ELSIF e.key = 'fields' AND (jsonb_typeof(e.value) <> 'object' OR EXISTS (
			SELECT 1 FROM jsonb_each(e.value) x WHERE jsonb_typeof(x.value) <> 'string'
				OR x.value #>> '{}' NOT IN ('hidden', 'read_only')
				OR NOT EXISTS (SELECT 1 FROM fields f WHERE f.object || '.' || f.key = x.key))) THEN
			errs := errs || '{"fields": "invalid_value"}';
		ELSIF e.key NOT IN ('key', 'name', 'record_scope', 'permissions', 'fields', 'version') THEN
			errs := errs || jsonb_build_object(e.key, 'unknown_field');
		END IF;
	END LOOP;
	IF errs <> '{}' THEN
		PERFORM crm_raise('CRM10', 'validation_failed', errs);
	END IF;
	IF creating THEN
		INSERT INTO roles (key, name, record_scope, permissions)
		VALUES (k, btrim(body->>'name'), coalesce(body->>'record_scope', 'own'),
			coalesce((SELECT jsonb_agg(DISTINCT p) FROM jsonb_array_elements(body->'permissions') p), '[]'))
		RETURNING * INTO r;
	ELSE
		UPDATE roles SET name = coalesce(btrim(body->>'name'), name),
			record_scope = coalesce(body->>'record_scope', record_scope),
			permissions = CASE WHEN body ? 'permissions' THEN coalesce((SELECT jsonb_agg(DISTINCT p)
				FROM jsonb_array_elements(body->'permissions') p), '[]') ELSE permissions END,
			version = version + 1, updated_at = now()
		WHERE key = k RETURNING * INTO r;
	END IF;
	IF body ? 'fields' THEN
		DELETE FROM field_rules WHERE role = k;
		INSERT INTO field_rules (role, object, field, access)
		SELECT k, split_part(x.key, '.', 1), split_part(x.key, '.', 2), x.value #>> '{}'
		FROM jsonb_each(body->'fields') x;
	END IF;
	PERFORM catalog_log('roles', 0, CASE WHEN creating THEN 'create' ELSE 'update' END, k,
		CASE WHEN NOT creating THEN role_json(old) END, role_json(r));
	RETURN role_json(r);
END
$$;

-- Pipelines -------------------------------------------------------------------

CREATE FUNCTION pipeline_json(p pipelines) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT jsonb_build_object('id', p.id, 'name', p.name, 'is_default', p.is_default,
		'position', p.position, 'version', p.version,
		'stages', coalesce((SELECT jsonb_agg(jsonb_build_object('id', s.id, 'name', s.name,
			'position', s.position, 'probability', s.probability, 'kind', s.kind) ORDER BY s.position)
			FROM pipeline_stages s WHERE s.pipeline_id = p.id), '[]')));
END
$$;

-- GET /api/v1/pipelines
CREATE FUNCTION pipelines_list() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('data', coalesce(jsonb_agg(pipeline_json(p) ORDER BY p.position, p.id), '[]'))
	FROM pipelines p
$$;

-- {reason…} for a pipeline body: name, is_default, stages [{id?, name,
-- probability, kind}] (1..30, at least one open).
CREATE FUNCTION pipeline_errors(body jsonb, creating bool) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_strip_nulls(jsonb_build_object(
		'name', CASE WHEN creating AND NOT body ? 'name' THEN 'required'
			WHEN body ? 'name' AND (jsonb_typeof(body->'name') <> 'string'
				OR length(btrim(body->>'name')) NOT BETWEEN 1 AND 50) THEN 'invalid_value' END,
		'is_default', CASE WHEN body ? 'is_default' AND jsonb_typeof(body->'is_default') <> 'boolean'
			THEN 'invalid_type' END,
		'stages', CASE WHEN creating AND NOT body ? 'stages' THEN 'required'
			WHEN body ? 'stages' AND (jsonb_typeof(body->'stages') <> 'array'
				OR jsonb_array_length(body->'stages') NOT BETWEEN 1 AND 30
				OR EXISTS (SELECT 1 FROM jsonb_array_elements(body->'stages') s
					WHERE jsonb_typeof(s) <> 'object'
					OR jsonb_typeof(s->'name') IS DISTINCT FROM 'string'
					OR length(btrim(s->>'name')) NOT BETWEEN 1 AND 50
					OR jsonb_typeof(s->'probability') IS DISTINCT FROM 'number'
					OR (s->>'probability')::numeric NOT IN (SELECT generate_series(0, 100))
					OR coalesce(s->>'kind', '') NOT IN ('open', 'won', 'lost')
					OR (s ? 'id' AND json_id(s->'id') IS NULL))
				OR (SELECT count(DISTINCT s->>'id') <> count(s->'id')
					FROM jsonb_array_elements(body->'stages') s)
				OR NOT EXISTS (SELECT 1 FROM jsonb_array_elements(body->'stages') s
					WHERE s->>'kind' = 'open')) THEN 'invalid_value' END,
		'unknown', (SELECT string_agg(k, ',') FROM jsonb_object_keys(body) k
			WHERE k NOT IN ('name', 'is_default', 'stages', 'version'))))
$$;

-- POST /api/v1/pipelines (pid NULL) and PATCH /api/v1/pipelines/{id}.
-- Stages sent with an id keep it (and their opportunities); stages left out
-- are removed unless an opportunity is in them.
CREATE FUNCTION pipeline_save(pid bigint, body jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	errs jsonb := pipeline_errors(body, pid IS NULL);
	p pipelines;
	old jsonb;
BEGIN
	IF errs ? 'unknown' THEN
		errs := errs - 'unknown' || jsonb_build_object(split_part(errs->>'unknown', ',', 1), 'unknown_field');
	END IF;
	IF errs <> '{}' THEN
		PERFORM crm_raise('CRM10', 'validation_failed', errs);
	END IF;
	IF pid IS NULL THEN
		INSERT INTO pipelines (name, position) VALUES (btrim(body->>'name'),
			(SELECT coalesce(max(position) + 1, 0) FROM pipelines)) RETURNING * INTO p;
	ELSE
		SELECT * INTO p FROM pipelines WHERE id = pid FOR UPDATE;
		IF NOT FOUND THEN
			PERFORM crm_raise('CRM14', 'no such pipeline');
		ELSIF body ? 'version' AND body->>'version' IS DISTINCT FROM p.version::text THEN
			PERFORM crm_raise('CRM11', 'version_conflict');
		END IF;
		old := pipeline_json(p);
		UPDATE pipelines SET name = coalesce(btrim(body->>'name'), name), version = version + 1,
			updated_at = now() WHERE id = pid RETURNING * INTO p;
	END IF;
	IF body ? 'stages' THEN
		IF EXISTS (SELECT 1 FROM jsonb_array_elements(body->'stages') s WHERE s ? 'id'
			AND NOT EXISTS (SELECT 1 FROM pipeline_stages x WHERE x.id = (s->>'id')::bigint
				AND x.pipeline_id = p.id)) THEN
			PERFORM crm_raise('CRM10', 'validation_failed', '{"stages": "invalid_value"}');
		END IF;
		IF EXISTS (SELECT 1 FROM opportunities o JOIN pipeline_stages x ON x.id = o.stage_id
			WHERE x.pipeline_id = p.id AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(body->'stages') s
				WHERE (s->>'id')::bigint = x.id)) THEN
			PERFORM crm_raise('CRM16', 'A stage to remove still holds opportunities.');
		END IF;
		DELETE FROM pipeline_stages x WHERE x.pipeline_id = p.id AND NOT EXISTS (
			SELECT 1 FROM jsonb_array_elements(body->'stages') s WHERE (s->>'id')::bigint = x.id);
		-- positions move out of the way first: (pipeline_id, position) is unique
		UPDATE pipeline_stages SET position = -1 - position WHERE pipeline_id = p.id;
		UPDATE pipeline_stages x SET name = btrim(s.v->>'name'), probability = (s.v->>'probability')::int,
			kind = s.v->>'kind', position = s.i - 1
		FROM jsonb_array_elements(body->'stages') WITH ORDINALITY s(v, i)
		WHERE x.id = (s.v->>'id')::bigint;
		INSERT INTO pipeline_stages (pipeline_id, name, position, probability, kind)
		SELECT p.id, btrim(s.v->>'name'), s.i - 1, (s.v->>'probability')::int, s.v->>'kind'
		FROM jsonb_array_elements(body->'stages') WITH ORDINALITY s(v, i) WHERE NOT s.v ? 'id';
	END IF;
	IF coalesce((body->>'is_default')::bool, false) THEN
		UPDATE pipelines SET is_default = (id = p.id);
	END IF;
	SELECT * INTO p FROM pipelines WHERE id = p.id;
	PERFORM catalog_log('pipelines', p.id, CASE WHEN pid IS NULL THEN 'create' ELSE 'update' END,
		NULL, old, pipeline_json(p));
	RETURN pipeline_json(p);
END
$$;

-- DELETE /api/v1/pipelines/{id}: not the default one, nor one that holds
-- opportunities (even in the recycle bin).
CREATE FUNCTION pipeline_delete(pid bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	p pipelines;
BEGIN
	SELECT * INTO p FROM pipelines WHERE id = pid FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM crm_raise('CRM14', 'no such pipeline');
	ELSIF p.is_default THEN
		PERFORM crm_raise('CRM16', 'The default pipeline cannot be deleted.');
	ELSIF EXISTS (SELECT 1 FROM opportunities WHERE pipeline_id = pid) THEN
		PERFORM crm_raise('CRM16', 'The pipeline still holds opportunities.');
	END IF;
	PERFORM catalog_log('pipelines', pid, 'delete', NULL, pipeline_json(p), NULL);
	DELETE FROM pipelines WHERE id = pid;
	RETURN '{}';
END
$$;

-- Tags --------------------------------------------------------------------------

CREATE FUNCTION tag_json(t tags) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('id', t.id, 'name', t.name, 'color', t.color)
$$;

CREATE FUNCTION tags_list() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('data', coalesce(jsonb_agg(tag_json(t) ORDER BY t.name), '[]')) FROM tags t
$$;

-- Renames (to) or removes (to NULL) a tag on every record that has it.
CREATE FUNCTION tag_replace_on_records(from_name text, to_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	o text;
BEGIN
	FOR o IN SELECT name FROM objects LOOP
		EXECUTE format('UPDATE %I SET tags = CASE WHEN $2 IS NULL THEN array_remove(tags, $1) '
			'ELSE ARRAY(SELECT DISTINCT unnest(array_replace(tags, $1, $2))) END '
			'WHERE tags @> ARRAY[$1]', o) USING from_name, to_name;
	END LOOP;
END
$$;

-- POST /api/v1/tags (tid NULL) and PATCH /api/v1/tags/{id}.
CREATE FUNCTION tag_save(tid bigint, body jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	old tags;
	t tags;
	errs jsonb := jsonb_strip_nulls(jsonb_build_object(
		'name', CASE WHEN tid IS NULL AND NOT body ? 'name' THEN 'required'
			WHEN body ? 'name' AND (jsonb_typeof(body->'name') <> 'string'
				OR length(btrim(body->>'name')) NOT BETWEEN 1 AND 50) THEN 'invalid_value' END,
		'color', CASE WHEN body ? 'color' AND body->'color' <> 'null' AND (jsonb_typeof(body->'color') <> 'string'
			OR body->>'color' !~ '^#[0-9a-fA-F]{6}$') THEN 'invalid_value' END))
		|| coalesce((SELECT jsonb_object_agg(k, 'unknown_field') FROM jsonb_object_keys(body) k
			WHERE k NOT IN ('name', 'color')), '{}');
BEGIN
	IF errs <> '{}' THEN
		PERFORM crm_raise('CRM10', 'validation_failed', errs);
	END IF;
	IF tid IS NULL THEN
		INSERT INTO tags (name, color) VALUES (btrim(body->>'name'), body->>'color') RETURNING * INTO t;
	ELSE
		SELECT * INTO old FROM tags WHERE id = tid FOR UPDATE;
		IF NOT FOUND THEN
			PERFORM crm_raise('CRM14', 'no such tag');
		END IF;
		UPDATE tags SET name = coalesce(btrim(body->>'name'), name),
			color = CASE WHEN body ? 'color' THEN body->>'color' ELSE color END
		WHERE id = tid RETURNING * INTO t;
		IF t.name <> old.name THEN
			PERFORM tag_replace_on_records(old.name, t.name);
		END IF;
	END IF;
	PERFORM catalog_log('tags', t.id, CASE WHEN tid IS NULL THEN 'create' ELSE 'update' END, NULL,
		CASE WHEN tid IS NOT NULL THEN tag_json(old) END, tag_json(t));
	RETURN tag_json(t);
EXCEPTION WHEN unique_violation THEN
	PERFORM crm_raise('CRM10', 'validation_failed', '{"name": "taken"}');
END
$$;

-- DELETE /api/v1/tags/{id}: the tag leaves every record.
CREATE FUNCTION tag_delete(tid bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	old tags;
BEGIN
	DELETE FROM tags WHERE id = tid RETURNING * INTO old;
	IF NOT FOUND THEN
		PERFORM crm_raise('CRM14', 'no such tag');
	END IF;
	PERFORM tag_replace_on_records(old.name, NULL);
	PERFORM catalog_log('tags', tid, 'delete', NULL, tag_json(old), NULL);
	RETURN '{}';
END
$$;

-- Across objects ------------------------------------------------------------------

-- GET /api/v1/search?q=: the best matches (most recently updated) of each
-- object the caller may read, in their scope.
CREATE FUNCTION search_all(q text, per_object int) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	s text := search_query(q);
	owners bigint[] := scope_owners();
	o objects;
	found jsonb;
	out jsonb := '[]';
BEGIN
	IF s IS NULL OR length(s) < 2 THEN
		PERFORM crm_raise('CRM15', 'q too short', '{"q": "too_short"}');
	END IF;
	FOR o IN SELECT * FROM objects ORDER BY position LOOP
		CONTINUE WHEN NOT has_permission(o.name || '.read')
			OR o.title_column = ANY(hidden_fields(o.name));
		EXECUTE format('SELECT coalesce(jsonb_agg(jsonb_build_object(''object'', %L, ''id'', t.id, '
			'''title'', t.%I, ''updated_at'', t.updated_at) ORDER BY t.updated_at DESC), ''[]'') '
			'FROM (SELECT * FROM %I t WHERE t.deleted_at IS NULL AND %s '
			'AND ($2::bigint[] IS NULL OR t.%I = ANY($2)) '
			'ORDER BY t.updated_at DESC LIMIT $3) t', o.name, o.title_column, o.name,
			search_condition(o.name, hidden_fields(o.name), '$1'), o.owner_column)
		INTO found USING s, owners, per_object;
		out := out || found;
	END LOOP;
	RETURN jsonb_build_object('data', out);
END
$$;

-- GET /api/v1/recycle_bin?object=&limit=&cursor=: deleted records the caller
-- may restore, most recently deleted first; the cursor is [deleted_at,
-- object, id] of the last one.
CREATE FUNCTION recycle_bin(only_object text, lim int, cur text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	c jsonb := cursor_of_time(cur);
	owners bigint[] := scope_owners();
	parts text[] := '{}';
	o objects;
	page jsonb;
BEGIN
	IF only_object IS NOT NULL AND NOT EXISTS (SELECT 1 FROM objects WHERE name = only_object) THEN
		PERFORM crm_raise('CRM15', 'bad object', '{"object": "invalid_option"}');
	END IF;
	FOR o IN SELECT * FROM objects WHERE only_object IS NULL OR name = only_object LOOP
		CONTINUE WHEN NOT has_permission(o.name || '.delete');
		-- a title the role may not see stays out, as the field does everywhere
		parts := parts || format('SELECT %L AS object, t.id, %s AS title, t.deleted_at, '
			't.deleted_by FROM %I t WHERE t.deleted_at IS NOT NULL '
			'AND ($1::bigint[] IS NULL OR t.%I = ANY($1))', o.name,
			CASE WHEN o.title_column = ANY(hidden_fields(o.name)) THEN 'NULL::text'
				ELSE format('t.%I::text', o.title_column) END, o.name, o.owner_column);
	END LOOP;
	IF cardinality(parts) = 0 THEN
		RETURN jsonb_build_object('data', '[]'::jsonb, 'next_cursor', NULL);
	END IF;
	EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.deleted_at DESC, x.object DESC, x.id DESC), ''[]'') '
		'FROM (SELECT * FROM (%s) u WHERE $2::jsonb IS NULL OR (u.deleted_at, u.object, u.id) < '
		'(($2->>0)::timestamptz, $2->>1, ($2->>2)::bigint) '
		'ORDER BY u.deleted_at DESC, u.object DESC, u.id DESC LIMIT $3) x', array_to_string(parts, ' UNION ALL '))
	INTO page USING owners, c, lim + 1;
	RETURN page_answer(page, lim, '{deleted_at,object,id}');
END
$$;

-- POST /api/v1/members/{id}/handover {"to_member_id"}: every record the
-- member owns (tasks: is assigned), live or in the recycle bin, moves to
-- another active member; each move is audited.
CREATE FUNCTION member_handover(from_id bigint, body jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	to_id bigint;
	o objects;
	moved jsonb := '{}';
BEGIN
	to_id := json_id(body->'to_member_id');
	IF to_id IS NULL THEN
		PERFORM crm_raise('CRM10', 'validation_failed', '{"to_member_id": "required"}');
	END IF;
	IF NOT EXISTS (SELECT 1 FROM members WHERE id = from_id) THEN
		PERFORM crm_raise('CRM14', 'no such member');
	ELSIF to_id = from_id OR NOT EXISTS (SELECT 1 FROM members WHERE id = to_id AND status = 'active') THEN
		PERFORM crm_raise('CRM10', 'validation_failed', '{"to_member_id": "invalid_member"}');
	END IF;
	FOR o IN SELECT * FROM objects ORDER BY position LOOP
		moved := moved || jsonb_build_object(o.name,
			record_reassign(o.name, o.owner_column, from_id, to_id, 'handover'));
	END LOOP;
	INSERT INTO outbox (event, object, record_id, payload)
	VALUES ('member.handover', 'member', from_id,
		jsonb_build_object('from_member_id', from_id, 'to_member_id', to_id, 'moved', moved));
	RETURN jsonb_build_object('moved', moved);
END
$$;

-- POST /api/v1/leads/{id}/convert: the customer (new, made from the lead and
-- body.customer, or the existing body.customer_id), the contact (unless
-- body.contact is null) and, when body.opportunity is given, the
-- opportunity, in one transaction; the lead's activities and tasks follow.
CREATE FUNCTION lead_convert(lid bigint, body jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	lead jsonb := record_visible('leads', lid, false, true);
	customer jsonb;
	contact jsonb;
	opp jsonb;
	k text;
BEGIN
	FOR k IN SELECT jsonb_object_keys(body) LOOP
		IF k NOT IN ('customer', 'customer_id', 'contact', 'opportunity') THEN
			PERFORM crm_raise('CRM10', 'validation_failed', jsonb_build_object(k, 'unknown_field'));
		ELSIF k <> 'customer_id' AND jsonb_typeof(body->k) NOT IN ('object', 'null') THEN
			PERFORM crm_raise('CRM10', 'validation_failed', jsonb_build_object(k, 'invalid_type'));
		END IF;
	END LOOP;
	IF lead->>'status' = 'converted' THEN
		PERFORM crm_raise('CRM16', 'The lead is already converted.');
	END IF;
	IF body ? 'customer_id' THEN
		IF json_id(body->'customer_id') IS NULL THEN
			PERFORM crm_raise('CRM10', 'validation_failed', '{"customer_id": "invalid_type"}');
		END IF;
		customer := record_get('customers', json_id(body->'customer_id'));
	ELSE
		PERFORM require_right('customers', 'create');
		customer := record_create('customers', jsonb_strip_nulls(jsonb_build_object(
			'name', coalesce(lead->>'company', lead->>'name'), 'phone', lead->'phone',
			'email', lead->'email', 'source', lead->'source', 'region', lead->'region',
			'industry', lead->'industry', 'kind', CASE WHEN lead->>'company' IS NULL THEN 'person' END))
			|| coalesce(nullif(body->'customer', 'null'), '{}'));
	END IF;
	IF NOT (body ? 'contact' AND body->'contact' = 'null') THEN
		PERFORM require_right('contacts', 'create');
		contact := record_create('contacts', jsonb_strip_nulls(jsonb_build_object(
			'name', lead->'name', 'title', lead->'title', 'phone', lead->'phone', 'email', lead->'email',
			'is_primary', true)) || coalesce(body->'contact', '{}')
			|| jsonb_build_object('customer_id', (customer->>'id')::bigint));
	END IF;
	IF jsonb_typeof(body->'opportunity') = 'object' THEN
		PERFORM require_right('opportunities', 'create');
		opp := record_create('opportunities', jsonb_build_object('name', coalesce(lead->>'company', lead->>'name'))
			|| (body->'opportunity') || jsonb_build_object('customer_id', (customer->>'id')::bigint));
	END IF;
	UPDATE activities SET customer_id = (customer->>'id')::bigint,
		contact_id = coalesce(contact_id, (contact->>'id')::bigint), version = version + 1, updated_at = now()
	WHERE lead_id = lid;
	UPDATE tasks SET customer_id = (customer->>'id')::bigint,
		contact_id = coalesce(contact_id, (contact->>'id')::bigint), version = version + 1, updated_at = now()
	WHERE lead_id = lid;
	UPDATE customers SET last_followed_at = greatest(last_followed_at,
		(SELECT max(occurred_at) FROM activities WHERE lead_id = lid AND deleted_at IS NULL))
	WHERE id = (customer->>'id')::bigint;
	PERFORM audit_changes('leads', lead, record_store('leads', lid, lead || jsonb_build_object(
		'status', 'converted', 'converted_at', now(), 'converted_customer_id', customer->'id',
		'converted_contact_id', contact->'id', 'converted_opportunity_id', opp->'id',
		'version', (lead->>'version')::int + 1, 'updated_at', now()),
		ARRAY['status', 'converted_at', 'converted_customer_id', 'converted_contact_id',
			'converted_opportunity_id', 'version', 'updated_at']));
	INSERT INTO outbox (event, object, record_id, payload)
	VALUES ('lead.converted', 'leads', lid, jsonb_build_object('id', lid, 'customer_id', customer->'id',
		'contact_id', contact->'id', 'opportunity_id', opp->'id'));
	RETURN jsonb_build_object('customer', customer, 'contact', contact, 'opportunity', opp);
END
$$;
