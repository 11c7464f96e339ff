# shellcheck shell=bash disable=SC2034  # the variables set here are used by the callers
# Shared shell helpers for scripts/*.sh — sourced, never run.
#
# Provides: CRM_ROOT (absolute repo root), say/warn/die, profile settings
# (profile_init), pid-file helpers and a polling wait.

CRM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

say()  { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# profile_init PROFILE — sets the names every script uses for that profile.
profile_init() {
    PROFILE="$1"
    case "$PROFILE" in
        dev)   HTTP_PORT=8080;  PG_PORT=5432 ;;
        test)  HTTP_PORT=18080; PG_PORT=15432 ;;
        bench) HTTP_PORT=28080; PG_PORT=25432 ;;
        *)     die "unknown profile '$PROFILE' (dev, test or bench)" ;;
    esac
    VAR_DIR="$CRM_ROOT/var/$PROFILE"
    RUN_DIR="$VAR_DIR/run"
    LOG_DIR="$VAR_DIR/log"
    SECRETS_DIR="$VAR_DIR/secrets"
    PG_DATA="$VAR_DIR/pg"
    REDIS_SOCK="$RUN_DIR/redis.sock"
    API_SOCK="$RUN_DIR/crm-api.sock"
    BASE_URL="http://127.0.0.1:$HTTP_PORT"
}

# pid_read FILE — prints the pid on the first line of FILE (nothing if absent).
pid_read() {
    local pid=""
    [[ -r "$1" ]] && read -r pid <"$1" 2>/dev/null
    [[ "$pid" =~ ^[0-9]+$ ]] && printf '%s\n' "$pid"
    return 0
}

# pid_alive PID — true if PID names a live process (zombies count as dead).
pid_alive() {
    [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
    [[ "$state" != "Z" ]]
}

# pidfile_alive FILE — prints the pid and succeeds if FILE names a live process.
pidfile_alive() {
    local pid
    pid="$(pid_read "$1")"
    pid_alive "$pid" && printf '%s\n' "$pid"
}

# wait_until SECONDS COMMAND... — polls COMMAND every 0.1 s; fails on timeout.
wait_until() {
    local tries=$(( $1 * 10 )); shift
    while (( tries-- > 0 )); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

pid_dead() { ! pid_alive "$1"; }

# wait_pid_gone PID SECONDS — waits for PID to exit; fails on timeout.
wait_pid_gone() { wait_until "$2" pid_dead "$1"; }
