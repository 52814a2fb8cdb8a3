/**
 * A long live session holds bounded memory: minutes of audio pushed faster than real time (pausing on `drained()`
 * as a fast source must) leave the session's held samples within one utterance and the GPU pool where the first
 * final left it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlmAsr } from '../../src/models/glm-asr/node';
import { rng, testGpu } from '../helpers/gpu';
import { atRate, checkOrder, clip, finals, gather, RATE } from './helpers';

describe('live session memory (demo model)', () => {
  let asr: GlmAsr;

  beforeAll(async () => {
    asr = await GlmAsr.load('demo', { gpu: await testGpu(), precision: 'f32' });
  });
  afterAll(() => asr?.dispose());

  it('three minutes at 24 kHz: held samples and GPU pool bytes stay flat', async () => {
    const seconds = 180;
    const audio = new Float32Array(seconds * RATE);
    const r = rng(7);
    for (let i = 0; i < audio.length; i++) audio[i] = 0.002 * (r() - 0.5); // a quiet room
    const names = ['command-hum.wav', 'digits-oh.wav', 'number-slow-tempo.wav'];
    const at = [20, 95, 170];
    for (const [i, n] of names.entries()) audio.set(await clip(n), at[i] * RATE);
    const pcm = atRate(audio, 24000, 's16');

    const live = asr.live({ sampleRate: 24000 });
    const events = gather(live);
    const pool = asr.gpu.pool.stats;
    const held: number[] = [];
    const liveBytes: number[] = [];
    const chunk = 2400; // 100 ms
    for (let i = 0; i < pcm.length; i += chunk) {
      live.push(pcm.subarray(i, i + chunk));
      if ((i / chunk) % 50 === 49) { // every 5 s of audio
        await live.drained!();
        held.push(live.stats!.heldSamples);
        liveBytes.push(pool.liveBytes);
      }
    }
    await live.close();
    const all = await events;
    checkOrder(all, true);
    const segs = finals(all);
    expect(segs).toHaveLength(3);
    expect(segs[0].text).toBe('close the door');
    // Here every check falls between turns: the padding (300 ms) and the VAD frame not complete yet (512).
    expect(Math.max(...held)).toBeLessThanOrEqual(0.3 * RATE + 512);
    // GPU buffers: transcriptions give theirs back to the pool, so after the first final (one 30 s window's
    // worth: encoder, prompt, KV cache) it grows only by the odd new size class, never by a transcription's worth.
    const afterFirst = liveBytes[Math.ceil(25 / 5)];
    expect(afterFirst).toBeGreaterThan(liveBytes[0]);
    expect(pool.liveBytes).toBeLessThanOrEqual(afterFirst * 1.05);
    expect(live.stats!.heldSamples).toBe(0);
  });
});
