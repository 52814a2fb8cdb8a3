#!/usr/bin/env bash
# Runs a command with the WebGPU driver environment chosen by scripts/setup.sh (lavapipe on machines without
# a GPU; nothing on machines with one) and a private XDG_RUNTIME_DIR to silence the Vulkan loader's warning.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$root/.cache/gpu-env.sh" ] && [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
  # shellcheck disable=SC1091
  . "$root/.cache/gpu-env.sh"
fi
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  XDG_RUNTIME_DIR="$root/.cache/xdg-runtime"; mkdir -p "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
  export XDG_RUNTIME_DIR
fi
exec "$@"
