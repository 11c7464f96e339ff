-- The CRM records: customers, contacts, leads, opportunities, activities,
-- tasks; the catalog that describes them (objects, fields, field rules) and
-- the tags. The functions that read and write them are in 004_record_engine.

-- Text normalizations (duplicates and search) --------------------------------

-- Digits of a phone number without the +86 / 0086 country prefix; NULL when
-- there are none.
CREATE FUNCTION phone_norm(p text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT nullif(CASE
		WHEN d LIKE '0086%' THEN substr(d, 5)
		WHEN p ~ '^\s*\+\s*86' OR (length(d) = 13 AND d LIKE '861%') THEN substr(d, 3)
		ELSE d END, '')
	FROM (SELECT regexp_replace(p, '\D', '', 'g') AS d) x);
END
$$;

-- A company name reduced to what identifies it: NFKC (full-width to
-- half-width), lower case, no legal-form suffix (有限公司, Co., Ltd. …; a
-- Latin one only as a word of its own, so Costco keeps its "co"), then no
-- spaces or punctuation.
CREATE FUNCTION company_norm(n text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
	RETURN nullif(regexp_replace(regexp_replace(regexp_replace(lower(normalize(n, NFKC)),
		'([[:space:][:punct:]]+(co|inc|ltd|llc|corp|corporation|company|limited|gmbh|plc)[[:punct:]]*)+[[:space:]]*$', ''),
		'[[:space:][:punct:]·、，。（）《》“”‘’　]', '', 'g'),
		'(股份有限公司|有限责任公司|有限公司|集团公司|公司)+$', ''), '');
END
$$;

-- s without leading and trailing white space, the ideographic space
-- (U+3000) of Chinese input included.
CREATE FUNCTION trim_space(s text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
	RETURN regexp_replace(s, '^[[:space:]　]+|[[:space:]　]+$', '', 'g');
END
$$;

-- The text a list's `q` searches: fields joined by newlines, lower case.
CREATE FUNCTION search_text(VARIADIC parts text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT lower(normalize(array_to_string(parts, E'\n'), NFKC)));
END
$$;

-- Every 2- and 3-character piece of s that does not cross a newline: a GIN
-- index over them finds any substring of two or more characters, Chinese
-- included (pg_trgm needs three and pads words, which misses 华为 in
-- 华为技术有限公司).
CREATE FUNCTION search_grams(s text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT coalesce(array_agg(DISTINCT g), '{}')
	FROM generate_series(1, coalesce(length(s), 0)) i, (VALUES (2), (3)) n(n),
		LATERAL substr(s, i, n.n) g
	WHERE length(g) = n.n AND strpos(g, E'\n') = 0);
END
$$;

-- The pieces a query must all have: itself when two characters long, else
-- its 3-character pieces.
CREATE FUNCTION search_query_grams(q text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
#variable_conflict use_column
BEGIN
	RETURN (SELECT CASE WHEN length(q) = 2 THEN ARRAY[q]
		ELSE (SELECT coalesce(array_agg(DISTINCT g) FILTER (WHERE length(g) = 3), '{}')
			FROM generate_series(1, length(q) - 2) i, LATERAL substr(q, i, 3) g) END);
END
$$;

-- Records --------------------------------------------------------------------
-- Each table holds its own fields here; the bookkeeping columns every record
-- has (tags, custom, version, created/updated/deleted) and the indexes every
-- list needs are added to all of them below, from the `objects` catalog.
-- Columns starting with `_` are internal: never shown, never writable.

CREATE TABLE customers (
	id bigserial PRIMARY KEY,
	name text NOT NULL,
	kind text NOT NULL DEFAULT 'company' CHECK (kind IN ('company', 'person')),
	industry text,
	source text,
	level text,
	region text,
	phone text,
	email text,
	website text,
	address text,
	owner_id bigint REFERENCES members (id),
	in_pool bool NOT NULL DEFAULT false,
	last_followed_at timestamptz,
	_name_norm text GENERATED ALWAYS AS (company_norm(name)) STORED,
	_phone_norm text GENERATED ALWAYS AS (phone_norm(phone)) STORED,
	_search text GENERATED ALWAYS AS (search_text(name, phone_norm(phone), email)) STORED,
	_grams text[] GENERATED ALWAYS AS (search_grams(search_text(name, phone_norm(phone), email))) STORED
);

CREATE TABLE contacts (
	id bigserial PRIMARY KEY,
	customer_id bigint REFERENCES customers (id),
	name text NOT NULL,
	title text,
	phone text,
	mobile text,
	email text,
	wechat text,
	birthday date,
	is_primary bool NOT NULL DEFAULT false,
	owner_id bigint REFERENCES members (id),
	_search text GENERATED ALWAYS AS (search_text(name, phone_norm(phone), phone_norm(mobile), email, wechat)) STORED,
	_grams text[] GENERATED ALWAYS AS (search_grams(search_text(name, phone_norm(phone), phone_norm(mobile), email, wechat))) STORED
);

CREATE TABLE leads (
	id bigserial PRIMARY KEY,
	name text NOT NULL,
	company text,
	title text,
	phone text,
	email text,
	source text,
	channel text,
	region text,
	industry text,
	status text NOT NULL DEFAULT 'new' CHECK (status IN
		('new', 'working', 'nurturing', 'qualified', 'converted', 'disqualified')),
	score int NOT NULL DEFAULT 0,
	owner_id bigint REFERENCES members (id),
	converted_at timestamptz,
	converted_customer_id bigint REFERENCES customers (id),
	converted_contact_id bigint REFERENCES contacts (id),
	converted_opportunity_id bigint,
	_search text GENERATED ALWAYS AS (search_text(name, company, phone_norm(phone), email)) STORED,
	_grams text[] GENERATED ALWAYS AS (search_grams(search_text(name, company, phone_norm(phone), email))) STORED
);

CREATE TABLE opportunities (
	id bigserial PRIMARY KEY,
	name text NOT NULL,
	customer_id bigint NOT NULL REFERENCES customers (id),
	contact_id bigint REFERENCES contacts (id),
	pipeline_id bigint NOT NULL REFERENCES pipelines (id),
	stage_id bigint NOT NULL REFERENCES pipeline_stages (id),
	amount numeric(17, 2),
	currency text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
	expected_close_date date,
	probability int CHECK (probability BETWEEN 0 AND 100),
	status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'won', 'lost')),
	lost_reason text,
	closed_at timestamptz,
	owner_id bigint REFERENCES members (id),
	_search text GENERATED ALWAYS AS (search_text(name)) STORED,
	_grams text[] GENERATED ALWAYS AS (search_grams(search_text(name))) STORED
);
ALTER TABLE leads ADD FOREIGN KEY (converted_opportunity_id) REFERENCES opportunities (id);

CREATE TABLE activities (
	id bigserial PRIMARY KEY,
	kind text NOT NULL CHECK (kind IN ('call', 'meeting', 'visit', 'email', 'note')),
	subject text NOT NULL,
	body text,
	occurred_at timestamptz NOT NULL DEFAULT now(),
	customer_id bigint REFERENCES customers (id),
	contact_id bigint REFERENCES contacts (id),
	lead_id bigint REFERENCES leads (id),
	opportunity_id bigint REFERENCES opportunities (id),
	owner_id bigint REFERENCES members (id),
	_search text GENERATED ALWAYS AS (search_text(subject)) STORED,
	_grams text[] GENERATED ALWAYS AS (search_grams(search_text(subject))) STORED
);

CREATE TABLE tasks (
	id bigserial PRIMARY KEY,
	subject text NOT NULL,
	body text,
	due_at timestamptz,
	status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
	priority text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high')),
	completed_at timestamptz,
	assignee_id bigint REFERENCES members (id),
	customer_id bigint REFERENCES customers (id),
	contact_id bigint REFERENCES contacts (id),
	lead_id bigint REFERENCES leads (id),
	opportunity_id bigint REFERENCES opportunities (id),
	_search text GENERATED ALWAYS AS (search_text(subject)) STORED,
	_grams text[] GENERATED ALWAYS AS (search_grams(search_text(subject))) STORED
);

-- The catalog of objects --------------------------------------------------------

-- The record objects: their table, the column that says whose a record is
-- (scope), the column that names a record, the event name, and the columns
-- `q` searches (the _search column of each table joins the same ones).
CREATE TABLE objects (
	name text PRIMARY KEY,
	singular text NOT NULL,
	owner_column text NOT NULL,
	title_column text NOT NULL,
	search_columns text[] NOT NULL,	-- what `q` searches, as in _search
	position int NOT NULL
);
INSERT INTO objects VALUES
	('customers', 'customer', 'owner_id', 'name', '{name,phone,email}', 1),
	('contacts', 'contact', 'owner_id', 'name', '{name,phone,mobile,email,wechat}', 2),
	('leads', 'lead', 'owner_id', 'name', '{name,company,phone,email}', 3),
	('opportunities', 'opportunity', 'owner_id', 'name', '{name}', 4),
	('activities', 'activity', 'owner_id', 'subject', '{subject}', 5),
	('tasks', 'task', 'assignee_id', 'subject', '{subject}', 6);

-- What every record table has: the bookkeeping columns, and the indexes of
-- its lists (newest first, per owner, search) and of its recycle bin.
DO $$
DECLARE
	o objects;
BEGIN
	FOR o IN SELECT * FROM objects LOOP
		EXECUTE format('ALTER TABLE %I '
			'ADD COLUMN tags text[] NOT NULL DEFAULT ''{}'', '
			'ADD COLUMN custom jsonb NOT NULL DEFAULT ''{}'', '
			'ADD COLUMN version int NOT NULL DEFAULT 1, '
			'ADD COLUMN created_by bigint REFERENCES members (id), '
			'ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(), '
			'ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(), '
			'ADD COLUMN deleted_at timestamptz, '
			'ADD COLUMN deleted_by bigint REFERENCES members (id)', o.name);
		EXECUTE format('CREATE INDEX %I ON %I (updated_at DESC, id DESC) WHERE deleted_at IS NULL',
			o.name || '_updated', o.name);
		EXECUTE format('CREATE INDEX %I ON %I (%I, updated_at DESC, id DESC) WHERE deleted_at IS NULL',
			o.name || '_owner', o.name, o.owner_column);
		EXECUTE format('CREATE INDEX %I ON %I USING gin (_grams) WHERE deleted_at IS NULL',
			o.name || '_grams', o.name);
		-- Rare pieces of text must be known as rare, or the planner walks
		-- the newest-first index for a search that matches a handful of
		-- rows (12 s on a million customers with the default 100).
		EXECUTE format('ALTER TABLE %I ALTER COLUMN _grams SET STATISTICS 1000', o.name);
		EXECUTE format('CREATE INDEX %I ON %I (deleted_at) WHERE deleted_at IS NOT NULL',
			o.name || '_deleted', o.name);
	END LOOP;
END
$$;

-- The indexes of duplicates and of the links to a customer.
CREATE INDEX customers_name_norm ON customers (_name_norm) WHERE deleted_at IS NULL;
CREATE INDEX customers_name_trgm ON customers USING gin (_name_norm ext.gin_trgm_ops) WHERE deleted_at IS NULL;
CREATE INDEX customers_phone_norm ON customers (_phone_norm) WHERE deleted_at IS NULL;

CREATE INDEX contacts_customer ON contacts (customer_id);

CREATE INDEX opportunities_customer ON opportunities (customer_id);
CREATE INDEX opportunities_stage ON opportunities (stage_id);

CREATE INDEX activities_customer ON activities (customer_id, occurred_at DESC);
CREATE INDEX activities_contact ON activities (contact_id);
CREATE INDEX activities_lead ON activities (lead_id);
CREATE INDEX activities_opportunity ON activities (opportunity_id);

CREATE INDEX tasks_customer ON tasks (customer_id, due_at);
CREATE INDEX tasks_lead ON tasks (lead_id);
CREATE INDEX tasks_opportunity ON tasks (opportunity_id);
CREATE INDEX tasks_due ON tasks (assignee_id, due_at) WHERE status = 'open' AND deleted_at IS NULL;

-- The tenant's tag catalog; records carry tag names in `tags`.
CREATE TABLE tags (
	id bigserial PRIMARY KEY,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
	color text CHECK (color ~ '^#[0-9a-fA-F]{6}$'),
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tags_name_key ON tags (name);

-- Fields ----------------------------------------------------------------------


-- Field definitions, core and custom, one per (object, key). Core fields are
-- columns; custom values live in the record's `custom` object. `system`
-- fields are shown but written only by the engine. `target` names the object
-- a `ref` field points at. `rules` holds limits: max_length, min, max,
-- integer.
CREATE TABLE fields (
	object text NOT NULL REFERENCES objects (name),
	key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,39}$'),
	label text NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
	type text NOT NULL CHECK (type IN ('text', 'textarea', 'number', 'money', 'date',
		'datetime', 'bool', 'select', 'multiselect', 'user', 'phone', 'email', 'url', 'ref')),
	core bool NOT NULL DEFAULT false,
	system bool NOT NULL DEFAULT false,
	required bool NOT NULL DEFAULT false,
	is_unique bool NOT NULL DEFAULT false,
	options jsonb CHECK (options IS NULL OR jsonb_typeof(options) = 'array'),
	default_value jsonb,
	target text REFERENCES objects (name),
	rules jsonb NOT NULL DEFAULT '{}',
	position int NOT NULL DEFAULT 0,
	section text NOT NULL DEFAULT 'main' CHECK (length(section) BETWEEN 1 AND 50),
	version int NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (object, key),
	CHECK (core OR type <> 'ref')
);

-- Field-level security: per role, a field hidden or read-only.
CREATE TABLE field_rules (
	role text NOT NULL REFERENCES roles (key) ON UPDATE CASCADE ON DELETE CASCADE,
	object text NOT NULL,
	field text NOT NULL,
	access text NOT NULL CHECK (access IN ('hidden', 'read_only')),
	PRIMARY KEY (role, object, field),
	FOREIGN KEY (object, field) REFERENCES fields (object, key) ON DELETE CASCADE
);

INSERT INTO fields (object, key, label, type, core, system, required, options, target, rules, position, section)
SELECT f.object, f.key, f.label, f.type, true, coalesce(f.system, false), coalesce(f.required, false),
	f.options::jsonb, f.target, coalesce(f.rules::jsonb, '{}'), f.position, f.section
FROM (VALUES
	('customers', 'name', '客户名称', 'text', NULL::bool, true, NULL, NULL, '{"max_length":200}', 1, 'main'),
	('customers', 'kind', '客户类型', 'select', NULL, NULL, '["company","person"]', NULL, NULL, 2, 'main'),
	('customers', 'level', '客户级别', 'text', NULL, NULL, NULL, NULL, '{"max_length":50}', 3, 'main'),
	('customers', 'industry', '行业', 'text', NULL, NULL, NULL, NULL, '{"max_length":100}', 4, 'main'),
	('customers', 'source', '来源', 'text', NULL, NULL, NULL, NULL, '{"max_length":100}', 5, 'main'),
	('customers', 'region', '地区', 'text', NULL, NULL, NULL, NULL, '{"max_length":100}', 6, 'main'),
	('customers', 'phone', '电话', 'phone', NULL, NULL, NULL, NULL, NULL, 7, 'contact'),
	('customers', 'email', '邮箱', 'email', NULL, NULL, NULL, NULL, NULL, 8, 'contact'),
	('customers', 'website', '网站', 'url', NULL, NULL, NULL, NULL, NULL, 9, 'contact'),
	('customers', 'address', '地址', 'text', NULL, NULL, NULL, NULL, NULL, 10, 'contact'),
	('customers', 'owner_id', '负责人', 'user', NULL, NULL, NULL, NULL, NULL, 11, 'system'),
	('customers', 'in_pool', '在公海', 'bool', true, NULL, NULL, NULL, NULL, 12, 'system'),
	('customers', 'last_followed_at', '最近跟进', 'datetime', true, NULL, NULL, NULL, NULL, 13, 'system'),

	('contacts', 'name', '姓名', 'text', NULL, true, NULL, NULL, '{"max_length":100}', 1, 'main'),
	('contacts', 'customer_id', '客户', 'ref', NULL, NULL, NULL, 'customers', NULL, 2, 'main'),
	('contacts', 'title', '职务', 'text', NULL, NULL, NULL, NULL, '{"max_length":100}', 3, 'main'),
	('contacts', 'is_primary', '主要联系人', 'bool', NULL, NULL, NULL, NULL, NULL, 4, 'main'),
	('contacts', 'phone', '电话', 'phone', NULL, NULL, NULL, NULL, NULL, 5, 'contact'),
	('contacts', 'mobile', '手机', 'phone', NULL, NULL, NULL, NULL, NULL, 6, 'contact'),
	('contacts', 'email', '邮箱', 'email', NULL, NULL, NULL, NULL, NULL, 7, 'contact'),
	('contacts', 'wechat', '微信', 'text', NULL, NULL, NULL, NULL, '{"max_length":100}', 8, 'contact'),
	('contacts', 'birthday', '生日', 'date', NULL, NULL, NULL, NULL, NULL, 9, 'contact'),
	('contacts', 'owner_id', '负责人', 'user', NULL, NULL, NULL, NULL, NULL, 10, 'system'),

	('leads', 'name', '姓名', 'text', NULL, true, NULL, NULL, '{"max_length":100}', 1, 'main'),
	('leads', 'company', '公司', 'text', NULL, NULL, NULL, NULL, '{"max_length":200}', 2, 'main'),
	('leads', 'title', '职务', 'text', NULL, NULL, NULL, NULL, '{"max_length":100}', 3, 'main'),
	('leads', 'phone', '电话', 'phone', NULL, NULL, NULL, NULL, NULL, 4, 'main'),
	('leads', 'email', '邮箱', 'email', NULL, NULL, NULL, NULL, NULL, 5, 'main'),
	('leads', 'source', '来源', 'text', NULL, NULL, NULL, NULL, '{"max_length":100}', 6, 'main'),
	('leads', 'channel', '渠道', 'text', NULL, NULL, NULL, NULL, '{"max_length":100}', 7, 'main'),
	('leads', 'region', '地区', 'text', NULL, NULL, NULL, NULL, '{"max_length":100}', 8, 'main'),
	('leads', 'industry', '行业', 'text', NULL, NULL, NULL, NULL, '{"max_length":100}', 9, 'main'),
	('leads', 'status', '状态', 'select', NULL, NULL, '["new","working","nurturing","qualified","disqualified"]', NULL, NULL, 10, 'main'),
	('leads', 'score', '评分', 'number', NULL, NULL, NULL, NULL, '{"integer":true,"min":-100000,"max":100000}', 11, 'main'),
	('leads', 'owner_id', '负责人', 'user', NULL, NULL, NULL, NULL, NULL, 12, 'system'),
	('leads', 'converted_at', '转化时间', 'datetime', true, NULL, NULL, NULL, NULL, 13, 'system'),
	('leads', 'converted_customer_id', '转化客户', 'ref', true, NULL, NULL, 'customers', NULL, 14, 'system'),

	('opportunities', 'name', '商机名称', 'text', NULL, true, NULL, NULL, '{"max_length":200}', 1, 'main'),
	('opportunities', 'customer_id', '客户', 'ref', NULL, true, NULL, 'customers', NULL, 2, 'main'),
	('opportunities', 'contact_id', '联系人', 'ref', NULL, NULL, NULL, 'contacts', NULL, 3, 'main'),
	('opportunities', 'pipeline_id', '销售流程', 'number', NULL, NULL, NULL, NULL, '{"integer":true,"min":1}', 4, 'main'),
	('opportunities', 'stage_id', '阶段', 'number', NULL, NULL, NULL, NULL, '{"integer":true,"min":1}', 5, 'main'),
	('opportunities', 'amount', '金额', 'money', NULL, NULL, NULL, NULL, NULL, 6, 'main'),
	('opportunities', 'currency', '币种', 'text', NULL, NULL, NULL, NULL, '{"pattern":"^[A-Z]{3}$"}', 7, 'main'),
	('opportunities', 'expected_close_date', '预计成交日期', 'date', NULL, NULL, NULL, NULL, NULL, 8, 'main'),
	('opportunities', 'probability', '赢率', 'number', NULL, NULL, NULL, NULL, '{"integer":true,"min":0,"max":100}', 9, 'main'),
	('opportunities', 'status', '状态', 'select', true, NULL, '["open","won","lost"]', NULL, NULL, 10, 'main'),
	('opportunities', 'lost_reason', '输单原因', 'text', NULL, NULL, NULL, NULL, '{"max_length":500}', 11, 'main'),
	('opportunities', 'closed_at', '关闭时间', 'datetime', true, NULL, NULL, NULL, NULL, 12, 'system'),
	('opportunities', 'owner_id', '负责人', 'user', NULL, NULL, NULL, NULL, NULL, 13, 'system'),

	('activities', 'kind', '类型', 'select', NULL, true, '["call","meeting","visit","email","note"]', NULL, NULL, 1, 'main'),
	('activities', 'subject', '主题', 'text', NULL, true, NULL, NULL, '{"max_length":200}', 2, 'main'),
	('activities', 'body', '内容', 'textarea', NULL, NULL, NULL, NULL, NULL, 3, 'main'),
	('activities', 'occurred_at', '时间', 'datetime', NULL, NULL, NULL, NULL, NULL, 4, 'main'),
	('activities', 'customer_id', '客户', 'ref', NULL, NULL, NULL, 'customers', NULL, 5, 'links'),
	('activities', 'contact_id', '联系人', 'ref', NULL, NULL, NULL, 'contacts', NULL, 6, 'links'),
	('activities', 'lead_id', '线索', 'ref', NULL, NULL, NULL, 'leads', NULL, 7, 'links'),
	('activities', 'opportunity_id', '商机', 'ref', NULL, NULL, NULL, 'opportunities', NULL, 8, 'links'),
	('activities', 'owner_id', '负责人', 'user', NULL, NULL, NULL, NULL, NULL, 9, 'system'),

	('tasks', 'subject', '主题', 'text', NULL, true, NULL, NULL, '{"max_length":200}', 1, 'main'),
	('tasks', 'body', '说明', 'textarea', NULL, NULL, NULL, NULL, NULL, 2, 'main'),
	('tasks', 'due_at', '截止时间', 'datetime', NULL, NULL, NULL, NULL, NULL, 3, 'main'),
	('tasks', 'status', '状态', 'select', NULL, NULL, '["open","done","cancelled"]', NULL, NULL, 4, 'main'),
	('tasks', 'priority', '优先级', 'select', NULL, NULL, '["low","normal","high"]', NULL, NULL, 5, 'main'),
	('tasks', 'completed_at', '完成时间', 'datetime', true, NULL, NULL, NULL, NULL, 6, 'system'),
	('tasks', 'assignee_id', '执行人', 'user', NULL, NULL, NULL, NULL, NULL, 7, 'main'),
	('tasks', 'customer_id', '客户', 'ref', NULL, NULL, NULL, 'customers', NULL, 8, 'links'),
	('tasks', 'contact_id', '联系人', 'ref', NULL, NULL, NULL, 'contacts', NULL, 9, 'links'),
	('tasks', 'lead_id', '线索', 'ref', NULL, NULL, NULL, 'leads', NULL, 10, 'links'),
	('tasks', 'opportunity_id', '商机', 'ref', NULL, NULL, NULL, 'opportunities', NULL, 11, 'links')
) AS f(object, key, label, type, system, required, options, target, rules, position, section);

-- Object rights ---------------------------------------------------------------

-- Expands {"*": [actions], "<object>": [actions]} into permission keys
-- "<object>.<action>" (a template's compact form of a role's rights).
CREATE FUNCTION rights_expand(rights jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_agg(DISTINCT o.name || '.' || a.action), '[]')
	FROM jsonb_each(coalesce(rights, '{}')) r(k, actions)
	JOIN objects o ON r.k IN ('*', o.name),
	LATERAL jsonb_array_elements_text(r.actions) a(action)
	WHERE a.action IN ('read', 'create', 'update', 'delete', 'export')
$$;

-- Existing workspaces' default roles get the rights new ones start with
-- (tenants/templates/default.json).
UPDATE roles r SET permissions = r.permissions || rights_expand(d.rights)
FROM (VALUES
	('owner', '{"*":["read","create","update","delete","export"]}'::jsonb),
	('admin', '{"*":["read","create","update","delete","export"]}'),
	('manager', '{"*":["read","create","update","delete","export"]}'),
	('sales', '{"*":["read","create","update"],"activities":["delete"],"tasks":["delete"]}'),
	('service', '{"*":["read"],"contacts":["create","update"],"activities":["create","update"],"tasks":["create","update","delete"]}'),
	('read-only', '{"*":["read"]}')
) AS d(key, rights)
WHERE r.key = d.key;
