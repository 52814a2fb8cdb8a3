#!/usr/bin/env bash
# One-time (idempotent) machine set-up for glm-asr-webgpu, used by both README commands.
#   bash scripts/setup.sh          # Debian packages, npm deps, WebGPU adapter
# What it does:
#   1. installs the Debian packages the project needs that are missing (Vulkan loader, chromium for browser
#      tests, espeak-ng + sox for generated test audio, ffmpeg as a live source in the CLI tests,
#      python3-torch/numpy/scipy for the reference checks and the demo-training tests, run with /usr/bin/python3),
#      reusing the machine's configured mirror;
#   2. runs `npm ci` when package-lock.json changed since the last run;
#   3. probes for a WebGPU adapter. When a hardware adapter already works it changes nothing. Otherwise it
#      extracts Mesa 25 lavapipe from bookworm-backports into .cache/lavapipe (the stock bookworm Mesa 22
#      lavapipe is rejected by Dawn) and writes .cache/gpu-env.sh, which scripts/with-gpu-env.sh sources.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache"
mkdir -p "$cache"
log() { printf '[setup] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_update_once() { [ $apt_updated = 1 ] || { as_root apt-get update -qq; apt_updated=1; }; }

# 1. Debian packages (only the missing ones).
need=()
for pkg in libvulkan1 mesa-vulkan-drivers chromium espeak-ng sox ffmpeg redis-server \
  python3-torch python3-numpy python3-scipy; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. npm dependencies (skip when the lockfile is unchanged since the last install).
stamp="$cache/npm-ci.stamp"
lock_sum="$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)"
if [ ! -d "$root/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  log "npm ci"
  # onnxruntime-node (the benchmark peer) would download extra binaries at install; its npm tarball has all we use.
  (cd "$root" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$lock_sum" > "$stamp"
fi

# 3. WebGPU adapter.
probe() { (cd "$root" && env "$@" node scripts/probe-adapter.mjs 2>/dev/null) || true; }
if [ -n "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
  log "VK_ICD_FILENAMES/VK_DRIVER_FILES already set: leaving the Vulkan driver choice alone"
  rm -f "$cache/gpu-env.sh"
  exit 0
fi
if probe | grep -q '^hardware'; then
  log "a hardware WebGPU adapter works: $(probe | head -1)"
  rm -f "$cache/gpu-env.sh"
  exit 0
fi
lvp="$cache/lavapipe"
so="$lvp/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"
if [ ! -f "$so" ]; then
  log "extracting Mesa 25 lavapipe (bookworm-backports) into $lvp"
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
    [ -n "$mirror" ] || mirror="$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
      "$mirror" /usr/share/keyrings/debian-archive-keyring.gpg \
      | as_root tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
    apt_updated=0
  fi
  apt_update_once
  tmp="$(mktemp -d)"; chmod 755 "$tmp"; chown _apt "$tmp" 2>/dev/null || true
  (cd "$tmp" && apt-get download -qq mesa-vulkan-drivers/bookworm-backports)
  mkdir -p "$lvp"
  dpkg-deb -x "$tmp"/mesa-vulkan-drivers_*.deb "$lvp"
  rm -rf "$tmp"
fi
printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.4.305"}}\n' "$so" \
  > "$lvp/lvp_icd.json"
echo "export VK_ICD_FILENAMES='$lvp/lvp_icd.json'" > "$cache/gpu-env.sh"
if probe "VK_ICD_FILENAMES=$lvp/lvp_icd.json" | grep -q .; then
  log "using the CPU adapter: $(probe "VK_ICD_FILENAMES=$lvp/lvp_icd.json" | head -1)"
else
  log "ERROR: no WebGPU adapter even with lavapipe at $lvp; see docs/kernels.md#adapters"
  exit 1
fi
