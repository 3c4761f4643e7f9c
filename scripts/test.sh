#!/usr/bin/env bash
# The whole test suite: type check, unit tests, and integration tests against real sshd hosts,
# namespaces and the CLI under node, bun and deno. Integration tests need root; under CI=true
# they must run, and a missing prerequisite fails the suite instead of skipping.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-deps.sh
node scripts/build.mjs
echo "== type check"
npx tsc --noEmit -p . || { echo "0 passed, 1 failed"; exit 1; }

if [ "$(id -u)" = 0 ]; then node --import tsx fixtures/testbed/cli.ts clean; fi

passed=0
failed=0
status=0
run_group() {
  local name=$1 dir=$2
  local log
  log=$(mktemp)
  echo "== $name"
  node --import tsx node_modules/uvu/bin.js "$dir" '\.test\.ts$' 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # uvu's summary: "Total: N" and "Passed: N" (with colour codes).
  local clean total ok
  clean=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
  total=$(printf '%s\n' "$clean" | awk '/Total:/ {print $2}' | tail -1)
  ok=$(printf '%s\n' "$clean" | awk '/Passed:/ {print $2}' | tail -1)
  total=${total:-0}
  ok=${ok:-0}
  passed=$((passed + ok))
  failed=$((failed + total - ok))
  if [ "$rc" != 0 ]; then
    status=1
    # A crash before uvu's summary still counts as a failure.
    [ "$total" = "$ok" ] && failed=$((failed + 1))
  fi
  rm -f "$log"
}

run_group "unit tests" test/unit
run_group "integration tests" test/integration

echo "$passed passed, $failed failed"
exit "$status"
