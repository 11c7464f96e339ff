-- The record engine: one set of functions serves every object of the
-- `objects` catalog. crm-api calls them once per request; each checks scope
-- and field security, validates against `fields`, writes the row, its audit
-- entries and its outbox event in the caller's transaction, and answers JSON.
--
-- Errors are raised with our SQLSTATEs (app/core/db.c maps them):
--   CRM10 validation_failed (DETAIL: {"field": "reason"})
--   CRM11 version_conflict   CRM12 field_forbidden (DETAIL: {"field": "hidden"|"read_only"})
--   CRM13 duplicate (DETAIL: {"existing_id": n})   CRM14 not_found
--   CRM15 bad_request (DETAIL: {"parameter": "reason"})   CRM16 conflict

CREATE FUNCTION crm_raise(state text, message text, detail jsonb DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = state, MESSAGE = message,
		DETAIL = coalesce(detail::text, '');
END
$$;

-- The id a JSON value holds: a non-negative integer of at most 18 digits,
-- else NULL (a string, 7.5, 1e20 and null are no ids).
CREATE FUNCTION json_id(v jsonb) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN CASE WHEN jsonb_typeof(v) = 'number' AND v #>> '{}' ~ '^[0-9]{1,18}$'
		THEN (v #>> '{}')::bigint END;
END
$$;

-- The caller, as set by crm-api with the tenant context.
CREATE FUNCTION acting_user() RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT nullif(current_setting('crm.user_id', true), '')::bigint
$$;
CREATE FUNCTION acting_member() RETURNS bigint LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT id FROM members WHERE user_id = acting_user());
END
$$;
CREATE FUNCTION acting_role() RETURNS text LANGUAGE sql STABLE AS $$
	SELECT nullif(current_setting('crm.role', true), '')
$$;

-- Raises CRM03 unless the caller's role has the right on the object.
CREATE FUNCTION require_right(obj text, action text) RETURNS void
LANGUAGE sql STABLE AS $$
	SELECT require_permission(acting_role(), obj || '.' || action)
$$;

-- True when the caller's role holds the permission.
CREATE FUNCTION has_permission(perm text) RETURNS bool LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT EXISTS (SELECT 1 FROM roles WHERE key = acting_role() AND permissions ? perm));
END
$$;

-- The owners whose records the caller sees: NULL for every record (scope
-- all), the caller and everyone under them in the manager tree (team), or
-- the caller alone (own).
CREATE FUNCTION scope_owners() RETURNS bigint[] LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (WITH RECURSIVE team AS (
		SELECT id FROM members WHERE id = acting_member()
		UNION SELECT m.id FROM members m JOIN team t ON m.manager_id = t.id)
	SELECT CASE (SELECT record_scope FROM roles WHERE key = acting_role())
		WHEN 'all' THEN NULL
		WHEN 'team' THEN (SELECT coalesce(array_agg(id), '{}') FROM team)
		ELSE (SELECT coalesce(array_agg(id), '{}') FROM members WHERE id = acting_member()) END);
END
$$;

-- {"field": "hidden"|"read_only"} of the caller's role on an object.
CREATE FUNCTION field_access(obj text) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT coalesce(jsonb_object_agg(field, access), '{}')
	FROM field_rules WHERE role = acting_role() AND object = obj);
END
$$;

CREATE FUNCTION hidden_fields(obj text) RETURNS text[] LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT coalesce(array_agg(field), '{}')
	FROM field_rules WHERE role = acting_role() AND object = obj AND access = 'hidden');
END
$$;

-- A stored row as the API shows it: no internal columns, no hidden field
-- (core or custom), money as a decimal string.
CREATE FUNCTION record_out(obj text, r jsonb, hidden text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT CASE WHEN r IS NULL THEN NULL ELSE
		jsonb_set(r - '{_name_norm,_phone_norm,_search,_grams}'::text[] - hidden,
			'{custom}', coalesce(r->'custom', '{}') - hidden)
		|| CASE WHEN jsonb_typeof(r->'amount') = 'number' AND NOT 'amount' = ANY(hidden)
			THEN jsonb_build_object('amount', r->>'amount') ELSE '{}' END
	END);
END
$$;

-- The columns of an object's table that the API shows, as a select list
-- over `t`: the internal ones (`_search`, `_grams`…) are large and never
-- leave the database, so reads do not build them into JSON at all.
CREATE FUNCTION record_columns(obj text) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT string_agg(format('t.%I', attname), ', ' ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = to_regclass(obj) AND attnum > 0 AND NOT attisdropped
			AND attname NOT LIKE '\_%');
END
$$;

-- The row of a record (to_jsonb), locked when asked; NULL when there is none.
CREATE FUNCTION record_row(obj text, rid bigint, lock bool DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb;
BEGIN
	EXECUTE format('SELECT to_jsonb(x) FROM (SELECT %s FROM %I t WHERE t.id = $1 %s) x',
		record_columns(obj), obj, CASE WHEN lock THEN 'FOR UPDATE' ELSE '' END) INTO r USING rid;
	RETURN r;
END
$$;

-- True when the caller's scope covers the row: any row for scope "all"
-- (owners NULL), else a row one of the owners holds. A row without an owner
-- is out of such a scope, except a customer in the public pool, which every
-- member may open in order to claim it.
CREATE FUNCTION record_in_scope(obj text, r jsonb, owners bigint[]) RETURNS bool
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN owners IS NULL
		OR coalesce((r->>(SELECT owner_column FROM objects WHERE name = obj))::bigint = ANY(owners), false)
		OR (obj = 'customers' AND coalesce((r->>'in_pool')::bool, false));
END
$$;

-- A record the caller may see (live, or in the recycle bin when `deleted`),
-- locked when asked; raises CRM14 otherwise.
CREATE FUNCTION record_visible(obj text, rid bigint, deleted bool DEFAULT false,
	lock bool DEFAULT false) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r jsonb := record_row(obj, rid, lock);
BEGIN
	IF r IS NULL OR (r->>'deleted_at' IS NOT NULL) <> deleted
		OR NOT record_in_scope(obj, r, scope_owners()) THEN
		PERFORM crm_raise('CRM14', obj || ' ' || rid || ' not found');
	END IF;
	RETURN r;
END
$$;

-- Validation ------------------------------------------------------------------

-- True when the object's column may not hold NULL (kind, status…: they have
-- a default, so they are not required, but cannot be emptied either).
CREATE FUNCTION column_not_null(obj text, col text) RETURNS bool
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT coalesce((SELECT attnotnull FROM pg_attribute
		WHERE attrelid = to_regclass(obj) AND attname = col), false));
END
$$;

-- Checks one value against its field definition. reason is NULL when the
-- value is valid; value is the value to store (trimmed, normalized; JSON
-- null for an empty one).
CREATE FUNCTION field_check(f fields, v jsonb, OUT reason text, OUT value jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	t text := jsonb_typeof(v);
	s text := trim_space(v #>> '{}');
	max_len int := coalesce((f.rules->>'max_length')::int,
		CASE f.type WHEN 'textarea' THEN 20000 ELSE 500 END);
	n numeric;
BEGIN
	value := v;
	IF t = 'null' OR (t = 'string' AND s = '') THEN
		value := 'null';
		RETURN;
	END IF;
	CASE f.type
	WHEN 'text', 'textarea' THEN
		IF t <> 'string' THEN
			reason := 'invalid_type';
		ELSIF length(s) > max_len THEN
			reason := 'too_long';
		ELSIF f.rules ? 'pattern' AND s !~ (f.rules->>'pattern') THEN
			reason := 'invalid_format';
		END IF;
		value := to_jsonb(s);
	WHEN 'number' THEN
		IF t <> 'number' THEN
			reason := 'invalid_type';
			RETURN;
		END IF;
		n := s::numeric;
		IF coalesce((f.rules->>'integer')::bool, false) AND n <> trunc(n) THEN
			reason := 'not_integer';
		ELSIF n < coalesce((f.rules->>'min')::numeric, -1e15)
			OR n > coalesce((f.rules->>'max')::numeric, 1e15) THEN
			reason := 'out_of_range';
		END IF;
	WHEN 'money' THEN
		IF t NOT IN ('string', 'number') OR s !~ '^-?[0-9]{1,15}(\.[0-9]{1,2})?$' THEN
			reason := 'invalid_format';
		ELSE
			value := to_jsonb(s::numeric(17, 2)::text);
		END IF;
	WHEN 'date' THEN
		IF t <> 'string' OR s !~ '^\d{4}-\d{2}-\d{2}$' THEN
			reason := 'invalid_date';
		ELSE
			BEGIN
				value := to_jsonb(s::date);
			EXCEPTION WHEN others THEN
				reason := 'invalid_date';
			END;
		END IF;
	WHEN 'datetime' THEN
		IF t <> 'string' OR s !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$' THEN
			reason := 'invalid_datetime';
		ELSE
			BEGIN
				value := to_jsonb(s::timestamptz);
			EXCEPTION WHEN others THEN
				reason := 'invalid_datetime';
			END;
		END IF;
	WHEN 'bool' THEN
		IF t <> 'boolean' THEN
			reason := 'invalid_type';
		END IF;
	WHEN 'select' THEN
		IF t <> 'string' THEN
			reason := 'invalid_type';
		ELSIF NOT coalesce(f.options, '[]') ? s THEN
			reason := 'invalid_option';
		END IF;
		value := to_jsonb(s);
	WHEN 'multiselect' THEN
		IF t <> 'array' OR jsonb_array_length(v) > 100 OR EXISTS (
			SELECT 1 FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string') THEN
			reason := 'invalid_type';
		ELSIF EXISTS (SELECT 1 FROM jsonb_array_elements_text(v) e
			WHERE NOT coalesce(f.options, '[]') ? e) THEN
			reason := 'invalid_option';
		ELSE
			value := (SELECT coalesce(jsonb_agg(DISTINCT e), '[]') FROM jsonb_array_elements_text(v) e);
		END IF;
	WHEN 'user' THEN
		IF json_id(v) IS NULL OR NOT EXISTS (
			SELECT 1 FROM members WHERE id = json_id(v) AND status <> 'disabled') THEN
			reason := 'invalid_member';
		END IF;
	WHEN 'ref' THEN
		IF json_id(v) IS NULL THEN
			reason := 'invalid_type';
		ELSE
			value := record_row(f.target, json_id(v));
			IF value IS NULL OR value->>'deleted_at' IS NOT NULL
				OR NOT record_in_scope(f.target, value, scope_owners()) THEN
				reason := 'not_found';
			END IF;
			value := v;
		END IF;
	WHEN 'phone' THEN
		IF t <> 'string' OR s !~ '^[0-9+()#*. -]{3,32}$' OR phone_norm(s) IS NULL THEN
			reason := 'invalid_phone';
		END IF;
		value := to_jsonb(s);
	WHEN 'email' THEN
		IF t <> 'string' OR length(s) > 254 OR s !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' THEN
			reason := 'invalid_email';
		END IF;
		value := to_jsonb(lower(s));
	WHEN 'url' THEN
		IF t <> 'string' OR length(s) > 2000 OR s !~ '^(https?://)?[^[:space:]/.]+(\.[^[:space:]/.]+)+(/[^[:space:]]*)?$' THEN
			reason := 'invalid_url';
		END IF;
		value := to_jsonb(s);
	END CASE;
END
$$;

-- Validates a create (creating) or PATCH body against the object's fields
-- and the caller's field security. Returns the changes: core fields at the
-- top, custom ones under "custom", tags as "tags". Raises CRM12 for a hidden
-- or read-only field, CRM10 naming every invalid field.
CREATE FUNCTION record_validate(obj text, body jsonb, creating bool) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	errs jsonb := '{}';
	forbidden jsonb := '{}';
	out jsonb := '{}';
	cust jsonb := '{}';
	acc jsonb := field_access(obj);
	k text;
	v jsonb;
	f fields;
	chk record;
BEGIN
	FOR k, v IN SELECT * FROM jsonb_each(body) LOOP
		IF k = 'version' THEN
			CONTINUE;
		ELSIF k = 'force' THEN
			IF jsonb_typeof(v) <> 'boolean' THEN
				errs := errs || jsonb_build_object(k, 'invalid_type');
			END IF;
		ELSIF k = 'tags' THEN
			IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) > 50 OR EXISTS (
				SELECT 1 FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string'
				OR length(trim_space(e #>> '{}')) NOT BETWEEN 1 AND 50) THEN
				errs := errs || jsonb_build_object(k, 'invalid_value');
			ELSE
				out := out || jsonb_build_object('tags', (SELECT coalesce(
					jsonb_agg(DISTINCT trim_space(e)), '[]') FROM jsonb_array_elements_text(v) e));
			END IF;
		ELSIF k = 'custom' THEN
			IF jsonb_typeof(v) <> 'object' THEN
				errs := errs || jsonb_build_object(k, 'invalid_type');
				CONTINUE;
			END IF;
			FOR k, v IN SELECT * FROM jsonb_each(v) LOOP
				SELECT * INTO f FROM fields WHERE object = obj AND key = k AND NOT core;
				IF NOT FOUND THEN
					errs := errs || jsonb_build_object(k, 'unknown_field');
				ELSIF acc ? k THEN
					forbidden := forbidden || jsonb_build_object(k, acc->>k);
				ELSE
					chk := field_check(f, v);
					IF chk.reason IS NOT NULL THEN
						errs := errs || jsonb_build_object(k, chk.reason);
					ELSE
						cust := cust || jsonb_build_object(k, chk.value);
					END IF;
				END IF;
			END LOOP;
		ELSE
			SELECT * INTO f FROM fields WHERE object = obj AND key = k AND core;
			IF NOT FOUND THEN
				errs := errs || jsonb_build_object(k, CASE WHEN k IN ('id', 'created_at',
					'updated_at', 'created_by', 'deleted_at', 'deleted_by')
					THEN 'read_only' ELSE 'unknown_field' END);
			ELSIF acc ? k THEN
				forbidden := forbidden || jsonb_build_object(k, acc->>k);
			ELSIF f.system THEN
				errs := errs || jsonb_build_object(k, 'read_only');
			ELSE
				chk := field_check(f, v);
				IF chk.reason IS NOT NULL THEN
					errs := errs || jsonb_build_object(k, chk.reason);
				ELSIF chk.value = 'null' AND column_not_null(obj, k) THEN
					errs := errs || jsonb_build_object(k, 'required');
				ELSE
					out := out || jsonb_build_object(k, chk.value);
				END IF;
			END IF;
		END IF;
	END LOOP;

	-- Required fields, and the defaults of custom fields on create. A custom
	-- field the caller may not write is not required of them.
	FOR f IN SELECT * FROM fields WHERE object = obj
		AND (required OR (creating AND default_value IS NOT NULL)) LOOP
		IF f.core THEN
			IF (creating OR out ? f.key) AND coalesce(out->f.key, 'null') = 'null'
				AND NOT errs ? f.key THEN
				errs := errs || jsonb_build_object(f.key, 'required');
			END IF;
		ELSIF creating AND coalesce(cust->f.key, 'null') = 'null'
			AND f.default_value IS NOT NULL THEN
			cust := cust || jsonb_build_object(f.key, f.default_value);
		ELSIF f.required AND NOT acc ? f.key AND (creating OR cust ? f.key)
			AND coalesce(cust->f.key, 'null') = 'null' AND NOT errs ? f.key THEN
			errs := errs || jsonb_build_object(f.key, 'required');
		END IF;
	END LOOP;

	IF forbidden <> '{}' THEN
		PERFORM crm_raise('CRM12', 'field_forbidden', forbidden);
	END IF;
	IF errs <> '{}' THEN
		PERFORM crm_raise('CRM10', 'validation_failed', errs);
	END IF;
	IF cust <> '{}' THEN
		out := out || jsonb_build_object('custom', cust);
	END IF;
	RETURN out;
END
$$;

-- The rules of each object that go beyond a field's own check, applied to
-- the row about to be stored (old is NULL on create). Returns the row.
CREATE FUNCTION record_prepare(obj text, old jsonb, new jsonb, changes jsonb)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	ocol text := (SELECT owner_column FROM objects WHERE name = obj);
	owners bigint[] := scope_owners();
	st pipeline_stages;
	c bigint;
BEGIN
	IF old IS NULL AND new->>ocol IS NULL AND NOT changes ? ocol THEN
		new := new || jsonb_build_object(ocol, acting_member());
	END IF;
	-- Handing a record to someone outside one's scope would hide it from
	-- oneself; tasks may be given to anyone.
	IF obj <> 'tasks' AND changes ? ocol AND owners IS NOT NULL
		AND NOT coalesce((new->>ocol)::bigint = ANY(owners), false) THEN
		PERFORM crm_raise('CRM10', 'validation_failed', jsonb_build_object(ocol, 'out_of_scope'));
	END IF;

	IF obj = 'opportunities' THEN
		IF old IS NULL OR changes ? 'stage_id' OR changes ? 'pipeline_id' THEN
			IF changes->>'stage_id' IS NOT NULL THEN
				SELECT * INTO st FROM pipeline_stages WHERE id = (changes->>'stage_id')::bigint
					AND (NOT changes ? 'pipeline_id' OR pipeline_id = (changes->>'pipeline_id')::bigint);
			ELSE
				SELECT s.* INTO st FROM pipeline_stages s JOIN pipelines p ON p.id = s.pipeline_id
				WHERE CASE WHEN changes->>'pipeline_id' IS NOT NULL
					THEN p.id = (changes->>'pipeline_id')::bigint
					WHEN old IS NOT NULL THEN p.id = (old->>'pipeline_id')::bigint
					ELSE p.is_default END
				ORDER BY s.position LIMIT 1;
			END IF;
			IF st.id IS NULL THEN
				PERFORM crm_raise('CRM10', 'validation_failed', jsonb_build_object(
					CASE WHEN changes ? 'stage_id' THEN 'stage_id' ELSE 'pipeline_id' END, 'invalid_value'));
			END IF;
			new := new || jsonb_build_object('pipeline_id', st.pipeline_id, 'stage_id', st.id,
				'status', st.kind, 'closed_at', CASE WHEN st.kind = 'open' THEN NULL
					WHEN old->>'status' = st.kind THEN old->'closed_at' ELSE to_jsonb(now()) END);
			IF changes->>'probability' IS NULL THEN
				new := new || jsonb_build_object('probability', st.probability);
			END IF;
		END IF;
		IF new->>'currency' IS NULL THEN
			new := new || jsonb_build_object('currency',
				coalesce((SELECT value FROM settings WHERE key = 'currency'), '"CNY"'));
		END IF;
	ELSIF obj = 'tasks' AND changes ? 'status' THEN
		new := new || jsonb_build_object('completed_at', CASE WHEN new->>'status' = 'done'
			THEN CASE WHEN old->>'completed_at' IS NOT NULL THEN old->'completed_at'
				ELSE to_jsonb(now()) END END);
	ELSIF obj = 'activities' AND new->>'customer_id' IS NULL THEN
		c := coalesce((SELECT customer_id FROM contacts WHERE id = (new->>'contact_id')::bigint),
			(SELECT customer_id FROM opportunities WHERE id = (new->>'opportunity_id')::bigint));
		IF c IS NOT NULL THEN
			new := new || jsonb_build_object('customer_id', c);
		END IF;
	END IF;
	RETURN new;
END
$$;

-- What a stored change sets off beyond its own row.
CREATE FUNCTION record_after(obj text, old jsonb, new jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF obj = 'activities' AND new->>'customer_id' IS NOT NULL AND new->>'deleted_at' IS NULL THEN
		-- Follow-up time is bookkeeping, not an edit: no new version, so
		-- nobody editing the customer meanwhile gets a conflict.
		UPDATE customers SET last_followed_at = greatest(last_followed_at, (new->>'occurred_at')::timestamptz)
		WHERE id = (new->>'customer_id')::bigint;
	ELSIF obj = 'contacts' AND (new->>'is_primary')::bool AND new->>'customer_id' IS NOT NULL
		AND old IS DISTINCT FROM new THEN
		UPDATE contacts SET is_primary = false, version = version + 1, updated_at = now()
		WHERE customer_id = (new->>'customer_id')::bigint AND id <> (new->>'id')::bigint AND is_primary;
	END IF;
END
$$;

-- Writing -----------------------------------------------------------------------

-- Inserts (rid NULL) or updates the columns cols of a record from row.
-- A custom field's unique index violated is CRM10 naming the field.
CREATE FUNCTION record_store(obj text, rid bigint, r jsonb, cols text[]) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	list text := (SELECT string_agg(quote_ident(c), ', ') FROM unnest(cols) c);
	out jsonb;
	cname text;
BEGIN
	IF rid IS NULL THEN
		EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM jsonb_populate_record(NULL::%I, $1) '
			'RETURNING to_jsonb(%I.*)', obj, list, list, obj, obj) INTO out USING r;
	ELSE
		EXECUTE format('UPDATE %I t SET (%s) = (SELECT %s FROM jsonb_populate_record(NULL::%I, $1)) '
			'WHERE id = $2 RETURNING to_jsonb(t.*)', obj, list, list, obj) INTO out USING r, rid;
	END IF;
	RETURN out;
EXCEPTION WHEN unique_violation THEN
	GET STACKED DIAGNOSTICS cname = CONSTRAINT_NAME;
	IF cname LIKE obj || '\_cf\_%' THEN
		PERFORM crm_raise('CRM10', 'validation_failed',
			jsonb_build_object(substr(cname, length(obj) + 5), 'not_unique'));
	END IF;
	RAISE;
END
$$;

-- The writable columns of a row that differ from old (every one on create).
CREATE FUNCTION changed_columns(old jsonb, new jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(array_agg(k), '{}') FROM jsonb_each(new) e(k, v)
	WHERE k NOT LIKE '\_%' AND k <> 'id'
		AND (old IS NULL OR old->k IS DISTINCT FROM v)
$$;

-- Audit rows for every field that changed between two stored rows; custom
-- fields are named by their key.
CREATE FUNCTION audit_changes(obj text, old jsonb, new jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	o jsonb := record_out(obj, old, '{}');	-- values as the API shows them
	n jsonb := record_out(obj, new, '{}');
	diff jsonb;
BEGIN
	WITH d AS (
		SELECT k, o->k AS ov, v AS nv FROM jsonb_each(n) e(k, v)
		WHERE k NOT IN ('version', 'updated_at', 'custom') AND o->k IS DISTINCT FROM v
		UNION ALL
		SELECT k, o->'custom'->k, n->'custom'->k FROM (
			SELECT jsonb_object_keys(o->'custom') UNION
			SELECT jsonb_object_keys(n->'custom')) c(k)
		WHERE o->'custom'->k IS DISTINCT FROM n->'custom'->k),
	ins AS (INSERT INTO audit_log (actor_user_id, object, record_id, action, field, old_value, new_value)
		SELECT acting_user(), obj, (n->>'id')::bigint, 'update', k, ov, nv FROM d)
	SELECT coalesce(jsonb_object_agg(k, nv), '{}') INTO diff FROM d;
	RETURN diff;
END
$$;

-- Records one event: an audit entry (without field) and an outbox event.
CREATE FUNCTION record_event(obj text, r jsonb, action text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO audit_log (actor_user_id, object, record_id, action, new_value)
	SELECT acting_user(), obj, (r->>'id')::bigint, action,
		CASE WHEN action = 'create' THEN record_out(obj, r, '{}') END
	WHERE action <> 'update';
	INSERT INTO outbox (event, object, record_id, payload)
	SELECT singular || '.' || action || 'd', obj, (r->>'id')::bigint, payload
	FROM objects WHERE name = obj;
$$;

-- Moves every record of obj whose column col is from_id to to_id (a new
-- version each), with an audit entry per record (action, col, from, to).
-- Returns how many moved. Merges and handovers are made of it.
CREATE FUNCTION record_reassign(obj text, col text, from_id bigint, to_id bigint,
	action text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	EXECUTE format('WITH m AS (UPDATE %1$I SET %2$I = $1, version = version + 1, updated_at = now() '
		'WHERE %2$I = $2 RETURNING id), '
		'a AS (INSERT INTO audit_log (actor_user_id, object, record_id, action, field, old_value, new_value) '
		'SELECT $3, %1$L, id, $4, %2$L, to_jsonb($2), to_jsonb($1) FROM m) '
		'SELECT count(*) FROM m', obj, col)
	INTO n USING to_id, from_id, acting_user(), action;
	RETURN n;
END
$$;

-- POST /api/v1/<object>
CREATE FUNCTION record_create(obj text, body jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	changes jsonb := record_validate(obj, body, true);
	r jsonb;
BEGIN
	r := record_prepare(obj, NULL, changes || jsonb_build_object('created_by', acting_member(),
		'custom', coalesce(changes->'custom', '{}')), changes);
	IF obj = 'customers' AND NOT coalesce((body->>'force')::bool, false) THEN
		PERFORM customer_refuse_duplicate(r);
	END IF;
	r := record_store(obj, NULL, r, changed_columns(NULL, r));
	PERFORM record_after(obj, NULL, r);
	PERFORM record_event(obj, r, 'create', record_out(obj, r, '{}'));
	RETURN record_out(obj, r, hidden_fields(obj));
END
$$;

-- PATCH /api/v1/<object>/{id}: raises CRM11 when ver is stale; a PATCH that
-- changes nothing stores nothing.
CREATE FUNCTION record_update(obj text, rid bigint, ver int, body jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	old jsonb := record_visible(obj, rid, false, true);
	changes jsonb;
	r jsonb;
	diff jsonb;
BEGIN
	IF (old->>'version')::int <> ver THEN
		PERFORM crm_raise('CRM11', 'version_conflict');
	END IF;
	changes := record_validate(obj, body, false);
	r := old || (changes - 'custom');
	IF changes ? 'custom' THEN
		r := jsonb_set(r, '{custom}', jsonb_strip_nulls((old->'custom') || (changes->'custom')));
	END IF;
	r := record_prepare(obj, old, r, changes);
	IF r = old THEN
		RETURN record_out(obj, old, hidden_fields(obj));
	END IF;
	r := r || jsonb_build_object('version', ver + 1, 'updated_at', now());
	r := record_store(obj, rid, r, changed_columns(old, r));
	diff := audit_changes(obj, old, r);
	PERFORM record_after(obj, old, r);
	PERFORM record_event(obj, r, 'update', jsonb_build_object('id', rid, 'changes', diff));
	RETURN record_out(obj, r, hidden_fields(obj));
END
$$;

-- DELETE /api/v1/<object>/{id} (deleting) and POST …/{id}/restore: moves a
-- record into or out of the recycle bin.
CREATE FUNCTION record_bin(obj text, rid bigint, deleting bool) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	old jsonb := record_visible(obj, rid, NOT deleting, true);
	r jsonb := old || jsonb_build_object('version', (old->>'version')::int + 1, 'updated_at', now(),
		'deleted_at', CASE WHEN deleting THEN to_jsonb(now()) END,
		'deleted_by', CASE WHEN deleting THEN to_jsonb(acting_member()) END);
BEGIN
	r := record_store(obj, rid, r, ARRAY['version', 'updated_at', 'deleted_at', 'deleted_by']);
	PERFORM record_event(obj, r, CASE WHEN deleting THEN 'delete' ELSE 'restore' END,
		jsonb_build_object('id', rid));
	RETURN record_out(obj, r, hidden_fields(obj));
EXCEPTION WHEN SQLSTATE 'CRM10' THEN
	-- restoring would break a unique custom field: another live record holds the value
	PERFORM crm_raise('CRM16', 'A live record holds a value this one must keep unique.');
END
$$;

-- GET /api/v1/<object>/{id}
CREATE FUNCTION record_get(obj text, rid bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	r jsonb := record_out(obj, record_visible(obj, rid), hidden_fields(obj));
BEGIN
	IF obj = 'customers' THEN
		r := r || jsonb_build_object('summary', customer_summary(rid));
	END IF;
	RETURN r;
END
$$;

-- GET /api/v1/<object>/{id}/history: newest first, hidden fields left out.
CREATE FUNCTION record_history(obj text, rid bigint, lim int, before bigint)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	hidden text[] := hidden_fields(obj);
	r jsonb := record_row(obj, rid);
	page jsonb;
BEGIN
	IF r IS NULL OR NOT record_in_scope(obj, r, scope_owners()) THEN
		PERFORM crm_raise('CRM14', 'not found');
	END IF;
	SELECT coalesce(jsonb_agg(history_entry(a, hidden) ORDER BY a.id DESC), '[]') INTO page
	FROM (SELECT * FROM audit_log WHERE object = obj AND record_id = rid
		AND (before IS NULL OR id < before)
		AND (field IS NULL OR NOT field = ANY(hidden))
		ORDER BY id DESC LIMIT lim + 1) a;
	RETURN jsonb_build_object('data', page - lim, 'next_cursor',
		CASE WHEN jsonb_array_length(page) > lim THEN (page->(lim - 1)->>'id') END);
END
$$;

-- One audit row as the API shows it.
CREATE FUNCTION history_entry(a audit_log, hidden text[]) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT jsonb_build_object('id', a.id, 'at', a.at, 'action', a.action, 'field', a.field,
		'old', a.old_value, 'new', CASE WHEN a.action = 'create'
			THEN record_out(a.object, a.new_value, hidden) ELSE a.new_value END,
		'actor', (SELECT jsonb_build_object('id', m.id, 'name', m.name)
			FROM members m WHERE m.user_id = a.actor_user_id)));
END
$$;

-- Lists ---------------------------------------------------------------------

-- Cursors are opaque to clients: base64url of [sort, last value, last id].
CREATE FUNCTION cursor_encode(c jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT translate(encode(convert_to(c::text, 'UTF8'), 'base64'), E'+/=\n', '-_')
$$;

CREATE FUNCTION cursor_decode(c text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN convert_from(decode(rpad(translate(c, '-_', '+/'),
		(length(c) + 3) / 4 * 4, '='), 'base64'), 'UTF8')::jsonb;
EXCEPTION WHEN others THEN
	RETURN NULL;
END
$$;

-- A cursor of [time, text, id] (timelines, the recycle bin): decoded, or
-- CRM15 naming `cursor`; NULL when there is none.
CREATE FUNCTION cursor_of_time(cur text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	c jsonb := cursor_decode(cur);
BEGIN
	IF cur IS NOT NULL AND (jsonb_typeof(c) IS DISTINCT FROM 'array' OR jsonb_array_length(c) <> 3
		OR NOT casts_to(c->>0, 'timestamptz') OR json_id(c->2) IS NULL) THEN
		PERFORM crm_raise('CRM15', 'bad cursor', '{"cursor": "invalid_value"}');
	END IF;
	RETURN c;
END
$$;

-- An id cursor (lists newest first by id): decoded, or CRM15.
CREATE FUNCTION cursor_of_id(cur text) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	c jsonb := cursor_decode(cur);
BEGIN
	IF cur IS NOT NULL AND (jsonb_typeof(c) IS DISTINCT FROM 'array' OR json_id(c->0) IS NULL) THEN
		PERFORM crm_raise('CRM15', 'bad cursor', '{"cursor": "invalid_value"}');
	END IF;
	RETURN json_id(c->0);
END
$$;

-- The answer of a page fetched with one row more than lim: {data,
-- next_cursor}, the cursor made of the keys of the last row shown.
CREATE FUNCTION page_answer(rows jsonb, lim int, keys text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	rows := coalesce(rows, '[]');
	RETURN jsonb_build_object('data', rows - lim, 'next_cursor',
		CASE WHEN jsonb_array_length(rows) > lim THEN cursor_encode((SELECT jsonb_agg(
			rows->(lim - 1)->k ORDER BY i) FROM unnest(keys) WITH ORDINALITY u(k, i))) END);
END
$$;

-- The SQL type a field's values compare as.
CREATE FUNCTION field_sql_type(type text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE type WHEN 'number' THEN 'numeric' WHEN 'money' THEN 'numeric'
		WHEN 'date' THEN 'date' WHEN 'datetime' THEN 'timestamptz' WHEN 'bool' THEN 'boolean'
		WHEN 'user' THEN 'bigint' WHEN 'ref' THEN 'bigint' ELSE 'text' END
$$;

-- A field a list may filter or sort on, by its API name (`name`,
-- `custom.key`, `tags`, `id`, `created_at`…): its SQL expression over the
-- row `t`, the SQL type, the field type, and whether it is never NULL.
-- expr is NULL for an unknown or hidden field.
CREATE FUNCTION list_field(obj text, name text, hidden text[], OUT expr text,
	OUT sqltype text, OUT ftype text, OUT not_null bool) LANGUAGE plpgsql STABLE AS $$
DECLARE
	f fields;
	custom bool := name LIKE 'custom.%';
	k text := CASE WHEN name LIKE 'custom.%' THEN substr(name, 8) ELSE name END;
BEGIN
	IF name IN ('id', 'version') THEN
		SELECT 't.' || name, 'bigint', 'number', true INTO expr, sqltype, ftype, not_null;
	ELSIF name IN ('created_at', 'updated_at', 'deleted_at') THEN
		SELECT 't.' || name, 'timestamptz', 'datetime', name <> 'deleted_at' INTO expr, sqltype, ftype, not_null;
	ELSIF name IN ('created_by', 'deleted_by') THEN
		SELECT 't.' || name, 'bigint', 'user', false INTO expr, sqltype, ftype, not_null;
	ELSIF name = 'tags' THEN
		SELECT 't.tags', 'text', 'tags', true INTO expr, sqltype, ftype, not_null;
	ELSE
		SELECT * INTO f FROM fields WHERE object = obj AND key = k AND core <> custom;
		IF NOT FOUND OR k = ANY(hidden) THEN
			RETURN;
		END IF;
		ftype := f.type;
		sqltype := field_sql_type(f.type);
		not_null := f.core AND f.required;
		expr := CASE WHEN f.core THEN format('t.%I', k)
			WHEN f.type = 'multiselect' THEN format('(t.custom->%L)', k)
			ELSE format('(t.custom->>%L)::%s', k, sqltype) END;
	END IF;
END
$$;

-- True when text casts to the SQL type.
CREATE FUNCTION casts_to(v text, sqltype text) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	EXECUTE format('SELECT %L::%s', v, sqltype);
	RETURN true;
EXCEPTION WHEN others THEN
	RETURN false;
END
$$;

-- The WHERE condition of one filter; the value is the text parameter ref.
CREATE FUNCTION filter_condition(expr text, sqltype text, ftype text, op text, ref text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
	WHEN ftype = 'tags' THEN CASE op
		WHEN 'eq' THEN format('t.tags @> ARRAY[%s]', ref)
		WHEN 'contains' THEN format('t.tags @> ARRAY[%s]', ref)
		WHEN 'ne' THEN format('NOT t.tags @> ARRAY[%s]', ref)
		WHEN 'in' THEN format('t.tags && string_to_array(%s, '','')', ref)
		WHEN 'empty' THEN format('(cardinality(t.tags) = 0) = %s::boolean', ref) END
	WHEN ftype = 'multiselect' THEN CASE op
		WHEN 'eq' THEN format('coalesce(%s ? %s, false)', expr, ref)
		WHEN 'contains' THEN format('coalesce(%s ? %s, false)', expr, ref)
		WHEN 'ne' THEN format('NOT coalesce(%s ? %s, false)', expr, ref)
		WHEN 'in' THEN format('coalesce(%s ?| string_to_array(%s, '',''), false)', expr, ref)
		WHEN 'empty' THEN format('(coalesce(jsonb_array_length(%s), 0) = 0) = %s::boolean', expr, ref) END
	ELSE CASE op
		WHEN 'eq' THEN format('%s = %s::%s', expr, ref, sqltype)
		WHEN 'ne' THEN format('%s IS DISTINCT FROM %s::%s', expr, ref, sqltype)
		WHEN 'lt' THEN format('%s < %s::%s', expr, ref, sqltype)
		WHEN 'lte' THEN format('%s <= %s::%s', expr, ref, sqltype)
		WHEN 'gt' THEN format('%s > %s::%s', expr, ref, sqltype)
		WHEN 'gte' THEN format('%s >= %s::%s', expr, ref, sqltype)
		WHEN 'in' THEN format('%s = ANY(string_to_array(%s, '','')::%s[])', expr, ref, sqltype)
		WHEN 'contains' THEN format('strpos(lower(%s::text), lower(%s)) > 0', expr, ref)
		WHEN 'empty' THEN format('(%s IS NULL) = %s::boolean', expr, ref) END
	END
$$;

-- The text a `q` searches for: NFKC, lower case; a phone fragment as digits.
CREATE FUNCTION search_query(q text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT CASE WHEN s ~ '^[0-9 +()-]+$'
		THEN coalesce(phone_norm(s), regexp_replace(s, '\D', '', 'g')) ELSE s END
	FROM (SELECT btrim(lower(normalize(q, NFKC))) AS s) x);
END
$$;

-- The condition that row t matches the search text in parameter q_ref: the
-- grams index narrows, and the match is confirmed on the searchable fields
-- the role may see (a hidden phone must not be found by its digits).
CREATE FUNCTION search_condition(obj text, hidden text[], q_ref text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	cols text[] := (SELECT search_columns FROM objects WHERE name = obj);
	visible text;
BEGIN
	IF NOT cols && hidden THEN
		-- a q of 2 or 3 characters is one piece: the index alone is exact,
		-- and a second condition would only mislead the planner's estimate
		RETURN format('t._grams @> search_query_grams(%1$s) AND (length(%1$s) <= 3 '
			'OR strpos(t._search, %1$s) > 0)', q_ref);
	END IF;
	SELECT string_agg(CASE WHEN f.type = 'phone' THEN format('phone_norm(t.%I)', u.c)
		ELSE format('t.%I', u.c) END, ', ' ORDER BY u.i) INTO visible
	FROM unnest(cols) WITH ORDINALITY u(c, i) JOIN fields f ON f.object = obj AND f.key = u.c
	WHERE NOT u.c = ANY(hidden);
	IF visible IS NULL THEN
		RETURN 'false';
	END IF;
	RETURN format('t._grams @> search_query_grams(%1$s) AND strpos(search_text(%2$s), %1$s) > 0',
		q_ref, visible);
END
$$;

-- GET /api/v1/<object>: p = {limit, cursor, sort, q, filters: [[field, op,
-- value]…], deleted}. Raises CRM15 naming a bad parameter.
CREATE FUNCTION record_list(obj text, p jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	hidden text[] := hidden_fields(obj);
	owners bigint[] := scope_owners();
	lim int := coalesce((p->>'limit')::int, 50);
	sort text := coalesce(p->>'sort', '-updated_at');
	dir text := CASE WHEN sort LIKE '-%' THEN 'DESC' ELSE 'ASC' END;
	cmp text := CASE WHEN sort LIKE '-%' THEN '<' ELSE '>' END;
	conds text[] := ARRAY[CASE WHEN coalesce((p->>'deleted')::bool, false)
		THEN 't.deleted_at IS NOT NULL' ELSE 't.deleted_at IS NULL' END];
	vals text[] := '{}';
	bad jsonb := '{}';
	q text := search_query(p->>'q');
	s record;
	f record;
	flt jsonb;
	cur jsonb;
	cond text;
	rows jsonb;
BEGIN
	s := list_field(obj, ltrim(sort, '-'), hidden);
	IF s.expr IS NULL OR s.ftype IN ('tags', 'multiselect') THEN
		bad := bad || '{"sort": "unknown_field"}';
	END IF;
	IF owners IS NOT NULL THEN
		-- one owner as a plain equality, so the (owner, updated_at) index
		-- also gives the order
		conds := conds || format(CASE WHEN cardinality(owners) = 1 THEN 't.%I = ($1)[1]'
			ELSE 't.%I = ANY($1)' END, (SELECT owner_column FROM objects WHERE name = obj));
	END IF;
	IF q IS NOT NULL AND length(q) < 2 THEN
		bad := bad || '{"q": "too_short"}';
	ELSIF q IS NOT NULL THEN
		conds := conds || search_condition(obj, hidden, '$2');
	END IF;
	FOR flt IN SELECT * FROM jsonb_array_elements(coalesce(p->'filters', '[]')) LOOP
		f := list_field(obj, flt->>0, hidden);
		vals := vals || (flt->>2);
		cond := filter_condition(f.expr, f.sqltype, f.ftype, flt->>1, format('$3[%s]', cardinality(vals)));
		IF f.expr IS NULL THEN
			bad := bad || jsonb_build_object(format('filter[%s]', flt->>0), 'unknown_field');
		ELSIF cond IS NULL THEN
			bad := bad || jsonb_build_object(format('filter[%s]', flt->>0), 'invalid_operator');
		ELSIF NOT (CASE WHEN flt->>1 = 'empty' THEN flt->>2 IN ('true', 'false')
			WHEN flt->>1 = 'contains' OR f.ftype IN ('tags', 'multiselect') THEN true
			ELSE (SELECT bool_and(casts_to(v, f.sqltype) AND (f.sqltype NOT IN ('date', 'timestamptz')
				OR v ~ '^\d{4}-\d{2}-\d{2}'))
				FROM unnest(CASE WHEN flt->>1 = 'in' THEN string_to_array(flt->>2, ',')
					ELSE ARRAY[flt->>2] END) v) END) THEN
			bad := bad || jsonb_build_object(format('filter[%s]', flt->>0), 'invalid_value');
		ELSE
			conds := conds || cond;
		END IF;
	END LOOP;
	IF p->>'cursor' IS NOT NULL THEN
		cur := cursor_decode(p->>'cursor');
		IF jsonb_typeof(cur) IS DISTINCT FROM 'array' OR jsonb_array_length(cur) <> 3
			OR cur->>0 IS DISTINCT FROM sort OR jsonb_typeof(cur->2) <> 'number' THEN
			bad := bad || '{"cursor": "invalid_value"}';
		ELSIF s.not_null THEN
			conds := conds || format('(%s, t.id) %s ($4::%s, $5)', s.expr, cmp, s.sqltype);
		ELSIF cur->1 = 'null' THEN
			conds := conds || format('(%s IS NULL AND t.id %s $5)', s.expr, cmp);
		ELSE
			conds := conds || format('(%1$s %2$s $4::%3$s OR (%1$s = $4::%3$s AND t.id %2$s $5) OR %1$s IS NULL)',
				s.expr, cmp, s.sqltype);
		END IF;
	END IF;
	IF bad <> '{}' THEN
		PERFORM crm_raise('CRM15', 'bad list parameters', bad);
	END IF;

	-- One pass builds the page: the rows as the API shows them (through
	-- record_out only when something must be hidden or a money value turned
	-- into a string), and the cursor from the last row shown when one more
	-- was found. A column that is never NULL sorts in its index's order; a
	-- nullable one puts its NULLs last both ways.
	EXECUTE format('SELECT jsonb_build_object(''data'', coalesce(jsonb_agg(%7$s ORDER BY t.n) '
		'FILTER (WHERE t.n <= %5$s), ''[]''), ''last'', (array_agg(jsonb_build_array(%1$s, t.id)) '
		'FILTER (WHERE t.n = %5$s))[1], ''more'', count(*) > %5$s) '
		'FROM (SELECT t.*, row_number() OVER () AS n FROM (SELECT %6$s FROM %3$I t WHERE %4$s '
		'ORDER BY %2$s LIMIT %5$s + 1) t) t',
		s.expr, format('%s %s%s, t.id %s', s.expr, dir, CASE WHEN s.not_null THEN '' ELSE ' NULLS LAST' END, dir),
		obj, array_to_string(conds, ' AND '), lim, record_columns(obj),
		CASE WHEN cardinality(hidden) = 0 AND obj <> 'opportunities' THEN '(to_jsonb(t) - ''n'')'
			ELSE format('record_out(%L, to_jsonb(t) - ''n'', %L)', obj, hidden) END)
	INTO rows USING owners, q, vals, cur->>1, (cur->>2)::bigint;

	RETURN jsonb_build_object('data', rows->'data', 'next_cursor', CASE WHEN (rows->>'more')::bool
		THEN cursor_encode(jsonb_build_array(sort, rows->'last'->0, rows->'last'->1)) END);
END
$$;
