#!/usr/bin/env bash
# scripts/gen-data.sh — bulk data for a running stack (made for scripts/bench.sh).
#
#   scripts/gen-data.sh <profile> [--tenants N] [--customers N] [--activities N]
#                       [--jobs N] [--allow-dev] [--print-mark]
#
# The stack of <profile> must be up (scripts/stack.sh start <profile>). Makes:
#   * N tenants in all (default 1000), real ones: a public.tenants row, an owner
#     (public.users + membership + owner member), role crm_t_<id> and schema
#     t_<id> (public.crm_tenant_create, run as crm_api as crm-api runs it), the
#     tenant migrations (`crmctl tenants migrate --jobs`, with
#     check_function_bodies off as pg_restore does: with a thousand schemas
#     holding functions of the same names, checking each body on creation is
#     most of a migration's time), the starter roles and pipeline of
#     tenants/templates/default.json (the statements of
#     tenants/provision.c). One of them is the big tenant below, made with
#     `crmctl tenants create`; the others (slugs gen-0001…) are made in bulk:
#     `crmctl tenants create` costs two Argon2 hashes (~0.3 s) per tenant, so
#     they share the big owner's password hash instead.
#   * the big tenant, slug `big`, owner big-owner@example.com (role owner, scope
#     all; password in var/<profile>/secrets/big.pw), 20 more members
#     (big-member-01…20@example.com, same password; 2 managers, 18 sales) who own
#     the records; the tag catalog;
#     --customers customers (default 1,000,000): company names built from small
#     arrays (city + two-character brand + industry word + legal form, skewed
#     so that 2-character pieces have realistic selectivity), mobile and
#     landline phones, e-mails, websites, addresses, levels, sources, tags,
#     versions, updated_at over the last two years, last_followed_at = the
#     newest activity;
#     --activities activities (default 5,000,000) on random customers, owned by
#     the customer's owner.
#   Rows are made inside PostgreSQL (INSERT … SELECT generate_series, values
#   from hashes of the row number, so reruns give the same data), split over
#   --jobs sessions (default: the CPU count); only base columns are written, the
#   generated ones (_search, _grams, _name_norm, _phone_norm) are computed by
#   PostgreSQL. The load runs with session_replication_role = replica (no
#   foreign-key triggers: the keys are right by construction) and without the
#   secondary indexes of the two tables, which are then rebuilt from their own
#   definitions (saved in var/<profile>/gen-data.indexes.sql meanwhile; --jobs
#   builds at a time, the GIN ones first), after VACUUM (ANALYZE).
#
# Idempotent: each step skips what exists; the load of the big tenant is
# finished when schema t_<big>'s comment holds the mark `gen-data tenants=…
# customers=… activities=… source=<hash of sql/, tenants/templates/ and this
# script>` (set last; --print-mark prints it and exits). A finished generation
# with the same mark is a no-op; any other mark makes the script refuse (wipe
# the profile: scripts/stack.sh stop <p>; rm -rf var/<p>). An interrupted load is redone
# (the big tenant's records are truncated first; they hold generated data
# only). Writes var/<profile>/gen-data.json (sizes, big tenant, step timings)
# and logs to var/<profile>/log/gen-data.log. Refuses the dev profile unless
# --allow-dev. Must run as root (psql runs as the postgres user).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CRM_ROOT"

PG_BIN=/usr/lib/postgresql/15/bin
BIN_DIR="${CRM_BIN_DIR:-build/bin}"
[[ "$BIN_DIR" == /* ]] || BIN_DIR="$CRM_ROOT/$BIN_DIR"
BIG_SLUG=big
BIG_EMAIL=big-owner@example.com
MEMBERS=20

usage() {
    die "usage: scripts/gen-data.sh dev|test|bench [--tenants N] [--customers N] [--activities N] [--jobs N] [--allow-dev] [--print-mark]"
}

TENANTS=1000
CUSTOMERS=1000000
ACTIVITIES=5000000
JOBS="$(nproc)"
ALLOW_DEV=0
PRINT_MARK=0
[[ $# -ge 1 ]] || usage
profile_init "$1"
shift
while [[ $# -gt 0 ]]; do
    case "$1" in
        --tenants)    [[ $# -ge 2 ]] || usage; TENANTS="$2"; shift 2 ;;
        --customers)  [[ $# -ge 2 ]] || usage; CUSTOMERS="$2"; shift 2 ;;
        --activities) [[ $# -ge 2 ]] || usage; ACTIVITIES="$2"; shift 2 ;;
        --jobs)       [[ $# -ge 2 ]] || usage; JOBS="$2"; shift 2 ;;
        --allow-dev)  ALLOW_DEV=1; shift ;;
        --print-mark) PRINT_MARK=1; shift ;;
        *) usage ;;
    esac
done
for v in TENANTS CUSTOMERS JOBS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--${v,,} must be a positive number, not '${!v}'"
done
[[ "$ACTIVITIES" =~ ^[0-9]+$ ]] || die "--activities must be a number, not '$ACTIVITIES'"
# The data depends on the sizes and on these sources: the schema (the
# migrations are still edited in place), the starter kit and this script.
SOURCE_HASH="$(cat sql/platform/*.sql sql/tenant/*.sql tenants/templates/*.json "${BASH_SOURCE[0]}" |
    sha256sum | cut -c1-12)"
MARK="gen-data tenants=$TENANTS customers=$CUSTOMERS activities=$ACTIVITIES source=$SOURCE_HASH"
if (( PRINT_MARK )); then
    printf '%s\n' "$MARK"
    exit 0
fi
(( TENANTS <= 9999 )) || die "--tenants must not exceed 9999"
[[ "$PROFILE" != dev || "$ALLOW_DEV" == 1 ]] || die "refusing to fill the dev profile without --allow-dev"
[[ $EUID -eq 0 ]] || die "gen-data.sh must run as root (psql runs as the postgres user)"
[[ -x "$BIN_DIR/crmctl" ]] || die "$BIN_DIR/crmctl not found: build first (make all)"

LOG="$LOG_DIR/gen-data.log"
INDEX_FILE="$VAR_DIR/gen-data.indexes.sql"
SUMMARY="$VAR_DIR/gen-data.json"
TMP="$(mktemp -d /tmp/crm-gen-data.XXXXXX)"
chmod 755 "$TMP"    # the postgres user reads the SQL files
trap 'rm -rf "$TMP"' EXIT

as_postgres() { (cd / && runuser -u postgres -- "$@"); }
# psql as the superuser on database crm; -At: bare values.
sql() {
    as_postgres "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$PG_PORT" \
        -U postgres -d crm "$@"
}
log() { printf '== %s %s\n' "$(date -Is)" "$*" >>"$LOG"; }

sql -c 'SELECT 1' >/dev/null 2>&1 ||
    die "PostgreSQL of profile $PROFILE does not answer: scripts/stack.sh start $PROFILE first"
eval "$("$CRM_ROOT/scripts/stack.sh" env "$PROFILE")"
export CRM_DATABASE_URL CRM_ADMIN_DATABASE_URL CRM_REDIS_URL CRM_JWT_KEY_FILE CRM_SOCKET CRM_EXPORT_DIR

crmctl() {
    log "crmctl $*"
    "$BIN_DIR/crmctl" "$@" </dev/null 2>>"$LOG"
}

# ---------------------------------------------------------------- timing

declare -A TOOK=()
STEP_NAMES=()
STEP_T0=0
now_s() { date +%s.%N; }
step() {  # NAME — starts a timed step
    STEP_NAME="$1"
    STEP_T0="$(now_s)"
    printf '%-28s ' "$1"
    log "step $1"
}
step_done() {  # [NOTE]
    local s
    s="$(awk -v a="$STEP_T0" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }')"
    TOOK[$STEP_NAME]="$s"
    STEP_NAMES+=("$STEP_NAME")
    printf '%7.1f s  %s\n' "$s" "${1:-}"
}

# ---------------------------------------------------------------- parallel SQL

# ranges TOTAL — JOBS "lo hi" lines covering 1..TOTAL.
ranges() {
    awk -v n="$1" -v j="$JOBS" 'BEGIN { if (n < j) j = n; s = int(n / j);
        for (i = 0; i < j; i++) { lo = i * s + 1; hi = (i == j - 1) ? n : (i + 1) * s; print lo, hi } }'
}

# in_parallel FILE VAR=VALUE… -- "lo hi"… — one psql session per range (lo, hi
# as psql variables), all at once; fails when any fails.
in_parallel() {
    local file="$1" vars=() pids=() range lo hi rc=0 pid
    shift
    while [[ "$1" != -- ]]; do vars+=(-v "$1"); shift; done
    shift
    for range in "$@"; do
        read -r lo hi <<<"$range"
        sql "${vars[@]}" -v lo="$lo" -v hi="$hi" -f "$file" >>"$LOG" 2>&1 &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
    (( rc == 0 )) || { tail -n 20 "$LOG" >&2; die "a session of $(basename "$file") failed (log: $LOG)"; }
}

# ---------------------------------------------------------------- state

big_id() { sql -c "SELECT id FROM public.tenants WHERE slug = '$BIG_SLUG'"; }
schema_mark() {  # TENANT_ID
    sql -c "SELECT coalesce(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace WHERE nspname = 't_$1'"
}

BIG_ID="$(big_id)"
if [[ -n "$BIG_ID" ]]; then
    mark="$(schema_mark "$BIG_ID")"
    if [[ "$mark" == "$MARK" ]]; then
        say "gen-data: profile $PROFILE already holds the data ($MARK, tenant $BIG_SLUG = t_$BIG_ID): nothing to do"
        exit 0
    elif [[ "$mark" == gen-data* ]]; then
        die "profile $PROFILE holds other generated data ($mark); wipe it to generate '$MARK': scripts/stack.sh stop $PROFILE; rm -rf var/$PROFILE"
    fi
fi

say "gen-data: profile $PROFILE, $TENANTS tenants, $CUSTOMERS customers and $ACTIVITIES activities in tenant '$BIG_SLUG', $JOBS sessions (log: $LOG)"
T_ALL="$(now_s)"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- tenants

step "big tenant (crmctl)"
(umask 077; [[ -s "$SECRETS_DIR/big.pw" ]] || head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$SECRETS_DIR/big.pw")
crmctl tenants create --slug "$BIG_SLUG" --company "星辰数据科技有限公司" --name "陈立群" \
    --email "$BIG_EMAIL" --password-file "$SECRETS_DIR/big.pw" >/dev/null ||
    die "crmctl tenants create --slug $BIG_SLUG failed (log: $LOG)"
BIG_ID="$(big_id)"
BIG_SCHEMA="t_$BIG_ID"
step_done "tenant $BIG_ID"

# Rows, roles and schemas of the other tenants, as crm-api's sign-up makes
# them (as crm_api, in one transaction).
step "tenants: rows and schemas"
cat >"$TMP/tenants.sql" <<'SQL'
BEGIN;
SET LOCAL SESSION AUTHORIZATION crm_api;
WITH want AS (
	SELECT format('gen-%s', lpad(i::text, 4, '0')) AS slug,
		format('owner@gen-%s.example.com', lpad(i::text, 4, '0')) AS email,
		(ARRAY['北京','上海','深圳','杭州','成都','武汉','南京','西安'])[1 + i % 8]
			|| (ARRAY['华信','宏达','恒通','鼎盛','瑞丰','金桥','博创','天成','海纳','嘉和'])[1 + (i / 8) % 10]
			|| (ARRAY['科技','贸易','物流','医药','建材','文化传媒','电子','咨询'])[1 + (i / 80) % 8]
			|| '有限公司' AS company,
		(ARRAY['王','李','张','刘','陈','杨','赵','黄','周','吴'])[1 + i % 10]
			|| (ARRAY['伟','芳','娜','敏','静','强','磊','洋','艳','军','杰','涛'])[1 + (i / 10) % 12] AS name
	FROM generate_series(1, :n) i
	WHERE NOT EXISTS (SELECT 1 FROM public.tenants t
		WHERE t.slug = format('gen-%s', lpad(i::text, 4, '0')))),
u AS (
	INSERT INTO public.users (email, name, password_hash, locale)
	SELECT w.email, w.name, (SELECT password_hash FROM public.users WHERE email = :'big_email'), 'zh-CN'
	FROM want w WHERE NOT EXISTS (SELECT 1 FROM public.users x WHERE x.email = w.email)
	RETURNING id, email),
t AS (
	INSERT INTO public.tenants (slug, name, locale, owner_user_id, schema_version)
	SELECT w.slug, w.company, 'zh-CN', coalesce(u.id, x.id), 0
	FROM want w LEFT JOIN u ON u.email = w.email LEFT JOIN public.users x ON x.email = w.email
	ORDER BY w.slug
	RETURNING id, owner_user_id)
INSERT INTO public.memberships (user_id, tenant_id) SELECT owner_user_id, id FROM t;
SELECT count(public.crm_tenant_create(t.id)) FROM public.tenants t
WHERE t.slug LIKE 'gen-%' AND NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = 't_' || t.id);
COMMIT;
SQL
made="$(sql -v n="$(( TENANTS - 1 ))" -v big_email="$BIG_EMAIL" -f "$TMP/tenants.sql" 2>>"$LOG")" ||
    { tail -n 20 "$LOG" >&2; die "creating the tenants failed (log: $LOG)"; }
step_done "${made:-0} new"

step "tenants: migrations"
PGOPTIONS="${PGOPTIONS:-} -c check_function_bodies=off" crmctl tenants migrate --jobs "$JOBS" ||
    die "crmctl tenants migrate failed (log: $LOG)"
step_done "crmctl tenants migrate --jobs $JOBS"

# The starter kit and the owner of each gen- tenant that has no roles yet:
# the statements of tenants/provision.c, in the tenant's context.
step "tenants: roles, pipelines"
cat >"$TMP/seed.sql" <<'SQL'
BEGIN;
SET LOCAL SESSION AUTHORIZATION crm_api;
SELECT set_config('gen.tpl', :'tpl', true) AS tpl_set \gset gen_
DO $$
DECLARE
	t record;
	todo bigint[];
	tpl jsonb := current_setting('gen.tpl')::jsonb;
	n int := 0;
	tid bigint;
	empty bool;
BEGIN
	SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO todo FROM public.tenants
	WHERE slug LIKE 'gen-%' AND schema_version > 0;
	FOREACH tid IN ARRAY todo LOOP
		SELECT te.id, te.locale, u.id AS user_id, u.email, u.name INTO t
		FROM public.tenants te JOIN public.users u ON u.id = te.owner_user_id WHERE te.id = tid;
		PERFORM set_config('role', 'crm_t_' || tid, true), set_config('search_path', 't_' || tid, true);
		IF NOT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 't_' || tid AND tablename = 'roles') THEN
			RAISE EXCEPTION 'tenant % is not migrated', tid;
		END IF;
		EXECUTE 'SELECT NOT EXISTS (SELECT 1 FROM roles)' INTO STRICT empty;
		IF empty THEN
			EXECUTE 'INSERT INTO roles (key, name, permissions, record_scope, is_system) '
				'SELECT r->>''key'', r->>''name'', (r->''permissions'') || rights_expand(r->''rights''), '
				'r->>''record_scope'', coalesce((r->>''is_system'')::bool, false) '
				'FROM jsonb_array_elements($1::jsonb->''roles'') r' USING tpl;
			EXECUTE 'WITH p AS (SELECT ord - 1 AS pos, value AS pj '
				'  FROM jsonb_array_elements($1::jsonb->''pipelines'') WITH ORDINALITY AS x(value, ord)), '
				'ins AS (INSERT INTO pipelines (name, position, is_default) '
				'  SELECT pj->>''name'', pos, coalesce((pj->>''is_default'')::bool, false) FROM p '
				'  RETURNING id, position) '
				'INSERT INTO pipeline_stages (pipeline_id, name, position, probability, kind) '
				'SELECT ins.id, s.value->>''name'', s.ord - 1, (s.value->>''probability'')::int, '
				's.value->>''kind'' FROM ins JOIN p ON p.pos = ins.position, '
				'jsonb_array_elements(p.pj->''stages'') WITH ORDINALITY AS s(value, ord)' USING tpl;
			EXECUTE 'INSERT INTO members (user_id, email, name, role, status, locale) '
				'VALUES ($1, $2, $3, ''owner'', ''active'', ''zh-CN'')' USING t.user_id, t.email, t.name;
			n := n + 1;
		END IF;
		PERFORM set_config('role', 'none', true), set_config('search_path', 'public', true);
	END LOOP;
	PERFORM set_config('gen.seeded', n::text, true);
END
$$;
SELECT current_setting('gen.seeded');
COMMIT;
SQL
seeded="$(sql -v tpl="$(cat "$CRM_ROOT/tenants/templates/default.json")" -f "$TMP/seed.sql" 2>>"$LOG")" ||
    { tail -n 20 "$LOG" >&2; die "seeding the tenants failed (log: $LOG)"; }
total="$(sql -c "SELECT count(*) FROM public.tenants WHERE slug = '$BIG_SLUG' OR slug LIKE 'gen-%'")"
step_done "$seeded seeded; $total generated tenants in all"

# ---------------------------------------------------------------- the big tenant

# Its members (users with the owner's password, memberships, members) and tags.
step "big tenant: members, tags"
cat >"$TMP/members.sql" <<'SQL'
BEGIN;
WITH want AS (
	SELECT i, format('big-member-%s@example.com', lpad(i::text, 2, '0')) AS email,
		(ARRAY['王','李','张','刘','陈','杨','赵','黄','周','吴','徐','孙','胡','朱','高','林','何','郭','马','罗'])[1 + (i - 1) % 20]
		|| (ARRAY['建国','丽华','志强','秀英','海涛','晓燕','俊杰','婷婷','文博','雪梅','子涵','浩然','思远','欣怡','明辉','佳琪','国庆','春燕','宇航','梦瑶'])[1 + (i * 7) % 20] AS name
	FROM generate_series(1, :members) i),
u AS (
	INSERT INTO public.users (email, name, password_hash, locale)
	SELECT w.email, w.name, (SELECT password_hash FROM public.users WHERE email = :'big_email'), 'zh-CN'
	FROM want w WHERE NOT EXISTS (SELECT 1 FROM public.users x WHERE x.email = w.email)
	RETURNING id)
SELECT count(*) FROM u \gset gen_
INSERT INTO public.memberships (user_id, tenant_id)
SELECT x.id, :big_id FROM public.users x WHERE x.email LIKE 'big-member-%@example.com'
ON CONFLICT DO NOTHING;
SET LOCAL search_path = :"schema";
-- managers first (members 01 and 02), then sales under them
INSERT INTO members (user_id, email, name, role, manager_id, status, locale)
SELECT x.id, x.email, x.name, CASE WHEN i <= 2 THEN 'manager' ELSE 'sales' END, NULL, 'active', 'zh-CN'
FROM generate_series(1, :members) i
JOIN public.users x ON x.email = format('big-member-%s@example.com', lpad(i::text, 2, '0'))
WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.email = x.email)
ORDER BY i;
UPDATE members s SET manager_id = m.id
FROM members m
WHERE s.role = 'sales' AND s.manager_id IS NULL AND s.email LIKE 'big-member-%'
	AND m.email = format('big-member-%s@example.com', lpad((1 + substr(s.email, 12, 2)::int % 2)::text, 2, '0'));
INSERT INTO tags (name, color) VALUES
	('重点客户', '#e53935'), ('VIP', '#8e24aa'), ('老客户', '#3949ab'), ('潜在客户', '#039be5'),
	('战略合作', '#00897b'), ('渠道伙伴', '#7cb342'), ('政府项目', '#fdd835'), ('待激活', '#fb8c00'),
	('海外', '#6d4c41'), ('上市公司', '#546e7a')
ON CONFLICT (name) DO NOTHING;
SELECT array_agg(id ORDER BY id) FROM members WHERE email LIKE 'big-member-%';
COMMIT;
SQL
MEMBER_IDS="$(sql -v members="$MEMBERS" -v big_email="$BIG_EMAIL" -v big_id="$BIG_ID" \
    -v schema="$BIG_SCHEMA" -f "$TMP/members.sql" 2>>"$LOG" | tail -n 1)" ||
    { tail -n 20 "$LOG" >&2; die "the members of tenant $BIG_SLUG failed (log: $LOG)"; }
[[ "$MEMBER_IDS" =~ ^\{[0-9,]+\}$ ]] || die "no members in $BIG_SCHEMA (got '$MEMBER_IDS')"
step_done "members $MEMBER_IDS"

# Secondary indexes of the two tables away during the load; their definitions
# are kept in a file until they are back.
step "big tenant: drop indexes"
if [[ ! -s "$INDEX_FILE" ]]; then
    sql -v schema="$BIG_SCHEMA" >"$INDEX_FILE.tmp" <<'SQL'
SELECT regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE INDEX ', 'CREATE INDEX IF NOT EXISTS ') || ';'
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :'schema' AND c.relname IN ('customers', 'activities') AND NOT i.indisprimary
	AND NOT i.indisunique
ORDER BY c.relname, i.indexrelid;
SQL
    mv "$INDEX_FILE.tmp" "$INDEX_FILE"
fi
sql -v schema="$BIG_SCHEMA" >>"$LOG" 2>&1 <<'SQL' || { tail -n 20 "$LOG" >&2; die "dropping the indexes failed (log: $LOG)"; }
BEGIN;
SET LOCAL search_path = :"schema";
SELECT format('DROP INDEX %I.%I', n.nspname, ic.relname)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE n.nspname = :'schema' AND c.relname IN ('customers', 'activities') AND NOT i.indisprimary
	AND NOT i.indisunique \gexec
-- the records of an interrupted load (this tenant holds generated data only)
SELECT format('TRUNCATE %I.customers, %I.activities RESTART IDENTITY CASCADE', :'schema', :'schema')
WHERE EXISTS (SELECT 1 FROM customers) OR EXISTS (SELECT 1 FROM activities) \gexec
COMMIT;
SQL
left="$(sql -c "SELECT count(*) FROM pg_indexes WHERE schemaname = '$BIG_SCHEMA' AND tablename IN ('customers','activities') AND indexname NOT LIKE '%_pkey'")"
(( left == 0 )) || die "could not drop the indexes of $BIG_SCHEMA.customers/activities (log: $LOG)"
rows="$(sql -c "SELECT (SELECT count(*) FROM $BIG_SCHEMA.customers) + (SELECT count(*) FROM $BIG_SCHEMA.activities)")"
(( rows == 0 )) || die "$BIG_SCHEMA still holds $rows customers/activities (log: $LOG)"
step_done "$(wc -l <"$INDEX_FILE") index definitions in $(basename "$INDEX_FILE")"

# Shared by the load sessions: a deterministic random number in [0, 1) per
# (row, purpose), and picking from an array (skew > 1 favours its start).
cat >"$TMP/prelude.sql" <<'SQL'
SET search_path = :"schema";
SET session_replication_role = replica;
SET work_mem = '256MB';
CREATE FUNCTION pg_temp.rnd(g bigint, k int) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT (hashint8extended(g, k) & 2147483647)::float8 / 2147483648.0 $$;
CREATE FUNCTION pg_temp.pick(a text[], r float8) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT a[1 + floor(r * cardinality(a))::int] $$;
CREATE FUNCTION pg_temp.idx(n int, r float8) RETURNS int LANGUAGE sql IMMUTABLE AS
$$ SELECT 1 + floor(r * n)::int $$;
-- the owner of customer c: one of the members, some own more than others
CREATE FUNCTION pg_temp.owner_of(c bigint, members bigint[]) RETURNS bigint LANGUAGE sql IMMUTABLE AS
$$ SELECT members[1 + floor(pg_temp.rnd(c, 20) ^ 1.3 * cardinality(members))::int] $$;
SQL

cat >"$TMP/activities.sql" <<'SQL'
\i :prelude
INSERT INTO activities (id, kind, subject, body, occurred_at, customer_id, owner_id, tags,
	version, created_by, created_at, updated_at)
SELECT g, d.kinds[j], d.subjects[j] || CASE WHEN pg_temp.rnd(g, 3) < 0.4
		THEN '（' || pg_temp.pick(d.products, pg_temp.rnd(g, 4)) || '）' ELSE '' END,
	CASE WHEN pg_temp.rnd(g, 5) < 0.5 THEN pg_temp.pick(d.bodies, pg_temp.rnd(g, 6)) END,
	at, c, o, '{}', 1, o, at, at
FROM (SELECT
	ARRAY['call','call','call','call','call','call','call','call','call','call',
		'email','email','email','email','email','meeting','meeting','meeting','meeting',
		'visit','visit','visit','visit','note','note','note'] AS kinds,
	ARRAY['电话沟通','电话回访','首次电话联系','报价跟进电话','催款电话','售后回访电话','预约拜访电话',
		'需求确认电话','续约沟通','投诉处理电话',
		'发送报价单','发送产品资料','邮件确认合同条款','发送方案书','发送发票',
		'需求讨论会议','方案评审会议','商务谈判','季度回顾会议',
		'上门拜访','客户现场调研','陪同参观工厂','技术交流',
		'客户反馈记录','内部备注','跟进计划'] AS subjects,
	ARRAY['ERP系统','CRM系统','云服务器','网络设备','办公家具','原材料采购','物流服务',
		'年度框架协议','技术服务','培训服务','广告投放','设备维保'] AS products,
	ARRAY['客户对价格比较敏感，需要再申请折扣。','已约定下周二上午再次沟通。',
		'对方采购负责人出差，月底回来后再联系。','客户认可方案，等待内部审批。',
		'需要补充资质文件和案例介绍。','竞争对手报价更低，需要强调服务优势。',
		'客户提出交付周期要求，已转交项目组评估。','已发送合同草稿，等待法务意见。'] AS bodies) d,
	generate_series(:lo, :hi) g,
	LATERAL (SELECT pg_temp.idx(cardinality(d.kinds), pg_temp.rnd(g, 1) ^ 1.1) AS j,
		1 + floor(pg_temp.rnd(g, 2) * :customers)::bigint AS c,
		:'now'::timestamptz - pg_temp.rnd(g, 7) ^ 1.3 * interval '730 days' AS at) x,
	LATERAL (SELECT pg_temp.owner_of(x.c, :'members'::bigint[]) AS o) y;
SQL

cat >"$TMP/customers.sql" <<'SQL'
\i :prelude
INSERT INTO customers (id, name, kind, industry, source, level, region, phone, email, website,
	address, owner_id, in_pool, last_followed_at, tags, version, created_by, created_at, updated_at)
SELECT g,
	CASE WHEN person THEN pg_temp.pick(d.surnames, pg_temp.rnd(g, 40) ^ 1.5)
			|| pg_temp.pick(d.given, pg_temp.rnd(g, 41))
			|| CASE WHEN pg_temp.rnd(g, 42) < 0.6 THEN pg_temp.pick(d.given, pg_temp.rnd(g, 43)) ELSE '' END
		ELSE CASE WHEN pg_temp.rnd(g, 3) < 0.75 THEN d.cities[ci] ELSE '' END
			|| d.b1[bi1] || d.b2[bi2] || d.ind_words[ii] || pg_temp.pick(d.suffixes, pg_temp.rnd(g, 4)) END,
	CASE WHEN person THEN 'person' ELSE 'company' END,
	CASE WHEN NOT person THEN d.ind_names[ii] END,
	pg_temp.pick(d.sources, pg_temp.rnd(g, 5) ^ 1.4),
	pg_temp.pick(ARRAY['A','B','B','C','C','C','D'], pg_temp.rnd(g, 6)),
	d.provinces[ci],
	CASE WHEN pg_temp.rnd(g, 7) < 0.75
		THEN '1' || pg_temp.pick(ARRAY['3','3','5','5','8','8','7','9','6'], pg_temp.rnd(g, 8))
			|| lpad(((hashint8extended(g, 9) & 2147483647) % 1000000000)::text, 9, '0')
		WHEN pg_temp.rnd(g, 7) < 0.95
		THEN d.area[ci] || '-' || (2 + floor(pg_temp.rnd(g, 10) * 7)::int)::text
			|| lpad(((hashint8extended(g, 11) & 2147483647) % 10000000)::text, 7, '0') END,
	CASE WHEN pg_temp.rnd(g, 12) < 0.45
		THEN pg_temp.pick(d.locals, pg_temp.rnd(g, 13)) || '@' || d.p1[bi1] || d.p2[bi2]
			|| pg_temp.pick(ARRAY['.com','.com','.cn','.com.cn','.net'], pg_temp.rnd(g, 14))
		WHEN pg_temp.rnd(g, 12) < 0.70
		THEN (10000000 + (hashint8extended(g, 15) & 2147483647) % 2000000000)::text || '@qq.com'
		WHEN pg_temp.rnd(g, 12) < 0.82
		THEN pg_temp.pick(d.pinyin, pg_temp.rnd(g, 16)) || ((hashint8extended(g, 17) & 2147483647) % 1000)::text
			|| pg_temp.pick(ARRAY['@163.com','@126.com','@sina.com','@outlook.com'], pg_temp.rnd(g, 18)) END,
	CASE WHEN NOT person AND pg_temp.rnd(g, 19) < 0.35 THEN 'www.' || d.p1[bi1] || d.p2[bi2] || '.com' END,
	d.cities[ci] || '市' || pg_temp.pick(d.districts, pg_temp.rnd(g, 21)) || '区'
		|| pg_temp.pick(d.roads, pg_temp.rnd(g, 22)) || '路' || (1 + floor(pg_temp.rnd(g, 23) * 999))::int || '号',
	o, false, lf.at,
	CASE WHEN pg_temp.rnd(g, 24) < 0.55 THEN '{}'::text[]
		ELSE ARRAY(SELECT DISTINCT x FROM unnest(ARRAY[pg_temp.pick(d.tags, pg_temp.rnd(g, 25) ^ 1.5),
			CASE WHEN pg_temp.rnd(g, 26) < 0.3 THEN pg_temp.pick(d.tags, pg_temp.rnd(g, 27)) END]) x
			WHERE x IS NOT NULL ORDER BY x) END,
	v, o, CASE WHEN v = 1 THEN up ELSE up - pg_temp.rnd(g, 28) * interval '365 days' END, up
FROM (SELECT
	ARRAY['北京','上海','深圳','广州','杭州','成都','南京','苏州','武汉','西安','重庆','天津','长沙','郑州',
		'青岛','厦门','宁波','合肥','东莞','佛山','济南','福州','无锡','沈阳','大连','昆明','南昌','石家庄',
		'哈尔滨','长春','贵阳','南宁','太原','兰州','温州','珠海','常州','海口','乌鲁木齐','呼和浩特'] AS cities,
	ARRAY['北京','上海','广东','广东','浙江','四川','江苏','江苏','湖北','陕西','重庆','天津','湖南','河南',
		'山东','福建','浙江','安徽','广东','广东','山东','福建','江苏','辽宁','辽宁','云南','江西','河北',
		'黑龙江','吉林','贵州','广西','山西','甘肃','浙江','广东','江苏','海南','新疆','内蒙古'] AS provinces,
	ARRAY['010','021','0755','020','0571','028','025','0512','027','029','023','022','0731','0371',
		'0532','0592','0574','0551','0769','0757','0531','0591','0510','024','0411','0871','0791','0311',
		'0451','0431','0851','0771','0351','0931','0577','0756','0519','0898','0991','0471'] AS area,
	ARRAY['华','中','鑫','宏','恒','泰','金','天','海','新','长','安','博','瑞','盛','嘉','德','正','东','永',
		'创','联','远','汇','美','佳','万','兴','明','光','国','通','信','达','康','源','丰','腾','鼎','伟'] AS b1,
	ARRAY['hua','zhong','xin','hong','heng','tai','jin','tian','hai','xin','chang','an','bo','rui','sheng','jia',
		'de','zheng','dong','yong','chuang','lian','yuan','hui','mei','jia','wan','xing','ming','guang','guo',
		'tong','xin','da','kang','yuan','feng','teng','ding','wei'] AS p1,
	ARRAY['信','达','通','盛','源','泰','辉','为','润','华','宇','星','威','森','诚','和','利','隆','邦','成',
		'昌','丰','胜','科','晟','阳','力','洋','锐','峰','安','远','创','博','嘉','瑞','祥','恒','腾','域'] AS b2,
	ARRAY['xin','da','tong','sheng','yuan','tai','hui','wei','run','hua','yu','xing','wei','sen','cheng','he',
		'li','long','bang','cheng','chang','feng','sheng','ke','sheng','yang','li','yang','rui','feng','an',
		'yuan','chuang','bo','jia','rui','xiang','heng','teng','yu'] AS p2,
	ARRAY['科技','科技','网络科技','信息技术','电子','软件','贸易','商贸','进出口','实业','建设工程','建材',
		'机械设备','医药','医疗器械','生物科技','食品','餐饮管理','物流','供应链管理','文化传媒','广告',
		'教育科技','企业管理咨询','环保科技','新能源','汽车服务','服饰','家具','化工','农业发展',
		'房地产开发','物业管理','电气','自动化设备','智能科技'] AS ind_words,
	ARRAY['信息技术','信息技术','互联网','信息技术','电子制造','软件','批发零售','批发零售','外贸','综合',
		'建筑','建材','机械制造','医药','医疗器械','生物医药','食品','餐饮','物流','供应链','文化传媒','广告',
		'教育','咨询服务','环保','新能源','汽车','服装','家具','化工','农业','房地产','物业','电气设备',
		'机械制造','信息技术'] AS ind_names,
	ARRAY['有限公司','有限公司','有限公司','有限公司','有限公司','有限公司','有限公司','有限公司',
		'有限责任公司','股份有限公司','股份有限公司','集团有限公司','有限公司分公司','有限公司'] AS suffixes,
	ARRAY['王','李','张','刘','陈','杨','赵','黄','周','吴','徐','孙','胡','朱','高','林','何','郭','马','罗',
		'梁','宋','郑','谢','韩','唐','冯','于','董','萧'] AS surnames,
	ARRAY['伟','芳','娜','敏','静','丽','强','磊','军','洋','勇','艳','杰','涛','明','超','秀','霞','平','刚',
		'桂','英','华','玉','兰','建','文','辉','鹏','飞'] AS given,
	ARRAY['官网','展会','转介绍','电话营销','网络广告','合作伙伴','老客户推荐','地推','招投标','公众号'] AS sources,
	ARRAY['sales','info','contact','service','admin','hr','market','office','biz','support'] AS locals,
	ARRAY['zhangwei','wangfang','lina','liuyang','chenjie','yangmin','zhaolei','huangyan','zhoutao','wujun',
		'xuli','sunqiang','hujing','zhuming','gaopeng'] AS pinyin,
	ARRAY['朝阳','海淀','浦东','闵行','南山','福田','天河','番禺','西湖','滨江','武侯','高新','江宁','鼓楼',
		'洪山','雁塔','渝北','和平','岳麓','金水','经开','工业园'] AS districts,
	ARRAY['人民','建设','解放','中山','和平','科技','创业','文化','长江','黄河','新华','胜利','友谊','光明',
		'学府','工业','滨海','东风'] AS roads,
	ARRAY['重点客户','VIP','老客户','潜在客户','战略合作','渠道伙伴','政府项目','待激活','海外','上市公司'] AS tags) d,
	generate_series(:lo, :hi) g
	LEFT JOIN (SELECT customer_id, max(occurred_at) AS at FROM activities
		WHERE customer_id BETWEEN :lo AND :hi GROUP BY customer_id) lf ON lf.customer_id = g,
	LATERAL (SELECT pg_temp.rnd(g, 2) < 0.04 AS person,
		pg_temp.idx(40, pg_temp.rnd(g, 30) ^ 1.8) AS ci,
		pg_temp.idx(40, pg_temp.rnd(g, 31) ^ 1.6) AS bi1,
		pg_temp.idx(40, pg_temp.rnd(g, 32) ^ 1.6) AS bi2,
		pg_temp.idx(36, pg_temp.rnd(g, 33) ^ 1.7) AS ii,
		1 + floor(pg_temp.rnd(g, 34) ^ 3 * 8)::int AS v,
		:'now'::timestamptz - pg_temp.rnd(g, 35) * interval '730 days' AS up,
		pg_temp.owner_of(g, :'members'::bigint[]) AS o) x;
SQL

NOW_TS="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LOADVARS=(schema="$BIG_SCHEMA" prelude="$TMP/prelude.sql" members="$MEMBER_IDS" customers="$CUSTOMERS" now="$NOW_TS")

if (( ACTIVITIES > 0 )); then
    step "big tenant: activities"
    mapfile -t R < <(ranges "$ACTIVITIES")
    in_parallel "$TMP/activities.sql" "${LOADVARS[@]}" -- "${R[@]}"
    step_done "$ACTIVITIES rows, ${#R[@]} sessions"
fi

step "big tenant: customers"
mapfile -t R < <(ranges "$CUSTOMERS")
in_parallel "$TMP/customers.sql" "${LOADVARS[@]}" -- "${R[@]}"
step_done "$CUSTOMERS rows, ${#R[@]} sessions"

step "big tenant: vacuum, analyze"
sql -v schema="$BIG_SCHEMA" >>"$LOG" 2>&1 <<'SQL' || die "setval failed (log: $LOG)"
SET search_path = :"schema";
SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM customers), false);
SELECT setval(pg_get_serial_sequence('activities', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM activities), false);
SQL
pids=()
for t in customers activities; do
    sql -c "VACUUM (ANALYZE) $BIG_SCHEMA.$t" >>"$LOG" 2>&1 &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || die "VACUUM failed (log: $LOG)"; done
step_done

step "big tenant: indexes"
# One session per index, JOBS at a time, the longest first (GIN over the
# activities, then the other GIN ones, then the B-trees).
awk '{ k = / USING gin / ? (/ ON [^ ]*\.activities / ? 0 : 1) : (/ ON [^ ]*\.activities / ? 2 : 3); print k "\t" $0 }' \
    "$INDEX_FILE" | sort -s -n -k1,1 | cut -f2- >"$TMP/indexes.sql"
files=()
while IFS= read -r stmt; do
    f="$TMP/index-${#files[@]}.sql"
    printf "SET maintenance_work_mem = '1GB';\nSET max_parallel_maintenance_workers = 0;\n\\\\timing on\n\\\\echo '%s'\n%s\n" \
        "${stmt%% ON *}" "$stmt" >"$f"
    files+=("$f")
done <"$TMP/indexes.sql"
running=0
rc=0
for f in "${files[@]}"; do
    if (( running >= JOBS )); then wait -n || rc=1; running=$(( running - 1 )); fi
    sql -f "$f" >>"$LOG" 2>&1 &
    running=$(( running + 1 ))
done
while (( running > 0 )); do wait -n || rc=1; running=$(( running - 1 )); done
(( rc == 0 )) || die "CREATE INDEX failed (log: $LOG)"
want="$(grep -c '^CREATE' "$INDEX_FILE")"
have="$(sql -c "SELECT count(*) FROM pg_indexes WHERE schemaname = '$BIG_SCHEMA' AND tablename IN ('customers','activities') AND indexname NOT LIKE '%_pkey'")"
(( have == want )) || die "$have of $want indexes of $BIG_SCHEMA are back (log: $LOG)"
sql -c "ANALYZE $BIG_SCHEMA.customers" >>"$LOG" 2>&1
step_done "$want indexes"

sql -c CHECKPOINT >/dev/null
sql -c "COMMENT ON SCHEMA $BIG_SCHEMA IS '$MARK'" >/dev/null
rm -f "$INDEX_FILE"

TOTAL_S="$(awk -v a="$T_ALL" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }')"
sizes="$(sql -c "SELECT pg_size_pretty(pg_total_relation_size('$BIG_SCHEMA.customers')) || ' customers, ' || pg_size_pretty(pg_total_relation_size('$BIG_SCHEMA.activities')) || ' activities'")"
printf '%-28s %7.1f s  (%s; load average %s at the start, %s at the end, %d CPUs)\n' "total" "$TOTAL_S" \
    "$sizes" "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)"

{
    printf '{\n  "mark": "%s",\n  "tenants": %d, "customers": %d, "activities": %d,\n' "$MARK" "$TENANTS" "$CUSTOMERS" "$ACTIVITIES"
    printf '  "big_tenant": {"slug": "%s", "id": %s, "schema": "%s", "owner_email": "%s", "password_file": "secrets/big.pw", "members": "%s"},\n' \
        "$BIG_SLUG" "$BIG_ID" "$BIG_SCHEMA" "$BIG_EMAIL" "$MEMBER_IDS"
    printf '  "jobs": %d, "seconds": {' "$JOBS"
    sep=""
    for s in "${STEP_NAMES[@]}"; do printf '%s"%s": %s' "$sep" "$s" "${TOOK[$s]}"; sep=", "; done
    printf ', "total": %s},\n  "sizes": "%s",\n  "generated_at": "%s",\n' "$TOTAL_S" "$sizes" "$NOW_TS"
    printf '  "loadavg_start": "%s", "loadavg_end": "%s", "cpus": %d\n}\n' "$LOAD_START" \
        "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)"
} >"$SUMMARY"
say "gen-data: done in ${TOTAL_S}s; $SUMMARY"
