-- The customer as one record: its 360° summary and timeline, duplicates
-- (refused on create, found by similarity, merged), and leads converted
-- into customers.

-- The summary GET /api/v1/customers/{id} carries. Related records show
-- through the customer (whoever sees a customer sees its contacts and
-- history, whoever owns them), but only those of objects the role may read.
CREATE FUNCTION customer_summary(cid bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT jsonb_build_object(
		'owner', (SELECT jsonb_build_object('id', m.id, 'name', m.name)
			FROM customers c JOIN members m ON m.id = c.owner_id WHERE c.id = cid),
		'primary_contact', (SELECT record_out('contacts', to_jsonb(x), hidden_fields('contacts'))
			FROM contacts x WHERE x.customer_id = cid AND x.deleted_at IS NULL
				AND has_permission('contacts.read')
			ORDER BY x.is_primary DESC, x.id LIMIT 1),
		'open_opportunities', (SELECT jsonb_build_object('count', count(*),
				'amount', CASE WHEN NOT 'amount' = ANY(hidden_fields('opportunities'))
					THEN coalesce(sum(amount), 0)::numeric(17, 2)::text END)
			FROM opportunities WHERE customer_id = cid AND status = 'open' AND deleted_at IS NULL
				AND has_permission('opportunities.read')),
		'last_activity', (SELECT record_out('activities', to_jsonb(x), hidden_fields('activities'))
			FROM activities x WHERE x.customer_id = cid AND x.deleted_at IS NULL
				AND has_permission('activities.read')
			ORDER BY x.occurred_at DESC, x.id DESC LIMIT 1),
		'next_task', (SELECT record_out('tasks', to_jsonb(x), hidden_fields('tasks'))
			FROM tasks x WHERE x.customer_id = cid AND x.status = 'open' AND x.deleted_at IS NULL
				AND has_permission('tasks.read')
			ORDER BY x.due_at NULLS LAST, x.id LIMIT 1)));
END
$$;

-- Raises CRM13 naming a live customer whose normalized name or phone equals
-- the new one's.
CREATE FUNCTION customer_refuse_duplicate(r jsonb) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
	existing bigint;
BEGIN
	SELECT id INTO existing FROM customers
	WHERE deleted_at IS NULL AND (_name_norm = company_norm(r->>'name')
		OR _phone_norm = phone_norm(r->>'phone'))
	ORDER BY id LIMIT 1;
	IF existing IS NOT NULL THEN
		PERFORM crm_raise('CRM13', 'duplicate', jsonb_build_object('existing_id', existing));
	END IF;
END
$$;

-- GET /api/v1/customers/duplicates?name=&phone=: live customers the caller
-- sees whose name is similar (pg_trgm over normalized names) or whose phone
-- is the same, most similar first.
CREATE FUNCTION customer_duplicates(name text, phone text, lim int) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
	-- a field hidden from the role is not compared: that would confirm its value
	RETURN (WITH h AS (SELECT hidden_fields('customers') AS hidden),
	q AS (SELECT CASE WHEN NOT 'name' = ANY(h.hidden) THEN company_norm(name) END AS n,
		CASE WHEN NOT 'phone' = ANY(h.hidden) THEN phone_norm(phone) END AS p,
		scope_owners() AS owners, h.hidden FROM h),
	found AS (
		SELECT c, greatest(CASE WHEN c._phone_norm = q.p THEN 1.0 ELSE 0 END,
			coalesce(ext.similarity(c._name_norm, q.n), 0)) AS score
		FROM customers c, q
		WHERE c.deleted_at IS NULL
			AND (q.owners IS NULL OR c.owner_id = ANY(q.owners))
			AND (c._name_norm OPERATOR(ext.%) q.n OR c._phone_norm = q.p))
	SELECT jsonb_build_object('data', coalesce(jsonb_agg(
		record_out('customers', to_jsonb(f.c), q.hidden) || jsonb_build_object('similarity', round(f.score::numeric, 2))
		ORDER BY f.score DESC, (f.c).id), '[]'))
	FROM (SELECT * FROM found ORDER BY score DESC, (c).id LIMIT lim) f, q);
END
$$;

-- GET /api/v1/customers/{id}/timeline: activities, tasks, opportunities and
-- the customer's field changes, newest first, of the objects the role may
-- read (as in the summary); the cursor is the last item's [at, type, id].
CREATE FUNCTION customer_timeline(cid bigint, lim int, cur text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	c jsonb;
	page jsonb;
BEGIN
	PERFORM record_visible('customers', cid);
	c := cursor_of_time(cur);
	WITH items AS (
		SELECT 'activity' AS type, x.occurred_at AS at, x.id,
			record_out('activities', to_jsonb(x), hidden_fields('activities')) AS record
		FROM activities x WHERE x.customer_id = cid AND x.deleted_at IS NULL
			AND has_permission('activities.read')
		UNION ALL
		SELECT 'task', x.created_at, x.id, record_out('tasks', to_jsonb(x), hidden_fields('tasks'))
		FROM tasks x WHERE x.customer_id = cid AND x.deleted_at IS NULL
			AND has_permission('tasks.read')
		UNION ALL
		SELECT 'opportunity', x.created_at, x.id,
			record_out('opportunities', to_jsonb(x), hidden_fields('opportunities'))
		FROM opportunities x WHERE x.customer_id = cid AND x.deleted_at IS NULL
			AND has_permission('opportunities.read')
		UNION ALL
		SELECT 'change', a.at, a.id, history_entry(a, hidden_fields('customers'))
		FROM audit_log a WHERE a.object = 'customers' AND a.record_id = cid
			AND (a.field IS NULL OR NOT a.field = ANY(hidden_fields('customers')))),
	shown AS (
		SELECT * FROM items
		WHERE c IS NULL OR (at, type, id) < ((c->>0)::timestamptz, c->>1, (c->>2)::bigint)
		ORDER BY at DESC, type DESC, id DESC LIMIT lim + 1)
	SELECT jsonb_agg(jsonb_build_object('type', type, 'at', at, 'id', id, 'record', record)
		ORDER BY at DESC, type DESC, id DESC) INTO page FROM shown;
	RETURN page_answer(page, lim, '{at,type,id}');
END
$$;

-- POST /api/v1/customers/{id}/merge {"from_id"}: moves every related record
-- and the tags of from_id onto id, puts from_id in the recycle bin, audits
-- the merge on both. Both must be visible and live.
CREATE FUNCTION customer_merge(into_id bigint, body jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	from_id bigint := json_id(body->'from_id');
	from_row jsonb;
	moved jsonb := '{}';
	primary_id bigint;
	t text;
BEGIN
	PERFORM require_right('customers', 'delete');
	IF from_id IS NULL OR into_id = from_id THEN
		PERFORM crm_raise('CRM10', 'validation_failed', '{"from_id": "invalid_value"}');
	END IF;
	PERFORM record_visible('customers', into_id, false, true);
	from_row := record_visible('customers', from_id, false, true);
	primary_id := (SELECT id FROM contacts WHERE customer_id = into_id AND is_primary
		AND deleted_at IS NULL ORDER BY id LIMIT 1);
	FOREACH t IN ARRAY ARRAY['contacts', 'opportunities', 'activities', 'tasks'] LOOP
		moved := moved || jsonb_build_object(t, record_reassign(t, 'customer_id', from_id, into_id, 'merge'));
	END LOOP;
	-- one primary contact: the target's, when it had one
	UPDATE contacts SET is_primary = false, version = version + 1, updated_at = now()
	WHERE customer_id = into_id AND is_primary AND id <> primary_id;
	UPDATE leads SET converted_customer_id = into_id WHERE converted_customer_id = from_id;
	UPDATE customers SET tags = ARRAY(SELECT DISTINCT x FROM unnest(tags ||
			ARRAY(SELECT jsonb_array_elements_text(from_row->'tags'))) x ORDER BY x),
		last_followed_at = greatest(last_followed_at, (from_row->>'last_followed_at')::timestamptz),
		version = version + 1, updated_at = now()
	WHERE id = into_id;
	INSERT INTO audit_log (actor_user_id, object, record_id, action, field, new_value)
	VALUES (acting_user(), 'customers', into_id, 'merge', NULL,
			jsonb_build_object('from_id', from_id, 'moved', moved)),
		(acting_user(), 'customers', from_id, 'merge', NULL,
			jsonb_build_object('into_id', into_id));
	UPDATE customers SET deleted_at = now(), deleted_by = acting_member(),
		version = version + 1, updated_at = now() WHERE id = from_id;
	INSERT INTO outbox (event, object, record_id, payload)
	VALUES ('customer.merged', 'customers', into_id,
		jsonb_build_object('id', into_id, 'from_id', from_id, 'moved', moved));
	RETURN jsonb_build_object('customer', record_get('customers', into_id), 'moved', moved);
END
$$;
