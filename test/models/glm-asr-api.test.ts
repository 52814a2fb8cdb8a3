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

  it('refuses audio too short for one audio token, with the minimum in the message', async () => {
    await expect(asr.transcribe({ samples: randomF32(960, 4, 0.1), sampleRate: 16000 }, { name: 'blip.wav' })).rejects.toThrow(/blip\.wav: audio is too short \(60\.0 ms\); GLM-ASR needs at least 60\.1 ms/);
    const t = await asr.transcribe({ samples: randomF32(961, 4, 0.1), sampleRate: 16000 }, { maxNewTokens: 2 });
    expect(t.tokens.length).toBeGreaterThan(0);
  });

  it('rejects a beam count above maxBeams with a clear message', async () => {
    await expect(asr.transcribe({ samples: randomF32(16000, 3, 0.1), sampleRate: 16000 }, { beams: 9 })).rejects.toThrow(/beams must be an integer in \[1, 4\]/);
  });
});

describe('activations larger than one storage binding', () => {
  it('encoder window batches and chunked prefill give the same logits as one pass', async () => {
    const { openSafetensorsFile } = await import('../../src/weights/node-file-source');
    const { splitWindows } = await import('../../src/audio');
    const { relL2 } = await import('../helpers/gpu');
    const gpu = await testGpu();
    const asr = await GlmAsr.load(TINY, { gpu, precision: 'f32' });
    const dump = await openSafetensorsFile(join(__dirname, '..', 'goldens', 'dumps', 'tiny-long-2win.safetensors'));
    const raw = await dump.read('input_samples');
    await dump.close();
    const windows = splitWindows(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), asr.config.frontEnd.nSamples);
    expect(windows).toHaveLength(2);
    const logitsOf = async (prefillChunk?: number) => {
      const dec = await asr.prefill(windows, { beams: 1, maxNewTokens: 2, prefillChunk });
      const l = await gpu.readF32(dec.logits, asr.config.decoder.vocab);
      dec.dispose();
      return l;
    };
    const whole = await logitsOf();
    const saved = gpu.caps.maxStorageBindingBytes;
    gpu.caps.maxStorageBindingBytes = 2 << 20; // one tiny encoder window (1.5 MiB of MLP activation) per batch
    try {
      const split = await logitsOf(37); // the 2-window prompt (over 400 positions) in chunks of 37
      expect(relL2(split, whole)).toBeLessThan(1e-5);
    } finally {
      gpu.caps.maxStorageBindingBytes = saved;
    }
  });
});
