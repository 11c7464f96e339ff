#!/usr/bin/env bash
# scripts/setup.sh — installs what the project needs and the machine lacks (idempotent).
#
# Each Debian package is checked with dpkg-query; only if some are missing does it
# run `apt-get update` once and `apt-get install --no-install-recommends` of those.
# nodejs and npm are skipped when `node` and `npm` are already on PATH.
# Then `npm ci` in each folder with a package-lock.json whose node_modules is stale.
#
# The stack (scripts/stack.sh) never uses the system's postgresql, redis-server or
# nginx services: it runs its own on private sockets and ports. So that installing
# them does not start them either, a temporary /usr/sbin/policy-rc.d forbids service
# starts during the install (only when the machine has no policy-rc.d of its own).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# postgresql-contrib-15 (pg_trgm) is part of postgresql-15 on Debian 12.
# curl: stack.sh checks nginx with it; libcurl4-openssl-dev: crm-worker sends webhooks
# and e-mail with libcurl. chromium (driven by playwright-core) and
# fonts-noto-cjk (Chinese glyphs in screenshots): the web app's e2e tests.
PACKAGES=(
    build-essential pkg-config curl
    libfcgi-dev libpq-dev libhiredis-dev libjwt-dev libcjson-dev libsodium-dev libcurl4-openssl-dev libcmocka-dev
    postgresql-15 redis-server nginx wrk
    chromium fonts-noto-cjk
)
command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)

POLICY_RC=/usr/sbin/policy-rc.d

installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# Keep Debian's maintainer scripts from starting services while we install.
forbid_service_starts() {
    [[ -e "$POLICY_RC" ]] && return 0
    printf '#!/bin/sh\n# temporary, from scripts/setup.sh: no service starts during install\nexit 101\n' \
        >"$POLICY_RC"
    chmod 755 "$POLICY_RC"
    trap 'rm -f "$POLICY_RC"' EXIT
}

apt_install() {
    local log
    log="$(mktemp /tmp/crm-setup.XXXXXX.log)"
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get -q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600)
    if ! "${apt[@]}" update >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "apt-get update failed (log: $log)"
    fi
    if ! "${apt[@]}" install -y --no-install-recommends "$@" </dev/null >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "apt-get install failed (log: $log)"
    fi
    rm -f "$log"
}

install_packages() {
    local p missing=()
    for p in "${PACKAGES[@]}"; do
        installed "$p" || missing+=("$p")
    done
    if (( ${#missing[@]} == 0 )); then
        say "setup: Debian packages present"
        return 0
    fi
    [[ $EUID -eq 0 ]] || die "missing Debian packages (${missing[*]}): run scripts/setup.sh as root"
    say "setup: installing ${missing[*]} (this takes a few minutes)"
    forbid_service_starts
    apt_install "${missing[@]}"
    say "setup: installed ${#missing[@]} package(s)"
}

# npm ci where a lock file exists and node_modules is missing or older than it.
install_npm() {
    local dir
    for dir in "$CRM_ROOT" "$CRM_ROOT/web"; do
        [[ -f "$dir/package-lock.json" ]] || continue
        [[ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]] && continue
        say "setup: npm ci in $dir"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null) ||
            die "npm ci failed in $dir"
    done
}

install_packages
install_npm
