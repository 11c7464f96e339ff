-- Sample records for the demo workspace, written through the record engine
-- (so audit, outbox and last_followed_at are as real use leaves them). Runs
-- once: it does nothing when the workspace already has customers.
-- psql variables: tid (tenant id), uid (the demo owner's user id).
\set ON_ERROR_STOP 1
BEGIN;
SELECT set_config('role', 'crm_t_' || :'tid', true), set_config('search_path', 't_' || :'tid', true),
	set_config('crm.tenant_id', :'tid', true), set_config('crm.user_id', :'uid', true),
	set_config('crm.role', 'owner', true);
DO $$
DECLARE
	companies text[] := ARRAY['华为技术有限公司', '深圳市腾飞科技有限公司', '杭州云帆网络科技有限公司',
		'上海宏达贸易有限公司', '北京智远咨询有限公司', '广州恒信物流有限公司', '成都天府软件股份有限公司',
		'苏州精工制造有限公司', '南京博学教育科技有限公司', '武汉光谷医疗器械有限公司',
		'Acme Trading Co., Ltd.', '西安秦川新能源有限公司'];
	people text[] := ARRAY['王伟', '李娜', '张敏', '刘洋', '陈静', '杨磊', '赵丽', '黄强', '周杰', '吴芳', 'Tom Smith', '徐明'];
	industries text[] := ARRAY['通信', '互联网', '软件', '贸易', '咨询', '物流', '软件', '制造', '教育', '医疗', '贸易', '能源'];
	regions text[] := ARRAY['华南', '华南', '华东', '华东', '华北', '华南', '西南', '华东', '华东', '华中', '海外', '西北'];
	activities text[] := ARRAY['call', 'visit', 'meeting', 'email', 'note'];
	subjects text[] := ARRAY['电话沟通需求', '上门拜访', '方案演示会议', '发送产品资料', '记录客户反馈'];
	stages bigint[] := ARRAY(SELECT s.id FROM pipeline_stages s JOIN pipelines p ON p.id = s.pipeline_id
		WHERE p.is_default ORDER BY s.position);
	c jsonb;
	ct jsonb;
	o jsonb;
	tpl jsonb;
BEGIN
	IF EXISTS (SELECT 1 FROM customers) THEN
		RETURN;
	END IF;
	FOR i IN 1 .. array_length(companies, 1) LOOP
		c := record_create('customers', jsonb_build_object('name', companies[i],
			'industry', industries[i], 'region', regions[i], 'level', (ARRAY['A', 'B', 'C'])[1 + i % 3],
			'source', (ARRAY['官网', '展会', '转介绍', '电话营销'])[1 + i % 4],
			'phone', '0755-8' || lpad((1000000 + i * 7919)::text, 7, '0'),
			'email', 'contact' || i || '@example.com',
			'tags', CASE WHEN i % 3 = 0 THEN '["重点客户"]'::jsonb ELSE '[]' END, 'force', true));
		ct := record_create('contacts', jsonb_build_object('name', people[i], 'title', '采购经理',
			'mobile', '138' || lpad((i * 104729)::text, 8, '0'), 'customer_id', (c->>'id')::bigint,
			'is_primary', true));
		o := record_create('opportunities', jsonb_build_object('name', companies[i] || ' 年度采购',
			'customer_id', (c->>'id')::bigint, 'contact_id', (ct->>'id')::bigint,
			'amount', (i * 37500)::text, 'stage_id', stages[1 + i % array_length(stages, 1)],
			'expected_close_date', (current_date + i * 9)::text));
		PERFORM record_create('activities', jsonb_build_object('kind', activities[1 + i % 5],
			'subject', subjects[1 + i % 5], 'body', '客户对方案感兴趣，下周跟进报价。',
			'customer_id', (c->>'id')::bigint, 'contact_id', (ct->>'id')::bigint,
			'occurred_at', to_char(now() - make_interval(days => i), 'YYYY-MM-DD"T"HH24:MI:SSOF')));
		PERFORM record_create('tasks', jsonb_build_object('subject', '跟进报价：' || companies[i],
			'due_at', to_char(now() + make_interval(days => i - 4), 'YYYY-MM-DD"T"HH24:MI:SSOF'),
			'customer_id', (c->>'id')::bigint, 'opportunity_id', (o->>'id')::bigint));
	END LOOP;
	FOR i IN 1 .. 6 LOOP
		PERFORM record_create('leads', jsonb_build_object('name', (ARRAY['孙浩', '郑爽', '冯涛', '何静', '曹阳', '许诺'])[i],
			'company', (ARRAY['宁波海联电子有限公司', '青岛蓝海食品有限公司', '长沙星城传媒有限公司',
				'厦门鹭岛旅游有限公司', '合肥科大讯飞合作伙伴', '天津港航服务有限公司'])[i],
			'phone', '139' || lpad((i * 7331)::text, 8, '0'), 'source', '官网',
			'status', (ARRAY['new', 'working', 'nurturing', 'new', 'qualified', 'working'])[i]));
	END LOOP;
	-- a nurture sequence for new leads, its first e-mail from a template
	tpl := email_template_save(NULL, jsonb_build_object('name', '新线索欢迎信',
		'subject', '{{name}}，感谢您关注我们',
		'body', E'{{name}}您好：\n\n感谢您留下联系方式。我们的顾问会在一个工作日内与您联系，为贵公司介绍合适的方案。'));
	PERFORM sequence_save(NULL, jsonb_build_object('name', '新线索培育', 'steps', jsonb_build_array(
		jsonb_build_object('day', 0, 'template', (tpl->>'id')::bigint),
		jsonb_build_object('day', 3, 'subject', '{{name}}，看看同行怎么做',
			'body', E'{{name}}您好：\n\n附上三家同行客户的案例，欢迎回复预约一次演示。'))));
END
$$;
COMMIT;
