/**
 * `segmenter: 'fixed'` with two windows in one prompt, both audio-block layouts against the PyTorch reference
 * (weights-tools/glmasr_reference.py) on the tiny checkpoint: 'single' (transformers' processor) against the
 * tiny-long-2win dump, 'per-window' (the model authors' script) against test/goldens/per-window-2win.json
 * (python3 weights-tools/make_goldens.py --per-window).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlmAsr } from '../../src/models/glm-asr/node';
import { openSafetensorsFile } from '../../src/weights/node-file-source';
import { testGpu } from '../helpers/gpu';

const GOLDENS = join(__dirname, '..', 'goldens');
const perWindow: { greedy_ids: number[]; max_new_tokens: number; window_audio_tokens: number[] } =
  JSON.parse(readFileSync(join(GOLDENS, 'per-window-2win.json'), 'utf8'));

describe('audio blocks of a two-window prompt (tiny checkpoint)', () => {
  let asr: GlmAsr;
  let samples: Float32Array;
  let single: number[];

  beforeAll(async () => {
    asr = await GlmAsr.load(join(GOLDENS, 'tiny'), { gpu: await testGpu(), precision: 'f32' });
    const dump = await openSafetensorsFile(join(GOLDENS, 'dumps', 'tiny-long-2win.safetensors'));
    const raw = await dump.read('input_samples');
    samples = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4).slice();
    const ids = await dump.read('greedy_ids');
    single = Array.from(new Int32Array(ids.buffer, ids.byteOffset, ids.byteLength / 4));
    await dump.close();
  });
  afterAll(() => asr?.dispose());

  const withoutEos = (ids: number[]) => (asr.config.ids.eosTokenIds.includes(ids.at(-1)!) ? ids.slice(0, -1) : ids);

  it('the two layouts are different prompts for the reference (the test can tell them apart)', () => {
    expect(perWindow.window_audio_tokens.length).toBe(2);
    expect(perWindow.greedy_ids).not.toEqual(single);
  });

  for (const [layout, expected] of [['single', () => single], ['per-window', () => perWindow.greedy_ids]] as const) {
    it(`${layout}: greedy ids equal the reference's`, async () => {
      const t = await asr.transcribe({ samples, sampleRate: 16000 },
        { segmenter: 'fixed', audioBlocks: layout, maxNewTokens: perWindow.max_new_tokens });
      expect(t.tokens).toEqual(withoutEos(expected()));
      expect(t.segments.length).toBe(1);
    });
  }
});
