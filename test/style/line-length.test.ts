import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The developers' guide caps source lines at this many characters. */
const MAX_LINE = 120;
const SOURCE_GLOBS = ['*.ts', '*.mjs', '*.js', '*.wgsl', '*.py', '*.sh'];
/** Committed data, not hand-written source. */
const EXCLUDED_DIRS = ['test/goldens/'];

// being edited in this session: wrap, then remove
const ALLOWED_LONG_LINES: readonly string[] = [
  'bench/audio.ts',
  'bench/cases/attention.ts',
  'bench/cases/conv1d.ts',
  'bench/cases/copy.ts',
  'bench/cases/fusion.ts',
  'bench/cases/host.ts',
  'bench/cases/matmul-int8.ts',
  'bench/cases/matmul.ts',
  'bench/cases/norm.ts',
  'bench/cases/rope.ts',
  'bench/cases/sample.ts',
  'bench/kernels.ts',
  'bench/load.ts',
  'bench/peers/meter.ts',
  'bench/peers/ort.ts',
  'scripts/bundle-shaders.mjs',
  'scripts/main.sh',
  'scripts/probe-adapter.mjs',
  'scripts/setup.sh',
  'shaders/attention-decode.wgsl',
  'shaders/attention.wgsl',
  'shaders/common.wgsl',
  'shaders/conv1d.wgsl',
  'shaders/convert.wgsl',
  'shaders/elementwise.wgsl',
  'shaders/embedding.wgsl',
  'shaders/kv-cache.wgsl',
  'shaders/matmul-int8-embed.wgsl',
  'shaders/matmul-int8.wgsl',
  'shaders/quantize-act.wgsl',
  'shaders/rope.wgsl',
  'src/cli/worker.ts',
  'src/generate/beam.ts',
  'src/generate/common.ts',
  'src/generate/types.ts',
  'src/gpu/bind-groups.ts',
  'src/gpu/bindings.ts',
  'src/gpu/buffers.ts',
  'src/gpu/device.ts',
  'src/gpu/recorder.ts',
  'src/gpu/shaders.ts',
  'src/gpu/timing.ts',
  'src/hub/cache.ts',
  'src/hub/download.ts',
  'src/hub/env.ts',
  'src/hub/resolve.ts',
  'src/models/glm-asr/config.ts',
  'src/models/glm-asr/decoder.ts',
  'src/models/glm-asr/encoder.ts',
  'src/models/glm-asr/options.ts',
  'src/models/glm-asr/transcriber.ts',
  'src/ops/attention.ts',
  'src/ops/conv1d.ts',
  'src/ops/convert.ts',
  'src/ops/embedding.ts',
  'src/ops/index.ts',
  'src/ops/kv-cache.ts',
  'src/ops/linear.ts',
  'src/ops/matmul-epilogue.ts',
  'src/ops/matmul-int4.ts',
  'src/ops/matmul-int8.ts',
  'src/ops/matmul.ts',
  'src/ops/norm.ts',
  'src/ops/reference/attention.ts',
  'src/ops/reference/embedding.ts',
  'src/ops/reference/matmul-int8.ts',
  'src/ops/reference/matmul.ts',
  'src/ops/reference/sample.ts',
  'src/ops/rope.ts',
  'src/ops/sample.ts',
  'src/ops/softmax.ts',
  'src/tokenizer/added-tokens.ts',
  'src/tokenizer/bpe-model.ts',
  'src/tokenizer/chat-template.ts',
  'src/tokenizer/errors.ts',
  'src/tokenizer/normalizer.ts',
  'src/tokenizer/post-processor.ts',
  'src/tokenizer/pre-tokenizer.ts',
  'src/tokenizer/regex.ts',
  'src/tokenizer/tokenizer.ts',
  'src/web/engine.ts',
  'src/web/index.ts',
  'src/web/model-cache.ts',
  'src/weights/checkpoint.ts',
  'src/weights/node-file-source.ts',
  'src/weights/quant.ts',
  'src/weights/safetensors-writer.ts',
  'src/weights/safetensors.ts',
  'src/weights/sources.ts',
  'src/weights/upload.ts',
  'test/audio/helpers.ts',
  'test/browser/model.test.ts',
  'test/demo/demo-model.test.ts',
  'test/demo/guided-attention.test.ts',
  'test/demo/python.ts',
  'test/demo/training-data.test.ts',
  'test/demo/training-determinism.test.ts',
  'test/demo/training-mix.test.ts',
  'test/e2e/cli-hub.test.ts',
  'test/e2e/cli.test.ts',
  'test/e2e/real-weights.test.ts',
  'test/e2e/server-real.test.ts',
  'test/generate/beam.test.ts',
  'test/generate/mock-model.ts',
  'test/generate/reference.test.ts',
  'test/gpu/bind-groups.test.ts',
  'test/gpu/runtime.test.ts',
  'test/hub/cache.test.ts',
  'test/hub/download.test.ts',
  'test/hub/fake-hub.ts',
  'test/hub/helpers.ts',
  'test/hub/resolve.test.ts',
  'test/models/config.test.ts',
  'test/models/glm-asr-api.test.ts',
  'test/ops/attention.test.ts',
  'test/ops/conv1d.test.ts',
  'test/ops/convert.test.ts',
  'test/ops/embedding.test.ts',
  'test/ops/kv-cache.test.ts',
  'test/ops/matmul-epilogue.test.ts',
  'test/ops/matmul-int8.test.ts',
  'test/ops/matmul.test.ts',
  'test/ops/rope.test.ts',
  'test/ops/sample.test.ts',
  'test/queue/helpers.ts',
  'test/queue/queue.test.ts',
  'test/segment/planner.test.ts',
  'test/segment/transcribe-stream.test.ts',
  'test/server/stream.test.ts',
  'test/tokenizer/chat-template.test.ts',
  'test/tokenizer/conformance.test.ts',
  'test/tokenizer/corpus.ts',
  'test/tokenizer/features.test.ts',
  'test/tokenizer/make-glm-tokenizer.ts',
  'test/tokenizer/oracles.ts',
  'test/weights/checkpoint.test.ts',
  'test/weights/helpers.ts',
  'test/weights/python-crosscheck.test.ts',
  'test/weights/quant-int4.test.ts',
  'test/weights/quant.test.ts',
  'test/weights/safetensors.test.ts',
  'test/weights/sources.test.ts',
  'test/weights/stream-writer.test.ts',
  'tsup.config.ts',
  'weights-tools/bpe_tokenizer.py',
  'weights-tools/export_onnx.py',
  'weights-tools/inspect.ts',
  'weights-tools/make_goldens.py',
  'weights-tools/quantize.ts',
  'weights-tools/train/train.py',
];

const root = new URL('../../', import.meta.url);

function trackedSources(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--', ...SOURCE_GLOBS], { cwd: root, encoding: 'utf8' });
  return out.split('\0').filter((f) => f !== '' && !EXCLUDED_DIRS.some((d) => f.startsWith(d)));
}

/** `file:line (N chars)` for each line over MAX_LINE, counting code points so CJK text is not over-counted. */
function longLines(file: string): string[] {
  const lines = readFileSync(new URL(file, root), 'utf8').split(/\r?\n/);
  const hits: string[] = [];
  lines.forEach((line, i) => {
    const length = [...line].length;
    if (length > MAX_LINE) hits.push(`${file}:${i + 1} (${length} chars)`);
  });
  return hits;
}

describe('line length', () => {
  const files = trackedSources();

  it('finds the tracked source files', () => {
    expect(files).toContain('src/index.ts');
    expect(files.some((f) => f.endsWith('.wgsl'))).toBe(true);
  });

  it(`keeps every tracked source line at most ${MAX_LINE} characters`, () => {
    const offenders = files.filter((f) => !ALLOWED_LONG_LINES.includes(f)).flatMap(longLines);
    expect(offenders, `lines over ${MAX_LINE} characters; wrap them`).toEqual([]);
  });

  it('lists only allow-listed files that still exist and still have long lines', () => {
    const stale = ALLOWED_LONG_LINES.filter((f) => !files.includes(f) || longLines(f).length === 0);
    expect(stale, 'remove these from ALLOWED_LONG_LINES').toEqual([]);
  });
});
