#!/usr/bin/env bash
# perso's main job on the shipped example: check and compile the CRM policy,
# look inside the artifact, and ask it a few questions.
set -u
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/perso-demo"
mkdir -p "$out"

run() {
  printf '\n$ %s\n' "$*"
  "$@"
  local code=$?
  printf '(exit %d)\n' "$code"
}

run node bin/perso.js check fixtures/crm.json
run node bin/perso.js compile fixtures/crm.json -o "$out/crm.wasm" || exit 1
run node bin/perso.js inspect "$out/crm.wasm"
run node bin/perso.js eval "$out/crm.wasm" --tool process_refund --role agent --args '{"order_id": "ORD-8821", "amount": 800}'
run node bin/perso.js eval "$out/crm.wasm" --tool process_refund --role agent --args '{"order_id": "ORD-8822", "amount": 120}'
run node bin/perso.js eval "$out/crm.wasm" --tool delete_customer --role manager \
  --agent '{"user_id": "mgr-001"}' --resource '{"owner_id": "mgr-001"}'
run node bin/perso.js eval "$out/crm.wasm" --tool delete_customer --role manager \
  --agent '{"user_id": "mgr-001"}' --resource '{"owner_id": "mgr-002"}'
run node bin/perso.js eval "$out/crm.wasm" --tool bulk_update --role admin \
  --agent '{"mfa_verified_at": "2026-11-21T09:00:00Z"}' --resource '{"env": "staging"}'
run node bin/perso.js eval "$out/crm.wasm" --tool drop_database --role admin
run node bin/perso.js test fixtures/crm.test.yaml --coverage
exit 0
