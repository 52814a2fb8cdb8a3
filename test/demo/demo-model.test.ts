/**
 * The shipped demo checkpoint (models/demo, docs/demo-model.md): a small GLM-ASR-architecture model trained on
 * synthetic closed-domain English speech (digits, numbers, commands). On held-out clips the engine must produce
 * exactly the greedy token ids of the independent PyTorch reference (weights-tools/glmasr_reference.py, recorded
 * in models/demo/samples/reference-ids.json by weights-tools/train/evaluate.py --write-samples), and so the same
 * transcripts; and it must get exactly the same clips right (against expected.json) as the reference did.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlmAsr } from '../../src/models/glm-asr/node';
import { type Transcription } from '../../src/models/glm-asr/transcriber';
import { testGpu } from '../helpers/gpu';

const REPO = join(__dirname, '..', '..');
const DEMO = join(REPO, 'models', 'demo');
const SAMPLES = join(DEMO, 'samples');

interface ReferenceClip {
  ids: number[];
  eos_id: number | null;
  text: string;
  min_greedy_margin: number;
}

const expected: Record<string, string> = JSON.parse(readFileSync(join(SAMPLES, 'expected.json'), 'utf8'));
const reference: { max_new_tokens: number; reference_correct: number; clips: Record<string, ReferenceClip> } =
  JSON.parse(
  readFileSync(join(SAMPLES, 'reference-ids.json'), 'utf8'),
);
const names = Object.keys(expected).sort();

describe('demo model (models/demo)', () => {
  let asr: GlmAsr;
  const results = new Map<string, Transcription>();

  beforeAll(async () => {
    asr = await GlmAsr.load(DEMO, { gpu: await testGpu(), precision: 'f32' });
  });
  afterAll(() => asr?.dispose());

  it('is a small checkpoint in the official layout', () => {
    expect(statSync(join(DEMO, 'model.safetensors')).size).toBeLessThan(20 * 1024 * 1024);
    expect(names.length).toBeGreaterThanOrEqual(6);
    for (const n of names) {
      expect(reference.clips[n], `reference ids for ${n}`).toBeDefined();
      expect(statSync(join(SAMPLES, n)).size).toBeLessThan(100 * 1024);
    }
    const eos = asr.config.ids.eosTokenIds;
    for (const n of names) {
      const { eos_id } = reference.clips[n];
      if (eos_id !== null) expect(eos).toContain(eos_id);
    }
  });

  for (const name of names) {
    it(`${name}: greedy token ids equal the PyTorch reference`, async () => {
      const t = await asr.transcribe(readFileSync(join(SAMPLES, name)),
        { name, segmenter: 'fixed', maxNewTokens: reference.max_new_tokens });
      results.set(name, t);
      expect(t.tokens).toEqual(reference.clips[name].ids);
      expect(t.text).toBe(reference.clips[name].text);
    });
  }

  it('gets exactly the clips right that the reference gets right', () => {
    // The reference's own accuracy on these clips is recorded by evaluate.py (and the held-out WER in
    // docs/demo-model.md); the engine must reproduce it, neither better nor worse.
    const refRight = names.filter((n) => reference.clips[n].text === expected[n]);
    expect(refRight.length).toBe(reference.reference_correct);
    const engineRight = names.filter((n) => results.get(n)?.text === expected[n]);
    expect(engineRight).toEqual(refRight);
  });
});

describe('--model demo on the command line', () => {
  it('selects the bundled model, says it is a closed-vocabulary demo, and prints the reference transcript', () => {
    const name = names[0];
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'transcribe',
      join(SAMPLES, name), '--model', 'demo',
      '--format', 'json', '--precision', 'f32', '--max-new-tokens', String(reference.max_new_tokens)],
    { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/demo model.*closed vocabulary/);
    const out = JSON.parse(r.stdout.trim());
    expect(out.tokens).toEqual(reference.clips[name].ids);
    expect(out.text).toBe(reference.clips[name].text);
    // --quiet leaves the notice out (Dawn may still print its own warnings)
    const q = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'transcribe',
      join(SAMPLES, name), '--model', 'demo', '--quiet',
      '--max-new-tokens', '4'], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    expect(q.status).toBe(0);
    expect(q.stderr).not.toMatch(/demo model/);
  });

  it('GlmAsr.load("demo") carries the notice; other models do not', async () => {
    const gpu = await testGpu();
    const demo = await GlmAsr.load('demo', { gpu, precision: 'f32' });
    expect(demo.notice).toMatch(/closed vocabulary/);
    demo.dispose();
    const tiny = await GlmAsr.load(join(REPO, 'test/goldens/tiny'), { gpu, precision: 'f32' });
    expect(tiny.notice).toBeUndefined();
    tiny.dispose();
  });
});
