-- Automation: rules that react to record events and to time, in-app
-- notifications, webhooks and e-mail. crm-worker drives it
-- (app/crm-worker.c): it runs automation_events() when the outbox has events,
-- timer_fire() when a timer is due and automation_sweep() every few minutes,
-- each in one transaction of this tenant; deliveries of webhooks and e-mail
-- are jobs of their own, made here and sent by the worker.
--
-- A rule: {name, object, trigger, conditions, actions, enabled}.
--   trigger     {"type": "created" | "updated" | "field_changed" (field, to?)
--               | "date_offset" (field, hours) | "no_activity" (days)
--               | "anniversary" (field, days_before)}
--   conditions  {"all": [item…]} or {"any": [item…]}; an item is
--               {"field", "op", "value"} or a group again
--   actions     [{"type": "notify" | "assign" | "create_task" | "set_field"
--               | "add_tag" | "add_score" | "webhook" | "email" | "enroll", …}]
-- A change a rule makes is an event again, carrying the cause (the first
-- event or timer of the chain) and its depth: a rule fires at most once per
-- record and cause, and nothing fires below depth 5.

CREATE TABLE rules (
	id bigserial PRIMARY KEY,
	key text UNIQUE,	-- the template rule it came from
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	object text NOT NULL REFERENCES objects (name),
	trigger jsonb NOT NULL,
	conditions jsonb NOT NULL DEFAULT '{"all": []}',
	actions jsonb NOT NULL,
	enabled bool NOT NULL DEFAULT true,
	state jsonb NOT NULL DEFAULT '{}',	-- the round-robin turn
	version int NOT NULL DEFAULT 1,
	created_by bigint REFERENCES members (id),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rules_object ON rules (object) WHERE enabled;

CREATE TABLE rule_runs (
	id bigserial PRIMARY KEY,
	rule_id bigint NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
	object text NOT NULL,
	record_id bigint NOT NULL,
	cause text NOT NULL,
	depth int NOT NULL,
	status text NOT NULL CHECK (status IN ('done', 'failed', 'skipped')),
	results jsonb NOT NULL DEFAULT '[]',
	error text,
	at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (rule_id, record_id, cause)
);
CREATE INDEX rule_runs_rule ON rule_runs (rule_id, id DESC);

CREATE TABLE notifications (
	id bigserial PRIMARY KEY,
	member_id bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	kind text NOT NULL,
	title text NOT NULL,
	body text,
	object text,
	record_id bigint,
	rule_id bigint REFERENCES rules (id) ON DELETE SET NULL,
	key text NOT NULL,	-- one notification per effect
	created_at timestamptz NOT NULL DEFAULT now(),
	read_at timestamptz,
	UNIQUE (member_id, key)
);
CREATE INDEX notifications_member ON notifications (member_id, id DESC);
CREATE INDEX notifications_unread ON notifications (member_id) WHERE read_at IS NULL;

CREATE TABLE webhooks (
	id bigserial PRIMARY KEY,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	kind text NOT NULL DEFAULT 'generic' CHECK (kind IN ('generic', 'dingtalk', 'wecom')),
	url text NOT NULL CHECK (url ~ '^https?://[^\s]+$' AND length(url) <= 2000),
	-- signs each delivery (HMAC-SHA256); gen_random_uuid draws from a strong source
	secret text NOT NULL DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''),
	events text[] NOT NULL DEFAULT '{*}',
	enabled bool NOT NULL DEFAULT true,
	version int NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deliveries (
	id bigserial PRIMARY KEY,
	webhook_id bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	key text NOT NULL,	-- the event or rule run it carries
	event text NOT NULL,
	payload jsonb NOT NULL,
	status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'done', 'dead')),
	attempts int NOT NULL DEFAULT 0,
	response_status int,
	response_body text,
	last_error text,
	created_at timestamptz NOT NULL DEFAULT now(),
	delivered_at timestamptz,
	UNIQUE (webhook_id, key)
);
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id DESC);

CREATE TABLE emails (
	id bigserial PRIMARY KEY,
	key text NOT NULL UNIQUE,
	to_address text NOT NULL,
	subject text NOT NULL,
	body text NOT NULL,
	status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'dead')),
	attempts int NOT NULL DEFAULT 0,
	last_error text,
	rule_id bigint REFERENCES rules (id) ON DELETE SET NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	sent_at timestamptz
);

-- When the sweep last looked at time triggers (rules fire on thresholds
-- crossed since then).
INSERT INTO settings (key, value) VALUES
	('automation.swept_at', to_jsonb(now())),
	('tasks.reminder_minutes', '15'),
	('public_pool.claim_limits', '{"sales": 200, "manager": 500}');

CREATE INDEX customers_idle ON customers ((coalesce(last_followed_at, created_at)))
	WHERE deleted_at IS NULL AND NOT in_pool;
CREATE INDEX customers_pool ON customers (updated_at DESC, id DESC)
	WHERE deleted_at IS NULL AND in_pool;

-- Each committed batch of events wakes a worker (one queued job per tenant).
-- A writer that finds the job queued relies on it; the shared lock it holds
-- to its commit lets that job's worker wait for it first (outbox_barrier),
-- so an event committed just after the job was claimed is never left behind.
CREATE FUNCTION outbox_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock_shared(hashtext('crm.outbox_writers'), platform.current_tenant()::int);
	PERFORM platform.enqueue('events', 0);
	RETURN NULL;
END
$$;

-- Returns once every transaction that wrote to the outbox before now has
-- ended (crm-worker runs it, in a transaction of its own, after claiming the
-- tenant's events job and before reading the outbox).
CREATE FUNCTION outbox_barrier() RETURNS void LANGUAGE sql AS $$
	SELECT pg_advisory_xact_lock(hashtext('crm.outbox_writers'), platform.current_tenant()::int)
$$;
CREATE TRIGGER outbox_wake AFTER INSERT ON outbox
	FOR EACH STATEMENT EXECUTE FUNCTION outbox_wake();

-- The chain a change belongs to --------------------------------------------

-- What the worker sets while a rule acts (crm.cause, crm.depth), as
-- {"_automation": {cause, depth}} to add to an event's payload, so the rules
-- of the events the rule's changes make know the chain; {} for a person's
-- change.
CREATE FUNCTION automation_context() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN nullif(current_setting('crm.cause', true), '') IS NOT NULL THEN
		jsonb_build_object('_automation', jsonb_build_object('cause', current_setting('crm.cause'),
			'depth', current_setting('crm.depth')::int)) ELSE '{}' END
$$;

CREATE OR REPLACE FUNCTION record_event(obj text, r jsonb, action text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO audit_log (actor_user_id, object, record_id, action, new_value)
	SELECT acting_user(), obj, (r->>'id')::bigint, action,
		CASE WHEN action = 'create' THEN record_out(obj, r, '{}') END
	WHERE action <> 'update';
	INSERT INTO outbox (event, object, record_id, payload)
	SELECT singular || '.' || action || 'd', obj, (r->>'id')::bigint,
		payload || automation_context()
	FROM objects WHERE name = obj;
$$;

-- Values and conditions ------------------------------------------------------

-- A field's value in a record row: "custom.key" reads the custom object.
CREATE FUNCTION rule_value(rec jsonb, field text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN field LIKE 'custom.%' THEN rec->'custom'->substr(field, 8) ELSE rec->field END
$$;

-- True when a record's value v satisfies op against want (the operators of
-- list filters: eq ne lt lte gt gte in contains empty). Numbers compare as
-- numbers, everything else as text (dates and times are ISO text).
CREATE FUNCTION rule_compare(v jsonb, op text, want jsonb) RETURNS bool
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	is_empty bool := v IS NULL OR v = 'null' OR v = '""' OR v = '[]';
	a text := CASE WHEN jsonb_typeof(v) IN ('string', 'number', 'boolean') THEN v #>> '{}' END;
	b text := CASE WHEN jsonb_typeof(want) IN ('string', 'number', 'boolean') THEN want #>> '{}' END;
	c int;
BEGIN
	IF op = 'empty' THEN
		RETURN is_empty = coalesce((want #>> '{}')::bool, true);
	ELSIF op = 'contains' THEN
		RETURN CASE WHEN jsonb_typeof(v) = 'array' THEN v @> jsonb_build_array(want)
			ELSE strpos(lower(a), lower(b)) > 0 END;
	ELSIF op = 'in' THEN
		RETURN jsonb_typeof(want) = 'array' AND want @> jsonb_build_array(v)
			OR (jsonb_typeof(v) = 'number' AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(want) w
				WHERE w ~ '^-?[0-9]+(\.[0-9]+)?$' AND w::numeric = a::numeric));
	END IF;
	IF is_empty OR a IS NULL OR b IS NULL THEN
		RETURN CASE op WHEN 'ne' THEN NOT is_empty OR b IS NOT NULL ELSE false END;
	END IF;
	c := CASE WHEN a ~ '^-?[0-9]+(\.[0-9]+)?$' AND b ~ '^-?[0-9]+(\.[0-9]+)?$'
		THEN sign(a::numeric - b::numeric)::int
		ELSE CASE WHEN a < b THEN -1 WHEN a > b THEN 1 ELSE 0 END END;
	RETURN CASE op WHEN 'eq' THEN c = 0 WHEN 'ne' THEN c <> 0 WHEN 'lt' THEN c < 0
		WHEN 'lte' THEN c <= 0 WHEN 'gt' THEN c > 0 WHEN 'gte' THEN c >= 0 ELSE false END;
END
$$;

-- True when the record meets a condition group (or one comparison).
CREATE FUNCTION rule_matches(cond jsonb, rec jsonb) RETURNS bool
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF cond ? 'all' THEN
		RETURN coalesce((SELECT bool_and(rule_matches(c, rec))
			FROM jsonb_array_elements(cond->'all') c), true);
	ELSIF cond ? 'any' THEN
		RETURN coalesce((SELECT bool_or(rule_matches(c, rec))
			FROM jsonb_array_elements(cond->'any') c), false);
	END IF;
	RETURN rule_compare(rule_value(rec, cond->>'field'), coalesce(cond->>'op', 'eq'), cond->'value');
END
$$;

-- Replaces {{field}} (and {{custom.key}}) in a text with the record's values.
CREATE FUNCTION rule_render(t text, rec jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	m text[];
BEGIN
	FOR m IN SELECT regexp_matches(t, '\{\{\s*([a-z][a-z0-9_.]{0,60})\s*\}\}', 'g') LOOP
		t := replace(t, '{{' || m[1] || '}}', coalesce(rule_value(rec, m[1]) #>> '{}', ''));
	END LOOP;
	RETURN regexp_replace(t, '\{\{[^}]*\}\}', '', 'g');
END
$$;

-- Rule definitions ------------------------------------------------------------

-- Checks one comparison or group; adds {path: reason} to bad.
CREATE FUNCTION rule_check_condition(obj text, c jsonb, path text, depth int) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	bad jsonb := '{}';
	items jsonb := coalesce(c->'all', c->'any');
	i int;
BEGIN
	IF jsonb_typeof(c) IS DISTINCT FROM 'object' THEN
		RETURN jsonb_build_object(path, 'invalid_value');
	ELSIF c ? 'all' OR c ? 'any' THEN
		-- an empty "any" would never match: the rule would never run
		IF depth > 4 OR jsonb_typeof(items) <> 'array' OR jsonb_array_length(items) > 50
			OR (c ? 'all' AND c ? 'any') OR (c ? 'any' AND jsonb_array_length(items) = 0) THEN
			RETURN jsonb_build_object(path, 'invalid_value');
		END IF;
		FOR i IN 0 .. jsonb_array_length(items) - 1 LOOP
			bad := bad || rule_check_condition(obj, items->i,
				format('%s.%s[%s]', path, CASE WHEN c ? 'all' THEN 'all' ELSE 'any' END, i), depth + 1);
		END LOOP;
		RETURN bad;
	END IF;
	IF NOT rule_field_exists(obj, c->>'field') THEN
		bad := bad || jsonb_build_object(path || '.field', 'unknown_field');
	END IF;
	IF coalesce(c->>'op', 'eq') NOT IN ('eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in', 'contains', 'empty') THEN
		bad := bad || jsonb_build_object(path || '.op', 'invalid_operator');
	ELSIF c->>'op' = 'in' AND jsonb_typeof(c->'value') IS DISTINCT FROM 'array' THEN
		bad := bad || jsonb_build_object(path || '.value', 'invalid_value');
	ELSIF coalesce(c->>'op', 'eq') <> 'empty' AND NOT c ? 'value' THEN
		bad := bad || jsonb_build_object(path || '.value', 'required');
	END IF;
	RETURN bad;
END
$$;

-- True when obj has the field (core, or custom as "custom.key").
CREATE FUNCTION rule_field_exists(obj text, field text) RETURNS bool
LANGUAGE sql STABLE AS $$
	SELECT field IS NOT NULL AND (EXISTS (SELECT 1 FROM fields f WHERE f.object = obj
		AND CASE WHEN f.core THEN f.key = field ELSE 'custom.' || f.key = field END)
		OR field IN ('id', 'created_at', 'updated_at', 'created_by', 'tags'))
$$;

-- The type of a field of obj (core, or "custom.key"), NULL when unknown.
CREATE FUNCTION rule_field_type(obj text, field text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT coalesce((SELECT f.type FROM fields f WHERE f.object = obj
		AND CASE WHEN f.core THEN f.key = field ELSE 'custom.' || f.key = field END),
		CASE WHEN field IN ('created_at', 'updated_at') THEN 'datetime' END)
$$;

-- Checks a trigger; adds {path: reason}.
CREATE FUNCTION rule_check_trigger(obj text, t jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	kind text := t->>'type';
BEGIN
	IF jsonb_typeof(t) IS DISTINCT FROM 'object' OR kind IS NULL THEN
		RETURN '{"trigger.type": "required"}';
	ELSIF kind NOT IN ('created', 'updated', 'field_changed', 'date_offset', 'no_activity', 'anniversary') THEN
		RETURN '{"trigger.type": "invalid_value"}';
	ELSIF kind IN ('field_changed', 'date_offset', 'anniversary') AND NOT rule_field_exists(obj, t->>'field') THEN
		RETURN '{"trigger.field": "unknown_field"}';
	ELSIF kind IN ('date_offset', 'anniversary')
		AND rule_field_type(obj, t->>'field') NOT IN ('date', 'datetime') THEN
		RETURN '{"trigger.field": "not_a_date"}';
	ELSIF kind = 'date_offset' AND (jsonb_typeof(t->'hours') = 'number'
		AND abs((t->>'hours')::numeric) <= 24 * 366 AND (t->>'hours') ~ '^-?[0-9]+$') IS NOT TRUE THEN
		RETURN '{"trigger.hours": "invalid_value"}';
	ELSIF kind = 'no_activity' AND (obj <> 'customers' OR (jsonb_typeof(t->'days') = 'number'
		AND (t->>'days') ~ '^[0-9]+$' AND (t->>'days')::int BETWEEN 1 AND 3650) IS NOT TRUE) THEN
		RETURN CASE WHEN obj <> 'customers' THEN '{"trigger.type": "not_supported_for_object"}'
			ELSE '{"trigger.days": "invalid_value"}' END;
	ELSIF kind = 'anniversary' AND (jsonb_typeof(t->'days_before') = 'number'
		AND (t->>'days_before') ~ '^[0-9]+$' AND (t->>'days_before')::int <= 60) IS NOT TRUE THEN
		RETURN '{"trigger.days_before": "invalid_value"}';
	END IF;
	RETURN '{}';
END
$$;

-- Who a notify or e-mail action reaches: "owner", "manager" (the owner's
-- manager), {"member": id} or {"role": key}.
CREATE FUNCTION rule_check_recipient(v jsonb) RETURNS bool
LANGUAGE sql STABLE AS $$
	SELECT v #>> '{}' IN ('owner', 'manager')
		OR (jsonb_typeof(v) = 'object' AND (
			EXISTS (SELECT 1 FROM members m WHERE m.id = json_id(v->'member'))
			OR EXISTS (SELECT 1 FROM roles r WHERE r.key = v->>'role')))
$$;

-- Checks one action; adds {path: reason}.
CREATE FUNCTION rule_check_action(obj text, a jsonb, path text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	kind text := a->>'type';
	ocol text := (SELECT owner_column FROM objects WHERE name = obj);
BEGIN
	IF jsonb_typeof(a) IS DISTINCT FROM 'object' THEN
		RETURN jsonb_build_object(path, 'invalid_value');
	ELSIF kind IS NULL OR kind NOT IN ('notify', 'assign', 'create_task', 'set_field', 'add_tag',
		'add_score', 'webhook', 'email', 'enroll') THEN
		RETURN jsonb_build_object(path || '.type', 'invalid_value');
	ELSIF kind IN ('notify', 'email') AND rule_check_recipient(a->'to') IS NOT TRUE THEN
		RETURN jsonb_build_object(path || '.to', 'invalid_value');
	ELSIF kind IN ('notify', 'create_task')
		AND (jsonb_typeof(coalesce(a->'title', a->'subject')) = 'string'
			AND length(coalesce(a->>'title', a->>'subject')) BETWEEN 1 AND 200) IS NOT TRUE THEN
		RETURN jsonb_build_object(path || CASE WHEN kind = 'notify' THEN '.title' ELSE '.subject' END,
			'required');
	ELSIF kind = 'notify' AND length(a->>'body') > 10000 THEN
		RETURN jsonb_build_object(path || '.body', 'too_long');
	ELSIF kind = 'email' AND email_content_check(a, path || '.') <> '{}' THEN
		RETURN email_content_check(a, path || '.');
	ELSIF kind = 'assign' AND (
		(a->>'strategy' = 'member' AND EXISTS (SELECT 1 FROM members m
			WHERE m.id = json_id(a->'member') AND m.status = 'active'))
		OR (a->>'strategy' IN ('round_robin', 'least_loaded') AND (
			EXISTS (SELECT 1 FROM roles r WHERE r.key = a->>'role')
			OR (jsonb_typeof(a->'members') = 'array' AND jsonb_array_length(a->'members') BETWEEN 1 AND 500
				AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(a->'members') x
					WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.id = json_id(x))))))) IS NOT TRUE THEN
		RETURN jsonb_build_object(path, 'invalid_assignment');
	ELSIF kind = 'assign' AND ocol IS NULL THEN
		RETURN jsonb_build_object(path || '.type', 'not_supported_for_object');
	ELSIF kind = 'create_task' AND (a->'due_in_hours' IS NULL
		OR (jsonb_typeof(a->'due_in_hours') = 'number' AND (a->>'due_in_hours')::numeric BETWEEN 0 AND 24 * 366)) IS NOT TRUE THEN
		RETURN jsonb_build_object(path || '.due_in_hours', 'invalid_value');
	ELSIF kind = 'set_field' AND (NOT rule_field_exists(coalesce(a->>'on', obj), a->>'field')
		OR a->>'field' IN ('id', 'created_at', 'updated_at', 'created_by')) THEN
		RETURN jsonb_build_object(path || '.field', 'unknown_field');
	ELSIF kind = 'set_field' AND NOT a ? 'value' THEN
		RETURN jsonb_build_object(path || '.value', 'required');
	ELSIF kind = 'add_tag' AND (jsonb_typeof(a->'tag') = 'string' AND length(a->>'tag') BETWEEN 1 AND 50) IS NOT TRUE THEN
		RETURN jsonb_build_object(path || '.tag', 'invalid_value');
	ELSIF kind = 'add_score' AND (jsonb_typeof(a->'points') = 'number'
		AND (a->>'points') ~ '^-?[0-9]{1,4}$') IS NOT TRUE THEN
		RETURN jsonb_build_object(path || '.points', 'invalid_value');
	ELSIF kind = 'add_score' AND coalesce(a->>'on', obj) <> 'leads' THEN
		RETURN jsonb_build_object(path || '.on', 'invalid_value');
	ELSIF kind = 'enroll' AND obj NOT IN ('leads', 'contacts') THEN
		RETURN jsonb_build_object(path || '.type', 'not_supported_for_object');
	ELSIF kind = 'enroll' AND NOT EXISTS (SELECT 1 FROM sequences s WHERE s.id = json_id(a->'sequence')) THEN
		RETURN jsonb_build_object(path || '.sequence', 'invalid_value');
	ELSIF kind = 'webhook' AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = json_id(a->'webhook')) THEN
		RETURN jsonb_build_object(path || '.webhook', 'invalid_value');
	ELSIF a ? 'on' AND (a->>'on' = obj OR a->>'on' IN ('customers', 'leads', 'opportunities')
		AND EXISTS (SELECT 1 FROM fields f WHERE f.object = obj AND f.core
			AND f.key = (SELECT singular FROM objects WHERE name = a->>'on') || '_id')) IS NOT TRUE THEN
		RETURN jsonb_build_object(path || '.on', 'invalid_value');
	END IF;
	RETURN '{}';
END
$$;

-- Rules, webhooks, sequences and e-mail templates are catalogs of one shape:
-- an id, a name, a version (and an enabled flag but for templates); created, replaced in part by PATCH (If-Match or
-- "version"), deleted, each change logged by catalog_log. The functions below
-- do those steps for any of them; each kind checks its own fields.

-- A catalog item (tbl: rules, webhooks, sequences, email_templates) as
-- jsonb, or CRM14; NULL for no id (a save that creates one).
CREATE FUNCTION catalog_row(tbl text, iid bigint) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	item jsonb;
BEGIN
	IF iid IS NULL THEN
		RETURN NULL;
	END IF;
	EXECUTE format('SELECT to_jsonb(t) FROM %I t WHERE id = $1', tbl) INTO item USING iid;
	IF item IS NULL THEN
		PERFORM crm_raise('CRM14', format('%s %s not found', left(tbl, -1), iid));
	END IF;
	RETURN item;
END
$$;

-- The item as a save will leave it: the defaults, then the stored item (old;
-- NULL when creating), then the body's keys, the name trimmed. CRM11 when the
-- body names a version that is not the stored one.
CREATE FUNCTION catalog_merge(old jsonb, body jsonb, defaults jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	item jsonb;
BEGIN
	IF old IS NOT NULL AND body ? 'version' AND json_id(body->'version') IS DISTINCT FROM (old->>'version')::bigint THEN
		PERFORM crm_raise('CRM11', 'version_conflict');
	END IF;
	item := defaults || jsonb_build_object('created_by', acting_member()) || coalesce(old, '{}')
		|| (body - 'id' - 'version' - 'created_by' - 'created_at' - 'updated_at');
	IF jsonb_typeof(item->'name') = 'string' THEN
		item := item || jsonb_build_object('name', trim(item->>'name'));
	END IF;
	RETURN item;
END
$$;

-- The checks every catalog item shares: a name of 1 to max_name characters
-- and, where the kind has one, a boolean enabled flag. Returns the bad fields.
CREATE FUNCTION catalog_check(item jsonb, max_name int) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN jsonb_typeof(item->'name') IS DISTINCT FROM 'string'
			OR length(item->>'name') NOT BETWEEN 1 AND max_name THEN '{"name": "required"}'::jsonb
			ELSE '{}' END
		|| CASE WHEN item ? 'enabled' AND jsonb_typeof(item->'enabled') IS DISTINCT FROM 'boolean'
			THEN '{"enabled": "invalid_value"}'::jsonb ELSE '{}' END
$$;

-- Writes a checked item: inserted when old is NULL, else updated with its
-- version raised; only the columns cols that the item has. Logs the change
-- (never a secret) and returns the stored row as jsonb.
CREATE FUNCTION catalog_write(tbl text, old jsonb, item jsonb, cols text[]) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	list text := (SELECT string_agg(format('%I', c), ', ') FROM unnest(cols) c WHERE item ? c);
	saved jsonb;
BEGIN
	IF old IS NULL THEN
		EXECUTE format('INSERT INTO %I AS t (%s) SELECT %s FROM jsonb_populate_record(NULL::%I, $1)
			RETURNING to_jsonb(t)', tbl, list, list, tbl) INTO saved USING item;
	ELSE
		EXECUTE format('UPDATE %I AS t SET (%s) = (SELECT %s FROM jsonb_populate_record(NULL::%I, $1)),
			version = t.version + 1, updated_at = now() WHERE id = $2 RETURNING to_jsonb(t)',
			tbl, list, list, tbl) INTO saved USING item, (old->>'id')::bigint;
	END IF;
	PERFORM catalog_log(tbl, (saved->>'id')::bigint, CASE WHEN old IS NULL THEN 'create' ELSE 'update' END,
		NULL, old - 'secret', saved - 'secret');
	RETURN saved;
END
$$;

-- DELETE /api/v1/{rules,webhooks,sequences}/{id}
CREATE FUNCTION catalog_remove(tbl text, iid bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	old jsonb := catalog_row(tbl, iid);
BEGIN
	EXECUTE format('DELETE FROM %I WHERE id = $1', tbl) USING iid;
	PERFORM catalog_log(tbl, iid, 'delete', NULL, old - 'secret', NULL);
	RETURN '{}';
END
$$;

-- A rule as the API shows it.
CREATE FUNCTION rule_json(r rules) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', r.id, 'key', r.key, 'name', r.name, 'object', r.object,
		'trigger', r.trigger, 'conditions', r.conditions, 'actions', r.actions,
		'enabled', r.enabled, 'version', r.version, 'created_by', r.created_by,
		'created_at', r.created_at, 'updated_at', r.updated_at,
		'last_run_at', (SELECT max(at) FROM rule_runs WHERE rule_id = r.id))
$$;

-- GET /api/v1/rules
CREATE FUNCTION rules_list() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('data', coalesce(jsonb_agg(rule_json(r) ORDER BY r.object, r.id), '[]'))
	FROM rules r
$$;

-- GET /api/v1/rules/{id}
CREATE FUNCTION rule_get(rid bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT rule_json(jsonb_populate_record(NULL::rules, catalog_row('rules', rid)))
$$;

-- POST /api/v1/rules (rid NULL) and PATCH /api/v1/rules/{id}: validates the
-- whole rule as it will be, 422 naming each bad part.
CREATE FUNCTION rule_save(rid bigint, body jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	old jsonb := catalog_row('rules', rid);
	r jsonb := catalog_merge(old, body, '{"conditions": {"all": []}, "enabled": true}');
	bad jsonb := catalog_check(r, 200);
	i int;
	saved rules;
BEGIN
	IF r->>'object' IS DISTINCT FROM old->>'object' AND old IS NOT NULL THEN
		bad := bad || '{"object": "read_only"}';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM objects WHERE name = r->>'object') THEN
		RETURN crm_raise_fields(bad || '{"object": "invalid_value"}');
	END IF;
	bad := bad || rule_check_trigger(r->>'object', r->'trigger');
	IF jsonb_typeof(r->'conditions') IS DISTINCT FROM 'object'
		OR NOT (r->'conditions' ? 'all' OR r->'conditions' ? 'any') THEN
		bad := bad || '{"conditions": "invalid_value"}';
	ELSE
		bad := bad || rule_check_condition(r->>'object', r->'conditions', 'conditions', 0);
	END IF;
	IF jsonb_typeof(r->'actions') IS DISTINCT FROM 'array' OR jsonb_array_length(r->'actions') NOT BETWEEN 1 AND 20 THEN
		bad := bad || '{"actions": "invalid_value"}';
	ELSE
		FOR i IN 0 .. jsonb_array_length(r->'actions') - 1 LOOP
			bad := bad || rule_check_action(r->>'object', r->'actions'->i, format('actions[%s]', i));
		END LOOP;
	END IF;
	IF bad <> '{}' THEN
		RETURN crm_raise_fields(bad);
	END IF;
	saved := jsonb_populate_record(NULL::rules, catalog_write('rules', old, r,
		'{name, object, trigger, conditions, actions, enabled, created_by}'));
	IF saved.enabled AND saved.trigger->>'type' = 'date_offset' THEN
		-- the records the rule finds already get their timers in the background
		PERFORM platform.enqueue('rule_backfill', saved.id, format('backfill:%s:%s', saved.id, saved.version));
	END IF;
	RETURN rule_json(saved);
END
$$;

-- Raises CRM10 with the bad fields (returns nothing: a RETURN target).
CREATE FUNCTION crm_raise_fields(bad jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM crm_raise('CRM10', 'validation_failed', bad);
	RETURN NULL;
END
$$;

-- A page, newest first by id, of the rows of tbl whose col is val, without
-- the columns in hidden (the execution log, deliveries, enrollments).
CREATE FUNCTION child_page(tbl text, col text, val bigint, lim int, cur text,
	hidden text[] DEFAULT '{}') RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	rows jsonb;
BEGIN
	EXECUTE format('SELECT jsonb_agg(to_jsonb(x) - $3 ORDER BY x.id DESC) FROM (SELECT * FROM %I '
		'WHERE %I = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $4) x', tbl, col)
	INTO rows USING val, cursor_of_id(cur), hidden, lim + 1;
	RETURN page_answer(rows, lim, '{id}');
END
$$;

-- GET /api/v1/rules/{id}/runs: the rule's execution log, newest first.
CREATE FUNCTION rule_runs_list(rid bigint, lim int, cur text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
	PERFORM catalog_row('rules', rid);
	RETURN child_page('rule_runs', 'rule_id', rid, lim, cur, '{rule_id}');
END
$$;

-- Rules at work ------------------------------------------------------------------

-- From here on in the transaction, act as the automation: every right and
-- every record (the owner role), no user; changes carry the cause and depth.
CREATE FUNCTION automation_enter(cause text, depth int) RETURNS void LANGUAGE sql AS $$
	SELECT set_config('crm.role', 'owner', true), set_config('crm.user_id', '', true),
		set_config('crm.cause', cause, true), set_config('crm.depth', depth::text, true);
$$;

-- A text in the workspace's language (zh-CN, else English).
CREATE FUNCTION automation_text(zh text, en text) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN (SELECT value #>> '{}' FROM settings WHERE key = 'locale') = 'en' THEN en ELSE zh END
$$;

-- The active members a recipient names for a record of obj.
CREATE FUNCTION rule_recipients(v jsonb, obj text, rec jsonb) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
	owner bigint := (rec->>(SELECT owner_column FROM objects WHERE name = obj))::bigint;
BEGIN
	RETURN (SELECT coalesce(array_agg(m.id ORDER BY m.id), '{}') FROM members m
	WHERE m.status = 'active' AND CASE
		WHEN v #>> '{}' = 'owner' THEN m.id = owner
		WHEN v #>> '{}' = 'manager' THEN m.id = (SELECT manager_id FROM members WHERE id = owner)
		WHEN v ? 'member' THEN m.id = json_id(v->'member')
		ELSE m.role = v->>'role' END);
END
$$;

-- Writes one in-app notification per member (once per key and member).
CREATE FUNCTION notify(to_members bigint[], kind text, title text, body text,
	obj text, rid bigint, rule bigint, key text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	INSERT INTO notifications (member_id, kind, title, body, object, record_id, rule_id, key)
	SELECT m, kind, left(title, 200), left(body, 10000), obj, rid, rule, key FROM unnest(to_members) m
	ON CONFLICT DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

-- The member an assign action picks: a given member, the next in turn
-- (round robin, the turn kept in the rule), or the one holding the fewest
-- live records of obj (least loaded).
CREATE FUNCTION rule_pick_member(rid bigint, a jsonb, obj text) RETURNS bigint
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	pool bigint[];
	turn bigint;
	pick bigint;
	ocol text := (SELECT owner_column FROM objects WHERE name = obj);
BEGIN
	IF a->>'strategy' = 'member' THEN
		RETURN (SELECT id FROM members WHERE id = json_id(a->'member') AND status = 'active');
	END IF;
	SELECT coalesce(array_agg(m.id ORDER BY m.id), '{}') INTO pool FROM members m
	WHERE m.status = 'active' AND CASE WHEN a ? 'role' THEN m.role = a->>'role'
		ELSE m.id IN (SELECT json_id(x) FROM jsonb_array_elements(a->'members') x) END;
	IF cardinality(pool) = 0 THEN
		RETURN NULL;
	ELSIF a->>'strategy' = 'round_robin' THEN
		SELECT (state->>'turn')::bigint INTO turn FROM rules WHERE id = rid FOR UPDATE;
		pick := coalesce((SELECT min(p) FROM unnest(pool) p WHERE p > coalesce(turn, 0)), pool[1]);
		UPDATE rules SET state = state || jsonb_build_object('turn', pick) WHERE id = rid;
		RETURN pick;
	END IF;
	EXECUTE format('SELECT p FROM unnest($1) p ORDER BY (SELECT count(*) FROM %I t '
		'WHERE t.%I = p AND t.deleted_at IS NULL), p LIMIT 1', obj, ocol) INTO pick USING pool;
	RETURN pick;
END
$$;

-- Changes a record as the automation, through the record engine (so the
-- change is validated, audited, and an event again).
CREATE FUNCTION rule_update(obj text, rid bigint, changes jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
	RETURN record_update(obj, rid, (record_row(obj, rid, true)->>'version')::int, changes);
END
$$;

-- The body that sets a field ("custom.key" inside custom).
CREATE FUNCTION rule_field_body(field text, v jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN field LIKE 'custom.%' THEN jsonb_build_object('custom', jsonb_build_object(substr(field, 8), v))
		ELSE jsonb_build_object(field, v) END
$$;

-- Runs one action of rule r on record rec of obj; returns its result.
CREATE FUNCTION rule_action(r rules, a jsonb, obj text, rec jsonb, cause text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	kind text := a->>'type';
	tobj text := coalesce(a->>'on', obj);
	tid bigint := CASE WHEN tobj = obj THEN (rec->>'id')::bigint
		ELSE (rec->>((SELECT singular FROM objects WHERE name = tobj) || '_id'))::bigint END;
	target jsonb;
	ocol text := (SELECT owner_column FROM objects WHERE name = obj);
	effect text := format('rule:%s:%s:%s', r.id, rec->>'id', cause);
	who bigint[];
	pick bigint;
	link jsonb;
	d bigint;
BEGIN
	IF tid IS NULL THEN
		RETURN jsonb_build_object('type', kind, 'status', 'skipped', 'reason', 'no_' || tobj);
	END IF;
	target := CASE WHEN tobj = obj THEN rec ELSE record_row(tobj, tid) END;
	CASE kind
	WHEN 'notify' THEN
		who := rule_recipients(a->'to', obj, rec);
		PERFORM notify(who, 'rule', rule_render(a->>'title', rec), rule_render(a->>'body', rec),
			obj, tid, r.id, effect);
		RETURN jsonb_build_object('type', kind, 'status', 'done', 'members', to_jsonb(who));
	WHEN 'assign' THEN
		pick := rule_pick_member(r.id, a, obj);
		IF pick IS NULL THEN
			RETURN jsonb_build_object('type', kind, 'status', 'skipped', 'reason', 'no_active_member');
		END IF;
		PERFORM rule_update(obj, tid, jsonb_build_object(ocol, pick));
		PERFORM notify(ARRAY[pick], 'assigned', automation_text('分配给你：', 'Assigned to you: ')
			|| coalesce(rec->>(SELECT title_column FROM objects WHERE name = obj), ''), NULL,
			obj, tid, r.id, effect);
		RETURN jsonb_build_object('type', kind, 'status', 'done', 'member', pick);
	WHEN 'create_task' THEN
		who := CASE WHEN a ? 'assignee' THEN rule_recipients(a->'assignee', obj, rec)
			ELSE rule_recipients('"owner"', obj, rec) END;
		link := CASE obj WHEN 'customers' THEN jsonb_build_object('customer_id', tid)
			WHEN 'leads' THEN jsonb_build_object('lead_id', tid)
			WHEN 'opportunities' THEN jsonb_build_object('opportunity_id', tid, 'customer_id', rec->'customer_id')
			WHEN 'contacts' THEN jsonb_build_object('contact_id', tid, 'customer_id', rec->'customer_id')
			ELSE jsonb_strip_nulls(jsonb_build_object('customer_id', rec->'customer_id',
				'lead_id', rec->'lead_id', 'opportunity_id', rec->'opportunity_id')) END;
		d := (record_create('tasks', link || jsonb_build_object(
			'subject', left(rule_render(a->>'subject', rec), 200),
			'body', rule_render(a->>'body', rec),
			'assignee_id', who[1],
			'due_at', now() + make_interval(secs => coalesce((a->>'due_in_hours')::numeric, 24) * 3600)))->>'id')::bigint;
		RETURN jsonb_build_object('type', kind, 'status', 'done', 'task_id', d);
	WHEN 'set_field' THEN
		PERFORM rule_update(tobj, tid, rule_field_body(a->>'field', a->'value'));
		RETURN jsonb_build_object('type', kind, 'status', 'done');
	WHEN 'add_tag' THEN
		IF NOT target->'tags' ? (a->>'tag') THEN
			PERFORM rule_update(tobj, tid, jsonb_build_object('tags', (target->'tags') || to_jsonb(a->>'tag')));
		END IF;
		RETURN jsonb_build_object('type', kind, 'status', 'done');
	WHEN 'add_score' THEN
		PERFORM rule_update(tobj, tid, jsonb_build_object('score',
			greatest(0, (target->>'score')::int + (a->>'points')::int)));
		RETURN jsonb_build_object('type', kind, 'status', 'done');
	WHEN 'webhook' THEN
		d := delivery_queue(json_id(a->'webhook'), effect, obj || '.rule',
			jsonb_build_object('rule', jsonb_build_object('id', r.id, 'name', r.name),
				'object', obj, 'record', record_out(obj, rec, '{}')));
		RETURN jsonb_build_object('type', kind, 'status', 'done', 'delivery_id', d);
	WHEN 'email' THEN
		PERFORM email_queue(m.email, rule_render(content->>'subject', rec), rule_render(content->>'body', rec),
			effect || ':' || m.id, r.id)
		FROM members m, email_content(a) content WHERE m.id = ANY(rule_recipients(a->'to', obj, rec));
		RETURN jsonb_build_object('type', kind, 'status', 'done');
	WHEN 'enroll' THEN
		RETURN jsonb_build_object('type', kind, 'status', 'done', 'enrollment_id',
			(sequence_enroll_record(json_id(a->'sequence'), obj, tid)).id);
	END CASE;
END
$$;

-- Fires rule r on record rid of obj for a cause, once: checks the
-- conditions on the record as it is now, runs the actions in a
-- subtransaction (a failing action undoes the others) and logs the run.
CREATE FUNCTION rule_fire(r rules, obj text, rid bigint, cause text, depth int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	rec jsonb := record_row(obj, rid);
	run bigint;
	outcome jsonb := '[]';
	a jsonb;
	detail text;
BEGIN
	IF rec IS NULL OR rec->>'deleted_at' IS NOT NULL OR NOT rule_matches(r.conditions, rec) THEN
		RETURN;
	END IF;
	INSERT INTO rule_runs (rule_id, object, record_id, cause, depth, status)
	VALUES (r.id, obj, rid, cause, depth, CASE WHEN depth >= 5 THEN 'skipped' ELSE 'done' END)
	ON CONFLICT DO NOTHING RETURNING id INTO run;
	IF run IS NULL OR depth >= 5 THEN
		RETURN;	-- fired for this cause already, or the chain is too deep
	END IF;
	BEGIN
		PERFORM automation_enter(cause, depth + 1);
		FOR a IN SELECT * FROM jsonb_array_elements(r.actions) LOOP
			outcome := outcome || rule_action(r, a, obj, rec, cause);
		END LOOP;
		UPDATE rule_runs SET results = outcome WHERE id = run;
	EXCEPTION WHEN others THEN
		GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
		UPDATE rule_runs SET status = 'failed', error = left(SQLERRM, 500),
			results = jsonb_build_array(jsonb_build_object('detail', left(nullif(detail, ''), 500)))
		WHERE id = run;
	END;
END
$$;

-- Schedules what a record's event asks of time: a task's due reminder and
-- the date_offset rules of the record's date fields.
CREATE FUNCTION automation_schedule(obj text, rec jsonb, changes jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r rules;
	due timestamptz;
BEGIN
	IF obj = 'tasks' AND rec->>'status' = 'open' AND rec->>'due_at' IS NOT NULL
		AND (changes IS NULL OR changes ? 'due_at' OR changes ? 'status') THEN
		due := (rec->>'due_at')::timestamptz - make_interval(mins =>
			coalesce((SELECT (value #>> '{}')::int FROM settings WHERE key = 'tasks.reminder_minutes'), 15));
		PERFORM platform.enqueue('timer', (rec->>'id')::bigint,
			format('task_due:%s:%s', rec->>'id', extract(epoch FROM (rec->>'due_at')::timestamptz)),
			greatest(due, now()), '{"what": "task_due"}');
	END IF;
	FOR r IN SELECT * FROM rules WHERE enabled AND object = obj AND trigger->>'type' = 'date_offset'
		AND (changes IS NULL OR changes ? regexp_replace(trigger->>'field', '^custom\.', ''))
	LOOP
		PERFORM rule_schedule(r, rec);
	END LOOP;
END
$$;

-- The timer of a date_offset rule for one record (when it lies ahead).
CREATE FUNCTION rule_schedule(r rules, rec jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	due timestamptz := (rule_value(rec, r.trigger->>'field') #>> '{}')::timestamptz
		+ make_interval(hours => (r.trigger->>'hours')::int);
BEGIN
	IF due > now() THEN
		PERFORM platform.enqueue('timer', (rec->>'id')::bigint,
			format('rule:%s:%s:%s', r.id, rec->>'id', extract(epoch FROM due)), due,
			jsonb_build_object('what', 'rule', 'rule', r.id, 'due', due));
	END IF;
END
$$;

-- True when an event's change (or a created record) sets field, to `to`
-- when given.
CREATE FUNCTION rule_changed(t jsonb, action text, payload jsonb) RETURNS bool
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	key text := regexp_replace(t->>'field', '^custom\.', '');
	v jsonb := CASE WHEN action = 'created' THEN rule_value(payload, t->>'field')
		ELSE payload->'changes'->key END;
BEGIN
	RETURN CASE WHEN action = 'created' THEN v IS NOT NULL AND v <> 'null'
		ELSE payload->'changes' ? key END
		AND (NOT t ? 'to' OR rule_compare(v, 'eq', t->'to'));
END
$$;

-- One outbox event: its webhooks, the rules it triggers, the timers it sets.
CREATE FUNCTION automation_event(e outbox) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	ctx jsonb := coalesce(e.payload->'_automation', '{}');
	cause text := coalesce(ctx->>'cause', 'event:' || e.id);
	depth int := coalesce((ctx->>'depth')::int, 0);
	action text := split_part(e.event, '.', 2);
	r rules;
BEGIN
	PERFORM delivery_queue(w.id, 'event:' || e.id, e.event, jsonb_build_object('id', e.id,
		'event', e.event, 'object', e.object, 'record_id', e.record_id, 'at', e.at,
		'data', e.payload - '_automation'))
	FROM webhooks w WHERE w.enabled AND ('*' = ANY(w.events) OR e.event = ANY(w.events)
		OR split_part(e.event, '.', 1) || '.*' = ANY(w.events));
	PERFORM sequence_stops(e);
	IF NOT EXISTS (SELECT 1 FROM objects WHERE name = e.object) OR action NOT IN ('created', 'updated') THEN
		RETURN;
	END IF;
	FOR r IN SELECT * FROM rules WHERE enabled AND object = e.object ORDER BY id LOOP
		IF r.trigger->>'type' = action
			OR (r.trigger->>'type' = 'field_changed' AND rule_changed(r.trigger, action, e.payload)) THEN
			PERFORM rule_fire(r, e.object, e.record_id, cause, depth);
		END IF;
	END LOOP;
	PERFORM automation_schedule(e.object, record_row(e.object, e.record_id),
		CASE WHEN action = 'updated' THEN e.payload->'changes' END);
END
$$;

-- Handles the pending outbox events, oldest first, up to lim of them: 'more'
-- when some are left, 'done' when none, 'busy' when another worker is at
-- this tenant's events (they are handled in order, by one worker at a time).
CREATE FUNCTION automation_events(lim int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	e outbox;
	n int := 0;
BEGIN
	-- one lock per tenant (the key pairs the name with the tenant's id)
	IF NOT pg_try_advisory_xact_lock(hashtext('crm.automation_events'),
		current_setting('crm.tenant_id')::int) THEN
		RETURN 'busy';
	END IF;
	FOR e IN SELECT * FROM outbox WHERE processed_at IS NULL ORDER BY id LIMIT lim LOOP
		PERFORM automation_event(e);
		UPDATE outbox SET processed_at = now() WHERE id = e.id;
		n := n + 1;
	END LOOP;
	RETURN CASE WHEN n < lim THEN 'done' ELSE 'more' END;
END
$$;

-- Timers and sweeps ---------------------------------------------------------------

-- Fires one due timer (a job of kind `timer`): a task's due reminder, or a
-- date_offset rule. Each checks that what it was set for still holds (the
-- task still open and due then; the date unchanged), so a timer left from
-- an earlier date does nothing.
CREATE FUNCTION timer_fire(rid bigint, key text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	t jsonb;
	r rules;
BEGIN
	IF payload->>'what' = 'rule' THEN
		SELECT * INTO r FROM rules WHERE id = (payload->>'rule')::bigint AND enabled
			AND trigger->>'type' = 'date_offset';
		t := CASE WHEN r.id IS NOT NULL THEN record_row(r.object, rid) END;
		IF t IS NOT NULL AND (rule_value(t, r.trigger->>'field') #>> '{}')::timestamptz
			+ make_interval(hours => (r.trigger->>'hours')::int) = (payload->>'due')::timestamptz THEN
			PERFORM rule_fire(r, r.object, rid, 'timer:' || key, 0);
		END IF;
	ELSIF payload->>'what' = 'sequence_step' THEN
		PERFORM sequence_step(rid, (payload->>'step')::int);
	END IF;
END
$$;

-- The task reminders of a batch of timers, in one statement (thousands may
-- fall due on one second): the assignee of each task still open whose due
-- time is still the timer's (its key) is reminded.
CREATE FUNCTION task_reminders_fire(batch jsonb) RETURNS void LANGUAGE sql AS $$
	INSERT INTO notifications (member_id, kind, title, object, record_id, key)
	SELECT k.assignee_id, 'task_due', left(p.prefix || k.subject, 200), 'tasks', k.id, t->>'key'
	FROM jsonb_array_elements(batch) t JOIN tasks k ON k.id = (t->>'ref_id')::bigint,
		(SELECT automation_text('任务即将到期：', 'Task due soon: ') AS prefix) p
	WHERE t->'payload'->>'what' = 'task_due' AND k.status = 'open' AND k.deleted_at IS NULL
		AND k.assignee_id IS NOT NULL AND t->>'key' = format('task_due:%s:%s', k.id, extract(epoch FROM k.due_at))
	ON CONFLICT DO NOTHING
$$;

-- Fires a batch of due timers [{id, ref_id, key, payload}]: the task
-- reminders together, every other timer on its own (one that fails does not
-- stop the others). The jobs of the ones that fired are marked done in this
-- same transaction; returns the ids that failed with their errors:
-- [{id, error}], for the worker to retry. public_url starts the links that
-- e-mails carry (CRM_PUBLIC_URL).
CREATE FUNCTION timers_fire(batch jsonb, public_url text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	t jsonb;
	failed jsonb := '[]';
BEGIN
	PERFORM set_config('crm.public_url', coalesce(public_url, ''), true);
	BEGIN
		PERFORM task_reminders_fire(batch);
	EXCEPTION WHEN others THEN
		SELECT coalesce(jsonb_agg(jsonb_build_object('id', t->'id', 'error', left(SQLERRM, 300))), '[]') INTO failed
		FROM jsonb_array_elements(batch) t WHERE t->'payload'->>'what' = 'task_due';
	END;
	FOR t IN SELECT * FROM jsonb_array_elements(batch) x WHERE x->'payload'->>'what' IS DISTINCT FROM 'task_due' LOOP
		BEGIN
			PERFORM timer_fire((t->>'ref_id')::bigint, t->>'key', t->'payload');
		EXCEPTION WHEN others THEN
			failed := failed || jsonb_build_object('id', t->'id', 'error', left(SQLERRM, 300));
		END;
	END LOOP;
	PERFORM platform.jobs_done(array(SELECT (b->>'id')::bigint FROM jsonb_array_elements(batch) b
		EXCEPT SELECT (f->>'id')::bigint FROM jsonb_array_elements(failed) f));
	RETURN failed;
END
$$;

-- Schedules the date_offset timers of rule rid for records after id
-- `after`, lim records at a time (a job after the rule is saved); returns
-- the last id looked at, NULL at the end.
CREATE FUNCTION rule_backfill(rid bigint, after bigint, lim int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	r rules;
	rec jsonb;
	last bigint;
BEGIN
	SELECT * INTO r FROM rules WHERE id = rid AND enabled AND trigger->>'type' = 'date_offset';
	IF r.id IS NULL THEN
		RETURN NULL;
	END IF;
	FOR rec IN EXECUTE format('SELECT to_jsonb(t) FROM (SELECT id, custom, %s FROM %I '
		'WHERE id > $1 AND deleted_at IS NULL ORDER BY id LIMIT $2) t',
		CASE WHEN r.trigger->>'field' LIKE 'custom.%' THEN 'NULL AS _none'
			ELSE quote_ident(r.trigger->>'field') END, r.object) USING after, lim
	LOOP
		PERFORM rule_schedule(r, rec);
		last := (rec->>'id')::bigint;
	END LOOP;
	RETURN last;
END
$$;

-- Rules that look at time (no_activity, anniversary) and the public pool,
-- run every few minutes by the worker. A no_activity rule fires for the
-- customers whose quiet spell crossed its days since the last sweep, once
-- per spell; an anniversary rule once a year, days_before the date.
CREATE FUNCTION automation_sweep() RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	since timestamptz := coalesce((SELECT (value #>> '{}')::timestamptz FROM settings
		WHERE key = 'automation.swept_at'), now() - interval '5 minutes');
	r rules;
	c record;
	fired int := 0;
	pooled int;
BEGIN
	UPDATE settings SET value = to_jsonb(now()), updated_at = now() WHERE key = 'automation.swept_at';
	FOR r IN SELECT * FROM rules WHERE enabled AND trigger->>'type' = 'no_activity' LOOP
		FOR c IN SELECT id, coalesce(last_followed_at, created_at) AS quiet FROM customers
			WHERE deleted_at IS NULL AND NOT in_pool
			AND coalesce(last_followed_at, created_at) > since - make_interval(days => (r.trigger->>'days')::int)
			AND coalesce(last_followed_at, created_at) <= now() - make_interval(days => (r.trigger->>'days')::int)
			LIMIT 5000
		LOOP
			PERFORM rule_fire(r, 'customers', c.id, 'quiet:' || extract(epoch FROM c.quiet), 0);
			fired := fired + 1;
		END LOOP;
	END LOOP;
	IF to_char(since, 'YYYY-MM-DD') <> to_char(now(), 'YYYY-MM-DD') THEN
		FOR r IN SELECT * FROM rules WHERE enabled AND trigger->>'type' = 'anniversary' LOOP
			FOR c IN EXECUTE format('SELECT id FROM %I WHERE deleted_at IS NULL AND '
				'to_char((%s)::date, ''MM-DD'') = to_char(current_date + $1, ''MM-DD'')', r.object,
				CASE WHEN r.trigger->>'field' LIKE 'custom.%'
					THEN format('custom->>%L', substr(r.trigger->>'field', 8))
					ELSE quote_ident(r.trigger->>'field') END)
				USING (r.trigger->>'days_before')::int
			LOOP
				PERFORM rule_fire(r, r.object, c.id, 'year:' || extract(year FROM current_date), 0);
				fired := fired + 1;
			END LOOP;
		END LOOP;
	END IF;
	pooled := pool_return(500);
	RETURN jsonb_build_object('fired', fired, 'pooled', pooled);
END
$$;

-- Public pool ---------------------------------------------------------------------

-- Moves a customer into or out of the pool as the caller (or the
-- automation): owner, in_pool, a new version, an audit entry per field and
-- an event.
CREATE FUNCTION pool_move(cid bigint, to_owner bigint, action text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	old customers;
	c customers;
BEGIN
	SELECT * INTO old FROM customers WHERE id = cid FOR UPDATE;
	UPDATE customers SET owner_id = to_owner, in_pool = to_owner IS NULL,
		last_followed_at = CASE WHEN to_owner IS NOT NULL THEN now() ELSE last_followed_at END,
		version = version + 1, updated_at = now()
	WHERE id = cid RETURNING * INTO c;
	INSERT INTO audit_log (actor_user_id, object, record_id, action, field, old_value, new_value)
	VALUES (acting_user(), 'customers', cid, action, 'owner_id', to_jsonb(old.owner_id), to_jsonb(c.owner_id)),
		(acting_user(), 'customers', cid, action, 'in_pool', to_jsonb(old.in_pool), to_jsonb(c.in_pool));
	INSERT INTO outbox (event, object, record_id, payload)
	VALUES ('customer.' || action, 'customers', cid, jsonb_build_object('id', cid,
		'from_owner', old.owner_id, 'to_owner', c.owner_id) || automation_context());
	RETURN record_out('customers', to_jsonb(c), hidden_fields('customers'));
END
$$;

-- Returns to the pool up to lim customers nobody followed up for the
-- workspace's days (public_pool.days_without_follow_up; 0 = never).
CREATE FUNCTION pool_return(lim int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	days int := coalesce((SELECT (value #>> '{}')::int FROM settings
		WHERE key = 'public_pool.days_without_follow_up'), 0);
	n int := 0;
	cid bigint;
BEGIN
	IF days <= 0 THEN
		RETURN 0;
	END IF;
	PERFORM automation_enter('pool', 0);
	FOR cid IN SELECT id FROM customers WHERE deleted_at IS NULL AND NOT in_pool
		AND coalesce(last_followed_at, created_at) < now() - make_interval(days => days)
		ORDER BY coalesce(last_followed_at, created_at) LIMIT lim
	LOOP
		PERFORM pool_move(cid, NULL, 'returned_to_pool');
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;

-- How a customer last came into the pool: the history entry (at, action
-- released or returned_to_pool, actor) of that move.
CREATE FUNCTION pool_entry(cid bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT history_entry(a, '{}') FROM audit_log a
	WHERE a.object = 'customers' AND a.record_id = cid AND a.field = 'in_pool'
	ORDER BY a.id DESC LIMIT 1
$$;

-- GET /api/v1/customers/pool: the customers in the pool, for everyone who
-- may read customers, newest first.
CREATE FUNCTION pool_list(lim int, cur text, q text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	c jsonb := cursor_of_time(cur);
	hidden text[] := hidden_fields('customers');
BEGIN
	IF q IS NOT NULL AND length(search_query(q)) < 2 THEN
		PERFORM crm_raise('CRM15', 'q too short', '{"q": "too_short"}');
	END IF;
	RETURN page_answer((SELECT jsonb_agg(record_out('customers', to_jsonb(x), hidden)
			|| jsonb_build_object('pool_entry', pool_entry(x.id)) ORDER BY x.updated_at DESC, x.id DESC)
		FROM (SELECT * FROM customers t WHERE t.deleted_at IS NULL AND t.in_pool
			AND (c IS NULL OR (t.updated_at, t.id) < ((c->>0)::timestamptz, (c->>2)::bigint))
			AND (q IS NULL OR t._search LIKE '%' || search_query(q) || '%')
			ORDER BY t.updated_at DESC, t.id DESC LIMIT lim + 1) x), lim, '{updated_at,name,id}');
END
$$;

-- POST /api/v1/customers/{id}/claim: the caller takes a pooled customer,
-- within their role's limit of customers held (public_pool.claim_limits).
CREATE FUNCTION customer_claim(cid bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	me bigint := acting_member();
	lim int := (SELECT (value->>acting_role())::int FROM settings WHERE key = 'public_pool.claim_limits');
BEGIN
	IF NOT EXISTS (SELECT 1 FROM customers WHERE id = cid AND deleted_at IS NULL AND in_pool FOR UPDATE) THEN
		PERFORM record_visible('customers', cid);	-- 404 unless the caller may see it
		PERFORM crm_raise('CRM16', 'The customer is not in the pool.');
	END IF;
	IF lim IS NOT NULL AND (SELECT count(*) FROM customers WHERE owner_id = me AND deleted_at IS NULL) >= lim THEN
		PERFORM crm_raise('CRM10', 'validation_failed', jsonb_build_object('owner_id', 'claim_limit_reached'));
	END IF;
	RETURN pool_move(cid, me, 'claimed');
END
$$;

-- POST /api/v1/customers/{id}/release: the owner (or anyone who may update
-- it) puts a customer back into the pool.
CREATE FUNCTION customer_release(cid bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c jsonb := record_visible('customers', cid, false, true);
BEGIN
	IF (c->>'in_pool')::bool THEN
		PERFORM crm_raise('CRM16', 'The customer is in the pool already.');
	END IF;
	RETURN pool_move(cid, NULL, 'released');
END
$$;

-- Notifications ---------------------------------------------------------------------

-- GET /api/v1/notifications: the caller's, newest first (?unread=true for
-- the unread ones), with the unread count.
CREATE FUNCTION notifications_list(lim int, cur text, unread text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	after bigint := cursor_of_id(cur);
	me bigint := acting_member();
BEGIN
	IF unread IS NOT NULL AND unread NOT IN ('true', 'false') THEN
		PERFORM crm_raise('CRM15', 'bad unread', '{"unread": "invalid_value"}');
	END IF;
	RETURN page_answer((SELECT jsonb_agg(to_jsonb(x) - 'member_id' - 'key' ORDER BY x.id DESC) FROM (
		SELECT * FROM notifications WHERE member_id = me AND (after IS NULL OR id < after)
			AND (unread IS DISTINCT FROM 'true' OR read_at IS NULL)
		ORDER BY id DESC LIMIT lim + 1) x), lim, '{id}')
		|| jsonb_build_object('unread', notifications_unread_count());
END
$$;

CREATE FUNCTION notifications_unread_count() RETURNS int LANGUAGE sql STABLE AS $$
	SELECT count(*)::int FROM notifications WHERE member_id = acting_member() AND read_at IS NULL
$$;

-- GET /api/v1/notifications/unread_count
CREATE FUNCTION notifications_unread() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('unread', notifications_unread_count())
$$;

-- POST /api/v1/notifications/{id}/read (rid) and /notifications/read_all
-- (rid NULL): marks the caller's notifications read.
CREATE FUNCTION notifications_read(rid bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	UPDATE notifications SET read_at = now()
	WHERE member_id = acting_member() AND read_at IS NULL AND (rid IS NULL OR id = rid);
	IF rid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM notifications
		WHERE id = rid AND member_id = acting_member()) THEN
		PERFORM crm_raise('CRM14', 'notification ' || rid || ' not found');
	END IF;
	RETURN notifications_unread();
END
$$;

-- Webhooks and e-mail ---------------------------------------------------------------

-- Queues one delivery to a webhook (once per key) and its job; returns its id.
CREATE FUNCTION delivery_queue(wid bigint, key text, event text, payload jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	d bigint;
BEGIN
	INSERT INTO deliveries (webhook_id, key, event, payload) VALUES (wid, key, event, payload)
	ON CONFLICT DO NOTHING RETURNING id INTO d;
	IF d IS NOT NULL THEN
		PERFORM platform.enqueue('deliver', d, 'delivery:' || d);
	END IF;
	RETURN d;
END
$$;

-- Queues one e-mail (once per key) and its job.
CREATE FUNCTION email_queue(to_address text, subject text, body text, key text, rule bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	m bigint;
BEGIN
	INSERT INTO emails (to_address, subject, body, key, rule_id)
	VALUES (to_address, left(subject, 200), coalesce(body, ''), key, rule)
	ON CONFLICT DO NOTHING RETURNING id INTO m;
	IF m IS NOT NULL THEN
		PERFORM platform.enqueue('email', m, 'email:' || m);
	END IF;
END
$$;

-- What the worker sends for a delivery: {kind, url, secret, body} with the
-- body in the endpoint's format (DingTalk and WeCom robots take a text
-- message), or NULL when it is gone or done.
CREATE FUNCTION delivery_request(did bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	d deliveries;
	w webhooks;
	text_msg text;
BEGIN
	SELECT * INTO d FROM deliveries WHERE id = did AND status = 'queued' FOR UPDATE;
	SELECT * INTO w FROM webhooks WHERE id = d.webhook_id;
	IF d.id IS NULL OR w.id IS NULL THEN
		RETURN NULL;
	END IF;
	text_msg := format('[%s] %s %s', current_setting('crm.tenant_name', true), d.event,
		coalesce(d.payload->'record'->>'name', d.payload->'data'->>'name',
			d.payload->'data'->>'subject', d.payload->>'record_id', ''));
	RETURN jsonb_build_object('kind', w.kind, 'url', w.url, 'secret', w.secret,
		'event', d.event, 'delivery', d.id, 'body', (CASE w.kind
		WHEN 'generic' THEN d.payload
		ELSE jsonb_build_object('msgtype', 'text', 'text', jsonb_build_object('content', text_msg)) END)::text);
END
$$;

-- Records a delivery attempt: the answer's status and the start of its body,
-- or the error; done on a 2xx, dead after the last try.
CREATE FUNCTION delivery_result(did bigint, http_status int, response text, error text, last_try bool)
RETURNS void LANGUAGE sql AS $$
	UPDATE deliveries SET attempts = attempts + 1, response_status = http_status,
		response_body = left(response, 1000), last_error = left(error, 500),
		status = CASE WHEN http_status BETWEEN 200 AND 299 THEN 'done' WHEN last_try THEN 'dead' ELSE 'queued' END,
		delivered_at = CASE WHEN http_status BETWEEN 200 AND 299 THEN now() END
	WHERE id = did
$$;

-- The e-mail the worker sends: {to, subject, body}, or NULL when sent.
CREATE FUNCTION email_request(mid bigint) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('to', to_address, 'subject', subject, 'body', body,
		'from_name', current_setting('crm.tenant_name', true))
	FROM emails WHERE id = mid AND status = 'queued'
$$;

CREATE FUNCTION email_result(mid bigint, error text, last_try bool) RETURNS void LANGUAGE sql AS $$
	UPDATE emails SET attempts = attempts + 1, last_error = left(error, 500),
		status = CASE WHEN error IS NULL THEN 'sent' WHEN last_try THEN 'dead' ELSE 'queued' END,
		sent_at = CASE WHEN error IS NULL THEN now() END
	WHERE id = mid
$$;

CREATE FUNCTION webhook_json(w webhooks) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT to_jsonb(w) || jsonb_build_object('last_delivery', (SELECT jsonb_build_object(
		'status', d.status, 'response_status', d.response_status, 'at', d.created_at)
		FROM deliveries d WHERE d.webhook_id = w.id ORDER BY d.id DESC LIMIT 1))
$$;

-- GET /api/v1/webhooks
CREATE FUNCTION webhooks_list() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('data', coalesce(jsonb_agg(webhook_json(w) ORDER BY w.id), '[]'))
	FROM webhooks w
$$;

-- POST /api/v1/webhooks (wid NULL) and PATCH /api/v1/webhooks/{id}:
-- {name, kind, url, events, enabled, secret?} (the secret is made when not
-- given; DingTalk's signed robots need theirs).
CREATE FUNCTION webhook_save(wid bigint, body jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	old jsonb := catalog_row('webhooks', wid);
	w jsonb := catalog_merge(old, body, '{"kind": "generic", "events": ["*"], "enabled": true}');
	bad jsonb := catalog_check(w, 100);
BEGIN
	IF w->>'kind' NOT IN ('generic', 'dingtalk', 'wecom') OR jsonb_typeof(w->'kind') <> 'string' THEN
		bad := bad || '{"kind": "invalid_value"}';
	END IF;
	IF jsonb_typeof(w->'url') IS DISTINCT FROM 'string' OR w->>'url' !~ '^https?://[^\s/]+(/\S*)?$'
		OR length(w->>'url') > 2000 THEN
		bad := bad || '{"url": "invalid_format"}';
	END IF;
	IF w ? 'secret' AND (jsonb_typeof(w->'secret') <> 'string' OR length(w->>'secret') NOT BETWEEN 8 AND 200) THEN
		bad := bad || '{"secret": "invalid_value"}';
	END IF;
	IF jsonb_typeof(w->'events') <> 'array' OR jsonb_array_length(w->'events') NOT BETWEEN 1 AND 50
		OR EXISTS (SELECT 1 FROM jsonb_array_elements(w->'events') e
			WHERE jsonb_typeof(e) <> 'string' OR e #>> '{}' !~ '^(\*|[a-z_]+\.(\*|[a-z_]+))$') THEN
		bad := bad || '{"events": "invalid_value"}';
	END IF;
	IF bad <> '{}' THEN
		RETURN crm_raise_fields(bad);
	END IF;
	RETURN webhook_json(jsonb_populate_record(NULL::webhooks, catalog_write('webhooks', old, w,
		'{name, kind, url, secret, events, enabled}')));
END
$$;

-- GET /api/v1/webhooks/{id}/deliveries: the delivery log, newest first.
CREATE FUNCTION webhook_deliveries(wid bigint, lim int, cur text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
	PERFORM catalog_row('webhooks', wid);
	RETURN child_page('deliveries', 'webhook_id', wid, lim, cur);
END
$$;

-- The starter rules of a template: {"rules": [{key, name, object, trigger,
-- conditions, actions, enabled}]}; a trigger's {"stage": name} becomes the
-- default pipeline's stage of that name. Each is checked like a rule saved
-- through the API.
CREATE FUNCTION rules_seed(template jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t jsonb;
	saved jsonb;
BEGIN
	FOR t IN SELECT * FROM jsonb_array_elements(coalesce(template->'rules', '[]')) LOOP
		IF t->'trigger' ? 'stage' THEN
			t := jsonb_set(t, '{trigger}', ((t->'trigger') - 'stage') || jsonb_build_object('to',
				(SELECT s.id FROM pipeline_stages s JOIN pipelines p ON p.id = s.pipeline_id
				WHERE p.is_default AND s.name = t->'trigger'->>'stage')));
		END IF;
		saved := rule_save(NULL, t - 'key');
		UPDATE rules SET key = t->>'key' WHERE id = (saved->>'id')::bigint;
	END LOOP;
END
$$;

-- E-mail templates ----------------------------------------------------------------
--
-- Written once, used by rules' email actions and sequence steps: {"template":
-- id} in place of their own subject and body. {{field}} in either is filled
-- from the record when the e-mail is made, so an edit reaches the e-mails
-- not yet sent.

CREATE TABLE email_templates (
	id bigserial PRIMARY KEY,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
	body text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
	version int NOT NULL DEFAULT 1,
	created_by bigint REFERENCES members (id),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- Checks the e-mail of an email action, a sequence step or a template (keys
-- prefixed by path): a template of this workspace, or a subject of 1-200
-- characters and a body of 1-20,000 of its own.
CREATE FUNCTION email_content_check(part jsonb, path text) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN part ? 'template' THEN
		CASE WHEN EXISTS (SELECT 1 FROM email_templates t WHERE t.id = json_id(part->'template'))
			THEN '{}'::jsonb ELSE jsonb_build_object(path || 'template', 'invalid_value') END
	ELSE
		CASE WHEN (jsonb_typeof(part->'subject') = 'string' AND length(part->>'subject') BETWEEN 1 AND 200) IS NOT TRUE
			THEN jsonb_build_object(path || 'subject', 'required') ELSE '{}' END
		|| CASE WHEN (jsonb_typeof(part->'body') = 'string' AND length(part->>'body') BETWEEN 1 AND 20000) IS NOT TRUE
			THEN jsonb_build_object(path || 'body', 'required') ELSE '{}' END
	END
$$;

-- The {subject, body} an email action or sequence step sends: its
-- template's when it names one, else its own.
CREATE FUNCTION email_content(part jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN part ? 'template' THEN (SELECT jsonb_build_object('subject', t.subject, 'body', t.body)
		FROM email_templates t WHERE t.id = json_id(part->'template'))
		ELSE jsonb_build_object('subject', part->>'subject', 'body', part->>'body') END
$$;

-- GET /api/v1/email_templates
CREATE FUNCTION email_templates_list() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('data', coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id), '[]'))
	FROM email_templates t
$$;

-- POST /api/v1/email_templates (tid NULL), PATCH /api/v1/email_templates/{id}:
-- {name, subject, body}.
CREATE FUNCTION email_template_save(tid bigint, body jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	old jsonb := catalog_row('email_templates', tid);
	t jsonb := catalog_merge(old, body, '{}') - 'template';
	bad jsonb := catalog_check(t, 200) || email_content_check(t, '');
BEGIN
	IF bad <> '{}' THEN
		RETURN crm_raise_fields(bad);
	END IF;
	RETURN catalog_write('email_templates', old, t, '{name, subject, body, created_by}');
END
$$;

-- DELETE /api/v1/email_templates/{id}: refused (409) while a rule or a
-- sequence sends it.
CREATE FUNCTION email_template_delete(tid bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	user_name text := coalesce(
		(SELECT r.name FROM rules r, jsonb_array_elements(r.actions) a
			WHERE json_id(a->'template') = tid LIMIT 1),
		(SELECT s.name FROM sequences s, jsonb_array_elements(s.steps) st
			WHERE json_id(st->'template') = tid LIMIT 1));
BEGIN
	IF user_name IS NOT NULL THEN
		PERFORM crm_raise('CRM16', format('The template is in use by "%s".', user_name));
	END IF;
	RETURN catalog_remove('email_templates', tid);
END
$$;

-- Nurture sequences ---------------------------------------------------------------
--
-- A sequence sends its steps' e-mails to an enrolled lead or contact on day
-- offsets from the enrollment, each step a timer. It stops on a reply (an
-- e-mail activity logged on the record), on conversion, and on unsubscribe
-- (a signed link in every e-mail: HMAC-SHA256 of "<tenant>.<enrollment>"
-- with the workspace's secret).

CREATE TABLE sequences (
	id bigserial PRIMARY KEY,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	steps jsonb NOT NULL,	-- [{day, subject, body}] by day
	enabled bool NOT NULL DEFAULT true,
	version int NOT NULL DEFAULT 1,
	created_by bigint REFERENCES members (id),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE enrollments (
	id bigserial PRIMARY KEY,
	sequence_id bigint NOT NULL REFERENCES sequences (id) ON DELETE CASCADE,
	object text NOT NULL CHECK (object IN ('leads', 'contacts')),
	record_id bigint NOT NULL,
	status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'stopped')),
	step int NOT NULL DEFAULT 0,	-- the next step to send
	stop_reason text CHECK (stop_reason IN ('replied', 'converted', 'unsubscribed', 'manual', 'no_email')),
	enrolled_by bigint REFERENCES members (id),
	enrolled_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX enrollments_active ON enrollments (sequence_id, object, record_id) WHERE status = 'active';
CREATE INDEX enrollments_record ON enrollments (object, record_id) WHERE status = 'active';
CREATE INDEX enrollments_sequence ON enrollments (sequence_id, id DESC);

ALTER TABLE emails ADD COLUMN enrollment_id bigint REFERENCES enrollments (id) ON DELETE SET NULL;

INSERT INTO settings (key, value) VALUES
	('sequences.unsubscribe_secret', to_jsonb(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')));

-- HMAC-SHA256 (RFC 2104) over PostgreSQL's sha256().
CREATE FUNCTION hmac_sha256(key bytea, msg bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	k bytea := CASE WHEN length(key) > 64 THEN sha256(key) ELSE key END;
	ipad bytea;
	opad bytea;
BEGIN
	k := k || decode(repeat('00', 64 - length(k)), 'hex');
	ipad := k;
	opad := k;
	FOR i IN 0 .. 63 LOOP
		ipad := set_byte(ipad, i, get_byte(k, i) # 54);
		opad := set_byte(opad, i, get_byte(k, i) # 92);
	END LOOP;
	RETURN sha256(opad || sha256(ipad || msg));
END
$$;

-- The signature of an enrollment's unsubscribe link (hex).
CREATE FUNCTION unsubscribe_signature(eid bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT encode(hmac_sha256(convert_to(value #>> '{}', 'UTF8'),
		convert_to(current_setting('crm.tenant_id') || '.' || eid, 'UTF8')), 'hex')
	FROM settings WHERE key = 'sequences.unsubscribe_secret'
$$;

-- POST /api/v1/unsubscribe {t, e, s} (no login: the link in the e-mail):
-- stops the enrollment when the signature is right; 404 otherwise.
CREATE FUNCTION sequence_unsubscribe(eid bigint, sig text) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF sig IS NULL OR sig !~ '^[0-9a-f]{64}$' OR sig <> unsubscribe_signature(eid)
		OR NOT EXISTS (SELECT 1 FROM enrollments WHERE id = eid) THEN
		PERFORM crm_raise('CRM14', 'no such subscription');
	END IF;
	PERFORM enrollment_end(eid, 'stopped', 'unsubscribed');
	RETURN jsonb_build_object('unsubscribed', true);
END
$$;

CREATE FUNCTION sequence_json(s sequences) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT to_jsonb(s) || jsonb_build_object('enrolled', (SELECT count(*) FROM enrollments e
		WHERE e.sequence_id = s.id AND e.status = 'active'))
$$;

-- GET /api/v1/sequences
CREATE FUNCTION sequences_list() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('data', coalesce(jsonb_agg(sequence_json(s) ORDER BY s.id), '[]'))
	FROM sequences s
$$;

-- GET /api/v1/sequences/{id}
CREATE FUNCTION sequence_get(sid bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT sequence_json(jsonb_populate_record(NULL::sequences, catalog_row('sequences', sid)))
$$;

-- POST /api/v1/sequences (sid NULL), PATCH /api/v1/sequences/{id}:
-- {name, steps: [{day, subject, body}], enabled}.
CREATE FUNCTION sequence_save(sid bigint, body jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	old jsonb := catalog_row('sequences', sid);
	s jsonb := catalog_merge(old, body, '{"enabled": true}');
	bad jsonb := catalog_check(s, 200);
	i int;
	saved sequences;
BEGIN
	IF jsonb_typeof(s->'steps') IS DISTINCT FROM 'array' OR jsonb_array_length(s->'steps') NOT BETWEEN 1 AND 20 THEN
		bad := bad || '{"steps": "invalid_value"}';
	ELSE
		FOR i IN 0 .. jsonb_array_length(s->'steps') - 1 LOOP
			IF (jsonb_typeof(s->'steps'->i->'day') = 'number' AND (s->'steps'->i->>'day') ~ '^[0-9]{1,3}$'
				AND (i = 0 OR (s->'steps'->i->>'day')::int >= (s->'steps'->(i - 1)->>'day')::int)) IS NOT TRUE THEN
				bad := bad || jsonb_build_object(format('steps[%s].day', i), 'invalid_value');
			END IF;
			bad := bad || email_content_check(s->'steps'->i, format('steps[%s].', i));
		END LOOP;
	END IF;
	IF bad <> '{}' THEN
		RETURN crm_raise_fields(bad);
	END IF;
	saved := jsonb_populate_record(NULL::sequences, catalog_write('sequences', old, s,
		'{name, steps, enabled, created_by}'));
	PERFORM sequence_resume(saved);
	RETURN sequence_json(saved);
END
$$;

-- After a save, the active enrollments go on by the sequence as it is now:
-- switched back on, the due steps are sent; steps moved, their timers move;
-- an enrollment past the last step is complete.
CREATE FUNCTION sequence_resume(s sequences) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	e enrollments;
BEGIN
	IF NOT s.enabled THEN
		RETURN;
	END IF;
	FOR e IN SELECT * FROM enrollments WHERE sequence_id = s.id AND status = 'active' LOOP
		IF e.step >= jsonb_array_length(s.steps) THEN
			PERFORM enrollment_end(e.id, 'completed', NULL);
		ELSE
			PERFORM sequence_schedule(e, s);
		END IF;
	END LOOP;
END
$$;

-- Enrolls a lead or contact in a sequence (once while active) and sets the
-- timer of its first step; returns the enrollment.
CREATE FUNCTION sequence_enroll_record(sid bigint, obj text, rid bigint) RETURNS enrollments
LANGUAGE plpgsql AS $$
DECLARE
	s sequences := jsonb_populate_record(NULL::sequences, catalog_row('sequences', sid));
	e enrollments;
BEGIN
	INSERT INTO enrollments (sequence_id, object, record_id, enrolled_by)
	VALUES (sid, obj, rid, acting_member()) ON CONFLICT DO NOTHING RETURNING * INTO e;
	IF e.id IS NULL THEN
		SELECT * INTO e FROM enrollments WHERE sequence_id = sid AND object = obj
			AND record_id = rid AND status = 'active';
		RETURN e;
	END IF;
	PERFORM sequence_schedule(e, s);
	RETURN e;
END
$$;

-- The timer of an enrollment's next step; keyed by the sequence's version
-- too, so that a save sets it anew (sequence_step ignores a stale one).
CREATE FUNCTION sequence_schedule(e enrollments, s sequences) RETURNS void LANGUAGE sql AS $$
	SELECT platform.enqueue('timer', e.id, format('seq:%s:%s:%s', e.id, e.step, s.version),
		e.enrolled_at + make_interval(days => (s.steps->e.step->>'day')::int),
		jsonb_build_object('what', 'sequence_step', 'step', e.step))
$$;

-- POST /api/v1/sequences/{id}/enrollments {object, record_id}: enrolls a
-- record the caller may see.
CREATE FUNCTION sequence_enroll(sid bigint, body jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	obj text := body->>'object';
	rid bigint := json_id(body->'record_id');
BEGIN
	PERFORM catalog_row('sequences', sid);
	IF obj IS NULL OR obj NOT IN ('leads', 'contacts') THEN
		PERFORM crm_raise('CRM10', 'validation_failed', '{"object": "invalid_value"}');
	ELSIF rid IS NULL THEN
		PERFORM crm_raise('CRM10', 'validation_failed', '{"record_id": "required"}');
	ELSIF record_visible(obj, rid)->>'email' IS NULL THEN
		PERFORM crm_raise('CRM10', 'validation_failed', '{"record_id": "no_email"}');
	END IF;
	RETURN to_jsonb(sequence_enroll_record(sid, obj, rid));
END
$$;

-- GET /api/v1/sequences/{id}/enrollments, newest first.
CREATE FUNCTION sequence_enrollments(sid bigint, lim int, cur text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
	PERFORM catalog_row('sequences', sid);
	RETURN child_page('enrollments', 'sequence_id', sid, lim, cur);
END
$$;

-- Ends an active enrollment (completed, or stopped with a reason).
CREATE FUNCTION enrollment_end(eid bigint, st text, reason text) RETURNS enrollments
LANGUAGE sql AS $$
	UPDATE enrollments SET status = st, stop_reason = reason, updated_at = now()
	WHERE id = eid AND status = 'active' RETURNING *
$$;

-- POST /api/v1/enrollments/{id}/stop
CREATE FUNCTION enrollment_stop(eid bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	e enrollments;
BEGIN
	SELECT * INTO e FROM enrollments WHERE id = eid;
	IF e.id IS NULL THEN
		PERFORM crm_raise('CRM14', 'enrollment ' || eid || ' not found');
	END IF;
	PERFORM record_visible(e.object, e.record_id);
	RETURN coalesce(to_jsonb(enrollment_end(eid, 'stopped', 'manual')), to_jsonb(e));
END
$$;

-- Sends an enrollment's step (a due timer) when it is still the next one
-- and the enrollment still runs, then sets the next step's timer.
CREATE FUNCTION sequence_step(eid bigint, step int) RETURNS void LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	e enrollments;
	s sequences;
	rec jsonb;
	st jsonb;
BEGIN
	SELECT * INTO e FROM enrollments WHERE id = eid AND status = 'active' AND enrollments.step = sequence_step.step
		FOR UPDATE;
	SELECT * INTO s FROM sequences WHERE id = e.sequence_id AND enabled;
	-- off, or the step's day moved later by an edit: the timer the save set
	-- does it (sequence_resume)
	IF e.id IS NULL OR s.id IS NULL
		OR e.enrolled_at + make_interval(days => (s.steps->step->>'day')::int) > now() THEN
		RETURN;
	END IF;
	rec := record_row(e.object, e.record_id);
	IF rec IS NULL OR rec->>'deleted_at' IS NOT NULL OR rec->>'email' IS NULL THEN
		PERFORM enrollment_end(eid, 'stopped', 'no_email');
		RETURN;
	ELSIF e.object = 'leads' AND rec->>'status' = 'converted' THEN
		PERFORM enrollment_end(eid, 'stopped', 'converted');
		RETURN;
	END IF;
	st := email_content(s.steps->step);
	PERFORM email_queue(rec->>'email', rule_render(st->>'subject', rec),
		rule_render(st->>'body', rec) || E'\n\n' || automation_text('退订：', 'Unsubscribe: ')
			|| coalesce(nullif(current_setting('crm.public_url', true), ''), '') || format('/unsubscribe?t=%s&e=%s&s=%s',
			current_setting('crm.tenant_id'), eid, unsubscribe_signature(eid)),
		format('seq:%s:%s', eid, step), NULL);
	UPDATE emails SET enrollment_id = eid WHERE key = format('seq:%s:%s', eid, step);
	UPDATE enrollments SET step = step + 1, updated_at = now() WHERE id = eid RETURNING * INTO e;
	IF e.step >= jsonb_array_length(s.steps) THEN
		PERFORM enrollment_end(eid, 'completed', NULL);
	ELSE
		PERFORM sequence_schedule(e, s);
	END IF;
END
$$;

-- What an event ends: a reply (an e-mail activity on the lead or contact)
-- or a conversion stops the record's enrollments.
CREATE FUNCTION sequence_stops(e outbox) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF e.event = 'activity.created' AND e.payload->>'kind' = 'email' THEN
		PERFORM enrollment_end(x.id, 'stopped', 'replied') FROM enrollments x
		WHERE x.status = 'active' AND ((x.object = 'leads' AND x.record_id = (e.payload->>'lead_id')::bigint)
			OR (x.object = 'contacts' AND x.record_id = (e.payload->>'contact_id')::bigint));
	ELSIF e.event = 'lead.converted' OR (e.event = 'lead.updated' AND e.payload->'changes'->>'status' = 'converted') THEN
		PERFORM enrollment_end(x.id, 'stopped', 'converted') FROM enrollments x
		WHERE x.status = 'active' AND x.object = 'leads' AND x.record_id = e.record_id;
	END IF;
END
$$;

-- Workspace settings ----------------------------------------------------------------

-- The settings a workspace edits, with the check of each value.
CREATE FUNCTION setting_valid(k text, v jsonb) RETURNS bool LANGUAGE sql STABLE AS $$
	SELECT CASE k
		WHEN 'currency' THEN jsonb_typeof(v) = 'string' AND v #>> '{}' ~ '^[A-Z]{3}$'
		WHEN 'timezone' THEN jsonb_typeof(v) = 'string'
			AND EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = v #>> '{}')
		WHEN 'locale' THEN v #>> '{}' IN ('zh-CN', 'en')
		WHEN 'public_pool.days_without_follow_up' THEN jsonb_typeof(v) = 'number'
			AND v #>> '{}' ~ '^[0-9]{1,4}$' AND (v #>> '{}')::int <= 3650
		WHEN 'tasks.reminder_minutes' THEN jsonb_typeof(v) = 'number'
			AND v #>> '{}' ~ '^[0-9]{1,5}$' AND (v #>> '{}')::int <= 10080
		WHEN 'public_pool.claim_limits' THEN jsonb_typeof(v) = 'object' AND NOT EXISTS (
			SELECT 1 FROM jsonb_each(v) e WHERE NOT EXISTS (SELECT 1 FROM roles r WHERE r.key = e.key)
				OR jsonb_typeof(e.value) <> 'number' OR e.value #>> '{}' !~ '^[0-9]{1,6}$')
		ELSE false END
$$;

-- GET /api/v1/settings: what the workspace edits (not its secrets or the
-- worker's bookkeeping).
CREATE FUNCTION settings_get() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_object_agg(key, value ORDER BY key), '{}') FROM settings
	WHERE key IN ('currency', 'timezone', 'locale', 'public_pool.days_without_follow_up',
		'public_pool.claim_limits', 'tasks.reminder_minutes')
$$;

-- PATCH /api/v1/settings {key: value…}: all or nothing; 422 names each bad
-- key; each change is audited.
CREATE FUNCTION settings_update(body jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	bad jsonb := (SELECT coalesce(jsonb_object_agg(key, CASE WHEN settings_get() ? key
		THEN 'invalid_value' ELSE 'unknown_field' END), '{}')
		FROM jsonb_each(body) WHERE NOT setting_valid(key, value));
	e record;
BEGIN
	IF bad <> '{}' THEN
		RETURN crm_raise_fields(bad);
	END IF;
	FOR e IN SELECT b.key, b.value, s.value AS old FROM jsonb_each(body) b
		JOIN settings s ON s.key = b.key WHERE s.value IS DISTINCT FROM b.value
	LOOP
		UPDATE settings SET value = e.value, updated_at = now(), updated_by = acting_user() WHERE key = e.key;
		PERFORM catalog_log('settings', 0, 'update', e.key, e.old, e.value);
	END LOOP;
	RETURN settings_get();
END
$$;
