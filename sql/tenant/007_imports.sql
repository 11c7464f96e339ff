-- CSV imports: the parsed rows (crm-api turns the file into UTF-8 rows),
-- a column → field mapping, a duplicate policy, and a report per row. Small
-- files run in the request; large ones run as a job in crm-worker, a batch
-- of rows per transaction, resumable where the last batch ended.

CREATE TABLE imports (
	id bigserial PRIMARY KEY,
	object text NOT NULL REFERENCES objects (name),
	status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
	dry_run bool NOT NULL DEFAULT false,
	duplicates text NOT NULL DEFAULT 'skip' CHECK (duplicates IN ('skip', 'update', 'create')),
	headers jsonb NOT NULL,
	mapping jsonb NOT NULL,
	filename text,
	total_rows int NOT NULL,
	processed_rows int NOT NULL DEFAULT 0,
	created int NOT NULL DEFAULT 0,
	updated int NOT NULL DEFAULT 0,
	skipped int NOT NULL DEFAULT 0,
	failed int NOT NULL DEFAULT 0,
	errors jsonb NOT NULL DEFAULT '[]',
	user_id bigint NOT NULL,
	role text NOT NULL,
	created_by bigint REFERENCES members (id),
	created_at timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz
);

CREATE TABLE import_rows (
	import_id bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
	n int NOT NULL,	-- 1-based data row
	line int NOT NULL,	-- line of the file where the row starts
	cells jsonb NOT NULL,
	PRIMARY KEY (import_id, n)
);

CREATE FUNCTION import_json(i imports) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT jsonb_build_object('id', i.id, 'object', i.object, 'status', i.status,
		'dry_run', i.dry_run, 'duplicates', i.duplicates, 'filename', i.filename,
		'mapping', i.mapping, 'total_rows', i.total_rows, 'processed_rows', i.processed_rows,
		'created', i.created, 'updated', i.updated, 'skipped', i.skipped, 'failed', i.failed,
		'errors', i.errors, 'created_by', i.created_by, 'created_at', i.created_at,
		'finished_at', i.finished_at));
END
$$;

-- The mapping of each header to a field path (`name`, `custom.key`, `tags`),
-- by the given mapping, else by a field's key or label (an export of ours
-- maps back by itself). A header mapped to "" or null is ignored.
CREATE FUNCTION import_mapping(obj text, headers jsonb, given jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	out jsonb := '{}';
	bad jsonb := '{}';
	h text;
	dest text;
BEGIN
	FOR h IN SELECT jsonb_array_elements_text(headers) LOOP
		IF given IS NOT NULL THEN
			dest := nullif(given->>h, '');
		ELSE
			SELECT CASE WHEN core THEN key ELSE 'custom.' || key END INTO dest FROM fields
			WHERE object = obj AND (lower(key) = lower(btrim(h)) OR label = btrim(h)) AND NOT system
			ORDER BY core DESC LIMIT 1;
			IF dest IS NULL AND lower(btrim(h)) IN ('tags', '标签') THEN
				dest := 'tags';
			END IF;
		END IF;
		CONTINUE WHEN dest IS NULL;
		IF dest <> 'tags' AND NOT EXISTS (SELECT 1 FROM fields WHERE object = obj AND NOT system
			AND CASE WHEN core THEN key ELSE 'custom.' || key END = dest) THEN
			bad := bad || jsonb_build_object('mapping', 'unknown_field: ' || dest);
		END IF;
		out := out || jsonb_build_object(h, dest);
	END LOOP;
	IF given IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_object_keys(given) k
		WHERE NOT headers ? k) THEN
		bad := bad || '{"mapping": "unknown_column"}';
	END IF;
	IF bad <> '{}' THEN
		PERFORM crm_raise('CRM10', 'validation_failed', bad);
	END IF;
	IF out = '{}' THEN
		PERFORM crm_raise('CRM10', 'validation_failed', '{"mapping": "no_column_mapped"}');
	END IF;
	RETURN out;
END
$$;

-- The one record a cell names among ids (at most two looked up): none is the
-- row's error not_found, several ambiguous.
CREATE FUNCTION import_one_of(dest text, ids bigint[]) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF cardinality(ids) <> 1 THEN
		PERFORM crm_raise('CRM10', 'validation_failed', jsonb_build_object(dest,
			CASE WHEN cardinality(ids) = 0 THEN 'not_found' ELSE 'ambiguous' END));
	END IF;
	RETURN to_jsonb(ids[1]);
END
$$;

-- The customer a cell names by its name, as spreadsheets do (an id is taken
-- as an id): the one live customer of that name (compared as duplicates are,
-- without suffix, spaces or punctuation) that the importer may see.
CREATE FUNCTION import_customer_ref(dest text, cell text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT import_one_of(dest, ARRAY(SELECT c.id FROM customers c, (SELECT scope_owners() AS owners) s
		WHERE c.deleted_at IS NULL AND c._name_norm = company_norm(cell)
			AND record_in_scope('customers', to_jsonb(c), s.owners)
		LIMIT 2))
$$;

-- The member a cell names by e-mail, or by name when one member alone has
-- it (an export writes the e-mail of a name that two members share).
CREATE FUNCTION import_member_ref(dest text, cell text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT import_one_of(dest, coalesce(
		(SELECT ARRAY[id] FROM members WHERE email = lower(cell)),
		ARRAY(SELECT id FROM members WHERE name = cell ORDER BY id LIMIT 2)))
$$;

-- A CSV cell as the JSON value its field takes: numbers, booleans (true,
-- 是, 1…), lists split on ; or , members by id, e-mail or name, and
-- customers by id or name. A leading apostrophe that an export put before
-- = + - @ is dropped.
CREATE FUNCTION import_value(obj text, dest text, cell text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	f fields;
	v text := CASE WHEN cell ~ '^''[=+@-]' THEN substr(cell, 2) ELSE cell END;
BEGIN
	IF dest = 'tags' THEN
		RETURN (SELECT coalesce(jsonb_agg(btrim(x)), '[]') FROM regexp_split_to_table(v, '[;,]') x
			WHERE btrim(x) <> '');
	END IF;
	SELECT * INTO f FROM fields WHERE object = obj
		AND CASE WHEN core THEN key ELSE 'custom.' || key END = dest;
	RETURN CASE
		WHEN f.type IN ('number') AND v ~ '^-?[0-9]+(\.[0-9]+)?$' THEN to_jsonb(v::numeric)
		WHEN f.type = 'bool' AND lower(v) IN ('true', '1', 'yes', 'y', '是') THEN 'true'::jsonb
		WHEN f.type = 'bool' AND lower(v) IN ('false', '0', 'no', 'n', '否') THEN 'false'::jsonb
		WHEN f.type = 'multiselect' THEN (SELECT coalesce(jsonb_agg(btrim(x)), '[]')
			FROM regexp_split_to_table(v, '[;,]') x WHERE btrim(x) <> '')
		WHEN f.type IN ('user', 'ref') AND v ~ '^[0-9]{1,18}$' THEN to_jsonb(v::bigint)
		WHEN f.type = 'ref' AND f.target = 'customers' THEN import_customer_ref(dest, v)
		WHEN f.type = 'user' THEN import_member_ref(dest, v)
		ELSE to_jsonb(v) END;
END
$$;

-- The record body of one row under the import's mapping.
CREATE FUNCTION import_body(i imports, cells jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT coalesce(jsonb_object_agg(m.target, m.value) FILTER (WHERE m.target NOT LIKE 'custom.%'), '{}')
		|| jsonb_build_object('custom', coalesce(jsonb_object_agg(substr(m.target, 8), m.value)
			FILTER (WHERE m.target LIKE 'custom.%'), '{}'))
	FROM (SELECT i.mapping->>h.name AS target, import_value(i.object, i.mapping->>h.name, cells->>(h.n - 1)::int) AS value
		FROM jsonb_array_elements_text(i.headers) WITH ORDINALITY h(name, n)
		WHERE i.mapping ? h.name AND coalesce(cells->>(h.n - 1)::int, '') <> '') m);
END
$$;

-- Imports the next rows (at most batch) of an import as the member who
-- started it, each row on its own: a bad row is reported and skipped, the
-- good ones are kept. Returns the import.
CREATE FUNCTION import_run(iid bigint, batch int) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	i imports;
	r import_rows;
	body jsonb;
	existing jsonb;
	state text;
	detail text;
	errs jsonb := '[]';
BEGIN
	SELECT * INTO i FROM imports WHERE id = iid FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM crm_raise('CRM14', 'no such import');
	END IF;
	IF i.status IN ('done', 'failed') THEN
		RETURN import_json(i);
	END IF;
	PERFORM set_config('crm.user_id', i.user_id::text, true), set_config('crm.role', i.role, true);
	FOR r IN SELECT * FROM import_rows WHERE import_id = iid AND n > i.processed_rows
		ORDER BY n LIMIT batch LOOP
		BEGIN
			body := import_body(i, r.cells);
			existing := NULL;
			IF i.object = 'customers' AND i.duplicates <> 'create' THEN
				SELECT to_jsonb(c) INTO existing FROM customers c WHERE c.deleted_at IS NULL
					AND (c._name_norm = company_norm(body->>'name') OR c._phone_norm = phone_norm(body->>'phone'))
				ORDER BY c.id LIMIT 1;
			END IF;
			IF existing IS NOT NULL AND i.duplicates = 'skip' THEN
				i.skipped := i.skipped + 1;
			ELSIF existing IS NOT NULL THEN
				IF i.dry_run THEN
					PERFORM record_validate(i.object, body, false);
				ELSE
					PERFORM record_update(i.object, (existing->>'id')::bigint,
						(existing->>'version')::int, body);
				END IF;
				i.updated := i.updated + 1;
			ELSE
				IF i.dry_run THEN
					PERFORM record_validate(i.object, body, true);
				ELSE
					PERFORM record_create(i.object, body || '{"force": true}');
				END IF;
				i.created := i.created + 1;
			END IF;
		EXCEPTION WHEN SQLSTATE 'CRM10' OR SQLSTATE 'CRM11' OR SQLSTATE 'CRM12' OR SQLSTATE 'CRM13'
			OR SQLSTATE 'CRM14' OR SQLSTATE 'CRM16' OR SQLSTATE 'CRM03' OR data_exception
			OR integrity_constraint_violation THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
			i.failed := i.failed + 1;
			IF jsonb_array_length(i.errors) + jsonb_array_length(errs) < 1000 THEN
				errs := errs || jsonb_build_object('row', r.n, 'line', r.line,
					'code', CASE state WHEN 'CRM10' THEN 'validation_failed' WHEN 'CRM12' THEN 'field_forbidden'
						WHEN 'CRM03' THEN 'forbidden' WHEN 'CRM14' THEN 'not_found' ELSE 'invalid_row' END,
					'fields', CASE WHEN detail LIKE '{%' THEN detail::jsonb END);
			END IF;
		END;
		i.processed_rows := r.n;
	END LOOP;
	UPDATE imports SET processed_rows = i.processed_rows, created = i.created, updated = i.updated,
		skipped = i.skipped, failed = i.failed, errors = errors || errs,
		status = CASE WHEN i.processed_rows >= total_rows THEN 'done' ELSE 'running' END,
		finished_at = CASE WHEN i.processed_rows >= total_rows THEN now() END
	WHERE id = iid RETURNING * INTO i;
	IF i.status = 'done' THEN
		DELETE FROM import_rows WHERE import_id = iid;
	END IF;
	RETURN import_json(i);
END
$$;

-- POST /api/v1/imports: p = {object, dry_run, duplicates, mapping, filename,
-- headers: [...], rows: [{line, cells: [...]}]}. Runs at once when the file
-- has at most sync_rows rows; else answers queued (crm-api enqueues the job).
CREATE FUNCTION import_create(p jsonb, sync_rows int) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	obj text := p->>'object';
	i imports;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM objects WHERE name = obj) THEN
		PERFORM crm_raise('CRM10', 'validation_failed', '{"object": "invalid_option"}');
	END IF;
	PERFORM require_right(obj, 'create');
	IF p->>'duplicates' = 'update' THEN
		PERFORM require_right(obj, 'update');
	END IF;
	INSERT INTO imports (object, dry_run, duplicates, headers, mapping, filename, total_rows,
		user_id, role, created_by, status)
	VALUES (obj, (p->>'dry_run')::bool, p->>'duplicates', p->'headers',
		import_mapping(obj, p->'headers', nullif(p->'mapping', 'null')), p->>'filename',
		jsonb_array_length(p->'rows'), acting_user(), acting_role(), acting_member(), 'queued')
	RETURNING * INTO i;
	INSERT INTO import_rows (import_id, n, line, cells)
	SELECT i.id, x.n, (x.r->>'line')::int, x.r->'cells'
	FROM jsonb_array_elements(p->'rows') WITH ORDINALITY x(r, n);
	IF i.total_rows <= sync_rows THEN
		RETURN import_run(i.id, sync_rows);
	END IF;
	RETURN import_json(i);
END
$$;

-- GET /api/v1/imports/{id}: the caller's own imports (or every import with
-- scope all).
CREATE FUNCTION import_get(iid bigint) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	i imports;
	owners bigint[] := scope_owners();
BEGIN
	SELECT * INTO i FROM imports WHERE id = iid AND (owners IS NULL OR created_by = ANY(owners));
	IF NOT FOUND THEN
		PERFORM crm_raise('CRM14', 'no such import');
	END IF;
	RETURN import_json(i);
END
$$;

-- GET /api/v1/imports: the imports the caller may see (as import_get),
-- newest first, without their bad rows (GET /imports/{id} has them); dry
-- ('true' or 'false', NULL for both) keeps the dry runs or the real imports.
CREATE FUNCTION import_list(lim int, cur text, dry text) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	owners bigint[] := scope_owners();
	after bigint := cursor_of_id(cur);
BEGIN
	IF dry IS NOT NULL AND dry NOT IN ('true', 'false') THEN
		PERFORM crm_raise('CRM15', 'bad dry_run', '{"dry_run": "invalid_value"}');
	END IF;
	RETURN page_answer((SELECT jsonb_agg(x.j ORDER BY x.id DESC)
		FROM (SELECT i.id, import_json(i) - 'errors' AS j FROM imports i
			WHERE (owners IS NULL OR i.created_by = ANY(owners)) AND (after IS NULL OR i.id < after)
				AND (dry IS NULL OR i.dry_run = dry::bool)
			ORDER BY i.id DESC LIMIT lim + 1) x), lim, '{id}');
END
$$;
