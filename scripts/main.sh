#!/usr/bin/env bash
# The README's main job: set the machine up (idempotent), then run the kernel benchmark on this machine's
# WebGPU adapter (lavapipe on the CPU when there is no GPU).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
npm run --silent bench:kernels -- "$@"
