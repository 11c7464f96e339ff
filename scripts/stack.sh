#!/usr/bin/env bash
# scripts/stack.sh — the local CRM stack under var/<profile>/ (see docs/CONTRACTS.md).
#
#   scripts/stack.sh start|stop|restart|status <profile>     profiles: dev, test, bench
#   scripts/stack.sh env <profile>      prints `export CRM_…=…` lines for scripts and
#                                       tests: eval "$(scripts/stack.sh env test)"
#
# start  brings up, in order, each component whose pid file names no live process:
#        secrets, PostgreSQL 15 (a private cluster run as the `postgres` user, unix
#        socket only), Redis (unix socket only), `crmctl migrate` and `crmctl tenants
#        migrate` (every start), crm-api, crm-worker, nginx on 127.0.0.1:<port>;
#        in dev and test also an SMTP sink (scripts/smtp-sink.mjs on 127.0.0.1:<smtp
#        port>, mail written to var/<profile>/mail/) that crm-worker sends e-mail to.
# stop   stops what start started, by pid files only; succeeds when already stopped.
# status one line per component; exit 0 when all run, 3 otherwise.
#
# Environment:
#   CRM_BIN_DIR           where crm-api, crm-worker and crmctl are (default build/bin;
#                         a relative path is taken from the repo root)
#   CRM_WORKERS           crm-api pre-forked workers (default 8)
#   CRM_SMTP_URL, CRM_WEBHOOK_ALLOW_PRIVATE  set by dev and test (the sink, and 1 so
#                         webhooks reach local receivers); bench passes yours through
#   CRM_STACK_SKIP_APP=1  PostgreSQL, Redis and nginx only: no crmctl, crm-api or
#                         crm-worker (to work on the stack itself, or for ops)
#   CRM_*                 any other CRM_ variable (CRM_LOG_LEVEL, CRM_LOGIN_FAILS_PER_IP,
#                         …) passes through to the programs
# Passwords travel in environment variables only, never on command lines or in logs.
set -euo pipefail
umask 022
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CRM_ROOT"

PG_BIN=/usr/lib/postgresql/15/bin
BIN_DIR="${CRM_BIN_DIR:-build/bin}"
[[ "$BIN_DIR" == /* ]] || BIN_DIR="$CRM_ROOT/$BIN_DIR"
WORKERS="${CRM_WORKERS:-8}"
SKIP_APP="${CRM_STACK_SKIP_APP:-0}"
APPS=(crm-api crm-worker)
COMPONENTS=(postgres redis smtp-sink crm-api crm-worker nginx)

usage() { die "usage: scripts/stack.sh start|stop|restart|status|env dev|test|bench"; }
skip_app() { [[ "$SKIP_APP" == 1 ]]; }

require_root() {
    [[ $EUID -eq 0 ]] || die "stack.sh $1 must run as root (it runs PostgreSQL as the postgres user)"
}

# Paths end up in conninfo strings, sed replacements and nginx.conf: keep them plain.
check_paths() {
    [[ "$CRM_ROOT" =~ ^[A-Za-z0-9._/+@:=,~-]+$ ]] ||
        die "the repo path '$CRM_ROOT' has spaces or special characters; move the checkout"
    [[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || die "CRM_WORKERS must be a positive number, not '$WORKERS'"
    local sock="$RUN_DIR/.s.PGSQL.$PG_PORT"
    (( ${#sock} < 108 )) || die "socket path too long for a unix socket (${#sock} > 107): $sock"
}

# ---------------------------------------------------------------- layout, secrets

# The postgres user (the cluster) and nginx's www-data workers must reach var/<p>/:
# grant search (o+x, not read) on any ancestor that denies it, e.g. /root.
ensure_traversable() {
    runuser -u postgres -- test -x "$1" && return 0
    local path="" part parts
    IFS=/ read -ra parts <<<"${1#/}"
    for part in "${parts[@]}"; do
        path="$path/$part"
        runuser -u postgres -- test -x "$path" && continue
        say "granting search permission (chmod o+x) on $path so postgres and nginx can reach var/"
        chmod o+x "$path"
    done
}

prepare_dirs() {
    mkdir -p "$LOG_DIR" "$RUN_DIR" "$VAR_DIR/exports" "$VAR_DIR/redis" "$VAR_DIR/nginx"
    chmod 755 "$CRM_ROOT/var" "$VAR_DIR" "$LOG_DIR" "$VAR_DIR/nginx"
    chmod 750 "$VAR_DIR/exports" "$VAR_DIR/redis"
    # run/ holds the PostgreSQL socket and lock file: postgres writes it, root too.
    chown postgres:postgres "$RUN_DIR"
    chmod 755 "$RUN_DIR"
    ensure_traversable "$VAR_DIR"
}

random_b64() { head -c "$1" /dev/urandom | base64 -w0; }

# ensure_secret NAME BYTES [url] — creates secrets/NAME once (url: URL-safe alphabet,
# so that a password needs no quoting in a libpq conninfo string).
ensure_secret() {
    local file="$SECRETS_DIR/$1"
    [[ -s "$file" ]] && return 0
    (
        umask 077
        if [[ "${3:-}" == url ]]; then random_b64 "$2" | tr '+/' '-_'; else random_b64 "$2"; fi >"$file.tmp"
        mv "$file.tmp" "$file"
    )
}

ensure_secrets() {
    mkdir -p "$SECRETS_DIR"
    chmod 700 "$SECRETS_DIR"
    ensure_secret jwt.key 48
    ensure_secret pg_owner.pw 33 url
    ensure_secret pg_api.pw 33 url
    ensure_secret operator.pw 18 url
    chmod 600 "$SECRETS_DIR"/*
}

secret() { cat "$SECRETS_DIR/$1"; }

# db_url ROLE PASSWORD_FILE — libpq conninfo over the cluster's unix socket.
db_url() {
    printf 'host=%s port=%s dbname=crm user=%s password=%s' \
        "$RUN_DIR" "$PG_PORT" "$1" "$(secret "$2")"
}

# The environment of crmctl, crm-api and crm-worker (CONTRACTS.md).
app_env() {
    CRM_DATABASE_URL="$(db_url crm_api pg_api.pw)"
    CRM_ADMIN_DATABASE_URL="$(db_url crm_owner pg_owner.pw)"
    export CRM_DATABASE_URL CRM_ADMIN_DATABASE_URL
    export CRM_REDIS_URL="unix://$REDIS_SOCK"
    export CRM_JWT_KEY_FILE="$SECRETS_DIR/jwt.key"
    export CRM_SOCKET="$API_SOCK"
    export CRM_EXPORT_DIR="$VAR_DIR/exports"
    export CRM_WORKERS="$WORKERS"
    export CRM_PUBLIC_URL="$BASE_URL"
    # dev and test always use their own sink, whatever a shell that ran
    # `env <other profile>` exported; bench passes the caller's values through
    if sink_used; then
        export CRM_SMTP_URL="$SMTP_URL" CRM_WEBHOOK_ALLOW_PRIVATE=1
    fi
}

# ---------------------------------------------------------------- PostgreSQL

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

pg_pid() { pidfile_alive "$PG_DATA/postmaster.pid"; }

pg_init() {
    [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
    say "postgres: initdb $PG_DATA"
    rm -rf "$PG_DATA"
    mkdir -p "$PG_DATA"
    chown postgres:postgres "$PG_DATA"
    chmod 700 "$PG_DATA"
    if ! as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --encoding=UTF8 \
            --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 \
            >"$LOG_DIR/initdb.log" 2>&1; then
        cat "$LOG_DIR/initdb.log" >&2
        die "initdb failed (log: $LOG_DIR/initdb.log)"
    fi
    # Peer for the postgres superuser, SCRAM passwords for every other role.
    # There are no host lines: the cluster listens on no TCP address.
    cat >"$PG_DATA/pg_hba.conf" <<'EOF'
# TYPE  DATABASE  USER      METHOD        (written by scripts/stack.sh)
local   all       postgres  peer
local   all       all       scram-sha-256
EOF
    printf "\ninclude 'crm.conf'    # scripts/stack.sh rewrites it on every start\n" \
        >>"$PG_DATA/postgresql.conf"
    chown postgres:postgres "$PG_DATA/pg_hba.conf"
}

pg_write_conf() {
    {
        echo "# written by scripts/stack.sh on every start: change the script, not this file"
        echo "listen_addresses = ''"
        echo "port = $PG_PORT"
        echo "unix_socket_directories = '$RUN_DIR'"
        echo "max_connections = 200"
        # the bench tenant's million customers want their hot pages in memory
        if [[ "$PROFILE" == bench ]]; then echo "shared_buffers = 2GB"; else echo "shared_buffers = 256MB"; fi
        echo "log_line_prefix = '%m [%p] %q%u@%d '"
        if [[ "$PROFILE" != dev ]]; then
            echo "# $PROFILE data is thrown away: trade durability for speed"
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } >"$PG_DATA/crm.conf"
    chown postgres:postgres "$PG_DATA/crm.conf"
}

pg_start() {
    local pid
    pg_init
    pg_write_conf
    if pid="$(pg_pid)"; then
        say "postgres: running (pid $pid)"
    else
        rm -f "$PG_DATA/postmaster.pid"
        touch "$LOG_DIR/postgres.log"
        chown postgres:postgres "$LOG_DIR/postgres.log"
        chmod 640 "$LOG_DIR/postgres.log"
        if ! as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$LOG_DIR/postgres.log" \
                -w -t 60 start >/dev/null 2>&1; then
            tail -n 20 "$LOG_DIR/postgres.log" >&2
            die "postgres did not start (log: $LOG_DIR/postgres.log)"
        fi
        say "postgres: started (pid $(pg_pid)), socket $RUN_DIR/.s.PGSQL.$PG_PORT"
    fi
    pg_bootstrap
}

# Roles, database, extension and schema rights; idempotent, run on every start.
# Passwords come from the environment (\getenv) and statements carrying them are
# never logged, not even when they fail.
pg_bootstrap() {
    (
        export CRM_BOOT_OWNER_PW CRM_BOOT_API_PW
        CRM_BOOT_OWNER_PW="$(secret pg_owner.pw)"
        CRM_BOOT_API_PW="$(secret pg_api.pw)"
        export PGOPTIONS="-c client_min_messages=warning -c log_statement=none -c log_min_error_statement=panic"
        as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$PG_PORT" \
            -U postgres -d postgres >/dev/null <<'SQL'
\getenv owner_pw CRM_BOOT_OWNER_PW
\getenv api_pw CRM_BOOT_API_PW
SELECT 'CREATE ROLE crm_owner' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crm_owner') \gexec
SELECT 'CREATE ROLE crm_api' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crm_api') \gexec
ALTER ROLE crm_owner LOGIN CREATEROLE PASSWORD :'owner_pw';
ALTER ROLE crm_api LOGIN PASSWORD :'api_pw';
SELECT 'CREATE DATABASE crm OWNER crm_owner ENCODING UTF8'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'crm') \gexec
REVOKE ALL ON DATABASE crm FROM PUBLIC;
GRANT CONNECT ON DATABASE crm TO crm_api;
\connect crm
-- pg_trgm lives in schema ext, which tenant roles may use (they have no
-- right on public); sql/platform/002_trgm.sql grants that usage.
CREATE SCHEMA IF NOT EXISTS ext AUTHORIZATION crm_owner;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA ext;
SELECT 'ALTER EXTENSION pg_trgm SET SCHEMA ext'
 WHERE (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm') <> 'ext' \gexec
ALTER SCHEMA public OWNER TO crm_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO crm_api;
SQL
    ) || die "postgres: bootstrap of roles and database crm failed (log: $LOG_DIR/postgres.log)"
}

pg_stop() {
    local pid
    if ! pid="$(pg_pid)"; then
        say "postgres: stopped"
        return 0
    fi
    if ! as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1; then
        warn "pg_ctl stop failed; sending SIGQUIT to postgres (pid $pid)"
        kill -QUIT "$pid" 2>/dev/null || true
        wait_pid_gone "$pid" 10 || warn "postgres (pid $pid) is still running"
    fi
    say "postgres: stopped"
}

# ---------------------------------------------------------------- Redis

redis_ping() { [[ "$(redis-cli -s "$REDIS_SOCK" ping 2>/dev/null)" == PONG ]]; }

redis_write_conf() {
    {
        echo "# written by scripts/stack.sh on every start: change the script, not this file"
        echo "daemonize yes"
        echo "port 0"
        echo "unixsocket $REDIS_SOCK"
        echo "unixsocketperm 700"
        echo "dir $VAR_DIR/redis"
        echo "pidfile $RUN_DIR/redis.pid"
        echo "logfile $LOG_DIR/redis.log"
        echo "always-show-logo no"
        if [[ "$PROFILE" == dev ]]; then
            echo "save 3600 1 300 100 60 10000"
            echo "dbfilename dump.rdb"
        else
            echo 'save ""'
            echo "appendonly no"
        fi
    } >"$VAR_DIR/redis.conf"
}

redis_start() {
    local pidfile="$RUN_DIR/redis.pid" pid
    if pid="$(pidfile_alive "$pidfile")"; then
        say "redis: running (pid $pid)"
        return 0
    fi
    rm -f "$pidfile"
    redis_write_conf
    redis-server "$VAR_DIR/redis.conf" </dev/null >>"$LOG_DIR/redis.log" 2>&1 ||
        { tail -n 20 "$LOG_DIR/redis.log" >&2; die "redis did not start"; }
    if ! wait_until 15 redis_ping; then
        tail -n 20 "$LOG_DIR/redis.log" >&2
        die "redis does not answer PING on $REDIS_SOCK (log: $LOG_DIR/redis.log)"
    fi
    say "redis: started (pid $(pid_read "$pidfile")), socket $REDIS_SOCK"
}

redis_stop() {
    local pidfile="$RUN_DIR/redis.pid" pid mode=nosave
    if ! pid="$(pidfile_alive "$pidfile")"; then
        rm -f "$pidfile"
        say "redis: stopped"
        return 0
    fi
    [[ "$PROFILE" == dev ]] && mode=save
    redis-cli -s "$REDIS_SOCK" shutdown "$mode" >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    stop_wait redis "$pid" 10
    rm -f "$pidfile" "$REDIS_SOCK"
    say "redis: stopped"
}

# ---------------------------------------------------------------- SMTP sink

# The sink of dev and test (scripts/smtp-sink.mjs): crm-worker's e-mail lands in
# var/<profile>/mail/ instead of leaving the machine. Webhooks there go to local
# receivers, so the address guard is off. bench sends no e-mail and keeps it on.
sink_init() {
    case "$PROFILE" in
        dev)   SMTP_PORT=2525 ;;
        test)  SMTP_PORT=12525 ;;
        *)     SMTP_PORT="" ;;
    esac
    MAIL_DIR="$VAR_DIR/mail"
    if [[ -n "$SMTP_PORT" ]]; then
        SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
        ALLOW_PRIVATE=1
    else
        SMTP_URL=""
        ALLOW_PRIVATE=0
    fi
}

sink_used() { [[ -n "$SMTP_PORT" ]]; }

sink_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null; }

sink_start() {
    local pidfile="$RUN_DIR/smtp-sink.pid" log="$LOG_DIR/smtp-sink.log" pid rc=0
    sink_used || return 0
    if pid="$(pidfile_alive "$pidfile")"; then
        say "smtp-sink: running (pid $pid)"
        return 0
    fi
    command -v node >/dev/null || die "smtp-sink: node is not installed (scripts/setup.sh installs it)"
    rm -f "$pidfile"
    mkdir -p "$MAIL_DIR"
    chmod 750 "$MAIL_DIR"
    printf '== %s stack.sh: starting smtp-sink\n' "$(date -Is)" >>"$log"
    # shellcheck disable=SC2016  # $$, $0 and $@ are the child shell's
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" node "$CRM_ROOT/scripts/smtp-sink.mjs" \
        --port "$SMTP_PORT" --dir "$MAIL_DIR" </dev/null >>"$log" 2>&1 &
    wait_until 10 test -s "$pidfile" || die "smtp-sink did not start (log: $log)"
    pid="$(pid_read "$pidfile")"
    wait_ready "$pid" 10 sink_listening || rc=$?
    case $rc in
        0) say "smtp-sink: started (pid $pid), $SMTP_URL, mail in $MAIL_DIR" ;;
        2) tail -n 10 "$log" >&2; die "smtp-sink exited during start-up (log: $log)" ;;
        *) tail -n 10 "$log" >&2; die "smtp-sink does not listen on 127.0.0.1:$SMTP_PORT (log: $log)" ;;
    esac
}

sink_stop() {
    local pidfile="$RUN_DIR/smtp-sink.pid" pid
    sink_used || return 0
    if pid="$(pidfile_alive "$pidfile")"; then
        kill -TERM "$pid" 2>/dev/null || true
        stop_wait smtp-sink "$pid" 10
    fi
    rm -f "$pidfile"
    say "smtp-sink: stopped"
}

# ---------------------------------------------------------------- crmctl, crm-api, crm-worker

need_bins() {
    local name
    for name in crmctl "${APPS[@]}"; do
        [[ -x "$BIN_DIR/$name" ]] || die "$BIN_DIR/$name not found: build it first (make), \
point CRM_BIN_DIR at the binaries, or set CRM_STACK_SKIP_APP=1 to start the stack without them"
    done
}

# crmctl ARGS... — runs crmctl with the stack's environment, output to log/crmctl.log.
crmctl_run() {
    local log="$LOG_DIR/crmctl.log"
    printf '== %s crmctl %s\n' "$(date -Is)" "$*" >>"$log"
    if ! "$BIN_DIR/crmctl" "$@" </dev/null >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "crmctl $* failed (log: $log)"
    fi
}

run_migrations() {
    crmctl_run migrate
    crmctl_run tenants migrate --jobs 2
    say "migrations: platform and tenant schemas are current"
    # The platform operator of this stack (its password is in secrets/).
    crmctl_run operators create --email operator@crm.local --name Operator \
        --password-file "$SECRETS_DIR/operator.pw"
}

# wait_ready PID SECONDS COMMAND... — polls COMMAND while PID lives.
# Returns 0 when COMMAND succeeds, 1 on timeout, 2 when PID died.
wait_ready() {
    local pid="$1" tries=$(( $2 * 10 ))
    shift 2
    while (( tries-- > 0 )); do
        "$@" >/dev/null 2>&1 && return 0
        pid_alive "$pid" || return 2
        sleep 0.1
    done
    return 1
}

# app_launch NAME — starts build/bin/NAME in its own session (its own process
# group, away from the caller's terminal); the process writes its pid before exec.
app_launch() {
    local name="$1" pidfile="$RUN_DIR/$1.pid" log="$LOG_DIR/$1.log"
    rm -f "$pidfile"
    printf '== %s stack.sh: starting %s\n' "$(date -Is)" "$name" >>"$log"
    # shellcheck disable=SC2016  # $$, $0 and $@ are the child shell's
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$BIN_DIR/$name" \
        </dev/null >>"$log" 2>&1 &
    wait_until 10 test -s "$pidfile" || die "$name did not start (log: $log)"
    pid_read "$pidfile"
}

app_failed() {  # NAME WHY
    tail -n 30 "$LOG_DIR/$1.log" >&2
    die "$1 $2 (log: $LOG_DIR/$1.log)"
}

api_start() {
    local pid rc=0
    if pid="$(pidfile_alive "$RUN_DIR/crm-api.pid")"; then
        say "crm-api: running (pid $pid)"
        return 0
    fi
    rm -f "$API_SOCK"
    pid="$(app_launch crm-api)"
    wait_ready "$pid" 30 test -S "$API_SOCK" || rc=$?
    case $rc in
        0) say "crm-api: started (pid $pid, $WORKERS workers), socket $API_SOCK" ;;
        2) app_failed crm-api "exited during start-up" ;;
        *) app_failed crm-api "did not create $API_SOCK within 30 s" ;;
    esac
}

worker_heartbeat() { [[ -n "$(redis-cli -s "$REDIS_SOCK" --scan --pattern "worker:*:$1")" ]]; }

worker_start() {
    local pid rc=0
    if pid="$(pidfile_alive "$RUN_DIR/crm-worker.pid")"; then
        say "crm-worker: running (pid $pid)"
        return 0
    fi
    pid="$(app_launch crm-worker)"
    wait_ready "$pid" 10 worker_heartbeat "$pid" || rc=$?
    case $rc in
        0) say "crm-worker: started (pid $pid)" ;;
        2) app_failed crm-worker "exited during start-up" ;;
        *) warn "crm-worker (pid $pid) runs but wrote no heartbeat key worker:*:$pid within 10 s" ;;
    esac
}

# stop_wait NAME PID SECONDS — after a polite signal: wait, then SIGKILL the
# process group that stack.sh created for it (or the pid alone).
stop_wait() {
    local name="$1" pid="$2"
    wait_pid_gone "$pid" "$3" && return 0
    warn "$name (pid $pid) did not stop within $3 s: sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    wait_pid_gone "$pid" 5 || warn "$name (pid $pid) is still running"
}

app_stop() {  # NAME
    local pidfile="$RUN_DIR/$1.pid" pid
    if pid="$(pidfile_alive "$pidfile")"; then
        kill -TERM "$pid" 2>/dev/null || true
        stop_wait "$1" "$pid" 10
    fi
    rm -f "$pidfile"
    [[ "$1" == crm-api ]] && rm -f "$API_SOCK"
    say "$1: stopped"
}

# ---------------------------------------------------------------- nginx

sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

# The SPA comes from web/dist once it is built; until then a placeholder page.
web_root() {
    local web="$CRM_ROOT/web/dist"
    if [[ ! -f "$web/index.html" ]]; then
        web="$VAR_DIR/www"
        mkdir -p "$web"
        [[ -f "$web/index.html" ]] ||
            printf '<!doctype html><meta charset="utf-8"><title>CRM</title><p>The web app is not built yet (web/dist); the API is under /api/v1/.</p>\n' \
                >"$web/index.html"
    fi
    runuser -u www-data -- test -r "$web/index.html" ||
        warn "nginx workers (www-data) cannot read $web/index.html"
    printf '%s' "$web"
}

nginx_render() {
    local conf="$VAR_DIR/nginx.conf" web
    web="$(web_root)"
    sed -e "s|@PORT@|$HTTP_PORT|g" \
        -e "s|@RUN@|$(sed_escape "$RUN_DIR")|g" \
        -e "s|@LOG@|$(sed_escape "$LOG_DIR")|g" \
        -e "s|@VAR@|$(sed_escape "$VAR_DIR")|g" \
        -e "s|@ROOT@|$(sed_escape "$CRM_ROOT")|g" \
        -e "s|@WEB@|$(sed_escape "$web")|g" \
        -e "s|@WORKERS@|$WORKERS|g" \
        "$CRM_ROOT/nginx/nginx.conf.tmpl" >"$conf.tmp"
    mv "$conf.tmp" "$conf"
}

nginx_floor() { curl -fsS -o /dev/null --max-time 2 "$BASE_URL/__nginx_floor"; }

nginx_start() {
    local pidfile="$RUN_DIR/nginx.pid" pid out
    if pid="$(pidfile_alive "$pidfile")"; then
        say "nginx: running (pid $pid)"
        return 0
    fi
    rm -f "$pidfile"
    nginx_render
    local args=(-p "$VAR_DIR/nginx/" -c "$VAR_DIR/nginx.conf")
    out="$(nginx -q -t "${args[@]}" 2>&1)" || { printf '%s\n' "$out" >&2; die "nginx: $VAR_DIR/nginx.conf is invalid"; }
    nginx "${args[@]}" </dev/null >>"$LOG_DIR/nginx-error.log" 2>&1 ||
        { tail -n 10 "$LOG_DIR/nginx-error.log" >&2; die "nginx did not start"; }
    if ! wait_until 10 nginx_floor; then
        tail -n 10 "$LOG_DIR/nginx-error.log" >&2
        die "nginx does not answer $BASE_URL/__nginx_floor (log: $LOG_DIR/nginx-error.log)"
    fi
    say "nginx: started (pid $(pid_read "$pidfile")), $BASE_URL"
}

nginx_stop() {
    local pidfile="$RUN_DIR/nginx.pid" pid
    if pid="$(pidfile_alive "$pidfile")"; then
        kill -QUIT "$pid" 2>/dev/null || true
        stop_wait nginx "$pid" 10
    fi
    rm -f "$pidfile"
    say "nginx: stopped"
}

# ---------------------------------------------------------------- commands

cmd_start() {
    require_root start
    skip_app || need_bins
    prepare_dirs
    ensure_secrets
    pg_start
    redis_start
    sink_start
    if skip_app; then
        say "crm-api, crm-worker, migrations: skipped (CRM_STACK_SKIP_APP=1)"
    else
        app_env
        run_migrations
        api_start
        worker_start
    fi
    nginx_start
    say "stack $PROFILE is up: $BASE_URL"
}

cmd_stop() {
    require_root stop
    nginx_stop
    app_stop crm-api
    app_stop crm-worker
    sink_stop
    redis_stop
    pg_stop
}

component_pidfile() {
    case "$1" in
        postgres) echo "$PG_DATA/postmaster.pid" ;;
        *)        echo "$RUN_DIR/$1.pid" ;;
    esac
}

cmd_status() {
    local name pid down=0
    for name in "${COMPONENTS[@]}"; do
        if skip_app && [[ " ${APPS[*]} " == *" $name "* ]]; then
            printf '%-11s skipped (CRM_STACK_SKIP_APP=1)\n' "$name"
        elif [[ "$name" == smtp-sink ]] && ! sink_used; then
            printf '%-11s not used in %s\n' "$name" "$PROFILE"
        elif pid="$(pidfile_alive "$(component_pidfile "$name")")"; then
            printf '%-11s running (pid %s)\n' "$name" "$pid"
        else
            printf '%-11s stopped\n' "$name"
            down=1
        fi
    done
    (( down == 0 )) || exit 3
}

cmd_env() {
    [[ -s "$SECRETS_DIR/pg_api.pw" && -s "$SECRETS_DIR/pg_owner.pw" ]] ||
        die "no secrets in $SECRETS_DIR yet: run scripts/stack.sh start $PROFILE first"
    local kv
    for kv in \
        "CRM_DATABASE_URL=$(db_url crm_api pg_api.pw)" \
        "CRM_ADMIN_DATABASE_URL=$(db_url crm_owner pg_owner.pw)" \
        "CRM_REDIS_URL=unix://$REDIS_SOCK" \
        "CRM_JWT_KEY_FILE=$SECRETS_DIR/jwt.key" \
        "CRM_SOCKET=$API_SOCK" \
        "CRM_EXPORT_DIR=$VAR_DIR/exports" \
        "CRM_BASE_URL=$BASE_URL" \
        "CRM_VAR=$VAR_DIR" \
        "CRM_PG_HOST=$RUN_DIR" \
        "CRM_PG_PORT=$PG_PORT" \
        "CRM_SMTP_URL=$SMTP_URL" \
        "CRM_WEBHOOK_ALLOW_PRIVATE=$ALLOW_PRIVATE"; do
        printf "export %s='%s'\n" "${kv%%=*}" "${kv#*=}"
    done
}

main() {
    [[ $# -eq 2 ]] || usage
    profile_init "$2"
    sink_init
    check_paths
    case "$1" in
        start)   cmd_start ;;
        stop)    cmd_stop ;;
        restart) cmd_stop; cmd_start ;;
        status)  cmd_status ;;
        env)     cmd_env ;;
        *)       usage ;;
    esac
}

main "$@"
