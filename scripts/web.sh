#!/usr/bin/env bash
# scripts/web.sh — builds the web app (web/) into web/dist, which nginx serves.
#
# Installs web/node_modules with `npm ci` when it is missing or older than
# web/package-lock.json, then runs `npm run build` unless web/dist is newer than
# every source file, the lock file and the build configuration. Quiet on success;
# on failure it shows the tool's output. What `make web` (and so `make run` and
# `make test`) runs.
#
# Environment: CRM_WEB_FORCE=1 builds even when web/dist looks current.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WEB="$CRM_ROOT/web"
[[ -f "$WEB/package.json" ]] || die "no web/package.json"
command -v npm >/dev/null || die "npm is not installed: run scripts/setup.sh"
cd "$WEB"

log="$(mktemp /tmp/crm-web.XXXXXX.log)"
trap 'rm -f "$log"' EXIT

run_quiet() {  # WHAT COMMAND...
    local what="$1"
    shift
    if ! "$@" </dev/null >"$log" 2>&1; then
        grep -v 'Unknown user config' "$log" | tail -n 40 >&2
        die "web: $what failed"
    fi
}

# npm ci when node_modules is missing or older than the lock file (as setup.sh does).
if [[ ! "node_modules/.package-lock.json" -nt package-lock.json ]]; then
    run_quiet "npm ci" npm ci --no-audit --no-fund --loglevel=error
    touch node_modules/.package-lock.json
fi

# Up to date: dist/index.html is newer than every input of the build.
stamp=dist/index.html
if [[ "${CRM_WEB_FORCE:-0}" != 1 && -f "$stamp" ]]; then
    newer="$(find src public index.html vite.config.js package.json package-lock.json \
        -newer "$stamp" -print -quit 2>/dev/null || true)"
    [[ -z "$newer" ]] && exit 0
fi

run_quiet "npm run build" npm run build
# nginx's workers (www-data) read web/dist: files 0644, directories 0755.
chmod -R u=rwX,go=rX dist
touch "$stamp"
