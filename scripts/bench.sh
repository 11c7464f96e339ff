#!/usr/bin/env bash
# scripts/bench.sh — the benchmark; what `make bench` runs after building build/bin.
#
# Starts a fresh bench stack (var/bench/, nginx on 127.0.0.1:28080, PostgreSQL
# port 25432), measures, prints a table and writes var/bench/latest.json, then
# stops the stack (also on failure or interrupt; var/bench/ stays for a look).
# Fresh, except for the record data: when var/bench/ already holds the data
# scripts/gen-data.sh made with the sizes asked for from the current sources
# (sql/, tenants/templates/, gen-data.sh: its mark in var/bench/gen-data.json),
# the stack is restarted on it instead of being wiped, so that only the first
# run after a change pays for the generation (minutes); CRM_BENCH_FRESH=1
# wipes it anyway, CRM_BENCH_RECORDS=0 runs the first five cases alone on a
# fresh stack, as before.
#
# Cases (the names are a contract: scripts and notes quote them):
#   nginx_return   GET /__nginx_floor — nginx `return 200`, the HTTP floor
#   fastcgi_floor  GET /api/v1/version — crm-api without PostgreSQL or Redis
#   me             GET /api/v1/me with a real access token: JWT check, the
#                  session in Redis, one pipelined PostgreSQL round trip
#   pgbench        pgbench -S -M prepared on database `pgbench` of the same
#                  cluster, the same client count — the database floor
#   signup         POST /api/v1/auth/signup, N in a row (one at a time)
# The record cases run in tenant `big` of scripts/gen-data.sh (1,000,000
# customers, 5,000,000 activities, 1000 tenants in the cluster) with its
# owner's token (role owner, scope all):
#   cust_get       GET /api/v1/customers/{id}, ids at random (record + summary)
#   cust_list      GET /api/v1/customers?limit=50, the first page
#   cust_walk      the first 50 pages one after the other, following next_cursor
#                  (one client; p50/p99 of the 50 pages; gives page 50's cursor)
#   cust_page50    GET /api/v1/customers?limit=50&cursor=… — page 50, again and again
#   cust_q         GET /api/v1/customers?limit=50&q=…, q at random from ~300 terms
#                  taken from the data (2- and 3-character pieces of company
#                  names, 4- to 7-digit pieces of phone numbers; same seed, so the
#                  same terms every run)
#   cust_create    POST /api/v1/customers, a new name each time, "force": true
# (the customers cust_create made are deleted afterwards, and before the
# record cases in case an earlier run was interrupted). Targets: cust_list,
# cust_page50 p99 <= 10 ms, cust_q p99 <= 50 ms, cust_get >= 0.25 x pgbench
# (ratios.cust_get_over_pgbench). latest.json also carries under "records"
# var/bench/gen-data.json: the sizes and how long each generation step took.
# The HTTP cases run wrk (loopback only) with tests/load/report.lua at the same
# connections/threads/duration; every wrk and pgbench case runs RUNS times after
# a short warm-up and the run with the median req/s is reported (its req/s,
# p50 and p99). Percentiles are nearest-rank; pgbench's come from its
# per-transaction log (-l). signup reports p50/p99 of the N latencies and
# req/s = N / total time.
#
# Environment (all optional):
#   CRM_BENCH_CONNECTIONS  wrk connections and pgbench clients (default 16)
#   CRM_BENCH_THREADS      wrk threads and pgbench -j (default 2)
#   CRM_BENCH_DURATION     seconds per run (default 10)
#   CRM_BENCH_RUNS         runs per case (default 3)
#   CRM_BENCH_WARMUP       seconds of unmeasured warm-up per case (default 2)
#   CRM_BENCH_SIGNUPS      sign-ups of the signup case (default 50)
#   CRM_BENCH_PGBENCH_SCALE  pgbench -i -s (default 10)
#   CRM_BENCH_RECORDS      1: the record cases (default), 0: not
#   CRM_BENCH_FRESH        1: wipe var/bench/ even when it holds the record data
#   CRM_BENCH_GEN_TENANTS, CRM_BENCH_GEN_CUSTOMERS, CRM_BENCH_GEN_ACTIVITIES
#                          the sizes given to scripts/gen-data.sh (defaults
#                          1000, 1000000, 5000000)
#   CRM_BIN_DIR, CRM_WORKERS, CRM_LOG_LEVEL, …  passed to scripts/stack.sh
# Exit status: 0, or 1 when a case could not run or saw error answers (the
# figures are still written).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CRM_ROOT"

CONNECTIONS="${CRM_BENCH_CONNECTIONS:-16}"
THREADS="${CRM_BENCH_THREADS:-2}"
DURATION="${CRM_BENCH_DURATION:-10}"
RUNS="${CRM_BENCH_RUNS:-3}"
WARMUP="${CRM_BENCH_WARMUP:-2}"
SIGNUPS="${CRM_BENCH_SIGNUPS:-50}"
PGBENCH_SCALE="${CRM_BENCH_PGBENCH_SCALE:-10}"
RECORDS="${CRM_BENCH_RECORDS:-1}"
FRESH="${CRM_BENCH_FRESH:-0}"
GEN_TENANTS="${CRM_BENCH_GEN_TENANTS:-1000}"
GEN_CUSTOMERS="${CRM_BENCH_GEN_CUSTOMERS:-1000000}"
GEN_ACTIVITIES="${CRM_BENCH_GEN_ACTIVITIES:-5000000}"
PG_BIN=/usr/lib/postgresql/15/bin
STACK="$CRM_ROOT/scripts/stack.sh"
LUA="$CRM_ROOT/tests/load/report.lua"
RECORDS_LUA="$CRM_ROOT/tests/load/records.lua"
BIN_DIR="${CRM_BIN_DIR:-build/bin}"
[[ "$BIN_DIR" == /* ]] || BIN_DIR="$CRM_ROOT/$BIN_DIR"
export CRM_BIN_DIR="$BIN_DIR"

# The bench client is one address doing many sign-ups and logins: lift the
# per-address limits of this stack only (stack.sh passes CRM_* through).
export CRM_SIGNUPS_PER_IP=1000000
export CRM_LOGIN_FAILS_PER_IP=1000000
export CRM_LOGIN_FAILS_PER_EMAIL=1000000

profile_init bench
RESULTS="$VAR_DIR/latest.json"
TMP=""
LOAD_START=""
STACK_STARTED=0
FAILURES=0

check_config() {
    local name value
    for name in CONNECTIONS THREADS DURATION RUNS SIGNUPS PGBENCH_SCALE GEN_TENANTS GEN_CUSTOMERS; do
        value="${!name}"
        [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "CRM_BENCH_$name must be a positive number, not '$value'"
    done
    [[ "$WARMUP" =~ ^[0-9]+$ ]] || die "CRM_BENCH_WARMUP must be a number, not '$WARMUP'"
    [[ "$GEN_ACTIVITIES" =~ ^[0-9]+$ ]] || die "CRM_BENCH_GEN_ACTIVITIES must be a number, not '$GEN_ACTIVITIES'"
    [[ "$RECORDS" == [01] && "$FRESH" == [01] ]] || die "CRM_BENCH_RECORDS and CRM_BENCH_FRESH are 0 or 1"
    (( THREADS <= CONNECTIONS )) || die "CRM_BENCH_THREADS ($THREADS) must not exceed CRM_BENCH_CONNECTIONS ($CONNECTIONS)"
    [[ $EUID -eq 0 ]] || die "bench.sh must run as root (the stack runs PostgreSQL as the postgres user)"
    local tool
    for tool in wrk node curl runuser; do
        command -v "$tool" >/dev/null || die "$tool is not installed (scripts/setup.sh installs it)"
    done
    [[ -x "$PG_BIN/pgbench" ]] || die "$PG_BIN/pgbench not found (package postgresql-15)"
    [[ -x "$BIN_DIR/crmctl" ]] || die "$BIN_DIR/crmctl not found: build first (make all)"
}

on_exit() {
    local rc=$?
    if (( STACK_STARTED )); then
        say ""
        say "== stopping the bench stack (var/bench/ is kept)"
        "$STACK" stop bench || warn "scripts/stack.sh stop bench failed"
    fi
    [[ -n "$TMP" ]] && rm -rf "$TMP"
    exit "$rc"
}

fail_case() {  # CASE WHY
    warn "$1: $2"
    FAILURES=$(( FAILURES + 1 ))
}

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

# ---------------------------------------------------------------- the stack

# True when var/bench/ holds the record data scripts/gen-data.sh would make
# now: same sizes, same sources (its mark; var/bench/gen-data.json is written
# once the generation finished).
records_kept() {
    local mark
    (( RECORDS == 1 && FRESH == 0 )) && [[ -f "$VAR_DIR/pg/PG_VERSION" && -f "$VAR_DIR/gen-data.json" ]] &&
        mark="$("$CRM_ROOT/scripts/gen-data.sh" bench --tenants "$GEN_TENANTS" --customers "$GEN_CUSTOMERS" \
            --activities "$GEN_ACTIVITIES" --print-mark)" &&
        grep -qF "\"mark\": \"$mark\"" "$VAR_DIR/gen-data.json"
}

stack_up() {
    "$STACK" stop bench >/dev/null 2>&1 || true
    if records_kept; then
        say "== bench stack on the record data var/bench/ holds (CRM_BENCH_FRESH=1 wipes it)"
    else
        say "== fresh bench stack (var/bench/)"
        rm -rf "$VAR_DIR"
    fi
    STACK_STARTED=1
    "$STACK" start bench
    eval "$("$STACK" env bench)"
}

# The bench tenant and its owner, created as `make run` creates the demo.
bench_tenant() {
    # (kept: on a stack kept for its record data the tenant exists already)
    [[ -s "$SECRETS_DIR/bench.pw" ]] ||
        (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$SECRETS_DIR/bench.pw")
    "$BIN_DIR/crmctl" tenants create --slug bench --company "压测科技有限公司" \
        --name "压测管理员" --email bench-owner@example.com \
        --password-file "$SECRETS_DIR/bench.pw" >/dev/null ||
        die "crmctl tenants create (the bench tenant) failed"
}

# access_token_as EMAIL PASSWORD_FILE — prints a fresh access token of that
# user (login through the API).
access_token_as() {
    CRM_BENCH_PASSWORD="$(cat "$2")" node --input-type=module - "$BASE_URL" "$1" <<'JS'
const [base, email] = process.argv.slice(2);
const res = await fetch(`${base}/api/v1/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ email, password: process.env.CRM_BENCH_PASSWORD }),
});
const text = await res.text();
if (res.status !== 200) {
  console.error(`login answered ${res.status}: ${text.slice(0, 300)}`);
  process.exit(1);
}
process.stdout.write(JSON.parse(text).access_token);
JS
}

# Prints a fresh access token of the bench owner.
access_token() { access_token_as bench-owner@example.com "$SECRETS_DIR/bench.pw"; }

# ---------------------------------------------------------------- measuring

# record CASE RUN "CRM_BENCH k=v …" — one line per measured run.
record() {
    printf 'case=%s run=%s %s\n' "$1" "$2" "${3#CRM_BENCH }" >>"$TMP/runs.txt"
}

# kv KEY LINE — the value of KEY=… in LINE.
kv() { sed -nE "s/.*(^| )$1=([^ ]*).*/\\2/p" <<<"$2"; }

show_run() {  # CASE RUN LINE
    local bad="" non_2xx socket
    non_2xx="$(kv non_2xx "$3")"
    socket="$(kv socket_errors "$3")"
    (( non_2xx + socket == 0 )) || bad="   ($non_2xx error answers, $socket socket errors)"
    printf '  %-14s run %d/%d: %10.1f req/s   p50 %8.3f ms   p99 %8.3f ms%s\n' "$1" "$2" "$RUNS" \
        "$(kv rps "$3")" "$(kv p50_ms "$3")" "$(kv p99_ms "$3")" "$bad"
}

# wrk_once SECONDS URL [TOKEN] — prints the CRM_BENCH line of one wrk run.
wrk_once() {
    local out
    out="$(CRM_BENCH_TOKEN="${3:-}" wrk -t "$THREADS" -c "$CONNECTIONS" -d "${1}s" \
        -s "$LUA" "$2" 2>&1)" || { printf '%s\n' "$out" >&2; return 1; }
    grep -m1 '^CRM_BENCH ' <<<"$out" || { printf '%s\n' "$out" >&2; return 1; }
}

# wrk_case CASE PATH [token] — warm-up, then RUNS measured runs. With `token`
# each run logs in first (a fresh 15-minute access token per run).
wrk_case() {
    local name="$1" url="$BASE_URL$2" auth="${3:-}" token="" line i errors=0
    say ""
    say "== $name: GET $2 (wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $RUNS runs)"
    if [[ -n "$auth" ]]; then
        token="$(access_token)" || { fail_case "$name" "could not log in"; return 0; }
    fi
    if (( WARMUP > 0 )); then
        wrk_once "$WARMUP" "$url" "$token" >/dev/null || { fail_case "$name" "wrk failed"; return 0; }
    fi
    for (( i = 1; i <= RUNS; i++ )); do
        if [[ -n "$auth" ]]; then
            token="$(access_token)" || { fail_case "$name" "could not log in"; return 0; }
        fi
        line="$(wrk_once "$DURATION" "$url" "$token")" || { fail_case "$name" "wrk failed"; return 0; }
        record "$name" "$i" "$line"
        show_run "$name" "$i" "$line"
        errors=$(( errors + $(kv non_2xx "$line") + $(kv socket_errors "$line") ))
    done
    (( errors == 0 )) || fail_case "$name" "$errors error answers or socket errors: the figures measure errors"
}

# nearest-rank percentiles of the numbers on stdin (one a line, any order),
# printed as "p50 p90 p99 max count" in the unit given (divided by DIV).
percentiles() {  # DIV
    sort -n | awk -v div="$1" '
        function rank(p,   k) { k = p * NR; if (k > int(k)) k = int(k) + 1; if (k < 1) k = 1; return v[k] / div }
        { v[NR] = $1 }
        END { if (NR == 0) { print "0 0 0 0 0"; exit }
              printf "%.3f %.3f %.3f %.3f %d\n", rank(0.50), rank(0.90), rank(0.99), v[NR] / div, NR }'
}

pgbench_db() {
    say ""
    say "== pgbench: database pgbench, pgbench -i -s $PGBENCH_SCALE"
    # (DROP: a stack kept for its record data still has the last run's)
    as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$CRM_PG_HOST" -p "$CRM_PG_PORT" \
        -U postgres -d postgres -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS pgbench' \
        -c 'CREATE DATABASE pgbench' >/dev/null || return 1
    as_postgres "$PG_BIN/pgbench" -i -q -s "$PGBENCH_SCALE" -h "$CRM_PG_HOST" -p "$CRM_PG_PORT" \
        -U postgres pgbench >"$LOG_DIR/pgbench-init.log" 2>&1 ||
        { tail -n 20 "$LOG_DIR/pgbench-init.log" >&2; return 1; }
}

# pgbench_once SECONDS [LOGDIR] — one pgbench -S run; with LOGDIR its
# per-transaction log goes there. Prints pgbench's output.
pgbench_once() {
    local log=()
    [[ -n "${2:-}" ]] && log=(-l "--log-prefix=$2/tx")
    as_postgres "$PG_BIN/pgbench" -S -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$1" \
        "${log[@]}" -h "$CRM_PG_HOST" -p "$CRM_PG_PORT" -U postgres pgbench 2>&1
}

pgbench_case() {
    local i dir out tps p line
    if ! pgbench_db; then
        fail_case pgbench "creating and initialising database pgbench failed"
        return 0
    fi
    say "== pgbench: pgbench -S -M prepared -c$CONNECTIONS -j$THREADS -T$DURATION, $RUNS runs"
    if (( WARMUP > 0 )); then
        pgbench_once "$WARMUP" >/dev/null || { fail_case pgbench "pgbench failed"; return 0; }
    fi
    for (( i = 1; i <= RUNS; i++ )); do
        dir="$TMP/pgbench-$i"
        mkdir "$dir"
        chown postgres:postgres "$dir"
        out="$(pgbench_once "$DURATION" "$dir")" || { printf '%s\n' "$out" >&2; fail_case pgbench "pgbench failed"; return 0; }
        tps="$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\).*/\1/p' <<<"$out")"
        [[ -n "$tps" ]] || { printf '%s\n' "$out" >&2; fail_case pgbench "no tps in pgbench's output"; return 0; }
        # per-transaction log: client_id transaction_no time(us) script_no epoch us
        read -r -a p < <(cat "$dir"/tx.* | awk '$3 ~ /^[0-9]+$/ { print $3 }' | percentiles 1000)
        line="CRM_BENCH requests=${p[4]} duration_s=$DURATION rps=$tps p50_ms=${p[0]} p90_ms=${p[1]} p99_ms=${p[2]} max_ms=${p[3]} non_2xx=0 socket_errors=0"
        record pgbench "$i" "$line"
        show_run pgbench "$i" "$line"
        rm -rf "$dir"
    done
}

signup_case() {
    local line
    say ""
    say "== signup: $SIGNUPS x POST /api/v1/auth/signup, one at a time"
    line="$(node --input-type=module - "$BASE_URL" "$SIGNUPS" <<'JS'
const [base, count] = [process.argv[2], Number(process.argv[3])];
const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
const ms = [];
let errors = 0;
const t0 = performance.now();
for (let i = 0; i < count; i++) {
  const id = `${stamp}-${i}`;
  const body = JSON.stringify({
    company: `压测公司 ${id}`, slug: `b-${id}`, name: `用户 ${id}`,
    email: `signup-${id}@example.com`, password: `bench-password-${id}`,
  });
  const start = performance.now();
  const res = await fetch(`${base}/api/v1/auth/signup`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body,
  });
  const text = await res.text();
  ms.push(performance.now() - start);
  if (res.status !== 201) {
    errors++;
    if (errors <= 3) console.error(`signup ${i} answered ${res.status}: ${text.slice(0, 200)}`);
  }
}
const seconds = (performance.now() - t0) / 1000;
const sorted = [...ms].sort((a, b) => a - b);
const rank = (p) => sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1];
const f = (x) => x.toFixed(3);
console.log(`CRM_BENCH requests=${count} duration_s=${f(seconds)} rps=${(count / seconds).toFixed(2)} ` +
  `p50_ms=${f(rank(0.5))} p90_ms=${f(rank(0.9))} p99_ms=${f(rank(0.99))} max_ms=${f(sorted.at(-1))} ` +
  `non_2xx=${errors} socket_errors=0`);
JS
)" || { fail_case signup "the sign-up client failed"; return 0; }
    record signup 1 "$line"
    printf '  %-14s %d sign-ups: %10.1f req/s   p50 %8.3f ms   p99 %8.3f ms\n' signup "$SIGNUPS" \
        "$(kv rps "$line")" "$(kv p50_ms "$line")" "$(kv p99_ms "$line")"
    (( $(kv non_2xx "$line") == 0 )) || fail_case signup "$(kv non_2xx "$line") sign-ups did not answer 201"
}

# ---------------------------------------------------------------- the record cases

BIG_SCHEMA=""
RECORDS_READY=0

# psql as the superuser on database crm, bare values.
crm_sql() {
    as_postgres "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$CRM_PG_HOST" -p "$CRM_PG_PORT" \
        -U postgres -d crm "$@"
}

# A fresh access token of the big tenant's owner (scripts/gen-data.sh).
big_token() { access_token_as big-owner@example.com "$SECRETS_DIR/big.pw"; }

# The data of the record cases: scripts/gen-data.sh does nothing when the
# stack already holds it; the timing of each step is in var/bench/gen-data.json.
records_data() {
    say ""
    say "== record data: scripts/gen-data.sh bench --tenants $GEN_TENANTS --customers $GEN_CUSTOMERS --activities $GEN_ACTIVITIES"
    if ! "$CRM_ROOT/scripts/gen-data.sh" bench --tenants "$GEN_TENANTS" --customers "$GEN_CUSTOMERS" \
            --activities "$GEN_ACTIVITIES"; then
        fail_case records "scripts/gen-data.sh failed: no record cases"
        return 0
    fi
    BIG_SCHEMA="$(crm_sql -c "SELECT 't_' || id FROM public.tenants WHERE slug = 'big'")"
    [[ -n "$BIG_SCHEMA" ]] || { fail_case records "no tenant 'big' after scripts/gen-data.sh"; return 0; }
    # what the generation wrote is on disk before anything is measured
    crm_sql -c CHECKPOINT >/dev/null && sync
    RECORDS_READY=1
}

# Deletes the customers cust_create made (ids above the generated ones), with
# their audit and outbox rows, so that every run sees the generated data.
records_cleanup() {
    local n
    n="$(crm_sql -v schema="$BIG_SCHEMA" -v max="$GEN_CUSTOMERS" <<'SQL'
SET search_path = :"schema";
WITH c AS (DELETE FROM customers WHERE id > :max RETURNING id),
a AS (DELETE FROM audit_log WHERE object = 'customers' AND record_id > :max),
o AS (DELETE FROM outbox WHERE object = 'customers' AND record_id > :max)
SELECT count(*) FROM c;
SQL
)" || { warn "could not delete the customers of cust_create"; return 0; }
    if (( n > 0 )); then
        say "  (deleted the $n customers cust_create made; VACUUM customers)"
        crm_sql -c "VACUUM (ANALYZE) $BIG_SCHEMA.customers" >/dev/null || warn "VACUUM $BIG_SCHEMA.customers failed"
    fi
}

# Reads the files of the big tenant's tables and indexes once, so that the
# record cases find them in the OS page cache whether the data was just
# generated or the stack was restarted on it (PostgreSQL's own cache,
# shared_buffers, is 256MB: most of a 1,000,000-customer tenant lives in the
# OS page cache).
records_warm() {
    local files
    files="$(crm_sql -v schema="$BIG_SCHEMA" <<'SQL'
SELECT current_setting('data_directory') || '/' || pg_relation_filepath(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :'schema' AND c.relkind IN ('r', 'i', 't') AND pg_relation_size(c.oid) > 0;
SQL
)" || { warn "could not list the files of $BIG_SCHEMA"; return 0; }
    # a relation over 1GB is in segments: FILE, FILE.1, …
    while IFS= read -r f; do cat -- "$f" "$f".[0-9]* 2>/dev/null || true; done <<<"$files" >/dev/null
}

# The q terms: 300 from the data, the same every run (setseed): 2- and
# 3-character pieces of company names without their legal form, 4- to 7-digit
# pieces of phone numbers.
records_terms() {
    crm_sql -v schema="$BIG_SCHEMA" -v n="$GEN_CUSTOMERS" >"$TMP/terms.txt" <<'SQL'
SET search_path = :"schema";
SELECT setseed(0.31) \gset seed_
WITH pick AS (
	SELECT k, 1 + floor(random() * :n)::bigint AS id FROM generate_series(1, 300) k),
c AS (
	SELECT p.k, regexp_replace(c.name, '(股份有限公司|有限责任公司|集团有限公司|有限公司分公司|有限公司)$', '') AS core,
		coalesce(c._phone_norm, '') AS phone, random() AS r1, random() AS r2
	FROM pick p JOIN customers c ON c.id = p.id)
SELECT CASE
	WHEN k % 5 IN (0, 1) THEN substr(core, 1 + floor(r1 * (length(core) - 1))::int, 2)
	WHEN k % 5 IN (2, 3) THEN substr(core, 1 + floor(r1 * (length(core) - 2))::int, 3)
	ELSE substr(phone, 1 + floor(r1 * (length(phone) - 6))::int, 4 + floor(r2 * 4)::int) END
FROM c WHERE length(core) >= 3 AND (k % 5 < 4 OR length(phone) >= 7)
ORDER BY k;
SQL
}

# The first 50 pages of the customer list, one client, following next_cursor:
# records cust_walk and leaves page 50's cursor in $TMP/page50.cursor.
records_walk() {
    local out line token
    say ""
    say "== cust_walk: GET /api/v1/customers?limit=50, pages 1 to 50 by next_cursor (one client)"
    token="$(big_token)" || { fail_case cust_walk "could not log in"; return 0; }
    out="$(CRM_BENCH_TOKEN="$token" node --input-type=module - "$BASE_URL" <<'JS'
const [base] = process.argv.slice(2);
const headers = { authorization: `Bearer ${process.env.CRM_BENCH_TOKEN}`, 'user-agent': 'crm-bench/1 (walk)' };
const ms = [];
let cursor = null, page50 = null, errors = 0;
const t0 = performance.now();
for (let page = 1; page <= 50; page++) {
  if (page === 50) page50 = cursor;
  const url = `${base}/api/v1/customers?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
  const start = performance.now();
  const res = await fetch(url, { headers });
  const text = await res.text();
  ms.push(performance.now() - start);
  if (res.status !== 200) {
    errors++;
    console.error(`page ${page} answered ${res.status}: ${text.slice(0, 200)}`);
    break;
  }
  cursor = JSON.parse(text).next_cursor;
  if (!cursor) { console.error(`page ${page} is the last one`); errors++; break; }
}
const seconds = (performance.now() - t0) / 1000;
const sorted = [...ms].sort((a, b) => a - b);
const rank = (p) => sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1];
const f = (x) => x.toFixed(3);
console.log(`CRM_BENCH requests=${ms.length} duration_s=${f(seconds)} rps=${(ms.length / seconds).toFixed(2)} ` +
  `p50_ms=${f(rank(0.5))} p90_ms=${f(rank(0.9))} p99_ms=${f(rank(0.99))} max_ms=${f(sorted.at(-1))} ` +
  `non_2xx=${errors} socket_errors=0`);
if (page50) console.log(`CURSOR ${page50}`);
JS
)" || { fail_case cust_walk "the walking client failed"; return 0; }
    line="$(grep -m1 '^CRM_BENCH ' <<<"$out")"
    record cust_walk 1 "$line"
    printf '  %-14s %d pages:    %10.1f req/s   p50 %8.3f ms   p99 %8.3f ms   max %8.3f ms\n' cust_walk \
        "$(kv requests "$line")" "$(kv rps "$line")" "$(kv p50_ms "$line")" "$(kv p99_ms "$line")" "$(kv max_ms "$line")"
    (( $(kv non_2xx "$line") == 0 )) || fail_case cust_walk "a page did not answer 200"
    sed -n 's/^CURSOR //p' <<<"$out" >"$TMP/page50.cursor"
}

# rec_wrk_once SECONDS URL MODE TOKEN — one wrk run of tests/load/records.lua
# (MODE ids, terms, create) or tests/load/report.lua (MODE plain).
rec_wrk_once() {
    local out script="$RECORDS_LUA"
    [[ "$3" == plain ]] && script="$LUA"
    out="$(CRM_BENCH_TOKEN="$4" CRM_BENCH_MODE="$3" CRM_BENCH_MAX_ID="$GEN_CUSTOMERS" \
        CRM_BENCH_TERMS_FILE="$TMP/terms.txt" CRM_BENCH_REPORT_LUA="$LUA" \
        wrk -t "$THREADS" -c "$CONNECTIONS" -d "${1}s" -s "$script" "$2" 2>&1)" ||
        { printf '%s\n' "$out" >&2; return 1; }
    grep -m1 '^CRM_BENCH ' <<<"$out" || { printf '%s\n' "$out" >&2; return 1; }
}

# rec_case CASE MODE PATH WHAT — wrk_case as the big tenant's owner (a fresh
# token per run); WHAT describes the requests.
rec_case() {
    local name="$1" mode="$2" url="$BASE_URL$3" token line i errors=0
    say ""
    say "== $name: $4 (wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $RUNS runs)"
    token="$(big_token)" || { fail_case "$name" "could not log in"; return 0; }
    if (( WARMUP > 0 )); then
        rec_wrk_once "$WARMUP" "$url" "$mode" "$token" >/dev/null || { fail_case "$name" "wrk failed"; return 0; }
    fi
    for (( i = 1; i <= RUNS; i++ )); do
        token="$(big_token)" || { fail_case "$name" "could not log in"; return 0; }
        line="$(rec_wrk_once "$DURATION" "$url" "$mode" "$token")" || { fail_case "$name" "wrk failed"; return 0; }
        record "$name" "$i" "$line"
        show_run "$name" "$i" "$line"
        errors=$(( errors + $(kv non_2xx "$line") + $(kv socket_errors "$line") ))
    done
    (( errors == 0 )) || fail_case "$name" "$errors error answers or socket errors: the figures measure errors"
}

records_cases() {
    (( RECORDS_READY == 1 )) || return 0
    records_cleanup
    records_warm
    records_terms || { fail_case cust_q "could not pick the q terms"; : >"$TMP/terms.txt"; }
    rec_case cust_get ids /api/v1/customers "GET /api/v1/customers/{id}, id at random in 1..$GEN_CUSTOMERS"
    rec_case cust_list plain "/api/v1/customers?limit=50" "GET /api/v1/customers?limit=50"
    records_walk
    if [[ -s "$TMP/page50.cursor" ]]; then
        rec_case cust_page50 plain "/api/v1/customers?limit=50&cursor=$(cat "$TMP/page50.cursor")" \
            "GET /api/v1/customers?limit=50&cursor=<page 50>"
    else
        fail_case cust_page50 "no cursor of page 50"
    fi
    if [[ -s "$TMP/terms.txt" ]]; then
        rec_case cust_q terms "/api/v1/customers?limit=50" \
            "GET /api/v1/customers?limit=50&q=<one of $(wc -l <"$TMP/terms.txt") terms, e.g. $(head -n 5 "$TMP/terms.txt" | paste -sd' ')>"
    fi
    rec_case cust_create create /api/v1/customers 'POST /api/v1/customers {"name": <new>, …, "force": true}'
    records_cleanup
}

# ---------------------------------------------------------------- the web app

# web_bench — scripts/bench-web.mjs against this stack in Chromium: the first
# screen's JavaScript and CSS (gzip; target <= 300 KB) and the customer list's
# time to 50 rows (p50, min, max of CRM_BENCH_WEB_RUNS loads, default 10). Its
# lines are printed here and its figures go into latest.json under "web".
# Builds web/dist first if it is stale (scripts/web.sh).
web_bench() {
    local out="$TMP/web.json"
    say ""
    say "== web: scripts/bench-web.mjs (Chromium; the first screen's JS+CSS, the customer list to 50 rows)"
    [[ -x "${CRM_CHROMIUM:-/usr/bin/chromium}" ]] ||
        { fail_case web "${CRM_CHROMIUM:-/usr/bin/chromium} not found (scripts/setup.sh installs chromium)"; return 0; }
    "$CRM_ROOT/scripts/web.sh" || { fail_case web "scripts/web.sh failed"; return 0; }
    node "$CRM_ROOT/scripts/bench-web.mjs" --base "$BASE_URL" --runs "${CRM_BENCH_WEB_RUNS:-10}" --out "$out" ||
        { fail_case web "scripts/bench-web.mjs failed"; return 0; }
    node - "$RESULTS" "$out" <<'JS' || fail_case web "could not add the web figures to $RESULTS"
const fs = require('node:fs');
const [results, web] = process.argv.slice(2);
const doc = JSON.parse(fs.readFileSync(results, 'utf8'));
doc.web = JSON.parse(fs.readFileSync(web, 'utf8'));
fs.writeFileSync(results, JSON.stringify(doc, null, 2) + '\n');
console.log('web figures written to ' + results + ' ("web")');
JS
}

# ---------------------------------------------------------------- automation

# automation_bench — scripts/bench-automation.mjs against this stack, in a
# workspace of its own (bench-auto): lead created → the assignee sees the
# `assigned` notification (p50, p99 of CRM_BENCH_AUTOMATION_LEADS leads, default
# 100; target p50 <= 1 s), automation_event() per outbox event (p50, p99), and
# CRM_BENCH_AUTOMATION_TIMERS task reminders (default 10,000) due on the same
# second (how many fire within 5 s). Its lines are printed here and its
# figures go into latest.json under "automation".
automation_bench() {
    say ""
    say "== automation: scripts/bench-automation.mjs (lead to owner, rule evaluation, timers)"
    node "$CRM_ROOT/scripts/bench-automation.mjs" --base "$BASE_URL" --results "$RESULTS" ||
        fail_case automation "scripts/bench-automation.mjs failed"
}

# ---------------------------------------------------------------- the report

# Picks each case's median run, prints the table and writes latest.json.
report() {
    say ""
    node - "$TMP/runs.txt" "$RESULTS" <<JS
const fs = require('node:fs');
const [runsFile, out] = process.argv.slice(2);
const order = ['nginx_return', 'fastcgi_floor', 'me', 'pgbench', 'signup',
  'cust_get', 'cust_list', 'cust_walk', 'cust_page50', 'cust_q', 'cust_create'];
const byCase = {};
for (const line of fs.readFileSync(runsFile, 'utf8').split('\n').filter(Boolean)) {
  const kv = Object.fromEntries(line.split(' ').map((p) => p.split('=')));
  const num = (k) => Number(kv[k]);
  (byCase[kv.case] ||= []).push({
    run: num('run'), rps: num('rps'), p50_ms: num('p50_ms'), p90_ms: num('p90_ms'),
    p99_ms: num('p99_ms'), max_ms: num('max_ms'), requests: num('requests'),
    errors: num('non_2xx') + num('socket_errors'),
  });
}
const round = (x, d) => Math.round(x * 10 ** d) / 10 ** d;
const cases = {};
for (const name of order) {
  const runs = byCase[name];
  if (!runs) continue;
  const median = [...runs].sort((a, b) => a.rps - b.rps)[Math.floor((runs.length - 1) / 2)];
  cases[name] = {
    rps: round(median.rps, 1), p50_ms: round(median.p50_ms, 3), p99_ms: round(median.p99_ms, 3),
    median_run: median.run, errors: runs.reduce((n, r) => n + r.errors, 0),
    runs: runs.map((r) => ({ rps: round(r.rps, 1), p50_ms: r.p50_ms, p99_ms: r.p99_ms, requests: r.requests })),
  };
}
const ratio = (a, b) => (cases[a] && cases[b] && cases[b].rps > 0 ? round(cases[a].rps / cases[b].rps, 3) : null);
const doc = {
  cases,
  ratios: { me_over_fastcgi_floor: ratio('me', 'fastcgi_floor'), me_over_pgbench: ratio('me', 'pgbench'),
    cust_get_over_pgbench: ratio('cust_get', 'pgbench') },
  records: fs.existsSync('$VAR_DIR/gen-data.json') && '$RECORDS' === '1'
    ? JSON.parse(fs.readFileSync('$VAR_DIR/gen-data.json', 'utf8')) : null,
  config: {
    connections: $CONNECTIONS, threads: $THREADS, duration: $DURATION, runs: $RUNS,
    warmup: $WARMUP, signups: $SIGNUPS, pgbench_scale: $PGBENCH_SCALE,
    crm_workers: Number(process.env.CRM_WORKERS || 8), cpus: require('node:os').availableParallelism(),
    loadavg_start: '$LOAD_START', loadavg_end: require('node:fs').readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  },
  measured_at: new Date().toISOString(),
};
fs.writeFileSync(out, JSON.stringify(doc, null, 2) + '\n');
const pad = (s, n) => String(s).padStart(n);
console.log('case              req/s    p50 ms    p99 ms');
for (const [name, c] of Object.entries(cases))
  console.log(name.padEnd(14) + pad(c.rps.toFixed(1), 10) + pad(c.p50_ms.toFixed(2), 10) + pad(c.p99_ms.toFixed(2), 10)
    + (c.errors ? '   (' + c.errors + ' errors)' : ''));
const show = (x) => (x === null ? 'n/a' : x.toFixed(3));
console.log('');
console.log('me/fastcgi_floor = ' + show(doc.ratios.me_over_fastcgi_floor) + '   (target >= 0.40)');
console.log('me/pgbench       = ' + show(doc.ratios.me_over_pgbench) + '   (target >= 0.25)');
if (cases.signup) console.log('signup p50       = ' + cases.signup.p50_ms.toFixed(1) + ' ms   (target <= 300 ms)');
if (cases.cust_get) console.log('cust_get/pgbench = ' + show(doc.ratios.cust_get_over_pgbench) + '   (target >= 0.25)');
for (const name of ['cust_list', 'cust_walk', 'cust_page50'])
  if (cases[name]) console.log((name + ' p99').padEnd(17) + '= ' + cases[name].p99_ms.toFixed(2) + ' ms   (target <= 10 ms)');
if (cases.cust_q) console.log('cust_q p99       = ' + cases.cust_q.p99_ms.toFixed(2) + ' ms   (target <= 50 ms)');
if (doc.records) console.log('record data: ' + doc.records.mark + ', generated in ' + doc.records.seconds.total + ' s (' + doc.records.sizes + ')');
console.log('');
console.log('load average ' + doc.config.loadavg_start + ' at the start, ' + doc.config.loadavg_end + ' at the end (' + doc.config.cpus + ' CPUs)');
console.log('written to ' + out);
JS
}

main() {
    [[ $# -eq 0 ]] || die "usage: scripts/bench.sh (settings by environment, see the header)"
    check_config
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    TMP="$(mktemp -d /tmp/crm-bench.XXXXXX)"
    chmod 711 "$TMP"    # the postgres user writes pgbench's logs below it
    : >"$TMP/runs.txt"

    # Taken before our own start-up adds to it.
    LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
    if awk -v l="${LOAD_START%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
        warn "load average $LOAD_START on $(nproc) CPUs: other work is running, the figures will be low and noisy"
    fi
    stack_up
    bench_tenant
    if (( RECORDS == 1 )); then records_data; fi
    say "bench: $CONNECTIONS connections, $THREADS threads, ${DURATION}s x $RUNS runs per case" \
        "(${WARMUP}s warm-up), $(nproc) CPUs, ${CRM_WORKERS:-8} crm-api workers"

    wrk_case nginx_return /__nginx_floor
    wrk_case fastcgi_floor /api/v1/version
    wrk_case me /api/v1/me token
    pgbench_case
    signup_case
    records_cases

    report
    web_bench
    automation_bench
    if (( FAILURES > 0 )); then
        warn "$FAILURES case(s) failed or saw errors: see above"
        return 1
    fi
}

main "$@"
