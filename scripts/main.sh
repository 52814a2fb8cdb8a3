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

# One long recording: the six samples in turn with pauses of 1.5 to 10 s (silence), 41 s in all, transcribed with
# the default VAD segmenter as subtitles: one cue per speech chunk, at its times in the recording.
long="$(mktemp -d)"
trap 'rm -rf "$long"' EXIT
order=(command-bandpass digits-oh command-hum number-quiet digits-brown-noise number-slow-tempo)
pauses=(2 1.5 3 6 10 4.5 3)
parts=("$long/pause0.wav")
sox -n -r 16000 -b 16 -c 1 "$long/pause0.wav" trim 0 "${pauses[0]}"
for i in "${!order[@]}"; do
  sox -n -r 16000 -b 16 -c 1 "$long/pause$((i + 1)).wav" trim 0 "${pauses[$((i + 1))]}"
  parts+=("models/demo/samples/${order[$i]}.wav" "$long/pause$((i + 1)).wav")
done
sox "${parts[@]}" "$long/long-recording.wav"
echo
echo "long-recording.wav ($(soxi -D "$long/long-recording.wav" | cut -c1-4) s: the samples above in turn, pauses of" \
  "${pauses[*]} s)"
printf '  expected:   %s\n' "$(node -e 'const e = require("./models/demo/samples/expected.json");
  console.log(process.argv.slice(1).map((n) => e[n + ".wav"]).join(" | "))' "${order[@]}")"
"${cli[@]}" "$long/long-recording.wav" --model demo --format srt --max-new-tokens 40 "$@" | sed 's/^/  /'
