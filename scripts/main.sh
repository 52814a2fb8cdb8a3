#!/usr/bin/env bash
# The README's main job: set the machine up (idempotent), then transcribe speech with the glm-asr CLI on this
# machine's WebGPU adapter (lavapipe on the CPU when there is no GPU) and print expected vs recognised text.
#
# Model: the demo model shipped in models/demo (`--model demo`: trained here on synthetic English digits,
# numbers and commands; docs/demo-model.md) on its bundled held-out clips, plus the real human digit recording
# of the shared corpus when ../shared is present. With GLM_ASR_MODEL_DIR (a folder with the official checkpoint,
# or a Hugging Face repo id) it transcribes corpus clips with that model instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
node scripts/bundle-shaders.mjs   # src/gpu/shader-sources.ts is generated (git-ignored); the CLI runs from source
corpus="$(cd "$root/.." && pwd)/shared/corpus"
cli=(bash scripts/with-gpu-env.sh npx tsx src/cli/main.ts transcribe)
if [ -n "${GLM_ASR_MODEL_DIR:-}" ]; then
  [ -d "$corpus" ] || { echo "GLM_ASR_MODEL_DIR needs the corpus in ../shared" >&2; exit 2; }
  "${cli[@]}" "$corpus/audio/en-glmasr-example-f32.wav" "$corpus/audio/zh-glmasr-example-quiet.wav" \
    "$corpus/audio/en-jfk-44k-stereo-24bit.flac" --model "$GLM_ASR_MODEL_DIR" --format json "$@" |
    node scripts/show-demo.mjs "$corpus/manifest.json"
  exit
fi
clips=(models/demo/samples/*.wav)
expected=(models/demo/samples/expected.json)
if [ -f "$corpus/audio/en-vosk-digits.wav" ]; then
  clips+=("$corpus/audio/en-vosk-digits.wav")   # a real human recording: a harder test than the synthetic clips
  expected+=("$corpus/manifest.json")
fi
"${cli[@]}" "${clips[@]}" --model demo --format json --max-new-tokens 40 "$@" |
  node scripts/show-demo.mjs "${expected[@]}"
