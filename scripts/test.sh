#!/usr/bin/env bash
# The README's test command: sets the machine up (idempotent), then runs every test — Node (Dawn on the
# machine's adapter, lavapipe without a GPU) and headless Chromium — lists the skipped tests with the reason
# for each, and ends with "N passed, N failed[, N skipped]". A test file whose worker process dies (a native crash)
# is run once more, with the crash's backtrace printed and the rerun named in the summary line.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p test-output
rm -f test-output/vitest*.json test-output/run-report*.json core core.[0-9]*
# A worker that dies (a native crash in the GPU driver stack) leaves a core file here; its backtrace is printed.
ulimit -c unlimited 2>/dev/null || true

run_vitest() {
  local run=$1
  shift
  RUN_REPORT="test-output/run-report-$run.json" bash scripts/with-gpu-env.sh npx vitest run --reporter=default \
    --reporter=./scripts/run-reporter.mjs --reporter=json --outputFile.json="test-output/vitest-$run.json" "$@"
}

# Prints the backtrace of each core file a crashed worker left, then removes it.
print_cores() {
  local core
  for core in core core.[0-9]*; do
    [ -f "$core" ] || continue
    if command -v gdb >/dev/null; then
      echo "Backtrace from $core:"
      gdb -q -batch -ex 'bt 25' "$(command -v node)" "$core" 2>/dev/null | grep -E '^#' || true
    else
      echo "($core left by the crash; install gdb to see its backtrace)"
    fi
    rm -f "$core"
  done
}

run_vitest first "$@"
mapfile -t died_in < <(node scripts/summarize-tests.mjs --died-in)
if [ "${#died_in[@]}" -gt 0 ]; then
  echo "A test worker died in: ${died_in[*]}"
  print_cores
  echo "Running those files once more:"
  run_vitest rerun "${died_in[@]}"
fi
print_cores
node scripts/summarize-tests.mjs
