#!/usr/bin/env bash
# Creates the demo tenant on a running stack (idempotent) and prints the URL
# and the logins. Usage: scripts/demo.sh <profile>
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-dev}
eval "$(scripts/stack.sh env "$profile")"
secrets=$CRM_VAR/secrets
[ -f "$secrets/demo.pw" ] || (umask 077 && head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$secrets/demo.pw")
"${CRM_BIN_DIR:-build/bin}/crmctl" tenants create --slug demo --company "演示科技有限公司" \
	--name "演示管理员" --email demo@example.com --password-file "$secrets/demo.pw" \
	>/dev/null
# Sample records, once: customers with contacts, opportunities, activities
# and tasks, and a few leads.
psql "$CRM_DATABASE_URL" -X -q -At \
	-v tid="$(psql "$CRM_DATABASE_URL" -X -At -c "SELECT id FROM tenants WHERE slug = 'demo'")" \
	-v uid="$(psql "$CRM_DATABASE_URL" -X -At -c "SELECT id FROM users WHERE email = 'demo@example.com'")" \
	-f scripts/demo-data.sql >/dev/null
cat <<MSG

  CRM is running: $CRM_BASE_URL
  Demo workspace: demo    login: demo@example.com    password: $(cat "$secrets/demo.pw")
  Operator login: operator@crm.local    password: $(cat "$secrets/operator.pw")
  Stop it with \`make stop\`; \`make status\` says what runs.

MSG
