/**
 * GlmAsr behaviour beyond the goldens: abort, long audio (more windows than one prompt holds), bad input.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GlmAsr } from '../../src/models/glm-asr/transcriber';
import { randomF32, testGpu } from '../helpers/gpu';

const TINY = join(__dirname, '..', 'goldens', 'tiny');

describe('GlmAsr', () => {
  let asr: GlmAsr;
  beforeAll(async () => {
    asr = await GlmAsr.load(TINY, { gpu: await testGpu(), precision: 'f32' });
  });

  it('rejects with the abort reason, before and during generation', async () => {
    const samples = randomF32(16000 * 3, 1, 0.1);
    await expect(asr.transcribe({ samples, sampleRate: 16000 }, { signal: AbortSignal.abort(new Error('stop now')) })).rejects.toThrow('stop now');
    const ctl = new AbortController();
    const run = asr.transcribe({ samples, sampleRate: 16000 }, {
      signal: ctl.signal,
      maxNewTokens: 400,
      onProgress: (p) => { if (p.stage === 'generate' && p.done === 3) ctl.abort(new Error('enough')); },
    });
    await expect(run).rejects.toThrow('enough');
    // The engine is still usable afterwards.
    const t = await asr.transcribe({ samples, sampleRate: 16000 }, { maxNewTokens: 3 });
    expect(t.tokens.length).toBeGreaterThan(0);
  });

  it('audio longer than max windows is transcribed in consecutive segments', async () => {
    const fe = asr.config.frontEnd;
    const seconds = fe.maxWindows * fe.chunkLength + 7; // 21 full windows (630 s) + 7 s
    const samples = randomF32(seconds * fe.sampleRate, 2, 0.05);
    const t = await asr.transcribe({ samples, sampleRate: 16000 }, { maxNewTokens: 3 });
    expect(t.segments.map((s) => [s.start, s.end])).toEqual([[0, fe.maxWindows * fe.chunkLength], [fe.maxWindows * fe.chunkLength, seconds]]);
    expect(t.durationSec).toBeCloseTo(seconds, 6);
    expect(t.tokens.length).toBeGreaterThanOrEqual(2);
  });

  it('corrupt audio bytes give an AudioDecodeError naming the input', async () => {
    await expect(asr.transcribe(Uint8Array.from([82, 73, 70, 70, 9, 9]), { name: 'broken.wav' })).rejects.toThrow(/broken\.wav/);
    await expect(asr.transcribe(new Uint8Array(100), { name: 'zeros.bin' })).rejects.toMatchObject({ name: 'AudioDecodeError' });
  });

  it('rejects a beam count above maxBeams with a clear message', async () => {
    await expect(asr.transcribe({ samples: randomF32(16000, 3, 0.1), sampleRate: 16000 }, { beams: 9 })).rejects.toThrow(/beams must be an integer in \[1, 4\]/);
  });
});
