#!/usr/bin/env bash
# The README's main job: set the machine up (idempotent), then transcribe corpus clips with the glm-asr CLI on
# this machine's WebGPU adapter (lavapipe on the CPU when there is no GPU).
#
# Model: GLM_ASR_MODEL_DIR (a folder with the official checkpoint, or a Hugging Face repo id) when set;
# otherwise the tiny random-weight checkpoint in test/goldens/tiny, which exercises the whole pipeline in the
# official format but cannot produce meaningful text (its token ids are checked against PyTorch in the tests).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
model="${GLM_ASR_MODEL_DIR:-test/goldens/tiny}"
corpus="$(cd "$root/.." && pwd)/shared/corpus/audio"
if [ -d "$corpus" ]; then
  clips=("$corpus/en-glmasr-example-f32.wav" "$corpus/zh-glmasr-example-quiet.wav" "$corpus/en-jfk-44k-stereo-24bit.flac")
else
  mkdir -p .cache/demo
  espeak-ng -w .cache/demo/hello.wav "hello world, this is a speech recognition test" 2>/dev/null
  clips=(.cache/demo/hello.wav)
fi
if [ "$model" = test/goldens/tiny ]; then
  echo "Model: test/goldens/tiny (random weights: the text is meaningless; set GLM_ASR_MODEL_DIR for real weights)" >&2
fi
exec bash scripts/with-gpu-env.sh npx tsx src/cli/main.ts transcribe "${clips[@]}" --model "$model" --format json --max-new-tokens 48 "$@"
