#!/usr/bin/env bash
# The README's test command: sets the machine up (idempotent), then runs every test — Node (Dawn on the
# machine's adapter, lavapipe without a GPU) and headless Chromium — and ends with "N passed, N failed".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p test-output
rm -f test-output/vitest.json
bash scripts/with-gpu-env.sh npx vitest run --reporter=default --reporter=json --outputFile.json=test-output/vitest.json "$@"
status=$?
node -e '
  const fs = require("fs");
  let r;
  try { r = JSON.parse(fs.readFileSync("test-output/vitest.json", "utf8")); }
  catch { console.log("0 passed, 1 failed"); process.exit(0); }
  // A file that failed to load has no test results but counts as a failure.
  const brokenFiles = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests + brokenFiles} failed` + (skipped ? `, ${skipped} skipped` : ""));
'
exit $status
