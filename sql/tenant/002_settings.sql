-- Workspace settings: one row per key, JSON values, with the defaults every
-- new tenant starts from (the automation work reads pool and follow-up days).

CREATE TABLE settings (
	key text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]{0,63}$'),
	value jsonb NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	updated_by bigint
);

INSERT INTO settings (key, value) VALUES
	('currency', '"CNY"'),
	('timezone', '"Asia/Shanghai"'),
	('locale', '"zh-CN"'),
	('public_pool.days_without_follow_up', '30');
