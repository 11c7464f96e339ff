#!/usr/bin/env bash
# scripts/test.sh — every test suite; what `make test` runs after building.
#
#   scripts/test.sh              all suites, against a fresh test stack (var/test/)
#   scripts/test.sh unit|api|faults|e2e one suite; the stack suites use the test stack if it runs,
#                                else start it (and stop it again at the end)
#
# Suites, in order, each only if present:
#   unit  every executable file in build/tests/unit (cmocka)
#   api   node --test tests/api/       with the env of `scripts/stack.sh env test`
#   faults node --test tests/faults/   PostgreSQL, Redis and worker failures (alone)
#   e2e   node --test tests/e2e/       when it holds *.test.mjs files
# After them the stack is stopped (so LeakSanitizer has spoken) and its crm-api,
# crm-worker and crmctl logs are searched for sanitizer reports: any is 1 failure.
# Each suite's output is shown and saved to var/test-logs/<suite>.log. The last
# line is `N passed, N failed`; the exit status is 1 when a test failed or a suite
# could not run. The stack is stopped on exit, also on failure or interrupt.
#
# Environment: CRM_BIN_DIR (the stack's binaries, e.g. a sanitizer build; read by
# stack.sh), CRM_UNIT_DIR (unit test binaries, default build/tests/unit),
# CRM_TEST_PROFILE (the stack profile to test against, default test; bench lets
# one try this script without disturbing a test stack in use).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CRM_ROOT"

STACK="$CRM_ROOT/scripts/stack.sh"
UNIT_DIR="${CRM_UNIT_DIR:-build/tests/unit}"
PROFILE="${CRM_TEST_PROFILE:-test}"
LOGS="$CRM_ROOT/var/$PROFILE-logs"
TEST_VAR="$CRM_ROOT/var/$PROFILE"
SANITIZED_LOGS=(crm-api crm-worker crmctl)
UNIT_TIMEOUT=300      # seconds per unit test binary
NODE_TIMEOUT=1800     # seconds per node suite

# The suites sign up many tenants from 127.0.0.1: lift the per-address sign-up
# limit on the test stack (the login limits stay as in production).
export CRM_SIGNUPS_PER_IP="${CRM_SIGNUPS_PER_IP:-1000000}"

PASSED=0
FAILED=0
STACK_STARTED=0
declare -A LOG_OFFSET=()   # stack log sizes when we started it: scan only what is new

# run_shown LOG COMMAND... — runs COMMAND, shows its output and appends it to LOG;
# returns COMMAND's exit status.
run_shown() {
    local log="$1" rc
    shift
    set +e
    "$@" 2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    set -e
    return "$rc"
}

# sum_counts REGEX FILE — adds up the numbers that REGEX's first group captures.
sum_counts() {
    sed -nE "s/$1.*/\\1/p" "$2" | awk '{ n += $1 } END { print n + 0 }'
}

# last_count REGEX FILE — the number REGEX captures on its last matching line.
last_count() {
    sed -nE "s/$1.*/\\1/p" "$2" | tail -n 1
}

tally() {  # SUITE PASSED FAILED
    say "$1: passed $2, failed $3"
    PASSED=$(( PASSED + $2 ))
    FAILED=$(( FAILED + $3 ))
}

could_not_run() {  # SUITE WHY
    say "$1: could not run: $2 (counted as 1 failed)"
    FAILED=$(( FAILED + 1 ))
}

banner() { printf '\n== %s\n' "$*"; }

# ---------------------------------------------------------------- the stack

stack_start() {
    local f
    for f in "${SANITIZED_LOGS[@]}"; do
        LOG_OFFSET[$f]=$(stat -c %s "$TEST_VAR/log/$f.log" 2>/dev/null || echo 0)
    done
    banner "stack: start $PROFILE"
    STACK_STARTED=1
    run_shown "$LOGS/stack.log" "$STACK" start "$PROFILE"
}

stack_stop() {
    (( STACK_STARTED )) || return 0
    banner "stack: stop $PROFILE"
    run_shown "$LOGS/stack.log" "$STACK" stop "$PROFILE" || warn "stack.sh stop $PROFILE failed"
    STACK_STARTED=0
    mkdir -p "$LOGS/stack-logs"
    cp -f "$TEST_VAR"/log/*.log "$LOGS/stack-logs/" 2>/dev/null || true
}

stack_running() { "$STACK" status "$PROFILE" >/dev/null 2>&1; }

on_exit() {
    local rc=$?
    stack_stop >&2
    exit "$rc"
}

# ---------------------------------------------------------------- suites

suite_unit() {
    local log="$LOGS/unit.log" bins bin out rc p f passed=0 failed=0
    banner "unit: $UNIT_DIR"
    : >"$log"
    if [[ ! -d "$UNIT_DIR" ]]; then
        say "unit: no $UNIT_DIR (skipped)"
        return 0
    fi
    mapfile -t bins < <(find "$UNIT_DIR" -type f -executable | sort)
    if (( ${#bins[@]} == 0 )); then
        say "unit: no test binaries in $UNIT_DIR (skipped)"
        return 0
    fi
    out="$(mktemp)"
    for bin in "${bins[@]}"; do
        : >"$out"
        rc=0
        CMOCKA_MESSAGE_OUTPUT=stdout run_shown "$out" timeout --foreground -k 10 "$UNIT_TIMEOUT" "$bin" || rc=$?
        cat "$out" >>"$log"
        p=$(sum_counts '^\[  PASSED  \] ([0-9]+) test' "$out")
        f=$(sum_counts '^\[  FAILED  \] ([0-9]+) test' "$out")
        if (( rc != 0 && f == 0 )); then
            say "unit: $bin exited with status $rc and no failure summary: counted as 1 failed" | tee -a "$log"
            f=1
        fi
        passed=$(( passed + p ))
        failed=$(( failed + f ))
    done
    rm -f "$out"
    tally unit "$passed" "$failed"
}

# suite_node NAME DIR — node's test runner on DIR, TAP output, stack env exported.
suite_node() {
    local name="$1" dir="$2" log="$LOGS/$1.log" rc=0 p f c
    banner "$name: node --test $dir/"
    : >"$log"
    command -v node >/dev/null || { could_not_run "$name" "node is not installed"; return 0; }
    (
        eval "$("$STACK" env "$PROFILE")"
        run_shown "$log" timeout --foreground -k 10 "$NODE_TIMEOUT" node --test --test-reporter=tap "$dir/"
    ) || rc=$?
    p=$(last_count '^# pass ([0-9]+)$' "$log")
    f=$(last_count '^# fail ([0-9]+)$' "$log")
    c=$(last_count '^# cancelled ([0-9]+)$' "$log")
    if [[ -z "$p" || -z "$f" ]]; then
        could_not_run "$name" "no TAP summary (exit status $rc)"
        return 0
    fi
    f=$(( f + ${c:-0} ))
    if (( rc != 0 && f == 0 )); then
        say "$name: node exited with status $rc and no failed test: counted as 1 failed"
        f=1
    fi
    tally "$name" "$p" "$f"
}

has_tests() { [[ -d "$1" ]] && [[ -n "$(find "$1" -type f -name '*.test.mjs' | head -n 1)" ]]; }

# The node suites that need the stack, in order. faults stops and restarts
# PostgreSQL, Redis and crm-api, so it runs after api, never beside it.
NODE_SUITES=(api faults e2e)

# STACK_OK=0 when the stack did not start.
stack_suites() {
    local which="$1" name
    for name in "${NODE_SUITES[@]}"; do
        [[ "$which" == all || "$which" == "$name" ]] || continue
        if ! has_tests "tests/$name"; then
            banner "$name"; say "$name: no *.test.mjs in tests/$name (skipped)"
        elif (( STACK_OK )); then
            suite_node "$name" "tests/$name"
        else
            could_not_run "$name" "the test stack did not start"
        fi
    done
}

# Sanitizer reports in what the stack logged since we started it.
sanitizer_check() {
    local f log found hits=""
    banner "sanitizers: ${SANITIZED_LOGS[*]} logs"
    for f in "${SANITIZED_LOGS[@]}"; do
        log="$TEST_VAR/log/$f.log"
        [[ -f "$log" ]] || continue
        found="$(tail -c +"$(( ${LOG_OFFSET[$f]:-0} + 1 ))" "$log" |
            grep -E 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' |
            sed "s|^|$f.log: |" || true)"
        [[ -n "$found" ]] && hits+="$found"$'\n'
    done
    if [[ -n "$hits" ]]; then
        printf '%s' "$hits" | head -n 100
        say "sanitizers: reports found (see $LOGS/stack-logs/): counted as 1 failed"
        FAILED=$(( FAILED + 1 ))
    else
        say "sanitizers: no reports"
    fi
}

# ---------------------------------------------------------------- main

main() {
    local which="${1:-all}"
    case "$which" in
        all|unit|api|faults|e2e) ;;
        *) die "usage: scripts/test.sh [unit|api|faults|e2e]" ;;
    esac
    [[ "$which" == all ]] && rm -rf "$LOGS"
    mkdir -p "$LOGS"
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    [[ "$which" == all || "$which" == unit ]] && suite_unit

    STACK_OK=1
    if [[ "$which" == all ]]; then
        banner "stack: fresh $PROFILE stack"
        "$STACK" stop "$PROFILE" >/dev/null 2>&1 || true
        rm -rf "$TEST_VAR"
        stack_start || { STACK_OK=0; could_not_run stack "scripts/stack.sh start $PROFILE failed"; }
    elif [[ "$which" != unit ]] && ! stack_running; then
        stack_start || { STACK_OK=0; could_not_run stack "scripts/stack.sh start $PROFILE failed"; }
    fi

    [[ "$which" != unit ]] && stack_suites "$which"

    if (( STACK_STARTED )); then
        stack_stop
        sanitizer_check
    fi

    printf '\n%d passed, %d failed\n' "$PASSED" "$FAILED"
    (( FAILED == 0 ))
}

main "$@"
