/**
 * Issue 18 §3: every precision works on an adapter without shader-f16. The device is created with
 * `disableFeatures: ['shader-f16']` (as SwiftShader, which has none); each precision loads the tiny golden
 * (int8 / int4 from checkpoints the quantize tool writes) and must give the same greedy ids as the same precision
 * on the full device, with the logits of every step within a tight rel-L2 (only f32 summation order may differ).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gpu } from '../../src/gpu';
import { GlmAsr } from '../../src/models/glm-asr/node';
import type { WeightPrecision } from '../../src/models/glm-asr/weights';
import { openSafetensorsFile } from '../../src/weights/node-file-source';
import { quantizeFolder } from '../../weights-tools/quantize';
import { relL2, testGpu } from '../helpers/gpu';
import { greedyLogits, readF32 } from './helpers';

const GOLDENS = join(__dirname, '..', 'goldens');
const CLIP = readdirSync(join(GOLDENS, 'dumps')).filter((f) => f.startsWith('tiny-en'))[0];
const LOGITS = 1e-4;

let tmp: string;
let plain: Gpu;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'glm-asr-nof16-'));
  await quantizeFolder(join(GOLDENS, 'tiny'), join(tmp, 'int8'));
  await quantizeFolder(join(GOLDENS, 'tiny'), join(tmp, 'int4'), { bits: 4 });
  plain = await Gpu.create({ disableFeatures: ['shader-f16'] });
});
afterAll(() => {
  plain?.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

describe('without shader-f16', () => {
  const dirs: Record<WeightPrecision, () => string> = {
    f32: () => join(GOLDENS, 'tiny'), f16: () => join(GOLDENS, 'tiny'), int8: () => join(tmp, 'int8'),
    int4: () => join(tmp, 'int4'),
  };
  for (const precision of ['f32', 'f16', 'int8', 'int4'] as const) {
    it(`${precision}: same greedy ids and logits as on the full device`, async () => {
      expect(plain.caps.f16).toBe(false);
      const full = await testGpu();
      const dump = await openSafetensorsFile(join(GOLDENS, 'dumps', CLIP));
      const samples = await readF32(dump, 'input_samples');
      const maxNewTokens = Number(dump.metadata!.max_new_tokens);
      const a = await GlmAsr.load(dirs[precision](), { gpu: full, precision });
      const c = await GlmAsr.load(dirs[precision](), { gpu: plain, precision });
      const want = await greedyLogits(a, samples, maxNewTokens);
      const got = await greedyLogits(c, samples, maxNewTokens);
      expect(got.ids).toEqual(want.ids);
      const worst = Math.max(...want.logits.map((l, i) => relL2(got.logits[i], l)));
      expect(worst).toBeLessThan(LOGITS);
      a.dispose();
      c.dispose();
      await dump.close();
    });
  }
});
