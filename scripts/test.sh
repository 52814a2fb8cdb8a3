#!/usr/bin/env bash
# The README's test command: sets the machine up (idempotent), then runs every test — Node (Dawn on the
# machine's adapter, lavapipe without a GPU) and headless Chromium — lists the skipped tests with the reason
# for each, and ends with "N passed, N failed[, N skipped]".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p test-output
rm -f test-output/vitest.json test-output/skipped.json
bash scripts/with-gpu-env.sh npx vitest run --reporter=default --reporter=./scripts/skip-reporter.mjs \
  --reporter=json --outputFile.json=test-output/vitest.json "$@"
status=$?
node -e '
  const fs = require("fs");
  let r;
  try { r = JSON.parse(fs.readFileSync("test-output/vitest.json", "utf8")); }
  catch { console.log("0 passed, 1 failed"); process.exit(0); }
  let skips = [];
  try { skips = JSON.parse(fs.readFileSync("test-output/skipped.json", "utf8")); } catch {}
  if (skips.length) console.log("\nSkipped tests and why:");
  for (const s of skips) {
    console.log(`  [${s.project}] ${s.file} > ${s.test}\n      ${s.reason ?? "(no reason given)"}`);
  }
  // A file that failed to load has no test results but counts as a failure.
  const brokenFiles = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
  const skipped = r.numPendingTests + r.numTodoTests;
  const failed = r.numFailedTests + brokenFiles;
  console.log(`${r.numPassedTests} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
'
exit $status
