/**
 * Live sessions on the demo model (src/models/glm-asr/live.ts): events in order, turn times near the speech, each
 * final equal to the file transcription of the same samples, partials only when the session keeps up, manual
 * commit and clear, and bad input refused with a clear error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AudioDecodeError } from '../../src/audio';
import { openLiveSession, type LiveEvent } from '../../src/models/glm-asr/live';
import { GlmAsr } from '../../src/models/glm-asr/node';
import type { GlmAsr as Engine } from '../../src/models/glm-asr/transcriber';
import { OptionError } from '../../src/models/glm-asr/options';
import { testGpu } from '../helpers/gpu';
import {
  atRate, checkOrder, clip, fileSegment, finals, gather, modelRateView, RATE, runAll, speech,
} from './helpers';

describe('live session (demo model)', () => {
  let asr: GlmAsr;

  beforeAll(async () => {
    asr = await GlmAsr.load('demo', { gpu: await testGpu(), precision: 'f32' });
  });
  afterAll(() => asr?.dispose());

  it('VAD turns at 48 kHz s16: events in order, times near the speech, finals equal file transcription', async () => {
    const { samples, spans } = await speech(['digits-oh.wav', 'command-hum.wav'], 1);
    const pcm = atRate(samples, 48000, 's16');
    const { events } = await runAll(asr, pcm, { sampleRate: 48000, partialIntervalMs: 0, chunkMs: 40 });
    checkOrder(events, true);
    const segs = finals(events);
    expect(segs).toHaveLength(2);
    segs.forEach((s, i) => {
      // The clips have a short lead-in and tail of their own; the utterance adds ≤ 300 ms padding each side.
      const [from, to] = spans[i];
      expect(s.start).toBeGreaterThan(from - 0.35);
      expect(s.start).toBeLessThan(from + 0.7);
      expect(s.end).toBeGreaterThan(to - 0.6);
      expect(s.end).toBeLessThan(to + 0.35);
    });
    const view = modelRateView(pcm, 48000);
    for (const s of segs) expect(s).toEqual(await fileSegment(asr, view, s));
    expect(segs[1].text).toBe('close the door');
  });

  it('partials while the session keeps up; none, and the same finals, when pushed far faster', async () => {
    const { samples } = await speech(['digits-oh.wav'], 0.6);
    const options = { partialIntervalMs: 300, turnDetection: { silenceDurationMs: 300 } };
    // Real-time pace: 100 ms every 100 ms.
    const paced = asr.live(options);
    const pacedEvents = gather(paced);
    for (let i = 0; i < samples.length; i += 1600) {
      paced.push(samples.subarray(i, i + 1600));
      await new Promise((r) => setTimeout(r, 100));
    }
    await paced.close();
    const slow = await pacedEvents;
    checkOrder(slow, true);
    const slowPartials = slow.filter((e) => e.type === 'partial');
    expect(slowPartials.length).toBeGreaterThanOrEqual(1);
    const { events: fast, session } = await runAll(asr, samples, options);
    checkOrder(fast, true);
    expect(fast.filter((e) => e.type === 'partial')).toEqual([]);
    expect(session.stats!.partials).toBe(0);
    expect(finals(fast)).toEqual(finals(slow));
  });

  it('manual turns: commit ends an utterance, clear drops one, a too-short one gives an empty final', async () => {
    const a = await clip('command-hum.wav');
    const b = await clip('number-slow-tempo.wav');
    const noise = Float32Array.from({ length: 8000 }, (_, i) => 0.3 * Math.sin(i * 0.7));
    const live = asr.live({ turnDetection: null, partialIntervalMs: 0 });
    const gathered = gather(live);
    live.commit(); // nothing pushed: answered with commit-empty
    live.push(a);
    live.commit();
    live.push(noise);
    live.clear();
    live.push(Int16Array.from(b, (v) => Math.round(v * 32767)));
    live.commit();
    live.push(new Float32Array(500));
    await live.close();
    const events = await gathered;
    checkOrder(events, false);
    expect(events.filter((e) => e.type === 'commit-empty')).toEqual([{ type: 'commit-empty', audioMs: 0 }]);
    const segs = finals(events);
    expect(events.filter((e) => e.type === 'final').map((e) => e.item)).toEqual([0, 2, 3]);
    expect([segs[0].start, segs[0].end]).toEqual([0, a.length / RATE]);
    const bStart = (a.length + noise.length) / RATE;
    expect([segs[1].start, segs[1].end]).toEqual([bStart, bStart + b.length / RATE]);
    const view = new Float32Array(a.length + noise.length + b.length);
    view.set(a);
    view.set(Float32Array.from(b, (v) => Math.round(v * 32767) / 32768), a.length + noise.length);
    expect(segs[0]).toEqual(await fileSegment(asr, view, segs[0]));
    expect(segs[1]).toEqual(await fileSegment(asr, view, segs[1]));
    expect(segs[2]).toMatchObject({ text: '', tokens: [], end: segs[1].end + 500 / RATE });
  });

  it('abort during a final ends the iteration at once; close after it resolves', async () => {
    const { samples } = await speech(['command-hum.wav'], 0.8);
    const live = asr.live({ partialIntervalMs: 0 });
    const seen: LiveEvent[] = [];
    const iterate = (async () => {
      for await (const e of live) {
        seen.push(e);
        if (e.type === 'committed') live.abort();
      }
    })();
    live.push(samples);
    await iterate;
    expect(seen.map((e) => e.type)).toEqual(['speech-started', 'speech-stopped', 'committed']);
    await live.close();
    expect(() => live.push(samples)).toThrow(/closed live session/);
  });

  it('refuses bad input and options with errors that name them', async () => {
    const bad = (o: object) => () => asr.live(o);
    expect(bad({ sampleRate: 0 })).toThrow(OptionError);
    expect(bad({ sampleRate: 44100.5 })).toThrow(/sampleRate must be an integer/);
    expect(bad({ sampleRate: 10_000_000 })).toThrow(/sampleRate/);
    expect(bad({ turnDetection: { threshold: 2 } })).toThrow(/turnDetection.threshold/);
    expect(bad({ turnDetection: { silenceDurationMs: Number.NaN } })).toThrow(/silenceDurationMs/);
    expect(bad({ maxUtteranceSeconds: 100 })).toThrow(/maxUtteranceSeconds must be a number in \[2, 30\]/);
    expect(bad({ partialIntervalMs: -1 })).toThrow(/partialIntervalMs/);
    expect(bad({ beams: 99 })).toThrow(/beams/);
    expect(() => asr.live('fast' as never)).toThrow(/options must be an object/);

    const live = asr.live({ sampleRate: 8000, maxBacklogSeconds: 3, name: 'mic' });
    expect(() => live.push('pcm' as never)).toThrow(/pcm must be a Float32Array .* or an Int16Array/);
    expect(() => live.push(new Float64Array(8) as never)).toThrow(OptionError);
    const nan = new Float32Array(100);
    nan[42] = Number.NaN;
    live.push(new Float32Array(50));
    expect(() => live.push(nan)).toThrow(AudioDecodeError);
    expect(() => live.push(nan)).toThrow('mic: sample 92 is NaN');
    live.push(new Float32Array(8000 * 2));
    expect(() => live.push(new Float32Array(8000 * 2))).toThrow(/maxBacklogSeconds \(3 s\) exceeded/);
    await live.drained!();
    live.push(new Float32Array(8000 * 2)); // accepted again once the backlog is handled
    const closing = live.close();
    expect(live.close()).toBe(closing);
    await closing;
    expect(() => live.push(new Float32Array(8))).toThrow(/push on a closed live session/);
    expect(() => live.commit()).toThrow(OptionError);
  });
});

describe('live session failures (an engine stand-in)', () => {
  const engine = (transcribe: () => Promise<never>) => ({
    config: { frontEnd: { sampleRate: RATE, chunkLength: 30, maxChunkSeconds: 30 }, decoder: { maxPositions: 4096 } },
    maxBeams: 4, minAudioSeconds: 961 / RATE, vad: undefined, transcribe,
  }) as unknown as Engine;

  it('a transcription that throws fails the session: the iteration and close reject, push says why', async () => {
    const live = openLiveSession(engine(() => Promise.reject(new Error('device lost'))),
      { turnDetection: null, partialIntervalMs: 0 });
    const seen: string[] = [];
    const iterate = (async () => {
      for await (const e of live) seen.push(e.type);
    })();
    live.push(new Float32Array(RATE));
    live.commit();
    await expect(iterate).rejects.toThrow('device lost');
    expect(seen).toEqual(['committed']);
    await expect(live.close()).rejects.toThrow('device lost');
    expect(() => live.push(new Float32Array(8))).toThrow(/closed live session \(it failed: device lost\)/);
  });

  it('a session has one reader: a second iteration is refused', async () => {
    const live = openLiveSession(engine(() => Promise.reject(new Error('unused'))), { turnDetection: null });
    const first = gather(live);
    expect(() => live[Symbol.asyncIterator]()).toThrow(/iteration of a live session happens once/);
    await live.close();
    expect(await first).toEqual([]);
  });

  it('turn detection without VAD weights is refused at open', () => {
    const asr = engine(() => Promise.reject(new Error('unused')));
    expect(() => openLiveSession(asr, {})).toThrow(/turnDetection needs the VAD weights/);
    expect(() => openLiveSession(asr, { turnDetection: null }).abort()).not.toThrow();
  });
});
